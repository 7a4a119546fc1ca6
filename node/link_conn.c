/* The links' connections: one nng byte stream each, carrying
 * length-prefixed frames, and the queue that hands their events from nng's
 * threads to the loop (link_nng.c dials, listens and drains the queue).
 *
 * Wire. Every frame (a handshake message, or a sealed frame) is a 4-byte
 * big-endian length, then that many bytes. A length over LINK_RECV_MAX
 * closes the connection before anything is allocated or read for it (the
 * loop logs and counts it as "oversized").
 *
 * Each connection has one receive in flight (into a LINK_RBUF buffer, so a
 * read takes several small frames; a larger frame is read straight into
 * its message) and one send (a link sends one frame at a time). nng may
 * transfer fewer bytes than asked: both go on with the rest of the vector.
 *
 * Threads. nng calls rx_cb and tx_cb on its own threads. They only queue an
 * event (a mutex and uv_async_send) and re-arm, as their last action. A
 * receive waits for the loop instead of re-arming when LINK_RX_PAUSE bytes
 * are queued, so a slow loop pushes back on the peers' TCP windows instead
 * of growing memory.
 *
 * Closing. Only the loop closes a connection: it marks it closing (its
 * callbacks then queue nothing), closes the stream (which fails its aios at
 * once), stops both aios (waiting for a callback that is running, which
 * only takes the queue's mutex), and frees everything. Nothing waits on
 * the network, so closing a link or stopping the node is prompt. */
#include "node/link_impl.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the event queue ------------------------------------------------- */

/* link_ev_push queues an event; with c and msg (a received frame) it may
 * pause c's receiving (returns true: do not re-arm). Out of memory, it
 * drops what it carries, closes the stream and returns true; the tick
 * then closes the connection (c->lost) or redials (l->dial_lost). */
bool
link_ev_push(struct links *ls, struct link_conn *c, enum link_ev_kind kind,
             struct link *l, nng_stream *s, nng_msg *msg, int result,
             size_t len)
{
	struct link_ev *e = malloc(sizeof(*e));
	bool open, pause = false;

	if (e == NULL) {
		if (msg != NULL) {
			nng_msg_free(msg);
		}
		if (c != NULL) {
			c->lost = NNG_ENOMEM;
			nng_stream_close(c->s);
			return true;
		}
		if (s != NULL) {
			nng_stream_close(s);
			nng_stream_free(s);
		}
		if (l != NULL) {
			l->dial_lost = true;
		}
		return true;
	}
	e->next = NULL;
	e->kind = kind;
	e->l = l;
	e->s = s;
	e->pipe = c != NULL ? c->id : 0;
	e->msg = msg;
	e->result = result;
	e->len = len;
	pthread_mutex_lock(&ls->qmu);
	*ls->evt = e;
	ls->evt = &e->next;
	if (msg != NULL) {
		ls->ev_bytes += nng_msg_len(msg);
		if (ls->ev_bytes > LINK_RX_PAUSE && c != NULL) {
			c->paused = pause = true;
			c->pnext = ls->paused;
			ls->paused = c;
		}
	}
	open = ls->handles_open;
	pthread_mutex_unlock(&ls->qmu);
	if (open) {
		uv_async_send(&ls->wake);
	}
	return pause;
}

/* ---- receiving ------------------------------------------------------- */

/* rx_msg sets *m to a message of len bytes: c's spare (the last handled
 * frame's, link_conn_rx_spare) if it has one, else a new one. A fresh
 * message per frame cost a page fault per 4 KiB copied into it. */
static int
rx_msg(struct link_conn *c, nng_msg **m, size_t len)
{
	nng_msg *spare;

	pthread_mutex_lock(&c->ls->qmu);
	spare = c->rspare;
	c->rspare = NULL;
	pthread_mutex_unlock(&c->ls->qmu);
	if (spare != NULL) {
		if (nng_msg_realloc(spare, len) == 0) {
			*m = spare;
			return 0;
		}
		nng_msg_free(spare);
	}
	return nng_msg_alloc(m, len);
}

