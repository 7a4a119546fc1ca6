/* Tests for dates, the working-day calendar and due dates. */
#include "schema/calendar.h"
#include "tests/tap.h"

#include <jansson.h>

#define CAL2026 TB_SOURCE_DIR "/ops/examples/calendar-2026.json"

/* day parses a date the test itself writes; a typo fails loudly. */
static int32_t
day(const char *s)
{
	int32_t d = INT32_MIN;

	if (cal_date_parse(s, &d) != TB_OK) {
		ok(0, "test date '%s' parses", s);
	}
	return d;
}

static const char *
fmt(int32_t d)
{
	static char buf[4][11];
	static int i;

	i = (i + 1) % 4;
	cal_date_format(d, buf[i]);
	return buf[i];
}

/* json_q turns a test's single quotes into JSON's double quotes, so the
 * tables below stay readable. */
static json_t *
json_q(const char *text)
{
	char buf[2048];
	json_error_t e;
	size_t i;

	for (i = 0; text[i] != '\0' && i + 1 < sizeof(buf); i++) {
		buf[i] = text[i] == '\'' ? '"' : text[i];
	}
	buf[i] = '\0';
	return json_loads(buf, JSON_REJECT_DUPLICATES, &e);
}

static struct tb_calendar *
load_q(const char *text)
{
	struct tb_calendar *c = NULL;
	struct tb_diag d;
	json_t *j = json_q(text);
	int rv;

	tb_diag_init(&d);
	rv = cal_from_json(j, "$", &c, &d);
	json_decref(j);
	is_int(rv, TB_OK, "custom calendar loads (%s)",
	       d.n > 0 ? d.e[0].msg : "no diagnostics");
	return c;
}

static bool
naive_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* test_dates compares the day-number arithmetic against a plain walk
 * through the calendar, one day at a time, from 1970-01-01 = 0 outwards. */
static void
test_dates(void)
{
	static const int mlen[13] = { 0,  31, 28, 31, 30, 31, 30,
		                      31, 31, 30, 31, 30, 31 };
	static const char *const bad[] = {
		"",
		"2026-02-29",
		"1900-02-29",
		"2026-04-31",
		"2026-13-01",
		"2026-00-10",
		"2026-01-00",
		"2026-01-32",
		"2026-1-01",
		"2026-01-1",
		"26-01-01",
		"2026/01/01",
		"2026-01-01 ",
		" 2026-01-01",
		"2026-01-0a",
		"+026-01-01",
		"2026-01-01T00:00:00+08:00",
		"２０２６-01-01",
		"20260101",
	};
	int y = 1970, m = 1, dd = 1, wrong = 0, wd_wrong = 0, n;
	char want[11];
	int32_t d, got;
	size_t i;

	/* Forward to 2401, which crosses the leap years 2000 (divisible by
	 * 400) and 2100, 2200, 2300 (divisible by 100, not leap). */
	for (d = 0; y < 2401; d++) {
		snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, dd);
		got = INT32_MIN;
		if (strcmp(fmt(d), want) != 0 ||
		    cal_date_parse(want, &got) != TB_OK || got != d) {
			if (wrong++ == 0) {
				printf("# first mismatch: day %d is %s, "
				       "format gives %s, parse gives %d\n",
				       (int)d, want, fmt(d), (int)got);
			}
		}
		wd_wrong += cal_weekday(d + 1) != cal_weekday(d) % 7 + 1;
		n = m == 2 && naive_leap(y) ? 29 : mlen[m];
		if (++dd > n) {
			dd = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	is_int(wrong, 0, "format/parse agree with a day-by-day walk to 2400");
	is_int(d, 157420, "2401-01-01 is day 157420");
	/* Backward to 1600 (a leap year divisible by 400; 1700 is not). */
	y = 1969, m = 12, dd = 31, wrong = 0;
	for (d = -1; y >= 1600; d--) {
		snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, dd);
		got = INT32_MIN;
		if (strcmp(fmt(d), want) != 0 ||
		    cal_date_parse(want, &got) != TB_OK || got != d) {
			if (wrong++ == 0) {
				printf("# first mismatch: day %d is %s, "
				       "format gives %s\n",
				       (int)d, want, fmt(d));
			}
		}
		wd_wrong += cal_weekday(d) != (cal_weekday(d + 1) + 5) % 7 + 1;
		if (--dd == 0) {
			if (--m == 0) {
				m = 12;
				y--;
			}
			dd = m == 2 && naive_leap(y) ? 29 : mlen[m];
		}
	}
	is_int(wrong, 0, "format/parse agree walking back to 1600");
	is_int(wd_wrong, 0, "weekdays advance by one every day");
	is_int(day("1970-01-01"), 0, "the epoch is day 0");
	is_int(day("1969-12-31"), -1, "the day before is -1");
	is_int(day("2000-02-29"), 11016, "2000-02-29 (leap, by 400)");
	is_int(day("2024-02-29"), 19782, "2024-02-29");
	is_int(day("2026-01-01"), 20454, "2026-01-01");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		got = 12345;
		is_int(cal_date_parse(bad[i], &got), TB_EMALFORMED,
		       "'%s' refused", bad[i]);
		is_int(got, 12345, "and the output is untouched");
	}
	is_int(cal_date_parse(NULL, &got), TB_EMALFORMED, "NULL refused");
	is_str(cal_date_why("2026-02-30"), "is not a real date", "why: real");
	is_str(cal_date_why("2026-2-3"), "is not in YYYY-MM-DD form",
	       "why: form");
	ok(cal_date_why("2026-02-28") == NULL, "why: none for a good date");

	is_int(cal_weekday(day("1970-01-01")), 4, "1970-01-01 Thursday");
	is_int(cal_weekday(day("2000-01-01")), 6, "2000-01-01 Saturday");
	is_int(cal_weekday(day("2024-02-29")), 4, "2024-02-29 Thursday");
	is_int(cal_weekday(day("2026-01-01")), 4, "2026-01-01 Thursday");
	is_int(cal_weekday(day("2026-01-04")), 7, "2026-01-04 Sunday");
	is_int(cal_weekday(day("2026-02-17")), 2, "2026-02-17 Tuesday");
	is_int(cal_weekday(day("2026-10-10")), 6, "2026-10-10 Saturday");
	is_int(cal_weekday(day("1969-12-29")), 1, "1969-12-29 Monday");
	is_int(cal_weekday(day("1900-01-01")), 1, "1900-01-01 Monday");
}

