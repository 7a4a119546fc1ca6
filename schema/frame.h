/* Sealed link frames after a Noise handshake, and chunking of large
 * messages. */
#ifndef TB_SCHEMA_FRAME_H
#define TB_SCHEMA_FRAME_H

#include "schema/error.h"
#include "schema/noise.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every frame on a link, once the handshake is done, is
 *
 *   header (8 bytes)                  ciphertext (len + 16 bytes)
 *   +-----+------+----------+---------+------------------------------+
 *   | ver | type | reserved | len     | ChaCha20-Poly1305(payload)   |
 *   | 1   | 1..3 | 0x0000   | u32 BE  | key: this direction's        |
 *   +-----+------+----------+---------+ nonce: frame counter, tag    |
 *
 * sealed with the direction's Noise CipherState (EncryptWithAd) and the
 * header as associated data. The nonce is the number of frames sent so far
 * in that direction and is never on the wire, so a replayed, reordered,
 * dropped or injected frame fails to authenticate. Frames are numbered
 * from 0 (frame N is sealed under nonce N).
 *
 * Types: DATA carries a payload; REKEY carries one too (often empty) and
 * tells the receiver that both sides switch to Noise's Rekey() of this
 * direction's key right after this frame; CLOSE ends the direction (its
 * payload may give a reason). The sender makes every rekey_frames-th frame
 * a REKEY frame on its own, or the next one after frame_request_rekey().
 *
 * Failure modes. frame_open checks the size against the caller's maximum
 * before anything else, then the header, then the tag; any refusal
 * (TB_ETOOBIG, TB_ETRUNC, TB_EMALFORMED, TB_ESIG, TB_ERANGE) poisons the
 * receiving side, every later frame_open returns TB_ECLOSED, and errmsg
 * says what happened ("frame 17: authentication failed (tampered, replayed
 * or reordered)"). The link should then be closed. Sending stops with
 * TB_ERANGE before the counter would reach Noise's reserved 2^64-1.
 */

#define FRAME_VERSION  1
#define FRAME_HDR      8
#define FRAME_OVERHEAD (FRAME_HDR + NOISE_TAGLEN)
/* The largest frame: its ciphertext stays within Noise's 65535 bytes. */
#define FRAME_MAX           (FRAME_HDR + NOISE_MAX_MSG)
#define FRAME_DEFAULT_MAX   65536
#define FRAME_DEFAULT_REKEY 65536 /* frames per key and direction */

enum frame_type {
	FRAME_DATA = 1,
	FRAME_REKEY = 2,
	FRAME_CLOSE = 3,
};

struct frame_opts {
	size_t max_frame;      /* whole frames, FRAME_OVERHEAD..FRAME_MAX;
	                          0 = FRAME_DEFAULT_MAX */
	uint64_t rekey_frames; /* send a REKEY frame every this many frames;
	                          0 = FRAME_DEFAULT_REKEY */
};

/* Both directions of a link. Plain data: a copy is a snapshot. */
struct frame {
	struct noise_cs tx, rx; /* cs.n counts the frames of each direction */
	size_t max_frame;
	uint64_t rekey_frames;
	uint64_t tx_since_rekey;
	uint64_t tx_rekeys, rx_rekeys;
	bool rekey_pending;
	bool tx_closed, rx_closed, rx_failed;
	bool bench_plaintext; /* frame_bench_plaintext: no AEAD (benchmarks) */
	int err;              /* the receiving side's failure, once poisoned */
	char errmsg[256];
};

/* frame_init takes the session's two CipherStates into f (and wipes them
 * in s; its handshake hash and peer key stay). opts may be NULL for the
 * defaults. Returns TB_OK, or TB_EINVAL for a session without keys or
 * options out of range. */
int frame_init(struct frame *f, struct noise_session *s,
               const struct frame_opts *opts);

/* frame_seal seals payload (plen bytes; may be NULL when 0) as a frame of
 * type into out; *outlen is out's capacity on entry (at least plen +
 * FRAME_OVERHEAD) and the frame's length on return. payload and out must
 * not overlap. A DATA frame goes out as REKEY when a rekey is due; read
 * out[1] for the type sent. Returns TB_OK; TB_ETOOBIG ("frame of 70000
 * bytes exceeds 65536"); TB_EINVAL (bad type, small buffer); TB_ECLOSED
 * after a CLOSE was sent or on a context without keys (wiped, or never
 * initialised: it never sends in clear); TB_ERANGE when the counter is
 * exhausted. A refused seal changes nothing. */
int frame_seal(struct frame *f, enum frame_type type, const uint8_t *payload,
               size_t plen, uint8_t *out, size_t *outlen);

