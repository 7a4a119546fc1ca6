/* A target's request for a case (issue 7 item 4; docs/HANDOFF.md, "A
 * target's request"): region B asks the case's owner to offer it.
 *
 *   handoff.request {case, reason, actor}   at B: a record (side target,
 *     state "requested") and its 'O' entry; B's driver sends REQUEST
 *     towards the region the case id names (relayed along its tombstones
 *     to the owner), resent until answered.
 *   REQUEST frame at the owner: a record (side source, "requested").
 *   handoff.refuse {case, reason, actor}    at the owner: "request_refused"
 *     with the reason; B's next REQUEST is answered REQUEST_REFUSED from
 *     the record (no commit), whose apply at B ends B's record.
 *   The owner's offer to B answers it: "request_offered" at both ends.
 *
 * A request's record is keyed like a handoff's at epoch 0, attempt 0 (one
 * per case and side); "request" counts B's requests of the case, so a new
 * request after a refusal is told from the old one. */
#include "node/fsm.h"
#include "node/fsm_handoff.h"

#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

static int
req_get(struct fsm *f, const char *id, json_t **rec)
{
	return fsm_handoff_get(f->s, f->txn, id, 0, 0, rec);
}

/* req_put writes rec in state st ('O' entry while a target's request is
 * open). */
static int
req_put(struct fsm *f, json_t *rec, const char *st)
{
	const char *id = spec_str(rec, "case");
	uint8_t k[FSM_HANDOFF_KEY_MAX];
	size_t n;
	bool open;
	int rv;

	if (json_object_set_new(rec, "state", json_string(st)) != 0 ||
	    json_object_set_new(rec, "updated_at", json_integer(f->at)) != 0) {
		return TB_ENOMEM;
	}
	n = fsm_handoff_key('R', id, 0, 0, k);
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_HANDOFFS], k, n, rec))) {
		return rv;
	}
	open = !strcmp(st, "requested") &&
	       !strcmp(spec_str(rec, "side") ? spec_str(rec, "side") : "",
	               "target");
	k[0] = 'O';
	rv = open ? db_put(f->txn, f->s->dbi[DB_HANDOFFS], k, n, "", 0)
	          : db_del(f->txn, f->s->dbi[DB_HANDOFFS], k, n);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

static int
reason_ok(struct fsm *f, const char *reason)
{
	if (reason == NULL || reason[0] == '\0' ||
	    strlen(reason) > FSM_HANDOFF_REASON_MAX) {
		return fsm_refuse(f, TB_ERANGE, "$.body.reason",
		                  "a reason is 1 to %d bytes",
		                  FSM_HANDOFF_REASON_MAX);
	}
	return TB_OK;
}

/* matter_here refuses a request for a case whose matter this region's own
 * catalog does not offer, when a copy here names the matter. */
static int
matter_here(struct fsm *f, const json_t *copy)
{
	const char *matter = spec_str(copy, "matter");
	struct fsm_catalog *cat;
	struct fsm_matter m;
	int rv;

	if (matter == NULL) {
		return TB_OK;
	}
	if ((rv = fsm_catalog_get(f, &cat)) != 0) {
		return rv;
	}
	rv = fsm_resolve(f->s, cat, matter, &m);
	if (rv == TB_ENOTFOUND) {
		return fsm_refuse(f, TB_EINVAL, "$.body.case",
		                  "%s does not offer matter %s (%s) in its "
		                  "effective catalog: it cannot take case %s",
		                  f->s->region, matter,
		                  spec_str(copy, "matter_name")
		                      ? spec_str(copy, "matter_name")
		                      : "?",
		                  spec_str(copy, "id"));
	}
	if (rv == TB_OK) {
		fsm_matter_fini(&m);
	}
	return rv;
}

