/* Snapshots over the links: a member behind the leader's snapshot pulls the
 * leader's store in chunks into a stage and swaps it in before libraft sees
 * the install snapshot message.
 *
 * libraft's snapshot is a marker ("tongban-marker applied=N", node_fsm.c): the
 * state itself lives in LMDB. When an install snapshot message arrives
 * whose marker is beyond this member's store, group_snap_hold keeps the
 * message (libraft does not see it yet) and starts a pull from the sender:
 *
 *   follower                                leader
 *   SNAP {"op":"begin"}               ->    store_snapshot_begin (one read
 *                                     <-    txn): [stream id][marker]
 *   store_snapshot_stage_begin
 *   SNAP {"op":"next","stream","seq"} ->    store_snapshot_next
 *                                     <-    [last][chunk]
 *   store_snapshot_stage_write           ... until last
 *   store_snapshot_stage_finish (hash, index, region checked)
 *   applier_sync; store_snapshot_swap_live (readers wait at the gate)
 *   raftio_recv(held message): libraft records the marker (snapshot_put)
 *   and fsm_restore finds the store at or beyond it.
 *
 * The store pulled is the leader's at the time of the pull, so its applied
 * index M is at least the marker's N; entries up to M that libraft then
 * sends are skipped by the store (applied index). A newer install snapshot
 * that arrives during a pull replaces the held one; after the swap, a held
 * marker beyond M starts another pull.
 *
 * Failure modes: a reply that does not come (30 s), an error reply, a
 * chunk the stage refuses: the stage is deleted, the held message dropped,
 * TB-SNAPSHOT-PULL logged; libraft's leader sends the snapshot again and a
 * new pull starts. A swap that fails leaves the store closed: the node
 * stops (exit 1) and store_open recovers the old or the new store at the
 * next start. A crash at any point before the swap's commit point leaves
 * the old store and the old Raft snapshot.
 *
 * Threads: the loop, except that a member stages each chunk (and verifies
 * and syncs the stage after the last) on libuv's thread pool. The leader
 * reads chunks on its loop, one per request. */
#include "node/group_impl.h"

#include "consensus/raftio.h"
#include "consensus/raftmsg.h"
#include "node/applier.h"
#include "node/log.h"
#include "node/node.h"
#include "node/store_db.h"
#include "node/store_snap.h"
#include "schema/spec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SNAP_TIMEOUT_MS 30000
#define SNAP_IDLE_MS    30000
#define SNAP_OUT_MAX    2

/* A stream the leader serves. */
struct snap_out {
	struct snap_out *next;
	uint64_t id;
	char peer[17];
	struct store_snap *sn;
	uint64_t seq; /* the next chunk's */
	int64_t used_ms;
	bool done;
};

/* The follower's pull. */
struct snap_pull {
	bool active;
	char peer[17];
	struct raft_message held; /* the newest install snapshot */
	bool holding;
	uint64_t stream, seq, bytes;
	struct store_stage *st;
	bool busy; /* a chunk is being staged on the thread pool */
	struct store_snap_marker marker;
	int64_t start_ms;
};

struct group_snap {
	struct snap_out *outs;
	uint64_t next_id;
	struct snap_pull pull;
	unsigned long long installs, failures, served;
};

static struct group_snap *
gs_of(struct group *g)
{
	if (g->snap == NULL) {
		g->snap = calloc(1, sizeof(struct group_snap));
	}
	return g->snap;
}

/* marker_index reads N of "tongban-marker applied=N". */
static bool
marker_index(const struct raft_buffer *b, uint64_t *n)
{
	char text[64];
	unsigned long long v;
	size_t len = b->len < sizeof(text) - 1 ? b->len : sizeof(text) - 1;

	memcpy(text, b->base, len);
	text[len] = '\0';
	if (sscanf(text, "tongban-marker applied=%llu", &v) != 1) {
		return false;
	}
	*n = v;
	return true;
}

/* ---- the leader ------------------------------------------------------- */

static void
out_free(struct snap_out *o)
{
	store_snapshot_end(o->sn);
	free(o);
}

static void
outs_expire(struct group_snap *gs, int64_t now, bool all)
{
	struct snap_out **pp = &gs->outs, *o;

	while ((o = *pp) != NULL) {
		if (all || o->done || now - o->used_ms > SNAP_IDLE_MS) {
			*pp = o->next;
			out_free(o);
		} else {
			pp = &o->next;
		}
	}
}

