/* Tests for incarnation certificates (schema/incarnation.h): fields, the
 * parent's key from a chain, a county's certificate signed by its parent,
 * a province's by threshold officers of its root, and every refusal. Keys
 * come from fixed seeds; the chain holds only what inc_verify reads. */
#include "schema/canon.h"
#include "schema/error.h"
#include "schema/incarnation.h"
#include "schema/spec.h"
#include "schema/trust.h"
#include "tests/tap.h"

#include <sodium.h>

/* 2026-06-01T00:00:00Z */
#define NOW 1780272000000LL

struct key {
	uint8_t pk[32];
	uint8_t sk[64];
	char hex[65];
};

static void
key_make(struct key *k, int n)
{
	uint8_t seed[32];

	memset(seed, n, sizeof(seed));
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	canon_hex(k->pk, 32, k->hex);
}

static struct key off1, off2, k0, k1, k2, other;
static const char *const node_c[] = { "a1b2c3d4e5f60718" };

/* chain of a 370102 node: region certificates of 370102, 370100, 370000
 * (only kind, region and sign_key matter here). */
static json_t *
chain_370102(void)
{
	return json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]",
	                 "kind", "region", "region", "370102", "sign_key",
	                 k2.hex, "kind", "region", "region", "370100",
	                 "sign_key", k1.hex, "kind", "region", "region",
	                 "370000", "sign_key", k0.hex);
}

static json_t *
signed_cert(const char *region, uint64_t inc, const char *iss_region,
            const struct key *iss, const struct key *signer)
{
	json_t *doc = NULL;
	char err[128];

	inc_build(region, inc, node_c, 1, NOW, iss_region,
	          iss != NULL ? iss->hex : NULL, &doc);
	trust_sign(doc, signer->sk, err, sizeof(err));
	return doc;
}

/* verify returns inc_verify's code and the first problem's path and
 * message in msg. */
static int
verify(const json_t *doc, const char *region, const json_t *root,
       const json_t *chain, char *msg, size_t n)
{
	struct tb_diag d;
	int rv;

	tb_diag_init(&d);
	rv = inc_verify(doc, region, root, chain, "$", &d);
	snprintf(msg, n, "%s: %s", d.n > 0 ? d.e[0].path : "",
	         d.n > 0 ? d.e[0].msg : "");
	return rv;
}

static void
test_county(void)
{
	json_t *chain = chain_370102(), *empty = json_array(), *doc, *bad;
	char msg[512], key[65];

	is_int(inc_parent_key("370102", chain, key), TB_OK,
	       "the parent's key is in a county node's chain");
	is_str(key, k1.hex, "  it is 370100's region key");
	is_int(inc_parent_key("370000", chain, key), TB_EINVAL,
	       "a province has no parent key");
	is_int(inc_parent_key("370102", empty, key), TB_ENOTFOUND,
	       "an empty chain holds none");

	doc = signed_cert("370102", 2, "370100", &k1, &k1);
	is_int(verify(doc, "370102", NULL, chain, msg, sizeof(msg)), TB_OK,
	       "incarnation 2 of 370102 signed by 370100's key verifies");
	is_int((int)inc_number(doc), 2, "inc_number");
	is_int((int)inc_number(NULL), 1, "no certificate: incarnation 1");

	is_int(verify(doc, "370103", NULL, chain, msg, sizeof(msg)),
	       TB_EFORBIDDEN, "checked as 370103's: refused");
	like(msg, "$.region: a certificate for 370102, this group is 370103",
	     "  at $.region");

	bad = signed_cert("370102", 2, "370100", &other, &other);
	is_int(verify(bad, "370102", NULL, chain, msg, sizeof(msg)), TB_ESIG,
	       "signed by another key: refused");
	like(msg, "$.issuer.key: issuer key", "  at $.issuer.key");
	json_decref(bad);

	bad = signed_cert("370102", 2, "370100", &k1, &other);
	is_int(verify(bad, "370102", NULL, chain, msg, sizeof(msg)), TB_ESIG,
	       "the parent's key named, another key signed: refused");
	like(msg, "$.signatures: incarnation 2 of 370102: not signed by 370100",
	     "  at $.signatures");
	json_decref(bad);

	bad = json_deep_copy(doc);
	json_object_set_new(bad, "incarnation", json_integer(3));
	is_int(verify(bad, "370102", NULL, chain, msg, sizeof(msg)), TB_ESIG,
	       "a field changed after signing: refused");
	json_decref(bad);

	bad = signed_cert("370102", 2, "370102", &k2, &k2);
	is_int(verify(bad, "370102", NULL, chain, msg, sizeof(msg)),
	       TB_EFORBIDDEN, "signed by the region's own key: refused");
	like(msg, "certified by its parent 370100's key",
	     "  naming the parent");
	json_decref(bad);

	bad = signed_cert("370102", 2, "370000", &k0, &k0);
	is_int(verify(bad, "370102", NULL, chain, msg, sizeof(msg)),
	       TB_EFORBIDDEN, "signed by the grandparent (370000): refused");
	json_decref(bad);

	is_int(verify(doc, "370102", NULL, empty, msg, sizeof(msg)),
	       TB_ENOTFOUND, "a verifier whose chain lacks the parent refuses");
	like(msg, "holds no certificate of 370100", "  and says why");
	json_decref(doc);
	json_decref(chain);
	json_decref(empty);
}

