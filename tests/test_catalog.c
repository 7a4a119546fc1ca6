/* Tests for releases, matters, bundles, the chain and signatures. */
#include "schema/bundle.h"
#include "schema/catalog.h"
#include "schema/matter.h"
#include "schema/trust.h"
#include "tests/mutate.h"
#include "tests/tap.h"

#define CATALOG "ops/examples/catalog-370000.json"

struct mut {
	const char *path;
	const char *value; /* JSON text, "@path" copy, or NULL = delete */
};

struct bad_case {
	const char *name;
	struct mut ops[3];
	int code;
	const char *path;
	const char *msg;
};

/* Each case breaks the valid example in one way and names the first error
 * the checker must report. Matter 0 is 食品经营许可（新办）, a key-list
 * licensing matter 000117001000#01. */
static const struct bad_case bad[] = {
	{ "short basic code",
	  { { "matters/0/catalog_code", "\"00011700100\"" } },
	  TB_ECODE,
	  "$.matters[0].catalog_code",
	  "must be 12 characters, not 11" },
	{ "basic code with a fake source",
	  { { "matters/0/catalog_code", "\"990117001000\"" } },
	  TB_ECODE,
	  "$.matters[0].catalog_code",
	  "source \"99\" is neither 00 (national) nor a province prefix" },
	{ "basic code type digits differ from task_type",
	  { { "matters/0/catalog_code", "\"000717001000\"" } },
	  TB_ECODE,
	  "$.matters[0].catalog_code",
	  "type digits \"07\" differ from task_type \"01\"" },
	{ "unknown matter type",
	  { { "matters/0/task_type", "\"99\"" } },
	  TB_ECODE,
	  "$.matters[0].task_type",
	  "\"99\" is not a matter type" },
	{ "local field in the standard layer",
	  { { "matters/0/dept_name", "\"济南市市场监督管理局\"" } },
	  TB_EOWNER,
	  "$.matters[0].dept_name",
	  "is local: set it in a city or county overlay" },
	{ "unknown field",
	  { { "matters/0/task_nmae", "\"x\"" } },
	  TB_EUNKNOWN,
	  "$.matters[0].task_nmae",
	  "unknown field 'task_nmae'" },
	{ "missing name",
	  { { "matters/0/task_name", NULL } },
	  TB_EMISSING,
	  "$.matters[0].task_name",
	  "required field 'task_name' is missing" },
	{ "limit as a string",
	  { { "matters/0/anticipate_day", "\"20\"" } },
	  TB_ETYPE,
	  "$.matters[0].anticipate_day",
	  "must be an integer" },
	{ "limit as a float",
	  { { "matters/0/anticipate_day", "20.5" } },
	  TB_ETYPE,
	  "$.matters[0].anticipate_day",
	  "must be an integer" },
	{ "bad unit",
	  { { "matters/0/anticipate_type", "\"W\"" } },
	  TB_ECODE,
	  "$.matters[0].anticipate_type",
	  "\"W\" is not a valid time unit" },
	{ "name too long",
	  { { "matters/0/task_name",
	      "\"食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "食品经营许可食品经营许可食品经营许可食品经营许可食品经营许可"
	      "\"" } },
	  TB_ERANGE,
	  "$.matters[0].task_name",
	  "has 300 characters, at most 200 allowed" },
	{ "promised later than statutory",
	  { { "matters/0/promise_day", "25" } },
	  TB_ERANGE,
	  "$.matters[000117001000#01].promise_day",
	  "25 G exceeds 20 G" },
	{ "process steps out of order",
	  { { "matters/0/process/1/step", "3" } },
	  TB_ERANGE,
	  "$.matters[0].process[1].step",
	  "step 3 out of order: expected 2" },
	{ "duplicate material code",
	  { { "matters/0/materials/1/code", "\"M01\"" } },
	  TB_EDUP,
	  "$.matters[0].materials[1].code",
	  "material code \"M01\" is used twice" },
	{ "form field of an unknown type",
	  { { "matters/0/form/0/type", "\"float\"" } },
	  TB_ECODE,
	  "$.matters[0].form[0].type",
	  "\"float\" is not a valid form field type" },
	{ "empty use_level",
	  { { "matters/0/use_level", "[]" } },
	  TB_ERANGE,
	  "$.matters[0].use_level",
	  "must not be empty" },
	{ "use_level out of the national list",
	  { { "matters/0/use_level", "[\"3\", \"8\"]" } },
	  TB_ECODE,
	  "$.matters[0].use_level[1]",
	  "'8' is not a valid use_level" },
	{ "fee without basis",
	  { { "matters/0/charge", "{\"is_charge\": true, \"items\": "
	                          "[{\"name\": \"x\", \"max_fen\": 1}]}" } },
	  TB_EMISSING,
	  "$.matters[0].charge.basis",
	  "a fee needs its legal basis" },
	{ "matter listed twice",
	  { { "matters/+", "@matters/0" } },
	  TB_EDUP,
	  "$.matters[",
	  "000117001000#01 is listed twice (also at index 0)" },
	{ "release of a city",
	  { { "region", "\"370100\"" } },
	  TB_ECODE,
	  "$.region",
	  "\"370100\" is not a province code" },
	{ "version 2 without prev_hash",
	  { { "version", "2" } },
	  TB_ECHAIN,
	  "$.prev_hash",
	  "version 2 needs the previous release's hash" },
	{ "prev_hash that is not a hash",
	  { { "prev_hash", "\"abc\"" } },
	  TB_ECODE,
	  "$.prev_hash",
	  "not a BLAKE2b-256 hash" },
	{ "date without time",
	  { { "effective_at", "\"2026-01-01\"" } },
	  TB_EMALFORMED,
	  "$.effective_at",
	  "is not an RFC 3339 time with offset" },
	{ "wrong format tag",
	  { { "format", "\"tongban.release/9\"" } },
	  TB_ECODE,
	  "$.format",
	  "is not tongban.release/1" },
	{ "bundle dependency cycle",
	  { { "bundles/0/members/0/after", "[\"ss_card\"]" } },
	  TB_ECYCLE,
	  "$.bundles[370000YJS001].members",
	  "has a cycle" },
	{ "bundle member waits for itself",
	  { { "bundles/0/members/0/after", "[\"birth_cert\"]" } },
	  TB_ECYCLE,
	  "$.bundles[370000YJS001].members[0].after[0]",
	  "member \"birth_cert\" waits for itself" },
	{ "bundle member after an unknown id",
	  { { "bundles/0/members/1/after", "[\"nobody\"]" } },
	  TB_ENOTFOUND,
	  "$.bundles[370000YJS001].members[1].after[0]",
	  "\"nobody\" is not a member of this bundle" },
	{ "bundle member of a matter not in the catalog",
	  { { "bundles/0/members/1/catalog_code", "\"002032099000\"" } },
	  TB_ENOTFOUND,
	  "$.bundles[370000YJS001].members[1].catalog_code",
	  "names matter 002032099000, which is not in the catalog" },
	{ "shared field mapped to a missing field",
	  { { "bundles/0/form/0/maps/0/field", "\"no_such_field\"" } },
	  TB_ENOTFOUND,
	  "$.bundles[370000YJS001].form[0].maps[0]",
	  "member \"birth_cert\" has no form field \"no_such_field\"" },
	{ "shared field mapped to another type",
	  { { "bundles/0/form/0/type", "\"text\"" } },
	  TB_ETYPE,
	  "$.bundles[370000YJS001].form[0].maps[0]",
	  "maps a text field onto birth_cert.applicant_name, a string "
	  "field" },
	{ "required member field not fed",
	  { { "bundles/0/form/0/maps/0", NULL } },
	  TB_EMISSING,
	  "$.bundles[370000YJS001].form",
	  "required field \"applicant_name\" of member \"birth_cert\" is fed "
	  "by no shared field" },
	{ "lead department also cooperating",
	  { { "bundles/0/coop_depts/+", "\"省卫生健康委员会\"" } },
	  TB_EDUP,
	  "$.bundles[370000YJS001].coop_depts[3]",
	  "is not also a cooperating one" },
	{ "removing from a snapshot",
	  { { "removed", "[\"000117001000#01\"]" } },
	  TB_ERANGE,
	  "$.removed",
	  "a snapshot lists the whole layer" },
	{ "calendar make-up day on a Monday",
	  { { "calendar/workdays/0/date", "\"2026-01-05\"" } },
	  TB_EINVAL,
	  "$.calendar.workdays[0].date",
	  "Monday" },
};

