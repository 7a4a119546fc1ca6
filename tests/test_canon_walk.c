/* Unit tests of schema/canon_walk.h and trust_verify_release_bytes: the
 * bytes of a map without a key are what canon_encode_without writes, and a
 * release checked from its bytes gets the same verdict, and the same
 * message, as one checked from its decoded JSON. */
#include "schema/canon_walk.h"
#include "schema/error.h"
#include "schema/trust.h"
#include "tests/tap.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static json_t *
load(const char *rel)
{
	char path[512];
	json_error_t e;

	snprintf(path, sizeof(path), "%s/%s", TB_SOURCE_DIR, rel);
	return json_load_file(path, 0, &e);
}

/* same_without: canon_bytes_without over v's bytes equals
 * canon_encode_without(v). */
static bool
same_without(const json_t *v, const char *skip)
{
	struct canon_buf enc = { 0 }, want = { 0 }, got = { 0 };
	char err[128];
	bool same;

	same = canon_encode(v, &enc, err, sizeof(err)) == 0 &&
	       canon_encode_without(v, skip, &want, err, sizeof(err)) == 0 &&
	       canon_bytes_without(enc.data, enc.len, skip, &got) == TB_OK &&
	       got.len == want.len && !memcmp(got.data, want.data, got.len);
	canon_buf_free(&enc);
	canon_buf_free(&want);
	canon_buf_free(&got);
	return same;
}

static void
test_without(void)
{
	json_t *m = json_object(),
	       *rel = load("ops/examples/catalog-370000.json");
	char k[8];
	int i;

	ok(rel != NULL, "the example catalog loads");
	ok(same_without(rel, "signatures"),
	   "a release without signatures: the bytes are the encoder's");
	ok(same_without(rel, "matters"),
	   "without its matters (a large member): the same");
	ok(same_without(rel, "no_such_key"),
	   "without a key it does not have: the map as it is");
	for (i = 0; i < 15; i++) {
		snprintf(k, sizeof(k), "k%02d", i);
		json_object_set_new(m, k, json_integer(i * 1000));
	}
	json_object_set_new(m, "signatures", json_array());
	ok(same_without(m, "signatures"),
	   "16 members less one: map16 becomes a fixmap, as encoded");
	ok(same_without(m, "k00") && same_without(m, "k14"),
	   "the first and the last member left out");
	json_decref(m);
	json_decref(rel);
}

static void
test_get(void)
{
	json_t *v = json_pack("{s:i, s:[i, s], s:{s:n}, s:s}", "a", 1, "b", 2,
	                      "x", "c", "d", "e", "zz");
	struct canon_buf enc = { 0 };
	const uint8_t *p;
	size_t n;
	char err[128];

	canon_encode(v, &enc, err, sizeof(err));
	ok(canon_map_get(enc.data, enc.len, "b", &p, &n) == TB_OK && n == 4 &&
	       p[0] == 0x92,
	   "the value of b, an array of 2, is 4 bytes");
	ok(canon_map_get(enc.data, enc.len, "e", &p, &n) == TB_OK && n == 3,
	   "the value of e (\"zz\") is 3 bytes");
	is_int(canon_map_get(enc.data, enc.len, "q", &p, &n), TB_ENOTFOUND,
	       "a key it does not have");
	is_int(canon_map_get(enc.data, enc.len - 1, "e", &p, &n), TB_EMALFORMED,
	       "truncated: malformed, not read past the end");
	is_int(canon_map_get(enc.data + 1, 1, "a", &p, &n), TB_EMALFORMED,
	       "a key, not a map: malformed");
	is_int((long long)canon_skip((const uint8_t *)"\xcb\0\0\0\0\0\0\0\0", 9,
	                             0),
	       0, "a float is no canonical value");
	is_int((long long)canon_skip((const uint8_t *)"\xdd\xff\xff\xff\xff", 5,
	                             0),
	       0, "an array declaring 2^32-1 items in 5 bytes does not fit");
	ok(same_without(v, "a") && same_without(v, "d"),
	   "a map less a small member, or less a nested map");
	{
		struct canon_buf w = { 0 };
		size_t at = 0;
		ok(canon_map_find(enc.data, enc.len, "b", &at) == TB_OK &&
		       canon_map_get(enc.data, enc.len, "b", &p, &n) == TB_OK &&
		       enc.data + at == p,
		   "canon_map_find: where b's value starts, as map_get");
		is_int(canon_map_find(enc.data, enc.len, "q", &at),
		       TB_ENOTFOUND, "  a key it does not have");
		is_int(canon_map_find(enc.data, 8, "e", &at), TB_EMALFORMED,
		       "  truncated before e: malformed");
		ok(canon_bytes_without_get(enc.data, enc.len, "c", &w, &p,
		                           &n) == TB_OK &&
		       n == 4 && p[0] == 0x81,
		   "canon_bytes_without_get gives the value left out");
		canon_buf_free(&w);
		ok(canon_bytes_without_get(enc.data, enc.len, "q", &w, &p,
		                           &n) == TB_OK &&
		       p == NULL && n == 0 && w.len == enc.len,
		   "  and none for a key the map has not");
		canon_buf_free(&w);
	}
	{
		static const char *const keys[] = { "e", "q", "b", "a" };
		const uint8_t *vs[4], *g;
		size_t ns[4], gn, i;
		bool same = true;

		is_int(canon_map_members(enc.data, enc.len, keys, 4, vs, ns),
		       TB_OK, "canon_map_members: one walk for four keys");
		for (i = 0; i < 4; i++) {
			if (canon_map_get(enc.data, enc.len, keys[i], &g,
			                  &gn) == TB_OK) {
				same = same && vs[i] == g && ns[i] == gn;
			} else {
				same = same && vs[i] == NULL && ns[i] == 0;
			}
		}
		ok(same, "  each value where canon_map_get finds it, and "
		         "NULL for the key it has not");
		is_int(
		    canon_map_members(enc.data, enc.len - 1, keys, 4, vs, ns),
		    TB_EMALFORMED, "  truncated: malformed");
		is_int(canon_map_members(enc.data + 1, 1, keys, 4, vs, ns),
		       TB_EMALFORMED, "  not a map: malformed");
	}
	json_decref(v);
	canon_buf_free(&enc);
}

