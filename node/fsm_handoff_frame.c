/* handoff.frame: frames received from the other region of a handoff,
 * applied with handoff_step on the committed record (docs/HANDOFF.md). A
 * command carries several frames (a batch); each is applied in turn and
 * gets one entry in the result: {case, epoch, attempt, from, frame,
 * state, reply, committed, refusal?, behind?}. A frame that makes no
 * sense changes nothing (handoff_step), so a duplicate, a late frame, or
 * the same frame proposed twice is harmless; a malformed one is skipped
 * with its reason in the result ("error").
 *
 * At the target, an offer is checked against this region's own effective
 * catalog: the matter must resolve here with the same locked-fields hash
 * (else DECLINED, the reason sent back in the REFUSE); a standard release
 * older than the case's is "catalog behind": nothing is committed and the
 * source's retries ask again. On OK the case is written at epoch e+1,
 * frozen (prepared: no writes), with the source's events. */
#include "node/fsm.h"
#include "node/fsm_handoff.h"

#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* One frame being applied. */
struct hf {
	const json_t *fr;
	const char *id, *from;
	long long epoch, attempt;
	enum handoff_event ev;
	enum handoff_check check;
	char why[TB_DIAG_MSG]; /* a refusal's reason, or a skip's */
};

static int
event_of(const char *name, enum handoff_event *ev)
{
	static const struct {
		const char *name;
		enum handoff_event ev;
	} map[] = {
		{ "offer", HANDOFF_EV_GOT_OFFER },
		{ "accept", HANDOFF_EV_GOT_ACCEPT },
		{ "refuse", HANDOFF_EV_GOT_REFUSE },
		{ "commit", HANDOFF_EV_GOT_COMMIT },
		{ "abort", HANDOFF_EV_GOT_ABORT },
		{ "done", HANDOFF_EV_GOT_DONE },
	};
	size_t i;

	for (i = 0; name != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(name, map[i].name)) {
			*ev = map[i].ev;
			return TB_OK;
		}
	}
	return TB_ECODE;
}

/* parse checks a frame's envelope; false (h->why says why) to skip it. */
static bool
parse(struct fsm *f, struct hf *h)
{
	const char *to = spec_str(h->fr, "to");
	int32_t code;

	h->id = spec_str(h->fr, "case");
	h->from = spec_str(h->fr, "from");
	h->epoch = spec_int(h->fr, "epoch", 0);
	h->attempt = spec_int(h->fr, "attempt", 0);
	if (event_of(spec_str(h->fr, "frame"), &h->ev) != 0) {
		snprintf(h->why, sizeof(h->why), "frame: not a handoff frame");
	} else if (h->id == NULL || strlen(h->id) >= FSM_HANDOFF_ID_MAX) {
		snprintf(h->why, sizeof(h->why), "case: missing or too long");
	} else if (h->epoch < 1 || h->epoch > UINT32_MAX - 1 ||
	           h->attempt < 1 || h->attempt > UINT32_MAX) {
		snprintf(h->why, sizeof(h->why),
		         "epoch, attempt: integers from 1");
	} else if (region_code_parse(h->from, &code) != TB_OK ||
	           !strcmp(h->from, f->s->region)) {
		snprintf(h->why, sizeof(h->why),
		         "from: not another region's code");
	} else if (to == NULL || strcmp(to, f->s->region) != 0) {
		snprintf(h->why, sizeof(h->why), "to: not this region (%s)",
		         f->s->region);
	} else {
		return true;
	}
	return false;
}

/* check is the target's verdict on an offer (h->why the reason of a
 * refusal); a real failure is returned. */
static int
check(struct fsm *f, struct hf *h)
{
	const json_t *rec = json_object_get(h->fr, "record");
	const char *matter = spec_str(rec, "matter");
	const char *locked = spec_str(rec, "locked_hash");
	const char *owner;
	struct fsm_catalog *cat;
	struct fsm_matter m;
	json_t *old = NULL;
	int rv;

	h->check = HANDOFF_CHECK_REFUSE;
	if (!json_is_object(rec) || matter == NULL || locked == NULL ||
	    strcmp(spec_str(rec, "id") ? spec_str(rec, "id") : "", h->id) ||
	    spec_int(rec, "epoch", 0) != h->epoch ||
	    !json_is_integer(json_object_get(rec, "release")) ||
	    !json_is_array(json_object_get(h->fr, "events"))) {
		snprintf(h->why, sizeof(h->why),
		         "the offer's case record or events are malformed");
		return TB_OK;
	}
	rv = db_get_json(f->txn, f->s->dbi[DB_CASES], h->id, strlen(h->id),
	                 &old);
	if (rv != 0 && rv != TB_ENOTFOUND) {
		return rv;
	}
	owner = spec_str(old, "owner");
	if (old != NULL && (owner == NULL || !strcmp(owner, f->s->region))) {
		snprintf(h->why, sizeof(h->why),
		         "%s holds case %s as its owner", f->s->region, h->id);
		json_decref(old);
		return TB_OK;
	}
	json_decref(old);
	if ((rv = fsm_catalog_get(f, &cat)) != 0) {
		return rv;
	}
	if ((long long)cat->std.version < spec_int(rec, "release", 0)) {
		h->check = HANDOFF_CHECK_BEHIND;
		snprintf(h->why, sizeof(h->why),
		         "catalog behind: %s has standard release %llu, the "
		         "case release %lld",
		         f->s->region, (unsigned long long)cat->std.version,
		         spec_int(rec, "release", 0));
		return TB_OK;
	}
	rv = fsm_resolve(f->s, cat, matter, &m);
	if (rv == TB_ENOTFOUND) {
		snprintf(h->why, sizeof(h->why),
		         "%s does not offer matter %s (%s) in its effective "
		         "catalog",
		         f->s->region, matter,
		         spec_str(rec, "matter_name")
		             ? spec_str(rec, "matter_name")
		             : "?");
		return TB_OK;
	}
	if (rv != 0) {
		return rv;
	}
	if (strcmp(m.locked, locked) != 0) {
		snprintf(h->why, sizeof(h->why),
		         "the locked fields of matter %s differ at %s (hash "
		         "%.12s…, the case's %.12s…): not the same standard",
		         matter, f->s->region, m.locked, locked);
	} else {
		h->check = HANDOFF_CHECK_OK;
	}
	fsm_matter_fini(&m);
	return TB_OK;
}

