/* Dates, the working-day calendar built from its JSON form, and due dates. */
#include "schema/calendar.h"

#include "schema/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb_calendar {
	int first_year;
	int last_year;
	int32_t first_day; /* January 1 of first_year */
	int32_t last_day;  /* December 31 of last_year */
	uint8_t *work;     /* 1 for a working day, indexed by day - first_day */
};

/* Howard Hinnant's days_from_civil and civil_from_days: exact over the
 * whole proleptic Gregorian calendar without tables or time zones. The
 * arithmetic is 64-bit so that no int32_t day number can overflow it. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
month_days(int y, int m)
{
	static const int len[12] = { 31, 28, 31, 30, 31, 30,
		                     31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : len[m - 1];
}

const char *
cal_date_why(const char *s)
{
	int i, y, m, d;

	/* Checking character by character stops at a short string's NUL
	 * before reading past it. */
	for (i = 0; i < 10; i++) {
		bool dash = i == 4 || i == 7;
		if (s == NULL ||
		    (dash ? s[i] != '-' : s[i] < '0' || s[i] > '9')) {
			return "is not in YYYY-MM-DD form";
		}
	}
	if (s[10] != '\0') {
		return "is not in YYYY-MM-DD form";
	}
	y = atoi(s);
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > month_days(y, m)) {
		return "is not a real date";
	}
	return NULL;
}

int
cal_date_parse(const char *s, int32_t *day)
{
	if (cal_date_why(s) != NULL) {
		return TB_EMALFORMED;
	}
	*day = (int32_t)days_from_civil(atoi(s), atoi(s + 5), atoi(s + 8));
	return TB_OK;
}

void
cal_date_format(int32_t day, char out[11])
{
	int64_t y;
	int m, d;

	civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999) {
		snprintf(out, 11, "%04lld-%02d-%02d", (long long)y, m, d);
		return;
	}
	/* The same bytes without vsnprintf (every case's apply dates one). */
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}

int
cal_weekday(int32_t day)
{
	/* Day 0, 1970-01-01, was a Thursday. */
	int64_t r = ((int64_t)day % 7 + 7) % 7;

	return (int)((r + 3) % 7) + 1;
}

static const char *const cal_weekday_names[8] = { "",         "Monday",
	                                          "Tuesday",  "Wednesday",
	                                          "Thursday", "Friday",
	                                          "Saturday", "Sunday" };

/* cover_text writes the covered years as "2026" or "2026-2027". */
static void
cover_text(int first, int last, char *out, size_t n)
{
	if (first == last) {
		snprintf(out, n, "%d", first);
	} else {
		snprintf(out, n, "%d-%d", first, last);
	}
}

/* Validation state: every problem goes to the collector, and the first
 * one's code becomes the result. The collector may already hold entries
 * from the caller, so this keeps its own record of failure. */
struct cal_check {
	struct tb_diag *d;
	int first_code;
	bool years_ok;
	int first_year, last_year;
	int32_t first_day, last_day;
};

/* A validated days_off range and a validated make-up workday, with their
 * index in the document so later problems can name them. */
struct cal_span {
	int32_t from, to;
	size_t idx;
};

struct cal_mark {
	int32_t day;
	size_t idx;
};

static void check_fail(struct cal_check *k, int code, const char *path,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
check_fail(struct cal_check *k, int code, const char *path, const char *fmt,
           ...)
{
	char msg[TB_DIAG_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tb_diag_add(k->d, code, path, "%s", msg);
	if (k->first_code == TB_OK) {
		k->first_code = code;
	}
}

static const char *const cal_root_keys[] = { "format", "name",     "source",
	                                     "years",  "days_off", "workdays",
	                                     NULL };
static const char *const cal_off_keys[] = { "from", "to", "name", NULL };
static const char *const cal_work_keys[] = { "date", "name", NULL };

static void
check_keys(struct cal_check *k, const json_t *obj, const char *path,
           const char *const *allowed)
{
	/* jansson's iterator wants a non-const object; it does not modify. */
	json_t *o = (json_t *)obj, *v;
	const char *key;
	char p[TB_DIAG_PATH];
	size_t i;

	json_object_foreach(o, key, v)
	{
		(void)v;
		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key); i++)
			;
		if (allowed[i] == NULL) {
			tb_path_key(p, sizeof(p), path, key);
			check_fail(k, TB_EUNKNOWN, p, "unknown key '%s'", key);
		}
	}
}

/* get_string returns obj.key if it is a string; NULL if it is absent
 * (reported when required) or of another type (reported). */