static void
test_workdays(const struct tb_calendar *c)
{
	static const struct {
		const char *date;
		bool work;
		const char *why;
	} facts[] = {
		{ "2026-01-01", false, "Thursday, 元旦" },
		{ "2026-01-02", false, "Friday, 元旦" },
		{ "2026-01-03", false, "Saturday, 元旦" },
		{ "2026-01-04", true, "Sunday, make-up for 元旦" },
		{ "2026-01-05", true, "plain Monday" },
		{ "2026-01-10", false, "plain Saturday" },
		{ "2026-01-11", false, "plain Sunday" },
		{ "2026-02-13", true, "Friday before 春节" },
		{ "2026-02-14", true, "Saturday, make-up for 春节" },
		{ "2026-02-15", false, "Sunday, 春节" },
		{ "2026-02-16", false, "Monday, 春节" },
		{ "2026-02-23", false, "Monday, last day of 春节" },
		{ "2026-02-24", true, "Tuesday after 春节" },
		{ "2026-02-28", true, "Saturday, make-up for 春节" },
		{ "2026-03-01", false, "plain Sunday" },
		{ "2026-04-06", false, "Monday, 清明节" },
		{ "2026-05-05", false, "Tuesday, 劳动节" },
		{ "2026-05-09", true, "Saturday, make-up for 劳动节" },
		{ "2026-06-19", false, "Friday, 端午节" },
		{ "2026-09-20", true, "Sunday, make-up for 国庆节" },
		{ "2026-09-25", false, "Friday, 中秋节" },
		{ "2026-10-07", false, "Wednesday, 国庆节" },
		{ "2026-10-08", true, "Thursday after 国庆节" },
		{ "2026-10-10", true, "Saturday, make-up for 国庆节" },
		{ "2026-10-11", false, "plain Sunday" },
		{ "2026-12-31", true, "Thursday, last covered day" },
	};
	bool w;
	int32_t d;
	int n = 0;
	size_t i;

	is_int(cal_first_year(c), 2026, "first year");
	is_int(cal_last_year(c), 2026, "last year");
	for (i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
		w = !facts[i].work;
		is_int(cal_is_workday(c, day(facts[i].date), &w), TB_OK,
		       "%s is covered", facts[i].date);
		is_int(w, facts[i].work, "%s %s: %s", facts[i].date,
		       facts[i].work ? "worked" : "off", facts[i].why);
	}
	/* 261 weekdays, 19 of them holidays, plus 6 make-up days. */
	for (d = day("2026-01-01"); d <= day("2026-12-31"); d++) {
		n += cal_is_workday(c, d, &w) == TB_OK && w;
	}
	is_int(n, 248, "2026 has 248 working days");
	w = true;
	is_int(cal_is_workday(c, day("2025-12-31"), &w), TB_ECALENDAR,
	       "2025-12-31 is outside");
	is_int(cal_is_workday(c, day("2027-01-01"), &w), TB_ECALENDAR,
	       "2027-01-01 is outside");
	ok(w, "and the output is untouched");
}

