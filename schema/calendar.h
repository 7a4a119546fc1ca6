/* The working-day calendar (data, published yearly) and statutory due dates
 * counted on it in working days (G) or calendar days (Z). */
#ifndef TB_SCHEMA_CALENDAR_H
#define TB_SCHEMA_CALENDAR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/error.h"

/* The format string a calendar file must carry, and the bounds it accepts.
 * CAL_MAX_DAYS is ten years of calendar days: no statutory or promised time
 * limit comes near it, so anything larger is a typo. */
#define CAL_FORMAT   "tongban.calendar/1"
#define CAL_MIN_YEAR 1990
#define CAL_MAX_YEAR 2200
#define CAL_MAX_DAYS 3660

/* Dates are int32_t day numbers: days since 1970-01-01 in the proleptic
 * Gregorian calendar (1969-12-31 is -1). */

/* cal_date_parse reads a strict "YYYY-MM-DD" (exactly ten characters, a real
 * date: 2026-02-30 is refused) into *day. Returns TB_OK or TB_EMALFORMED,
 * leaving *day untouched on error. */
int cal_date_parse(const char *s, int32_t *day);

/* cal_date_why returns NULL if s is a valid date for cal_date_parse, or a
 * static phrase saying what is wrong ("is not a real date"), to be printed
 * after the quoted input. */
const char *cal_date_why(const char *s);

/* cal_date_format writes day as "YYYY-MM-DD" into out. Days outside years
 * 0000..9999 are written truncated but always NUL-terminated. */
void cal_date_format(int32_t day, char out[11]);

/* cal_weekday returns the ISO weekday of day: 1 = Monday .. 7 = Sunday. */
int cal_weekday(int32_t day);

/* A validated working-day calendar covering whole, contiguous years. */
struct tb_calendar;

/* cal_from_json validates a "tongban.calendar/1" document j and builds a
 * calendar. path names j in diagnostics (NULL means "$"). Every problem is
 * added to d (which may be NULL) with its JSON path; validation goes on
 * after the first problem so one run reports them all. Returns TB_OK and
 * sets *out, which the caller owns and frees with cal_free; or returns the
 * code of the first problem found (TB_ENOMEM if memory ran out) and leaves
 * *out untouched. j is only read and not retained. */
int cal_from_json(const json_t *j, const char *path, struct tb_calendar **out,
                  struct tb_diag *d);

/* cal_free releases c; NULL is allowed. */
void cal_free(struct tb_calendar *c);

/* cal_first_year and cal_last_year give the covered years, inclusive. */
int cal_first_year(const struct tb_calendar *c);
int cal_last_year(const struct tb_calendar *c);

/* cal_covers tells whether day lies inside the covered years. */
bool cal_covers(const struct tb_calendar *c, int32_t day);

/* cal_is_workday sets *workday for day: Monday to Friday unless a day off,
 * plus the make-up working days that fall on weekends. Returns TB_OK, or
 * TB_ECALENDAR (leaving *workday untouched) for a day outside the years. */
int cal_is_workday(const struct tb_calendar *c, int32_t day, bool *workday);

/* A stretch of days, both ends included, on which the clock is stopped: a
 * special procedure (Licensing Law §45) or waiting for supplemented
 * materials (§32). */
struct cal_pause {
	int32_t from, to;
};

/* cal_paused reports whether any of the npauses pauses covers day. */
bool cal_paused(const struct cal_pause *pauses, size_t npauses, int32_t day);

/* cal_paused_days counts the days d with after < d <= until that at least
 * one pause covers; overlapping pauses count each day once. */
int32_t cal_paused_days(const struct cal_pause *pauses, size_t npauses,
                        int32_t after, int32_t until);

/* cal_due computes the due date of a time limit of n days in unit 'G'
 * (working days) or 'Z' (calendar days) starting on day from. The start day
 * itself is not counted (Civil Code §201); paused days never count. In unit
 * Z a period whose last day is not a working day ends on the next working
 * day (§203), and that day must not be paused either, so a due date is
 * always an unpaused working day. Pauses may overlap and may start before
 * from. Returns TB_OK and sets *due; TB_EINVAL for n outside
 * 1..CAL_MAX_DAYS, a bad unit or a pause that ends before it starts; or
 * TB_ECALENDAR if from, or any day the count needs, lies outside the
 * calendar. On error a one-line reason goes to errmsg (may be NULL) and
 * *due is untouched. */
int cal_due(const struct tb_calendar *c, int32_t from, int n, char unit,
            const struct cal_pause *pauses, size_t npauses, int32_t *due,
            char *errmsg, size_t errlen);

#endif
