/* Unit tests of replication/outbox.h: the records' apply rules, and the
 * driver's answers to single frames (the seeded runs are in
 * test_outbox_sim.c). */
#include "replication/outbox.h"
#include "tests/tap.h"

#include <string.h>

static void
test_verdicts(void)
{
	static const struct {
		uint32_t cur_inc;
		uint64_t cur_seq;
		uint32_t inc;
		uint64_t seq;
		enum outbox_verdict want;
	} cases[] = {
		{ 1, 0, 1, 1, OUTBOX_ACCEPT }, { 1, 0, 1, 2, OUTBOX_GAP },
		{ 1, 5, 1, 6, OUTBOX_ACCEPT }, { 1, 5, 1, 5, OUTBOX_DUP },
		{ 1, 5, 1, 1, OUTBOX_DUP },    { 1, 5, 1, 9, OUTBOX_GAP },
		{ 2, 5, 1, 6, OUTBOX_STALE },  { 1, 5, 2, 1, OUTBOX_ACCEPT },
		{ 1, 5, 2, 2, OUTBOX_GAP },    { 1, 5, 1, 0, OUTBOX_GAP },
		{ 1, 0, 3, 1, OUTBOX_ACCEPT },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outbox_in in = { 370102,
			                { cases[i].cur_inc, cases[i].cur_seq },
			                0 };
		struct outbox_pos p = { cases[i].inc, cases[i].seq };
		enum outbox_verdict v = outbox_deliver(&in, p);

		is_str(outbox_verdict_name(v),
		       outbox_verdict_name(cases[i].want),
		       "cursor %u:%llu, entry %u:%llu", cases[i].cur_inc,
		       (unsigned long long)cases[i].cur_seq, cases[i].inc,
		       (unsigned long long)cases[i].seq);
		if (v == OUTBOX_ACCEPT) {
			ok(outbox_pos_cmp(in.cursor, p) == 0,
			   "  accepted: the cursor is the entry");
		} else {
			ok(in.cursor.inc == cases[i].cur_inc &&
			       in.cursor.seq == cases[i].cur_seq,
			   "  refused: the cursor is unchanged");
		}
	}
}

