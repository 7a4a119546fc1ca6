/* Contract tests of the LMDB raft_io backend (consensus/raftio) on real
 * LMDB stores in a temporary directory, then libraft itself on top of it. */
#include "tests/tap.h"
#include "tests/raftio_util.h"

#include "consensus/raftio_load.h"
#include "schema/error.h"

static struct raft_configuration
conf_of(unsigned n)
{
	struct raft_configuration c;
	char addr[32];

	raft_configuration_init(&c);
	for (unsigned i = 1; i <= n; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", 9000 + i);
		raft_configuration_add(&c, i, addr,
		                       i == 1 ? RAFT_VOTER : RAFT_STANDBY);
	}
	return c;
}

/* append_wait submits one request and waits for its callback. */
static int
append_wait(struct rt_io *h, raft_index first, unsigned n, raft_term term,
            size_t len)
{
	struct rt_app *a = rt_app_new(first, n, term, len);
	int rv, target = rt_fired + 1;

	if ((rv = rt_submit(&h->io, a, 0)) != 0) {
		rt_app_free(a);
		return -rv;
	}
	if (!rt_run_until(&rt_fired, target, 10000)) {
		return -1000; /* leaked: the callback never came */
	}
	rv = a->status;
	rt_app_free(a);
	return rv;
}

static void
test_bootstrap(void)
{
	struct raft_configuration c = conf_of(1);
	struct raft_buffer enc;
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];

	rt_newdir(dir, sizeof(dir));
	is_int(rt_open(&h, dir, NULL), 0, "open a new store");
	is_int(rt_load(&h, &l), 0, "load an empty store");
	ok(l.term == 0 && l.vote == 0 && l.snap == NULL && l.start == 1 &&
	       l.n == 0 && l.entries == NULL,
	   "empty: term 0, no vote, no snapshot, start 1, no entries");
	is_int(h.io.bootstrap(&h.io, &c), 0, "bootstrap");
	is_int(h.io.bootstrap(&h.io, &c), RAFT_CANTBOOTSTRAP,
	       "bootstrap twice -> RAFT_CANTBOOTSTRAP");
	ok(rt_close(&h), "close");
	is_int(rt_open(&h, dir, NULL), 0, "reopen");
	is_int(h.io.bootstrap(&h.io, &c), RAFT_CANTBOOTSTRAP,
	       "bootstrap after reopen -> RAFT_CANTBOOTSTRAP");
	is_int(rt_load(&h, &l), 0, "load the bootstrapped store");
	raft_configuration_encode(&c, &enc);
	ok(l.term == 1 && l.vote == 0 && l.start == 1 && l.n == 1 &&
	       l.entries[0].term == 1 && l.entries[0].type == RAFT_CHANGE &&
	       l.entries[0].buf.len == enc.len &&
	       memcmp(l.entries[0].buf.base, enc.base, enc.len) == 0,
	   "term 1 and the encoded configuration at index 1");
	raft_free(enc.base);
	rt_free_load(&l);
	ok(rt_close(&h), "close");
	raft_configuration_close(&c);
}

static void
test_term_vote(void)
{
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];

	rt_newdir(dir, sizeof(dir));
	rt_open(&h, dir, NULL);
	is_int(h.io.set_term(&h.io, 5), 0, "set_term 5");
	is_int(h.io.set_vote(&h.io, 3), 0, "set_vote 3");
	rt_close(&h);
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	ok(l.term == 5 && l.vote == 3, "term 5 and vote 3 survive a reopen");
	is_int(h.io.set_term(&h.io, 6), 0, "set_term 6");
	rt_close(&h);
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	ok(l.term == 6 && l.vote == 0, "a new term clears the vote");
	rt_close(&h);
}

