/* raftio: libraft's raft_io on a libuv loop; this file holds its life
 * cycle, its callbacks' delivery and the network half. The disk methods are
 * in raftio_disk.c: log writes go to the writer thread (raftio_writer.c),
 * load to an LMDB read transaction, snapshot_get and async_work to libuv's
 * thread pool; messages go to a transport table.
 *
 * Every callback fires later, on the loop thread: writer completions and
 * send completions are drained by one uv_async_t (its wake-ups coalesce),
 * thread-pool jobs by libuv's after-work callbacks. The async handle is
 * referenced only while callbacks are owed, so an idle, unstarted backend
 * does not keep the loop alive. */
#include "consensus/raftio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/raftio_impl.h"
#include "schema/error.h"

void
raftio_seterr(struct raftio *rio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rio->io->errmsg, sizeof(rio->io->errmsg), fmt, ap);
	va_end(ap);
}

void
raftio_pending_inc(struct raftio *rio)
{
	if (rio->pending++ == 0) {
		uv_ref((uv_handle_t *)&rio->async);
	}
}

void
raftio_pending_dec(struct raftio *rio)
{
	if (--rio->pending == 0 && rio->state == RAFTIO_ACTIVE) {
		uv_unref((uv_handle_t *)&rio->async);
	}
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct raftio *rio = h->data;

	if (--rio->handles == 0) {
		rio->state = RAFTIO_CLOSED;
		if (rio->close_cb != NULL) {
			rio->close_cb(rio->io);
		}
	}
}

/* raftio_maybe_closed finishes a close once the writer has exited and every
 * callback has fired: only then may the store and the handles go. */
void
raftio_maybe_closed(struct raftio *rio)
{
	if (rio->state != RAFTIO_CLOSING || rio->handles > 0 ||
	    !rio->writer_exited || rio->works != NULL || rio->sends != NULL) {
		return;
	}
	raftio_writer_join(&rio->writer);
	rio->writer_joined = true;
	raftio_store_close(&rio->store);
	rio->handles = 2;
	uv_close((uv_handle_t *)&rio->timer, on_handle_closed);
	uv_close((uv_handle_t *)&rio->async, on_handle_closed);
}

/* complete fires the callback of a request the writer has finished. */
static void
complete(struct raftio *rio, struct raftio_req *r, const char *msg)
{
	if (r->status == RAFT_CANCELED) {
		raftio_seterr(rio, "raft store is closing");
	} else if (r->status != 0) {
		raftio_seterr(rio, "%s", msg);
	}
	switch (r->type) {
	case RAFTIO_APPEND:
		raftio_pending_dec(rio);
		if (r->user.append->cb != NULL) {
			r->user.append->cb(r->user.append, r->status);
		}
		break;
	case RAFTIO_SNAPSHOT_PUT:
		raftio_pending_dec(rio);
		if (r->user.put->cb != NULL) {
			r->user.put->cb(r->user.put, r->status);
		}
		break;
	default:
		break; /* a truncate has no callback */
	}
	free(r);
}

static void
on_async(uv_async_t *h)
{
	struct raftio *rio = h->data;
	struct raftio_req *r, *rnext;
	struct raftio_send *s, *snext;
	char msg[RAFT_ERRMSG_BUF_SIZE];
	bool exited;

	r = raftio_writer_take(&rio->writer, &exited, msg, sizeof(msg));
	for (; r != NULL; r = rnext) {
		rnext = r->next;
		complete(rio, r, msg);
	}
	/* Sends queued by the callbacks below wait for the next wake-up. */
	s = rio->sends;
	rio->sends = NULL;
	rio->sends_tail = &rio->sends;
	for (; s != NULL; s = snext) {
		snext = s->next;
		raftio_pending_dec(rio);
		if (s->req->cb != NULL) {
			s->req->cb(s->req, s->status);
		}
		free(s);
	}
	if (exited) {
		rio->writer_exited = true;
	}
	raftio_maybe_closed(rio);
}

static void
on_tick(uv_timer_t *t)
{
	struct raftio *rio = t->data;

	if (rio->tick_cb != NULL) {
		rio->tick_cb(rio->io);
	}
}

static int
io_init(struct raft_io *io, raft_id id, const char *address)
{
	struct raftio *rio = io->impl;
	char *copy = NULL;

	if (address != NULL) {
		if ((copy = malloc(strlen(address) + 1)) == NULL) {
			return RAFT_NOMEM;
		}
		strcpy(copy, address);
	}
	free(rio->address);
	rio->address = copy;
	rio->id = id;
	return 0;
}

static void
io_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct raftio *rio = io->impl;

	rio->close_cb = cb;
	if (rio->state != RAFTIO_ACTIVE) {
		return;
	}
	rio->state = RAFTIO_CLOSING;
	uv_ref((uv_handle_t *)&rio->async);
	uv_timer_stop(&rio->timer);
	for (struct raftio_work *w = rio->works; w != NULL; w = w->next) {
		uv_cancel((uv_req_t *)&w->work); /* fails once it runs */
	}
	raftio_writer_stop(&rio->writer);
	uv_async_send(&rio->async); /* flush deferred sends */
}

static int
io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
         raft_io_recv_cb recv)
{
	struct raftio *rio = io->impl;

	if (rio->state != RAFTIO_ACTIVE || rio->started) {
		raftio_seterr(rio, "raft store closing or already started");
		return RAFT_BUSY;
	}
	rio->tick_cb = tick;
	rio->recv_cb = recv;
	rio->started = true;
	uv_timer_start(&rio->timer, on_tick, msecs, msecs);
	return 0;
}

