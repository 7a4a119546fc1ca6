/* The writer thread of raftio: the only owner of write transactions on a
 * raftio store. It drains every queued request into one transaction and one
 * commit, then hands the completions back to the loop thread. */
#ifndef TB_CONSENSUS_RAFTIO_WRITER_H
#define TB_CONSENSUS_RAFTIO_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <uv.h>

#include "consensus/raftio.h"
#include "consensus/raftio_store.h"

enum raftio_req_type {
	RAFTIO_APPEND = 1,   /* async: entries at index.. */
	RAFTIO_TRUNCATE,     /* async: delete entries >= index */
	RAFTIO_SNAPSHOT_PUT, /* async: store snapshot, trim the log */
	RAFTIO_SET_TERM,     /* sync: term = value, vote = 0 */
	RAFTIO_SET_VOTE,     /* sync: vote = value */
	RAFTIO_BOOTSTRAP,    /* sync: term 1 and conf at index 1 */
	RAFTIO_RECOVER       /* sync: conf appended after the last entry */
};

/* One request to the writer. The loop thread fills it; the writer reads the
 * referenced entries, snapshot or conf (which must stay valid until the
 * request completes) and sets status. */
struct raftio_req {
	struct raftio_req *next;
	int type;
	int status;
	raft_index index;
	const struct raft_entry *entries;
	unsigned n;
	const struct raft_snapshot *snapshot;
	unsigned trailing;
	uint64_t value;
	struct raft_buffer conf;
	bool sync;
	bool done;
	/* The libraft request to complete; only the loop side uses it. */
	union {
		struct raft_io_append *append;
		struct raft_io_snapshot_put *put;
	} user;
};

struct raftio_writer {
	struct raftio_store *store;
	struct raftio_faults faults;
	uv_thread_t thread;
	uv_mutex_t mu;
	uv_cond_t wake;   /* the writer waits here for requests */
	uv_cond_t synced; /* sync callers wait here for their request */
	/* Under mu: */
	uv_async_t *notify; /* woken when completions are ready */
	struct raftio_req *queue, **queue_tail;
	struct raftio_req *done, **done_tail;
	struct raftio_req *limbo, **limbo_tail; /* withheld by a crash */
	bool stop;
	bool exited;
	bool crashed;
	bool poisoned;
	struct raftio_stats stats;
	char errmsg[RAFT_ERRMSG_BUF_SIZE]; /* the last failure */
	/* Writer thread only: */
	unsigned ntxn;
};

/* raftio_writer_start starts the thread on store s. notify is signalled
 * (uv_async_send) whenever completions are ready and once when the thread
 * exits; it may be initialised after this call but before the first
 * request. Returns 0 or RAFT_NOMEM/RAFT_IOERR. */
int raftio_writer_start(struct raftio_writer *w, struct raftio_store *s,
                        uv_async_t *notify, const struct raftio_faults *f);

/* raftio_writer_submit queues an async request (append, truncate, snapshot
 * put). It completes on the done list, in submission order. The writer
 * does not free it. */
void raftio_writer_submit(struct raftio_writer *w, struct raftio_req *r);

/* raftio_writer_call runs a sync request and waits until it is durable or
 * failed, behind every request queued before it. Returns its status, with
 * the reason in errmsg on failure. */
int raftio_writer_call(struct raftio_writer *w, struct raftio_req *r,
                       char *errmsg, size_t errlen);

/* raftio_writer_take returns the completed async requests in submission
 * order (linked by next; the caller frees them), sets *exited once the
 * thread has exited and copies the last failure into errmsg. */
struct raftio_req *raftio_writer_take(struct raftio_writer *w, bool *exited,
                                      char *errmsg, size_t errlen);

/* raftio_writer_stop asks the thread to exit after the transaction in
 * progress; queued requests complete with RAFT_CANCELED. */
void raftio_writer_stop(struct raftio_writer *w);

/* raftio_writer_join waits for the thread (after stop) and releases w. */
void raftio_writer_join(struct raftio_writer *w);

/* raftio_writer_abort stops and joins a writer that has no requests,
 * without signalling notify (for a failed start-up). */
void raftio_writer_abort(struct raftio_writer *w);

/* raftio_writer_poisoned tells whether a log write has failed, copying the
 * reason into errmsg if so. */
bool raftio_writer_poisoned(struct raftio_writer *w, char *errmsg,
                            size_t errlen);

/* raftio_writer_stats copies the counters. */
void raftio_writer_stats(struct raftio_writer *w, struct raftio_stats *out);

#endif
