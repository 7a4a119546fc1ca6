/* The node process: the loop, the region's Raft group, the store, HTTP. */
#ifndef TB_NODE_NODE_H
#define TB_NODE_NODE_H

#include "node/config.h"
#include "node/http.h"
#include "schema/command.h"

#include <pthread.h>
#include <raft.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

struct store;
struct links;
struct api_ctok;
struct group;
struct region_flow;
struct handoff_node;

/* Figures of the Raft group, copied on the loop so that other threads
 * (HTTP reads, metrics) can read them without touching libraft. */
struct node_raft_view {
	_Atomic int state; /* RAFT_FOLLOWER, RAFT_CANDIDATE, RAFT_LEADER */
	_Atomic unsigned long long term;
	_Atomic unsigned long long commit;
	_Atomic unsigned long long applied;
	_Atomic unsigned long long leader_id;
	/* A follower (not a spare): ms since the leader's last append (its
	 * heartbeats too); 0 on a leader, a spare, or before the first. */
	_Atomic long long leader_silent_ms;
};

/* Counters for /metrics; atomics so any thread may bump them. */
struct node_metrics {
	_Atomic unsigned long long requests[8][6]; /* route x status class */
	_Atomic unsigned long long latency_us_sum[8];
	_Atomic unsigned long long latency_bucket[8][12];
	_Atomic unsigned long long applies;
	_Atomic unsigned long long refusals;
	/* Batches applied again after a refusal (node/applier.c, redo). */
	_Atomic unsigned long long apply_redos;
	/* The store's commits, and the writes answered before theirs
	 * (node/applier.c, deferred commits). */
	_Atomic unsigned long long store_commits;
	_Atomic unsigned long long answered_early;
	_Atomic unsigned long long proposals;
	/* node_prop.c: its raft_apply batches, and the writes in them that
	 * waited for the batch before them to commit. */
	_Atomic unsigned long long prop_batches, prop_held;
	_Atomic unsigned long long store_full;
	/* Joining nodes (node/join.c): enrolled, refused. */
	_Atomic unsigned long long joins_ok, joins_refused;
};

/* Proposals (node_prop.c, loop thread). At most this many writes share one
 * raft_apply. */
#define NODE_PROP_BATCH 64

/* At the leader, writes are held while this many of its batches are
 * proposed and not committed yet (at most NODE_PROP_HOLD_MS, and never more
 * than NODE_PROP_BATCH of them), and proposed together once one commits. */
#define NODE_PROP_DEPTH   1
#define NODE_PROP_HOLD_MS 20

/* Materials this node has found on disk (node/blob.c, blob_exists): a
 * direct-mapped table of their hashes, any thread under mu. */
#define NODE_BLOBS_SEEN 512
struct node_blobs_seen {
	pthread_mutex_t mu;
	struct {
		uint8_t h[32];
		bool used;
	} e[NODE_BLOBS_SEEN];
};

struct node {
	struct node_config cfg;
	uv_loop_t loop;
	uv_async_t wake;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	uv_timer_t tick;
	struct raft raft;
	struct raft_io io;
	struct raft_fsm fsm;
	struct store *store;
	nng_http_server *http;
	int port;
	pthread_mutex_t mu;
	struct http_call *qhead, *qtail; /* writes waiting for the loop */
	struct http_call *pending;       /* proposals awaiting apply */
	struct http_call *prop_head, **prop_tail; /* writes to propose */
	unsigned prop_n;                          /* (node_prop.c) */
	int64_t prop_since_ms;                    /* the first one queued */
	bool prop_was_held;
	raft_index prop_ends[NODE_PROP_DEPTH]; /* batches in flight */
	raft_term prop_ends_term;
	unsigned prop_ends_next;
	uv_prepare_t flush;      /* submits applies to the writer */
	struct applier *applier; /* the store's writer thread */
	uint64_t gate_until;     /* link_api.c's gate: the index held for */
	json_t *root;            /* the province's root, or NULL */
	struct node_raft_view view;
	struct node_metrics m;
	_Atomic bool ready;
	_Atomic bool stopping;
	bool bootstrap_proposed;
	unsigned long long barrier_term;
	int exit_code;
	int64_t start_ms;
	FILE *audit;
	pthread_mutex_t audit_mu;
	struct links *links;          /* node/link.h; NULL when links are off */
	struct api_ctok *ctok;        /* chain tokens (node/api_ctoken.h) */
	struct group *group;          /* node/group.h */
	struct region_flow *flow;     /* node/region.h: between regions */
	struct handoff_node *handoff; /* node/handoff.h */
	struct node_blobs_seen blobs_seen;
};

