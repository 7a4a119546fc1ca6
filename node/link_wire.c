/* A blocking client for one link connection (node/link_wire.h): nng byte
 * stream, 4-byte big-endian length-prefixed frames. Every call waits on
 * one aio with what is left of its time limit; nng may transfer fewer
 * bytes than asked, so sends and receives go on with the rest. */
#include "node/link_wire.h"

#include "node/link_impl.h"
#include "schema/error.h"

#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(LINK_WIRE_MAX == LINK_RECV_MAX,
               "a client takes what the listener takes");

static int
fail(struct link_wire *w, int rv, const char *what)
{
	snprintf(w->err, sizeof(w->err), "%s: %s", what, nng_strerror(rv));
	return rv == NNG_ETIMEDOUT ? TB_ETIMEOUT
	       : rv == NNG_ENOMEM  ? TB_ENOMEM
	                           : TB_ECLOSED;
}

/* io moves all n bytes at p (send or receive) before deadline. */
static int
io(struct link_wire *w, bool tx, uint8_t *p, size_t n, nng_time deadline)
{
	nng_iov iov;
	nng_time now;
	int rv;

	while (n > 0) {
		now = nng_clock();
		if (now >= deadline) {
			return NNG_ETIMEDOUT;
		}
		iov.iov_buf = p;
		iov.iov_len = n;
		nng_aio_set_iov(w->aio, 1, &iov);
		nng_aio_set_timeout(w->aio, (nng_duration)(deadline - now));
		if (tx) {
			nng_stream_send(w->s, w->aio);
		} else {
			nng_stream_recv(w->s, w->aio);
		}
		nng_aio_wait(w->aio);
		if ((rv = nng_aio_result(w->aio)) != 0) {
			return rv;
		}
		p += nng_aio_count(w->aio);
		n -= nng_aio_count(w->aio);
	}
	return 0;
}

int
link_wire_dial(struct link_wire *w, const char *url, int timeout_ms)
{
	nng_stream_dialer *d = NULL;
	int rv;

	memset(w, 0, sizeof(*w));
	if ((rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0) {
		return fail(w, rv, "cannot dial");
	}
	if ((rv = nng_stream_dialer_alloc(&d, url)) != 0) {
		return fail(w, rv, "cannot dial");
	}
	nng_stream_dialer_set_bool(d, NNG_OPT_TCP_NODELAY, true);
	nng_aio_set_timeout(w->aio, timeout_ms);
	nng_stream_dialer_dial(d, w->aio);
	nng_aio_wait(w->aio);
	rv = nng_aio_result(w->aio);
	if (rv == 0) {
		w->s = nng_aio_get_output(w->aio, 0);
	}
	nng_stream_dialer_free(d);
	return rv == 0 ? TB_OK : fail(w, rv, "cannot connect");
}

int
link_wire_send(struct link_wire *w, const void *p, size_t n, int timeout_ms)
{
	nng_time deadline = nng_clock() + (nng_time)timeout_ms;
	uint8_t len[4];
	int rv;

	if (w->s == NULL) {
		snprintf(w->err, sizeof(w->err), "not connected");
		return TB_ECLOSED;
	}
	if (n > LINK_WIRE_MAX) {
		snprintf(w->err, sizeof(w->err),
		         "a frame of %zu bytes is over the limit of %d", n,
		         LINK_WIRE_MAX);
		return TB_ETOOBIG;
	}
	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	if ((rv = io(w, true, len, 4, deadline)) != 0 ||
	    (rv = io(w, true, (uint8_t *)p, n, deadline)) != 0) {
		return fail(w, rv, "cannot send");
	}
	return TB_OK;
}

int
link_wire_recv(struct link_wire *w, uint8_t **p, size_t *n, int timeout_ms)
{
	nng_time deadline = nng_clock() + (nng_time)timeout_ms;
	uint8_t hdr[4], *b;
	size_t len;
	int rv;

	*p = NULL;
	*n = 0;
	if (w->s == NULL) {
		snprintf(w->err, sizeof(w->err), "not connected");
		return TB_ECLOSED;
	}
	if ((rv = io(w, false, hdr, 4, deadline)) != 0) {
		return fail(w, rv, "cannot receive");
	}
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	      (size_t)hdr[2] << 8 | hdr[3];
	if (len > LINK_WIRE_MAX) {
		snprintf(w->err, sizeof(w->err),
		         "the peer's length prefix says %zu bytes, over the "
		         "limit of %d",
		         len, LINK_WIRE_MAX);
		return TB_ETOOBIG;
	}
	if ((b = malloc(len > 0 ? len : 1)) == NULL) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		return TB_ENOMEM;
	}
	if ((rv = io(w, false, b, len, deadline)) != 0) {
		free(b);
		return fail(w, rv, "cannot receive");
	}
	*p = b;
	*n = len;
	return TB_OK;
}

void
link_wire_close(struct link_wire *w)
{
	if (w->aio != NULL) {
		nng_aio_stop(w->aio);
	}
	if (w->s != NULL) {
		nng_stream_close(w->s);
		nng_stream_free(w->s);
		w->s = NULL;
	}
	if (w->aio != NULL) {
		nng_aio_free(w->aio);
		w->aio = NULL;
	}
}
