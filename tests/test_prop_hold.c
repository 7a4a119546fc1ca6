/* Deterministic test of the leader's held writes (node/node_prop.c) under
 * the real libraft: a one-voter leader whose log appends complete only when
 * the test says so (an in-memory raft_io below), so a batch stays in flight
 * for as long as the test wants, with no clock involved (the loop's time
 * never advances: NODE_PROP_HOLD_MS never runs out).
 *
 *  1. A lone write is proposed at once; the writes that come while its
 *     batch is in flight are held, not proposed; once it commits they go
 *     as one batch (one append of all of them).
 *  2. The node stops while a batch is in flight and more writes are held:
 *     the held ones are answered 503 "closed" (they were never in the log),
 *     the batch's 503 "closed" when libraft fails it at close (not
 *     committed), every write is answered exactly once, none is
 *     acknowledged, and the log holds exactly the proposed batches.
 *  3. The leader loses leadership (a higher term arrives) while a batch is
 *     in flight and writes are held: the batch's writes are answered 503
 *     with the reason (leadership lost), the held ones 503 "cannot propose"
 *     (never in the log), each once.
 *
 * node_prop.c is compiled into this program with http_reply_error renamed
 * to a recorder (the HTTP server is not needed to see the answers). */
#define http_reply_error test_reply_error
#include "node/node_prop.c"
#undef http_reply_error

#include "tests/tap.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- the answers --------------------------------------------------------- */

#define MAXCALLS 64
#include "tests/reply_rec.h"

static struct http_call *
new_call(int no)
{
	struct http_call *c = calloc(1, sizeof(*c));

	snprintf(c->path, sizeof(c->path), "%d", no);
	c->cmd.len = 8;
	c->cmd.base = raft_malloc(8);
	memcpy(c->cmd.base, &no, sizeof(no));
	memset((char *)c->cmd.base + sizeof(no), 0, 8 - sizeof(no));
	return c;
}

/* ---- an in-memory raft_io whose appends wait for the test ------------- */

struct mem_io {
	raft_io_tick_cb tick;
	raft_io_recv_cb recv;
	struct raft_buffer conf; /* the bootstrap configuration entry */
	struct raft_io_append *pending[16];
	unsigned n_pending, appends, last_n;
	int logged[MAXCALLS]; /* call numbers that reached the log */
	unsigned n_logged;
	raft_term term;
	raft_id vote;
};

static int
io_init(struct raft_io *io, raft_id id, const char *address)
{
	(void)io;
	(void)id;
	(void)address;
	return 0;
}

static void
io_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct mem_io *m = io->impl;
	unsigned i;

	/* What is still being written is cancelled, as raftio does. */
	for (i = 0; i < m->n_pending; i++) {
		m->pending[i]->cb(m->pending[i], RAFT_CANCELED);
	}
	m->n_pending = 0;
	if (cb != NULL) {
		cb(io);
	}
}

static int
io_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
        struct raft_snapshot **snapshot, raft_index *start_index,
        struct raft_entry *entries[], size_t *n_entries)
{
	struct mem_io *m = io->impl;
	struct raft_entry *e = raft_calloc(1, sizeof(*e));

	*term = m->term;
	*voted_for = m->vote;
	*snapshot = NULL;
	*start_index = 1;
	e->term = 1;
	e->type = RAFT_CHANGE;
	e->buf.base = raft_malloc(m->conf.len);
	e->buf.len = m->conf.len;
	memcpy(e->buf.base, m->conf.base, m->conf.len);
	e->batch = e->buf.base;
	*entries = e;
	*n_entries = 1;
	return 0;
}

static int
io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
         raft_io_recv_cb recv)
{
	struct mem_io *m = io->impl;

	(void)msecs;
	m->tick = tick;
	m->recv = recv;
	return 0;
}

static int
io_set_term(struct raft_io *io, raft_term term)
{
	struct mem_io *m = io->impl;

	m->term = term;
	m->vote = 0;
	return 0;
}

static int
io_set_vote(struct raft_io *io, raft_id id)
{
	((struct mem_io *)io->impl)->vote = id;
	return 0;
}

static int
io_send(struct raft_io *io, struct raft_io_send *req,
        const struct raft_message *msg, raft_io_send_cb cb)
{
	(void)io;
	(void)msg;
	req->cb = cb;
	cb(req, RAFT_NOCONNECTION); /* nobody to send to */
	return 0;
}

