/* Outboxes between regions: runs of entries (replication/outbox.h) - the
 * apply of a DELIVER of a run, and a run's entries as msgpack bins back to
 * back (the payload of a DATA_RUN frame and of such a DELIVER). */
#include "replication/outbox.h"

#include <string.h>

enum outbox_verdict
outbox_deliver_run(struct outbox_in *in, struct outbox_pos pos, uint64_t n,
                   uint64_t *skip)
{
	struct outbox_pos *c = &in->cursor;

	*skip = 0;
	if (n == 0 || pos.seq == 0 || pos.seq - 1 > UINT64_MAX - n) {
		return OUTBOX_GAP; /* no entry has seq 0; no run wraps */
	}
	if (pos.inc < c->inc) {
		return OUTBOX_STALE;
	}
	if (pos.inc > c->inc) {
		/* A higher incarnation starts again at seq 1. */
		if (pos.seq != 1) {
			return OUTBOX_GAP;
		}
		c->inc = pos.inc;
		c->seq = n;
		return OUTBOX_ACCEPT;
	}
	if (pos.seq - 1 > c->seq) {
		return OUTBOX_GAP;
	}
	if (pos.seq - 1 + n <= c->seq) {
		return OUTBOX_DUP;
	}
	*skip = c->seq - (pos.seq - 1);
	c->seq = pos.seq - 1 + n;
	return OUTBOX_ACCEPT;
}

/* ---- runs: msgpack bins back to back ------------------------------------ */

bool
outbox_run_next(const uint8_t **p, size_t *len, const uint8_t **e, size_t *elen)
{
	const uint8_t *b = *p;
	size_t w, n = 0, i;

	if (*len < 2) {
		return false;
	}
	w = b[0] == 0xc4 ? 1 : b[0] == 0xc5 ? 2 : b[0] == 0xc6 ? 4 : 0;
	if (w == 0 || *len - 1 < w) {
		return false;
	}
	for (i = 0; i < w; i++) {
		n = n << 8 | b[1 + i];
	}
	if (*len - 1 - w < n) {
		return false;
	}
	*e = b + 1 + w;
	*elen = n;
	*p = b + 1 + w + n;
	*len -= 1 + w + n;
	return true;
}

bool
outbox_run_put(uint8_t *buf, size_t cap, size_t *len, const uint8_t *e,
               size_t elen)
{
	size_t w = elen < 0x100 ? 1 : elen < 0x10000 ? 2 : 4, i;
	uint8_t *b = buf + *len;

	if (elen > 0xffffffffu || cap - *len < 1 + w ||
	    cap - *len - 1 - w < elen) {
		return false;
	}
	b[0] = w == 1 ? 0xc4 : w == 2 ? 0xc5 : 0xc6;
	for (i = 0; i < w; i++) {
		b[1 + i] = (uint8_t)(elen >> (8 * (w - 1 - i)));
	}
	if (elen > 0) {
		memcpy(b + 1 + w, e, elen);
	}
	*len += 1 + w + elen;
	return true;
}
