/* The handoff records (DB_HANDOFFS) and the source's commands:
 * handoff.offer freezes a case, handoff.abort unfreezes it
 * (docs/HANDOFF.md, "The node's side"). The frames received from the other
 * region are fsm_handoff_frame.c.
 *
 * DB_HANDOFFS holds two key spaces:
 *
 *   'R' case id 0 u32 epoch u32 attempt -> sv + record
 *   'O' case id 0 u32 epoch u32 attempt -> ""   (open: offered or
 *                                               prepared, resent until
 *                                               the state moves on)
 *   'T' u64 n -> case id 0 u32 epoch u32 attempt (the n-th transfer:
 *                                               COMMIT resent until DONE)
 *   'N' case id -> sv + {to, epoch, version}   (a write the receiving
 *                                               region must learn:
 *                                               fsm_handoff_notify.c)
 *
 * A target's request for a case is a record at epoch 0, attempt 0
 * (fsm_handoff_request.c).
 *
 * The record: {case, side: "source"|"target", state, peer, mode, reason,
 * epoch (e, the epoch the case was offered at), attempt, last_seq,
 * offered_at, updated_at, refusal?}. A case offered at e and refused or
 * aborted is owned at e again and may be offered again at e: the attempt
 * (the source's count of offers of the case, in the case record's
 * "handoffs") tells the two handoffs apart at both ends. */
#include "node/fsm.h"
#include "node/fsm_handoff.h"

#include "replication/handoff.h"
#include "schema/lifecycle.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const modes[] = { "异地代收代办", "多地联办", "全程网办",
	                             NULL };

size_t
fsm_handoff_key(char space, const char *id, uint32_t epoch, uint32_t attempt,
                uint8_t *out)
{
	size_t idl = strlen(id);

	if (idl >= FSM_HANDOFF_ID_MAX) {
		idl = FSM_HANDOFF_ID_MAX - 1;
	}
	out[0] = (uint8_t)space;
	memcpy(out + 1, id, idl);
	out[1 + idl] = 0;
	db_be32(out + 2 + idl, epoch);
	db_be32(out + 6 + idl, attempt);
	return idl + 10;
}

int
fsm_handoff_get(const struct store *s, MDB_txn *txn, const char *id,
                uint32_t epoch, uint32_t attempt, json_t **rec)
{
	uint8_t k[FSM_HANDOFF_KEY_MAX];
	size_t n = fsm_handoff_key('R', id, epoch, attempt, k);

	*rec = NULL;
	return db_get_json(txn, s->dbi[DB_HANDOFFS], k, n, rec);
}

enum handoff_state
fsm_handoff_state(const json_t *rec)
{
	const char *st = spec_str(rec, "state");
	int i;

	for (i = 0; st != NULL && i < HANDOFF_NSTATES; i++) {
		if (!strcmp(st, handoff_state_name((enum handoff_state)i))) {
			return (enum handoff_state)i;
		}
	}
	return HANDOFF_NONE;
}

bool
fsm_handoff_open(enum handoff_state s)
{
	return s == HANDOFF_OFFERED || s == HANDOFF_PREPARED;
}

/* The step names TB_FAULT_HANDOFF_EXIT takes, by the state a commit
 * enters. */
static const char *
step_name(enum handoff_state s)
{
	switch (s) {
	case HANDOFF_OFFERED:
		return "offer";
	case HANDOFF_PREPARED:
		return "prepare";
	case HANDOFF_TRANSFERRED:
		return "transfer";
	case HANDOFF_OWNED:
		return "own";
	case HANDOFF_ABORTED:
		return "abort";
	case HANDOFF_REFUSED:
		return "refuse";
	case HANDOFF_DECLINED:
		return "decline";
	case HANDOFF_CANCELLED:
		return "cancel";
	default:
		return "";
	}
}