static int
io_append(struct raft_io *io, struct raft_io_append *req,
          const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
	struct mem_io *m = io->impl;
	unsigned i;
	int no;

	req->cb = cb;
	m->pending[m->n_pending++] = req;
	m->appends++;
	m->last_n = n;
	for (i = 0; i < n; i++) {
		if (entries[i].type == RAFT_COMMAND &&
		    entries[i].buf.len == 8) {
			memcpy(&no, entries[i].buf.base, sizeof(no));
			m->logged[m->n_logged++] = no;
		}
	}
	return 0;
}

/* mem_complete finishes the oldest append (the disk wrote it). */
static void
mem_complete(struct mem_io *m)
{
	struct raft_io_append *req = m->pending[0];

	memmove(m->pending, m->pending + 1,
	        (m->n_pending - 1) * sizeof(m->pending[0]));
	m->n_pending--;
	req->cb(req, 0);
}

static int
io_truncate(struct raft_io *io, raft_index index)
{
	(void)io;
	(void)index;
	return 0;
}

/* Never called here: no bootstrap, recovery or snapshot. */
static int
io_conf(struct raft_io *io, const struct raft_configuration *conf)
{
	(void)io;
	(void)conf;
	return RAFT_NOTFOUND;
}

static int
io_snap_put(struct raft_io *io, unsigned trailing,
            struct raft_io_snapshot_put *req,
            const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
	(void)io;
	(void)trailing;
	(void)req;
	(void)snapshot;
	(void)cb;
	return RAFT_NOTFOUND;
}

static int
io_snap_get(struct raft_io *io, struct raft_io_snapshot_get *req,
            raft_io_snapshot_get_cb cb)
{
	(void)io;
	(void)req;
	(void)cb;
	return RAFT_NOTFOUND;
}

static raft_time
io_time(struct raft_io *io)
{
	(void)io;
	return 1000; /* time stands still */
}

static int
io_random(struct raft_io *io, int min, int max)
{
	(void)io;
	(void)max;
	return min;
}

/* ---- the state machine: answers a write as the applier would ----------- */

static struct node N;
static unsigned APPLIED;

static int
fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	raft_index index = raft_last_applied(&N.raft) + 1;
	struct http_call *c = node_pending_take(&N, index);

	(void)fsm;
	(void)buf;
	*result = NULL;
	APPLIED++;
	if (c != NULL) {
		record(c, 201, "", "applied");
	}
	return 0;
}

/* ---- the runs ------------------------------------------------------------ */

static struct mem_io M;
static struct raft_io IO;
static struct raft_fsm FSM = { .version = 1, .apply = fsm_apply };

static void
start_leader(void)
{
	struct raft_configuration conf;

	memset(&N, 0, sizeof(N));
	memset(&M, 0, sizeof(M));
	memset(R, 0, sizeof(R));
	APPLIED = 0;
	uv_loop_init(&N.loop);
	N.prop_tail = &N.prop_head;
	raft_configuration_init(&conf);
	raft_configuration_add(&conf, 1, "1", RAFT_VOTER);
	raft_configuration_add(&conf, 2, "2", RAFT_STANDBY);
	raft_configuration_encode(&conf, &M.conf);
	raft_configuration_close(&conf);
	M.term = 1;
	memset(&IO, 0, sizeof(IO));
	IO.version = 1;
	IO.impl = &M;
	IO.init = io_init;
	IO.close = io_close;
	IO.load = io_load;
	IO.start = io_start;
	IO.set_term = io_set_term;
	IO.set_vote = io_set_vote;
	IO.send = io_send;
	IO.append = io_append;
	IO.truncate = io_truncate;
	IO.bootstrap = io_conf;
	IO.recover = io_conf;
	IO.snapshot_put = io_snap_put;
	IO.snapshot_get = io_snap_get;
	IO.time = io_time;
	IO.random = io_random;
	raft_init(&N.raft, &IO, &FSM, 1, "1");
	raft_start(&N.raft);
	/* The only voter elects itself at start. */
	is_int(raft_state(&N.raft), RAFT_LEADER, "the one voter leads");
}

static bool CLOSED;

static void
closed_cb(struct raft *r)
{
	(void)r;
	CLOSED = true;
}

static void
finish(void)
{
	raft_free(M.conf.base);
	uv_loop_close(&N.loop);
}

/* submit hands calls from .. to-1 to the loop as node_wake_cb does, then
 * releases as it does before the loop waits. */
