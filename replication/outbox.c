/* Outboxes between regions: the leader's driver, sending side and
 * acknowledgements (what it receives as a destination is in outbox_recv.c,
 * the records' apply in outbox_rec.c). */
#include "replication/outbox.h"
#include "replication/outbox_int.h"

#include <string.h>

/* Entries of an incarnation older than o->inc are old entries, held at
 * their own positions: nothing of o->inc is acknowledged while acked is
 * of an older incarnation. */
static uint64_t
acked_seq(const struct outbox_out *o)
{
	return o->acked.inc == o->inc ? o->acked.seq : 0;
}

/* ---- the driver --------------------------------------------------------- */

void
outbox_driver_init(struct outbox_driver *d, uint32_t self,
                   const struct outbox_env *env,
                   const struct outbox_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->self = self;
	d->env = *env;
	if (cfg != NULL) {
		d->cfg = *cfg;
	}
	if (d->cfg.window == 0) {
		d->cfg.window = 64;
	}
	if (d->cfg.rto_min == 0) {
		d->cfg.rto_min = 50;
	}
	if (d->cfg.rto_max < d->cfg.rto_min) {
		d->cfg.rto_max = d->cfg.rto_min > 5000 ? d->cfg.rto_min : 5000;
	}
	if (d->cfg.repropose_ms == 0) {
		d->cfg.repropose_ms = 1000;
	}
}

static struct outbox_peer *
peer_find(struct outbox_driver *d, uint32_t region)
{
	unsigned i;

	for (i = 0; i < d->n_peers; i++) {
		if (d->peers[i].region == region) {
			return &d->peers[i];
		}
	}
	return NULL;
}

struct outbox_peer *
outbox_driver_peer(struct outbox_driver *d, uint32_t region)
{
	struct outbox_peer *p = peer_find(d, region);

	if (p != NULL || d->n_peers == OUTBOX_MAX_PEERS) {
		return p;
	}
	p = &d->peers[d->n_peers++];
	memset(p, 0, sizeof(*p));
	p->region = region;
	p->rto = d->cfg.rto_min;
	return p;
}

static void ack_flush(struct outbox_driver *d, struct outbox_peer *p);

/* send_run sends the run of n entries built in d->run_buf, from seq
 * first. */
static void
send_run(struct outbox_driver *d, struct outbox_peer *p, uint32_t inc,
         uint64_t first, unsigned n, size_t len)
{
	struct outbox_msg m = {
		OUTBOX_MSG_DATA_RUN, d->self, p->region, { inc, first },
		d->run_buf,          len,     n,         0
	};

	d->env.send(d->env.data, p->region, &m);
	p->round_bytes += len;
	p->runs_sent++;
	p->sent = first + n - 1;
	p->sent_inc = inc;
}

/* send_runs sends the entries from+1..to as DATA_RUN frames of at most
 * OUTBOX_RUN_MAX entries and OUTBOX_RUN_BYTES; an entry larger than that
 * goes alone as DATA. It stops at the first missing entry. */
static void
send_runs(struct outbox_driver *d, struct outbox_peer *p, uint32_t inc,
          uint64_t from, uint64_t to)
{
	struct outbox_msg m = {
		OUTBOX_MSG_DATA, d->self, p->region, { 0, 0 }, NULL, 0, 0, 0
	};
	uint64_t s, first = 0;
	size_t used = 0;
	unsigned n = 0;

	for (s = from + 1; s <= to; s++) {
		m.pos.inc = inc;
		m.pos.seq = s;
		if (d->env.entry_get(d->env.data, p->region, m.pos, &m.payload,
		                     &m.len) != 0) {
			break;
		}
		if (n == OUTBOX_RUN_MAX ||
		    (n > 0 && !outbox_run_put(d->run_buf, sizeof(d->run_buf),
		                              &used, m.payload, m.len))) {
			/* Full: send it, and read the entry again (the send
			 * may have ended the env's loan). */
			send_run(d, p, inc, first, n, used);
			n = 0;
			used = 0;
			s--;
			continue;
		}
		if (n == 0) {
			if (!outbox_run_put(d->run_buf, sizeof(d->run_buf),
			                    &used, m.payload, m.len)) {
				d->env.send(d->env.data, p->region, &m);
				p->round_bytes += m.len;
				p->sent = s; /* too large for a run */
				p->sent_inc = inc;
				continue;
			}
			first = s;
		}
		n++;
	}
	if (n > 0) {
		send_run(d, p, inc, first, n, used);
	}
}

