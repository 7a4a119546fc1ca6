/* Tests for a case.create decoded shallow (cmd_decode_shallow) and checked
 * on its bytes (node/fsm_checks_raw.c) against the full decode and the
 * JSON checks (store_decode_full): seeded mutations of case bodies (and of
 * a few commands' bytes) are applied to two stores, one each way, at
 * feature level 1 and then 5 (the summaries), with and without
 * idempotency keys; each command must give the same result (the same
 * refusal code, field and message) and the stores the same digest. The
 * shallow decode itself is compared with cmd_decode on every command. */
#include "node/store.h"
#include "schema/canon.h"
#include "schema/canon_walk.h"
#include "schema/command.h"
#include "schema/spec.h"
#include "tests/tap.h"
#include "tests/sim_rng.h"
#include "tests/store_util.h"

#include <stdint.h>

enum { ROUND = 400, BATCH = 100 };

static struct store *A, *B; /* A shallow (the default), B in full */
static uint64_t IDX;
static size_t CREATED, REFUSED, DECODE_REFUSED, SAME, DIFFERENT;
static size_t SHALLOW_SAME, SHALLOW_DIFFERENT;
static char LAST[1024]; /* A's last result, as JSON */

/* ---- jansson's allocations, counted while `counting` ---- */

static bool counting;
static size_t allocs;

static void *
count_malloc(size_t n)
{
	allocs += counting;
	return malloc(n);
}

static void
count_free(void *p)
{
	free(p);
}

/* ---- bodies and their mutations ---- */

/* clang-format off */
static const char *const KEYS[] = {
	"name", "id_type", "id_number", "phone", "address", "email",
	"agent_name", "agent_id_number", "code", "hash", "size", "member",
	"matter", "bundle", "channel", "receiver", "form", "materials",
	"applicant", "applicant_name", "operator_name", "operating_address",
	"main_format", "business_items", "food_safety_manager", "child_name",
	"card_delivery", "birth_date", "unknown_x", "",
};
/* clang-format on */
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

/* clang-format off */
static const char *const STRS[] = {
	"", "张三", "370102199001011231", "370102199001011232",
	"370102198808085675", "91370102MA3C4XYZ1Q", "13912345678",
	"+8613912345678", "0531-86553156", "12345", "2026-01-28",
	"2026-02-30",
	"0F3C5A9D2B7E41C8A6D09E1F2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E",
	"0f3c5a9d2b7e41c8a6d09e1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5",
	"0f3c5a9d2b7e41c8a6d09e1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e0",
	"0f3c5a9d2b7e41c8a6d09e1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5g",
	"M01", "M02", "M03", "M04", "M99", "1", "2", "5", "resident_id",
	"passport", "credit_code", "bogus", "餐饮服务经营者", "窗口领取", "370102",
	"999999", "000117001000#01", "002014001000", "clerk-7", "ss_card",
};
/* clang-format on */
#define NSTRS (sizeof(STRS) / sizeof(STRS[0]))

/* long_str: n copies of a three-byte character or of 'x'. */
static json_t *
long_str(size_t n, bool cjk)
{
	char buf[4096];
	size_t i, k = 0;

	for (i = 0; i < n && k + 3 < sizeof(buf); i++) {
		if (cjk) {
			memcpy(buf + k, "张", 3);
			k += 3;
		} else {
			buf[k++] = 'x';
		}
	}
	return json_stringn(buf, k);
}

static json_t *
rand_value(int depth)
{
	json_t *v;

	switch (sim_between(0, 13)) {
	case 0:
		return json_integer((json_int_t)sim_between(0, 5000) - 10);
	case 1:
		return json_integer(sim_chance(500) ? INT64_MAX : INT64_MIN);
	case 2:
		return json_boolean(sim_chance(500));
	case 3:
		return json_null();
	case 4:
		return long_str(sim_between(0, 1) ? sim_between(95, 105)
		                                  : sim_between(1, 900),
		                sim_chance(500));
	case 5:
		if (depth > 3) {
			return json_object();
		}
		v = json_object();
		json_object_set_new(v, KEYS[sim_between(0, NKEYS - 1)],
		                    rand_value(depth + 1));
		return v;
	case 6:
		v = json_array();
		if (depth <= 3 && sim_chance(600)) {
			json_array_append_new(v, rand_value(depth + 1));
		}
		return v;
	case 7:
		return json_pack("{s:s, s:s, s:i}", "code",
		                 STRS[sim_between(16, 20)], "hash",
		                 sim_chance(800) ? SU_HASH : STRS[12], "size",
		                 (int)sim_between(0, 100));
	default:
		return json_string(STRS[sim_between(0, NSTRS - 1)]);
	}
}

