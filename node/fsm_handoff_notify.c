/* Results delivered back to the receiving region (异地代收代办; docs/
 * HANDOFF.md, "Results delivered back"): when the owner of a case that a
 * handoff brought here (the case id's region is another one) writes the
 * case, its apply records "notify due" for it:
 *
 *   'N' case id -> sv + {to, epoch, version}
 *
 * in DB_HANDOFFS (one entry per case, overwritten by each write). The
 * leader's driver (handoff.c) sends a NOTIFY frame to `to` carrying the
 * case record (naming this region as its owner) and its events, resent
 * with backoff until a NOTED frame at least as new is committed here,
 * which drops the entry.
 *
 * At the receiving region the NOTIFY is applied (handoff.frame) to its
 * tombstone: the copy is replaced when (epoch, version) is newer, still a
 * tombstone (its owner the notifier), and the events it lacks are stored
 * in their place (events are keyed by their sequence, which epochs
 * continue); a duplicate or late NOTIFY changes nothing. */
#include "node/fsm.h"
#include "node/fsm_handoff.h"

#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* home_of writes the region a case id names (its receiving region). */
static bool
home_of(const char *id, char out[7])
{
	int32_t code;

	if (id == NULL || strlen(id) < 7 || id[6] != '-') {
		return false;
	}
	memcpy(out, id, 6);
	out[6] = '\0';
	return region_code_parse(out, &code) == TB_OK;
}

static size_t
nkey(const char *id, uint8_t *k)
{
	size_t idl = strlen(id);

	if (idl >= FSM_HANDOFF_ID_MAX) {
		idl = FSM_HANDOFF_ID_MAX - 1;
	}
	k[0] = 'N';
	memcpy(k + 1, id, idl);
	return idl + 1;
}

/* newer: (e1, v1) > (e2, v2). */
static bool
newer(long long e1, long long v1, long long e2, long long v2)
{
	return e1 > e2 || (e1 == e2 && v1 > v2);
}

int
fsm_handoff_notify_due(struct fsm *f, const json_t *c)
{
	const char *id = spec_str(c, "id"), *owner = spec_str(c, "owner");
	uint8_t k[FSM_HANDOFF_ID_MAX + 1];
	char home[7];
	json_t *v;
	int rv;

	if (owner != NULL && strcmp(owner, f->s->region) != 0) {
		/* Handed on: the new owner notifies from now on (its NOTIFY
		 * carries the whole record and every event). */
		rv = db_del(f->txn, f->s->dbi[DB_HANDOFFS], k, nkey(id, k));
		return rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	/* Only an owner by handoff (unfrozen: a prepared target does not
	 * own yet) of a case received elsewhere. */
	if (owner == NULL || json_is_true(json_object_get(c, "frozen")) ||
	    !home_of(id, home) || !strcmp(home, f->s->region)) {
		return TB_OK;
	}
	v = json_pack("{s:s, s:I, s:I}", "to", home, "epoch",
	              (json_int_t)spec_int(c, "epoch", 1), "version",
	              (json_int_t)spec_int(c, "version", 0));
	if (v == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_HANDOFFS], k, nkey(id, k), v);
	json_decref(v);
	return rv;
}

int
fsm_handoff_notify_get(const struct store *s, MDB_txn *txn, const char *id,
                       json_t **due)
{
	uint8_t k[FSM_HANDOFF_ID_MAX + 1];

	*due = NULL;
	return db_get_json(txn, s->dbi[DB_HANDOFFS], k, nkey(id, k), due);
}

static bool
has_event(struct fsm *f, const char *id, uint32_t seq)
{
	uint8_t k[FSM_HANDOFF_ID_MAX + 5];
	size_t idl = strlen(id);
	MDB_val v;

	memcpy(k, id, idl);
	k[idl] = 0;
	db_be32(k + idl + 1, seq);
	return db_get(f->txn, f->s->dbi[DB_CASE_EVENTS], k, idl + 5, &v) == 0;
}

/* notify applies a NOTIFY (the envelope checked): *why says what it did
 * or why it was skipped (*bad: malformed); *reply is set when a NOTED is
 * due. */