/* A due-date case: pauses are "FROM:TO" pairs separated by spaces. */
struct due_case {
	const char *from;
	int n;
	char unit;
	const char *pauses;
	const char *due;
	int paused;
	const char *hand; /* the count by hand, for the failure message */
};

static size_t
parse_pauses(const char *s, struct cal_pause *p, size_t max)
{
	char a[11], b[11];
	size_t n = 0;

	while (s != NULL && *s != '\0' && n < max) {
		memcpy(a, s, 10);
		memcpy(b, s + 11, 10);
		a[10] = b[10] = '\0';
		p[n].from = day(a);
		p[n].to = day(b);
		n++;
		s += s[21] == ' ' ? 22 : 21;
	}
	return n;
}

static void
test_due(const struct tb_calendar *c)
{
	/* February 2026: 1 Sun; 14 Sat worked; 15 Sun - 23 Mon off (春节);
	 * 28 Sat worked; March 1 Sun. Late September: 20 Sun worked; 25 Fri
	 * - 27 Sun off (中秋节); October 1 Thu - 7 Wed off (国庆节); 10 Sat
	 * worked; 11 Sun. March 2026: 2 Mon, weekends 7-8 and 14-15. */
	static const struct due_case cases[] = {
		{ "2026-02-10", 5, 'G', NULL, "2026-02-24", 0,
		  "11 W(1) 12 T(2) 13 F(3) 14 Sa worked(4) 15-23 off 24(5)" },
		{ "2026-02-13", 20, 'G', NULL, "2026-03-19", 0,
		  "14(1) 24-28(6) 2-6 Mar(11) 9-13(16) 16-19(20)" },
		{ "2026-02-14", 1, 'G', NULL, "2026-02-24", 0,
		  "from a worked Saturday: 15-23 off, 24(1)" },
		{ "2026-02-27", 1, 'G', NULL, "2026-02-28", 0,
		  "28 is a worked Saturday(1)" },
		{ "2026-02-28", 1, 'G', NULL, "2026-03-02", 0,
		  "Mar 1 Sunday, Mar 2(1)" },
		{ "2026-02-10", 5, 'Z', NULL, "2026-02-24", 0,
		  "11..15, 15 is off -> next working day 24" },
		{ "2026-02-12", 10, 'Z', NULL, "2026-02-24", 0,
		  "13..22, 22 is off -> 24" },
		{ "2026-02-05", 9, 'Z', NULL, "2026-02-14", 0,
		  "6..14, 14 is a worked Saturday: stays" },
		{ "2026-02-20", 3, 'Z', NULL, "2026-02-24", 0,
		  "from a holiday: 21,22,23, 23 off -> 24" },
		{ "2026-02-10", 5, 'G', "2026-02-11:2026-02-12", "2026-02-26",
		  2, "11p 12p 13(1) 14(2) 24(3) 25(4) 26(5)" },
		{ "2026-02-13", 3, 'G', "2026-02-16:2026-02-20", "2026-02-25",
		  5,
		  "pause inside the holiday changes nothing: 14(1) 24(2) "
		  "25(3)" },
		{ "2026-02-10", 5, 'Z', "2026-02-14:2026-02-14", "2026-02-24",
		  1, "11(1) 12(2) 13(3) 14p 15(4) 16(5) off -> 24" },
		{ "2026-09-29", 5, 'G', NULL, "2026-10-12", 0,
		  "30(1) Oct 1-7 off 8(2) 9(3) 10 Sa worked(4) 11 Su 12(5)" },
		{ "2026-09-18", 3, 'G', NULL, "2026-09-22", 0,
		  "19 Sa, 20 Su worked(1) 21(2) 22(3)" },
		{ "2026-09-24", 3, 'G', NULL, "2026-09-30", 0,
		  "25-27 off, 28(1) 29(2) 30(3)" },
		{ "2026-09-24", 7, 'Z', NULL, "2026-10-08", 0,
		  "25..Oct 1, Oct 1-7 off -> 8" },
		{ "2026-09-30", 10, 'Z', NULL, "2026-10-10", 0,
		  "Oct 1..10, 10 is a worked Saturday" },
		{ "2026-09-30", 11, 'Z', NULL, "2026-10-12", 0,
		  "Oct 1..11, 11 Sunday -> 12" },
		{ "2026-10-08", 3, 'G', NULL, "2026-10-12", 0,
		  "9(1) 10 Sa worked(2) 11 Su 12(3)" },
		{ "2026-10-08", 3, 'G', "2026-10-09:2026-10-10", "2026-10-14",
		  2, "both ends paused: 9p 10p 11 Su 12(1) 13(2) 14(3)" },
		{ "2026-10-08", 3, 'G', "2026-10-09:2026-10-09", "2026-10-13",
		  1, "one-day pause: 9p 10(1) 12(2) 13(3)" },
		{ "2026-10-08", 3, 'G', "2026-10-05:2026-10-09", "2026-10-13",
		  1, "pause starting before from: 9p 10(1) 12(2) 13(3)" },
		{ "2026-09-30", 10, 'Z', "2026-10-03:2026-10-04", "2026-10-12",
		  2, "1(1) 2(2) 3p 4p 5..12(10), 12 Monday" },
		{ "2026-03-02", 5, 'G', NULL, "2026-03-09", 0,
		  "3(1) 4(2) 5(3) 6(4) 7-8 weekend 9(5)" },
		{ "2026-03-02", 20, 'G', NULL, "2026-03-30", 0,
		  "3-6(4) 9-13(9) 16-20(14) 23-27(19) 30(20)" },
		{ "2026-03-02", 5, 'G',
		  "2026-03-03:2026-03-05 2026-03-04:2026-03-06", "2026-03-13",
		  4,
		  "overlapping: 3-6 paused, 9(1)..13(5); 4 paused days, not "
		  "6" },
		{ "2026-03-02", 5, 'G',
		  "2026-03-03:2026-03-06 2026-03-04:2026-03-05", "2026-03-13",
		  4, "nested: same as 3-6 paused" },
		{ "2026-03-02", 5, 'G',
		  "2026-03-03:2026-03-03 2026-03-03:2026-03-03", "2026-03-10",
		  1, "duplicate pause: 3p 4(1) 5 6 9 10(5)" },
		{ "2026-03-02", 10, 'Z', NULL, "2026-03-12", 0,
		  "3..12, 12 Thursday" },
		{ "2026-03-02", 10, 'Z', "2026-03-05:2026-03-06", "2026-03-16",
		  2, "3(1) 4(2) 5p 6p 7..14(10), 14 Sa -> 16" },
		{ "2026-03-02", 5, 'Z', "2026-03-09:2026-03-10", "2026-03-11",
		  2, "3..7, 7 Sa; 8 Su, 9p 10p: the clock is stopped -> 11" },
		{ "2026-12-28", 3, 'G', NULL, "2026-12-31", 0,
		  "29(1) 30(2) 31(3)" },
		{ "2026-12-25", 6, 'Z', NULL, "2026-12-31", 0,
		  "26..31, 31 Thursday" },
	};
	struct cal_pause p[4];
	size_t i, np;
	int32_t due;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct due_case *k = &cases[i];
		char msg[256] = "";

		np = parse_pauses(k->pauses, p, 4);
		due = INT32_MIN;
		rv = cal_due(c, day(k->from), k->n, k->unit, p, np, &due, msg,
		             sizeof(msg));
		is_int(rv, TB_OK, "%s + %d %c%s%s: ok %s", k->from, k->n,
		       k->unit, k->pauses ? " pause " : "",
		       k->pauses ? k->pauses : "", msg);
		is_str(fmt(due), k->due, "%s + %d %c -> %s (%s)", k->from, k->n,
		       k->unit, k->due, k->hand);
		is_int(cal_paused_days(p, np, day(k->from), due), k->paused,
		       "  with %d paused days", k->paused);
	}
}

