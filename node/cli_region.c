/* The 'region' verb: look a code up in the built-in GB/T 2260 table. */
#include "node/cli.h"
#include "schema/error.h"
#include "schema/region.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parents are at most three steps up: county, city or group, province. */
#define CLI_REGION_MAX_DEPTH 4

static void
region_usage(FILE *f)
{
	fprintf(f,
	        "usage: tongban region CODE [--json] [--children]\n"
	        "  CODE is 6 digits (370102) or 12 ending in 000000\n"
	        "  --children  list the regions directly below CODE\n"
	        "  --json      print JSON instead of text\n"
	        "a running node's place in the tree (client verbs, "
	        "--api URL --token T):\n"
	        "  tongban region set-parent|add-peer CODE@tcp://HOST:PORT\n"
	        "  tongban region remove-peer CODE | tongban region status\n");
}

/* region_obj builds {code,name,level,tier} for r; NULL on ENOMEM. */
static json_t *
region_obj(const struct region *r)
{
	char code[16];

	snprintf(code, sizeof(code), "%06d", (int)r->code);
	return json_pack("{s:s, s:s, s:s, s:i}", "code", code, "name", r->name,
	                 "level", region_level_name(r->level), "tier",
	                 region_tier(r));
}

/* region_print_json prints doc (stealing it) on one line. */
static int
region_print_json(json_t *doc)
{
	char *s = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (s == NULL) {
		fprintf(stderr, "tongban region: out of memory\n");
		return TB_EXIT_INVALID;
	}
	printf("%s\n", s);
	free(s);
	return TB_EXIT_OK;
}

static int
region_show(const struct region_table *t, const struct region *r, bool json)
{
	const struct region *up[CLI_REGION_MAX_DEPTH], *a;
	size_t n = 0, i;
	json_t *doc, *anc;
	char parent[16];
	int bad = 0;

	for (a = r; a->parent != 0 && n < CLI_REGION_MAX_DEPTH;) {
		if ((a = region_find(t, a->parent)) == NULL) {
			break; /* impossible: the loader checked every parent */
		}
		up[n++] = a;
	}
	if (!json) {
		printf("%06d %s %s", (int)r->code, r->name,
		       region_level_name(r->level));
		for (i = 0; i < n; i++) {
			printf(" \xe2\x86\x90 %06d %s %s", (int)up[i]->code,
			       up[i]->name, region_level_name(up[i]->level));
		}
		printf("\n");
		return TB_EXIT_OK;
	}
	if ((doc = region_obj(r)) == NULL || (anc = json_array()) == NULL) {
		json_decref(doc);
		return region_print_json(NULL);
	}
	/* jansson's *_new calls fail on a NULL value, so one flag catches
	 * every allocation failure below. */
	snprintf(parent, sizeof(parent), "%06d", (int)r->parent);
	bad |= json_object_set_new(
	    doc, "parent", r->parent != 0 ? json_string(parent) : json_null());
	for (i = 0; i < n; i++) {
		bad |= json_array_append_new(anc, region_obj(up[i]));
	}
	bad |= json_object_set_new(doc, "ancestors", anc);
	bad |= json_object_set_new(
	    doc, "children",
	    json_integer((json_int_t)region_children(t, r->code, NULL, 0)));
	if (bad != 0) {
		json_decref(doc);
		doc = NULL;
	}
	return region_print_json(doc);
}

static int
region_list_children(const struct region_table *t, const struct region *r,
                     bool json)
{
	const struct region **kids;
	size_t n = region_children(t, r->code, NULL, 0), i;
	json_t *arr = NULL;
	int rc = TB_EXIT_OK, bad = 0;

	if ((kids = calloc(n + 1, sizeof(*kids))) == NULL ||
	    (json && (arr = json_array()) == NULL)) {
		free(kids);
		return region_print_json(NULL);
	}
	region_children(t, r->code, kids, n);
	for (i = 0; i < n; i++) {
		if (json) {
			bad |= json_array_append_new(arr, region_obj(kids[i]));
		} else {
			printf("%06d %s %s\n", (int)kids[i]->code,
			       kids[i]->name,
			       region_level_name(kids[i]->level));
		}
	}
	if (json) {
		if (bad != 0) {
			json_decref(arr);
			arr = NULL;
		}
		rc = region_print_json(arr);
	}
	free(kids);
	return rc;
}

int
tb_cli_region(int argc, char **argv)
{
	const struct region_table *t;
	const struct region *r;
	const char *arg = NULL;
	bool json = false, children = false;
	char why[128];
	int32_t code;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--children")) {
			children = true;
		} else if (!strcmp(argv[i], "-h") ||
		           !strcmp(argv[i], "--help")) {
			region_usage(stdout);
			return TB_EXIT_OK;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "tongban region: unknown option '%s'\n",
			        argv[i]);
			region_usage(stderr);
			return TB_EXIT_USAGE;
		} else if (arg != NULL) {
			fprintf(stderr,
			        "tongban region: unexpected argument '%s'\n",
			        argv[i]);
			region_usage(stderr);
			return TB_EXIT_USAGE;
		} else {
			arg = argv[i];
		}
	}
	if (arg == NULL) {
		region_usage(stderr);
		return TB_EXIT_USAGE;
	}
	if (region_code_parse_msg(arg, &code, why, sizeof(why)) != TB_OK) {
		/* A mistyped verb ("region stauts") is no code either: say
		 * what is taken, not only that codes are digits. */
		bool word = arg[0] >= 'a' && arg[0] <= 'z';
		fprintf(stderr, "tongban region: %s: %s%s\n", arg, why,
		        word ? " (and not a verb: set-parent, add-peer, "
		               "remove-peer, status)"
		             : "");
		return word ? TB_EXIT_USAGE : TB_EXIT_INVALID;
	}
	if ((t = region_builtin()) == NULL) {
		fprintf(stderr, "tongban region: out of memory\n");
		return TB_EXIT_INVALID;
	}
	if ((r = region_find(t, code)) == NULL) {
		fprintf(stderr,
		        "tongban region: %s: no such region in GB/T 2260 "
		        "table\n",
		        arg);
		return TB_EXIT_INVALID;
	}
	return children ? region_list_children(t, r, json)
	                : region_show(t, r, json);
}
