/* Noise handshakes XX and IK over 25519, ChaChaPoly and BLAKE2b. */
#include "schema/noise.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Happy path (XX; IK is the same machine with its own token table and a
 * pre-message): both sides noise_init with the same prologue, which runs
 * InitializeSymmetric(protocol_name) and MixHash(prologue). Then each
 * message is written by processing its tokens in order (e: new ephemeral,
 * sent in clear and hashed; s: our static key, EncryptAndHash'ed; ee, es,
 * se, ss: MixKey of the matching X25519 result) and appending
 * EncryptAndHash(payload); the reader mirrors every step. After the last
 * message both sides Split() the chaining key into two CipherStates.
 *
 * Failure modes: see noise.h. Every refusal goes through hs_fail, which
 * zeroes the whole state but the reason, so nothing secret survives a
 * failed handshake.
 */

/* Tokens of the message patterns. */
enum tok { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS };

#define MAX_TOKENS 5

static const uint8_t xx_msgs[3][MAX_TOKENS] = {
	{ T_E },
	{ T_E, T_EE, T_S, T_ES },
	{ T_S, T_SE },
};

static const uint8_t ik_msgs[2][MAX_TOKENS] = {
	{ T_E, T_ES, T_S, T_SS },
	{ T_E, T_EE, T_SE },
};

#define BLOCKLEN 128 /* BLAKE2b's block, for HMAC */

const char *
noise_protocol_name(enum noise_pattern pattern)
{
	switch (pattern) {
	case NOISE_XX:
		return "Noise_XX_25519_ChaChaPoly_BLAKE2b";
	case NOISE_IK:
		return "Noise_IK_25519_ChaChaPoly_BLAKE2b";
	}
	return NULL;
}

static const char *
pattern_tag(int pattern)
{
	return pattern == NOISE_IK ? "IK" : "XX";
}

static unsigned
msg_count(int pattern)
{
	return pattern == NOISE_IK ? 2 : 3;
}

static const uint8_t *
msg_tokens(int pattern, unsigned msg)
{
	return pattern == NOISE_IK ? ik_msgs[msg] : xx_msgs[msg];
}

/* ---- hashing: HASH, HMAC-HASH and HKDF of Noise section 4.3 ---------- */

static void
hash2(uint8_t out[NOISE_HASHLEN], const uint8_t *a, size_t alen,
      const uint8_t *b, size_t blen)
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASHLEN);
	crypto_generichash_blake2b_update(&st, a, alen);
	if (blen > 0) {
		crypto_generichash_blake2b_update(&st, b, blen);
	}
	crypto_generichash_blake2b_final(&st, out, NOISE_HASHLEN);
	sodium_memzero(&st, sizeof(st));
}

/* hmac is RFC 2104 HMAC over BLAKE2b-512 with the key zero-padded to the
 * 128-byte block, of the concatenation d1 || d2. Noise's keys are at most
 * HASHLEN bytes, so they never need hashing first. */
static void
hmac(uint8_t out[NOISE_HASHLEN], const uint8_t *key, size_t klen,
     const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2)
{
	crypto_generichash_blake2b_state st;
	uint8_t pad[BLOCKLEN], inner[NOISE_HASHLEN];
	size_t i;

	memset(pad, 0, sizeof(pad));
	memcpy(pad, key, klen);
	for (i = 0; i < BLOCKLEN; i++) {
		pad[i] ^= 0x36;
	}
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASHLEN);
	crypto_generichash_blake2b_update(&st, pad, BLOCKLEN);
	if (l1 > 0) {
		crypto_generichash_blake2b_update(&st, d1, l1);
	}
	if (l2 > 0) {
		crypto_generichash_blake2b_update(&st, d2, l2);
	}
	crypto_generichash_blake2b_final(&st, inner, NOISE_HASHLEN);
	for (i = 0; i < BLOCKLEN; i++) {
		pad[i] ^= 0x36 ^ 0x5c;
	}
	crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASHLEN);
	crypto_generichash_blake2b_update(&st, pad, BLOCKLEN);
	crypto_generichash_blake2b_update(&st, inner, NOISE_HASHLEN);
	crypto_generichash_blake2b_final(&st, out, NOISE_HASHLEN);
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