/* send_range sends the entries from+1..to of the stream to p (stopping at
 * the first missing one: a storage error, retried on the next round). */
static void
send_range(struct outbox_driver *d, struct outbox_peer *p, uint32_t inc,
           uint64_t from, uint64_t to)
{
	struct outbox_msg m = {
		OUTBOX_MSG_DATA, d->self, p->region, { 0, 0 }, NULL, 0, 0, 0
	};
	uint64_t s;

	if (p->takes_runs) {
		send_runs(d, p, inc, from, to);
		return;
	}
	for (s = from + 1; s <= to; s++) {
		m.pos.inc = inc;
		m.pos.seq = s;
		if (d->env.entry_get(d->env.data, p->region, m.pos, &m.payload,
		                     &m.len) != 0) {
			break;
		}
		d->env.send(d->env.data, p->region, &m);
		p->round_bytes += m.len;
		p->sent = s;
		p->sent_inc = inc;
	}
}

/* extra_ms is what the bytes of this round add to its timeout. */
static uint64_t
extra_ms(const struct outbox_driver *d, const struct outbox_peer *p)
{
	return d->cfg.rto_per_mib == 0
	           ? 0
	           : (p->round_bytes >> 10) * d->cfg.rto_per_mib >> 10;
}

/* What the window covers: entries from+1..to of incarnation inc. While
 * the stream holds old entries (of incarnations below o->inc, kept at
 * their positions by a recovery) the window is the incarnation of the
 * first one above the acknowledged position, up to its last stored entry
 * (send_range stops at the first missing one): the first entry of a
 * newer incarnation goes out only once everything before it is
 * acknowledged, so the destination may take it whatever its cursor. */
struct span {
	uint32_t inc;
	uint64_t from, to;
};

static struct span
span_of(const struct outbox_driver *d, const struct outbox_peer *p,
        const struct outbox_out *o)
{
	uint64_t w = p->window ? p->window : d->cfg.window;
	uint64_t last = o->next - 1;
	struct outbox_pos at;
	struct span sp = { o->inc, acked_seq(o), 0 };

	if (o->old > 0 && d->env.entry_next != NULL &&
	    d->env.entry_next(d->env.data, o->dest, o->acked, &at) == 0 &&
	    at.inc < o->inc && at.seq > 0) {
		sp.inc = at.inc;
		sp.from = at.seq - 1;
		sp.to = sp.from + w;
		return sp;
	}
	if (o->old > 0) {
		/* Old entries counted but none found: a storage error
		 * (retried on the next round), never the new ones before
		 * them. */
		sp.to = sp.from;
		return sp;
	}
	sp.to = sp.from + w < last ? sp.from + w : last;
	return sp;
}

void
outbox_tick(struct outbox_driver *d)
{
	uint64_t now = d->env.now(d->env.data);
	struct outbox_out o;
	struct span sp;
	unsigned i;

	for (i = 0; i < d->n_peers; i++) {
		struct outbox_peer *p = &d->peers[i];

		ack_flush(d, p); /* one whose pending ACKED was lost */
		if (d->env.out_get(d->env.data, p->region, &o) != 0 ||
		    outbox_out_backlog(&o) == 0 || now < p->due) {
			continue;
		}
		sp = span_of(d, p, &o);
		if (p->sent_inc == sp.inc && p->sent > sp.from) {
			p->resends++; /* a round went unanswered */
		}
		p->round_bytes = 0;
		send_range(d, p, sp.inc, sp.from, sp.to);
		p->due = now + p->rto + extra_ms(d, p);
		p->rto =
		    p->rto * 2 > d->cfg.rto_max ? d->cfg.rto_max : p->rto * 2;
	}
}

