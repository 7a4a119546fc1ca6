/* Handoff frames between regions: sent by the leader from the committed
 * records, routed hop by hop like the remote queries (region_route), and
 * proposed as handoff.frame where they arrive (docs/HANDOFF.md, "The
 * node's side").
 *
 * Happy path: handoff.offer commits at the source; the driver (on the
 * source's leader, run after each commit and every tick) finds the record
 * in the 'O' space and sends OFFER towards the target. A node of the
 * target receives it, reads its committed record (none), and proposes
 * handoff.frame through its group (group_propose: at the leader, or
 * forwarded to it); the apply checks the catalog and prepares; the node
 * that proposed sends the apply's reply (ACCEPT) back. The source proposes
 * the ACCEPT (TRANSFERRED), replies COMMIT; the target proposes it
 * (OWNED) and replies DONE, which the source's driver keeps in memory
 * only (handoff_wants' done flag).
 *
 * Failure modes: a frame lost, duplicated, or answered by a crashed side
 * is resent by the driver from the committed record after a timeout that
 * backs off (50 ms .. 5 s); frames whose committed record already holds
 * the answer are answered at once without a commit; a frame that cannot be
 * routed is dropped and counted (the retry finds the way). A new leader
 * starts with an empty driver: everything open is sent again at once.
 *
 * Threads: the loop. */
#include "node/handoff_impl.h"

#include "node/fsm_handoff.h"
#include "node/group.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_query.h"
#include "node/store.h"
#include "node/store_db.h"
#include "replication/route.h"
#include "schema/spec.h"

#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct handoff_node *
handoff_of(struct node *n)
{
	return n->handoff;
}

int
handoff_init(struct node *n)
{
	struct handoff_node *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->open = json_object()) == NULL ||
	    (h->inflight = json_object()) == NULL) {
		if (h != NULL) {
			json_decref(h->open);
		}
		free(h);
		return -1;
	}
	h->n = n;
	n->handoff = h;
	return 0;
}

void
handoff_free(struct node *n)
{
	struct handoff_node *h = handoff_of(n);

	if (h == NULL) {
		return;
	}
	json_decref(h->open);
	json_decref(h->inflight);
	free(h);
	n->handoff = NULL;
}