static const char *
get_string(struct cal_check *k, const json_t *obj, const char *path,
           const char *key, bool required)
{
	const json_t *v = json_object_get(obj, key);
	char p[TB_DIAG_PATH];

	tb_path_key(p, sizeof(p), path, key);
	if (v == NULL) {
		if (required) {
			check_fail(k, TB_EMISSING, p, "%s is required", key);
		}
		return NULL;
	}
	if (!json_is_string(v)) {
		check_fail(k, TB_ETYPE, p, "%s must be a string", key);
		return NULL;
	}
	return json_string_value(v);
}

/* get_date reads the required date obj.key, and checks it lies in the
 * covered years when those are known. */
static bool
get_date(struct cal_check *k, const json_t *obj, const char *path,
         const char *key, int32_t *day)
{
	const char *s = get_string(k, obj, path, key, true), *why;
	char p[TB_DIAG_PATH], years[16];

	if (s == NULL) {
		return false;
	}
	tb_path_key(p, sizeof(p), path, key);
	if ((why = cal_date_why(s)) != NULL) {
		check_fail(k, TB_EMALFORMED, p, "'%s' %s", s, why);
		return false;
	}
	cal_date_parse(s, day);
	if (k->years_ok && (*day < k->first_day || *day > k->last_day)) {
		cover_text(k->first_year, k->last_year, years, sizeof(years));
		check_fail(k, TB_ERANGE, p,
		           "%s is outside the covered years (%s)", s, years);
		return false;
	}
	return true;
}

/* get_array returns obj.key if it is an array, else reports and returns
 * NULL; p receives the member's path. */
static const json_t *
get_array(struct cal_check *k, const json_t *obj, const char *path,
          const char *key, char p[TB_DIAG_PATH])
{
	const json_t *v = json_object_get(obj, key);

	tb_path_key(p, TB_DIAG_PATH, path, key);
	if (v == NULL) {
		check_fail(k, TB_EMISSING, p, "%s is required", key);
		return NULL;
	}
	if (!json_is_array(v)) {
		check_fail(k, TB_ETYPE, p, "%s must be an array", key);
		return NULL;
	}
	return v;
}

/* check_years accepts a non-empty, ascending, contiguous list of distinct
 * years; only then are the covered days known. */
static void
check_years(struct cal_check *k, const json_t *root, const char *path)
{
	char p[TB_DIAG_PATH], ip[TB_DIAG_PATH];
	const json_t *ys = get_array(k, root, path, "years", p);
	json_int_t v, prev = 0; /* 0: no valid year seen yet */
	bool ok = true;
	size_t i;

	if (ys == NULL) {
		return;
	}
	if (json_array_size(ys) == 0) {
		check_fail(k, TB_EINVAL, p, "years must not be empty");
		return;
	}
	for (i = 0; i < json_array_size(ys); i++) {
		tb_path_idx(ip, sizeof(ip), p, i);
		if (!json_is_integer(json_array_get(ys, i))) {
			check_fail(k, TB_ETYPE, ip,
			           "a year must be an integer");
			ok = false;
			continue;
		}
		v = json_integer_value(json_array_get(ys, i));
		if (v < CAL_MIN_YEAR || v > CAL_MAX_YEAR) {
			check_fail(k, TB_ERANGE, ip,
			           "year %lld is outside %d..%d", (long long)v,
			           CAL_MIN_YEAR, CAL_MAX_YEAR);
			ok = false;
			continue;
		}
		if (prev != 0 && v == prev) {
			check_fail(k, TB_EDUP, ip, "year %lld is listed twice",
			           (long long)v);
			ok = false;
		} else if (prev != 0 && v < prev) {
			check_fail(k, TB_EINVAL, ip,
			           "year %lld comes after %lld; years must be "
			           "ascending",
			           (long long)v, (long long)prev);
			ok = false;
		} else if (prev != 0 && v != prev + 1) {
			check_fail(k, TB_EINVAL, ip,
			           "year %lld follows %lld; years must be "
			           "contiguous",
			           (long long)v, (long long)prev);
			ok = false;
		}
		prev = v;
	}
	if (ok) {
		k->years_ok = true;
		k->first_year = (int)json_integer_value(json_array_get(ys, 0));
		k->last_year = (int)prev;
		k->first_day = (int32_t)days_from_civil(k->first_year, 1, 1);
		k->last_day = (int32_t)days_from_civil(k->last_year, 12, 31);
	}
}

/* check_days_off validates the days_off entries and returns the valid ranges
 * in *spans (caller frees). Returns TB_OK or TB_ENOMEM. */
