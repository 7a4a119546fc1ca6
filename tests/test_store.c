/* Tests for the region store: apply of every command type on real LMDB,
 * refusals, idempotency, due dates, lists, the feed, restarts, a full map,
 * determinism between replicas, and the apply rate. */
#define _XOPEN_SOURCE 700
#include "node/store.h"
#include "schema/command.h"
#include "schema/spec.h"
#include "tests/tap.h"
#include "tests/store_util.h"

#include <ftw.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

/* ---- harness: a log of every command applied to the main store ---- */

struct entry {
	uint64_t index;
	struct canon_buf buf;
};

static struct entry LOG[256];
static size_t NLOG;
static struct store *S;
static uint64_t IDX;
static char DIR_A[64], DIR_B[64], DIR_C[64], DIR_D[64];

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
rm_rf(const char *dir)
{
	if (dir[0] != '\0') {
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	}
}

static int64_t
ms(const char *when)
{
	char t[32];
	int64_t v = 0;

	snprintf(t, sizeof(t), "%sT10:00:00+08:00", when);
	spec_time_parse(t, &v);
	return v;
}

static struct store *
open_at(const char *dir, const char *region, size_t map)
{
	struct store_options o = { map, NULL, region };
	struct store *s = NULL;
	char err[256];
	int rv = store_open(dir, &o, &s, err, sizeof(err));

	if (rv != 0) {
		printf("# store_open %s: %s\n", dir, err);
	}
	return s;
}

/* encode builds a command's bytes (body stolen). */
static struct canon_buf
encode(enum cmd_type t, const char *when, const char *key, json_t *body)
{
	struct canon_buf b = { 0 };
	char err[128];

	if (cmd_encode(t, ms(when), key, body, &b, err, sizeof(err)) != 0) {
		printf("# encode: %s\n", err);
	}
	json_decref(body);
	return b;
}

/* run applies a command to S at the next index and logs it. */
static json_t *
run(enum cmd_type t, const char *when, const char *key, json_t *body)
{
	struct entry *e = &LOG[NLOG++];
	json_t *res = NULL;
	int rv;

	e->index = ++IDX;
	e->buf = encode(t, when, key, body);
	rv = store_apply(S, e->index, e->buf.data, e->buf.len, &res);
	if (rv != 0) {
		printf("# store_apply: %s\n", tb_errname(rv));
	}
	return res;
}

static const char *
errcode(const json_t *r)
{
	return spec_str(json_object_get(r, "error"), "code");
}

static void
digest(struct store *s, uint8_t d[32])
{
	store_digest(s, d, NULL);
}

/* refused applies a command that must be refused with code at field,
 * leaving everything but the applied index as it was. */
static void
refused(const char *name, enum cmd_type t, const char *when, const char *key,
        json_t *body, const char *code, const char *field)
{
	uint8_t d0[32], d1[32];
	uint64_t before = store_applied_index(S);
	json_t *r;

	digest(S, d0);
	r = run(t, when, key, body);
	digest(S, d1);
	is_str(errcode(r), code, "%s: refused with %s", name, code);
	if (field != NULL) {
		is_str(spec_str(json_object_get(r, "error"), "field"), field,
		       "%s: at %s", name, field);
	}
	if (errcode(r) == NULL || strcmp(errcode(r), code) != 0) {
		char *s = json_dumps(r, JSON_COMPACT);
		printf("#   result: %s\n", s ? s : "(null)");
		free(s);
	}
	ok(!memcmp(d0, d1, 32), "%s: state unchanged", name);
	is_int(store_applied_index(S), before + 1, "%s: index applied", name);
	json_decref(r);
}

static json_t *
load(const char *rel)
{
	char path[512];
	json_error_t e;

	snprintf(path, sizeof(path), "%s/%s", TB_SOURCE_DIR, rel);
	return json_load_file(path, 0, &e);
}

/* ---- bodies ---- */

static json_t *
act(const char *id, const char *action, int version, const char *target)
{
	json_t *b = json_pack("{s:s, s:s, s:i, s:s}", "case", id, "action",
	                      action, "version", version, "actor", "clerk-7");

	if (target != NULL) {
		json_object_set_new(b, "target", json_string(target));
	}
	return b;
}

/* step applies a case action that must succeed; returns the result. */
static json_t *
step(const char *when, const char *id, const char *action, int version,
     const char *target)
{
	json_t *r =
	    run(CMD_CASE_ACTION, when, NULL, act(id, action, version, target));

	ok(r != NULL && errcode(r) == NULL, "%s %s on %s", action, id, when);
	if (errcode(r) != NULL) {
		printf("#   %s\n",
		       spec_str(json_object_get(r, "error"), "message"));
	}
	return r;
}

static json_t *
case_get(const char *id, const char *now)
{
	json_t *c = NULL;

	store_case_get(S, id, ms(now), &c);
	return c;
}

/* ---- the tests ---- */

static void
test_open(void)
{
	struct store_options o = { 0, NULL, NULL };
	struct store *s = NULL;
	char err[256];

	is_int(store_open(DIR_A, &o, &s, err, sizeof(err)), TB_EINVAL,
	       "a new store needs its region");
	like(err, "needs its region code", "says so");
	o.region = "999999";
	ok(store_open(DIR_A, &o, &s, err, sizeof(err)) != 0,
	   "an unknown region is refused");
	S = open_at(DIR_A, "370102", 0);
	ok(S != NULL, "store opened for 370102");
	is_str(store_region(S), "370102", "region bound");
	is_int(store_applied_index(S), 0, "a new store applied nothing");
}

static size_t REL_LOG; /* the log entry of the release that applied */
static size_t OV_LOG;  /* and of the county overlay */