static void
test_acks(void)
{
	struct outbox_out o;
	struct outbox_pos p, from = { 0, 0 }, to = { 0, 0 };
	int i;

	outbox_out_init(&o, 370100, 1);
	is_int(outbox_out_backlog(&o), 0, "a new stream is empty");
	for (i = 0; i < 5; i++) {
		p = outbox_emit(&o);
	}
	is_int(p.seq, 5, "five entries: the last is seq 5");
	is_int(outbox_out_backlog(&o), 5, "backlog 5");
	ok(!outbox_ack(&o, (struct outbox_pos){ 1, 6 }, &from, &to),
	   "an acknowledgement of seq 6, never emitted, is refused");
	ok(!outbox_ack(&o, (struct outbox_pos){ 2, 1 }, &from, &to),
	   "an acknowledgement of a higher incarnation is refused");
	ok(!outbox_ack(&o, (struct outbox_pos){ 1, 0 }, &from, &to),
	   "an acknowledgement of nothing changes nothing");
	ok(outbox_ack(&o, (struct outbox_pos){ 1, 3 }, &from, &to),
	   "seq 3 acknowledged");
	ok(from.inc == 1 && from.seq == 0 && to.inc == 1 && to.seq == 3,
	   "  entries above 1:0 up to 1:3 are dropped (%u:%llu..%u:%llu)",
	   from.inc, (unsigned long long)from.seq, to.inc,
	   (unsigned long long)to.seq);
	is_int(outbox_out_backlog(&o), 2, "  backlog 2");
	ok(!outbox_ack(&o, (struct outbox_pos){ 1, 2 }, &from, &to),
	   "a late acknowledgement of seq 2 changes nothing");
	ok(!outbox_ack(&o, (struct outbox_pos){ 1, 3 }, &from, &to),
	   "a duplicate acknowledgement of seq 3 changes nothing");
	is_int(o.acked.seq, 3, "  acked stays 3");

	/* A recovery: entries 1:4 and 1:5 stay at their positions. */
	ok(!outbox_reincarnate(&o, 1), "reincarnating to the same inc fails");
	ok(outbox_reincarnate(&o, 2), "reincarnation to inc 2");
	ok(o.inc == 2 && o.next == 1 && o.old == 2 && o.acked.inc == 1 &&
	       o.acked.seq == 3,
	   "  the two unacknowledged entries are old ones, the next is 2:1 "
	   "(inc %u next %llu old %llu acked %u:%llu)",
	   o.inc, (unsigned long long)o.next, (unsigned long long)o.old,
	   o.acked.inc, (unsigned long long)o.acked.seq);
	p = outbox_emit(&o);
	ok(p.inc == 2 && p.seq == 1, "  a new entry is 2:1");
	is_int(outbox_out_backlog(&o), 3, "  backlog 3 (2 old, 1 new)");
	ok(!outbox_ack(&o, (struct outbox_pos){ 2, 2 }, &from, &to),
	   "  2:2, never emitted, is refused");
	ok(outbox_ack(&o, (struct outbox_pos){ 1, 9 }, &from, &to),
	   "  the destination's cursor 1:9 (entries the survivor lost) "
	   "acknowledges the old entries");
	ok(from.inc == 1 && from.seq == 3 && to.inc == 1 && to.seq == 9,
	   "  those above 1:3 up to 1:9 are dropped");
	outbox_old_dropped(&o, 2);
	is_int(outbox_out_backlog(&o), 1, "  backlog 1: the new entry");
	ok(!outbox_ack(&o, (struct outbox_pos){ 1, 12 }, &from, &to),
	   "  another old cursor with nothing old held changes nothing");
	ok(outbox_ack(&o, (struct outbox_pos){ 2, 1 }, &from, &to) &&
	       outbox_out_backlog(&o) == 0,
	   "  the new incarnation's entry is acknowledged");

	/* Old entries acknowledged by the new incarnation's cursor. */
	outbox_out_init(&o, 370100, 1);
	outbox_emit(&o);
	outbox_reincarnate(&o, 3);
	outbox_emit(&o);
	ok(outbox_ack(&o, (struct outbox_pos){ 3, 1 }, &from, &to) &&
	       o.old == 0 && outbox_out_backlog(&o) == 0,
	   "a cursor of the current incarnation acknowledges every old "
	   "entry below it");
}

/* A driver with a recording env. */
static struct {
	struct outbox_out out;
	struct outbox_in in;
	int sends, proposes;
	struct outbox_msg last_send;
	struct outbox_cmd last_cmd;
	uint64_t now;
	uint8_t payload[4];
	const uint8_t *big; /* if set, every entry is big_len bytes of it */
	size_t big_len;
	struct outbox_pos old_last; /* the newest old entry held */
} E;

static uint64_t
e_now(void *d)
{
	(void)d;
	return E.now;
}

static void
e_send(void *d, uint32_t to, const struct outbox_msg *m)
{
	(void)d;
	(void)to;
	E.sends++;
	E.last_send = *m;
}

static void
e_propose(void *d, const struct outbox_cmd *c)
{
	(void)d;
	E.proposes++;
	E.last_cmd = *c;
}

static int
e_out_get(void *d, uint32_t dest, struct outbox_out *o)
{
	(void)d;
	(void)dest;
	*o = E.out;
	return 0;
}

static int
e_in_get(void *d, uint32_t origin, struct outbox_in *in)
{
	(void)d;
	(void)origin;
	*in = E.in;
	return 0;
}

static int
e_entry_get(void *d, uint32_t dest, struct outbox_pos pos, const uint8_t **p,
            size_t *len)
{
	(void)d;
	(void)dest;
	if (E.old_last.inc != 0 && pos.inc < E.out.inc &&
	    (pos.inc != E.old_last.inc || pos.seq > E.old_last.seq)) {
		return -1; /* only the old entries up to old_last are held */
	}
	*p = E.big != NULL ? E.big : E.payload;
	*len = E.big != NULL ? E.big_len : sizeof(E.payload);
	return 0;
}

