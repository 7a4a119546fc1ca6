/* A seeded simulator of the outbox protocol (replication/outbox.h): the
 * seven regions of 济南/青岛 under 山东 (370000; 370100, 370200; 370102,
 * 370103, 370202, 370203) exchange entries with their parents and children
 * over simulated links that drop, duplicate, reorder, delay and partition,
 * while group leaders crash and come back. Each region's group is modelled
 * as its replicated records plus a leader: proposals are applied after a
 * commit delay, or lost with the leader that made them; the driver is
 * volatile and made anew at every restart.
 *
 * Invariants, checked at every apply: a destination delivers exactly the
 * origin's entries, in order, without gaps or duplicates (its delivered
 * list is always a prefix of what the origin emitted); cursors only move
 * forward; an origin never believes more acknowledged than the destination
 * delivered. Once the faults stop: every emitted entry is delivered and
 * acknowledged, and every outbox is empty.
 *
 * Recoveries: a region's group may lose its quorum and come back from a
 * survivor at its last checkpoint, at a higher incarnation: entries it
 * emitted since are lost (some delivered already), deliveries it applied
 * since are forgotten (its cursors go back; its origins SKIP it past what
 * they dropped), and old members forge entries at the old incarnation's
 * next position. The invariants then hold per entry: what its origin
 * emitted at that position, applied at most once, nothing before it
 * skipped unless lost (or forgotten and skipped), and every forged entry
 * dropped.
 *
 * Runs: each region runs a build that takes DATA_RUN frames or not (its
 * peers send it runs or single frames), and its group proposes runs as one
 * DELIVER (feature level 3) or each entry alone; a group's level may rise
 * at a restart. A delivered run is checked entry by entry against what the
 * origin emitted at those positions, its delivered prefix skipped.
 *
 *   test_outbox_sim                  the CI seeds (TB_LONG=1: ten times more)
 *   test_outbox_sim --seed S --trace replay one seed, printing every event */
#include "replication/outbox.h"
#include "tests/sim_rng.h"
#include "tests/tap.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NREG    7
#define MAXEV   (1u << 20)
#define SIM_WIN 16 /* the window, so the longest run */

static const uint32_t codes[NREG] = { 370000, 370100, 370200, 370102,
	                              370103, 370202, 370203 };
static const int parent_of[NREG] = { -1, 0, 0, 1, 1, 2, 2 };

/* ---- the world ---------------------------------------------------------- */

struct ids {
	uint64_t *v;
	size_t n, cap;
};

/* One entry of a stream, as its origin emitted it: its position, its
 * payload, lost (a recovery of the origin lost it with the unreplicated
 * tail of its log) and delivered (the destination applied it). */
struct hent {
	struct outbox_pos pos;
	uint64_t id;
	bool lost, delivered;
	bool forgot; /* applied at a destination that lost it (a recovery) */
};

struct hist {
	struct hent *v;
	size_t n, cap;
	size_t done; /* the entries before are delivered or lost */
};

struct region {
	int ix;
	bool up;
	uint64_t epoch;       /* bumped at every crash: a leader's term */
	uint32_t inc;         /* the group's incarnation */
	uint64_t epoch_floor; /* proposals of older epochs are lost */
	struct outbox_out out[NREG];
	struct outbox_in in[NREG];
	struct hist emitted[NREG];  /* by destination, in position order */
	struct ids delivered[NREG]; /* by origin, in delivery order */
	/* What a survivor holds: the records and how many entries were
	 * emitted, as of the last checkpoint. */
	struct outbox_out ck_out[NREG];
	size_t ck_n[NREG];
	struct outbox_in ck_in[NREG];
	size_t ck_done[NREG];       /* of the stream from each origin */
	struct outbox_pos hw[NREG]; /* the highest cursor from each origin,
	                             * across recoveries */
	struct outbox_driver drv;
	uint8_t scratch[8];
	uint8_t runbuf[SIM_WIN * 10];
	bool takes_runs; /* its build decodes DATA_RUN frames */
	bool level3;     /* its group proposes runs */
};

enum ev_type {
	EV_TICK,
	EV_MSG,
	EV_APPLY,
	EV_EMIT,
	EV_CRASH,
	EV_RESTART,
	EV_CUT,
	EV_HEAL,
	EV_CKPT,
	EV_RECOVER,
	EV_GHOST
};

enum { CMD_EMIT = 100 };

struct event {
	uint64_t at, serial;
	enum ev_type type;
	int reg;   /* the region it happens at */
	int other; /* EV_CUT/EV_HEAL: the child end of the link */
	uint64_t epoch;
	int cmd_type;          /* EV_APPLY: OUTBOX_CMD_* or CMD_EMIT */
	struct outbox_msg msg; /* EV_MSG; EV_APPLY: origin/dest/pos/n */
	uint64_t id;           /* payload */
	uint64_t ids[SIM_WIN]; /* a run's payloads (msg.n of them) */
};

struct sim {
	uint64_t now, serial;
	struct region r[NREG];
	bool cut[NREG]; /* the link between i and its parent is down */
	struct event *heap;
	size_t n_heap;
	bool faults; /* drop, dup, crash, cut (the first phase) */
	bool trace;
	uint64_t next_id;
	uint64_t stats_sent, stats_dropped, stats_dups, stats_lost_props;
	uint64_t stats_runs_sent, stats_run_delivers, stats_run_skips,
	    stats_run_refused;
	uint64_t stats_recoveries, stats_lost_entries, stats_lost_delivered,
	    stats_old_acked, stats_unauth, stats_ghosts, stats_ghosts_recv;
	uint64_t stats_forgot, stats_skips, stats_skipped;
	uint64_t ghost_ids;
	int failed;
	char why[256];
	enum outbox_verdict last_run_verdict;
};

