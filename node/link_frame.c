/* Link frames on the loop: queuing, sealing and sending, chunking, and
 * receiving: opening frames, credits, HELLO, reassembling chunks and
 * delivering messages.
 *
 * Sending. A link sends one frame at a time (its connection's send aio),
 * so nothing waits in nng and TCP's window is the back-pressure. Priority
 * messages (HELLO, CREDIT) go before the queue, between the chunks of a
 * large message. Every frame is sealed just before it is handed to nng, so
 * a frame never outlives its pipe's keys.
 *
 * Receiving. A frame over the maximum, with a bad header, that fails to
 * authenticate (tampered, replayed, reordered, dropped before it,
 * injected), or whose payload breaks the protocol above (an unknown kind,
 * a credit for frames never sent, chunks out of order or over the cap)
 * is refused: logged as TB-LINK-FRAME-REFUSED, counted by reason, and the
 * pipe is closed. A length prefix over LINK_RECV_MAX is refused the same
 * way by the transport, before the frame is read (link_on_oversize). */
#include "node/link_impl.h"
#include "node/log.h"
#include "schema/spec.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* link_sanitize copies at most n printable ASCII bytes of p (a peer's words
 * for a log line). */
void
link_sanitize(const uint8_t *p, size_t len, char *out, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < len && k + 1 < n; i++) {
		out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	}
	out[k] = '\0';
}
/* ---- sending ----------------------------------------------------------- */

int
link_enqueue(struct link *l, uint8_t kind, uint8_t flags, uint32_t type,
             uint64_t id, const void *body, size_t len, bool priority)
{
	struct link_out *o, **pp;
	size_t hdr =
	    kind == LK_CREDIT || kind == LK_HELLO ? LINK_CHUNK_PRE : LINK_HDR;

	if (l->qbytes + len > LINK_QUEUE_BYTES) {
		return TB_EFULL;
	}
	if ((o = malloc(sizeof(*o) + hdr + len)) == NULL) {
		return TB_ENOMEM;
	}
	o->next = NULL;
	o->queued_ms = link_now_ms();
	o->req_id = kind == LK_REQ ? id : 0;
	o->priority = priority;
	o->len = hdr + len;
	link_payload_header(o->data, kind, flags, type, id);
	if (len > 0) {
		memcpy(o->data + hdr, body, len);
	}
	l->qbytes += o->len;
	if (priority) {
		/* After the other priority messages, before the rest. */
		for (pp = &l->qhead; *pp != NULL && (*pp)->priority;
		     pp = &(*pp)->next) {
		}
		o->next = *pp;
		*pp = o;
		if (o->next == NULL) {
			l->qtail = &o->next;
		}
	} else {
		*l->qtail = o;
		l->qtail = &o->next;
	}
	link_pump(l);
	return TB_OK;
}

static struct link_out *
queue_pop(struct link *l)
{
	struct link_out *o = l->qhead;

	if (o != NULL) {
		l->qhead = o->next;
		if (l->qhead == NULL) {
			l->qtail = &l->qhead;
		}
		l->qbytes -= o->len;
		o->next = NULL;
	}
	return o;
}

/* seal_send seals payload as one DATA frame and hands it to nng. */
static int
seal_send(struct link *l, const uint8_t *payload, size_t plen)
{
	size_t outlen = plen + FRAME_OVERHEAD;
	nng_msg *m;
	int rv;

	if (link_nng_msg(l, &m, outlen) != TB_OK) {
		return TB_ENOMEM;
	}
	rv = frame_seal(l->fr, FRAME_DATA, payload, plen, nng_msg_body(m),
	                &outlen);
	if (rv != TB_OK) {
		nng_msg_free(m);
		return rv;
	}
	if (((const uint8_t *)nng_msg_body(m))[1] == FRAME_REKEY) {
		l->rekeys_tx++;
	}
	l->tx_frames++;
	l->frames_tx++;
	l->bytes_tx += outlen;
	return link_nng_send(l, m);
}

