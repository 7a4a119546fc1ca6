/* case.action: one lifecycle step on a case, with the If-Match version
 * check, the pauses that stop the clock, and the due date. */
#include "node/fsm.h"
#include "node/store_db.h"
#include "schema/command.h"

#include "schema/lifecycle.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* closed_pauses collects the pauses that have ended and cover at least
 * one day (a pause stopped and resumed on the same day covers none). */
static struct cal_pause *
closed_pauses(const json_t *c, size_t *np)
{
	const json_t *ps = json_object_get(c, "pauses"), *p;
	struct cal_pause *out;
	size_t i;

	*np = 0;
	out = malloc((json_array_size(ps) + 1) * sizeof(*out));
	if (out == NULL) {
		return NULL;
	}
	json_array_foreach(ps, i, p)
	{
		int32_t from, to;
		if (cal_date_parse(spec_str(p, "from"), &from) == 0 &&
		    cal_date_parse(spec_str(p, "to"), &to) == 0 && from <= to) {
			out[*np].from = from;
			out[(*np)++].to = to;
		}
	}
	return out;
}

/* set_due computes the case's due date from its acceptance day, its pinned
 * limit and its closed pauses. */
static int
set_due(struct fsm *f, json_t *c)
{
	const json_t *lim = json_object_get(c, "limit");
	const char *unit = spec_str(lim, "unit");
	struct fsm_catalog *cat;
	struct fsm_due due;
	struct cal_pause *p;
	int32_t from;
	char ds[11];
	size_t np;
	int rv;

	if ((rv = fsm_catalog_get(f, &cat)) != 0) {
		return rv;
	}
	if (cal_date_parse(spec_str(c, "accepted_on"), &from) != 0 ||
	    unit == NULL) {
		return TB_ECORRUPT;
	}
	if ((p = closed_pauses(c, &np)) == NULL) {
		return TB_ENOMEM;
	}
	rv = fsm_due_compute(cat->std.cal, from, (int)spec_int(lim, "days", 0),
	                     unit[0], p, np, &due);
	free(p);
	if (rv != 0) {
		return TB_ECORRUPT; /* limits were validated with the matter */
	}
	fsm_datestr(due.due, ds);
	if (json_object_set_new(c, "due", json_string(ds)) != 0 ||
	    json_object_set_new(c, "due_provisional",
	                        json_boolean(due.provisional)) != 0) {
		return TB_ENOMEM;
	}
	fsm_datestr(due.warn_from, ds);
	return json_object_set_new(c, "warn_from", json_string(ds)) != 0
	           ? TB_ENOMEM
	           : TB_OK;
}

/* clock_changes records what action a does to the clock of c: a pause
 * starts on suspend and request_supplement (from the next day: the day the
 * clock stops was worked), ends on resume and supplement or when the case
 * ends (the day it restarts is like a period's start day, not counted);
 * acceptance starts the count and the end of a pause recomputes it. */
static int
clock_changes(struct fsm *f, json_t *c, enum lc_action a, bool final)
{
	json_t *ps = json_object_get(c, "pauses"), *last, *p;
	const char *until = spec_str(f->cmd->body, "pause_until");
	char today[11], next[11];
	bool ended = false;

	fsm_datestr(f->day, today);
	fsm_datestr(f->day + 1, next);
	last = json_array_get(ps, json_array_size(ps) - 1);
	if (last != NULL && json_is_null(json_object_get(last, "to")) &&
	    (a == LC_ACTION_RESUME || a == LC_ACTION_SUPPLEMENT || final)) {
		if (json_object_set_new(last, "to", json_string(today)) != 0) {
			return TB_ENOMEM;
		}
		ended = true;
	}
	if (a == LC_ACTION_SUSPEND || a == LC_ACTION_REQUEST_SUPPLEMENT) {
		p = json_pack("{s:s, s:s, s:n, s:s, s:s?}", "kind",
		              a == LC_ACTION_SUSPEND ? "special" : "supplement",
		              "from", next, "to", "stopped_on", today, "until",
		              until);
		if (p == NULL || json_array_append_new(ps, p) != 0) {
			return TB_ENOMEM;
		}
	}
	if (a == LC_ACTION_ACCEPT) {
		if (json_object_set_new(c, "accepted_on", json_string(today)) ||
		    json_object_set_new(c, "accepted_at",
		                        json_integer(f->at))) {
			return TB_ENOMEM;
		}
		return set_due(f, c);
	}
	if (ended && !final && json_is_string(json_object_get(c, "due"))) {
		return set_due(f, c);
	}
	return TB_OK;
}

