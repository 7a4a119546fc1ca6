/* The state store's writer thread: committed entries are applied there in
 * batches, one LMDB write transaction and one fdatasync each. Once a batch
 * is durable, the HTTP calls waiting for it go to the reply thread, which
 * serialises their replies while the writer applies the next batch. */
#include "node/applier_impl.h"

#include "node/log.h"
#include "node/node.h"
#include "node/store.h"
#include "node/store_db.h"
#include "schema/command.h"
#include "schema/error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* fail records the writer's first failure and wakes the loop. */
static void
fail(struct applier *a, int rv, uint64_t index)
{
	int none = 0;

	if (!atomic_compare_exchange_strong(&a->error, &none, rv)) {
		return;
	}
	tb_log(TB_LOG_ERROR,
	       rv == TB_EFULL ? "TB-STORE-FULL" : "TB-APPLY-FAILED",
	       "applying entries up to %llu failed: %s; stopping",
	       (unsigned long long)index, tb_strerror(rv));
	if (rv == TB_EFULL) {
		a->n->m.store_full++;
	}
	uv_async_send(&a->failed);
}

/* commit commits the writer's batch and hands the calls it held to the
 * reply thread (applier_reply_hand; more: the writer has entries to apply
 * next), to be answered with their results if it is durable, 503 if not. A
 * batch of case creations may answer first and commit later (defer; force:
 * commit now). */
static void
commit(struct applier *a, bool more, bool force)
{
	struct job *j, *next, *replies = NULL, **rtail = &replies;
	unsigned nreplies = 0;
	int rv = atomic_load(&a->error);

	if (a->held == NULL) {
		return;
	}
	if (!force && rv == 0 && applier_defer(a, more)) {
		return;
	}
	if (rv == 0 && (rv = store_batch_commit(a->store)) != 0) {
		fail(a, rv, a->held_index);
	}
	if (rv == 0) {
		atomic_store(&a->durable, a->held_index);
		a->n->m.store_commits++;
	}
	a->deferring = false;
	a->deferrable = true;
	pthread_mutex_lock(&a->mu);
	a->flush = false;
	if (a->readers > 0) {
		pthread_cond_broadcast(&a->committed);
	}
	pthread_mutex_unlock(&a->mu);
	/* The next batch applies directly into its transaction again. */
	store_set_direct(a->store, true);
	if (rv == 0 && a->store->fault_exit) {
		/* TB_FAULT_HANDOFF_EXIT: the step is durable; no frame and
		 * no reply has left (the kill -9 tests). */
		tb_log(TB_LOG_WARN, "TB-FAULT-EXIT",
		       "TB_FAULT_HANDOFF_EXIT: exiting after index %llu",
		       (unsigned long long)a->held_index);
		_exit(9);
	}
	for (j = a->held; j != NULL; j = next) {
		next = j->next;
		j->rv = rv;
		j->next = NULL;
		if (j->done != NULL) {
			/* Answered on the loop (a link reply is loop-only). */
			pthread_mutex_lock(&a->mu);
			*a->dtail = j;
			a->dtail = &j->next;
			pthread_mutex_unlock(&a->mu);
			continue;
		}
		if (j->c == NULL) {
			/* No call waits (a member applying what another
			 * proposed): nothing for the reply thread to do. */
			json_decref(j->res);
			free(j);
			continue;
		}
		*rtail = j;
		rtail = &j->next;
		nreplies++;
	}
	if (replies != NULL) {
		applier_reply_hand(a, replies, rtail, nreplies, more);
	}
	a->held = NULL;
	a->held_tail = &a->held;
	a->held_n = 0;
	/* Members waiting for this index, and done jobs: wake the loop
	 * (wake-ups coalesce). */
	uv_async_send(&a->progress);
}

/* drain_done runs the done jobs (loop thread). */
static void
drain_done(struct applier *a)
{
	struct job *j, *next;

	pthread_mutex_lock(&a->mu);
	j = a->dhead;
	a->dhead = NULL;
	a->dtail = &a->dhead;
	pthread_mutex_unlock(&a->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		j->done(j->arg, j->rv, j->rv == 0 ? j->res : NULL);
		if (j->rv != 0) {
			json_decref(j->res);
		}
		free(j);
	}
}

static void
progress_cb(uv_async_t *h)
{
	struct applier *a = h->data;

	drain_done(a);
	if (a->on_progress != NULL) {
		a->on_progress(a->n);
	}
}

/* redo: entry j was refused in direct mode, and the batch may hold what
 * its handler wrote before it refused. The batch is dropped and applied
 * again from its first entry with a nested transaction per apply, which a
 * refusal can drop alone; so is the rest of this batch. Apply is
 * deterministic: the held entries give the same results again. */