static void
test_catalog(void)
{
	json_t *rel = load("ops/examples/catalog-370000.json");
	json_t *city = load("ops/examples/overlay-370100.json");
	json_t *county = load("ops/examples/overlay-370102.json");
	json_t *r, *bad, *cat = NULL, *m = NULL, *list = NULL;

	ok(rel && city && county, "examples load");
	bad = json_deep_copy(rel);
	json_object_set_new(bad, "region", json_string("440000"));
	refused("release of another province", CMD_CATALOG_RELEASE,
	        "2026-01-01", NULL, json_pack("{s:o}", "release", bad),
	        "bad_code", "$.body.release.region");
	refused("overlay before any release", CMD_CATALOG_OVERLAY, "2026-01-01",
	        NULL, json_pack("{s:O}", "overlay", city), "bad_chain",
	        "$.body.overlay.base_version");

	r = run(CMD_CATALOG_RELEASE, "2026-01-01", NULL,
	        json_pack("{s:O}", "release", rel));
	REL_LOG = NLOG - 1;
	is_int(json_integer_value(json_object_get(
	           json_object_get(json_object_get(r, "catalog"), "standard"),
	           "version")),
	       1, "release 1 applied");
	json_decref(r);
	refused("the same release again", CMD_CATALOG_RELEASE, "2026-01-01",
	        NULL, json_pack("{s:O}", "release", rel), "bad_chain",
	        "$.body.release.version");
	bad = json_deep_copy(rel);
	json_object_set_new(bad, "version", json_integer(3));
	json_object_set_new(bad, "prev_hash", json_string(SU_HASH));
	refused("a release with a gap", CMD_CATALOG_RELEASE, "2026-01-01", NULL,
	        json_pack("{s:o}", "release", bad), "bad_chain",
	        "$.body.release.version");

	bad = json_deep_copy(city);
	json_object_set_new(bad, "region", json_string("370200"));
	refused("overlay of a region not above", CMD_CATALOG_OVERLAY,
	        "2026-01-01", NULL, json_pack("{s:o}", "overlay", bad),
	        "bad_code", "$.body.overlay.region");
	bad = json_deep_copy(city);
	json_object_set_new(json_array_get(json_object_get(bad, "entries"), 0),
	                    "task_name", json_string("改名"));
	refused("overlay setting a standard field", CMD_CATALOG_OVERLAY,
	        "2026-01-01", NULL, json_pack("{s:o}", "overlay", bad),
	        "not_owner", "$.body.overlay.entries[0].task_name");

	r = run(CMD_CATALOG_OVERLAY, "2026-01-01", NULL,
	        json_pack("{s:O}", "overlay", city));
	ok(json_object_get(json_object_get(r, "catalog"), "overlay") != NULL,
	   "city overlay applied");
	json_decref(r);
	r = run(CMD_CATALOG_OVERLAY, "2026-01-01", NULL,
	        json_pack("{s:O}", "overlay", county));
	OV_LOG = NLOG - 1;
	ok(json_object_get(json_object_get(r, "catalog"), "overlay") != NULL,
	   "county overlay applied");
	json_decref(r);
	refused("the county overlay again", CMD_CATALOG_OVERLAY, "2026-01-01",
	        NULL, json_pack("{s:O}", "overlay", county), "bad_chain",
	        "$.body.overlay.version");
	r = run(CMD_CATALOG_OVERLAY, "2026-01-01", NULL,
	        json_pack("{s:O}", "overlay", county));
	like(
	    spec_str(json_object_get(r, "error"), "message"),
	    "version 1, expected 2 (that version is applied already: a retry",
	    "  said as applied already, not as a rollback (a retried publish)");
	json_decref(r);

	is_int(store_catalog(S, &cat), TB_OK, "store_catalog");
	is_int(json_integer_value(json_object_get(
	           json_object_get(cat, "standard"), "matters")),
	       42, "42 standard matters stored");
	is_int(json_array_size(json_object_get(cat, "overlays")), 2,
	       "two overlays stored");
	is_int(json_array_size(json_object_get(cat, "releases")), 1,
	       "the signed release document is kept");
	is_int(store_matter(S, "000117001000#01", &m), TB_OK,
	       "store_matter resolves a basic key");
	is_str(spec_str(m, "task_code"), "11370102MB152906114000117001000#01",
	       "to the county's implementation entry");
	is_int(spec_int(json_object_get(m, "matter"), "promise_day", 0), 3,
	       "with the county's promised limit");
	is_int(store_matter(S, "000000000000", &list), TB_ENOTFOUND,
	       "an unknown matter is not found");
	is_int(store_matters(S, &list), TB_OK, "store_matters");
	ok(json_array_size(json_object_get(list, "matters")) > 42,
	   "lists standard matters and implementation entries");
	json_decref(list);
	json_decref(m);
	json_decref(cat);
	json_decref(rel);
	json_decref(city);
	json_decref(county);
}

static char CASE1[32];

