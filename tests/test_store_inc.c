/* Tests for group.incarnation (feature level 5) on real LMDB stores: a
 * recovered city (370100) moves its streams into incarnation 2, keeps its
 * unacknowledged entries at their positions (old entries), numbers new ones
 * from (2, 1), and drops the old ones when its child's cursor of the old
 * incarnation acknowledges them, even beyond what it kept; the county
 * (370102) takes (2, 1) at any cursor of incarnation 1 and then refuses
 * incarnation 1 as stale; outbox.rewind refills a child's stream, and a
 * refilled release or overlay the child holds is accepted as held
 * (docs/REPLICATION.md "Incarnations in the node"). */
#include "node/region_store.h"
#include "node/store.h"
#include "schema/command.h"
#include "schema/incarnation.h"
#include "schema/spec.h"
#include "tests/store_util.h"
#include "tests/tap.h"

#include <string.h>

static uint64_t IDX_A, IDX_B;
static struct store *A, *B; /* 370100 (recovered), 370102 (its child) */

static json_t *
apply(struct store *s, uint64_t *idx, enum cmd_type t, json_t *body)
{
	struct canon_buf b = su_encode(t, SU_T0, NULL, body);
	json_t *res = NULL;
	int rv = store_apply(s, ++*idx, b.data, b.len, &res);

	canon_buf_free(&b);
	if (rv != 0) {
		printf("# store_apply: %s\n", tb_strerror(rv));
	}
	return res;
}

static const char *
err_field(const json_t *res)
{
	const char *f = spec_str(json_object_get(res, "error"), "field");
	return f != NULL ? f : "(none)";
}

static const char *
verdict(const json_t *res)
{
	const char *v = spec_str(json_object_get(res, "outbox"), "verdict");
	return v != NULL ? v : "(none)";
}

/* cert is a certificate of region's incarnation inc (fields only: the
 * apply checks them, the leader checked the signature). */
static json_t *
cert(const char *region, uint64_t inc)
{
	static const char *const members[] = { "0123456789abcdef" };
	json_t *c = NULL;

	inc_build(region, inc, members, 1, SU_T0, "370000",
	          "00112233445566778899aabbccddeeff"
	          "00112233445566778899aabbccddeeff",
	          &c);
	return c;
}

static json_t *
raise_inc(uint64_t inc, json_t *c)
{
	return apply(A, &IDX_A, CMD_GROUP_INCARNATION,
	             json_pack("{s:I, s:o}", "incarnation", (json_int_t)inc,
	                       "certificate", c));
}

/* entry reads the stored entry dest@pos at A, decoded (NULL if none). */
static json_t *
entry(uint32_t dest, uint32_t inc, uint64_t seq)
{
	uint8_t *p = NULL;
	size_t len = 0;
	json_t *e = NULL;
	char err[128];

	if (region_store_entry(A, dest, (struct outbox_pos){ inc, seq }, &p,
	                       &len) != TB_OK) {
		return NULL;
	}
	canon_decode(p, len, &canon_default_limits, &e, err, sizeof(err));
	free(p);
	return e;
}

/* deliver applies outbox.deliver of e at inc:seq at B: its verdict. */
static const char *
deliver(uint32_t inc, uint64_t seq, json_t *e)
{
	static char v[16];
	json_t *r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	                  json_pack("{s:s, s:I, s:I, s:o}", "origin", "370100",
	                            "inc", (json_int_t)inc, "seq",
	                            (json_int_t)seq, "entry", e));

	snprintf(v, sizeof(v), "%s", verdict(r));
	json_decref(r);
	return v;
}

/* deliver_by: the same, saying the sender was at incarnation by. */
static const char *
deliver_by(uint32_t inc, uint64_t seq, json_t *e, uint32_t by)
{
	static char v[16];
	json_t *r =
	    apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:I, s:I, s:o, s:I}", "origin", "370100",
	                    "inc", (json_int_t)inc, "seq", (json_int_t)seq,
	                    "entry", e, "by", (json_int_t)by));

	snprintf(v, sizeof(v), "%s", verdict(r));
	json_decref(r);
	return v;
}