/* frame_open authenticates and decrypts the next frame in (inlen bytes)
 * into out; *outlen is out's capacity on entry and the payload's length on
 * return, *type the frame's type. out may be in + FRAME_HDR (in place),
 * otherwise they must not overlap. A REKEY frame switches the receive key
 * after it; a CLOSE frame ends the receiving side. Refusals and poisoning:
 * see above. */
int frame_open(struct frame *f, const uint8_t *in, size_t inlen,
               enum frame_type *type, uint8_t *out, size_t *outlen);

/* frame_request_rekey makes the next sealed frame a REKEY frame (for time
 * based rekeying, or on demand). */
void frame_request_rekey(struct frame *f);

/* frame_bench_plaintext makes f a null cipher, for ops/bench only: every
 * check, counter, rekey and close stays as it is, but the payload goes out
 * in clear with a tag of 16 zero bytes (and a frame whose tag is not zero
 * is refused), so that a benchmark measures what the AEAD costs on the
 * same frame code. Nothing in a node calls it: no configuration, flag or
 * request reaches it (node/link_bench.h is its one caller). */
void frame_bench_plaintext(struct frame *f);

/* frame_wipe zeroes f, keys included. */
void frame_wipe(struct frame *f);

/*
 * Chunking. A message larger than a frame travels as numbered chunks, each
 * the payload of one DATA frame:
 *
 *   | msg id u64 | total bytes u64 | chunk size u32 | index u32 | data |
 *
 * (big-endian; 24-byte header). Chunk i carries bytes [i*size,
 * min(total, (i+1)*size)); there are ceil(total/size) chunks, or one for an
 * empty message. Frames arrive in order, so chunks must too: the joiner
 * refuses a gap (TB_EMISSING), a repeat (TB_EDUP), a chunk whose length
 * disagrees with the header (TB_EMALFORMED) and a message declaring more
 * than its cap (TB_ETOOBIG) before allocating for it. It grows its buffer
 * as data arrives, never beyond the declared (and capped) total, and
 * drops (wiping) a partial message on any refusal.
 */

#define FRAME_CHUNK_HDR 24

struct frame_split {
	const uint8_t *data;
	uint64_t id, total;
	uint32_t chunk_size, count, next;
};

/* frame_chunk_split_init prepares to cut data (len bytes, borrowed until
 * the last chunk is taken) into chunks of at most max_chunk bytes, header
 * included (typically max_frame - FRAME_OVERHEAD). Returns TB_OK,
 * TB_EINVAL (max_chunk <= FRAME_CHUNK_HDR) or TB_ETOOBIG (over 2^32-1
 * chunks). */
int frame_chunk_split_init(struct frame_split *sp, uint64_t id,
                           const uint8_t *data, size_t len, size_t max_chunk);

/* frame_chunk_split_done says whether every chunk has been produced. */
bool frame_chunk_split_done(const struct frame_split *sp);

/* frame_chunk_split_next writes the next chunk to out (*outlen: capacity
 * in, length out). Returns TB_OK, or TB_EINVAL when done or out is too
 * small. */
int frame_chunk_split_next(struct frame_split *sp, uint8_t *out,
                           size_t *outlen);

struct frame_join {
	size_t max_total;
	bool active, complete;
	uint64_t id, total, have;
	uint32_t chunk_size, count, next;
	uint8_t *buf;
	size_t cap;
	char errmsg[256];
};

/* frame_chunk_join_init prepares j to reassemble messages of at most
 * max_total bytes. */
void frame_chunk_join_init(struct frame_join *j, size_t max_total);

/* frame_chunk_join_add adds one chunk (len bytes, copied) and sets
 * *complete when it was the last of its message. Returns TB_OK, a refusal
 * (see above; also TB_ETRUNC for a chunk shorter than its header), or
 * TB_ENOMEM; on any error the partial message is dropped. TB_EINVAL if a
 * complete message has not been taken yet. */
int frame_chunk_join_add(struct frame_join *j, const uint8_t *chunk, size_t len,
                         bool *complete);

/* frame_chunk_join_take hands over a complete message: *data (malloc'd,
 * never NULL; the caller frees it) of *len bytes and its id. Returns
 * TB_OK, or TB_EMISSING while the message is incomplete. */
int frame_chunk_join_take(struct frame_join *j, uint64_t *id, uint8_t **data,
                          size_t *len);

/* frame_chunk_join_free wipes and frees a partial message; j can be used
 * again for messages of the same cap. */
void frame_chunk_join_free(struct frame_join *j);

#endif
