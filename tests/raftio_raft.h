/* The libraft part of test_raftio: a one-voter group on the raftio
 * backend proposes commands, restarts and replays them; and a measurement
 * of batching under libraft. Included by test_raftio.c after tap.h and
 * raftio_util.h. */
#ifndef TB_TESTS_RAFTIO_RAFT_H
#define TB_TESTS_RAFTIO_RAFT_H

/* The test FSM: a count and a hash chain of the commands applied. Like the
 * node's state machine it must end in the same state whether it replays
 * from the log or restores a snapshot first. It keeps its state in memory,
 * so libraft replays everything after the last snapshot on each start. */
struct rr_state {
	uint64_t count;
	uint64_t hash;
};

static int
rr_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct rr_state *s = fsm->data;
	uint64_t v;

	if (buf->len != 8) {
		return RAFT_MALFORMED;
	}
	memcpy(&v, buf->base, 8);
	s->hash = (s->hash ^ v) * 0x100000001b3ULL;
	s->count++;
	*result = NULL;
	return 0;
}

static int
rr_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	struct rr_state *s = fsm->data;

	if ((*bufs = raft_malloc(sizeof(**bufs))) == NULL) {
		return RAFT_NOMEM;
	}
	if (((*bufs)[0].base = raft_malloc(sizeof(*s))) == NULL) {
		raft_free(*bufs);
		return RAFT_NOMEM;
	}
	memcpy((*bufs)[0].base, s, sizeof(*s));
	(*bufs)[0].len = sizeof(*s);
	*n = 1;
	return 0;
}

/* With snapshot_finalize set, the FSM frees its own snapshot buffers. */
static int
rr_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	(void)fsm;
	for (unsigned i = 0; i < *n; i++) {
		raft_free((*bufs)[i].base);
	}
	raft_free(*bufs);
	*bufs = NULL;
	*n = 0;
	return 0;
}

static int rr_restores;

/* restore owns buf->base (libraft's contract). */
static int
rr_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct rr_state *s = fsm->data;

	if (buf->len != sizeof(*s)) {
		return RAFT_MALFORMED;
	}
	memcpy(s, buf->base, sizeof(*s));
	raft_free(buf->base);
	rr_restores++;
	return 0;
}

struct rr_node {
	struct raft_io io;
	struct raft raft;
	struct raft_fsm fsm;
	struct rr_state st;
	int io_closed; /* unused: raft_close closes the io */
	int closed;
};

static int rr_applied, rr_apply_failed, rr_barriers;

static void
rr_apply_cb(struct raft_apply *req, int status, void *result)
{
	(void)req;
	(void)result;
	rr_apply_failed += status != 0;
	rr_applied++;
}

static void
rr_barrier_cb(struct raft_barrier *req, int status)
{
	(void)req;
	rr_apply_failed += status != 0;
	rr_barriers++;
}

static void
rr_close_cb(struct raft *r)
{
	struct rr_node *n = r->data;

	n->closed++;
}

/* rr_start opens dir and starts a one-voter group on it; bootstrap says
 * whether it is the first start (else bootstrap must be refused). */
static int
rr_start(struct rr_node *n, const char *dir, bool bootstrap)
{
	struct raftio_options opt = { 0 };
	struct raft_configuration c;
	char msg[256];
	int rv;

	memset(n, 0, sizeof(*n));
	n->fsm.version = 3;
	n->fsm.data = &n->st;
	n->fsm.apply = rr_apply;
	n->fsm.snapshot = rr_snapshot;
	n->fsm.snapshot_finalize = rr_finalize;
	n->fsm.restore = rr_restore;
	opt.seed = 7;
	if ((rv = raftio_init(&n->io, &rt_loop, dir, &opt, msg, sizeof(msg))) !=
	    0) {
		printf("# raftio_init: %s\n", msg);
		return rv;
	}
	if ((rv = raft_init(&n->raft, &n->io, &n->fsm, 1, "127.0.0.1:9001")) !=
	    0) {
		return rv;
	}
	n->raft.data = n;
	raft_set_snapshot_threshold(&n->raft, 64);
	raft_set_snapshot_trailing(&n->raft, 16);
	raft_configuration_init(&c);
	raft_configuration_add(&c, 1, "127.0.0.1:9001", RAFT_VOTER);
	rv = raft_bootstrap(&n->raft, &c);
	raft_configuration_close(&c);
	if (rv != (bootstrap ? 0 : RAFT_CANTBOOTSTRAP)) {
		printf("# raft_bootstrap: %d\n", rv);
		return rv != 0 ? rv : -1;
	}
	return raft_start(&n->raft);
}

static bool
rr_stop(struct rr_node *n)
{
	raft_close(&n->raft, rr_close_cb);
	if (!rt_run_until(&n->closed, 1, 10000)) {
		return false;
	}
	raftio_close(&n->io);
	return true;
}