static json_t *
load(void)
{
	json_t *c = mut_load(CATALOG);

	if (c == NULL) {
		printf("Bail out! cannot load %s\n", CATALOG);
		exit(1);
	}
	return c;
}

/* apply_one folds doc into a fresh catalog and returns the diag. */
static int
apply_one(const json_t *doc, const json_t *root, struct tb_diag *d)
{
	struct catalog c;
	int rv;

	tb_diag_init(d);
	catalog_init(&c);
	rv = catalog_apply(&c, doc, root, d);
	catalog_fini(&c);
	return rv;
}

static void
test_bad_cases(void)
{
	size_t i, j;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *b = &bad[i];
		json_t *doc = load();
		struct tb_diag d;
		int rv = 0;

		for (j = 0; j < 3 && b->ops[j].path != NULL; j++) {
			rv |= mut_set(doc, b->ops[j].path, b->ops[j].value);
		}
		ok(rv == 0, "%s: mutation applies", b->name);
		rv = apply_one(doc, NULL, &d);
		is_str(tb_errname(rv), tb_errname(b->code), "%s: code",
		       b->name);
		like(d.n > 0 ? d.e[0].path : "", b->path, "%s: path", b->name);
		like(d.n > 0 ? d.e[0].msg : "", b->msg, "%s: message", b->name);
		json_decref(doc);
	}
}