static void
test_create(void)
{
	json_t *r, *b, *m = NULL, *c;

	r = run(CMD_CASE_CREATE, "2026-01-05", NULL,
	        su_food("370102199001011231"));
	c = json_object_get(r, "case");
	is_str(spec_str(c, "id"), "370102-20260105-000001",
	       "case id: region, day in UTC+8, serial");
	is_str(spec_str(c, "state"), "received", "received");
	is_int(spec_int(c, "version", 0), 1, "version 1");
	is_int(spec_int(c, "release", 0), 1, "pins release 1");
	store_matter(S, "11370102MB152906114000117001000#01", &m);
	is_str(spec_str(c, "matter_hash"), spec_str(m, "hash"),
	       "pins the effective matter's hash");
	snprintf(CASE1, sizeof(CASE1), "%s", spec_str(c, "id"));
	json_decref(m);
	json_decref(r);

	refused("unknown matter", CMD_CASE_CREATE, "2026-01-05", NULL,
	        json_pack("{s:s, s:o, s:{}, s:[], s:s}", "matter",
	                  "000000000000", "applicant",
	                  su_applicant("370102199001011231"), "form",
	                  "materials", "channel", "1"),
	        "not_found", "$.body.matter");
	b = su_food("370102199001011231");
	json_object_del(json_object_get(b, "form"), "operator_name");
	refused("missing form field", CMD_CASE_CREATE, "2026-01-05", NULL, b,
	        "missing", "$.body.form.operator_name");
	b = su_food("370102199001011231");
	json_object_set_new(json_object_get(b, "form"), "id_number",
	                    json_string("370102199001011232"));
	refused("bad id number check digit", CMD_CASE_CREATE, "2026-01-05",
	        NULL, b, "bad_code", "$.body.form.id_number");
	b = su_food("370102199001011231");
	json_object_set_new(json_object_get(b, "form"), "colour",
	                    json_string("red"));
	refused("unknown form field", CMD_CASE_CREATE, "2026-01-05", NULL, b,
	        "unknown_field", "$.body.form.colour");
	b = su_food("370102199001011231");
	json_object_set_new(json_object_get(b, "form"), "main_format",
	                    json_string("夜市"));
	refused("enum value not an option", CMD_CASE_CREATE, "2026-01-05", NULL,
	        b, "out_of_range", "$.body.form.main_format");
	b = su_food("370102199001011231");
	json_array_remove(json_object_get(b, "materials"), 1);
	refused("required material missing", CMD_CASE_CREATE, "2026-01-05",
	        NULL, b, "missing", "$.body.materials");
	b = su_food("370102199001011231");
	json_object_set_new(json_array_get(json_object_get(b, "materials"), 0),
	                    "hash", json_string("abc"));
	refused("material hash not 64 hex", CMD_CASE_CREATE, "2026-01-05", NULL,
	        b, "bad_code", "$.body.materials[0].hash");
	/* What the compiled checks (node/fsm_checks.c) pass only when the
	 * JSON's checks would: each refused with the same field. */
	b = su_food("370102199001011231");
	json_object_set_new(json_array_get(json_object_get(b, "materials"), 2),
	                    "code", json_string("M99"));
	refused("material code the matter does not list", CMD_CASE_CREATE,
	        "2026-01-05", NULL, b, "unknown_field",
	        "$.body.materials[2].code");
	b = su_food("370102199001011231");
	json_object_set_new(json_array_get(json_object_get(b, "materials"), 0),
	                    "size", json_integer(-1));
	refused("material size below 0", CMD_CASE_CREATE, "2026-01-05", NULL, b,
	        "out_of_range", "$.body.materials[0].size");
	b = su_food("370102199001011231");
	json_object_set_new(json_array_get(json_object_get(b, "materials"), 1),
	                    "member", json_string("a"));
	refused("a single case's material names a member", CMD_CASE_CREATE,
	        "2026-01-05", NULL, b, "unknown_field",
	        "$.body.materials[1].member");
	/* Three members, one of them not code, hash or size. */
	b = su_food("370102199001011231");
	json_object_del(json_array_get(json_object_get(b, "materials"), 1),
	                "size");
	json_object_set_new(json_array_get(json_object_get(b, "materials"), 1),
	                    "sizes", json_integer(1));
	refused("a material with an unknown member instead of its size",
	        CMD_CASE_CREATE, "2026-01-05", NULL, b, "unknown_field",
	        "$.body.materials[1].sizes");
	b = su_food("370102199001011231");
	json_object_set_new(json_object_get(b, "form"), "operator_name",
	                    json_integer(7));
	refused("form value of the wrong type", CMD_CASE_CREATE, "2026-01-05",
	        NULL, b, "wrong_type", "$.body.form.operator_name");
	b = su_food("370102199001011231");
	json_object_set_new(json_object_get(b, "form"), "food_safety_manager",
	                    json_string(""));
	refused("required form value empty", CMD_CASE_CREATE, "2026-01-05",
	        NULL, b, "missing", "$.body.form.food_safety_manager");
	b = su_food("370102199001011231");
	json_object_set_new(b, "channel", json_string("4"));
	refused("channel the matter does not offer", CMD_CASE_CREATE,
	        "2026-01-05", NULL, b, "out_of_range", "$.body.channel");
	b = su_food("370102199001011231");
	json_object_del(b, "matter");
	refused("neither matter nor bundle", CMD_CASE_CREATE, "2026-01-05",
	        NULL, b, "missing", "$.body.matter");
	b = su_food("370102199001011231");
	json_object_del(b, "channel");
	refused("body field missing (decode)", CMD_CASE_CREATE, "2026-01-05",
	        NULL, b, "missing", "$.body.channel");
}

static void
test_idempotency(void)
{
	json_t *r1, *r2, *st = NULL;
	uint8_t d0[32], d1[32];
	json_t *b;

	r1 = run(CMD_CASE_CREATE, "2026-01-05", "idem-1",
	         su_food("370102198808085675"));
	is_str(spec_str(json_object_get(r1, "case"), "id"),
	       "370102-20260105-000002", "keyed create gets the next serial");
	digest(S, d0);
	r2 = run(CMD_CASE_CREATE, "2026-01-06", "idem-1",
	         su_food("370102198808085675"));
	digest(S, d1);
	ok(json_equal(r1, r2), "same key, same body: the original result");
	ok(!memcmp(d0, d1, 32), "and no new case");
	store_status(S, &st);
	is_int(spec_int(json_object_get(st, "cases"), "total", 0), 2,
	       "two cases in all");
	json_decref(st);
	b = su_food("370102198808085675");
	json_object_set_new(json_object_get(b, "form"), "business_items",
	                    json_string("冷食类食品制售"));
	refused("same key, another body", CMD_CASE_CREATE, "2026-01-06",
	        "idem-1", b, "conflict", "$.key");
	json_decref(r1);
	json_decref(r2);
}

