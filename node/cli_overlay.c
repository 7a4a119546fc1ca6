/* The 'overlay' verb: offline checks of overlays against the layers above. */
#include "node/cli.h"

#include "schema/catalog.h"
#include "schema/overlay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OVERLAY_USAGE                                                          \
	"usage: tongban overlay check --catalog FILE [--catalog FILE]...\n"    \
	"           --overlay FILE [--overlay FILE]... [--root ROOT.json] "    \
	"[--json]\n"                                                           \
	"  --catalog  the province's releases, in version order\n"             \
	"  --overlay  overlays from the top down (a city's, then one of its\n" \
	"             counties'): each is checked against the standard\n"      \
	"             layer and the overlays given before it\n"

static int
overlay_usage(const char *what)
{
	if (what != NULL) {
		fprintf(stderr, "tongban overlay: %s\n", what);
	}
	fprintf(stderr, OVERLAY_USAGE);
	return TB_EXIT_USAGE;
}

static json_t *
overlay_summary(const json_t *ov)
{
	char text[200];

	snprintf(text, sizeof(text),
	         "valid overlay %lld of %s: %zu entries, %zu defaults",
	         (long long)json_integer_value(json_object_get(ov, "version")),
	         json_string_value(json_object_get(ov, "region")),
	         json_array_size(json_object_get(ov, "entries")),
	         json_array_size(json_object_get(ov, "defaults")));
	return json_pack("{s:s, s:O, s:O, s:i}", "summary", text, "region",
	                 json_object_get(ov, "region"), "version",
	                 json_object_get(ov, "version"), "entries",
	                 (int)json_array_size(json_object_get(ov, "entries")));
}

static int
overlay_check_run(struct tb_report *r, char **cats, size_t ncats, char **ovs,
                  size_t novs, const char *root_path)
{
	struct catalog cat;
	json_t **loaded, *root = NULL;
	struct tb_diag d;
	size_t i;

	if (catalog_init(&cat) != 0 ||
	    (loaded = calloc(novs, sizeof(*loaded))) == NULL) {
		catalog_fini(&cat);
		tb_report_error(r, "-", "$", TB_ENOMEM, "out of memory");
		return TB_ENOMEM;
	}
	if (root_path != NULL &&
	    (root = tb_cli_load_root(r, root_path)) == NULL) {
		goto out;
	}
	if (tb_cli_fold_catalog(r, cats, ncats, root, &cat) != 0) {
		goto out;
	}
	for (i = 0; i < novs; i++) {
		if ((loaded[i] = tb_cli_load_json(r, ovs[i])) == NULL) {
			goto out;
		}
		tb_diag_init(&d);
		if (overlay_check(&cat, (const json_t *const *)loaded, i,
		                  loaded[i], "$", &d) != 0) {
			tb_report_diag(r, ovs[i], &d);
			goto out;
		}
		tb_report_file(r, ovs[i], overlay_summary(loaded[i]));
	}
out:
	for (i = 0; i < novs; i++) {
		json_decref(loaded[i]);
	}
	free(loaded);
	json_decref(root);
	catalog_fini(&cat);
	return TB_OK;
}

static int
overlay_check_verb(int argc, char **argv)
{
	char **cats, **ovs;
	size_t ncats = 0, novs = 0;
	const char *root_path = NULL;
	struct tb_report r;
	bool json = false;
	int i, rc = TB_EXIT_USAGE;

	cats = calloc((size_t)argc, sizeof(*cats));
	ovs = calloc((size_t)argc, sizeof(*ovs));
	if (cats == NULL || ovs == NULL) {
		free(cats);
		free(ovs);
		return TB_EXIT_INVALID;
	}
	for (i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "--json")) {
			json = true;
		} else if (!strcmp(o, "--help")) {
			printf(OVERLAY_USAGE);
			rc = TB_EXIT_OK;
			goto out;
		} else if (!strcmp(o, "--catalog") || !strcmp(o, "--overlay") ||
		           !strcmp(o, "--root")) {
			if (++i == argc) {
				fprintf(stderr,
				        "tongban overlay: %s needs a file\n",
				        o);
				rc = overlay_usage(NULL);
				goto out;
			}
			if (o[2] == 'c') {
				cats[ncats++] = argv[i];
			} else if (o[2] == 'o') {
				ovs[novs++] = argv[i];
			} else {
				root_path = argv[i];
			}
		} else {
			fprintf(stderr, "tongban overlay: unexpected '%s'\n",
			        o);
			rc = overlay_usage(NULL);
			goto out;
		}
	}
	if (ncats == 0 || novs == 0) {
		rc = overlay_usage(ncats == 0 ? "--catalog is required"
		                              : "--overlay is required");
		goto out;
	}
	if (tb_report_init(&r, json) != 0) {
		rc = TB_EXIT_INVALID;
		goto out;
	}
	overlay_check_run(&r, cats, ncats, ovs, novs, root_path);
	rc = tb_report_finish(&r);
out:
	free(cats);
	free(ovs);
	return rc;
}

int
tb_cli_overlay(int argc, char **argv)
{
	if (argc < 2) {
		return overlay_usage("missing subcommand");
	}
	if (!strcmp(argv[1], "check")) {
		return overlay_check_verb(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		printf(OVERLAY_USAGE);
		return TB_EXIT_OK;
	}
	fprintf(stderr, "tongban overlay: unknown subcommand '%s'\n", argv[1]);
	return overlay_usage(NULL);
}