/* containers collects the body's objects and arrays (up to 64). */
static void
containers(json_t *v, json_t **out, size_t *n)
{
	const char *k;
	json_t *x;
	size_t i;

	if (*n >= 64 || !(json_is_object(v) || json_is_array(v))) {
		return;
	}
	out[(*n)++] = v;
	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
		{
			containers(x, out, n);
		}
	} else {
		json_array_foreach(v, i, x)
		{
			containers(x, out, n);
		}
	}
}

/* mutate changes one to three things in body. */
static void
mutate(json_t *body)
{
	json_t *cs[64], *c, *x;
	size_t n, k = sim_between(1, 3), j, i;
	const char *key;
	void *it;

	for (j = 0; j < k; j++) {
		n = 0;
		containers(body, cs, &n);
		c = cs[sim_between(0, n - 1)];
		if (json_is_object(c)) {
			if (json_object_size(c) > 0 && sim_chance(400)) {
				/* delete the i-th member */
				it = json_object_iter(c);
				for (i = sim_between(0,
				                     json_object_size(c) - 1);
				     i > 0; i--) {
					it = json_object_iter_next(c, it);
				}
				json_object_del(c, json_object_iter_key(it));
			} else if (json_object_size(c) > 0 && sim_chance(700)) {
				/* replace an existing member's value */
				it = json_object_iter(c);
				for (i = sim_between(0,
				                     json_object_size(c) - 1);
				     i > 0; i--) {
					it = json_object_iter_next(c, it);
				}
				key = json_object_iter_key(it);
				json_object_set_new(c, key, rand_value(1));
			} else {
				json_object_set_new(
				    c, KEYS[sim_between(0, NKEYS - 1)],
				    rand_value(1));
			}
		} else if (json_array_size(c) > 0 && sim_chance(300)) {
			json_array_remove(
			    c, sim_between(0, json_array_size(c) - 1));
		} else if (json_array_size(c) > 0 && sim_chance(500)) {
			x = json_array_get(
			    c, sim_between(0, json_array_size(c) - 1));
			json_array_append_new(c, json_deep_copy(x));
		} else {
			json_array_append_new(c, rand_value(1));
		}
	}
}

/* benign makes a change that may well keep the body valid: other values
 * of the right kind, optional members added or dropped. */
static void
benign(json_t *body)
{
	static const char *const names[] = { "张三", "李四", "欧阳娜娜",
		                             "Zhang San", "x" };
	static const char *const phones[] = { "13912345678", "+8613912345678",
		                              "0531-86553156",
		                              "053186553156-123" };
	json_t *a = json_object_get(body, "applicant");
	json_t *f = json_object_get(body, "form");
	json_t *m = json_object_get(body, "materials");
	json_t *x = json_array_get(m, sim_between(0, 3));

	switch (sim_between(0, 7)) {
	case 0:
		json_object_set_new(a, "name",
		                    json_string(names[sim_between(0, 4)]));
		break;
	case 1:
		json_object_set_new(a, "phone",
		                    json_string(phones[sim_between(0, 3)]));
		break;
	case 2:
		json_object_set_new(a, sim_chance(500) ? "address" : "email",
		                    json_string("济南市历下区泉城路1号"));
		break;
	case 3:
		json_object_set_new(a, "id_type", json_string("passport"));
		json_object_set_new(a, "id_number", json_string("E12345678"));
		break;
	case 4:
		json_object_set_new(
		    f, sim_chance(500) ? "operator_name" : "operating_address",
		    long_str(sim_between(1, 60), true));
		break;
	case 5:
		json_object_set_new(
		    x, "size",
		    json_integer((json_int_t)sim_between(0, INT64_MAX)));
		break;
	case 6:
		json_object_del(a, "phone");
		break;
	default:
		json_object_set_new(f, "phone",
		                    json_string(phones[sim_between(0, 3)]));
		break;
	}
}

/* ---- applying to both stores ---- */

static char *
dump(const json_t *r)
{
	return r != NULL ? json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS)
	                 : strdup("(null)");
}

/* compare_decode compares cmd_decode_shallow with cmd_decode on b;
 * returns cmd_decode's code. */
