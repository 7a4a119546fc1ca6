/* calendar.put: a province's signed working-day calendar enters the
 * replicated state (feature level 5) without a new catalog release, and
 * flows down the tree as crl.put does (docs/CALENDAR.md "The calendar
 * feed", docs/REPLICATION.md "Trust down the tree").
 *
 * The body is {calendar, root}: the tongban.calendar/1 document as the
 * province signed it, with "region" (the province), "version" (an integer
 * above every calendar the province published before) and "signatures"
 * (a release key of the root, as for a release), and the root metadata the
 * proposing node trusts. A stored root (root.put) is the anchor; the
 * command's only anchors while the group stores none. Apply checks, at the
 * command's time:
 *
 *   1. without a stored root, the command's root: threshold-signed,
 *      unexpired, and the root of this region's province;
 *   2. region is this region's province, version an integer >= 1;
 *   3. the signature: by one of the root's release_keys
 *      (trust_verify_release);
 *   4. the calendar fields (cal_from_json, without region, version and
 *      signatures);
 *   5. the version is higher than every stored calendar's.
 *
 * Any failure is a refusal naming the field; nothing is written. The
 * stored value (meta["calendars"], version ascending) is {calendar, root}
 * exactly as decoded from the command; a stored calendar whose every year
 * a newer one covers is dropped. The same {calendar, root} is appended to
 * every child's outbox stream in the same transaction, and a child applies
 * it with these same checks (fsm_calendar_delivered). */
#include "node/fsm.h"
#include "node/region_store.h"

#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALFEED_MAX 32 /* stored calendars: about 3 KiB each */
#define YEAR_MIN    1990
#define YEAR_MAX    2200

static int
load_pubs(struct fsm *f, json_t **out)
{
	int rv = db_get_json(f->txn, f->s->dbi[DB_META], "calendars", 9, out);

	if (rv == TB_ENOTFOUND) {
		*out = json_array();
		return *out != NULL ? TB_OK : TB_ENOMEM;
	}
	return rv;
}

static bool
covers(const json_t *cal, long long y)
{
	const json_t *v;
	size_t i;

	json_array_foreach(json_object_get(cal, "years"), i, v)
	{
		if (json_integer_value(v) == y) {
			return true;
		}
	}
	return false;
}

/* superseded: every year of cal is covered by a later entry of pubs. */
static bool
superseded(const json_t *pubs, size_t at)
{
	const json_t *cal =
	    json_object_get(json_array_get(pubs, at), "calendar");
	const json_t *v;
	size_t i, j;

	json_array_foreach(json_object_get(cal, "years"), i, v)
	{
		bool found = false;
		for (j = at + 1; j < json_array_size(pubs) && !found; j++) {
			found = covers(json_object_get(json_array_get(pubs, j),
			                               "calendar"),
			               json_integer_value(v));
		}
		if (!found) {
			return false;
		}
	}
	return true;
}

/* check_doc validates cal's own fields and its calendar content. */
static int
check_doc(struct fsm *f, const json_t *cal, struct tb_diag *d)
{
	const char *region = spec_str(cal, "region");
	json_t *v = json_object_get(cal, "version"), *copy;
	struct tb_calendar *parsed = NULL;
	int rv;

	if (!json_is_object(cal)) {
		return fsm_refuse(f, TB_ETYPE, "$.body.calendar",
		                  "the calendar is an object");
	}
	if (region == NULL || strcmp(region, f->s->province) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.calendar.region",
		                  "a calendar of %s; this region's province "
		                  "is %s",
		                  region ? region : "(none)", f->s->province);
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		return fsm_refuse(f, TB_ETYPE, "$.body.calendar.version",
		                  "version must be an integer >= 1");
	}
	if ((copy = json_deep_copy(cal)) == NULL) {
		return TB_ENOMEM;
	}
	json_object_del(copy, "region");
	json_object_del(copy, "version");
	json_object_del(copy, "signatures");
	tb_diag_init(d);
	rv = cal_from_json(copy, "$.body.calendar", &parsed, d);
	cal_free(parsed);
	json_decref(copy);
	return rv != 0 ? fsm_refused(f, d, NULL) : TB_OK;
}