/* new_record is the target's record of an offer. */
static json_t *
new_record(struct fsm *f, const struct hf *h)
{
	const json_t *rec = json_object_get(h->fr, "record");

	(void)f;
	return json_pack(
	    "{s:s, s:s, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I}", "case", h->id,
	    "side", "target", "peer", h->from, "mode", spec_str(h->fr, "mode"),
	    "reason", spec_str(h->fr, "reason"), "epoch", (json_int_t)h->epoch,
	    "attempt", (json_int_t)h->attempt, "last_seq",
	    (json_int_t)spec_int(rec, "last_event", 0), "offered_at",
	    (json_int_t)f->at);
}

/* prepare writes the offered case at e+1, frozen, with the events this
 * region lacks. */
static int
prepare(struct fsm *f, const struct hf *h)
{
	const json_t *rec = json_object_get(h->fr, "record"), *ev;
	json_t *old = NULL, *c;
	long long have = 0;
	size_t i;
	int rv;

	rv = db_get_json(f->txn, f->s->dbi[DB_CASES], h->id, strlen(h->id),
	                 &old);
	if (rv != 0 && rv != TB_ENOTFOUND) {
		return rv;
	}
	have = old != NULL ? spec_int(old, "last_event", 0) : 0;
	c = json_deep_copy(rec);
	if (c == NULL ||
	    json_object_set_new(c, "epoch", json_integer(h->epoch + 1)) ||
	    json_object_set_new(c, "owner", json_string(f->s->region)) ||
	    json_object_set_new(c, "frozen", json_true()) ||
	    json_object_set_new(c, "handoffs", json_integer(0)) ||
	    json_object_set_new(c, "handed_from", json_string(h->from))) {
		json_decref(old);
		json_decref(c);
		return TB_ENOMEM;
	}
	rv = fsm_case_put(f, c, old);
	json_array_foreach(json_object_get(h->fr, "events"), i, ev)
	{
		const json_t *body = json_object_get(ev, "body");
		long long seq = spec_int(body, "seq", 0);

		if (rv != 0) {
			break;
		}
		if (seq <= have || seq > spec_int(rec, "last_event", 0) ||
		    strcmp(spec_str(body, "case") ? spec_str(body, "case") : "",
		           h->id) != 0) {
			continue;
		}
		rv = fsm_event_import(f, h->id, spec_int(ev, "at", 0), body);
	}
	json_decref(old);
	json_decref(c);
	return rv;
}

/* case_update rewrites case id: owner set to owner (NULL: unchanged),
 * frozen dropped. */
static int
case_update(struct fsm *f, const char *id, const char *owner)
{
	json_t *old = NULL, *c;
	int rv;

	rv = db_get_json(f->txn, f->s->dbi[DB_CASES], id, strlen(id), &old);
	if (rv == TB_ENOTFOUND) {
		return TB_OK; /* no copy here (a cancel before any prepare) */
	}
	if (rv != 0) {
		return rv;
	}
	if ((c = json_deep_copy(old)) == NULL ||
	    (owner != NULL &&
	     json_object_set_new(c, "owner", json_string(owner)) != 0)) {
		json_decref(old);
		json_decref(c);
		return TB_ENOMEM;
	}
	json_object_del(c, "frozen");
	rv = fsm_case_put(f, c, old);
	json_decref(old);
	json_decref(c);
	return rv;
}

/* effects does what the new state implies for the case and writes the
 * record (rec may be NULL for a new target record). */
static int
effects(struct fsm *f, const struct hf *h, json_t **rec,
        enum handoff_state from, enum handoff_state next)
{
	int rv = TB_OK;

