/* Tests for the region commands on real LMDB stores: the topology
 * (region.topology), the outbox records (outbox.child with its backfill,
 * the fan-out of an applied release, outbox.deliver's verdicts and
 * refusals, outbox.acked), between a city's store and a county's. */
#include "node/region_store.h"
#include "node/store_db.h"
#include "node/store.h"
#include "schema/command.h"
#include "schema/matter.h"
#include "schema/spec.h"
#include "tests/tap.h"
#include "tests/store_util.h"

static uint64_t IDX_A, IDX_B;
static struct store *A, *B; /* 370100 (origin), 370102 (destination) */

/* apply applies (type, body stolen) at s and returns the result. */
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

static void
test_topology(void)
{
	json_t *r, *t = NULL;

	r = apply(A, &IDX_A, CMD_REGION_TOPOLOGY,
	          json_pack("{s:s, s:s, s:s}", "op", "set-parent", "code",
	                    "370000", "url", "tcp://127.0.0.1:7401"));
	is_str(
	    spec_str(json_object_get(json_object_get(r, "topology"), "parent"),
	             "code"),
	    "370000", "set-parent 370000 at 370100");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_REGION_TOPOLOGY,
	          json_pack("{s:s, s:s, s:s}", "op", "set-parent", "code",
	                    "370200", "url", "tcp://127.0.0.1:7401"));
	is_str(err_field(r), "$.body.code",
	       "a parent other than the table's is refused");
	like(spec_str(json_object_get(r, "error"), "message"),
	     "parent in the GB/T 2260 table is 370000", "  naming the table's");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_REGION_TOPOLOGY,
	          json_pack("{s:s, s:s, s:s}", "op", "add-peer", "code",
	                    "370200", "url", "http://x:1"));
	is_str(err_field(r), "$.body.url", "a URL not tcp://HOST:PORT");
	json_decref(r);
	r = apply(
	    A, &IDX_A, CMD_REGION_TOPOLOGY,
	    json_pack("{s:s, s:s}", "op", "remove-peer", "code", "370300"));
	is_str(spec_str(json_object_get(r, "error"), "code"), "not_found",
	       "removing a peer that is none: not_found");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_REGION_TOPOLOGY,
	          json_pack("{s:s, s:s, s:s}", "op", "add-peer", "code",
	                    "370200", "url", "tcp://10.0.0.2:7401"));
	json_decref(r);
	region_store_topology(A, &t);
	is_int((long long)json_array_size(json_object_get(t, "peers")), 1,
	       "add-peer 370200: the topology has one peer");
	ok(json_object_get(t, "unset") == NULL, "  and is set");
	json_decref(t);
}

/* stored_as_encoded: the value at key of database dbi in s is the
 * schema-version byte and v's canonical msgpack, as db_put_json writes it
 * (a release's apply stores the bytes it came in: they must be these). */
static bool
stored_as_encoded(struct store *s, int dbi, const void *key, size_t klen,
                  const json_t *v)
{
	struct canon_buf b = { 0 };
	uint8_t sv = STORE_SV;
	MDB_txn *txn;
	MDB_val val;
	char err[128];
	bool same = false;

	if (store_rd_begin(s, &txn) != 0) {
		return false;
	}
	if (db_get(txn, s->dbi[dbi], key, klen, &val) == 0 &&
	    canon_buf_append(&b, &sv, 1) == 0 &&
	    canon_encode(v, &b, err, sizeof(err)) == 0) {
		same =
		    val.mv_size == b.len && !memcmp(val.mv_data, b.data, b.len);
	}
	store_rd_end(s, txn);
	canon_buf_free(&b);
	return same;
}

/* layer_as_encoded: release rel (version 1) and each of its matters are
 * stored at s as their encodings. */
