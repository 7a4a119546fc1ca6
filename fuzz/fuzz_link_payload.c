/* libFuzzer target: the payloads of link frames after decryption
 * (schema/link_payload.c) and the reassembly of chunked messages
 * (schema/frame.c), in the order node/link_frame.c runs them.
 *
 * The first input byte picks a mode:
 *   0  the rest is one payload: link_payload_decode, and for the message
 *      kinds link_payload_decode_msg must agree; an accepted payload
 *      re-encodes to its own header
 *   1  the rest is a stream of payloads, each a u16 BE length and bytes:
 *      decoded one by one, CHUNKs joined under a 1 MiB cap, and each
 *      joined message decoded as a message; a refusal ends the stream (the
 *      link closes the pipe), as the node does
 *   2  the rest builds a message (kind, flags, type, id, body) that is
 *      encoded, split into chunks of a size drawn from the input, joined and
 *      decoded: it must come back the same
 * Beyond "no crash, leak or UB": a refusal is TB_EMALFORMED with a reason,
 * lengths add up, and the joiner never holds more than its cap. */
#include "fuzz/fuzz_util.h"
#include "schema/frame.h"
#include "schema/link_payload.h"

#define JOIN_CAP (1u << 20)

static void
check_one(const uint8_t *p, size_t n)
{
	struct link_payload d, m;
	uint8_t hdr[LINK_HDR];
	char why[160] = "";
	int rv, rm;

	rv = link_payload_decode(p, n, &d, why, sizeof(why));
	if (rv != TB_OK) {
		fuzz_check(rv == TB_EMALFORMED, "a refusal is malformed");
		fuzz_check(why[0] != '\0', "a refusal says why");
		if (n >= LINK_CHUNK_PRE &&
		    (p[0] == LK_MSG || p[0] == LK_REQ || p[0] == LK_RESP)) {
			rm = link_payload_decode_msg(p, n, &m, NULL, 0);
			fuzz_check(rm != TB_OK || p[2] != 0 || p[3] != 0,
			           "decode_msg accepts no message decode "
			           "refused");
		}
		return;
	}
	fuzz_check(d.kind >= LK_MSG && d.kind <= LK_HELLO, "a known kind");
	switch (d.kind) {
	case LK_MSG:
	case LK_REQ:
	case LK_RESP:
		fuzz_check(n >= LINK_HDR && d.body == p + LINK_HDR &&
		               d.len == n - LINK_HDR,
		           "a message's body follows its header");
		fuzz_check(d.flags == 0 ||
		               (d.kind == LK_RESP && d.flags == LF_ERROR),
		           "only a response has a flag");
		fuzz_check(link_payload_header(hdr, d.kind, d.flags, d.type,
		                               d.id) == LINK_HDR &&
		               memcmp(hdr, p, LINK_HDR) == 0,
		           "a message header re-encodes to itself");
		rm = link_payload_decode_msg(p, n, &m, NULL, 0);
		fuzz_check(rm == TB_OK && m.kind == d.kind &&
		               m.type == d.type && m.id == d.id &&
		               m.len == d.len,
		           "decode and decode_msg agree");
		break;
	case LK_CHUNK:
		fuzz_check(d.body == p + LINK_CHUNK_PRE &&
		               d.len == n - LINK_CHUNK_PRE,
		           "a chunk follows its prefix");
		break;
	case LK_CREDIT:
		fuzz_check(n == LINK_CREDIT_LEN, "a credit is 12 bytes");
		break;
	default:
		fuzz_check(n == LINK_HELLO_LEN, "a HELLO is 4 bytes");
		break;
	}
}

