/* Links on the loop: their states, their pipes coming and going, the
 * tick (timeouts, RTT probes, rekeying, reloading), and
 * starting and stopping them all.
 *
 * Happy path of one pipe (a connection, link_nng.c): a dial or an accept
 * adds it (EV_ADD) and the link is
 * handshaking; link_hs.c runs Noise and checks the certificates; on split
 * the listening end is up and sends HELLO, the dialing end is up when that
 * HELLO arrives (link_frame.c). Frames flow until the pipe closes.
 *
 * Failure modes: whatever refuses a pipe (a frame, a handshake, a
 * certificate that stops verifying) calls link_fail, which logs it with a
 * stable id, closes the pipe and drops its session keys, chunks in
 * progress and queue; requests waiting on it fail with TB_ECLOSED at the
 * next tick. After a refusal the reconnect time goes up (1 s, doubling
 * to 30 s; the redial waits a random time below it), after a link is up it
 * goes back to 0.1 s. A handshake that has not
 * finished after 5 s is refused. The new pipe is a new handshake. */
#include "node/link_impl.h"
#include "node/log.h"
#include "schema/spec.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t
link_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* link_name describes l for logs. */
void
link_name(const struct link *l, char *out, size_t n)
{
	const char *id = l->node_id[0] ? l->node_id : l->cfg_node_id;
	const char *region = l->region[0] ? l->region : l->cfg_region;

	if (l->dir == LINK_OUT) {
		snprintf(out, n, "link to %s%s%s (%s)", region,
		         id[0] ? " node " : "", id, l->url);
	} else if (id[0]) {
		snprintf(out, n, "inbound link from %s node %s (%s)", region,
		         id, l->remote);
	} else {
		snprintf(out, n, "inbound link from %s", l->remote);
	}
}

void
link_set_state(struct link *l, enum link_state st, const char *why, ...)
{
	va_list ap;

	pthread_mutex_lock(&l->ls->view_mu);
	if (l->state != st) {
		l->since_ms = link_now_ms();
	}
	l->state = st;
	if (why != NULL) {
		va_start(ap, why);
		vsnprintf(l->last_error, sizeof(l->last_error), why, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&l->ls->view_mu);
}

struct link *
link_new(struct links *ls, enum link_dir dir)
{
	struct link *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		return NULL;
	}
	l->ls = ls;
	l->uid = ++ls->next_uid;
	l->dir = dir;
	l->state = LS_CONNECTING;
	l->qtail = &l->qhead;
	l->since_ms = link_now_ms();
	frame_chunk_join_init(&l->join, LINK_MSG_MAX + LINK_HDR);
	pthread_mutex_lock(&ls->view_mu);
	l->next = ls->list;
	ls->list = l;
	pthread_mutex_unlock(&ls->view_mu);
	return l;
}
/* ---- sessions ---------------------------------------------------------- */

static void
queue_drop(struct link *l)
{
	struct link_out *o;

	while ((o = l->qhead) != NULL) {
		l->qhead = o->next;
		sodium_memzero(o->data, o->len);
		free(o);
	}
	l->qtail = &l->qhead;
	l->qbytes = 0;
	if (l->chunking != NULL) {
		sodium_memzero(l->chunking->data, l->chunking->len);
		free(l->chunking);
		l->chunking = NULL;
	}
}

/* session_drop wipes what belongs to the current pipe: handshake, keys,
 * chunks, credits, and the queue (messages queued for this pipe are
 * dropped: the layers above re-send). */
static void
session_drop(struct link *l)
{
	link_hs_wipe(l);
	if (l->fr != NULL) {
		frame_wipe(l->fr);
		free(l->fr);
		l->fr = NULL;
	}
	frame_chunk_join_free(&l->join);
	queue_drop(l);
	free(l->hs_pending);
	l->hs_pending = NULL;
	l->confirmed = false;
	l->tx_frames = l->peer_acked = 0;
	l->rx_frames = l->credit_sent = 0;
	json_decref(l->peer_chain);
	l->peer_chain = NULL;
	json_decref(l->join_req);
	l->join_req = NULL;
	link_pending_doom(l->ls, l->uid, TB_ECLOSED);
}

