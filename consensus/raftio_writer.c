/* The writer thread of raftio: batches of requests, one transaction and one
 * commit (one fsync) per batch, completions back to the loop in order.
 *
 * Happy path: the loop queues requests; the writer wakes, takes the whole
 * queue, writes it in one LMDB transaction, commits, moves the requests to
 * the done list and wakes the loop, which fires the callbacks in order.
 *
 * Failure modes:
 * - a storage error (EIO, a full map) aborts the transaction: every request
 *   of the batch fails, nothing of it is on disk;
 * - an append that does not continue the log on disk fails on its own;
 * - after any failed log write the writer is poisoned: later log writes
 *   fail without touching the disk. libraft rewrites failed indexes from
 *   memory and followers keep unwritten entries in memory, so writing
 *   later entries could leave a hole; a restart reloads a consistent log.
 *   Term and vote writes go on, as they do not touch the log. */
#include "consensus/raftio_writer.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "schema/error.h"

/* A batch being written, with what to publish once it is decided. */
struct batch {
	struct raftio_req *head;
	unsigned n;
	bool log_writes; /* holds an append, truncate or snapshot put */
	uint64_t appends, entries, bytes;
	int tb_err; /* TB_* code of a failure in this batch */
	char errmsg[RAFT_ERRMSG_BUF_SIZE];
};

static bool
is_log_write(int type)
{
	return type == RAFTIO_APPEND || type == RAFTIO_TRUNCATE ||
	       type == RAFTIO_SNAPSHOT_PUT;
}

/* refuse fails r for a reason that is not the disk's: the log on disk and
 * libraft's view of it disagree, so further log writes are refused. */
static void
refuse(struct raftio_writer *w, struct batch *b, struct raftio_req *r,
       raft_index next)
{
	r->status = RAFT_IOERR;
	b->tb_err = TB_ECORRUPT;
	snprintf(b->errmsg, sizeof(b->errmsg),
	         "%s at index %llu but the log on disk continues at %llu",
	         r->type == RAFTIO_APPEND ? "append" : "truncate", r->index,
	         next);
	uv_mutex_lock(&w->mu);
	w->poisoned = true;
	uv_mutex_unlock(&w->mu);
}

/* apply writes r inside txn. Refusals set r->status and return 0; a
 * storage failure returns its LMDB code and the transaction is lost. */
static int
apply(struct raftio_writer *w, MDB_txn *txn, struct batch *b,
      struct raftio_req *r, raft_index *next)
{
	struct raftio_store *s = w->store;
	struct raft_entry e;
	raft_term last_term;
	int rc, pristine;

	switch (r->type) {
	case RAFTIO_APPEND:
		if (r->index != *next) {
			refuse(w, b, r, *next);
			return 0;
		}
		rc = raftio_store_put_entries(s, txn, r->index, r->entries,
		                              r->n, &b->bytes);
		*next += r->n;
		b->appends++;
		b->entries += r->n;
		return rc;
	case RAFTIO_TRUNCATE:
		if (r->index > *next) {
			refuse(w, b, r, *next);
			return 0;
		}
		if ((rc = raftio_store_delete_from(s, txn, r->index)) != 0) {
			return rc;
		}
		return raftio_store_tail(s, txn, next, &last_term);
	case RAFTIO_SNAPSHOT_PUT:
		/* trailing 0 is libraft installing a leader's snapshot: the
		 * whole log goes. Otherwise keep `trailing` entries before
		 * the snapshot's index for lagging followers. */
		if ((rc = raftio_store_put_snapshot(s, txn, r->snapshot)) !=
		    0) {
			return rc;
		}
		if (r->trailing == 0) {
			rc = raftio_store_delete_upto(s, txn, RAFTIO_ALL);
		} else if (r->snapshot->index > r->trailing) {
			rc = raftio_store_delete_upto(
			    s, txn, r->snapshot->index - r->trailing);
		}
		if (rc != 0) {
			return rc;
		}
		return raftio_store_tail(s, txn, next, &last_term);
	case RAFTIO_SET_TERM:
		/* A new term has no vote yet (as libraft's uv backend). */
		if ((rc = raftio_store_put_u64(s, txn, "term", r->value)) !=
		    0) {
			return rc;
		}
		return raftio_store_put_u64(s, txn, "vote", 0);
	case RAFTIO_SET_VOTE:
		return raftio_store_put_u64(s, txn, "vote", r->value);
	case RAFTIO_BOOTSTRAP:
		if ((rc = raftio_store_is_pristine(s, txn, &pristine)) != 0) {
			return rc;
		}
		if (!pristine) {
			r->status = RAFT_CANTBOOTSTRAP;
			snprintf(b->errmsg, sizeof(b->errmsg),
			         "raft store is not empty: cannot bootstrap");
			return 0;
		}
		e.term = 1;
		e.type = RAFT_CHANGE;
		e.buf = r->conf;
		e.batch = NULL;
		if ((rc = raftio_store_put_u64(s, txn, "term", 1)) != 0 ||
		    (rc = raftio_store_put_u64(s, txn, "vote", 0)) != 0 ||
		    (rc = raftio_store_put_entries(s, txn, 1, &e, 1,
		                                   &b->bytes)) != 0) {
			return rc;
		}
		*next = 2;
		return 0;
	case RAFTIO_RECOVER:
		/* The forced configuration takes the last entry's term (uv
		 * uses 1), so that the log's terms never go down and the
		 * recovered server's log stays as up to date as it was. */
		if ((rc = raftio_store_tail(s, txn, next, &last_term)) != 0) {
			return rc;
		}
		e.term = last_term > 0 ? last_term : 1;
		e.type = RAFT_CHANGE;
		e.buf = r->conf;
		e.batch = NULL;
		rc = raftio_store_put_entries(s, txn, *next, &e, 1, &b->bytes);
		(*next)++;
		return rc;
	default:
		return EINVAL;
	}
}