static void
test_driver(void)
{
	struct outbox_env env = { NULL,      e_now,    e_send,      e_propose,
		                  e_out_get, e_in_get, e_entry_get, NULL };
	struct outbox_config cfg = { 4, 100, 400, 1000, 0 };
	static struct outbox_driver d;
	struct outbox_msg m;
	struct outbox_peer *p;
	int i;

	memset(&E, 0, sizeof(E));
	outbox_out_init(&E.out, 370102, 1);
	E.in.origin = 370102;
	E.in.cursor.inc = 1;
	outbox_driver_init(&d, 370100, &env, &cfg);
	p = outbox_driver_peer(&d, 370102);
	ok(p != NULL, "370102 is a peer of 370100");

	for (i = 0; i < 6; i++) {
		outbox_emit(&E.out);
	}
	outbox_kick(&d, 370102);
	is_int(E.sends, 4, "a kick sends one window (4 of 6 entries)");
	outbox_tick(&d);
	is_int(E.sends, 4, "nothing more before the timeout");
	E.now = 100;
	outbox_tick(&d);
	is_int(E.sends, 8, "the timeout resends the window from acked");
	is_int(p->rto, 200, "  and the timeout doubles (100 -> 200)");
	E.now = 200;
	outbox_tick(&d);
	E.now = 400;
	outbox_tick(&d);
	is_int(p->rto, 400, "  up to its cap (400)");

	m = (struct outbox_msg){ OUTBOX_MSG_ACK, 370100, 370102, { 1, 9 },
		                 NULL,           0,      0,      0 };
	ok(outbox_recv(&d, &m), "an ACK of seq 9 (never emitted) is handled");
	is_int(E.proposes, 0, "  and not proposed");
	is_int(p->bogus_acks, 1, "  but counted");
	m.pos.seq = 3;
	outbox_recv(&d, &m);
	is_int(E.proposes, 1, "an ACK of seq 3 is proposed");
	outbox_recv(&d, &m);
	is_int(E.proposes, 1, "  once, while its proposal is pending");
	m.origin = 370000;
	ok(!outbox_recv(&d, &m), "an ACK for another origin is ignored");

	m = (struct outbox_msg){ OUTBOX_MSG_DATA, 370102, 370100, { 1, 2 },
		                 E.payload,       4,      0,      0 };
	E.sends = 0;
	outbox_recv(&d, &m);
	ok(E.proposes == 1 && E.sends == 1 &&
	       E.last_send.type == OUTBOX_MSG_ACK && E.last_send.pos.seq == 0,
	   "DATA with a gap is not proposed; the cursor (0) is "
	   "re-acknowledged");
	m.pos.seq = 1;
	outbox_recv(&d, &m);
	ok(E.proposes == 2 && E.last_cmd.type == OUTBOX_CMD_DELIVER &&
	       E.last_cmd.pos.seq == 1 && E.last_cmd.len == 4,
	   "the next DATA is proposed as DELIVER");
	m.pos.seq = 2;
	outbox_recv(&d, &m);
	ok(E.proposes == 3 && E.last_cmd.pos.seq == 2,
	   "the DATA right after it is proposed too while 1 is pending "
	   "(pipelined)");
	m.pos.seq = 4;
	E.sends = 0;
	outbox_recv(&d, &m);
	ok(E.proposes == 3 && E.sends == 1 && E.last_send.pos.seq == 0,
	   "but not one after a hole (the cursor is re-acknowledged)");
	m = (struct outbox_msg){ OUTBOX_MSG_DATA, 370200, 370100, { 1, 1 },
		                 E.payload,       4,      0,      0 };
	ok(!outbox_recv(&d, &m), "DATA from a region that is no peer is "
	                         "ignored");
	m = (struct outbox_msg){ OUTBOX_MSG_DATA, 370102, 370103, { 1, 1 },
		                 E.payload,       4,      0,      0 };
	ok(!outbox_recv(&d, &m), "DATA addressed to another region is "
	                         "ignored");
}