void
link_conn_rx_spare(struct links *ls, uint32_t pipe, nng_msg *msg)
{
	struct link_conn *c = link_conn_find(ls, pipe);

	if (c != NULL && !c->closing) {
		pthread_mutex_lock(&ls->qmu);
		if (c->rspare == NULL) {
			c->rspare = msg;
			msg = NULL;
		}
		pthread_mutex_unlock(&ls->qmu);
	}
	if (msg != NULL) {
		nng_msg_free(msg);
	}
}

/* link_conn_rx takes the whole frames in c's buffer, then arms the next
 * read (unless the loop must drain first, or the peer sent an oversized
 * length). Runs on c's rx thread, or on the loop while c is paused; arming
 * is its last action. */
void
link_conn_rx(struct link_conn *c)
{
	nng_iov iov;
	nng_msg *m;
	size_t off = 0, len;

	while (c->rmsg == NULL && c->rlen - off >= 4) {
		size_t have = c->rlen - off - 4;
		len = link_get_u32(c->rbuf + off);
		if (len > LINK_RECV_MAX) {
			/* Refused on its length: nothing is allocated or
			 * read for it, and nothing more on c. */
			link_ev_push(c->ls, c, EV_REM, NULL, NULL, NULL,
			             NNG_EMSGSIZE, len);
			return;
		}
		if (have < len && 4 + len <= LINK_RBUF) {
			break; /* the rest comes into the buffer */
		}
		if (rx_msg(c, &m, len) != 0) {
			link_ev_push(c->ls, c, EV_REM, NULL, NULL, NULL,
			             NNG_ENOMEM, 0);
			return;
		}
		if (have < len) {
			/* Larger than the buffer: the rest is read straight
			 * into its message. */
			memcpy(nng_msg_body(m), c->rbuf + off + 4, have);
			c->rmsg = m;
			c->rgot = have;
			off = c->rlen;
			break;
		}
		memcpy(nng_msg_body(m), c->rbuf + off + 4, len);
		off += 4 + len;
		if (link_ev_push(c->ls, c, EV_RECV, NULL, NULL, m, 0, 0)) {
			memmove(c->rbuf, c->rbuf + off, c->rlen - off);
			c->rlen -= off;
			return; /* paused: the loop calls this again */
		}
	}
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (c->rmsg != NULL) {
		iov.iov_buf = (uint8_t *)nng_msg_body(c->rmsg) + c->rgot;
		iov.iov_len = nng_msg_len(c->rmsg) - c->rgot;
	} else {
		iov.iov_buf = c->rbuf + c->rlen;
		iov.iov_len = LINK_RBUF - c->rlen;
	}
	nng_aio_set_iov(c->rx_aio, 1, &iov);
	nng_stream_recv(c->s, c->rx_aio);
}

static void
rx_cb(void *arg)
{
	struct link_conn *c = arg;
	int rv = nng_aio_result(c->rx_aio);
	size_t n = nng_aio_count(c->rx_aio);
	nng_msg *m;

	if (c->closing) {
		return;
	}
	if (rv != 0) {
		/* The peer closed (NNG_ECLOSED at the end of the stream,
		 * or a reset): the loop closes this side. */
		link_ev_push(c->ls, c, EV_REM, NULL, NULL, NULL, rv, 0);
		return;
	}
	if (c->rmsg != NULL) {
		c->rgot += n;
		if (c->rgot < nng_msg_len(c->rmsg)) {
			link_conn_rx(c);
			return;
		}
		m = c->rmsg;
		c->rmsg = NULL;
		c->rgot = 0;
		if (link_ev_push(c->ls, c, EV_RECV, NULL, NULL, m, 0, 0)) {
			return;
		}
	} else {
		c->rlen += n;
	}
	link_conn_rx(c);
}

/* ---- sending --------------------------------------------------------- */

/* tx_arm sends what is left of c's frame (header, then body). */
static void
tx_arm(struct link_conn *c)
{
	size_t body = nng_msg_len(c->tmsg);
	nng_iov iov[2];
	unsigned n = 0;

	if (c->toff < 4) {
		iov[n].iov_buf = (uint8_t *)nng_msg_header(c->tmsg) + c->toff;
		iov[n++].iov_len = 4 - c->toff;
	}
	if (body > 0) {
		size_t skip = c->toff > 4 ? c->toff - 4 : 0;
		iov[n].iov_buf = (uint8_t *)nng_msg_body(c->tmsg) + skip;
		iov[n++].iov_len = body - skip;
	}
	nng_aio_set_iov(c->tx_aio, n, iov);
	nng_stream_send(c->s, c->tx_aio);
}