/* events_of appends case id's events ({"at", "body"}, in seq order). */
static int
events_of(struct store *s, MDB_txn *txn, const char *id, json_t *out)
{
	uint8_t k[FSM_HANDOFF_ID_MAX + 1];
	size_t idl = strlen(id);
	MDB_cursor *cur;
	MDB_val key, v, ev;
	int rv, op = MDB_SET_RANGE;

	if (idl >= FSM_HANDOFF_ID_MAX) {
		return TB_EINVAL;
	}
	memcpy(k, id, idl);
	k[idl] = 0;
	key.mv_data = k;
	key.mv_size = idl + 1;
	if ((rv = db_err(mdb_cursor_open(txn, s->dbi[DB_CASE_EVENTS], &cur))) !=
	    0) {
		return rv;
	}
	while ((rv = db_err(mdb_cursor_get(cur, &key, &v, op))) == 0) {
		json_t *env = NULL;

		op = MDB_NEXT;
		if (key.mv_size != idl + 5 || memcmp(key.mv_data, k, idl + 1)) {
			break;
		}
		if (v.mv_size != 8 ||
		    (rv = db_get(txn, s->dbi[DB_EVENTS], v.mv_data, 8, &ev)) ||
		    (rv = db_val_json(&ev, &env)) != 0) {
			rv = rv != 0 ? rv : TB_ECORRUPT;
			break;
		}
		if (json_array_append_new(
		        out, json_pack("{s:O, s:O}", "at",
		                       json_object_get(env, "at"), "body",
		                       json_object_get(env, "body"))) != 0) {
			json_decref(env);
			rv = TB_ENOMEM;
			break;
		}
		json_decref(env);
	}
	mdb_cursor_close(cur);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

int
handoff_frame_build(struct store *s, MDB_txn *txn, const char *self,
                    const json_t *rec, const char *kind, json_t **out)
{
	const char *id = spec_str(rec, "case");
	json_t *fr, *c = NULL, *evs;
	int rv;

	*out = NULL;
	fr = json_pack("{s:s, s:s?, s:O, s:O, s:s, s:O}", "frame", kind, "case",
	               id, "epoch", json_object_get(rec, "epoch"), "attempt",
	               json_object_get(rec, "attempt"), "from", self, "to",
	               json_object_get(rec, "peer"));
	if (fr == NULL) {
		return TB_ENOMEM;
	}
	if ((!strcmp(kind, "request") || !strcmp(kind, "request_refused")) &&
	    (json_object_set(fr, "request", json_object_get(rec, "request")) ||
	     (json_object_get(rec, "reason") != NULL &&
	      json_object_set(fr, "reason", json_object_get(rec, "reason"))))) {
		json_decref(fr);
		return TB_ENOMEM;
	}
	if (!strcmp(kind, "request_refused") &&
	    json_object_get(rec, "refusal") != NULL &&
	    json_object_set(fr, "refusal", json_object_get(rec, "refusal"))) {
		json_decref(fr);
		return TB_ENOMEM;
	}
	if (!strcmp(kind, "refuse") &&
	    json_object_get(rec, "refusal") != NULL &&
	    json_object_set(fr, "refusal", json_object_get(rec, "refusal"))) {
		json_decref(fr);
		return TB_ENOMEM;
	}
	if (strcmp(kind, "offer") != 0 && strcmp(kind, "notify") != 0) {
		*out = fr;
		return TB_OK;
	}
	if ((rv = db_get_json(txn, s->dbi[DB_CASES], id, strlen(id), &c))) {
		json_decref(fr);
		return rv;
	}
	evs = json_array();
	/* A NOTIFY names the version it carries (the due may be older). */
	if (!strcmp(kind, "notify") &&
	    (json_object_set(fr, "epoch", json_object_get(c, "epoch")) ||
	     json_object_set(fr, "attempt", json_object_get(c, "version")))) {
		json_decref(fr);
		json_decref(c);
		return TB_ENOMEM;
	}
	if (evs == NULL || json_object_set_new(fr, "record", c) != 0 ||
	    json_object_set_new(fr, "events", evs) != 0 ||
	    (!strcmp(kind, "offer") &&
	     (json_object_set(fr, "mode", json_object_get(rec, "mode")) ||
	      json_object_set(fr, "reason", json_object_get(rec, "reason"))))) {
		json_decref(fr);
		return TB_ENOMEM;
	}
	if ((rv = events_of(s, txn, id, evs)) != 0) {
		json_decref(fr);
		return rv;
	}
	*out = fr;
	return TB_OK;
}

/* unroutable logs, at most once a minute per target region, that frames
 * towards it were dropped here and why: a handoff offered to a region no
 * link leads to (no node yet, a county whose city has no link to it)
 * used to stay "offered" with nothing in any log but a counter. */
static void
unroutable(struct handoff_node *h, int32_t target, size_t nframes,
           const char *why)
{
	uint64_t now = uv_now(&h->n->loop);
	unsigned i;

	for (i = 0; i < 8; i++) {
		if (h->unroutable[i].to == target) {
			if (now < h->unroutable[i].at + 60000) {
				return;
			}
			break;
		}
	}
	if (i == 8) {
		i = h->unroutable_next++ % 8;
	}
	h->unroutable[i].to = target;
	h->unroutable[i].at = now;
	tb_log(TB_LOG_WARN, "TB-HANDOFF-UNROUTABLE",
	       "%zu handoff frame(s) towards %06d dropped at %s: %s (the "
	       "sender resends; an offer nobody answers can be aborted "
	       "after handoff_abort_after_ms: tongban handoff abort ID)",
	       nframes, (int)target, h->n->cfg.region, why);
}

/* send_to sends a message of frames (stolen) towards region `to`, one hop
 * (hops is how many it has travelled). */
void
handoff_send_to(struct handoff_node *h, const char *to, long long hops,
                json_t *frames)
{
	struct node *n = h->n;
	struct route rt;
	int32_t target = 0;
	json_t *msg;
	char hop[8], *text;
	int rv;

	if (n->links == NULL || region_code_parse(to, &target) != TB_OK ||
	    hops >= ROUTE_MAX_HOPS) {
		h->dropped += json_array_size(frames);
		json_decref(frames);
		return;
	}
	region_route(n, target, &rt);
	if (rt.kind != ROUTE_DOWN && rt.kind != ROUTE_SIDEWAYS &&
	    rt.kind != ROUTE_UP) {
		unroutable(h, target, json_array_size(frames),
		           rt.reason[0] ? rt.reason : route_kind_name(rt.kind));
		h->dropped += json_array_size(frames);
		json_decref(frames);
		return;
	}
	msg = json_pack("{s:s, s:I, s:o}", "to", to, "hops",
	                (json_int_t)hops + 1, "frames", frames);
	text = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (text == NULL) {
		return;
	}
	snprintf(hop, sizeof(hop), "%06d", (int)rt.hop);
	rv = link_send(n->links, hop, REGION_T_HANDOFF, text, strlen(text));
	free(text);
	if (rv != TB_OK) {
		char why[96];

		snprintf(why, sizeof(why),
		         "no link up to %s, the next region "
		         "%s",
		         hop, route_kind_name(rt.kind));
		unroutable(h, target, 1, why);
		h->dropped++;
	}
}

/* batch_add adds frame fr (stolen) to the batch for its "to"; batch_send
 * sends every batch, HANDOFF_BATCH_MAX frames a message. */
void
handoff_batch_add(json_t *batch, json_t *fr)
{
	const char *to = spec_str(fr, "to");
	json_t *a;

	if (to == NULL) {
		json_decref(fr);
		return;
	}
	if ((a = json_object_get(batch, to)) == NULL) {
		json_object_set_new(batch, to, a = json_array());
	}
	json_array_append_new(a, fr);
}

void
handoff_batch_send(struct handoff_node *h, json_t *batch)
{
	const char *to;
	json_t *a;

	json_object_foreach(batch, to, a)
	{
		size_t i = 0, len = json_array_size(a);

		while (i < len) {
			json_t *part = json_array();
			size_t j;

			for (j = 0; i < len && j < HANDOFF_BATCH_MAX;
			     i++, j++) {
				json_array_append(part, json_array_get(a, i));
			}
			h->sent += j;
			handoff_send_to(h, to, 0, part);
		}
	}
	json_decref(batch);
}

/* ---- the driver (leader) ----------------------------------------------- */

static bool
leading(struct node *n)
{
	return raft_state(&n->raft) == RAFT_LEADER && n->links != NULL &&
	       store_feature_level(n->store) >= TB_HANDOFF_LEVEL &&
	       !n->stopping;
}

void
handoff_drv_key(char *out, size_t n, const char *id, uint32_t e, uint32_t a)
{
	snprintf(out, n, "%s/%u/%u", id, (unsigned)e, (unsigned)a);
}

/* due resends what record (id, e, a) wants if its entry ent is due. */
static void
due(struct handoff_node *h, MDB_txn *txn, json_t *ent, const char *id,
    uint32_t e, uint32_t a, uint64_t now, json_t *batch)
{
	json_t *rec = NULL, *fr = NULL;
	enum handoff_frame want;
	long long backoff;

	if (json_integer_value(json_array_get(ent, 0)) > (json_int_t)now ||
	    fsm_handoff_get(h->n->store, txn, id, e, a, &rec) != TB_OK) {
		return;
	}
	want = handoff_wants(fsm_handoff_state(rec), false);
	if (e == 0 && a == 0) {
		/* A target's request, resent until the owner answers. */
		if (!strcmp(spec_str(rec, "state") ? spec_str(rec, "state")
		                                   : "",
		            "requested") &&
		    handoff_frame_build(h->n->store, txn, h->n->cfg.region, rec,
		                        "request", &fr) == TB_OK) {
			handoff_batch_add(batch, fr);
		}
	} else if (want != HANDOFF_F_NONE &&
	           handoff_frame_build(h->n->store, txn, h->n->cfg.region, rec,
	                               handoff_frame_name(want),
	                               &fr) == TB_OK) {
		handoff_batch_add(batch, fr);
	}
	json_decref(rec);
	backoff = json_integer_value(json_array_get(ent, 1));
	json_integer_set(json_array_get(ent, 0), (json_int_t)(now + backoff));
	json_integer_set(json_array_get(ent, 1),
	                 backoff * 2 > HANDOFF_BACKOFF_MAX_MS
	                     ? HANDOFF_BACKOFF_MAX_MS
	                     : backoff * 2);
}

/* parse_suffix reads "case id 0 u32 e u32 a" (n bytes at p). */
static bool
parse_suffix(const uint8_t *p, size_t n, char *id, size_t idn, uint32_t *e,
             uint32_t *a)
{
	const uint8_t *z = n > 0 ? memchr(p, 0, n) : NULL;

	if (z == NULL || (size_t)(z - p) >= idn || n != (size_t)(z - p) + 9) {
		return false;
	}
	memcpy(id, p, (size_t)(z - p));
	id[z - p] = '\0';
	*e = db_get_be32(z + 1);
	*a = db_get_be32(z + 5);
	return true;
}

/* entry finds or makes the driver's entry of (id, e, a): [due, backoff,
 * unused, gen, in 'T']; a new one is due at once if first. */
static json_t *
entry(struct handoff_node *h, const char *key, uint64_t now, bool first, bool t)
{
	json_t *ent = json_object_get(h->open, key);

	if (ent == NULL) {
		ent = json_pack(
		    "[I, i, b, I, b]",
		    (json_int_t)(first ? now : now + HANDOFF_BACKOFF_MIN_MS),
		    HANDOFF_BACKOFF_MIN_MS, 0, (json_int_t)h->gen, t);
		if (ent == NULL || json_object_set_new(h->open, key, ent)) {
			return NULL;
		}
	}
	json_integer_set(json_array_get(ent, 3), (json_int_t)h->gen);
	return ent;
}

/* scan_open handles the 'O' space: offers and prepares, resent until
 * their state moves on. A new offer goes out at once; a prepare was
 * answered by its apply, so its ACCEPT is resent after the first
 * timeout. */
static void
scan_open(struct handoff_node *h, MDB_txn *txn, MDB_cursor *cur, uint64_t now,
          json_t *batch)
{
	char id[FSM_HANDOFF_ID_MAX], key[FSM_HANDOFF_ID_MAX + 24];
	MDB_val k = { 1, "O" }, v;
	int op = MDB_SET_RANGE;
	uint32_t e, a;

	while (mdb_cursor_get(cur, &k, &v, op) == 0) {
		json_t *rec = NULL, *ent;
		bool fresh, offered = false;

		op = MDB_NEXT;
		if (((uint8_t *)k.mv_data)[0] != 'O') {
			break;
		}
		if (!parse_suffix((uint8_t *)k.mv_data + 1, k.mv_size - 1, id,
		                  sizeof(id), &e, &a)) {
			continue;
		}
		handoff_drv_key(key, sizeof(key), id, e, a);
		fresh = json_object_get(h->open, key) == NULL;
		if (fresh && fsm_handoff_get(h->n->store, txn, id, e, a,
		                             &rec) == TB_OK) {
			offered = fsm_handoff_state(rec) == HANDOFF_OFFERED ||
			          e == 0; /* a new request */
		}
		json_decref(rec);
		if ((ent = entry(h, key, now, offered, false)) != NULL) {
			due(h, txn, ent, id, e, a, now, batch);
		}
	}
}

/* scan_transfers reads the 'T' entries after the last one seen: each a
 * COMMIT to resend until DONE (the apply sent the first). */
static void
scan_transfers(struct handoff_node *h, MDB_cursor *cur, uint64_t now)
{
	char id[FSM_HANDOFF_ID_MAX], key[FSM_HANDOFF_ID_MAX + 24];
	uint8_t from[9] = { 'T' };
	MDB_val k = { 9, from }, v;
	int op = MDB_SET_RANGE;
	uint32_t e, a;

	db_be64(from + 1, h->tseen + 1);
	while (mdb_cursor_get(cur, &k, &v, op) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != 9 || ((uint8_t *)k.mv_data)[0] != 'T') {
			break;
		}
		h->tseen = db_get_be64((uint8_t *)k.mv_data + 1);
		if (parse_suffix(v.mv_data, v.mv_size, id, sizeof(id), &e,
		                 &a)) {
			handoff_drv_key(key, sizeof(key), id, e, a);
			entry(h, key, now, false, true);
		}
	}
}

