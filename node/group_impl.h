/* Internals shared by node/group*.c. */
#ifndef TB_NODE_GROUP_IMPL_H
#define TB_NODE_GROUP_IMPL_H

#include "node/group.h"
#include "node/link.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* A follower's request that waits for its own store to apply index: a
 * forwarded write (its reply) or a consistent read (read then). */
struct group_wait {
	struct group_wait *next;
	struct http_call *c;
	uint64_t index;
	int64_t deadline_ms;
	uint16_t status; /* the write's reply status */
	json_t *res;     /* the write's result (owned), NULL for a read */
	bool read;
};

/* A forwarded proposal on the leader, awaiting its apply. */
struct group_prop {
	struct raft_apply req;
	struct group_prop *next;
	struct group *g;
	struct link_reply_to to;
	bool staged; /* applied: group_prop_done answers and frees it */
	/* A proposal of this member's own (group_propose): done instead of
	 * a link reply. */
	group_done_fn done;
	void *done_arg;
	/* Or, at a follower, the result of an entry applied while a batch of
	 * its forwards was unanswered (group_fwdb.c, g->stash). */
	bool stash;
	bool ready; /* res and rv are the writer's */
	raft_index stash_index;
	raft_term stash_term; /* this member's term when it applied it */
	int rv;
	json_t *res;
	struct http_call *c; /* the forwarded write it turned out to be */
};

/* The largest forwarded request body (a release is the largest write). */
#define GROUP_FWD_MAX (16u << 20)

/* Members whose forwarded batches a leader tracks for its commit push. */
#define GROUP_PUSH 8

struct fwdb;

/* What a member last measured of another's clock (group_clock.c). */
#define GROUP_CLOCKS 16
struct group_clock {
	raft_id id;      /* 0: a free slot */
	int64_t skew_ms; /* the other's clock minus ours */
	int64_t rtt_ms;  /* of the probe that measured it */
	int64_t at_ms;   /* when (our clock) */
};

struct group_snap;

struct group {
	struct node *n;
	struct group_snap *snap; /* group_snap.c */
	struct group_clock clocks[GROUP_CLOCKS];
	int64_t next_clock_ms;
	int64_t clock_log_ms;
	struct group_wait *waits;
	struct group_prop *props;
	pthread_mutex_t mu; /* view */
	json_t *view;       /* under mu */
	bool started;       /* link handlers registered */
	int64_t next_sync_ms;
	int64_t refuse_log_ms;
	int64_t addr_log_ms;   /* TB-GROUP-ADDRESS, once a minute */
	int64_t leader_rx_ms;  /* the last append or snapshot received */
	unsigned refuse_quiet; /* refusals not logged since */
	_Atomic unsigned long long refused, malformed, rx, tx, fwd;
	/* Writes forwarded in batches (group_fwdb.c), at a follower: queued,
	 * sent and unanswered, waiting for their entry to apply here (by
	 * index), and results kept for answers still to come. */
	struct http_call *fq_head, *fq_tail;
	unsigned fq_n;
	size_t fq_bytes;
	int64_t fq_since_ms;
	struct fwdb *fwdbs;
	struct http_call *fcalls, *fcalls_tail;
	struct group_prop *stash;
	raft_index fwd_last; /* the last entry proposed for this member */
	raft_term fwd_last_term;
	char fwdb_off[17]; /* a leader that takes no batches (its build) */
	int64_t apply_submit_ms; /* group_apply_now's last hand-over */
	/* A new follower: ready once its store committed ready_at. */
	bool ready_armed;
	raft_index ready_at;
	_Atomic unsigned long long fwd_batches, fwd_pushes;
	/* At the leader: the last entry proposed for each member's batches,
	 * whose commit it tells that member at once (group_fwdb.c). */
	struct {
		raft_id id;
		raft_index index;
		raft_term term;
	} push[GROUP_PUSH];
};

/* group_peer_ok says whether a link message comes from a member of this
 * region (role "member"); if not it logs (rate-limited) and counts. */
bool group_peer_ok(struct group *g, const struct link_msg *m, const char *what);

/* group_view_refresh rebuilds the view that GET /v1/status shows (the
 * tick does it too; a membership change does it before it answers, so
 * that its effect is visible at once). */
void group_view_refresh(struct group *g);

