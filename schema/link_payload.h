/* The payload of a link frame once it is opened: message kinds, the
 * message header with its correlation id, credits, HELLO and the chunk
 * prefix. Pure decoding, so that node/ and the fuzzer share it. */
#ifndef TB_SCHEMA_LINK_PAYLOAD_H
#define TB_SCHEMA_LINK_PAYLOAD_H

#include "schema/error.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Every DATA (or REKEY) frame's payload starts with a kind byte
 * (docs/LINKS.md, "Payloads of frames"):
 *
 *   MSG, REQ, RESP  kind, flags, 0, 0, type u32, id u64, body   (16 + body)
 *   CHUNK           4, 0, 0, 0, a frame_chunk chunk (schema/frame.h)
 *   CREDIT          5, 0, 0, 0, count u64                        (12 bytes)
 *   HELLO           6, 0, 0, 0                                   (4 bytes)
 *
 * big-endian. Flags are zero except LF_ERROR on a RESP (then type is a
 * TB_* code and the body its reason). A message larger than a frame is
 * split into chunks; once joined, its bytes are a MSG, REQ or RESP again
 * (link_payload_decode_msg). What this layer cannot know is left to the
 * link: that the first frame is HELLO, that a credit covers only frames
 * sent, that chunks follow each other.
 */

enum link_kind {
	LK_MSG = 1,    /* one-way message */
	LK_REQ = 2,    /* request: id is its correlation id */
	LK_RESP = 3,   /* response to request id */
	LK_CHUNK = 4,  /* a chunk of a message larger than a frame */
	LK_CREDIT = 5, /* u64: frames received so far (dialer to listener) */
	LK_HELLO = 6,  /* the responder's first frame: the handshake is done */
};
#define LF_ERROR        1
#define LINK_HDR        16 /* kind, flags, 0, 0, type u32, id u64 */
#define LINK_CHUNK_PRE  4  /* kind, 0, 0, 0, then frame_chunk's bytes */
#define LINK_CREDIT_LEN 12
#define LINK_HELLO_LEN  4

struct link_payload {
	uint8_t kind;   /* enum link_kind */
	uint8_t flags;  /* LF_ERROR on a RESP, else 0 */
	uint32_t type;  /* MSG, REQ, RESP */
	uint64_t id;    /* MSG, REQ, RESP: the correlation id (0 for MSG) */
	uint64_t count; /* CREDIT */
	const uint8_t *body; /* MSG, REQ, RESP: the body; CHUNK: the chunk */
	size_t len;          /* (borrowed from the input) */
};

/* link_payload_decode reads one frame's payload p (n bytes) into out.
 * Returns TB_OK, or TB_EMALFORMED with errmsg saying why ("a payload of 2
 * bytes without a valid kind", "unknown payload kind 9", "message kind 1
 * flags 4: not a message", "a credit of 11 bytes", ...). Never allocates. */
int link_payload_decode(const uint8_t *p, size_t n, struct link_payload *out,
                        char *errmsg, size_t errlen);

/* link_payload_decode_msg reads a whole message (a MSG, REQ or RESP: one
 * frame's payload, or the joined chunks of a larger one) into out. Returns
 * TB_OK or TB_EMALFORMED with errmsg. */
int link_payload_decode_msg(const uint8_t *m, size_t n,
                            struct link_payload *out, char *errmsg,
                            size_t errlen);

/* link_payload_header writes the header of kind (with flags, type and id
 * for MSG, REQ and RESP) to out and returns its length: LINK_HDR, or
 * LINK_CHUNK_PRE for CHUNK, CREDIT and HELLO (a credit's count follows). */
size_t link_payload_header(uint8_t out[LINK_HDR], uint8_t kind, uint8_t flags,
                           uint32_t type, uint64_t id);

#endif
