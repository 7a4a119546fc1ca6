/* raftio's disk methods: the raft_io calls that read or write the store.
 * Async log writes are queued to the writer thread in order; term, vote,
 * bootstrap and recover wait for it; load reads on the loop thread;
 * snapshot_get and async_work run on libuv's thread pool. */
#include "consensus/raftio_impl.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/raftio_load.h"

/* check_log_write refuses a log write when closing, before load (the next
 * index is unknown) or after a failed log write. */
static int
check_log_write(struct raftio *rio)
{
	if (rio->state != RAFTIO_ACTIVE) {
		raftio_seterr(rio, "raft store is closing");
		return RAFT_CANCELED;
	}
	if (!rio->loaded) {
		raftio_seterr(rio, "raft store written before load");
		return RAFT_INVALID;
	}
	if (raftio_writer_poisoned(&rio->writer, rio->io->errmsg,
	                           sizeof(rio->io->errmsg))) {
		return RAFT_IOERR;
	}
	return 0;
}

static int
io_load(struct raft_io *io, raft_term *term, raft_id *vote,
        struct raft_snapshot **snapshot, raft_index *start,
        struct raft_entry *entries[], size_t *n)
{
	struct raftio *rio = io->impl;
	int rv;

	rv = raftio_load(&rio->store, term, vote, snapshot, start, entries, n,
	                 io->errmsg, sizeof(io->errmsg));
	if (rv != 0) {
		return rv;
	}
	rio->next_index = *start + *n;
	rio->loaded = true;
	return 0;
}

/* call runs a sync writer request. */
static int
call(struct raftio *rio, struct raftio_req *r)
{
	if (rio->state != RAFTIO_ACTIVE) {
		raftio_seterr(rio, "raft store is closing");
		return RAFT_CANCELED;
	}
	return raftio_writer_call(&rio->writer, r, rio->io->errmsg,
	                          sizeof(rio->io->errmsg));
}

static int
conf_call(struct raft_io *io, int type, const struct raft_configuration *conf)
{
	struct raftio_req r;
	int rv;

	memset(&r, 0, sizeof(r));
	r.type = type;
	if ((rv = raft_configuration_encode(conf, &r.conf)) != 0) {
		return rv;
	}
	rv = call(io->impl, &r);
	raft_free(r.conf.base);
	return rv;
}

static int
io_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
	return conf_call(io, RAFTIO_BOOTSTRAP, conf);
}

static int
io_recover(struct raft_io *io, const struct raft_configuration *conf)
{
	return conf_call(io, RAFTIO_RECOVER, conf);
}

static int
io_set_term(struct raft_io *io, raft_term term)
{
	struct raftio_req r;

	memset(&r, 0, sizeof(r));
	r.type = RAFTIO_SET_TERM;
	r.value = term;
	return call(io->impl, &r);
}

static int
io_set_vote(struct raft_io *io, raft_id id)
{
	struct raftio_req r;

	memset(&r, 0, sizeof(r));
	r.type = RAFTIO_SET_VOTE;
	r.value = id;
	return call(io->impl, &r);
}

static int
io_append(struct raft_io *io, struct raft_io_append *req,
          const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
	struct raftio *rio = io->impl;
	struct raftio_req *r;
	int rv;

	if ((rv = check_log_write(rio)) != 0) {
		return rv;
	}
	if (n == 0) {
		raftio_seterr(rio, "append of no entries");
		return RAFT_INVALID;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return RAFT_NOMEM;
	}
	r->type = RAFTIO_APPEND;
	r->index = rio->next_index;
	r->entries = entries;
	r->n = n;
	r->user.append = req;
	req->cb = cb;
	rio->next_index += n;
	raftio_pending_inc(rio);
	raftio_writer_submit(&rio->writer, r);
	return 0;
}

static int
io_truncate(struct raft_io *io, raft_index index)
{
	struct raftio *rio = io->impl;
	struct raftio_req *r;
	int rv;

	if ((rv = check_log_write(rio)) != 0) {
		return rv;
	}
	if (index == 0 || index > rio->next_index) {
		raftio_seterr(rio, "truncate at %llu: the log ends before %llu",
		              index, rio->next_index);
		return RAFT_INVALID;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return RAFT_NOMEM;
	}
	r->type = RAFTIO_TRUNCATE;
	r->index = index;
	rio->next_index = index;
	raftio_writer_submit(&rio->writer, r);
	return 0;
}