/* fail_batch gives every undecided request of b the storage error rc. */
static void
fail_batch(struct raftio_writer *w, struct batch *b, int rc, bool injected)
{
	MDB_envinfo info;
	int status = raftio_store_raft_err(rc);

	if (injected) {
		snprintf(b->errmsg, sizeof(b->errmsg),
		         "injected failure of write transaction %u", w->ntxn);
	} else if (rc == MDB_MAP_FULL) {
		mdb_env_info(w->store->env, &info);
		snprintf(b->errmsg, sizeof(b->errmsg),
		         "raft store full: LMDB map of %zu bytes is full "
		         "(raise the map size)",
		         info.me_mapsize);
	} else {
		snprintf(b->errmsg, sizeof(b->errmsg), "raft store write: %s",
		         mdb_strerror(rc));
	}
	b->tb_err = status == RAFT_NOSPACE   ? TB_EFULL
	            : status == RAFT_NOMEM   ? TB_ENOMEM
	            : status == RAFT_CORRUPT ? TB_ECORRUPT
	                                     : TB_EIO;
	for (struct raftio_req *r = b->head; r != NULL; r = r->next) {
		if (r->status == 0) {
			r->status = status;
		}
	}
	b->appends = b->entries = b->bytes = 0;
}

/* run writes batch b in one transaction. */
static bool
run(struct raftio_writer *w, struct batch *b)
{
	MDB_txn *txn = NULL;
	raft_index next;
	raft_term last_term;
	bool poisoned;
	int rc;

	w->ntxn++;
	uv_mutex_lock(&w->mu);
	poisoned = w->poisoned;
	uv_mutex_unlock(&w->mu);
	rc = mdb_txn_begin(w->store->env, NULL, 0, &txn);
	if (rc == 0) {
		rc = raftio_store_tail(w->store, txn, &next, &last_term);
	}
	for (struct raftio_req *r = b->head; rc == 0 && r != NULL;
	     r = r->next) {
		if (poisoned && is_log_write(r->type)) {
			r->status = RAFT_IOERR;
			continue;
		}
		rc = apply(w, txn, b, r, &next);
		uv_mutex_lock(&w->mu);
		poisoned = w->poisoned;
		uv_mutex_unlock(&w->mu);
	}
	if (rc == 0 && w->faults.fail_txn == w->ntxn) {
		mdb_txn_abort(txn);
		fail_batch(w, b, EIO, true);
		return false;
	}
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
	} else if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	if (rc != 0) {
		fail_batch(w, b, rc, false);
		return false;
	}
	return true;
}

static void
push(struct raftio_req ***tail, struct raftio_req *r)
{
	r->next = NULL;
	**tail = r;
	*tail = &r->next;
}

