/* Summaries for people of the client verbs that answer JSON: case show,
 * case list, area cases, handoff list, region status, events. The rule
 * (docs/API.md, "The command line"): stdout stays the node's JSON exactly
 * as before (scripts parse it), the summary goes to stderr, and --json
 * prints the JSON only. */
#include "node/cli.h"

#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* text is member k of o for a table cell: a string as is, a number in
 * decimal, true/false, "-" when absent or null. */
static const char *
text(const json_t *o, const char *k, char *buf, size_t n)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_string(v)) {
		return json_string_value(v);
	}
	if (json_is_integer(v)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v)) {
		return json_is_true(v) ? "yes" : "no";
	}
	return "-";
}

int
tb_cli_get_shown(const char *api, const char *token, bool json, const char *uri,
                 void (*show)(const json_t *v))
{
	json_t *v = NULL;
	int status, rc;

	rc = tb_cli_request(api, token, json, "GET", uri, NULL, true, &status,
	                    &v);
	if (rc == TB_EXIT_OK && !json && json_is_object(v)) {
		show(v);
	}
	json_decref(v);
	return rc;
}

void
tb_cli_show_case(const json_t *c)
{
	char b1[24], b2[24], b3[24], b4[24], b5[24];

	fprintf(stderr, "case %s: %s (%s), state %s, version %s\n",
	        text(c, "id", b1, sizeof(b1)),
	        text(c, "matter", b2, sizeof(b2)),
	        text(c, "matter_name", b3, sizeof(b3)),
	        text(c, "state", b4, sizeof(b4)),
	        text(c, "version", b5, sizeof(b5)));
	fprintf(stderr, "  due %s%s%s", text(c, "due", b1, sizeof(b1)),
	        spec_bool(c, "overdue", false) ? " (OVERDUE)"
	        : spec_bool(c, "warn", false)  ? " (due soon)"
	                                       : "",
	        spec_bool(c, "frozen", false) ? ", frozen by a handoff" : "");
	if (spec_str(c, "owner") != NULL) {
		fprintf(stderr, ", owner %s (epoch %s)", spec_str(c, "owner"),
		        text(c, "epoch", b2, sizeof(b2)));
	}
	if (json_is_object(json_object_get(c, "served_by"))) {
		fprintf(stderr, ", served by %s",
		        text(json_object_get(c, "served_by"), "region", b3,
		             sizeof(b3)));
	}
	if (spec_bool(c, "redacted", false)) {
		/* Not "0 event(s)": the answer is the summary by design. */
		fprintf(stderr, "; redacted: %s\n",
		        spec_str(c, "reason") ? spec_str(c, "reason")
		                              : "the summary only");
		return;
	}
	fprintf(stderr, "; %zu event(s)\n",
	        json_array_size(json_object_get(c, "events")));
}

void
tb_cli_show_cases(const json_t *v)
{
	const json_t *rows = json_object_get(v, "cases"), *c;
	char b1[24], b2[24], b3[24], b4[24];
	size_t i;

	if (spec_str(v, "region") != NULL) {
		fprintf(stderr, "the area of %s: ", spec_str(v, "region"));
	}
	fprintf(stderr, "%zu case(s)\n", json_array_size(rows));
	if (json_array_size(rows) > 0) {
		fprintf(stderr, "%-24s %-18s %-12s %-12s %-7s %s\n", "ID",
		        "MATTER", "STATE", "DUE", "OVERDUE", "OWNER/NAME");
	}
	json_array_foreach(rows, i, c)
	{
		const char *who = spec_str(c, "owner") != NULL
		                      ? spec_str(c, "owner")
		                      : text(c, "matter_name", b4, sizeof(b4));
		fprintf(stderr, "%-24s %-18s %-12s %-12s %-7s %s\n",
		        text(c, "id", b1, sizeof(b1)),
		        text(c, "matter", b2, sizeof(b2)),
		        text(c, "state", b3, sizeof(b3)),
		        text(c, "due", b4, sizeof(b4)),
		        spec_bool(c, "overdue", false) ? "yes" : "no", who);
	}
	if (spec_str(v, "next") != NULL) {
		fprintf(stderr, "more: --after %s\n", spec_str(v, "next"));
	}
}