static void
test_valid_example(void)
{
	struct catalog c;
	struct tb_diag d;
	json_t *doc = load();
	size_t n;

	tb_diag_init(&d);
	catalog_init(&c);
	is_int(catalog_apply(&c, doc, NULL, &d), TB_OK,
	       "the example release is valid");
	for (n = 0; n < (size_t)d.n; n++) {
		printf("#   %s: %s\n", d.e[n].path, d.e[n].msg);
	}
	is_int(c.version, 1, "catalog at version 1");
	is_str(c.region, "370000", "region 370000");
	ok(json_object_size(c.matters) >= 30, "at least 30 matters (%zu)",
	   json_object_size(c.matters));
	ok(json_object_get(c.bundles, "370000YJS001") != NULL,
	   "新生儿出生一件事 bundle present");
	ok(catalog_matter(&c, "000117001000#01") != NULL,
	   "matters are keyed by basic code # handling item");
	ok(c.cal != NULL, "the release's calendar is parsed");
	{
		size_t order[64];
		int k = bundle_order(json_object_get(c.bundles, "370000YJS001"),
		                     order, 64);
		is_int(k, 5, "bundle order covers its 5 members");
		is_int(order[0], 0, "the birth certificate comes first");
	}
	catalog_fini(&c);
	json_decref(doc);
}

static void
test_codes(void)
{
	char err[200];
	char code[19] = "11370100MB2855143";

	/* 91350100M000100Y43 is a published example credit code. */
	is_int(matter_credit_code_check("91350100M000100Y43", err, sizeof(err)),
	       TB_OK, "a real credit code passes");
	is_int(matter_credit_code_check("91350100M000100Y44", err, sizeof(err)),
	       TB_ECODE, "a wrong check character fails");
	like(err, "check character is '4', expected '3'",
	     "and names the expected one");
	is_int(matter_credit_code_check("91350100M000100I43", err, sizeof(err)),
	       TB_ECODE, "letter I is not allowed");
	like(err, "character 16 'I' is not allowed", "and is named");
	code[17] = matter_credit_check_char(code);
	code[18] = '\0';
	is_int(matter_credit_code_check(code, err, sizeof(err)), TB_OK,
	       "computed check character verifies");
	is_int(matter_task_code_check("91350100M000100Y43300011700100", err,
	                              sizeof(err)),
	       TB_ECODE, "30-character task code");
	like(err, "must be 31 characters", "names the length");
	is_int(matter_task_code_check("91350100M000100Y438000117001000", err,
	                              sizeof(err)),
	       TB_ECODE, "level digit 8");
	like(err, "level digit '8' must be 1-7", "names the digit");
	is_int(matter_task_code_check("91350100M000100Y433000117001000", err,
	                              sizeof(err)),
	       TB_OK, "a well-formed task code");
}

