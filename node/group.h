/* The region's replica group: Raft over the links between its members,
 * membership changes, writes forwarded to the leader, the group's view. */
#ifndef TB_NODE_GROUP_H
#define TB_NODE_GROUP_H

#include "consensus/raftio.h"
#include "node/http.h"
#include "schema/command.h"

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <raft.h>
#include <stdbool.h>

struct node;

/*
 * docs/GROUPS.md is the operator's story. In short:
 *
 * - A member's Raft address is its link address (HOST:PORT); its raft id
 *   is its node id read as a 64-bit number, so the transport sends a
 *   message to the node id "%016llx" of msg->server_id (link_send).
 * - Raft messages (consensus/raftmsg.h) and forwarded requests travel as
 *   link message types GROUP_T_RAFT and GROUP_T_FWD. Only a peer whose
 *   certificate has the role "member" for this node's region may send
 *   them; others are refused, counted and logged (TB-GROUP-REFUSED).
 * - Every member keeps DIR/links.json listing the other members of the
 *   configuration (added, and dropped when a member leaves, by the
 *   group: entries marked "by": "group"), so that any
 *   leader reaches every member.
 * - A follower forwards the API writes it takes (their encoded commands, in
 *   batches: node/group_fwdb.c) to the leader, which stamps and proposes
 *   them and answers with their entries' indexes at once; the follower's
 *   own store answers each write once it applied that index
 *   (read-your-writes at the member).
 *
 * Threads: everything runs on the loop, except group_view_json and
 * group_reply_headers (any thread).
 */

/* Link message types of the group (docs/LINKS.md: 16 and up are free). */
#define GROUP_T_RAFT 32 /* one-way: a raftmsg-encoded Raft message */
#define GROUP_T_FWD  33 /* request: a forwarded write, barrier or change */
#define GROUP_T_SNAP 34 /* request: a chunk of the leader's store */
#define GROUP_T_BLOB 35 /* request: put or get a material */
#define GROUP_T_FWDB 36 /* request: writes forwarded in a batch */

/* A member's clock this far from this node's is a warning (log,
 * /healthz). */
#define GROUP_SKEW_WARN_MS 1000

/* How long a follower waits for the leader's answer to a forwarded
 * request, and then for its own store to apply the answer's index. */
#define GROUP_FWD_TIMEOUT_MS 10000

/* group_init allocates n->group (before raftio_init, which takes the
 * transport). Returns 0 or -1 (out of memory). */
int group_init(struct node *n);

/* group_transport is the raftio transport that sends over n's links. */
struct raftio_transport group_transport(struct node *n);

/* group_start registers the link handlers once the links run (no-op when
 * links are off: a one-node group needs none). */
void group_start(struct node *n);

/* group_tick refreshes the view, readiness, links.json and the waiting
 * forwards' deadlines (on the loop, every tick). */
void group_tick(struct node *n);

/* group_take_prop returns the forwarded proposal whose entry index is
 * being applied (fsm_apply), or NULL; the caller passes it to the applier
 * with group_prop_done, which answers the member that forwarded it once
 * the store committed the entry (rv TB_OK, res its result, stolen) or
 * failed (res NULL), and frees it. NULL arg is a no-op. */
void *group_take_prop(struct node *n, raft_index index);
void group_prop_done(void *arg, int rv, json_t *res);
/* group_prop_unstage hands a taken proposal back to libraft's callback
 * (its apply could not be staged). */
void group_prop_unstage(void *arg);

/* group_forward sends a write that this follower cannot propose to the
 * leader; c is answered later (body is copied). One write per request, as
 * JSON: the way to a leader whose build takes no batches. */
void group_forward(struct node *n, struct http_call *c, enum cmd_type t,
                   const json_t *body, const char *idem_key);

/* group_forward_cmd is group_forward of c's encoded command (c->cmd). */
void group_forward_cmd(struct node *n, struct http_call *c);

