/* The links' dialing and listening (nng stream dialers and a stream
 * listener over TCP), and the loop's side of the event queue
 * (link_conn.c has the connections and the queue).
 *
 * An outbound link has one nng_stream_dialer and at most one connection;
 * after that connection closes, or a connect fails, the link dials again
 * on a libuv timer after a random time below its reconnect time
 * (LINK_RECONNECT_MS, or the backoff after a refusal), which failed
 * connects double up to LINK_DIAL_MAX_MS (as nng's own dialer did). The
 * listener accepts in a loop; every accepted stream is a new inbound link
 * with a new handshake.
 *
 * Threads. dial_cb and accept_cb run on nng's threads and only queue the
 * new stream (EV_ADD). The loop drains the whole queue at each wake-up
 * (they coalesce), then lets paused receives go on. */
#include "node/link_impl.h"
#include "node/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void redial_arm(struct links *ls);

/* ---- dialing --------------------------------------------------------- */

static void
dial_cb(void *arg)
{
	struct link *l = arg;
	int rv = nng_aio_result(l->dial_aio);

	link_ev_push(l->ls, NULL, EV_ADD, l,
	             rv == 0 ? nng_aio_get_output(l->dial_aio, 0) : NULL, NULL,
	             rv, 0);
}

static void
redial_cb(uv_timer_t *t)
{
	struct links *ls = t->data;
	int64_t now = link_mono_us();
	struct link *l;

	for (l = ls->list; l != NULL; l = l->next) {
		/* (Due within a millisecond counts as due: the timer's
		 * granularity is a millisecond.) */
		if (l->redial_at_us != 0 && l->redial_at_us <= now + 1000) {
			l->redial_at_us = 0;
			if (!l->dialing && l->conn == NULL && !l->removed &&
			    l->dialer != NULL) {
				l->dialing = true;
				nng_stream_dialer_dial(l->dialer, l->dial_aio);
			}
		}
	}
	redial_arm(ls);
}

static void
redial_arm(struct links *ls)
{
	int64_t now = link_mono_us(), first = 0;
	struct link *l;

	for (l = ls->list; l != NULL; l = l->next) {
		if (l->redial_at_us != 0 &&
		    (first == 0 || l->redial_at_us < first)) {
			first = l->redial_at_us;
		}
	}
	if (first == 0 || ls->stopping || !ls->handles_open) {
		if (ls->handles_open) {
			uv_timer_stop(&ls->redial);
		}
		return;
	}
	uv_timer_start(&ls->redial, redial_cb,
	               first > now ? (uint64_t)(first - now) / 1000 : 0, 0);
}

void
link_nng_redial(struct link *l, unsigned wait_ms)
{
	/* A random time below the reconnect time (as nng's dialer waited),
	 * so that peers that lost each other do not all come back at once. */
	uint32_t ms = wait_ms > 1 ? randombytes_uniform(wait_ms) : 0;

	l->redial_at_us = link_mono_us() + (int64_t)ms * 1000;
	redial_arm(l->ls);
}

/* dialed takes an EV_ADD of outbound link l: a connection, or a failed
 * connect (s NULL, result rv). Returns the new connection, or NULL. */
static struct link_conn *
dialed(struct links *ls, struct link *l, nng_stream *s, int rv)
{
	struct link_conn *c;

	l->dialing = false;
	if (s == NULL) {
		if (!l->removed && !ls->stopping) {
			/* The link view's last error: a refused or
			 * unreachable peer used to leave it empty. */
			link_set_state(l, l->state, "dial %s: %s", l->url,
			               nng_strerror(rv));
			/* A failed connect waits longer each time. */
			unsigned wait = l->redial_cur_ms;
			l->redial_cur_ms =
			    l->redial_cur_ms >= l->redial_max_ms / 2
			        ? l->redial_max_ms
			        : l->redial_cur_ms * 2;
			link_nng_redial(l, wait);
		}
		return NULL;
	}
	if (l->removed || ls->stopping || l->conn != NULL) {
		nng_stream_close(s);
		nng_stream_free(s);
		return NULL;
	}
	/* A connect resets the wait to the reconnect time. */
	l->redial_cur_ms = l->redial_min_ms;
	if ((c = link_conn_new(ls, s)) == NULL) {
		link_nng_redial(l, l->redial_cur_ms);
	}
	return c;
}