static int
redo(struct applier *a, struct job *j)
{
	struct job *h;
	json_t *res;
	int rv;

	store_batch_abort(a->store);
	store_set_direct(a->store, false);
	a->n->m.apply_redos++;
	if ((rv = store_batch_begin(a->store)) != 0) {
		return rv;
	}
	for (h = a->held; h != NULL; h = h->next) {
		res = NULL;
		rv = store_apply(a->store, h->index, h->buf, h->len, &res);
		if (rv != 0) {
			return rv;
		}
		json_decref(h->res);
		h->res = res;
	}
	return store_apply(a->store, j->index, j->buf, j->len, &j->res);
}

/* apply applies one entry into the writer's batch; more: others follow. */
static void
apply(struct applier *a, struct job *j, bool more)
{
	int rv = atomic_load(&a->error);

	if (rv == 0 && (rv = store_batch_begin(a->store)) == 0) {
		rv = store_apply(a->store, j->index, j->buf, j->len, &j->res);
		if (rv == STORE_REDO) {
			rv = redo(a, j);
		}
	}
	if (rv != 0) {
		/* The batch is lost with this entry: nothing of it may be
		 * acknowledged, and its transaction must end on this
		 * thread. Raft applies it all again after a restart. */
		store_batch_abort(a->store);
		fail(a, rv, j->index);
	} else {
		a->n->m.applies++;
		if (json_object_get(j->res, "error") != NULL) {
			a->n->m.refusals++;
		}
	}
	/* Only a batch of case creations, each answered over HTTP here, is
	 * answered before its commit: any other command (a token, a
	 * revocation, a release) is read by the next request's checks, and a
	 * member waiting for an entry (done, or no call) waits for the
	 * commit. */
	if (j->c == NULL || j->done != NULL ||
	    a->store->last_type != CMD_CASE_CREATE) {
		a->deferrable = false;
	}
	j->next = NULL;
	*a->held_tail = j;
	a->held_tail = &j->next;
	a->held_index = j->index;
	if (++a->held_n >= APPLIER_BATCH_MAX || rv != 0) {
		commit(a, more, false);
	}
}

static void *
writer_main(void *arg)
{
	struct applier *a = arg;
	struct job *list, *j;
	int rv;

	/* named for top -H and perf: the store's writer */
	prctl(PR_SET_NAME, "tb:store", 0, 0, 0);
	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (a->head == NULL && !a->stop) {
			struct timespec ts;
			int64_t left;
			if (!a->deferring) {
				pthread_cond_wait(&a->work, &a->mu);
				continue;
			}
			/* A deferred commit: its time, or a reader. */
			left = a->defer_since + APPLIER_DEFER_MS -
			       applier_mono_ms();
			if (a->flush || left <= 0) {
				break;
			}
			applier_deadline(&ts, left);
			pthread_cond_timedwait(&a->work, &a->mu, &ts);
		}
		if (a->head == NULL) {
			bool stop = a->stop;
			pthread_mutex_unlock(&a->mu);
			commit(a, false, true);
			if (stop) {
				break;
			}
			continue;
		}
		list = a->head;
		a->head = NULL;
		a->tail = &a->head;
		pthread_mutex_unlock(&a->mu);
		while ((j = list) != NULL) {
			list = j->next;
			if (j->kind == JOB_APPLY) {
				apply(a, j, list != NULL);
				continue;
			}
			commit(a, list != NULL, true);
			if ((rv = atomic_load(&a->error)) == 0) {
				rv = store_sync(a->store);
			}
			free(j);
			pthread_mutex_lock(&a->mu);
			a->syncs_done++;
			a->sync_rv = rv;
			pthread_cond_broadcast(&a->done);
			pthread_mutex_unlock(&a->mu);
		}
		/* What was submitted together is committed together (or
		 * answered, and committed within APPLIER_DEFER_MS). */
		commit(a, false, false);
	}
	return NULL;
}

static void
failed_cb(uv_async_t *h)
{
	struct applier *a = h->data;

	a->on_fail(a->n);
}

