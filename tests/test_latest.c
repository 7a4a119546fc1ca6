/* Tests for the province's latest-version statements (schema/latest.h) on a
 * real tree, 370000 (root) -> 370100: a valid statement, and each refusal
 * with its reason and path (tampered, signed by another key, a city node's
 * or a peer's chain, a forged province certificate, a revoked signer,
 * another province, expired, issued ahead, too long-lived, malformed), and
 * the order of statements (older, fork, the same). Keys from fixed seeds. */
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_crl.h"
#include "schema/cert_issue.h"
#include "schema/error.h"
#include "schema/latest.h"
#include "schema/spec.h"
#include "schema/trust.h"
#include "tests/tap.h"

#include <sodium.h>

/* 2026-06-01T00:00:00Z */
#define NOW  1780272000000LL
#define DAY  86400000LL
#define YEAR (365 * DAY)
#define HASH "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

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

static struct key off, k0, k1, pnode, cnode, peer, fake0, other;
static json_t *root, *c0, *c1, *pcert, *ccert, *peercert, *fakec0;

static json_t *
make_root(void)
{
	json_t *r =
	    json_pack("{s:s, s:s, s:i, s:s, s:i, s:[{s:s, s:s}], "
	              "s:[]}",
	              "format", "tongban.root/1", "region", "370000", "version",
	              1, "expires", "2030-01-01T00:00:00Z", "threshold", 1,
	              "officers", "name", "a", "key", off.hex, "release_keys");
	char err[128];

	trust_sign(r, off.sk, err, sizeof(err));
	return r;
}

static json_t *
issue(enum cert_kind kind, const char *region, const struct key *k,
      const json_t *issuer, const struct key *signer, const char *serial,
      const char *role)
{
	struct cert_issue_args a = { serial, role, NOW - DAY, NOW + YEAR };
	char id[CERT_NODE_ID_HEX + 1], err[200];
	json_t *req = NULL, *c = NULL;
	uint8_t kx[32];

	memset(kx, 0x42, sizeof(kx));
	cert_node_id(k->pk, id);
	cert_request_build(kind, region, kind == CERT_NODE ? id : NULL, k->pk,
	                   kind == CERT_NODE ? kx : NULL, NULL, &req);
	trust_sign(req, k->sk, err, sizeof(err));
	if (cert_issue(req, issuer, &a, &c, err, sizeof(err)) != 0) {
		printf("# cert_issue: %s\n", err);
	}
	json_decref(req);
	if (c != NULL) {
		trust_sign(c, signer->sk, err, sizeof(err));
	}
	return c;
}

/* statement: signed by s, the chain leaf then issuer. */
static json_t *
statement(const char *region, long long v, int64_t issued, int64_t ttl,
          const json_t *leaf, const json_t *up, const struct key *s)
{
	json_t *chain = json_pack("[O, O]", leaf, up), *doc = NULL;
	char err[200];

	if (latest_build(region, v, v > 0 ? HASH : NULL, issued, issued + ttl,
	                 chain, &doc, err, sizeof(err)) != TB_OK) {
		printf("# latest_build: %s\n", err);
	}
	json_decref(chain);
	if (doc != NULL && s != NULL) {
		trust_sign(doc, s->sk, err, sizeof(err));
	}
	return doc;
}

/* verify runs latest_verify as a node of 370000's tree at now. */
static enum latest_reason
verify(const json_t *doc, const json_t *const *crls, size_t ncrl, int64_t now,
       struct latest_info *li, char *msg, size_t len)
{
	struct tb_diag d;
	enum latest_reason r;

	tb_diag_init(&d);
	r = latest_verify(doc, "370000", root, crls, ncrl, now, li, &d);
	snprintf(msg, len, "%s: %s", d.n ? d.e[0].path : "",
	         d.n ? d.e[0].msg : "");
	return r;
}

static void
test_valid(void)
{
	json_t *doc = statement("370000", 2, NOW, 10000, pcert, c0, &pnode);
	struct latest_info li;
	char msg[512];

	is_int(verify(doc, NULL, 0, NOW + 1000, &li, msg, sizeof(msg)),
	       LATEST_OK,
	       "a statement by a member node of the province "
	       "verifies%s",
	       msg[2] ? msg : "");
	is_int(li.version, 2, "  version 2");
	is_str(li.hash, HASH, "  its hash");
	is_int(li.expires_ms - li.issued_ms, 10000, "  lives 10 s");
	is_str(li.signer, spec_str(pcert, "node_id"), "  the signer's node id");
	is_str(li.signer_serial, spec_str(pcert, "serial"),
	       "  and its certificate's serial");
	json_decref(doc);
	doc = statement("370000", 0, NOW, 10000, pcert, c0, &pnode);
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)), LATEST_OK,
	       "version 0 (no release yet) without a hash verifies");
	json_decref(doc);
}