int
link_nng_dial(struct link *l)
{
	int rv;

	if ((rv = nng_stream_dialer_alloc(&l->dialer, l->url)) != 0) {
		l->dialer = NULL;
		return rv;
	}
	if ((rv = nng_aio_alloc(&l->dial_aio, dial_cb, l)) != 0) {
		nng_stream_dialer_free(l->dialer);
		l->dialer = NULL;
		return rv;
	}
	nng_stream_dialer_set_bool(l->dialer, NNG_OPT_TCP_NODELAY, true);
	link_nng_backoff(l, LINK_RECONNECT_MS);
	l->dialing = true;
	nng_stream_dialer_dial(l->dialer, l->dial_aio);
	return 0;
}

void
link_nng_backoff(struct link *l, unsigned ms)
{
	/* Set before the connection closes, it applies to the redial that
	 * close schedules. */
	l->redial_min_ms = l->redial_cur_ms = ms;
	l->redial_max_ms = ms > LINK_DIAL_MAX_MS ? ms : LINK_DIAL_MAX_MS;
}

void
link_nng_close(struct link *l)
{
	if (l->dial_aio != NULL) {
		/* Cancels a connect in progress; waits for its callback. */
		nng_aio_stop(l->dial_aio);
	}
	link_nng_pipe_close(l);
	link_nng_drop_events(l->ls, l);
	if (l->dial_aio != NULL) {
		nng_aio_free(l->dial_aio);
		l->dial_aio = NULL;
	}
	if (l->dialer != NULL) {
		nng_stream_dialer_close(l->dialer);
		nng_stream_dialer_free(l->dialer);
		l->dialer = NULL;
	}
	l->dialing = false;
	l->redial_at_us = 0; /* the closed connection scheduled one */
}

/* ---- listening ------------------------------------------------------- */

static void
accept_cb(void *arg)
{
	struct links *ls = arg;
	int rv = nng_aio_result(ls->accept_aio);

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		return; /* the listener is closing */
	}
	if (rv == 0 && !ls->accept_slept) {
		link_ev_push(ls, NULL, EV_ADD, NULL,
		             nng_aio_get_output(ls->accept_aio, 0), NULL, 0, 0);
	}
	if (rv != 0 && !ls->accept_slept) {
		/* Out of descriptors or memory, say: wait a little rather
		 * than spin, then accept again. */
		ls->accept_slept = true;
		nng_sleep_aio(50, ls->accept_aio);
		return;
	}
	ls->accept_slept = false;
	nng_stream_listener_accept(ls->listener, ls->accept_aio);
}

int
link_nng_listen(struct links *ls, const char *url, char *errmsg, size_t errlen)
{
	nng_sockaddr sa;
	char host[64] = "";
	int rv, port = 0;

	if ((rv = nng_stream_listener_alloc(&ls->listener, url)) != 0) {
		ls->listener = NULL;
		snprintf(errmsg, errlen, "links cannot listen on %s: %s", url,
		         nng_strerror(rv));
		return TB_EIO;
	}
	nng_stream_listener_set_bool(ls->listener, NNG_OPT_TCP_NODELAY, true);
	if ((rv = nng_aio_alloc(&ls->accept_aio, accept_cb, ls)) != 0) {
		snprintf(errmsg, errlen, "link listener: %s", nng_strerror(rv));
		return TB_EIO;
	}
	if ((rv = nng_stream_listener_listen(ls->listener)) != 0) {
		snprintf(errmsg, errlen, "links cannot listen on %s: %s", url,
		         nng_strerror(rv));
		return TB_EIO;
	}
	if (nng_stream_listener_get_int(ls->listener, NNG_OPT_TCP_BOUND_PORT,
	                                &port) != 0) {
		port = 0;
	}
	if (nng_stream_listener_get_addr(ls->listener, NNG_OPT_LOCADDR, &sa) ==
	        0 &&
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
	nng_stream_listener_accept(ls->listener, ls->accept_aio);
	return TB_OK;
}

void
link_nng_stop(struct links *ls)
{
	struct link_conn *c;
	struct link *l;
	unsigned i;

	if (ls->listener != NULL) {
		nng_stream_listener_close(ls->listener);
	}
	if (ls->accept_aio != NULL) {
		nng_aio_stop(ls->accept_aio);
		nng_aio_free(ls->accept_aio);
		ls->accept_aio = NULL;
	}
	if (ls->listener != NULL) {
		nng_stream_listener_free(ls->listener);
		ls->listener = NULL;
	}
	for (l = ls->list; l != NULL; l = l->next) {
		if (l->dir == LINK_OUT) {
			link_nng_close(l);
		} else {
			link_nng_pipe_close(l);
		}
	}
	for (i = 0; i < 256; i++) {
		while ((c = ls->conns[i]) != NULL) {
			link_conn_free(ls, c);
		}
	}
	link_nng_drop_events(ls, NULL);
}

/* ---- the loop's side ------------------------------------------------- */

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
		if (e->s != NULL) {
			nng_stream_close(e->s);
			nng_stream_free(e->s);
		}
		free(e);
	}
}

