/* Proposing writes (loop thread): the writes the loop drains from its
 * queue in one wake-up are proposed together, as one raft_apply of up to
 * NODE_PROP_BATCH entries. libraft then appends them to the log in one
 * request and sends them to each follower in one AppendEntries message,
 * where one raft_apply per write cost one message per write and follower
 * (and one answer back from each), each sealed, sent, received, decoded
 * and handled on the loop (docs/BENCH.md, "Fewer messages per write").
 *
 * Each write is still its own log entry, applied by every member in its
 * own order; only the proposal and its transport are shared.
 *
 * Holding. While NODE_PROP_DEPTH batches of the leader's term are proposed
 * and not committed, the writes that arrive wait here (group commit): they
 * go as one batch once the oldest commits (node_prop_release, before the
 * loop waits), once NODE_PROP_BATCH of them wait, or after
 * NODE_PROP_HOLD_MS. The next batch could not commit before the one in
 * flight anyway (log order), so this costs no latency to speak of, and
 * under load each batch, its AppendEntries to every follower, their log
 * commits and answers carry many more writes. A lone write (nothing in
 * flight) is proposed at once. A node that does not lead holds nothing;
 * one that stops answers what it held 503, as it does the writes queued
 * for its loop.
 *
 * Answers. A call waits in n->pending, by its entry's index, until the
 * applier answers it after the apply (fsm_apply takes it from there). libraft
 * calls a batch's callback once: with the first entry's apply (success), or
 * with a failure when the entries cannot commit here (leadership lost, the
 * node stopping); a failure answers every call of the batch still pending.
 * After a success the rest of the batch has no request in libraft, so if
 * leadership is lost before they apply, node_prop_sweep (on the tick)
 * answers them as libraft would have: 503, not committed here. Whoever
 * takes a call from n->pending answers it, so each is answered once. */
#include "node/node.h"

#include "node/group.h"
#include "node/http.h"

#include <stdlib.h>
#include <string.h>

/* One raft_apply of several writes: entries first .. first + count - 1. */
struct prop_batch {
	struct raft_apply req;
	struct node *n;
	raft_index first;
	unsigned count;
};

struct http_call *
node_pending_take(struct node *n, raft_index index)
{
	struct http_call **pp, *c;

	for (pp = &n->pending; (c = *pp) != NULL; pp = &c->next) {
		if (c->apply.index == index) {
			*pp = c->next;
			c->next = NULL;
			return c;
		}
	}
	return NULL;
}

/* not_committed answers c, whose entry did not commit here. */
static void
not_committed(struct node *n, struct http_call *c, int status)
{
	if (n->stopping) {
		http_reply_error(c, 503, "closed", NULL,
		                 "the node stopped before the write was "
		                 "applied; retry with the same "
		                 "Idempotency-Key");
		return;
	}
	http_reply_error(c, 503, "unavailable", NULL,
	                 "the write was not committed: %s (retry with "
	                 "the same Idempotency-Key)",
	                 raft_strerror(status));
}

/* apply_cb: a committed entry is answered by the applier (fsm_apply gave it
 * the call); here only what was not committed is answered. */
static void
apply_cb(struct raft_apply *req, int status, void *result)
{
	struct prop_batch *b = req->data;
	struct http_call *c;
	unsigned i;

	(void)result;
	if (status != 0) {
		for (i = 0; i < b->count; i++) {
			if ((c = node_pending_take(b->n, b->first + i)) !=
			    NULL) {
				not_committed(b->n, c, status);
			}
		}
	}
	free(b);
}

void
node_prop_sweep(struct node *n, bool all)
{
	bool leader = raft_state(&n->raft) == RAFT_LEADER;
	struct http_call *c, **pp = &n->pending;

	while ((c = *pp) != NULL) {
		/* A leader keeps the calls of its term: their entries are in
		 * its log and commit while it leads. */
		if (!all && leader && c->prop_term == n->raft.current_term) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = NULL;
		not_committed(n, c, RAFT_LEADERSHIPLOST);
	}
}

