/* Outboxes between regions: the leader's driver as a destination - DATA,
 * DATA_RUN and SKIP frames checked against the replicated cursor and
 * proposed (replication/outbox.h). */
#include "replication/outbox.h"
#include "replication/outbox_int.h"

#include <string.h>

/* sender_ok: the frame's sender may send it. A node whose link
 * authenticated an incarnation below the cursor's, below that of a node
 * whose delivery was applied (in->by, replicated), or below one this
 * leader saw from its region, is an old member of a recovered group (fenced
 * there; two of them could still have elected a leader between
 * themselves); a position above the sender's own incarnation was never
 * its to send. Dropped, unanswered. */
static bool
sender_ok(struct outbox_peer *p, const struct outbox_in *in,
          const struct outbox_msg *m)
{
	if (m->from_inc == 0) {
		return true; /* the host does not know it */
	}
	if (m->from_inc < in->cursor.inc || m->from_inc < in->by ||
	    m->from_inc < p->from_inc || m->pos.inc > m->from_inc) {
		p->unauth++;
		return false;
	}
	p->from_inc = m->from_inc;
	return true;
}

void
outbox_recv_data(struct outbox_driver *d, struct outbox_peer *p,
                 const struct outbox_msg *m)
{
	uint64_t now = d->env.now(d->env.data);
	struct outbox_cmd c = {
		OUTBOX_CMD_DELIVER, m->origin, m->dest, m->pos,
		m->payload,         m->len,    0,       m->from_inc
	};
	struct outbox_in in;

	if (d->env.in_get(d->env.data, m->origin, &in) != 0 ||
	    !sender_ok(p, &in, m)) {
		return;
	}
	switch (outbox_check(&in, m->pos)) {
	case OUTBOX_ACCEPT:
		/* One proposal per position at a time; re-made if it was
		 * lost (not applied after repropose_ms). */
		if (outbox_pos_cmp(p->deliver_proposed, m->pos) == 0 &&
		    now < p->deliver_proposed_at + d->cfg.repropose_ms) {
			return;
		}
		p->deliver_proposed = m->pos;
		p->deliver_proposed_at = now;
		d->env.propose(d->env.data, &c);
		return;
	case OUTBOX_DUP:
		p->dups++;
		break;
	case OUTBOX_GAP:
		/* Pipelined: the entry right after the one proposed last,
		 * while that one is still pending. The group applies them in
		 * the order proposed, and each apply checks the cursor, so a
		 * run of entries is committed in a few Raft batches instead
		 * of one round trip each; if the earlier one is lost, this
		 * one's apply finds a gap and changes nothing, and the origin
		 * resends from the cursor. */
		if (m->pos.inc == p->deliver_proposed.inc &&
		    m->pos.seq == p->deliver_proposed.seq + 1 &&
		    outbox_pos_cmp(p->deliver_proposed, in.cursor) > 0 &&
		    now < p->deliver_proposed_at + d->cfg.repropose_ms) {
			p->deliver_proposed = m->pos;
			p->deliver_proposed_at = now;
			d->env.propose(d->env.data, &c);
			return;
		}
		p->gaps++;
		break;
	case OUTBOX_STALE:
		p->stales++;
		break;
	}
	/* Tell the origin where we are, so it stops or rewinds. */
	outbox_send_ack(d, m->origin, in.cursor);
}

/* outbox_recv_run handles a DATA_RUN frame: the entries past the cursor (or
 * past the last pending proposal) from the next one on are proposed, as one
 * DELIVER of a run when the group may apply it and they are more than one,
 * else one DELIVER each (the host proposes a single entry as the bytes it
 * came in, cheaper than a run's decoded entries). A
 * run wholly delivered is re-acknowledged; one wholly proposed already is
 * in flight (nothing to do); one that starts past the next entry is a gap
 * (re-acknowledged, so the origin rewinds). */