static int
notify(struct fsm *f, const json_t *fr, const char *id, const char *from,
       char *why, size_t whyn, bool *reply, bool *changed, bool *bad)
{
	const json_t *rec = json_object_get(fr, "record"), *ev;
	long long e = spec_int(rec, "epoch", 0),
	          v = spec_int(rec, "version", -1);
	long long last = spec_int(rec, "last_event", 0);
	json_t *old = NULL, *c = NULL;
	const char *lowner;
	size_t i;
	int rv;

	if (!json_is_object(rec) || !spec_str(rec, "id") ||
	    strcmp(spec_str(rec, "id"), id) != 0 || e < 1 || v < 0 ||
	    spec_str(rec, "owner") == NULL ||
	    strcmp(spec_str(rec, "owner"), from) != 0 ||
	    spec_str(rec, "state") == NULL || e != spec_int(fr, "epoch", 0) ||
	    v != spec_int(fr, "attempt", -1) ||
	    !json_is_array(json_object_get(fr, "events"))) {
		snprintf(why, whyn,
		         "record: the notified case record or events are "
		         "malformed (the owner must be the sender)");
		*bad = true;
		return TB_OK;
	}
	rv = db_get_json(f->txn, f->s->dbi[DB_CASES], id, strlen(id), &old);
	if (rv == TB_ENOTFOUND) {
		snprintf(why, whyn, "%s holds no copy of case %s", f->s->region,
		         id);
		*reply = true; /* nothing to keep: the owner may stop */
		return TB_OK;
	}
	if (rv != 0) {
		return rv;
	}
	*reply = true;
	lowner = spec_str(old, "owner");
	if (lowner == NULL || !strcmp(lowner, f->s->region)) {
		snprintf(why, whyn, "%s owns case %s: a late notify ignored",
		         f->s->region, id);
		json_decref(old);
		return TB_OK;
	}
	/* The events this copy lacks, in their place. */
	json_array_foreach(json_object_get(fr, "events"), i, ev)
	{
		const json_t *body = json_object_get(ev, "body");
		long long seq = spec_int(body, "seq", 0);

		if (seq < 1 || seq > last || seq > UINT32_MAX ||
		    strcmp(spec_str(body, "case") ? spec_str(body, "case") : "",
		           id) != 0 ||
		    has_event(f, id, (uint32_t)seq)) {
			continue;
		}
		if ((rv = fsm_event_import(f, id, spec_int(ev, "at", 0),
		                           body)) != 0) {
			json_decref(old);
			return rv;
		}
		*changed = true;
	}
	if (newer(e, v, spec_int(old, "epoch", 1),
	          spec_int(old, "version", 0))) {
		/* The owner's copy, kept read-only: a tombstone naming it. */
		if ((c = json_deep_copy(rec)) == NULL) {
			json_decref(old);
			return TB_ENOMEM;
		}
		json_object_del(c, "frozen");
		rv = fsm_case_put(f, c, old);
		json_decref(c);
		*changed = true;
	}
	snprintf(why, whyn, *changed ? "" : "nothing new");
	json_decref(old);
	return rv;
}

/* noted applies a NOTED at the owner: the notify due is dropped when the
 * acknowledged (epoch, version) is at least its own. */
static int
noted(struct fsm *f, const json_t *fr, const char *id, const char *from,
      char *why, size_t whyn, bool *changed)
{
	uint8_t k[FSM_HANDOFF_ID_MAX + 1];
	json_t *due = NULL;
	int rv;

	rv = fsm_handoff_notify_get(f->s, f->txn, id, &due);
	if (rv == TB_ENOTFOUND) {
		snprintf(why, whyn, "no notify due for case %s", id);
		return TB_OK;
	}
	if (rv != 0) {
		return rv;
	}
	if (strcmp(spec_str(due, "to") ? spec_str(due, "to") : "", from) ||
	    newer(spec_int(due, "epoch", 0), spec_int(due, "version", 0),
	          spec_int(fr, "epoch", 0), spec_int(fr, "attempt", 0))) {
		snprintf(why, whyn, "an older acknowledgement: kept");
	} else {
		rv = db_del(f->txn, f->s->dbi[DB_HANDOFFS], k, nkey(id, k));
		*changed = rv == 0;
	}
	json_decref(due);
	return rv;
}

int
fsm_handoff_notify_frame(struct fsm *f, const json_t *fr, json_t *out)
{
	const char *kind = spec_str(fr, "frame"), *id = spec_str(fr, "case");
	const char *from = spec_str(fr, "from"), *to = spec_str(fr, "to");
	char why[TB_DIAG_MSG] = "";
	bool reply = false, changed = false, ok = false, bad = false;
	int32_t code;
	json_t *res;
	int rv = TB_OK;

	if (id == NULL || strlen(id) >= FSM_HANDOFF_ID_MAX) {
		snprintf(why, sizeof(why), "case: missing or too long");
	} else if (region_code_parse(from, &code) != TB_OK ||
	           !strcmp(from, f->s->region)) {
		snprintf(why, sizeof(why), "from: not another region's code");
	} else if (to == NULL || strcmp(to, f->s->region) != 0) {
		snprintf(why, sizeof(why), "to: not this region (%s)",
		         f->s->region);
	} else if (spec_int(fr, "epoch", 0) < 1 ||
	           spec_int(fr, "attempt", -1) < 0) {
		snprintf(why, sizeof(why),
		         "epoch, attempt: the case's epoch and version");
	} else {
		ok = true;
	}
	if (ok && !strcmp(kind, "notify")) {
		rv = notify(f, fr, id, from, why, sizeof(why), &reply, &changed,
		            &bad);
	} else if (ok) {
		rv = noted(f, fr, id, from, why, sizeof(why), &changed);
	}
	if (rv != 0) {
		return rv;
	}
	res =
	    json_pack("{s:s?, s:O, s:O, s:s?, s:s, s:s, s:s, s:b}", "case", id,
	              "epoch", json_object_get(fr, "epoch"), "attempt",
	              json_object_get(fr, "attempt"), "from", from, "frame",
	              kind, "state", changed ? "updated" : "unchanged", "reply",
	              reply ? "noted" : "none", "committed", changed);
	if (res == NULL) {
		return TB_ENOMEM;
	}
	if (why[0] != '\0') {
		json_object_set_new(res, ok && !bad ? "note" : "error",
		                    json_string(why));
	}
	return json_array_append_new(out, res) != 0 ? TB_ENOMEM : TB_OK;
}