int
fsm_handoff_request(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *id = spec_str(b, "case"), *reason = spec_str(b, "reason");
	json_t *copy = NULL, *rec = NULL;
	char home[7];
	int32_t code;
	long long n = 1;
	int rv;

	if (id == NULL || strlen(id) >= FSM_HANDOFF_ID_MAX || strlen(id) < 8 ||
	    id[6] != '-' ||
	    (memcpy(home, id, 6), home[6] = '\0',
	     region_code_parse(home, &code) != TB_OK)) {
		return fsm_refuse(f, TB_EINVAL, "$.body.case",
		                  "\"%s\" is not a case id (RRRRRR-DATE-N)",
		                  id ? id : "");
	}
	if ((rv = reason_ok(f, reason)) != 0) {
		return rv;
	}
	rv = db_get_json(f->txn, f->s->dbi[DB_CASES], id, strlen(id), &copy);
	if (rv != 0 && rv != TB_ENOTFOUND) {
		return rv;
	}
	if (rv == TB_ENOTFOUND && !strcmp(home, f->s->region)) {
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.case",
		                  "case %s is not held by %s", id,
		                  f->s->region);
	}
	if (copy != NULL && (spec_str(copy, "owner") == NULL ||
	                     !strcmp(spec_str(copy, "owner"), f->s->region))) {
		json_decref(copy);
		return fsm_refuse(f, TB_EINVAL, "$.body.case",
		                  "%s owns case %s: nothing to request",
		                  f->s->region, id);
	}
	rv = matter_here(f, copy);
	json_decref(copy);
	if (rv != 0) {
		return rv;
	}
	rv = req_get(f, id, &rec);
	if (rv != 0 && rv != TB_ENOTFOUND) {
		return rv;
	}
	if (rec != NULL &&
	    strcmp(spec_str(rec, "side") ? spec_str(rec, "side") : "",
	           "target") == 0 &&
	    !strcmp(spec_str(rec, "state"), "requested")) {
		json_decref(rec);
		return fsm_refuse(
		    f, TB_ECONFLICT, "$.body.case",
		    "case %s is already requested by %s, awaiting "
		    "its owner's answer",
		    id, f->s->region);
	}
	if (rec != NULL) {
		n = spec_int(rec, "request", 0) + 1;
	}
	json_decref(rec);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:s?}",
	                "case", id, "side", "target", "peer", home, "reason",
	                reason, "epoch", 0, "attempt", 0, "request",
	                (json_int_t)n, "offered_at", (json_int_t)f->at, "actor",
	                spec_str(b, "actor"));
	if (rec == NULL) {
		return TB_ENOMEM;
	}
	if ((rv = req_put(f, rec, "requested")) == 0) {
		f->result = json_pack("{s:O}", "handoff", rec);
		rv = f->result != NULL ? TB_OK : TB_ENOMEM;
	}
	json_decref(rec);
	return rv;
}

int
fsm_handoff_refuse(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *id = spec_str(b, "case"), *reason = spec_str(b, "reason");
	json_t *rec = NULL;
	int rv;

	if (id == NULL || strlen(id) >= FSM_HANDOFF_ID_MAX) {
		return fsm_refuse(f, TB_EINVAL, "$.body.case", "not a case id");
	}
	if ((rv = reason_ok(f, reason)) != 0) {
		return rv;
	}
	rv = req_get(f, id, &rec);
	if (rv == TB_ENOTFOUND ||
	    (rv == 0 && strcmp(spec_str(rec, "side"), "source") != 0)) {
		json_decref(rec);
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.case",
		                  "no region has requested case %s from %s", id,
		                  f->s->region);
	}
	if (rv != 0) {
		return rv;
	}
	if (strcmp(spec_str(rec, "state"), "requested") != 0) {
		rv =
		    fsm_refuse(f, TB_ECONFLICT, "$.body.case",
		               "the request of case %s by %s is %s already", id,
		               spec_str(rec, "peer"), spec_str(rec, "state"));
		json_decref(rec);
		return rv;
	}
	if (json_object_set_new(rec, "refusal", json_string(reason)) != 0) {
		json_decref(rec);
		return TB_ENOMEM;
	}
	if ((rv = req_put(f, rec, "request_refused")) == 0) {
		f->result =
		    json_pack("{s:O, s:b}", "handoff", rec, "refused", 1);
		rv = f->result != NULL ? TB_OK : TB_ENOMEM;
	}
	json_decref(rec);
	return rv;
}