static void
serve_begin(struct group *g, struct group_snap *gs, const struct link_msg *m)
{
	struct node *n = g->n;
	struct store_snap_marker mk;
	uint8_t reply[8 + STORE_SNAP_MARKER_SIZE];
	struct snap_out *o, **pp;
	unsigned count = 0;
	int rv;

	if (raft_state(&n->raft) != RAFT_LEADER) {
		link_reply_error(n->links, &m->reply_to, TB_ECONFLICT,
		                 "not the leader");
		return;
	}
	/* One stream per member: a new begin replaces its old stream. */
	for (pp = &gs->outs; (o = *pp) != NULL;) {
		if (!strcmp(o->peer, m->peer_node_id)) {
			*pp = o->next;
			out_free(o);
			continue;
		}
		count++;
		pp = &o->next;
	}
	if (count >= SNAP_OUT_MAX) {
		link_reply_error(
		    n->links, &m->reply_to, TB_ECONFLICT,
		    "the leader serves as many snapshot streams as "
		    "it may; retry later");
		return;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		link_reply_error(n->links, &m->reply_to, TB_ENOMEM,
		                 "out of memory");
		return;
	}
	if ((rv = store_snapshot_begin(n->store, 0, n->cfg.snapshot_chunk,
	                               false, &o->sn, &mk)) != TB_OK) {
		free(o);
		link_reply_error(n->links, &m->reply_to, rv,
		                 "cannot open a snapshot stream of the store");
		return;
	}
	o->id = ++gs->next_id;
	snprintf(o->peer, sizeof(o->peer), "%s", m->peer_node_id);
	o->used_ms = node_now_ms();
	o->next = gs->outs;
	gs->outs = o;
	db_be64(reply, o->id);
	store_snapshot_marker_encode(&mk, reply + 8);
	tb_log(TB_LOG_INFO, "TB-SNAPSHOT-SERVE",
	       "streaming the store at applied index %" PRIu64 " to member %s",
	       mk.index, o->peer);
	link_reply(n->links, &m->reply_to, GROUP_T_SNAP, reply, sizeof(reply));
}

static void
serve_next(struct group *g, struct group_snap *gs, const struct link_msg *m,
           uint64_t id, uint64_t seq)
{
	struct node *n = g->n;
	struct snap_out *o;
	uint8_t *buf, *reply;
	size_t len;
	bool last = false;
	int rv;

	if (raft_state(&n->raft) != RAFT_LEADER) {
		outs_expire(gs, 0, true); /* no stream outlives the lead */
		link_reply_error(n->links, &m->reply_to, TB_ECONFLICT,
		                 "not the leader any more");
		return;
	}
	for (o = gs->outs; o != NULL; o = o->next) {
		if (o->id == id && !strcmp(o->peer, m->peer_node_id)) {
			break;
		}
	}
	if (o == NULL || o->done || seq != o->seq) {
		link_reply_error(n->links, &m->reply_to, TB_ENOTFOUND,
		                 o == NULL ? "no such snapshot stream"
		                 : o->done ? "the stream has ended"
		                           : "chunks are sent in order");
		return;
	}
	if ((rv = store_snapshot_next(o->sn, &buf, &len, &last)) != TB_OK) {
		o->done = true;
		link_reply_error(n->links, &m->reply_to, rv,
		                 "cannot read the next chunk of the store");
		return;
	}
	if ((reply = malloc(len + 1)) == NULL) {
		free(buf);
		o->done = true;
		link_reply_error(n->links, &m->reply_to, TB_ENOMEM,
		                 "out of memory");
		return;
	}
	reply[0] = last ? 1 : 0;
	memcpy(reply + 1, buf, len);
	free(buf);
	o->seq++;
	o->used_ms = node_now_ms();
	if (last) {
		o->done = true; /* freed at the next tick */
		gs->served++;
	}
	link_reply(n->links, &m->reply_to, GROUP_T_SNAP, reply, len + 1);
	free(reply);
}