static void
chain_release(json_t *v2, const struct catalog *c, long long version)
{
	char hex[2 * CANON_HASH_LEN + 1];

	canon_hex(c->hash, CANON_HASH_LEN, hex);
	json_object_set_new(v2, "version", json_integer(version));
	json_object_set_new(v2, "prev_hash", json_string(hex));
	json_object_set_new(v2, "snapshot", json_false());
	json_object_del(v2, "calendar");
	json_object_set_new(v2, "bundles", json_array());
}

static void
test_chain(void)
{
	struct catalog c;
	struct tb_diag d;
	json_t *v1 = load(), *v2, *m;
	uint8_t h1[CANON_HASH_LEN];
	char code[32];
	size_t before;

	catalog_init(&c);
	tb_diag_init(&d);
	is_int(catalog_apply(&c, v1, NULL, &d), TB_OK, "v1 applies");
	memcpy(h1, c.hash, sizeof(h1));
	before = json_object_size(c.matters);

	/* v2 changes one matter's name and removes another. */
	v2 = json_deep_copy(v1);
	chain_release(v2, &c, 2);
	m = json_deep_copy(json_array_get(json_object_get(v1, "matters"), 0));
	json_object_set_new(m, "task_name",
	                    json_string("食品经营许可（新办，2026修订）"));
	json_object_set_new(v2, "matters", json_pack("[o]", m));
	json_object_set_new(v2, "removed", json_pack("[s]", "000117001000#02"));

	tb_diag_init(&d);
	is_int(catalog_apply(&c, v1, NULL, &d), TB_ECHAIN,
	       "re-applying v1 is refused");
	like(d.e[0].msg, "not newer than the applied version 1", "named");
	like(d.e[0].msg, "(applied already: a retry finds it there",
	     "  as applied already, not as a rollback (a retried publish)");

	json_object_set_new(v2, "version", json_integer(3));
	tb_diag_init(&d);
	is_int(catalog_apply(&c, v2, NULL, &d), TB_ECHAIN, "v3 after v1");
	like(d.e[0].msg, "skips versions after 1 (gap)", "is a gap");
	json_object_set_new(v2, "version", json_integer(2));

	json_object_set_new(v2, "prev_hash",
	                    json_string("00000000000000000000000000000000"
	                                "00000000000000000000000000000000"));
	tb_diag_init(&d);
	is_int(catalog_apply(&c, v2, NULL, &d), TB_ECHAIN,
	       "v2 with another prev_hash");
	like(d.e[0].msg, "a fork", "is a fork");
	is_int(c.version, 1, "refused releases leave the catalog at v1");
	ok(memcmp(c.hash, h1, sizeof(h1)) == 0, "and its hash unchanged");

	chain_release(v2, &c, 2);
	json_object_set_new(v2, "removed", json_pack("[s]", "000117001000#02"));
	tb_diag_init(&d);
	is_int(catalog_apply(&c, v2, NULL, &d), TB_OK, "v2 applies");
	is_int(c.version, 2, "catalog at v2");
	is_int(json_object_size(c.matters), before - 1, "one matter removed");
	is_str(spec_str(catalog_matter(&c, "000117001000#01"), "task_name"),
	       "食品经营许可（新办，2026修订）", "the changed matter");
	ok(c.cal != NULL, "the v1 calendar stays when v2 has none");

	/* Removing something that is not there is refused. */
	json_decref(v2);
	v2 = json_deep_copy(v1);
	chain_release(v2, &c, 3);
	json_object_set_new(v2, "matters", json_array());
	json_object_set_new(v2, "removed", json_pack("[s]", "000117001000#02"));
	tb_diag_init(&d);
	is_int(catalog_apply(&c, v2, NULL, &d), TB_ENOTFOUND,
	       "removing a removed matter");
	like(d.e[0].msg, "matter 000117001000#02 is not in the layer",
	     "names it");

	/* Removing a matter that a bundle needs breaks the bundle. */
	json_object_set_new(v2, "removed", json_pack("[s]", "000706001000"));
	tb_diag_init(&d);
	is_int(catalog_apply(&c, v2, NULL, &d), TB_ENOTFOUND,
	       "removing a bundle member's matter");
	like(d.e[0].msg, "names matter 000706001000, which is not in",
	     "the bundle says which member");
	is_int(c.version, 2, "still at v2");

	/* A refused delta leaves the layer as it was: the matters it
	 * changed, added and removed are put back (a delta is folded into
	 * the layer itself, not into a copy). */
	m = json_deep_copy(json_array_get(json_object_get(v1, "matters"), 0));
	json_object_set_new(m, "task_name", json_string("改了又放回"));
	{
		/* A new matter: another's under a code of its own, as
		 * ops/bench.d/region.sh clones them. */
		json_t *nm = json_deep_copy(
		    json_array_get(json_object_get(v1, "matters"), 2));
		snprintf(code, sizeof(code), "%.4s90001000",
		         spec_str(nm, "catalog_code"));
		json_object_set_new(nm, "catalog_code", json_string(code));
		json_object_set_new(v2, "matters", json_pack("[o, o]", m, nm));
	}
	json_object_set_new(v2, "removed", json_pack("[s]", "000706001000"));
	tb_diag_init(&d);
	is_int(catalog_apply(&c, v2, NULL, &d), TB_ENOTFOUND,
	       "a delta that changes one matter, adds one and removes a "
	       "bundle member's: refused once folded");
	is_int(json_object_size(c.matters), before - 1,
	       "  the layer has as many matters as before");
	is_str(spec_str(catalog_matter(&c, "000117001000#01"), "task_name"),
	       "食品经营许可（新办，2026修订）", "  the changed one as it was");
	ok(catalog_matter(&c, "000706001000") != NULL,
	   "  the removed one back");
	ok(catalog_matter(&c, code) == NULL, "  and the added one (%s) gone",
	   code);
	m = json_deep_copy(json_array_get(json_object_get(v1, "matters"), 0));
	json_object_set_new(m, "task_name", json_string("改了又放回"));
	json_object_set_new(m, "promise_type", json_string("G"));
	json_object_set_new(m, "anticipate_type", json_string("G"));
	json_object_set_new(m, "promise_day", json_integer(30));
	json_object_set_new(m, "anticipate_day", json_integer(20));
	json_object_set_new(v2, "matters", json_pack("[o]", m));
	json_object_set_new(v2, "removed", json_array());
	tb_diag_init(&d);
	is_int(catalog_apply(&c, v2, NULL, &d), TB_ERANGE,
	       "a delta whose matter promises more than the statutory limit");
	like(d.e[0].path, "$.matters[000117001000#01].promise_day",
	     "  names it (only the delta's matters are checked)");
	is_str(spec_str(catalog_matter(&c, "000117001000#01"), "task_name"),
	       "食品经营许可（新办，2026修订）",
	       "  and the layer keeps its own");
	is_int(c.version, 2, "  still at v2");

	json_decref(v1);
	json_decref(v2);
	catalog_fini(&c);
}