/* publish hands the decided batch over: sync requests to their waiting
 * callers, async ones to the done list (or to limbo after a crash). */
static void
publish(struct raftio_writer *w, struct batch *b, bool committed)
{
	struct raftio_req *r, *next;
	uv_async_t *notify;
	bool crash, any = false;

	uv_mutex_lock(&w->mu);
	w->stats.txns++;
	if (b->n > w->stats.max_batch) {
		w->stats.max_batch = b->n;
	}
	if (committed) {
		w->stats.commits++;
		w->stats.appends += b->appends;
		w->stats.entries += b->entries;
		w->stats.bytes += b->bytes;
	}
	if (b->errmsg[0] != '\0') {
		memcpy(w->errmsg, b->errmsg, sizeof(w->errmsg));
	}
	if (b->tb_err != TB_OK) {
		w->stats.last_error = b->tb_err;
	}
	if (!committed && b->log_writes) {
		w->poisoned = true;
	}
	w->stats.poisoned = w->poisoned;
	crash = committed && w->faults.crash_after_commits != 0 &&
	        w->stats.commits == w->faults.crash_after_commits;
	for (r = b->head; r != NULL; r = next) {
		next = r->next;
		if (r->status != 0) {
			w->stats.failures++;
		}
		if (r->sync) {
			r->done = true; /* r may be gone once we unlock */
		} else {
			push(crash ? &w->limbo_tail : &w->done_tail, r);
			any = any || !crash;
		}
	}
	if (crash) {
		/* A dead writer answers no one: fail the sync callers now
		 * (they would wait forever); the rest waits for close. */
		struct raftio_req *q = w->queue;
		w->crashed = true;
		w->queue = NULL;
		w->queue_tail = &w->queue;
		for (; q != NULL; q = next) {
			next = q->next;
			if (q->sync) {
				q->status = RAFT_IOERR;
				q->done = true;
			} else {
				push(&w->limbo_tail, q);
			}
		}
		snprintf(w->errmsg, sizeof(w->errmsg),
		         "raft store writer crashed (injected)");
	}
	uv_cond_broadcast(&w->synced);
	notify = w->notify;
	uv_mutex_unlock(&w->mu);
	if (any && notify != NULL) {
		uv_async_send(notify);
	}
}

/* cancel_all completes everything not yet written with RAFT_CANCELED,
 * limbo first since it was submitted first. Called with mu held. */
static void
cancel_all(struct raftio_writer *w)
{
	struct raftio_req *lists[2] = { w->limbo, w->queue }, *r, *next;

	for (int i = 0; i < 2; i++) {
		for (r = lists[i]; r != NULL; r = next) {
			next = r->next;
			r->status = RAFT_CANCELED;
			if (r->sync) {
				r->done = true;
			} else {
				push(&w->done_tail, r);
			}
		}
	}
	w->limbo = w->queue = NULL;
	w->limbo_tail = &w->limbo;
	w->queue_tail = &w->queue;
	uv_cond_broadcast(&w->synced);
}

static void
writer_main(void *arg)
{
	struct raftio_writer *w = arg;
	struct batch b;
	uv_async_t *notify;
	bool committed;

	/* named for top -H and perf: the Raft log's writer */
	prctl(PR_SET_NAME, "tb:raftlog", 0, 0, 0);
	uv_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && (w->queue == NULL || w->crashed)) {
			uv_cond_wait(&w->wake, &w->mu);
		}
		if (!w->stop && w->faults.writer_delay_ms > 0) {
			uv_mutex_unlock(&w->mu);
			uv_sleep(w->faults.writer_delay_ms);
			uv_mutex_lock(&w->mu);
		}
		if (w->stop) {
			break;
		}
		memset(&b, 0, sizeof(b));
		b.head = w->queue;
		w->queue = NULL;
		w->queue_tail = &w->queue;
		uv_mutex_unlock(&w->mu);
		for (struct raftio_req *r = b.head; r != NULL; r = r->next) {
			b.n++;
			b.log_writes = b.log_writes || is_log_write(r->type);
		}
		committed = run(w, &b);
		publish(w, &b, committed);
		uv_mutex_lock(&w->mu);
	}
	cancel_all(w);
	w->exited = true;
	notify = w->notify;
	uv_mutex_unlock(&w->mu);
	if (notify != NULL) {
		uv_async_send(notify);
	}
}

