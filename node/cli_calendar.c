/* The 'calendar' verb: a province's signed working-day calendar
 * committed through a node's group (POST /v1/calendars, calendar.put) and
 * the calendars a node stores (GET /v1/calendars); docs/CALENDAR.md "The
 * calendar feed". */
#include "node/cli.h"

#include "schema/canon.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

#define CAL_USAGE                                                       \
	"usage: tongban [--api URL --token T] calendar publish FILE "   \
	"[--json]\n"                                                    \
	"       tongban [--api URL --token T] calendar show [--json]\n" \
	"  stdout: the node's JSON (--json: compact); stderr: a "       \
	"summary\n"                                                     \
	"  FILE is a tongban.calendar/1 with region (the province), "   \
	"version\n"                                                     \
	"  (above every one published before) and a release key's "     \
	"signature\n"                                                   \
	"  (tongban sign --key RELEASE.json FILE)\n"

static int
cal_usage(const char *why)
{
	fprintf(stderr, "tongban calendar: %s\n%s", why, CAL_USAGE);
	return TB_EXIT_USAGE;
}

static void
print_error(int status, const json_t *v)
{
	const json_t *e = json_object_get(v, "error");
	const char *field = spec_str(e, "field");

	fprintf(stderr, "tongban calendar: %d %s%s%s: %s\n", status,
	        spec_str(e, "code") ? spec_str(e, "code") : "?",
	        field ? " at " : "", field ? field : "",
	        spec_str(e, "message") ? spec_str(e, "message")
	                               : "(no message)");
}

/* years_str writes "2026" or "2026-2027" for the array years. */
static void
years_str(const json_t *years, char *out, size_t n)
{
	size_t k = json_array_size(years);

	if (k == 0) {
		snprintf(out, n, "none");
	} else {
		snprintf(
		    out, n, k == 1 ? "%lld" : "%lld-%lld",
		    (long long)json_integer_value(json_array_get(years, 0)),
		    (long long)json_integer_value(
		        json_array_get(years, k - 1)));
	}
}

static int
publish(const char *file, bool json)
{
	char err[128], hex[2 * CANON_HASH_LEN + 1], ys[32];
	uint8_t h[CANON_HASH_LEN];
	json_t *doc, *v = NULL;
	int status = 0;

	if ((doc = tb_cli_json_file("calendar publish", file)) == NULL) {
		return TB_EXIT_INVALID;
	}
	if (canon_hash_value(doc, "signatures", h, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban calendar: %s: %s\n", file, err);
		json_decref(doc);
		return TB_EXIT_INVALID;
	}
	canon_hex(h, CANON_HASH_LEN, hex);
	if (tb_cli_http("POST", "/v1/calendars", doc, &status, &v) != 0) {
		json_decref(doc);
		return TB_EXIT_INVALID;
	}
	if (status != 200 && status != 201) {
		print_error(status, v);
		json_decref(v);
		json_decref(doc);
		return TB_EXIT_INVALID;
	}
	/* stdout is the node's JSON (with the hash), for scripts; the line
	 * for people goes to stderr, as every client verb's (docs/API.md
	 * "The command line"). */
	json_object_set_new(v, "hash", json_string(hex));
	json_dumpf(v, stdout,
	           json ? JSON_COMPACT : JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("\n");
	if (!json) {
		years_str(json_object_get(doc, "years"), ys, sizeof(ys));
		fprintf(stderr,
		        "committed: calendar of %s version %lld for %s "
		        "through the node's group, hash %s\n",
		        spec_str(doc, "region"), spec_int(doc, "version", 0),
		        ys, hex);
	}
	json_decref(v);
	json_decref(doc);
	return TB_EXIT_OK;
}

static int
show(bool json)
{
	json_t *v = NULL, *c;
	int status = 0;
	char ys[32];
	size_t i;

	if (tb_cli_http("GET", "/v1/calendars", NULL, &status, &v) != 0) {
		return TB_EXIT_INVALID;
	}
	if (status != 200) {
		print_error(status, v);
		json_decref(v);
		return TB_EXIT_INVALID;
	}
	json_dumpf(v, stdout,
	           json ? JSON_COMPACT : JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("\n");
	if (json) {
		json_decref(v);
		return TB_EXIT_OK;
	}
	years_str(json_object_get(v, "release_years"), ys, sizeof(ys));
	fprintf(stderr, "release calendar: %s\n", ys);
	json_array_foreach(json_object_get(v, "calendars"), i, c)
	{
		years_str(json_object_get(c, "years"), ys, sizeof(ys));
		fprintf(stderr,
		        "published: %s version %lld, %s, \"%s\", hash %s\n",
		        spec_str(c, "region"), spec_int(c, "version", 0), ys,
		        spec_str(c, "name") ? spec_str(c, "name") : "",
		        spec_str(c, "hash"));
	}
	years_str(json_object_get(v, "effective_years"), ys, sizeof(ys));
	fprintf(stderr, "due dates count on: %s\n", ys);
	json_decref(v);
	return TB_EXIT_OK;
}

int
tb_cli_calendar(int argc, char **argv)
{
	return tb_cli_calendar_json(argc, argv, false);
}

int
tb_cli_calendar_json(int argc, char **argv, bool json)
{
	const char *file = NULL;
	int i;

	if (argc < 2 ||
	    (strcmp(argv[1], "publish") && strcmp(argv[1], "show"))) {
		return cal_usage("publish or show");
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] != '-' && file == NULL &&
		           !strcmp(argv[1], "publish")) {
			file = argv[i];
		} else {
			return cal_usage("unknown argument");
		}
	}
	if (!strcmp(argv[1], "show")) {
		return show(json);
	}
	return file != NULL ? publish(file, json)
	                    : cal_usage("publish needs a FILE");
}
