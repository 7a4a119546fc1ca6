/* Tests for a cap lowered above a promise made below, on a real county
 * store (370102): the city's overlay version 2 lowers its default for
 * 000117001000#01 to 2 G under the county's entry promising 3 G. The
 * city's layer applies (a county cannot refuse it); from feature level 5
 * (FSM_CAP_LEVEL) the effective matter takes the cap, below it the county's
 * promise is served as before; the county's overlay is reported as
 * conflicting with the words of `tongban overlay check`; a county overlay
 * with the same promise is refused, one within the cap applies. */
#include "node/store.h"
#include "schema/canon.h"
#include "schema/command.h"
#include "schema/spec.h"
#include "tests/tap.h"
#include "tests/store_util.h"

static uint64_t IDX;
static struct store *S;

static const char *CHECK_MSG =
    "000117001000#01 at 370102: promised limit later than the cap set by "
    "370100: 3 G exceeds 2 G";

/* apply applies (type, body stolen) at S and returns the result. */
static json_t *
apply(enum cmd_type t, json_t *body)
{
	struct canon_buf b = su_encode(t, SU_T0, NULL, body);
	json_t *res = NULL;
	int rv = store_apply(S, ++IDX, b.data, b.len, &res);

	canon_buf_free(&b);
	if (rv != 0) {
		printf("# store_apply: %s\n", tb_strerror(rv));
	}
	return res;
}

/* next_version makes version v + 1 of overlay doc (copied), chained. */
static json_t *
next_version(const json_t *doc)
{
	uint8_t h[CANON_HASH_LEN];
	char hex[2 * CANON_HASH_LEN + 1], err[64];
	json_t *n = json_deep_copy(doc);

	canon_hash_value(doc, "signatures", h, err, sizeof(err));
	canon_hex(h, CANON_HASH_LEN, hex);
	json_object_set_new(n, "version",
	                    json_integer(spec_int(doc, "version", 0) + 1));
	json_object_set_new(n, "prev_hash", json_string(hex));
	return n;
}

/* promise returns the effective promise_day of code at S, or -1. */
static long long
promise(const char *code)
{
	json_t *m = NULL;
	long long d = -1;

	if (store_matter(S, code, &m) == 0) {
		d = spec_int(json_object_get(m, "matter"), "promise_day", -1);
	}
	json_decref(m);
	return d;
}

static void
test_cap(void)
{
	json_t *city = su_load("ops/examples/overlay-370100.json");
	json_t *county = su_load("ops/examples/overlay-370102.json");
	json_t *city2, *county2, *r, *cf = NULL, *c;
	const char *impl = "11370102MB152906114000117001000#01";
	int i;

	for (i = 0; i < 3; i++) {
		r = apply(i == 0 ? CMD_CATALOG_RELEASE : CMD_CATALOG_OVERLAY,
		          su_catalog(i));
		ok(r != NULL && json_object_get(r, "error") == NULL,
		   "catalog command %d applies", i);
		json_decref(r);
	}
	is_int(promise("000117001000#01"), 3, "the county promises 3 days");
	store_overlay_conflicts(S, &cf);
	is_int((long long)json_array_size(cf), 0, "  and its overlay passes");
	json_decref(cf);

	/* The city lowers its default to 2 G: its layer applies here. */
	city2 = next_version(city);
	json_object_set_new(
	    json_array_get(json_object_get(city2, "defaults"), 0),
	    "promise_day", json_integer(2));
	r = apply(CMD_CATALOG_OVERLAY, json_pack("{s:O}", "overlay", city2));
	ok(json_object_get(r, "error") == NULL,
	   "the city's overlay 2 (default 2 G) applies at the county");
	json_decref(r);
	is_int(promise("000117001000#01"), 3,
	       "feature level 1: the county's 3 days are served as before");
	store_overlay_conflicts(S, &cf);
	is_int((long long)json_array_size(cf), 1,
	       "the county's overlay is reported as conflicting");
	is_str(spec_str(json_array_get(cf, 0), "field"),
	       "$.entries[0].promise_day", "  at the field");
	is_str(spec_str(json_array_get(cf, 0), "message"), CHECK_MSG,
	       "  with the words of tongban overlay check");
	json_decref(cf);

	r = apply(CMD_GROUP_FEATURE, json_pack("{s:i}", "level", 5));
	is_int(spec_int(r, "feature_level", 0), 5, "feature level 5");
	json_decref(r);
	is_int(promise("000117001000#01"), 2,
	       "level 5: the effective matter takes the cap (basic key)");
	is_int(promise(impl), 2, "  and by the implementation key");
	is_int(promise("000117001000#02"), 10,
	       "a matter without a county entry keeps the city's 10 days");
	r = apply(CMD_CASE_CREATE, su_food("370102199001011231"));
	c = NULL;
	store_case_get(S, spec_str(json_object_get(r, "case"), "id"), SU_T0,
	               &c);
	is_int(spec_int(json_object_get(c, "limit"), "days", 0), 2,
	       "a case received now pins the capped limit (2 days)");
	json_decref(c);
	json_decref(r);

	/* The county's next overlay with the conflict is refused, as the
	 * offline check refuses it; one within the cap applies. */
	county2 = next_version(county);
	r = apply(CMD_CATALOG_OVERLAY, json_pack("{s:O}", "overlay", county2));
	is_str(spec_str(json_object_get(r, "error"), "field"),
	       "$.body.overlay.entries[0].promise_day",
	       "a county overlay still promising 3 days is refused");
	is_str(spec_str(json_object_get(r, "error"), "message"), CHECK_MSG,
	       "  with the same words");
	json_decref(r);
	json_object_set_new(
	    json_array_get(json_object_get(county2, "entries"), 0),
	    "promise_day", json_integer(1));
	r = apply(CMD_CATALOG_OVERLAY, json_pack("{s:O}", "overlay", county2));
	ok(json_object_get(r, "error") == NULL,
	   "a county overlay within the cap (1 day) applies");
	json_decref(r);
	is_int(promise(impl), 1, "  and is served");
	store_overlay_conflicts(S, &cf);
	is_int((long long)json_array_size(cf), 0, "  the conflict is gone");
	json_decref(cf);
	json_decref(city);
	json_decref(city2);
	json_decref(county);
	json_decref(county2);
}

int
main(void)
{
	char d[64];

	snprintf(d, sizeof(d), "/tmp/tb-cap-%d", (int)getpid());
	tu_rmtree(d);
	S = su_open(d, "370102");
	ok(S != NULL, "a store for 370102");
	if (S != NULL) {
		test_cap();
	}
	store_close(S);
	tu_rmtree(d);
	return done_testing();
}