static void
layer_as_encoded(struct store *s, const json_t *rel, const char *where)
{
	uint8_t vk[8];
	char k[MATTER_KEY_MAX];
	json_t *m;
	size_t i, same = 0;

	db_be64(vk, 1);
	ok(stored_as_encoded(s, DB_RELEASES, vk, 8, rel),
	   "%s: release 1 is stored as its encoding, byte for byte", where);
	json_array_foreach(json_object_get(rel, "matters"), i, m)
	{
		matter_key(m, k, sizeof(k));
		same += stored_as_encoded(s, DB_MATTERS, k, strlen(k), m);
	}
	is_int((long long)same,
	       (long long)json_array_size(json_object_get(rel, "matters")),
	       "%s: and so is each of its matters", where);
}

/* test_run_release: release 2 from the city reaches the county in a run
 * with release 1 (already delivered): the run skips 1 and applies 2 from
 * its bytes, which are stored as its encoding. */
static void
test_run_release(const json_t *e1)
{
	json_t *v2 = json_deep_copy(json_object_get(e1, "doc")), *m, *r;
	json_t *e2 = NULL;
	char hex[2 * CANON_HASH_LEN + 1], err[128];
	uint8_t h[CANON_HASH_LEN], vk[8], *p = NULL;
	struct outbox_in in;
	size_t len = 0;

	canon_hash_value(json_object_get(e1, "doc"), "signatures", h, err,
	                 sizeof(err));
	canon_hex(h, sizeof(h), hex);
	m = json_deep_copy(json_array_get(json_object_get(v2, "matters"), 0));
	json_object_set_new(m, "task_name", json_string("经营许可 v2"));
	json_object_set_new(v2, "version", json_integer(2));
	json_object_set_new(v2, "prev_hash", json_string(hex));
	json_object_set_new(v2, "snapshot", json_false());
	json_object_set_new(v2, "matters", json_pack("[o]", m));
	json_object_del(v2, "calendar");
	json_object_del(v2, "signatures");
	json_object_set_new(v2, "bundles", json_array());
	r = apply(A, &IDX_A, CMD_CATALOG_RELEASE,
	          json_pack("{s:O}", "release", v2));
	ok(json_object_get(r, "catalog") != NULL,
	   "release 2 applies at 370100");
	json_decref(r);
	is_int(region_store_entry(A, 370102, (struct outbox_pos){ 1, 2 }, &p,
	                          &len),
	       TB_OK, "  entry 1.2 for 370102");
	canon_decode(p, len, &canon_default_limits, &e2, err, sizeof(err));
	free(p);
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER_RUN,
	          json_pack("{s:s, s:i, s:i, s:[O, O]}", "origin", "370100",
	                    "inc", 1, "seq", 1, "entries", e1, e2));
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "accept",
	       "a run of releases 1 and 2 at 370102: accepted");
	is_int(spec_int(json_object_get(r, "outbox"), "delivered", -1), 1,
	       "  release 1 skipped (delivered before), 2 applied");
	json_decref(r);
	region_store_in(B, 370100, &in);
	is_int((long long)in.cursor.seq, 2, "  the cursor at 1.2");
	db_be64(vk, 2);
	ok(stored_as_encoded(B, DB_RELEASES, vk, 8, v2),
	   "  release 2 stored as its encoding, byte for byte");
	m = json_array_get(json_object_get(v2, "matters"), 0);
	{
		char k[MATTER_KEY_MAX];
		matter_key(m, k, sizeof(k));
		ok(stored_as_encoded(B, DB_MATTERS, k, strlen(k), m),
		   "  and its matter");
	}
	json_decref(e2);
	json_decref(v2);
}

