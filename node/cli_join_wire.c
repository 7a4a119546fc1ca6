/* The new node's side of the join pattern on the wire (node/cli_join.c
 * drives it): a link connection (node/link_wire.h: an nng byte stream with
 * the links' length-prefixed framing), Noise XX with the link's join
 * envelope, the pin of the issuer's X25519 key, the request in the third
 * message, then frames until the issuer's LINK_T_JOIN answer. The joiner
 * sends nothing after the third message: XX needs no confirming frame and
 * the listener keeps no credit window (docs/LINKS.md). Blocking calls with
 * timeouts: this runs in tongban init, not in a node. */
#include "node/cli.h"

#include "node/link.h"
#include "node/link_wire.h"
#include "schema/canon.h"
#include "schema/frame.h"
#include "schema/join.h"
#include "schema/link_payload.h"
#include "schema/noise.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_HS_MS   10000 /* connecting, and each handshake message */
#define JOIN_WAIT_MS 25000 /* the issuer commits the token's use first */
#define JOIN_BUF     (FRAME_DEFAULT_MAX + 64)

/* ---- the wire ------------------------------------------------------------ */

struct wire {
	struct link_wire c;
	int wait_ms; /* for the next frame */
	struct noise_hs hs;
	struct frame fr;
	char err[400];
};

static int
wire_send(struct wire *w, const uint8_t *p, size_t n)
{
	int rv = link_wire_send(&w->c, p, n, JOIN_HS_MS);

	if (rv != TB_OK) {
		snprintf(w->err, sizeof(w->err), "%s", w->c.err);
		return TB_EIO;
	}
	return TB_OK;
}

static int
wire_recv(struct wire *w, uint8_t **p, size_t *n)
{
	int rv = link_wire_recv(&w->c, p, n, w->wait_ms);

	if (rv == TB_ETIMEOUT) {
		snprintf(w->err, sizeof(w->err),
		         "no answer from the issuer within %d ms", w->wait_ms);
	} else if (rv != TB_OK) {
		snprintf(w->err, sizeof(w->err),
		         "the issuer closed the link (%s): see its log "
		         "(TB-LINK-HANDSHAKE-REFUSED)",
		         w->c.err);
	}
	return rv == TB_OK || rv == TB_ETIMEOUT ? rv : TB_ECLOSED;
}

/* handshake runs XX with the join envelope and sends req (canonical
 * msgpack) in the third message, once the issuer's key is the pinned
 * one. */
static int
handshake(struct wire *w, const struct join_token *t, const uint8_t kx_sk[32],
          const struct canon_buf *req)
{
	uint8_t env[12], pro[64], out[NOISE_MAX_MSG + 16], rs[32], *in = NULL;
	uint8_t pay[NOISE_MAX_MSG];
	size_t plen = strlen("tongban link/1"), n, inlen = 0, paylen;
	struct noise_session s;
	char got[65], want[65];
	int rv;

	memset(env, 0, sizeof(env));
	env[0] = 'T';
	env[1] = 1;
	env[2] = 3; /* LINK_PATTERN_JOIN */
	canon_unhex(t->issuer_node, env + 4, 8);
	memcpy(pro, "tongban link/1", plen);
	memcpy(pro + plen, env, sizeof(env));
	if (noise_init(&w->hs, NOISE_XX, true, kx_sk, NULL, pro,
	               plen + sizeof(env), NULL) != TB_OK) {
		snprintf(w->err, sizeof(w->err), "%s", w->hs.errmsg);
		return TB_EINVAL;
	}
	memcpy(out, env, sizeof(env));
	n = sizeof(out) - sizeof(env);
	if (noise_write_message(&w->hs, NULL, 0, out + sizeof(env), &n) !=
	        TB_OK ||
	    wire_send(w, out, sizeof(env) + n) != TB_OK) {
		return TB_EIO;
	}
	if ((rv = wire_recv(w, &in, &inlen)) != TB_OK) {
		return rv;
	}
	paylen = sizeof(pay);
	rv = noise_read_message(&w->hs, in, inlen, pay, &paylen);
	free(in);
	if (rv != TB_OK) {
		snprintf(w->err, sizeof(w->err), "the issuer's answer: %s",
		         w->hs.errmsg);
		return TB_ESIG;
	}
	noise_remote_static(&w->hs, rs);
	if (sodium_memcmp(rs, t->issuer_kx, 32) != 0) {
		canon_hex(rs, 32, got);
		canon_hex(t->issuer_kx, 32, want);
		snprintf(w->err, sizeof(w->err),
		         "the node at %s is not the token's issuer: its key "
		         "%.16s.. is not the pinned %.16s.. (nothing was sent)",
		         t->addr, got, want);
		return TB_EFORBIDDEN;
	}
	n = sizeof(out);
	if (noise_write_message(&w->hs, req->data, req->len, out, &n) !=
	        TB_OK ||
	    wire_send(w, out, n) != TB_OK || noise_split(&w->hs, &s) != TB_OK ||
	    frame_init(&w->fr, &s, NULL) != TB_OK) {
		sodium_memzero(out, sizeof(out));
		noise_session_wipe(&s);
		if (w->err[0] == '\0') {
			snprintf(w->err, sizeof(w->err), "%s", w->hs.errmsg);
		}
		return TB_EIO;
	}
	sodium_memzero(out, sizeof(out));
	noise_session_wipe(&s);
	return TB_OK;
}

