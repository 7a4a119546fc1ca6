/* Due dates of cases: counted in apply on the published calendar (or
 * provisionally past it), and the warn/overdue flags computed at read
 * time. */
#include "node/fsm.h"

#include "schema/lifecycle.h"
#include "schema/spec.h"

#include <string.h>

/* workday: the calendar where it covers the day, else Monday to Friday
 * (a provisional guess until the next year's calendar is published). */
static bool
workday(const struct tb_calendar *cal, int32_t day)
{
	bool w;

	if (cal != NULL && cal_is_workday(cal, day, &w) == 0) {
		return w;
	}
	return cal_weekday(day) <= 5;
}

/* fallback counts like cal_due (start day not counted, paused days never
 * count, a Z period ends on an unpaused working day) with workday(). The
 * pauses are closed, so both loops end. */
static int32_t
fallback(const struct tb_calendar *cal, int32_t from, int n, char unit,
         const struct cal_pause *p, size_t np)
{
	int32_t d = from;
	int k = 0;

	while (k < n) {
		d++;
		if (!cal_paused(p, np, d) && (unit == 'Z' || workday(cal, d))) {
			k++;
		}
	}
	while (unit == 'Z' && (!workday(cal, d) || cal_paused(p, np, d))) {
		d++;
	}
	return d;
}

int
fsm_due_compute(const struct tb_calendar *cal, int32_t from, int n, char unit,
                const struct cal_pause *p, size_t np, struct fsm_due *out)
{
	int32_t d;
	size_t i;
	int rv, k, steps;

	if (n < 0 || n > CAL_MAX_DAYS || (unit != 'G' && unit != 'Z')) {
		return TB_EINVAL;
	}
	for (i = 0; i < np; i++) {
		if (p[i].to < p[i].from) {
			return TB_EINVAL;
		}
	}
	out->provisional = false;
	if (n == 0) {
		/* An immediate matter (即办件) is settled on the spot. */
		out->due = from;
		out->provisional = cal == NULL || !cal_covers(cal, from);
	} else if (cal != NULL &&
	           (rv = cal_due(cal, from, n, unit, p, np, &out->due, NULL,
	                         0)) != TB_ECALENDAR) {
		if (rv != 0) {
			return rv;
		}
	} else {
		out->due = fallback(cal, from, n, unit, p, np);
		out->provisional = true;
	}
	/* The warning window is the last FSM_WARN_WORKDAYS working days up
	 * to the due date (the due date, itself a working day, included). */
	d = out->due;
	for (k = 0, steps = 0; steps < 60; steps++, d--) {
		if (workday(cal, d) && ++k == FSM_WARN_WORKDAYS) {
			break;
		}
	}
	out->warn_from = d;
	return TB_OK;
}

/* day_of parses obj[key] as a date; false if absent or not a date. */
static bool
day_of(const json_t *obj, const char *key, int32_t *day)
{
	const char *s = spec_str(obj, key);

	return s != NULL && cal_date_parse(s, day) == 0;
}

/* open_pause returns the pause still running (its "to" is null), or
 * NULL. */
static const json_t *
open_pause(const json_t *c)
{
	const json_t *p = json_object_get(c, "pauses");
	const json_t *last = json_array_get(p, json_array_size(p) - 1);

	return last != NULL && json_is_null(json_object_get(last, "to")) ? last
	                                                                 : NULL;
}

const char *
fsm_clock(const struct fsm_clock_in *in, int32_t today, bool *warn,
          bool *overdue)
{
	*warn = *overdue = false;
	if (lc_is_final(in->state)) {
		return "over";
	}
	if (!in->has_due) {
		return lc_clock_stopped(in->state) ? "stopped" : "not_started";
	}
	if (in->paused) {
		/* The clock stopped: overdue only if the count had already
		 * run out before the first paused day. */
		*overdue = in->has_pause_from && in->due < in->pause_from &&
		           today > in->due;
		return "stopped";
	}
	*overdue = today > in->due;
	*warn = !*overdue && in->has_warn_from && today >= in->warn_from;
	return "running";
}

/* clock_of computes the read-time status of case c on day today. */
static const char *
clock_of(const json_t *c, int32_t today, bool *warn, bool *overdue)
{
	struct fsm_clock_in in = { .state = LC_STATE_RECEIVED };
	const json_t *p;

	lc_state_parse(spec_str(c, "state"), &in.state);
	in.has_due = day_of(c, "due", &in.due);
	in.has_warn_from = day_of(c, "warn_from", &in.warn_from);
	if ((p = open_pause(c)) != NULL) {
		in.paused = true;
		in.has_pause_from = day_of(p, "from", &in.pause_from);
	}
	return fsm_clock(&in, today, warn, overdue);
}

bool
fsm_case_overdue(const json_t *c, int32_t today)
{
	bool warn, overdue;

	clock_of(c, today, &warn, &overdue);
	return overdue;
}

int
fsm_case_clock(json_t *c, int32_t today)
{
	bool warn, overdue;
	const char *clock = clock_of(c, today, &warn, &overdue);
	char ds[11];

	fsm_datestr(today, ds);
	if (json_object_set_new(c, "today", json_string(ds)) != 0 ||
	    json_object_set_new(c, "clock", json_string(clock)) != 0 ||
	    json_object_set_new(c, "warn", json_boolean(warn)) != 0 ||
	    json_object_set_new(c, "overdue", json_boolean(overdue)) != 0) {
		return TB_ENOMEM;
	}
	return TB_OK;
}