/* same_with: canon_bytes_with puts v's member key back into v's bytes
 * without it: the bytes of v. */
static bool
same_with(const json_t *v, const char *key)
{
	struct canon_buf enc = { 0 }, without = { 0 }, val = { 0 }, got = { 0 };
	char err[128];
	bool same;

	same = canon_encode(v, &enc, err, sizeof(err)) == 0 &&
	       canon_encode_without(v, key, &without, err, sizeof(err)) == 0 &&
	       canon_encode(json_object_get(v, key), &val, err, sizeof(err)) ==
	           0 &&
	       canon_bytes_with(without.data, without.len, key, val.data,
	                        val.len, &got) == TB_OK &&
	       got.len == enc.len && !memcmp(got.data, enc.data, got.len);
	canon_buf_free(&enc);
	canon_buf_free(&without);
	canon_buf_free(&val);
	canon_buf_free(&got);
	return same;
}

static void
test_with(void)
{
	json_t *rel = load("ops/examples/catalog-370000.json"),
	       *v = json_pack("{s:i, s:i, s:i}", "b", 1, "bb", 2, "c", 3),
	       *m = json_object();
	struct canon_buf enc = { 0 }, out = { 0 };
	char k[8], err[128];
	int i;

	json_object_set_new(
	    rel, "signatures",
	    json_pack("[{s:s, s:s}]", "key", "ab", "sig", "cd"));
	ok(same_with(rel, "signatures"),
	   "a signed release: its signatures put back in their place");
	ok(same_with(v, "b") && same_with(v, "bb") && same_with(v, "c"),
	   "first, middle (after its prefix) and last");
	for (i = 0; i < 16; i++) {
		snprintf(k, sizeof(k), "k%02d", i);
		json_object_set_new(m, k, json_integer(i));
	}
	ok(same_with(m, "k07"),
	   "15 members become 16: a map16 header replaces the fixmap");
	canon_encode(v, &enc, err, sizeof(err));
	is_int(canon_bytes_with(enc.data, enc.len, "bb", enc.data, 1, &out),
	       TB_EMALFORMED, "a key the map already has is refused");
	canon_buf_free(&out);
	is_int(canon_bytes_with(enc.data + 1, 2, "x", enc.data, 1, &out),
	       TB_EMALFORMED, "not a map: refused");
	canon_buf_free(&out);
	canon_buf_free(&enc);
	json_decref(rel);
	json_decref(v);
	json_decref(m);
}