/* hkdf is Noise's HKDF(chaining_key, input_key_material, 2): two outputs
 * of HASHLEN bytes. (Noise's third output serves only psk patterns.) */
static void
hkdf2(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t ikmlen,
      uint8_t o1[NOISE_HASHLEN], uint8_t o2[NOISE_HASHLEN])
{
	static const uint8_t one = 0x01, two = 0x02;
	uint8_t temp[NOISE_HASHLEN];

	hmac(temp, ck, NOISE_HASHLEN, ikm, ikmlen, NULL, 0);
	hmac(o1, temp, NOISE_HASHLEN, &one, 1, NULL, 0);
	hmac(o2, temp, NOISE_HASHLEN, o1, NOISE_HASHLEN, &two, 1);
	sodium_memzero(temp, sizeof(temp));
}

/* ---- CipherState ------------------------------------------------------ */

/* ChaChaPoly's nonce: 32 bits of zeros, then n as 64-bit little-endian. */
static void
nonce96(uint8_t out[12], uint64_t n)
{
	int i;

	memset(out, 0, 4);
	for (i = 0; i < 8; i++) {
		out[4 + i] = (uint8_t)(n >> (8 * i));
	}
}

void
noise_cs_init(struct noise_cs *cs, const uint8_t k[NOISE_KEYLEN])
{
	sodium_memzero(cs, sizeof(*cs));
	if (k != NULL) {
		memcpy(cs->k, k, NOISE_KEYLEN);
		cs->has_key = true;
	}
}

int
noise_cs_encrypt(struct noise_cs *cs, const uint8_t *ad, size_t adlen,
                 const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t npub[12];

	if (!cs->has_key) {
		if (len > 0 && out != pt) {
			memmove(out, pt, len);
		}
		return TB_OK;
	}
	if (cs->n == UINT64_MAX) {
		return TB_ERANGE;
	}
	nonce96(npub, cs->n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, adlen,
	                                          NULL, npub, cs->k);
	cs->n++;
	return TB_OK;
}

int
noise_cs_decrypt(struct noise_cs *cs, const uint8_t *ad, size_t adlen,
                 const uint8_t *ct, size_t len, uint8_t *out)
{
	uint8_t npub[12];

	if (!cs->has_key) {
		if (len > 0 && out != ct) {
			memmove(out, ct, len);
		}
		return TB_OK;
	}
	if (len < NOISE_TAGLEN) {
		return TB_ETRUNC;
	}
	if (cs->n == UINT64_MAX) {
		return TB_ERANGE;
	}
	nonce96(npub, cs->n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(
	        out, NULL, NULL, ct, len, ad, adlen, npub, cs->k) != 0) {
		return TB_ESIG;
	}
	cs->n++;
	return TB_OK;
}

int
noise_cs_rekey(struct noise_cs *cs)
{
	static const uint8_t zeros[NOISE_KEYLEN];
	uint8_t out[NOISE_KEYLEN + NOISE_TAGLEN], npub[12];

	if (!cs->has_key) {
		return TB_EINVAL;
	}
	nonce96(npub, UINT64_MAX);
	crypto_aead_chacha20poly1305_ietf_encrypt(
	    out, NULL, zeros, sizeof(zeros), NULL, 0, NULL, npub, cs->k);
	memcpy(cs->k, out, NOISE_KEYLEN);
	sodium_memzero(out, sizeof(out));
	return TB_OK;
}

void
noise_cs_wipe(struct noise_cs *cs)
{
	sodium_memzero(cs, sizeof(*cs));
}

/* ---- SymmetricState --------------------------------------------------- */

static void
mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	hash2(hs->h, hs->h, NOISE_HASHLEN, data, len);
}

