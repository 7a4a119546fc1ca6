/* Join tokens: the tbj1 string (schema/join.h) and the join.create /
 * join.use commands applied by a real store (node/fsm_join.c). */
#include "tests/tap.h"

#include "schema/join.h"
#include "tests/store_util.h"

#include <sodium.h>

static struct join_token
sample(void)
{
	struct join_token t;

	memset(&t, 0, sizeof(t));
	t.role = JOIN_CHILD;
	snprintf(t.region, sizeof(t.region), "370100");
	snprintf(t.id, sizeof(t.id), "0123456789abcdef");
	randombytes_buf(t.secret, sizeof(t.secret));
	snprintf(t.issuer_node, sizeof(t.issuer_node), "fedcba9876543210");
	randombytes_buf(t.issuer_kx, sizeof(t.issuer_kx));
	t.expires = 1780272000;
	snprintf(t.addr, sizeof(t.addr), "10.0.0.1:7401");
	return t;
}

static void
test_string(void)
{
	struct join_token t = sample(), u, bad;
	char s[JOIN_STRING_MAX], e[JOIN_STRING_MAX], err[256];
	size_t i, n, refused = 0;

	is_int(join_encode(&t, s, sizeof(s)), TB_OK, "a token encodes");
	like(s, JOIN_PREFIX, "  as tbj1.");
	is_int(join_decode(s, &u, err, sizeof(err)), TB_OK, "  and decodes");
	ok(u.role == t.role && !strcmp(u.region, t.region) &&
	       !strcmp(u.id, t.id) && !memcmp(u.secret, t.secret, 32) &&
	       !strcmp(u.issuer_node, t.issuer_node) &&
	       !memcmp(u.issuer_kx, t.issuer_kx, 32) &&
	       u.expires == t.expires && !strcmp(u.addr, t.addr),
	   "  to the same fields");

	/* Every one-character edit of the body is refused. */
	n = strlen(s);
	for (i = strlen(JOIN_PREFIX); i < n; i++) {
		memcpy(e, s, n + 1);
		e[i] = e[i] == 'A' ? 'B' : 'A';
		refused += join_decode(e, &u, err, sizeof(err)) != TB_OK;
	}
	is_int((int)refused, (int)(n - strlen(JOIN_PREFIX)),
	       "every one-character edit of %zu is refused",
	       n - strlen(JOIN_PREFIX));
	memcpy(e, s, n + 1);
	e[20] = e[20] == 'A' ? 'B' : 'A';
	join_decode(e, &u, err, sizeof(err));
	like(err, "tampered with or mistyped", "  by the check");
	for (i = strlen(JOIN_PREFIX) + 1, refused = 0; i < n; i++) {
		memcpy(e, s, i);
		e[i] = '\0';
		refused += join_decode(e, &u, err, sizeof(err)) != TB_OK;
	}
	is_int((int)refused, (int)(n - strlen(JOIN_PREFIX) - 1),
	       "every truncation is refused");
	is_int(join_decode("tbc1.abc", &u, err, sizeof(err)), TB_EMALFORMED,
	       "another prefix is refused");
	like(err, "starts with \"tbj1.\"", "  saying what a token starts with");
	is_int(join_decode("tbj1.***", &u, err, sizeof(err)), TB_EMALFORMED,
	       "a body that is not base64url is refused");
	bad = t;
	bad.role = 9;
	is_int(join_encode(&bad, e, sizeof(e)), TB_EINVAL,
	       "an unknown role does not encode");
	bad = t;
	snprintf(bad.addr, sizeof(bad.addr), "no-port");
	is_int(join_encode(&bad, e, sizeof(e)), TB_EINVAL,
	       "an address without a port does not encode");
	join_token_wipe(&t);
	join_token_wipe(&u);
}

static char DIR_J[64];
static uint64_t IDX;

/* apply applies one command; returns its refusal's code name or "ok". */
static const char *
apply(struct store *s, enum cmd_type ty, int64_t at, json_t *body, char *msg,
      size_t n)
{
	static char code[32];
	struct canon_buf b = su_encode(ty, at, NULL, body);
	json_t *res = NULL, *e;
	int rv = store_apply(s, ++IDX, b.data, b.len, &res);

	canon_buf_free(&b);
	snprintf(code, sizeof(code), "%s", rv != 0 ? tb_errname(rv) : "ok");
	msg[0] = '\0';
	if ((e = json_object_get(res, "error")) != NULL) {
		snprintf(code, sizeof(code), "%s", spec_str(e, "code"));
		snprintf(msg, n, "%s: %s", spec_str(e, "field"),
		         spec_str(e, "message"));
	}
	json_decref(res);
	return code;
}