static void
stream(const uint8_t *p, size_t n)
{
	struct frame_join j;
	struct link_payload d, m;
	bool complete;
	uint8_t *msg;
	uint64_t id;
	size_t len, k;
	int rv;

	frame_chunk_join_init(&j, JOIN_CAP);
	while (n >= 2) {
		k = (size_t)p[0] << 8 | p[1];
		p += 2;
		n -= 2;
		k = k < n ? k : n;
		check_one(p, k);
		rv = link_payload_decode(p, k, &d, NULL, 0);
		p += k;
		n -= k;
		if (rv != TB_OK) {
			break;
		}
		if (d.kind != LK_CHUNK) {
			continue;
		}
		complete = false;
		rv = frame_chunk_join_add(&j, d.body, d.len, &complete);
		fuzz_check(j.cap <= JOIN_CAP, "the joiner stays under its cap");
		if (rv != TB_OK) {
			fuzz_check(j.errmsg[0] != '\0' || rv == TB_ENOMEM ||
			               rv == TB_EINVAL,
			           "a chunk refusal says why");
			break;
		}
		if (complete) {
			fuzz_check(frame_chunk_join_take(&j, &id, &msg, &len) ==
			               TB_OK,
			           "a complete message can be taken");
			fuzz_check(len <= JOIN_CAP, "a joined message fits");
			if (link_payload_decode_msg(msg, len, &m, NULL, 0) ==
			    TB_OK) {
				fuzz_check(m.len + LINK_HDR == len,
				           "a joined message's body adds up");
			}
			free(msg);
		}
	}
	frame_chunk_join_free(&j);
}

static void
build(const uint8_t *p, size_t n)
{
	static const uint8_t kinds[] = { LK_MSG, LK_REQ, LK_RESP };
	struct frame_split sp;
	struct frame_join j;
	struct link_payload m;
	uint8_t *msg, *chunk, *out = NULL;
	uint64_t id = 0, oid;
	uint32_t type = 0;
	size_t blen, len, clen, olen = 0, max_chunk;
	bool complete = false;
	int i;

	if (n < 16) {
		return;
	}
	for (i = 0; i < 4; i++) {
		type = type << 8 | p[2 + i];
	}
	for (i = 0; i < 8; i++) {
		id = id << 8 | p[6 + i];
	}
	max_chunk = FRAME_CHUNK_HDR + 1 + ((size_t)p[14] << 8 | p[15]);
	blen = n - 16;
	if ((msg = malloc(LINK_HDR + blen)) == NULL ||
	    (chunk = malloc(max_chunk)) == NULL) {
		free(msg);
		return;
	}
	len = link_payload_header(msg, kinds[p[0] % 3],
	                          kinds[p[0] % 3] == LK_RESP ? p[1] & 1 : 0,
	                          type, id);
	memcpy(msg + len, p + 16, blen);
	len += blen;
	fuzz_check(frame_chunk_split_init(&sp, id, msg, len, max_chunk) ==
	               TB_OK,
	           "a message splits");
	frame_chunk_join_init(&j, JOIN_CAP);
	while (!frame_chunk_split_done(&sp)) {
		clen = max_chunk;
		fuzz_check(frame_chunk_split_next(&sp, chunk, &clen) == TB_OK,
		           "the next chunk is cut");
		fuzz_check(frame_chunk_join_add(&j, chunk, clen, &complete) ==
		               TB_OK,
		           "a genuine chunk joins");
	}
	fuzz_check(complete &&
	               frame_chunk_join_take(&j, &oid, &out, &olen) == TB_OK,
	           "the last chunk completes the message");
	fuzz_check(olen == len && memcmp(out, msg, len) == 0,
	           "the joined message is the message");
	fuzz_check(link_payload_decode_msg(out, olen, &m, NULL, 0) == TB_OK &&
	               m.type == type && m.id == id && m.len == blen &&
	               memcmp(m.body, p + 16, blen) == 0,
	           "and decodes to what was built");
	free(out);
	frame_chunk_join_free(&j);
	free(chunk);
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0) {
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		check_one(data + 1, size - 1);
		break;
	case 1:
		stream(data + 1, size - 1);
		break;
	default:
		build(data + 1, size - 1);
		break;
	}
	return 0;
}