void
outbox_recv_run(struct outbox_driver *d, struct outbox_peer *p,
                const struct outbox_msg *m)
{
	uint64_t now = d->env.now(d->env.data), last, skip, i;
	struct outbox_cmd c = {
		OUTBOX_CMD_DELIVER, m->origin, m->dest, m->pos, NULL, 0, 0,
		m->from_inc
	};
	const uint8_t *rest = m->payload, *e;
	size_t left = m->len, elen;
	struct outbox_pos next;
	struct outbox_in in;
	bool pending;

	if (d->env.in_get(d->env.data, m->origin, &in) != 0 ||
	    !sender_ok(p, &in, m)) {
		return;
	}
	if (m->n == 0 || m->pos.seq == 0 ||
	    m->pos.seq - 1 > UINT64_MAX - m->n) {
		p->gaps++;
		outbox_send_ack(d, m->origin, in.cursor);
		return;
	}
	if (m->pos.inc < in.cursor.inc) {
		p->stales++;
		outbox_send_ack(d, m->origin, in.cursor);
		return;
	}
	pending = outbox_pos_cmp(p->deliver_proposed, in.cursor) > 0 &&
	          now < p->deliver_proposed_at + d->cfg.repropose_ms;
	if (pending) {
		next.inc = p->deliver_proposed.inc;
		next.seq = p->deliver_proposed.seq + 1;
	} else if (m->pos.inc > in.cursor.inc) {
		next.inc = m->pos.inc; /* a new incarnation: from seq 1 */
		next.seq = 1;
	} else {
		next.inc = in.cursor.inc;
		next.seq = in.cursor.seq + 1;
	}
	last = m->pos.seq - 1 + m->n;
	if (m->pos.inc != next.inc || m->pos.seq > next.seq) {
		p->gaps++;
		outbox_send_ack(d, m->origin, in.cursor);
		return;
	}
	if (last < next.seq) {
		if (m->pos.inc == in.cursor.inc && last <= in.cursor.seq) {
			p->dups++; /* delivered: tell the origin */
			outbox_send_ack(d, m->origin, in.cursor);
		}
		return; /* else proposed and pending */
	}
	skip = next.seq - m->pos.seq;
	for (i = 0; i < skip; i++) {
		if (!outbox_run_next(&rest, &left, &e, &elen)) {
			return;
		}
	}
	c.pos = next;
	if (d->propose_runs && m->n - skip > 1) {
		c.payload = rest;
		c.len = left;
		c.n = (unsigned)(m->n - skip);
		d->env.propose(d->env.data, &c);
		p->runs_proposed++;
	} else {
		for (i = skip; i < m->n; i++) {
			if (!outbox_run_next(&rest, &left, &e, &elen)) {
				return;
			}
			c.payload = e;
			c.len = elen;
			d->env.propose(d->env.data, &c);
			p->deliver_proposed = c.pos;
			p->deliver_proposed_at = now;
			c.pos.seq++;
		}
	}
	p->deliver_proposed.inc = next.inc;
	p->deliver_proposed.seq = last;
	p->deliver_proposed_at = now;
}

/* recv_skip: the origin has acknowledged up to m->pos. Above our cursor
 * only if this group lost applied deliveries (a recovery): propose the
 * skip, once at a time. */
void
outbox_recv_skip(struct outbox_driver *d, struct outbox_peer *p,
                 const struct outbox_msg *m)
{
	uint64_t now = d->env.now(d->env.data);
	struct outbox_cmd c = {
		OUTBOX_CMD_SKIP, m->origin, m->dest, m->pos, NULL, 0, 0,
		m->from_inc
	};
	struct outbox_in in;

	if (d->env.in_get(d->env.data, m->origin, &in) != 0 ||
	    !sender_ok(p, &in, m) || outbox_pos_cmp(m->pos, in.cursor) <= 0) {
		return;
	}
	if (outbox_pos_cmp(p->skip_proposed, m->pos) == 0 &&
	    now < p->skip_proposed_at + d->cfg.repropose_ms) {
		return;
	}
	p->skip_proposed = m->pos;
	p->skip_proposed_at = now;
	p->skips++;
	d->env.propose(d->env.data, &c);
}
