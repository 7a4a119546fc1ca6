/* Helpers for the raftio tests: temporary stores, a bounded loop runner,
 * generated log entries and append requests that record their callbacks. */
#ifndef TB_TESTS_RAFTIO_UTIL_H
#define TB_TESTS_RAFTIO_UTIL_H

#include "tests/fs_util.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <raft.h>
#include <uv.h>

#include "consensus/raftio.h"

static uv_loop_t rt_loop;
static char rt_base[64];
static int rt_ndirs;

static void
rt_cleanup(void)
{
	if (rt_base[0] != '\0') {
		tu_rmtree(rt_base);
	}
}

/* rt_setup makes the temporary root (removed at exit) and the loop. */
static void
rt_setup(void)
{
	snprintf(rt_base, sizeof(rt_base), "/tmp/tb-raftio.XXXXXX");
	if (mkdtemp(rt_base) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(rt_cleanup);
	uv_loop_init(&rt_loop);
}

/* rt_newdir names a fresh store directory (raftio creates it). */
static void
rt_newdir(char *out, size_t n)
{
	snprintf(out, n, "%s/s%d", rt_base, rt_ndirs++);
}

static bool rt_timed_out;

static void
rt_guard_cb(uv_timer_t *t)
{
	(void)t;
	rt_timed_out = true;
}

/* rt_run_pred runs the loop until pred(arg) holds or ms elapse; returns
 * whether it holds. */
static bool
rt_run_pred(bool (*pred)(const void *), const void *arg, unsigned ms)
{
	uv_timer_t guard;

	rt_timed_out = false;
	uv_timer_init(&rt_loop, &guard);
	uv_timer_start(&guard, rt_guard_cb, ms, 0);
	while (!pred(arg) && !rt_timed_out) {
		uv_run(&rt_loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&rt_loop, UV_RUN_NOWAIT);
	return pred(arg);
}

static const int *rt_counter;

static bool
rt_counter_reached(const void *target)
{
	return *rt_counter >= *(const int *)target;
}

/* rt_run_until runs the loop until *counter >= target or ms elapse;
 * returns whether the target was reached. */
static bool
rt_run_until(const int *counter, int target, unsigned ms)
{
	rt_counter = counter;
	return rt_run_pred(rt_counter_reached, &target, ms);
}

/* Generated entries: length, type and bytes follow from index and term,
 * so that a load can be checked without keeping the originals. */
static size_t
rt_len(raft_index idx)
{
	return (size_t)((idx * 37u) % 300u);
}

static unsigned short
rt_type(raft_index idx)
{
	return idx % 7 == 0    ? RAFT_BARRIER
	       : idx % 11 == 0 ? RAFT_CHANGE
	                       : RAFT_COMMAND;
}

static uint8_t
rt_byte(raft_index idx, raft_term term, size_t j)
{
	return (uint8_t)(idx * 131u + j * 7u + term * 17u);
}

/* rt_entry_ok checks a loaded entry against the generator. */
static bool
rt_entry_ok(const struct raft_entry *e, raft_index idx, raft_term term,
            size_t len)
{
	const uint8_t *p = e->buf.base;

	if (e->term != term || e->type != rt_type(idx) || e->buf.len != len) {
		return false;
	}
	for (size_t j = 0; j < len; j++) {
		if (p[j] != rt_byte(idx, term, j)) {
			return false;
		}
	}
	return true;
}

/* One append request and the entries it owns until its callback. */
struct rt_app {
	struct raft_io_append req;
	struct raft_entry *e;
	unsigned n;
	raft_index first;
	int seq;
	int status;
	bool fired;
};

static bool rt_in_call;     /* set around every submitting call */
static int rt_inside;       /* callbacks that fired inside one */
static int rt_fired;        /* append callbacks so far */
static int rt_order[20000]; /* seq of each fired append, in order */

static void
rt_append_cb(struct raft_io_append *req, int status)
{
	struct rt_app *a = req->data;

	if (rt_in_call) {
		rt_inside++;
	}
	a->fired = true;
	a->status = status;
	if (rt_fired < (int)(sizeof(rt_order) / sizeof(rt_order[0]))) {
		rt_order[rt_fired] = a->seq;
	}
	rt_fired++;
}

/* rt_app_new builds n entries from first in term; len overrides the
 * generated length when not SIZE_MAX. */
static struct rt_app *
rt_app_new(raft_index first, unsigned n, raft_term term, size_t len)
{
	struct rt_app *a = calloc(1, sizeof(*a));

	a->e = calloc(n, sizeof(*a->e));
	a->n = n;
	a->first = first;
	a->req.data = a;
	for (unsigned i = 0; i < n; i++) {
		raft_index idx = first + i;
		size_t l = len != SIZE_MAX ? len : rt_len(idx);
		uint8_t *p = malloc(l > 0 ? l : 1);

		for (size_t j = 0; j < l; j++) {
			p[j] = rt_byte(idx, term, j);
		}
		a->e[i].term = term;
		a->e[i].type = rt_type(idx);
		a->e[i].buf.base = p;
		a->e[i].buf.len = l;
	}
	return a;
}

static void
rt_app_free(struct rt_app *a)
{
	for (unsigned i = 0; i < a->n; i++) {
		free(a->e[i].buf.base);
	}
	free(a->e);
	free(a);
}

/* rt_submit calls io->append with the inside-the-call detector armed. */
static int
rt_submit(struct raft_io *io, struct rt_app *a, int seq)
{
	int rv;

	a->seq = seq;
	rt_in_call = true;
	rv = io->append(io, &a->req, a->e, a->n, rt_append_cb);
	rt_in_call = false;
	return rv;
}

/* An open backend. */
struct rt_io {
	struct raft_io io;
	int closed;
	int fired_at_close; /* rt_fired when the close callback ran */
};

static void
rt_close_cb(struct raft_io *io)
{
	struct rt_io *h = io->data;

	h->closed++;
	h->fired_at_close = rt_fired;
}

static int
rt_open(struct rt_io *h, const char *dir, const struct raftio_options *opt)
{
	char errmsg[256] = "";
	int rv;

	memset(h, 0, sizeof(*h));
	rv = raftio_init(&h->io, &rt_loop, dir, opt, errmsg, sizeof(errmsg));
	if (rv != 0) {
		printf("# raftio_init %s: %s\n", dir, errmsg);
		return rv;
	}
	h->io.data = h;
	return h->io.init(&h->io, 1, "127.0.0.1:9001");
}

/* rt_close closes h and waits (bounded) for its close callback. */
static bool
rt_close(struct rt_io *h)
{
	bool done;

	h->io.close(&h->io, rt_close_cb);
	done = rt_run_until(&h->closed, 1, 10000);
	if (done) {
		raftio_close(&h->io);
	}
	return done;
}

/* rt_load loads into the given outputs; entries freed by rt_free_load. */
struct rt_loaded {
	raft_term term;
	raft_id vote;
	struct raft_snapshot *snap;
	raft_index start;
	struct raft_entry *entries;
	size_t n;
};

static int
rt_load(struct rt_io *h, struct rt_loaded *l)
{
	memset(l, 0, sizeof(*l));
	return h->io.load(&h->io, &l->term, &l->vote, &l->snap, &l->start,
	                  &l->entries, &l->n);
}

/* rt_free_load frees as libraft would: one batch, the array, the
 * snapshot with its configuration and buffers. */
static void
rt_free_load(struct rt_loaded *l)
{
	if (l->entries != NULL) {
		raft_free(l->entries[0].batch);
		raft_free(l->entries);
	}
	if (l->snap != NULL) {
		raft_configuration_close(&l->snap->configuration);
		for (unsigned i = 0; i < l->snap->n_bufs; i++) {
			raft_free(l->snap->bufs[i].base);
		}
		raft_free(l->snap->bufs);
		raft_free(l->snap);
	}
	memset(l, 0, sizeof(*l));
}

#endif