static void
test_refusals(void)
{
	struct latest_info li;
	json_t *doc, *crl = NULL;
	char msg[512], err[200];

	/* Changed after signing: a city that bumps or lowers the version. */
	doc = statement("370000", 2, NOW, 10000, pcert, c0, &pnode);
	json_object_set_new(doc, "version", json_integer(1));
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_BAD_SIGNATURE, "a version changed after signing");
	like(msg,
	     "$.signatures: statement of 370000 version 1: not signed "
	     "by its signer's key",
	     "  names the signatures (%s)", msg);
	json_decref(doc);

	/* Signed by another key than the certificate's. */
	doc = statement("370000", 2, NOW, 10000, pcert, c0, &other);
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_BAD_SIGNATURE, "signed by a key its chain does not name");
	json_decref(doc);

	/* The city forges one with its own node's key and chain. */
	doc = statement("370000", 3, NOW, 10000, ccert, c1, &cnode);
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_BAD_CHAIN, "a city node's statement for the province");
	like(msg, "the signer's chain:", "  names the chain (%s)", msg);
	json_decref(doc);

	/* A peer node of the province (links only) may not sign one. */
	doc = statement("370000", 3, NOW, 10000, peercert, c0, &peer);
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_BAD_CHAIN, "a peer node's statement");
	like(msg, "role peer where member was expected", "  (%s)", msg);
	json_decref(doc);

	/* A province certificate the root's officers never signed. */
	doc = statement("370000", 3, NOW, 10000, pcert, fakec0, &pnode);
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_BAD_CHAIN, "a forged province certificate");
	like(msg, "$.chain[", "  at a path into the chain (%s)", msg);
	json_decref(doc);

	/* The signer's certificate revoked by the province's list. */
	cert_crl_build("370000", k0.hex, NULL, NOW, &crl, err, sizeof(err));
	cert_crl_revoke(crl, spec_str(pcert, "serial"), "key compromise", NOW,
	                err, sizeof(err));
	trust_sign(crl, k0.sk, err, sizeof(err));
	doc = statement("370000", 3, NOW, 10000, pcert, c0, &pnode);
	{
		const json_t *crls[] = { crl };
		is_int(verify(doc, crls, 1, NOW, &li, msg, sizeof(msg)),
		       LATEST_BAD_CHAIN, "a revoked signer");
		like(msg, "revoked", "  (%s)", msg);
	}
	json_decref(doc);
	json_decref(crl);

	/* Another province's statement. */
	doc = statement("110000", 3, NOW, 10000, pcert, c0, &pnode);
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_WRONG_REGION, "a statement of another province");
	like(msg,
	     "$.region: a statement of 110000: this node's province is "
	     "370000",
	     "  (%s)", msg);
	json_decref(doc);

	/* Times. */
	doc = statement("370000", 3, NOW, 10000, pcert, c0, &pnode);
	is_int(verify(doc, NULL, 0, NOW + 10000, &li, msg, sizeof(msg)),
	       LATEST_EXPIRED, "at its expiry");
	like(msg, "$.expires_at: statement of 370000 version 3 expired at",
	     "  (%s)", msg);
	is_int(verify(doc, NULL, 0, NOW - 61000, &li, msg, sizeof(msg)),
	       LATEST_NOT_YET_VALID, "issued 61 s ahead of the clock");
	is_int(verify(doc, NULL, 0, NOW - 59000, &li, msg, sizeof(msg)),
	       LATEST_OK, "59 s ahead is within the skew");
	json_decref(doc);
	doc = statement("370000", 3, NOW, LATEST_TTL_MAX_MS + 1000, pcert, c0,
	                &pnode);
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_MALFORMED, "a statement living over an hour");
	like(msg, "$.expires_at: a statement lives", "  (%s)", msg);
	json_decref(doc);

	/* Malformed. */
	doc = statement("370000", 3, NOW, 10000, pcert, c0, &pnode);
	json_object_set_new(doc, "extra", json_true());
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_MALFORMED, "an unknown field");
	like(msg, "$.extra", "  names it (%s)", msg);
	is_int(latest_verify(doc, "370000", root, NULL, 0, NOW, NULL, NULL),
	       LATEST_MALFORMED, "  also without a diagnostics collector");
	json_object_del(doc, "extra");
	json_object_del(doc, "hash");
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_MALFORMED, "version 3 without its hash");
	like(msg, "$.hash", "  names it (%s)", msg);
	json_object_del(doc, "signatures");
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_MALFORMED, "no signatures");
	json_decref(doc);
	doc = statement("370100", 3, NOW, 10000, pcert, c0, &pnode);
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_MALFORMED, "a city's code as the region");
	like(msg, "$.region: 370100 is not a province's code", "  (%s)", msg);
	json_decref(doc);
	doc = json_string("x");
	is_int(verify(doc, NULL, 0, NOW, &li, msg, sizeof(msg)),
	       LATEST_MALFORMED, "not an object");
	json_decref(doc);
}

