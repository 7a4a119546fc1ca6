/* The node's Raft state machine (struct raft_fsm): apply hands committed
 * entries to the store's writer thread; snapshot and restore go through
 * the store. Loop thread. */
#include "node/node_impl.h"

#include "node/applier.h"
#include "node/group.h"
#include "node/log.h"
#include "node/region.h"
#include "node/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* node_fsm_apply hands one committed entry to the store's writer thread
 * (node/applier.h) and returns at once: the writer applies it in a batch
 * and answers the call that proposed it, if it waits here, once the batch
 * is durable. libraft sets last_applied after apply returns, so this
 * entry's index is last_applied + 1. A refusal is a result the writer
 * sends; only a store failure or an unknown command type stops the group,
 * and it is found on the writer: the loop is woken to stop the node, and
 * later applies return non-zero. */
int
node_fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
               void **result)
{
	struct node *n = fsm->data;
	raft_index index = raft_last_applied(&n->raft) + 1;
	struct http_call *c;
	applier_done_fn done;
	void *prop;
	int rv;

	*result = NULL;
	if ((rv = applier_error(n->applier)) != 0) {
		return RAFT_IOERR;
	}
	/* The call's raft_apply request stays libraft's until apply_cb
	 * returns, which happens before the loop submits what is staged. */
	c = node_pending_take(n, index);
	if (c == NULL) {
		/* A write this follower forwarded (node/group_fwdb.c). */
		c = group_take_call(n, index);
	}
	/* Or a write another member forwarded, answered over its link. */
	prop = c == NULL ? group_take_prop(n, index) : NULL;
	done = prop != NULL ? group_prop_done : NULL;
	/* Or one the outboxes' driver made (node/region.c). */
	if (c == NULL && prop == NULL &&
	    (prop = region_take_prop(n, index)) != NULL) {
		done = region_prop_done;
	}
	if ((rv = applier_stage(n->applier, index, buf->base, buf->len, c, done,
	                        prop)) != 0) {
		/* libraft still holds the proposal's request: its apply
		 * callback answers and frees it, as for c below. */
		if (done == group_prop_done) {
			group_prop_unstage(prop);
		} else if (done == region_prop_done) {
			region_prop_unstage(prop);
		}
		tb_log(TB_LOG_ERROR, "TB-APPLY-FAILED",
		       "apply of entry %llu failed: %s; stopping",
		       (unsigned long long)index, tb_strerror(rv));
		if (c != NULL) {
			c->next = n->pending; /* apply_cb answers it */
			n->pending = c;
		}
		n->exit_code = 1;
		return RAFT_NOMEM;
	}
	n->view.applied = index;
	return 0;
}

/* node_fsm_snapshot: the state lives in LMDB, so a snapshot is a marker; the
 * writer first applies what is queued and syncs the store, so that the log
 * before it may be dropped. The loop waits for that (snapshots are rare). */
int
node_fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                  unsigned *n_bufs)
{
	struct node *n = fsm->data;
	uint64_t applied;
	char text[64];
	int len;

	if (applier_sync(n->applier) != 0) {
		return RAFT_IOERR;
	}
	applied = store_applied_index(n->store);
	len = snprintf(text, sizeof(text), "tongban-marker applied=%llu",
	               (unsigned long long)applied);
	*bufs = raft_malloc(sizeof(**bufs));
	if (*bufs == NULL) {
		return RAFT_NOMEM;
	}
	(*bufs)[0].base = raft_malloc((size_t)len);
	if ((*bufs)[0].base == NULL) {
		raft_free(*bufs);
		return RAFT_NOMEM;
	}
	memcpy((*bufs)[0].base, text, (size_t)len);
	(*bufs)[0].len = (size_t)len;
	*n_bufs = 1;
	return 0;
}

/* node_fsm_restore: a marker names the applied index the store already holds
 * (it was synced before the marker was made). A marker beyond the store
 * means the state is missing: refuse rather than run on a hole. */
int
node_fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct node *n = fsm->data;
	unsigned long long want = 0;
	char text[64];
	size_t len = buf->len < sizeof(text) - 1 ? buf->len : sizeof(text) - 1;

	memcpy(text, buf->base, len);
	text[len] = '\0';
	if (applier_sync(n->applier) != 0) {
		return RAFT_IOERR;
	}
	if (sscanf(text, "tongban-marker applied=%llu", &want) != 1 ||
	    want > store_applied_index(n->store)) {
		tb_log(TB_LOG_ERROR, "TB-SNAPSHOT-HOLE",
		       "snapshot marker '%s' is ahead of the store (applied "
		       "%llu)",
		       text, (unsigned long long)store_applied_index(n->store));
		return RAFT_CORRUPT;
	}
	raft_free(buf->base);
	return 0;
}
