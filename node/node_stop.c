/* Stopping the node: node_stop (loop thread) makes what is applied
 * durable, closes links, Raft and then HTTP, under a guard that forces a
 * stop that takes longer than stop_timeout_ms. */
#include "node/node_impl.h"

#include "node/applier.h"
#include "node/group.h"
#include "node/link.h"
#include "node/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
node_raft_closed(struct raft *r)
{
	struct node *n = r->data;

	applier_stop(n->applier);
	/* Proposed with a batch whose request libraft already answered
	 * (node_prop.c), and never applied. */
	node_prop_sweep(n, true);
	/* Every call is answered by now: the applied ones by the applier,
	 * the queued ones by node_wake_cb, the proposed ones by raft_close
	 * (apply_cb) or the sweep, and later ones are refused where they
	 * arrive. nng's
	 * server stop waits for every call it handed us, so it comes last. */
	http_stop(n->http);
	n->http = NULL;
	uv_close((uv_handle_t *)&n->flush, NULL);
	uv_close((uv_handle_t *)&n->wake, NULL);
	uv_close((uv_handle_t *)&n->tick, NULL);
	uv_close((uv_handle_t *)&n->sigterm, NULL);
	uv_close((uv_handle_t *)&n->sigint, NULL);
}

/* ---- the stop guard ---------------------------------------------------- */

/* Once a stop has made every applied write durable, nothing it still does
 * (closing links, Raft, HTTP, nng) may hold the process for ever: nng
 * 1.5.2's nng_close can block for good (docs/LINKS.md, "Known issue"). A
 * stop that takes longer than stop_timeout_ms is forced: logged as
 * TB-STOP-FORCED and ended with exit status 1. The guard is static, not in
 * the node, because the node is freed before the stop is done. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started, done;
	unsigned timeout_ms;
} stop_guard = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* The guard's deadline is on the monotonic clock: the wall clock may be
 * moved (tests move it with an LD_PRELOAD shim, operators with NTP). */
static void
stop_guard_cond_init(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&stop_guard.cv, &ca);
	pthread_condattr_destroy(&ca);
}

static void *
stop_guard_main(void *arg)
{
	struct timespec until;
	int rv = 0;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += stop_guard.timeout_ms / 1000;
	until.tv_nsec += (long)(stop_guard.timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&stop_guard.mu);
	while (!stop_guard.done && rv != ETIMEDOUT) {
		rv = pthread_cond_timedwait(&stop_guard.cv, &stop_guard.mu,
		                            &until);
	}
	if (!stop_guard.done) {
		tb_log(TB_LOG_ERROR, "TB-STOP-FORCED",
		       "the stop did not finish within %u ms (stop_timeout_ms; "
		       "nng's close or the disk may have blocked); every "
		       "acknowledged write is durable: exiting",
		       stop_guard.timeout_ms);
		_exit(1);
	}
	pthread_mutex_unlock(&stop_guard.mu);
	return NULL;
}

static void
stop_guard_start(unsigned timeout_ms)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_mutex_lock(&stop_guard.mu);
	if (stop_guard.started) {
		pthread_mutex_unlock(&stop_guard.mu);
		return;
	}
	stop_guard.started = true;
	stop_guard.timeout_ms = timeout_ms;
	stop_guard_cond_init();
	pthread_mutex_unlock(&stop_guard.mu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, stop_guard_main, NULL) != 0) {
		tb_log(TB_LOG_WARN, "TB-STOP-GUARD",
		       "no thread for the stop guard: the stop is unbounded");
	}
	pthread_attr_destroy(&attr);
}

void
node_stop_guard_done(void)
{
	pthread_mutex_lock(&stop_guard.mu);
	stop_guard.done = true;
	if (stop_guard.started) {
		pthread_cond_signal(&stop_guard.cv);
	}
	pthread_mutex_unlock(&stop_guard.mu);
}

void
node_stop(struct node *n, const char *why)
{
	if (n->stopping) {
		return;
	}
	/* Under the queue's lock: a call is either queued before this, and
	 * answered by node_wake_cb below, or refused by queue_call. */
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_mutex_unlock(&n->mu);
	n->ready = false;
	tb_log(TB_LOG_INFO, "TB-NODE-STOP", "stopping: %s", why);
	/* Whatever the stop does from here is bounded (a store that no
	 * longer syncs included): an acknowledged write is committed to the
	 * store, and every write is in the Raft log already. */
	stop_guard_start(n->cfg.stop_timeout_ms);
	/* What is applied is answered once it is committed to the store. */
	applier_sync(n->applier);
	{
		/* Fault injection for tests/node_stop.t: a stop that stalls
		 * here stands for one that blocks in nng. */
		const char *stall = getenv("TB_FAULT_STOP_STALL_MS");

		if (stall != NULL) {
			unsigned long ms = strtoul(stall, NULL, 10);
			struct timespec ts = { (time_t)(ms / 1000),
				               (long)(ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	/* Links close first: pending pings are answered while HTTP runs. */
	links_stop(n->links);
	/* Fail what is queued; raft_close fails the proposals still waiting
	 * for their commit through apply_cb (libraft owns their requests
	 * until then, so they cannot be answered here). HTTP stops once
	 * libraft has closed (node_raft_closed). */
	node_wake_cb(&n->wake);
	group_stop(n);
	uv_timer_stop(&n->tick);
	raft_close(&n->raft, node_raft_closed);
}

void
node_signal_cb(uv_signal_t *s, int signum)
{
	node_stop(s->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}
