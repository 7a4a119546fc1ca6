/* The wire form of outbox frames (DATA, ACK, DATA_RUN, SKIP) inside a link
 * message: the msgpack array [type, origin, dest, inc, seq, payload],
 * payload a bin for DATA, an array of bins for DATA_RUN, nil for ACK and
 * SKIP. Decoding is strict: any other shape, type,
 * range or trailing byte is refused with the field named. */
#ifndef TB_REPLICATION_OUTBOX_WIRE_H
#define TB_REPLICATION_OUTBOX_WIRE_H

#include "replication/outbox.h"

#include <stddef.h>
#include <stdint.h>

/* The largest entry carried inline: a full release of a province's
 * catalog (thousands of matters, ~4 KB each) is several MiB, so the cap is
 * the command cap (16 MiB, schema/command.c); the node's links chunk a
 * message larger than a frame (LINK_MSG_MAX 64 MiB). Materials, larger
 * still, would travel as references to blobs (not built). */
#define OUTBOX_MAX_PAYLOAD (16u << 20)

/* outbox_wire_size is the encoded size of m. */
size_t outbox_wire_size(const struct outbox_msg *m);

/* outbox_wire_encode writes m into buf (cap bytes) and returns the length,
 * or 0 if m is invalid (unknown type, region codes outside 100000..999999,
 * seq 0, a DATA payload over OUTBOX_MAX_PAYLOAD, an ACK with a payload) or
 * buf is too small. */
size_t outbox_wire_encode(const struct outbox_msg *m, uint8_t *buf, size_t cap);

/* outbox_wire_decode parses p (n bytes) into m. On TB_OK, m->payload points
 * into p (borrowed: valid as long as p). Otherwise TB_EMALFORMED (or
 * TB_ETOOBIG for a payload over the limit) with the reason in errmsg
 * (errlen bytes, may be NULL), e.g. "[3] inc: must be an unsigned integer
 * below 2^32"; m is then unspecified. An ACK's or a SKIP's seq may be 0
 * (nothing delivered yet); a DATA's may not. */
int outbox_wire_decode(const uint8_t *p, size_t n, struct outbox_msg *m,
                       char *errmsg, size_t errlen);

#endif
