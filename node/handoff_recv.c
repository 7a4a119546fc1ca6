/* Handoff frames received from another region (docs/HANDOFF.md, "Frames
 * between regions"): each is checked against this node's committed
 * record; those that need a commit are proposed together as one
 * handoff.frame through the group (at the leader, or forwarded to it), an
 * offer once its materials are here (handoff_blob.c); the node that
 * proposed sends the apply's replies. A frame whose record already holds
 * the answer is answered at once. Frames for another region are relayed
 * one hop on. Threads: the loop. */
#include "node/handoff_impl.h"

#include "node/fsm_handoff.h"
#include "node/group.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/store.h"
#include "node/store_db.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- frames received --------------------------------------------------- */

struct prop {
	struct handoff_node *h;
	json_t *keys; /* the inflight keys this proposal holds */
};

static void
inflight_key(char *out, size_t n, const json_t *fr)
{
	snprintf(out, n, "%s/%lld/%lld/%s",
	         spec_str(fr, "case") ? spec_str(fr, "case") : "",
	         spec_int(fr, "epoch", 0), spec_int(fr, "attempt", 0),
	         spec_str(fr, "frame") ? spec_str(fr, "frame") : "");
}

/* reply_of builds the frame that answers result r (an apply's or a
 * pre-check's): from the committed record if there is one, else from
 * the frame it answers. */
static json_t *
reply_of(struct handoff_node *h, MDB_txn *txn, const json_t *r,
         const char *kind)
{
	const char *id = spec_str(r, "case");
	json_t *rec = NULL, *fr = NULL;

	if (id == NULL || fsm_handoff_get(h->n->store, txn, id,
	                                  (uint32_t)spec_int(r, "epoch", 0),
	                                  (uint32_t)spec_int(r, "attempt", 0),
	                                  &rec) != TB_OK) {
		rec = json_pack("{s:s?, s:O, s:O, s:O}", "case", id, "epoch",
		                json_object_get(r, "epoch"), "attempt",
		                json_object_get(r, "attempt"), "peer",
		                json_object_get(r, "from"));
	}
	if (rec != NULL) {
		handoff_frame_build(h->n->store, txn, h->n->cfg.region, rec,
		                    kind, &fr);
	}
	json_decref(rec);
	return fr;
}

static void
on_applied(void *arg, int rv, json_t *res)
{
	struct prop *p = arg;
	struct handoff_node *h = p->h;
	const char *key;
	json_t *r, *batch = json_object(), *v;
	MDB_txn *txn;
	size_t i;

	json_object_foreach(p->keys, key, v)
	{
		json_object_del(h->inflight, key);
	}
	json_decref(p->keys);
	free(p);
	if (rv != TB_OK || batch == NULL ||
	    store_rd_begin(h->n->store, &txn) != 0) {
		/* Not committed: the peer's retry proposes it again. */
		json_decref(res);
		json_decref(batch);
		return;
	}
	json_array_foreach(json_object_get(res, "frames"), i, r)
	{
		const char *reply = spec_str(r, "reply");
		json_t *fr;

		if (spec_str(r, "error") != NULL) {
			tb_log(TB_LOG_WARN, "TB-HANDOFF-FRAME",
			       "a handoff frame from %s skipped: %s",
			       spec_str(r, "from") ? spec_str(r, "from") : "?",
			       spec_str(r, "error"));
		}
		if (spec_str(r, "behind") != NULL &&
		    uv_now(&h->n->loop) >= h->behind_logged + 60000) {
			/* Nothing is committed nor sent back: without this
			 * line only the source's "still offered" showed it. */
			h->behind_logged = uv_now(&h->n->loop);
			tb_log(TB_LOG_WARN, "TB-HANDOFF-BEHIND",
			       "an offer from %s waits for this region's "
			       "catalog (the source resends it): %s",
			       spec_str(r, "from") ? spec_str(r, "from") : "?",
			       spec_str(r, "behind"));
		}
		if (reply != NULL && !strcmp(reply, "noted")) {
			/* Results delivered back: acknowledged by version. */
			fr = json_pack(
			    "{s:s, s:O, s:O, s:O, s:s, s:O}", "frame", "noted",
			    "case", json_object_get(r, "case"), "epoch",
			    json_object_get(r, "epoch"), "attempt",
			    json_object_get(r, "attempt"), "from",
			    h->n->cfg.region, "to", json_object_get(r, "from"));
			if (fr != NULL) {
				handoff_batch_add(batch, fr);
			}
		} else if (reply != NULL && strcmp(reply, "none") != 0 &&
		           (fr = reply_of(h, txn, r, reply)) != NULL) {
			handoff_batch_add(batch, fr);
		}
	}
	store_rd_end(h->n->store, txn);
	json_decref(res);
	handoff_batch_send(h, batch);
}