static void
test_flow(void)
{
	struct outbox_out o;
	struct outbox_in in;
	json_t *r, *entry = NULL, *bad;
	uint8_t *p = NULL;
	size_t len = 0;
	char err[128];
	int rv;

	r = apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	          json_pack("{s:s}", "region", "370202"));
	is_str(err_field(r), "$.body.region", "370202 is no child of 370100");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	          json_pack("{s:s}", "region", "370102"));
	ok(spec_bool(json_object_get(r, "outbox"), "created", false),
	   "outbox.child 370102 opens a stream");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_CATALOG_RELEASE,
	          json_pack("{s:o}", "release",
	                    su_load("ops/examples/catalog-370000.json")));
	ok(json_object_get(r, "catalog") != NULL,
	   "release 1 applies at 370100");
	json_decref(r);
	is_int(region_store_out(A, 370102, &o), TB_OK, "the stream's record");
	is_int((long long)outbox_out_backlog(&o), 1,
	       "  holds the release: backlog 1");
	rv = region_store_entry(A, 370102, (struct outbox_pos){ 1, 1 }, &p,
	                        &len);
	is_int(rv, TB_OK, "entry 1.1 is stored");
	rv = canon_decode(p, len, &canon_default_limits, &entry, err,
	                  sizeof(err));
	is_str(spec_str(entry, "kind"), "release",
	       "  as canonical msgpack of {kind: release, doc}");
	{
		struct canon_buf eb = { 0 };
		canon_encode(entry, &eb, err, sizeof(err));
		ok(eb.len == len && !memcmp(eb.data, p, len),
		   "  made around the release's bytes: its encoding, byte "
		   "for byte");
		canon_buf_free(&eb);
	}
	free(p);

	/* The county delivers it. */
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:i, s:i, s:O}", "origin", "370000", "inc",
	                    1, "seq", 1, "entry", entry));
	is_str(err_field(r), "$.body.origin",
	       "370102 takes entries from its parent only");
	json_decref(r);
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:i, s:i, s:O}", "origin", "370100", "inc",
	                    1, "seq", 2, "entry", entry));
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "gap",
	       "seq 2 before 1: gap");
	json_decref(r);
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:i, s:i, s:O}", "origin", "370100", "inc",
	                    1, "seq", 1, "entry", entry));
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "accept",
	       "seq 1: accepted");
	ok(json_object_get(json_object_get(r, "outbox"), "applied") != NULL,
	   "  with the release's apply result");
	json_decref(r);
	layer_as_encoded(A, json_object_get(entry, "doc"),
	                 "published at 370100");
	layer_as_encoded(B, json_object_get(entry, "doc"),
	                 "delivered at 370102");
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:i, s:i, s:O}", "origin", "370100", "inc",
	                    1, "seq", 1, "entry", entry));
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "dup",
	       "seq 1 again: a duplicate, dropped");
	json_decref(r);
	region_store_in(B, 370100, &in);
	is_int((long long)in.cursor.seq, 1, "the county's cursor is 1.1");

	/* A release the county's apply refuses: the cursor stays. */
	bad = json_deep_copy(entry);
	json_object_set_new(json_object_get(bad, "doc"), "version",
	                    json_integer(7));
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:i, s:i, s:o}", "origin", "370100", "inc",
	                    1, "seq", 2, "entry", bad));
	like(err_field(r), "$.body.release",
	     "a delivered release the apply refuses is refused, naming it");
	json_decref(r);
	region_store_in(B, 370100, &in);
	is_int((long long)in.cursor.seq, 1, "  and the cursor stays at 1");
	/* A city overlay touching a standard field, as a delivered entry:
	 * the same ownership check as a local overlay's. */
	bad = json_pack("{s:s, s:o}", "kind", "overlay", "doc",
	                su_load("ops/examples/overlay-370100.json"));
	json_object_set_new(
	    json_array_get(
	        json_object_get(json_object_get(bad, "doc"), "entries"), 0),
	    "task_name", json_string("改个名字"));
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:i, s:i, s:o}", "origin", "370100", "inc",
	                    1, "seq", 2, "entry", bad));
	is_str(err_field(r), "$.body.overlay.entries[0].task_name",
	       "a delivered overlay touching a standard field is refused");
	like(spec_str(json_object_get(r, "error"), "message"),
	     "is owned by 370000 (四级四同) and cannot be changed by 370100",
	     "  naming the field's owner");
	json_decref(r);
	region_store_in(B, 370100, &in);
	is_int((long long)in.cursor.seq, 1, "  and the cursor stays at 1");
	r = apply(B, &IDX_B, CMD_OUTBOX_DELIVER,
	          json_pack("{s:s, s:i, s:i, s:{s:s, s:{}}}", "origin",
	                    "370100", "inc", 1, "seq", 2, "entry", "kind",
	                    "bundle", "doc"));
	is_str(err_field(r), "$.body.entry", "an unknown entry kind");
	json_decref(r);

	/* The city commits the county's acknowledgement. */
	r = apply(
	    A, &IDX_A, CMD_OUTBOX_ACKED,
	    json_pack("{s:s, s:i, s:i}", "dest", "370102", "inc", 1, "seq", 5));
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "dup",
	       "an acknowledgement of what was never sent changes nothing");
	json_decref(r);
	r = apply(
	    A, &IDX_A, CMD_OUTBOX_ACKED,
	    json_pack("{s:s, s:i, s:i}", "dest", "370102", "inc", 1, "seq", 1));
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "accept",
	       "acked 1.1");
	json_decref(r);
	region_store_out(A, 370102, &o);
	is_int((long long)outbox_out_backlog(&o), 0, "  backlog 0");
	is_int(region_store_entry(A, 370102, (struct outbox_pos){ 1, 1 }, &p,
	                          &len),
	       TB_ENOTFOUND, "  and the entry is dropped");
	r = apply(
	    A, &IDX_A, CMD_OUTBOX_ACKED,
	    json_pack("{s:s, s:i, s:i}", "dest", "370103", "inc", 1, "seq", 1));
	is_str(err_field(r), "$.body.dest",
	       "acked for a region with no stream");
	json_decref(r);

	/* A child that arrives late gets the catalog so far. */
	r = apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	          json_pack("{s:s}", "region", "370103"));
	is_int(spec_int(json_object_get(r, "outbox"), "backlog", -1), 1,
	       "a late child's stream starts with the stored release");
	json_decref(r);
	test_run_release(entry);
	json_decref(entry);
}

