/* The 'deadline' verb: the due date of a time limit counted on a
 * working-day calendar file, with the clock stopped during pauses. */
#include "node/cli.h"
#include "schema/calendar.h"
#include "schema/error.h"
#include "schema/spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DL_USAGE                                                      \
	"usage: tongban deadline --calendar FILE --from YYYY-MM-DD "  \
	"--days N --unit G|Z\n"                                       \
	"                        [--pause FROM:TO]... [--json]\n"     \
	"  --unit G counts working days, Z calendar days; the start " \
	"day is not counted\n"                                        \
	"  --pause stops the clock FROM..TO, both days included "     \
	"(repeatable)\n"

/* The calendar file is small (one year is about 1 KiB); a megabyte is
 * centuries of holidays. */
#define DL_MAX_FILE (1 << 20)

struct dl_args {
	const char *calendar;
	int32_t from;
	bool have_from;
	int days;
	char unit;
	struct cal_pause *pauses; /* owned; room for argc entries */
	size_t npauses;
	bool json;
	bool help;
};

static int dl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* dl_usage prints "tongban deadline: <what>" and the usage to stderr. */
static int
dl_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tongban deadline: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", DL_USAGE);
	return TB_EXIT_USAGE;
}

/* dl_days accepts a decimal integer in 1..CAL_MAX_DAYS. */
static int
dl_days(const char *v, int *days)
{
	char *end;
	long n;

	if ((v[0] < '0' || v[0] > '9') && v[0] != '-' && v[0] != '+') {
		return dl_usage("--days '%s' is not a whole number", v);
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end != '\0' || end == v) {
		return dl_usage("--days '%s' is not a whole number", v);
	}
	if (n < 1) {
		return dl_usage("--days must be ≥ 1, not %s", v);
	}
	if (errno == ERANGE || n > CAL_MAX_DAYS) {
		return dl_usage("--days must be ≤ %d, not %s", CAL_MAX_DAYS, v);
	}
	*days = (int)n;
	return TB_EXIT_OK;
}

/* dl_pause reads "FROM:TO", two dates with FROM <= TO. */
static int
dl_pause(const char *v, struct cal_pause *p)
{
	const char *colon = strchr(v, ':'), *why;
	char from[16];
	size_t flen = colon != NULL ? (size_t)(colon - v) : 0;

	if (colon == NULL || strchr(colon + 1, ':') != NULL ||
	    flen >= sizeof(from)) {
		return dl_usage("--pause '%s' is not FROM:TO (two YYYY-MM-DD "
		                "dates)",
		                v);
	}
	memcpy(from, v, flen);
	from[flen] = '\0';
	if ((why = cal_date_why(from)) != NULL) {
		return dl_usage("--pause '%s': '%s' %s", v, from, why);
	}
	if ((why = cal_date_why(colon + 1)) != NULL) {
		return dl_usage("--pause '%s': '%s' %s", v, colon + 1, why);
	}
	cal_date_parse(from, &p->from);
	cal_date_parse(colon + 1, &p->to);
	if (p->to < p->from) {
		return dl_usage("--pause '%s' ends before it starts", v);
	}
	return TB_EXIT_OK;
}

/* dl_option handles one option that takes a value. */
static int
dl_option(struct dl_args *a, const char *o, const char *v)
{
	const char *why;

	if (!strcmp(o, "--calendar")) {
		if (a->calendar != NULL) {
			return dl_usage("--calendar given twice");
		}
		a->calendar = v;
	} else if (!strcmp(o, "--from")) {
		if (a->have_from) {
			return dl_usage("--from given twice");
		}
		if ((why = cal_date_why(v)) != NULL) {
			return dl_usage("--from '%s' %s", v, why);
		}
		cal_date_parse(v, &a->from);
		a->have_from = true;
	} else if (!strcmp(o, "--days")) {
		if (a->days != 0) {
			return dl_usage("--days given twice");
		}
		return dl_days(v, &a->days);
	} else if (!strcmp(o, "--unit")) {
		if (a->unit != 0) {
			return dl_usage("--unit given twice");
		}
		if (strcmp(v, "G") != 0 && strcmp(v, "Z") != 0) {
			return dl_usage("--unit must be G (working days) or Z "
			                "(calendar days), not '%s'",
			                v);
		}
		a->unit = v[0];
	} else {
		return dl_pause(v, &a->pauses[a->npauses++]);
	}
	return TB_EXIT_OK;
}

