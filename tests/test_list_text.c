/* Tests for the case list's text rendering (node/store_list_text.c): its
 * string escapes are json_dumps's, and a summary it cannot read in place
 * sends the page to the JSON rendering, counted. The comparison of whole
 * pages is in tests/test_store_sum.c. */
#include "node/fsm.h"
#include "node/store_db.h"
#include "node/store_list_impl.h"
#include "tests/tap.h"
#include "tests/store_util.h"

#include <sodium.h>

static struct store *S;
static char ID0[32];

/* test_fallback: a summary the text rendering cannot read in place (an
 * array where a string belongs) sends its page to the JSON rendering,
 * which lists it as before. */
static void
test_fallback(void)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:[s], s:s, s:i, s:I, s:n, s:b}",
	                      "id", ID0, "matter", "000117001000#01",
	                      "task_code", "x", "matter_name", "odd", "state",
	                      "received", "version", 1, "received_at",
	                      (json_int_t)SU_T0, "due", "due_provisional", 0);
	struct canon_buf b = { 0 }, keep = { 0 };
	MDB_txn *txn;
	MDB_val k, v;
	json_t *l = NULL;
	char *t = NULL, *u;
	size_t len;

	fsm_sum_encode(c, &b);
	k.mv_size = strlen(ID0);
	k.mv_data = ID0;
	mdb_txn_begin(S->env, NULL, 0, &txn);
	if (mdb_get(txn, S->dbi[DB_CASE_SUM], &k, &v) == 0) {
		canon_buf_append(&keep, v.mv_data, v.mv_size);
	}
	v.mv_size = b.len;
	v.mv_data = b.data;
	mdb_put(txn, S->dbi[DB_CASE_SUM], &k, &v, 0);
	mdb_txn_commit(txn);
	store_case_list(S, NULL, -1, NULL, 3, NULL, SU_T0, &l);
	store_case_list_text(S, NULL, -1, NULL, 3, NULL, SU_T0, &t, &len);
	u = json_dumps(l, JSON_COMPACT);
	ok(t != NULL && u != NULL && !strcmp(t, u) && strstr(t, "[\"odd\"]"),
	   "a summary with an array where a string belongs: listed as JSON "
	   "values list it");
	is_int(store_list_fallbacks(S), 1, "  that page fell back, counted");
	v.mv_size = keep.len; /* put the real summary back */
	v.mv_data = keep.data;
	mdb_txn_begin(S->env, NULL, 0, &txn);
	mdb_put(txn, S->dbi[DB_CASE_SUM], &k, &v, 0);
	mdb_txn_commit(txn);
	canon_buf_free(&keep);
	free(t);
	free(u);
	json_decref(l);
	json_decref(c);
	canon_buf_free(&b);
}

/* test_escape: list_text_str writes strings as json_dumps does. */
static void
test_escape(void)
{
	static const char *const odd[] = {
		"食品经营许可（新办）",
		"a/b",
		"\x7f",
		"😀 emoji",
		"tab\there",
		"quote\"back\\slash",
		"\xe2\x80\xa8 line separator",
	};
	char s[2];
	size_t i, bad = 0;

	for (i = 0; i < 128 + sizeof(odd) / sizeof(odd[0]); i++) {
		const char *p = i < 128 ? s : odd[i - 128];
		size_t n = i < 128 ? 1 : strlen(p);
		json_t *j;
		char *t;
		struct canon_buf b = { 0 };

		s[0] = (char)i;
		j = json_stringn(p, n);
		t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		if (list_text_str(&b, p, n) != 0 || t == NULL ||
		    b.len != strlen(t) || memcmp(b.data, t, b.len) != 0) {
			printf("# differs for %zu: %s\n", i, t ? t : "(null)");
			bad++;
		}
		free(t);
		json_decref(j);
		canon_buf_free(&b);
	}
	is_int(bad, 0,
	       "strings are escaped as json_dumps escapes them (all "
	       "bytes below 0x80, UTF-8, separators)");
	{
		struct canon_buf b = { 0 };

		is_int(list_text_str(&b, "\xc3\x28", 2), TB_ECORRUPT,
		       "bytes that are not UTF-8 are refused");
		canon_buf_free(&b);
	}
}

int
main(void)
{
	char dir[64] = "/tmp/tb-listtext-XXXXXX", sub[80], idn[19];
	struct canon_buf b;
	json_t *r = NULL;
	uint64_t idx = 0;
	int i;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL) {
		return 1;
	}
	test_escape();
	snprintf(sub, sizeof(sub), "%s/s", dir);
	if ((S = su_open(sub, "370102")) == NULL) {
		printf("Bail out! cannot open a store\n");
		return 1;
	}
	for (i = 0; i < 6; i++) {
		if (i < 3) {
			b = su_encode(i ? CMD_CATALOG_OVERLAY
			                : CMD_CATALOG_RELEASE,
			              SU_T0, NULL, su_catalog(i));
		} else if (i == 3) {
			b = su_encode(
			    CMD_GROUP_FEATURE, SU_T0, NULL,
			    json_pack("{s:i}", "level", FSM_SUM_LEVEL));
		} else {
			su_id((size_t)i, idn);
			b = su_encode(CMD_CASE_CREATE, SU_T0, NULL,
			              su_food(idn));
		}
		store_apply(S, ++idx, b.data, b.len, &r);
		if (i == 4) {
			snprintf(ID0, sizeof(ID0), "%s",
			         spec_str(json_object_get(r, "case"), "id"));
		}
		json_decref(r);
		canon_buf_free(&b);
	}
	is_int(store_feature_level(S), FSM_SUM_LEVEL,
	       "a store at the summary index's level with two cases");
	test_fallback();
	store_close(S);
	tu_rmtree(dir);
	return done_testing();
}