/* answer_of reads frames until the LINK_T_JOIN message; *out is its JSON. */
static int
answer_of(struct wire *w, json_t **out)
{
	uint8_t *in, *p = malloc(JOIN_BUF);
	struct link_payload d;
	enum frame_type ty;
	size_t inlen, n;
	json_error_t je;
	int rv = TB_EIO;

	*out = NULL;
	while (p != NULL) {
		if ((rv = wire_recv(w, &in, &inlen)) != TB_OK) {
			break;
		}
		n = JOIN_BUF;
		rv = frame_open(&w->fr, in, inlen, &ty, p, &n);
		free(in);
		if (rv != TB_OK) {
			snprintf(w->err, sizeof(w->err), "%s", w->fr.errmsg);
			break;
		}
		if (ty == FRAME_CLOSE) {
			snprintf(w->err, sizeof(w->err),
			         "the issuer closed the session");
			rv = TB_ECLOSED;
			break;
		}
		if (link_payload_decode(p, n, &d, w->err, sizeof(w->err)) !=
		    TB_OK) {
			rv = TB_EMALFORMED;
			break;
		}
		if (d.kind == LK_CHUNK) {
			snprintf(w->err, sizeof(w->err),
			         "the issuer's answer is larger than a frame "
			         "(not supported)");
			rv = TB_ETOOBIG;
			break;
		}
		if (d.kind != LK_MSG || d.type != LINK_T_JOIN) {
			continue; /* HELLO */
		}
		if ((*out = json_loadb((const char *)d.body, d.len, 0, &je)) ==
		    NULL) {
			snprintf(w->err, sizeof(w->err),
			         "the issuer's answer is not JSON: %s",
			         je.text);
			rv = TB_EMALFORMED;
		}
		break;
	}
	if (p != NULL) {
		sodium_memzero(p, JOIN_BUF);
	}
	free(p);
	return *out != NULL ? TB_OK : rv;
}

/* exchange dials the issuer, runs the handshake and returns its answer. */
int
tb_cli_join_exchange(const struct join_token *t, const uint8_t kx_sk[32],
                     const json_t *doc, json_t **ans, char *err, size_t errlen)
{
	struct canon_buf b = { 0 };
	struct wire w;
	char url[160];
	int rv;

	*ans = NULL;
	memset(&w, 0, sizeof(w));
	if ((rv = canon_encode(doc, &b, err, errlen)) != TB_OK) {
		return rv;
	}
	snprintf(url, sizeof(url), "tcp://%s", t->addr);
	if (link_wire_dial(&w.c, url, JOIN_HS_MS) != TB_OK) {
		snprintf(err, errlen, "cannot reach the issuer at %s: %s", url,
		         w.c.err);
		sodium_memzero(b.data, b.len);
		canon_buf_free(&b);
		link_wire_close(&w.c);
		return TB_ECLOSED;
	}
	w.wait_ms = JOIN_HS_MS;
	rv = handshake(&w, t, kx_sk, &b);
	sodium_memzero(b.data, b.len);
	canon_buf_free(&b);
	if (rv == TB_OK) {
		w.wait_ms = JOIN_WAIT_MS;
		rv = answer_of(&w, ans);
	}
	if (rv != TB_OK) {
		snprintf(err, errlen, "%s", w.err);
	}
	noise_hs_wipe(&w.hs);
	frame_wipe(&w.fr);
	link_wire_close(&w.c);
	return rv;
}
