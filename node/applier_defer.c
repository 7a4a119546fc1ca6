/* Deferred commits: a batch of case creations answered before its commit
 * (node/applier.h, APPLIER_DEFER_MS), and the barrier every other request
 * waits at; the writer's side is commit() in node/applier.c. */
#include "node/applier_impl.h"

#include "node/node.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

int64_t
applier_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
applier_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* answer_early hands the calls of the held batch to the reply thread
 * before its commit: each job keeps its bytes (a redo applies it again)
 * and gives its call and result to a reply job. acked names the last. */
static void
answer_early(struct applier *a, bool more)
{
	struct job *j, *r, *list = NULL, **tail = &list;
	uint64_t last = 0;
	unsigned n = 0;

	for (j = a->held; j != NULL; j = j->next) {
		if (j->c == NULL) {
			continue;
		}
		if ((r = calloc(1, sizeof(*r))) == NULL) {
			break; /* answered after the commit, as before */
		}
		r->c = j->c;
		r->res = j->res;
		r->rv = 0;
		j->c = NULL;
		j->res = NULL;
		last = j->index;
		*tail = r;
		tail = &r->next;
		n++;
	}
	if (list != NULL) {
		a->n->m.answered_early += n;
		atomic_store(&a->acked, last);
		applier_reply_hand(a, list, tail, n, more);
	}
}

bool
applier_defer(struct applier *a, bool more)
{
	bool flush;

	if (!a->deferrable || a->held_n >= APPLIER_BATCH_MAX ||
	    atomic_load(&a->error) != 0) {
		return false;
	}
	answer_early(a, more);
	if (!a->deferring) {
		a->deferring = true;
		a->defer_since = applier_mono_ms();
	}
	pthread_mutex_lock(&a->mu);
	flush = a->flush;
	pthread_mutex_unlock(&a->mu);
	return !flush && applier_mono_ms() - a->defer_since < APPLIER_DEFER_MS;
}

bool
applier_pending(struct applier *a)
{
	return a != NULL && atomic_load(&a->durable) < atomic_load(&a->acked);
}

uint64_t
applier_acked(struct applier *a)
{
	return a != NULL ? atomic_load(&a->acked) : 0;
}

void
applier_flush(struct applier *a)
{
	pthread_mutex_lock(&a->mu);
	a->flush = true;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->mu);
}

int
applier_barrier(struct applier *a, int timeout_ms)
{
	uint64_t want;
	struct timespec ts;
	int rv = 0;

	if (a == NULL || !a->started ||
	    atomic_load(&a->durable) >= (want = atomic_load(&a->acked))) {
		return TB_OK;
	}
	applier_deadline(&ts, timeout_ms);
	pthread_mutex_lock(&a->mu);
	a->flush = true;
	a->readers++;
	pthread_cond_signal(&a->work);
	while (atomic_load(&a->durable) < want && atomic_load(&a->error) == 0 &&
	       rv == 0) {
		rv = pthread_cond_timedwait(&a->committed, &a->mu, &ts);
	}
	a->readers--;
	pthread_mutex_unlock(&a->mu);
	if (atomic_load(&a->durable) >= want) {
		return TB_OK;
	}
	return atomic_load(&a->error) != 0 ? atomic_load(&a->error)
	                                   : TB_ETIMEOUT;
}