static void
test_roundtrip(void)
{
	struct rt_app *a[3];
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];
	bool good = true, one_batch = true;

	rt_newdir(dir, sizeof(dir));
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	a[0] = rt_app_new(1, 3, 1, SIZE_MAX);
	a[1] = rt_app_new(4, 1, 2, 200 * 1024); /* overflow pages */
	a[2] = rt_app_new(5, 5, 3, 0);          /* empty payloads */
	for (int i = 0; i < 3; i++) {
		is_int(rt_submit(&h.io, a[i], i), 0, "append %d submitted", i);
	}
	ok(rt_run_until(&rt_fired, rt_fired + 3, 10000) || a[2]->fired,
	   "the three appends complete");
	ok(a[0]->status == 0 && a[1]->status == 0 && a[2]->status == 0,
	   "with status 0");
	for (int i = 0; i < 3; i++) {
		rt_app_free(a[i]);
	}
	ok(rt_close(&h), "close");
	rt_open(&h, dir, NULL);
	is_int(rt_load(&h, &l), 0, "reload");
	is_int(l.n, 9, "nine entries");
	is_int(l.start, 1, "from index 1");
	for (size_t i = 0; i < l.n && i < 9; i++) {
		raft_index idx = i + 1;
		raft_term term = idx <= 3 ? 1 : idx == 4 ? 2 : 3;
		size_t len = idx <= 3 ? rt_len(idx) : idx == 4 ? 200 * 1024 : 0;
		good = good && rt_entry_ok(&l.entries[i], idx, term, len);
		one_batch =
		    one_batch && l.entries[i].batch == l.entries[0].batch;
	}
	ok(good, "terms, types and payload bytes round-trip");
	ok(one_batch, "loaded payloads share one batch allocation");
	rt_free_load(&l);
	rt_close(&h);
}

static void
test_order_batching(void)
{
	struct raftio_options opt = { 0 };
	enum { N = 1000 };
	static struct rt_app *a[N];
	struct raftio_stats st;
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];
	int base, inside = rt_inside, in_order = 1, failed = 0;

	opt.faults.writer_delay_ms = 20;
	rt_newdir(dir, sizeof(dir));
	rt_open(&h, dir, &opt);
	rt_load(&h, &l);
	base = rt_fired;
	for (int i = 0; i < N; i++) {
		a[i] = rt_app_new(i + 1, 1, 1, 16);
		failed += rt_submit(&h.io, a[i], i) != 0;
	}
	is_int(failed, 0, "%d appends submitted back to back", N);
	ok(rt_run_until(&rt_fired, base + N, 20000), "all complete");
	for (int i = 0; i < N; i++) {
		in_order =
		    in_order && rt_order[base + i] == i && a[i]->status == 0;
		rt_app_free(a[i]);
	}
	ok(in_order, "callbacks fire in submission order, status 0");
	is_int(rt_inside - inside, 0, "no callback fired inside append()");
	raftio_stats(&h.io, &st);
	is_int(st.appends, N, "stats count %d appends", N);
	ok(st.commits * 10 < N, "batched: %llu commits for %d appends",
	   (unsigned long long)st.commits, N);
	printf("# batching: %d appends, %llu txns, %llu commits, max batch "
	       "%llu, %llu bytes\n",
	       N, (unsigned long long)st.txns, (unsigned long long)st.commits,
	       (unsigned long long)st.max_batch, (unsigned long long)st.bytes);
	rt_close(&h);
}

static void
test_truncate_inflight(void)
{
	struct rt_app *a, *b;
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];
	int rv;

	rt_newdir(dir, sizeof(dir));
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	a = rt_app_new(1, 5, 1, SIZE_MAX);
	b = rt_app_new(3, 2, 2, SIZE_MAX);
	rt_submit(&h.io, a, 100);
	rt_in_call = true;
	rv = h.io.truncate(&h.io, 3);
	rt_in_call = false;
	is_int(rv, 0, "truncate(3) while the append of 1..5 is in flight");
	is_int(h.io.truncate(&h.io, 9), RAFT_INVALID,
	       "truncate past the end -> RAFT_INVALID");
	rt_submit(&h.io, b, 101);
	ok(rt_run_until(&rt_fired, rt_fired + 2, 10000) || b->fired,
	   "both appends complete");
	ok(a->status == 0 && b->status == 0 && rt_order[rt_fired - 2] == 100 &&
	       rt_order[rt_fired - 1] == 101,
	   "in submission order");
	rt_app_free(a);
	rt_app_free(b);
	rt_close(&h);
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	ok(l.n == 4 && rt_entry_ok(&l.entries[0], 1, 1, rt_len(1)) &&
	       rt_entry_ok(&l.entries[1], 2, 1, rt_len(2)) &&
	       rt_entry_ok(&l.entries[2], 3, 2, rt_len(3)) &&
	       rt_entry_ok(&l.entries[3], 4, 2, rt_len(4)),
	   "log is 1..2 of the first append, 3..4 of the second");
	rt_free_load(&l);
	rt_close(&h);
}

