/* A libraft raft_io backend: log, term, vote and snapshots in LMDB, written
 * by one writer thread in batches, network through a pluggable transport. */
#ifndef TB_CONSENSUS_RAFTIO_H
#define TB_CONSENSUS_RAFTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <uv.h>

/* Default LMDB map size of a raftio store: 1 GiB. */
#define RAFTIO_MAP_SIZE_DEFAULT ((size_t)1 << 30)

/* The network half of the backend, plugged in by node/ (nng links). All
 * calls happen on the loop thread. A NULL send makes every send complete
 * with RAFT_NOCONNECTION, which libraft treats as an unreachable peer. */
struct raftio_transport {
	void *data;
	/* send encodes or copies msg (addressed by msg->server_id and
	 * msg->server_address) before it returns: msg, its entries and its
	 * snapshot data stay libraft's. It returns 0 if the message was
	 * queued, else a RAFT_* code; raftio then completes libraft's send
	 * request with that status, later, on the loop thread. */
	int (*send)(void *data, const struct raft_message *msg);
};

/* Fault injection for the contract tests; all zero in production. */
struct raftio_faults {
	/* Fail the Nth write transaction of the writer (1-based, counting
	 * every transaction it begins) as if the disk returned EIO: it is
	 * aborted, its requests fail with RAFT_IOERR. 0 = never. */
	unsigned fail_txn;
	/* Sleep this long after requests arrive and before the writer takes
	 * them, so that more pile up into one transaction. */
	unsigned writer_delay_ms;
	/* Simulate a crash right after the Nth successful commit: that
	 * commit is durable but its callbacks are withheld, and the writer
	 * does nothing more; close then cancels everything unanswered, and
	 * set_term/set_vote fail with RAFT_IOERR. 0 = never. */
	unsigned crash_after_commits;
};

struct raftio_options {
	size_t map_size; /* LMDB map size in bytes; 0 = 1 GiB */
	uint64_t seed;   /* seed of io->random; 0 = from the clock */
	struct raftio_transport transport;
	struct raftio_faults faults;
};

/* Counters of the writer, for metrics and for the batching tests. Each
 * commit is one durable sync point (LMDB syncs data, then the meta page). */
struct raftio_stats {
	uint64_t appends;   /* append requests made durable */
	uint64_t entries;   /* log entries made durable */
	uint64_t bytes;     /* entry payload bytes made durable */
	uint64_t txns;      /* write transactions begun */
	uint64_t commits;   /* write transactions committed */
	uint64_t max_batch; /* most requests in one transaction */
	uint64_t failures;  /* requests completed with an error */
	bool poisoned;      /* a log write failed: log writes are refused */
	int last_error;     /* TB_* code of the last failure, TB_OK if none */
};

/* raftio_init fills io (version 2) with a backend whose data lives in the
 * LMDB environment in dir (created if needed, mode 0700; its own
 * environment, not the node's state). It starts the writer thread and
 * initialises handles on loop; everything else happens when libraft calls
 * io's methods. opt may be NULL for defaults and is copied. io->data is left
 * to the caller.
 *
 * Returns 0, or a RAFT_* code with a reason in errmsg (errlen bytes, may be
 * NULL): RAFT_NOSPACE if the map is too small even to create the store,
 * RAFT_CORRUPT if dir holds a store of an unknown format, RAFT_IOERR or
 * RAFT_NOMEM otherwise. On failure nothing needs closing.
 *
 * Teardown: io->close(io, cb) (raft_close calls it), run the loop until cb
 * fires, then raftio_close(io). Every callback of a request fires before cb;
 * appends not yet taken by the writer complete with RAFT_CANCELED.
 *
 * Threads: every method runs on the loop thread. set_term, set_vote,
 * bootstrap and recover return only once durable; they wait for the writer
 * (behind the requests already queued), so they block the loop for one
 * commit. libraft needs them synchronous; they happen once per election.
 *
 * After a failed log write (append, truncate, snapshot_put) the backend
 * refuses further log writes with RAFT_IOERR until it is reopened: libraft
 * rewrites the failed indexes from memory, and a later write could otherwise
 * leave a hole in the log on disk. A full map fails with RAFT_NOSPACE. */
int raftio_init(struct raft_io *io, uv_loop_t *loop, const char *dir,
                const struct raftio_options *opt, char *errmsg, size_t errlen);

/* raftio_close frees what raftio_init allocated. Call it only after the
 * close callback of io->close has fired. */
void raftio_close(struct raft_io *io);

/* raftio_stats copies the writer's counters into out; after the close
 * callback (and before raftio_close) they are the final ones. */
void raftio_stats(struct raft_io *io, struct raftio_stats *out);

/* raftio_recv hands a message received by the transport to libraft. Call it
 * on the loop thread. It returns 0 once libraft owns msg's dynamic memory
 * (append entries: the entries array and their batch; install snapshot: the
 * configuration and the data), or RAFT_CANCELED if io is not started or is
 * closing, in which case the caller keeps it. */
int raftio_recv(struct raft_io *io, struct raft_message *msg);

/* raftio_tb_err maps a RAFT_* code from this backend onto the project's
 * error enum: NOSPACE -> TB_EFULL, IOERR -> TB_EIO, CORRUPT -> TB_ECORRUPT,
 * CANCELED -> TB_ECLOSED, NOMEM -> TB_ENOMEM, 0 -> TB_OK, else TB_EINVAL. */
int raftio_tb_err(int raft_rv);

#endif
