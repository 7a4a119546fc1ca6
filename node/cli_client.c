/* Client verbs: talk to a node's HTTP API (status, catalog publish, blob,
 * case, events, token). The API address and token come from --api and
 * --token, else TONGBAN_API and TONGBAN_TOKEN. This file holds the
 * transport, the helpers the verbs share and the dispatch; the case verbs
 * are in node/cli_client_case.c, the admin ones in
 * node/cli_client_admin.c. */
#include "node/cli_client_impl.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_API_DEFAULT "http://127.0.0.1:7400"

/* The global --api and --token of this invocation (tb_cli_client_set). */
static const char *cli_api, *cli_token;

/* client_tls sets up HTTPS for an https:// API: the server's certificate
 * is verified against TONGBAN_CACERT (a PEM file) when set, else against
 * nothing but its presence is still required (self-signed test setups set
 * TONGBAN_CACERT to the node's certificate). */
static int
client_tls(nng_http_client *h, const nng_url *url)
{
	const char *ca = getenv("TONGBAN_CACERT");
	nng_tls_config *tls;
	int rv;

	if (strcmp(url->u_scheme, "https") != 0) {
		return 0;
	}
	if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT)) != 0) {
		return rv;
	}
	if (ca != NULL && ca[0] != '\0') {
		if ((rv = nng_tls_config_ca_file(tls, ca)) == 0) {
			rv = nng_tls_config_auth_mode(
			    tls, NNG_TLS_AUTH_MODE_REQUIRED);
		}
	} else {
		rv = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_NONE);
	}
	if (rv == 0) {
		/* mbedTLS matches DNS names only; a node reached by IP address
		 * names its certificate's DNS name here. */
		const char *name = getenv("TONGBAN_TLS_SERVER_NAME");
		rv = nng_tls_config_server_name(
		    tls,
		    name != NULL && name[0] != '\0' ? name : url->u_hostname);
	}
	if (rv == 0) {
		rv = nng_http_client_set_tls(h, tls);
	}
	nng_tls_config_free(tls);
	return rv;
}

/* cli_client_call performs one request; returns 0 with res filled (caller
 * frees res->body) or prints the transport error and returns -1. */
int
cli_client_call(const struct cli_client *cl, const char *method,
                const char *uri, const char *ctype, const void *body,
                size_t len, const char *extra_header, const char *extra_value,
                struct cli_client_res *res)
{
	nng_http_client *h = NULL;
	nng_http_req *req = NULL;
	nng_http_res *rsp = NULL;
	nng_aio *aio = NULL;
	nng_url *url = NULL;
	char auth[8192]; /* a chain token is at most 6 KiB */
	void *data;
	size_t dlen;
	int rv;