/* request_here handles a target's REQUEST before any commit: relayed to
 * the owner a tombstone here names, or answered from the committed
 * request record; true if it must be proposed. */
static bool
request_here(struct handoff_node *h, MDB_txn *txn, const json_t *fr,
             json_t *batch)
{
	const char *id = spec_str(fr, "case"), *from = spec_str(fr, "from");
	json_t *c = NULL, *rec = NULL, *out = NULL;
	const char *owner;
	bool propose = true;

	if (db_get_json(txn, h->n->store->dbi[DB_CASES], id, strlen(id), &c) !=
	    TB_OK) {
		if (!strncmp(id, h->n->cfg.region, 6) && from != NULL) {
			/* The case id names this region, which holds no
			 * such case: refused now, from the committed store
			 * (as an answer from a record is), so the requester
			 * stops asking; it used to ask every 5 s forever,
			 * each time a TB-HANDOFF-FRAME line here. */
			char why[160];

			snprintf(why, sizeof(why),
			         "%s holds no case %s (no such case)",
			         h->n->cfg.region, id);
			out = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:O, "
			                "s:s}",
			                "frame", "request_refused", "case", id,
			                "epoch", 0, "attempt", 0, "from",
			                h->n->cfg.region, "to", from, "request",
			                json_object_get(fr, "request"),
			                "refusal", why);
			if (out != NULL) {
				handoff_batch_add(batch, out);
			}
			return false;
		}
		return true; /* the apply names why */
	}
	owner = spec_str(c, "owner");
	if (owner != NULL && strcmp(owner, h->n->cfg.region) != 0) {
		/* Following the tombstone towards the owner. */
		json_t *on = json_deep_copy(fr);

		if (on != NULL) {
			json_object_set_new(on, "to", json_string(owner));
			h->relayed++;
			handoff_send_to(h, owner, 0, json_pack("[o]", on));
		}
		json_decref(c);
		return false;
	}
	json_decref(c);
	if (fsm_handoff_get(h->n->store, txn, id, 0, 0, &rec) == TB_OK &&
	    !strcmp(spec_str(rec, "side") ? spec_str(rec, "side") : "",
	            "source") &&
	    !strcmp(spec_str(rec, "peer") ? spec_str(rec, "peer") : "",
	            from ? from : "") &&
	    spec_int(rec, "request", 0) >= spec_int(fr, "request", 0)) {
		propose = false;
		if (!strcmp(spec_str(rec, "state"), "request_refused") &&
		    handoff_frame_build(h->n->store, txn, h->n->cfg.region, rec,
		                        "request_refused", &out) == TB_OK) {
			handoff_batch_add(batch, out);
		}
	}
	json_decref(rec);
	return propose;
}

/* take decides what frame fr does here: proposed (added to props), a
 * reply from the committed record (added to batch), or nothing. */