/* parse_args validates the action, its target and pause_until. */
static int
parse_args(struct fsm *f, enum lc_action *a, enum lc_state *target)
{
	const json_t *b = f->cmd->body;
	const char *tg = spec_str(b, "target");
	const char *until = spec_str(b, "pause_until");
	int32_t day;

	if (lc_action_parse(spec_str(b, "action"), a) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.action",
		                  "\"%s\" is not an action",
		                  spec_str(b, "action"));
	}
	*target = LC_STATE_RECEIVED;
	if (lc_action_dest(*a) == LC_DEST_TARGET) {
		if (tg == NULL) {
			return fsm_refuse(f, TB_EMISSING, "$.body.target",
			                  "%s needs a target state",
			                  lc_action_name(*a));
		}
		if (lc_state_parse(tg, target) != 0) {
			return fsm_refuse(f, TB_ECODE, "$.body.target",
			                  "\"%s\" is not a state", tg);
		}
	} else if (tg != NULL) {
		return fsm_refuse(f, TB_EINVAL, "$.body.target",
		                  "%s takes no target", lc_action_name(*a));
	}
	if (until != NULL && *a != LC_ACTION_SUSPEND &&
	    *a != LC_ACTION_REQUEST_SUPPLEMENT) {
		return fsm_refuse(f, TB_EINVAL, "$.body.pause_until",
		                  "pause_until goes with suspend or "
		                  "request_supplement only");
	}
	if (until != NULL && cal_date_parse(until, &day) != 0) {
		return fsm_refuse(f, TB_EMALFORMED, "$.body.pause_until",
		                  "\"%s\" %s", until, cal_date_why(until));
	}
	return TB_OK;
}

/* transit applies the lifecycle move to the copy c of the case. */
static int
transit(struct fsm *f, json_t *c, enum lc_action a, enum lc_state target)
{
	struct lc_case lc = { LC_STATE_RECEIVED, LC_STATE_RECEIVED };
	char msg[TB_DIAG_MSG], ds[11];
	int rv;

	lc_state_parse(spec_str(c, "state"), &lc.state);
	lc_state_parse(spec_str(c, "suspended_from"), &lc.suspended_from);
	if ((rv = lc_apply(&lc, a, target, msg, sizeof(msg))) != 0) {
		return fsm_refuse(f, rv,
		                  rv == TB_ETRANSITION ? "$.body.action"
		                                       : "$.body.target",
		                  "%s", msg);
	}
	json_object_del(c, "suspended_from");
	if (json_object_set_new(c, "state",
	                        json_string(lc_state_name(lc.state))) != 0 ||
	    (lc.state == LC_STATE_SUSPENDED &&
	     json_object_set_new(
	         c, "suspended_from",
	         json_string(lc_state_name(lc.suspended_from))) != 0)) {
		return TB_ENOMEM;
	}
	if ((rv = clock_changes(f, c, a, lc_is_final(lc.state))) != 0) {
		return rv;
	}
	if (lc_is_final(lc.state)) {
		int32_t due;
		fsm_datestr(f->day, ds);
		if (json_object_set_new(
		        c, "completion_code",
		        json_integer(lc_completion_code(lc.state))) != 0 ||
		    json_object_set_new(c, "completed_at",
		                        json_integer(f->at)) != 0 ||
		    json_object_set_new(
		        c, "late",
		        json_boolean(cal_date_parse(spec_str(c, "due"), &due) ==
		                         0 &&
		                     f->day > due)) != 0) {
			return TB_ENOMEM;
		}
	}
	return TB_OK;
}