	if (*rec == NULL && (*rec = new_record(f, h)) == NULL) {
		return TB_ENOMEM;
	}
	switch (next) {
	case HANDOFF_PREPARED:
		rv = prepare(f, h);
		break;
	case HANDOFF_DECLINED:
		rv = json_object_set_new(*rec, "refusal", json_string(h->why))
		         ? TB_ENOMEM
		         : TB_OK;
		break;
	case HANDOFF_OWNED:
		rv = case_update(f, h->id, NULL);
		break;
	case HANDOFF_CANCELLED:
		/* A prepared copy becomes a tombstone naming the source. */
		if (from == HANDOFF_PREPARED) {
			rv = case_update(f, h->id, h->from);
		}
		break;
	case HANDOFF_TRANSFERRED:
		rv = case_update(f, h->id, spec_str(*rec, "peer"));
		break;
	case HANDOFF_REFUSED:
		if (json_object_set_new(
		        *rec, "refusal",
		        json_string(spec_str(h->fr, "refusal")
		                        ? spec_str(h->fr, "refusal")
		                        : "(no reason given)")) != 0) {
			return TB_ENOMEM;
		}
		rv = case_update(f, h->id, NULL);
		break;
	default:
		break;
	}
	return rv != 0 ? rv : fsm_handoff_put(f, *rec, next);
}

/* one applies frame h and appends its result entry to out. */
static int
one(struct fsm *f, struct hf *h, json_t *out)
{
	struct handoff_result r = { HANDOFF_NONE, false, HANDOFF_F_NONE, NULL };
	enum handoff_state st = HANDOFF_NONE;
	json_t *rec = NULL, *res;
	bool ok = parse(f, h);
	int rv = TB_OK;

	if (ok) {
		rv = fsm_handoff_get(f->s, f->txn, h->id, (uint32_t)h->epoch,
		                     (uint32_t)h->attempt, &rec);
		if (rv != 0 && rv != TB_ENOTFOUND) {
			return rv;
		}
		st = fsm_handoff_state(rec);
		/* A source's record answers only its peer. */
		if (rec != NULL &&
		    strcmp(spec_str(rec, "peer") ? spec_str(rec, "peer") : "",
		           h->from) != 0) {
			snprintf(h->why, sizeof(h->why),
			         "from: the handoff's peer is %s",
			         spec_str(rec, "peer"));
			ok = false;
		}
	}
	if (ok && h->ev == HANDOFF_EV_GOT_OFFER && st == HANDOFF_NONE &&
	    (rv = check(f, h)) != 0) {
		json_decref(rec);
		return rv;
	}
	if (ok) {
		r = handoff_step(st, h->ev, h->check);
	}
	if (ok && r.commit && (rv = effects(f, h, &rec, st, r.next)) != 0) {
		json_decref(rec);
		return rv;
	}
	/* An offer answers this region's request for the case. */
	if (ok && r.commit && h->ev == HANDOFF_EV_GOT_OFFER &&
	    (rv = fsm_handoff_request_offered(f, h->id, h->from)) != 0) {
		json_decref(rec);
		return rv;
	}
	res = json_pack("{s:s?, s:I, s:I, s:s?, s:s?, s:s, s:s, s:b}", "case",
	                h->id, "epoch", (json_int_t)h->epoch, "attempt",
	                (json_int_t)h->attempt, "from", h->from, "frame",
	                spec_str(h->fr, "frame"), "state",
	                handoff_state_name(ok ? r.next : st), "reply",
	                handoff_frame_name(r.reply), "committed", r.commit);
	json_decref(rec);
	if (res == NULL) {
		return TB_ENOMEM;
	}
	if (!ok) {
		json_object_set_new(res, "error", json_string(h->why));
	} else if (r.refusal != NULL) {
		json_object_set_new(res, "refusal", json_string(r.refusal));
	} else if (h->check == HANDOFF_CHECK_BEHIND) {
		json_object_set_new(res, "behind", json_string(h->why));
	}
	return json_array_append_new(out, res) != 0 ? TB_ENOMEM : TB_OK;
}

int
fsm_handoff_frame(struct fsm *f)
{
	const json_t *frames = json_object_get(f->cmd->body, "frames"), *fr;
	json_t *out = json_array();
	size_t i;
	int rv = out != NULL ? TB_OK : TB_ENOMEM;

	json_array_foreach(frames, i, fr)
	{
		struct hf h;

		if (rv != 0) {
			break;
		}
		if (spec_str(fr, "frame") != NULL &&
		    (!strcmp(spec_str(fr, "frame"), "notify") ||
		     !strcmp(spec_str(fr, "frame"), "noted"))) {
			rv = fsm_handoff_notify_frame(f, fr, out);
			continue;
		}
		if (spec_str(fr, "frame") != NULL &&
		    (!strcmp(spec_str(fr, "frame"), "request") ||
		     !strcmp(spec_str(fr, "frame"), "request_refused"))) {
			rv = fsm_handoff_request_frame(f, fr, out);
			continue;
		}
		memset(&h, 0, sizeof(h));
		h.fr = fr;
		h.check = HANDOFF_CHECK_OK;
		rv = one(f, &h, out);
	}
	if (rv != 0) {
		json_decref(out);
		return rv;
	}
	f->result = json_pack("{s:o}", "frames", out);
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}
