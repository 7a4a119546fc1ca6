/* Client verbs: talk to a node's HTTP API (status, catalog publish, blob,
 * case, events, token). The API address and token come from --api and
 * --token, else TONGBAN_API and TONGBAN_TOKEN. */
#include "node/cli.h"

#include "schema/spec.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_USAGE                                                           \
	"usage: tongban [--api URL] [--token T] [--json] VERB ...\n"           \
	"  status\n"                                                           \
	"  catalog publish RELEASE.json | catalog show | catalog matters | "   \
	"catalog matter CODE\n"                                                \
	"  catalog rollout VERSION   who below applied a standard version\n"   \
	"  overlay publish OVERLAY.json\n"                                     \
	"  region status | region set-parent|add-peer CODE@tcp://HOST:PORT | " \
	"region remove-peer CODE\n"                                            \
	"  blob put FILE | blob get HASH [--out FILE]\n"                       \
	"  case submit CASE.json [--key IDEMPOTENCY-KEY]  (materials with\n"   \
	"      \"file\" are uploaded first and replaced by their hash)\n"      \
	"  case show ID | case list [--status S] [--overdue] [--limit N]\n"    \
	"  area cases [--state S] [--overdue] [--limit N] [--after ID]\n"      \
	"  case act ID ACTION [--if-match V] [--opinion TEXT] [--target S]\n"  \
	"  case handoff ID --to CODE [--mode M] [--reason R] [--wait SECS]\n"  \
	"  handoff list [--state S] [--side S] [--limit N] [--after C] | "     \
	"handoff show ID\n  handoff abort ID | handoff request ID [--reason "  \
	"R] | handoff refuse ID --reason R\n"                                  \
	"  events [--after N] [--limit N]\n"                                   \
	"  token create --role ROLE [--region CODE] [--name N] | token "       \
	"revoke ID\n"                                                          \
	"  cert join-token --region CODE --role member|peer|child [--ttl "     \
	"1h]\n"                                                                \
	"  links | links ping PEER [--payload TEXT] [--size N] "               \
	"[--timeout-ms N]\n"                                                   \
	"  group add NODE_ID HOST:PORT [--role voter|standby|spare] | group "  \
	"remove ID\n  group promote|demote ID [--role R] | group transfer "    \
	"[ID]\n  group features --set LEVEL   (needed once at the province: "  \
	"level 2 starts the tree)\n"                                           \
	"environment: TONGBAN_API (default http://127.0.0.1:7400), "           \
	"TONGBAN_TOKEN\n"

struct client {
	const char *api;
	const char *token;
	bool json;
};

struct client_res {
	int status;
	char *body; /* NUL-terminated */
	size_t len;
};

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

/* client_call performs one request; returns 0 with res filled (caller
 * frees res->body) or prints the transport error and returns -1. */
static int
client_call(const struct client *cl, const char *method, const char *uri,
            const char *ctype, const void *body, size_t len,
            const char *extra_header, const char *extra_value,
            struct client_res *res)
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
		fprintf(stderr, "tongban: %s %s: %s\n", cl->api, uri,
		        nng_strerror(rv));
	}
	nng_aio_free(aio);
	nng_http_res_free(rsp);
	nng_http_req_free(req);
	nng_http_client_free(h);
	nng_url_free(url);
	return rv == 0 ? 0 : -1;
}