static int
check_days_off(struct cal_check *k, const json_t *root, const char *path,
               struct cal_span **spans, size_t *n)
{
	char p[TB_DIAG_PATH], ep[TB_DIAG_PATH], tp[TB_DIAG_PATH];
	char a[11], b[11];
	const json_t *arr = get_array(k, root, path, "days_off", p), *e;
	int32_t from, to;
	bool from_ok;
	size_t i;

	if (arr == NULL || json_array_size(arr) == 0) {
		return TB_OK;
	}
	*spans = malloc(json_array_size(arr) * sizeof(**spans));
	if (*spans == NULL) {
		return TB_ENOMEM;
	}
	json_array_foreach(arr, i, e)
	{
		tb_path_idx(ep, sizeof(ep), p, i);
		if (!json_is_object(e)) {
			check_fail(k, TB_ETYPE, ep,
			           "a day-off range must be an object");
			continue;
		}
		check_keys(k, e, ep, cal_off_keys);
		get_string(k, e, ep, "name", false);
		from_ok = get_date(k, e, ep, "from", &from);
		if (!get_date(k, e, ep, "to", &to) || !from_ok) {
			continue;
		}
		if (to < from) {
			tb_path_key(tp, sizeof(tp), ep, "to");
			cal_date_format(to, b);
			cal_date_format(from, a);
			check_fail(k, TB_EINVAL, tp, "to %s is before from %s",
			           b, a);
			continue;
		}
		(*spans)[(*n)++] = (struct cal_span){ from, to, i };
	}
	return TB_OK;
}

/* check_workdays validates the make-up working days and returns the valid
 * ones in *marks (caller frees). Returns TB_OK or TB_ENOMEM. */
static int
check_workdays(struct cal_check *k, const json_t *root, const char *path,
               struct cal_mark **marks, size_t *n)
{
	char p[TB_DIAG_PATH], ep[TB_DIAG_PATH], dp[TB_DIAG_PATH], a[11];
	const json_t *arr = get_array(k, root, path, "workdays", p), *e;
	int32_t day;
	size_t i;

	if (arr == NULL || json_array_size(arr) == 0) {
		return TB_OK;
	}
	*marks = malloc(json_array_size(arr) * sizeof(**marks));
	if (*marks == NULL) {
		return TB_ENOMEM;
	}
	json_array_foreach(arr, i, e)
	{
		tb_path_idx(ep, sizeof(ep), p, i);
		if (!json_is_object(e)) {
			check_fail(k, TB_ETYPE, ep,
			           "a make-up workday must be an object");
			continue;
		}
		check_keys(k, e, ep, cal_work_keys);
		get_string(k, e, ep, "name", false);
		if (!get_date(k, e, ep, "date", &day)) {
			continue;
		}
		/* A make-up day turns a weekend day into a working day; a
		 * weekday is a working day already, so listing one is a typo.
		 */
		if (cal_weekday(day) < 6) {
			tb_path_key(dp, sizeof(dp), ep, "date");
			cal_date_format(day, a);
			check_fail(k, TB_EINVAL, dp,
			           "%s is a %s; make-up workdays fall on "
			           "weekends",
			           a, cal_weekday_names[cal_weekday(day)]);
			continue;
		}
		(*marks)[(*n)++] = (struct cal_mark){ day, i };
	}
	return TB_OK;
}

