/* Tests for overlays: field ownership, bounds, codes, the merge, hashes. */
#include "schema/catalog.h"
#include "schema/matter.h"
#include "schema/overlay.h"
#include "tests/mutate.h"
#include "tests/tap.h"

#define CATALOG "ops/examples/catalog-370000.json"
#define CITY    "ops/examples/overlay-370100.json"
#define COUNTY  "ops/examples/overlay-370102.json"

/* County entry 0 is 食品经营许可（新办） (key-list, 20 G statutory, the city
 * caps it at 10 G); entry 7 is a non-key-list matter (30 G, city cap 20 G);
 * entry 9 is 居民身份证 with the 工本费 fee (max 2000 fen). */
struct bad_case {
	const char *name;
	const char *path;
	const char *value;
	int code;
	const char *where;
	const char *msg;
};

static const struct bad_case bad[] = {
	{ "a standard field in an entry", "entries/0/task_name", "\"改名\"",
	  TB_EOWNER, "$.entries[0].task_name",
	  "field task_name (事项名称) of 000117001000#01 is owned by 370000 "
	  "(四级四同) and cannot be changed by 370102" },
	{ "materials of a key-list matter", "entries/0/materials", "[]",
	  TB_EOWNER, "$.entries[0].materials",
	  "is owned by 370000 (四统一 key-list matter)" },
	{ "unknown field", "entries/0/colour", "\"red\"", TB_EUNKNOWN,
	  "$.entries[0].colour", "unknown field 'colour'" },
	{ "promise above the statutory limit", "entries/0/promise_day", "21",
	  TB_ERANGE, "$.entries[0].promise_day",
	  "later than the statutory one set by 370000: 21 G exceeds 20 G" },

	{ "promise without unit", "entries/0/promise_type", NULL, TB_EMISSING,
	  "$.entries[0].promise_day",
	  "promise_day and promise_type go together" },
	{ "G promise against a Z cap", "entries/9/promise_type", "\"G\"",
	  TB_ERANGE, "$.entries[9].promise_day",
	  "later than the cap set by 370000: 20 G from 2026-" },
	{ "a wrong check character", "entries/0/task_code",
	  "\"11370102MB1529061X4000117001000\"", TB_ECODE,
	  "$.entries[0].task_code",
	  "check character is 'X', expected '1' (GB 32100-2015)" },
	{ "a city level digit in a county", "entries/0/task_code",
	  "\"11370102MB152906113000117001000\"", TB_ECODE,
	  "$.entries[0].task_code",
	  "level digit 3: entries of 370102 are level 4" },
	{ "an implementing body of another county", "entries/0/task_code",
	  "\"11370103MB1529061F4000117001000\"", TB_ECODE,
	  "$.entries[0].task_code",
	  "credit code is registered in 370103, not in 370102" },
	{ "catalog code differs from task code", "entries/0/catalog_code",
	  "\"000117001001\"", TB_ECODE, "$.entries[0].catalog_code",
	  "differs from the basic code in task_code (000117001000)" },
	{ "a matter the province does not list", "entries/0/task_handle_item",
	  "\"09\"", TB_ENOTFOUND, "$.entries[0].task_code",
	  "matter 000117001000#09 is not in the 370000 standard layer "
	  "(version 1)" },
	{ "a channel the standard does not offer", "entries/9/handle_type",
	  "[\"1\", \"2\"]", TB_ERANGE, "$.entries[9].handle_type[1]",
	  "channel 2 is not one the standard layer (370000) offers" },
	{ "a fee above the standard's maximum",
	  "entries/9/charge_items/0/amount_fen", "2500", TB_ERANGE,
	  "$.entries[9].charge_items[0]",
	  "fee \"工本费\" of 2500 fen is outside 0..2000 set by 370000" },
	{ "a fee the basis does not list", "entries/9/charge_items/0/name",
	  "\"加急费\"", TB_ERANGE, "$.entries[9].charge_items[0]",
	  "fee \"加急费\" is not in the standard layer's basis" },
	{ "made against a newer standard", "base_version", "2", TB_ECHAIN,
	  "$.base_version", "(catalog behind)" },
	{ "a province is no overlay region", "region", "\"370000\"", TB_ECODE,
	  "$.region", "370000 is not a city or county" },
	{ "a county of another province", "region", "\"110101\"", TB_ECODE,
	  "$.region", "110101 is not in province 370000" },
	{ "an unknown region", "region", "\"379999\"", TB_ECODE, "$.region",
	  "379999 is not a city or county of the region table" },
	{ "implementing body nature", "entries/0/dept_nature", "\"5\"",
	  TB_ECODE, "$.entries[0].dept_nature", "\"5\" is not 1, 2, 3 or 9" },
	{ "dept_code differs", "entries/0/dept_code", "\"11370102MB1529141L\"",
	  TB_ECODE, "$.entries[0].dept_code",
	  "differs from the credit code in task_code" },
	{ "implementing body missing", "entries/0/dept_name", NULL, TB_EMISSING,
	  "$.entries[0].dept_name", "实施主体" },
	{ "entry listed twice", "entries/+", "@entries/0", TB_EDUP,
	  "$.entries[16]",
	  "entry 11370102MB152906114000117001000#01 is listed twice" },
	{ "promise above the province's own", "entries/7/promise_day", "21",
	  TB_ERANGE, "$.entries[7].promise_day",
	  "later than the cap set by 370000: 21 G exceeds 20 G" },
	{ "broken local process", "entries/7/process/0/step", "2", TB_ERANGE,
	  "$.entries[7].process[0].step", "step 2 out of order: expected 1" },
	{ "wrong format", "format", "\"tongban.overlay/2\"", TB_ECODE,
	  "$.format", "is not tongban.overlay/1" },
	{ "entries missing", "entries", NULL, TB_EMISSING, "$.entries",
	  "required field 'entries' is missing" },
};