static void
test_bundle(void)
{
	json_t *r, *cases, *c, *app = NULL, *ids = NULL;
	const char *hukou = NULL, *ss = NULL, *bc = NULL;
	json_t *b;
	size_t i;

	b = su_birth();
	json_object_set_new(b, "channel", json_string("2"));
	refused("bundle through a channel one member lacks", CMD_CASE_CREATE,
	        "2026-02-02", NULL, b, "out_of_range", "$.body.channel");
	b = su_birth();
	json_object_del(json_object_get(b, "form"), "hukou_holder_name");
	refused("bundle without a required shared field", CMD_CASE_CREATE,
	        "2026-02-02", NULL, b, "missing",
	        "$.body.form.hukou_holder_name");

	r = run(CMD_CASE_CREATE, "2026-02-02", NULL, su_birth());
	app = json_object_get(r, "bundle");
	is_str(spec_str(app, "id"), "370102-20260202-B000001",
	       "bundle application id");
	cases = json_object_get(app, "cases");
	is_int(json_array_size(cases), 5,
	       "新生儿出生一件事: five member cases");
	json_array_foreach(cases, i, c)
	{
		if (!strcmp(spec_str(c, "member"), "hukou")) {
			hukou = spec_str(c, "id");
		} else if (!strcmp(spec_str(c, "member"), "ss_card")) {
			ss = spec_str(c, "id");
		} else if (!strcmp(spec_str(c, "member"), "birth_cert")) {
			bc = spec_str(c, "id");
		}
	}
	is_str(bc, "370102-20260202-000001", "birth_cert first (order)");
	c = case_get(hukou, "2026-02-02");
	is_str(spec_str(json_object_get(c, "form"), "hukou_address"),
	       "济南市历下区文化东路8号", "hukou gets hukou_address");
	is_str(spec_str(json_object_get(c, "form"), "applicant_name"), "张三",
	       "guardian_name maps to applicant_name");
	ok(json_object_get(json_object_get(c, "form"), "mother_name") == NULL,
	   "hukou does not get birth_cert's fields");
	is_str(spec_str(c, "bundle"), "370102-20260202-B000001",
	       "linked to the application");
	is_str(
	    json_string_value(json_array_get(json_object_get(c, "after"), 0)),
	    bc, "after the birth_cert case");
	json_decref(c);
	c = case_get(ss, "2026-02-02");
	is_str(spec_str(json_object_get(c, "form"), "mailing_address"),
	       "济南市历下区文化东路8号",
	       "home_address maps to mailing_address");
	is_int(json_array_size(json_object_get(c, "materials")), 1,
	       "ss_card keeps its own material");
	json_decref(c);
	json_decref(r);
	store_bundle_get(S, "370102-20260202-B000001", &app);
	is_int(json_array_size(
	           json_object_get(json_object_get(app, "bundle"), "cases")),
	       5, "store_bundle_get lists the members");
	json_decref(app);
	store_applicant_cases(S, "370102199001011231", 0, &ids);
	is_int(json_array_size(json_object_get(ids, "cases")), 6,
	       "applicant index: one food case and five bundle cases");
	json_decref(ids);
}

static char WALK[32];

static void
test_lifecycle(void)
{
	json_t *r, *c, *b;
	const char *id;

	r = run(CMD_CASE_CREATE, "2026-02-10", NULL,
	        su_food("370102199203154329"));
	snprintf(WALK, sizeof(WALK), "%s",
	         spec_str(json_object_get(r, "case"), "id"));
	is_str(WALK, "370102-20260210-000001", "a new day restarts serials");
	json_decref(r);
	id = WALK;
	json_decref(step("2026-02-10", id, "request_supplement", 1, NULL));
	c = case_get(id, "2026-02-11");
	is_str(spec_str(c, "clock"), "stopped", "waiting for a supplement");
	json_decref(c);
	json_decref(step("2026-02-12", id, "supplement", 2, NULL));
	r = step("2026-02-13", id, "accept", 3, NULL);
	/* 3 G from Fri 2026-02-13: Sat 14 is a make-up working day (1),
	 * 15-23 春节, Tue 24 (2), Wed 25 (3). */
	is_str(spec_str(json_object_get(r, "case"), "due"), "2026-02-25",
	       "due date counted on the 2026 calendar");
	is_int(spec_int(json_object_get(json_object_get(r, "event"), "body"),
	                "step_code", -1),
	       4, "accept records step code 4 (受理)");
	json_decref(r);

	refused("stale version", CMD_CASE_ACTION, "2026-02-13", NULL,
	        act(id, "start_handling", 3, NULL), "stale_version",
	        "$.body.version");
	r = run(CMD_CASE_ACTION, "2026-02-13", NULL,
	        act(id, "start_handling", 3, NULL));
	like(spec_str(json_object_get(r, "error"), "message"),
	     "case version is 4, not 3", "the stale message names both");
	json_decref(r);
	refused("illegal transition", CMD_CASE_ACTION, "2026-02-13", NULL,
	        act(id, "approve", 4, NULL), "illegal_transition",
	        "$.body.action");
	refused("unknown case", CMD_CASE_ACTION, "2026-02-13", NULL,
	        act("370102-20260213-999999", "accept", 1, NULL), "not_found",
	        "$.body.case");
	refused("unknown action", CMD_CASE_ACTION, "2026-02-13", NULL,
	        act(id, "teleport", 4, NULL), "bad_code", "$.body.action");
	json_decref(step("2026-02-13", id, "start_handling", 4, NULL));
	b = act(id, "suspend", 5, NULL);
	json_object_set_new(b, "pause_until", json_string("2026-03-01"));
	r = run(CMD_CASE_ACTION, "2026-02-24", NULL, b);
	is_str(spec_str(json_object_get(r, "case"), "state"), "suspended",
	       "suspended (特别程序)");
	json_decref(r);
	c = case_get(id, "2026-02-27");
	is_str(spec_str(c, "clock"), "stopped", "the clock is stopped");
	ok(json_is_false(json_object_get(c, "overdue")),
	   "not overdue while stopped before the due date");
	json_decref(c);
	r = step("2026-03-02", id, "resume", 6, NULL);
	/* The pause covers 02-25..03-02: 14 (1), 24 (2), 03-03 (3). */
	is_str(spec_str(json_object_get(r, "case"), "due"), "2026-03-03",
	       "resume recomputes the due date past the pause");
	is_str(spec_str(json_object_get(json_object_get(r, "event"), "body"),
	                "due"),
	       "2026-03-03", "the event carries the new due date");
	json_decref(r);
	c = case_get(id, "2026-03-02");
	is_str(spec_str(c, "state"), "handling", "resumed where it was");
	ok(json_is_true(json_object_get(c, "warn")), "warned on 03-02");
	ok(json_is_false(json_object_get(c, "overdue")), "not yet overdue");
	/* 03-03 (1), 03-02 (2), Sat 02-28, a make-up working day (3). */
	is_str(spec_str(c, "warn_from"), "2026-02-28",
	       "warning window: the last 3 working days");
	json_decref(c);
	c = case_get(id, "2026-03-04");
	ok(json_is_true(json_object_get(c, "overdue")), "overdue on 03-04");
	json_decref(c);

	json_decref(step("2026-03-04", id, "submit_review", 7, NULL));
	refused("send_back without a target", CMD_CASE_ACTION, "2026-03-04",
	        NULL, act(id, "send_back", 8, NULL), "missing",
	        "$.body.target");
	refused("send_back before acceptance", CMD_CASE_ACTION, "2026-03-04",
	        NULL, act(id, "send_back", 8, "received"), "illegal_transition",
	        NULL);
	json_decref(step("2026-03-04", id, "send_back", 8, "handling"));
	json_decref(step("2026-03-04", id, "submit_review", 9, NULL));
	json_decref(step("2026-03-04", id, "submit_decision", 10, NULL));
	json_decref(step("2026-03-04", id, "approve", 11, NULL));
	c = case_get(id, "2026-03-05");
	is_str(spec_str(c, "state"), "approved", "approved (出证办结)");
	is_int(spec_int(c, "version", 0), 12, "version 12 after 11 actions");
	is_int(spec_int(c, "completion_code", -1), 0, "completion code 0");
	ok(json_is_true(json_object_get(c, "late")), "finished late");
	is_str(spec_str(c, "clock"), "over", "the clock is over");
	is_int(json_array_size(json_object_get(c, "events")), 12,
	       "twelve events: receive and eleven actions");
	is_int(spec_int(json_object_get(
	                    json_array_get(json_object_get(c, "events"), 11),
	                    "body"),
	                "seq", 0),
	       12, "per-case event sequence");
	json_decref(c);
	/* An immediate matter (即办件, 0 days) is due on its acceptance. */
	r = step("2026-03-04", "370102-20260202-000001", "accept", 1, NULL);
	is_str(spec_str(json_object_get(r, "case"), "due"), "2026-03-04",
	       "an immediate matter is due the day it is accepted");
	json_decref(r);
}