void
group_snap_handle(struct links *ls, const struct link_msg *m, void *arg)
{
	struct group *g = arg;
	struct group_snap *gs = gs_of(g);
	json_t *req;
	const char *op;

	(void)ls;
	if (!m->request) {
		return;
	}
	if (!group_peer_ok(g, m, "a snapshot request")) {
		link_reply_error(g->n->links, &m->reply_to, TB_EFORBIDDEN,
		                 "only members of this region may pull its "
		                 "store");
		return;
	}
	if (gs == NULL || g->n->stopping) {
		link_reply_error(g->n->links, &m->reply_to, TB_ECLOSED,
		                 "the node is stopping");
		return;
	}
	req = json_loadb((const char *)m->body, m->len, 0, NULL);
	op = spec_str(req, "op");
	if (op != NULL && !strcmp(op, "begin")) {
		serve_begin(g, gs, m);
	} else if (op != NULL && !strcmp(op, "next")) {
		serve_next(g, gs, m, (uint64_t)spec_int(req, "stream", 0),
		           (uint64_t)spec_int(req, "seq", -1));
	} else {
		link_reply_error(g->n->links, &m->reply_to, TB_EMALFORMED,
		                 "a snapshot request is {\"op\":\"begin\"} or "
		                 "{\"op\":\"next\",\"stream\",\"seq\"}");
	}
	json_decref(req);
}

/* ---- the follower ----------------------------------------------------- */

static void pull_request(struct group *g, struct snap_pull *p);

static void
pull_end(struct group *g, struct snap_pull *p, bool drop_held)
{
	(void)g;
	if (!p->busy) { /* else chunk_done aborts it */
		store_snapshot_stage_abort(p->st);
	}
	p->st = NULL;
	p->active = false;
	if (drop_held && p->holding) {
		raftmsg_release(&p->held);
		p->holding = false;
	}
}

static void pull_fail(struct group *g, struct snap_pull *p, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));

static void
pull_fail(struct group *g, struct snap_pull *p, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	g->snap->failures++;
	tb_log(TB_LOG_WARN, "TB-SNAPSHOT-PULL",
	       "pulling the store from %s failed after %" PRIu64
	       " bytes: %s (the leader sends its snapshot again)",
	       p->peer, p->bytes, why);
	pull_end(g, p, true);
}

static int pull_begin(struct group *g, struct snap_pull *p, const char *peer);

/* pull_install swaps the finished stage in and hands libraft the held
 * message. */
static void
pull_install(struct group *g, struct snap_pull *p)
{
	struct node *n = g->n;
	struct store_options so = { 0 };
	char dir[PATH_MAX + 8], err[512];
	uint64_t at, want = 0;
	int rv;

	snprintf(dir, sizeof(dir), "%s/state", n->cfg.dir);
	so.map_size = n->cfg.state_map_size;
	so.index_key = n->cfg.index_key;
	so.region = n->cfg.region;
	/* The swap waits for every read transaction of the store, and this
	 * loop may hold some itself: streams it served as a leader. */
	outs_expire(g->snap, 0, true);
	if (applier_sync(n->applier) != 0) {
		pull_fail(g, p, "the writer failed before the swap");
		return;
	}
	rv = store_snapshot_swap_live(n->store, dir, &so, err, sizeof(err));
	if (rv != TB_OK) {
		tb_log(TB_LOG_ERROR, "TB-SNAPSHOT-SWAP",
		       "swapping in the pulled store failed: %s", err);
		pull_end(g, p, true);
		if (!store_is_open(n->store)) {
			node_fail(n,
			          "the store could not be reopened after a "
			          "failed swap (the next start recovers it)");
		}
		return;
	}
	at = store_applied_index(n->store);
	g->snap->installs++;
	tb_log(TB_LOG_INFO, "TB-SNAPSHOT-INSTALLED",
	       "installed the store of %s at applied index %" PRIu64
	       " (%" PRIu64 " bytes in %" PRIu64 " chunks, %lld ms)",
	       p->peer, at, p->bytes, p->seq,
	       (long long)(node_now_ms() - p->start_ms));
	p->active = false;
	if (!p->holding) {
		return;
	}
	marker_index(&p->held.install_snapshot.data, &want);
	if (want > at) {
		/* A newer snapshot came in meanwhile: pull again. */
		char peer[17];

		snprintf(peer, sizeof(peer), "%s", p->peer);
		if (pull_begin(g, p, peer) != 0) {
			pull_end(g, p, true);
		}
		return;
	}
	p->holding = false;
	if (n->stopping || raftio_recv(&n->io, &p->held) != 0) {
		raftmsg_release(&p->held);
	}
}

