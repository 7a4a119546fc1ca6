/* The link handshake on a new pipe: Noise XX or IK carrying both
 * certificate chains, checked against the province root.
 *
 * Happy path (XX, the dialer does not hold the peer's certificate):
 *
 *   dialer -> listener   envelope + e                     (no payload)
 *   listener -> dialer   e, ee, s, es + its chain
 *   dialer -> listener   s, se + its chain
 *
 * and IK (the dialer learned the peer's X25519 key from an earlier
 * handshake): envelope + e, es, s, ss + the dialer's chain, then e, ee, se +
 * the listener's chain (sent again so that the dialer checks it against
 * today's revocation lists, not the day it was learned).
 *
 * The envelope ('T', version 1, pattern, 0, and the 8-byte node id the
 * dialer expects, or zeros) tells the listener which pattern follows; it is
 * hashed into the Noise prologue after "tongban link/1", so a changed
 * envelope fails the handshake. The dialer's own node id is not in it: the
 * listener cannot know it before the first message, and sending it in clear
 * would undo XX's hiding of the dialer's identity; its certificate proves
 * it instead.
 *
 * Each side checks the peer's chain (cert_cache_verify: signatures, the
 * tree, expiry, revocation, and for a dialer the region and node id that
 * links.json names there) and that the chain's kx_key is the static key
 * the handshake proved (session.rs): until then the peer is only "someone
 * holding that key".
 *
 * Failure modes: a message out of turn, one that fails to decrypt or to
 * parse, a chain that does not verify, a kx_key that is not the handshake's
 * key, a link to this node itself, a send that fails: the pipe closes
 * (TB-LINK-HANDSHAKE-REFUSED, or TB-LINK-REVOKED for a revoked
 * certificate). The dialer redials; after a failed IK it uses XX. */
#include "node/link_impl.h"
#include "node/log.h"
#include "schema/canon.h"
#include "schema/cert_chain.h"
#include "schema/spec.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
link_hs_wipe(struct link *l)
{
	if (l->hs != NULL) {
		noise_hs_wipe(l->hs);
		free(l->hs);
		l->hs = NULL;
	}
}