struct layers {
	struct catalog std;
	json_t *city;
	json_t *county;
};

static void
layers_load(struct layers *l)
{
	json_t *rel = mut_load(CATALOG);
	struct tb_diag d;

	catalog_init(&l->std);
	tb_diag_init(&d);
	l->city = mut_load(CITY);
	l->county = mut_load(COUNTY);
	if (rel == NULL || l->city == NULL || l->county == NULL ||
	    catalog_apply(&l->std, rel, NULL, &d) != 0) {
		printf("Bail out! cannot load the examples\n");
		exit(1);
	}
	json_decref(rel);
}

static void
layers_free(struct layers *l)
{
	catalog_fini(&l->std);
	json_decref(l->city);
	json_decref(l->county);
}

static int
check_county(struct layers *l, struct tb_diag *d)
{
	const json_t *above[1] = { l->city };

	tb_diag_init(d);
	return overlay_check(&l->std, above, 1, l->county, "$", d);
}

static void
test_examples(struct layers *l)
{
	struct tb_diag d;
	int i;

	tb_diag_init(&d);
	is_int(overlay_check(&l->std, NULL, 0, l->city, "$", &d), 0,
	       "the city overlay is valid");
	is_int(check_county(l, &d), 0, "the county overlay is valid");
	for (i = 0; i < d.n; i++) {
		printf("#   %s: %s\n", d.e[i].path, d.e[i].msg);
	}
}

static void
test_bad(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *b = &bad[i];
		struct layers l;
		struct tb_diag d;
		int n;

		layers_load(&l);
		ok(mut_set(l.county, b->path, b->value) == 0,
		   "%s: mutation applies", b->name);
		n = check_county(&l, &d);
		ok(n > 0, "%s: refused", b->name);
		is_str(tb_errname(tb_diag_first(&d)), tb_errname(b->code),
		       "%s: code", b->name);
		is_str(d.n ? d.e[0].path : "", b->where, "%s: path", b->name);
		if (b->msg != NULL) {
			like(d.n ? d.e[0].msg : "", b->msg, "%s: message",
			     b->name);
		}
		layers_free(&l);
	}
}