/* national_no records the national 办件编号 when the owner accepts the case
 * (feature level TB_HANDOFF_LEVEL on; DOMAIN.md "Numbers"): the 31-character
 * implementation code this region's effective catalog has for the matter
 * (its implementation key without the handling item),
 * the day of acceptance (UTC+8) as yyyyMMdd and a 4-digit serial per code
 * and day, counted in meta "nn/CODE/DAY". A matter without an
 * implementation entry here gets none (the receiving window's serial, the
 * case id, still names the case). At the handling region of a handed-over
 * case this is its own code: the handling authority numbers the case. */
static int
national_no(struct fsm *f, json_t *c)
{
	struct fsm_catalog *cat;
	struct fsm_matter m;
	uint64_t level = 0, serial = 0;
	char ds[11], day[9], key[64], no[48];
	int rv;

	if (json_object_get(c, "national_no") != NULL) {
		return TB_OK;
	}
	if ((rv = meta_get_u64(f->s, f->txn, "feature_level", &level)) != 0) {
		return rv;
	}
	if (level < TB_HANDOFF_LEVEL) {
		return TB_OK;
	}
	if ((rv = fsm_catalog_get(f, &cat)) != 0) {
		return rv;
	}
	rv = fsm_resolve(f->s, cat, spec_str(c, "matter"), &m);
	if (rv == TB_ENOTFOUND) {
		return TB_OK;
	}
	if (rv != 0) {
		return rv;
	}
	/* The implementation key is the code, then "#" and the handling
	 * item when the matter has one. */
	if (strlen(m.task_code) < 31 ||
	    (m.task_code[31] != '\0' && m.task_code[31] != '#')) {
		fsm_matter_fini(&m);
		return TB_OK;
	}
	m.task_code[31] = '\0';
	fsm_datestr(f->day, ds);
	snprintf(day, sizeof(day), "%.4s%.2s%.2s", ds, ds + 5, ds + 8);
	snprintf(key, sizeof(key), "nn/%s/%s", m.task_code, day);
	if ((rv = meta_add(f->s, f->txn, key, 1)) != 0 ||
	    (rv = meta_get_u64(f->s, f->txn, key, &serial)) != 0) {
		fsm_matter_fini(&m);
		return rv;
	}
	if (serial > 9999) {
		rv = fsm_refuse(f, TB_ERANGE, "$.body.action",
		                "implementation %s has accepted 9999 cases on "
		                "%s: the national 办件编号's 4-digit serial is "
		                "used up",
		                m.task_code, day);
		fsm_matter_fini(&m);
		return rv;
	}
	snprintf(no, sizeof(no), "%s%s%04llu", m.task_code, day,
	         (unsigned long long)serial);
	fsm_matter_fini(&m);
	return json_object_set_new(c, "national_no", json_string(no)) != 0
	           ? TB_ENOMEM
	           : TB_OK;
}