static void
tx_cb(void *arg)
{
	struct link_conn *c = arg;
	int rv = nng_aio_result(c->tx_aio);
	nng_msg *m;
	bool wake;

	if (rv == 0) {
		c->toff += nng_aio_count(c->tx_aio);
		if (c->toff < 4 + nng_msg_len(c->tmsg) && !c->closing) {
			tx_arm(c);
			return;
		}
	}
	m = c->tmsg;
	c->tmsg = NULL;
	/* The loop hears of a completed frame only when another frame
	 * waits for it (or the send failed): an answer or a lone message
	 * then costs no wake-up of its own. Handshake messages always
	 * report (link_nng_send). */
	pthread_mutex_lock(&c->ls->qmu);
	if (c->tspare == NULL && !c->closing) {
		c->tspare = m; /* the next frame's (link_nng_msg) */
		m = NULL;
	}
	c->tx_inflight = false;
	wake = c->tx_wanted || rv != 0;
	c->tx_wanted = false;
	pthread_mutex_unlock(&c->ls->qmu);
	if (m != NULL) {
		nng_msg_free(m);
	}
	if (wake && !c->closing) {
		link_ev_push(c->ls, c, EV_SENT, NULL, NULL, NULL, rv, 0);
	}
}

/* ---- connections on the loop ----------------------------------------- */

struct link_conn *
link_conn_find(struct links *ls, uint32_t id)
{
	struct link_conn *c;

	for (c = ls->conns[id % 256]; c != NULL && c->id != id; c = c->next) {
	}
	return c;
}

/* link_conn_new takes stream s (closed and freed on failure). */
struct link_conn *
link_conn_new(struct links *ls, nng_stream *s)
{
	struct link_conn *c = calloc(1, sizeof(*c));
	nng_sockaddr sa = { .s_family = NNG_AF_UNSPEC };

	if (c == NULL || (c->rbuf = malloc(LINK_RBUF)) == NULL ||
	    nng_aio_alloc(&c->rx_aio, rx_cb, c) != 0 ||
	    nng_aio_alloc(&c->tx_aio, tx_cb, c) != 0) {
		if (c != NULL) {
			nng_aio_free(c->rx_aio);
			free(c->rbuf);
			free(c);
		}
		nng_stream_close(s);
		nng_stream_free(s);
		return NULL;
	}
	c->ls = ls;
	c->s = s;
	do {
		c->id = ++ls->next_conn;
	} while (c->id == 0 || link_conn_find(ls, c->id) != NULL);
	snprintf(c->remote, sizeof(c->remote), "?");
	if (nng_stream_get_addr(s, NNG_OPT_REMADDR, &sa) != 0) {
		sa.s_family = NNG_AF_UNSPEC;
	}
	if (sa.s_family == NNG_AF_INET) {
		const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
		const uint8_t *pt = (const uint8_t *)&sa.s_in.sa_port;
		snprintf(c->remote, sizeof(c->remote), "%u.%u.%u.%u:%u", a[0],
		         a[1], a[2], a[3], (unsigned)(pt[0] << 8 | pt[1]));
	} else if (sa.s_family == NNG_AF_INET6) {
		const uint8_t *pt = (const uint8_t *)&sa.s_in6.sa_port;
		snprintf(c->remote, sizeof(c->remote), "[ipv6]:%u",
		         (unsigned)(pt[0] << 8 | pt[1]));
	}
	c->next = ls->conns[c->id % 256];
	ls->conns[c->id % 256] = c;
	return c;
}

