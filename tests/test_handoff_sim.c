/* The handoff records (replication/handoff.h) driven by a seeded simulator:
 * 历下区 (370102) hands 24 cases to 市南区 (370202) at once, over a link
 * that drops 15% of frames, duplicates 10% and delays each 1-60 ms (so it
 * reorders); either side crashes now and then (losing its timers and what
 * it knew of DONE), sometimes right after a commit and before its reply; an
 * admin aborts offers that have waited past a timeout; the target refuses
 * some matters and is "catalog behind" for others for a while.
 *
 * Checked after every event, per case (as the Promela model does): never
 * two owners; an owner always, except the source's tombstone while the
 * target is prepared; no frame that an honest peer never sends in that
 * state (a commit for no prepared offer, an abort after the commit). Once
 * the faults stop: exactly one owner, no target left prepared, and every
 * outcome (transferred, aborted, refused) seen across the seeds.
 *
 *   test_handoff_sim                   60 seeds (TB_LONG=1: 600)
 *   test_handoff_sim --seed S --trace  replay one, printing every step */
#include "replication/handoff.h"
#include "tests/sim_rng.h"
#include "tests/tap.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCASES 24
#define MAXEV  (1u << 18)

enum side { SRC, DST };

enum ev_type { EV_TICK, EV_FRAME, EV_OFFER, EV_CRASH, EV_UP, EV_ABORT_SCAN };

struct event {
	uint64_t at, serial;
	enum ev_type type;
	enum side side; /* where it happens */
	int c;          /* case */
	enum handoff_frame f;
};

struct side_state {
	bool up;
	enum handoff_state st[NCASES];
	/* volatile */
	uint64_t due[NCASES], rto[NCASES];
	bool done[NCASES];
};

static struct {
	uint64_t now, serial;
	struct side_state s[2];
	uint64_t offered_at[NCASES];
	int behind_left[NCASES]; /* offers the target answers "behind" */
	bool refuse[NCASES];     /* the target does not offer the matter */
	struct event *heap;
	size_t n;
	bool faults, trace;
	int failed;
	char why[200];
	uint64_t frames, drops;
} W;

static bool
ev_less(const struct event *a, const struct event *b)
{
	return a->at != b->at ? a->at < b->at : a->serial < b->serial;
}

static void
push(struct event e)
{
	size_t i;

	if (W.n == MAXEV) {
		abort();
	}
	e.serial = W.serial++;
	for (i = W.n++; i > 0 && ev_less(&e, &W.heap[(i - 1) / 2]);
	     i = (i - 1) / 2) {
		W.heap[i] = W.heap[(i - 1) / 2];
	}
	W.heap[i] = e;
}

static struct event
pop(void)
{
	struct event top = W.heap[0], last = W.heap[--W.n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < W.n) {
		if (c + 1 < W.n && ev_less(&W.heap[c + 1], &W.heap[c])) {
			c++;
		}
		if (!ev_less(&W.heap[c], &last)) {
			break;
		}
		W.heap[i] = W.heap[c];
		i = c;
	}
	W.heap[i] = last;
	return top;
}

static void
fail(const char *why, int c)
{
	if (W.failed++ == 0) {
		snprintf(W.why, sizeof(W.why), "case %d at %llu ms: %s (%s/%s)",
		         c, (unsigned long long)W.now, why,
		         handoff_state_name(W.s[SRC].st[c]),
		         handoff_state_name(W.s[DST].st[c]));
	}
}

static void
check(int c)
{
	bool a = handoff_owns(W.s[SRC].st[c], true);
	bool b = handoff_owns(W.s[DST].st[c], false);

	if (a && b) {
		fail("two owners", c);
	}
	if (!a && !b &&
	    !(W.s[SRC].st[c] == HANDOFF_TRANSFERRED &&
	      W.s[DST].st[c] == HANDOFF_PREPARED)) {
		fail("no owner", c);
	}
}

static void
send(enum side from, int c, enum handoff_frame f)
{
	struct event e = { 0 };
	int k, copies = 1;

	if (f == HANDOFF_F_NONE) {
		return;
	}
	W.frames++;
	if (W.faults && sim_chance(150)) {
		W.drops++;
		return;
	}
	if (W.faults && sim_chance(100)) {
		copies = 2;
	}
	e.type = EV_FRAME;
	e.side = from == SRC ? DST : SRC;
	e.c = c;
	e.f = f;
	for (k = 0; k < copies; k++) {
		e.at = W.now + sim_between(1, W.faults ? 60 : 5);
		push(e);
	}
}

