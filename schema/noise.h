/* Noise handshakes XX and IK over 25519, ChaChaPoly and BLAKE2b. */
#ifndef TB_SCHEMA_NOISE_H
#define TB_SCHEMA_NOISE_H

#include "schema/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The link handshake, exactly as the Noise Protocol Framework (revision 34)
 * defines it for the two protocols
 *
 *   Noise_XX_25519_ChaChaPoly_BLAKE2b      -> e
 *                                          <- e, ee, s, es
 *                                          -> s, se
 *
 *   Noise_IK_25519_ChaChaPoly_BLAKE2b      <- s
 *                                          ...
 *                                          -> e, es, s, ss
 *                                          <- e, ee, se
 *
 * XX is first contact (join tokens): neither side knows the other's static
 * key. IK is for a peer whose certificate, and so whose X25519 key, the
 * initiator already holds. Both sides always have a static key.
 *
 * The state machine is driven by bytes and does no I/O: the caller asks
 * noise_next() whose turn it is, writes or reads one message at a time and,
 * when noise_next() says NOISE_SPLIT, takes the session keys with
 * noise_split(). Payloads are opaque (the link carries certificate chains
 * in them). libsodium provides X25519 (crypto_scalarmult),
 * ChaCha20-Poly1305 IETF and BLAKE2b-512; HMAC and HKDF are built over
 * BLAKE2b as the spec defines them (block length 128).
 *
 * Failure modes. A message that is too short, too long, fails to decrypt,
 * or carries a low-order public key is refused (TB_EMALFORMED, TB_ETOOBIG,
 * TB_ESIG), and so is any call out of turn (TB_EINVAL). Every refusal
 * poisons the state: its keys are wiped at once, noise_next() says
 * NOISE_FAILED, errmsg keeps the reason, and every later call returns
 * TB_ECLOSED. A failed handshake is never resumed: start a new one.
 */

#define NOISE_DHLEN   32    /* X25519 keys */
#define NOISE_HASHLEN 64    /* BLAKE2b-512 */
#define NOISE_KEYLEN  32    /* ChaCha20-Poly1305 */
#define NOISE_TAGLEN  16    /* Poly1305 */
#define NOISE_MAX_MSG 65535 /* Noise's limit on any message */

enum noise_pattern {
	NOISE_XX = 1,
	NOISE_IK = 2,
};

/* Whose turn it is. A zeroed or wiped state says NOISE_NONE. */
enum noise_action {
	NOISE_NONE = 0,
	NOISE_WRITE,  /* call noise_write_message */
	NOISE_READ,   /* call noise_read_message */
	NOISE_SPLIT,  /* handshake complete: call noise_split */
	NOISE_FAILED, /* poisoned: see errmsg, start again */
};

/* A source of randomness for ephemeral keys. fill writes len random bytes
 * to buf and returns 0, or non-zero if it cannot (the handshake then fails
 * with TB_EIO). Tests inject fixed ephemerals through it; a NULL table
 * means libsodium's randombytes_buf. */
struct noise_rng {
	void *ctx;
	int (*fill)(void *ctx, uint8_t *buf, size_t len);
};

/* A Noise CipherState: a key, whether it is set, and the nonce counter. */
struct noise_cs {
	uint8_t k[NOISE_KEYLEN];
	uint64_t n;
	bool has_key;
};

/* The result of a handshake: one CipherState per direction, the handshake
 * hash h for channel binding, and the peer's static key. */
struct noise_session {
	struct noise_cs tx; /* what we send */
	struct noise_cs rx; /* what we receive */
	uint8_t h[NOISE_HASHLEN];
	uint8_t rs[NOISE_DHLEN];
	bool initiator;
};

/* A handshake in progress. Plain data (no pointers to itself), so a copy
 * is a snapshot; wipe every copy with noise_hs_wipe. */
struct noise_hs {
	int action; /* enum noise_action */
	int pattern;
	bool initiator;
	unsigned msg; /* index of the next message of the pattern */
	uint8_t ck[NOISE_HASHLEN];
	uint8_t h[NOISE_HASHLEN];
	struct noise_cs cs;
	uint8_t s_priv[NOISE_DHLEN], s_pub[NOISE_DHLEN];
	uint8_t e_priv[NOISE_DHLEN], e_pub[NOISE_DHLEN];
	uint8_t rs[NOISE_DHLEN], re[NOISE_DHLEN];
	bool has_e, has_rs, has_re;
	struct noise_rng rng;
	int err; /* the first failure's code, once poisoned */
	char errmsg[256];
};

/* noise_protocol_name returns "Noise_XX_25519_ChaChaPoly_BLAKE2b" or the
 * IK name, or NULL for an unknown pattern. */
const char *noise_protocol_name(enum noise_pattern pattern);

/* noise_init starts a handshake of pattern as initiator or responder with
 * static private key s_priv. rs_pub is the responder's static public key:
 * required for an IK initiator, ignored otherwise. The prologue (plen
 * bytes; the link binds its protocol version and both node ids there) is
 * hashed in and must be the same on both sides. rng may be NULL; the
 * table is copied, and its ctx must outlive the handshake. The keys are
 * copied; the caller keeps and wipes its own. Returns TB_OK, or TB_EINVAL
 * (and a poisoned hs) for a missing key or an unknown pattern. */
