/* Outboxes between regions: the replicated records and their
 * deterministic apply (replication/outbox.h). */
#include "replication/outbox.h"

#include <string.h>

int
outbox_pos_cmp(struct outbox_pos a, struct outbox_pos b)
{
	if (a.inc != b.inc) {
		return a.inc < b.inc ? -1 : 1;
	}
	if (a.seq != b.seq) {
		return a.seq < b.seq ? -1 : 1;
	}
	return 0;
}

/* ---- records ------------------------------------------------------------ */

void
outbox_out_init(struct outbox_out *o, uint32_t dest, uint32_t inc)
{
	memset(o, 0, sizeof(*o));
	o->dest = dest;
	o->inc = inc;
	o->next = 1;
	o->acked.inc = inc;
}

/* Entries of an incarnation older than o->inc are old entries, held at
 * their own positions (outbox_reincarnate): nothing of o->inc is
 * acknowledged while acked is of an older incarnation. */
static uint64_t
acked_seq(const struct outbox_out *o)
{
	return o->acked.inc == o->inc ? o->acked.seq : 0;
}

uint64_t
outbox_out_backlog(const struct outbox_out *o)
{
	return o->next - 1 - acked_seq(o) + o->old;
}

struct outbox_pos
outbox_out_last(const struct outbox_out *o)
{
	struct outbox_pos p = { o->inc, o->next - 1 };

	return p;
}

struct outbox_pos
outbox_emit(struct outbox_out *o)
{
	struct outbox_pos p = { o->inc, o->next++ };

	return p;
}

const char *
outbox_verdict_name(enum outbox_verdict v)
{
	switch (v) {
	case OUTBOX_ACCEPT:
		return "accept";
	case OUTBOX_DUP:
		return "dup";
	case OUTBOX_GAP:
		return "gap";
	case OUTBOX_STALE:
		return "stale";
	}
	return "?";
}

enum outbox_verdict
outbox_check(const struct outbox_in *in, struct outbox_pos pos)
{
	const struct outbox_pos *c = &in->cursor;

	if (pos.seq == 0) {
		return OUTBOX_GAP; /* no entry has seq 0 */
	}
	if (pos.inc < c->inc) {
		return OUTBOX_STALE;
	}
	if (pos.inc > c->inc) {
		return pos.seq == 1 ? OUTBOX_ACCEPT : OUTBOX_GAP;
	}
	if (pos.seq <= c->seq) {
		return OUTBOX_DUP;
	}
	return pos.seq == c->seq + 1 ? OUTBOX_ACCEPT : OUTBOX_GAP;
}

enum outbox_verdict
outbox_deliver(struct outbox_in *in, struct outbox_pos pos)
{
	enum outbox_verdict v = outbox_check(in, pos);

	if (v == OUTBOX_ACCEPT) {
		in->cursor = pos;
	}
	return v;
}

bool
outbox_ack(struct outbox_out *o, struct outbox_pos pos,
           struct outbox_pos *drop_after, struct outbox_pos *drop_to)
{
	if (outbox_pos_cmp(pos, o->acked) <= 0 || pos.inc > o->inc ||
	    (pos.inc == o->inc && pos.seq >= o->next) ||
	    (pos.inc < o->inc && o->old == 0)) {
		/* Stale or duplicate; beyond what was sent; or a cursor
		 * of an older incarnation when nothing of it is held (the
		 * destination takes (o->inc, 1) next). */
		return false;
	}
	*drop_after = o->acked;
	*drop_to = pos;
	o->acked = pos;
	if (pos.inc == o->inc) {
		o->old = 0; /* every older entry is below pos */
	}
	return true;
}

enum outbox_verdict
outbox_skip(struct outbox_in *in, struct outbox_pos pos)
{
	if (outbox_pos_cmp(pos, in->cursor) <= 0) {
		return OUTBOX_DUP;
	}
	in->cursor = pos;
	return OUTBOX_ACCEPT;
}

void
outbox_in_by(struct outbox_in *in, uint32_t from_inc)
{
	if (from_inc > in->by) {
		in->by = from_inc;
	}
}

void
outbox_old_dropped(struct outbox_out *o, uint64_t n)
{
	o->old = n < o->old ? o->old - n : 0;
}

bool
outbox_reincarnate(struct outbox_out *o, uint32_t inc)
{
	if (inc <= o->inc) {
		return false;
	}
	o->old += o->next - 1 - acked_seq(o);
	o->inc = inc;
	o->next = 1;
	return true;
}
