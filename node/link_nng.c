/* The links' nng side: the listening and dialing pair1 sockets, their
 * pipes, and the queue that hands nng's events to the loop.
 *
 * Socket layout. Each configured peer has its own pair1 socket that dials
 * it (one pipe at a time: nng redials after a close, with backoff). The
 * node listens on one pair1 socket in polyamorous mode, which accepts many
 * pipes; received messages name their pipe and sends name theirs
 * (nng_msg_set_pipe). nng 1.5 has no way to hand an accepted pipe to a
 * socket of its own, so polyamorous mode is the only way to accept links
 * from many peers on one port. Its one catch: a send to a pipe whose
 * two-deep queue is full is dropped silently, so the listening end paces
 * itself with credits (LINK_POLY_WINDOW, link.c).
 *
 * Threads. nng calls the pipe and aio callbacks below on its own threads.
 * They only queue an event (a mutex and uv_async_send); the loop drains the
 * whole queue, since wake-ups coalesce. A receive is re-armed at once
 * unless LINK_RX_PAUSE bytes wait for the loop: then the loop re-arms it
 * after the drain, so a slow loop pushes back on the peers' TCP windows
 * instead of growing memory. */
#include "node/link_impl.h"
#include "node/log.h"

#include <nng/protocol/pair1/pair.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ev_push queues an event; with pause (a receive), it says whether the
 * receive must wait for the loop to drain. */
static void
ev_push(struct links *ls, enum link_ev_kind kind, struct link *l, uint32_t pipe,
        nng_msg *msg, int result, bool *pause)
{
	struct link_ev *e = malloc(sizeof(*e));
	bool open;

	if (e == NULL) {
		/* Out of memory on an nng thread: the pipe cannot be
		 * served, so close it and let both ends start over. */
		if (msg != NULL) {
			nng_msg_free(msg);
		}
		if (pipe != 0) {
			nng_pipe p = { .id = pipe };
			nng_pipe_close(p);
		}
		return;
	}
	e->next = NULL;
	e->kind = kind;
	e->l = l;
	e->pipe = pipe;
	e->msg = msg;
	e->result = result;
	pthread_mutex_lock(&ls->qmu);
	*ls->evt = e;
	ls->evt = &e->next;
	if (msg != NULL) {
		ls->ev_bytes += nng_msg_len(msg);
		if (pause != NULL && ls->ev_bytes > LINK_RX_PAUSE) {
			*pause = true;
		}
	}
	open = ls->handles_open;
	pthread_mutex_unlock(&ls->qmu);
	if (open) {
		uv_async_send(&ls->wake);
	}
}

/* A pipe of an outbound link's socket was added or removed. */
static void
pipe_cb_out(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct link *l = arg;

	if (ev == NNG_PIPE_EV_REM_POST) {
		/* A send still waiting in a monogamous pair1 socket would go
		 * to the next pipe, sealed under this pipe's keys: cancel it
		 * now, before the dialer reconnects. */
		nng_aio_cancel(l->tx_aio);
	}
	ev_push(l->ls, ev == NNG_PIPE_EV_ADD_POST ? EV_ADD : EV_REM, l,
	        nng_pipe_id(p) > 0 ? (uint32_t)nng_pipe_id(p) : 0, NULL, 0,
	        NULL);
}

/* A pipe of the listening socket was added or removed. */
static void
pipe_cb_in(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct links *ls = arg;

	ev_push(ls, ev == NNG_PIPE_EV_ADD_POST ? EV_ADD : EV_REM, NULL,
	        nng_pipe_id(p) > 0 ? (uint32_t)nng_pipe_id(p) : 0, NULL, 0,
	        NULL);
}

/* rx_done queues a received message and says whether to re-arm. */
static bool
rx_done(struct links *ls, struct link *l, nng_aio *aio, bool *paused)
{
	int rv = nng_aio_result(aio);
	bool pause = false;
	nng_msg *m;

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		return false; /* the socket is closing */
	}
	if (rv != 0) {
		return true;
	}
	m = nng_aio_get_msg(aio);
	nng_aio_set_msg(aio, NULL);
	ev_push(ls, EV_RECV, l, (uint32_t)nng_pipe_id(nng_msg_get_pipe(m)), m,
	        0, &pause);
	if (pause) {
		pthread_mutex_lock(&ls->qmu);
		*paused = true;
		pthread_mutex_unlock(&ls->qmu);
		return false;
	}
	return true;
}

static void
rx_cb_out(void *arg)
{
	struct link *l = arg;

	if (rx_done(l->ls, l, l->rx_aio, &l->rx_paused)) {
		nng_recv_aio(l->sock, l->rx_aio);
	}
}

static void
rx_cb_in(void *arg)
{
	struct links *ls = arg;

	if (rx_done(ls, NULL, ls->lrx_aio, &ls->lrx_paused)) {
		nng_recv_aio(ls->lsock, ls->lrx_aio);
	}
}