void
link_destroy(struct link *l)
{
	struct links *ls = l->ls;
	struct link **pp;

	pthread_mutex_lock(&ls->view_mu);
	for (pp = &ls->list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	pthread_mutex_unlock(&ls->view_mu);
	link_nng_pipe_close(l);
	session_drop(l);
	free(l);
}

bool
link_log_allowed(struct links *ls, char *more, size_t n)
{
	int64_t now = link_now_ms();

	if (now - ls->log_window_ms >= 1000) {
		ls->log_window_ms = now;
		ls->log_lines = 0;
	}
	if (ls->log_lines >= LINK_LOG_BURST) {
		ls->log_suppressed++;
		return false;
	}
	ls->log_lines++;
	if (ls->log_suppressed > 0) {
		snprintf(more, n, " (%u lines left out)", ls->log_suppressed);
	} else {
		more[0] = '\0';
	}
	ls->log_suppressed = 0;
	return true;
}

void
link_fail(struct link *l, enum link_state st, const char *id, const char *fmt,
          ...)
{
	char why[512], name[400], more[48];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	link_name(l, name, sizeof(name));
	/* A peer that keeps connecting and failing must not flood the log:
	 * a burst per second, then a count of what was left out. */
	if (link_log_allowed(l->ls, more, sizeof(more))) {
		tb_log(!strcmp(id, "TB-LINK-CLOSED") ||
		               !strcmp(id, "TB-LINK-REHANDSHAKE")
		           ? TB_LOG_INFO
		           : TB_LOG_WARN,
		       id, "%s: %s%s", name, why, more);
	}
	if (l->dir == LINK_OUT && st == LS_REFUSED && !l->removed) {
		/* A refused link waits before dialing again, longer each
		 * time (set before the pipe closes: that close schedules the
		 * redial); any other close redials within the reconnect
		 * time. */
		l->backoff_ms = l->backoff_ms == 0 ? LINK_BACKOFF_MS
		                : l->backoff_ms >= LINK_BACKOFF_MAX / 2
		                    ? LINK_BACKOFF_MAX
		                    : l->backoff_ms * 2;
		link_nng_backoff(l, l->backoff_ms);
	}
	link_nng_pipe_close(l);
	session_drop(l);
	l->pipe = 0;
	link_set_state(l, st, "%s", why);
}

/* ---- pipes ------------------------------------------------------------- */

struct link *
link_by_pipe(struct links *ls, uint32_t pipe)
{
	struct link *l;

	for (l = ls->list; l != NULL && pipe != 0; l = l->next) {
		if (l->dir == LINK_IN && l->pipe == pipe) {
			return l;
		}
	}
	return NULL;
}

/* trim_inbound keeps at most LINK_KEEP_CLOSED inbound entries without a
 * pipe (the newest), for the operator's view. */
static void
trim_inbound(struct links *ls)
{
	struct link *l, *old;
	unsigned n;

	for (;;) {
		n = 0;
		old = NULL;
		for (l = ls->list; l != NULL; l = l->next) {
			if (l->dir == LINK_IN && l->pipe == 0 && !l->tx_busy) {
				n++;
				if (old == NULL ||
				    l->since_ms <= old->since_ms) {
					old = l;
				}
			}
		}
		if (n <= LINK_KEEP_CLOSED || old == NULL) {
			return;
		}
		link_destroy(old);
	}
}

void
link_on_add(struct links *ls, struct link *l, uint32_t pipe)
{
	char remote[64];
	unsigned live = 0, hs = 0;
	struct link *k;

	if (ls->stopping || pipe == 0 || (l != NULL && l->removed)) {
		return;
	}
	link_nng_remote(ls, pipe, remote, sizeof(remote));
	if (l == NULL) {
		for (k = ls->list; k != NULL; k = k->next) {
			if (k->dir == LINK_IN && k->pipe != 0) {
				live++;
				hs += k->state == LS_HANDSHAKING;
			}
		}
		if (live >= LINK_MAX_INBOUND || hs >= LINK_MAX_HS) {
			char more[48];
			ls->hs_refused++;
			if (link_log_allowed(ls, more, sizeof(more))) {
				tb_log(TB_LOG_WARN, "TB-LINK-HANDSHAKE-REFUSED",
				       "inbound link from %s refused: %u links "
				       "and %u handshakes already (limits %d "
				       "and %d)%s",
				       remote, live, hs, LINK_MAX_INBOUND,
				       LINK_MAX_HS, more);
			}
			link_nng_conn_close(ls, pipe);
			return;
		}
		if ((l = link_new(ls, LINK_IN)) == NULL) {
			link_nng_conn_close(ls, pipe);
			return;
		}
	} else if (l->pipe != 0) {
		session_drop(l); /* (an outbound link dials only without one) */
	}
	l->pipe = pipe;
	link_nng_bind(l);
	pthread_mutex_lock(&ls->view_mu);
	snprintf(l->remote, sizeof(l->remote), "%s", remote);
	pthread_mutex_unlock(&ls->view_mu);
	l->hs_deadline = link_now_ms() + LINK_HS_TIMEOUT_MS;
	l->handshakes++;
	l->hs_start_us = link_mono_us();
	link_set_state(l, LS_HANDSHAKING, NULL);
	link_hs_begin(l);
}

void
link_on_rem(struct links *ls, struct link *l, uint32_t pipe)
{
	char name[400];

	if (ls->stopping) {
		return;
	}
	if (l == NULL && (l = link_by_pipe(ls, pipe)) == NULL) {
		return;
	}
	if (l->pipe != pipe || pipe == 0) {
		return; /* an old pipe, already dealt with */
	}
	link_name(l, name, sizeof(name));
	if (l->state == LS_HANDSHAKING) {
		/* The peer gave up: it refused our certificate, or is not a
		 * tongban node. An IK attempt may have used a key the peer
		 * no longer has: the next one is XX. */
		ls->hs_refused++;
		if (l->dir == LINK_OUT && l->pattern == NOISE_IK) {
			link_key_forget(
			    ls, l->node_id[0] ? l->node_id : l->cfg_node_id,
			    l->url);
		}
		link_fail(l, LS_REFUSED, "TB-LINK-HANDSHAKE-REFUSED",
		          "the peer closed the connection during the %s "
		          "handshake (it refused this node's certificate, or "
		          "it is not a tongban link)",
		          l->pattern == NOISE_IK ? "IK" : "XX");
	} else {
		link_fail(l, l->dir == LINK_OUT ? LS_CONNECTING : LS_CLOSED,
		          "TB-LINK-CLOSED",
		          "the connection closed (the peer went away)");
	}
	if (l->dir == LINK_IN) {
		trim_inbound(ls);
	}
}
/* ---- the tick ---------------------------------------------------------- */

static void
probe_cb(void *arg, int status, const struct link_msg *m)
{
	(void)arg;
	(void)status;
	(void)m;
}

/* queue_age drops messages that waited too long for a link to come up. */
static void
queue_age(struct link *l, int64_t now)
{
	struct link_out *o, **pp;

	for (pp = &l->qhead; (o = *pp) != NULL;) {
		if (now - o->queued_ms > LINK_QUEUE_AGE_MS && !o->priority) {
			*pp = o->next;
			l->qbytes -= o->len;
			if (o->req_id != 0) {
				struct link_pending *p =
				    link_pending_find(l->ls, o->req_id);
				if (p != NULL && p->status == TB_OK) {
					p->status = TB_ECLOSED;
				}
			}
			sodium_memzero(o->data, o->len);
			free(o);
		} else {
			pp = &o->next;
		}
	}
	l->qtail = &l->qhead;
	while (*l->qtail != NULL) {
		l->qtail = &(*l->qtail)->next;
	}
}

static void
tick_cb(uv_timer_t *t)
{
	struct links *ls = t->data;
	int64_t now = link_now_ms();
	struct link *l, *next;

	if (ls->stopping) {
		return;
	}
	link_pending_expire(ls, now, false);
	link_nng_tick(ls);
	for (l = ls->list; l != NULL; l = next) {
		next = l->next;
		if (l->removed) {
			link_nng_close(l);
			link_destroy(l);
			continue;
		}
		if (l->state == LS_HANDSHAKING && now > l->hs_deadline) {
			ls->hs_timeout++;
			link_fail(l, LS_REFUSED, "TB-LINK-HANDSHAKE-REFUSED",
			          "the handshake did not finish within %d ms",
			          LINK_HS_TIMEOUT_MS);
			continue;
		}
		if (l->joiner && l->state == LS_UP) {
			/* No pings: a joiner only waits for its answer. */
			if (now > l->join_deadline) {
				link_fail(l, LS_CLOSED, "TB-LINK-CLOSED",
				          "a joining node's link closes after "
				          "%d ms",
				          LINK_JOIN_MS);
			}
			continue;
		}
		if (l->state == LS_UP && l->fr != NULL) {
			if (now >= l->rekey_at_ms) {
				frame_request_rekey(l->fr);
				l->rekey_at_ms = now + ls->rekey_ms;
			}
			if (now >= l->next_ping_ms) {
				l->next_ping_ms = now + ls->ping_ms;
				link_request_on(l, LINK_T_PING, NULL, 0,
				                ls->ping_ms, probe_cb, NULL,
				                true);
			}
		} else if (l->qhead != NULL) {
			queue_age(l, now);
		}
	}
	if (now >= ls->next_poll_ms) {
		ls->next_poll_ms = now + ls->poll_ms;
		link_trust_poll(ls);
	}
	trim_inbound(ls);
}

/* ---- start and stop ---------------------------------------------------- */

static void
links_release(struct links *ls)
{
	struct link *l;

	while ((l = ls->list) != NULL) {
		link_destroy(l);
	}
	link_nng_drop_events(ls, NULL);
	link_trust_free(ls);
	json_decref(ls->store_crls);
	json_decref(ls->store_root);
	json_decref(ls->inc_cert);
	json_decref(ls->fenced_cert);
	sodium_memzero(ls->kx_sk, sizeof(ls->kx_sk));
	pthread_mutex_destroy(&ls->qmu);
	pthread_mutex_destroy(&ls->view_mu);
	free(ls);
}

int
links_start(const struct link_config *cfg, struct links **out, char *errmsg,
            size_t errlen)
{
	struct links *ls;
	char url[300];
	int rv;

	*out = NULL;
	if (cfg->loop == NULL || cfg->dir == NULL || cfg->listen == NULL ||
	    cfg->node_id == NULL || cfg->region == NULL || cfg->kx_sk == NULL) {
		snprintf(errmsg, errlen, "links: incomplete configuration");
		return TB_EINVAL;
	}
	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	ls->loop = cfg->loop;
	snprintf(ls->dir, sizeof(ls->dir), "%s", cfg->dir);
	snprintf(ls->node_id, sizeof(ls->node_id), "%s", cfg->node_id);
	snprintf(ls->region, sizeof(ls->region), "%s", cfg->region);
	memcpy(ls->kx_sk, cfg->kx_sk, 32);
	crypto_scalarmult_base(ls->kx_pk, ls->kx_sk);
	ls->poll_ms = cfg->poll_ms > 0 ? cfg->poll_ms : 1000;
	ls->ping_ms = cfg->ping_ms > 0 ? cfg->ping_ms : 5000;
	ls->rekey_frames =
	    cfg->rekey_frames > 0 ? cfg->rekey_frames : LINK_REKEY_FRAMES;
	ls->rekey_ms = 1000LL * (cfg->rekey_seconds > 0 ? cfg->rekey_seconds
	                                                : LINK_REKEY_SECONDS);
	ls->rehandshake_ms = 1000LL * cfg->rehandshake_seconds;
	ls->evt = &ls->evh;
	pthread_mutex_init(&ls->qmu, NULL);
	pthread_mutex_init(&ls->view_mu, NULL);
	cert_cache_init(&ls->cache);
	ls->joining = cfg->joining;
	ls->crls_fn = cfg->crls_fn;
	ls->crls_arg = cfg->crls_arg;
	ls->root_fn = cfg->root_fn;
	link_known_load(ls);
	link_root_poll(ls);
	if ((rv = link_trust_load(ls, errmsg, errlen)) != TB_OK) {
		links_release(ls);
		return rv;
	}
	link_crl_poll(ls);
	snprintf(url, sizeof(url), "%s%s",
	         strstr(cfg->listen, "://") != NULL ? "" : "tcp://",
	         cfg->listen);
	if ((rv = link_nng_listen(ls, url, errmsg, errlen)) != TB_OK) {
		link_nng_stop(ls);
		links_release(ls);
		return rv;
	}
	/* Events queued before the loop's handles exist wait for the first
	 * wake-up. */
	uv_async_init(ls->loop, &ls->wake, link_nng_wake);
	ls->wake.data = ls;
	uv_timer_init(ls->loop, &ls->tick);
	ls->tick.data = ls;
	uv_timer_init(ls->loop, &ls->redial);
	ls->redial.data = ls;
	pthread_mutex_lock(&ls->qmu);
	ls->handles_open = true;
	pthread_mutex_unlock(&ls->qmu);
	uv_async_send(&ls->wake);
	if (link_peers_load(ls, errmsg, errlen) != TB_OK) {
		tb_log(TB_LOG_ERROR, "TB-LINK-CONFIG", "%s", errmsg);
	}
	ls->next_poll_ms = link_now_ms() + ls->poll_ms;
	uv_timer_start(&ls->tick, tick_cb, LINK_TICK_MS, LINK_TICK_MS);
	*out = ls;
	return TB_OK;
}

void
links_url(const struct links *ls, char *out, size_t n)
{
	snprintf(out, n, "%s", ls != NULL ? ls->url : "");
}

void
links_stop(struct links *ls)
{
	struct link *l;

	if (ls == NULL || ls->stopping) {
		return;
	}
	ls->stopping = true;
	uv_timer_stop(&ls->tick);
	if (ls->handles_open) {
		uv_timer_stop(&ls->redial);
	}
	link_pending_expire(ls, 0, true);
	link_nng_stop(ls);
	for (l = ls->list; l != NULL; l = l->next) {
		session_drop(l);
		l->pipe = 0;
		link_set_state(l, LS_CLOSED, "%s", "the node is stopping");
	}
	link_pending_expire(ls, 0, true);
	link_held_drop(ls);
	/* No nng callback runs any more (link_nng_stop stopped every aio):
	 * the wake-up handle may close. */
	if (ls->handles_open) {
		ls->handles_open = false;
		uv_close((uv_handle_t *)&ls->wake, NULL);
		uv_close((uv_handle_t *)&ls->tick, NULL);
		uv_close((uv_handle_t *)&ls->redial, NULL);
	}
}

void
links_free(struct links *ls)
{
	if (ls == NULL) {
		return;
	}
	if (!ls->stopping) {
		links_stop(ls);
	}
	links_release(ls);
}
