/* Fuzz the working-day calendar: cal_from_json, then due dates with
 * parameters drawn from the input, checked against their contract. */
#include "fuzz/fuzz_util.h"
#include "schema/calendar.h"
#include "schema/error.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* dates exercises the date parser on short raw inputs. */
static void
dates(const uint8_t *data, size_t size)
{
	char s[16], back[11];
	int32_t day;

	if (size >= sizeof(s)) {
		return;
	}
	memcpy(s, data, size);
	s[size] = '\0';
	if (cal_date_parse(s, &day) == TB_OK) {
		fuzz_check(cal_date_why(s) == NULL, "why agrees with parse");
		cal_date_format(day, back);
		fuzz_check(strcmp(back, s) == 0, "a parsed date formats back");
		fuzz_check(cal_weekday(day) >= 1 && cal_weekday(day) <= 7,
		           "weekday in 1..7");
	} else {
		fuzz_check(cal_date_why(s) != NULL, "why explains a refusal");
	}
}

static void
dues(const struct tb_calendar *c, uint64_t s)
{
	static const char units[] = { 'G', 'Z', 'G', 'Z', 'X' };
	int32_t first, last, span;
	char ybuf[16], msg[200];
	int i;

	snprintf(ybuf, sizeof(ybuf), "%04d-01-01", cal_first_year(c));
	fuzz_check(cal_date_parse(ybuf, &first) == TB_OK, "first day");
	snprintf(ybuf, sizeof(ybuf), "%04d-12-31", cal_last_year(c));
	fuzz_check(cal_date_parse(ybuf, &last) == TB_OK, "last day");
	span = last - first + 1;
	for (i = 0; i < 4; i++) {
		struct cal_pause p[3];
		size_t np = fuzz_next(&s) % 4, k;
		int32_t from =
		    first - 3 + (int32_t)(fuzz_next(&s) % (span + 6));
		int n = (int)(fuzz_next(&s) % 400) - 5;
		char unit = units[fuzz_next(&s) % sizeof(units)];
		int32_t due = INT32_MIN;
		bool work;
		int rv;

		if (fuzz_next(&s) % 8 == 0) {
			n = (int)(fuzz_next(&s) % (CAL_MAX_DAYS + 10));
		}
		for (k = 0; k < np; k++) {
			p[k].from = from - 5 + (int32_t)(fuzz_next(&s) % 60);
			p[k].to = p[k].from - 1 + (int32_t)(fuzz_next(&s) % 20);
		}
		msg[0] = '\0';
		rv = cal_due(c, from, n, unit, p, np, &due, msg, sizeof(msg));
		if (rv != TB_OK) {
			fuzz_check(due == INT32_MIN, "due untouched on error");
			fuzz_check(rv == TB_EINVAL || rv == TB_ECALENDAR,
			           "cal_due fails as documented");
			fuzz_check(msg[0] != '\0', "cal_due says why");
			continue;
		}
		fuzz_check(n >= 1 && n <= CAL_MAX_DAYS &&
		               (unit == 'G' || unit == 'Z'),
		           "cal_due accepts only valid parameters");
		fuzz_check(due > from, "a due date is after the start");
		fuzz_check(cal_is_workday(c, due, &work) == TB_OK && work,
		           "a due date is a working day");
		fuzz_check(!cal_paused(p, np, due), "a due date is not paused");
		fuzz_check(cal_paused_days(p, np, from, due) <= due - from,
		           "paused days fit the period");
		fuzz_check(cal_covers(c, from) && cal_covers(c, due),
		           "start and due date inside the calendar");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_calendar *c = NULL;
	struct tb_diag d;
	json_t *j;
	int rv;

	dates(data, size);
	if ((j = fuzz_json(data, size)) == NULL) {
		return 0;
	}
	tb_diag_init(&d);
	rv = cal_from_json(j, "$", &c, &d);
	if (rv != TB_OK) {
		fuzz_check(c == NULL, "no calendar on failure");
		fuzz_check(d.n > 0 && d.e[0].code == rv, "a refusal says why");
	} else {
		fuzz_check(c != NULL && d.n == 0, "a calendar on success");
		fuzz_check(cal_first_year(c) >= CAL_MIN_YEAR &&
		               cal_last_year(c) <= CAL_MAX_YEAR &&
		               cal_first_year(c) <= cal_last_year(c),
		           "years within bounds");
		dues(c, fuzz_seed(data, size));
		cal_free(c);
	}
	json_decref(j);
	return 0;
}
