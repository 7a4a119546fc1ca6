/* calendar.put applied to a real store of 370102 (node/fsm_calfeed.c): the
 * province's signed 2027 calendar (ops/examples/calendar-2027.json, an
 * invented example) is stored and due dates count on it; each refusal
 * names its field and leaves the replicated state (its digest) as it was;
 * a newer version supersedes; fsm_calendar_effective merges per year. */
#include "node/fsm.h"
#include "node/store.h"
#include "schema/trust.h"
#include "tests/ctoken_util.h"
#include "tests/store_util.h"
#include "tests/tap.h"

static struct store *S;
static uint64_t IDX;
static struct key off1, kx;
static json_t *root;

#define DEC30 1798596000000LL /* 2026-12-30T10:00:00+08:00 */

static json_t *
run(enum cmd_type t, int64_t at, json_t *body)
{
	struct canon_buf b = su_encode(t, at, NULL, body);
	json_t *res = NULL;

	if (store_apply(S, ++IDX, b.data, b.len, &res) != 0) {
		printf("# store_apply failed\n");
	}
	canon_buf_free(&b);
	return res;
}

/* put applies calendar.put {cal (stolen), root}; the refused field, or
 * "" when applied. */
static const char *
put(json_t *cal, int64_t at)
{
	static char field[128];
	json_t *r = run(CMD_CALENDAR_PUT, at,
	                json_pack("{s:o, s:O}", "calendar", cal, "root", root));
	const json_t *e = json_object_get(r, "error");

	snprintf(field, sizeof(field), "%s",
	         e == NULL ? "" : spec_str(e, "field"));
	if (e != NULL) {
		printf("#   refused: %s\n", spec_str(e, "message"));
	}
	json_decref(r);
	return field;
}

static json_t *
signed_copy(const json_t *doc, const struct key *k)
{
	json_t *c = json_deep_copy(doc);
	char err[128];

	json_object_del(c, "signatures");
	trust_sign(c, k->sk, err, sizeof(err));
	return c;
}

/* years_are: arr is [a, b]; no reference kept. */
static bool
years_are(const json_t *arr, int a, int b)
{
	json_t *want = json_pack("[i, i]", a, b);
	bool eq = json_equal(arr, want) == 1;

	json_decref(want);
	return eq;
}

static void
digest(uint8_t h[32])
{
	uint64_t at;

	store_digest(S, h, &at);
}

static json_t *
stored(void)
{
	json_t *v = NULL;

	store_calendars(S, &v);
	return v;
}

static void
test_effective(const json_t *cal27)
{
	json_t *rel = json_pack("{s:s, s:[i], s:[{s:s, s:s}], s:[]}", "format",
	                        CAL_FORMAT, "years", 2026, "days_off", "from",
	                        "2026-12-31", "to", "2026-12-31", "workdays");
	json_t *over =
	    json_pack("{s:{s:s, s:[i, i], s:[{s:s, s:s}], s:[]}}", "calendar",
	              "format", CAL_FORMAT, "years", 2026, 2027, "days_off",
	              "from", "2026-12-30", "to", "2027-01-08", "workdays");
	json_t *pubs = json_pack("[{s:O}]", "calendar", cal27), *eff = NULL;
	struct tb_calendar *c = NULL;
	bool w = true;

	is_int(fsm_calendar_effective(rel, pubs, &eff), TB_OK,
	       "effective: a 2026 release and a published 2027");
	ok(years_are(json_object_get(eff, "years"), 2026, 2027),
	   "  covers 2026-2027");
	is_int(cal_from_json(eff, NULL, &c, NULL), 0, "  and is a calendar");
	cal_is_workday(c, 20818 /* 2026-12-31 */, &w);
	ok(!w, "  2026-12-31 is off (the release's)");
	cal_free(c);
	json_decref(eff);
	/* A newer one covering 2026-2027 wins both years, its range clipped
	 * to each. */
	json_array_append_new(pubs, over);
	is_int(fsm_calendar_effective(rel, pubs, &eff), TB_OK,
	       "effective with a later calendar over both years");
	is_int(json_array_size(json_object_get(eff, "days_off")), 2,
	       "  its range split at the year's end");
	is_str(spec_str(json_array_get(json_object_get(eff, "days_off"), 0),
	                "from"),
	       "2026-12-30", "  2026 from the later calendar");
	json_decref(eff);
	json_decref(pubs);
	is_int(fsm_calendar_effective(NULL, NULL, &eff), TB_OK,
	       "nothing published, no release");
	ok(eff == NULL, "  no calendar");
	json_decref(rel);
}