/* scan_notify handles the 'N' space: a NOTIFY to the receiving region
 * for each case whose write it has not acknowledged, resent with backoff;
 * the driver's key names the version, so a newer write goes out at once. */
static void
scan_notify(struct handoff_node *h, MDB_txn *txn, MDB_cursor *cur, uint64_t now,
            json_t *batch)
{
	char id[FSM_HANDOFF_ID_MAX], key[FSM_HANDOFF_ID_MAX + 48];
	MDB_val k = { 1, "N" }, v;
	int op = MDB_SET_RANGE;

	while (mdb_cursor_get(cur, &k, &v, op) == 0) {
		json_t *due = NULL, *rec, *fr = NULL, *ent;
		long long backoff;

		op = MDB_NEXT;
		if (((uint8_t *)k.mv_data)[0] != 'N') {
			break;
		}
		if (k.mv_size - 1 >= sizeof(id)) {
			continue;
		}
		memcpy(id, (uint8_t *)k.mv_data + 1, k.mv_size - 1);
		id[k.mv_size - 1] = '\0';
		if (db_val_json(&v, &due) != TB_OK) {
			continue;
		}
		snprintf(key, sizeof(key), "N:%s/%lld/%lld", id,
		         spec_int(due, "epoch", 0),
		         spec_int(due, "version", 0));
		ent = entry(h, key, now, true, false);
		if (ent == NULL || json_integer_value(json_array_get(ent, 0)) >
		                       (json_int_t)now) {
			json_decref(due);
			continue;
		}
		rec = json_pack("{s:s, s:O, s:O, s:O}", "case", id, "epoch",
		                json_object_get(due, "epoch"), "attempt",
		                json_object_get(due, "version"), "peer",
		                json_object_get(due, "to"));
		if (rec != NULL &&
		    handoff_frame_build(h->n->store, txn, h->n->cfg.region, rec,
		                        "notify", &fr) == TB_OK) {
			handoff_batch_add(batch, fr);
		}
		json_decref(rec);
		json_decref(due);
		backoff = json_integer_value(json_array_get(ent, 1));
		json_integer_set(json_array_get(ent, 0),
		                 (json_int_t)(now + backoff));
		json_integer_set(json_array_get(ent, 1),
		                 backoff * 2 > HANDOFF_BACKOFF_MAX_MS
		                     ? HANDOFF_BACKOFF_MAX_MS
		                     : backoff * 2);
	}
}