/* node_submit proposes write c, or forwards it to the leader: at the leader
 * it joins the batch that node_prop_flush proposes. */
void node_submit(struct node *n, struct http_call *c);

/* node_prop_flush proposes the batch (one raft_apply); its calls wait in
 * n->pending. */
void node_prop_flush(struct node *n);

/* node_prop_release proposes the batch unless the leader holds it
 * (NODE_PROP_DEPTH): at the end of a wake-up and before the loop waits. */
void node_prop_release(struct node *n);

/* node_pending_take removes the waiting call of entry index, if any. */
struct http_call *node_pending_take(struct node *n, raft_index index);

/* node_prop_sweep answers (503) the waiting calls whose entries may never
 * apply here: all of them, or those of an earlier term or of a node that
 * no longer leads. */
void node_prop_sweep(struct node *n, bool all);

/* node_fail stops the node with exit status 1 (loop thread). */
void node_fail(struct node *n, const char *why);

/* node_run runs the node in DIR in the foreground until SIGTERM/SIGINT.
 * Prints one JSON line {"event":"ready",...} on stdout once it serves.
 * Returns the process exit code. */
int node_run(const char *dir);

/* node_propose stamps and encodes a command for a write request c on the
 * calling thread (an nng thread) and queues it to the loop, which proposes
 * it; the reply is sent when it is applied and durable (or on failure).
 * body is borrowed; c is answered exactly once. */
void node_propose(struct node *n, struct http_call *c, enum cmd_type t,
                  const json_t *body, const char *idem_key);

/* node_propose_doc is node_propose for a body whose member key is null in
 * body and whose value is the canonical bytes v[0..vlen) (borrowed for the
 * call), spliced into the command (cmd_splice): a large document encoded
 * once by the caller is not encoded again. */
void node_propose_doc(struct node *n, struct http_call *c, enum cmd_type t,
                      const json_t *body, const char *key, const uint8_t *v,
                      size_t vlen);

/* node_propose_bytes is node_propose for a body given as its canonical
 * bytes body[0..blen) (a map; borrowed for the call), e.g. from
 * jdoc_canon: the same command, refusals and reply as node_propose of the
 * value they encode. */
void node_propose_bytes(struct node *n, struct http_call *c, enum cmd_type t,
                        const uint8_t *body, size_t blen, const char *idem_key);

/* node_on_loop queues c to the loop, where fn(c, req) runs and answers it
 * (for handlers that need the loop, such as link pings). req is
 * referenced until c is answered; it may be NULL. */
void node_on_loop(struct node *n, struct http_call *c,
                  void (*fn)(struct http_call *c, const json_t *req),
                  json_t *req);

/* node_audit_line appends line (stolen; may be NULL) to the audit log
 * (any thread). */
void node_audit_line(struct node *n, json_t *line);

/* node_audit appends one line to the node's audit log (any thread). */
void node_audit(struct node *n, const struct http_call *c, const char *act,
                const char *object);

/* node_observe_call records a finished request in the metrics. */
void node_observe_call(struct http_call *c);

/* api_dispatch routes a request (on an nng thread); api_write checks a
 * write there and encodes its command for the loop. */
void api_dispatch(struct http_call *c);
void api_write(struct http_call *c);

/* api_read_call answers a read (c names the route) on any thread: a
 * consistent read, once its barrier is applied. */
void api_read_call(struct http_call *c);

/* node_error_status maps a refused command's error code to its HTTP
 * status (409 for conflicts, 404, ...; 422 otherwise). */
uint16_t node_error_status(const char *code);

/* node_now_ms: wall-clock Unix milliseconds (the leader's stamp). */
int64_t node_now_ms(void);

#endif