static void
test_city_as_above(void)
{
	struct layers l;
	struct tb_diag d;

	layers_load(&l);
	mut_set(l.city, "region", "\"370200\"");
	ok(check_county(&l, &d) > 0, "an overlay above that is no ancestor");
	like(d.n ? d.e[0].msg : "",
	     "the overlay of 370200 given above is not of an ancestor of "
	     "370102",
	     "is named");
	layers_free(&l);

	layers_load(&l);
	mut_set(l.city, "defaults/0/promise_day", "5");
	mut_set(l.county, "entries/0/promise_day", "6");
	ok(check_county(&l, &d) > 0, "a county promise above the city's cap");
	like(d.n ? d.e[0].msg : "",
	     "later than the cap set by 370100: 6 G exceeds 5 G", "is named");
	layers_free(&l);

	layers_load(&l);
	mut_set(l.city, "defaults/0/promise_day", "21");
	tb_diag_init(&d);
	ok(overlay_check(&l.std, NULL, 0, l.city, "$", &d) > 0,
	   "a city default above the statutory limit");
	is_str(d.n ? d.e[0].path : "", "$.defaults[0].promise_day",
	       "at its path");
	layers_free(&l);

	layers_load(&l);
	mut_set(l.city, "defaults/0/task_name", "\"x\"");
	tb_diag_init(&d);
	ok(overlay_check(&l.std, NULL, 0, l.city, "$", &d) > 0,
	   "a default may not set standard fields");
	is_int(tb_diag_first(&d), TB_EOWNER, "owner error");
	layers_free(&l);
}

static void
test_effective(void)
{
	const char *tc = "11370102MB152906114000117001000#01";
	const json_t *above[1];
	uint8_t all1[32], lk1[32], all2[32], lk2[32];
	struct layers l;
	json_t *eff = NULL, *eff2 = NULL;

	layers_load(&l);
	above[0] = l.city;
	is_int(overlay_effective(&l.std, above, 1, l.county, tc, &eff), TB_OK,
	       "effective matter of a county entry");
	is_str(spec_str(eff, "task_name"), "食品经营许可（新办）",
	       "name from the standard layer");
	is_int(spec_int(eff, "promise_day", -1), 3, "promise from the county");
	is_int(spec_int(eff, "anticipate_day", -1), 20, "statutory kept");
	like(spec_str(eff, "dept_name"), "历下区", "the county's body");
	is_int(overlay_effective(&l.std, above, 1, l.county,
	                         "11370102MB152906114000117001000", &eff2),
	       TB_ENOTFOUND, "no such entry");

	/* The city's entry for the same matter: same locked hash. */
	is_int(overlay_effective(&l.std, NULL, 0, l.city,
	                         "11370100MB285943333000117001000#01", &eff2),
	       TB_OK, "the city's entry");
	overlay_hashes(eff, all1, lk1);
	overlay_hashes(eff2, all2, lk2);
	ok(memcmp(lk1, lk2, 32) == 0,
	   "city and county share the locked-field hash");
	ok(memcmp(all1, all2, 32) != 0, "but not the whole-matter hash");

	/* A local change keeps the locked hash; a standard change not. */
	json_object_set_new(eff2, "transact_time", json_string("全天"));
	overlay_hashes(eff2, all2, lk2);
	ok(memcmp(lk1, lk2, 32) == 0, "local fields are not locked");
	json_object_set_new(eff2, "by_law", json_string("另一依据"));
	overlay_hashes(eff2, all2, lk2);
	ok(memcmp(lk1, lk2, 32) != 0, "the legal basis is locked");
	/* Key-list: materials are locked; else they are not. */
	json_object_set_new(eff2, "by_law",
	                    json_copy(json_object_get(eff, "by_law")));
	json_object_set_new(eff2, "materials", json_array());
	overlay_hashes(eff2, all2, lk2);
	ok(memcmp(lk1, lk2, 32) != 0, "key-list materials are locked (四统一)");
	json_object_set_new(eff2, "key_list", json_false());
	json_object_set_new(eff, "key_list", json_false());
	overlay_hashes(eff, all1, lk1);
	overlay_hashes(eff2, all2, lk2);
	ok(memcmp(lk1, lk2, 32) == 0, "materials of other matters are not");

	json_decref(eff);
	json_decref(eff2);
	layers_free(&l);
}

