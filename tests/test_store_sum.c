/* Tests for the case summary index (node/fsm_sum.c, feature level 2): the
 * case list read from it gives the same pages, cursors and order as the
 * list read from the case records, for every filter combination, after the
 * backfill of the raise to level 2 and after changes applied at level 2;
 * the backfilled index is byte for byte the one kept by apply; a store at
 * level 1 keeps the old layout; snapshots carry the index and hash it
 * alike on both sides. tests/test_list_text.c has the text rendering's
 * escapes and fallback. */
#include "node/fsm.h"
#include "node/store_db.h"
#include "node/store_snap.h"
#include "tests/tap.h"
#include "tests/store_util.h"

#include <sodium.h>

#define NCMD_MAX  4096
#define NCASE_MAX 1024

static struct canon_buf CMDS[NCMD_MAX];
static size_t NCMD;
static struct store *A;
static uint64_t IDX_A;
static char IDS[NCASE_MAX][32];
static int VER[NCASE_MAX];
static size_t NCASE;
/* pages_text is pages through store_case_list_text: the pages' bytes, as
 * JSON strings, or the error code. */
static json_t *
pages_text(struct store *s, const char *status, int overdue, const char *matter,
           size_t limit, int64_t now)
{
	json_t *all = json_array(), *l;
	char cursor[64] = "", *t;
	size_t len;
	int rv;

	do {
		t = NULL;
		rv = store_case_list_text(s, status, overdue, matter, limit,
		                          cursor[0] ? cursor : NULL, now, &t,
		                          &len);
		if (rv != 0 || strlen(t) != len) {
			json_array_append_new(all, json_integer(rv ? rv : -1));
			free(t);
			break;
		}
		json_array_append_new(all, json_stringn(t, len));
		l = json_loads(t, 0, NULL);
		free(t);
		snprintf(cursor, sizeof(cursor), "%s",
		         spec_str(l, "next") ? spec_str(l, "next") : "");
		json_decref(l);
	} while (cursor[0] != '\0' && json_array_size(all) < 2000);
	return all;
}

static const char *const STATUSES[] = {
	NULL,           "received",  "not_accepted", "supplement_requested",
	"supplemented", "accepted",  "handling",     "review",
	"decision",     "suspended", "approved",     "refused",
	"forwarded",    "voided",    "withdrawn",    "open",
	"final",
};
static const char *MATTERS[] = {
	NULL,
	"000117001000#01",
	"11370102MB152906114000117001000#01",
	"000117001000",
	NULL, /* a bundle member's matter, set by grow */
};
#define NSTAT (sizeof(STATUSES) / sizeof(STATUSES[0]))
#define NMAT  (sizeof(MATTERS) / sizeof(MATTERS[0]))
static uint64_t RNG = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	RNG ^= RNG << 13;
	RNG ^= RNG >> 7;
	RNG ^= RNG << 17;
	return (uint32_t)(RNG % n);
}

/* apply_a logs a command (body stolen) at Unix ms at and applies it to A;
 * returns the result (caller decrefs). */
static json_t *
apply_a(enum cmd_type t, int64_t at, json_t *body)
{
	struct canon_buf *b = &CMDS[NCMD++];
	json_t *res = NULL;
	int rv;

	*b = su_encode(t, at, NULL, body);
	rv = store_apply(A, ++IDX_A, b->data, b->len, &res);
	if (rv != 0) {
		printf("# store_apply: %s\n", tb_errname(rv));
	}
	return res;
}

static void
add_case(const json_t *c)
{
	if (c != NULL && NCASE < NCASE_MAX) {
		snprintf(IDS[NCASE], sizeof(IDS[0]), "%s", spec_str(c, "id"));
		VER[NCASE++] = (int)spec_int(c, "version", 1);
	}
}

/* grow applies ncases creations (food licences, now and then a birth
 * bundle of five) and nact random actions, from day `day` on, a few hours
 * apart: every state, open and closed pauses, due dates on many days. */