static void
take(struct handoff_node *h, MDB_txn *txn, const json_t *fr, json_t *props,
     json_t *keys, json_t *batch)
{
	static const char *const names[] = { "offer",  "accept", "refuse",
		                             "commit", "abort",  "done" };
	static const enum handoff_event evs[] = {
		HANDOFF_EV_GOT_OFFER,  HANDOFF_EV_GOT_ACCEPT,
		HANDOFF_EV_GOT_REFUSE, HANDOFF_EV_GOT_COMMIT,
		HANDOFF_EV_GOT_ABORT,  HANDOFF_EV_GOT_DONE,
	};
	const char *kind = spec_str(fr, "frame"), *id = spec_str(fr, "case");
	char key[FSM_HANDOFF_ID_MAX + 48];
	struct handoff_result r;
	enum handoff_state st;
	json_t *rec = NULL, *res;
	size_t i;

	if (kind != NULL && id != NULL && strlen(id) < FSM_HANDOFF_ID_MAX &&
	    !strcmp(kind, "request") && !request_here(h, txn, fr, batch)) {
		return;
	}
	if (kind != NULL && id != NULL && strlen(id) < FSM_HANDOFF_ID_MAX &&
	    (!strcmp(kind, "notify") || !strcmp(kind, "noted") ||
	     !strcmp(kind, "request") || !strcmp(kind, "request_refused"))) {
		/* Results delivered back: the apply compares versions. */
		inflight_key(key, sizeof(key), fr);
		if (json_object_get(h->inflight, key) == NULL &&
		    json_object_get(keys, key) == NULL) {
			json_object_set_new(keys, key, json_true());
			json_array_append(props, (json_t *)fr);
		}
		return;
	}
	for (i = 0; kind != NULL && i < 6 && strcmp(kind, names[i]); i++) {
	}
	if (kind == NULL || i == 6 || id == NULL ||
	    strlen(id) >= FSM_HANDOFF_ID_MAX) {
		h->dropped++;
		return;
	}
	fsm_handoff_get(h->n->store, txn, id,
	                (uint32_t)spec_int(fr, "epoch", 0),
	                (uint32_t)spec_int(fr, "attempt", 0), &rec);
	st = fsm_handoff_state(rec);
	json_decref(rec);
	r = handoff_step(st, evs[i], HANDOFF_CHECK_OK);
	if (evs[i] == HANDOFF_EV_GOT_DONE) {
		/* Volatile: the driver stops resending COMMIT. */
		json_t *ent;

		handoff_drv_key(key, sizeof(key), id,
		                (uint32_t)spec_int(fr, "epoch", 0),
		                (uint32_t)spec_int(fr, "attempt", 0));
		if ((ent = json_object_get(h->open, key)) != NULL &&
		    json_is_true(json_array_get(ent, 4))) {
			json_object_del(h->open, key);
		}
		return;
	}
	if (r.commit ||
	    (evs[i] == HANDOFF_EV_GOT_OFFER && st == HANDOFF_NONE)) {
		/* The apply decides (an offer's check reads the catalog). */
		inflight_key(key, sizeof(key), fr);
		if (json_object_get(h->inflight, key) == NULL &&
		    json_object_get(keys, key) == NULL) {
			json_object_set_new(keys, key, json_true());
			json_array_append(props, (json_t *)fr);
		}
		return;
	}
	if (r.reply == HANDOFF_F_NONE) {
		return;
	}
	res = json_pack("{s:s, s:O, s:O, s:O}", "case", id, "epoch",
	                json_object_get(fr, "epoch"), "attempt",
	                json_object_get(fr, "attempt"), "from",
	                json_object_get(fr, "from"));
	if (res != NULL) {
		json_t *out =
		    reply_of(h, txn, res, handoff_frame_name(r.reply));
		if (out != NULL) {
			handoff_batch_add(batch, out);
		}
	}
	json_decref(res);
}

/* propose proposes frames (stolen) as one handoff.frame; keys (stolen)
 * are the inflight keys it holds. */
static void
propose(struct handoff_node *h, json_t *frames, json_t *keys)
{
	struct prop *p = calloc(1, sizeof(*p));
	json_t *body;

	if (p == NULL ||
	    (body = json_pack("{s:o}", "frames", frames)) == NULL) {
		free(p);
		json_decref(keys);
		return;
	}
	p->h = h;
	p->keys = keys;
	json_object_update(h->inflight, keys);
	group_propose(h->n, CMD_HANDOFF_FRAME, body, on_applied, p);
	json_decref(body);
}

/* An offer waiting for its materials. */
struct waiting {
	struct handoff_node *h;
	json_t *frame;
	char key[FSM_HANDOFF_ID_MAX + 48];
};

static void
materials_here(void *arg, int rv)
{
	struct waiting *w = arg;
	json_t *keys;

	json_object_del(w->h->inflight, w->key);
	if (rv == TB_OK && (keys = json_object()) != NULL) {
		json_object_set_new(keys, w->key, json_true());
		propose(w->h, json_pack("[o]", w->frame), keys);
	} else {
		json_decref(w->frame);
	}
	free(w);
}