void
link_pump(struct link *l)
{
	struct link_out *o;
	const uint8_t *payload;
	size_t plen;
	int rv;

	/* (Asks whether the connection is free only with something to send:
	 * a busy connection then wakes the loop when it is done.) */
	while (l->fr != NULL && l->pipe != 0 && !l->ls->stopping &&
	       (l->qhead != NULL || l->chunking != NULL) &&
	       link_nng_tx_idle(l)) {
		if (l->state != LS_UP &&
		    (l->qhead == NULL || !l->qhead->priority)) {
			return; /* only HELLO and CREDIT before it is up */
		}
		o = NULL;
		if (l->qhead != NULL &&
		    (l->qhead->priority || l->chunking == NULL)) {
			o = queue_pop(l);
		}
		if (o != NULL && o->len > LINK_PAYLOAD_MAX) {
			/* Larger than a frame: send it as chunks, between which
			 * priority messages may still go. */
			rv = frame_chunk_split_init(
			    &l->split, ++l->chunk_ids, o->data, o->len,
			    LINK_PAYLOAD_MAX - LINK_CHUNK_PRE);
			if (rv != TB_OK) {
				free(o);
				continue;
			}
			l->chunking = o;
			o = NULL;
		}
		if (o != NULL) {
			payload = o->data;
			plen = o->len;
		} else if (l->chunking != NULL) {
			uint8_t *s = l->ls->scratch;
			plen = sizeof(l->ls->scratch) - LINK_CHUNK_PRE;
			s[0] = LK_CHUNK;
			s[1] = s[2] = s[3] = 0;
			if (frame_chunk_split_next(&l->split,
			                           s + LINK_CHUNK_PRE,
			                           &plen) != TB_OK) {
				free(l->chunking);
				l->chunking = NULL;
				continue;
			}
			payload = s;
			plen += LINK_CHUNK_PRE;
		} else {
			return; /* nothing to send */
		}
		if (o != NULL && o->req_id != 0) {
			struct link_pending *p =
			    link_pending_find(l->ls, o->req_id);
			if (p != NULL) {
				p->sent_us = link_mono_us();
			}
		}
		rv = seal_send(l, payload, plen);
		if (o == NULL) {
			sodium_memzero(l->ls->scratch, plen);
		}
		if (o != NULL) {
			sodium_memzero(o->data, o->len);
			free(o);
		} else if (frame_chunk_split_done(&l->split)) {
			sodium_memzero(l->chunking->data, l->chunking->len);
			free(l->chunking);
			l->chunking = NULL;
		}
		if (rv != TB_OK) {
			link_fail(
			    l, l->dir == LINK_OUT ? LS_CONNECTING : LS_CLOSED,
			    "TB-LINK-CLOSED", "cannot send a frame: %s%s",
			    tb_strerror(rv),
			    rv == TB_ERANGE ? " (the nonce counter is "
			                      "exhausted: a new handshake "
			                      "follows)"
			                    : "");
			return;
		}
	}
}

void
link_on_sent(struct link *l, int result)
{
	bool same = l->tx_pipe == l->pipe && l->pipe != 0;

	l->tx_busy = false;
	if (l->ls->stopping) {
		return;
	}
	if (result != 0 && result != NNG_ECANCELED && same) {
		/* A frame that did not go out leaves a gap in the nonces the
		 * peer would refuse; a handshake message, a handshake that
		 * cannot finish. Either way this pipe is done. */
		if (l->fr == NULL) {
			l->ls->hs_refused++;
			link_fail(l, LS_REFUSED, "TB-LINK-HANDSHAKE-REFUSED",
			          "a handshake message could not be sent: %s",
			          nng_strerror(result));
		} else {
			link_fail(
			    l, l->dir == LINK_OUT ? LS_CONNECTING : LS_CLOSED,
			    "TB-LINK-CLOSED", "a frame could not be sent: %s",
			    nng_strerror(result));
		}
		return;
	}
	if (l->inc_refused && same && l->fr == NULL && l->hs_pending == NULL) {
		link_inc_refuse(l); /* our last handshake message went out */
		return;
	}
	if (l->hs_pending != NULL && l->pipe != 0) {
		uint8_t *m = l->hs_pending;
		l->hs_pending = NULL;
		link_hs_send(l, m, l->hs_pending_len);
		free(m);
		return;
	}
	link_pump(l);
}