static void
mix_key(struct noise_hs *hs, const uint8_t ikm[NOISE_DHLEN])
{
	uint8_t ck[NOISE_HASHLEN], k[NOISE_HASHLEN];

	hkdf2(hs->ck, ikm, NOISE_DHLEN, ck, k);
	memcpy(hs->ck, ck, NOISE_HASHLEN);
	/* HASHLEN is 64: the cipher key is the first 32 bytes. */
	noise_cs_init(&hs->cs, k);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(k, sizeof(k));
}

static int
encrypt_and_hash(struct noise_hs *hs, const uint8_t *pt, size_t len,
                 uint8_t *out, size_t *outlen)
{
	int rv;

	if ((rv = noise_cs_encrypt(&hs->cs, hs->h, NOISE_HASHLEN, pt, len,
	                           out)) != TB_OK) {
		return rv;
	}
	*outlen = len + (hs->cs.has_key ? NOISE_TAGLEN : 0);
	mix_hash(hs, out, *outlen);
	return TB_OK;
}

static int
decrypt_and_hash(struct noise_hs *hs, const uint8_t *ct, size_t len,
                 uint8_t *out)
{
	int rv;

	if ((rv = noise_cs_decrypt(&hs->cs, hs->h, NOISE_HASHLEN, ct, len,
	                           out)) != TB_OK) {
		return rv;
	}
	mix_hash(hs, ct, len);
	return TB_OK;
}

/* ---- HandshakeState --------------------------------------------------- */

