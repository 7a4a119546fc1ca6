/* The link API on the loop: handlers by type, one-way messages, requests
 * with correlation ids and timeouts, replies, and the choice of a link for
 * a peer named by node id or region. */
#include "node/link_impl.h"

#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pending requests -------------------------------------------------- */

struct link_pending *
link_pending_find(struct links *ls, uint64_t id)
{
	struct link_pending *p;

	for (p = ls->pending; p != NULL; p = p->next) {
		if (p->id == id) {
			return p;
		}
	}
	return NULL;
}

void
link_pending_unlink(struct links *ls, struct link_pending *p)
{
	struct link_pending **pp;

	for (pp = &ls->pending; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

/* link_pending_doom marks the requests that went (or wait to go) on link uid
 * to complete with status at the next tick: never inside the call that
 * made them. */
void
link_pending_doom(struct links *ls, uint64_t uid, int status)
{
	struct link_pending *p;

	for (p = ls->pending; p != NULL; p = p->next) {
		if (p->link == uid && p->status == TB_OK) {
			p->status = status;
		}
	}
}

/* link_pending_expire completes the doomed and timed-out requests. */
void
link_pending_expire(struct links *ls, int64_t now, bool all)
{
	struct link_pending *p, **pp, *done = NULL;

	for (pp = &ls->pending; (p = *pp) != NULL;) {
		if (all || p->status != TB_OK || p->deadline_ms <= now) {
			*pp = p->next;
			if (all && p->status == TB_OK) {
				p->status = TB_ECLOSED;
			} else if (p->status == TB_OK) {
				p->status = TB_ETIMEOUT;
			}
			p->next = done;
			done = p;
		} else {
			pp = &p->next;
		}
	}
	/* The callbacks may make new requests: the list is consistent. */
	while ((p = done) != NULL) {
		done = p->next;
		if (p->cb != NULL) {
			p->cb(p->arg, p->status, NULL);
		}
		free(p);
	}
}
/* link_handler_find returns the handler of type, or -1. */
int
link_handler_find(const struct links *ls, uint32_t type)
{
	unsigned i;

	for (i = 0; i < ls->nhandlers; i++) {
		if (ls->handlers[i].type == type) {
			return (int)i;
		}
	}
	return -1;
}

/* ---- the API ----------------------------------------------------------- */

static bool
is_node_id(const char *s)
{
	return spec_hex(s, CERT_NODE_ID_HEX);
}

/* link_pick chooses the link for peer: an up link this node dialed, an up
 * inbound link, or a configured link still connecting. */
static struct link *
link_pick(struct links *ls, const char *peer, bool up_only)
{
	bool by_id = is_node_id(peer);
	struct link *l, *best = NULL;
	int score, best_score = 0;

	for (l = ls->list; l != NULL; l = l->next) {
		const char *id = l->node_id[0] ? l->node_id : l->cfg_node_id;
		const char *rg = l->region[0] ? l->region : l->cfg_region;
		if (l->removed || strcmp(by_id ? id : rg, peer) != 0) {
			continue;
		}
		if (l->state == LS_UP) {
			score = l->dir == LINK_OUT ? 3 : 2;
		} else {
			score = l->dir == LINK_OUT && !up_only ? 1 : 0;
		}
		if (score > best_score) {
			best = l;
			best_score = score;
		}
	}
	return best;
}

static int
check_send(struct links *ls, const char *peer, uint32_t type, size_t len,
           bool reserved_ok)
{
	if (ls == NULL || ls->stopping) {
		return TB_ECLOSED;
	}
	if (peer == NULL || (!reserved_ok && type < LINK_TYPE_RESERVED)) {
		return TB_EINVAL;
	}
	return len > LINK_MSG_MAX ? TB_ETOOBIG : TB_OK;
}

int
link_handle(struct links *ls, uint32_t type, link_handler_fn fn, void *arg)
{
	int h;

	if (type < LINK_TYPE_RESERVED) {
		return TB_EINVAL;
	}
	if ((h = link_handler_find(ls, type)) >= 0) {
		if (fn == NULL) {
			ls->handlers[h] = ls->handlers[--ls->nhandlers];
		} else {
			ls->handlers[h].fn = fn;
			ls->handlers[h].arg = arg;
		}
		return TB_OK;
	}
	if (fn == NULL) {
		return TB_OK;
	}
	if (ls->nhandlers >= LINK_MAX_HANDLERS) {
		return TB_ETOOBIG;
	}
	ls->handlers[ls->nhandlers].type = type;
	ls->handlers[ls->nhandlers].fn = fn;
	ls->handlers[ls->nhandlers].arg = arg;
	ls->nhandlers++;
	return TB_OK;
}

int
link_send(struct links *ls, const char *peer, uint32_t type, const void *msg,
          size_t len)
{
	struct link *l;
	int rv;

	if ((rv = check_send(ls, peer, type, len, false)) != TB_OK) {
		return rv;
	}
	if ((l = link_pick(ls, peer, false)) == NULL) {
		return TB_ENOTFOUND;
	}
	return link_enqueue(l, LK_MSG, 0, type, 0, msg, len, false);
}

/* link_request_on sends a request on link l. */
int
link_request_on(struct link *l, uint32_t type, const void *msg, size_t len,
                unsigned timeout_ms, link_response_fn cb, void *arg, bool probe)
{
	struct links *ls = l->ls;
	struct link_pending *p = calloc(1, sizeof(*p));
	int rv;

	if (p == NULL) {
		return TB_ENOMEM;
	}
	p->id = ++ls->next_id;
	p->link = l->uid;
	p->deadline_ms = link_now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	p->sent_us = link_mono_us();
	p->cb = cb;
	p->arg = arg;
	p->probe = probe;
	p->next = ls->pending;
	ls->pending = p;
	if ((rv = link_enqueue(l, LK_REQ, 0, type, p->id, msg, len, false)) !=
	    TB_OK) {
		link_pending_unlink(ls, p);
		free(p);
	}
	return rv;
}

int
link_request(struct links *ls, const char *peer, uint32_t type, const void *msg,
             size_t len, unsigned timeout_ms, link_response_fn cb, void *arg)
{
	struct link *l;
	int rv;

	/* PING is the one reserved request callers may make. */
	if ((rv = check_send(ls, peer, type, len, type == LINK_T_PING)) !=
	    TB_OK) {
		return rv;
	}
	if ((l = link_pick(ls, peer, false)) == NULL) {
		return TB_ENOTFOUND;
	}
	return link_request_on(l, type, msg, len, timeout_ms, cb, arg, false);
}

static struct link *
link_by_uid(struct links *ls, uint64_t uid)
{
	struct link *l;

	for (l = ls->list; l != NULL; l = l->next) {
		if (l->uid == uid) {
			return l;
		}
	}
	return NULL;
}

static int
reply(struct links *ls, const struct link_reply_to *to, uint8_t flags,
      uint32_t type, const void *body, size_t len)
{
	struct link *l;

	if (ls == NULL || ls->stopping || to == NULL) {
		return TB_ECLOSED;
	}
	if (len > LINK_MSG_MAX) {
		return TB_ETOOBIG;
	}
	if ((l = link_by_uid(ls, to->link)) == NULL || l->pipe != to->pipe ||
	    l->state != LS_UP) {
		return TB_ECLOSED;
	}
	return link_enqueue(l, LK_RESP, flags, type, to->id, body, len, false);
}

int
link_reply(struct links *ls, const struct link_reply_to *to, uint32_t type,
           const void *body, size_t len)
{
	return reply(ls, to, 0, type, body, len);
}

int
link_reply_error(struct links *ls, const struct link_reply_to *to, int code,
                 const char *why)
{
	if (code <= TB_OK || code >= TB_ERR_COUNT) {
		code = TB_EIO;
	}
	return reply(ls, to, LF_ERROR, (uint32_t)code, why,
	             why != NULL ? strlen(why) : 0);
}

void
link_on_join(struct links *ls, link_join_fn fn, void *arg)
{
	if (ls != NULL) {
		ls->join_fn = fn;
		ls->join_arg = arg;
	}
}

int
link_join_answer(struct links *ls, const struct link_reply_to *to,
                 const void *body, size_t len)
{
	struct link *l;

	if (ls == NULL || ls->stopping || to == NULL) {
		return TB_ECLOSED;
	}
	if ((l = link_by_uid(ls, to->link)) == NULL || l->pipe != to->pipe ||
	    l->state != LS_UP || !l->joiner) {
		return TB_ECLOSED;
	}
	return link_enqueue(l, LK_MSG, 0, LINK_T_JOIN, 0, body, len, false);
}

bool
link_up(struct links *ls, const char *peer)
{
	return ls != NULL && peer != NULL && link_pick(ls, peer, true) != NULL;
}

bool
link_url_node(struct links *ls, const char *url, char out[17])
{
	struct link *l;

	for (l = ls != NULL && url != NULL ? ls->list : NULL; l != NULL;
	     l = l->next) {
		if (l->dir == LINK_OUT && !l->removed &&
		    l->node_id[0] != '\0' && !strcmp(l->url, url)) {
			snprintf(out, 17, "%s", l->node_id);
			return true;
		}
	}
	return false;
}

/* ---- held messages (link_set_gate) ------------------------------------ */

void
link_set_gate(struct links *ls, link_gate_fn gate, void *arg)
{
	ls->gate = gate;
	ls->gate_arg = arg;
}

int
link_hold(struct links *ls, const struct link_msg *m)
{
	struct link_held *h = malloc(sizeof(*h) + m->len);

	if (h == NULL) {
		return TB_ENOMEM;
	}
	h->next = NULL;
	h->msg = *m;
	snprintf(h->node_id, sizeof(h->node_id), "%s",
	         m->peer_node_id != NULL ? m->peer_node_id : "");
	snprintf(h->region, sizeof(h->region), "%s",
	         m->peer_region != NULL ? m->peer_region : "");
	snprintf(h->role, sizeof(h->role), "%s",
	         m->peer_role != NULL ? m->peer_role : "");
	if (m->len > 0) {
		memcpy(h->body, m->body, m->len);
	}
	h->msg.body = h->body;
	h->msg.peer_node_id = h->node_id;
	h->msg.peer_region = h->region;
	h->msg.peer_role = h->role;
	if (ls->held == NULL) {
		ls->held_tail = &ls->held;
	}
	*ls->held_tail = h;
	ls->held_tail = &h->next;
	return TB_OK;
}

void
link_release_held(struct links *ls)
{
	struct link_held *list, *h;
	int i;

	if (ls == NULL || ls->held == NULL || ls->stopping) {
		return;
	}
	list = ls->held;
	ls->held = NULL;
	ls->held_tail = &ls->held;
	while ((h = list) != NULL) {
		list = h->next;
		if ((i = link_handler_find(ls, h->msg.type)) >= 0) {
			ls->handlers[i].fn(ls, &h->msg, ls->handlers[i].arg);
		}
		free(h);
	}
}

void
link_held_drop(struct links *ls)
{
	struct link_held *h;

	while ((h = ls->held) != NULL) {
		ls->held = h->next;
		free(h);
	}
	ls->held_tail = &ls->held;
}
