/* Tests for the wire form of batched forwarded writes (consensus/fwdmsg.h):
 * round trips, every truncation, wrong types, counts, trailing bytes, and
 * the leader's restamp of a real command. */
#include "consensus/fwdmsg.h"
#include "schema/command.h"
#include "schema/error.h"
#include "tests/tap.h"

static char err[256];

static void
test_request(void)
{
	static const uint8_t a[] = "first", b[] = { 0x81, 0xa1, 'k', 0x01 };
	struct fwdmsg_cmd in[2] = { { a, 5 }, { b, sizeof(b) } }, out[4];
	unsigned n = 0;
	uint8_t *buf, bad[64];
	size_t len, i;
	void *p;
	int rv;

	is_int(fwdmsg_req_encode(in, 2, &p, &len), TB_OK, "encode a request");
	buf = p;
	is_int(fwdmsg_req_decode(buf, len, out, 4, &n, err, sizeof(err)), TB_OK,
	       "decode it");
	is_int(n, 2, "two commands");
	ok(out[0].n == 5 && !memcmp(out[0].p, "first", 5) &&
	       out[1].n == sizeof(b) && !memcmp(out[1].p, b, sizeof(b)),
	   "the same bytes back");
	for (i = 0; i < len; i++) {
		rv = fwdmsg_req_decode(buf, i, out, 4, &n, err, sizeof(err));
		if (rv == TB_OK) {
			break;
		}
	}
	is_int(i, len, "every truncation is refused (%zu prefixes)", len);
	is_int(fwdmsg_req_decode(buf, len, out, 1, &n, err, sizeof(err)),
	       TB_ETOOBIG, "more commands than the caller takes");
	memcpy(bad, buf, len);
	bad[len] = 0xc0;
	is_int(fwdmsg_req_decode(bad, len + 1, out, 4, &n, err, sizeof(err)),
	       TB_EMALFORMED, "trailing bytes");
	ok(strstr(err, "trailing") != NULL, "  named: %s", err);
	bad[1] = 2;
	is_int(fwdmsg_req_decode(bad, len, out, 4, &n, err, sizeof(err)),
	       TB_EMALFORMED, "another version");
	memcpy(bad, buf, len);
	bad[3] = 0xa5; /* a str where a bin is expected */
	is_int(fwdmsg_req_decode(bad, len, out, 4, &n, err, sizeof(err)),
	       TB_ETYPE, "a string instead of a command's bytes");
	/* [1, [0 x 3]]: a count beyond the bytes left */
	memcpy(bad, "\x92\x01\xdd\x00\x01\x00\x00", 7);
	is_int(fwdmsg_req_decode(bad, 7, out, 4, &n, err, sizeof(err)),
	       TB_ETOOBIG, "a count of 65536 is refused before any read");
	memcpy(bad, "\x92\x01\x90", 3);
	is_int(fwdmsg_req_decode(bad, 3, out, 4, &n, err, sizeof(err)),
	       TB_ETOOBIG, "an empty batch");
	memcpy(bad, "\x92\x01\x91\xc4\x00", 5);
	is_int(fwdmsg_req_decode(bad, 5, out, 4, &n, err, sizeof(err)),
	       TB_EMALFORMED, "an empty command");
	is_int(fwdmsg_req_encode(in, 0, &p, &len), TB_EINVAL,
	       "encoding no command is refused");
	free(buf);
}

static void
test_answer(void)
{
	struct fwdmsg_ans in[3] = { { 41, 0, NULL, 0 },
		                    { 0, TB_EFEATURE, "needs level 3", 0 },
		                    { 0x100000000ull, 0, NULL, 0 } },
	                  out[3];
	uint64_t term = 0;
	uint8_t *buf;
	size_t len, i;
	void *p;
	int rv;

	is_int(fwdmsg_ans_encode(7, in, 3, &p, &len), TB_OK,
	       "encode an answer");
	buf = p;
	is_int(fwdmsg_ans_decode(buf, len, &term, out, 3, err, sizeof(err)),
	       TB_OK, "decode it");
	is_int(term, 7, "the term");
	ok(out[0].code == 0 && out[0].index == 41 && out[2].code == 0 &&
	       out[2].index == 0x100000000ull,
	   "the indexes");
	ok(out[1].code == TB_EFEATURE && out[1].why_len == 13 &&
	       !memcmp(out[1].why, "needs level 3", 13),
	   "the refusal, code and reason");
	is_int(fwdmsg_ans_decode(buf, len, &term, out, 2, err, sizeof(err)),
	       TB_ETOOBIG, "not the number of commands sent");
	for (i = 0; i < len; i++) {
		rv = fwdmsg_ans_decode(buf, i, &term, out, 3, err, sizeof(err));
		if (rv == TB_OK) {
			break;
		}
	}
	is_int(i, len, "every truncation is refused (%zu prefixes)", len);
	free(buf);
	/* [1, 7, [0]]: index 0 names no entry */
	is_int(fwdmsg_ans_decode((const uint8_t *)"\x93\x01\x07\x91\x00", 5,
	                         &term, out, 1, err, sizeof(err)),
	       TB_EMALFORMED, "index 0 is refused");
	/* [1, 7, [[0, ""]]]: code 0 is not a refusal */
	is_int(
	    fwdmsg_ans_decode((const uint8_t *)"\x93\x01\x07\x91\x92\x00\xa0",
	                      7, &term, out, 1, err, sizeof(err)),
	    TB_EMALFORMED, "a refusal with code 0 is refused");
}

static void
test_restamp(void)
{
	struct canon_buf b = { 0 };
	json_t *body = json_pack("{s:s}", "id", "t1");
	struct cmd c;
	uint8_t *p;

	is_int(cmd_encode(CMD_TOKEN_REVOKE, 1700000000000LL, "k1", body, &b,
	                  err, sizeof(err)),
	       TB_OK, "encode a command");
	p = b.data;
	is_int(fwdmsg_restamp(p, b.len, 1800000000123LL), TB_OK, "restamp it");
	is_int(cmd_decode(p, b.len, &c, err, sizeof(err)), TB_OK,
	       "it still decodes (%s)", err);
	is_int(c.at, 1800000000123LL, "with the new stamp");
	is_str(c.key, "k1", "and its key");
	cmd_free(&c);
	is_int(fwdmsg_restamp(p, b.len, 1000), TB_EMALFORMED,
	       "a stamp under 2^32 would change the length: refused");
	p[2] = 'b';
	is_int(fwdmsg_restamp(p, b.len, 1800000000123LL), TB_EMALFORMED,
	       "no \"at\" first: refused");
	is_int(fwdmsg_restamp((uint8_t *)"\x91\x01", 2, 1800000000123LL),
	       TB_EMALFORMED, "not a map: refused");
	canon_buf_free(&b);
	json_decref(body);
}

int
main(void)
{
	test_request();
	test_answer();
	test_restamp();
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