static int
put_at(struct fsm *f, struct tb_diag *d, const json_t *root)
{
	const json_t *cal = json_object_get(f->cmd->body, "calendar");
	json_t *pubs = NULL, *entry, *last;
	long long ver, top;
	bool feed;
	size_t i;
	int rv;

	if ((rv = check_doc(f, cal, d)) != TB_OK) {
		return rv;
	}
	tb_diag_init(d);
	if (trust_verify_release(root, cal, "$.body.calendar", d) != TB_OK) {
		return fsm_refused(f, d, NULL);
	}
	if ((rv = load_pubs(f, &pubs)) != TB_OK) {
		return rv;
	}
	ver = spec_int(cal, "version", 0);
	last = json_array_get(pubs, json_array_size(pubs) - 1);
	top = spec_int(json_object_get(last, "calendar"), "version", 0);
	if (last != NULL && ver <= top) {
		json_decref(pubs);
		return fsm_refuse(f, TB_ECONFLICT, "$.body.calendar.version",
		                  "calendar version %lld is not newer than the "
		                  "stored version %lld",
		                  ver, top);
	}
	entry = json_pack("{s:O, s:O}", "calendar", cal, "root", root);
	if (entry == NULL || json_array_append(pubs, entry) != 0) {
		json_decref(entry);
		json_decref(pubs);
		return TB_ENOMEM;
	}
	for (i = 0; i + 1 < json_array_size(pubs);) {
		if (superseded(pubs, i)) {
			json_array_remove(pubs, i);
		} else {
			i++;
		}
	}
	if (json_array_size(pubs) > CALFEED_MAX) {
		json_decref(entry);
		json_decref(pubs);
		return fsm_refuse(f, TB_ETOOBIG, "$.body.calendar.years",
		                  "the group would store more than %d "
		                  "calendars; publish one covering older years "
		                  "again",
		                  CALFEED_MAX);
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_META], "calendars", 9, pubs);
	json_decref(pubs);
	if (rv == TB_OK && (rv = fsm_feed_level(f, &feed)) == TB_OK && feed) {
		rv = fsm_outbox_fanout(f, "calendar", entry);
	}
	json_decref(entry);
	if (rv != TB_OK) {
		return rv;
	}
	/* The writer's catalog cache holds the effective calendar. */
	f->s->cat.valid = false;
	f->result = json_pack("{s:{s:s, s:I, s:O}}", "calendar", "region",
	                      f->s->province, "version", (json_int_t)ver,
	                      "years", json_object_get(cal, "years"));
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

static int
put(struct fsm *f, struct tb_diag *d)
{
	const json_t *root = json_object_get(f->cmd->body, "root");
	const char *rregion = spec_str(root, "region");
	json_t *stored = NULL;
	int rv;

	if ((rv = fsm_root_get(f, &stored)) != TB_OK) {
		return rv;
	}
	if (stored != NULL) {
		tb_diag_init(d);
		rv = trust_root_check(stored, NULL, f->at, "$.root", d) != 0
		         ? fsm_refused(f, d, NULL)
		         : put_at(f, d, stored);
		json_decref(stored);
		return rv;
	}
	tb_diag_init(d);
	if (trust_root_check(root, NULL, f->at, "$.body.root", d) != 0) {
		return fsm_refused(f, d, NULL);
	}
	if (rregion == NULL || strcmp(rregion, f->s->province) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.root.region",
		                  "the root of %s cannot anchor calendars at "
		                  "%s, whose province is %s",
		                  rregion ? rregion : "?", f->s->region,
		                  f->s->province);
	}
	return put_at(f, d, root);
}

int
fsm_calendar_put(struct fsm *f)
{
	return fsm_with_diag(f, put);
}

int
fsm_calendar_delivered(struct fsm *f)
{
	const json_t *cal = json_object_get(f->cmd->body, "calendar");
	json_t *pubs = NULL, *last;
	long long top;
	int rv;

	if ((rv = load_pubs(f, &pubs)) != TB_OK) {
		return rv;
	}
	last = json_array_get(pubs, json_array_size(pubs) - 1);
	top = spec_int(json_object_get(last, "calendar"), "version", 0);
	if (last != NULL && json_is_integer(json_object_get(cal, "version")) &&
	    spec_int(cal, "version", 0) <= top) {
		json_decref(pubs);
		f->result = json_pack("{s:{s:s, s:I, s:I}}", "calendar", "held",
		                      "already stored", "version",
		                      (json_int_t)spec_int(cal, "version", 0),
		                      "stored_version", (json_int_t)top);
		return f->result != NULL ? TB_OK : TB_ENOMEM;
	}
	json_decref(pubs);
	return fsm_calendar_put(f);
}