/* tx_cb: a send completed (or failed: the message is still ours). */
static void
tx_cb(void *arg)
{
	struct link *l = arg;
	int rv = nng_aio_result(l->tx_aio);

	if (rv != 0) {
		nng_msg *m = nng_aio_get_msg(l->tx_aio);
		nng_aio_set_msg(l->tx_aio, NULL);
		if (m != NULL) {
			nng_msg_free(m);
		}
	}
	ev_push(l->ls, EV_SENT, l, 0, NULL, rv, NULL);
}

int
link_nng_alloc(struct link *l)
{
	return nng_aio_alloc(&l->tx_aio, tx_cb, l) == 0 ? TB_OK : TB_ENOMEM;
}

int
link_nng_listen(struct links *ls, const char *url, char *errmsg, size_t errlen)
{
	nng_sockaddr sa;
	char host[64] = "";
	int rv, port = 0;

	if ((rv = nng_pair1_open_poly(&ls->lsock)) != 0) {
		snprintf(errmsg, errlen, "link socket: %s", nng_strerror(rv));
		return TB_EIO;
	}
	ls->lsock_open = true;
	if ((rv = nng_socket_set_size(ls->lsock, NNG_OPT_RECVMAXSZ,
	                              LINK_RECV_MAX)) != 0 ||
	    (rv = nng_pipe_notify(ls->lsock, NNG_PIPE_EV_ADD_POST, pipe_cb_in,
	                          ls)) != 0 ||
	    (rv = nng_pipe_notify(ls->lsock, NNG_PIPE_EV_REM_POST, pipe_cb_in,
	                          ls)) != 0 ||
	    (rv = nng_aio_alloc(&ls->lrx_aio, rx_cb_in, ls)) != 0) {
		snprintf(errmsg, errlen, "link socket: %s", nng_strerror(rv));
		return TB_EIO;
	}
	if ((rv = nng_listen(ls->lsock, url, &ls->listener, 0)) != 0) {
		snprintf(errmsg, errlen, "links cannot listen on %s: %s", url,
		         nng_strerror(rv));
		return TB_EIO;
	}
	if (nng_listener_get_int(ls->listener, NNG_OPT_TCP_BOUND_PORT, &port) !=
	    0) {
		port = 0;
	}
	if (nng_listener_get_addr(ls->listener, NNG_OPT_LOCADDR, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET) {
		const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
		snprintf(host, sizeof(host), "%u.%u.%u.%u", a[0], a[1], a[2],
		         a[3]);
	} else {
		/* tcp://HOST:PORT: keep the host as configured. */
		const char *h = strstr(url, "://");
		const char *colon = strrchr(url, ':');
		h = h != NULL ? h + 3 : url;
		snprintf(host, sizeof(host), "%.*s",
		         colon > h ? (int)(colon - h) : (int)strlen(h), h);
	}
	snprintf(ls->url, sizeof(ls->url), "tcp://%s:%d", host, port);
	nng_recv_aio(ls->lsock, ls->lrx_aio);
	return TB_OK;
}

int
link_nng_dial(struct link *l)
{
	int rv;

	if ((rv = nng_pair1_open(&l->sock)) != 0) {
		return rv;
	}
	l->sock_open = true;
	if ((rv = nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ,
	                              LINK_RECV_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT,
	                            LINK_RECONNECT_MS)) != 0 ||
	    (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, 5000)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_POST, pipe_cb_out,
	                          l)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, pipe_cb_out,
	                          l)) != 0 ||
	    (rv = nng_aio_alloc(&l->rx_aio, rx_cb_out, l)) != 0) {
		return rv;
	}
	nng_recv_aio(l->sock, l->rx_aio);
	/* Non-blocking: nng keeps redialing in the background (with its
	 * backoff when connecting fails) until the socket closes. */
	if ((rv = nng_dial(l->sock, l->url, &l->dialer, NNG_FLAG_NONBLOCK)) ==
	    0) {
		l->dialer_open = true;
	}
	return rv;
}

void
link_nng_backoff(struct link *l, unsigned ms)
{
	/* nng redials as soon as a connection it made closes, whatever the
	 * reason (a good connect resets its backoff): after a refusal the
	 * link raises the dialer's reconnect time instead (nng waits a
	 * random time below it), and lowers it again once up. Set before
	 * the pipe closes, it applies to the redial that close starts. */
	if (l->dialer_open) {
		nng_dialer_set_ms(l->dialer, NNG_OPT_RECONNMAXT,
		                  ms > 5000 ? (nng_duration)ms : 5000);
		nng_dialer_set_ms(l->dialer, NNG_OPT_RECONNMINT,
		                  (nng_duration)ms);
	}
}