static void
test_close_pending(void)
{
	struct raftio_options opt = { 0 };
	enum { N = 20 };
	struct rt_app *a[N];
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];
	int base, ok_n = 0, canceled = 0, prefix = 1;

	rt_newdir(dir, sizeof(dir));
	opt.faults.writer_delay_ms = 30;
	rt_open(&h, dir, &opt);
	rt_load(&h, &l);
	base = rt_fired;
	for (int i = 0; i < 5; i++) {
		a[i] = rt_app_new(i + 1, 1, 1, SIZE_MAX);
		rt_submit(&h.io, a[i], i);
	}
	rt_run_until(&rt_fired, base + 5, 10000);
	for (int i = 5; i < N; i++) {
		a[i] = rt_app_new(i + 1, 1, 1, SIZE_MAX);
		rt_submit(&h.io, a[i], i);
	}
	ok(rt_close(&h), "close with %d appends pending", N - 5);
	is_int(h.fired_at_close - base, N,
	       "every callback fired before the close callback");
	for (int i = 0; i < N; i++) {
		ok_n += a[i]->status == 0;
		canceled += a[i]->status == RAFT_CANCELED;
		prefix = prefix &&
		         (i == 0 || a[i - 1]->status == 0 || a[i]->status != 0);
	}
	for (int i = 0; i < N; i++) {
		rt_app_free(a[i]);
	}
	is_int(ok_n + canceled, N, "each completed (0) or RAFT_CANCELED");
	ok(ok_n >= 5 && canceled > 0 && prefix,
	   "completed ones are a prefix (%d ok, %d canceled)", ok_n, canceled);
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	is_int(l.n, ok_n, "exactly the completed appends are on disk");
	rt_free_load(&l);
	rt_close(&h);
}

static void
test_injected_failure(void)
{
	struct raftio_options opt = { 0 };
	struct raftio_stats st;
	struct rt_app *a;
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];
	int fired;

	rt_newdir(dir, sizeof(dir));
	opt.faults.fail_txn = 2;
	rt_open(&h, dir, &opt);
	rt_load(&h, &l);
	is_int(append_wait(&h, 1, 1, 1, SIZE_MAX), 0, "first write ok");
	is_int(append_wait(&h, 2, 3, 1, SIZE_MAX), RAFT_IOERR,
	       "injected EIO -> the append callback gets RAFT_IOERR");
	like(h.io.errmsg, "injected", "errmsg says why");
	a = rt_app_new(5, 1, 1, SIZE_MAX);
	fired = rt_fired;
	is_int(rt_submit(&h.io, a, 0), RAFT_IOERR,
	       "a later append is refused: the log would have a hole");
	rt_run_until(&rt_fired, fired + 1, 100);
	is_int(rt_fired, fired, "and its callback never fires");
	rt_app_free(a);
	is_int(h.io.truncate(&h.io, 2), RAFT_IOERR, "truncate refused too");
	is_int(h.io.set_term(&h.io, 2), 0, "term writes still work");
	raftio_stats(&h.io, &st);
	ok(st.poisoned && st.last_error == TB_EIO && st.failures == 1,
	   "stats: poisoned, last error io, one failure");
	rt_close(&h);
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	ok(l.n == 1 && l.term == 2 &&
	       rt_entry_ok(&l.entries[0], 1, 1, rt_len(1)),
	   "reload: only the first entry, nothing half-written");
	rt_free_load(&l);
	is_int(append_wait(&h, 2, 1, 2, SIZE_MAX), 0,
	       "after a reopen the log takes writes again");
	rt_close(&h);
}

static int get_fired;
static struct raft_snapshot *got_snap;
static int got_status;

static void
snapshot_get_cb(struct raft_io_snapshot_get *req, struct raft_snapshot *s,
                int status)
{
	(void)req;
	if (rt_in_call) {
		rt_inside++;
	}
	got_snap = s;
	got_status = status;
	get_fired++;
}

static int put_fired, put_status;

static void
snapshot_put_cb(struct raft_io_snapshot_put *req, int status)
{
	(void)req;
	if (rt_in_call) {
		rt_inside++;
	}
	put_status = status;
	put_fired++;
}

static int
put_wait(struct rt_io *h, unsigned trailing, const struct raft_snapshot *s)
{
	struct raft_io_snapshot_put req;
	int rv, target = put_fired + 1;

	rt_in_call = true;
	rv = h->io.snapshot_put(&h->io, trailing, &req, s, snapshot_put_cb);
	rt_in_call = false;
	if (rv != 0) {
		return -rv;
	}
	return rt_run_until(&put_fired, target, 10000) ? put_status : -1000;
}