/* e_entry_next: old entries are old_last.inc's up to old_last, then the
 * current incarnation's from 1. */
static int
e_entry_next(void *d, uint32_t dest, struct outbox_pos after,
             struct outbox_pos *next)
{
	(void)d;
	(void)dest;
	if (after.inc == E.old_last.inc && after.seq < E.old_last.seq) {
		*next = (struct outbox_pos){ after.inc, after.seq + 1 };
		return 0;
	}
	if (E.out.next > 1) {
		*next = (struct outbox_pos){ E.out.inc, 1 };
		return 0;
	}
	return -1;
}

/* A recovered origin drains its old entries before the new incarnation's
 * first; a receiver takes a new incarnation only from a sender whose link
 * authenticated it. */
static void
test_driver_inc(void)
{
	struct outbox_env env = {
		NULL,      e_now,    e_send,      e_propose,
		e_out_get, e_in_get, e_entry_get, e_entry_next
	};
	struct outbox_config cfg = { 4, 100, 400, 1000, 0 };
	static struct outbox_driver d;
	struct outbox_pos a, b;
	struct outbox_msg m;
	struct outbox_peer *p;
	int i;

	memset(&E, 0, sizeof(E));
	outbox_out_init(&E.out, 370102, 1);
	E.in.origin = 370102;
	E.in.cursor = (struct outbox_pos){ 1, 4 };
	outbox_driver_init(&d, 370100, &env, &cfg);
	p = outbox_driver_peer(&d, 370102);
	for (i = 0; i < 5; i++) {
		outbox_emit(&E.out);
	}
	outbox_ack(&E.out, (struct outbox_pos){ 1, 2 }, &a, &b);
	outbox_reincarnate(&E.out, 2);
	E.old_last = (struct outbox_pos){ 1, 5 };
	outbox_emit(&E.out);
	outbox_emit(&E.out);
	is_int(outbox_out_backlog(&E.out), 5,
	       "recovered: 3 old entries, 2 new");
	outbox_kick(&d, 370102);
	ok(E.sends == 3 && E.last_send.pos.inc == 1 && E.last_send.pos.seq == 5,
	   "a kick sends the old entries 1:3..1:5 only (%d sent, last "
	   "%u:%llu)",
	   E.sends, E.last_send.pos.inc,
	   (unsigned long long)E.last_send.pos.seq);
	m = (struct outbox_msg){ OUTBOX_MSG_ACK, 370100, 370102, { 1, 9 },
		                 NULL,           0,      0,      0 };
	outbox_recv(&d, &m);
	ok(E.proposes == 1 && E.last_cmd.type == OUTBOX_CMD_ACKED &&
	       E.last_cmd.pos.inc == 1 && E.last_cmd.pos.seq == 9,
	   "the destination's cursor 1:9 (beyond what the survivor kept) "
	   "is proposed as an acknowledgement, not refused as bogus");
	ok(outbox_ack(&E.out, E.last_cmd.pos, &a, &b), "  and applies");
	outbox_old_dropped(&E.out, 3);
	E.sends = 0;
	outbox_applied(&d, &E.last_cmd, OUTBOX_ACCEPT);
	ok(E.sends == 2 && E.last_send.pos.inc == 2 && E.last_send.pos.seq == 2,
	   "then the new incarnation's 2:1 and 2:2 go out (%d sent)", E.sends);
	m.pos = (struct outbox_pos){ 3, 1 };
	outbox_recv(&d, &m);
	is_int(p->bogus_acks, 1, "an ACK of a higher incarnation is bogus");

	/* The receiving side. */
	m = (struct outbox_msg){ OUTBOX_MSG_DATA, 370102, 370100, { 2, 1 },
		                 E.payload,       4,      0,      1 };
	E.proposes = 0;
	outbox_recv(&d, &m);
	ok(E.proposes == 0 && p->unauth == 1,
	   "2:1 from a node whose link says incarnation 1 is dropped");
	m.from_inc = 2;
	outbox_recv(&d, &m);
	ok(E.proposes == 1 && E.last_cmd.pos.inc == 2,
	   "2:1 from a node at incarnation 2 is proposed (cursor 1:4)");
	m.from_inc = 1;
	m.pos = (struct outbox_pos){ 1, 5 };
	outbox_recv(&d, &m);
	ok(E.proposes == 1 && p->unauth == 2,
	   "1:5 from a node at incarnation 1, once 2 was seen, is dropped "
	   "(an old member)");
	E.in.cursor = (struct outbox_pos){ 2, 1 };
	m.from_inc = 3;
	outbox_recv(&d, &m);
	ok(E.proposes == 1 && p->stales == 1, "1:5 at cursor 2:1 is stale");

	/* A new leader remembers nothing, but the cursor's record says a
	 * node at incarnation 2 had a delivery applied. */
	outbox_driver_init(&d, 370100, &env, &cfg);
	p = outbox_driver_peer(&d, 370102);
	E.in.cursor = (struct outbox_pos){ 1, 4 };
	outbox_in_by(&E.in, 2);
	outbox_in_by(&E.in, 1);
	is_int(E.in.by, 2, "outbox_in_by keeps the highest (2)");
	m.pos = (struct outbox_pos){ 1, 5 };
	m.from_inc = 1;
	outbox_recv(&d, &m);
	ok(E.proposes == 1 && p->unauth == 1,
	   "a new leader drops 1:5 from a node at incarnation 1 (the record "
	   "says 2)");
	m.from_inc = 2;
	outbox_recv(&d, &m);
	ok(E.proposes == 2 && E.last_cmd.from_inc == 2,
	   "  and proposes it from a node at 2, saying so (from_inc)");
}