int
fsm_handoff_put(struct fsm *f, json_t *rec, enum handoff_state next)
{
	const char *id = spec_str(rec, "case");
	uint8_t k[FSM_HANDOFF_KEY_MAX];
	const char *fault = getenv("TB_FAULT_HANDOFF_EXIT");
	uint32_t e = (uint32_t)spec_int(rec, "epoch", 0);
	uint32_t a = (uint32_t)spec_int(rec, "attempt", 0);
	const char *side = spec_str(rec, "side");
	char name[48];
	size_t n;
	int rv;

	/* The counters of /metrics (tongban_handoffs{side,state}). */
	if (side != NULL && spec_str(rec, "state") != NULL) {
		snprintf(name, sizeof(name), "h/%s/%s", side,
		         spec_str(rec, "state"));
		if ((rv = meta_add(f->s, f->txn, name, -1)) != 0) {
			return rv;
		}
	}
	if (side != NULL) {
		snprintf(name, sizeof(name), "h/%s/%s", side,
		         handoff_state_name(next));
		if ((rv = meta_add(f->s, f->txn, name, 1)) != 0) {
			return rv;
		}
	}
	if (id == NULL ||
	    json_object_set_new(rec, "state",
	                        json_string(handoff_state_name(next))) != 0 ||
	    json_object_set_new(rec, "updated_at", json_integer(f->at)) != 0) {
		return TB_ENOMEM;
	}
	n = fsm_handoff_key('R', id, e, a, k);
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_HANDOFFS], k, n, rec))) {
		return rv;
	}
	k[0] = 'O';
	rv = fsm_handoff_open(next)
	         ? db_put(f->txn, f->s->dbi[DB_HANDOFFS], k, n, "", 0)
	         : db_del(f->txn, f->s->dbi[DB_HANDOFFS], k, n);
	if (rv == TB_ENOTFOUND) {
		rv = TB_OK;
	}
	/* A transfer joins the 'T' list, in order: a new leader resends
	 * each one COMMIT (until DONE), and the driver learns the new ones
	 * by reading from the last it saw. */
	if (rv == TB_OK && next == HANDOFF_TRANSFERRED) {
		uint8_t tk[9] = { 'T' };
		uint64_t tseq;

		if ((rv = meta_get_u64(f->s, f->txn, "handoff_tseq", &tseq)) ||
		    (rv = meta_put_u64(f->s, f->txn, "handoff_tseq", ++tseq))) {
			return rv;
		}
		db_be64(tk + 1, tseq);
		rv =
		    db_put(f->txn, f->s->dbi[DB_HANDOFFS], tk, 9, k + 1, n - 1);
	}
	/* The fault hook of the kill -9 tests: exit right after the commit
	 * that enters this step, before any frame is sent (the applier). */
	if (rv == TB_OK && fault != NULL && !strcmp(fault, step_name(next))) {
		f->fault = true;
	}
	return rv;
}

/* case_open reads the case a source command names and checks that this
 * region owns it and may hand it (not frozen unless frozen_ok). */
static int
case_open(struct fsm *f, const char *id, json_t **c)
{
	int rv;

	rv = db_get_json(f->txn, f->s->dbi[DB_CASES], id, strlen(id), c);
	if (rv == TB_ENOTFOUND) {
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.case",
		                  "case %s is not held by %s", id,
		                  f->s->region);
	}
	if (rv != 0) {
		return rv;
	}
	return fsm_case_writable(f, *c, true);
}

int
fsm_case_writable(struct fsm *f, const json_t *c, bool frozen_ok)
{
	const char *owner = spec_str(c, "owner");

	if (owner != NULL && strcmp(owner, f->s->region) != 0) {
		return fsm_refuse(f, TB_EMOVED, "$.body.case",
		                  "case %s was handed to %s, its owner now; "
		                  "%s keeps a tombstone",
		                  spec_str(c, "id"), owner, f->s->region);
	}
	if (!frozen_ok && json_is_true(json_object_get(c, "frozen"))) {
		return fsm_refuse(f, TB_EFROZEN, "$.body.case",
		                  "case %s is frozen by a handoff in progress "
		                  "(GET /v1/handoffs/%s)",
		                  spec_str(c, "id"), spec_str(c, "id"));
	}
	return TB_OK;
}

static int
offer_args(struct fsm *f, const char **to)
{
	const json_t *b = f->cmd->body;
	const char *mode = spec_str(b, "mode");
	const char *reason = spec_str(b, "reason");
	int32_t code;

	*to = spec_str(b, "to");
	if (region_code_parse(*to, &code) != TB_OK ||
	    region_find(region_builtin(), code) == NULL) {
		return fsm_refuse(f, TB_ECODE, "$.body.to",
		                  "\"%s\" is not a region of the GB/T 2260 "
		                  "table",
		                  *to);
	}
	if (!strcmp(*to, f->s->region)) {
		return fsm_refuse(f, TB_EINVAL, "$.body.to",
		                  "a case cannot be handed to its own region "
		                  "%s",
		                  *to);
	}
	if (!spec_one_of(mode, modes)) {
		return fsm_refuse(f, TB_ECODE, "$.body.mode",
		                  "\"%s\" is not a handoff mode (异地代收代办, "
		                  "多地联办, 全程网办)",
		                  mode);
	}
	if (reason[0] == '\0' || strlen(reason) > FSM_HANDOFF_REASON_MAX) {
		return fsm_refuse(f, TB_ERANGE, "$.body.reason",
		                  "a reason is 1 to %d bytes",
		                  FSM_HANDOFF_REASON_MAX);
	}
	return TB_OK;
}