static int hs_fail(struct noise_hs *hs, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* hs_fail poisons hs: everything is zeroed but the pattern, role, message
 * index and the reason, which it formats after a prefix naming the step:
 * "noise XX message 2 (reading as initiator): ". Returns rv. */
static int
hs_fail(struct noise_hs *hs, int rv, const char *fmt, ...)
{
	int pattern = hs->pattern, action = hs->action;
	bool initiator = hs->initiator;
	unsigned msg = hs->msg;
	const char *role = initiator ? "initiator" : "responder";
	char reason[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	sodium_memzero(hs, sizeof(*hs));
	hs->action = NOISE_FAILED;
	hs->pattern = pattern;
	hs->initiator = initiator;
	hs->msg = msg;
	hs->err = rv;
	if (action == NOISE_WRITE || action == NOISE_READ) {
		snprintf(hs->errmsg, sizeof(hs->errmsg),
		         "noise %s message %u (%s as %s): %s",
		         pattern_tag(pattern), msg + 1,
		         action == NOISE_WRITE ? "writing" : "reading", role,
		         reason);
	} else {
		snprintf(hs->errmsg, sizeof(hs->errmsg), "noise %s (as %s): %s",
		         pattern_tag(pattern), role, reason);
	}
	return rv;
}

int
noise_init(struct noise_hs *hs, enum noise_pattern pattern, bool initiator,
           const uint8_t s_priv[NOISE_DHLEN], const uint8_t rs_pub[NOISE_DHLEN],
           const uint8_t *prologue, size_t plen, const struct noise_rng *rng)
{
	return noise_init_pub(hs, pattern, initiator, s_priv, NULL, rs_pub,
	                      prologue, plen, rng);
}

int
noise_init_pub(struct noise_hs *hs, enum noise_pattern pattern, bool initiator,
               const uint8_t s_priv[NOISE_DHLEN],
               const uint8_t s_pub[NOISE_DHLEN],
               const uint8_t rs_pub[NOISE_DHLEN], const uint8_t *prologue,
               size_t plen, const struct noise_rng *rng)
{
	const char *name = noise_protocol_name(pattern);
	size_t nlen;

	if (hs == NULL) {
		return TB_EINVAL;
	}
	sodium_memzero(hs, sizeof(*hs));
	hs->pattern = pattern;
	hs->initiator = initiator;
	if (name == NULL) {
		return hs_fail(hs, TB_EINVAL, "unknown pattern %d",
		               (int)pattern);
	}
	if (s_priv == NULL) {
		return hs_fail(hs, TB_EINVAL, "no static key");
	}
	if (pattern == NOISE_IK && initiator && rs_pub == NULL) {
		return hs_fail(hs, TB_EINVAL,
		               "an IK initiator needs the responder's static "
		               "key");
	}
	if (prologue == NULL && plen > 0) {
		return hs_fail(hs, TB_EINVAL, "no prologue bytes");
	}
	if (rng != NULL) {
		if (rng->fill == NULL) {
			return hs_fail(hs, TB_EINVAL, "rng without fill");
		}
		hs->rng = *rng;
	}
	memcpy(hs->s_priv, s_priv, NOISE_DHLEN);
	/* The public key is one X25519 operation, as dear as a DH: a caller
	 * with many handshakes on one key computes it once. */
	if (s_pub != NULL) {
		memcpy(hs->s_pub, s_pub, NOISE_DHLEN);
	} else if (crypto_scalarmult_base(hs->s_pub, hs->s_priv) != 0) {
		return hs_fail(hs, TB_EINVAL, "unusable static key");
	}

	/* InitializeSymmetric: a name of at most HASHLEN bytes is h itself,
	 * zero-padded. */
	nlen = strlen(name);
	memcpy(hs->h, name, nlen);
	memcpy(hs->ck, hs->h, NOISE_HASHLEN);
	noise_cs_init(&hs->cs, NULL);
	mix_hash(hs, prologue, plen);

	/* IK's pre-message "<- s": the responder's static key. */
	if (pattern == NOISE_IK) {
		if (initiator) {
			memcpy(hs->rs, rs_pub, NOISE_DHLEN);
			hs->has_rs = true;
			mix_hash(hs, hs->rs, NOISE_DHLEN);
		} else {
			mix_hash(hs, hs->s_pub, NOISE_DHLEN);
		}
	}
	hs->action = initiator ? NOISE_WRITE : NOISE_READ;
	return TB_OK;
}

enum noise_action
noise_next(const struct noise_hs *hs)
{
	if (hs == NULL) {
		return NOISE_NONE;
	}
	return (enum noise_action)hs->action;
}

/* overhead is the number of bytes message msg adds to its payload, given
 * whether a key is already set when it starts. */
static size_t
overhead(const struct noise_hs *hs)
{
	const uint8_t *t = msg_tokens(hs->pattern, hs->msg);
	bool key = hs->cs.has_key;
	size_t n = 0;
	int i;

	for (i = 0; i < MAX_TOKENS && t[i] != T_END; i++) {
		if (t[i] == T_E) {
			n += NOISE_DHLEN;
		} else if (t[i] == T_S) {
			n += NOISE_DHLEN + (key ? NOISE_TAGLEN : 0);
		} else {
			key = true;
		}
	}
	return n + (key ? NOISE_TAGLEN : 0);
}

size_t
noise_message_len(const struct noise_hs *hs, size_t plen)
{
	if (hs == NULL || hs->action != NOISE_WRITE) {
		return 0;
	}
	return overhead(hs) + plen;
}

/* dh mixes X25519(priv, pub) into the chaining key. libsodium refuses a
 * result of all zeros, which a low-order public key produces. */
static int
dh(struct noise_hs *hs, const uint8_t priv[NOISE_DHLEN],
   const uint8_t pub[NOISE_DHLEN], const char *which)
{
	uint8_t shared[NOISE_DHLEN];

	if (crypto_scalarmult(shared, priv, pub) != 0) {
		sodium_memzero(shared, sizeof(shared));
		return hs_fail(hs, TB_EMALFORMED,
		               "%s: the peer's key is of low order", which);
	}
	mix_key(hs, shared);
	sodium_memzero(shared, sizeof(shared));
	return TB_OK;
}

/* dh_token runs one of ee, es, se, ss from this side's point of view. */
static int
dh_token(struct noise_hs *hs, int t)
{
	bool i = hs->initiator;

	switch (t) {
	case T_EE:
		return dh(hs, hs->e_priv, hs->re, "ee");
	case T_ES:
		return i ? dh(hs, hs->e_priv, hs->rs, "es")
		         : dh(hs, hs->s_priv, hs->re, "es");
	case T_SE:
		return i ? dh(hs, hs->s_priv, hs->re, "se")
		         : dh(hs, hs->e_priv, hs->rs, "se");
	default:
		return dh(hs, hs->s_priv, hs->rs, "ss");
	}
}

/* advance moves to the next message, or to Split after the last one. */
static void
advance(struct noise_hs *hs, bool wrote)
{
	hs->msg++;
	if (hs->msg == msg_count(hs->pattern)) {
		hs->action = NOISE_SPLIT;
	} else {
		hs->action = wrote ? NOISE_READ : NOISE_WRITE;
	}
}

static int
new_ephemeral(struct noise_hs *hs)
{
	if (hs->rng.fill != NULL) {
		if (hs->rng.fill(hs->rng.ctx, hs->e_priv, NOISE_DHLEN) != 0) {
			return hs_fail(hs, TB_EIO,
			               "the randomness source "
			               "failed");
		}
	} else {
		randombytes_buf(hs->e_priv, NOISE_DHLEN);
	}
	if (crypto_scalarmult_base(hs->e_pub, hs->e_priv) != 0) {
		return hs_fail(hs, TB_EIO, "unusable ephemeral key");
	}
	hs->has_e = true;
	return TB_OK;
}

int
noise_write_message(struct noise_hs *hs, const uint8_t *payload, size_t plen,
                    uint8_t *out, size_t *outlen)
{
	const uint8_t *t;
	size_t need, off = 0, n;
	int i, rv;

	if (hs == NULL) {
		return TB_EINVAL;
	}
	if (hs->action != NOISE_WRITE) {
		if (hs->action != NOISE_READ) {
			return TB_ECLOSED; /* poisoned, wiped or done */
		}
		return hs_fail(hs, TB_EINVAL,
		               "write called while the peer's message is due");
	}
	if (out == NULL || outlen == NULL || (payload == NULL && plen > 0)) {
		return hs_fail(hs, TB_EINVAL, "no buffer");
	}
	need = overhead(hs) + plen;
	if (plen > NOISE_MAX_MSG || need > NOISE_MAX_MSG) {
		return hs_fail(hs, TB_ETOOBIG,
		               "a payload of %zu bytes makes the message "
		               "exceed %d bytes",
		               plen, NOISE_MAX_MSG);
	}
	if (need > *outlen) {
		return hs_fail(hs, TB_ETOOBIG,
		               "the message needs %zu bytes, the buffer holds "
		               "%zu",
		               need, *outlen);
	}
	t = msg_tokens(hs->pattern, hs->msg);
	for (i = 0; i < MAX_TOKENS && t[i] != T_END; i++) {
		switch (t[i]) {
		case T_E:
			if ((rv = new_ephemeral(hs)) != TB_OK) {
				return rv;
			}
			memcpy(out + off, hs->e_pub, NOISE_DHLEN);
			mix_hash(hs, hs->e_pub, NOISE_DHLEN);
			off += NOISE_DHLEN;
			break;
		case T_S:
			if ((rv = encrypt_and_hash(hs, hs->s_pub, NOISE_DHLEN,
			                           out + off, &n)) != TB_OK) {
				return hs_fail(hs, rv, "cannot encrypt s");
			}
			off += n;
			break;
		default:
			if ((rv = dh_token(hs, t[i])) != TB_OK) {
				return rv;
			}
		}
	}
	if ((rv = encrypt_and_hash(hs, payload, plen, out + off, &n)) !=
	    TB_OK) {
		return hs_fail(hs, rv, "cannot encrypt the payload");
	}
	*outlen = off + n;
	advance(hs, true);
	return TB_OK;
}

int
noise_read_message(struct noise_hs *hs, const uint8_t *msg, size_t len,
                   uint8_t *payload, size_t *plen)
{
	const uint8_t *t;
	size_t ov, off = 0, n;
	int i, rv;

	if (hs == NULL) {
		return TB_EINVAL;
	}
	if (hs->action != NOISE_READ) {
		if (hs->action != NOISE_WRITE) {
			return TB_ECLOSED; /* poisoned, wiped or done */
		}
		return hs_fail(hs, TB_EINVAL,
		               "read called while our message is due");
	}
	if ((msg == NULL && len > 0) || payload == NULL || plen == NULL) {
		return hs_fail(hs, TB_EINVAL, "no buffer");
	}
	if (len > NOISE_MAX_MSG) {
		return hs_fail(hs, TB_ETOOBIG,
		               "%zu bytes exceed Noise's limit of %d", len,
		               NOISE_MAX_MSG);
	}
	ov = overhead(hs);
	if (len < ov) {
		return hs_fail(hs, TB_EMALFORMED,
		               "%zu bytes, shorter than the %zu its tokens "
		               "need",
		               len, ov);
	}
	if (len - ov > *plen) {
		return hs_fail(hs, TB_ETOOBIG,
		               "a payload of %zu bytes exceeds the %zu-byte "
		               "buffer",
		               len - ov, *plen);
	}
	t = msg_tokens(hs->pattern, hs->msg);
	for (i = 0; i < MAX_TOKENS && t[i] != T_END; i++) {
		switch (t[i]) {
		case T_E:
			memcpy(hs->re, msg + off, NOISE_DHLEN);
			hs->has_re = true;
			mix_hash(hs, hs->re, NOISE_DHLEN);
			off += NOISE_DHLEN;
			break;
		case T_S:
			n = NOISE_DHLEN + (hs->cs.has_key ? NOISE_TAGLEN : 0);
			if (decrypt_and_hash(hs, msg + off, n, hs->rs) !=
			    TB_OK) {
				return hs_fail(
				    hs, TB_ESIG,
				    "the peer's static key failed to "
				    "decrypt (tampered, or not meant "
				    "for this key)");
			}
			hs->has_rs = true;
			off += n;
			break;
		default:
			if ((rv = dh_token(hs, t[i])) != TB_OK) {
				return rv;
			}
		}
	}
	if (decrypt_and_hash(hs, msg + off, len - off, payload) != TB_OK) {
		return hs_fail(hs, TB_ESIG,
		               "authentication failed (tampered, or not from "
		               "the expected peer)");
	}
	*plen = len - ov;
	advance(hs, false);
	return TB_OK;
}

int
noise_remote_static(const struct noise_hs *hs, uint8_t out[NOISE_DHLEN])
{
	if (hs == NULL || out == NULL || !hs->has_rs) {
		return TB_ENOTFOUND;
	}
	memcpy(out, hs->rs, NOISE_DHLEN);
	return TB_OK;
}

int
noise_split(struct noise_hs *hs, struct noise_session *s)
{
	uint8_t k1[NOISE_HASHLEN], k2[NOISE_HASHLEN];

	if (hs == NULL || s == NULL) {
		return TB_EINVAL;
	}
	if (hs->action != NOISE_SPLIT) {
		if (hs->action != NOISE_READ && hs->action != NOISE_WRITE) {
			return TB_ECLOSED; /* poisoned, wiped or done */
		}
		return hs_fail(hs, TB_EINVAL, "the handshake is not complete");
	}
	sodium_memzero(s, sizeof(*s));
	hkdf2(hs->ck, NULL, 0, k1, k2);
	/* The first key protects initiator-to-responder traffic. */
	noise_cs_init(&s->tx, hs->initiator ? k1 : k2);
	noise_cs_init(&s->rx, hs->initiator ? k2 : k1);
	memcpy(s->h, hs->h, NOISE_HASHLEN);
	memcpy(s->rs, hs->rs, NOISE_DHLEN);
	s->initiator = hs->initiator;
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	noise_hs_wipe(hs);
	return TB_OK;
}

void
noise_hs_wipe(struct noise_hs *hs)
{
	if (hs != NULL) {
		sodium_memzero(hs, sizeof(*hs));
	}
}

void
noise_session_wipe(struct noise_session *s)
{
	if (s != NULL) {
		sodium_memzero(s, sizeof(*s));
	}
}