/* skip applies outbox.skip from origin to inc:seq at B: its verdict. */
static const char *
skip(const char *origin, uint32_t inc, uint64_t seq)
{
	static char v[16];
	json_t *r = apply(B, &IDX_B, CMD_OUTBOX_SKIP,
	                  json_pack("{s:s, s:I, s:I}", "origin", origin, "inc",
	                            (json_int_t)inc, "seq", (json_int_t)seq));

	snprintf(v, sizeof(v), "%s", verdict(r));
	json_decref(r);
	return v;
}

/* held: A stores the entry dest@inc:seq. */
static bool
held(uint32_t dest, uint32_t inc, uint64_t seq)
{
	json_t *e = entry(dest, inc, seq);

	json_decref(e);
	return e != NULL;
}

static void
test_inc(void)
{
	struct outbox_out o;
	struct outbox_in in;
	struct outbox_pos at;
	json_t *r, *e1, *e2;
	uint32_t inc = 0;

	json_decref(apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	                  json_pack("{s:s}", "region", "370102")));
	json_decref(apply(A, &IDX_A, CMD_CATALOG_RELEASE,
	                  json_pack("{s:o}", "release",
	                            su_load("ops/examples/"
	                                    "catalog-370000.json"))));
	json_decref(apply(A, &IDX_A, CMD_CATALOG_OVERLAY,
	                  json_pack("{s:o}", "overlay",
	                            su_load("ops/examples/"
	                                    "overlay-370100.json"))));
	region_store_out(A, 370102, &o);
	ok(o.inc == 1 && o.next == 3,
	   "370100's stream to 370102: the release and its overlay at 1:1, "
	   "1:2");
	e1 = entry(370102, 1, 1);
	e2 = entry(370102, 1, 2);
	ok(e1 != NULL && e2 != NULL, "  both stored");

	/* The county takes 1:1; the city sees it acknowledged. */
	is_str(deliver(1, 1, json_incref(e1)), "accept", "370102 delivers 1:1");
	r = apply(
	    A, &IDX_A, CMD_OUTBOX_ACKED,
	    json_pack("{s:s, s:i, s:i}", "dest", "370102", "inc", 1, "seq", 1));
	is_str(verdict(r), "accept", "370100 commits the acknowledgement");
	json_decref(r);

	/* A recovery: the leader proposes group.incarnation. */
	r = raise_inc(2, cert("370100", 2));
	is_str(err_field(r), "$.type", "below feature level 5 it is refused");
	like(spec_str(json_object_get(r, "error"), "message"),
	     "needs feature level 5", "  naming the level");
	json_decref(r);
	json_decref(apply(A, &IDX_A, CMD_GROUP_FEATURE,
	                  json_pack("{s:i}", "level", 5)));
	r = raise_inc(2, cert("370103", 2));
	is_str(err_field(r), "$.body.certificate.region",
	       "a certificate of another region is refused");
	json_decref(r);
	r = raise_inc(3, cert("370100", 2));
	is_str(err_field(r), "$.body.incarnation",
	       "a number other than the certificate's is refused");
	json_decref(r);
	r = raise_inc(2, json_pack("{s:s}", "format", "x"));
	like(err_field(r), "$.body.certificate",
	     "a malformed certificate is refused, naming it");
	json_decref(r);
	region_store_inc(A, &inc);
	is_int(inc, 1, "  nothing changed: incarnation 1");

	r = raise_inc(2, cert("370100", 2));
	ok(spec_int(json_object_get(r, "incarnation"), "current", 0) == 2 &&
	       spec_int(json_object_get(r, "incarnation"), "streams", 0) == 1,
	   "group.incarnation 2 applies and moves the one stream");
	json_decref(r);
	region_store_inc(A, &inc);
	is_int(inc, 2, "  the replicated incarnation is 2");
	region_store_out(A, 370102, &o);
	ok(o.inc == 2 && o.next == 1 && o.old == 1 && o.acked.inc == 1 &&
	       o.acked.seq == 1 && outbox_out_backlog(&o) == 1,
	   "  the stream: next 2:1, one old entry, acked 1:1 (inc %u next "
	   "%llu old %llu)",
	   o.inc, (unsigned long long)o.next, (unsigned long long)o.old);
	ok(region_store_entry_next(A, 370102, o.acked, &at) == TB_OK &&
	       at.inc == 1 && at.seq == 2,
	   "  the old entry stays at 1:2");
	r = raise_inc(2, cert("370100", 2));
	is_str(err_field(r), "$.body.incarnation",
	       "raising to the same incarnation again is refused");
	json_decref(r);

	/* New streams start in incarnation 2. */
	r = apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	          json_pack("{s:s}", "region", "370103"));
	json_decref(r);
	region_store_out(A, 370103, &o);
	ok(o.inc == 2 && o.next == 3 && held(370103, 2, 1),
	   "a stream opened after it numbers its backfill 2:1, 2:2");

	/* The county's cursor 1:5 (entries the survivor lost) acknowledges
	 * the old entry; one of incarnation 3 is never sent. */
	r = apply(
	    A, &IDX_A, CMD_OUTBOX_ACKED,
	    json_pack("{s:s, s:i, s:i}", "dest", "370102", "inc", 3, "seq", 1));
	is_str(verdict(r), "dup", "an acknowledgement of 3:1 changes nothing");
	json_decref(r);
	r = apply(
	    A, &IDX_A, CMD_OUTBOX_ACKED,
	    json_pack("{s:s, s:i, s:i}", "dest", "370102", "inc", 1, "seq", 5));
	is_str(verdict(r), "accept",
	       "the county's cursor 1:5 acknowledges the old entries");
	json_decref(r);
	region_store_out(A, 370102, &o);
	ok(o.old == 0 && outbox_out_backlog(&o) == 0 && !held(370102, 1, 2),
	   "  1:2 is dropped, backlog 0");

	/* The county: 2:1 at cursor 1:1, then 1:2 is stale. */
	is_str(deliver(2, 2, json_incref(e2)), "gap",
	       "370102 at 1:1: 2:2 is a gap");
	region_store_in(B, 370100, &in);
	is_int(in.by, 0, "370102's cursor record names no sender yet");
	is_str(deliver_by(2, 1, json_incref(e2), 2), "accept",
	       "370102 at 1:1: 2:1 is accepted (sent by a node at 2)");
	is_str(deliver(1, 2, json_incref(e2)), "stale", "then 1:2 is stale");
	region_store_in(B, 370100, &in);
	ok(in.cursor.inc == 2 && in.cursor.seq == 1 && in.by == 2,
	   "  the cursor is 2:1, delivered from a node at incarnation 2");

	/* outbox.skip: the county lost deliveries with a recovery of its
	 * own; the city has acknowledged up to 2:5. */
	is_str(skip("370100", 2, 1), "dup", "a skip to the cursor is a dup");
	is_str(skip("370100", 1, 9), "dup", "a skip below it is a dup");
	is_str(skip("370100", 2, 5), "accept", "a skip to 2:5 is applied");
	region_store_in(B, 370100, &in);
	ok(in.cursor.inc == 2 && in.cursor.seq == 5, "  the cursor is 2:5");
	is_str(deliver(2, 7, json_incref(e2)), "gap",
	       "  2:7 is a gap (2:6 is the next entry)");
	r = apply(B, &IDX_B, CMD_OUTBOX_SKIP,
	          json_pack("{s:s, s:i, s:i}", "origin", "370200", "inc", 2,
	                    "seq", 9));
	is_str(err_field(r), "$.body.origin",
	       "a skip from a region neither parent nor child is refused");
	json_decref(r);
	json_decref(e1);
	json_decref(e2);
}