static void
due_err(const struct tb_calendar *c, const char *from, int n, char unit,
        const char *pauses, int code, const char *want)
{
	struct cal_pause p[4];
	size_t np = parse_pauses(pauses, p, 4);
	char msg[256] = "";
	int32_t due = 777;

	is_int(cal_due(c, day(from), n, unit, p, np, &due, msg, sizeof(msg)),
	       code, "%s + %d %c refused with %s", from, n, unit,
	       tb_errname(code));
	like(msg, want, "  message");
	is_int(due, 777, "  due untouched");
}

static void
test_due_errors(const struct tb_calendar *c)
{
	int32_t due;

	due_err(c, "2026-12-28", 4, 'G', NULL, TB_ECALENDAR,
	        "2027-01-01 is beyond the calendar (covers 2026)");
	due_err(c, "2026-12-26", 6, 'Z', NULL, TB_ECALENDAR,
	        "2027-01-01 is beyond the calendar (covers 2026)");
	due_err(c, "2026-12-31", 1, 'Z', NULL, TB_ECALENDAR,
	        "2027-01-01 is beyond the calendar");
	due_err(c, "2026-12-28", 3, 'G', "2026-12-30:2026-12-30", TB_ECALENDAR,
	        "2027-01-01 is beyond");
	due_err(c, "2026-01-05", 3660, 'G', NULL, TB_ECALENDAR,
	        "2027-01-01 is beyond");
	due_err(c, "2025-12-31", 1, 'G', NULL, TB_ECALENDAR,
	        "2025-12-31 is beyond the calendar (covers 2026)");
	due_err(c, "2027-01-04", 1, 'Z', NULL, TB_ECALENDAR,
	        "2027-01-04 is beyond the calendar (covers 2026)");
	due_err(c, "2026-03-02", 0, 'G', NULL, TB_EINVAL, "days must be ≥ 1");
	due_err(c, "2026-03-02", -5, 'Z', NULL, TB_EINVAL, "days must be ≥ 1");
	due_err(c, "2026-03-02", 3661, 'Z', NULL, TB_EINVAL,
	        "days must be ≤ 3660");
	due_err(c, "2026-03-02", 5, 'g', NULL, TB_EINVAL,
	        "unit must be G (working days) or Z (calendar days)");
	due_err(c, "2026-03-02", 5, 'G', "2026-03-05:2026-03-01", TB_EINVAL,
	        "pause 2026-03-05:2026-03-01 ends before it starts");
	is_int(cal_due(c, day("2026-03-02"), 0, 'G', NULL, 0, &due, NULL, 0),
	       TB_EINVAL, "errmsg may be NULL");
}