/* summary is a case summary entry of case 370102-...-00000i at version v
 * (no id when i is 0). */
static json_t *
summary(int i, int v)
{
	char id[40];

	snprintf(id, sizeof(id), "370102-20261130-%06d", i);
	return i == 0 ? json_pack("{s:s, s:{s:i}}", "kind", "case", "doc",
	                          "version", v)
	              : json_pack("{s:s, s:{s:s, s:s, s:i}}", "kind", "case",
	                          "doc", "id", id, "state", "received",
	                          "version", v);
}

static json_t *
run(int seq, json_t *entries)
{
	return json_pack("{s:s, s:i, s:i, s:o}", "origin", "370102", "inc", 1,
	                 "seq", seq, "entries", entries);
}

/* area_version is the version of case i's summary at A (0: none). */
static long long
area_version(int i)
{
	char id[40];
	json_t *out = NULL, *c;
	long long v = 0;
	size_t k;

	snprintf(id, sizeof(id), "370102-20261130-%06d", i);
	if (region_store_area(A, NULL, -1, SU_T0, "", 100, &out) != TB_OK) {
		return -1;
	}
	json_array_foreach(json_object_get(out, "cases"), k, c)
	{
		if (!strcmp(spec_str(c, "id"), id)) {
			v = spec_int(c, "version", 0);
		}
	}
	json_decref(out);
	return v;
}