/* rewind applies outbox.rewind of the stream to dest at s. */
static json_t *
rewind_at(struct store *s, uint64_t *idx, const char *dest, int by)
{
	return apply(s, idx, CMD_OUTBOX_REWIND,
	             json_pack("{s:s, s:i}", "dest", dest, "by", by));
}

static bool
rewound(const json_t *r)
{
	return json_is_true(
	    json_object_get(json_object_get(r, "outbox"), "rewound"));
}

static long long
ob_int(const json_t *r, const char *k)
{
	return spec_int(json_object_get(r, "outbox"), k, -1);
}

/* outbox.rewind at the city (after test_inc: level 5, its stream to 370102
 * acknowledged to 1:5, nothing held) and the county taking the refilled
 * catalog it already holds as held, from level 5. */
static void
test_rewind(void)
{
	struct outbox_out o;
	struct outbox_pos at;
	json_t *r, *e1, *e2, *bad, *rel;

	r = rewind_at(B, &IDX_B, "370102", 2);
	like(spec_str(json_object_get(r, "error"), "message"),
	     "outbox.rewind needs feature level 5",
	     "outbox.rewind below level 5 is refused, naming the level");
	json_decref(r);
	r = rewind_at(A, &IDX_A, "370200", 2);
	is_str(err_field(r), "$.body.dest", "a dest not a child is refused");
	json_decref(r);
	r = rewind_at(A, &IDX_A, "370102", 1);
	is_str(err_field(r), "$.body.by", "an incarnation below 2 is refused");
	json_decref(r);
	r = rewind_at(A, &IDX_A, "370104", 2);
	is_str(err_field(r), "$.body.dest",
	       "a child without a stream is refused");
	json_decref(r);

	r = rewind_at(A, &IDX_A, "370102", 2);
	ok(rewound(r) && ob_int(r, "dropped") == 0 && ob_int(r, "backlog") == 2,
	   "rewind for 370102 at incarnation 2: nothing held to drop, the "
	   "release and the overlay refilled (backlog %lld)",
	   ob_int(r, "backlog"));
	json_decref(r);
	region_store_out(A, 370102, &o);
	ok(o.acked.inc == 1 && o.acked.seq == 5 && o.next == 3 &&
	       held(370102, 2, 1) && held(370102, 2, 2),
	   "  acked stays 1:5, the refill at 2:1, 2:2");
	r = rewind_at(A, &IDX_A, "370102", 2);
	ok(!rewound(r), "  a second rewind for incarnation 2 "
	                "changes nothing");
	json_decref(r);
	region_store_out(A, 370102, &o);
	ok(o.next == 3, "  (next still 2:3)");

	r = rewind_at(A, &IDX_A, "370102", 3);
	ok(rewound(r) && ob_int(r, "dropped") == 2 &&
	       ob_int(r, "acked_inc") == 2 && ob_int(r, "acked_seq") == 2 &&
	       ob_int(r, "backlog") == 2,
	   "rewind for incarnation 3: the 2 entries held dropped as "
	   "acknowledged (acked 2:2), refilled at 2:3, 2:4");
	json_decref(r);
	ok(!held(370102, 2, 1) && !held(370102, 2, 2) && held(370102, 2, 3) &&
	       region_store_entry_next(A, 370102, (struct outbox_pos){ 0, 0 },
	                               &at) == TB_OK &&
	       at.inc == 2 && at.seq == 3,
	   "  the first entry held is 2:3");

	/* The county (cursor 2:5 after test_inc) holds release 1 and the
	 * overlay: below level 5 a second copy is refused (rollback). */
	e1 = entry(370102, 2, 3);
	e2 = entry(370102, 2, 4);
	is_str(deliver(2, 6, json_incref(e1)), "(none)",
	       "370102 at level 1: release 1 again is refused");
	json_decref(apply(B, &IDX_B, CMD_GROUP_FEATURE,
	                  json_pack("{s:i}", "level", 5)));
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:i, s:i, s:O}", "origin", "370100", "inc",
	                    2, "seq", 6, "entry", e1));
	ok(!strcmp(verdict(r), "accept") &&
	       !strcmp(
	           spec_str(json_object_get(
	                        json_object_get(json_object_get(r, "outbox"),
	                                        "applied"),
	                        "release"),
	                    "held"),
	           "already stored"),
	   "at level 5 it is accepted as held");
	json_decref(r);
	is_str(deliver(2, 7, json_incref(e2)), "accept",
	       "  so is the overlay it holds");
	/* The same version with other content is no copy: refused. */
	bad = json_deep_copy(e1);
	rel = json_object_get(bad, "doc");
	json_object_set_new(rel, "effective_at",
	                    json_string("2031-01-01T00:00:00+08:00"));
	is_str(deliver(2, 8, bad), "(none)",
	       "  release 1 with other content is refused (not held)");
	json_decref(e1);
	json_decref(e2);
}

int
main(void)
{
	char da[64], db[64];

	snprintf(da, sizeof(da), "/tmp/tb-inc-a-%d", (int)getpid());
	snprintf(db, sizeof(db), "/tmp/tb-inc-b-%d", (int)getpid());
	tu_rmtree(da);
	tu_rmtree(db);
	A = su_open(da, "370100");
	B = su_open(db, "370102");
	ok(A != NULL && B != NULL, "two stores: 370100 and 370102");
	if (A != NULL && B != NULL) {
		test_inc();
		test_rewind();
	}
	store_close(A);
	store_close(B);
	tu_rmtree(da);
	tu_rmtree(db);
	return done_testing();
}