static void
test_array(void)
{
	json_t *v = json_pack("[i, s, {s:[i, i]}, n]", 300, "abc", "k", 1, 2);
	struct canon_buf enc = { 0 }, el = { 0 };
	const uint8_t *p;
	uint64_t count = 0;
	size_t n, hl = 0;
	char err[128];

	canon_encode(v, &enc, err, sizeof(err));
	ok(canon_array_head(enc.data, enc.len, &count, &hl) == TB_OK &&
	       count == 4 && hl == 1,
	   "an array of 4: count 4, a 1-byte header");
	canon_encode(json_array_get(v, 2), &el, err, sizeof(err));
	ok(canon_array_get(enc.data, enc.len, 2, &p, &n) == TB_OK &&
	       n == el.len && !memcmp(p, el.data, n),
	   "element 2 is the bytes of {\"k\": [1, 2]}");
	ok(canon_array_get(enc.data, enc.len, 0, &p, &n) == TB_OK && n == 3 &&
	       p[0] == 0xcd,
	   "element 0 (300) is a uint16, 3 bytes");
	ok(canon_array_get(enc.data, enc.len, 3, &p, &n) == TB_OK && n == 1 &&
	       p[0] == 0xc0,
	   "element 3 is nil");
	is_int(canon_array_get(enc.data, enc.len, 4, &p, &n), TB_ENOTFOUND,
	       "no element 4");
	is_int(canon_array_get(enc.data, 6, 2, &p, &n), TB_EMALFORMED,
	       "truncated before element 2: malformed");
	is_int(canon_array_head((const uint8_t *)"\x80", 1, &count, &hl),
	       TB_EMALFORMED, "a map is not an array");
	json_decref(v);
	canon_buf_free(&enc);
	canon_buf_free(&el);
}

/* verdict_same checks doc's bytes and its JSON against root alike. */
static void
verdict_same(const json_t *root, const json_t *doc, const char *what, int want)
{
	struct canon_buf enc = { 0 };
	struct tb_diag a, b;
	char err[128];
	int ra, rb;

	tb_diag_init(&a);
	tb_diag_init(&b);
	canon_encode(doc, &enc, err, sizeof(err));
	struct canon_buf msg = { 0 };
	struct tb_diag c;
	int rc;

	tb_diag_init(&c);
	ra = trust_verify_release(root, doc, "$.entry.doc", &a);
	rb = trust_verify_release_bytes(root, enc.data, enc.len, "$.entry.doc",
	                                &b);
	is_str(tb_errname(rb), tb_errname(want), "%s: from its bytes, %s", what,
	       tb_errname(want));
	ok(ra == rb && (ra == TB_OK || (!strcmp(a.e[0].msg, b.e[0].msg) &&
	                                !strcmp(a.e[0].path, b.e[0].path))),
	   "  as from its JSON (%s)", rb == TB_OK ? "valid" : b.e[0].msg);
	canon_bytes_without(enc.data, enc.len, "signatures", &msg);
	rc = trust_verify_release_msg(root, msg.data, msg.len,
	                              json_object_get(doc, "signatures"),
	                              "$.entry.doc", &c);
	ok(rc == ra && (ra == TB_OK || (!strcmp(a.e[0].msg, c.e[0].msg) &&
	                                !strcmp(a.e[0].path, c.e[0].path))),
	   "  and from its signed bytes cut once (%s)", tb_errname(rc));
	canon_buf_free(&msg);
	canon_buf_free(&enc);
}

static void
test_verify(void)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t pk2[crypto_sign_PUBLICKEYBYTES],
	    sk2[crypto_sign_SECRETKEYBYTES];
	char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], err[128];
	json_t *rel = load("ops/examples/catalog-370000.json"), *root, *bad;

	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	canon_hex(pk, sizeof(pk), hex);
	root = json_pack("{s:s, s:[{s:s, s:s}]}", "region", "370000",
	                 "release_keys", "name", "r1", "key", hex);
	json_object_del(rel, "signatures");
	verdict_same(root, rel, "unsigned", TB_ESIG);
	ok(trust_sign(rel, sk, err, sizeof(err)) == 0, "signed by r1");
	verdict_same(root, rel, "signed by a release key", TB_OK);
	bad = json_deep_copy(rel);
	json_object_set_new(bad, "version", json_integer(99));
	verdict_same(root, bad, "its version changed after signing", TB_ESIG);
	json_decref(bad);
	bad = json_deep_copy(rel);
	json_object_set_new(bad, "signatures", json_array());
	trust_sign(bad, sk2, err, sizeof(err));
	verdict_same(root, bad, "signed by a key the root does not hold",
	             TB_ESIG);
	json_decref(bad);
	json_decref(root);
	json_decref(rel);
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	test_without();
	test_get();
	test_array();
	test_with();
	test_verify();
	return done_testing();
}
