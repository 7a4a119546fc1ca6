/* Internals shared by raftio.c (life cycle, callbacks, network) and
 * raftio_disk.c (the disk methods): the backend's loop-thread state. */
#ifndef TB_CONSENSUS_RAFTIO_IMPL_H
#define TB_CONSENSUS_RAFTIO_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <raft.h>
#include <uv.h>

#include "consensus/raftio.h"
#include "consensus/raftio_store.h"
#include "consensus/raftio_writer.h"

enum { RAFTIO_ACTIVE = 1, RAFTIO_CLOSING, RAFTIO_CLOSED };

/* A send whose callback waits for the next turn of the loop. */
struct raftio_send {
	struct raftio_send *next;
	struct raft_io_send *req;
	int status;
};

/* A job on libuv's thread pool: snapshot_get or async_work. */
struct raftio_work {
	uv_work_t work;
	struct raftio *rio;
	struct raftio_work *prev, *next;
	struct raft_io_snapshot_get *get; /* NULL for async_work */
	struct raft_io_async_work *async;
	struct raft_snapshot *snapshot;
	int status;
	char errmsg[RAFT_ERRMSG_BUF_SIZE];
};

struct raftio {
	struct raft_io *io;
	uv_loop_t *loop;
	struct raftio_options opt;
	struct raftio_store store;
	struct raftio_writer writer;
	uv_async_t async;
	uv_timer_t timer;
	int state;
	bool started;
	bool loaded;
	bool writer_exited;
	bool writer_joined;    /* its counters are final, its mutex gone */
	unsigned handles;      /* handles still closing */
	unsigned pending;      /* callbacks owed through the async handle */
	raft_index next_index; /* index of the next appended entry */
	struct raftio_send *sends, **sends_tail;
	struct raftio_work *works;
	raft_id id;
	char *address;
	uint64_t prng;
	raft_io_tick_cb tick_cb;
	raft_io_recv_cb recv_cb;
	raft_io_close_cb close_cb;
};

/* raftio_seterr formats rio's io->errmsg (loop thread only). */
void raftio_seterr(struct raftio *rio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* raftio_pending_inc and raftio_pending_dec count the callbacks owed
 * through the async handle, which is referenced (keeps the loop alive)
 * only while one is owed. */
void raftio_pending_inc(struct raftio *rio);
void raftio_pending_dec(struct raftio *rio);

/* raftio_maybe_closed finishes a close once the writer has exited and no
 * callback is owed; call it whenever one of those may have changed. */
void raftio_maybe_closed(struct raftio *rio);

/* raftio_disk_methods installs the disk methods of raftio_disk.c in io. */
void raftio_disk_methods(struct raft_io *io);

#endif
