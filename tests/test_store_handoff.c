/* Tests for the apply of the handoff commands on real LMDB stores
 * (node/fsm_handoff*.c): 历下区 (370102) hands a case to 市南区 (370202),
 * the frames carried by hand between the two stores: "catalog behind"
 * commits nothing, the prepare, duplicates that change nothing, the
 * transfer and the tombstone, the owner's writes at epoch 2, the abort
 * judged by the command's time, and frames that are refused. */
#include "node/fsm_handoff.h"
#include "node/handoff.h"
#include "node/store.h"
#include "schema/command.h"
#include "schema/spec.h"
#include "tests/store_util.h"
#include "tests/tap.h"

static uint64_t IDX_A, IDX_B;
static char HID[64]; /* the case test_handoff hands to 370202 */
static struct store *A, *B;

/* apply applies (type, body stolen) at s at time at; the result. */
static json_t *
apply_at(struct store *s, uint64_t *idx, enum cmd_type t, json_t *body,
         int64_t at)
{
	struct canon_buf b = su_encode(t, at, NULL, body);
	json_t *res = NULL;
	int rv = store_apply(s, ++*idx, b.data, b.len, &res);

	canon_buf_free(&b);
	if (rv != 0) {
		printf("# store_apply: %s\n", tb_strerror(rv));
	}
	return res;
}

static json_t *
apply(struct store *s, uint64_t *idx, enum cmd_type t, json_t *body)
{
	return apply_at(s, idx, t, body, SU_T0);
}

static const char *
err_code(const json_t *res)
{
	const char *c = spec_str(json_object_get(res, "error"), "code");
	return c != NULL ? c : "(none)";
}

/* frame builds what store s (region self) sends for its record of id at
 * (epoch, attempt 1): a frame of kind. */
static json_t *
frame(struct store *s, const char *self, const char *id, int epoch,
      const char *kind)
{
	json_t *rec = NULL, *fr = NULL;
	MDB_txn *txn;

	if (store_rd_begin(s, &txn) != 0) {
		return NULL;
	}
	if (fsm_handoff_get(s, txn, id, (uint32_t)epoch, 1, &rec) == TB_OK) {
		handoff_frame_build(s, txn, self, rec, kind, &fr);
	}
	store_rd_end(s, txn);
	json_decref(rec);
	return fr;
}

/* deliver applies frame fr (stolen) at s; returns its result entry. */
static json_t *
deliver(struct store *s, uint64_t *idx, json_t *fr)
{
	json_t *r = apply(s, idx, CMD_HANDOFF_FRAME,
	                  json_pack("{s:[o]}", "frames", fr));
	json_t *e =
	    json_incref(json_array_get(json_object_get(r, "frames"), 0));

	json_decref(r);
	return e;
}

static json_t *
get_case(struct store *s, const char *id)
{
	json_t *c = NULL;

	store_case_get(s, id, SU_T0, &c);
	return c;
}