	memset(res, 0, sizeof(*res));
	if ((rv = nng_url_parse(&url, cl->api)) != 0 ||
	    (rv = nng_http_client_alloc(&h, url)) != 0 ||
	    (rv = client_tls(h, url)) != 0 ||
	    (rv = nng_http_req_alloc(&req, url)) != 0 ||
	    (rv = nng_http_res_alloc(&rsp)) != 0 ||
	    (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		goto out;
	}
	nng_aio_set_timeout(aio, 30000);
	nng_http_req_set_method(req, method);
	nng_http_req_set_uri(req, uri);
	if (cl->token != NULL) {
		snprintf(auth, sizeof(auth), "Bearer %s", cl->token);
		nng_http_req_set_header(req, "Authorization", auth);
	}
	if (extra_header != NULL) {
		nng_http_req_set_header(req, extra_header, extra_value);
	}
	if (body != NULL) {
		nng_http_req_set_header(req, "Content-Type", ctype);
		if ((rv = nng_http_req_copy_data(req, body, len)) != 0) {
			goto out;
		}
	}
	nng_http_client_transact(h, req, rsp, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		goto out;
	}
	res->status = nng_http_res_get_status(rsp);
	nng_http_res_get_data(rsp, &data, &dlen);
	if ((res->body = malloc(dlen + 1)) == NULL) {
		rv = NNG_ENOMEM;
		goto out;
	}
	memcpy(res->body, data, dlen);
	res->body[dlen] = '\0';
	res->len = dlen;
out:
	if (rv != 0) {
		/* A newcomer without TONGBAN_API talks to the default
		 * address: say so, it is rarely where their node listens. */
		bool dflt = cli_api == NULL && getenv("TONGBAN_API") == NULL &&
		            !strcmp(cl->api, CLI_API_DEFAULT);
		fprintf(stderr, "tongban: %s %s: %s%s\n", cl->api, uri,
		        nng_strerror(rv),
		        dflt ? " (the default address: no --api URL before "
		               "the verb and no TONGBAN_API; the node prints "
		               "its URL in its \"listening\" line)"
		             : "");
	}
	nng_aio_free(aio);
	nng_http_res_free(rsp);
	nng_http_req_free(req);
	nng_http_client_free(h);
	nng_url_free(url);
	return rv == 0 ? 0 : -1;
}

void
tb_cli_client_set(const char *api, const char *token)
{
	cli_api = api;
	cli_token = token;
}

int
tb_cli_http(const char *method, const char *uri, const json_t *body,
            int *status, json_t **reply)
{
	struct cli_client cl = { cli_api ? cli_api : getenv("TONGBAN_API"),
		                 cli_token ? cli_token
		                           : getenv("TONGBAN_TOKEN"),
		                 false };
	struct cli_client_res r;
	char *text = NULL;
	int rc;

	*reply = NULL;
	if (cl.api == NULL) {
		cl.api = CLI_API_DEFAULT;
	}
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		return -1;
	}
	rc = cli_client_call(&cl, method, uri, "application/json", text,
	                     text != NULL ? strlen(text) : 0, NULL, NULL, &r);
	free(text);
	if (rc != 0) {
		return -1;
	}
	*status = r.status;
	*reply = json_loadb(r.body, r.len, 0, NULL);
	free(r.body);
	return 0;
}

/* cli_client_print shows a JSON reply: as is with --json, else readably; an
 * error reply prints "tongban: 409 illegal_transition: ..." to stderr.
 * Returns the exit code. */
/* summary prints for people, on stderr, what a publish or a level raise
 * committed (the shapes of those answers only; nothing for others). */
static void
summary(const json_t *v)
{
	const json_t *cat = json_object_get(v, "catalog");
	const json_t *st = json_object_get(cat, "standard");
	const json_t *ov = json_object_get(cat, "overlay");
	const json_t *fl = json_object_get(v, "feature_level");

	if (json_is_string(json_object_get(v, "warning"))) {
		fprintf(stderr, "tongban: warning: %s\n",
		        json_string_value(json_object_get(v, "warning")));
	}

	if (json_is_object(st) && json_object_get(st, "matters") != NULL) {
		fprintf(stderr,
		        "committed: release %lld of %s (%lld matters, %lld "
		        "bundles), hash %.16s.., through the node's group; "
		        "the regions below get it down the tree (tongban "
		        "catalog rollout %lld)\n",
		        (long long)json_integer_value(
		            json_object_get(st, "version")),
		        json_string_value(json_object_get(st, "region")),
		        (long long)json_integer_value(
		            json_object_get(st, "matters")),
		        (long long)json_integer_value(
		            json_object_get(st, "bundles")),
		        json_string_value(json_object_get(st, "hash")),
		        (long long)json_integer_value(
		            json_object_get(st, "version")));
	} else if (json_is_object(ov) &&
	           json_object_get(ov, "entries") != NULL) {
		fprintf(stderr,
		        "committed: overlay of %s version %lld (%lld "
		        "entries), hash %.16s.., through the node's group; "
		        "the regions below %s get it down the tree (tongban "
		        "region status)\n",
		        json_string_value(json_object_get(ov, "region")),
		        (long long)json_integer_value(
		            json_object_get(ov, "version")),
		        (long long)json_integer_value(
		            json_object_get(ov, "entries")),
		        json_string_value(json_object_get(ov, "hash")),
		        json_string_value(json_object_get(ov, "region")));
	} else if (json_is_integer(fl) && json_object_size(v) <= 2) {
		fprintf(stderr, "the group runs at feature level %lld\n",
		        (long long)json_integer_value(fl));
	}
}