static json_t *
create_body(const char *id, const char *hash, const char *role, int64_t exp)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "id", id, "hash",
	                 hash, "region", "370100", "role", role, "expires",
	                 (json_int_t)exp, "issuer", "fedcba9876543210");
}

static json_t *
use_body(const char *id, const char *hash, const char *region, const char *role)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "hash", hash,
	                 "region", region, "role", role, "node_id",
	                 "1111222233334444");
}

static void
test_apply(void)
{
	uint8_t sec[32];
	char h[65], h2[65], msg[300];
	struct store *s;
	int64_t t0 = SU_T0, hour = 3600000;
	json_t *rec = NULL;

	snprintf(DIR_J, sizeof(DIR_J), "/tmp/tb-join-XXXXXX");
	if (mkdtemp(DIR_J) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	tu_rmtree(DIR_J);
	if ((s = su_open(DIR_J, "370000")) == NULL) {
		ok(0, "the store opens");
		return;
	}
	randombytes_buf(sec, sizeof(sec));
	join_secret_hash(sec, h);
	sec[0] ^= 1;
	join_secret_hash(sec, h2);

	is_str(apply(s, CMD_JOIN_CREATE, t0,
	             create_body("0123456789abcdef", h, "child", t0 + hour),
	             msg, sizeof(msg)),
	       "ok", "join.create stores a token");
	is_int(store_join_get(s, "0123456789abcdef", &rec), TB_OK,
	       "  readable by id");
	is_str(spec_str(rec, "hash"), h, "  with the secret's hash");
	json_decref(rec);
	is_str(apply(s, CMD_JOIN_CREATE, t0,
	             create_body("0123456789abcdef", h, "child", t0 + hour),
	             msg, sizeof(msg)),
	       "duplicate", "the same id again is refused");
	is_str(apply(s, CMD_JOIN_CREATE, t0,
	             create_body("0123456789abcde0", h, "child",
	                         t0 + 8 * 24 * hour),
	             msg, sizeof(msg)),
	       "out_of_range", "a token of more than 7 days is refused");
	like(msg, "$.body.expires", "  at $.body.expires");
	is_str(apply(s, CMD_JOIN_CREATE, t0,
	             create_body("0123456789abcde1", h, "admin", t0 + hour),
	             msg, sizeof(msg)),
	       "bad_code", "an unknown role is refused");
	is_str(apply(s, CMD_JOIN_CREATE, t0,
	             create_body("XYZ", h, "child", t0 + hour), msg,
	             sizeof(msg)),
	       "bad_code", "an id that is not 16 hex digits is refused");

	is_str(apply(s, CMD_JOIN_USE, t0 + 1,
	             use_body("0123456789abcdef", h2, "370100", "child"), msg,
	             sizeof(msg)),
	       "bad_signature",
	       "join.use with another secret's hash is refused");
	is_str(apply(s, CMD_JOIN_USE, t0 + 1,
	             use_body("0123456789abcdef", h, "370200", "child"), msg,
	             sizeof(msg)),
	       "forbidden", "for another region");
	is_str(apply(s, CMD_JOIN_USE, t0 + 1,
	             use_body("0123456789abcdef", h, "370100", "member"), msg,
	             sizeof(msg)),
	       "forbidden", "for another role");
	is_str(apply(s, CMD_JOIN_USE, t0 + 1,
	             use_body("9999999999999999", h, "370100", "child"), msg,
	             sizeof(msg)),
	       "not_found", "an unknown id");
	is_str(apply(s, CMD_JOIN_USE, t0 + 2,
	             use_body("0123456789abcdef", h, "370100", "child"), msg,
	             sizeof(msg)),
	       "ok", "the token's use, after those refusals, is applied");
	is_str(apply(s, CMD_JOIN_USE, t0 + 3,
	             use_body("0123456789abcdef", h, "370100", "child"), msg,
	             sizeof(msg)),
	       "conflict",
	       "a second use is refused by the apply (two members holding the "
	       "key cannot both honour it)");
	like(msg, "used already (by node 1111222233334444)",
	     "  naming the node");

	is_str(apply(s, CMD_JOIN_CREATE, t0 + 4,
	             create_body("00000000000000aa", h, "member", t0 + 10), msg,
	             sizeof(msg)),
	       "ok", "a short token");
	is_str(apply(s, CMD_JOIN_USE, t0 + 10,
	             use_body("00000000000000aa", h, "370100", "member"), msg,
	             sizeof(msg)),
	       "out_of_range",
	       "used at its expiry (by the command's time): refused");
	is_int(store_join_get(s, "00000000000000aa", &rec), TB_OK,
	       "  and still unused");
	ok(json_object_get(rec, "used_at") == NULL, "  (no used_at)");
	json_decref(rec);
	store_close(s);
	tu_rmtree(DIR_J);
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	test_string();
	test_apply();
	return done_testing();
}