static void
test_handoff(void)
{
	char id[64], idn[19];
	json_t *r, *fr, *c;

	su_id(1, idn);
	r = apply(A, &IDX_A, CMD_CASE_CREATE, su_food(idn));
	snprintf(id, sizeof(id), "%s",
	         spec_str(json_object_get(r, "case"), "id"));
	json_decref(r);
	r = apply(A, &IDX_A, CMD_HANDOFF_OFFER,
	          json_pack("{s:s, s:s, s:s, s:s}", "case", id, "to", "370202",
	                    "mode", "异地代收代办", "reason", "测试"));
	is_str(spec_str(json_object_get(r, "handoff"), "state"), "offered",
	       "handoff.offer at 370102: offered");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_CASE_ACTION, su_act(id, "accept", 1));
	is_str(err_code(r), "case_frozen", "an action on the frozen case");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_HANDOFF_OFFER,
	          json_pack("{s:s, s:s, s:s, s:s}", "case", id, "to", "370202",
	                    "mode", "多地联办", "reason", "again"));
	is_str(err_code(r), "case_frozen", "a second offer: case_frozen");
	json_decref(r);

	/* 370202 has no catalog yet: behind, nothing committed. */
	r = deliver(B, &IDX_B, frame(A, "370102", id, 1, "offer"));
	is_str(spec_str(r, "state"), "none",
	       "an offer at a target whose "
	       "catalog is behind: no record");
	like(spec_str(r, "behind"), "catalog behind", "  saying why");
	is_str(spec_str(r, "reply"), "none", "  and no reply");
	json_decref(r);
	ok((c = get_case(B, id)) == NULL, "  no copy of the case");
	json_decref(c);

	json_decref(apply(B, &IDX_B, CMD_CATALOG_RELEASE, su_catalog(0)));
	r = deliver(B, &IDX_B, frame(A, "370102", id, 1, "offer"));
	is_str(spec_str(r, "state"), "prepared", "with the standard: prepared");
	is_str(spec_str(r, "reply"), "accept", "  replying accept");
	json_decref(r);
	r = deliver(B, &IDX_B, frame(A, "370102", id, 1, "offer"));
	ok(!json_is_true(json_object_get(r, "committed")) &&
	       !strcmp(spec_str(r, "reply"), "accept"),
	   "a duplicate offer commits nothing and replies accept again");
	json_decref(r);
	c = get_case(B, id);
	is_int(spec_int(c, "epoch", 0), 2, "the prepared copy is at epoch 2");
	ok(json_is_true(json_object_get(c, "frozen")), "  frozen");
	is_int((long long)json_array_size(json_object_get(c, "events")), 1,
	       "  with the source's event");
	json_decref(c);
	r = apply(B, &IDX_B, CMD_CASE_ACTION, su_act(id, "accept", 1));
	is_str(err_code(r), "case_frozen", "the prepared copy is not writable");
	json_decref(r);

	r = deliver(A, &IDX_A, frame(B, "370202", id, 1, "accept"));
	is_str(spec_str(r, "state"), "transferred",
	       "accept at 370102: "
	       "transferred");
	is_str(spec_str(r, "reply"), "commit", "  replying commit");
	json_decref(r);
	r = deliver(A, &IDX_A, frame(B, "370202", id, 1, "accept"));
	is_str(spec_str(r, "reply"), "commit", "a duplicate accept: commit");
	json_decref(r);
	r = apply_at(A, &IDX_A, CMD_HANDOFF_ABORT,
	             json_pack("{s:s, s:i}", "case", id, "after_ms", 0),
	             SU_T0 + 3600000);
	is_str(err_code(r), "case_moved",
	       "an abort after the transfer: "
	       "case_moved");
	json_decref(r);
	r = apply(A, &IDX_A, CMD_CASE_ACTION, su_act(id, "accept", 1));
	is_str(err_code(r), "case_moved", "an action at the tombstone");
	json_decref(r);

	r = deliver(B, &IDX_B, frame(A, "370102", id, 1, "commit"));
	is_str(spec_str(r, "state"), "owned", "commit at 370202: owned");
	is_str(spec_str(r, "reply"), "done", "  replying done");
	json_decref(r);
	r = apply(B, &IDX_B, CMD_CASE_ACTION, su_act(id, "accept", 1));
	is_int(spec_int(json_object_get(json_object_get(r, "event"), "body"),
	                "epoch", 0),
	       2, "the owner's action: an event at epoch 2");
	is_int(spec_int(json_object_get(json_object_get(r, "event"), "body"),
	                "seq", 0),
	       2, "  numbered after the source's last");
	json_decref(r);
	r = apply(B, &IDX_B, CMD_CASE_ACTION,
	          json_pack("{s:s, s:s, s:i, s:s, s:i}", "case", id, "action",
	                    "start", "version", 2, "actor", "x", "epoch", 1));
	is_str(err_code(r), "stale_epoch", "an action at epoch 1: stale_epoch");
	json_decref(r);
	r = deliver(B, &IDX_B, frame(A, "370102", id, 1, "abort"));
	ok(spec_str(r, "refusal") != NULL &&
	       !strcmp(spec_str(r, "state"), "owned"),
	   "an abort after the commit changes nothing (refusal noted)");
	json_decref(r);

	snprintf(HID, sizeof(HID), "%s", id);
	/* A frame addressed elsewhere is skipped with the reason. */
	fr = frame(A, "370102", id, 1, "commit");
	json_object_set_new(fr, "to", json_string("370203"));
	r = deliver(B, &IDX_B, fr);
	like(spec_str(r, "error"), "to: not this region",
	     "a frame for "
	     "another region");
	json_decref(r);
}

/* notify_frame is the NOTIFY store s (the owner, region self) sends for
 * its notify due of case id (NULL if none is due). */
static json_t *
notify_frame(struct store *s, const char *self, const char *id)
{
	json_t *due = NULL, *rec, *fr = NULL;
	MDB_txn *txn;

	if (store_rd_begin(s, &txn) != 0) {
		return NULL;
	}
	if (fsm_handoff_notify_get(s, txn, id, &due) == TB_OK) {
		rec = json_pack("{s:s, s:O, s:O, s:O}", "case", id, "epoch",
		                json_object_get(due, "epoch"), "attempt",
		                json_object_get(due, "version"), "peer",
		                json_object_get(due, "to"));
		handoff_frame_build(s, txn, self, rec, "notify", &fr);
		json_decref(rec);
	}
	store_rd_end(s, txn);
	json_decref(due);
	return fr;
}