static void
test_paused_days(void)
{
	struct cal_pause p[4];
	size_t n;

	n = parse_pauses("2026-03-03:2026-03-05 2026-03-10:2026-03-12", p, 4);
	is_int(cal_paused_days(p, n, day("2026-03-01"), day("2026-03-31")), 6,
	       "two separate pauses");
	is_int(cal_paused_days(p, n, day("2026-03-04"), day("2026-03-10")), 2,
	       "clipped at both ends: 5 and 10");
	is_int(cal_paused_days(p, n, day("2026-03-12"), day("2026-03-31")), 0,
	       "window after every pause");
	is_int(cal_paused_days(p, n, day("2026-03-10"), day("2026-03-01")), 0,
	       "empty window");
	n = parse_pauses("2026-03-03:2026-03-05 2026-03-06:2026-03-08 "
	                 "2026-03-01:2026-03-04",
	                 p, 4);
	is_int(cal_paused_days(p, n, day("2026-02-28"), day("2026-03-31")), 8,
	       "adjacent and overlapping: 1..8");
	ok(cal_paused(p, n, day("2026-03-08")), "last day of a pause");
	ok(!cal_paused(p, n, day("2026-03-09")), "day after");
	ok(!cal_paused(NULL, 0, day("2026-03-09")), "no pauses");
}