int
fsm_handoff_offer(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *id = spec_str(b, "case"), *to;
	json_t *old = NULL, *c = NULL, *rec = NULL;
	struct handoff_result r;
	enum lc_state st;
	long long e, att;
	int rv;

	if ((rv = offer_args(f, &to)) != 0 || (rv = case_open(f, id, &old))) {
		goto out;
	}
	if (json_is_true(json_object_get(old, "frozen"))) {
		rv = fsm_refuse(f, TB_EFROZEN, "$.body.case",
		                "case %s is already offered (GET "
		                "/v1/handoffs/%s)",
		                id, id);
		goto out;
	}
	if (lc_state_parse(spec_str(old, "state"), &st) != 0 ||
	    lc_is_final(st)) {
		rv = fsm_refuse(f, TB_ETRANSITION, "$.body.case",
		                "case %s is %s: a final state is not handed on",
		                id, spec_str(old, "state"));
		goto out;
	}
	e = spec_int(old, "epoch", 1);
	att = spec_int(old, "handoffs", 0) + 1;
	r = handoff_step(HANDOFF_NONE, HANDOFF_EV_OFFER, HANDOFF_CHECK_OK);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:O, s:I}", "case",
	                id, "side", "source", "peer", to, "mode",
	                spec_str(b, "mode"), "reason", spec_str(b, "reason"),
	                "epoch", (json_int_t)e, "attempt", (json_int_t)att,
	                "last_seq", json_object_get(old, "last_event"),
	                "offered_at", (json_int_t)f->at);
	c = json_deep_copy(old);
	if (rec == NULL || c == NULL ||
	    json_object_set_new(c, "frozen", json_true()) != 0 ||
	    json_object_set_new(c, "handoffs", json_integer(att)) != 0) {
		rv = TB_ENOMEM;
		goto out;
	}
	if ((rv = fsm_handoff_put(f, rec, r.next)) != 0 ||
	    (rv = fsm_case_put(f, c, old)) != 0 ||
	    (rv = fsm_handoff_request_offered(f, id, to)) != 0) {
		goto out;
	}
	f->result = json_pack("{s:O}", "handoff", rec);
	rv = f->result != NULL ? TB_OK : TB_ENOMEM;
out:
	json_decref(old);
	json_decref(c);
	json_decref(rec);
	return rv;
}

int
fsm_handoff_abort(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *id = spec_str(b, "case");
	long long after = spec_int(b, "after_ms", 0), age;
	json_t *old = NULL, *c = NULL, *rec = NULL;
	struct handoff_result r;
	int rv;

	if ((rv = case_open(f, id, &old)) != 0) {
		goto out;
	}
	rv = fsm_handoff_get(f->s, f->txn, id,
	                     (uint32_t)spec_int(old, "epoch", 1),
	                     (uint32_t)spec_int(old, "handoffs", 0), &rec);
	if (rv == TB_ENOTFOUND) {
		rv = fsm_refuse(f, TB_ENOTFOUND, "$.body.case",
		                "case %s has no handoff to abort", id);
		goto out;
	}
	if (rv != 0) {
		goto out;
	}
	r = handoff_step(fsm_handoff_state(rec), HANDOFF_EV_ABORT,
	                 HANDOFF_CHECK_OK);
	if (r.refusal != NULL) {
		rv = fsm_refuse(f, TB_ECONFLICT, "$.body.case",
		                "the handoff of case %s to %s is %s: %s", id,
		                spec_str(rec, "peer"), spec_str(rec, "state"),
		                r.refusal);
		goto out;
	}
	/* Judged by the command's own time, so every member agrees. */
	age = f->at - spec_int(rec, "offered_at", 0);
	if (age < after) {
		rv = fsm_refuse(f, TB_ECONFLICT, "$.body.case",
		                "the offer of case %s to %s is %lld ms old; "
		                "an abort is allowed after %lld ms "
		                "(handoff_abort_after_ms)",
		                id, spec_str(rec, "peer"), age, after);
		goto out;
	}
	if ((c = json_deep_copy(old)) == NULL) {
		rv = TB_ENOMEM;
		goto out;
	}
	json_object_del(c, "frozen");
	if ((rv = fsm_handoff_put(f, rec, r.next)) != 0 ||
	    (rv = fsm_case_put(f, c, old)) != 0) {
		goto out;
	}
	f->result = json_pack("{s:O, s:b}", "handoff", rec, "aborted", 1);
	rv = f->result != NULL ? TB_OK : TB_ENOMEM;
out:
	json_decref(old);
	json_decref(c);
	json_decref(rec);
	return rv;
}