/* refuse fails the handshake: revoked certificates have their own id. */
static void refuse(struct link *l, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(struct link *l, int code, const char *fmt, ...)
{
	char why[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (code == CERT_EREVOKED) {
		l->ls->hs_revoked++;
	} else {
		l->ls->hs_refused++;
	}
	link_fail(l, LS_REFUSED,
	          code == CERT_EREVOKED ? "TB-LINK-REVOKED"
	                                : "TB-LINK-HANDSHAKE-REFUSED",
	          "handshake refused (%s): %s",
	          l->pattern == NOISE_IK ? "IK" : "XX", why);
}

void
link_hs_send(struct link *l, const uint8_t *msg, size_t len)
{
	nng_msg *m;

	if (!link_nng_tx_idle(l)) {
		/* The previous message is still being sent: this one goes
		 * when it is done. */
		free(l->hs_pending);
		if ((l->hs_pending = malloc(len)) == NULL) {
			refuse(l, TB_ENOMEM, "out of memory");
			return;
		}
		memcpy(l->hs_pending, msg, len);
		l->hs_pending_len = len;
		return;
	}
	if (nng_msg_alloc(&m, len) != 0) {
		refuse(l, TB_ENOMEM, "out of memory");
		return;
	}
	memcpy(nng_msg_body(m), msg, len);
	if (link_nng_send(l, m) != TB_OK) {
		refuse(l, TB_ECLOSED,
		       "the handshake message could not be "
		       "sent");
	}
}

/* prologue writes "tongban link/1" and the envelope. */
static size_t
prologue(const uint8_t env[LINK_ENV], uint8_t *out)
{
	size_t n = strlen(LINK_PROLOGUE);

	memcpy(out, LINK_PROLOGUE, n);
	memcpy(out + n, env, LINK_ENV);
	return n + LINK_ENV;
}

/* write_next writes our next handshake message (with our chain, or
 * nothing) after pre (the envelope, or NULL) and sends it. */
static bool
write_next(struct link *l, const uint8_t *pre, bool payload)
{
	struct links *ls = l->ls;
	size_t plen = payload ? ls->own_len : 0;
	size_t off = pre != NULL ? LINK_ENV : 0;
	size_t cap = off + noise_message_len(l->hs, plen), len;
	uint8_t *out = malloc(cap > 0 ? cap : 1);

	if (out == NULL) {
		refuse(l, TB_ENOMEM, "out of memory");
		return false;
	}
	if (pre != NULL) {
		memcpy(out, pre, LINK_ENV);
	}
	len = cap - off;
	if (noise_write_message(l->hs, payload ? ls->own_payload : NULL, plen,
	                        out + off, &len) != TB_OK) {
		free(out);
		refuse(l, TB_EINVAL, "%s", l->hs->errmsg);
		return false;
	}
	link_hs_send(l, out, off + len);
	free(out);
	return l->pipe != 0;
}

void
link_hs_begin(struct link *l)
{
	struct links *ls = l->ls;
	const char *known = l->cfg_node_id[0] ? l->cfg_node_id : l->node_id;
	uint8_t env[LINK_ENV], pro[64], rs[32];
	bool ik;

	l->inc_refused = false;
	if (l->dir == LINK_IN) {
		return; /* the dialer speaks first */
	}
	ik = !ls->bench.xx_only && link_key_get(ls, known, l->url, rs);
	l->pattern = ik ? NOISE_IK : NOISE_XX;
	memset(env, 0, sizeof(env));
	env[0] = 'T';
	env[1] = 1;
	env[2] = (uint8_t)l->pattern;
	if (l->cfg_node_id[0] != '\0') {
		canon_unhex(l->cfg_node_id, env + 4, 8);
	}
	if ((l->hs = calloc(1, sizeof(*l->hs))) == NULL) {
		refuse(l, TB_ENOMEM, "out of memory");
		return;
	}
	if (noise_init_pub(l->hs, l->pattern, true, ls->kx_sk, ls->kx_pk,
	                   ik ? rs : NULL, pro, prologue(env, pro),
	                   NULL) != TB_OK) {
		refuse(l, TB_EINVAL, "%s", l->hs->errmsg);
		return;
	}
	/* XX's first message is in clear and authenticated by nothing: it
	 * carries no payload. IK's is encrypted to the peer's key. */
	write_next(l, env, ik);
}

/* check_peer verifies the chain a handshake payload carries and binds its
 * kx_key to the handshake's remote static key. */
static bool
check_peer(struct link *l, const uint8_t *p, size_t n)
{
	static const struct canon_limits lim = { NOISE_MAX_MSG, 8, 4096, 4096 };
	struct links *ls = l->ls;
	char err[256], kxh[65];
	uint8_t rs[32], kx[32];
	json_t *doc = NULL, *chain, *leaf;
	struct tb_diag *d;
	int rv;

	if (n == 0) {
		refuse(l, TB_EMISSING, "the peer sent no certificate");
		return false;
	}
	if (canon_decode(p, n, &lim, &doc, err, sizeof(err)) != TB_OK) {
		refuse(l, TB_EMALFORMED, "the certificate payload: %s", err);
		return false;
	}
	chain = json_object_get(doc, "chain");
	leaf = json_array_get(chain, 0);
	if (!json_is_array(chain) || leaf == NULL) {
		json_decref(doc);
		refuse(l, TB_EMALFORMED,
		       "the payload has no certificate "
		       "chain");
		return false;
	}
	if ((d = malloc(sizeof(*d))) == NULL) {
		json_decref(doc);
		refuse(l, TB_ENOMEM, "out of memory");
		return false;
	}
	tb_diag_init(d);
	rv = link_trust_verify(ls, l, chain, d);
	if (rv != TB_OK) {
		const char *id = spec_str(leaf, "node_id");
		refuse(l, rv, "node %s of %s: %s: %s", id ? id : "?",
		       spec_str(leaf, "region") ? spec_str(leaf, "region")
		                                : "?",
		       d->n > 0 ? d->e[0].path : "$",
		       d->n > 0 ? d->e[0].msg : tb_strerror(rv));
		free(d);
		json_decref(doc);
		return false;
	}
	free(d);
	if (noise_remote_static(l->hs, rs) != TB_OK ||
	    canon_unhex(spec_str(leaf, "kx_key"), kx, 32) != TB_OK ||
	    sodium_memcmp(rs, kx, 32) != 0) {
		canon_hex(rs, 32, kxh);
		refuse(l, TB_EFORBIDDEN,
		       "node %s: its certificate names kx_key %.16s.., the "
		       "handshake was made with %.16s..",
		       spec_str(leaf, "node_id"), spec_str(leaf, "kx_key"),
		       kxh);
		json_decref(doc);
		return false;
	}
	if (!strcmp(spec_str(leaf, "node_id"), ls->node_id)) {
		refuse(l, TB_EFORBIDDEN, "a link to this node itself");
		json_decref(doc);
		return false;
	}
	pthread_mutex_lock(&ls->view_mu);
	snprintf(l->node_id, sizeof(l->node_id), "%s",
	         spec_str(leaf, "node_id"));
	snprintf(l->region, sizeof(l->region), "%s", spec_str(leaf, "region"));
	snprintf(l->role, sizeof(l->role), "%s",
	         spec_str(leaf, "role") ? spec_str(leaf, "role") : "");
	snprintf(l->serial, sizeof(l->serial), "%s", spec_str(leaf, "serial"));
	snprintf(l->not_after, sizeof(l->not_after), "%s",
	         spec_str(leaf, "not_after"));
	pthread_mutex_unlock(&ls->view_mu);
	json_decref(l->peer_chain);
	l->peer_chain = json_incref(chain);
	link_inc_check(l, doc);
	json_decref(doc);
	if (l->dir == LINK_OUT) {
		link_key_put(ls, l->node_id, l->url, kx);
	}
	return true;
}

/* check_joiner keeps a joining node's request (its third XX message's
 * payload, encrypted to this node's static key) and the X25519 key the
 * handshake proved; link_join delivers them once the session is up. */
static bool
check_joiner(struct link *l, const uint8_t *p, size_t n)
{
	static const struct canon_limits lim = { NOISE_MAX_MSG, 8, 4096, 4096 };
	char err[256];
	json_t *doc = NULL;

	if (n == 0 ||
	    canon_decode(p, n, &lim, &doc, err, sizeof(err)) != TB_OK ||
	    !json_is_object(doc)) {
		json_decref(doc);
		refuse(l, TB_EMALFORMED, "a joining node's request: %s",
		       n == 0        ? "empty"
		       : doc == NULL ? err
		                     : "not a map");
		return false;
	}
	if (noise_remote_static(l->hs, l->join_kx) != TB_OK) {
		json_decref(doc);
		refuse(l, TB_EINVAL, "%s", l->hs->errmsg);
		return false;
	}
	json_decref(l->join_req);
	l->join_req = doc;
	pthread_mutex_lock(&l->ls->view_mu);
	snprintf(l->role, sizeof(l->role), "joiner");
	pthread_mutex_unlock(&l->ls->view_mu);
	return true;
}

/* split ends the handshake; a joiner's request goes to the node. */
static void
split(struct link *l)
{
	struct links *ls = l->ls;
	struct link_reply_to to;
	struct noise_session s;
	json_t *req;

	if (noise_split(l->hs, &s) != TB_OK) {
		refuse(l, TB_EINVAL, "%s", l->hs->errmsg);
		return;
	}
	link_session_up(l, &s);
	if (l->joiner && l->state == LS_UP && l->join_req != NULL) {
		l->join_deadline = link_now_ms() + LINK_JOIN_MS;
		to.link = l->uid;
		to.pipe = l->pipe;
		to.id = 0;
		req = l->join_req;
		l->join_req = NULL;
		ls->join_fn(ls, req, l->join_kx, &to, ls->join_arg);
		json_decref(req);
	}
}

/* first_message: the listener reads the dialer's first message. */
static void
first_message(struct link *l, const uint8_t *msg, size_t len, uint8_t *pbuf,
              size_t *plen)
{
	struct links *ls = l->ls;
	uint8_t pro[64], zero[8] = { 0 }, mine[8];
	char want[17];

	if (len < LINK_ENV || msg[0] != 'T' || msg[1] != 1 || msg[3] != 0 ||
	    (msg[2] != NOISE_XX && msg[2] != NOISE_IK &&
	     msg[2] != LINK_PATTERN_JOIN)) {
		refuse(l, TB_EMALFORMED,
		       "the first message (%zu bytes) is not a tongban link/1 "
		       "handshake",
		       len);
		return;
	}
	if (msg[2] == LINK_PATTERN_JOIN && ls->join_fn == NULL) {
		refuse(l, TB_ENOTIMPL,
		       "a node presents a join token, but this node takes "
		       "none (links without a group)");
		return;
	}
	if (msg[2] == LINK_PATTERN_JOIN) {
		/* Anyone can dial as a joiner and hold the link until it
		 * closes: a few at a time, so they cannot fill the inbound
		 * links that peers need. */
		unsigned joiners = 0;
		struct link *k;
		for (k = ls->list; k != NULL; k = k->next) {
			joiners += k->joiner && k->pipe != 0;
		}
		if (joiners >= LINK_MAX_JOINERS) {
			refuse(l, TB_EFULL,
			       "%u joining nodes' links are open already "
			       "(limit %d)",
			       joiners, LINK_MAX_JOINERS);
			return;
		}
	}
	/* A join is Noise XX; the envelope (in the prologue) says which. */
	l->joiner = msg[2] == LINK_PATTERN_JOIN;
	l->pattern = l->joiner ? NOISE_XX : msg[2];
	canon_unhex(ls->node_id, mine, 8);
	if (memcmp(msg + 4, zero, 8) != 0 && memcmp(msg + 4, mine, 8) != 0) {
		canon_hex(msg + 4, 8, want);
		refuse(l, TB_EFORBIDDEN,
		       "the dialer expected node %s, this is node %s", want,
		       ls->node_id);
		return;
	}
	if ((l->hs = calloc(1, sizeof(*l->hs))) == NULL) {
		refuse(l, TB_ENOMEM, "out of memory");
		return;
	}
	if (noise_init_pub(l->hs, l->pattern, false, ls->kx_sk, ls->kx_pk, NULL,
	                   pro, prologue(msg, pro), NULL) != TB_OK ||
	    noise_read_message(l->hs, msg + LINK_ENV, len - LINK_ENV, pbuf,
	                       plen) != TB_OK) {
		refuse(l, TB_ESIG, "%s", l->hs->errmsg);
		return;
	}
	if (l->pattern == NOISE_XX && *plen != 0) {
		refuse(l, TB_EMALFORMED,
		       "XX message 1 carries a payload of %zu bytes (it must "
		       "be empty)",
		       *plen);
		return;
	}
	if (l->pattern == NOISE_IK && !check_peer(l, pbuf, *plen)) {
		return;
	}
	/* Refused for its incarnation: our answer (with ours) goes out
	 * first, then link_on_sent refuses the link. */
	if (write_next(l, NULL, true) && l->pattern == NOISE_IK &&
	    !l->inc_refused) {
		split(l);
	}
}

void
link_hs_recv(struct link *l, const uint8_t *msg, size_t len)
{
	uint8_t *pbuf;
	size_t plen = NOISE_MAX_MSG;

	if (len > LINK_ENV + NOISE_MAX_MSG) {
		refuse(l, TB_ETOOBIG, "a handshake message of %zu bytes", len);
		return;
	}
	if ((pbuf = malloc(NOISE_MAX_MSG)) == NULL) {
		refuse(l, TB_ENOMEM, "out of memory");
		return;
	}
	if (l->dir == LINK_IN && l->hs == NULL) {
		first_message(l, msg, len, pbuf, &plen);
		goto out;
	}
	if (l->hs == NULL || noise_next(l->hs) != NOISE_READ) {
		refuse(l, TB_EINVAL, "a message out of turn (%zu bytes)", len);
		goto out;
	}
	if (noise_read_message(l->hs, msg, len, pbuf, &plen) != TB_OK) {
		refuse(l, TB_ESIG, "%s", l->hs->errmsg);
		goto out;
	}
	/* The dialer's second message (XX) or the listener's answer carries
	 * the peer's chain; a joiner's, its join request. */
	if (l->joiner ? !check_joiner(l, pbuf, plen)
	              : !check_peer(l, pbuf, plen)) {
		goto out;
	}
	if (noise_next(l->hs) == NOISE_WRITE) {
		if (!write_next(l, NULL, true)) {
			goto out;
		}
		/* Refused for its incarnation: link_on_sent refuses once our
		 * message, which tells the peer ours, has gone out. */
		if (l->inc_refused) {
			goto out;
		}
	}
	if (l->inc_refused) {
		link_inc_refuse(l);
		goto out;
	}
	if (noise_next(l->hs) == NOISE_SPLIT) {
		split(l);
	}
out:
	sodium_memzero(pbuf, NOISE_MAX_MSG);
	free(pbuf);
}
