/* Write calls on their way to the loop: node_propose stamps and encodes a
 * write's command on the nng thread and queues the call (queue_call); the
 * loop drains the queue (node_wake_cb) and proposes the writes
 * (node_prop.c). node_error_status maps a refused command to HTTP. */
#include "node/node_impl.h"

#include "node/link.h"
#include "node/region.h"
#include "node/store.h"
#include "schema/canon.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint16_t
node_error_status(const char *code)
{
	static const struct {
		const char *code;
		uint16_t status;
	} map[] = {
		{ "not_found", 404 },     { "illegal_transition", 409 },
		{ "stale_version", 409 }, { "duplicate", 409 },
		{ "conflict", 409 },      { "bad_chain", 409 },
		{ "store_full", 507 },    { "forbidden", 403 },
		{ "unauthorized", 401 },  { "too_big", 413 },
		{ "malformed", 400 },     { "case_frozen", 409 },
		{ "case_moved", 409 },    { "stale_epoch", 409 },
	};
	size_t i;

	for (i = 0; code != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(map[i].code, code)) {
			return map[i].status;
		}
	}
	return 422;
}

/* queue_call hands c to the loop (any thread). Only the call that finds
 * the queue empty wakes the loop: node_wake_cb takes the whole queue, so
 * the calls queued behind it are taken by the wake-up it asked for, or by
 * an earlier one. A uv_async_send per call cost an eventfd write each, and
 * the loop spun (and yielded) in uv__async_io while another nng thread was
 * inside uv_async_send. */
static void
queue_call(struct node *n, struct http_call *c)
{
	bool first;

	pthread_mutex_lock(&n->mu);
	if (n->stopping) {
		pthread_mutex_unlock(&n->mu);
		http_reply_error(c, 503, "closed", NULL,
		                 "the node is shutting down");
		return;
	}
	if (n->qtail != NULL) {
		n->qtail->next = c;
	} else {
		n->qhead = c;
	}
	first = n->qhead == c;
	n->qtail = c;
	pthread_mutex_unlock(&n->mu);
	if (first) {
		uv_async_send(&n->wake);
	}
}

static void propose(struct node *n, struct http_call *c, enum cmd_type t,
                    const json_t *body, const char *idem_key, const char *skey,
                    const uint8_t *v, size_t vlen);

void
node_propose(struct node *n, struct http_call *c, enum cmd_type t,
             const json_t *body, const char *idem_key)
{
	propose(n, c, t, body, idem_key, NULL, NULL, 0);
}

void
node_propose_doc(struct node *n, struct http_call *c, enum cmd_type t,
                 const json_t *body, const char *key, const uint8_t *v,
                 size_t vlen)
{
	propose(n, c, t, body, NULL, key, v, vlen);
}

void
node_propose_bytes(struct node *n, struct http_call *c, enum cmd_type t,
                   const uint8_t *body, size_t blen, const char *idem_key)
{
	propose(n, c, t, NULL, idem_key, NULL, body, blen);
}

/* propose is node_propose, with the bytes v spliced in as body's member
 * skey when skey is not NULL, or, when body is NULL, v the body's own
 * canonical bytes. */
static void
propose(struct node *n, struct http_call *c, enum cmd_type t,
        const json_t *body, const char *idem_key, const char *skey,
        const uint8_t *v, size_t vlen)
{
	struct canon_buf b = { 0 };
	char err[256];
	int rv;

	/* Stamped here, off the loop: proposals may reach the log out of
	 * stamp order by a few microseconds, and apply clamps time to be
	 * monotone (max(last_at, at)), as it does across leaders. At a
	 * follower the command is encoded (so refusals match the leader's)
	 * and forwarded from the loop; the leader stamps its own time. */
	if (link_fenced(n->links)) {
		http_reply_error(
		    c, 503, "fenced", NULL,
		    "this node is an old member of a group that was "
		    "recovered without it (GET /v1/status: "
		    "incarnation.fenced_by); write to the recovered "
		    "group");
		return;
	}
	if (region_inc_pending(n) != 0 && t != CMD_GROUP_FEATURE &&
	    t != CMD_GROUP_INCARNATION) {
		http_reply_error(
		    c, 503, "incarnation_pending", NULL,
		    "this node is at incarnation %u, which its group has "
		    "not replicated yet (group.incarnation, proposed by "
		    "its leader): no write until then, so that no outbox "
		    "entry is numbered in the old incarnation; retry",
		    region_inc_pending(n));
		return;
	}
	/* The store's level is at least 1, so a command of level 1 (a case
	 * submission...) needs no read of it. */
	if ((cmd_feature_level(t) > 1 || cmd_feature_level(t) < 0) &&
	    (unsigned)cmd_feature_level(t) > store_feature_level(n->store)) {
		http_reply_error(
		    c, 409, "feature_level", NULL,
		    "%s needs feature level %d; the group runs at "
		    "%u (tongban group features --set %d, POST "
		    "/v1/group/features, once every member runs a build "
		    "that supports it)",
		    cmd_type_name(t), cmd_feature_level(t),
		    store_feature_level(n->store), cmd_feature_level(t));
		return;
	}
	if (body == NULL && (b.data = malloc(vlen + 256)) != NULL) {
		b.cap = vlen + 256; /* the envelope's few members besides */
	}
	rv = body == NULL ? cmd_encode_body(t, node_now_ms(), idem_key, v, vlen,
	                                    &b, err, sizeof(err))
	                  : cmd_encode(t, node_now_ms(), idem_key, body, &b,
	                               err, sizeof(err));
	if (rv == 0 && skey != NULL) {
		rv = cmd_splice(&b, skey, v, vlen, err, sizeof(err));
	}
	if (rv != 0) {
		/* Valid JSON the encoding refuses (a float, too big): the
		 * message starts with the path, "$.body.x: why". */
		char field[TB_DIAG_PATH] = "";
		const char *sep = strstr(err, ": ");
		if (err[0] == '$' && sep != NULL &&
		    (size_t)(sep - err) < sizeof(field)) {
			memcpy(field, err, (size_t)(sep - err));
			field[sep - err] = '\0';
		}
		canon_buf_free(&b);
		http_reply_error(c,
		                 rv == TB_ENOMEM    ? 500
		                 : rv == TB_ETOOBIG ? 413
		                                    : 422,
		                 tb_errname(rv), field[0] ? field : NULL, "%s",
		                 err);
		return;
	}
	c->cmd.len = b.len;
	c->cmd.base = raft_malloc(b.len);
	if (c->cmd.base == NULL) {
		canon_buf_free(&b);
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	memcpy(c->cmd.base, b.data, b.len);
	canon_buf_free(&b);
	queue_call(n, c);
}

void
node_on_loop(struct node *n, struct http_call *c,
             void (*fn)(struct http_call *c, const json_t *req), json_t *req)
{
	c->on_loop = fn;
	c->loop_req = json_incref(req);
	queue_call(n, c);
}

void
node_wake_cb(uv_async_t *h)
{
	struct node *n = h->data;
	struct http_call *c, *next;

	pthread_mutex_lock(&n->mu);
	c = n->qhead;
	n->qhead = n->qtail = NULL;
	pthread_mutex_unlock(&n->mu);
	for (; c != NULL; c = next) {
		next = c->next;
		c->next = NULL;
		if (n->stopping) {
			http_reply_error(c, 503, "closed", NULL,
			                 "the node is shutting down");
		} else if (c->on_loop != NULL) {
			node_prop_flush(n); /* in the order they came */
			c->on_loop(c, c->loop_req);
		} else {
			node_submit(n, c);
		}
	}
	node_prop_release(n);
}