/* added takes an EV_ADD: a new connection goes to link_on_add, which makes
 * a link own it (or refuses it); an owned connection starts receiving. */
static void
added(struct links *ls, struct link_ev *e)
{
	struct link_conn *c;
	uint32_t id;

	if (e->l != NULL) {
		c = dialed(ls, e->l, e->s, e->result);
	} else if (ls->stopping) {
		nng_stream_close(e->s);
		nng_stream_free(e->s);
		c = NULL;
	} else {
		c = link_conn_new(ls, e->s);
	}
	if (c == NULL) {
		return;
	}
	id = c->id;
	link_on_add(ls, e->l, id);
	if ((c = link_conn_find(ls, id)) == NULL) {
		return; /* refused and closed */
	}
	if (c->l == NULL) {
		link_conn_free(ls, c);
		return;
	}
	link_conn_rx(c);
}

/* removed takes an EV_REM (or a connection lost for want of memory). */
static void
removed(struct links *ls, uint32_t pipe, int result, size_t len)
{
	struct link_conn *c = link_conn_find(ls, pipe);

	if (c == NULL) {
		return; /* closed by the loop already */
	}
	if (c->l == NULL || ls->stopping) {
		link_conn_free(ls, c);
		return;
	}
	if (result == NNG_EMSGSIZE) {
		link_on_oversize(c->l, len);
	} else {
		link_on_rem(ls, c->l, pipe);
	}
	link_nng_conn_close(ls, pipe); /* if the link left it open */
}

void
link_nng_wake(uv_async_t *h)
{
	struct links *ls = h->data;
	struct link_ev *e, *next;
	struct link_conn *c;

	pthread_mutex_lock(&ls->qmu);
	e = ls->evh;
	ls->evh = NULL;
	ls->evt = &ls->evh;
	ls->ev_bytes = 0;
	pthread_mutex_unlock(&ls->qmu);
	for (; e != NULL; e = next) {
		next = e->next;
		switch (e->kind) {
		case EV_ADD:
			added(ls, e);
			break;
		case EV_REM:
			removed(ls, e->pipe, e->result, e->len);
			break;
		case EV_RECV:
			c = link_conn_find(ls, e->pipe);
			if (c != NULL && c->l != NULL && !ls->stopping) {
				link_on_recv(ls, c->l, e->pipe, e->msg);
				link_conn_rx_spare(ls, e->pipe, e->msg);
			} else {
				nng_msg_free(e->msg);
			}
			break;
		case EV_SENT:
			c = link_conn_find(ls, e->pipe);
			if (c != NULL && c->l != NULL &&
			    c->l->tx_pipe == e->pipe) {
				link_on_sent(c->l, e->result);
			}
			break;
		}
		free(e);
	}
	if (ls->stopping) {
		return;
	}
	/* Receives that waited for this drain go on. */
	for (;;) {
		pthread_mutex_lock(&ls->qmu);
		if ((c = ls->paused) != NULL) {
			ls->paused = c->pnext;
			c->paused = false;
		}
		pthread_mutex_unlock(&ls->qmu);
		if (c == NULL) {
			break;
		}
		link_conn_rx(c);
	}
	links_after_drain(ls);
}

void
link_nng_tick(struct links *ls)
{
	struct link_conn *c, *next;
	struct link *l;
	unsigned i;

	for (i = 0; i < 256; i++) {
		for (c = ls->conns[i]; c != NULL; c = next) {
			next = c->next;
			if (c->lost != 0) {
				removed(ls, c->id, c->lost, 0);
			}
		}
	}
	for (l = ls->list; l != NULL; l = l->next) {
		if (l->dial_lost) {
			l->dial_lost = false;
			dialed(ls, l, NULL, NNG_ENOMEM);
		}
	}
}