static int
dl_parse(int argc, char **argv, struct dl_args *a)
{
	static const char *const valued[] = { "--calendar", "--from",  "--days",
		                              "--unit",     "--pause", NULL };
	int i, rc;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			a->json = true;
			continue;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			a->help = true;
			return TB_EXIT_OK;
		}
		for (k = 0; valued[k] != NULL && strcmp(valued[k], argv[i]);
		     k++)
			;
		if (valued[k] == NULL) {
			return dl_usage(argv[i][0] == '-'
			                    ? "unknown option '%s'"
			                    : "unexpected argument '%s'",
			                argv[i]);
		}
		if (i + 1 >= argc) {
			return dl_usage("%s needs a value", argv[i]);
		}
		if ((rc = dl_option(a, argv[i], argv[i + 1])) != TB_EXIT_OK) {
			return rc;
		}
		i++;
	}
	if (a->calendar == NULL) {
		return dl_usage("--calendar is required");
	}
	if (!a->have_from) {
		return dl_usage("--from is required");
	}
	if (a->days == 0) {
		return dl_usage("--days is required");
	}
	if (a->unit == 0) {
		return dl_usage("--unit is required");
	}
	return TB_EXIT_OK;
}

/* dl_string makes a JSON string of s; bytes that are not valid UTF-8 (a
 * file name, or a message cut inside a character) become '?'. */
static json_t *
dl_string(const char *s)
{
	json_t *v = json_string(s);
	char *copy;
	size_t i;

	if (v != NULL || (copy = strdup(s)) == NULL) {
		return v;
	}
	for (i = 0; copy[i] != '\0'; i++) {
		if ((unsigned char)copy[i] >= 0x80) {
			copy[i] = '?';
		}
	}
	v = json_string(copy);
	free(copy);
	return v;
}

/* dl_print_json prints doc (stealing it) on one line of stdout. */
static int
dl_print_json(json_t *doc, int rc)
{
	char *s = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (s == NULL) {
		fprintf(stderr, "tongban deadline: out of memory\n");
		return TB_EXIT_INVALID;
	}
	printf("%s\n", s);
	free(s);
	return rc;
}

/* dl_report prints the problems in d: with --json as one document on
 * stdout, else one "FILE: $.path: reason" line each on stderr (without
 * the path when paths is false, as for a JSON syntax error). */
static int
dl_report(const struct dl_args *a, const struct tb_diag *d, bool paths)
{
	const struct tb_diag_entry *e;
	json_t *doc, *errs;
	int i, bad = 0;

	if (!a->json) {
		for (i = 0; i < d->n; i++) {
			e = &d->e[i];
			fprintf(stderr, "%s: %s%s%s\n", a->calendar,
			        paths ? e->path : "", paths ? ": " : "",
			        e->msg);
		}
		if (d->dropped > 0) {
			fprintf(stderr, "%s: %d more errors not shown\n",
			        a->calendar, d->dropped);
		}
		return TB_EXIT_INVALID;
	}
	if ((errs = json_array()) == NULL) {
		return dl_print_json(NULL, TB_EXIT_INVALID);
	}
	/* jansson's *_new calls fail on a NULL value, so one flag catches
	 * every allocation failure. */
	doc = json_pack("{s:b, s:o}", "valid", 0, "errors", errs);
	for (i = 0; doc != NULL && i < d->n; i++) {
		e = &d->e[i];
		bad |= json_array_append_new(
		    errs,
		    json_pack("{s:o, s:o, s:s, s:o}", "file",
		              dl_string(a->calendar), "path",
		              dl_string(e->path), "code", tb_errname(e->code),
		              "reason", dl_string(e->msg)));
	}
	if (doc != NULL && d->dropped > 0) {
		bad |= json_object_set_new(doc, "dropped",
		                           json_integer(d->dropped));
	}
	if (bad != 0) {
		json_decref(doc);
		doc = NULL;
	}
	return dl_print_json(doc, TB_EXIT_INVALID);
}

/* dl_feed_fields checks and removes the members a calendar published as a
 * feed carries (`tongban calendar publish`, docs/CALENDAR.md): "region",
 * the province's code, "version", an integer >= 1, and "signatures", an
 * array. They say who published it and which edition it is; the days are
 * the same either way, so the file counts the same with them or without.
 * The signatures are not verified here (there is no root to verify them
 * against offline; a node verifies them on publish and at every hop). */
