/* Between regions on the node: the region's place in the tree, and the
 * outboxes that carry the catalog down it (docs/REPLICATION.md "In the
 * node"). */
#ifndef TB_NODE_REGION_H
#define TB_NODE_REGION_H

#include <jansson.h>
#include <raft.h>

struct node;

/*
 * Happy path. A release or overlay applied at a region is appended, in the
 * same apply transaction, to the outbox of each child that has a stream
 * (fsm_region.c). The leader's driver (replication/outbox.c) sends the
 * entries over the link to the child (link type REGION_T_OUTBOX: an
 * outbox_wire frame); the child's leader proposes outbox.deliver through
 * its own group, whose apply is the same as a local publication's, and
 * acknowledges once it is applied; the origin's leader proposes
 * outbox.acked. The child forwards to its own children the same way.
 *
 * A child makes itself known with its report (REGION_T_REPORT, every
 * second, to its parent): its applied catalog, its last refusal and the
 * reports of the regions below it. A parent that receives a report from a
 * child (its certificate names a region whose parent in the table is this
 * one, so this region issued its region certificate) without a stream
 * proposes outbox.child, whose apply opens the stream with the catalog so
 * far. Reports are volatile: they feed GET /v1/catalog/rollout.
 *
 * Threads: everything runs on the loop except region_view_json,
 * region_rollout and region_metrics_text (any thread).
 */

#define REGION_T_OUTBOX 48 /* one-way: an outbox_wire DATA or ACK frame */
#define REGION_T_REPORT 49 /* one-way: a child's report (JSON) */
#define REGION_T_HELLO                                      \
	53 /* one-way: {"region", "runs"}: this build takes \
	      DATA_RUN frames (region_env.c) */
#define REGION_T_MEMBERS                                          \
	55 /* one-way: {"region", "term", "leader", "members":    \
	      [{"node_id", "url"}]}: this region's group, and who \
	      leads it (region_members.c) */

#define REGION_T_LATEST                                           \
	54 /* one-way, down: the province's signed latest-version \
	      statement (JSON, region_latest.c), relayed unchanged */

/* region_init allocates n->region; 0 or -1 (out of memory). */
int region_init(struct node *n);

/* region_start registers the link handlers (no-op without links). */
void region_start(struct node *n);

/* region_tick runs the driver on the leader, sends the report, keeps
 * links.json in step with the topology and refreshes the view (every
 * loop tick). */
void region_tick(struct node *n);

/* region_progress: the store committed applies; send what they emitted. */
void region_progress(struct node *n);

/* region_take_prop / region_prop_done: as group_take_prop for the
 * proposals the driver made (fsm_apply stages them with the applier). */
void *region_take_prop(struct node *n, raft_index index);
void region_prop_done(void *arg, int rv, json_t *res);
/* region_prop_unstage: as group_prop_unstage. */
void region_prop_unstage(void *arg);

/* region_view_json: {"topology", "driver", "outboxes": [...], "inbound":
 * {...}} for GET /v1/status and GET /v1/region (a new reference). */
json_t *region_view_json(struct node *n);

/* region_rollout: which regions below have applied standard version v,
 * which lag and why (a new reference). */
json_t *region_rollout(struct node *n, long long v);

/* region_metrics_text: Prometheus lines (malloc'd; caller frees), or
 * NULL. */
char *region_metrics_text(struct node *n);

/* region_latest_catalog adds "latest", "withheld" and the watch's state
 * to cat (GET /v1/catalog); region_latest_health adds a warning to ok
 * (GET /healthz) while a release is withheld or no statement is fresh;
 * region_latest_metrics: Prometheus lines (malloc'd) or NULL. Any
 * thread. */
void region_latest_catalog(struct node *n, json_t *cat);
void region_latest_health(struct node *n, json_t *ok);
char *region_latest_metrics(struct node *n);

/* region_free releases n->region (after the loop ran). Safe on NULL. */
void region_free(struct node *n);

/* region_inc_pending: this node's incarnation (raised by tongban group
 * recover) is above the replicated one at feature level 5: writes wait
 * until the leader's group.incarnation is applied, so that no outbox entry
 * is numbered in the old incarnation; 0, or the node's incarnation (any
 * thread). */
unsigned region_inc_pending(struct node *n);

#endif
