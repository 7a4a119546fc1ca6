/* Tests for the command envelope: encoding, decoding and refusals. */
#include "schema/command.h"
#include "tests/tap.h"

/* Made by python3-msgpack (Debian) from the same command with sorted
 * keys: msgpack.packb(cmd, use_bin_type=True).hex(). */
static const char golden_hex[] =
    "85a26174cf0000019b76daa800a4626f647984a6616374696f6ea6616363657074"
    "a56163746f72a7636c65726b2d37a463617365b63337303130322d323032363031"
    "30312d303030303031a776657273696f6e01a36b6579a66964656d2d31a4747970"
    "65ab636173652e616374696f6ea17601";

static size_t
unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2, i;

	for (i = 0; i < n; i++) {
		sscanf(s + 2 * i, "%2hhx", &out[i]);
	}
	return n;
}

static json_t *
action_body(void)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "case",
	                 "370102-20260101-000001", "action", "accept",
	                 "version", 1, "actor", "clerk-7");
}

/* encode_env encodes an arbitrary envelope (to build bad commands). */
static struct canon_buf
encode_env(json_t *env)
{
	struct canon_buf b = { 0 };
	char err[128];

	canon_encode(env, &b, err, sizeof(err));
	json_decref(env);
	return b;
}

struct refusal {
	const char *name;
	const char *env; /* JSON envelope */
	int code;
	const char *msg;
};

static const struct refusal refusals[] = {
	{ "unknown type",
	  "{\"type\":\"case.teleport\",\"v\":1,\"at\":1,\"body\":{}}",
	  TB_EUNKNOWN, "$.type: unknown command type \"case.teleport\"" },
	{ "newer body version",
	  "{\"type\":\"token.revoke\",\"v\":2,\"at\":1,\"body\":{\"id\":\"t\"}"
	  "}",
	  TB_ECODE, "version 2 of token.revoke is not supported" },
	{ "unknown body field",
	  "{\"type\":\"token.revoke\",\"v\":1,\"at\":1,\"body\":{\"id\":\"t\","
	  "\"why\":\"x\"}}",
	  TB_EUNKNOWN, "$.body.why: unknown field 'why'" },
	{ "missing body field",
	  "{\"type\":\"token.revoke\",\"v\":1,\"at\":1,\"body\":{}}",
	  TB_EMISSING, "$.body.id: required field 'id' is missing" },
	{ "wrong body type",
	  "{\"type\":\"token.revoke\",\"v\":1,\"at\":1,\"body\":{\"id\":7}}",
	  TB_ETYPE, "$.body.id: must be a string" },
	{ "unknown envelope field",
	  "{\"type\":\"token.revoke\",\"v\":1,\"at\":1,\"x\":0,\"body\":"
	  "{\"id\":\"t\"}}",
	  TB_EUNKNOWN, "$.x: unknown field 'x'" },
	{ "no time stamp",
	  "{\"type\":\"token.revoke\",\"v\":1,\"body\":{\"id\":\"t\"}}",
	  TB_EMISSING, "$.at: required field 'at' is missing" },
	{ "envelope is an array", "[1,2]", TB_ETYPE, "$: must be an object" },
};

/* test_splice: a document's bytes spliced into its command are the bytes
 * of the command encoded with the document in it, and decode as it. */
static void
test_splice(void)
{
	json_t *doc = json_pack("{s:s, s:i, s:[s, s]}", "region", "370000",
	                        "version", 2, "matters", "a", "b");
	json_t *full = json_pack("{s:O}", "release", doc);
	json_t *hole = json_pack("{s:n}", "release");
	struct canon_buf want = { 0 }, got = { 0 }, db = { 0 };
	struct cmd c;
	char err[256];

	canon_encode(doc, &db, err, sizeof(err));
	cmd_encode(CMD_CATALOG_RELEASE, 42, NULL, full, &want, err,
	           sizeof(err));
	cmd_encode(CMD_CATALOG_RELEASE, 42, NULL, hole, &got, err, sizeof(err));
	is_int(cmd_splice(&got, "release", db.data, db.len, err, sizeof(err)),
	       TB_OK, "the release's bytes spliced into its command");
	ok(got.len == want.len && !memcmp(got.data, want.data, got.len),
	   "the same bytes as the command encoded with the release in it");
	ok(cmd_decode(got.data, got.len, &c, err, sizeof(err)) == TB_OK &&
	       json_equal(json_object_get(c.body, "release"), doc) &&
	       c.raw == got.data && c.rawlen == got.len,
	   "it decodes to the release, and raw names its bytes");
	cmd_free(&c);
	is_int(cmd_splice(&got, "release", db.data, db.len, err, sizeof(err)),
	       TB_EINVAL, "no nil left to replace: refused");
	like(err, "0 places", "and said");
	canon_buf_free(&want);
	canon_buf_free(&got);
	canon_buf_free(&db);
	json_decref(doc);
	json_decref(full);
	json_decref(hole);
}