/* group_prop_cb: libraft is done with a group_prop (applied: staged, and
 * group_prop_done answers; otherwise it fails here). */
void group_prop_cb(struct raft_apply *req, int status, void *result);

/* group_leader_peer writes the leader's node id, or returns false. */
bool group_leader_peer(struct group *g, char out[17]);

/* group_snap_handle serves a GROUP_T_SNAP request (the leader streams its
 * store to a member that pulls it). */
void group_snap_handle(struct links *ls, const struct link_msg *m, void *arg);

/* group_blob_handle answers a GROUP_T_BLOB request (a member's put or get
 * of a material). */
void group_blob_handle(struct links *ls, const struct link_msg *m, void *arg);

/* group_snap_hold takes an install snapshot message whose marker is beyond
 * this member's store: it keeps it (true; msg now belongs to it) and pulls
 * the store from peer, then hands it to libraft. false: deliver msg as
 * usual. */
bool group_snap_hold(struct group *g, const char *peer,
                     struct raft_message *msg);

/* group_snap_tick ends idle or finished streams; group_snap_stop ends
 * everything (the node stops); group_snap_free frees the state. */
void group_snap_tick(struct group *g);
void group_snap_stop(struct group *g);
void group_snap_free(struct group *g);

/* group_snap_counts: snapshots installed here, pulls that failed, and
 * streams served to completion. */
void group_snap_counts(struct group *g, unsigned long long *installs,
                       unsigned long long *failures,
                       unsigned long long *served);

/* group_fwd_handle answers a GROUP_T_FWD request on the leader. */
void group_fwd_handle(struct links *ls, const struct link_msg *m, void *arg);

/* group_op_start runs a membership change on the leader: op "add"
 * (id, address, role), "assign" (id, role), "remove" (id), "transfer"
 * (id, 0 = any voter). The result goes to c (when not NULL) or as a link
 * reply to *to. Returns nothing: it always answers. */
void group_op_start(struct group *g, const json_t *req, struct http_call *c,
                    const struct link_reply_to *to);

/* group_clock_tick probes the clocks of the other members every 5 s (on
 * the loop); group_clock_handle answers a probe ({"op": "time"}) at any
 * member; group_clock_json adds clock_skew_ms and clock_rtt_ms to a
 * member's entry m of the view when measured within the last 30 s, and
 * returns the absolute skew (or -1). */
void group_clock_tick(struct group *g);
void group_clock_handle(struct group *g, const struct link_msg *m);
int64_t group_clock_json(struct group *g, raft_id id, json_t *m);

/* group_server: the server id of r's configuration (any role), or NULL
 * (node/group.c). */
const struct raft_server *group_server(const struct raft *r, raft_id id);

/* group_role_name / group_role_parse: "voter", "standby", "spare". */
const char *group_role_name(int role);
int group_role_parse(const char *s, int *role);

/* group_send_raft sends a Raft message as the transport does (0 or a
 * RAFT_* error). */
int group_send_raft(struct group *g, const struct raft_message *msg);

/* group_fwd_target writes the leader to forward to, or why there is none
 * (a 503 not_leader). */
bool group_fwd_target(struct group *g, char leader[17], char *why, size_t len);

/* Batched forwards (group_fwdb.c): group_stash_take returns a stash
 * record for an entry applied at a follower while a batch is unanswered
 * (NULL otherwise), handed to the applier with group_prop_done, which
 * calls group_stash_done; group_stash_drop frees one that was not staged.
 * group_fwdb_start registers the leader's handler; group_fwdb_tick answers
 * calls whose term ended or whose time is up; group_fwdb_stop answers
 * every waiting call; group_fwdb_free frees the records left. */
void *group_stash_take(struct group *g, raft_index index);
void group_stash_done(struct group_prop *p, int rv, json_t *res);
void group_stash_drop(struct group_prop *p);
int group_fwdb_start(struct group *g);
/* group_push_commits (leader, before the loop waits): tell each member
 * whose forwarded entries committed, at once (node/group_fwdb_lead.c). */
void group_push_commits(struct group *g);
void group_fwdb_tick(struct group *g);
void group_fwdb_stop(struct group *g);
void group_fwdb_free(struct group *g);

/* group_raft_status maps a libraft error onto an HTTP status and code. */
uint16_t group_raft_http(int rv, const char **code);

#endif
