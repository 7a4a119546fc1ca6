/* Unit tests of replication/outbox_wire.h: round trips, and a table of
 * malformed frames each refused with its field named. */
#include "replication/outbox_wire.h"
#include "schema/error.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>

static void
test_round_trip(void)
{
	static const uint8_t body[] = "case.event 370102-20261129-000001";
	struct outbox_msg d = {
		OUTBOX_MSG_DATA, 370102, 370100, { 3, 1ULL << 40 }, body,
		sizeof(body),    0,      0
	};
	struct outbox_msg a = { OUTBOX_MSG_ACK, 370102, 370100, { 3, 0 },
		                NULL,           0,      0,      0 };
	struct outbox_msg m;
	uint8_t buf[256];
	char err[128] = "";
	size_t n;

	n = outbox_wire_encode(&d, buf, sizeof(buf));
	ok(n > 0 && n <= outbox_wire_size(&d), "DATA encodes (%zu bytes)", n);
	is_int(outbox_wire_decode(buf, n, &m, err, sizeof(err)), TB_OK,
	       "  and decodes %s", err);
	ok(m.type == d.type && m.origin == d.origin && m.dest == d.dest &&
	       m.pos.inc == 3 && m.pos.seq == (1ULL << 40) &&
	       m.len == sizeof(body) && !memcmp(m.payload, body, m.len),
	   "  to the same frame");
	ok(m.payload >= buf && m.payload < buf + n,
	   "  its payload borrowed from the input");
	ok(outbox_wire_encode(&d, buf, 10) == 0,
	   "  a buffer too small encodes nothing");

	n = outbox_wire_encode(&a, buf, sizeof(buf));
	is_int(outbox_wire_decode(buf, n, &m, err, sizeof(err)), TB_OK,
	       "an ACK of nothing (seq 0) round-trips %s", err);
	ok(m.type == OUTBOX_MSG_ACK && m.pos.seq == 0 && m.len == 0,
	   "  unchanged");

	d.pos.seq = 0;
	ok(outbox_wire_encode(&d, buf, sizeof(buf)) == 0,
	   "DATA at seq 0 does not encode");
	d.pos.seq = 1;
	d.origin = 37010;
	ok(outbox_wire_encode(&d, buf, sizeof(buf)) == 0,
	   "a 5-digit region does not encode");
	a.len = 1;
	ok(outbox_wire_encode(&a, buf, sizeof(buf)) == 0,
	   "an ACK with a payload does not encode");
	a.len = 0;
	a.type = OUTBOX_MSG_SKIP;
	a.pos = (struct outbox_pos){ 2, 41 };
	n = outbox_wire_encode(&a, buf, sizeof(buf));
	ok(n > 0 && outbox_wire_decode(buf, n, &m, err, sizeof(err)) == TB_OK &&
	       m.type == OUTBOX_MSG_SKIP && m.pos.inc == 2 && m.pos.seq == 41 &&
	       m.len == 0,
	   "a SKIP (type 4, nil payload) round-trips %s", err);
}

static void
test_run(void)
{
	static const uint8_t e1[] = "summary 1", e3[] = "summary 3";
	uint8_t run[OUTBOX_RUN_BYTES], *big, buf[1024];
	struct outbox_msg d = {
		OUTBOX_MSG_DATA_RUN, 370102, 370100, { 1, 41 }, run, 0, 3, 0
	};
	const uint8_t *p, *e;
	size_t len = 0, left, elen, n;
	struct outbox_msg m;
	char err[128] = "";

	ok(outbox_run_put(run, sizeof(run), &len, e1, sizeof(e1)) &&
	       outbox_run_put(run, sizeof(run), &len, NULL, 0) &&
	       outbox_run_put(run, sizeof(run), &len, e3, sizeof(e3)),
	   "three entries (one empty) go into a run");
	d.len = len;
	n = outbox_wire_encode(&d, buf, sizeof(buf));
	ok(n > 0 && n <= outbox_wire_size(&d), "a run encodes (%zu bytes)", n);
	is_int(outbox_wire_decode(buf, n, &m, err, sizeof(err)), TB_OK,
	       "  and decodes %s", err);
	ok(m.type == OUTBOX_MSG_DATA_RUN && m.n == 3 && m.pos.seq == 41 &&
	       m.len == len && !memcmp(m.payload, run, len),
	   "  to the same run of 3 from seq 41");
	p = m.payload;
	left = m.len;
	ok(outbox_run_next(&p, &left, &e, &elen) && elen == sizeof(e1) &&
	       !memcmp(e, e1, elen) && outbox_run_next(&p, &left, &e, &elen) &&
	       elen == 0 && outbox_run_next(&p, &left, &e, &elen) &&
	       elen == sizeof(e3) && !memcmp(e, e3, elen) &&
	       !outbox_run_next(&p, &left, &e, &elen) && left == 0,
	   "  its entries read back in order, and then no more");
	d.n = 2;
	ok(outbox_wire_encode(&d, buf, sizeof(buf)) == 0,
	   "a run whose count is not its bins' does not encode");
	d.n = OUTBOX_RUN_MAX + 1;
	ok(outbox_wire_encode(&d, buf, sizeof(buf)) == 0, "nor a run of 65");
	big = calloc(1, 70000);
	len = 0;
	ok(big != NULL && outbox_run_put(run, sizeof(run), &len, big, 70000) &&
	       len == 70005,
	   "an entry of 70,000 bytes takes a bin32 header");
	ok(!outbox_run_put(run, sizeof(run), &len, big, 70000 * 3),
	   "one that does not fit in the run is refused");
	is_int(len, 70005, "  and the run is unchanged");
	free(big);
}