static bool
snap_same(const struct raft_snapshot *s, raft_index index, raft_term term,
          const struct raft_configuration *c, const void *data, size_t len)
{
	if (s == NULL || s->index != index || s->term != term ||
	    s->configuration_index != 1 || s->n_bufs != 1 ||
	    s->bufs[0].len != len || memcmp(s->bufs[0].base, data, len) != 0 ||
	    s->configuration.n != c->n) {
		return false;
	}
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *x = &s->configuration.servers[i];
		if (x->id != c->servers[i].id ||
		    x->role != c->servers[i].role ||
		    strcmp(x->address, c->servers[i].address) != 0) {
			return false;
		}
	}
	return true;
}

static void
test_snapshots(void)
{
	struct raft_configuration c = conf_of(2);
	struct raft_io_snapshot_get get;
	struct raft_snapshot s = { 0 };
	struct raft_buffer bufs[3];
	struct rt_loaded l;
	struct rt_io h;
	enum { BIG = 5 * 512 * 1024 + 7 }; /* crosses 1 MiB chunks */
	uint8_t *big = malloc(BIG);
	char dir[128];
	bool good = true;
	int rv;

	for (size_t i = 0; i < BIG; i++) {
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	}
	rt_newdir(dir, sizeof(dir));
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	rt_in_call = true;
	rv = h.io.snapshot_get(&h.io, &get, snapshot_get_cb);
	rt_in_call = false;
	rt_run_until(&get_fired, 1, 5000);
	ok(rv == 0 && got_status == RAFT_NOTFOUND && got_snap == NULL,
	   "snapshot_get without a snapshot -> RAFT_NOTFOUND");
	is_int(append_wait(&h, 1, 20, 1, SIZE_MAX), 0, "append 1..20");
	s.index = 15;
	s.term = 1;
	s.configuration = c;
	s.configuration_index = 1;
	bufs[0].base = "hello ";
	bufs[0].len = 6;
	bufs[1].base = "";
	bufs[1].len = 0;
	bufs[2].base = "world";
	bufs[2].len = 5;
	s.bufs = bufs;
	s.n_bufs = 3;
	is_int(put_wait(&h, 5, &s), 0, "snapshot_put(index 15, trailing 5)");
	rt_close(&h);
	rt_open(&h, dir, NULL);
	is_int(rt_load(&h, &l), 0, "reload");
	ok(snap_same(l.snap, 15, 1, &c, "hello world", 11),
	   "the snapshot: index, term, configuration, data in one buffer");
	ok(l.start == 11 && l.n == 10, "entries 11..20 kept (start %llu, %zu)",
	   l.start, l.n);
	for (size_t i = 0; i < l.n; i++) {
		good = good &&
		       rt_entry_ok(&l.entries[i], 11 + i, 1, rt_len(11 + i));
	}
	ok(good, "trailing entries intact");
	rt_free_load(&l);
	rt_in_call = true;
	rv = h.io.snapshot_get(&h.io, &get, snapshot_get_cb);
	rt_in_call = false;
	ok(rv == 0 && rt_run_until(&get_fired, 2, 5000) && got_status == 0,
	   "snapshot_get completes later");
	ok(snap_same(got_snap, 15, 1, &c, "hello world", 11),
	   "snapshot_get returns what was put");
	raftio_snapshot_free(got_snap);
	/* Install a leader's snapshot: trailing 0 replaces the whole log. */
	s.index = 30;
	s.term = 2;
	bufs[0].base = big;
	bufs[0].len = 1000;
	bufs[1].base = big + 1000;
	bufs[1].len = BIG - 1000;
	s.n_bufs = 2;
	is_int(put_wait(&h, 0, &s), 0, "snapshot_put(index 30, trailing 0)");
	is_int(append_wait(&h, 31, 1, 2, SIZE_MAX), 0, "append at 31");
	rt_close(&h);
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	ok(snap_same(l.snap, 30, 2, &c, big, BIG),
	   "installed snapshot of %d bytes round-trips", BIG);
	ok(l.start == 31 && l.n == 1 &&
	       rt_entry_ok(&l.entries[0], 31, 2, rt_len(31)),
	   "old log gone, the log continues at 31");
	rt_free_load(&l);
	rt_close(&h);
	free(big);
	raft_configuration_close(&c);
}

