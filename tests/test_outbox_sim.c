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

struct region {
	int ix;
	bool up;
	uint64_t epoch; /* bumped at every crash: a leader's term */
	struct outbox_out out[NREG];
	struct outbox_in in[NREG];
	struct ids emitted[NREG];   /* by destination, in seq order */
	struct ids delivered[NREG]; /* by origin, in delivery order */
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
	EV_HEAL
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

static int
env_entry_get(void *data, uint32_t dest, struct outbox_pos pos,
              const uint8_t **p, size_t *len)
{
	struct region *r = data;
	int d = ix_of(dest);
	const struct outbox_out *o;

	if (d < 0) {
		return -1;
	}
	o = &r->out[d];
	/* Only entries still in the outbox: acknowledged ones are dropped. */
	if (pos.inc != o->inc || pos.seq <= o->acked.seq ||
	    pos.seq >= o->next || pos.seq > r->emitted[d].n) {
		return -1;
	}
	memcpy(r->scratch, &r->emitted[d].v[pos.seq - 1], 8);
	*p = r->scratch;
	*len = 8;
	return 0;
}

static void
leader_start(struct region *r)
{
	struct outbox_env env = {
		r,           env_now,    env_send,     env_propose,
		env_out_get, env_in_get, env_entry_get
	};
	struct outbox_config cfg = { 16, 20, 800, 200, 0 };
	int i;

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

/* apply_run applies a DELIVER of a run at r from origin o: every entry of
 * the run must be what o emitted at its position (delivered or not), and
 * those past the cursor are delivered in order. */
static void
apply_run(struct region *r, const struct event *e, int o)
{
	struct ids *got = &r->delivered[o];
	const struct ids *sent = &S.r[o].emitted[r->ix];
	struct outbox_pos before = r->in[o].cursor;
	enum outbox_verdict v;
	uint64_t skip = 0, i, seq;

	v = outbox_deliver_run(&r->in[o], e->msg.pos, e->msg.n, &skip);
	S.last_run_verdict = v;
	S.stats_run_delivers++;
	for (i = 0; i < e->msg.n; i++) {
		seq = e->msg.pos.seq + i;
		if (seq > sent->n || sent->v[seq - 1] != e->ids[i]) {
			fail("%u: run from %u holds %llx at seq %llu, origin "
			     "emitted %llx",
			     codes[r->ix], codes[o],
			     (unsigned long long)e->ids[i],
			     (unsigned long long)seq,
			     seq > sent->n
			         ? 0ULL
			         : (unsigned long long)sent->v[seq - 1]);
			return;
		}
	}
	if (v == OUTBOX_ACCEPT) {
		if (outbox_pos_cmp(r->in[o].cursor, before) <= 0) {
			fail("%u: cursor from %u went backwards", codes[r->ix],
			     codes[o]);
		}
		if (skip >= e->msg.n ||
		    (skip > 0 && e->msg.pos.seq + skip - 1 != before.seq)) {
			fail("%u: run %llu+%u skipped %llu at cursor %llu",
			     codes[r->ix], (unsigned long long)e->msg.pos.seq,
			     e->msg.n, (unsigned long long)skip,
			     (unsigned long long)before.seq);
		}
		S.stats_run_skips += skip > 0;
		for (i = skip; i < e->msg.n; i++) {
			ids_push(got, e->ids[i]);
		}
		if (got->n > sent->n || r->in[o].cursor.seq != got->n ||
		    memcmp(got->v, sent->v, got->n * sizeof(*got->v)) != 0) {
			fail("%u: after a run from %u, %zu delivered, cursor "
			     "%llu: not the origin's prefix",
			     codes[r->ix], codes[o], got->n,
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
		printf("# %llu %u deliver run from %u seq %llu+%u: %s "
		       "(skip %llu)\n",
		       (unsigned long long)S.now, codes[r->ix], codes[o],
		       (unsigned long long)e->msg.pos.seq, e->msg.n,
		       outbox_verdict_name(v), (unsigned long long)skip);
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
		                e->msg.n };
	enum outbox_verdict v;
	uint64_t from, to;
	struct outbox_pos before;
	uint8_t buf[8];

	if (e->cmd_type == CMD_EMIT) {
		struct outbox_pos p = outbox_emit(&r->out[d]);

		ids_push(&r->emitted[d], e->id);
		if (p.seq != r->emitted[d].n) {
			fail("%u emit: seq %llu but %zu emitted", codes[r->ix],
			     (unsigned long long)p.seq, r->emitted[d].n);
		}
		if (r->up) {
			outbox_kick(&r->drv, codes[d]);
		}
		return;
	}
	if (e->cmd_type == OUTBOX_CMD_DELIVER && e->msg.n > 0) {
		apply_run(r, e, o);
		c.len =
		    run_build(r->runbuf, sizeof(r->runbuf), e->ids, e->msg.n);
		c.payload = r->runbuf;
		v = S.last_run_verdict;
	} else if (e->cmd_type == OUTBOX_CMD_DELIVER) {
		struct ids *got = &r->delivered[o];
		const struct ids *sent = &S.r[o].emitted[r->ix];

		before = r->in[o].cursor;
		v = outbox_deliver(&r->in[o], e->msg.pos);
		if (v == OUTBOX_ACCEPT) {
			if (outbox_pos_cmp(r->in[o].cursor, before) <= 0) {
				fail("%u: cursor from %u went backwards",
				     codes[r->ix], codes[o]);
			}
			ids_push(got, e->id);
			if (got->n > sent->n ||
			    got->v[got->n - 1] != sent->v[got->n - 1]) {
				fail("%u: delivery %zu from %u is %llx, origin "
				     "emitted %llx",
				     codes[r->ix], got->n, codes[o],
				     (unsigned long long)e->id,
				     got->n > sent->n
				         ? 0ULL
				         : (unsigned long long)
				               sent->v[got->n - 1]);
			}
		}
		if (S.trace) {
			printf("# %llu %u deliver from %u seq %llu: %s\n",
			       (unsigned long long)S.now, codes[r->ix],
			       codes[o], (unsigned long long)e->msg.pos.seq,
			       outbox_verdict_name(v));
		}
		memcpy(buf, &e->id, 8);
		c.payload = buf;
		c.len = 8;
	} else {
		v = outbox_ack(&r->out[d], e->msg.pos, &from, &to)
		        ? OUTBOX_ACCEPT
		        : OUTBOX_DUP;
		if (r->out[d].acked.seq > S.r[d].in[r->ix].cursor.seq) {
			fail("%u: acked %llu towards %u, which delivered %llu",
			     codes[r->ix],
			     (unsigned long long)r->out[d].acked.seq, codes[d],
			     (unsigned long long)S.r[d].in[r->ix].cursor.seq);
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
		outbox_recv(&r->drv, &x.msg);
		break;
	case EV_APPLY:
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
	}
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
			if (outbox_out_backlog(&S.r[i].out[j]) != 0 ||
			    S.r[j].delivered[i].n != S.r[i].emitted[j].n) {
				return false;
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
		for (j = 0; j < NREG; j++) {
			outbox_out_init(&S.r[i].out[j], codes[j], 1);
			S.r[i].in[j].origin = codes[j];
			S.r[i].in[j].cursor.inc = 1;
		}
		leader_start(&S.r[i]);
		schedule(EV_TICK, i, sim_between(0, 9));
		schedule(EV_EMIT, i, sim_between(0, 20));
		schedule(EV_CRASH, i, sim_between(100, 2000));
	}
	x = (struct event){ 0 };
	x.type = EV_CUT;
	x.other = (int)sim_between(1, NREG - 1);
	x.at = sim_between(50, 500);
	push(x);

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
			fail("not quiet %llu ms after the faults stopped",
			     (unsigned long long)(deadline - end_faults));
			break;
		}
		step(&x);
		if (!S.faults && quiet()) {
			break;
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
	         run_delivers = 0, run_skips = 0, run_refused = 0;
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
	return done_testing();
}