/* ---- the effective calendar ---- */

/* add_year appends cal's days of year y to days_off and workdays, the
 * ranges clipped to the year. Dates compare as strings (YYYY-MM-DD). */
static int
add_year(const json_t *cal, int y, json_t *off, json_t *work)
{
	char lo[16], hi[16];
	const json_t *e;
	size_t i;

	snprintf(lo, sizeof(lo), "%04d-01-01", y);
	snprintf(hi, sizeof(hi), "%04d-12-31", y);
	json_array_foreach(json_object_get(cal, "days_off"), i, e)
	{
		const char *from = spec_str(e, "from"), *to = spec_str(e, "to");
		json_t *x;

		if (from == NULL || to == NULL || strcmp(to, lo) < 0 ||
		    strcmp(from, hi) > 0) {
			continue;
		}
		x = json_pack("{s:s, s:s}", "from",
		              strcmp(from, lo) < 0 ? lo : from, "to",
		              strcmp(to, hi) > 0 ? hi : to);
		if (x == NULL || json_array_append_new(off, x) != 0) {
			return TB_ENOMEM;
		}
	}
	json_array_foreach(json_object_get(cal, "workdays"), i, e)
	{
		const char *d = spec_str(e, "date");

		if (d != NULL && strncmp(d, lo, 5) == 0 &&
		    json_array_append_new(work,
		                          json_pack("{s:s}", "date", d))) {
			return TB_ENOMEM;
		}
	}
	return TB_OK;
}

int
fsm_calendar_effective(const json_t *rel, const json_t *pubs, json_t **out)
{
	const json_t *win[YEAR_MAX - YEAR_MIN + 1];
	const json_t *e, *v;
	json_t *doc, *years, *off, *work;
	int y, lo, hi, anchor = 0, rv = TB_OK;
	size_t i, j;

	*out = NULL;
	memset(win, 0, sizeof(win));
	json_array_foreach(json_object_get(rel, "years"), j, v)
	{
		y = (int)json_integer_value(v);
		if (y >= YEAR_MIN && y <= YEAR_MAX) {
			win[y - YEAR_MIN] = rel;
			anchor = y;
		}
	}
	json_array_foreach(pubs, i, e) /* version ascending: later wins */
	{
		const json_t *cal = json_object_get(e, "calendar");
		json_array_foreach(json_object_get(cal, "years"), j, v)
		{
			y = (int)json_integer_value(v);
			if (y >= YEAR_MIN && y <= YEAR_MAX) {
				win[y - YEAR_MIN] = cal;
			}
		}
	}
	for (y = YEAR_MAX; anchor == 0 && y >= YEAR_MIN; y--) {
		anchor = win[y - YEAR_MIN] != NULL ? y : 0;
	}
	if (anchor == 0) {
		return TB_OK;
	}
	for (lo = anchor; lo > YEAR_MIN && win[lo - 1 - YEAR_MIN]; lo--) {
	}
	for (hi = anchor; hi < YEAR_MAX && win[hi + 1 - YEAR_MIN]; hi++) {
	}
	years = json_array();
	off = json_array();
	work = json_array();
	doc = json_pack("{s:s, s:s, s:o, s:o, s:o}", "format", CAL_FORMAT,
	                "name", "effective", "years", years, "days_off", off,
	                "workdays", work);
	if (doc == NULL) {
		return TB_ENOMEM;
	}
	for (y = lo; rv == TB_OK && y <= hi; y++) {
		rv = json_array_append_new(years, json_integer(y)) != 0
		         ? TB_ENOMEM
		         : add_year(win[y - YEAR_MIN], y, off, work);
	}
	if (rv != TB_OK) {
		json_decref(doc);
		return rv;
	}
	*out = doc;
	return TB_OK;
}