static void
test_map_full(void)
{
	struct raftio_options opt = { 0 };
	struct raftio_stats st;
	struct rt_loaded l;
	struct raft_io io;
	struct rt_io h;
	char dir[128], msg[256] = "";
	int rv = 0, n = 0;
	bool good = true;

	rt_newdir(dir, sizeof(dir));
	opt.map_size = 4096;
	rv = raftio_init(&io, &rt_loop, dir, &opt, msg, sizeof(msg));
	ok(rv == RAFT_NOSPACE && msg[0] != '\0',
	   "a map too small for the store fails init cleanly (%d: %s)", rv,
	   msg);
	rt_newdir(dir, sizeof(dir));
	opt.map_size = 256 * 1024;
	is_int(rt_open(&h, dir, &opt), 0, "open with a 256 KiB map");
	rt_load(&h, &l);
	while (n < 200 && (rv = append_wait(&h, n + 1, 1, 1, 4000)) == 0) {
		n++;
	}
	ok(n > 0 && rv == RAFT_NOSPACE,
	   "after %d entries of 4000 bytes the append fails: RAFT_NOSPACE", n);
	like(h.io.errmsg, "map", "errmsg: %s", h.io.errmsg);
	raftio_stats(&h.io, &st);
	ok(st.last_error == TB_EFULL && raftio_tb_err(rv) == TB_EFULL,
	   "stats and the mapping say store_full");
	is_int(append_wait(&h, n + 1, 1, 1, 10), -RAFT_IOERR,
	       "later appends are refused");
	rt_close(&h);
	rt_open(&h, dir, NULL);
	is_int(rt_load(&h, &l), 0, "reopen with the default map");
	is_int(l.n, n, "the %d committed entries load", n);
	for (size_t i = 0; i < l.n; i++) {
		good = good && rt_entry_ok(&l.entries[i], i + 1, 1, 4000);
	}
	ok(good, "intact");
	rt_free_load(&l);
	rt_close(&h);
}

static void
test_recover(void)
{
	struct raft_configuration c1 = conf_of(1), c3 = conf_of(3);
	struct raft_buffer enc;
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];

	rt_newdir(dir, sizeof(dir));
	rt_open(&h, dir, NULL);
	h.io.bootstrap(&h.io, &c1);
	rt_load(&h, &l);
	rt_free_load(&l);
	h.io.set_term(&h.io, 3);
	append_wait(&h, 2, 2, 3, SIZE_MAX);
	rt_close(&h);
	rt_open(&h, dir, NULL);
	is_int(h.io.recover(&h.io, &c3), 0, "recover with 3 servers");
	rt_load(&h, &l);
	raft_configuration_encode(&c3, &enc);
	ok(l.n == 4 && l.entries[3].type == RAFT_CHANGE &&
	       l.entries[3].term == 3 && l.entries[3].buf.len == enc.len &&
	       memcmp(l.entries[3].buf.base, enc.base, enc.len) == 0,
	   "the forced configuration follows the log, in its last term");
	raft_free(enc.base);
	rt_free_load(&l);
	rt_close(&h);
	raft_configuration_close(&c1);
	raft_configuration_close(&c3);
}

static void
test_crash(void)
{
	struct raftio_options opt = { 0 };
	struct rt_app *a[5];
	struct rt_loaded l;
	struct rt_io h;
	char dir[128];
	int acked = 0;

	rt_newdir(dir, sizeof(dir));
	opt.faults.crash_after_commits = 3;
	rt_open(&h, dir, &opt);
	rt_load(&h, &l);
	for (int i = 0; i < 5; i++) {
		a[i] = rt_app_new(i + 1, 1, 1, SIZE_MAX);
		rt_submit(&h.io, a[i], i);
		rt_run_until(&rt_fired, rt_fired + 1, i < 2 ? 5000 : 100);
	}
	is_int(h.io.set_term(&h.io, 9), RAFT_IOERR,
	       "a crashed writer fails set_term");
	rt_close(&h);
	for (int i = 0; i < 5; i++) {
		acked += a[i]->status == 0;
	}
	ok(acked == 2 && a[2]->status == RAFT_CANCELED &&
	       a[4]->status == RAFT_CANCELED,
	   "two acknowledged, the rest canceled at close");
	rt_open(&h, dir, NULL);
	rt_load(&h, &l);
	ok(l.n == 3,
	   "on disk: both acknowledged writes and the unanswered "
	   "third (%zu entries)",
	   l.n);
	for (int i = 0; i < 5; i++) {
		rt_app_free(a[i]);
	}
	rt_free_load(&l);
	rt_close(&h);
}