static void
test_fields(void)
{
	json_t *doc = signed_cert("370102", 2, "370100", &k1, &k1), *bad;
	struct tb_diag d;

	tb_diag_init(&d);
	is_int(inc_check(doc, "$", &d), 0, "a well-formed certificate");
#define BAD(mutate, want, name)                                               \
	do {                                                                  \
		bad = json_deep_copy(doc);                                    \
		mutate;                                                       \
		tb_diag_init(&d);                                             \
		ok(inc_check(bad, "$", &d) > 0 && !strcmp(d.e[0].path, want), \
		   name);                                                     \
		if (d.n > 0 && strcmp(d.e[0].path, want) != 0) {              \
			printf("#   got %s: %s\n", d.e[0].path, d.e[0].msg);  \
		}                                                             \
		json_decref(bad);                                             \
	} while (0)
	BAD(json_object_set_new(bad, "incarnation", json_integer(1)),
	    "$.incarnation", "incarnation 1 refused");
	BAD(json_object_set_new(bad, "incarnation", json_integer(-4)),
	    "$.incarnation", "a negative incarnation refused");
	BAD(json_object_set_new(bad, "incarnation", json_string("2")),
	    "$.incarnation", "a string incarnation refused");
	BAD(json_object_set_new(bad, "region", json_string("379999")),
	    "$.region", "a code outside the table refused");
	BAD(json_object_set_new(bad, "format", json_string("x/1")), "$.format",
	    "another format refused");
	BAD(json_object_set_new(bad, "members", json_array()), "$.members",
	    "no member refused");
	BAD(json_array_append_new(json_object_get(bad, "members"),
	                          json_string("a1b2c3d4e5f60718")),
	    "$.members[1]", "a member listed twice refused");
	BAD(json_array_set_new(json_object_get(bad, "members"), 0,
	                       json_string("A1B2")),
	    "$.members[0]", "a malformed node id refused");
	BAD(json_object_set_new(bad, "issued_at", json_string("yesterday")),
	    "$.issued_at", "a malformed time refused");
	BAD(json_object_set_new(bad, "extra", json_true()), "$.extra",
	    "an unknown field refused");
	BAD(json_object_set_new(json_object_get(bad, "issuer"), "root",
	                        json_true()),
	    "$.issuer.root", "an issuer that is both a key and a root refused");
	BAD(json_object_del(bad, "issuer"), "$.issuer",
	    "a missing issuer refused");
#undef BAD
	json_decref(doc);
}

static void
test_province(void)
{
	json_t *root = json_pack("{s:s, s:s, s:i, s:[{s:s, s:s}, {s:s, s:s}]}",
	                         "format", "tongban.root/1", "region", "370000",
	                         "threshold", 2, "officers", "name", "a", "key",
	                         off1.hex, "name", "b", "key", off2.hex);
	json_t *doc = NULL;
	char msg[512], err[128];

	inc_build("370000", 5, node_c, 1, NOW, "370000", NULL, &doc);
	trust_sign(doc, off1.sk, err, sizeof(err));
	is_int(verify(doc, "370000", root, NULL, msg, sizeof(msg)), TB_ESIG,
	       "a province's certificate signed by 1 of 2 officers: refused");
	like(msg, "signed by 1 of the 370000 root's officers, 2 required",
	     "  naming the threshold");
	trust_sign(doc, off2.sk, err, sizeof(err));
	is_int(verify(doc, "370000", root, NULL, msg, sizeof(msg)), TB_OK,
	       "signed by 2 of 2 officers: verifies");
	is_int(verify(doc, "370000", NULL, NULL, msg, sizeof(msg)),
	       TB_ENOTFOUND, "without the root to check against: refused");
	json_decref(doc);
	doc = signed_cert("370000", 2, "370000", &k0, &k0);
	is_int(verify(doc, "370000", root, NULL, msg, sizeof(msg)),
	       TB_EFORBIDDEN,
	       "a province's certificate signed by a key: refused");
	json_decref(doc);
	json_decref(root);
}

static void
test_hash(void)
{
	json_t *a = signed_cert("370102", 2, "370100", &k1, &k1);
	json_t *b = json_deep_copy(a);
	char ha[65], hb[65];

	inc_hash(a, ha);
	inc_hash(b, hb);
	is_str(ha, hb, "a copy has the same hash");
	json_object_set_new(b, "issued_at",
	                    json_string("2026-06-02T00:00:00Z"));
	inc_hash(b, hb);
	ok(strcmp(ha, hb) != 0,
	   "another certificate of the same number differs");
	inc_hash(NULL, ha);
	is_str(ha, "", "no certificate: no hash");
	json_decref(a);
	json_decref(b);
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	key_make(&off1, 1);
	key_make(&off2, 2);
	key_make(&k0, 10);
	key_make(&k1, 11);
	key_make(&k2, 12);
	key_make(&other, 99);
	test_county();
	test_fields();
	test_province();
	test_hash();
	return done_testing();
}