static size_t
list_n(const char *status, int overdue, const char *matter, const char *now)
{
	json_t *l = NULL;
	size_t n;

	if (store_case_list(S, status, overdue, matter, 100, NULL, ms(now),
	                    &l) != 0) {
		return 9999;
	}
	n = json_array_size(json_object_get(l, "cases"));
	json_decref(l);
	return n;
}

static void
test_lists(void)
{
	json_t *l = NULL, *e = NULL;
	char cursor[64] = "";
	size_t total = 0, pages = 0;

	do {
		store_case_list(S, NULL, -1, NULL, 3, cursor[0] ? cursor : NULL,
		                ms("2026-03-05"), &l);
		total += json_array_size(json_object_get(l, "cases"));
		pages++;
		snprintf(cursor, sizeof(cursor), "%s",
		         spec_str(l, "next") ? spec_str(l, "next") : "");
		json_decref(l);
	} while (cursor[0] != '\0' && pages < 10);
	is_int(total, 8, "paging with cursors visits all eight cases");
	is_int(pages, 3, "in pages of three");
	is_int(list_n("approved", -1, NULL, "2026-03-05"), 1, "approved: 1");
	is_int(list_n("received", -1, NULL, "2026-03-05"), 6, "received: 6");
	is_int(list_n("open", -1, NULL, "2026-03-05"), 7, "open: 7");
	is_int(list_n("final", -1, NULL, "2026-03-05"), 1, "final: 1");
	is_int(list_n(NULL, 1, NULL, "2026-03-05"), 1,
	       "overdue on 03-05: the immediate case accepted on 03-04");
	is_int(list_n(NULL, 1, NULL, "2026-03-04"), 0, "none on 03-04");
	is_int(list_n("open", 0, NULL, "2026-03-05"), 6, "open, not overdue");
	is_int(list_n(NULL, -1, "000117001000#01", "2026-03-05"), 3,
	       "by basic key: three food licence cases");
	is_int(list_n(NULL, -1, "11370102MB152906114000117001000#01",
	              "2026-03-05"),
	       3, "by implementation key");
	is_int(store_case_list(S, "dancing", -1, NULL, 10, NULL, 0, &l),
	       TB_EINVAL, "an unknown status is refused");
	is_int(store_case_list(S, NULL, -1, NULL, 10, "garbage", 0, &l),
	       TB_EINVAL, "a malformed cursor is refused");

	store_events(S, 0, 7, &e);
	is_int(json_array_size(json_object_get(e, "events")), 7,
	       "feed: first page of 7");
	is_int(spec_int(e, "next", 0), 7, "next is the last seq");
	is_str(
	    spec_str(json_array_get(json_object_get(e, "events"), 0), "type"),
	    "case.event", "events are case.event envelopes");
	json_decref(e);
	store_events(S, 0, 100, &e);
	{
		json_t *x;
		size_t i, good = 0;
		json_array_foreach(json_object_get(e, "events"), i, x)
		{
			struct canon_buf b = { 0 };
			struct cmd c;
			char err[128];
			cmd_encode(CMD_EVENT_CASE, spec_int(x, "at", 0), NULL,
			           json_object_get(x, "body"), &b, err,
			           sizeof(err));
			if (cmd_decode(b.data, b.len, &c, err, sizeof(err)) ==
			    0) {
				good++;
				cmd_free(&c);
			} else {
				printf("# event %zu: %s\n", i, err);
			}
			canon_buf_free(&b);
		}
		is_int(good, 20, "every event decodes as a case.event");
	}
	json_decref(e);
	store_events(S, 7, 100, &e);
	is_int(json_array_size(json_object_get(e, "events")), 13,
	       "feed: the other 13 events");
	is_int(spec_int(e, "next", 0), 20, "next 20");
	json_decref(e);
	store_events(S, 20, 100, &e);
	is_int(json_array_size(json_object_get(e, "events")), 0,
	       "feed: nothing after the last");
	is_int(spec_int(e, "next", 0), 20, "next stays");
	json_decref(e);
}

static void
test_tokens(void)
{
	uint8_t h[32];
	json_t *r, *t = NULL;
	char hex[65];

	crypto_generichash(h, 32, (const uint8_t *)"secret-1", 8, NULL, 0);
	canon_hex(h, 32, hex);
	r = run(CMD_TOKEN_CREATE, "2026-03-05", NULL,
	        json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", "tok-1", "hash",
	                  hex, "role", "clerk", "region", "370102", "expires",
	                  (json_int_t)ms("2027-01-01")));
	is_str(spec_str(json_object_get(r, "token"), "id"), "tok-1",
	       "token created");
	json_decref(r);
	is_int(store_token_lookup(S, h, &t), TB_OK, "looked up by hash");
	is_str(spec_str(t, "role"), "clerk", "with its role");
	ok(json_object_get(t, "hash") == NULL, "the hash is not echoed");
	json_decref(t);
	refused("token id taken", CMD_TOKEN_CREATE, "2026-03-05", NULL,
	        json_pack("{s:s, s:s, s:s, s:s}", "id", "tok-1", "hash",
	                  SU_HASH, "role", "clerk", "region", "370102"),
	        "duplicate", "$.body.id");
	refused("token secret taken", CMD_TOKEN_CREATE, "2026-03-05", NULL,
	        json_pack("{s:s, s:s, s:s, s:s}", "id", "tok-2", "hash", hex,
	                  "role", "clerk", "region", "370102"),
	        "duplicate", "$.body.hash");
	json_decref(run(CMD_TOKEN_REVOKE, "2026-03-05", NULL,
	                json_pack("{s:s}", "id", "tok-1")));
	is_int(store_token_lookup(S, h, &t), TB_ENOTFOUND,
	       "a revoked token is not found");
	refused("revoked twice", CMD_TOKEN_REVOKE, "2026-03-05", NULL,
	        json_pack("{s:s}", "id", "tok-1"), "not_found", "$.body.id");
}