/* summary_of: summary() of a write's answer (POST only: a GET of the
 * region or the catalog has the same shapes). */
static void
summary_of(const struct cli_client_res *r)
{
	json_t *v = json_loadb(r->body, r->len, 0, NULL);

	if (v != NULL) {
		summary(v);
	}
	json_decref(v);
}

int
cli_client_print(const struct cli_client *cl, const struct cli_client_res *r)
{
	json_error_t je;
	json_t *v = json_loadb(r->body, r->len, 0, &je), *err;
	int rc = r->status < 300 ? TB_EXIT_OK : TB_EXIT_INVALID;

	if (v != NULL && (err = json_object_get(v, "error")) != NULL &&
	    !cl->json) {
		const char *field =
		    json_string_value(json_object_get(err, "field"));
		fprintf(stderr, "tongban: %d %s%s%s: %s\n", r->status,
		        json_string_value(json_object_get(err, "code")),
		        field ? " at " : "", field ? field : "",
		        json_string_value(json_object_get(err, "message")));
	} else if (v != NULL) {
		json_dumpf(v, stdout, cl->json ? JSON_COMPACT : JSON_INDENT(2));
		printf("\n");
	} else {
		fwrite(r->body, 1, r->len, stdout);
	}
	json_decref(v);
	return rc;
}

int
cli_client_simple(const struct cli_client *cl, const char *method,
                  const char *uri, const char *file, const char *hname,
                  const char *hval)
{
	struct cli_client_res r;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (file != NULL &&
	    (body = tb_cli_read_file(file, 64u << 20, &len)) == NULL) {
		return TB_EXIT_INVALID;
	}
	if (cli_client_call(cl, method, uri, "application/json", body, len,
	                    hname, hval, &r) != 0) {
		free(body);
		return TB_EXIT_INVALID;
	}
	rc = cli_client_print(cl, &r);
	if (rc == TB_EXIT_OK && !cl->json && !strcmp(method, "POST")) {
		summary_of(&r);
	}
	free(r.body);
	free(body);
	return rc;
}

int
tb_cli_request(const char *api, const char *token, bool json,
               const char *method, const char *uri, const char *body,
               bool print, int *status, json_t **out)
{
	struct cli_client cl = { api, token, json };
	struct cli_client_res r;
	int rc;

	*status = 0;
	if (out != NULL) {
		*out = NULL;
	}
	if (cli_client_call(&cl, method, uri, "application/json", body,
	                    body != NULL ? strlen(body) : 0, NULL, NULL,
	                    &r) != 0) {
		return TB_EXIT_INVALID;
	}
	*status = r.status;
	rc = print ? cli_client_print(&cl, &r)
	           : (r.status < 300 ? TB_EXIT_OK : TB_EXIT_INVALID);
	if (out != NULL) {
		*out = json_loadb(r.body, r.len, 0, NULL);
	}
	free(r.body);
	return rc;
}

static int
blob_get(const struct cli_client *cl, const char *hash, const char *out)
{
	struct cli_client_res r;
	char uri[200];
	FILE *f;
	int rc = TB_EXIT_OK;

	snprintf(uri, sizeof(uri), "/v1/blobs/%s", hash);
	if (cli_client_call(cl, "GET", uri, NULL, NULL, 0, NULL, NULL, &r) !=
	    0) {
		return TB_EXIT_INVALID;
	}
	if (r.status != 200) {
		rc = cli_client_print(cl, &r);
	} else if (out == NULL) {
		fwrite(r.body, 1, r.len, stdout);
	} else if ((f = fopen(out, "wb")) == NULL ||
	           fwrite(r.body, 1, r.len, f) != r.len || fclose(f) != 0) {
		fprintf(stderr, "tongban: cannot write %s\n", out);
		rc = TB_EXIT_INVALID;
	}
	free(r.body);
	return rc;
}