static int sends, send_status, ticks, recvs, works, work_status;
static uv_thread_t work_thread;
static unsigned short sent_type;

static void
send_cb(struct raft_io_send *req, int status)
{
	(void)req;
	if (rt_in_call) {
		rt_inside++;
	}
	send_status = status;
	sends++;
}

static int
transport_send(void *data, const struct raft_message *msg)
{
	(void)data;
	sent_type = msg->type;
	return 0;
}

static void
tick_cb(struct raft_io *io)
{
	(void)io;
	ticks++;
}

static void
recv_cb(struct raft_io *io, struct raft_message *msg)
{
	(void)io;
	(void)msg;
	recvs++;
}

static int
work_fn(struct raft_io_async_work *req)
{
	(void)req;
	work_thread = uv_thread_self();
	return 7;
}

static void
work_cb(struct raft_io_async_work *req, int status)
{
	(void)req;
	if (rt_in_call) {
		rt_inside++;
	}
	work_status = status;
	works++;
}

static void
test_misc(void)
{
	struct raftio_options opt = { 0 };
	struct raft_io_async_work work;
	struct raft_io_send req;
	struct raft_message m;
	struct rt_io h, g;
	char dir[128];
	uv_thread_t self = uv_thread_self();
	bool same = true, range = true;
	int rv;

	opt.seed = 42;
	rt_newdir(dir, sizeof(dir));
	rt_open(&h, dir, &opt);
	rt_newdir(dir, sizeof(dir));
	opt.transport.send = transport_send;
	rt_open(&g, dir, &opt);
	for (int i = 0; i < 100; i++) {
		int x = h.io.random(&h.io, 1000, 2000);
		same = same && x == g.io.random(&g.io, 1000, 2000);
		range = range && x >= 1000 && x < 2000;
	}
	ok(same && range, "random: seeded, repeatable, in [min, max)");
	ok(h.io.time(&h.io) == uv_now(&rt_loop), "time is the loop's");
	memset(&m, 0, sizeof(m));
	m.type = RAFT_IO_TIMEOUT_NOW;
	m.server_id = 2;
	m.server_address = "127.0.0.1:9002";
	rt_in_call = true;
	rv = h.io.send(&h.io, &req, &m, send_cb);
	rt_in_call = false;
	ok(rv == 0 && rt_run_until(&sends, 1, 5000) &&
	       send_status == RAFT_NOCONNECTION,
	   "send without a transport completes later: RAFT_NOCONNECTION");
	rt_in_call = true;
	rv = g.io.send(&g.io, &req, &m, send_cb);
	rt_in_call = false;
	ok(rv == 0 && rt_run_until(&sends, 2, 5000) && send_status == 0 &&
	       sent_type == RAFT_IO_TIMEOUT_NOW,
	   "send through a transport: it sees the message, status 0");
	is_int(raftio_recv(&h.io, &m), RAFT_CANCELED, "recv before start");
	is_int(h.io.start(&h.io, 5, tick_cb, recv_cb), 0, "start");
	is_int(raftio_recv(&h.io, &m), 0, "recv after start");
	is_int(recvs, 1, "reaches the recv callback");
	ok(rt_run_until(&ticks, 3, 2000), "the tick fires every 5 ms");
	work.work = work_fn;
	rt_in_call = true;
	rv = h.io.async_work(&h.io, &work, work_cb);
	rt_in_call = false;
	ok(rv == 0 && rt_run_until(&works, 1, 5000) && work_status == 7 &&
	       !uv_thread_equal(&work_thread, &self),
	   "async_work runs off the loop thread and reports its result");
	rt_close(&h);
	rt_close(&g);
	is_int(raftio_tb_err(RAFT_CANCELED), TB_ECLOSED, "canceled -> closed");
}

#include "tests/raftio_raft.h"

int
main(void)
{
	alarm(300); /* a hung loop must not hang the suite */
	rt_setup();
	test_bootstrap();
	test_term_vote();
	test_roundtrip();
	test_order_batching();
	test_truncate_inflight();
	test_close_pending();
	test_injected_failure();
	test_snapshots();
	test_map_full();
	test_recover();
	test_crash();
	test_misc();
	test_raft();
	is_int(rt_inside, 0, "no callback ever fired inside its call");
	is_int(uv_loop_close(&rt_loop), 0, "every handle was closed");
	return done_testing();
}