static void
test_edges(void)
{
	struct canon_buf b = { 0 };
	json_t *env, *r = NULL, *c;
	char err[128];
	uint64_t before = store_applied_index(S);

	env = json_pack("{s:s, s:i, s:I, s:{}}", "type", "case.teleport", "v",
	                1, "at", (json_int_t)ms("2026-03-05"), "body");
	canon_encode(env, &b, err, sizeof(err));
	is_int(store_apply(S, before + 1, b.data, b.len, &r), TB_EUNKNOWN,
	       "an unknown command type stops the member");
	ok(r == NULL, "with no result");
	is_int(store_applied_index(S), before, "and nothing applied");
	json_decref(env);
	canon_buf_free(&b);
	env =
	    json_pack("{s:s, s:i, s:I, s:{s:s}}", "type", "token.revoke", "v",
	              9, "at", (json_int_t)ms("2026-03-05"), "body", "id", "x");
	canon_encode(env, &b, err, sizeof(err));
	is_int(store_apply(S, before + 1, b.data, b.len, &r), TB_EUNKNOWN,
	       "so does a body version this build does not know");
	json_decref(env);
	canon_buf_free(&b);
	env = json_pack("{s:s, s:i, s:I, s:{s:i}}", "type", "group.feature",
	                "v", 1, "at", (json_int_t)ms("2026-03-05"), "body",
	                "level", TB_FEATURE_LEVEL + 1);
	canon_encode(env, &b, err, sizeof(err));
	is_int(store_apply(S, before + 1, b.data, b.len, &r), TB_EFEATURE,
	       "so does a feature level beyond this build (the group "
	       "decided it; this member cannot follow)");
	is_int(store_applied_index(S), before, "  and nothing applied");
	is_int(store_feature_level(S), 1, "  the level stays 1");
	json_decref(env);
	canon_buf_free(&b);

	/* Bytes that are not a canonical command are refused alike by
	 * every member: a result, not a stop. */
	LOG[NLOG].index = ++IDX;
	canon_buf_append(&LOG[NLOG].buf, "\xc1", 1);
	is_int(store_apply(S, IDX, LOG[NLOG].buf.data, 1, &r), TB_OK,
	       "garbage bytes are applied as a refusal");
	ok(errcode(r) != NULL, "refused as %s", errcode(r));
	NLOG++;
	json_decref(r);

	/* Time is clamped monotone: an entry stamped earlier than the last
	 * one is applied at the last one's time. */
	r = run(CMD_CASE_CREATE, "2026-03-01", NULL,
	        su_food("37010220260201001X"));
	is_str(spec_str(json_object_get(r, "case"), "id"),
	       "370102-20260305-000001", "a stamp from the past is clamped");
	json_decref(r);
	/* A due date past the calendar (2026 only) is provisional. */
	json_decref(
	    step("2026-12-30", "370102-20260305-000001", "accept", 1, NULL));
	c = case_get("370102-20260305-000001", "2026-12-30");
	is_str(spec_str(c, "due"), "2027-01-04",
	       "3 G from 12-30: 12-31, then weekdays past the calendar");
	ok(json_is_true(json_object_get(c, "due_provisional")),
	   "marked provisional");
	json_decref(c);
}

static void
test_release2(void)
{
	json_t *rel = load("ops/examples/catalog-370000.json");
	json_t *cat = NULL, *m = NULL, *r, *v2, *teacher = NULL, *x;
	const char *hash;
	size_t i;

	store_catalog(S, &cat);
	hash = spec_str(json_object_get(cat, "standard"), "hash");
	json_array_foreach(json_object_get(rel, "matters"), i, x)
	{
		if (!strcmp(spec_str(x, "catalog_code"), "000104001000")) {
			teacher = json_deep_copy(x);
		}
	}
	json_object_set_new(teacher, "task_name",
	                    json_string("教师资格认定（修订）"));
	v2 = json_pack("{s:s, s:s, s:i, s:s, s:s, s:b, s:[o], s:[s], s:[], "
	               "s:[]}",
	               "format", "tongban.release/1", "region", "370000",
	               "version", 2, "prev_hash", hash, "effective_at",
	               "2027-01-01T00:00:00+08:00", "snapshot", 0, "matters",
	               teacher, "removed", "370805001000", "bundles",
	               "removed_bundles");
	x = json_deep_copy(v2);
	json_array_set_new(json_object_get(x, "removed"), 0,
	                   json_string("370805009000"));
	refused("a delta removing an unknown matter", CMD_CATALOG_RELEASE,
	        "2026-12-31", NULL, json_pack("{s:o}", "release", x),
	        "not_found", "$.body.release.removed[0]");
	r = run(CMD_CATALOG_RELEASE, "2026-12-31", NULL,
	        json_pack("{s:o}", "release", v2));
	is_int(
	    spec_int(json_object_get(json_object_get(r, "catalog"), "standard"),
	             "matters", 0),
	    41, "delta release 2: one matter replaced, one removed");
	json_decref(r);
	store_matter(S, "000104001000", &m);
	is_str(spec_str(json_object_get(m, "matter"), "task_name"),
	       "教师资格认定（修订）", "the replaced matter is effective");
	is_int(spec_int(m, "release", 0), 2, "at release 2");
	json_decref(m);
	is_int(store_matter(S, "370805001000", &m), TB_ENOTFOUND,
	       "the removed matter is gone");
	m = case_get(WALK, "2026-12-31");
	is_int(spec_int(m, "release", 0), 1, "an older case keeps its pin");
	json_decref(m);
	json_decref(cat);
	store_catalog(S, &cat);
	is_int(json_array_size(json_object_get(cat, "releases")), 2,
	       "both release documents are kept");
	json_decref(cat);
	json_decref(rel);
}

