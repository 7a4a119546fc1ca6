/* The client's admin verbs: token create|revoke, links, group, cert
 * join-token and region. */
#include "node/cli_client_impl.h"

#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* token_list prints GET /v1/tokens: the JSON on stdout, and for people a
 * line per token on stderr (id, role, region, revoked or not, name). */
static int
token_list(const struct cli_client *cl)
{
	struct cli_client_res r;
	json_t *v, *t;
	size_t i;
	int rc;

	if (cli_client_call(cl, "GET", "/v1/tokens", NULL, NULL, 0, NULL, NULL,
	                    &r) != 0) {
		return TB_EXIT_INVALID;
	}
	rc = cli_client_print(cl, &r);
	v = r.status == 200 && !cl->json ? json_loads(r.body, 0, NULL) : NULL;
	if (v != NULL) {
		const json_t *all = json_object_get(v, "tokens");
		fprintf(stderr, "%zu token(s)\n%-16s %-17s %-7s %-8s %s\n",
		        json_array_size(all), "ID", "ROLE", "REGION", "STATE",
		        "NAME");
		json_array_foreach(all, i, t)
		{
			fprintf(stderr, "%-16s %-17s %-7s %-8s %s\n",
			        tb_cli_str(t, "id"), tb_cli_str(t, "role"),
			        tb_cli_str(t, "region"),
			        json_object_get(t, "revoked_at") != NULL
			            ? "revoked"
			            : "active",
			        spec_str(t, "name") ? spec_str(t, "name") : "");
		}
	}
	json_decref(v);
	free(r.body);
	return rc;
}

int
cli_client_token(const struct cli_client *cl, int argc, char **argv)
{
	char uri[200];

	if (argc >= 2 && !strcmp(argv[1], "create")) {
		const char *role = cli_client_opt_value(argc, argv, "--role");
		const char *region =
		    cli_client_opt_value(argc, argv, "--region");
		const char *name = cli_client_opt_value(argc, argv, "--name");
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
		return cli_client_post_json(cl, "/v1/tokens", b, NULL, NULL);
	}
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		return token_list(cl);
	}
	if (argc >= 3 && !strcmp(argv[1], "revoke")) {
		snprintf(uri, sizeof(uri), "/v1/tokens/%s", argv[2]);
		return cli_client_simple(cl, "DELETE", uri, NULL, NULL, NULL);
	}
	return cli_client_usage(argc, argv);
}

/* cli_client_links: the node's links (GET /v1/links) as a table, or a PING to
 * one peer. */
int
cli_client_links(const struct cli_client *cl, int argc, char **argv)
{
	const char *payload = cli_client_opt_value(argc, argv, "--payload");
	const char *size = cli_client_opt_value(argc, argv, "--size");
	const char *tmo = cli_client_opt_value(argc, argv, "--timeout-ms");
	struct cli_client_res r;
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
		return cli_client_post_json(cl, "/v1/links/ping", b, NULL,
		                            NULL);
	}
	if (cli_client_call(cl, "GET", "/v1/links", NULL, NULL, 0, NULL, NULL,
	                    &r) != 0) {
		return TB_EXIT_INVALID;
	}
	rc = r.status == 200 && !cl->json ? tb_cli_links_table(r.body, r.len)
	                                  : cli_client_print(cl, &r);
	free(r.body);
	return rc;
}

/* cli_client_group changes the region's group (docs/GROUPS.md); any member
 * forwards to the leader. */
int
cli_client_group(const struct cli_client *cl, int argc, char **argv)
{
	const char *role = cli_client_opt_value(argc, argv, "--role");
	char uri[200];
	json_t *b;

	if (argc >= 4 && !strcmp(argv[1], "add")) {
		b = json_pack("{s:s, s:s, s:s}", "node_id", argv[2], "address",
		              argv[3], "role", role ? role : "voter");
		return cli_client_post_json(cl, "/v1/group/members", b, NULL,
		                            NULL);
	}
	if (argc >= 3 &&
	    (!strcmp(argv[1], "promote") || !strcmp(argv[1], "demote"))) {
		snprintf(uri, sizeof(uri), "/v1/group/members/%s/role",
		         argv[2]);
		b = json_pack("{s:s}", "role",
		              role                ? role
		              : argv[1][0] == 'p' ? "voter"
		                                  : "standby");
		return cli_client_post_json(cl, uri, b, NULL, NULL);
	}
	if (argc >= 3 && !strcmp(argv[1], "remove")) {
		snprintf(uri, sizeof(uri), "/v1/group/members/%s", argv[2]);
		return cli_client_simple(cl, "DELETE", uri, NULL, NULL, NULL);
	}
	if (argc >= 2 && !strcmp(argv[1], "features")) {
		const char *set = cli_client_opt_value(argc, argv, "--set");
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
				rc = cli_client_simple(cl, "GET", "/v1/status",
				                       NULL, NULL, NULL);
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
		return cli_client_post_json(cl, "/v1/group/features", b, NULL,
		                            NULL);
	}
	if (argc >= 2 && !strcmp(argv[1], "transfer")) {
		b = argc >= 3 ? json_pack("{s:s}", "node_id", argv[2])
		              : json_object();
		return cli_client_post_json(cl, "/v1/group/transfer", b, NULL,
		                            NULL);
	}
	return cli_client_usage(argc, argv);
}

/* cli_client_join_token: cert join-token --region CODE --role R [--ttl 1h]
 * prints the token alone on stdout (shown once), a summary on stderr. */
int
cli_client_join_token(const struct cli_client *cl, int argc, char **argv)
{
	const char *region = cli_client_opt_value(argc, argv, "--region");
	const char *role = cli_client_opt_value(argc, argv, "--role");
	const char *ttls = cli_client_opt_value(argc, argv, "--ttl");
	long long ttl = ttls != NULL ? tb_cli_parse_ttl(ttls) : 3600;
	struct cli_client_res r;
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
	if (b != NULL &&
	    cli_client_opt_value(argc, argv, "--address") != NULL) {
		json_object_set_new(
		    b, "address",
		    json_string(cli_client_opt_value(argc, argv, "--address")));
	}
	text = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (text == NULL) {
		return TB_EXIT_INVALID;
	}
	rc = cli_client_call(cl, "POST", "/v1/join-tokens", "application/json",
	                     text, strlen(text), NULL, NULL, &r);
	free(text);
	if (rc != 0) {
		return TB_EXIT_INVALID;
	}
	v = json_loadb(r.body, r.len, 0, NULL);
	if (r.status >= 300 || cl->json || v == NULL ||
	    json_string_value(json_object_get(v, "token")) == NULL) {
		rc = cli_client_print(cl, &r);
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

/* cli_client_region: the node's place in the tree (a replicated command). */
int
cli_client_region(const struct cli_client *cl, int argc, char **argv)
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
		return cli_client_simple(cl, "DELETE", uri, NULL, NULL, NULL);
	}
	if (argc < 3 || strlen(spec) < 8 || spec[6] != '@') {
		fprintf(stderr,
		        "tongban region %s: CODE@tcp://HOST:PORT "
		        "expected\n",
		        argv[1]);
		return TB_EXIT_USAGE;
	}
	b = json_pack("{s:s%, s:s}", "code", spec, (size_t)6, "url", spec + 7);
	return cli_client_post_json(cl,
	                            !strcmp(argv[1], "set-parent")
	                                ? "/v1/region/parent"
	                                : "/v1/region/peers",
	                            b, NULL, NULL);
}