static json_t *
seqs(struct store *s, const char *id)
{
	json_t *c = get_case(s, id), *ev, *out = json_array();
	size_t i;

	json_array_foreach(json_object_get(c, "events"), i, ev)
	{
		json_array_append_new(
		    out, json_integer(
		             spec_int(json_object_get(ev, "body"), "seq", 0)));
	}
	json_decref(c);
	return out;
}

/* Results delivered back: the owner (370202) notifies the receiving
 * region (370102) of each write; duplicates and late frames change
 * nothing; a late event is kept in its place; NOTED drops the due. */
static void
test_notify(void)
{
	const char *id = HID;
	json_t *old, *fr, *r, *c, *s, *noted;
	long long v;

	old = notify_frame(B, "370202", id);
	ok(old != NULL, "the owner's write left a notify due at 370202");
	is_str(spec_str(old, "to"), "370102", "  to the receiving region");
	c = get_case(B, id);
	v = spec_int(c, "version", 0);
	json_decref(c);
	r = apply(B, &IDX_B, CMD_CASE_ACTION,
	          json_pack("{s:s, s:s, s:I, s:s}", "case", id, "action",
	                    "start_handling", "version", (json_int_t)v, "actor",
	                    "x"));
	ok(json_object_get(r, "event") != NULL, "370202 starts handling");
	json_decref(r);
	fr = notify_frame(B, "370202", id);
	is_int(spec_int(fr, "attempt", 0), v + 1,
	       "the due names the new version");

	/* The newest, with its last event missing (it comes late). */
	{
		json_t *cut = json_deep_copy(fr);
		json_t *evs = json_object_get(cut, "events");

		json_array_remove(evs, json_array_size(evs) - 1);
		r = deliver(A, &IDX_A, cut);
	}
	is_str(spec_str(r, "state"), "updated", "a notify at 370102: updated");
	is_str(spec_str(r, "reply"), "noted", "  replying noted");
	json_decref(r);
	c = get_case(A, id);
	is_str(spec_str(c, "state"), "handling", "  the copy is handling");
	is_str(spec_str(c, "owner"), "370202", "  still a tombstone");
	json_decref(c);
	s = seqs(A, id);
	is_int((long long)json_array_size(s), 2, "  with two events of three");
	json_decref(s);
	r = deliver(A, &IDX_A, json_incref(fr));
	is_str(spec_str(r, "state"), "updated",
	       "the same version again, complete: the late event is kept");
	json_decref(r);
	s = seqs(A, id);
	r = json_pack("[i, i, i]", 1, 2, 3);
	ok(json_equal(s, r), "  in its place: events 1, 2, 3");
	json_decref(r);
	json_decref(s);
	r = deliver(A, &IDX_A, json_incref(fr));
	ok(!strcmp(spec_str(r, "state"), "unchanged") &&
	       !json_is_true(json_object_get(r, "committed")) &&
	       !strcmp(spec_str(r, "reply"), "noted"),
	   "a duplicate notify changes nothing, noted again");
	json_decref(r);
	r = deliver(A, &IDX_A, old);
	is_str(spec_str(r, "state"), "unchanged", "an older notify: unchanged");
	json_decref(r);
	c = get_case(A, id);
	is_int(spec_int(c, "version", 0), v + 1,
	       "  the copy keeps the newer version");
	json_decref(c);
	r = apply(A, &IDX_A, CMD_CASE_ACTION, su_act(id, "void", v + 1));
	is_str(err_code(r), "case_moved", "the copy stays read-only");
	json_decref(r);

	/* NOTED at the owner. */
	noted = json_pack("{s:s, s:s, s:i, s:I, s:s, s:s}", "frame", "noted",
	                  "case", id, "epoch", 2, "attempt", (json_int_t)v,
	                  "from", "370102", "to", "370202");
	r = deliver(B, &IDX_B, noted);
	like(spec_str(r, "note"), "older", "an older noted keeps the due");
	json_decref(r);
	ok((r = notify_frame(B, "370202", id)) != NULL, "  still due");
	json_decref(r);
	noted =
	    json_pack("{s:s, s:s, s:i, s:I, s:s, s:s}", "frame", "noted",
	              "case", id, "epoch", 2, "attempt", (json_int_t)(v + 1),
	              "from", "370102", "to", "370202");
	r = deliver(B, &IDX_B, noted);
	ok(json_is_true(json_object_get(r, "committed")),
	   "the current noted commits");
	json_decref(r);
	ok((r = notify_frame(B, "370202", id)) == NULL, "  and drops the due");
	json_decref(r);

	/* Bad input: skipped with the reason, nothing changed. */
	r = deliver(A, &IDX_A,
	            json_pack("{s:s, s:s, s:i, s:i, s:s, s:s}", "frame",
	                      "notify", "case", id, "epoch", 9, "attempt", 99,
	                      "from", "370202", "to", "370102"));
	like(spec_str(r, "error"), "record", "a notify without a record");
	json_decref(r);
	json_object_set_new(fr, "from", json_string("370203"));
	r = deliver(A, &IDX_A, fr);
	like(spec_str(r, "error"), "owner must be the sender",
	     "a notify whose record names another owner");
	json_decref(r);
	c = get_case(A, id);
	is_int(spec_int(c, "version", 0), v + 1, "  the copy unchanged");
	json_decref(c);

	/* Handed back before 370102 acknowledged a write: 370202's due is
	 * dropped with the transfer (the new owner has it all). */
	r = apply(B, &IDX_B, CMD_CASE_ACTION,
	          json_pack("{s:s, s:s, s:I, s:s}", "case", id, "action",
	                    "submit_review", "version", (json_int_t)(v + 1),
	                    "actor", "x"));
	json_decref(r);
	ok((r = notify_frame(B, "370202", id)) != NULL,
	   "another write at 370202: due again");
	json_decref(r);
	json_decref(
	    apply(B, &IDX_B, CMD_HANDOFF_OFFER,
	          json_pack("{s:s, s:s, s:s, s:s}", "case", id, "to", "370102",
	                    "mode", "异地代收代办", "reason", "back")));
	r = deliver(A, &IDX_A, frame(B, "370202", id, 2, "offer"));
	is_str(spec_str(r, "state"), "prepared",
	       "370102 prepares the hand-back");
	json_decref(r);
	r = deliver(B, &IDX_B, frame(A, "370102", id, 2, "accept"));
	is_str(spec_str(r, "state"), "transferred", "370202 transfers it");
	json_decref(r);
	ok((r = notify_frame(B, "370202", id)) == NULL,
	   "  and its notify due is dropped");
	json_decref(r);
}