static void
grow(size_t ncases, size_t nact, int64_t *t)
{
	static const char *const acts[] = {
		"accept",
		"accept",
		"accept",
		"not_accept",
		"request_supplement",
		"supplement",
		"start_handling",
		"start_handling",
		"submit_review",
		"submit_decision",
		"approve",
		"refuse",
		"forward",
		"send_back",
		"suspend",
		"resume",
		"withdraw",
	};
	char idn[19];
	json_t *r, *b, *c;
	size_t i, k;

	for (i = 0; i < ncases + nact; i++) {
		*t += (int64_t)(1 + rnd(2)) * 3600 * 1000;
		if (i < ncases || rnd(4) == 0) {
			if (rnd(25) == 0) {
				r = apply_a(CMD_CASE_CREATE, *t, su_birth());
				json_array_foreach(
				    json_object_get(
				        json_object_get(r, "bundle"), "cases"),
				    k, c)
				{
					add_case(c);
					if (MATTERS[4] == NULL) {
						static char m[64];

						snprintf(m, sizeof(m), "%s",
						         spec_str(c, "matter"));
						MATTERS[4] = m;
					}
				}
			} else {
				su_id(NCASE, idn);
				r = apply_a(CMD_CASE_CREATE, *t, su_food(idn));
				add_case(json_object_get(r, "case"));
			}
			json_decref(r);
			continue;
		}
		k = rnd((uint32_t)NCASE);
		b = su_act(IDS[k], acts[rnd(sizeof(acts) / sizeof(acts[0]))],
		           VER[k]);
		if (!strcmp(spec_str(b, "action"), "send_back")) {
			json_object_set_new(
			    b, "target",
			    json_string(rnd(2) ? "handling" : "received"));
		} else if (!strcmp(spec_str(b, "action"), "suspend") &&
		           rnd(2)) {
			json_object_set_new(b, "pause_until",
			                    json_string("2026-04-30"));
		}
		r = apply_a(CMD_CASE_ACTION, *t, b);
		if ((c = json_object_get(r, "case")) != NULL) {
			VER[k] = (int)spec_int(c, "version", VER[k]);
		}
		json_decref(r);
	}
}

/* pages lists every page of one filter combination: a JSON array of the
 * pages, each {cases, next} as store_case_list returned it. */
static json_t *
pages(struct store *s, const char *status, int overdue, const char *matter,
      size_t limit, int64_t now)
{
	json_t *all = json_array(), *l;
	char cursor[64] = "";
	int rv;

	do {
		l = NULL;
		rv = store_case_list(s, status, overdue, matter, limit,
		                     cursor[0] ? cursor : NULL, now, &l);
		if (rv != 0) {
			json_array_append_new(all, json_integer(rv));
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s",
		         spec_str(l, "next") ? spec_str(l, "next") : "");
		json_array_append_new(all, l);
	} while (cursor[0] != '\0' && json_array_size(all) < 2000);
	return all;
}

static size_t OVERDUE, STOPPED; /* listed cases overdue, with a stopped clock */

/* every_list returns the pages of every filter combination (status,
 * matter, overdue, day; pages of 7 or 1,000), read from the records (records)
 * or as the store's level has it; *ncases counts the cases listed, *nonempty
 * the combinations with at least one. */
static json_t *
every_list(struct store *s, bool records, size_t *ncases, size_t *nonempty,
           bool text)
{
	json_t *all = json_array(), *p, *pg;
	size_t x, i, n, st, m, lim;
	int64_t now;
	int od;

	*ncases = *nonempty = 0;
	store_list_from_records(s, records);
	for (x = 0; x < NSTAT * NMAT * 3 * 2; x++) {
		st = x % NSTAT;
		m = x / NSTAT % NMAT;
		od = (int)(x / (NSTAT * NMAT) % 3) - 1;
		now =
		    SU_T0 + (int64_t)(20 + 50 * (x / (NSTAT * NMAT * 3) % 2)) *
		                86400 * 1000;
		/* Pages of 7 (many cursors) or of 1,000 (one page). */
		lim = (st + m + (size_t)od) % 2 ? 1000 : 7;
		if (text) {
			json_array_append_new(all,
			                      pages_text(s, STATUSES[st], od,
			                                 MATTERS[m], lim, now));
			continue;
		}
		p = pages(s, STATUSES[st], od, MATTERS[m], lim, now);
		n = 0;
		json_array_foreach(p, i, pg)
		{
			json_t *c;
			size_t j;

			json_array_foreach(json_object_get(pg, "cases"), j, c)
			{
				n++;
				OVERDUE +=
				    json_is_true(json_object_get(c, "overdue"));
				STOPPED +=
				    !strcmp(spec_str(c, "clock"), "stopped");
			}
		}
		*ncases += n;
		*nonempty += n > 0;
		json_array_append_new(all, p);
	}
	store_list_from_records(s, false);
	return all;
}

