/* Fuzz the outbox frames (replication/outbox_wire.h) and feed what decodes
 * to a leader's driver (replication/outbox.h) whose streams hold known
 * records: a hostile region's frames must never make it propose a delivery
 * that is not the next entry, or an acknowledgement beyond what was sent. */
#include "fuzz/fuzz_util.h"
#include "replication/outbox_wire.h"
#include "schema/error.h"

#define SELF 370100
#define PEER 370102

static struct outbox_out out;
static struct outbox_in in;
static uint8_t entry[8];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static uint64_t
f_now(void *d)
{
	(void)d;
	return 1000;
}

static void
f_send(void *d, uint32_t to, const struct outbox_msg *m)
{
	uint8_t buf[128];

	(void)d;
	fuzz_check(to == PEER, "the driver answers the peer only");
	/* What the driver sends must encode and decode to itself. */
	if (m->len <= 64) {
		struct outbox_msg back;
		size_t n = outbox_wire_encode(m, buf, sizeof(buf));

		fuzz_check(n > 0, "a frame the driver sends encodes");
		fuzz_check(outbox_wire_decode(buf, n, &back, NULL, 0) == TB_OK,
		           "and decodes");
	}
}

/* The delivery proposed last (pipelining proposes the one after it). */
static struct outbox_pos last_proposed;

static void
f_propose(void *d, const struct outbox_cmd *c)
{
	(void)d;
	if (c->type == OUTBOX_CMD_DELIVER) {
		fuzz_check(c->origin == PEER && c->dest == SELF,
		           "a delivery is of the peer's stream to self");
		fuzz_check(outbox_check(&in, c->pos) == OUTBOX_ACCEPT ||
		               (c->pos.inc == last_proposed.inc &&
		                c->pos.seq == last_proposed.seq + 1),
		           "only the next entry, or the one right after the "
		           "last proposed (pipelined), is proposed for "
		           "delivery");
		last_proposed = c->pos;
		if (c->n > 0) {
			const uint8_t *p = c->payload, *e;
			size_t left = c->len, elen;
			unsigned i;

			fuzz_check(c->n <= OUTBOX_RUN_MAX,
			           "a run has at most OUTBOX_RUN_MAX entries");
			for (i = 0; i < c->n; i++) {
				fuzz_check(
				    outbox_run_next(&p, &left, &e, &elen),
				    "a run holds its n entries");
			}
			fuzz_check(left == 0, "and nothing more");
			last_proposed.seq += c->n - 1;
		}
	} else if (c->type == OUTBOX_CMD_SKIP) {
		/* The origin's word on its own stream: only forward. */
		fuzz_check(c->origin == PEER && c->dest == SELF &&
		               outbox_pos_cmp(c->pos, in.cursor) > 0,
		           "a skip is of the peer's stream, above the cursor");
	} else {
		fuzz_check(c->type == OUTBOX_CMD_ACKED, "a known command");
		fuzz_check(c->pos.inc == out.inc &&
		               c->pos.seq > out.acked.seq &&
		               c->pos.seq < out.next,
		           "an acknowledgement moves acked within what exists");
	}
}

static int
f_out_get(void *d, uint32_t dest, struct outbox_out *o)
{
	(void)d;
	(void)dest;
	*o = out;
	return 0;
}

static int
f_in_get(void *d, uint32_t origin, struct outbox_in *i)
{
	(void)d;
	(void)origin;
	*i = in;
	return 0;
}

static int
f_entry_get(void *d, uint32_t dest, struct outbox_pos pos, const uint8_t **p,
            size_t *len)
{
	(void)d;
	(void)dest;
	if (pos.inc != out.inc || pos.seq <= out.acked.seq ||
	    pos.seq >= out.next) {
		return -1;
	}
	*p = entry;
	*len = sizeof(entry);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outbox_env env = { NULL,      f_now,    f_send,      f_propose,
		                  f_out_get, f_in_get, f_entry_get, NULL };
	static struct outbox_driver d;
	struct outbox_msg m, back;
	uint8_t *buf;
	char err[128];
	size_t n;
	int rv;

	last_proposed = (struct outbox_pos){ 0, 0 }; /* a new driver */
	rv = outbox_wire_decode(data, size, &m, err, sizeof(err));
	if (rv != TB_OK) {
		fuzz_check(rv == TB_EMALFORMED || rv == TB_ETOOBIG,
		           "a refusal is malformed or too big");
		fuzz_check(err[0] != '\0', "a refusal has a reason");
		return 0;
	}
	/* Re-encoding gives the smallest form, which decodes the same. */
	buf = malloc(outbox_wire_size(&m));
	if (buf == NULL) {
		return 0;
	}
	n = outbox_wire_encode(&m, buf, outbox_wire_size(&m));
	fuzz_check(n > 0 && n <= size,
	           "an accepted frame re-encodes, no larger");
	fuzz_check(outbox_wire_decode(buf, n, &back, NULL, 0) == TB_OK &&
	               back.type == m.type && back.origin == m.origin &&
	               back.dest == m.dest && back.pos.inc == m.pos.inc &&
	               back.pos.seq == m.pos.seq && back.len == m.len &&
	               back.n == m.n &&
	               (m.len == 0 || !memcmp(back.payload, m.payload, m.len)),
	           "and decodes to the same frame");
	free(buf);

	/* A stream with 10 entries, 3 acknowledged; 5 delivered from the
	 * peer, both in incarnation 2. */
	outbox_out_init(&out, PEER, 2);
	out.next = 11;
	out.acked.seq = 3;
	in.origin = PEER;
	in.cursor.inc = 2;
	in.cursor.seq = 5;
	outbox_driver_init(&d, SELF, &env, NULL);
	/* Runs proposed or not, sent or not: by the input's size. */
	d.propose_runs = size & 1;
	outbox_driver_peer(&d, PEER)->takes_runs = size & 2;
	outbox_recv(&d, &m);
	outbox_tick(&d);
	return 0;
}