static void
submit(int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		node_submit(&N, new_call(i));
	}
	node_prop_release(&N);
}

static int
count(int from, int to, uint16_t status, const char *code, const char *in)
{
	int i, k = 0;

	for (i = from; i < to; i++) {
		if (R[i].answers == 1 && R[i].status == status &&
		    !strcmp(R[i].code, code) &&
		    (in == NULL || strstr(R[i].msg, in) != NULL)) {
			k++;
		}
	}
	return k;
}

static int
answered(int from, int to)
{
	int i, k = 0;

	for (i = from; i < to; i++) {
		k += R[i].answers;
	}
	return k;
}

static void
test_hold_and_stop(void)
{
	start_leader();
	submit(1, 2);
	is_int(M.appends, 1, "a lone write is proposed at once");
	submit(2, 7);
	is_int(M.appends, 1,
	       "five writes that come while it is in flight are held");
	is_int(N.prop_n, 5, "  five wait at the leader");
	is_int(answered(1, 7), 0, "  nothing is answered yet");
	mem_complete(&M); /* the first batch is durable: it commits */
	is_int(count(1, 2, 201, "", NULL), 1,
	       "the first write is acknowledged once applied");
	node_prop_release(&N); /* before the loop waits */
	is_int(M.appends, 2, "the held writes go once it committed");
	is_int(M.last_n, 5, "  as one batch of five");
	is_int(N.m.prop_held, 5, "  counted as held");
	submit(7, 10);
	is_int(N.prop_n, 3, "three more are held behind the second batch");

	/* The node stops (node_stop): held writes first, then raft_close,
	 * then the sweep (node_raft_closed). */
	N.stopping = true;
	node_prop_release(&N);
	is_int(count(7, 10, 503, "closed", "shutting down"), 3,
	       "the three held writes are answered 503 closed (%s)", R[7].msg);
	CLOSED = false;
	raft_close(&N.raft, closed_cb);
	is_int(CLOSED, 1, "raft closed");
	node_prop_sweep(&N, true);
	is_int(
	    count(2, 7, 503, "closed", "stopped before the write was applied"),
	    5, "the batch in flight is answered 503 closed (%s)", R[2].msg);
	is_int(answered(1, 10), 9,
	       "each of the nine writes is answered exactly once");
	is_int(count(1, 10, 201, "", NULL), 1,
	       "  and only the committed one is acknowledged");
	is_int(APPLIED, 1, "  which is the only command applied");
	is_int(M.n_logged, 6,
	       "the log holds the two proposed batches (1 + 5), none of the "
	       "held writes");
	ok(M.logged[5] == 6 && M.logged[0] == 1, "  in the order they came");
	ok(N.pending == NULL && N.prop_head == NULL, "nothing is left waiting");
	finish();
}

static void
test_deposed(void)
{
	struct raft_message msg;

	start_leader();
	submit(1, 2);
	submit(2, 5);
	is_int(N.prop_n, 3, "three writes held behind a batch in flight");
	/* An append in a higher term (another leader, as after a partition):
	 * this one steps down, and libraft fails its outstanding batch. */
	memset(&msg, 0, sizeof(msg));
	msg.type = RAFT_IO_APPEND_ENTRIES;
	msg.server_id = 2;
	msg.server_address = "2";
	msg.append_entries.term = N.raft.current_term + 1;
	msg.append_entries.prev_log_index = 1;
	msg.append_entries.prev_log_term = 1;
	msg.append_entries.leader_commit = 1;
	M.recv(&IO, &msg);
	ok(raft_state(&N.raft) != RAFT_LEADER,
	   "a higher term deposes the leader");
	is_int(count(1, 2, 503, "unavailable", "lost leadership"), 1,
	       "the write in flight is answered 503 with the reason (%s)",
	       R[1].msg);
	node_prop_release(&N);
	is_int(count(2, 5, 503, "unavailable", "cannot propose"), 3,
	       "the held writes are answered 503 (%s), never proposed",
	       R[2].msg);
	is_int(M.n_logged, 1, "  none of them reached the log");
	is_int(answered(1, 5), 4,
	       "each of the four writes is answered exactly once");
	raft_close(&N.raft, closed_cb);
	node_prop_sweep(&N, true);
	is_int(answered(1, 5), 4, "  and not again at close");
	finish();
}

int
main(void)
{
	test_hold_and_stop();
	test_deposed();
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