/* same_lists compares the index's lists with the records' on s. */
static void
same_lists(struct store *s, const char *when)
{
	size_t na, nb, ea, eb, i;
	json_t *a, *b;

	OVERDUE = STOPPED = 0;
	a = every_list(s, true, &na, &ea, false);
	b = every_list(s, false, &nb, &eb, false);
	ok(na > 2000 && ea > 100 && OVERDUE > 100 && STOPPED > 100,
	   "%s: the lists are not trivial (%zu cases in %zu non-empty "
	   "combinations, %zu overdue, %zu stopped clocks)",
	   when, na, ea, OVERDUE, STOPPED);
	for (i = 0; i < json_array_size(a); i++) {
		if (!json_equal(json_array_get(a, i), json_array_get(b, i))) {
			break;
		}
	}
	ok(i == json_array_size(a) && json_array_size(a) == json_array_size(b),
	   "%s: the same pages, cursors and order for all %zu filter "
	   "combinations (first difference at %zu)",
	   when, json_array_size(a), i);
	/* The text rendering: json_dumps of the records' pages. */
	json_decref(b);
	b = every_list(s, false, &nb, &eb, true);
	for (i = 0; i < json_array_size(a); i++) {
		json_t *pa = json_array_get(a, i), *pb = json_array_get(b, i);
		size_t j;

		if (json_array_size(pa) != json_array_size(pb)) {
			break;
		}
		for (j = 0; j < json_array_size(pa); j++) {
			char *t =
			    json_dumps(json_array_get(pa, j), JSON_COMPACT);
			const char *u =
			    json_string_value(json_array_get(pb, j));
			bool same = t != NULL && u != NULL && !strcmp(t, u);

			if (!same) {
				printf("# records: %.300s\n# text:    %.300s\n",
				       t ? t : "(null)", u ? u : "(null)");
			}

			free(t);
			if (!same) {
				break;
			}
		}
		if (j < json_array_size(pa)) {
			break;
		}
	}
	ok(i == json_array_size(a),
	   "%s: the text pages are json_dumps of the records' pages, byte for "
	   "byte (first difference at %zu)",
	   when, i);
	json_decref(a);
	json_decref(b);
}

/* db_hash hashes database i of s (keys and values) into out; *n counts
 * its entries and *empty_vals those with an empty value. */