void
outbox_kick(struct outbox_driver *d, uint32_t dest)
{
	struct outbox_peer *p = outbox_driver_peer(d, dest);
	struct outbox_out o;
	struct span sp;
	uint64_t from;

	if (p == NULL || d->env.out_get(d->env.data, dest, &o) != 0) {
		return;
	}
	sp = span_of(d, p, &o);
	from = p->sent_inc == sp.inc && p->sent > sp.from ? p->sent : sp.from;
	if (from < sp.to) {
		uint64_t before = extra_ms(d, p);

		if (from == sp.from) {
			/* Nothing in flight: this round starts the clock. */
			p->round_bytes = 0;
			before = 0;
			p->due = d->env.now(d->env.data) + p->rto;
		}
		send_range(d, p, sp.inc, from, sp.to);
		p->due += extra_ms(d, p) - before;
	}
}

void
outbox_send_ack(struct outbox_driver *d, uint32_t origin,
                struct outbox_pos cursor)
{
	struct outbox_msg m = { OUTBOX_MSG_ACK, origin, d->self, cursor,
		                NULL,           0,      0,       0 };

	d->env.send(d->env.data, origin, &m);
}

/* acks: pos would move the stream's acknowledged position (outbox_ack's
 * test, changing nothing). */
static bool
acks(const struct outbox_out *o, struct outbox_pos pos)
{
	struct outbox_out c = *o;
	struct outbox_pos a, b;

	return outbox_ack(&c, pos, &a, &b);
}

/* ack_pending: an ACKED this leader proposed may still be applied. */
static bool
ack_pending(const struct outbox_driver *d, const struct outbox_peer *p,
            const struct outbox_out *o, uint64_t now)
{
	return outbox_pos_cmp(p->ack_proposed, o->acked) > 0 &&
	       now < p->ack_proposed_at + d->cfg.repropose_ms;
}

/* ack_flush proposes the highest acknowledgement seen but not proposed,
 * if it moves the stream and none is pending. */
static void
ack_flush(struct outbox_driver *d, struct outbox_peer *p)
{
	uint64_t now = d->env.now(d->env.data);
	struct outbox_cmd c = {
		OUTBOX_CMD_ACKED, d->self, p->region, p->ack_seen, NULL, 0, 0, 0
	};
	struct outbox_out o;

	if (p->ack_seen.seq == 0 ||
	    d->env.out_get(d->env.data, p->region, &o) != 0 ||
	    ack_pending(d, p, &o, now)) {
		return;
	}
	if (acks(&o, p->ack_seen)) {
		p->ack_proposed = p->ack_seen;
		p->ack_proposed_at = now;
		d->env.propose(d->env.data, &c);
	}
	p->ack_seen = (struct outbox_pos){ 0, 0 };
}

static void
recv_ack(struct outbox_driver *d, struct outbox_peer *p,
         const struct outbox_msg *m)
{
	uint64_t now = d->env.now(d->env.data);
	struct outbox_cmd c = {
		OUTBOX_CMD_ACKED, m->origin, m->dest, m->pos, NULL, 0, 0, 0
	};
	struct outbox_out o;
	struct span sp;

	if (d->env.out_get(d->env.data, m->dest, &o) != 0) {
		return;
	}
	if (m->pos.inc > o.inc ||
	    (m->pos.inc == o.inc && m->pos.seq >= o.next)) {
		p->bogus_acks++; /* acknowledges what was never sent */
		return;
	}
	if (acks(&o, m->pos)) {
		if (outbox_pos_cmp(p->ack_proposed, m->pos) >= 0 &&
		    now < p->ack_proposed_at + d->cfg.repropose_ms) {
			return;
		}
		if (ack_pending(d, p, &o, now)) {
			/* Coalesced: the highest is proposed once the
			 * pending one is applied (outbox_applied). */
			if (outbox_pos_cmp(m->pos, p->ack_seen) > 0) {
				p->ack_seen = m->pos;
			}
			return;
		}
		p->ack_proposed = m->pos;
		p->ack_proposed_at = now;
		d->env.propose(d->env.data, &c);
		return;
	}
	/* No progress. If the destination is at acked (it lost what we
	 * sent after it) or at an older incarnation's position that
	 * acknowledges nothing held (it takes (o.inc, 1) next), rewind and
	 * resend on the next tick. An older acknowledgement is late, or
	 * comes from a destination recovered without what it had delivered
	 * (we dropped it): answer with SKIP, which only the latter takes. */
	if (outbox_pos_cmp(m->pos, o.acked) < 0) {
		if (now >= p->skip_due) {
			struct outbox_msg s = { OUTBOX_MSG_SKIP,
				                d->self,
				                p->region,
				                o.acked,
				                NULL,
				                0,
				                0,
				                0 };

			p->skip_due = now + d->cfg.rto_min;
			d->env.send(d->env.data, p->region, &s);
		}
		return;
	}
	sp = span_of(d, p, &o);
	if (p->sent_inc != sp.inc || p->sent > sp.from) {
		p->sent = sp.from;
		p->sent_inc = sp.inc;
		p->due = now;
	}
}