static void
test_abort(void)
{
	char id[64], idn[19];
	json_t *r, *c, *fr;

	su_id(2, idn);
	r = apply(A, &IDX_A, CMD_CASE_CREATE, su_food(idn));
	snprintf(id, sizeof(id), "%s",
	         spec_str(json_object_get(r, "case"), "id"));
	json_decref(r);
	json_decref(
	    apply(A, &IDX_A, CMD_HANDOFF_OFFER,
	          json_pack("{s:s, s:s, s:s, s:s}", "case", id, "to", "370202",
	                    "mode", "全程网办", "reason", "x")));
	r = apply(A, &IDX_A, CMD_HANDOFF_ABORT,
	          json_pack("{s:s, s:i}", "case", id, "after_ms", 60000));
	is_str(err_code(r), "conflict",
	       "an abort before after_ms (by the "
	       "command's time): refused");
	json_decref(r);
	r = apply_at(A, &IDX_A, CMD_HANDOFF_ABORT,
	             json_pack("{s:s, s:i}", "case", id, "after_ms", 60000),
	             SU_T0 + 7200000);
	is_str(spec_str(json_object_get(r, "handoff"), "state"), "aborted",
	       "an abort after it: aborted");
	json_decref(r);
	c = get_case(A, id);
	ok(json_object_get(c, "frozen") == NULL, "  the case is unfrozen");
	json_decref(c);
	/* As if the target had prepared before it heard: told to abort. */
	fr = frame(A, "370102", id, 1, "offer");
	json_object_set_new(fr, "frame", json_string("accept"));
	json_object_set_new(fr, "from", json_string("370202"));
	json_object_set_new(fr, "to", json_string("370102"));
	r = deliver(A, &IDX_A, fr);
	is_str(spec_str(r, "reply"), "abort",
	       "a late accept is answered abort");
	is_str(spec_str(r, "state"), "aborted",
	       "  and the source stays aborted");
	json_decref(r);
}

int
main(void)
{
	char da[64], db[64];

	snprintf(da, sizeof(da), "/tmp/tb-handoff-a-%d", (int)getpid());
	snprintf(db, sizeof(db), "/tmp/tb-handoff-b-%d", (int)getpid());
	tu_rmtree(da);
	tu_rmtree(db);
	A = su_open(da, "370102");
	B = su_open(db, "370202");
	ok(A != NULL && B != NULL, "two stores: 370102 and 370202");
	if (A != NULL && B != NULL) {
		json_decref(
		    apply(A, &IDX_A, CMD_GROUP_FEATURE,
		          json_pack("{s:i}", "level", TB_HANDOFF_LEVEL)));
		json_decref(
		    apply(B, &IDX_B, CMD_GROUP_FEATURE,
		          json_pack("{s:i}", "level", TB_HANDOFF_LEVEL)));
		json_decref(
		    apply(A, &IDX_A, CMD_CATALOG_RELEASE, su_catalog(0)));
		test_handoff();
		test_notify();
		test_abort();
	}
	store_close(A);
	store_close(B);
	tu_rmtree(da);
	tu_rmtree(db);
	return done_testing();
}