int
raftio_writer_start(struct raftio_writer *w, struct raftio_store *s,
                    uv_async_t *notify, const struct raftio_faults *f)
{
	memset(w, 0, sizeof(*w));
	w->store = s;
	w->notify = notify;
	w->faults = *f;
	w->queue_tail = &w->queue;
	w->done_tail = &w->done;
	w->limbo_tail = &w->limbo;
	w->stats.last_error = TB_OK;
	if (uv_mutex_init(&w->mu) != 0) {
		return RAFT_NOMEM;
	}
	if (uv_cond_init(&w->wake) != 0) {
		goto err_after_mutex;
	}
	if (uv_cond_init(&w->synced) != 0) {
		goto err_after_wake;
	}
	if (uv_thread_create(&w->thread, writer_main, w) != 0) {
		goto err_after_synced;
	}
	return 0;

err_after_synced:
	uv_cond_destroy(&w->synced);
err_after_wake:
	uv_cond_destroy(&w->wake);
err_after_mutex:
	uv_mutex_destroy(&w->mu);
	return RAFT_IOERR;
}

void
raftio_writer_submit(struct raftio_writer *w, struct raftio_req *r)
{
	r->sync = false;
	r->status = 0;
	uv_mutex_lock(&w->mu);
	push(&w->queue_tail, r);
	uv_cond_signal(&w->wake);
	uv_mutex_unlock(&w->mu);
}

int
raftio_writer_call(struct raftio_writer *w, struct raftio_req *r, char *errmsg,
                   size_t errlen)
{
	int rv;

	r->sync = true;
	r->done = false;
	r->status = 0;
	uv_mutex_lock(&w->mu);
	if (w->crashed || w->stop) {
		uv_mutex_unlock(&w->mu);
		snprintf(errmsg, errlen, "raft store writer is not running");
		return RAFT_IOERR;
	}
	push(&w->queue_tail, r);
	uv_cond_signal(&w->wake);
	while (!r->done) {
		uv_cond_wait(&w->synced, &w->mu);
	}
	rv = r->status;
	if (rv != 0) {
		snprintf(errmsg, errlen, "%s", w->errmsg);
	}
	uv_mutex_unlock(&w->mu);
	return rv;
}

struct raftio_req *
raftio_writer_take(struct raftio_writer *w, bool *exited, char *errmsg,
                   size_t errlen)
{
	struct raftio_req *head;

	uv_mutex_lock(&w->mu);
	head = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	*exited = w->exited;
	/* Copied as snprintf("%s") would, without its cost on every
	 * wake-up of the loop (the message is empty but after a failure). */
	if (errlen > 0) {
		size_t n = strnlen(w->errmsg, errlen - 1);
		memcpy(errmsg, w->errmsg, n);
		errmsg[n] = '\0';
	}
	uv_mutex_unlock(&w->mu);
	return head;
}

void
raftio_writer_stop(struct raftio_writer *w)
{
	uv_mutex_lock(&w->mu);
	w->stop = true;
	uv_cond_signal(&w->wake);
	uv_mutex_unlock(&w->mu);
}

void
raftio_writer_join(struct raftio_writer *w)
{
	uv_thread_join(&w->thread);
	uv_cond_destroy(&w->synced);
	uv_cond_destroy(&w->wake);
	uv_mutex_destroy(&w->mu);
}

void
raftio_writer_abort(struct raftio_writer *w)
{
	uv_mutex_lock(&w->mu);
	w->notify = NULL;
	uv_mutex_unlock(&w->mu);
	raftio_writer_stop(w);
	raftio_writer_join(w);
}

bool
raftio_writer_poisoned(struct raftio_writer *w, char *errmsg, size_t errlen)
{
	bool p;

	uv_mutex_lock(&w->mu);
	p = w->poisoned;
	if (p) {
		snprintf(errmsg, errlen, "raft log writes refused after: %s",
		         w->errmsg);
	}
	uv_mutex_unlock(&w->mu);
	return p;
}

void
raftio_writer_stats(struct raftio_writer *w, struct raftio_stats *out)
{
	uv_mutex_lock(&w->mu);
	*out = w->stats;
	uv_mutex_unlock(&w->mu);
}