int noise_init(struct noise_hs *hs, enum noise_pattern pattern, bool initiator,
               const uint8_t s_priv[NOISE_DHLEN],
               const uint8_t rs_pub[NOISE_DHLEN], const uint8_t *prologue,
               size_t plen, const struct noise_rng *rng);

/* noise_init_pub is noise_init with the static public key given: s_pub
 * must be crypto_scalarmult_base(s_priv) (NULL: computed here, as
 * noise_init does). Computing it is an X25519 operation, one of the five
 * each side of an XX handshake makes; a caller that makes many handshakes
 * with one key computes it once. A wrong s_pub is not detected here: the
 * peer's checks of s then fail. */
int noise_init_pub(struct noise_hs *hs, enum noise_pattern pattern,
                   bool initiator, const uint8_t s_priv[NOISE_DHLEN],
                   const uint8_t s_pub[NOISE_DHLEN],
                   const uint8_t rs_pub[NOISE_DHLEN], const uint8_t *prologue,
                   size_t plen, const struct noise_rng *rng);

/* noise_next says whose turn it is. */
enum noise_action noise_next(const struct noise_hs *hs);

/* noise_message_len returns the length of the next message this side
 * writes with a payload of plen bytes, or 0 if it is not its turn. */
size_t noise_message_len(const struct noise_hs *hs, size_t plen);

/* noise_write_message writes the next handshake message, carrying payload
 * (plen bytes, may be NULL when 0), to out; *outlen is out's capacity on
 * entry and the message's length on return. payload and out must not
 * overlap. Refuses a message over NOISE_MAX_MSG or over the capacity
 * (TB_ETOOBIG), a call out of turn (TB_EINVAL), a failing rng (TB_EIO)
 * and a peer's low-order key (TB_EMALFORMED); any refusal poisons hs. */
int noise_write_message(struct noise_hs *hs, const uint8_t *payload,
                        size_t plen, uint8_t *out, size_t *outlen);

/* noise_read_message reads the peer's next handshake message msg (len
 * bytes) and writes its payload to payload; *plen is the capacity on entry
 * and the payload's length on return. msg and payload must not overlap.
 * Refuses a message shorter than its tokens (TB_EMALFORMED), longer than
 * NOISE_MAX_MSG or with a payload over the capacity (TB_ETOOBIG), one that
 * fails to decrypt (TB_ESIG), a low-order key (TB_EMALFORMED) and a call
 * out of turn (TB_EINVAL); any refusal poisons hs. A payload is
 * authenticated only once the handshake completes (the first XX message's
 * is neither encrypted nor authenticated). */
int noise_read_message(struct noise_hs *hs, const uint8_t *msg, size_t len,
                       uint8_t *payload, size_t *plen);

/* noise_remote_static copies the peer's static public key to out once it
 * is known (an IK initiator knows it from the start; XX learns it from the
 * message carrying it) and returns TB_OK, else TB_ENOTFOUND. It is
 * authenticated only when the handshake completes. */
int noise_remote_static(const struct noise_hs *hs, uint8_t out[NOISE_DHLEN]);

/* noise_split derives the two transport CipherStates from a completed
 * handshake into s (the initiator sends with the first, as Noise's
 * Split() orders them), with the handshake hash and the peer's static key,
 * then wipes hs. Returns TB_OK, or TB_EINVAL if hs is not complete. */
int noise_split(struct noise_hs *hs, struct noise_session *s);

/* noise_hs_wipe zeroes the whole state, keys included (sodium_memzero). */
void noise_hs_wipe(struct noise_hs *hs);

/* noise_session_wipe zeroes the whole session. */
void noise_session_wipe(struct noise_session *s);

/* CipherState operations, as Noise defines them; the frame layer builds on
 * these. */

/* noise_cs_init sets the key (NULL: no key, so encryption is the
 * identity) and the nonce to 0. */
void noise_cs_init(struct noise_cs *cs, const uint8_t k[NOISE_KEYLEN]);

/* noise_cs_encrypt is Noise's EncryptWithAd: it seals len bytes of pt
 * under nonce n with associated data ad into out (len + NOISE_TAGLEN
 * bytes; len bytes, copied, without a key) and increments n. out may
 * equal pt. Returns TB_OK, or TB_ERANGE once n has reached 2^64-1 (the
 * value Noise reserves). */
int noise_cs_encrypt(struct noise_cs *cs, const uint8_t *ad, size_t adlen,
                     const uint8_t *pt, size_t len, uint8_t *out);

/* noise_cs_decrypt is Noise's DecryptWithAd: it opens len bytes of ct into
 * out (len - NOISE_TAGLEN bytes) and increments n. out may equal ct.
 * Returns TB_OK, TB_ETRUNC (shorter than a tag), TB_ESIG (authentication
 * failed; n is unchanged) or TB_ERANGE (n exhausted). */
int noise_cs_decrypt(struct noise_cs *cs, const uint8_t *ad, size_t adlen,
                     const uint8_t *ct, size_t len, uint8_t *out);

/* noise_cs_rekey is Noise's Rekey(): k becomes the first 32 bytes of
 * ENCRYPT(k, 2^64-1, empty ad, 32 zero bytes); n is unchanged. Returns
 * TB_OK, or TB_EINVAL without a key. */
int noise_cs_rekey(struct noise_cs *cs);

/* noise_cs_wipe zeroes the CipherState. */
void noise_cs_wipe(struct noise_cs *cs);

#endif