/* rr_propose proposes commands first..first+count-1, each its own
 * raft_apply (so each is its own append request to the backend). */
static int
rr_propose(struct rr_node *n, struct raft_apply *reqs, int first, int count)
{
	for (int i = 0; i < count; i++) {
		struct raft_buffer buf;
		uint64_t v = (uint64_t)(first + i) * 2654435761u;
		int rv;

		buf.len = 8;
		if ((buf.base = raft_malloc(8)) == NULL) {
			return RAFT_NOMEM;
		}
		memcpy(buf.base, &v, 8);
		rv = raft_apply(&n->raft, &reqs[i], &buf, 1, rr_apply_cb);
		if (rv != 0) {
			raft_free(buf.base);
			return rv;
		}
	}
	return 0;
}

/* rr_bench proposes total commands, window at a time, and reports the
 * rate and the commits per append as a TAP comment (not an assertion). */
static void
rr_bench(struct rr_node *n, struct raft_apply *reqs, int total, int window,
         const char *label)
{
	struct raftio_stats a, b;
	uint64_t t0, t1;
	int done = 0;

	raftio_stats(&n->io, &a);
	rr_applied = 0;
	t0 = uv_hrtime();
	while (done < total) {
		int k = total - done < window ? total - done : window;
		if (rr_propose(n, reqs + done, done, k) != 0 ||
		    !rt_run_until(&rr_applied, done + k, 60000)) {
			break;
		}
		done += k;
	}
	t1 = uv_hrtime();
	raftio_stats(&n->io, &b);
	ok(done == total && rr_apply_failed == 0, "%s: %d commands applied",
	   label, total);
	printf(
	    "# %s: %d commands in %.1f ms = %.0f appends/s; "
	    "%llu commits for %llu appends = %.4f fsyncs per append "
	    "(max batch %llu)\n",
	    label, done, (double)(t1 - t0) / 1e6,
	    done / ((double)(t1 - t0) / 1e9),
	    (unsigned long long)(b.commits - a.commits),
	    (unsigned long long)(b.appends - a.appends),
	    (double)(b.commits - a.commits) /
	        (double)(b.appends - a.appends > 0 ? b.appends - a.appends : 1),
	    (unsigned long long)b.max_batch);
}

/* libraft records a snapshot in its log once snapshot_put completes. */
static bool
rr_has_snapshot(const void *r)
{
	return ((const struct raft *)r)->log.snapshot.last_index > 0;
}

static void
test_raft(void)
{
	enum { N = 300, BENCH = 10000 };
	static struct rr_node n;
	static struct raft_apply reqs[BENCH];
	struct raft_barrier barrier;
	uint64_t hash;
	char dir[128];

	rt_newdir(dir, sizeof(dir));
	is_int(rr_start(&n, dir, true), 0,
	       "libraft: bootstrap and start a one-voter group on raftio");
	is_int(raft_state(&n.raft), RAFT_LEADER, "it elects itself");
	rr_applied = 0;
	is_int(rr_propose(&n, reqs, 0, N), 0, "propose %d commands", N);
	ok(rt_run_until(&rr_applied, N, 30000) && rr_apply_failed == 0,
	   "all %d applied", N);
	is_int(n.st.count, N, "the FSM saw each once");
	ok(rt_run_pred(rr_has_snapshot, &n.raft, 10000),
	   "libraft took a snapshot through snapshot_put (at %llu)",
	   n.raft.log.snapshot.last_index);
	hash = n.st.hash;
	ok(rr_stop(&n), "raft_close");
	is_int(rr_start(&n, dir, false), 0,
	       "restart on the same store (bootstrap refused)");
	ok(rr_restores == 1, "the FSM was restored from the last snapshot");
	ok(raft_last_index(&n.raft) >= (raft_index)N + 1,
	   "the log was loaded (last index %llu)", raft_last_index(&n.raft));
	/* Entries of an earlier term commit with the first of this one. */
	rr_barriers = 0;
	is_int(raft_barrier(&n.raft, &barrier, rr_barrier_cb), 0, "barrier");
	ok(rt_run_until(&rr_barriers, 1, 10000), "barrier applied");
	ok(n.st.count == N && n.st.hash == hash,
	   "replay gives the same count and hash (%llu)",
	   (unsigned long long)n.st.count);
	ok(rr_stop(&n), "raft_close");

	rt_newdir(dir, sizeof(dir));
	rr_start(&n, dir, true);
	rr_bench(&n, reqs, BENCH, BENCH, "libraft, all in flight");
	rr_bench(&n, reqs, 200, 1, "libraft, one at a time");
	ok(rr_stop(&n), "raft_close");
}

#endif