static void
keypair(uint8_t pk[32], uint8_t sk[64], char hex[65], unsigned char seed)
{
	uint8_t s[32];

	memset(s, seed, sizeof(s));
	crypto_sign_seed_keypair(pk, sk, s);
	canon_hex(pk, 32, hex);
}

static void
test_signatures(void)
{
	uint8_t pk[4][32], sk[4][64];
	char hex[4][65], err[200];
	struct tb_diag d;
	json_t *root, *root2, *rel;
	int i;

	for (i = 0; i < 4; i++) {
		keypair(pk[i], sk[i], hex[i], (unsigned char)(i + 1));
	}
	/* 2-of-3 officers; key 3 signs releases. */
	root = json_pack("{s:s, s:s, s:i, s:s, s:i, s:[{s:s,s:s},{s:s,s:s},"
	                 "{s:s,s:s}], s:[{s:s,s:s}]}",
	                 "format", "tongban.root/1", "region", "370000",
	                 "version", 1, "expires", "2030-01-01T00:00:00+08:00",
	                 "threshold", 2, "officers", "name", "officer A", "key",
	                 hex[0], "name", "officer B", "key", hex[1], "name",
	                 "officer C", "key", hex[2], "release_keys", "name",
	                 "standard layer", "key", hex[3]);
	ok(root != NULL, "root built");
	is_int(trust_sign(root, sk[0], err, sizeof(err)), TB_OK, "A signs");
	tb_diag_init(&d);
	ok(trust_root_check(root, NULL, 0, "$", &d) > 0,
	   "one signature of two is not enough");
	like(d.e[0].msg, "signed by 1 of its officers, 2 required", "named");
	trust_sign(root, sk[2], err, sizeof(err));
	tb_diag_init(&d);
	is_int(trust_root_check(root, NULL, 0, "$", &d), 0, "2 of 3 is");
	tb_diag_init(&d);
	ok(trust_root_check(root, NULL, 1900000000000LL, "$", &d) > 0,
	   "an expired root is refused");
	like(d.e[0].msg, "the root expired", "named");

	rel = load();
	tb_diag_init(&d);
	is_int(apply_one(rel, root, &d), TB_ESIG, "unsigned release refused");
	like(d.e[0].msg, "unsigned: a release key of the 370000 root", "named");
	trust_sign(rel, sk[0], err, sizeof(err));
	tb_diag_init(&d);
	is_int(apply_one(rel, root, &d), TB_ESIG,
	       "an officer is not a release key");
	like(d.e[0].msg, "no valid signature by a release key", "named");
	trust_sign(rel, sk[3], err, sizeof(err));
	tb_diag_init(&d);
	is_int(apply_one(rel, root, &d), TB_OK, "release key signature ok");
	json_object_set_new(rel, "effective_at",
	                    json_string("2026-01-02T00:00:00+08:00"));
	tb_diag_init(&d);
	is_int(apply_one(rel, root, &d), TB_ESIG,
	       "a field changed after signing is refused");

	/* Rotation: v2 drops officer A, needs 2 of v1's officers too. */
	root2 = json_deep_copy(root);
	json_object_del(root2, "signatures");
	json_object_set_new(root2, "version", json_integer(2));
	json_array_remove(json_object_get(root2, "officers"), 0);
	json_object_set_new(root2, "threshold", json_integer(1));
	trust_sign(root2, sk[1], err, sizeof(err));
	tb_diag_init(&d);
	ok(trust_root_check(root2, root, 0, "$", &d) > 0,
	   "rotation signed by one old officer is refused");
	like(d.e[0].msg, "of the previous root's officers, 2 required",
	     "named");
	trust_sign(root2, sk[0], err, sizeof(err));
	tb_diag_init(&d);
	is_int(trust_root_check(root2, root, 0, "$", &d), 0,
	       "rotation signed by two old officers passes");
	json_object_set_new(root2, "version", json_integer(3));
	tb_diag_init(&d);
	ok(trust_root_check(root2, root, 0, "$", &d) > 0,
	   "a root version gap is refused");

	json_decref(rel);
	json_decref(root);
	json_decref(root2);
}

int
main(void)
{
	test_valid_example();
	test_bad_cases();
	test_codes();
	test_chain();
	test_signatures();
	return done_testing();
}