static void
drive(struct handoff_node *h)
{
	struct node *n = h->n;
	uint64_t now = uv_now(&n->loop);
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	json_t *batch, *ent;
	const char *key;
	void *tmp;

	if (!leading(n)) {
		json_object_clear(h->open);
		return;
	}
	if (h->term != n->raft.current_term) {
		/* A new leader: everything open, and one COMMIT for every
		 * transfer (DONE is volatile). */
		json_object_clear(h->open);
		h->term = n->raft.current_term;
		h->tseen = 0;
	}
	h->last_run = now;
	h->gen++;
	if ((batch = json_object()) == NULL ||
	    store_rd_begin(n->store, &txn) != 0) {
		json_decref(batch);
		return;
	}
	if (mdb_cursor_open(txn, n->store->dbi[DB_HANDOFFS], &cur) == 0) {
		scan_open(h, txn, cur, now, batch);
		scan_transfers(h, cur, now);
		scan_notify(h, txn, cur, now, batch);
		mdb_cursor_close(cur);
	}
	/* The transfers awaiting DONE; forget the open keys that left the
	 * 'O' space. */
	json_object_foreach_safe(h->open, tmp, key, ent)
	{
		char id[FSM_HANDOFF_ID_MAX];
		unsigned e, a;

		if (!json_is_true(json_array_get(ent, 4))) {
			if (json_integer_value(json_array_get(ent, 3)) !=
			    (json_int_t)h->gen) {
				json_object_del(h->open, key);
			}
			continue;
		}
		if (sscanf(key, "%63[^/]/%u/%u", id, &e, &a) == 3) {
			due(h, txn, ent, id, e, a, now, batch);
		}
	}
	store_rd_end(n->store, txn);
	handoff_batch_send(h, batch);
}

void
handoff_tick(struct node *n)
{
	if (handoff_of(n) != NULL) {
		drive(handoff_of(n));
	}
}

void
handoff_progress(struct node *n)
{
	struct handoff_node *h = handoff_of(n);

	/* After commits: a new offer goes out at once, not at the next
	 * tick; at most one scan every 2 ms. */
	if (h != NULL && uv_now(&n->loop) >= h->last_run + 2) {
		drive(h);
	}
}