static int
mark_cmp(const void *x, const void *y)
{
	const struct cal_mark *a = x, *b = y;

	if (a->day != b->day) {
		return a->day < b->day ? -1 : 1;
	}
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* first_mark returns the index of the first sorted mark on or after day. */
static size_t
first_mark(const struct cal_mark *marks, size_t n, int32_t day)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (marks[mid].day < day) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* check_conflicts refuses a make-up workday listed twice and a day-off range
 * that covers one: the day cannot be both off and worked. Sorting keeps
 * this O(n log n) for large files. Leaves marks sorted and unique. */
static void
check_conflicts(struct cal_check *k, const char *path, struct cal_span *spans,
                size_t nspans, struct cal_mark *marks, size_t *nmarks)
{
	char wp[TB_DIAG_PATH], ep[TB_DIAG_PATH], p[TB_DIAG_PATH];
	char mp[TB_DIAG_PATH], a[11], b[11], w[11];
	size_t i, j, lo, hi;

	tb_path_key(wp, sizeof(wp), path, "workdays");
	if (*nmarks == 0) {
		return; /* marks may be NULL, and nothing can conflict */
	}
	qsort(marks, *nmarks, sizeof(*marks), mark_cmp);
	for (i = 1, j = 0; i < *nmarks; i++) {
		if (marks[i].day == marks[j].day) {
			tb_path_idx(ep, sizeof(ep), wp, marks[i].idx);
			tb_path_key(p, sizeof(p), ep, "date");
			tb_path_idx(ep, sizeof(ep), wp, marks[j].idx);
			cal_date_format(marks[i].day, a);
			check_fail(k, TB_EDUP, p, "%s is already listed at %s",
			           a, ep);
		} else {
			marks[++j] = marks[i];
		}
	}
	*nmarks = j + 1;
	tb_path_key(p, sizeof(p), path, "days_off");
	for (i = 0; i < nspans; i++) {
		lo = first_mark(marks, *nmarks, spans[i].from);
		hi = first_mark(marks, *nmarks, spans[i].to + 1);
		if (lo == hi) {
			continue;
		}
		tb_path_idx(ep, sizeof(ep), p, spans[i].idx);
		tb_path_idx(mp, sizeof(mp), wp, marks[lo].idx);
		cal_date_format(spans[i].from, a);
		cal_date_format(spans[i].to, b);
		cal_date_format(marks[lo].day, w);
		check_fail(k, TB_EINVAL, ep,
		           "%s..%s covers make-up workday %s (%s)%s", a, b, w,
		           mp, hi - lo > 1 ? " and others" : "");
	}
}

/* cal_build lays the validated data over the plain Monday-to-Friday week.
 * Ranges are applied through a difference array so that many long ranges
 * cost one pass over the covered days. */
static int
cal_build(const struct cal_check *k, const struct cal_span *spans,
          size_t nspans, const struct cal_mark *marks, size_t nmarks,
          struct tb_calendar **out)
{
	size_t ndays = (size_t)(k->last_day - k->first_day + 1), i;
	struct tb_calendar *c;
	int32_t *diff, run = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return TB_ENOMEM;
	}
	c->work = malloc(ndays);
	diff = calloc(ndays + 1, sizeof(*diff));
	if (c->work == NULL || diff == NULL) {
		free(diff);
		cal_free(c);
		return TB_ENOMEM;
	}
	for (i = 0; i < nspans; i++) {
		diff[spans[i].from - k->first_day]++;
		diff[spans[i].to - k->first_day + 1]--;
	}
	for (i = 0; i < ndays; i++) {
		run += diff[i];
		c->work[i] =
		    run == 0 && cal_weekday(k->first_day + (int32_t)i) <= 5;
	}
	for (i = 0; i < nmarks; i++) {
		c->work[marks[i].day - k->first_day] = 1;
	}
	free(diff);
	c->first_year = k->first_year;
	c->last_year = k->last_year;
	c->first_day = k->first_day;
	c->last_day = k->last_day;
	*out = c;
	return TB_OK;
}

int
cal_from_json(const json_t *j, const char *path, struct tb_calendar **out,
              struct tb_diag *d)
{
	struct cal_check k = { .d = d, .first_code = TB_OK };
	struct cal_span *spans = NULL;
	struct cal_mark *marks = NULL;
	size_t nspans = 0, nmarks = 0;
	const char *fmt;
	int rv;

	if (path == NULL) {
		path = "$";
	}
	if (!json_is_object(j)) {
		check_fail(&k, TB_ETYPE, path, "a calendar must be an object");
		return k.first_code;
	}
	check_keys(&k, j, path, cal_root_keys);
	fmt = get_string(&k, j, path, "format", true);
	if (fmt != NULL && strcmp(fmt, CAL_FORMAT) != 0) {
		char p[TB_DIAG_PATH];
		tb_path_key(p, sizeof(p), path, "format");
		check_fail(&k, TB_EINVAL, p, "format must be '%s', not '%s'",
		           CAL_FORMAT, fmt);
	}
	get_string(&k, j, path, "name", false);
	get_string(&k, j, path, "source", false);
	check_years(&k, j, path);
	if ((rv = check_days_off(&k, j, path, &spans, &nspans)) != TB_OK ||
	    (rv = check_workdays(&k, j, path, &marks, &nmarks)) != TB_OK) {
		goto err;
	}
	check_conflicts(&k, path, spans, nspans, marks, &nmarks);
	if ((rv = k.first_code) != TB_OK ||
	    (rv = cal_build(&k, spans, nspans, marks, nmarks, out)) != TB_OK) {
		goto err;
	}
	free(spans);
	free(marks);
	return TB_OK;
err:
	if (rv == TB_ENOMEM) {
		tb_diag_add(d, TB_ENOMEM, path, "out of memory");
	}
	free(spans);
	free(marks);
	return rv;
}