static enum handoff_event
event_of(enum handoff_frame f)
{
	switch (f) {
	case HANDOFF_F_OFFER:
		return HANDOFF_EV_GOT_OFFER;
	case HANDOFF_F_ACCEPT:
		return HANDOFF_EV_GOT_ACCEPT;
	case HANDOFF_F_REFUSE:
		return HANDOFF_EV_GOT_REFUSE;
	case HANDOFF_F_COMMIT:
		return HANDOFF_EV_GOT_COMMIT;
	case HANDOFF_F_ABORT:
		return HANDOFF_EV_GOT_ABORT;
	default:
		return HANDOFF_EV_GOT_DONE;
	}
}

/* apply runs one event through handoff_step at a side: commit, then maybe
 * crash before the reply, then reply. */
static void
apply(enum side at, int c, enum handoff_event ev)
{
	struct side_state *s = &W.s[at];
	enum handoff_check chk = HANDOFF_CHECK_OK;
	struct handoff_result r;

	if (ev == HANDOFF_EV_GOT_OFFER) {
		if (W.refuse[c]) {
			chk = HANDOFF_CHECK_REFUSE;
		} else if (W.behind_left[c] > 0) {
			chk = HANDOFF_CHECK_BEHIND;
			if (s->st[c] == HANDOFF_NONE) {
				W.behind_left[c]--;
			}
		}
	}
	r = handoff_step(s->st[c], ev, chk);
	if (r.refusal != NULL && ev >= HANDOFF_EV_GOT_OFFER) {
		fail(r.refusal, c);
	}
	if (W.trace) {
		printf(
		    "# %llu %s case %d: %s -> %s, reply %s%s%s\n",
		    (unsigned long long)W.now, at == SRC ? "370102" : "370202",
		    c, handoff_state_name(s->st[c]), handoff_state_name(r.next),
		    handoff_frame_name(r.reply), r.refusal ? ", refused: " : "",
		    r.refusal ? r.refusal : "");
	}
	if (ev == HANDOFF_EV_GOT_DONE) {
		s->done[c] = true;
	}
	if (r.commit) {
		s->st[c] = r.next;
		s->rto[c] = 40;
		s->due[c] = W.now + s->rto[c];
		if (r.next == HANDOFF_OFFERED) {
			W.offered_at[c] = W.now;
		}
		check(c);
		if (W.faults && sim_chance(30)) {
			s->up =
			    false; /* committed, then died before replying */
			push((struct event){ W.now + sim_between(10, 400), 0,
			                     EV_UP, at, 0, HANDOFF_F_NONE });
			return;
		}
	}
	send(at, c, r.reply);
}

static void
tick(enum side at)
{
	struct side_state *s = &W.s[at];
	enum handoff_frame f;
	int c;

	for (c = 0; c < NCASES; c++) {
		f = handoff_wants(s->st[c], s->done[c]);
		if (f == HANDOFF_F_NONE || W.now < s->due[c]) {
			continue;
		}
		send(at, c, f);
		s->due[c] = W.now + s->rto[c];
		s->rto[c] = s->rto[c] * 2 > 1000 ? 1000 : s->rto[c] * 2;
	}
}

static void
step(const struct event *e)
{
	struct side_state *s = &W.s[e->side];
	int c;

	switch (e->type) {
	case EV_TICK:
		if (s->up) {
			tick(e->side);
		}
		push((struct event){ W.now + 20, 0, EV_TICK, e->side, 0,
		                     HANDOFF_F_NONE });
		break;
	case EV_FRAME:
		if (s->up) {
			apply(e->side, e->c, event_of(e->f));
		}
		break;
	case EV_OFFER:
		if (s->up) {
			apply(SRC, e->c, HANDOFF_EV_OFFER);
		} else {
			push((struct event){ W.now + 50, 0, EV_OFFER, SRC, e->c,
			                     HANDOFF_F_NONE });
		}
		break;
	case EV_ABORT_SCAN:
		/* The admin aborts offers older than 400 ms, now and then. */
		if (W.faults && s->up) {
			for (c = 0; c < NCASES; c++) {
				if (s->st[c] == HANDOFF_OFFERED &&
				    W.now > W.offered_at[c] + 400 &&
				    sim_chance(300)) {
					apply(SRC, c, HANDOFF_EV_ABORT);
				}
			}
		}
		push((struct event){ W.now + sim_between(50, 300), 0,
		                     EV_ABORT_SCAN, SRC, 0, HANDOFF_F_NONE });
		break;
	case EV_CRASH:
		if (W.faults && s->up) {
			s->up = false;
			push((struct event){ W.now + sim_between(20, 600), 0,
			                     EV_UP, e->side, 0,
			                     HANDOFF_F_NONE });
		}
		push((struct event){ W.now + sim_between(200, 1500), 0,
		                     EV_CRASH, e->side, 0, HANDOFF_F_NONE });
		break;
	case EV_UP:
		if (!s->up) {
			/* A new leader: timers and DONE are forgotten. */
			s->up = true;
			for (c = 0; c < NCASES; c++) {
				s->done[c] = false;
				s->rto[c] = 40;
				s->due[c] = W.now;
			}
		}
		break;
	}
}