/* fetch_first starts fetching the materials an offer names and this node
 * lacks; false if there are none (propose it now). */
static bool
fetch_first(struct handoff_node *h, const json_t *fr, json_t *keys)
{
	const char *key;
	json_t *missing = NULL, *v;
	struct waiting *w;
	void *tmp;

	if (strcmp(spec_str(fr, "frame"), "offer") != 0 ||
	    handoff_blobs_missing(h->n, fr, &missing) != TB_OK ||
	    json_array_size(missing) == 0 ||
	    (w = calloc(1, sizeof(*w))) == NULL) {
		json_decref(missing);
		return false;
	}
	w->h = h;
	w->frame = json_incref((json_t *)fr);
	inflight_key(w->key, sizeof(w->key), fr);
	/* The offer leaves this batch and waits in the inflight set. */
	json_object_foreach_safe(keys, tmp, key, v)
	{
		if (!strcmp(key, w->key)) {
			json_object_del(keys, key);
		}
	}
	json_object_set_new(h->inflight, w->key, json_true());
	handoff_blobs_fetch(h->n, spec_str(fr, "from"), missing, materials_here,
	                    w);
	return true;
}

static void
arrived(struct handoff_node *h, const json_t *frames)
{
	struct node *n = h->n;
	json_t *props = json_array(), *keys = json_object(), *batch, *now;
	const json_t *fr;
	MDB_txn *txn;
	size_t i;

	batch = json_object();
	now = json_array();
	if (props == NULL || keys == NULL || batch == NULL || now == NULL ||
	    store_rd_begin(n->store, &txn) != 0) {
		json_decref(props);
		json_decref(keys);
		json_decref(batch);
		json_decref(now);
		return;
	}
	json_array_foreach(frames, i, fr)
	{
		h->received++;
		take(h, txn, fr, props, keys, batch);
	}
	store_rd_end(n->store, txn);
	handoff_batch_send(h, batch);
	/* An offer is proposed once its materials are here. */
	json_array_foreach(props, i, fr)
	{
		if (!fetch_first(h, fr, keys)) {
			json_array_append(now, (json_t *)fr);
		}
	}
	json_decref(props);
	if (json_array_size(now) == 0) {
		json_decref(now);
		json_decref(keys);
		return;
	}
	propose(h, now, keys);
}

void
handoff_on_frames(struct links *ls, const struct link_msg *m, void *arg)
{
	struct handoff_node *h = arg;
	struct node *n = h->n;
	json_t *msg, *frames;
	const char *to;

	(void)ls;
	if (m->request || store_feature_level(n->store) < TB_HANDOFF_LEVEL) {
		/* Said once: a city between two counties at level 2 used to
		 * drop their frames without a word, and the handoff stayed
		 * "offered" with nothing in any log. */
		if (!m->request && !h->warned_level) {
			h->warned_level = true;
			tb_log(TB_LOG_WARN, "TB-HANDOFF-DROPPED",
			       "handoff frames from %s dropped: this group "
			       "runs at feature level %u and handoffs (and "
			       "relaying them) need %d: tongban group "
			       "features --set %d once every member runs "
			       "this build",
			       m->peer_region ? m->peer_region : "?",
			       store_feature_level(n->store), TB_HANDOFF_LEVEL,
			       TB_HANDOFF_LEVEL);
		}
		h->dropped++;
		return;
	}
	msg = json_loadb((const char *)m->body, m->len, 0, NULL);
	to = spec_str(msg, "to");
	frames = json_object_get(msg, "frames");
	if (to == NULL || !json_is_array(frames)) {
		h->dropped++;
		json_decref(msg);
		return;
	}
	if (strcmp(to, n->cfg.region) != 0) {
		h->relayed += json_array_size(frames);
		handoff_send_to(h, to, spec_int(msg, "hops", 0),
		                json_incref(frames));
	} else {
		arrived(h, frames);
	}
	json_decref(msg);
}

void
handoff_start(struct node *n)
{
	if (n->links != NULL && handoff_of(n) != NULL) {
		link_handle(n->links, REGION_T_HANDOFF, handoff_on_frames,
		            handoff_of(n));
		handoff_blob_start(n);
	}
}