/* A recovered destination whose cursor went back below what its origin
 * dropped: the origin answers its ACK with SKIP, the destination proposes
 * it only if it is above its cursor. */
static void
test_skip(void)
{
	struct outbox_env env = {
		NULL,      e_now,    e_send,      e_propose,
		e_out_get, e_in_get, e_entry_get, e_entry_next
	};
	struct outbox_config cfg = { 4, 100, 400, 1000, 0 };
	static struct outbox_driver d;
	struct outbox_in in = { 370102, { 1, 5 }, 0 };
	struct outbox_msg m;
	struct outbox_pos a, b;
	int i;

	is_str(
	    outbox_verdict_name(outbox_skip(&in, (struct outbox_pos){ 1, 5 })),
	    "dup", "a skip to the cursor changes nothing");
	is_str(
	    outbox_verdict_name(outbox_skip(&in, (struct outbox_pos){ 1, 3 })),
	    "dup", "a skip below it changes nothing");
	ok(outbox_skip(&in, (struct outbox_pos){ 1, 9 }) == OUTBOX_ACCEPT &&
	       in.cursor.seq == 9,
	   "a skip above it moves the cursor there (1:9)");

	memset(&E, 0, sizeof(E));
	outbox_out_init(&E.out, 370102, 1);
	for (i = 0; i < 7; i++) {
		outbox_emit(&E.out);
	}
	outbox_ack(&E.out, (struct outbox_pos){ 1, 7 }, &a, &b);
	outbox_driver_init(&d, 370100, &env, &cfg);
	outbox_driver_peer(&d, 370102);
	m = (struct outbox_msg){ OUTBOX_MSG_ACK, 370100, 370102, { 1, 4 },
		                 NULL,           0,      0,      0 };
	outbox_recv(&d, &m);
	ok(E.sends == 1 && E.last_send.type == OUTBOX_MSG_SKIP &&
	       E.last_send.pos.seq == 7 && E.proposes == 0,
	   "the origin (acked 1:7) answers an ACK of 1:4 with SKIP 1:7");
	outbox_recv(&d, &m);
	is_int(E.sends, 1, "  at most once per rto_min");
	E.now = 100;
	outbox_recv(&d, &m);
	is_int(E.sends, 2, "  and again after it");

	/* The destination. */
	E.in.origin = 370102;
	E.in.cursor = (struct outbox_pos){ 1, 4 };
	m = (struct outbox_msg){
		OUTBOX_MSG_SKIP, 370102, 370100, { 1, 7 }, NULL, 0, 0, 2
	};
	E.proposes = 0;
	ok(outbox_recv(&d, &m) && E.proposes == 1 &&
	       E.last_cmd.type == OUTBOX_CMD_SKIP && E.last_cmd.pos.seq == 7 &&
	       E.last_cmd.from_inc == 2,
	   "a destination at 1:4 proposes SKIP 1:7");
	outbox_recv(&d, &m);
	is_int(E.proposes, 1, "  once while it is pending");
	E.in.cursor = (struct outbox_pos){ 1, 8 };
	E.now += 5000;
	outbox_recv(&d, &m);
	is_int(E.proposes, 1, "a destination at 1:8 ignores SKIP 1:7 (late)");
	E.sends = 0;
	E.in.cursor = (struct outbox_pos){ 1, 7 };
	outbox_applied(&d, &E.last_cmd, OUTBOX_ACCEPT);
	ok(E.sends == 1 && E.last_send.type == OUTBOX_MSG_ACK &&
	       E.last_send.pos.seq == 7,
	   "once applied, the destination acknowledges its new cursor");
}

