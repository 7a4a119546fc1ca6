/* The client's case verbs: case submit (uploading the materials named by
 * file first), show, list, act and handoff. */
#include "node/cli_client_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* upload_materials replaces each material's "file" (relative to the case
 * file's directory) by the hash and size the node returns for it. */
static int
upload_materials(const struct cli_client *cl, json_t *c, const char *case_path)
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
		struct cli_client_res r;
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
		if (cli_client_call(cl, "PUT", "/v1/blobs",
		                    "application/octet-stream", data, len, NULL,
		                    NULL, &r) != 0) {
			free(data);
			return -1;
		}
		free(data);
		reply = json_loadb(r.body, r.len, 0, &je);
		if (r.status >= 300 || reply == NULL) {
			cli_client_print(cl, &r);
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
case_submit(const struct cli_client *cl, const char *file, const char *key)
{
	json_t *c;

	if ((c = tb_cli_json_file("case submit", file)) == NULL) {
		return TB_EXIT_INVALID;
	}
	if (upload_materials(cl, c, file) != 0) {
		json_decref(c);
		return TB_EXIT_INVALID;
	}
	return cli_client_post_json(cl, "/v1/cases", c,
	                            key ? "Idempotency-Key" : NULL, key);
}

int
cli_client_case(const struct cli_client *cl, int argc, char **argv)
{
	char uri[600];

	if (argc >= 3 && !strcmp(argv[1], "submit")) {
		return case_submit(cl, argv[2],
		                   cli_client_opt_value(argc, argv, "--key"));
	}
	if (argc >= 3 && !strcmp(argv[1], "show")) {
		snprintf(uri, sizeof(uri), "/v1/cases/%s", argv[2]);
		return tb_cli_get_shown(cl->api, cl->token, cl->json, uri,
		                        tb_cli_show_case);
	}
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		const char *st = cli_client_opt_value(argc, argv, "--status");
		const char *lim = cli_client_opt_value(argc, argv, "--limit");
		const char *after = cli_client_opt_value(argc, argv, "--after");
		snprintf(uri, sizeof(uri), "/v1/cases?limit=%s%s%s%s%s%s",
		         lim ? lim : "50", st ? "&status=" : "", st ? st : "",
		         cli_client_opt_flag(argc, argv, "--overdue")
		             ? "&overdue=1"
		             : "",
		         after ? "&after=" : "", after ? after : "");
		return tb_cli_get_shown(cl->api, cl->token, cl->json, uri,
		                        tb_cli_show_cases);
	}
	if (argc >= 3 && !strcmp(argv[1], "handoff")) {
		return tb_cli_handoff(argc, argv, cl->api, cl->token, cl->json);
	}
	if (argc >= 4 && !strcmp(argv[1], "act")) {
		const char *im = cli_client_opt_value(argc, argv, "--if-match");
		const char *op = cli_client_opt_value(argc, argv, "--opinion");
		const char *tg = cli_client_opt_value(argc, argv, "--target");
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
		return cli_client_post_json(cl, uri, b, im ? "If-Match" : NULL,
		                            etag);
	}
	return cli_client_usage(argc, argv);
}