int
main(void)
{
	uint8_t golden[256], *p;
	struct canon_buf b = { 0 };
	struct cmd c;
	char err[256];
	json_t *body;
	size_t n, i;
	int t;

	body = action_body();
	is_int(cmd_encode(CMD_CASE_ACTION, 1767225600000LL, "idem-1", body, &b,
	                  err, sizeof(err)),
	       TB_OK, "encode a case action");
	n = unhex(golden_hex, golden);
	is_int(b.len, n, "same length as python3-msgpack");
	ok(b.len == n && memcmp(b.data, golden, n) == 0,
	   "byte-identical to python3-msgpack");
	is_int(cmd_decode(golden, n, &c, err, sizeof(err)), TB_OK,
	       "decode the golden command");
	is_int(c.type, CMD_CASE_ACTION, "type");
	is_int(c.version, 1, "version");
	is_int(c.at, 1767225600000LL, "leader's time stamp");
	is_str(c.key, "idem-1", "idempotency key");
	ok(json_equal((json_t *)c.body, body), "body round-trips");
	cmd_free(&c);
	canon_buf_free(&b);
	json_decref(body);

	for (t = 0; t < CMD_TYPE_COUNT; t++) {
		enum cmd_type back;
		is_int(cmd_type_parse(cmd_type_name(t), &back), TB_OK,
		       "type %s parses", cmd_type_name(t));
		is_int(back, t, "to itself");
		ok(cmd_feature_level(t) >= 1, "and has a feature level");
	}

	/* Non-canonical: the version 1 as uint8 0xcc 0x01. */
	p = NULL;
	for (i = 0; i + 3 <= n && p == NULL; i++) {
		if (!memcmp(golden + i, "\xa1\x76\x01", 3)) {
			p = golden + i;
		}
	}
	ok(p != NULL, "found v in the golden bytes");
	if (p != NULL) {
		uint8_t longer[300];
		size_t off = (size_t)(p - golden) + 2;
		memcpy(longer, golden, off);
		longer[off] = 0xcc;
		longer[off + 1] = 0x01;
		memcpy(longer + off + 2, golden + off + 1, n - off - 1);
		is_int(cmd_decode(longer, n + 1, &c, err, sizeof(err)),
		       TB_ECANON, "a longer integer form is refused");
		like(err, "not in its shortest form", "and named");
	}
	for (i = 1; i < n; i += 7) {
		is_int(cmd_decode(golden, i, &c, err, sizeof(err)) != TB_OK, 1,
		       "truncated at %zu refused", i);
	}
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		json_error_t je;
		json_t *env = json_loads(refusals[i].env, 0, &je);
		b = encode_env(env);
		is_int(cmd_decode(b.data, b.len, &c, err, sizeof(err)),
		       refusals[i].code, "%s refused", refusals[i].name);
		like(err, refusals[i].msg, "%s: message", refusals[i].name);
		ok(c.doc == NULL, "%s: nothing kept", refusals[i].name);
		canon_buf_free(&b);
	}
	body = json_pack("{s:f}", "x", 1.5);
	is_int(
	    cmd_encode(CMD_TOKEN_REVOKE, 1, NULL, body, &b, err, sizeof(err)),
	    TB_ETYPE, "a float in a body is refused when encoding");
	like(err, "$.body.x: numbers must be integers", "with its path");
	canon_buf_free(&b);
	json_decref(body);
	test_splice();
	return done_testing();
}