/* The global --api and --token of this invocation (tb_cli_client_set). */
static const char *cli_api, *cli_token;

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
	struct client cl = { cli_api ? cli_api : getenv("TONGBAN_API"),
		             cli_token ? cli_token : getenv("TONGBAN_TOKEN"),
		             false };
	struct client_res r;
	char *text = NULL;
	int rc;

	*reply = NULL;
	if (cl.api == NULL) {
		cl.api = "http://127.0.0.1:7400";
	}
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		return -1;
	}
	rc = client_call(&cl, method, uri, "application/json", text,
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

/* client_print shows a JSON reply: as is with --json, else readably; an
 * error reply prints "tongban: 409 illegal_transition: ..." to stderr.
 * Returns the exit code. */
static int
client_print(const struct client *cl, const struct client_res *r)
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

static int
simple(const struct client *cl, const char *method, const char *uri,
       const char *file, const char *hname, const char *hval)
{
	struct client_res r;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (file != NULL &&
	    (body = tb_cli_read_file(file, 64u << 20, &len)) == NULL) {
		return TB_EXIT_INVALID;
	}
	if (client_call(cl, method, uri, "application/json", body, len, hname,
	                hval, &r) != 0) {
		free(body);
		return TB_EXIT_INVALID;
	}
	rc = client_print(cl, &r);
	free(r.body);
	free(body);
	return rc;
}

int
tb_cli_request(const char *api, const char *token, bool json,
               const char *method, const char *uri, const char *body,
               bool print, int *status, json_t **out)
{
	struct client cl = { api, token, json };
	struct client_res r;
	int rc;

	*status = 0;
	if (out != NULL) {
		*out = NULL;
	}
	if (client_call(&cl, method, uri, "application/json", body,
	                body != NULL ? strlen(body) : 0, NULL, NULL, &r) != 0) {
		return TB_EXIT_INVALID;
	}
	*status = r.status;
	rc = print ? client_print(&cl, &r)
	           : (r.status < 300 ? TB_EXIT_OK : TB_EXIT_INVALID);
	if (out != NULL) {
		*out = json_loadb(r.body, r.len, 0, NULL);
	}
	free(r.body);
	return rc;
}

static int
blob_get(const struct client *cl, const char *hash, const char *out)
{
	struct client_res r;
	char uri[200];
	FILE *f;
	int rc = TB_EXIT_OK;

	snprintf(uri, sizeof(uri), "/v1/blobs/%s", hash);
	if (client_call(cl, "GET", uri, NULL, NULL, 0, NULL, NULL, &r) != 0) {
		return TB_EXIT_INVALID;
	}
	if (r.status != 200) {
		rc = client_print(cl, &r);
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
blob_put(const struct client *cl, const char *file)
{
	struct client_res r;
	char *body;
	size_t len;
	int rc;

	if ((body = tb_cli_read_file(file, 1u << 30, &len)) == NULL) {
		return TB_EXIT_INVALID;
	}
	rc = client_call(cl, "PUT", "/v1/blobs", "application/octet-stream",
	                 body, len, NULL, NULL, &r);
	free(body);
	if (rc != 0) {
		return TB_EXIT_INVALID;
	}
	rc = client_print(cl, &r);
	free(r.body);
	return rc;
}

/* opt_value returns the value after --name in argv, or NULL. */
static const char *
opt_value(int argc, char **argv, const char *name)
{
	int i;

	for (i = 0; i + 1 < argc; i++) {
		if (!strcmp(argv[i], name)) {
			return argv[i + 1];
		}
	}
	return NULL;
}

static bool
opt_flag(int argc, char **argv, const char *name)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], name)) {
			return true;
		}
	}
	return false;
}

/* post_json sends body (stolen) as JSON with an optional header and
 * prints the reply; returns the exit code. */
static int
post_json(const struct client *cl, const char *uri, json_t *body,
          const char *hname, const char *hval)
{
	struct client_res r;
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	json_decref(body);
	if (text == NULL) {
		fprintf(stderr, "tongban: out of memory\n");
		return TB_EXIT_INVALID;
	}
	rc = client_call(cl, "POST", uri, "application/json", text,
	                 strlen(text), hname, hval, &r);
	free(text);
	if (rc != 0) {
		return TB_EXIT_INVALID;
	}
	rc = client_print(cl, &r);
	free(r.body);
	return rc;
}

/* upload_materials replaces each material's "file" (relative to the case
 * file's directory) by the hash and size the node returns for it. */