/* A chunk staged on libuv's thread pool (an LMDB write transaction, and
 * for the last one the verification pass and the sync of the whole stage),
 * so that the loop that runs Raft never waits for it. */
struct chunk_work {
	uv_work_t work;
	struct group *g;
	struct store_stage *st;
	bool last, finished; /* finished: stage_finish ran (and freed st) */
	int rv;
	char err[512];
	size_t len;
	uint8_t data[];
};

static void
chunk_work(uv_work_t *req)
{
	struct chunk_work *w = req->data;

	w->rv = store_snapshot_stage_write(w->st, w->data, w->len, w->err,
	                                   sizeof(w->err));
	if (w->rv == TB_OK && w->last) {
		w->finished = true;
		w->rv =
		    store_snapshot_stage_finish(w->st, w->err, sizeof(w->err));
	}
}

static void
chunk_done(uv_work_t *req, int status)
{
	struct chunk_work *w = req->data;
	struct group *g = w->g;
	struct snap_pull *p = &g->snap->pull;
	uint64_t seq = p->seq;

	p->busy = false;
	if (!p->active) { /* ended while the chunk was staged */
		if (!w->finished) {
			store_snapshot_stage_abort(w->st);
		}
		free(w);
		return;
	}
	if (w->finished) {
		p->st = NULL; /* stage_finish freed it */
	}
	if (status != 0 || w->rv != TB_OK) {
		char why[600];

		snprintf(why, sizeof(why), "%s",
		         status != 0 ? "cancelled" : w->err);
		free(w);
		if (p->st == NULL) {
			pull_fail(g, p, "the stage does not verify: %s", why);
		} else {
			pull_fail(g, p, "chunk %" PRIu64 " refused: %s", seq,
			          why);
		}
		return;
	}
	p->bytes += w->len;
	p->seq++;
	if (!w->last) {
		free(w);
		pull_request(g, p);
		return;
	}
	free(w);
	pull_install(g, p);
}

static void
on_chunk(void *arg, int status, const struct link_msg *m)
{
	struct group *g = arg;
	struct chunk_work *w;
	struct snap_pull *p;

	if (g->snap == NULL) {
		return;
	}
	p = &g->snap->pull;
	/* A pull has at most one request out, and link_request calls back
	 * exactly once: a pull that ended did so in that callback, or while
	 * none was out, or at the stop (p inactive). So this reply is the
	 * current pull's. */
	if (!p->active || p->st == NULL || p->busy) {
		return;
	}
	if (status != TB_OK) {
		pull_fail(g, p, "chunk %" PRIu64 ": %s%s%.*s", p->seq,
		          tb_strerror(status), m != NULL ? ": " : "",
		          m != NULL ? (int)m->len : 0,
		          m != NULL ? (const char *)m->body : "");
		return;
	}
	if (m->len < 1) {
		pull_fail(g, p, "chunk %" PRIu64 " is empty", p->seq);
		return;
	}
	if ((w = calloc(1, sizeof(*w) + m->len - 1)) == NULL) {
		pull_fail(g, p, "out of memory");
		return;
	}
	w->g = g;
	w->st = p->st;
	w->last = m->body[0] == 1;
	w->len = m->len - 1;
	memcpy(w->data, m->body + 1, w->len);
	w->work.data = w;
	if (uv_queue_work(&g->n->loop, &w->work, chunk_work, chunk_done) != 0) {
		free(w);
		pull_fail(g, p, "cannot queue chunk %" PRIu64, p->seq);
		return;
	}
	p->busy = true;
}

static void
pull_request(struct group *g, struct snap_pull *p)
{
	char body[128];
	int rv;

	snprintf(body, sizeof(body),
	         "{\"op\":\"next\",\"stream\":%" PRIu64 ",\"seq\":%" PRIu64 "}",
	         p->stream, p->seq);
	rv = link_request(g->n->links, p->peer, GROUP_T_SNAP, body,
	                  strlen(body), SNAP_TIMEOUT_MS, on_chunk, g);
	if (rv != TB_OK) {
		pull_fail(g, p, "cannot ask for chunk %" PRIu64 ": %s", p->seq,
		          tb_strerror(rv));
	}
}