/* group_fwd_queue queues write c (its command encoded in c->cmd) at a
 * follower, to be forwarded in a batch (node/group_fwdb.c); c is answered
 * later. group_fwd_release sends the batch unless it waits for the last
 * one (before the loop waits: node_prop_release). */
void group_fwd_queue(struct node *n, struct http_call *c);
void group_fwd_release(struct node *n);

/* group_take_call returns the forwarded write of this member whose entry
 * index is being applied (node_fsm_apply), for the applier to answer like
 * any write, or NULL (none, or answered 503 here: the term changed). */
struct http_call *group_take_call(struct node *n, raft_index index);

/* group_propose proposes command t (body borrowed) from the loop: at the
 * leader itself, or forwarded over the link to the leader. done(arg, rv,
 * res) runs once, on the loop, never inside the call: rv TB_OK with res
 * the apply's result (stolen; {"error": {code, message, field}} for a
 * refusal), or another code (not committed, no leader, timeout) with res
 * NULL. */
typedef void (*group_done_fn)(void *arg, int rv, json_t *res);
void group_propose(struct node *n, enum cmd_type t, const json_t *body,
                   group_done_fn done, void *arg);

/* group_consistent_read answers a GET with ?consistent=1 after a barrier
 * on the leader, once this member applied the barrier's index. */
void group_consistent_read(struct node *n, struct http_call *c);

/* group_flushed answers waiting forwards whose index the store has
 * committed (called after each apply batch commit). */
void group_flushed(struct node *n);

/* group_member_api handles POST /v1/group/members, POST
 * /v1/group/members/ID/role, DELETE /v1/group/members/ID and POST
 * /v1/group/transfer on the loop (forwarded to the leader if needed);
 * id is the URL's node id or "", req the JSON body or NULL. */
void group_member_api(struct http_call *c, const char *op, const char *id,
                      const json_t *req);

/* group_view_json returns {"members": [...], "leader", "term", ...} for
 * GET /v1/status (any thread; the caller decrefs). */
json_t *group_view_json(struct node *n);

/* group_reply_headers adds X-Tongban-Applied and X-Tongban-Leader to a
 * reply (any thread). */
void group_reply_headers(struct node *n, nng_http_res *res);

/* group_blob_replicate (loop) copies the material that c just stored
 * (req: {"hash", "size", "existed"}; its bytes are c's body) to the other
 * members and answers c: 201 (200 if it existed) once a majority of the
 * voters hold it, 503 if they do not within the timeout. group_blob_fetch
 * (loop) answers a GET of material req {"hash"} that this node lacks by
 * asking the other members: the bytes (kept here too), or 404. */
void group_blob_replicate(struct http_call *c, const json_t *req);
void group_blob_fetch(struct http_call *c, const json_t *req);

/* group_apply_now says whether the loop hands the entries applied so far
 * to the store's writer now (node.c's flush_cb). A follower that nobody
 * waits on (no forwarded write, consistent read or kept result of its
 * own) hands them over at most every GROUP_APPLY_DEFER_MS: each hand-over
 * is one store commit (its pages and fdatasync), and a follower learns a
 * commit with nearly every append, so it committed its store once per
 * leader batch. Its store then lags its Raft log by up to that long (or the
 * next loop wake-up, the 50 ms tick at most), which only its local reads
 * see; the log is durable, and a snapshot or a stop syncs what is staged
 * first. The leader and a follower with waiters hand over every time. */
#define GROUP_APPLY_DEFER_MS 20
bool group_apply_now(struct node *n);

/* group_stop fails every waiting forward (the node stops). */
void group_stop(struct node *n);

/* group_free releases n->group (after the loop ran). Safe on NULL. */
void group_free(struct node *n);

/* group_joining is true while a node made with --join waits, with an
 * empty log, to be added (its links take a higher incarnation as their
 * own; docs/GROUPS.md). Loop thread. */
bool group_joining(struct node *n);

/* group_node_id writes the node id of a raft id ("%016llx"). */
void group_node_id(raft_id id, char out[17]);

#endif