static int
upload_materials(const struct client *cl, json_t *c, const char *case_path)
{
	char dir[4096], path[8192];
	const char *slash = strrchr(case_path, '/');
	json_t *m;
	size_t i, nfiles = 0;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - case_path) : 1,
	         slash ? case_path : ".");
	/* Every file readable before the first upload: a missing third file
	 * used to fail as "tongban: ./x.txt: No such file or directory"
	 * after two blobs were stored, without naming the field. */
	json_array_foreach(json_object_get(c, "materials"), i, m)
	{
		const char *f = json_string_value(json_object_get(m, "file"));
		FILE *fp;
		if (f == NULL) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", f[0] == '/' ? "" : dir,
		         f);
		if ((fp = fopen(path, "rb")) == NULL) {
			fprintf(
			    stderr,
			    "tongban case submit: %s: $.materials[%zu].file: "
			    "%s: %s (nothing was uploaded)\n",
			    case_path, i, path, strerror(errno));
			return -1;
		}
		fclose(fp);
		nfiles++;
	}
	/* And a matter the node knows: materials uploaded for a case it
	 * then refused stayed stored. */
	if (nfiles > 0 &&
	    tb_cli_case_precheck(cl->api, cl->token, c, case_path) != 0) {
		return -1;
	}
	json_array_foreach(json_object_get(c, "materials"), i, m)
	{
		const char *f = json_string_value(json_object_get(m, "file"));
		struct client_res r;
		json_error_t je;
		json_t *reply;
		char *data;
		size_t len;
		if (f == NULL) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", f[0] == '/' ? "" : dir,
		         f);
		if ((data = tb_cli_read_file(path, 1u << 30, &len)) == NULL) {
			return -1;
		}
		if (client_call(cl, "PUT", "/v1/blobs",
		                "application/octet-stream", data, len, NULL,
		                NULL, &r) != 0) {
			free(data);
			return -1;
		}
		free(data);
		reply = json_loadb(r.body, r.len, 0, &je);
		if (r.status >= 300 || reply == NULL) {
			client_print(cl, &r);
			free(r.body);
			json_decref(reply);
			return -1;
		}
		free(r.body);
		json_object_set(m, "hash", json_object_get(reply, "hash"));
		json_object_set(m, "size", json_object_get(reply, "size"));
		if (!cl->json) {
			fprintf(stderr, "uploaded %s as %s\n", f,
			        json_string_value(json_object_get(m, "hash")));
		}
		json_object_del(m, "file"); /* f dies here */
		json_decref(reply);
	}
	return 0;
}