static void
test_run_verdicts(void)
{
	static const struct {
		uint32_t cur_inc;
		uint64_t cur_seq;
		uint32_t inc;
		uint64_t seq, n;
		enum outbox_verdict want;
		uint64_t skip, cursor;
	} cases[] = {
		{ 1, 5, 1, 6, 3, OUTBOX_ACCEPT, 0, 8 },
		{ 1, 5, 1, 4, 4, OUTBOX_ACCEPT, 2, 7 },
		{ 1, 5, 1, 1, 6, OUTBOX_ACCEPT, 5, 6 },
		{ 1, 5, 1, 3, 3, OUTBOX_DUP, 0, 5 },
		{ 1, 5, 1, 7, 2, OUTBOX_GAP, 0, 5 },
		{ 1, 5, 2, 1, 2, OUTBOX_ACCEPT, 0, 2 },
		{ 1, 5, 2, 2, 2, OUTBOX_GAP, 0, 5 },
		{ 2, 5, 1, 6, 1, OUTBOX_STALE, 0, 5 },
		{ 1, 5, 1, 6, 0, OUTBOX_GAP, 0, 5 },
		{ 1, 5, 1, 0, 9, OUTBOX_GAP, 0, 5 },
		{ 1, 5, 1, UINT64_MAX, 2, OUTBOX_GAP, 0, 5 },
		{ 1, 0, 1, 1, 64, OUTBOX_ACCEPT, 0, 64 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outbox_in in = { 370102,
			                { cases[i].cur_inc, cases[i].cur_seq },
			                0 };
		struct outbox_pos p = { cases[i].inc, cases[i].seq };
		uint64_t skip = 99;
		enum outbox_verdict v =
		    outbox_deliver_run(&in, p, cases[i].n, &skip);

		is_str(outbox_verdict_name(v),
		       outbox_verdict_name(cases[i].want),
		       "cursor %u:%llu, run %u:%llu+%llu", cases[i].cur_inc,
		       (unsigned long long)cases[i].cur_seq, cases[i].inc,
		       (unsigned long long)cases[i].seq,
		       (unsigned long long)cases[i].n);
		ok(in.cursor.seq == cases[i].cursor &&
		       (v != OUTBOX_ACCEPT || skip == cases[i].skip),
		   "  cursor %llu (want %llu), %llu skipped (want %llu)",
		   (unsigned long long)in.cursor.seq,
		   (unsigned long long)cases[i].cursor,
		   (unsigned long long)skip, (unsigned long long)cases[i].skip);
	}
}

/* run_of builds a DATA_RUN frame of n 4-byte entries from seq. */
static struct outbox_msg
run_of(uint8_t *buf, size_t cap, uint64_t seq, unsigned n)
{
	struct outbox_msg m = {
		OUTBOX_MSG_DATA_RUN, 370102, 370100, { 1, seq }, buf, 0, n, 0
	};
	unsigned i;

	for (i = 0; i < n; i++) {
		outbox_run_put(buf, cap, &m.len, E.payload, 4);
	}
	return m;
}

static void
test_driver_runs(void)
{
	struct outbox_env env = { NULL,      e_now,    e_send,      e_propose,
		                  e_out_get, e_in_get, e_entry_get, NULL };
	struct outbox_config cfg = { 4, 100, 400, 1000, 0 };
	static struct outbox_driver d;
	struct outbox_msg m;
	struct outbox_peer *p;
	uint8_t buf[256];
	int i;

	memset(&E, 0, sizeof(E));
	outbox_out_init(&E.out, 370102, 1);
	E.in.origin = 370102;
	E.in.cursor.inc = 1;
	outbox_driver_init(&d, 370100, &env, &cfg);
	p = outbox_driver_peer(&d, 370102);
	p->takes_runs = true;
	for (i = 0; i < 6; i++) {
		outbox_emit(&E.out);
	}
	outbox_kick(&d, 370102);
	ok(E.sends == 1 && E.last_send.type == OUTBOX_MSG_DATA_RUN &&
	       E.last_send.n == 4 && E.last_send.pos.seq == 1 &&
	       E.last_send.len == 4 * 6,
	   "to a peer that takes runs, the window (4) goes as one run");
	outbox_kick(&d, 370102);
	is_int(E.sends, 1, "  a second kick sends nothing (all in flight)");

	/* The receiving side: cursor 0, runs proposed as one DELIVER. */
	d.propose_runs = true;
	m = run_of(buf, sizeof(buf), 1, 3);
	E.sends = 0;
	outbox_recv(&d, &m);
	ok(E.proposes == 1 && E.last_cmd.type == OUTBOX_CMD_DELIVER &&
	       E.last_cmd.pos.seq == 1 && E.last_cmd.n == 3 &&
	       E.last_cmd.len == 18 && E.sends == 0,
	   "a run of 1..3 at cursor 0 is proposed as one DELIVER of 3");
	m = run_of(buf, sizeof(buf), 2, 4);
	outbox_recv(&d, &m);
	ok(E.proposes == 2 && E.last_cmd.pos.seq == 4 && E.last_cmd.n == 2 &&
	       E.last_cmd.len == 12,
	   "a run of 2..5 while 1..3 is pending: 4..5 proposed (pipelined)");
	m = run_of(buf, sizeof(buf), 1, 2);
	outbox_recv(&d, &m);
	ok(E.proposes == 2 && E.sends == 0,
	   "a run of 1..2, proposed already: nothing, no ACK");
	m = run_of(buf, sizeof(buf), 5, 2);
	outbox_recv(&d, &m);
	ok(E.proposes == 3 && E.last_cmd.pos.seq == 6 && E.last_cmd.n == 0 &&
	       E.last_cmd.len == 4,
	   "a run of 5..6 after 5 pending: only 6 is new, proposed as a "
	   "single DELIVER");
	m = run_of(buf, sizeof(buf), 8, 2);
	outbox_recv(&d, &m);
	ok(E.proposes == 3 && E.sends == 1 &&
	       E.last_send.type == OUTBOX_MSG_ACK && E.last_send.pos.seq == 0,
	   "a run of 8..9 after 6 pending: a gap, the cursor re-acknowledged");
	E.in.cursor.seq = 5;
	d.peers[0].deliver_proposed.seq = 5;
	m = run_of(buf, sizeof(buf), 3, 3);
	outbox_recv(&d, &m);
	ok(E.proposes == 3 && E.sends == 2 && E.last_send.pos.seq == 5,
	   "once 1..5 are delivered, a run of 3..5 is a duplicate: ACK 5");
	d.propose_runs = false;
	m = run_of(buf, sizeof(buf), 5, 4);
	outbox_recv(&d, &m);
	ok(E.proposes == 6 && E.last_cmd.n == 0 && E.last_cmd.pos.seq == 8 &&
	       E.last_cmd.len == 4,
	   "below feature level 3, the run 5..8 at cursor 5 goes as three "
	   "single DELIVERs (6, 7, 8)");
	/* A DELIVER that did not go in (refused, or one before it lost):
	 * the next run is proposed from the cursor again. */
	{
		struct outbox_cmd c = { OUTBOX_CMD_DELIVER,
			                370102,
			                370100,
			                { 1, 6 },
			                NULL,
			                0,
			                3,
			                0 };

		m = run_of(buf, sizeof(buf), 6, 3);
		outbox_recv(&d, &m);
		is_int(E.proposes, 6, "  (6..8 again: pending, nothing)");
		outbox_applied(&d, &c, OUTBOX_GAP);
		outbox_recv(&d, &m);
		ok(E.proposes == 9 && E.last_cmd.pos.seq == 8,
		   "after a DELIVER of 6..8 that did not go in, 6..8 are "
		   "proposed again");
	}

	/* Acknowledgements coalesce: one ACKED pending at a time. */
	E.proposes = 0;
	m = (struct outbox_msg){ OUTBOX_MSG_ACK, 370100, 370102, { 1, 2 },
		                 NULL,           0,      0,      0 };
	outbox_recv(&d, &m);
	is_int(E.proposes, 1, "ACK 2: ACKED 2 proposed");
	m.pos.seq = 3;
	outbox_recv(&d, &m);
	m.pos.seq = 4;
	outbox_recv(&d, &m);
	is_int(E.proposes, 1, "ACKs 3 and 4 while it is pending: not yet");
	E.out.acked.seq = 2;
	{
		struct outbox_cmd c = { OUTBOX_CMD_ACKED,
			                370100,
			                370102,
			                { 1, 2 },
			                NULL,
			                0,
			                0,
			                0 };

		outbox_applied(&d, &c, OUTBOX_ACCEPT);
	}
	ok(E.proposes == 2 && E.last_cmd.type == OUTBOX_CMD_ACKED &&
	       E.last_cmd.pos.seq == 4,
	   "once ACKED 2 is applied, one ACKED 4 covers both");
	E.now += 2000; /* ACKED 4 lost with its proposal */
	m.pos.seq = 5;
	outbox_recv(&d, &m);
	ok(E.proposes == 3 && E.last_cmd.pos.seq == 5,
	   "a proposal not applied after repropose_ms no longer holds "
	   "the next back");
}

/* A round of large entries waits longer before it is sent again. */
static void
test_rto_per_mib(void)
{
	static uint8_t big[256 << 10];
	struct outbox_env env = { NULL,      e_now,    e_send,      e_propose,
		                  e_out_get, e_in_get, e_entry_get, NULL };
	struct outbox_config cfg = { 4, 100, 400, 1000, 3000 };
	static struct outbox_driver d;
	int i;

	memset(&E, 0, sizeof(E));
	E.big = big;
	E.big_len = sizeof(big);
	outbox_out_init(&E.out, 370102, 1);
	outbox_driver_init(&d, 370100, &env, &cfg);
	outbox_driver_peer(&d, 370102);
	for (i = 0; i < 6; i++) {
		outbox_emit(&E.out);
	}
	outbox_kick(&d, 370102);
	is_int(E.sends, 4, "a window of four 256 KiB entries (1 MiB) is sent");
	E.now = 3099;
	outbox_tick(&d);
	is_int(E.sends, 4, "  not resent before rto + 3 s per MiB (3,100 ms)");
	E.now = 3100;
	outbox_tick(&d);
	is_int(E.sends, 8, "  resent at 3,100 ms");
	E.now = 3100 + 100 + 2999;
	outbox_tick(&d);
	is_int(E.sends, 8, "  then not before rto (100) + 3 s later");
	E.now++;
	outbox_tick(&d);
	is_int(E.sends, 12, "  and again at 6,200 ms");
	memset(&E, 0, sizeof(E));
}

int
main(void)
{
	test_verdicts();
	test_acks();
	test_driver();
	test_driver_inc();
	test_skip();
	test_run_verdicts();
	test_driver_runs();
	test_rto_per_mib();
	return done_testing();
}