/* event_body describes the step for the feed. */
static json_t *
event_body(struct fsm *f, const json_t *old, const json_t *c, enum lc_action a)
{
	const json_t *b = f->cmd->body;
	json_t *ev = json_pack(
	    "{s:s, s:O, s:O, s:O}", "action", lc_action_name(a), "from",
	    json_object_get(old, "state"), "to", json_object_get(c, "state"),
	    "actor", json_object_get(b, "actor"));

	/* Optional fields are left out rather than null: events decode
	 * with cmd_decode, whose field types have no null. */
	if (ev != NULL && json_object_get(b, "opinion") != NULL) {
		json_object_set(ev, "opinion", json_object_get(b, "opinion"));
	}
	if (ev != NULL && lc_step_code(a) >= 0) {
		json_object_set_new(ev, "step_code",
		                    json_integer(lc_step_code(a)));
	}
	if (ev != NULL && json_object_get(old, "national_no") == NULL &&
	    json_object_get(c, "national_no") != NULL) {
		json_object_set(ev, "national_no",
		                json_object_get(c, "national_no"));
	}
	if (ev != NULL && json_object_get(c, "completion_code") != NULL) {
		json_object_set(ev, "completion_code",
		                json_object_get(c, "completion_code"));
	}
	if (ev != NULL && !json_equal(json_object_get(old, "due"),
	                              json_object_get(c, "due"))) {
		json_object_set(ev, "due", json_object_get(c, "due"));
	}
	return ev;
}

int
fsm_case_action(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *id = spec_str(b, "case");
	enum lc_action a;
	enum lc_state target;
	json_t *old = NULL, *c = NULL, *ev = NULL, *event = NULL;
	int rv;

	rv = db_get_json(f->txn, f->s->dbi[DB_CASES], id, strlen(id), &old);
	if (rv == TB_ENOTFOUND) {
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.case",
		                  "case %s is not held by %s", id,
		                  f->s->region);
	}
	if (rv != 0) {
		return rv;
	}
	/* A handed-over case: only its owner writes, at the owner's epoch
	 * (docs/HANDOFF.md). */
	if ((rv = fsm_case_writable(f, old, false)) != 0) {
		goto out;
	}
	if (json_object_get(b, "epoch") != NULL &&
	    spec_int(b, "epoch", 0) != spec_int(old, "epoch", 1)) {
		rv = fsm_refuse(f, TB_EEPOCH, "$.body.epoch",
		                "case %s is at epoch %lld, not %lld", id,
		                spec_int(old, "epoch", 1),
		                spec_int(b, "epoch", 0));
		goto out;
	}
	if (spec_int(old, "version", 0) != spec_int(b, "version", 0)) {
		rv = fsm_refuse(f, TB_ESTALE, "$.body.version",
		                "case version is %lld, not %lld",
		                spec_int(old, "version", 0),
		                spec_int(b, "version", 0));
		goto out;
	}
	if ((rv = parse_args(f, &a, &target)) != 0) {
		goto out;
	}
	if ((c = json_deep_copy(old)) == NULL) {
		rv = TB_ENOMEM;
		goto out;
	}
	if ((rv = transit(f, c, a, target)) != 0 ||
	    (a == LC_ACTION_ACCEPT && (rv = national_no(f, c)) != 0)) {
		goto out;
	}
	if (json_object_set_new(
	        c, "version", json_integer(spec_int(old, "version", 0) + 1)) !=
	        0 ||
	    json_object_set_new(
	        c, "last_event",
	        json_integer(spec_int(old, "last_event", 0) + 1)) ||
	    json_object_set_new(c, "updated_at", json_integer(f->at)) != 0 ||
	    (ev = event_body(f, old, c, a)) == NULL) {
		rv = TB_ENOMEM;
		goto out;
	}
	if ((rv = fsm_case_put(f, c, old)) != 0) {
		json_decref(ev);
		goto out;
	}
	if ((rv = fsm_event_append(f, c, ev, &event)) != 0) {
		goto out;
	}
	f->result = json_pack(
	    "{s:{s:s, s:O, s:O, s:O, s:O, s:O}, s:o}", "case", "id", id,
	    "state", json_object_get(c, "state"), "version",
	    json_object_get(c, "version"), "due", json_object_get(c, "due"),
	    "due_provisional", json_object_get(c, "due_provisional"),
	    "last_event", json_object_get(c, "last_event"), "event", event);
	rv = f->result != NULL ? TB_OK : TB_ENOMEM;
out:
	json_decref(old);
	json_decref(c);
	return rv;
}
