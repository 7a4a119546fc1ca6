/* The applier's internals, shared by its writer (node/applier.c) and its
 * reply thread (node/applier_reply.c). */
#ifndef TB_NODE_APPLIER_IMPL_H
#define TB_NODE_APPLIER_IMPL_H

#include "node/applier.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

enum job_kind { JOB_APPLY, JOB_SYNC };

struct job {
	struct job *next;
	enum job_kind kind;
	uint64_t index;
	struct http_call *c;  /* answered after the commit, or NULL */
	applier_done_fn done; /* or: called on the loop after the commit */
	void *arg;
	int rv;      /* for done: TB_OK if durable */
	json_t *res; /* the apply's result, until the reply */
	size_t len;
	uint8_t buf[]; /* the entry's bytes */
};

struct applier {
	struct node *n;
	struct store *store;
	void (*on_fail)(struct node *n);
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t work;             /* jobs arrived, or stop */
	pthread_cond_t done;             /* a sync job finished */
	struct job *head, **tail;        /* submitted, under mu */
	bool stop;                       /* under mu */
	unsigned long long syncs_done;   /* under mu */
	int sync_rv;                     /* under mu */
	struct job *stage, **stage_tail; /* loop thread only */
	uint64_t staged;                 /* loop: last index staged */
	_Atomic uint64_t durable;        /* last index committed */
	_Atomic int error;               /* sticky failure, TB_* */
	uv_async_t failed;               /* wakes the loop on a failure */
	void (*on_progress)(struct node *n);
	uv_async_t progress;        /* wakes the loop after commits */
	struct job *dhead, **dtail; /* done jobs for the loop, under mu */
	/* The writer's batch: applied, waiting for the commit. */
	struct job *held, **held_tail;
	unsigned held_n;
	uint64_t held_index;
	/* Deferred commits (applier.c, "Replies before the commit"): the
	 * batch holds only case creations answered already; its commit waits
	 * until defer_since + APPLIER_DEFER_MS, a reader asks (flush, under
	 * mu) or the batch is full. acked: the last index answered before
	 * its commit; readers wait on committed (under mu) for durable to
	 * reach it. */
	bool deferrable; /* writer: every apply of the batch may defer */
	bool deferring;  /* writer: a batch is open, answered, uncommitted */
	int64_t defer_since; /* writer: when its first answers went, ms */
	bool flush;          /* under mu: a reader waits for the commit */
	unsigned readers;    /* under mu: readers waiting on committed */
	pthread_cond_t committed;
	_Atomic uint64_t acked;
	/* The reply thread: calls of committed (or lost) batches. */
	pthread_t rthread;
	bool rstarted;
	pthread_mutex_t rmu;
	pthread_cond_t rwork;       /* replies arrived, or rstop */
	struct job *rhead, **rtail; /* under rmu */
	bool rbusy;                 /* answering a list, under rmu */
	bool rstop;                 /* under rmu */
};

/* applier_mono_ms is CLOCK_MONOTONIC in milliseconds; applier_deadline
 * sets ts to ms from now on that clock (the writer's conditions use it). */
int64_t applier_mono_ms(void);
void applier_deadline(struct timespec *ts, int64_t ms);

/* applier_defer (writer) answers the held batch's calls before its commit
 * when it may wait (node/applier_defer.c), and says whether it waits: a
 * batch of case creations only, not full, younger than APPLIER_DEFER_MS,
 * no reader waiting for it. */
bool applier_defer(struct applier *a, bool more);

/* applier_reply_start starts a's reply thread: TB_OK or TB_EIO. */
int applier_reply_start(struct applier *a);

/* applier_reply_hand answers the committed jobs list..*last (n calls, each
 * job's rv set), on the reply thread or, when few and the writer has
 * nothing more to apply, at once (writer thread). */
void applier_reply_hand(struct applier *a, struct job *list, struct job **last,
                        unsigned n, bool more);

/* applier_reply_stop ends the reply thread once it has answered everything
 * handed to it (nothing is handed to it afterwards). */
void applier_reply_stop(struct applier *a);

#endif