static int
case_submit(const struct client *cl, const char *file, const char *key)
{
	json_error_t je;
	json_t *c;

	if ((c = json_load_file(file, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		fprintf(stderr, "tongban: %s: line %d column %d: %s\n", file,
		        je.line, je.column, je.text);
		return TB_EXIT_INVALID;
	}
	if (upload_materials(cl, c, file) != 0) {
		json_decref(c);
		return TB_EXIT_INVALID;
	}
	return post_json(cl, "/v1/cases", c, key ? "Idempotency-Key" : NULL,
	                 key);
}

static int
case_verb(const struct client *cl, int argc, char **argv)
{
	char uri[600];

	if (argc >= 3 && !strcmp(argv[1], "submit")) {
		return case_submit(cl, argv[2], opt_value(argc, argv, "--key"));
	}
	if (argc >= 3 && !strcmp(argv[1], "show")) {
		snprintf(uri, sizeof(uri), "/v1/cases/%s", argv[2]);
		return tb_cli_get_shown(cl->api, cl->token, cl->json, uri,
		                        tb_cli_show_case);
	}
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		const char *st = opt_value(argc, argv, "--status");
		const char *lim = opt_value(argc, argv, "--limit");
		const char *after = opt_value(argc, argv, "--after");
		snprintf(uri, sizeof(uri), "/v1/cases?limit=%s%s%s%s%s%s",
		         lim ? lim : "50", st ? "&status=" : "", st ? st : "",
		         opt_flag(argc, argv, "--overdue") ? "&overdue=1" : "",
		         after ? "&after=" : "", after ? after : "");
		return tb_cli_get_shown(cl->api, cl->token, cl->json, uri,
		                        tb_cli_show_cases);
	}
	if (argc >= 3 && !strcmp(argv[1], "handoff")) {
		return tb_cli_handoff(argc, argv, cl->api, cl->token, cl->json);
	}
	if (argc >= 4 && !strcmp(argv[1], "act")) {
		const char *im = opt_value(argc, argv, "--if-match");
		const char *op = opt_value(argc, argv, "--opinion");
		const char *tg = opt_value(argc, argv, "--target");
		json_t *b = json_pack("{s:s}", "action", argv[3]);
		char etag[40];
		if (op != NULL) {
			json_object_set_new(b, "opinion", json_string(op));
		}
		if (tg != NULL) {
			json_object_set_new(b, "target", json_string(tg));
		}
		snprintf(uri, sizeof(uri), "/v1/cases/%s/actions", argv[2]);
		snprintf(etag, sizeof(etag), "\"%s\"", im ? im : "");
		return post_json(cl, uri, b, im ? "If-Match" : NULL, etag);
	}
	fprintf(stderr, CLIENT_USAGE);
	return TB_EXIT_USAGE;
}

static int
token_verb(const struct client *cl, int argc, char **argv)
{
	char uri[200];

	if (argc >= 2 && !strcmp(argv[1], "create")) {
		const char *role = opt_value(argc, argv, "--role");
		const char *region = opt_value(argc, argv, "--region");
		const char *name = opt_value(argc, argv, "--name");
		json_t *b;
		if (role == NULL) {
			fprintf(stderr, "tongban token create: --role is "
			                "required\n");
			return TB_EXIT_USAGE;
		}
		b = json_pack("{s:s}", "role", role);
		if (region) {
			json_object_set_new(b, "region", json_string(region));
		}
		if (name) {
			json_object_set_new(b, "name", json_string(name));
		}
		return post_json(cl, "/v1/tokens", b, NULL, NULL);
	}
	if (argc >= 3 && !strcmp(argv[1], "revoke")) {
		snprintf(uri, sizeof(uri), "/v1/tokens/%s", argv[2]);
		return simple(cl, "DELETE", uri, NULL, NULL, NULL);
	}
	fprintf(stderr, CLIENT_USAGE);
	return TB_EXIT_USAGE;
}

/* links_verb: the node's links (GET /v1/links) as a table, or a PING to
 * one peer. */
static int
links_verb(const struct client *cl, int argc, char **argv)
{
	const char *payload = opt_value(argc, argv, "--payload");
	const char *size = opt_value(argc, argv, "--size");
	const char *tmo = opt_value(argc, argv, "--timeout-ms");
	struct client_res r;
	json_t *b;
	int rc;

	if (argc >= 3 && !strcmp(argv[1], "ping")) {
		b = json_pack("{s:s}", "peer", argv[2]);
		if (payload != NULL) {
			json_object_set_new(b, "payload", json_string(payload));
		}
		if (size != NULL) {
			json_object_set_new(b, "size",
			                    json_integer(atoll(size)));
		}
		if (tmo != NULL) {
			json_object_set_new(b, "timeout_ms",
			                    json_integer(atoll(tmo)));
		}
		return post_json(cl, "/v1/links/ping", b, NULL, NULL);
	}
	if (client_call(cl, "GET", "/v1/links", NULL, NULL, 0, NULL, NULL,
	                &r) != 0) {
		return TB_EXIT_INVALID;
	}
	rc = r.status == 200 && !cl->json ? tb_cli_links_table(r.body, r.len)
	                                  : client_print(cl, &r);
	free(r.body);
	return rc;
}

/* group_verb changes the region's group (docs/GROUPS.md); any member
 * forwards to the leader. */
static int
group_verb(const struct client *cl, int argc, char **argv)
{
	const char *role = opt_value(argc, argv, "--role");
	char uri[200];
	json_t *b;

	if (argc >= 4 && !strcmp(argv[1], "add")) {
		b = json_pack("{s:s, s:s, s:s}", "node_id", argv[2], "address",
		              argv[3], "role", role ? role : "voter");
		return post_json(cl, "/v1/group/members", b, NULL, NULL);
	}
	if (argc >= 3 &&
	    (!strcmp(argv[1], "promote") || !strcmp(argv[1], "demote"))) {
		snprintf(uri, sizeof(uri), "/v1/group/members/%s/role",
		         argv[2]);
		b = json_pack("{s:s}", "role",
		              role                ? role
		              : argv[1][0] == 'p' ? "voter"
		                                  : "standby");
		return post_json(cl, uri, b, NULL, NULL);
	}
	if (argc >= 3 && !strcmp(argv[1], "remove")) {
		snprintf(uri, sizeof(uri), "/v1/group/members/%s", argv[2]);
		return simple(cl, "DELETE", uri, NULL, NULL, NULL);
	}
	if (argc >= 2 && !strcmp(argv[1], "features")) {
		const char *set = opt_value(argc, argv, "--set");
		char *end;
		long lv;

		if (set == NULL) {
			/* The level is in the status (features): print that,
			 * not the whole status (which it used to). */
			json_t *v = NULL;
			int st, rc = tb_cli_request(cl->api, cl->token, true,
			                            "GET", "/v1/status", NULL,
			                            false, &st, &v);
			json_t *f = json_object_get(v, "features");
			if (rc == TB_EXIT_OK && st == 200 &&
			    json_is_object(f)) {
				char *t =
				    json_dumps(f, cl->json ? JSON_COMPACT
				                           : JSON_INDENT(2));
				printf("%s\n", t != NULL ? t : "{}");
				free(t);
				if (!cl->json) {
					fprintf(
					    stderr,
					    "feature level %lld (this build "
					    "supports up to %lld; raise with "
					    "--set LEVEL once every member "
					    "runs it)\n",
					    spec_int(f, "level", 0),
					    spec_int(f, "supported", 0));
				}
			} else {
				/* An error (or an older node): as before. */
				rc = simple(cl, "GET", "/v1/status", NULL, NULL,
				            NULL);
			}
			json_decref(v);
			return rc;
		}
		lv = strtol(set, &end, 10);
		if (*end != '\0' || lv < 1) {
			fprintf(stderr, "tongban group features: --set takes a "
			                "level (1, 2, ...)\n");
			return TB_EXIT_USAGE;
		}
		b = json_pack("{s:i}", "level", (int)lv);
		return post_json(cl, "/v1/group/features", b, NULL, NULL);
	}
	if (argc >= 2 && !strcmp(argv[1], "transfer")) {
		b = argc >= 3 ? json_pack("{s:s}", "node_id", argv[2])
		              : json_object();
		return post_json(cl, "/v1/group/transfer", b, NULL, NULL);
	}
	fprintf(stderr, CLIENT_USAGE);
	return TB_EXIT_USAGE;
}

/* join_token_verb: cert join-token --region CODE --role R [--ttl 1h]
 * prints the token alone on stdout (shown once), a summary on stderr. */
static int
join_token_verb(const struct client *cl, int argc, char **argv)
{
	const char *region = opt_value(argc, argv, "--region");
	const char *role = opt_value(argc, argv, "--role");
	const char *ttls = opt_value(argc, argv, "--ttl");
	long long ttl = ttls != NULL ? tb_cli_parse_ttl(ttls) : 3600;
	struct client_res r;
	json_t *b, *v;
	char *text;
	int rc;

	if (region == NULL || role == NULL || ttl < 1) {
		fprintf(stderr, "usage: tongban --api URL --token T cert "
		                "join-token --region CODE --role "
		                "member|peer|child [--ttl 1h]\n"
		                "       [--address HOST:PORT] [--json]\n"
		                "  --ttl: N followed by s, m, h or d (at most "
		                "7d)\n");
		return TB_EXIT_USAGE;
	}
	b = json_pack("{s:s, s:s, s:I}", "region", region, "role", role,
	              "ttl_s", (json_int_t)ttl);
	if (b != NULL && opt_value(argc, argv, "--address") != NULL) {
		json_object_set_new(
		    b, "address",
		    json_string(opt_value(argc, argv, "--address")));
	}
	text = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (text == NULL) {
		return TB_EXIT_INVALID;
	}
	rc = client_call(cl, "POST", "/v1/join-tokens", "application/json",
	                 text, strlen(text), NULL, NULL, &r);
	free(text);
	if (rc != 0) {
		return TB_EXIT_INVALID;
	}
	v = json_loadb(r.body, r.len, 0, NULL);
	if (r.status >= 300 || cl->json || v == NULL ||
	    json_string_value(json_object_get(v, "token")) == NULL) {
		rc = client_print(cl, &r);
	} else {
		const json_t *jt = json_object_get(v, "join_token");
		printf("%s\n", json_string_value(json_object_get(v, "token")));
		fprintf(stderr,
		        "join token %s: role %s of %s, at %s, valid %lld s "
		        "(shown once; only its hash is stored)\n",
		        json_string_value(json_object_get(jt, "id")), role,
		        region,
		        json_string_value(json_object_get(v, "address")), ttl);
		rc = TB_EXIT_OK;
	}
	json_decref(v);
	free(r.body);
	return rc;
}

/* region_verb: the node's place in the tree (a replicated command). */
static int
region_verb(const struct client *cl, int argc, char **argv)
{
	const char *spec = argc >= 3 ? argv[2] : "";
	char uri[200];
	json_t *b;

	if (!strcmp(argv[1], "status")) {
		return tb_cli_get_shown(cl->api, cl->token, cl->json,
		                        "/v1/region", tb_cli_status_tree);
	}
	if (!strcmp(argv[1], "remove-peer") && argc >= 3) {
		snprintf(uri, sizeof(uri), "/v1/region/peers/%s", argv[2]);
		return simple(cl, "DELETE", uri, NULL, NULL, NULL);
	}
	if (argc < 3 || strlen(spec) < 8 || spec[6] != '@') {
		fprintf(stderr,
		        "tongban region %s: CODE@tcp://HOST:PORT "
		        "expected\n",
		        argv[1]);
		return TB_EXIT_USAGE;
	}
	b = json_pack("{s:s%, s:s}", "code", spec, (size_t)6, "url", spec + 7);
	return post_json(cl,
	                 !strcmp(argv[1], "set-parent") ? "/v1/region/parent"
	                                                : "/v1/region/peers",
	                 b, NULL, NULL);
}

int
tb_cli_client(int argc, char **argv, const char *api, const char *token,
              bool json)
{
	struct client cl;
	char uri[300];

	cl.api = api ? api : getenv("TONGBAN_API");
	cl.token = token ? token : getenv("TONGBAN_TOKEN");
	cl.json = json;
	if (cl.api == NULL) {
		cl.api = "http://127.0.0.1:7400";
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
		const char *after = opt_value(argc, argv, "--after");
		const char *lim = opt_value(argc, argv, "--limit");
		snprintf(uri, sizeof(uri), "/v1/events?after=%s&limit=%s",
		         after ? after : "0", lim ? lim : "100");
		return tb_cli_get_shown(cl.api, cl.token, json, uri,
		                        tb_cli_show_events);
	}
	if (!strcmp(argv[0], "catalog") && argc >= 2) {
		if (!strcmp(argv[1], "publish") && argc >= 3) {
			return simple(&cl, "POST", "/v1/catalog/releases",
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
			return simple(&cl, "GET", "/v1/catalog/matters", NULL,
			              NULL, NULL);
		}
		if (!strcmp(argv[1], "matter") && argc >= 3) {
			snprintf(uri, sizeof(uri), "/v1/catalog/matters/%s",
			         argv[2]);
			return simple(&cl, "GET", uri, NULL, NULL, NULL);
		}
	}
	if (!strcmp(argv[0], "overlay") && argc >= 3 &&
	    !strcmp(argv[1], "publish")) {
		return simple(&cl, "POST", "/v1/catalog/overlays", argv[2],
		              NULL, NULL);
	}
	if (!strcmp(argv[0], "blob") && argc >= 3) {
		if (!strcmp(argv[1], "put")) {
			return blob_put(&cl, argv[2]);
		}
		if (!strcmp(argv[1], "get")) {
			return blob_get(&cl, argv[2],
			                opt_value(argc, argv, "--out"));
		}
	}
	if (!strcmp(argv[0], "case")) {
		return case_verb(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "token")) {
		return token_verb(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "cert")) {
		return join_token_verb(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "links")) {
		return links_verb(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "group")) {
		return group_verb(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "region") && argc >= 2) {
		return region_verb(&cl, argc, argv);
	}
	if (!strcmp(argv[0], "handoff")) {
		return tb_cli_handoff(argc, argv, cl.api, cl.token, cl.json);
	}
	if (!strcmp(argv[0], "area")) {
		return tb_cli_area(argc, argv, cl.api, cl.token, cl.json);
	}
	fprintf(stderr, CLIENT_USAGE);
	return TB_EXIT_USAGE;
}