/* test_custom builds calendars that the 2026 file cannot show. */
static void
test_custom(void)
{
	struct tb_calendar *c;
	json_t *j;
	struct tb_diag d;
	size_t len;
	char *text = tap_slurp(CAL2026, &len);
	json_error_t e;
	int32_t due;
	bool w;
	int n;

	/* The 2026 data declared to cover 2027 too, with no 2027 holidays:
	 * Dec 29(1) 30(2) 31(3), Fri Jan 1 2027(4), weekend, Mon Jan 4(5). */
	j = text != NULL ? json_loadb(text, len, 0, &e) : NULL;
	json_object_set_new(j, "years", json_pack("[i,i]", 2026, 2027));
	tb_diag_init(&d);
	c = NULL;
	is_int(cal_from_json(j, NULL, &c, &d), TB_OK, "2026-2027 loads");
	json_decref(j);
	free(text);
	if (c != NULL) {
		is_int(cal_due(c, day("2026-12-28"), 5, 'G', NULL, 0, &due,
		               NULL, 0),
		       TB_OK, "due across the year end");
		is_str(fmt(due), "2027-01-04", "Dec 28 + 5 G is Jan 4 2027");
		due_err(c, "2026-01-05", 3660, 'Z', NULL, TB_ECALENDAR,
		        "2028-01-01 is beyond the calendar (covers 2026-2027)");
		is_int(cal_last_year(c), 2027, "last year 2027");
		cal_free(c);
	}

	/* A period whose §203 extension runs off the calendar's end. */
	c = load_q("{'format':'tongban.calendar/1','years':[2026],"
	           "'days_off':[{'from':'2026-12-31','to':'2026-12-31'}],"
	           "'workdays':[]}");
	if (c != NULL) {
		is_int(cal_due(c, day("2026-12-20"), 10, 'Z', NULL, 0, &due,
		               NULL, 0),
		       TB_OK, "Dec 20 + 10 Z");
		is_str(fmt(due), "2026-12-30", "ends Wednesday Dec 30");
		due_err(c, "2026-12-20", 11, 'Z', NULL, TB_ECALENDAR,
		        "2027-01-01 is beyond");
		cal_free(c);
	}

	/* No holidays at all: a plain week, here in a leap year. 2024 began
	 * on a Monday: 52 weeks and two days, so 262 weekdays. */
	c = load_q("{'format':'tongban.calendar/1','years':[2024],"
	           "'days_off':[],'workdays':[],'name':'plain','source':'x'}");
	if (c != NULL) {
		n = 0;
		for (due = day("2024-01-01"); due <= day("2024-12-31"); due++) {
			n += cal_is_workday(c, due, &w) == TB_OK && w;
		}
		is_int(n, 262, "2024 has 262 weekdays");
		is_int(cal_due(c, day("2024-02-28"), 1, 'Z', NULL, 0, &due,
		               NULL, 0),
		       TB_OK, "leap day");
		is_str(fmt(due), "2024-02-29", "Feb 28 + 1 Z is Feb 29");
		cal_free(c);
	}

	/* Overlapping day-off ranges are harmless and allowed; the first and
	 * last years of the accepted range load. */
	c = load_q("{'format':'tongban.calendar/1','years':[1990],"
	           "'days_off':[{'from':'1990-01-01','to':'1990-01-03'},"
	           "{'from':'1990-01-02','to':'1990-01-02'}],'workdays':"
	           "[{'date':'1990-01-06','name':'x'}]}");
	if (c != NULL) {
		cal_is_workday(c, day("1990-01-04"), &w);
		ok(w, "1990-01-04 worked after overlapping ranges");
		cal_is_workday(c, day("1990-01-02"), &w);
		ok(!w, "1990-01-02 off");
		cal_is_workday(c, day("1990-01-06"), &w);
		ok(w, "1990-01-06 Saturday made up");
		cal_free(c);
	}
	c = load_q("{'format':'tongban.calendar/1','years':[2199,2200],"
	           "'days_off':[],'workdays':[]}");
	cal_free(c);
}

/* A broken calendar, the first problem expected, and how many in all. */
struct bad_case {
	const char *json;
	int code;
	const char *path;
	const char *msg;
	int n;
};

#define F "'format':'tongban.calendar/1',"
#define Y "'years':[2026],"
#define E "'days_off':[],'workdays':[]"