static void
test_ownership_table(void)
{
	const struct matter_field *f;
	size_t n, i;
	int locked_std = 0;

	f = matter_fields(&n);
	for (i = 0; i < n; i++) {
		if (matter_field_locked(&f[i], false)) {
			locked_std++;
		}
		ok(!(f[i].owner == OWNER_STANDARD && f[i].in_entry &&
		     strcmp(f[i].name, "catalog_code") &&
		     strcmp(f[i].name, "task_handle_item")),
		   "%s: a standard field is not settable in entries",
		   f[i].name);
	}
	ok(matter_field_locked(matter_field_find("task_name"), false),
	   "name is always locked (四级四同)");
	ok(matter_field_locked(matter_field_find("by_law"), false),
	   "legal basis is always locked");
	ok(!matter_field_locked(matter_field_find("materials"), false),
	   "materials are local for ordinary matters");
	ok(matter_field_locked(matter_field_find("materials"), true),
	   "and locked for key-list matters (四统一)");
	ok(!matter_field_locked(matter_field_find("promise_day"), true),
	   "the promised limit is always local");
	ok(matter_field_find("nonsense") == NULL, "unknown field not found");
}

/* test_cap: overlay_cap holds the promise of an effective matter to the
 * caps above it, and leaves one within them alone. */
static void
test_cap(void)
{
	const char *tc = "11370102MB152906114000117001000#01";
	const char *key = "000117001000#01";
	const json_t *above[1];
	struct layers l;
	json_t *eff = NULL;
	bool capped = true;

	layers_load(&l);
	above[0] = l.city;
	overlay_effective(&l.std, above, 1, l.county, tc, &eff);
	is_int(overlay_cap(&l.std, above, 1, key, eff, &capped), TB_OK,
	       "cap: the examples as published");
	ok(!capped && spec_int(eff, "promise_day", -1) == 3,
	   "  3 G within the city's 10 G: not capped");
	json_decref(eff);

	mut_set(l.city, "defaults/0/promise_day", "2");
	overlay_effective(&l.std, above, 1, l.county, tc, &eff);
	overlay_cap(&l.std, above, 1, key, eff, &capped);
	ok(capped, "the city's default lowered to 2 G caps the county's 3 G");
	is_int(spec_int(eff, "promise_day", -1), 2, "  promise_day 2");
	is_str(spec_str(eff, "promise_type"), "G", "  promise_type G");
	json_decref(eff);

	mut_set(l.city, "defaults/0/promise_day", "1");
	mut_set(l.city, "defaults/0/promise_type", "\"Z\"");
	overlay_effective(&l.std, above, 1, l.county, tc, &eff);
	overlay_cap(&l.std, above, 1, key, eff, &capped);
	ok(capped && spec_int(eff, "promise_day", -1) == 1 &&
	       !strcmp(spec_str(eff, "promise_type"), "Z"),
	   "a cap in natural days (1 Z) takes its day and its type");
	json_decref(eff);

	overlay_effective(&l.std, NULL, 0, l.county, tc, &eff);
	json_object_set_new(eff, "promise_day", json_integer(25));
	overlay_cap(&l.std, NULL, 0, key, eff, &capped);
	ok(capped && spec_int(eff, "promise_day", -1) <= 20,
	   "with no layer above, the standard's caps still hold (25 G)");
	json_object_del(eff, "promise_type");
	json_object_set_new(eff, "promise_day", json_integer(99));
	overlay_cap(&l.std, NULL, 0, key, eff, &capped);
	ok(!capped && spec_int(eff, "promise_day", -1) == 99,
	   "no promise_type: nothing promised, nothing capped");
	json_decref(eff);
	layers_free(&l);
}

int
main(void)
{
	struct layers l;

	layers_load(&l);
	test_examples(&l);
	layers_free(&l);
	test_bad();
	test_city_as_above();
	test_effective();
	test_cap();
	test_ownership_table();
	return done_testing();
}