static int
io_snapshot_put(struct raft_io *io, unsigned trailing,
                struct raft_io_snapshot_put *req,
                const struct raft_snapshot *snapshot,
                raft_io_snapshot_put_cb cb)
{
	struct raftio *rio = io->impl;
	struct raftio_req *r;
	int rv;

	if ((rv = check_log_write(rio)) != 0) {
		return rv;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return RAFT_NOMEM;
	}
	r->type = RAFTIO_SNAPSHOT_PUT;
	r->snapshot = snapshot;
	r->trailing = trailing;
	r->user.put = req;
	req->cb = cb;
	if (trailing == 0) {
		rio->next_index = snapshot->index + 1;
	}
	raftio_pending_inc(rio);
	raftio_writer_submit(&rio->writer, r);
	return 0;
}

static void
work_cb(uv_work_t *work)
{
	struct raftio_work *w = work->data;

	if (w->get != NULL) {
		w->status = raftio_load_snapshot(&w->rio->store, &w->snapshot,
		                                 w->errmsg, sizeof(w->errmsg));
	} else {
		w->status = w->async->work(w->async);
	}
}

static void
after_work_cb(uv_work_t *work, int uvstatus)
{
	struct raftio_work *w = work->data;
	struct raftio *rio = w->rio;
	int status = uvstatus == UV_ECANCELED ? RAFT_CANCELED : w->status;

	if (w->prev != NULL) {
		w->prev->next = w->next;
	} else {
		rio->works = w->next;
	}
	if (w->next != NULL) {
		w->next->prev = w->prev;
	}
	if (w->get != NULL) {
		/* libraft frees a snapshot it is given; when closing it
		 * would only drop it, so we do. */
		if (status == 0 && rio->state != RAFTIO_ACTIVE) {
			status = RAFT_CANCELED;
		}
		if (status != 0) {
			raftio_snapshot_free(w->snapshot);
			w->snapshot = NULL;
			raftio_seterr(rio, "%s",
			              status == RAFT_CANCELED
			                  ? "raft store is closing"
			                  : w->errmsg);
		}
		if (w->get->cb != NULL) {
			w->get->cb(w->get, w->snapshot, status);
		}
	} else if (w->async->cb != NULL) {
		w->async->cb(w->async, status);
	}
	free(w);
	raftio_maybe_closed(rio);
}

/* queue_work starts a thread-pool job for a snapshot_get or async_work. */
static int
queue_work(struct raftio *rio, struct raft_io_snapshot_get *get,
           struct raft_io_async_work *async)
{
	struct raftio_work *w;

	if (rio->state != RAFTIO_ACTIVE) {
		raftio_seterr(rio, "raft store is closing");
		return RAFT_CANCELED;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		return RAFT_NOMEM;
	}
	w->work.data = w;
	w->rio = rio;
	w->get = get;
	w->async = async;
	if (uv_queue_work(rio->loop, &w->work, work_cb, after_work_cb) != 0) {
		free(w);
		raftio_seterr(rio, "cannot queue work on the loop");
		return RAFT_IOERR;
	}
	w->next = rio->works;
	if (w->next != NULL) {
		w->next->prev = w;
	}
	rio->works = w;
	return 0;
}

static int
io_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                raft_io_snapshot_get_cb cb)
{
	req->cb = cb;
	return queue_work(io->impl, req, NULL);
}

static int
io_async_work(struct raft_io *io, struct raft_io_async_work *req,
              raft_io_async_work_cb cb)
{
	req->cb = cb;
	return queue_work(io->impl, NULL, req);
}

void
raftio_disk_methods(struct raft_io *io)
{
	io->load = io_load;
	io->bootstrap = io_bootstrap;
	io->recover = io_recover;
	io->set_term = io_set_term;
	io->set_vote = io_set_vote;
	io->append = io_append;
	io->truncate = io_truncate;
	io->snapshot_put = io_snapshot_put;
	io->snapshot_get = io_snapshot_get;
	io->async_work = io_async_work;
}