static void
test_order(void)
{
	struct latest_info held = { "370000", 2,           HASH,
		                    NOW,      NOW + 10000, "a1b2c3d4e5f60718",
		                    "0" };
	struct latest_info c = held;
	struct tb_diag d;
	bool same;

	tb_diag_init(&d);
	is_int(latest_order(NULL, &c, &same, &d), LATEST_OK,
	       "the first statement is held");
	is_int(latest_order(&held, &c, &same, &d), LATEST_OK,
	       "the same statement again");
	ok(same, "  is the same: nothing to change or relay");
	c.issued_ms += 1000;
	c.expires_ms += 1000;
	is_int(latest_order(&held, &c, &same, &d), LATEST_OK,
	       "a renewal of the same version");
	ok(!same, "  is not the same");
	c = held;
	c.version = 1;
	c.expires_ms += 5000;
	is_int(latest_order(&held, &c, &same, &d), LATEST_OLDER,
	       "a lower version, even expiring later");
	like(d.e[0].msg, "is older than the one held (version 2", "  (%s)",
	     d.e[0].msg);
	c = held;
	c.expires_ms -= 1000;
	is_int(latest_order(&held, &c, &same, &d), LATEST_OLDER,
	       "the same version expiring earlier (a replay)");
	c = held;
	c.hash[0] = 'f';
	is_int(latest_order(&held, &c, &same, &d), LATEST_FORK,
	       "the same version with another hash");
	c = held;
	c.version = 3;
	c.hash[0] = 'f';
	is_int(latest_order(&held, &c, &same, &d), LATEST_OK,
	       "a higher version");
	is_str(latest_reason_name(LATEST_BAD_CHAIN), "bad_chain",
	       "reason names are the counter's labels");
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	key_make(&off, 1);
	key_make(&k0, 10);
	key_make(&k1, 11);
	key_make(&pnode, 20);
	key_make(&cnode, 21);
	key_make(&peer, 22);
	key_make(&fake0, 23);
	key_make(&other, 24);
	root = make_root();
	c0 = issue(CERT_REGION, "370000", &k0, root, &off, "0000000000000000",
	           NULL);
	c1 = issue(CERT_REGION, "370100", &k1, c0, &k0, "1111111111111111",
	           NULL);
	pcert = issue(CERT_NODE, "370000", &pnode, c0, &k0, "2222222222222222",
	              "member");
	ccert = issue(CERT_NODE, "370100", &cnode, c1, &k1, "3333333333333333",
	              "member");
	peercert = issue(CERT_NODE, "370000", &peer, c0, &k0,
	                 "4444444444444444", "peer");
	/* The city's own key posing as the province's: the same fields as
	 * c0 but signed by fake0, which no officer is. */
	fakec0 = json_deep_copy(c0);
	json_object_del(fakec0, "signatures");
	{
		char err[128];
		trust_sign(fakec0, fake0.sk, err, sizeof(err));
	}
	ok(root && c0 && c1 && pcert && ccert && peercert && fakec0,
	   "the test tree is issued");
	test_valid();
	test_refusals();
	test_order();
	json_decref(root);
	json_decref(c0);
	json_decref(c1);
	json_decref(pcert);
	json_decref(ccert);
	json_decref(peercert);
	json_decref(fakec0);
	return done_testing();
}
