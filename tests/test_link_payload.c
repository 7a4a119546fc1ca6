/* The payload of a link frame (schema/link_payload.c): a table of payloads
 * with what each decodes to or why it is refused, and the header encoder
 * against the decoder. */
#include "schema/link_payload.h"
#include "tests/tap.h"

#include <string.h>

struct tcase {
	const char *name;
	uint8_t p[32];
	size_t n;
	int rv;
	uint8_t kind;
	uint32_t type;
	uint64_t id, count;
	size_t len;
	const char *why; /* in errmsg on a refusal */
};

static const struct tcase cases[] = {
	{ "a one-way message",
	  { 1, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 'h', 'i' },
	  18,
	  TB_OK,
	  LK_MSG,
	  100,
	  0,
	  0,
	  2,
	  NULL },
	{ "a request with its id",
	  { 2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2 },
	  16,
	  TB_OK,
	  LK_REQ,
	  1,
	  258,
	  0,
	  0,
	  NULL },
	{ "an error response",
	  { 3, 1, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 9, 'n', 'o' },
	  18,
	  TB_OK,
	  LK_RESP,
	  20,
	  9,
	  0,
	  2,
	  NULL },
	{ "a credit",
	  { 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17 },
	  12,
	  TB_OK,
	  LK_CREDIT,
	  0,
	  0,
	  17,
	  0,
	  NULL },
	{ "HELLO", { 6, 0, 0, 0 }, 4, TB_OK, LK_HELLO, 0, 0, 0, 0, NULL },
	{ "a chunk",
	  { 4, 0, 0, 0, 1, 2, 3 },
	  7,
	  TB_OK,
	  LK_CHUNK,
	  0,
	  0,
	  0,
	  3,
	  NULL },
	{ "empty",
	  { 0 },
	  0,
	  TB_EMALFORMED,
	  0,
	  0,
	  0,
	  0,
	  0,
	  "a payload of 0 bytes without a valid kind" },
	{ "reserved bytes set",
	  { 1, 0, 1, 0 },
	  4,
	  TB_EMALFORMED,
	  0,
	  0,
	  0,
	  0,
	  0,
	  "without a valid kind" },
	{ "an unknown kind",
	  { 9, 0, 0, 0 },
	  4,
	  TB_EMALFORMED,
	  0,
	  0,
	  0,
	  0,
	  0,
	  "unknown payload kind 9" },
	{ "a message shorter than its header",
	  { 1, 0, 0, 0, 0, 0 },
	  6,
	  TB_EMALFORMED,
	  0,
	  0,
	  0,
	  0,
	  0,
	  "a message of 6 bytes, shorter than its 16-byte header" },
	{ "a flag on a request",
	  { 2, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 },
	  16,
	  TB_EMALFORMED,
	  0,
	  0,
	  0,
	  0,
	  0,
	  "message kind 2 flags 1" },
	{ "a credit of 11 bytes",
	  { 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	  11,
	  TB_EMALFORMED,
	  0,
	  0,
	  0,
	  0,
	  0,
	  "a credit of 11 bytes" },
	{ "a HELLO with a body",
	  { 6, 0, 0, 0, 0 },
	  5,
	  TB_EMALFORMED,
	  0,
	  0,
	  0,
	  0,
	  0,
	  "a HELLO of 5 bytes" },
	{ "a flag on a chunk",
	  { 4, 2, 0, 0, 1 },
	  5,
	  TB_EMALFORMED,
	  0,
	  0,
	  0,
	  0,
	  0,
	  "payload kind 4 flags 2" },
};

int
main(void)
{
	struct link_payload d;
	uint8_t hdr[LINK_HDR];
	char why[160];
	size_t i;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		why[0] = '\0';
		rv = link_payload_decode(c->p, c->n, &d, why, sizeof(why));
		is_int(rv, c->rv, "%s: result", c->name);
		if (c->rv != TB_OK) {
			like(why, c->why, "%s: the reason", c->name);
			continue;
		}
		ok(d.kind == c->kind && d.type == c->type && d.id == c->id &&
		       d.count == c->count && d.len == c->len,
		   "%s: kind %u type %u id %llu count %llu len %zu", c->name,
		   d.kind, d.type, (unsigned long long)d.id,
		   (unsigned long long)d.count, d.len);
	}
	is_int(link_payload_decode_msg(cases[4].p, 4, &d, why, sizeof(why)),
	       TB_EMALFORMED, "decode_msg refuses a HELLO");
	like(why, "shorter than its 16-byte header", "as too short");
	is_int(link_payload_header(hdr, LK_RESP, LF_ERROR, 20, 9), LINK_HDR,
	       "a response header is 16 bytes");
	ok(!memcmp(hdr, cases[2].p, LINK_HDR), "and as the table has it");
	is_int(link_payload_header(hdr, LK_CREDIT, 7, 0, 0), LINK_CHUNK_PRE,
	       "a credit's prefix is 4 bytes");
	ok(hdr[0] == LK_CREDIT && hdr[1] == 0, "flags dropped");
	return done_testing();
}