int
fsm_handoff_request_offered(struct fsm *f, const char *id, const char *peer)
{
	json_t *rec = NULL;
	int rv = req_get(f, id, &rec);

	if (rv == TB_ENOTFOUND) {
		return TB_OK;
	}
	/* At the source only an offer to the requester answers it; at the
	 * target any offer does (the owner may not be the region asked). */
	if (rv == 0 && !strcmp(spec_str(rec, "state"), "requested") &&
	    (!strcmp(spec_str(rec, "side"), "target") ||
	     !strcmp(spec_str(rec, "peer") ? spec_str(rec, "peer") : "",
	             peer))) {
		rv = req_put(f, rec, "request_offered");
	}
	json_decref(rec);
	return rv;
}

/* A REQUEST at the owner, or a REQUEST_REFUSED at the requester. */
int
fsm_handoff_request_frame(struct fsm *f, const json_t *fr, json_t *out)
{
	const char *kind = spec_str(fr, "frame"), *id = spec_str(fr, "case");
	const char *from = spec_str(fr, "from"), *to = spec_str(fr, "to");
	long long n = spec_int(fr, "request", 0);
	char why[TB_DIAG_MSG] = "";
	json_t *rec = NULL, *copy = NULL, *res;
	bool changed = false;
	int32_t code;
	int rv = TB_OK;

	if (id == NULL || strlen(id) >= FSM_HANDOFF_ID_MAX) {
		snprintf(why, sizeof(why), "case: missing or too long");
	} else if (region_code_parse(from, &code) != TB_OK ||
	           !strcmp(from, f->s->region)) {
		snprintf(why, sizeof(why), "from: not another region's code");
	} else if (to == NULL || strcmp(to, f->s->region) != 0) {
		snprintf(why, sizeof(why), "to: not this region (%s)",
		         f->s->region);
	} else if (n < 1) {
		snprintf(why, sizeof(why), "request: an integer from 1");
	} else if ((rv = req_get(f, id, &rec)) != 0 && rv != TB_ENOTFOUND) {
		return rv;
	} else if (!strcmp(kind, "request")) {
		rv = db_get_json(f->txn, f->s->dbi[DB_CASES], id, strlen(id),
		                 &copy);
		if (rv != 0 && rv != TB_ENOTFOUND) {
			json_decref(rec);
			return rv;
		}
		rv = TB_OK;
		if (copy == NULL ||
		    (spec_str(copy, "owner") != NULL &&
		     strcmp(spec_str(copy, "owner"), f->s->region) != 0)) {
			snprintf(why, sizeof(why), "%s does not own case %s",
			         f->s->region, id);
		} else if (rec == NULL || spec_int(rec, "request", 0) < n ||
		           strcmp(spec_str(rec, "peer"), from) != 0) {
			json_decref(rec);
			rec = json_pack(
			    "{s:s, s:s, s:s, s:s?, s:i, s:i, s:I, s:I}", "case",
			    id, "side", "source", "peer", from, "reason",
			    spec_str(fr, "reason"), "epoch", 0, "attempt", 0,
			    "request", (json_int_t)n, "offered_at",
			    (json_int_t)f->at);
			rv = rec != NULL ? req_put(f, rec, "requested")
			                 : TB_ENOMEM;
			changed = true;
		}
		json_decref(copy);
	} else if (rec != NULL && !strcmp(spec_str(rec, "side"), "target") &&
	           !strcmp(spec_str(rec, "state"), "requested") &&
	           spec_int(rec, "request", 0) == n) {
		/* request_refused at the requester. */
		if (json_object_set(rec, "refusal",
		                    json_object_get(fr, "refusal")) != 0) {
			snprintf(why, sizeof(why), "refusal: missing");
		} else {
			rv = req_put(f, rec, "request_refused");
			changed = true;
		}
	}
	json_decref(rec);
	if (rv != 0) {
		return rv;
	}
	res = json_pack("{s:s?, s:i, s:i, s:s?, s:s, s:s, s:s, s:b}", "case",
	                id, "epoch", 0, "attempt", 0, "from", from, "frame",
	                kind, "state", changed ? "updated" : "unchanged",
	                "reply", "none", "committed", changed);
	if (res == NULL) {
		return TB_ENOMEM;
	}
	if (why[0] != '\0') {
		json_object_set_new(res, "error", json_string(why));
	}
	return json_array_append_new(out, res) != 0 ? TB_ENOMEM : TB_OK;
}