static void
on_begun(void *arg, int status, const struct link_msg *m)
{
	struct group *g = arg;
	struct node *n = g->n;
	struct snap_pull *p;
	char dir[PATH_MAX + 8], err[512];
	int rv;

	if (g->snap == NULL) {
		return;
	}
	p = &g->snap->pull;
	if (!p->active || p->st != NULL) {
		return;
	}
	if (status != TB_OK) {
		pull_fail(g, p, "begin: %s%s%.*s", tb_strerror(status),
		          m != NULL ? ": " : "", m != NULL ? (int)m->len : 0,
		          m != NULL ? (const char *)m->body : "");
		return;
	}
	if (m->len != 8 + STORE_SNAP_MARKER_SIZE ||
	    store_snapshot_marker_decode(m->body + 8, STORE_SNAP_MARKER_SIZE,
	                                 &p->marker, err, sizeof(err)) != 0) {
		pull_fail(g, p,
		          "begin: a reply of %zu bytes is not a stream "
		          "id and a marker",
		          m->len);
		return;
	}
	p->stream = db_get_be64(m->body);
	snprintf(dir, sizeof(dir), "%s/state", n->cfg.dir);
	rv = store_snapshot_stage_begin(dir, &p->marker, n->cfg.region,
	                                n->cfg.state_map_size, &p->st, err,
	                                sizeof(err));
	if (rv != TB_OK) {
		p->st = NULL;
		pull_fail(g, p, "cannot stage: %s", err);
		return;
	}
	tb_log(TB_LOG_INFO, "TB-SNAPSHOT-PULL-START",
	       "pulling the store of %s at applied index %" PRIu64
	       " (this member's store is at %" PRIu64 ")",
	       p->peer, p->marker.index, store_applied_index(n->store));
	pull_request(g, p);
}

static int
pull_begin(struct group *g, struct snap_pull *p, const char *peer)
{
	static const char body[] = "{\"op\":\"begin\"}";
	int rv;

	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	p->active = true;
	p->st = NULL;
	p->stream = p->seq = p->bytes = 0;
	p->start_ms = node_now_ms();
	rv = link_request(g->n->links, peer, GROUP_T_SNAP, body,
	                  sizeof(body) - 1, SNAP_TIMEOUT_MS, on_begun, g);
	if (rv != TB_OK) {
		p->active = false;
		tb_log(TB_LOG_WARN, "TB-SNAPSHOT-PULL",
		       "cannot ask %s for its store: %s", peer,
		       tb_strerror(rv));
	}
	return rv;
}

bool
group_snap_hold(struct group *g, const char *peer, struct raft_message *msg)
{
	struct node *n = g->n;
	struct group_snap *gs;
	struct snap_pull *p;
	uint64_t want;

	if (msg->type != RAFT_IO_INSTALL_SNAPSHOT ||
	    !marker_index(&msg->install_snapshot.data, &want) ||
	    want <= store_applied_index(n->store) || (gs = gs_of(g)) == NULL) {
		return false; /* libraft takes it (fsm_restore checks it) */
	}
	p = &gs->pull;
	if (p->holding) {
		raftmsg_release(&p->held); /* the newer one wins */
	}
	p->held = *msg;
	p->holding = true;
	if (!p->active && pull_begin(g, p, peer) != TB_OK) {
		raftmsg_release(&p->held);
		p->holding = false;
	}
	return true;
}

void
group_snap_tick(struct group *g)
{
	if (g->snap != NULL) {
		/* A stream holds a read transaction of the store: it ends
		 * when done, idle, or when this node stops leading. */
		outs_expire(g->snap, node_now_ms(),
		            raft_state(&g->n->raft) != RAFT_LEADER);
	}
}

void
group_snap_stop(struct group *g)
{
	if (g->snap == NULL) {
		return;
	}
	outs_expire(g->snap, 0, true);
	pull_end(g, &g->snap->pull, true);
}

void
group_snap_free(struct group *g)
{
	free(g->snap);
	g->snap = NULL;
}

void
group_snap_counts(struct group *g, unsigned long long *installs,
                  unsigned long long *failures, unsigned long long *served)
{
	*installs = g->snap != NULL ? g->snap->installs : 0;
	*failures = g->snap != NULL ? g->snap->failures : 0;
	*served = g->snap != NULL ? g->snap->served : 0;
}