void
link_nng_drop_events(struct links *ls, struct link *only)
{
	struct link_ev *e, **pp, *dead = NULL;

	pthread_mutex_lock(&ls->qmu);
	for (pp = &ls->evh; (e = *pp) != NULL;) {
		if (only == NULL || e->l == only) {
			*pp = e->next;
			e->next = dead;
			dead = e;
		} else {
			pp = &e->next;
		}
	}
	ls->evt = &ls->evh;
	while (*ls->evt != NULL) {
		ls->evt = &(*ls->evt)->next;
	}
	pthread_mutex_unlock(&ls->qmu);
	while ((e = dead) != NULL) {
		dead = e->next;
		if (e->msg != NULL) {
			nng_msg_free(e->msg);
		}
		free(e);
	}
}

void
link_nng_close(struct link *l)
{
	/* nng_close returns once the socket's pipes are gone and their
	 * callbacks have run; freeing the aios waits for theirs. */
	if (l->sock_open) {
		nng_close(l->sock);
		l->sock_open = false;
	}
	if (l->rx_aio != NULL) {
		nng_aio_free(l->rx_aio);
		l->rx_aio = NULL;
	}
	if (l->tx_aio != NULL) {
		nng_aio_free(l->tx_aio);
		l->tx_aio = NULL;
	}
	l->tx_busy = false;
	link_nng_drop_events(l->ls, l);
}

void
link_nng_stop(struct links *ls)
{
	struct link *l;

	if (ls->lsock_open) {
		nng_close(ls->lsock);
		ls->lsock_open = false;
	}
	if (ls->lrx_aio != NULL) {
		nng_aio_free(ls->lrx_aio);
		ls->lrx_aio = NULL;
	}
	for (l = ls->list; l != NULL; l = l->next) {
		if (l->dir == LINK_OUT) {
			link_nng_close(l);
		} else if (l->tx_aio != NULL) {
			nng_aio_free(l->tx_aio);
			l->tx_aio = NULL;
			l->tx_busy = false;
		}
	}
	link_nng_drop_events(ls, NULL);
}

int
link_nng_send(struct link *l, nng_msg *m)
{
	if (l->tx_aio == NULL) {
		nng_msg_free(m);
		return TB_ECLOSED;
	}
	if (l->dir == LINK_IN) {
		nng_pipe p = { .id = l->pipe };
		nng_msg_set_pipe(m, p);
	}
	l->tx_busy = true;
	l->tx_pipe = l->pipe;
	nng_aio_set_msg(l->tx_aio, m);
	nng_send_aio(l->dir == LINK_IN ? l->ls->lsock : l->sock, l->tx_aio);
	return TB_OK;
}

void
link_nng_pipe_close(struct link *l)
{
	if (l->pipe != 0) {
		nng_pipe p = { .id = l->pipe };
		nng_pipe_close(p);
	}
	if (l->dir == LINK_OUT && l->tx_busy && l->tx_aio != NULL) {
		nng_aio_cancel(l->tx_aio);
	}
}

void
link_nng_remote(uint32_t pipe, char *out, size_t n)
{
	nng_pipe p = { .id = pipe };
	nng_sockaddr sa;

	snprintf(out, n, "?");
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0) {
		return;
	}
	if (sa.s_family == NNG_AF_INET) {
		const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
		const uint8_t *pt = (const uint8_t *)&sa.s_in.sa_port;
		snprintf(out, n, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
		         (unsigned)(pt[0] << 8 | pt[1]));
	} else if (sa.s_family == NNG_AF_INET6) {
		snprintf(
		    out, n, "[ipv6]:%u",
		    (unsigned)(((const uint8_t *)&sa.s_in6.sa_port)[0] << 8 |
		               ((const uint8_t *)&sa.s_in6.sa_port)[1]));
	}
}

void
link_nng_wake(uv_async_t *h)
{
	struct links *ls = h->data;
	struct link_ev *e, *next;
	struct link *l;
	bool rearm_in;

	pthread_mutex_lock(&ls->qmu);
	e = ls->evh;
	ls->evh = NULL;
	ls->evt = &ls->evh;
	ls->ev_bytes = 0;
	rearm_in = ls->lrx_paused;
	ls->lrx_paused = false;
	for (l = ls->list; l != NULL; l = l->next) {
		l->rx_rearm = l->rx_paused;
		l->rx_paused = false;
	}
	pthread_mutex_unlock(&ls->qmu);
	for (; e != NULL; e = next) {
		next = e->next;
		switch (e->kind) {
		case EV_ADD:
			link_on_add(ls, e->l, e->pipe);
			break;
		case EV_REM:
			link_on_rem(ls, e->l, e->pipe);
			break;
		case EV_RECV:
			link_on_recv(ls, e->l, e->pipe, e->msg);
			break;
		case EV_SENT:
			link_on_sent(e->l, e->result);
			break;
		}
		free(e);
	}
	if (!ls->stopping) {
		if (rearm_in && ls->lsock_open) {
			nng_recv_aio(ls->lsock, ls->lrx_aio);
		}
		for (l = ls->list; l != NULL; l = l->next) {
			if (l->rx_rearm && l->sock_open) {
				l->rx_rearm = false;
				nng_recv_aio(l->sock, l->rx_aio);
			}
		}
		links_after_drain(ls);
	}
}