void
tb_cli_show_events(const json_t *v)
{
	const json_t *rows = json_object_get(v, "events"), *e, *b;
	char b1[24], b2[24], b3[24];
	size_t i;

	fprintf(stderr, "%zu event(s); next: --after %lld\n",
	        json_array_size(rows), spec_int(v, "next", 0));
	json_array_foreach(rows, i, e)
	{
		/* at: milliseconds since the epoch, shown in UTC. */
		time_t t = (time_t)(spec_int(e, "at", 0) / 1000);
		struct tm tm;
		b = json_object_get(e, "body");
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(b3, sizeof(b3), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
			snprintf(b3, sizeof(b3), "-");
		}
		fprintf(stderr, "  %-6s %-16s %s  case %s\n",
		        text(e, "seq", b1, sizeof(b1)),
		        text(e, "type", b2, sizeof(b2)), b3,
		        spec_str(b, "case") ? spec_str(b, "case")
		        : spec_str(b, "id") ? spec_str(b, "id")
		                            : "-");
	}
}

void
tb_cli_show_handoffs(const json_t *v)
{
	const json_t *rows = json_object_get(v, "handoffs"), *h;
	char b1[24], b2[24], b3[24], b4[24], b5[24], b6[24];
	size_t i;

	fprintf(stderr, "%zu handoff record(s)\n", json_array_size(rows));
	if (json_array_size(rows) > 0) {
		fprintf(stderr, "%-24s %-6s %-8s %-16s %-5s %-7s %s\n", "CASE",
		        "SIDE", "PEER", "STATE", "EPOCH", "ATTEMPT", "REASON");
	}
	json_array_foreach(rows, i, h)
	{
		fprintf(stderr, "%-24s %-6s %-8s %-16s %-5s %-7s %s\n",
		        text(h, "case", b1, sizeof(b1)),
		        text(h, "side", b2, sizeof(b2)),
		        text(h, "peer", b3, sizeof(b3)),
		        text(h, "state", b4, sizeof(b4)),
		        text(h, "epoch", b5, sizeof(b5)),
		        text(h, "attempt", b6, sizeof(b6)),
		        spec_str(h, "reason") ? spec_str(h, "reason") : "");
	}
	if (spec_str(v, "next") != NULL) {
		fprintf(stderr, "more: --after %s\n", spec_str(v, "next"));
	}
}

/* tb_cli_area: tongban area cases [--state S] [--overdue] [--limit N]
 * [--after ID]: GET /v1/area/cases, the cases of the regions below. */
int
tb_cli_area(int argc, char **argv, const char *api, const char *token,
            bool json)
{
	const char *st = NULL, *lim = NULL, *after = NULL;
	bool overdue = false;
	char uri[400];
	int i;

	if (argc < 2 || strcmp(argv[1], "cases") != 0) {
		goto usage;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--overdue")) {
			overdue = true;
		} else if (!strcmp(argv[i], "--json")) {
			continue;
		} else if (i + 1 < argc && !strcmp(argv[i], "--state")) {
			st = argv[++i];
		} else if (i + 1 < argc && !strcmp(argv[i], "--limit")) {
			lim = argv[++i];
		} else if (i + 1 < argc && !strcmp(argv[i], "--after")) {
			after = argv[++i];
		} else {
			fprintf(stderr,
			        "tongban area cases: unknown argument "
			        "'%s'\n",
			        argv[i]);
			goto usage;
		}
	}
	if ((st != NULL && strlen(st) > 64) ||
	    (after != NULL && strlen(after) > 200) ||
	    (lim != NULL && strlen(lim) > 12)) {
		fprintf(stderr, "tongban area cases: argument too long\n");
		return TB_EXIT_USAGE;
	}
	snprintf(uri, sizeof(uri), "/v1/area/cases?limit=%s%s%s%s%s%s",
	         lim ? lim : "50", st ? "&state=" : "", st ? st : "",
	         overdue ? "&overdue=1" : "", after ? "&after=" : "",
	         after ? after : "");
	return tb_cli_get_shown(api, token, json, uri, tb_cli_show_cases);
usage:
	fprintf(stderr, "usage: tongban area cases [--state S] [--overdue] "
	                "[--limit N] [--after ID]\n"
	                "  the cases of the regions below this node's "
	                "(summaries, no personal data)\n");
	return TB_EXIT_USAGE;
}

const char *
tb_cli_str(const json_t *obj, const char *key)
{
	const char *v = spec_str(obj, key);

	return v != NULL ? v : "?";
}