static struct sim S;

static void
ids_push(struct ids *l, uint64_t v)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (l->v == NULL) {
			abort();
		}
	}
	l->v[l->n++] = v;
}

static void
hist_push(struct hist *h, struct outbox_pos pos, uint64_t id)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
		if (h->v == NULL) {
			abort();
		}
	}
	h->v[h->n++] = (struct hent){ pos, id, false, false, false };
}

/* hist_find: the index of the entry at pos, or -1. */
static long
hist_find(const struct hist *h, struct outbox_pos pos)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = outbox_pos_cmp(h->v[mid].pos, pos);

		if (c == 0) {
			return (long)mid;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

/* hist_above: the index of the first entry above pos. */
static size_t
hist_above(const struct hist *h, struct outbox_pos pos)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (outbox_pos_cmp(h->v[mid].pos, pos) <= 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static int
ev_less(const struct event *a, const struct event *b)
{
	return a->at != b->at ? a->at < b->at : a->serial < b->serial;
}

static void
push(struct event e)
{
	size_t i;

	if (S.n_heap == MAXEV) {
		fprintf(stderr, "sim: event heap full\n");
		abort();
	}
	e.serial = S.serial++;
	i = S.n_heap++;
	while (i > 0 && ev_less(&e, &S.heap[(i - 1) / 2])) {
		S.heap[i] = S.heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	S.heap[i] = e;
}

static struct event
pop(void)
{
	struct event top = S.heap[0], last = S.heap[--S.n_heap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= S.n_heap) {
			break;
		}
		if (c + 1 < S.n_heap && ev_less(&S.heap[c + 1], &S.heap[c])) {
			c++;
		}
		if (!ev_less(&S.heap[c], &last)) {
			break;
		}
		S.heap[i] = S.heap[c];
		i = c;
	}
	S.heap[i] = last;
	return top;
}

static int
ix_of(uint32_t code)
{
	int i;

	for (i = 0; i < NREG; i++) {
		if (codes[i] == code) {
			return i;
		}
	}
	return -1;
}

static bool
linked(int a, int b)
{
	return parent_of[a] == b || parent_of[b] == a;
}

static bool
link_up(int a, int b)
{
	int child = parent_of[a] == b ? a : b;

	return !S.cut[child];
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	if (S.failed++) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(S.why, sizeof(S.why), fmt, ap);
	va_end(ap);
}

/* ---- the env of each region's driver ------------------------------------ */

static uint64_t
env_now(void *data)
{
	(void)data;
	return S.now;
}

/* run_ids reads the n 8-byte payloads of a run into ids. */
static int
run_ids(const uint8_t *p, size_t len, unsigned n, uint64_t *ids)
{
	const uint8_t *e;
	size_t elen;
	unsigned i;

	if (n == 0 || n > SIM_WIN) {
		fail("a run of %u entries (window %d)", n, SIM_WIN);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!outbox_run_next(&p, &len, &e, &elen) || elen != 8) {
			fail("run entry %u is not an 8-byte bin", i);
			return -1;
		}
		memcpy(&ids[i], e, 8);
	}
	if (len != 0) {
		fail("a run holds more than its %u entries", n);
		return -1;
	}
	return 0;
}

/* run_build writes ids as a run's bins into buf. */
static size_t
run_build(uint8_t *buf, size_t cap, const uint64_t *ids, unsigned n)
{
	size_t len = 0;
	unsigned i;
	uint8_t b[8];

	for (i = 0; i < n; i++) {
		memcpy(b, &ids[i], 8);
		if (!outbox_run_put(buf, cap, &len, b, 8)) {
			abort();
		}
	}
	return len;
}

static void
env_send(void *data, uint32_t to, const struct outbox_msg *m)
{
	struct region *r = data;
	struct event e = { 0 };
	int t = ix_of(to), copies = 1, k;

	S.stats_sent++;
	if (t < 0 || !linked(r->ix, t) || !link_up(r->ix, t) ||
	    (S.faults && sim_chance(100))) {
		S.stats_dropped++;
		return;
	}
	if (S.faults && sim_chance(50)) {
		copies = 2;
		S.stats_dups++;
	}
	e.type = EV_MSG;
	e.reg = t;
	e.msg = *m;
	e.msg.payload = NULL;
	/* What the link authenticates: the sender's incarnation now. */
	e.msg.from_inc = r->inc;
	if (m->type == OUTBOX_MSG_DATA) {
		if (m->len != 8) {
			fail("send: payload of %zu bytes", m->len);
			return;
		}
		memcpy(&e.id, m->payload, 8);
	}
	if (m->type == OUTBOX_MSG_DATA_RUN) {
		S.stats_runs_sent++;
		if (!S.r[t].takes_runs) {
			fail("%u sent a run to %u, which does not take runs",
			     codes[r->ix], to);
			return;
		}
		if (run_ids(m->payload, m->len, m->n, e.ids) != 0) {
			return;
		}
	}
	for (k = 0; k < copies; k++) {
		e.at = S.now + sim_between(1, S.faults ? 40 : 5);
		push(e);
	}
}

static void
env_propose(void *data, const struct outbox_cmd *c)
{
	struct region *r = data;
	struct event e = { 0 };

	e.type = EV_APPLY;
	e.reg = r->ix;
	e.epoch = r->epoch;
	e.cmd_type = (int)c->type;
	e.msg.origin = c->origin;
	e.msg.dest = c->dest;
	e.msg.pos = c->pos;
	e.msg.n = c->n;
	e.msg.from_inc = c->from_inc;
	if (c->type == OUTBOX_CMD_DELIVER && c->n > 0) {
		if (!r->level3) {
			fail("%u proposed a run below feature level 3",
			     codes[r->ix]);
			return;
		}
		if (run_ids(c->payload, c->len, c->n, e.ids) != 0) {
			return;
		}
	} else if (c->type == OUTBOX_CMD_DELIVER) {
		memcpy(&e.id, c->payload, 8);
	}
	e.at = S.now + sim_between(1, 8);
	push(e);
}

static int
env_out_get(void *data, uint32_t dest, struct outbox_out *o)
{
	struct region *r = data;
	int d = ix_of(dest);

	if (d < 0) {
		return -1;
	}
	*o = r->out[d];
	return 0;
}

static int
env_in_get(void *data, uint32_t origin, struct outbox_in *in)
{
	struct region *r = data;
	int o = ix_of(origin);

	if (o < 0) {
		return -1;
	}
	*in = r->in[o];
	return 0;
}

/* held: the entry at index i of the stream to d is still in r's outbox:
 * not lost, not acknowledged. */
static bool
held(const struct region *r, int d, long i)
{
	const struct hent *h = &r->emitted[d].v[i];

	return i >= 0 && !h->lost &&
	       outbox_pos_cmp(h->pos, r->out[d].acked) > 0;
}

static int
env_entry_get(void *data, uint32_t dest, struct outbox_pos pos,
              const uint8_t **p, size_t *len)
{
	struct region *r = data;
	int d = ix_of(dest);
	long i;

	if (d < 0 || (i = hist_find(&r->emitted[d], pos)) < 0 ||
	    !held(r, d, i)) {
		return -1;
	}
	memcpy(r->scratch, &r->emitted[d].v[i].id, 8);
	*p = r->scratch;
	*len = 8;
	return 0;
}

static int
env_entry_next(void *data, uint32_t dest, struct outbox_pos after,
               struct outbox_pos *next)
{
	struct region *r = data;
	int d = ix_of(dest);
	size_t i;

	if (d < 0) {
		return -1;
	}
	for (i = hist_above(&r->emitted[d], after); i < r->emitted[d].n; i++) {
		if (outbox_pos_cmp(r->emitted[d].v[i].pos, after) > 0 &&
		    held(r, d, (long)i)) {
			*next = r->emitted[d].v[i].pos;
			return 0;
		}
	}
	return -1;
}

static void
leader_start(struct region *r)
{
	struct outbox_env env = {
		r,           env_now,    env_send,      env_propose,
		env_out_get, env_in_get, env_entry_get, env_entry_next
	};
	struct outbox_config cfg = { 16, 20, 800, 200, 0 };
	int i;

	for (i = 0; i < (int)r->drv.n_peers; i++) {
		S.stats_unauth += r->drv.peers[i].unauth;
	}
	outbox_driver_init(&r->drv, codes[r->ix], &env, &cfg);
	r->drv.propose_runs = r->level3;
	for (i = 0; i < NREG; i++) {
		if (linked(r->ix, i)) {
			/* What the peer's hello said of its build. */
			outbox_driver_peer(&r->drv, codes[i])->takes_runs =
			    S.r[i].takes_runs;
		}
	}
}

/* ---- apply: the replicated half ------------------------------------------ */

/* take records that r applied the entry from o at pos, with payload id:
 * it must be what o emitted there, never applied before, and every entry
 * before it must be applied already or lost (with its origin's
 * unreplicated tail, at a recovery). */
static void
take(struct region *r, int o, struct outbox_pos pos, uint64_t id)
{
	struct hist *h = &S.r[o].emitted[r->ix];
	long i = hist_find(h, pos);
	size_t k;

	if (i < 0 || h->v[i].id != id) {
		fail("%u: delivery from %u at %u:%llu is %llx, origin "
		     "emitted %llx there",
		     codes[r->ix], codes[o], pos.inc,
		     (unsigned long long)pos.seq, (unsigned long long)id,
		     i < 0 ? 0ULL : (unsigned long long)h->v[i].id);
		return;
	}
	if (h->v[i].delivered || (size_t)i < h->done) {
		fail("%u: entry %u:%llu from %u applied twice or out of "
		     "order",
		     codes[r->ix], pos.inc, (unsigned long long)pos.seq,
		     codes[o]);
		return;
	}
	for (k = h->done; k < (size_t)i; k++) {
		if (!h->v[k].lost) {
			fail("%u: took %u:%llu from %u, but %u:%llu before it "
			     "(not lost) was never applied",
			     codes[r->ix], pos.inc, (unsigned long long)pos.seq,
			     codes[o], h->v[k].pos.inc,
			     (unsigned long long)h->v[k].pos.seq);
			return;
		}
	}
	h->v[i].delivered = true;
	h->v[i].forgot = false;
	S.stats_lost_delivered += h->v[i].lost;
	if (outbox_pos_cmp(pos, r->hw[o]) > 0) {
		r->hw[o] = pos;
	}
	h->done = (size_t)i + 1;
	ids_push(&r->delivered[o], id);
}

/* apply_run applies a DELIVER of a run at r from origin o: every entry of
 * the run must be what o emitted at its position (delivered or not), and
 * those past the cursor are delivered in order. */
static void
apply_run(struct region *r, const struct event *e, int o)
{
	const struct hist *sent = &S.r[o].emitted[r->ix];
	struct outbox_pos before = r->in[o].cursor, at;
	enum outbox_verdict v;
	uint64_t skip = 0, i;
	long k;

	v = outbox_deliver_run(&r->in[o], e->msg.pos, e->msg.n, &skip);
	S.last_run_verdict = v;
	S.stats_run_delivers++;
	for (i = 0; i < e->msg.n; i++) {
		at = (struct outbox_pos){ e->msg.pos.inc, e->msg.pos.seq + i };
		k = hist_find(sent, at);
		if (k < 0 || sent->v[k].id != e->ids[i]) {
			fail("%u: run from %u holds %llx at %u:%llu, origin "
			     "emitted %llx",
			     codes[r->ix], codes[o],
			     (unsigned long long)e->ids[i], at.inc,
			     (unsigned long long)at.seq,
			     k < 0 ? 0ULL : (unsigned long long)sent->v[k].id);
			return;
		}
	}
	if (v == OUTBOX_ACCEPT) {
		if (outbox_pos_cmp(r->in[o].cursor, before) <= 0) {
			fail("%u: cursor from %u went backwards", codes[r->ix],
			     codes[o]);
		}
		if (skip >= e->msg.n ||
		    (skip > 0 && (e->msg.pos.inc != before.inc ||
		                  e->msg.pos.seq + skip - 1 != before.seq))) {
			fail("%u: run %u:%llu+%u skipped %llu at cursor "
			     "%u:%llu",
			     codes[r->ix], e->msg.pos.inc,
			     (unsigned long long)e->msg.pos.seq, e->msg.n,
			     (unsigned long long)skip, before.inc,
			     (unsigned long long)before.seq);
		}
		S.stats_run_skips += skip > 0;
		outbox_in_by(&r->in[o], e->msg.from_inc);
		for (i = skip; i < e->msg.n; i++) {
			take(r, o,
			     (struct outbox_pos){ e->msg.pos.inc,
			                          e->msg.pos.seq + i },
			     e->ids[i]);
		}
		at = (struct outbox_pos){ e->msg.pos.inc,
			                  e->msg.pos.seq + e->msg.n - 1 };
		if (outbox_pos_cmp(r->in[o].cursor, at) != 0) {
			fail("%u: after a run from %u the cursor is %u:%llu, "
			     "not its end",
			     codes[r->ix], codes[o], r->in[o].cursor.inc,
			     (unsigned long long)r->in[o].cursor.seq);
		}
	} else {
		S.stats_run_refused++;
		if (outbox_pos_cmp(r->in[o].cursor, before) != 0) {
			fail("%u: a refused run moved the cursor",
			     codes[r->ix]);
		}
	}
	if (S.trace) {
		printf("# %llu %u deliver run from %u %u:%llu+%u: %s "
		       "(skip %llu)\n",
		       (unsigned long long)S.now, codes[r->ix], codes[o],
		       e->msg.pos.inc, (unsigned long long)e->msg.pos.seq,
		       e->msg.n, outbox_verdict_name(v),
		       (unsigned long long)skip);
	}
}

static void
apply(struct region *r, const struct event *e)
{
	int o = ix_of(e->msg.origin), d = ix_of(e->msg.dest);
	struct outbox_cmd c = { (enum outbox_cmd_type)e->cmd_type,
		                e->msg.origin,
		                e->msg.dest,
		                e->msg.pos,
		                NULL,
		                0,
		                e->msg.n,
		                e->msg.from_inc };
	enum outbox_verdict v;
	struct outbox_pos before, after, to;
	struct hist *h;
	uint8_t buf[8];

	if (e->cmd_type == CMD_EMIT) {
		struct outbox_pos p = outbox_emit(&r->out[d]);

		h = &r->emitted[d];
		if (h->n > 0 && outbox_pos_cmp(p, h->v[h->n - 1].pos) <= 0) {
			fail("%u emit towards %u: position %u:%llu is not "
			     "above the last one emitted, %u:%llu",
			     codes[r->ix], codes[d], p.inc,
			     (unsigned long long)p.seq, h->v[h->n - 1].pos.inc,
			     (unsigned long long)h->v[h->n - 1].pos.seq);
		}
		hist_push(h, p, e->id);
		if (r->up) {
			outbox_kick(&r->drv, codes[d]);
		}
		return;
	}
	if (e->cmd_type == OUTBOX_CMD_SKIP) {
		/* The origin acknowledged up to pos: only what this region
		 * lost with a recovery (forgot) or its origin lost may lie
		 * between its cursor and pos. */
		size_t k;

		h = &S.r[o].emitted[r->ix];
		v = outbox_skip(&r->in[o], e->msg.pos);
		for (k = h->done; v == OUTBOX_ACCEPT && k < h->n &&
		                  outbox_pos_cmp(h->v[k].pos, e->msg.pos) <= 0;
		     k++) {
			if (!h->v[k].lost && !h->v[k].forgot) {
				fail("%u: a skip from %u to %u:%llu passes "
				     "%u:%llu, never applied here",
				     codes[r->ix], codes[o], e->msg.pos.inc,
				     (unsigned long long)e->msg.pos.seq,
				     h->v[k].pos.inc,
				     (unsigned long long)h->v[k].pos.seq);
			}
			S.stats_skipped += h->v[k].forgot;
		}
		if (v == OUTBOX_ACCEPT) {
			h->done = k;
			outbox_in_by(&r->in[o], e->msg.from_inc);
			S.stats_skips++;
		}
		if (S.trace) {
			printf("# %llu %u skip from %u to %u:%llu: %s\n",
			       (unsigned long long)S.now, codes[r->ix],
			       codes[o], e->msg.pos.inc,
			       (unsigned long long)e->msg.pos.seq,
			       outbox_verdict_name(v));
		}
	} else if (e->cmd_type == OUTBOX_CMD_DELIVER && e->msg.n > 0) {
		apply_run(r, e, o);
		c.len =
		    run_build(r->runbuf, sizeof(r->runbuf), e->ids, e->msg.n);
		c.payload = r->runbuf;
		v = S.last_run_verdict;
	} else if (e->cmd_type == OUTBOX_CMD_DELIVER) {
		before = r->in[o].cursor;
		v = outbox_deliver(&r->in[o], e->msg.pos);
		if (v == OUTBOX_ACCEPT) {
			if (outbox_pos_cmp(r->in[o].cursor, before) <= 0) {
				fail("%u: cursor from %u went backwards",
				     codes[r->ix], codes[o]);
			}
			take(r, o, e->msg.pos, e->id);
			outbox_in_by(&r->in[o], e->msg.from_inc);
		}
		if (S.trace) {
			printf("# %llu %u deliver from %u %u:%llu: %s\n",
			       (unsigned long long)S.now, codes[r->ix],
			       codes[o], e->msg.pos.inc,
			       (unsigned long long)e->msg.pos.seq,
			       outbox_verdict_name(v));
		}
		memcpy(buf, &e->id, 8);
		c.payload = buf;
		c.len = 8;
	} else {
		v = outbox_ack(&r->out[d], e->msg.pos, &after, &to)
		        ? OUTBOX_ACCEPT
		        : OUTBOX_DUP;
		if (v == OUTBOX_ACCEPT) {
			/* Drop the old entries it acknowledges. */
			uint64_t n = 0;
			size_t k;

			h = &r->emitted[d];
			for (k = hist_above(h, after);
			     k < h->n && outbox_pos_cmp(h->v[k].pos, to) <= 0;
			     k++) {
				n += !h->v[k].lost &&
				     h->v[k].pos.inc < r->out[d].inc;
			}
			outbox_old_dropped(&r->out[d], n);
			S.stats_old_acked += n;
			for (n = 0, k = hist_above(h, r->out[d].acked);
			     k < h->n; k++) {
				n += !h->v[k].lost &&
				     h->v[k].pos.inc < r->out[d].inc;
			}
			if (n != r->out[d].old) {
				fail("%u: %llu old entries towards %u held, "
				     "the record says %llu",
				     codes[r->ix], (unsigned long long)n,
				     codes[d],
				     (unsigned long long)r->out[d].old);
			}
		}
		/* Against the highest cursor the destination ever had: a
		 * recovered destination may have gone back below it. */
		if (outbox_pos_cmp(r->out[d].acked, S.r[d].hw[r->ix]) > 0) {
			fail("%u: acked %u:%llu towards %u, which delivered "
			     "%u:%llu",
			     codes[r->ix], r->out[d].acked.inc,
			     (unsigned long long)r->out[d].acked.seq, codes[d],
			     S.r[d].hw[r->ix].inc,
			     (unsigned long long)S.r[d].hw[r->ix].seq);
		}
	}
	if (r->up) {
		outbox_applied(&r->drv, &c, v);
	}
}

/* ---- one run ------------------------------------------------------------- */

static void
schedule(enum ev_type t, int reg, uint64_t at)
{
	struct event e = { 0 };

	e.type = t;
	e.reg = reg;
	e.at = at;
	push(e);
}

/* recover: r's group lost its quorum and was recovered from a survivor
 * whose log ended at r's last checkpoint. What it applied since is gone:
 * entries emitted (lost: the destination may hold some), acknowledgements
 * (their entries are held again). Its inbound cursors are kept (see the
 * limits in docs/REPLICATION.md: a cursor that went back below what its
 * origin dropped is not recovered). The recovered group is incarnation
 * inc + 1; its leader starts again. */
static void
recover(struct region *r)
{
	int d;
	size_t k;

	r->inc++;
	for (d = 0; d < NREG; d++) {
		struct hist *h = &r->emitted[d];

		for (k = r->ck_n[d]; k < h->n; k++) {
			h->v[k].lost = true;
			S.stats_lost_entries++;
		}
		/* The stream from d: deliveries applied since are gone. */
		h = &S.r[d].emitted[r->ix];
		for (k = r->ck_done[d]; k < h->n; k++) {
			if (h->v[k].delivered) {
				h->v[k].delivered = false;
				h->v[k].forgot = true;
				S.stats_forgot++;
			}
		}
		h->done = r->ck_done[d];
		r->in[d] = r->ck_in[d];
		r->out[d] = r->ck_out[d];
		if (!outbox_reincarnate(&r->out[d], r->inc)) {
			fail("%u: reincarnation to %u refused", codes[r->ix],
			     r->inc);
		}
		r->ck_out[d] = r->out[d];
	}
	S.stats_recoveries++;
	if (S.trace) {
		printf("# %llu %u recovered at incarnation %u\n",
		       (unsigned long long)S.now, codes[r->ix], r->inc);
	}
	for (k = 0; k < 3; k++) {
		struct event x = { 0 };

		x.type = EV_GHOST;
		x.reg = r->ix;
		x.epoch = r->inc - 1;
		x.at = S.now + sim_between(100, 1500);
		push(x);
	}
	r->epoch++;
	r->epoch_floor = r->epoch;
	if (r->up) {
		r->up = false;
		schedule(EV_RESTART, r->ix, S.now + sim_between(20, 600));
	}
}

/* ghost: an old member of r's group, recovered without it, not fenced
 * yet (two old members could elect a leader between themselves), sends a
 * destination that has heard from the recovered group an entry of its own
 * at the next position of the old incarnation. The destination must drop
 * it: its sender's link says the old incarnation. */
static void
ghost(const struct event *e)
{
	int d, k;

	for (d = 0; d < NREG; d++) {
		struct region *t = &S.r[d];
		struct outbox_peer *p = NULL;
		struct event x = { 0 };

		if (!linked(e->reg, d) || !t->up ||
		    t->in[e->reg].cursor.inc != (uint32_t)e->epoch) {
			continue;
		}
		for (k = 0; k < (int)t->drv.n_peers; k++) {
			if (t->drv.peers[k].region == codes[e->reg]) {
				p = &t->drv.peers[k];
			}
		}
		if ((p == NULL || p->from_inc <= (uint32_t)e->epoch) &&
		    t->in[e->reg].by <= (uint32_t)e->epoch) {
			continue; /* not heard from the recovered group yet */
		}
		x.type = EV_MSG;
		x.reg = d;
		x.msg.type = OUTBOX_MSG_DATA;
		x.msg.origin = codes[e->reg];
		x.msg.dest = codes[d];
		x.msg.pos = t->in[e->reg].cursor;
		x.msg.pos.seq++;
		x.msg.from_inc = (uint32_t)e->epoch;
		x.id = (1ULL << 63) | ++S.ghost_ids;
		x.at = S.now + 1;
		push(x);
		S.stats_ghosts++;
	}
}

static void
step(const struct event *e)
{
	struct region *r = &S.r[e->reg];
	struct event x;
	int d, k;

	switch (e->type) {
	case EV_TICK:
		if (r->up) {
			outbox_tick(&r->drv);
		}
		schedule(EV_TICK, e->reg, S.now + 10);
		break;
	case EV_MSG:
		/* A frame in flight on a link cut meanwhile is lost. */
		if (!r->up ||
		    !link_up(e->reg, ix_of(e->msg.origin == codes[e->reg]
		                               ? e->msg.dest
		                               : e->msg.origin))) {
			break;
		}
		x = *e;
		if (x.msg.type == OUTBOX_MSG_DATA) {
			memcpy(r->scratch, &x.id, 8);
			x.msg.payload = r->scratch;
			x.msg.len = 8;
		}
		if (x.msg.type == OUTBOX_MSG_DATA_RUN) {
			x.msg.len = run_build(r->runbuf, sizeof(r->runbuf),
			                      x.ids, x.msg.n);
			x.msg.payload = r->runbuf;
		}
		S.stats_ghosts_recv +=
		    x.msg.type == OUTBOX_MSG_DATA && (x.id >> 63) != 0;
		outbox_recv(&r->drv, &x.msg);
		break;
	case EV_APPLY:
		if (e->epoch < r->epoch_floor) {
			/* Made before a recovery: not in the survivor's
			 * log. */
			S.stats_lost_props++;
			break;
		}
		if (e->epoch != r->epoch) {
			/* Its leader crashed: committed before, or lost. */
			if (sim_chance(500)) {
				S.stats_lost_props++;
				break;
			}
		}
		if (!r->up) {
			x = *e;
			x.epoch = r->epoch;
			x.at = S.now + 50;
			push(x); /* applied when the group is back */
			break;
		}
		apply(r, e);
		break;
	case EV_EMIT:
		if (!S.faults) {
			break; /* the workload stops with the faults */
		}
		if (r->up) {
			k = 0;
			do {
				d = (int)sim_between(0, NREG - 1);
			} while (!linked(e->reg, d) && ++k < 100);
			x = (struct event){ 0 };
			x.type = EV_APPLY;
			x.reg = e->reg;
			x.epoch = r->epoch;
			x.cmd_type = CMD_EMIT;
			x.msg.origin = codes[e->reg];
			x.msg.dest = codes[d];
			x.id = ++S.next_id;
			x.at = S.now + sim_between(1, 8);
			push(x);
		}
		schedule(EV_EMIT, e->reg, S.now + sim_between(1, 30));
		break;
	case EV_CRASH:
		if (!S.faults) {
			break;
		}
		if (r->up) {
			r->up = false;
			r->epoch++;
			if (S.trace) {
				printf("# %llu %u crashes\n",
				       (unsigned long long)S.now,
				       codes[e->reg]);
			}
			schedule(EV_RESTART, e->reg,
			         S.now + sim_between(20, 600));
		}
		schedule(EV_CRASH, e->reg, S.now + sim_between(200, 2000));
		break;
	case EV_RESTART:
		if (!r->up) {
			r->up = true;
			if (r->takes_runs && !r->level3 && sim_chance(250)) {
				r->level3 = true; /* the level was raised */
			}
			leader_start(r);
		}
		break;
	case EV_CUT:
		if (!S.faults) {
			break;
		}
		if (parent_of[e->other] >= 0 && !S.cut[e->other]) {
			S.cut[e->other] = true;
			x = (struct event){ 0 };
			x.type = EV_HEAL;
			x.other = e->other;
			x.at = S.now + sim_between(50, 1000);
			push(x);
		}
		x = (struct event){ 0 };
		x.type = EV_CUT;
		x.other = (int)sim_between(1, NREG - 1);
		x.at = S.now + sim_between(100, 1500);
		push(x);
		break;
	case EV_HEAL:
		S.cut[e->other] = false;
		break;
	case EV_CKPT:
		/* What a survivor would hold if the group lost its quorum
		 * now: these records and entries. */
		for (d = 0; d < NREG; d++) {
			r->ck_out[d] = r->out[d];
			r->ck_n[d] = r->emitted[d].n;
			r->ck_in[d] = r->in[d];
			r->ck_done[d] = S.r[d].emitted[e->reg].done;
		}
		schedule(EV_CKPT, e->reg, S.now + sim_between(20, 300));
		break;
	case EV_RECOVER:
		if (!S.faults) {
			break;
		}
		recover(r);
		schedule(EV_RECOVER, (int)sim_between(0, NREG - 1),
		         S.now + sim_between(800, 2500));
		break;
	case EV_GHOST:
		if (S.faults) {
			ghost(e);
		}
		break;
	}
}

/* settled: entry k of the stream i -> j needs nothing more: applied,
 * lost with its origin's tail, or applied at a destination that lost it
 * again with its own tail after the origin dropped it (acknowledged: an
 * idle stream leaves the cursor there; the next entry brings a SKIP). */
static bool
settled(int i, int j, size_t k)
{
	const struct hent *e = &S.r[i].emitted[j].v[k];

	return e->delivered || e->lost ||
	       (e->forgot && outbox_pos_cmp(e->pos, S.r[i].out[j].acked) <= 0);
}

static bool
quiet(void)
{
	int i, j;

	for (i = 0; i < NREG; i++) {
		if (!S.r[i].up) {
			return false;
		}
		for (j = 0; j < NREG; j++) {
			const struct hist *h = &S.r[i].emitted[j];
			size_t k;

			if (outbox_out_backlog(&S.r[i].out[j]) != 0) {
				return false;
			}
			for (k = h->done; k < h->n; k++) {
				if (!settled(i, j, k)) {
					return false;
				}
			}
		}
	}
	return true;
}

static void
world_free(void)
{
	int i, j;

	for (i = 0; i < NREG; i++) {
		for (j = 0; j < NREG; j++) {
			free(S.r[i].emitted[j].v);
			free(S.r[i].delivered[j].v);
		}
	}
	free(S.heap);
}

/* stuck fails naming the first stream that did not settle. */
static void
stuck(uint64_t end_faults)
{
	int i, j;

	for (i = 0; i < NREG; i++) {
		for (j = 0; j < NREG; j++) {
			const struct outbox_out *o = &S.r[i].out[j];
			const struct hist *h = &S.r[i].emitted[j];
			const struct outbox_in *in = &S.r[j].in[i];

			size_t k = h->done;

			while (k < h->n && settled(i, j, k)) {
				k++;
			}
			if (outbox_out_backlog(o) == 0 && k == h->n) {
				continue;
			}
			fail("not quiet %llu ms after the faults stopped: "
			     "%u -> %u at %u next %llu acked %u:%llu old %llu, "
			     "cursor %u:%llu, first not applied %u:%llu",
			     (unsigned long long)(S.now - end_faults), codes[i],
			     codes[j], o->inc, (unsigned long long)o->next,
			     o->acked.inc, (unsigned long long)o->acked.seq,
			     (unsigned long long)o->old, in->cursor.inc,
			     (unsigned long long)in->cursor.seq,
			     k < h->n ? h->v[k].pos.inc : 0,
			     k < h->n ? (unsigned long long)h->v[k].pos.seq
			              : 0ULL);
			return;
		}
	}
	fail("not quiet %llu ms after the faults stopped",
	     (unsigned long long)(S.now - end_faults));
}

/* run_seed returns 0 if every invariant held; fills *emitted. */
static int
run_seed(uint64_t seed, bool trace, uint64_t fault_ms, uint64_t *emitted,
         uint64_t *settle_ms)
{
	uint64_t end_faults, deadline;
	struct event x;
	int i, j;

	memset(&S, 0, sizeof(S));
	S.heap = malloc(MAXEV * sizeof(*S.heap));
	if (S.heap == NULL) {
		abort();
	}
	sim_seed(seed);
	S.trace = trace;
	S.faults = true;
	for (i = 0; i < NREG; i++) {
		/* A quarter of the regions run an older build (no runs); of
		 * the others a third still run at feature level 2. */
		S.r[i].takes_runs = !sim_chance(250);
		S.r[i].level3 = S.r[i].takes_runs && !sim_chance(333);
	}
	for (i = 0; i < NREG; i++) {
		S.r[i].ix = i;
		S.r[i].up = true;
		S.r[i].inc = 1;
		for (j = 0; j < NREG; j++) {
			outbox_out_init(&S.r[i].out[j], codes[j], 1);
			S.r[i].in[j].origin = codes[j];
			S.r[i].in[j].cursor.inc = 1;
		}
		leader_start(&S.r[i]);
		schedule(EV_CKPT, i, 0);
		schedule(EV_TICK, i, sim_between(0, 9));
		schedule(EV_EMIT, i, sim_between(0, 20));
		schedule(EV_CRASH, i, sim_between(100, 2000));
	}
	x = (struct event){ 0 };
	x.type = EV_CUT;
	x.other = (int)sim_between(1, NREG - 1);
	x.at = sim_between(50, 500);
	push(x);
	/* About two recoveries per seed, each at a random region. */
	schedule(EV_RECOVER, (int)sim_between(0, NREG - 1),
	         sim_between(300, 2500));

	end_faults = fault_ms;
	deadline = end_faults + 120000;
	while (S.n_heap > 0 && !S.failed) {
		x = pop();
		if (S.faults && x.at >= end_faults) {
			/* The faults stop: links heal, groups come back. */
			S.faults = false;
			for (i = 0; i < NREG; i++) {
				S.cut[i] = false;
				if (!S.r[i].up) {
					schedule(EV_RESTART, i, x.at);
				}
			}
		}
		S.now = x.at;
		if (S.now > deadline) {
			stuck(end_faults);
			break;
		}
		step(&x);
		if (!S.faults && quiet()) {
			break;
		}
	}
	for (i = 0; i < NREG; i++) {
		for (j = 0; j < (int)S.r[i].drv.n_peers; j++) {
			S.stats_unauth += S.r[i].drv.peers[j].unauth;
		}
	}
	*emitted = S.next_id;
	*settle_ms = S.now > end_faults ? S.now - end_faults : 0;
	if (!S.failed && !quiet()) {
		fail("the run ended before every entry was delivered");
	}
	world_free();
	return S.failed;
}

int
main(int argc, char **argv)
{
	uint64_t seed = 0, n_seeds = 60, emitted, settle, worst = 0, total = 0,
	         sent = 0, dropped = 0, dups = 0, lost = 0, runs = 0,
	         run_delivers = 0, run_skips = 0, run_refused = 0, recs = 0,
	         lost_e = 0, lost_d = 0, old_acked = 0, unauth = 0, ghosts = 0,
	         ghosts_recv = 0, forgot = 0, skips = 0, skipped = 0;
	bool trace = false, one = false;
	const char *long_run = getenv("TB_LONG");
	int i, failures = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 10);
			one = true;
		} else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
			n_seeds = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--trace")) {
			trace = true;
		} else {
			fprintf(stderr,
			        "usage: %s [--seed S [--trace]] "
			        "[--seeds N]\n",
			        argv[0]);
			return 2;
		}
	}
	if (long_run != NULL && !strcmp(long_run, "1") && !one) {
		n_seeds *= 10;
	}
	if (one) {
		int rv = run_seed(seed, trace, 4000, &emitted, &settle);

		ok(rv == 0,
		   "seed %llu: %s (%llu entries, quiet %llu ms "
		   "after the faults)",
		   (unsigned long long)seed, rv ? S.why : "invariants held",
		   (unsigned long long)emitted, (unsigned long long)settle);
		return done_testing();
	}
	for (seed = 1; seed <= n_seeds; seed++) {
		int rv = run_seed(seed, false, 4000, &emitted, &settle);

		total += emitted;
		sent += S.stats_sent;
		dropped += S.stats_dropped;
		dups += S.stats_dups;
		lost += S.stats_lost_props;
		runs += S.stats_runs_sent;
		run_delivers += S.stats_run_delivers;
		run_skips += S.stats_run_skips;
		run_refused += S.stats_run_refused;
		recs += S.stats_recoveries;
		lost_e += S.stats_lost_entries;
		lost_d += S.stats_lost_delivered;
		old_acked += S.stats_old_acked;
		unauth += S.stats_unauth;
		ghosts += S.stats_ghosts;
		ghosts_recv += S.stats_ghosts_recv;
		forgot += S.stats_forgot;
		skips += S.stats_skips;
		skipped += S.stats_skipped;
		worst = settle > worst ? settle : worst;
		if (rv != 0) {
			failures++;
			ok(0, "seed %llu: %s (replay: %s --seed %llu --trace)",
			   (unsigned long long)seed, S.why, argv[0],
			   (unsigned long long)seed);
		}
	}
	ok(failures == 0,
	   "%llu seeds: every entry delivered once, in order, and "
	   "acknowledged (%llu entries; %llu frames sent, %llu dropped, %llu "
	   "duplicated; %llu proposals lost with a leader; slowest to settle "
	   "%llu ms)",
	   (unsigned long long)n_seeds, (unsigned long long)total,
	   (unsigned long long)sent, (unsigned long long)dropped,
	   (unsigned long long)dups, (unsigned long long)lost,
	   (unsigned long long)worst);
	ok(total > n_seeds * 100, "the workload emitted entries (%llu)",
	   (unsigned long long)total);
	ok(lost > 0 && dropped > 0 && dups > 0,
	   "the faults happened: %llu lost proposals, %llu drops, %llu dups",
	   (unsigned long long)lost, (unsigned long long)dropped,
	   (unsigned long long)dups);
	ok(runs > 0 && run_delivers > 0 && run_skips > 0 && run_refused > 0,
	   "runs were sent (%llu) and delivered as one command (%llu), some "
	   "with a delivered prefix skipped (%llu), some refused (%llu)",
	   (unsigned long long)runs, (unsigned long long)run_delivers,
	   (unsigned long long)run_skips, (unsigned long long)run_refused);
	ok(recs > 0 && lost_e > 0 && lost_d > 0 && old_acked > 0 &&
	       ghosts_recv > 0 && unauth >= ghosts_recv,
	   "groups were recovered (%llu recoveries; %llu entries lost with "
	   "an unreplicated tail, %llu of them applied at their destination "
	   "before; %llu old entries acknowledged after a recovery; %llu "
	   "entries forged by old members, %llu of them received by a "
	   "leader, %llu frames dropped for their sender's incarnation)",
	   (unsigned long long)recs, (unsigned long long)lost_e,
	   (unsigned long long)lost_d, (unsigned long long)old_acked,
	   (unsigned long long)ghosts, (unsigned long long)ghosts_recv,
	   (unsigned long long)unauth);
	ok(forgot > 0 && skips > 0 && skipped > 0,
	   "recovered destinations went back: %llu deliveries lost with their "
	   "tail, %llu skips applied past %llu of them that their origins "
	   "had dropped (the others were delivered again)",
	   (unsigned long long)forgot, (unsigned long long)skips,
	   (unsigned long long)skipped);
	return done_testing();
}