bool
outbox_recv(struct outbox_driver *d, const struct outbox_msg *m)
{
	struct outbox_peer *p;

	if (m->type == OUTBOX_MSG_DATA || m->type == OUTBOX_MSG_DATA_RUN ||
	    m->type == OUTBOX_MSG_SKIP) {
		if (m->dest != d->self ||
		    (p = peer_find(d, m->origin)) == NULL) {
			return false;
		}
		if (m->type == OUTBOX_MSG_DATA) {
			outbox_recv_data(d, p, m);
		} else if (m->type == OUTBOX_MSG_DATA_RUN) {
			outbox_recv_run(d, p, m);
		} else {
			outbox_recv_skip(d, p, m);
		}
		return true;
	}
	if (m->type == OUTBOX_MSG_ACK) {
		if (m->origin != d->self ||
		    (p = peer_find(d, m->dest)) == NULL) {
			return false;
		}
		recv_ack(d, p, m);
		return true;
	}
	return false;
}

void
outbox_applied(struct outbox_driver *d, const struct outbox_cmd *c,
               enum outbox_verdict v)
{
	struct outbox_peer *p;
	struct outbox_in in;

	if (c->type == OUTBOX_CMD_SKIP) {
		if (c->dest == d->self &&
		    d->env.in_get(d->env.data, c->origin, &in) == 0) {
			outbox_send_ack(d, c->origin, in.cursor);
			if ((p = peer_find(d, c->origin)) != NULL) {
				/* Deliveries proposed before it are moot. */
				p->deliver_proposed =
				    (struct outbox_pos){ 0, 0 };
			}
		}
		return;
	}
	if (c->type == OUTBOX_CMD_DELIVER) {
		if (c->dest != d->self ||
		    d->env.in_get(d->env.data, c->origin, &in) != 0) {
			return;
		}
		/* Accepted or not, the origin learns the cursor. */
		outbox_send_ack(d, c->origin, in.cursor);
		if (v != OUTBOX_ACCEPT && v != OUTBOX_DUP &&
		    (p = peer_find(d, c->origin)) != NULL &&
		    outbox_pos_cmp(in.cursor, c->pos) < 0) {
			/* Not delivered (a proposal before it was lost, or
			 * the apply refused it): what was pipelined after it
			 * finds the same gap, so propose from the cursor on
			 * the next DATA. */
			p->deliver_proposed = (struct outbox_pos){ 0, 0 };
		}
		return;
	}
	if (c->type == OUTBOX_CMD_ACKED && c->origin == d->self &&
	    (p = peer_find(d, c->dest)) != NULL) {
		if (v == OUTBOX_ACCEPT) {
			/* Progress: reset the backoff, slide the window. */
			p->rto = d->cfg.rto_min;
			p->due = d->env.now(d->env.data) + p->rto;
			outbox_kick(d, c->dest);
		}
		ack_flush(d, p); /* what arrived meanwhile */
	}
}