static int
blob_put(const struct cli_client *cl, const char *file)
{
	struct cli_client_res r;
	char *body;
	size_t len;
	int rc;

	if ((body = tb_cli_read_file(file, 1u << 30, &len)) == NULL) {
		return TB_EXIT_INVALID;
	}
	rc = cli_client_call(cl, "PUT", "/v1/blobs", "application/octet-stream",
	                     body, len, NULL, NULL, &r);
	free(body);
	if (rc != 0) {
		return TB_EXIT_INVALID;
	}
	rc = cli_client_print(cl, &r);
	free(r.body);
	return rc;
}

void
tb_cli_client_usage(FILE *f)
{
	fprintf(f, CLIENT_USAGE);
}

int
cli_client_usage(int argc, char **argv)
{
	static const char *const subs[] = { "catalog publish",
		                            "catalog show",
		                            "catalog matters",
		                            "catalog matter",
		                            "catalog rollout",
		                            "overlay publish",
		                            "blob put",
		                            "blob get",
		                            "case submit",
		                            "case show",
		                            "case list",
		                            "case handoff",
		                            "case act",
		                            "token create",
		                            "token list",
		                            "token revoke",
		                            "group add",
		                            "group remove",
		                            "group promote",
		                            "group demote",
		                            "group transfer",
		                            "group features",
		                            NULL };
	const char *const *v;
	char name[64];

	if (argc >= 2) {
		snprintf(name, sizeof(name), "%s %s", argv[0], argv[1]);
		for (v = subs; *v != NULL; v++) {
			if (!strcmp(*v, name)) {
				break;
			}
		}
		fprintf(stderr,
		        *v != NULL ? "tongban %s: an argument is missing "
		                     "(the usage below)\n"
		                   : "tongban %s: unknown; the usage below\n",
		        name);
	} else if (argc == 1) {
		fprintf(stderr,
		        "tongban %s: what to do is missing (the usage "
		        "below)\n",
		        argv[0]);
	}
	fprintf(stderr, CLIENT_USAGE);
	return TB_EXIT_USAGE;
}

/* cli_client_opt_value returns the value after --name in argv, or NULL. */
const char *
cli_client_opt_value(int argc, char **argv, const char *name)
{
	int i;

	for (i = 0; i + 1 < argc; i++) {
		if (!strcmp(argv[i], name)) {
			return argv[i + 1];
		}
	}
	return NULL;
}

bool
cli_client_opt_flag(int argc, char **argv, const char *name)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], name)) {
			return true;
		}
	}
	return false;
}

/* cli_client_post_json sends body (stolen) as JSON with an optional header and
 * prints the reply; returns the exit code. */
int
cli_client_post_json(const struct cli_client *cl, const char *uri, json_t *body,
                     const char *hname, const char *hval)
{
	struct cli_client_res r;
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	json_decref(body);
	if (text == NULL) {
		fprintf(stderr, "tongban: out of memory\n");
		return TB_EXIT_INVALID;
	}
	rc = cli_client_call(cl, "POST", uri, "application/json", text,
	                     strlen(text), hname, hval, &r);
	free(text);
	if (rc != 0) {
		return TB_EXIT_INVALID;
	}
	rc = cli_client_print(cl, &r);
	if (rc == TB_EXIT_OK && !cl->json) {
		summary_of(&r);
	}
	free(r.body);
	return rc;
}