static void
test_malformed(void)
{
	/* Hand-written msgpack: 0xce is a uint32; R1 and R2 are 370070 and
	 * 370068 (any 6-digit codes do). */
#define R1 0xce, 0x00, 0x05, 0xa5, 0x96
#define R2 0xce, 0x00, 0x05, 0xa5, 0x94
	static const struct {
		const char *name;
		uint8_t bytes[32];
		size_t len;
		int code;
		const char *reason;
	} cases[] = {
		{ "empty", { 0 }, 0, TB_EMALFORMED, "empty frame" },
		{ "a map", { 0x80 }, 1, TB_EMALFORMED, "array of 6" },
		{ "array of 5",
		  { 0x95, 1, R1, R2, 1, 1 },
		  14,
		  TB_EMALFORMED,
		  "array of 6" },
		{ "type 5",
		  { 0x96, 5, R1, R2, 1, 1, 0xc0 },
		  15,
		  TB_EMALFORMED,
		  "[0] type" },
		{ "a skip with a payload",
		  { 0x96, 4, R1, R2, 1, 1, 0xc4, 1, 7 },
		  17,
		  TB_EMALFORMED,
		  "[5] payload: must be nil in a skip" },
		{ "a run of nil",
		  { 0x96, 3, R1, R2, 1, 1, 0xc0 },
		  15,
		  TB_EMALFORMED,
		  "[5] payload: must be an array" },
		{ "a run of none",
		  { 0x96, 3, R1, R2, 1, 1, 0x90 },
		  15,
		  TB_EMALFORMED,
		  "1 to 64 entries" },
		{ "a run of 65",
		  { 0x96, 3, R1, R2, 1, 1, 0xdc, 0, 65 },
		  17,
		  TB_EMALFORMED,
		  "1 to 64 entries" },
		{ "a run saying 2, holding 1",
		  { 0x96, 3, R1, R2, 1, 1, 0x92, 0xc4, 1, 7 },
		  18,
		  TB_EMALFORMED,
		  "as many as it says" },
		{ "a run of an int",
		  { 0x96, 3, R1, R2, 1, 1, 0x91, 7 },
		  16,
		  TB_EMALFORMED,
		  "must be a bin" },
		{ "a run at seq 0",
		  { 0x96, 3, R1, R2, 1, 0, 0x91, 0xc4, 1, 7 },
		  18,
		  TB_EMALFORMED,
		  "[4] seq" },
		{ "a run with a trailing byte",
		  { 0x96, 3, R1, R2, 1, 1, 0x91, 0xc4, 1, 7, 0 },
		  19,
		  TB_EMALFORMED,
		  "trailing" },
		{ "a run of one (array16)",
		  { 0x96, 3, R1, R2, 1, 1, 0xdc, 0, 1, 0xc4, 1, 7 },
		  20,
		  TB_OK,
		  "" },
		{ "type -1",
		  { 0x96, 0xff, R1, R2, 1, 1, 0xc0 },
		  15,
		  TB_EMALFORMED,
		  "[0] type" },
		{ "origin 7",
		  { 0x96, 2, 7, R2, 1, 1, 0xc0 },
		  11,
		  TB_EMALFORMED,
		  "[1] origin" },
		{ "dest a string",
		  { 0x96, 2, R1, 0xa1, 'x', 1, 1, 0xc0 },
		  12,
		  TB_EMALFORMED,
		  "[2] dest" },
		{ "inc 2^32",
		  { 0x96, 2, R1, R2, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0xc0 },
		  23,
		  TB_EMALFORMED,
		  "[3] inc" },
		{ "seq negative",
		  { 0x96, 2, R1, R2, 1, 0xd0, 0x80, 0xc0 },
		  16,
		  TB_EMALFORMED,
		  "[4] seq" },
		{ "ack with a bin",
		  { 0x96, 2, R1, R2, 1, 1, 0xc4, 1, 'x' },
		  17,
		  TB_EMALFORMED,
		  "[5] payload" },
		{ "data at seq 0",
		  { 0x96, 1, R1, R2, 1, 0, 0xc4, 0 },
		  16,
		  TB_EMALFORMED,
		  "[4] seq" },
		{ "data with nil",
		  { 0x96, 1, R1, R2, 1, 1, 0xc0 },
		  15,
		  TB_EMALFORMED,
		  "[5] payload" },
		{ "data with a str",
		  { 0x96, 1, R1, R2, 1, 1, 0xa1, 'x' },
		  16,
		  TB_EMALFORMED,
		  "[5] payload" },
		{ "data bin truncated",
		  { 0x96, 1, R1, R2, 1, 1, 0xc4, 5, 'x' },
		  17,
		  TB_EMALFORMED,
		  "[5] payload: truncated" },
		{ "data bin over 16 MiB, no body",
		  { 0x96, 1, R1, R2, 1, 1, 0xc6, 1, 0, 0, 1 },
		  20,
		  TB_ETOOBIG,
		  "[5] payload: larger" },
		{ "array32 of 6",
		  { 0xdd, 0, 0, 0, 6, 2, R1, R2, 1, 1, 0xc0 },
		  19,
		  TB_EMALFORMED,
		  "array of 6" },
		{ "array32 of 2^32-1",
		  { 0xdd, 0xff, 0xff, 0xff, 0xff },
		  5,
		  TB_EMALFORMED,
		  "array of 6" },
		{ "type as uint16",
		  { 0x96, 0xcd, 0, 2, R1, R2, 1, 1, 0xc0 },
		  17,
		  TB_OK,
		  "" },
		{ "ack missing its payload",
		  { 0x96, 2, R1, R2, 1, 1 },
		  14,
		  TB_EMALFORMED,
		  "[5] payload: missing" },
		{ "trailing byte",
		  { 0x96, 2, R1, R2, 1, 1, 0xc0, 0 },
		  16,
		  TB_EMALFORMED,
		  "trailing" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outbox_msg m;
		char err[128] = "";
		int rv = outbox_wire_decode(cases[i].bytes, cases[i].len, &m,
		                            err, sizeof(err));

		is_str(tb_errname(rv), tb_errname(cases[i].code), "%s: %s",
		       cases[i].name, tb_errname(cases[i].code));
		ok(strstr(err, cases[i].reason) != NULL, "  naming '%s': %s",
		   cases[i].reason, rv == TB_OK ? "(accepted)" : err);
	}
}

static void
test_too_big(void)
{
	size_t body = OUTBOX_MAX_PAYLOAD + 1, n = 16 + body;
	uint8_t *buf = calloc(1, n);
	uint8_t head[] = {
		0x96, 1, R1, R2, 1, 1, 0xc6, 0x01, 0x00, 0x00, 0x01
	};
	struct outbox_msg m;
	char err[128] = "";

	if (buf == NULL) {
		ok(0, "allocation");
		return;
	}
	memcpy(buf, head, sizeof(head));
	is_str(tb_errname(outbox_wire_decode(buf, sizeof(head) + body, &m, err,
	                                     sizeof(err))),
	       "too_big", "a payload of 16 MiB + 1 is refused as too big");
	ok(strstr(err, "[5] payload") != NULL, "  naming the payload: %s", err);
	is_str(tb_errname(outbox_wire_decode(buf, 2 * OUTBOX_MAX_PAYLOAD, &m,
	                                     err, sizeof(err))),
	       "too_big", "a 32 MiB frame is refused before it is parsed");
	free(buf);
}

int
main(void)
{
	test_round_trip();
	test_malformed();
	test_run();
	test_too_big();
	return done_testing();
}