static void
test_broken(void)
{
	static const struct bad_case cases[] = {
		{ "[]", TB_ETYPE, "$", "a calendar must be an object", 1 },
		{ "{" Y E "}", TB_EMISSING, "$.format", "format is required",
		  1 },
		{ "{'format':'tongban.calendar/2'," Y E "}", TB_EINVAL,
		  "$.format",
		  "format must be 'tongban.calendar/1', not "
		  "'tongban.calendar/2'",
		  1 },
		{ "{'format':1," Y E "}", TB_ETYPE, "$.format",
		  "format must be a string", 1 },
		{ "{" F Y E ",'holidays':[]}", TB_EUNKNOWN, "$.holidays",
		  "unknown key 'holidays'", 1 },
		{ "{" F Y E ",'name':5}", TB_ETYPE, "$.name",
		  "name must be a string", 1 },
		{ "{" F Y E ",'source':null}", TB_ETYPE, "$.source",
		  "source must be a string", 1 },
		{ "{" F E "}", TB_EMISSING, "$.years", "years is required", 1 },
		{ "{" F "'years':'2026'," E "}", TB_ETYPE, "$.years",
		  "years must be an array", 1 },
		{ "{" F "'years':[]," E "}", TB_EINVAL, "$.years",
		  "years must not be empty", 1 },
		{ "{" F "'years':['2026']," E "}", TB_ETYPE, "$.years[0]",
		  "a year must be an integer", 1 },
		{ "{" F "'years':[2026.0]," E "}", TB_ETYPE, "$.years[0]",
		  "a year must be an integer", 1 },
		{ "{" F "'years':[1989]," E "}", TB_ERANGE, "$.years[0]",
		  "year 1989 is outside 1990..2200", 1 },
		{ "{" F "'years':[2026,2201]," E "}", TB_ERANGE, "$.years[1]",
		  "year 2201 is outside", 1 },
		{ "{" F "'years':[2026,2026]," E "}", TB_EDUP, "$.years[1]",
		  "year 2026 is listed twice", 1 },
		{ "{" F "'years':[2027,2026]," E "}", TB_EINVAL, "$.years[1]",
		  "year 2026 comes after 2027; years must be ascending", 1 },
		{ "{" F "'years':[2026,2028]," E "}", TB_EINVAL, "$.years[1]",
		  "year 2028 follows 2026; years must be contiguous", 1 },
		/* Unknown years: a date cannot be range-checked, so only
		 * the years are reported. */
		{ "{" F "'years':[2026,2028],'days_off':[{'from':'2031-01-01',"
		  "'to':'2031-01-01'}],'workdays':[]}",
		  TB_EINVAL, "$.years[1]", "contiguous", 1 },
		{ "{" F Y "'workdays':[]}", TB_EMISSING, "$.days_off",
		  "days_off is required", 1 },
		{ "{" F Y "'days_off':{},'workdays':[]}", TB_ETYPE,
		  "$.days_off", "days_off must be an array", 1 },
		{ "{" F Y "'days_off':[5],'workdays':[]}", TB_ETYPE,
		  "$.days_off[0]", "a day-off range must be an object", 1 },
		{ "{" F Y "'days_off':[{'from':'2026-01-01'}],'workdays':[]}",
		  TB_EMISSING, "$.days_off[0].to", "to is required", 1 },
		{ "{" F Y "'days_off':[{'from':'2026-01-01','to':'2026-01-02',"
		  "'note':'x'}],'workdays':[]}",
		  TB_EUNKNOWN, "$.days_off[0].note", "unknown key 'note'", 1 },
		{ "{" F Y "'days_off':[{'from':'2026-01-01','to':'2026-01-02',"
		  "'name':['元旦']}],'workdays':[]}",
		  TB_ETYPE, "$.days_off[0].name", "name must be a string", 1 },
		{ "{" F Y "'days_off':[{'from':'2026-1-1','to':'2026-01-02'}],"
		  "'workdays':[]}",
		  TB_EMALFORMED, "$.days_off[0].from",
		  "'2026-1-1' is not in YYYY-MM-DD form", 1 },
		{ "{" F Y "'days_off':[{'from':'2026-01-01T00:00',"
		  "'to':'2026-01-02'}],'workdays':[]}",
		  TB_EMALFORMED, "$.days_off[0].from", "is not in YYYY-MM-DD",
		  1 },
		{ "{" F Y
		  "'days_off':[{'from':'2026-02-27','to':'2026-02-30'}],"
		  "'workdays':[]}",
		  TB_EMALFORMED, "$.days_off[0].to",
		  "'2026-02-30' is not a real date", 1 },
		{ "{" F Y
		  "'days_off':[{'from':'2026-12-01','to':'2026-13-01'}],"
		  "'workdays':[]}",
		  TB_EMALFORMED, "$.days_off[0].to", "is not a real date", 1 },
		{ "{" F Y
		  "'days_off':[{'from':'2025-12-31','to':'2026-01-01'}],"
		  "'workdays':[]}",
		  TB_ERANGE, "$.days_off[0].from",
		  "2025-12-31 is outside the covered years (2026)", 1 },
		{ "{" F Y
		  "'days_off':[{'from':'2026-01-03','to':'2026-01-01'}],"
		  "'workdays':[]}",
		  TB_EINVAL, "$.days_off[0].to",
		  "to 2026-01-01 is before from 2026-01-03", 1 },
		{ "{" F Y "'days_off':[{'from':'2026-01-01','to':'2026-01-03'},"
		  "{'from':'2026-01-01','to':'2026-01-04'}],"
		  "'workdays':[{'date':'2026-01-04'}]}",
		  TB_EINVAL, "$.days_off[1]",
		  "2026-01-01..2026-01-04 covers make-up workday 2026-01-04 "
		  "($.workdays[0])",
		  1 },
		{ "{" F Y
		  "'days_off':[{'from':'2026-02-01','to':'2026-02-28'}],"
		  "'workdays':[{'date':'2026-02-14'},{'date':'2026-02-28'}]}",
		  TB_EINVAL, "$.days_off[0]",
		  "covers make-up workday 2026-02-14 ($.workdays[0]) and "
		  "others",
		  1 },
		{ "{" F Y "'days_off':[]}", TB_EMISSING, "$.workdays",
		  "workdays is required", 1 },
		{ "{" F Y "'days_off':[],'workdays':['2026-01-04']}", TB_ETYPE,
		  "$.workdays[0]", "a make-up workday must be an object", 1 },
		{ "{" F Y "'days_off':[],'workdays':[{'date':'2026-01-05'}]}",
		  TB_EINVAL, "$.workdays[0].date",
		  "2026-01-05 is a Monday; make-up workdays fall on weekends",
		  1 },
		{ "{" F Y "'days_off':[],'workdays':[{'date':'2026-10-09'}]}",
		  TB_EINVAL, "$.workdays[0].date", "2026-10-09 is a Friday;",
		  1 },
		{ "{" F Y "'days_off':[],'workdays':[{'date':'2026-01-04'},"
		  "{'date':'2026-02-14'},{'date':'2026-01-04'}]}",
		  TB_EDUP, "$.workdays[2].date",
		  "2026-01-04 is already listed at $.workdays[0]", 1 },
		{ "{" F Y "'days_off':[],'workdays':[{'name':'x'}]}",
		  TB_EMISSING, "$.workdays[0].date", "date is required", 1 },
		{ "{" F Y "'days_off':[],'workdays':[{'date':20260104}]}",
		  TB_ETYPE, "$.workdays[0].date", "date must be a string", 1 },
		{ "{" F Y "'days_off':[],'workdays':[{'date':'2027-01-02'}]}",
		  TB_ERANGE, "$.workdays[0].date",
		  "2027-01-02 is outside the covered years (2026)", 1 },
		{ "{" F Y "'days_off':[],'workdays':[{'date':'2026-01-04',"
		  "'when':1}]}",
		  TB_EUNKNOWN, "$.workdays[0].when", "unknown key 'when'", 1 },
		/* Every problem is reported, not only the first. */
		{ "{'format':'x','years':[2026,2026],'days_off':[{'from':"
		  "'2026-02-30','to':'2026-01-01'},7],'workdays':[{'date':"
		  "'2026-01-05'}],'extra':1}",
		  TB_EUNKNOWN, "$.extra", "unknown key 'extra'", 6 },
	};
	struct tb_calendar *c;
	struct tb_diag d;
	json_t *j;
	size_t i;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *k = &cases[i];

		if ((j = json_q(k->json)) == NULL) {
			ok(0, "case %zu is valid JSON", i);
			continue;
		}
		tb_diag_init(&d);
		c = NULL;
		rv = cal_from_json(j, "$", &c, &d);
		json_decref(j);
		is_int(rv, k->code, "case %zu: %s -> %s", i, k->path,
		       tb_errname(k->code));
		ok(c == NULL, "  no calendar built");
		cal_free(c);
		if (d.n == 0) {
			ok(0, "  a diagnostic is recorded");
			continue;
		}
		is_int(d.e[0].code, k->code, "  diagnostic code");
		is_str(d.e[0].path, k->path, "  diagnostic path");
		like(d.e[0].msg, k->msg, "  diagnostic message");
		is_int(d.n, k->n, "  %d problem(s) reported", k->n);
		for (rv = 1; d.n != k->n && rv < d.n; rv++) {
			printf("#   also: %s %s %s\n", tb_errname(d.e[rv].code),
			       d.e[rv].path, d.e[rv].msg);
		}
	}

	/* The path names where the calendar sits in a larger document. */
	j = json_q("{" F "'years':[1900]," E "}");
	tb_diag_init(&d);
	is_int(cal_from_json(j, "$.calendar", &c, &d), TB_ERANGE,
	       "nested calendar refused");
	is_str(d.e[0].path, "$.calendar.years[0]", "nested path");
	/* A NULL collector is allowed; the code still comes back. */
	is_int(cal_from_json(j, NULL, &c, NULL), TB_ERANGE, "NULL diag");
	json_decref(j);
	is_int(cal_from_json(NULL, NULL, &c, NULL), TB_ETYPE, "NULL json");
	/* Earlier entries in the collector belong to the caller. */
	tb_diag_init(&d);
	tb_diag_add(&d, TB_ECODE, "$.other", "earlier problem");
	j = json_q("{" F Y E "}");
	c = NULL;
	is_int(cal_from_json(j, NULL, &c, &d), TB_OK,
	       "valid despite earlier diagnostics");
	ok(c != NULL, "and built");
	is_int(d.n, 1, "nothing added");
	cal_free(c);
	json_decref(j);
}

int
main(void)
{
	struct tb_calendar *c = NULL;
	struct tb_diag d;
	json_error_t e;
	json_t *j;
	size_t len;
	char *text;
	int rv;

	test_dates();
	text = tap_slurp(CAL2026, &len);
	ok(text != NULL, "read %s", CAL2026);
	j = text != NULL ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &e)
	                 : NULL;
	ok(j != NULL, "calendar-2026.json is JSON (%s)", j ? "" : e.text);
	tb_diag_init(&d);
	rv = cal_from_json(j, "$", &c, &d);
	is_int(rv, TB_OK, "calendar-2026.json is valid (%s %s)",
	       d.n ? d.e[0].path : "", d.n ? d.e[0].msg : "");
	json_decref(j);
	free(text);
	if (c != NULL) {
		test_workdays(c);
		test_due(c);
		test_due_errors(c);
	}
	cal_free(c);
	test_paused_days();
	test_custom();
	test_broken();
	return done_testing();
}