static int
dl_feed_fields(json_t *j, struct tb_diag *d)
{
	json_t *region, *version, *sigs;
	int rv = TB_OK;

	if (!json_is_object(j)) {
		return TB_OK; /* cal_from_json says what is wrong */
	}
	region = json_object_get(j, "region");
	version = json_object_get(j, "version");
	sigs = json_object_get(j, "signatures");
	if (region != NULL && (!json_is_string(region) ||
	                       !spec_digits(json_string_value(region), 6))) {
		tb_diag_add(d, TB_ECODE, "$.region",
		            "region must be a six-digit region code");
		rv = TB_ECODE;
	}
	if (version != NULL &&
	    (!json_is_integer(version) || json_integer_value(version) < 1)) {
		tb_diag_add(d, TB_ETYPE, "$.version",
		            "version must be an integer >= 1");
		rv = rv != TB_OK ? rv : TB_ETYPE;
	}
	if (sigs != NULL && !json_is_array(sigs)) {
		tb_diag_add(d, TB_ETYPE, "$.signatures",
		            "signatures must be an array");
		rv = rv != TB_OK ? rv : TB_ETYPE;
	}
	if (rv == TB_OK) {
		json_object_del(j, "signatures");
		json_object_del(j, "region");
		json_object_del(j, "version");
	}
	return rv;
}

/* dl_load reads and validates the calendar; on failure it reports and
 * returns TB_EXIT_INVALID. */
static int
dl_load(const struct dl_args *a, struct tb_calendar **cal, struct tb_diag *d)
{
	json_error_t jerr;
	json_t *j;
	char *buf;
	size_t len;
	int rv;

	if ((buf = tb_cli_read_file(a->calendar, DL_MAX_FILE, &len)) == NULL) {
		/* tb_cli_read_file has told stderr why. */
		tb_diag_add(d, TB_EIO, NULL, "cannot read the file");
		return a->json ? dl_report(a, d, false) : TB_EXIT_INVALID;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (j == NULL) {
		tb_diag_add(d, TB_EMALFORMED, NULL, "line %d column %d: %s",
		            jerr.line, jerr.column, jerr.text);
		return dl_report(a, d, false);
	}
	if ((rv = dl_feed_fields(j, d)) == TB_OK) {
		rv = cal_from_json(j, "$", cal, d);
	}
	json_decref(j);
	return rv == TB_OK ? TB_EXIT_OK : dl_report(a, d, true);
}

int
tb_cli_deadline(int argc, char **argv)
{
	struct dl_args a = { 0 };
	struct tb_calendar *cal = NULL;
	struct tb_diag d;
	char due_s[11], from_s[11], unit_s[2], errmsg[TB_DIAG_MSG];
	int32_t due;
	int rc, rv;

	if ((a.pauses = calloc((size_t)argc + 1, sizeof(*a.pauses))) == NULL) {
		fprintf(stderr, "tongban deadline: out of memory\n");
		return TB_EXIT_INVALID;
	}
	if ((rc = dl_parse(argc, argv, &a)) != TB_EXIT_OK || a.help) {
		if (a.help) {
			printf("%s", DL_USAGE);
		}
		goto out;
	}
	tb_diag_init(&d);
	if ((rc = dl_load(&a, &cal, &d)) != TB_EXIT_OK) {
		goto out;
	}
	rv = cal_due(cal, a.from, a.days, a.unit, a.pauses, a.npauses, &due,
	             errmsg, sizeof(errmsg));
	if (rv != TB_OK) {
		/* The file is valid but does not reach far enough: what is
		 * missing is years, so that is the path reported. */
		tb_diag_add(&d, rv, rv == TB_ECALENDAR ? "$.years" : NULL, "%s",
		            errmsg);
		rc = dl_report(&a, &d, true);
		goto out;
	}
	cal_date_format(due, due_s);
	if (!a.json) {
		printf("%s\n", due_s);
		goto out;
	}
	cal_date_format(a.from, from_s);
	unit_s[0] = a.unit;
	unit_s[1] = '\0';
	rc = dl_print_json(
	    json_pack("{s:s, s:s, s:i, s:s, s:i}", "due", due_s, "from", from_s,
	              "days", a.days, "unit", unit_s, "paused_days",
	              (int)cal_paused_days(a.pauses, a.npauses, a.from, due)),
	    TB_EXIT_OK);
out:
	cal_free(cal);
	free(a.pauses);
	return rc;
}
