/* The 'catalog' verb: offline checks of standard-layer release files. */
#include "node/cli.h"

#include "schema/canon.h"
#include "schema/catalog.h"
#include "schema/calendar.h"
#include "schema/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CATALOG_USAGE                                                        \
	"usage: tongban catalog check FILE... [--root ROOT.json] [--json]\n" \
	"  FILE...  releases of one province, in version order: each must\n" \
	"           follow the one before (version, prev_hash)\n"            \
	"  --root   verify every release's signature against the root\n"     \
	"           metadata (and the root's own m-of-n signatures)\n"

static int
catalog_usage(const char *what)
{
	if (what != NULL) {
		fprintf(stderr, "tongban catalog: %s\n", what);
	}
	fprintf(stderr, CATALOG_USAGE);
	return TB_EXIT_USAGE;
}

json_t *
tb_cli_load_root(struct tb_report *r, const char *path)
{
	struct tb_diag d;
	json_t *root;

	if ((root = tb_cli_load_json(r, path)) == NULL) {
		return NULL;
	}
	tb_diag_init(&d);
	if (trust_root_check(root, NULL, (int64_t)time(NULL) * 1000, "$", &d) !=
	    0) {
		tb_report_diag(r, path, &d);
		json_decref(root);
		return NULL;
	}
	return root;
}

static json_t *
release_summary(const struct catalog *c)
{
	char hex[2 * CANON_HASH_LEN + 1], text[256], cal[32] = "";

	canon_hex(c->hash, CANON_HASH_LEN, hex);
	if (c->cal != NULL) {
		snprintf(cal, sizeof(cal), ", calendar %d-%d",
		         cal_first_year(c->cal), cal_last_year(c->cal));
	}
	snprintf(text, sizeof(text),
	         "valid release %lld of %s: %zu matters, %zu bundles%s; "
	         "hash %s",
	         c->version, c->region, json_object_size(c->matters),
	         json_object_size(c->bundles), cal, hex);
	return json_pack("{s:s, s:s, s:I, s:s, s:i, s:i}", "summary", text,
	                 "region", c->region, "version", (json_int_t)c->version,
	                 "hash", hex, "matters",
	                 (int)json_object_size(c->matters), "bundles",
	                 (int)json_object_size(c->bundles));
}

int
tb_cli_fold_catalog(struct tb_report *r, char **files, size_t n,
                    const json_t *root, struct catalog *cat)
{
	struct tb_diag d;
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *rel = tb_cli_load_json(r, files[i]);
		if (rel == NULL) {
			return TB_EINVAL;
		}
		tb_diag_init(&d);
		if (catalog_apply(cat, rel, root, &d) != 0) {
			tb_report_diag(r, files[i], &d);
			json_decref(rel);
			return TB_EINVAL;
		}
		json_decref(rel);
		tb_report_file(r, files[i], release_summary(cat));
	}
	return TB_OK;
}

static int
catalog_check(int argc, char **argv)
{
	struct tb_report r;
	struct catalog cat;
	const char *root_path = NULL;
	json_t *root = NULL;
	bool json = false;
	char **files;
	size_t nfiles = 0;
	int i, rc;

	if ((files = calloc((size_t)argc, sizeof(*files))) == NULL) {
		return TB_EXIT_INVALID;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--root")) {
			if (++i == argc) {
				free(files);
				return catalog_usage("--root needs a file");
			}
			root_path = argv[i];
		} else if (!strcmp(argv[i], "--help")) {
			free(files);
			printf(CATALOG_USAGE);
			return TB_EXIT_OK;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			free(files);
			fprintf(stderr, "tongban catalog: unknown option %s\n",
			        argv[i]);
			return catalog_usage(NULL);
		} else {
			files[nfiles++] = argv[i];
		}
	}
	if (nfiles == 0) {
		free(files);
		return catalog_usage("no release file given");
	}
	if (tb_report_init(&r, json) != 0 || catalog_init(&cat) != 0) {
		free(files);
		fprintf(stderr, "tongban catalog: out of memory\n");
		return TB_EXIT_INVALID;
	}
	if (root_path == NULL ||
	    (root = tb_cli_load_root(&r, root_path)) != NULL) {
		tb_cli_fold_catalog(&r, files, nfiles, root, &cat);
	}
	rc = tb_report_finish(&r);
	json_decref(root);
	catalog_fini(&cat);
	free(files);
	return rc;
}

int
tb_cli_catalog(int argc, char **argv)
{
	if (argc < 2) {
		return catalog_usage("missing subcommand");
	}
	if (!strcmp(argv[1], "check")) {
		return catalog_check(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		printf(CATALOG_USAGE);
		return TB_EXIT_OK;
	}
	fprintf(stderr, "tongban catalog: unknown subcommand '%s'\n", argv[1]);
	return catalog_usage(NULL);
}
