/* Calendars down the tree on real stores (docs/REPLICATION.md "Trust down
 * the tree", docs/CALENDAR.md "The calendar feed"): a city (370100) and a
 * county (370102) at feature level 5. The city's calendar.put appends a
 * "calendar" entry, the document as signed, to its stream towards the
 * county; the county applies it with calendar.put's checks (a tampered
 * one is refused naming its field, the cursor stays, nothing stored); the
 * same one again is held; a county at level 4 refuses the kind; a late
 * child's stream starts with the stored calendars. */
#include "node/region_store.h"
#include "node/store.h"
#include "schema/trust.h"
#include "tests/ctoken_util.h"
#include "tests/fs_util.h"
#include "tests/store_util.h"
#include "tests/tap.h"

static struct key off1;
static json_t *root;
static struct store *A, *B, *L; /* 370100, 370102 (level 5), 370103 (4) */
static uint64_t IDX_A, IDX_B, IDX_L;

static json_t *
apply(struct store *s, uint64_t *idx, enum cmd_type t, json_t *body)
{
	struct canon_buf b = su_encode(t, NOW, NULL, body);
	json_t *res = NULL;

	if (store_apply(s, ++*idx, b.data, b.len, &res) != 0) {
		printf("# store_apply failed\n");
	}
	canon_buf_free(&b);
	return res;
}

static const char *
err_field(const json_t *res)
{
	const char *f = spec_str(json_object_get(res, "error"), "field");
	return f != NULL ? f : "";
}

static json_t *
entry(struct store *s, uint32_t dest, uint64_t seq)
{
	json_t *e = NULL;
	uint8_t *p = NULL;
	size_t len = 0;
	char err[128];

	if (region_store_entry(s, dest, (struct outbox_pos){ 1, seq }, &p,
	                       &len) == TB_OK) {
		canon_decode(p, len, &canon_default_limits, &e, err,
		             sizeof(err));
	}
	free(p);
	return e;
}

static json_t *
deliver(struct store *s, uint64_t *idx, uint64_t seq, const json_t *e)
{
	return apply(s, idx, CMD_OUTBOX_DELIVER,
	             json_pack("{s:s, s:i, s:I, s:O}", "origin", "370100",
	                       "inc", 1, "seq", (json_int_t)seq, "entry", e));
}

static uint64_t
cursor(struct store *s)
{
	struct outbox_in in = { 0 };

	region_store_in(s, 370100, &in);
	return in.cursor.seq;
}

/* hash0 is the hash of s's first stored calendar, "" if none. */
static const char *
hash0(struct store *s, char out[65])
{
	json_t *v = NULL;
	const char *h;

	store_calendars(s, &v);
	h = spec_str(json_array_get(json_object_get(v, "calendars"), 0),
	             "hash");
	snprintf(out, 65, "%s", h != NULL ? h : "");
	json_decref(v);
	return out;
}

static void
level(struct store *s, uint64_t *idx, int to)
{
	json_decref(
	    apply(s, idx, CMD_GROUP_FEATURE, json_pack("{s:i}", "level", to)));
}

int
main(void)
{
	char da[64], db[64], dl[64], err[128], ha[65], hb[65];
	json_t *r, *e, *bad, *cal;
	const char *held;

	if (sodium_init() < 0) {
		return 1;
	}
	key_make(&off1, 1);
	root = make_root("370000", &off1);
	cal = su_load("ops/examples/calendar-2027.json");
	trust_sign(cal, off1.sk, err, sizeof(err));
	snprintf(da, sizeof(da), "/tmp/tb-calf-a-%d", (int)getpid());
	snprintf(db, sizeof(db), "/tmp/tb-calf-b-%d", (int)getpid());
	snprintf(dl, sizeof(dl), "/tmp/tb-calf-l-%d", (int)getpid());
	tu_rmtree(da);
	tu_rmtree(db);
	tu_rmtree(dl);
	A = su_open(da, "370100");
	B = su_open(db, "370102");
	L = su_open(dl, "370103");
	ok(A && B && L && cal, "three stores and a signed calendar");
	level(A, &IDX_A, 5);
	level(B, &IDX_B, 5);
	level(L, &IDX_L, 4);
	json_decref(apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	                  json_pack("{s:s}", "region", "370102")));

	r = apply(A, &IDX_A, CMD_CALENDAR_PUT,
	          json_pack("{s:O, s:O}", "calendar", cal, "root", root));
	is_str(err_field(r), "", "calendar.put at the city");
	json_decref(r);
	e = entry(A, 370102, 1);
	is_str(spec_str(e, "kind"), "calendar",
	       "  entry 1.1 of its stream: a calendar");
	ok(json_equal(json_object_get(json_object_get(e, "doc"), "calendar"),
	              cal),
	   "  the calendar as signed");

	bad = json_deep_copy(e);
	json_object_set_new(
	    json_object_get(json_object_get(bad, "doc"), "calendar"), "name",
	    json_string("tampered"));
	r = deliver(B, &IDX_B, 1, bad);
	like(err_field(r), "calendar.signatures",
	     "a tampered calendar is refused by the county's checks");
	printf("#   %s: %s\n", err_field(r),
	       spec_str(json_object_get(r, "error"), "message"));
	json_decref(r);
	json_decref(bad);
	ok(cursor(B) == 0 && !strcmp(hash0(B, hb), ""),
	   "  the cursor stays, nothing stored");
	r = deliver(L, &IDX_L, 1, e);
	is_str(err_field(r), "$.body.entry.kind",
	       "a county at level 4 refuses a calendar entry");
	like(spec_str(json_object_get(r, "error"), "message"),
	     "needs feature level 5 and this group runs at 4",
	     "  naming the level it needs and its own");
	json_decref(r);

	r = deliver(B, &IDX_B, 1, e);
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "accept",
	       "the calendar is delivered at the county");
	json_decref(r);
	ok(cursor(B) == 1 && !strcmp(hash0(A, ha), hash0(B, hb)) &&
	       strlen(hb) == 64,
	   "  stored with the city's hash, cursor 1");
	r = deliver(B, &IDX_B, 2, e);
	held = spec_str(
	    json_object_get(
	        json_object_get(json_object_get(r, "outbox"), "applied"),
	        "calendar"),
	    "held");
	ok(!strcmp(err_field(r), "") && held != NULL &&
	       !strcmp(held, "already stored"),
	   "the same calendar again is held, not refused");
	json_decref(r);
	json_decref(e);

	/* A late child's stream starts with the stored calendar. */
	json_decref(apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	                  json_pack("{s:s}", "region", "370103")));
	e = entry(A, 370103, 1);
	is_str(spec_str(e, "kind"), "calendar",
	       "a late child's entry 1: the calendar (backfill)");
	json_decref(e);

	json_decref(cal);
	json_decref(root);
	store_close(A);
	store_close(B);
	store_close(L);
	tu_rmtree(da);
	tu_rmtree(db);
	tu_rmtree(dl);
	return done_testing();
}