static bool
quiet(void)
{
	int c;

	if (!W.s[SRC].up || !W.s[DST].up) {
		return false;
	}
	for (c = 0; c < NCASES; c++) {
		enum handoff_state a = W.s[SRC].st[c], b = W.s[DST].st[c];

		if (a == HANDOFF_NONE || a == HANDOFF_OFFERED ||
		    b == HANDOFF_PREPARED ||
		    (a == HANDOFF_TRANSFERRED && b != HANDOFF_OWNED)) {
			return false;
		}
	}
	return true;
}

static int
run(uint64_t seed, bool trace, unsigned outcomes[HANDOFF_NSTATES])
{
	uint64_t end = 5000;
	struct event e;
	int c, i;

	memset(&W, 0, sizeof(W));
	W.heap = malloc(MAXEV * sizeof(*W.heap));
	if (W.heap == NULL) {
		abort();
	}
	sim_seed(seed);
	W.trace = trace;
	W.faults = true;
	for (i = 0; i < 2; i++) {
		W.s[i].up = true;
		push((struct event){ sim_between(0, 19), 0, EV_TICK,
		                     (enum side)i, 0, HANDOFF_F_NONE });
		push((struct event){ sim_between(100, 1500), 0, EV_CRASH,
		                     (enum side)i, 0, HANDOFF_F_NONE });
	}
	push((struct event){ 100, 0, EV_ABORT_SCAN, SRC, 0, HANDOFF_F_NONE });
	for (c = 0; c < NCASES; c++) {
		W.refuse[c] = sim_chance(150);
		W.behind_left[c] = sim_chance(200) ? (int)sim_between(1, 4) : 0;
		push((struct event){ sim_between(0, 2000), 0, EV_OFFER, SRC, c,
		                     HANDOFF_F_NONE });
	}
	while (W.n > 0 && !W.failed) {
		e = pop();
		if (W.faults && e.at >= end) {
			W.faults = false;
			for (i = 0; i < 2; i++) {
				push((struct event){ e.at, 0, EV_UP,
				                     (enum side)i, 0,
				                     HANDOFF_F_NONE });
			}
		}
		W.now = e.at;
		if (W.now > end + 60000) {
			fail("not quiet 60 s after the faults stopped", 0);
			break;
		}
		step(&e);
		if (!W.faults && quiet()) {
			break;
		}
	}
	for (c = 0; c < NCASES && !W.failed; c++) {
		check(c);
		outcomes[W.s[SRC].st[c]]++;
	}
	free(W.heap);
	return W.failed;
}

int
main(int argc, char **argv)
{
	unsigned outcomes[HANDOFF_NSTATES] = { 0 };
	uint64_t seed, n = 60, frames = 0, drops = 0;
	const char *lng = getenv("TB_LONG");
	int i, failures = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 10);
			bool trace =
			    i + 1 < argc && !strcmp(argv[i + 1], "--trace");
			int rv = run(seed, trace, outcomes);

			ok(rv == 0, "seed %llu: %s", (unsigned long long)seed,
			   rv ? W.why : "every invariant held");
			return done_testing();
		}
		if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 10);
		} else {
			fprintf(stderr,
			        "usage: %s [--seeds N | --seed S "
			        "[--trace]]\n",
			        argv[0]);
			return 2;
		}
	}
	if (lng != NULL && !strcmp(lng, "1")) {
		n *= 10;
	}
	for (seed = 1; seed <= n; seed++) {
		if (run(seed, false, outcomes) != 0) {
			failures++;
			ok(0, "seed %llu: %s (replay: %s --seed %llu --trace)",
			   (unsigned long long)seed, W.why, argv[0],
			   (unsigned long long)seed);
		}
		frames += W.frames;
		drops += W.drops;
	}
	ok(failures == 0,
	   "%llu seeds x %d cases: one owner always, exactly one once quiet "
	   "(%llu frames, %llu dropped)",
	   (unsigned long long)n, NCASES, (unsigned long long)frames,
	   (unsigned long long)drops);
	ok(outcomes[HANDOFF_TRANSFERRED] > 0 && outcomes[HANDOFF_ABORTED] > 0 &&
	       outcomes[HANDOFF_REFUSED] > 0,
	   "every outcome happened: %u transferred, %u aborted, %u refused",
	   outcomes[HANDOFF_TRANSFERRED], outcomes[HANDOFF_ABORTED],
	   outcomes[HANDOFF_REFUSED]);
	return done_testing();
}