void
node_prop_flush(struct node *n)
{
	struct raft_buffer bufs[NODE_PROP_BATCH];
	struct http_call *c, *next, **pp, *list = n->prop_head;
	struct prop_batch *b;
	unsigned i, count = n->prop_n;
	bool was_held;
	int rv = RAFT_NOMEM;

	n->prop_head = NULL;
	n->prop_tail = &n->prop_head;
	n->prop_n = 0;
	was_held = n->prop_was_held;
	n->prop_was_held = false;
	if (count == 0) {
		return;
	}
	for (c = list, i = 0; c != NULL; c = c->next, i++) {
		bufs[i] = c->cmd;
	}
	if ((b = malloc(sizeof(*b))) != NULL) {
		b->n = n;
		b->count = count;
		b->req.data = b;
		rv = raft_apply(&n->raft, &b->req, bufs, count, apply_cb);
	}
	if (rv != 0) {
		free(b);
		for (c = list; c != NULL; c = next) {
			next = c->next;
			c->next = NULL;
			http_reply_error(c, 503, "unavailable", NULL,
			                 "cannot propose: %s",
			                 raft_strerror(rv));
		}
		return;
	}
	/* raft_apply assigned the entries' indexes, the first in the
	 * request; fsm_apply finds each call by its own. The batch goes to
	 * the end of n->pending, which so stays in index order: entries
	 * apply in order, so node_pending_take finds each call first in
	 * the list (pushed at the front, it walked the whole list for each
	 * apply). */
	b->first = b->req.index;
	n->m.prop_batches++;
	if (was_held) {
		n->m.prop_held += count;
	}
	if (n->prop_ends_term != n->raft.current_term) {
		memset(n->prop_ends, 0, sizeof(n->prop_ends));
		n->prop_ends_term = n->raft.current_term;
		n->prop_ends_next = 0;
	}
	n->prop_ends[n->prop_ends_next] = b->first + count - 1;
	n->prop_ends_next = (n->prop_ends_next + 1) % NODE_PROP_DEPTH;
	for (pp = &n->pending; *pp != NULL; pp = &(*pp)->next) {
	}
	for (c = list, i = 0; c != NULL; c = next, i++) {
		next = c->next;
		c->cmd.base = NULL; /* libraft's now */
		c->apply.index = b->first + i;
		c->prop_term = n->raft.current_term;
		c->next = NULL;
		*pp = c;
		pp = &c->next;
		n->m.proposals++;
	}
}

/* held: whether the writes waiting here wait for a batch in flight. */
static bool
held(struct node *n)
{
	if (n->prop_n == 0 || n->prop_n >= NODE_PROP_BATCH || n->stopping ||
	    raft_state(&n->raft) != RAFT_LEADER ||
	    n->prop_ends_term != n->raft.current_term) {
		return false;
	}
	/* The slot written next holds the oldest batch's last index. */
	if (n->prop_ends[n->prop_ends_next] <= n->raft.commit_index) {
		return false;
	}
	return (int64_t)uv_now(&n->loop) - n->prop_since_ms < NODE_PROP_HOLD_MS;
}

void
node_prop_release(struct node *n)
{
	struct http_call *c, *next;

	group_fwd_release(n); /* a follower's forwarded writes */
	if (n->stopping) {
		/* Held, so never in the log: refused as the queued ones are
		 * (node_wake_cb), not proposed while the node stops. */
		c = n->prop_head;
		n->prop_head = NULL;
		n->prop_tail = &n->prop_head;
		n->prop_n = 0;
		n->prop_was_held = false;
		for (; c != NULL; c = next) {
			next = c->next;
			c->next = NULL;
			http_reply_error(c, 503, "closed", NULL,
			                 "the node is shutting down");
		}
		return;
	}
	if (!held(n)) {
		node_prop_flush(n);
		return;
	}
	n->prop_was_held = true;
}

void
node_submit(struct node *n, struct http_call *c)
{
	if (raft_state(&n->raft) != RAFT_LEADER) {
		node_prop_flush(n);
		group_fwd_queue(n, c); /* forwarded in batches */
		return;
	}
	c->next = NULL;
	*n->prop_tail = c;
	n->prop_tail = &c->next;
	if (n->prop_n == 0) {
		n->prop_since_ms = (int64_t)uv_now(&n->loop);
	}
	if (++n->prop_n == NODE_PROP_BATCH) {
		node_prop_flush(n);
	}
}