int
tb_cli_client(int argc, char **argv, const char *api, const char *token,
              bool json)
{
	struct cli_client cl;
	char uri[300];

	cl.api = api ? api : getenv("TONGBAN_API");
	cl.token = token ? token : getenv("TONGBAN_TOKEN");
	cl.json = json;
	if (cl.api == NULL) {
		cl.api = CLI_API_DEFAULT;
	}
	if (!strcmp(argv[0], "status")) {
		/* Only --json may follow: "status --help" used to print the
		 * status, and a mistyped option went unnoticed. */
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--json") != 0) {
				bool help = !strcmp(argv[i], "--help") ||
				            !strcmp(argv[i], "help");
				fprintf(help ? stdout : stderr, "%s%s",
				        help ? ""
				             : "tongban status: takes no "
				               "arguments\n",
				        CLIENT_USAGE);
				return help ? TB_EXIT_OK : TB_EXIT_USAGE;
			}
		}
		return tb_cli_status_show(cl.api, cl.token, json);
	}
	if (!strcmp(argv[0], "events")) {
		const char *after = cli_client_opt_value(argc, argv, "--after");
		const char *lim = cli_client_opt_value(argc, argv, "--limit");
		snprintf(uri, sizeof(uri), "/v1/events?after=%s&limit=%s",
		         after ? after : "0", lim ? lim : "100");
		return tb_cli_get_shown(cl.api, cl.token, json, uri,
		                        tb_cli_show_events);
	}
	if (!strcmp(argv[0], "catalog") && argc >= 2) {
		if (!strcmp(argv[1], "publish") && argc >= 3) {
			return cli_client_simple(&cl, "POST",
			                         "/v1/catalog/releases",
			                         argv[2], NULL, NULL);
		}
		if (!strcmp(argv[1], "show")) {
			return tb_cli_catalog_show(cl.api, cl.token, json);
		}
		if (!strcmp(argv[1], "rollout") && argc >= 3) {
			return tb_cli_catalog_rollout(cl.api, cl.token, json,
			                              argv[2]);
		}
		if (!strcmp(argv[1], "matters")) {
			return cli_client_simple(&cl, "GET",
			                         "/v1/catalog/matters", NULL,
			                         NULL, NULL);
		}
		if (!strcmp(argv[1], "matter") && argc >= 3) {
			/* --region R: that region's effective matter, asked
			 * over the links (served_by, as_of): the same
			 * standard at another county (跨域通办). '#' of an
			 * implementation key is sent as %23. */
			const char *r =
			    cli_client_opt_value(argc, argv, "--region");
			size_t k = (size_t)snprintf(uri, sizeof(uri),
			                            "/v1/catalog/matters/");
			for (const char *p = argv[2];
			     *p != '\0' && k + 4 < sizeof(uri); p++) {
				k += (size_t)(*p == '#'
				                  ? snprintf(uri + k, 4, "%%23")
				                  : snprintf(uri + k, 2, "%c",
				                             *p));
			}
			if (r != NULL && k < sizeof(uri)) {
				snprintf(uri + k, sizeof(uri) - k, "?region=%s",
				         r);
			}
			return cli_client_simple(&cl, "GET", uri, NULL, NULL,
			                         NULL);
		}
	}
	if (!strcmp(argv[0], "overlay") && argc >= 3 &&
	    !strcmp(argv[1], "publish")) {
		return cli_client_simple(&cl, "POST", "/v1/catalog/overlays",
		                         argv[2], NULL, NULL);
	}
	if (!strcmp(argv[0], "blob") && argc >= 3) {
		if (!strcmp(argv[1], "put")) {
			return blob_put(&cl, argv[2]);
		}
		if (!strcmp(argv[1], "get")) {
			return blob_get(
			    &cl, argv[2],
			    cli_client_opt_value(argc, argv, "--out"));
		}
	}
	if (!strcmp(argv[0], "case")) {
		return cli_client_case(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "token")) {
		return cli_client_token(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "cert")) {
		return cli_client_join_token(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "links")) {
		return cli_client_links(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "group")) {
		return cli_client_group(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "region") && argc >= 2) {
		return cli_client_region(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "handoff")) {
		return tb_cli_handoff(argc, argv, cl.api, cl.token, cl.json);
	}
	if (!strcmp(argv[0], "area")) {
		return tb_cli_area(argc, argv, cl.api, cl.token, cl.json);
	}
	return cli_client_usage(argc, argv);
}