/* direct_apply applies LOG[from .. i] in the open batch of b the way
 * node/applier.c does: directly into the batch, and after a refusal
 * (STORE_REDO) the batch dropped and applied again without direct mode. */
static int
direct_apply(struct store *b, size_t from, size_t i, size_t *redos)
{
	json_t *r = NULL;
	size_t k;
	int rv;

	rv = store_apply(b, LOG[i].index, LOG[i].buf.data, LOG[i].buf.len, &r);
	json_decref(r);
	if (rv != STORE_REDO) {
		return rv;
	}
	ok(r == NULL, "a refusal in direct mode returns no result");
	(*redos)++;
	store_batch_abort(b);
	store_set_direct(b, false);
	if ((rv = store_batch_begin(b)) != 0) {
		return rv;
	}
	for (k = from; k <= i; k++) {
		r = NULL;
		rv = store_apply(b, LOG[k].index, LOG[k].buf.data,
		                 LOG[k].buf.len, &r);
		json_decref(r);
		if (rv != 0) {
			return rv;
		}
	}
	return TB_OK;
}

/* test_direct_replica: a replica applying the log in batches of 5 in
 * direct mode (store_set_direct), as the node's writer does, ends with the
 * same state as one nested transaction per apply (d0 at applied). */
static void
test_direct_replica(const uint8_t d0[32], uint64_t applied)
{
	struct store *b = open_at(DIR_D, "370102", 0);
	size_t i, from = 0, redos = 0;
	uint8_t d[32];
	int rv = TB_OK;

	for (i = 0; b != NULL && rv == TB_OK && i < NLOG; i++) {
		if (i % 5 == 0) {
			rv = store_batch_commit(b);
			store_set_direct(b, true);
			from = i;
			if (rv == TB_OK) {
				rv = store_batch_begin(b);
			}
		}
		if (rv == TB_OK) {
			rv = direct_apply(b, from, i, &redos);
		}
	}
	if (b != NULL && rv == TB_OK) {
		rv = store_batch_commit(b);
	}
	is_int(rv, TB_OK, "a replica applies the log in direct batches");
	ok(redos > 0, "refusals in it were applied again (%zu batches)", redos);
	if (b != NULL) {
		digest(b, d);
		ok(!memcmp(d0, d, 32), "and ends with the same digest");
		is_int(store_applied_index(b), applied, "at the same index");
	}
	store_close(b);
	rm_rf(DIR_D);
}

static void
test_restart_and_replicas(void)
{
	struct store_options o = { 0, NULL, "370103" };
	uint8_t d0[32], d1[32], d2[32];
	struct store *b, *x = NULL;
	json_t *r = NULL;
	char err[256];
	size_t i, skipped = 0;
	uint64_t applied = store_applied_index(S);

	digest(S, d0);
	{
		/* The stored bytes of the log's state, as the tree before the
		 * write path's third round wrote them (855f477): a change of
		 * what an apply stores must be deliberate (a feature level,
		 * docs/STORE.md), and then update this. */
		char hex[65];
		canon_hex(d0, 32, hex);
		is_str(hex,
		       "c0a3cd908fb4d8d2e6f2effecaeec319a150677cf74051f0e6ecfe"
		       "9b876b531e",
		       "the state after the log has the digest of 855f477 "
		       "(index %llu)",
		       (unsigned long long)applied);
	}
	store_close(S);
	is_int(store_open(DIR_A, &o, &x, err, sizeof(err)), TB_EINVAL,
	       "reopening as another region is refused");
	like(err, "belongs to region 370102", "names the bound region");
	is_int(store_open(DIR_A, NULL, &S, err, sizeof(err)), TB_OK,
	       "reopened without options");
	is_int(store_applied_index(S), applied, "applied index survives");
	for (i = 0; i < NLOG; i++) {
		if (store_apply(S, LOG[i].index, LOG[i].buf.data,
		                LOG[i].buf.len, &r) == 0 &&
		    r == NULL) {
			skipped++;
		}
		json_decref(r);
	}
	is_int(skipped, NLOG, "every re-applied entry is skipped");
	digest(S, d1);
	ok(!memcmp(d0, d1, 32), "and the state is unchanged");

	b = open_at(DIR_B, "370102", 0);
	for (i = 0; b != NULL && i < NLOG; i++) {
		if (store_apply(b, LOG[i].index, LOG[i].buf.data,
		                LOG[i].buf.len, &r) != 0) {
			break;
		}
		json_decref(r);
	}
	is_int(i, NLOG, "a second replica applies the same log");
	digest(b, d2);
	ok(!memcmp(d0, d2, 32), "and ends with the same digest");
	is_int(store_applied_index(b), applied, "at the same index");
	store_close(b);
	test_direct_replica(d0, applied);
}

static void
test_full_map(void)
{
	struct store *small = open_at(DIR_C, "370102", 128 * 1024);
	struct store *empty = open_at(DIR_D, "370102", 0);
	uint8_t d0[32], d1[32];
	json_t *r = (json_t *)1;
	size_t i;

	ok(small != NULL && empty != NULL, "a store with a 128 KiB map");
	if (small == NULL || empty == NULL) {
		store_close(small);
		store_close(empty);
		return;
	}
	i = REL_LOG;
	is_int(store_apply(small, 1, LOG[i].buf.data, LOG[i].buf.len, &r),
	       TB_EFULL, "the release does not fit: TB_EFULL");
	ok(r == NULL, "no result");
	is_int(store_applied_index(small), 0, "nothing applied");
	digest(small, d0);
	digest(empty, d1);
	ok(!memcmp(d0, d1, 32), "nothing written");
	r = NULL;
	is_int(store_apply(small, 1, LOG[NLOG - 1].buf.data,
	                   LOG[NLOG - 1].buf.len, &r),
	       TB_OK, "the store still applies what fits");
	json_decref(r);
	is_int(store_applied_index(small), 1, "and records it");
	store_close(small);
	store_close(empty);
	rm_rf(DIR_D);
}

