/* Internals shared by node/node.c, node/node_call.c, node/node_fsm.c and
 * node/node_stop.c. */
#ifndef TB_NODE_NODE_IMPL_H
#define TB_NODE_NODE_IMPL_H

#include "node/node.h"

#include <raft.h>
#include <uv.h>

/* The state machine's callbacks (node/node_fsm.c), set in node_open; see
 * struct raft_fsm. node_fsm_apply hands the entry to the store's writer
 * and returns at once. */
int node_fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                   void **result);
int node_fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                      unsigned *n_bufs);
int node_fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf);

/* node_wake_cb drains the queue of calls handed to the loop
 * (node_call.c): each is proposed or run there, or answered 503 once the
 * node stops. */
void node_wake_cb(uv_async_t *h);

/* node_stop starts stopping the node (loop thread; once): see
 * node/node_stop.c. */
void node_stop(struct node *n, const char *why);

/* node_signal_cb stops the node on SIGTERM or SIGINT. */
void node_signal_cb(uv_signal_t *s, int signum);

/* node_stop_guard_done disarms the stop guard once the stop is done. */
void node_stop_guard_done(void);

#endif