static int
compare_decode(const struct canon_buf *b)
{
	struct cmd full, sh;
	char e1[256] = "", e2[256] = "";
	int r1 = cmd_decode(b->data, b->len, &full, e1, sizeof(e1));
	int r2 = cmd_decode_shallow(b->data, b->len, &sh, e2, sizeof(e2));
	json_t *whole = NULL;
	bool same = r1 == r2 && !strcmp(e1, e2);

	if (same && r1 == 0) {
		same = full.type == sh.type && full.at == sh.at &&
		       ((full.key == NULL && sh.key == NULL) ||
		        (full.key != NULL && sh.key != NULL &&
		         !strcmp(full.key, sh.key)));
		if (sh.shallow) {
			same = same && cmd_body_decode(&sh, &whole) == 0 &&
			       json_equal(whole, (json_t *)full.body);
		} else {
			same = same && json_equal((json_t *)sh.body,
			                          (json_t *)full.body);
		}
		json_decref(whole);
	}
	SHALLOW_SAME += same;
	SHALLOW_DIFFERENT += !same;
	if (!same && SHALLOW_DIFFERENT <= 3) {
		printf("# decode differs: %d \"%s\" against %d \"%s\"\n", r1,
		       e1, r2, e2);
	}
	if (r1 == 0) {
		cmd_free(&full);
	}
	if (r2 == 0) {
		cmd_free(&sh);
	}
	return r1;
}

/* both applies b to A and B at the next index; false if they differ. */
static bool
both(const struct canon_buf *b)
{
	json_t *ra = NULL, *rb = NULL;
	int va, vb;
	char *da, *db;
	bool same;

	IDX++;
	va = store_apply(A, IDX, b->data, b->len, &ra);
	vb = store_apply(B, IDX, b->data, b->len, &rb);
	da = dump(ra);
	db = dump(rb);
	same = va == vb && !strcmp(da, db);
	snprintf(LAST, sizeof(LAST), "%s", da);
	if (!same && DIFFERENT < 5) {
		printf("# at %llu: %d %s\n#   against %d %s\n",
		       (unsigned long long)IDX, va, da, vb, db);
	}
	if (va == 0 && json_object_get(ra, "error") == NULL) {
		CREATED++;
	} else {
		REFUSED++;
	}
	free(da);
	free(db);
	json_decref(ra);
	json_decref(rb);
	SAME += same;
	DIFFERENT += !same;
	return same;
}

static bool
same_digest(void)
{
	uint8_t da[32], db[32];

	return store_digest(A, da, NULL) == 0 &&
	       store_digest(B, db, NULL) == 0 && !memcmp(da, db, 32);
}

/* round applies n mutated commands (and the base bodies) in batches. */
static void
round_of(size_t n)
{
	struct canon_buf b;
	static const char *const idem[] = { "k0", "k1", "k2", "k3" };
	char id[19];
	json_t *body;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % BATCH == 0) {
			store_batch_begin(A);
			store_batch_begin(B);
		}
		su_id(i % 900, id);
		body = sim_chance(150)   ? su_birth()
		       : sim_chance(300) ? su_card(id)
		                         : su_food(id);
		if (sim_chance(500)) {
			json_object_set_new(body, "receiver",
			                    json_string("clerk-7"));
		}
		if (i % 8 == 0) {
			/* as made */
		} else if (sim_chance(400)) {
			benign(body);
		} else {
			mutate(body);
		}
		b = su_encode(CMD_CASE_CREATE, SU_T0 + (int64_t)IDX * 1000,
		              sim_chance(200) ? idem[sim_between(0, 3)] : NULL,
		              body);
		if (b.len > 0 && sim_chance(100)) {
			/* A byte of the command changed. */
			b.data[sim_between(0, b.len - 1)] =
			    (uint8_t)sim_between(0, 255);
		}
		if (compare_decode(&b) != 0) {
			DECODE_REFUSED++;
		}
		both(&b);
		canon_buf_free(&b);
		if (i % BATCH == BATCH - 1 || i == n - 1) {
			store_batch_commit(A);
			store_batch_commit(B);
		}
	}
}

/* big_size applies a food case whose second material's size is the
 * integer `bytes` (canon_check refuses those above INT64_MAX), and checks
 * that A's result holds want. */
static void
big_size(const char *bytes, const char *what, const char *want)
{
	json_t *body = su_food("370102198808085675");
	struct canon_buf b;
	char err[128];

	json_object_set_new(
	    json_array_get(json_object_get(body, "materials"), 1), "size",
	    json_null());
	b = su_encode(CMD_CASE_CREATE, SU_T0 + (int64_t)IDX * 1000, NULL, body);
	ok(cmd_splice(&b, "size", (const uint8_t *)bytes, 9, err,
	              sizeof(err)) == 0,
	   "a size of %s spliced in", what);
	ok(both(&b), "  the same result both ways");
	ok(strstr(LAST, want) != NULL, "  %s", want);
	canon_buf_free(&b);
}