/* link_conn_free closes c and frees it; an outbound owner redials later. */
void
link_conn_free(struct links *ls, struct link_conn *c)
{
	struct link_conn **pp;
	struct link *l = c->l != NULL && c->l->conn == c ? c->l : NULL;

	for (pp = &ls->conns[c->id % 256]; *pp != c; pp = &(*pp)->next) {
	}
	*pp = c->next;
	c->closing = true;
	nng_stream_close(c->s);
	nng_aio_stop(c->rx_aio);
	nng_aio_stop(c->tx_aio);
	pthread_mutex_lock(&ls->qmu);
	if (c->paused) {
		for (pp = &ls->paused; *pp != c; pp = &(*pp)->pnext) {
		}
		*pp = c->pnext;
	}
	pthread_mutex_unlock(&ls->qmu);
	nng_aio_free(c->rx_aio);
	nng_aio_free(c->tx_aio);
	nng_stream_free(c->s);
	if (c->rmsg != NULL) {
		nng_msg_free(c->rmsg);
	}
	if (c->tmsg != NULL) {
		nng_msg_free(c->tmsg);
	}
	if (c->tspare != NULL) {
		nng_msg_free(c->tspare);
	}
	if (c->rspare != NULL) {
		nng_msg_free(c->rspare);
	}
	sodium_memzero(c->rbuf, LINK_RBUF);
	free(c->rbuf);
	free(c);
	if (l != NULL) {
		l->conn = NULL;
		l->tx_busy = false; /* its send is gone with it */
		if (l->dir == LINK_OUT && !l->removed && !ls->stopping) {
			link_nng_redial(l, l->redial_cur_ms);
		}
	}
}

void
link_nng_bind(struct link *l)
{
	struct link_conn *c = link_conn_find(l->ls, l->pipe);

	if (c != NULL) {
		c->l = l;
		l->conn = c;
	}
}

void
link_nng_conn_close(struct links *ls, uint32_t pipe)
{
	struct link_conn *c = link_conn_find(ls, pipe);

	if (c != NULL) {
		link_conn_free(ls, c);
	}
}

void
link_nng_pipe_close(struct link *l)
{
	if (l->conn != NULL) {
		link_conn_free(l->ls, l->conn);
	}
	l->tx_busy = false;
}

void
link_nng_remote(struct links *ls, uint32_t pipe, char *out, size_t n)
{
	struct link_conn *c = link_conn_find(ls, pipe);

	snprintf(out, n, "%s", c != NULL ? c->remote : "?");
}

bool
link_nng_tx_idle(struct link *l)
{
	struct link_conn *c = l->conn;
	bool busy;

	if (c == NULL) {
		return !l->tx_busy;
	}
	pthread_mutex_lock(&l->ls->qmu);
	busy = c->tx_inflight;
	c->tx_wanted = busy; /* tx_cb wakes the loop when it is done */
	pthread_mutex_unlock(&l->ls->qmu);
	l->tx_busy = busy;
	return !busy;
}

int
link_nng_msg(struct link *l, nng_msg **m, size_t len)
{
	struct link_conn *c = l->conn;
	nng_msg *spare = NULL;

	if (c != NULL) {
		pthread_mutex_lock(&l->ls->qmu);
		spare = c->tspare;
		c->tspare = NULL;
		pthread_mutex_unlock(&l->ls->qmu);
	}
	if (spare != NULL) {
		nng_msg_header_clear(spare);
		if (nng_msg_realloc(spare, len) == 0) {
			*m = spare;
			return TB_OK;
		}
		nng_msg_free(spare);
	}
	return nng_msg_alloc(m, len) == 0 ? TB_OK : TB_ENOMEM;
}

int
link_nng_send(struct link *l, nng_msg *m)
{
	struct link_conn *c = l->conn;
	bool busy = true;

	if (c != NULL) {
		pthread_mutex_lock(&l->ls->qmu);
		busy = c->tx_inflight;
		if (!busy) {
			/* A handshake message always reports that it went
			 * out (link_on_sent: what waits for the last one). */
			c->tx_inflight = true;
			c->tx_wanted = l->fr == NULL;
		}
		pthread_mutex_unlock(&l->ls->qmu);
	}
	if (busy) {
		nng_msg_free(m);
		return TB_ECLOSED;
	}
	nng_msg_header_clear(m);
	if (nng_msg_header_append_u32(m, (uint32_t)nng_msg_len(m)) != 0) {
		pthread_mutex_lock(&l->ls->qmu);
		c->tx_inflight = false;
		pthread_mutex_unlock(&l->ls->qmu);
		nng_msg_free(m);
		return TB_ENOMEM;
	}
	l->tx_busy = true;
	l->tx_pipe = l->pipe;
	c->tmsg = m;
	c->toff = 0;
	tx_arm(c);
	return TB_OK;
}