void
cal_free(struct tb_calendar *c)
{
	if (c != NULL) {
		free(c->work);
		free(c);
	}
}

int
cal_first_year(const struct tb_calendar *c)
{
	return c->first_year;
}

int
cal_last_year(const struct tb_calendar *c)
{
	return c->last_year;
}

bool
cal_covers(const struct tb_calendar *c, int32_t day)
{
	return day >= c->first_day && day <= c->last_day;
}

int
cal_is_workday(const struct tb_calendar *c, int32_t day, bool *workday)
{
	if (!cal_covers(c, day)) {
		return TB_ECALENDAR;
	}
	*workday = c->work[day - c->first_day] != 0;
	return TB_OK;
}

bool
cal_paused(const struct cal_pause *pauses, size_t npauses, int32_t day)
{
	size_t i;

	for (i = 0; i < npauses; i++) {
		if (day >= pauses[i].from && day <= pauses[i].to) {
			return true;
		}
	}
	return false;
}

int32_t
cal_paused_days(const struct cal_pause *pauses, size_t npauses, int32_t after,
                int32_t until)
{
	/* Walk the union of the pauses from left to right without sorting
	 * (which would need memory): at each position take the pause that
	 * reaches furthest, or jump to the next pause that starts. */
	int64_t pos = (int64_t)after + 1, reach, next, count = 0;
	size_t i;

	while (pos <= until) {
		reach = -1;
		next = (int64_t)until + 1;
		for (i = 0; i < npauses; i++) {
			if (pauses[i].from <= pos && pauses[i].to >= pos &&
			    pauses[i].to > reach) {
				reach = pauses[i].to;
			}
			if (pauses[i].from > pos && pauses[i].from < next &&
			    pauses[i].from <= pauses[i].to) {
				next = pauses[i].from;
			}
		}
		if (reach >= pos) {
			reach = reach < until ? reach : until;
			count += reach - pos + 1;
			pos = reach + 1;
		} else {
			pos = next;
		}
	}
	return (int32_t)count;
}

static int
due_beyond(const struct tb_calendar *c, int32_t day, char *errmsg,
           size_t errlen)
{
	char a[11], years[16];

	cal_date_format(day, a);
	cover_text(c->first_year, c->last_year, years, sizeof(years));
	return tb_errf(errmsg, errlen, TB_ECALENDAR,
	               "%s is beyond the calendar (covers %s)", a, years);
}

int
cal_due(const struct tb_calendar *c, int32_t from, int n, char unit,
        const struct cal_pause *pauses, size_t npauses, int32_t *due,
        char *errmsg, size_t errlen)
{
	char a[11], b[11];
	int32_t day = from;
	int counted = 0;
	size_t i;

	if (n < 1 || n > CAL_MAX_DAYS) {
		return tb_errf(errmsg, errlen, TB_EINVAL,
		               n < 1 ? "days must be ≥ 1, not %d"
		                     : "days must be ≤ 3660, not %d",
		               n);
	}
	if (unit != 'G' && unit != 'Z') {
		return tb_errf(errmsg, errlen, TB_EINVAL,
		               "unit must be G (working days) or Z (calendar "
		               "days)");
	}
	for (i = 0; i < npauses; i++) {
		if (pauses[i].to < pauses[i].from) {
			cal_date_format(pauses[i].from, a);
			cal_date_format(pauses[i].to, b);
			return tb_errf(errmsg, errlen, TB_EINVAL,
			               "pause %s:%s ends before it starts", a,
			               b);
		}
	}
	if (!cal_covers(c, from)) {
		return due_beyond(c, from, errmsg, errlen);
	}
	/* The start day is not counted (Civil Code §201): counting begins
	 * the next day. A paused day counts in neither unit. */
	while (counted < n) {
		if (day == c->last_day) {
			return due_beyond(c, day + 1, errmsg, errlen);
		}
		day++;
		if (cal_paused(pauses, npauses, day)) {
			continue;
		}
		if (unit == 'Z' || c->work[day - c->first_day]) {
			counted++;
		}
	}
	/* A period cannot end on a day off (§203) nor while the clock is
	 * stopped; only Z periods can reach here on such a day, because a
	 * G period's last counted day is an unpaused working day. */
	while (!c->work[day - c->first_day] ||
	       cal_paused(pauses, npauses, day)) {
		if (day == c->last_day) {
			return due_beyond(c, day + 1, errmsg, errlen);
		}
		day++;
	}
	*due = day;
	return TB_OK;
}
