/* Fuzz overlays: overlay_check against the example standard layer (and
 * the example city overlay above a county), then the effective matters
 * and hashes of every entry of an accepted overlay. */
#include "fuzz/fuzz_util.h"
#include "schema/catalog.h"
#include "schema/error.h"
#include "schema/overlay.h"

/* Used when the example files are not at hand: one matter of the example
 * layer, in single quotes for readability. */
static const char small_catalog[] =
    "{'format':'tongban.release/1','region':'370000','version':1,"
    "'prev_hash':null,'effective_at':'2026-01-01T00:00:00+08:00',"
    "'snapshot':true,'removed':[],'bundles':[],'removed_bundles':[],"
    "'matters':[{'catalog_code':'000117001000','task_handle_item':'01',"
    "'task_name':'食品经营许可（新办）','task_type':'01',"
    "'competent_dept':'省市场监督管理局',"
    "'by_law':'《中华人民共和国食品安全法》第三十五条',"
    "'use_level':['3','4'],'anticipate_day':20,'anticipate_type':'G',"
    "'promise_day':10,'promise_type':'G','project_type':'2',"
    "'handle_scope':'local','handle_type':['1','2','3'],'key_list':true,"
    "'accept_condition':'申请人应当取得营业执照等合法主体资格',"
    "'process':[{'step':1,'name':'受理','role':'窗口','time_limit':1},"
    "{'step':2,'name':'决定'}],"
    "'materials':[{'code':'M01','name':'食品经营许可申请书',"
    "'required':true,'format':'either','source':'applicant'}],"
    "'form':[{'name':'applicant_name','label':'姓名','type':'string',"
    "'required':true,'max_len':50}],"
    "'charge':{'is_charge':true,'basis':'依据','items':[{'name':'工本费',"
    "'max_fen':1000}]}}]}";

static struct catalog cat;
static json_t *city; /* overlay-370100, above the counties of 370100 */

static json_t *
load_small(void)
{
	char buf[sizeof(small_catalog)];
	size_t i;

	for (i = 0; i < sizeof(buf); i++) {
		buf[i] = small_catalog[i] == '\'' ? '"' : small_catalog[i];
	}
	return json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_t *rel = fuzz_load_example("ops/examples/catalog-370000.json");
	struct tb_diag d;
	int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < 2; i++) {
		if (rel == NULL) {
			rel = load_small();
		}
		fuzz_check(catalog_init(&cat) == TB_OK, "catalog_init");
		tb_diag_init(&d);
		if (catalog_apply(&cat, rel, NULL, &d) == TB_OK) {
			break;
		}
		fprintf(stderr, "fuzz: catalog refused: %s: %s\n",
		        d.n ? d.e[0].path : "", d.n ? d.e[0].msg : "");
		catalog_fini(&cat);
		json_decref(rel);
		rel = NULL;
	}
	json_decref(rel);
	fuzz_check(cat.version == 1, "a standard layer to check against");
	city = fuzz_load_example("ops/examples/overlay-370100.json");
	return 0;
}

/* effective builds every entry's effective matter and its hashes. */
static void
effective(const json_t *const *above, size_t nabove, const json_t *ov)
{
	json_t *entries = json_object_get(ov, "entries"), *e, *out;
	uint8_t all[CANON_HASH_LEN], locked[CANON_HASH_LEN];
	size_t i;
	int rv;

	json_array_foreach(entries, i, e)
	{
		char key[128];
		out = NULL;
		if (overlay_entry_key(e, key, sizeof(key)) != TB_OK) {
			continue;
		}
		rv = overlay_effective(&cat, above, nabove, ov, key, &out);
		fuzz_check(rv == TB_OK && out != NULL,
		           "an accepted entry has an effective matter");
		fuzz_check(overlay_hashes(out, all, locked) == TB_OK,
		           "an effective matter hashes");
		json_decref(out);
	}
	out = NULL;
	rv = overlay_effective(&cat, above, nabove, ov, "no such code", &out);
	fuzz_check(rv == TB_ENOTFOUND && out == NULL, "unknown task code");
}

static void
check(const json_t *const *above, size_t nabove, const json_t *ov)
{
	struct tb_diag d;
	int n;

	tb_diag_init(&d);
	n = overlay_check(&cat, above, nabove, ov, "$", &d);
	fuzz_check(n >= 0 && (n == 0) == (d.n == 0),
	           "overlay_check counts what it reports");
	if (n == 0) {
		effective(above, nabove, ov);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = fuzz_json(data, size);
	const char *region;

	if (j == NULL) {
		return 0;
	}
	check(NULL, 0, j);
	region = json_string_value(json_object_get(j, "region"));
	if (city != NULL && region != NULL && !strncmp(region, "3701", 4) &&
	    strcmp(region, "370100") != 0) {
		check((const json_t *const *)&city, 1, j);
	}
	json_decref(j);
	return 0;
}