static int
io_send(struct raft_io *io, struct raft_io_send *req,
        const struct raft_message *msg, raft_io_send_cb cb)
{
	struct raftio *rio = io->impl;
	struct raftio_transport *t = &rio->opt.transport;
	struct raftio_send *s;

	if (rio->state != RAFTIO_ACTIVE) {
		raftio_seterr(rio, "raft store is closing");
		return RAFT_CANCELED;
	}
	if ((s = malloc(sizeof(*s))) == NULL) {
		return RAFT_NOMEM;
	}
	req->cb = cb;
	s->req = req;
	s->next = NULL;
	s->status = t->send != NULL ? t->send(t->data, msg) : RAFT_NOCONNECTION;
	*rio->sends_tail = s;
	rio->sends_tail = &s->next;
	raftio_pending_inc(rio);
	uv_async_send(&rio->async);
	return 0;
}

static raft_time
io_time(struct raft_io *io)
{
	struct raftio *rio = io->impl;

	return uv_now(rio->loop);
}

/* io_random draws from splitmix64, seeded from the options, so that a test
 * run (election timeouts included) repeats exactly. */
static int
io_random(struct raft_io *io, int min, int max)
{
	struct raftio *rio = io->impl;
	uint64_t z = (rio->prng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	if (max <= min) {
		return min;
	}
	return min + (int)(z % (uint64_t)((int64_t)max - min));
}

int
raftio_init(struct raft_io *io, uv_loop_t *loop, const char *dir,
            const struct raftio_options *opt, char *errmsg, size_t errlen)
{
	struct raftio *rio;
	char msg[RAFT_ERRMSG_BUF_SIZE] = "";
	int rv;

	if ((rio = calloc(1, sizeof(*rio))) == NULL) {
		rv = RAFT_NOMEM;
		snprintf(msg, sizeof(msg), "out of memory");
		goto err;
	}
	if (opt != NULL) {
		rio->opt = *opt;
	}
	if (rio->opt.map_size == 0) {
		rio->opt.map_size = RAFTIO_MAP_SIZE_DEFAULT;
	}
	rv = raftio_store_open(&rio->store, dir, rio->opt.map_size, msg,
	                       sizeof(msg));
	if (rv != 0) {
		goto err_after_alloc;
	}
	/* The writer gets the async handle before it is initialised; it
	 * signals it only once a request has been queued. */
	rv = raftio_writer_start(&rio->writer, &rio->store, &rio->async,
	                         &rio->opt.faults);
	if (rv != 0) {
		snprintf(msg, sizeof(msg),
		         "cannot start the raft store writer");
		goto err_after_store;
	}
	if (uv_async_init(loop, &rio->async, on_async) != 0) {
		snprintf(msg, sizeof(msg), "cannot create an async handle");
		rv = RAFT_IOERR;
		goto err_after_writer;
	}
	rio->async.data = rio;
	uv_unref((uv_handle_t *)&rio->async);
	uv_timer_init(loop, &rio->timer);
	rio->timer.data = rio;
	rio->io = io;
	rio->loop = loop;
	rio->state = RAFTIO_ACTIVE;
	rio->sends_tail = &rio->sends;
	rio->prng = rio->opt.seed != 0
	                ? rio->opt.seed
	                : uv_hrtime() ^ (uint64_t)uv_os_getpid() << 32;
	io->version = 2;
	io->impl = rio;
	memset(io->errmsg, 0, sizeof(io->errmsg));
	io->init = io_init;
	io->close = io_close;
	io->start = io_start;
	io->send = io_send;
	io->time = io_time;
	io->random = io_random;
	raftio_disk_methods(io);
	return 0;

err_after_writer:
	raftio_writer_abort(&rio->writer);
err_after_store:
	raftio_store_close(&rio->store);
err_after_alloc:
	free(rio);
err:
	if (errmsg != NULL && errlen > 0) {
		snprintf(errmsg, errlen, "%s", msg);
	}
	return rv;
}

void
raftio_close(struct raft_io *io)
{
	struct raftio *rio = io->impl;

	/* Freeing before the close callback would pull memory from under
	 * the writer and libuv's handles: leak instead. */
	if (rio == NULL || rio->state != RAFTIO_CLOSED) {
		return;
	}
	free(rio->address);
	free(rio);
	io->impl = NULL;
}

void
raftio_stats(struct raft_io *io, struct raftio_stats *out)
{
	struct raftio *rio = io->impl;

	if (rio->writer_joined) {
		*out = rio->writer.stats;
		return;
	}
	raftio_writer_stats(&rio->writer, out);
}

int
raftio_recv(struct raft_io *io, struct raft_message *msg)
{
	struct raftio *rio = io->impl;

	if (rio->state != RAFTIO_ACTIVE || !rio->started ||
	    rio->recv_cb == NULL) {
		return RAFT_CANCELED;
	}
	rio->recv_cb(io, msg);
	return 0;
}

int
raftio_tb_err(int raft_rv)
{
	switch (raft_rv) {
	case 0:
		return TB_OK;
	case RAFT_NOSPACE:
		return TB_EFULL;
	case RAFT_IOERR:
		return TB_EIO;
	case RAFT_CORRUPT:
		return TB_ECORRUPT;
	case RAFT_CANCELED:
		return TB_ECLOSED;
	case RAFT_NOMEM:
		return TB_ENOMEM;
	default:
		return TB_EINVAL;
	}
}