/* Case summaries up from 370102 to 370100 in runs (outbox.deliver_run). */
static void
test_runs(void)
{
	struct outbox_in in;
	json_t *r, *ob;

	r = apply(A, &IDX_A, CMD_OUTBOX_DELIVER_RUN,
	          run(1, json_pack("[o, o, o]", summary(1, 1), summary(2, 1),
	                           summary(3, 1))));
	ob = json_object_get(r, "outbox");
	ok(!strcmp(spec_str(ob, "verdict"), "accept") &&
	       spec_int(ob, "delivered", 0) == 3 && spec_int(ob, "seq", 0) == 3,
	   "a run of 1..3 is delivered in one command: cursor 3");
	json_decref(r);
	ok(area_version(1) == 1 && area_version(3) == 1,
	   "  its summaries are kept for the area");
	r = apply(A, &IDX_A, CMD_OUTBOX_DELIVER_RUN,
	          run(2, json_pack("[o, o, o, o]", summary(2, 9), summary(3, 9),
	                           summary(4, 1), summary(5, 1))));
	ob = json_object_get(r, "outbox");
	ok(!strcmp(spec_str(ob, "verdict"), "accept") &&
	       spec_int(ob, "delivered", 0) == 2 && spec_int(ob, "seq", 0) == 5,
	   "a run of 2..5 at cursor 3: 4..5 delivered, cursor 5");
	json_decref(r);
	ok(area_version(2) == 1 && area_version(3) == 1 && area_version(5) == 1,
	   "  its delivered prefix (2..3) skipped, not applied again");
	r = apply(A, &IDX_A, CMD_OUTBOX_DELIVER_RUN,
	          run(1, json_pack("[o, o]", summary(1, 9), summary(2, 9))));
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "dup",
	       "a run of 1..2: a duplicate");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_OUTBOX_DELIVER_RUN,
	          run(7, json_pack("[o]", summary(7, 1))));
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "gap",
	       "a run from 7 at cursor 5: a gap");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_OUTBOX_DELIVER_RUN,
	          run(6, json_pack("[o, o]", summary(6, 1), summary(0, 1))));
	is_str(err_field(r), "$.body.entries[1].doc.id",
	       "a run whose second entry has no case id is refused");
	json_decref(r);
	region_store_in(A, 370102, &in);
	ok(in.cursor.seq == 5 && area_version(6) == 0,
	   "  whole: the cursor stays at 5, entry 6 is not kept either");
	r = apply(A, &IDX_A, CMD_OUTBOX_DELIVER_RUN,
	          run(6, json_pack("[o]", json_pack("{s:s, s:{}}", "kind",
	                                            "release", "doc"))));
	is_str(err_field(r), "$.body.entries[0]",
	       "a release from a child is refused, naming the entry");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_OUTBOX_DELIVER_RUN, run(6, json_array()));
	is_str(err_field(r), "$.body.entries", "an empty run is refused");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_OUTBOX_DELIVER_RUN,
	          json_pack("{s:s, s:i, s:i, s:[o]}", "origin", "370200", "inc",
	                    1, "seq", 1, "entries", summary(9, 1)));
	is_str(err_field(r), "$.body.origin",
	       "a run from a region neither parent nor child is refused");
	json_decref(r);
}

/* raw_size: the size of the stored value of entry dest@pos at s (0 if
 * none). */
static size_t
raw_size(struct store *s, uint32_t dest, struct outbox_pos pos)
{
	MDB_txn *txn;
	uint8_t k[19];
	MDB_val v = { 0, NULL };
	size_t n = 0;

	region_entry_key(k, dest, pos);
	if (store_rd_begin(s, &txn) == 0) {
		if (db_get(txn, s->dbi[DB_OUTBOX], k, sizeof(k), &v) == 0) {
			n = v.mv_size;
		}
		store_rd_end(s, txn);
	}
	return n;
}

/* sent_as_copy: entry dest@pos at s is sent as the canonical msgpack of
 * {"kind": "release", "doc": the stored release of version ver}, the copy
 * form, byte for byte. */
static bool
sent_as_copy(struct store *s, uint32_t dest, struct outbox_pos pos,
             uint64_t ver)
{
	struct canon_buf b = { 0 };
	uint8_t vk[8], *p = NULL;
	json_t *rel = NULL, *e;
	MDB_txn *txn;
	char err[128];
	size_t len = 0;
	bool same = false;

	db_be64(vk, ver);
	if (store_rd_begin(s, &txn) != 0) {
		return false;
	}
	db_get_json(txn, s->dbi[DB_RELEASES], vk, 8, &rel);
	store_rd_end(s, txn);
	if (rel == NULL ||
	    region_store_entry(s, dest, pos, &p, &len) != TB_OK) {
		json_decref(rel);
		return false;
	}
	e = json_pack("{s:s, s:o}", "kind", "release", "doc", rel);
	if (e != NULL && canon_encode(e, &b, err, sizeof(err)) == 0) {
		same = b.len == len && !memcmp(b.data, p, len);
	}
	json_decref(e);
	canon_buf_free(&b);
	free(p);
	return same;
}