/* ---- receiving --------------------------------------------------------- */

/* refuse_frame closes l's pipe for a frame the rules refuse. */
static void refuse_frame(struct link *l, enum link_refusal r, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static void
refuse_frame(struct link *l, enum link_refusal r, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	l->ls->refused[r]++;
	link_fail(l, LS_REFUSED, "TB-LINK-FRAME-REFUSED",
	          "frame refused (%s): %s", link_refusal_name(r), why);
}

static void
link_became_up(struct link *l)
{
	struct links *ls = l->ls;
	int64_t now = link_now_ms(), na = 0;
	struct link *k, *next;
	char name[400];

	ls->hs_ok++;
	if (l->backoff_ms != 0) {
		l->backoff_ms = 0;
		link_nng_backoff(l, LINK_RECONNECT_MS);
	}
	l->next_ping_ms = now;
	l->rekey_at_ms = now + ls->rekey_ms;
	link_set_state(l, LS_UP, "%s", "");
	link_name(l, name, sizeof(name));
	if (l->joiner) {
		tb_log(TB_LOG_INFO, "TB-LINK-UP",
		       "%s: up (Noise XX, a node enrolling with a join token, "
		       "no certificate yet)",
		       name);
		return;
	}
	tb_log(TB_LOG_INFO, "TB-LINK-UP",
	       "%s: up (Noise %s, certificate %s "
	       "valid to %s)",
	       name, l->pattern == NOISE_IK ? "IK" : "XX", l->serial,
	       l->not_after);
	if (spec_time_parse(l->not_after, &na) == TB_OK &&
	    na - now < LINK_EXPIRING_MS) {
		tb_log(TB_LOG_WARN, "TB-LINK-CERT-EXPIRING",
		       "%s: the peer's certificate %s expires at %s", name,
		       l->serial, l->not_after);
	}
	/* One entry per inbound peer: fold its earlier, closed entries into
	 * this one so the view and the counters stay per peer. */
	if (l->dir == LINK_IN) {
		for (k = ls->list; k != NULL; k = next) {
			next = k->next;
			if (k != l && k->dir == LINK_IN && k->pipe == 0 &&
			    !k->tx_busy && !strcmp(k->node_id, l->node_id)) {
				l->frames_tx += k->frames_tx;
				l->frames_rx += k->frames_rx;
				l->bytes_tx += k->bytes_tx;
				l->bytes_rx += k->bytes_rx;
				l->handshakes += k->handshakes;
				l->rekeys_tx += k->rekeys_tx;
				l->rekeys_rx += k->rekeys_rx;
				link_destroy(k);
			}
		}
	}
}

void
link_session_up(struct link *l, struct noise_session *s)
{
	struct frame_opts o = { .max_frame = LINK_FRAME_MAX,
		                .rekey_frames = l->ls->rekey_frames };
	int rv;

	if ((l->fr = calloc(1, sizeof(*l->fr))) == NULL ||
	    (rv = frame_init(l->fr, s, &o)) != TB_OK) {
		noise_session_wipe(s);
		link_fail(l, LS_CLOSED, "TB-LINK-CLOSED",
		          "cannot start the session: out of memory");
		return;
	}
	noise_session_wipe(s);
	link_hs_wipe(l);
	if (l->ls->bench.plaintext) {
		frame_bench_plaintext(l->fr);
	}
	if (l->dir == LINK_IN) {
		/* The listener tells the dialer that it checked everything
		 * with its first frame. After XX's third message it knows the
		 * dialer holds the session keys and is up; IK's first message
		 * can be replayed by anyone who saw it, so after IK it waits
		 * for the dialer's first frame (its CREDIT for HELLO). */
		if (l->pattern == NOISE_XX) {
			l->confirmed = true;
			link_became_up(l);
		}
		link_enqueue(l, LK_HELLO, 0, 0, 0, NULL, 0, true);
	}
}

/* msg_in delivers one whole message (header and body). */
static void
msg_in(struct link *l, const uint8_t *m, size_t n)
{
	struct links *ls = l->ls;
	struct link_payload d;
	struct link_msg msg;
	struct link_pending *p;
	char why[160];
	int h;

	if (l->joiner) {
		refuse_frame(l, LR_MALFORMED,
		             "a joining node may send nothing but credits");
		return;
	}
	if (link_payload_decode_msg(m, n, &d, why, sizeof(why)) != TB_OK) {
		refuse_frame(l, LR_MALFORMED, "%s", why);
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.peer_node_id = l->node_id;
	msg.peer_region = l->region;
	msg.peer_role = l->role;
	msg.peer_inc = l->peer_inc;
	msg.type = d.type;
	msg.body = d.body;
	msg.len = d.len;
	msg.request = d.kind == LK_REQ;
	msg.reply_to.link = l->uid;
	msg.reply_to.pipe = l->pipe;
	msg.reply_to.id = d.id;
	if (d.kind == LK_RESP) {
		int status = TB_OK;
		if ((p = link_pending_find(ls, msg.reply_to.id)) == NULL ||
		    p->link != l->uid || p->status != TB_OK) {
			return; /* late (timed out) or not ours */
		}
		link_pending_unlink(ls, p);
		if (d.flags & LF_ERROR) {
			status = msg.type > 0 && msg.type < TB_ERR_COUNT
			             ? (int)msg.type
			             : TB_EIO;
		}
		if (p->probe && status == TB_OK) {
			l->rtt_us =
			    (unsigned long long)(link_mono_us() - p->sent_us);
		}
		if (p->cb != NULL) {
			p->cb(p->arg, status, &msg);
		}
		free(p);
		return;
	}
	if (d.kind == LK_REQ && msg.type == LINK_T_PING) {
		link_reply(ls, &msg.reply_to, LINK_T_PONG, msg.body, msg.len);
		return;
	}
	h = msg.type >= LINK_TYPE_RESERVED ? link_handler_find(ls, msg.type)
	                                   : -1;
	if (h < 0) {
		ls->unhandled++;
		if (d.kind == LK_REQ) {
			snprintf(why, sizeof(why), "no handler for type %u",
			         (unsigned)msg.type);
			link_reply_error(ls, &msg.reply_to, TB_ENOTIMPL, why);
		}
		return;
	}
	if (ls->gate != NULL &&
	    ls->gate(ls->gate_arg, msg.type, ls->held != NULL) &&
	    link_hold(ls, &msg) == TB_OK) {
		return;
	}
	ls->handlers[h].fn(ls, &msg, ls->handlers[h].arg);
}

/* payload_in takes the payload of one frame: schema/link_payload.c checks
 * its shape, this its place in the link's state. */
static void
payload_in(struct link *l, const uint8_t *p, size_t n)
{
	struct link_payload d;
	bool complete = false;
	uint8_t *data;
	uint64_t id;
	size_t len;
	char why[160];
	int rv;

	if (link_payload_decode(p, n, &d, why, sizeof(why)) != TB_OK) {
		refuse_frame(l, LR_MALFORMED, "%s", why);
		return;
	}
	if (l->dir == LINK_OUT && !l->confirmed) {
		if (d.kind != LK_HELLO) {
			refuse_frame(l, LR_MALFORMED,
			             "the first frame is kind %u, not HELLO",
			             d.kind);
			return;
		}
		l->confirmed = true;
		link_became_up(l);
		link_pump(l);
		return;
	}
	if (!l->confirmed) {
		/* IK: the dialer's first frame proves it holds the session
		 * keys (a replayed first message cannot make one). */
		l->confirmed = true;
		link_became_up(l);
	}
	switch (d.kind) {
	case LK_CREDIT:
		if (l->dir != LINK_IN || d.count < l->peer_acked ||
		    d.count > l->tx_frames) {
			refuse_frame(l, LR_MALFORMED,
			             "a credit for frames never sent");
			return;
		}
		l->peer_acked = d.count;
		link_pump(l);
		break;
	case LK_CHUNK:
		rv = frame_chunk_join_add(&l->join, d.body, d.len, &complete);
		if (rv != TB_OK) {
			refuse_frame(
			    l, rv == TB_ENOMEM ? LR_OVERSIZED : LR_CHUNK, "%s",
			    l->join.errmsg[0] ? l->join.errmsg
			                      : tb_strerror(rv));
			return;
		}
		if (complete && frame_chunk_join_take(&l->join, &id, &data,
		                                      &len) == TB_OK) {
			msg_in(l, data, len);
			sodium_memzero(data, len);
			free(data);
		}
		break;
	case LK_HELLO:
		refuse_frame(l, LR_MALFORMED, "a second HELLO");
		break;
	default: /* LK_MSG, LK_REQ, LK_RESP */
		msg_in(l, p, n);
		break;
	}
}

static enum link_refusal
refusal_of(int rv)
{
	switch (rv) {
	case TB_ESIG:
		return LR_AUTH;
	case TB_ETOOBIG:
		return LR_OVERSIZED;
	case TB_ETRUNC:
		return LR_TRUNCATED;
	case TB_ERANGE:
		return LR_EXHAUSTED;
	default:
		return LR_MALFORMED;
	}
}

void
link_on_recv(struct links *ls, struct link *l, uint32_t pipe, nng_msg *msg)
{
	uint8_t *data = nng_msg_body(msg), dummy[1];
	size_t len = nng_msg_len(msg), plen;
	enum frame_type t;
	int rv;

	if (ls->stopping) {
		goto out;
	}
	if (l == NULL || l->pipe != pipe || pipe == 0) {
		goto out; /* a pipe that is gone */
	}
	if (l->fr == NULL) {
		if (l->state == LS_HANDSHAKING) {
			link_hs_recv(l, data, len);
		}
		goto out;
	}
	plen = len >= FRAME_HDR ? len - FRAME_HDR : 0;
	rv = frame_open(l->fr, data, len, &t,
	                len >= FRAME_HDR ? data + FRAME_HDR : dummy, &plen);
	if (rv != TB_OK) {
		refuse_frame(l, refusal_of(rv), "%s", l->fr->errmsg);
		goto out;
	}
	l->frames_rx++;
	l->bytes_rx += len;
	l->rx_frames++;
	if (t == FRAME_REKEY) {
		l->rekeys_rx++;
	}
	if (t == FRAME_CLOSE) {
		char why[128];
		link_sanitize(data + FRAME_HDR, plen, why, sizeof(why));
		link_fail(l, l->dir == LINK_OUT ? LS_CONNECTING : LS_CLOSED,
		          "TB-LINK-CLOSED", "the peer closed the link: %s",
		          why[0] ? why : "(no reason)");
		goto out;
	}
	payload_in(l, data + FRAME_HDR, plen);
out:
	/* What was decrypted in place is a citizen's data: wipe it. The
	 * caller frees the message or keeps it for the next frame. */
	sodium_memzero(nng_msg_body(msg), nng_msg_len(msg));
}

void
link_on_oversize(struct link *l, size_t len)
{
	l->ls->refused[LR_OVERSIZED]++;
	if (l->fr == NULL) {
		l->ls->hs_refused++;
	}
	link_fail(l, LS_REFUSED, "TB-LINK-FRAME-REFUSED",
	          "frame refused (%s): the %s's length prefix says %zu bytes, "
	          "over the limit of %d; the connection is closed before "
	          "reading it",
	          link_refusal_name(LR_OVERSIZED),
	          l->fr == NULL ? "handshake message" : "frame", len,
	          LINK_RECV_MAX);
}

void
links_after_drain(struct links *ls)
{
	struct link *l;
	uint8_t v[8];

	/* The dialer's first frame is a CREDIT for what it received (HELLO):
	 * after IK it is what proves to the listener that the dialer holds
	 * the session keys. The stream needs no flow-control window, so it
	 * is the only one. */
	for (l = ls->list; l != NULL; l = l->next) {
		if (l->dir == LINK_OUT && l->fr != NULL && l->confirmed &&
		    l->credit_sent == 0 && l->rx_frames > 0) {
			link_put_u64(v, l->rx_frames);
			l->credit_sent = l->rx_frames;
			link_enqueue(l, LK_CREDIT, 0, 0, 0, v, sizeof(v), true);
		}
	}
}