/* test_rate_direct: the writer's way (node/applier.c): the 10,000 case
 * creations of test_rate, each with a receiver as POST /v1/cases sets
 * it, in direct batches of 40 (about what a node takes at 64
 * connections), one commit each (TB_STORE_RATE_CARD set: su_card()'s
 * instead, another shape of record for the digest; TB_STORE_RATE_LEVEL=N:
 * at feature level N). Prints the CPU the applying
 * thread spent per case (applies and commits), the figure docs/BENCH.md's
 * "store writer" rounds compare between builds. */
static void
test_rate_direct(void)
{
	enum { N = 10000, BATCH = 40 };
	struct store *p;
	struct canon_buf *cmds = calloc(N, sizeof(*cmds));
	struct timespec t0, t1;
	json_t *r = NULL, *b;
	size_t i, done = 0;
	uint8_t d[32];
	char hex[65];
	int rv = TB_OK;
	double secs;

	rm_rf(DIR_D); /* test_rate's store */
	p = open_at(DIR_D, "370102", 0);
	for (i = 0; p != NULL && i <= OV_LOG; i++) {
		store_apply(p, i + 1, LOG[i].buf.data, LOG[i].buf.len, &r);
		json_decref(r);
	}
	if (p != NULL && getenv("TB_STORE_RATE_LEVEL") != NULL) {
		/* At a feature level that keeps the summaries (2 and up). */
		struct canon_buf lv =
		    encode(CMD_GROUP_FEATURE, "2026-04-01", NULL,
		           json_pack("{s:i}", "level",
		                     atoi(getenv("TB_STORE_RATE_LEVEL"))));
		store_apply(p, 99, lv.data, lv.len, &r);
		ok(r != NULL && errcode(r) == NULL, "the feature level raised");
		json_decref(r);
		canon_buf_free(&lv);
	}
	for (i = 0; cmds != NULL && i < N; i++) {
		b = getenv("TB_STORE_RATE_CARD") != NULL
		        ? su_card("370102198808085675")
		        : su_food("370102198808085675");
		json_object_set_new(b, "receiver", json_string("clerk-7"));
		cmds[i] = encode(CMD_CASE_CREATE, "2026-04-01", NULL, b);
	}
	if (p != NULL) {
		store_set_direct(p, true);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	for (i = 0; p != NULL && cmds != NULL && rv == TB_OK && i < N; i++) {
		if (i % BATCH == 0 && (rv = store_batch_begin(p)) != 0) {
			break;
		}
		r = NULL;
		if ((rv = store_apply(p, 100 + i, cmds[i].data, cmds[i].len,
		                      &r)) == 0 &&
		    errcode(r) == NULL) {
			done++;
		}
		json_decref(r);
		if (rv == 0 && (i % BATCH == BATCH - 1 || i == N - 1)) {
			rv = store_batch_commit(p);
		}
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	is_int(rv, TB_OK, "direct batches of %d apply and commit", BATCH);
	is_int(done, N, "10,000 cases created in them");
	is_int(p != NULL ? store_applied_index(p) : 0, 100 + N - 1,
	       "up to the last index");
	printf("# %d case creations in direct batches of %d: %.1f us of "
	       "CPU per case (this thread, this build)\n",
	       N, BATCH, secs * 1e6 / N);
	if (p != NULL) {
		/* The same for every build that stores the same bytes. */
		digest(p, d);
		canon_hex(d, 32, hex);
		printf("# their state's digest: %s\n", hex);
	}
	for (i = 0; cmds != NULL && i < N; i++) {
		canon_buf_free(&cmds[i]);
	}
	free(cmds);
	store_close(p);
	rm_rf(DIR_D);
}

static void
test_rate(void)
{
	enum { N = 10000 };
	struct store *p = open_at(DIR_D, "370102", 0);
	struct canon_buf *cmds = calloc(N, sizeof(*cmds));
	struct timespec t0, t1;
	json_t *r = NULL, *st = NULL;
	size_t i, done = 0;
	double secs;

	for (i = 0; p != NULL && i <= OV_LOG; i++) {
		store_apply(p, i + 1, LOG[i].buf.data, LOG[i].buf.len, &r);
		json_decref(r);
	}
	for (i = 0; cmds != NULL && i < N; i++) {
		cmds[i] = encode(CMD_CASE_CREATE, "2026-04-01", NULL,
		                 su_food("370102198808085675"));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; p != NULL && cmds != NULL && i < N; i++) {
		if (store_apply(p, 100 + i, cmds[i].data, cmds[i].len, &r) ==
		        0 &&
		    errcode(r) == NULL) {
			done++;
		}
		json_decref(r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	is_int(done, N, "10,000 cases created (with the county's catalog)");
	if (p != NULL) {
		store_status(p, &st);
	}
	is_int(spec_int(json_object_get(st, "cases"), "total", 0), N,
	       "status counts them");
	printf("# %d case creations in %.2f s: %.0f applies/s (this build)\n",
	       N, secs, secs > 0 ? N / secs : 0);
	json_decref(st);
	for (i = 0; cmds != NULL && i < N; i++) {
		canon_buf_free(&cmds[i]);
	}
	free(cmds);
	store_close(p);
}

int
main(void)
{
	const char *dirs[] = { DIR_A, DIR_B, DIR_C, DIR_D };
	size_t i;

	if (sodium_init() < 0) {
		return 1;
	}
	for (i = 0; i < 4; i++) {
		snprintf((char *)dirs[i], 64, "/tmp/tb-store-XXXXXX");
		if (mkdtemp((char *)dirs[i]) == NULL) {
			perror("mkdtemp");
			return 1;
		}
	}
	rm_rf(DIR_A); /* store_open creates the directory itself */
	test_open();
	if (S != NULL && getenv("TB_STORE_RATE_ONLY") != NULL) {
		/* The rate alone, to compare builds (docs/BENCH.md). */
		test_catalog();
		test_rate_direct();
	} else if (S != NULL) {
		test_catalog();
		test_create();
		test_idempotency();
		test_bundle();
		test_lifecycle();
		test_lists();
		test_tokens();
		test_edges();
		test_release2();
		test_restart_and_replicas();
		test_full_map();
		test_rate();
		test_rate_direct();
	}
	store_close(S);
	for (i = 0; i < NLOG; i++) {
		canon_buf_free(&LOG[i].buf);
	}
	for (i = 0; i < 4; i++) {
		rm_rf(dirs[i]);
	}
	return done_testing();
}