/* test_ref: at feature level 5 a release's outbox entry refers to the stored
 * release (a few bytes) and is sent as the copy it replaces; an entry
 * stored as a copy before the raise is still sent as it was. */
static void
test_ref(void)
{
	json_t *r, *v3 = NULL;
	uint8_t vk[8];
	MDB_txn *txn;
	struct outbox_out o;
	struct outbox_pos p12 = { 1, 2 };

	ok(raw_size(A, 370102, p12) > 1000,
	   "at level 1 entry 1.2 to 370102 is a copy of release 2 (%zu bytes)",
	   raw_size(A, 370102, p12));
	r = apply(A, &IDX_A, CMD_GROUP_FEATURE, json_pack("{s:i}", "level", 5));
	is_int(spec_int(r, "feature_level", 0), 5, "370100 raised to level 5");
	json_decref(r);
	ok(sent_as_copy(A, 370102, p12, 2),
	   "  the copy stored before the raise is sent as it was");

	/* A late child's backfill: both releases by reference. */
	r = apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	          json_pack("{s:s}", "region", "370104"));
	is_int(spec_int(json_object_get(r, "outbox"), "backlog", -1), 2,
	       "a stream opened at level 5 is backfilled with releases 1, 2");
	json_decref(r);
	ok(raw_size(A, 370104, (struct outbox_pos){ 1, 1 }) < 40 &&
	       raw_size(A, 370104, p12) < 40,
	   "  each as a reference (%zu, %zu bytes)",
	   raw_size(A, 370104, (struct outbox_pos){ 1, 1 }),
	   raw_size(A, 370104, p12));
	ok(sent_as_copy(A, 370104, (struct outbox_pos){ 1, 1 }, 1) &&
	       sent_as_copy(A, 370104, p12, 2),
	   "  sent as the copies, byte for byte");

	/* A release applied at level 5: a reference in every child's
	 * stream. */
	db_be64(vk, 2);
	if (store_rd_begin(A, &txn) == 0) {
		db_get_json(txn, A->dbi[DB_RELEASES], vk, 8, &v3);
		store_rd_end(A, txn);
	}
	if (v3 != NULL) {
		char hex[2 * CANON_HASH_LEN + 1], err[128];
		uint8_t h[CANON_HASH_LEN];

		canon_hash_value(v3, "signatures", h, err, sizeof(err));
		canon_hex(h, sizeof(h), hex);
		json_object_set_new(v3, "version", json_integer(3));
		json_object_set_new(v3, "prev_hash", json_string(hex));
	}
	r = apply(A, &IDX_A, CMD_CATALOG_RELEASE,
	          json_pack("{s:o*}", "release", v3));
	ok(json_object_get(r, "catalog") != NULL,
	   "release 3 applies at 370100 at level 5");
	json_decref(r);
	region_store_out(A, 370104, &o);
	is_int((long long)o.next, 4, "  370104's stream holds 3 entries");
	ok(raw_size(A, 370104, (struct outbox_pos){ 1, 3 }) < 40 &&
	       sent_as_copy(A, 370104, (struct outbox_pos){ 1, 3 }, 3),
	   "  release 3 as a reference, sent as its copy");
	region_store_out(A, 370102, &o);
	ok(raw_size(A, 370102, (struct outbox_pos){ 1, o.next - 1 }) < 40 &&
	       sent_as_copy(A, 370102, (struct outbox_pos){ 1, o.next - 1 }, 3),
	   "  and in 370102's stream");
}

int
main(void)
{
	char da[64], db[64];

	snprintf(da, sizeof(da), "/tmp/tb-region-a-%d", (int)getpid());
	snprintf(db, sizeof(db), "/tmp/tb-region-b-%d", (int)getpid());
	tu_rmtree(da);
	tu_rmtree(db);
	A = su_open(da, "370100");
	B = su_open(db, "370102");
	ok(A != NULL && B != NULL, "two stores: 370100 and 370102");
	if (A != NULL && B != NULL) {
		test_topology();
		test_flow();
		test_runs();
		test_ref();
	}
	store_close(A);
	store_close(B);
	tu_rmtree(da);
	tu_rmtree(db);
	return done_testing();
}