int
applier_start(struct node *n, void (*on_fail)(struct node *n),
              void (*on_progress)(struct node *n), struct applier **out)
{
	struct applier *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (a == NULL) {
		return TB_ENOMEM;
	}
	a->n = n;
	a->store = n->store;
	a->on_fail = on_fail;
	a->on_progress = on_progress;
	a->dtail = &a->dhead;
	a->tail = &a->head;
	a->stage_tail = &a->stage;
	a->held_tail = &a->held;
	store_set_direct(a->store, true);
	a->rtail = &a->rhead;
	a->deferrable = true;
	pthread_mutex_init(&a->mu, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&a->work, &ca);
		pthread_cond_init(&a->committed, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&a->done, NULL);
	pthread_mutex_init(&a->rmu, NULL);
	pthread_cond_init(&a->rwork, NULL);
	if (uv_async_init(&n->loop, &a->failed, failed_cb) != 0) {
		applier_free(a);
		return TB_EIO;
	}
	a->failed.data = a;
	if (uv_async_init(&n->loop, &a->progress, progress_cb) != 0) {
		uv_close((uv_handle_t *)&a->failed, NULL);
		*out = a; /* freed by the caller after the loop ran */
		return TB_EIO;
	}
	a->progress.data = a;
	/* The reply thread first: the writer hands it calls. */
	a->rstarted = applier_reply_start(a) == 0;
	if (!a->rstarted ||
	    pthread_create(&a->thread, NULL, writer_main, a) != 0) {
		applier_reply_stop(a);
		uv_close((uv_handle_t *)&a->failed, NULL);
		uv_close((uv_handle_t *)&a->progress, NULL);
		*out = a; /* freed by the caller after the loop ran */
		return TB_EIO;
	}
	a->started = true;
	*out = a;
	return TB_OK;
}

int
applier_stage(struct applier *a, uint64_t index, const void *buf, size_t len,
              struct http_call *c, applier_done_fn done, void *arg)
{
	struct job *j = malloc(sizeof(*j) + len);

	if (j == NULL) {
		return TB_ENOMEM;
	}
	j->next = NULL;
	j->kind = JOB_APPLY;
	j->index = index;
	j->c = c;
	j->done = done;
	j->arg = arg;
	j->rv = TB_OK;
	j->res = NULL;
	j->len = len;
	memcpy(j->buf, buf, len);
	*a->stage_tail = j;
	a->stage_tail = &j->next;
	a->staged = index;
	return TB_OK;
}

/* push appends the list first..*last to the writer's queue. */
static void
push(struct applier *a, struct job *first, struct job **last)
{
	pthread_mutex_lock(&a->mu);
	*a->tail = first;
	a->tail = last;
	pthread_mutex_unlock(&a->mu);
	/* Signalled after the unlock, so the writer does not wake only to
	 * wait for the mutex the loop still holds. */
	pthread_cond_signal(&a->work);
}

void
applier_submit(struct applier *a)
{
	if (a == NULL || a->stage == NULL) {
		return;
	}
	push(a, a->stage, a->stage_tail);
	a->stage = NULL;
	a->stage_tail = &a->stage;
}

int
applier_sync(struct applier *a)
{
	struct job *j;
	unsigned long long ticket;
	int rv;

	if (a == NULL || !a->started) {
		return TB_EIO;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		return TB_ENOMEM;
	}
	j->kind = JOB_SYNC;
	applier_submit(a);
	pthread_mutex_lock(&a->mu);
	ticket = a->syncs_done + 1;
	/* Sync jobs finish in order, since one thread runs them in order of
	 * submission, and only the loop thread submits them. */
	*a->tail = j;
	a->tail = &j->next;
	pthread_cond_signal(&a->work);
	while (a->syncs_done < ticket) {
		pthread_cond_wait(&a->done, &a->mu);
	}
	rv = a->sync_rv;
	pthread_mutex_unlock(&a->mu);
	return rv;
}

uint64_t
applier_staged(const struct applier *a)
{
	return a->staged;
}

bool
applier_idle(const struct applier *a)
{
	return a->stage == NULL && atomic_load(&a->durable) >= a->staged;
}

int
applier_error(const struct applier *a)
{
	return a != NULL ? atomic_load(&a->error) : 0;
}

void
applier_stop(struct applier *a)
{
	if (a == NULL) {
		return;
	}
	applier_submit(a);
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_signal(&a->work);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
		a->started = false;
		drain_done(a); /* the writer is gone: answer what it left */
		uv_close((uv_handle_t *)&a->failed, NULL);
		uv_close((uv_handle_t *)&a->progress, NULL);
	}
	/* After the writer: the reply thread answers what it handed over. */
	applier_reply_stop(a);
}

uint64_t
applier_durable(const struct applier *a)
{
	return atomic_load(&a->durable);
}

void
applier_free(struct applier *a)
{
	if (a == NULL) {
		return;
	}
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->committed);
	pthread_cond_destroy(&a->done);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->rwork);
	pthread_mutex_destroy(&a->rmu);
	free(a);
}