/* allocations counts jansson's allocations in s's apply of a valid case. */
static size_t
allocations(struct store *s, uint64_t index)
{
	struct canon_buf b = su_encode(CMD_CASE_CREATE, SU_T0 + 1000000, NULL,
	                               su_food("370102198808085675"));
	json_t *r = NULL;

	allocs = 0;
	counting = true;
	store_apply(s, index, b.data, b.len, &r);
	counting = false;
	ok(r != NULL && json_object_get(r, "case") != NULL,
	   "  the valid case is created");
	json_decref(r);
	canon_buf_free(&b);
	return allocs;
}

int
main(void)
{
	char da[64], db[64];
	size_t i, fa, fb;
	struct canon_buf b;
	struct cmd c;
	char e[128];
	int rv;

	json_set_alloc_funcs(count_malloc, count_free);
	snprintf(da, sizeof(da), "/tmp/tb-craw-a-%d", (int)getpid());
	snprintf(db, sizeof(db), "/tmp/tb-craw-b-%d", (int)getpid());
	tu_rmtree(da);
	tu_rmtree(db);
	A = su_open(da, "370102");
	B = su_open(db, "370102");
	ok(A != NULL && B != NULL, "two stores for 370102");
	if (A == NULL || B == NULL) {
		return done_testing();
	}
	store_decode_full(B, true);
	for (i = 0; i < 3; i++) {
		b = su_encode(i == 0 ? CMD_CATALOG_RELEASE
		                     : CMD_CATALOG_OVERLAY,
		              SU_T0, NULL, su_catalog((int)i));
		ok(both(&b), "catalog command %zu: the same result", i);
		canon_buf_free(&b);
	}
	/* TB_CRAW_SEED=N replays another seed. */
	sim_seed(getenv("TB_CRAW_SEED") != NULL
	             ? strtoull(getenv("TB_CRAW_SEED"), NULL, 10)
	             : 20261130);
	round_of(ROUND);
	ok(same_digest(),
	   "feature level 1: the same state after %d mutated "
	   "cases",
	   ROUND);
	b = su_encode(CMD_GROUP_FEATURE, SU_T0 + (int64_t)IDX * 1000, NULL,
	              json_pack("{s:i}", "level", 5));
	ok(both(&b), "feature level 5 on both");
	canon_buf_free(&b);
	round_of(ROUND);
	ok(same_digest(),
	   "feature level 5 (summaries): the same state after "
	   "%d more",
	   ROUND);
	REFUSED -= DECODE_REFUSED;
	printf("# %zu created, %zu refused by a handler, %zu refused in the "
	       "decode\n",
	       CREATED, REFUSED, DECODE_REFUSED);
	is_int(DIFFERENT, 0, "every command gave the same result (%zu)", SAME);
	ok(CREATED > ROUND / 2 && REFUSED > ROUND / 2 && DECODE_REFUSED > 10,
	   "the mutations reach creations, handlers' refusals and the "
	   "decode's");
	is_int(SHALLOW_DIFFERENT, 0,
	       "cmd_decode_shallow decodes as cmd_decode (%zu commands)",
	       SHALLOW_SAME);

	big_size("\xcf\x80\x00\x00\x00\x00\x00\x00\x00", "2^63",
	         "exceeds the int64 range");
	big_size("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "2^64 - 1",
	         "exceeds the int64 range");
	big_size("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", "2^63 - 1",
	         "\"state\":\"received\"");

	/* The shallow path builds no JSON of applicant, form and materials
	 * (some 40 values of this body). */
	fa = allocations(A, ++IDX);
	fb = allocations(B, IDX);
	printf("# jansson allocations in a valid case's apply: %zu shallow, "
	       "%zu in full\n",
	       fa, fb);
	ok(fa + 40 < fb, "the shallow apply allocates at least 40 fewer");
	ok(same_digest(), "and both store it alike");

	/* Not a case.create: decoded in full either way. */
	b = su_encode(CMD_CASE_ACTION, SU_T0 + 2000000, NULL,
	              su_act("370102-20260210-000001", "accept", 1));
	rv = cmd_decode_shallow(b.data, b.len, &c, e, sizeof(e));
	ok(rv == 0 && !c.shallow && !c.has_parts,
	   "a case.action is not shallow");
	if (rv == 0) {
		cmd_free(&c);
	}
	ok(both(&b), "  and applies alike");
	canon_buf_free(&b);
	store_close(A);
	store_close(B);
	tu_rmtree(da);
	tu_rmtree(db);
	return done_testing();
}