int
main(void)
{
	char dir[] = "/tmp/tongban-calfeed.XXXXXX";
	json_t *cal, *bad, *v, *r, *c;
	uint8_t h0[32], h1[32];
	const char *id;
	size_t i;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL) {
		return 1;
	}
	key_make(&off1, 1);
	key_make(&kx, 13);
	root = make_root("370000", &off1);
	cal = su_load("ops/examples/calendar-2027.json");
	ok(cal != NULL, "the 2027 example calendar");
	test_effective(cal);
	bad = cal;
	cal = signed_copy(bad, &off1);
	json_decref(bad);
	S = su_open(dir, "370102");
	ok(S != NULL, "a store of 370102");
	for (i = 0; i < 3; i++) {
		r = run(i == 0 ? CMD_CATALOG_RELEASE : CMD_CATALOG_OVERLAY, NOW,
		        su_catalog((int)i));
		ok(json_object_get(r, "error") == NULL, "catalog command %zu",
		   i);
		json_decref(r);
	}

	/* Refusals first: each names its field; nothing changes. */
	digest(h0);
	is_str(put(signed_copy(cal, &kx), NOW), "$.body.calendar.signatures",
	       "signed by a key that is not a release key: refused");
	bad = json_deep_copy(cal);
	json_object_set_new(bad, "name", json_string("tampered"));
	is_str(put(bad, NOW), "$.body.calendar.signatures",
	       "changed after signing: refused");
	bad = json_deep_copy(cal);
	json_object_set_new(bad, "region", json_string("320000"));
	is_str(put(signed_copy(bad, &off1), NOW), "$.body.calendar.region",
	       "another province's calendar: refused");
	json_decref(bad);
	bad = json_deep_copy(cal);
	json_object_del(bad, "version");
	is_str(put(signed_copy(bad, &off1), NOW), "$.body.calendar.version",
	       "no version: refused");
	json_decref(bad);
	bad = json_deep_copy(cal);
	json_object_set_new(json_array_get(json_object_get(bad, "workdays"), 0),
	                    "date", json_string("2027-02-15"));
	is_str(put(signed_copy(bad, &off1), NOW),
	       "$.body.calendar.workdays[0].date",
	       "a make-up day on a Monday: refused");
	json_decref(bad);
	digest(h1);
	ok(memcmp(h0, h1, 32) == 0, "  the state is unchanged by refusals");
	v = stored();
	is_int(json_array_size(json_object_get(v, "calendars")), 0,
	       "  and no calendar is stored");
	json_decref(v);

	/* The calendar, then an older or equal version refused. */
	is_str(put(json_incref(cal), NOW), "", "the signed 2027 calendar");
	v = stored();
	is_int(json_array_size(json_object_get(v, "calendars")), 1, "  stored");
	ok(years_are(json_object_get(v, "effective_years"), 2026, 2027),
	   "  due dates count on 2026 (release) and 2027 (published)");
	json_decref(v);
	digest(h0);
	is_str(put(json_incref(cal), NOW), "$.body.calendar.version",
	       "the same version again: refused");
	digest(h1);
	ok(memcmp(h0, h1, 32) == 0, "  the state is unchanged");

	/* A case accepted 2026-12-30 for a 3 working-day count: 12-31,
	 * then 2027-01-01..03 off (元旦 of the example), 01-04, 01-05. */
	r = run(CMD_CASE_CREATE, DEC30, su_food("37010220260201001X"));
	id = spec_str(json_object_get(r, "case"), "id");
	ok(id != NULL, "a case on 2026-12-30");
	c = run(CMD_CASE_ACTION, DEC30, su_act(id, "accept", 1));
	is_str(spec_str(json_object_get(c, "case"), "due"), "2027-01-05",
	       "  accepted: due 2027-01-05 on the published calendar");
	ok(!json_is_true(
	       json_object_get(json_object_get(c, "case"), "due_provisional")),
	   "  not provisional");
	json_decref(c);
	json_decref(r);

	/* A later release carrying its own (2026) calendar does not
	 * override the published 2027 one, in the writer's cache too. */
	{
		json_t *cat = NULL,
		       *rel = su_load("ops/examples/catalog-370000.json");
		store_catalog(S, &cat);
		r = run(CMD_CATALOG_RELEASE, DEC30,
		        json_pack(
		            "{s:{s:s, s:s, s:i, s:s, s:s, s:b, s:[], "
		            "s:[], s:[], s:[], s:O}}",
		            "release", "format", "tongban.release/1", "region",
		            "370000", "version", 2, "prev_hash",
		            spec_str(json_object_get(cat, "standard"), "hash"),
		            "effective_at", "2026-12-30T00:00:00+08:00",
		            "snapshot", 0, "matters", "removed", "bundles",
		            "removed_bundles", "calendar",
		            json_object_get(rel, "calendar")));
		ok(json_object_get(r, "error") == NULL,
		   "release 2, with the 2026 calendar, applies");
		if (json_object_get(r, "error") != NULL) {
			printf("#   %s\n", spec_str(json_object_get(r, "error"),
			                            "message"));
		}
		json_decref(r);
		json_decref(cat);
		json_decref(rel);
	}
	r = run(CMD_CASE_CREATE, DEC30, su_food("370102199001011231"));
	id = spec_str(json_object_get(r, "case"), "id");
	c = run(CMD_CASE_ACTION, DEC30, su_act(id, "accept", 1));
	is_str(spec_str(json_object_get(c, "case"), "due"), "2027-01-05",
	       "  a case accepted after it is still due 2027-01-05");
	json_decref(c);
	json_decref(r);

	/* Version 2 supersedes version 1 (it covers all its years). */
	bad = json_deep_copy(cal);
	json_object_set_new(bad, "version", json_integer(2));
	is_str(put(signed_copy(bad, &off1), NOW), "", "version 2 applies");
	json_decref(bad);
	v = stored();
	is_int(json_array_size(json_object_get(v, "calendars")), 1,
	       "  it replaces version 1");
	is_int(spec_int(json_array_get(json_object_get(v, "calendars"), 0),
	                "version", 0),
	       2, "  version 2 is stored");
	is_int(strlen(spec_str(
	           json_array_get(json_object_get(v, "calendars"), 0), "hash")),
	       64, "  with its hash");
	json_decref(v);

	json_decref(cal);
	json_decref(root);
	store_close(S);
	return done_testing();
}