static void
db_hash(struct store *s, int i, uint8_t out[32], size_t *n, size_t *empty)
{
	crypto_generichash_state h;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t len[8];
	int op = MDB_FIRST;

	*n = *empty = 0;
	crypto_generichash_init(&h, NULL, 0, 32);
	mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	mdb_cursor_open(txn, s->dbi[i], &cur);
	while (mdb_cursor_get(cur, &k, &v, op) == 0) {
		op = MDB_NEXT;
		db_be64(len, k.mv_size);
		crypto_generichash_update(&h, len, 8);
		crypto_generichash_update(&h, k.mv_data, k.mv_size);
		db_be64(len, v.mv_size);
		crypto_generichash_update(&h, len, 8);
		crypto_generichash_update(&h, v.mv_data, v.mv_size);
		(*n)++;
		*empty += v.mv_size == 0;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	crypto_generichash_final(&h, out, 32);
}

/* old_digest is store_digest as layout 1 defined it: its databases (cases
 * through token_hash; outbox and case_sum came later), each its name, a 0 byte,
 * then its records (meta "applied" left out), computed here independently. */
static void
old_digest(struct store *s, uint8_t out[32])
{
	crypto_generichash_state h;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t len[8];
	int i, op;

	crypto_generichash_init(&h, NULL, 0, 32);
	mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	for (i = 0; i <= DB_TOKEN_HASH; i++) { /* layout 1's databases */
		crypto_generichash_update(&h, (const uint8_t *)store_db_name(i),
		                          strlen(store_db_name(i)) + 1);
		mdb_cursor_open(txn, s->dbi[i], &cur);
		for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
		     op = MDB_NEXT) {
			if (i == DB_META && k.mv_size == 7 &&
			    !memcmp(k.mv_data, "applied", 7)) {
				continue;
			}
			db_be64(len, k.mv_size);
			crypto_generichash_update(&h, len, 8);
			crypto_generichash_update(&h, k.mv_data, k.mv_size);
			db_be64(len, v.mv_size);
			crypto_generichash_update(&h, len, 8);
			crypto_generichash_update(&h, v.mv_data, v.mv_size);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	crypto_generichash_final(&h, out, 32);
}

/* snap_roundtrip streams s to a stage beside dir, with the hash first, and
 * checks that the stage verifies it (the receiver's hash, the sender's and
 * store_digest agree) and that the published copy has s's digest. */
static void
snap_roundtrip(struct store *s, const char *dir, const char *when)
{
	struct store_snap_marker m;
	struct store_snap *sn = NULL;
	struct store_stage *sg = NULL;
	uint8_t d[32], d2[32], *buf;
	char err[256] = "", nw[256];
	struct store *o;
	size_t len;
	bool last = false;
	int rv;

	store_digest(s, d, NULL);
	rv = store_snapshot_begin(s, 1, 64 * 1024, true, &sn, &m);
	ok(rv == 0 && !memcmp(m.hash, d, 32),
	   "%s: the snapshot's hash pass is store_digest", when);
	if (rv == 0) {
		rv = store_snapshot_stage_begin(dir, &m, "370102", 0, &sg, err,
		                                sizeof(err));
	}
	while (rv == 0 && !last &&
	       (rv = store_snapshot_next(sn, &buf, &len, &last)) == 0) {
		rv = store_snapshot_stage_write(sg, buf, len, err, sizeof(err));
		free(buf);
	}
	store_snapshot_end(sn);
	if (rv == 0) {
		rv = store_snapshot_stage_finish(sg, err, sizeof(err));
	} else {
		store_snapshot_stage_abort(sg);
	}
	is_int(rv, 0, "%s: the stage verifies the stream (%s)", when, err);
	snprintf(nw, sizeof(nw), "%s.new", dir);
	o = su_open(nw, NULL);
	memset(d2, 0, 32);
	if (o != NULL) {
		store_digest(o, d2, NULL);
		store_close(o);
	}
	ok(!memcmp(d, d2, 32), "%s: the copy has the same content hash", when);
	tu_rmtree(nw);
}

int
main(void)
{
	char da[64] = "/tmp/tb-sum-XXXXXX", db[64], snapdir[96];
	uint8_t h1[32], h2[32], d1[32], d2[32];
	size_t n1, e1, n2, e2, i, ncmd1;
	uint64_t ib = 0;
	int64_t t = SU_T0 - 9LL * 86400 * 1000;
	struct store *B;
	json_t *r;
	bool refused;

	if (sodium_init() < 0 || mkdtemp(da) == NULL) {
		return 1;
	}
	snprintf(db, sizeof(db), "%s/b", da);
	snprintf(snapdir, sizeof(snapdir), "%s/snap", da);
	strcat(da, "/a");
	A = su_open(da, "370102");
	if (A == NULL) {
		printf("Bail out! cannot open a store\n");
		return 1;
	}
	for (i = 0; i < 3; i++) {
		json_decref(
		    apply_a(i ? CMD_CATALOG_OVERLAY : CMD_CATALOG_RELEASE, t,
		            su_catalog((int)i)));
	}
	store_batch_begin(A);
	grow(150, 600, &t);
	store_batch_commit(A);
	is_int(store_feature_level(A), 1, "a new store runs at level 1");

	/* Level 1: the old layout, and the digest does not see case_sum. */
	db_hash(A, DB_CASE_SUM, h1, &n1, &e1);
	is_int(n1, 0, "level 1: case_sum is empty");
	db_hash(A, DB_CASE_STATE, h1, &n1, &e1);
	ok(n1 >= 260 && e1 == n1,
	   "level 1: %zu case_state entries, values "
	   "empty as before",
	   n1);
	old_digest(A, d1);
	store_digest(A, d2, NULL);
	ok(!memcmp(d1, d2, 32), "level 1: store_digest is the layout-1 "
	                        "digest (the databases before case_sum)");
	snap_roundtrip(A, snapdir, "level 1");

	/* The raise to 2 builds the index; lists stay the same. */
	{
		json_t *before = every_list(A, true, &n1, &e1, false);
		json_t *after;

		r = apply_a(CMD_GROUP_FEATURE, t,
		            json_pack("{s:i}", "level", FSM_SUM_LEVEL));
		is_int(spec_int(r, "feature_level", 0), FSM_SUM_LEVEL,
		       "raised to the summary index's level");
		is_int(spec_int(r, "cases_indexed", -1), (long long)NCASE,
		       "the raise indexed every stored case (%zu)", NCASE);
		json_decref(r);
		after = every_list(A, false, &n2, &e2, false);
		ok(json_equal(before, after) && n1 == n2,
		   "after the backfill the index lists exactly what the "
		   "records "
		   "listed before (%zu cases over all combinations)",
		   n2);
		json_decref(before);
		json_decref(after);
	}
	db_hash(A, DB_CASE_SUM, h1, &n1, &e1);
	is_int(n1, NCASE, "level 2: one summary per case");
	db_hash(A, DB_CASE_STATE, h1, &n1, &e1);
	is_int(e1, 0, "level 2: every case_state entry carries its summary");
	ncmd1 = NCMD;

	/* Changes at level 2 keep the index (creations, state changes,
	 * version-only changes, pauses opened and closed). */
	store_batch_begin(A);
	grow(60, 400, &t);
	store_batch_commit(A);
	same_lists(A, "level 2, after 460 more commands");
	is_int(store_list_fallbacks(A), 0,
	       "the text rendering read every summary in place (no page "
	       "fell back to JSON values)");
	snap_roundtrip(A, snapdir, "level 2");

	/* The backfill equals apply: B takes the raise first, then the same
	 * commands. */
	B = su_open(db, "370102");
	store_batch_begin(B);
	for (i = 0; B != NULL && i < NCMD; i++) {
		struct canon_buf *b = &CMDS[i];

		if (i == 3) {
			struct canon_buf f = su_encode(
			    CMD_GROUP_FEATURE, SU_T0 - 9LL * 86400 * 1000, NULL,
			    json_pack("{s:i}", "level", FSM_SUM_LEVEL));
			is_int(su_apply(B, ++ib, &f, &refused), 0,
			       "B: raised before any case");
			ok(!refused, "B: the raise applied");
			canon_buf_free(&f);
		}
		if (i == ncmd1 - 1) {
			continue; /* A's raise, applied above */
		}
		if (su_apply(B, ++ib, b, NULL) != 0) {
			break;
		}
	}
	store_batch_commit(B);
	is_int(i, NCMD, "B applied all %zu commands", NCMD);
	db_hash(A, DB_CASES, h1, &n1, &e1);
	db_hash(B, DB_CASES, h2, &n2, &e2);
	ok(n1 == NCASE && n1 == n2 && !memcmp(h1, h2, 32),
	   "A and B hold the same %zu case records", n1);
	db_hash(A, DB_CASE_SUM, h1, &n1, &e1);
	db_hash(B, DB_CASE_SUM, h2, &n2, &e2);
	ok(n1 == n2 && !memcmp(h1, h2, 32),
	   "case_sum: backfilled then kept (A) = kept from the start (B)");
	db_hash(A, DB_CASE_STATE, h1, &n1, &e1);
	db_hash(B, DB_CASE_STATE, h2, &n2, &e2);
	ok(n1 == n2 && !memcmp(h1, h2, 32), "case_state: the same");
	store_close(B);
	store_close(A);
	for (i = 0; i < NCMD; i++) {
		canon_buf_free(&CMDS[i]);
	}
	da[strlen(da) - 2] = '\0';
	tu_rmtree(da);
	return done_testing();
}
