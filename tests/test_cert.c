/* Tests for certificates, revocation lists and chain verification on a real
 * tree: 370000 (root) -> 370100 -> 370102, keys from fixed seeds. */
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_cache.h"
#include "schema/cert_chain.h"
#include "schema/cert_crl.h"
#include "schema/cert_issue.h"
#include "schema/error.h"
#include "schema/spec.h"
#include "schema/trust.h"
#include "tests/tap.h"

#include <sodium.h>

/* 2026-06-01T00:00:00Z */
#define NOW  1780272000000LL
#define DAY  86400000LL
#define YEAR (365 * DAY)

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

/* Officers, region keys and node keys of the test tree. */
static struct key off1, off2, k0, k1, k2, k103, k200, k2x, node, node2;
static struct key boff, b0, b101, bnode;
static json_t *root, *broot;

static json_t *
make_root(const char *region, struct key *a, struct key *b, int threshold)
{
	json_t *r = json_pack("{s:s, s:s, s:i, s:s, s:i, s:[], s:[{s:s, s:s}]}",
	                      "format", "tongban.root/1", "region", region,
	                      "version", 1, "expires", "2030-01-01T00:00:00Z",
	                      "threshold", threshold, "officers",
	                      "release_keys", "name", "rel", "key", a->hex);
	char err[128];

	json_array_append_new(
	    json_object_get(r, "officers"),
	    json_pack("{s:s, s:s}", "name", "a", "key", a->hex));
	trust_sign(r, a->sk, err, sizeof(err));
	if (b != NULL) {
		json_array_append_new(
		    json_object_get(r, "officers"),
		    json_pack("{s:s, s:s}", "name", "b", "key", b->hex));
		json_object_del(r, "signatures");
		trust_sign(r, a->sk, err, sizeof(err));
		trust_sign(r, b->sk, err, sizeof(err));
	}
	return r;
}

/* request makes a signed request for key k. */
static json_t *
request(enum cert_kind kind, const char *region, const struct key *k)
{
	char id[CERT_NODE_ID_HEX + 1], err[128];
	uint8_t kx[32];
	json_t *r = NULL;

	memset(kx, 0x42, sizeof(kx));
	cert_node_id(k->pk, id);
	cert_request_build(kind, region, kind == CERT_NODE ? id : NULL, k->pk,
	                   kind == CERT_NODE ? kx : NULL, NULL, &r);
	trust_sign(r, k->sk, err, sizeof(err));
	return r;
}

/* issue grants req under issuer, signed by s1 (and s2). */
static json_t *
issue(json_t *req, const json_t *issuer, const struct key *s1,
      const struct key *s2, const char *serial, const char *role, int64_t nb,
      int64_t na)
{
	struct cert_issue_args a = { serial, role, nb, na };
	char err[200];
	json_t *c = NULL;
	int rv = cert_issue(req, issuer, &a, &c, err, sizeof(err));

	if (rv != 0) {
		printf("# cert_issue: %s\n", err);
	}
	json_decref(req);
	if (c != NULL) {
		trust_sign(c, s1->sk, err, sizeof(err));
		if (s2 != NULL) {
			trust_sign(c, s2->sk, err, sizeof(err));
		}
	}
	return c;
}

static json_t *c0, *c1, *c2, *leaf;

/* verify runs cert_verify_chain on up to 6 documents (NULL-terminated)
 * with the lists crls (NULL-terminated), putting the first message in
 * msg. */
static int
verify(const json_t *const *chain, const json_t *const *crls,
       const struct cert_expect *e, int64_t now, char *msg)
{
	struct tb_diag d;
	size_t n = 0, ncrl = 0;
	int rv;

	while (chain[n] != NULL) {
		n++;
	}
	while (crls != NULL && crls[ncrl] != NULL) {
		ncrl++;
	}
	tb_diag_init(&d);
	rv = cert_verify_chain(root, chain, n, crls, ncrl, e, now, &d);
	snprintf(msg, TB_DIAG_MSG + TB_DIAG_PATH + 4, "%s: %s",
	         d.n ? d.e[0].path : "", d.n ? d.e[0].msg : "");
	return rv;
}

static json_t *
crl_new(const char *region, const struct key *k, const json_t *prev,
        const char *revoke, const struct key *signer)
{
	char err[200];
	json_t *l = NULL;

	cert_crl_build(region, k != NULL ? k->hex : NULL, prev, NOW, &l, err,
	               sizeof(err));
	if (revoke != NULL) {
		cert_crl_revoke(l, revoke, "key compromise", NOW, err,
		                sizeof(err));
	}
	trust_sign(l, signer->sk, err, sizeof(err));
	return l;
}

static void
setup(void)
{
	key_make(&off1, 1);
	key_make(&off2, 2);
	key_make(&k0, 10);
	key_make(&k1, 11);
	key_make(&k2, 12);
	key_make(&k103, 13);
	key_make(&k200, 14);
	key_make(&k2x, 15);
	key_make(&node, 20);
	key_make(&node2, 21);
	key_make(&boff, 30);
	key_make(&b0, 31);
	key_make(&b101, 32);
	key_make(&bnode, 33);
	root = make_root("370000", &off1, &off2, 2);
	broot = make_root("110000", &boff, NULL, 1);
	c0 = issue(request(CERT_REGION, "370000", &k0), root, &off1, &off2,
	           "0000000000000000", NULL, NOW - YEAR, NOW + YEAR);
	c1 = issue(request(CERT_REGION, "370100", &k1), c0, &k0, NULL,
	           "1111111111111111", NULL, NOW - YEAR, NOW + YEAR);
	c2 = issue(request(CERT_REGION, "370102", &k2), c1, &k1, NULL,
	           "2222222222222222", NULL, NOW - YEAR, NOW + YEAR);
	leaf = issue(request(CERT_NODE, "370102", &node), c2, &k2, NULL,
	             "7f3a09c1d2e4b5a6", "member", NOW - DAY, NOW + 30 * DAY);
}

static void
test_valid(void)
{
	const json_t *chain[] = { leaf, c2, c1, c0, NULL };
	struct cert_expect e = { CERT_NODE, "370102", false, NULL, "member" };
	char msg[512], id[17];
	int rv;

	ok(c0 && c1 && c2 && leaf, "the tree's certificates are issued");
	rv = verify(chain, NULL, &e, NOW, msg);
	is_int(rv, TB_OK, "a valid chain verifies");
	if (rv != 0) {
		printf("# %s\n", msg);
	}
	cert_node_id(node.pk, id);
	e.node_id = id;
	is_int(verify(chain, NULL, &e, NOW, msg), TB_OK,
	       "and matches the expected node id");
	is_str(spec_str(leaf, "not_before"), "2026-05-31T00:00:00Z",
	       "times are RFC 3339 UTC");
	{
		struct tb_diag d;
		tb_diag_init(&d);
		is_int(cert_check(leaf, "$", &d), 0, "cert_check accepts it");
	}
}

/* A table of refusals: a chain, lists, an expectation, the code and a
 * piece of the message. */
struct bad {
	const char *name;
	const json_t *chain[7];
	const json_t *crls[4];
	struct cert_expect e;
	int64_t now;
	int rv;
	const char *msg;
};

static json_t *
copy_resign(const json_t *c, const char *field, json_t *value,
            const struct key *signer)
{
	json_t *x = json_deep_copy(c);
	char err[128];

	if (field != NULL) {
		json_object_set_new(x, field, value);
	}
	if (signer != NULL) {
		json_object_del(x, "signatures");
		trust_sign(x, signer->sk, err, sizeof(err));
	}
	return x;
}

static void
test_refusals(void)
{
	struct cert_expect any = { CERT_ANY, NULL, false, NULL, NULL };
	struct cert_expect node102 = { CERT_NODE, "370102", false, NULL, NULL };
	json_t *other_k2 = NULL, *stranger, *self, *expired, *early, *tamper;
	json_t *peer, *c2bad, *c200, *nparent, *crl_leaf, *crl_mid, *crl_wrong;
	json_t *crl_old, *crl_new2, *crl_root, *c0half;
	struct key rogue;
	char msg[512];
	size_t i;

	key_make(&rogue, 99);
	other_k2 = issue(request(CERT_REGION, "370102", &rogue), c1, &k1, NULL,
	                 "3333333333333333", NULL, NOW - YEAR, NOW + YEAR);
	stranger =
	    issue(request(CERT_NODE, "370102", &node), other_k2, &rogue, NULL,
	          "4444444444444444", "member", NOW - DAY, NOW + DAY);
	self = copy_resign(
	    leaf, "issuer",
	    json_pack("{s:s, s:s}", "region", "370102", "key", node.hex),
	    &node);
	expired = issue(request(CERT_NODE, "370102", &node), c2, &k2, NULL,
	                "5555555555555555", "member", NOW - YEAR,
	                1767225600000LL /* 2026-01-01 */);
	early = issue(request(CERT_NODE, "370102", &node), c2, &k2, NULL,
	              "6666666666666666", "member", NOW + DAY, NOW + YEAR);
	tamper = copy_resign(leaf, "role", json_string("peer"), NULL);
	peer = issue(request(CERT_NODE, "370102", &node), c2, &k2, NULL,
	             "8888888888888888", "peer", NOW - DAY, NOW + DAY);
	/* 370200 certifies 370102: built by hand, since cert_issue refuses. */
	c200 = issue(request(CERT_REGION, "370200", &k200), c0, &k0, NULL,
	             "9999999999999999", NULL, NOW - YEAR, NOW + YEAR);
	c2bad = copy_resign(
	    c2, "issuer",
	    json_pack("{s:s, s:s}", "region", "370200", "key", k200.hex),
	    &k200);
	nparent = issue(request(CERT_NODE, "370102", &node), c2bad, &k2, NULL,
	                "aaaaaaaaaaaaaaaa", "member", NOW - DAY, NOW + DAY);
	crl_leaf = crl_new("370102", &k2, NULL, "7f3a09c1d2e4b5a6", &k2);
	crl_mid = crl_new("370100", &k1, NULL, "2222222222222222", &k1);
	crl_wrong = crl_new("370102", &k2, NULL, NULL, &k1);
	crl_old = crl_new("370102", &k2, NULL, NULL, &k2);
	crl_new2 = crl_new("370102", &k2, crl_old, "7f3a09c1d2e4b5a6", &k2);
	crl_root = crl_new("370000", NULL, NULL, "0000000000000000", &off1);
	{
		char err[128];
		trust_sign(crl_root, off2.sk, err, sizeof(err));
	}
	c0half = copy_resign(c0, NULL, NULL, &off1);

	const struct bad cases[] = {
		{ "unknown issuer (a key not in the chain)",
		  { stranger, c2, c1, c0 },
		  { NULL },
		  node102,
		  NOW,
		  TB_ECHAIN,
		  "cert 4444444444444444: unknown issuer 370102 key" },
		{ "a chain that stops short of the root",
		  { leaf },
		  { NULL },
		  node102,
		  NOW,
		  TB_ECHAIN,
		  "the chain ends before the 370000 root" },
		{ "a self-signed leaf",
		  { self, c2, c1, c0 },
		  { NULL },
		  node102,
		  NOW,
		  TB_ECHAIN,
		  "cert 7f3a09c1d2e4b5a6: self-signed certificate refused" },
		{ "an expired leaf",
		  { expired, c2, c1, c0 },
		  { NULL },
		  node102,
		  NOW,
		  TB_ERANGE,
		  "cert 5555555555555555: expired at 2026-01-01T00:00:00Z" },
		{ "a leaf not yet valid",
		  { early, c2, c1, c0 },
		  { NULL },
		  node102,
		  NOW,
		  TB_ERANGE,
		  "cert 6666666666666666: not valid before "
		  "2026-06-02T00:00:00Z" },
		{ "an expired intermediate (a year later)",
		  { leaf, c2, c1, c0 },
		  { NULL },
		  any,
		  NOW + YEAR + DAY,
		  TB_ERANGE,
		  "expired at" },
		{ "a revoked leaf",
		  { leaf, c2, c1, c0 },
		  { crl_leaf },
		  node102,
		  NOW,
		  CERT_EREVOKED,
		  "cert 7f3a09c1d2e4b5a6: revoked by 370102's list version 1" },
		{ "a revoked intermediate",
		  { leaf, c2, c1, c0 },
		  { crl_mid },
		  node102,
		  NOW,
		  CERT_EREVOKED,
		  "cert 2222222222222222: revoked by 370100's list version 1" },
		{ "a province key revoked by the root's officers",
		  { leaf, c2, c1, c0 },
		  { crl_root },
		  node102,
		  NOW,
		  CERT_EREVOKED,
		  "cert 0000000000000000: revoked by 370000's list version 1" },
		{ "a wrong region expected",
		  { leaf, c2, c1, c0 },
		  { NULL },
		  { CERT_NODE, "370103", false, NULL, NULL },
		  NOW,
		  TB_EFORBIDDEN,
		  "cert for 370102 where 370103 was expected" },
		{ "a wrong role expected",
		  { peer, c2, c1, c0 },
		  { NULL },
		  { CERT_NODE, "370102", false, NULL, "member" },
		  NOW,
		  TB_EFORBIDDEN,
		  "cert 8888888888888888: role peer where member was "
		  "expected" },
		{ "a wrong kind expected",
		  { c2, c1, c0 },
		  { NULL },
		  node102,
		  NOW,
		  TB_EFORBIDDEN,
		  "a region certificate where a node certificate was "
		  "expected" },
		{ "a wrong node expected",
		  { leaf, c2, c1, c0 },
		  { NULL },
		  { CERT_NODE, "370102", false, "0123456789abcdef", NULL },
		  NOW,
		  TB_EFORBIDDEN,
		  "where 0123456789abcdef was expected" },
		{ "an issuer that is not the parent",
		  { nparent, c2bad, c200, c0 },
		  { NULL },
		  node102,
		  NOW,
		  TB_ECHAIN,
		  "issuer 370200 is not the parent of 370102" },
		{ "a field changed after signing",
		  { tamper, c2, c1, c0 },
		  { NULL },
		  node102,
		  NOW,
		  TB_ESIG,
		  "cert 7f3a09c1d2e4b5a6: not signed by its issuer 370102 "
		  "(key" },
		{ "a province key with 1 of 2 officers",
		  { leaf, c2, c1, c0half },
		  { NULL },
		  node102,
		  NOW,
		  TB_ESIG,
		  "signed by 1 of the 370000 root's officers, 2 required" },
		{ "a list signed by the wrong key",
		  { leaf, c2, c1, c0 },
		  { crl_wrong },
		  node102,
		  NOW,
		  TB_ESIG,
		  "list of 370102 version 1: not signed by its issuer key" },
		{ "an older list does not supersede (newer first)",
		  { leaf, c2, c1, c0 },
		  { crl_new2, crl_old },
		  node102,
		  NOW,
		  CERT_EREVOKED,
		  "revoked by 370102's list version 2" },
		{ "an older list does not supersede (older first)",
		  { leaf, c2, c1, c0 },
		  { crl_old, crl_new2 },
		  node102,
		  NOW,
		  CERT_EREVOKED,
		  "revoked by 370102's list version 2" },
	};

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad *b = &cases[i];
		int rv = verify(b->chain, b->crls, &b->e, b->now, msg);
		is_int(rv, b->rv, "%s: code %s", b->name, tb_errname(b->rv));
		like(msg, b->msg, "%s: message", b->name);
	}
	{
		const json_t *chain[] = { leaf, c2, c1, c0, NULL };
		const json_t *lists[] = { crl_old, NULL };
		is_int(verify(chain, lists, &node102, NOW, msg), TB_OK,
		       "a list without the serial lets the chain pass");
	}
	json_decref(other_k2);
	json_decref(stranger);
	json_decref(self);
	json_decref(expired);
	json_decref(early);
	json_decref(tamper);
	json_decref(peer);
	json_decref(c200);
	json_decref(c2bad);
	json_decref(nparent);
	json_decref(crl_leaf);
	json_decref(crl_mid);
	json_decref(crl_wrong);
	json_decref(crl_old);
	json_decref(crl_new2);
	json_decref(crl_root);
	json_decref(c0half);
}

static void
test_crl(void)
{
	struct tb_diag d;
	char err[200];
	json_t *l = NULL, *l2 = NULL;

	is_int(
	    cert_crl_build("370102", k2.hex, NULL, NOW, &l, err, sizeof(err)),
	    TB_OK, "build a list");
	is_int(spec_int(l, "version", 0), 1, "version 1");
	is_int(
	    cert_crl_revoke(l, "7f3a09c1d2e4b5a6", NULL, NOW, err, sizeof(err)),
	    TB_OK, "revoke a serial");
	is_int(
	    cert_crl_revoke(l, "7f3a09c1d2e4b5a6", NULL, NOW, err, sizeof(err)),
	    TB_EDUP, "revoking it twice is a duplicate");
	is_int(cert_crl_revoke(l, "7F3A", NULL, NOW, err, sizeof(err)),
	       TB_EINVAL, "a bad serial is refused");
	is_int(cert_crl_sign(l, k1.sk, err, sizeof(err)), TB_EFORBIDDEN,
	       "cert_crl_sign refuses a key that is not the issuer's");
	like(err, "not the list's issuer key", "and says so");
	is_int(cert_crl_sign(l, k2.sk, err, sizeof(err)), TB_OK,
	       "the issuer signs");
	tb_diag_init(&d);
	is_int(cert_crl_verify(l, NULL, "$", &d), TB_OK, "and it verifies");
	ok(cert_crl_find(l, "7f3a09c1d2e4b5a6") != NULL, "the serial is found");
	ok(cert_crl_find(l, "2222222222222222") == NULL,
	   "another serial is not");
	is_int(cert_crl_build("370102", k2.hex, l, NOW, &l2, err, sizeof(err)),
	       TB_OK, "the next version");
	is_int(spec_int(l2, "version", 0), 2, "is version 2");
	ok(cert_crl_find(l2, "7f3a09c1d2e4b5a6") != NULL,
	   "and keeps the revoked serials");
	json_decref(l2);
	l2 = NULL;
	is_int(cert_crl_build("370100", k1.hex, l, NOW, &l2, err, sizeof(err)),
	       TB_ECONFLICT, "a list cannot follow another issuer's");
	json_object_set_new(l, "version", json_integer(5));
	tb_diag_init(&d);
	is_int(cert_crl_verify(l, NULL, "$", &d), TB_ESIG,
	       "a version changed after signing fails");
	json_decref(l);
	l = crl_new("370000", NULL, NULL, NULL, &off1);
	tb_diag_init(&d);
	is_int(cert_crl_verify(l, root, "$", &d), TB_ESIG,
	       "a root's list needs threshold officers");
	like(d.n ? d.e[0].msg : "", "signed by 1 of its officers, 2 required",
	     "named");
	trust_sign(l, off2.sk, err, sizeof(err));
	tb_diag_init(&d);
	is_int(cert_crl_verify(l, root, "$", &d), TB_OK,
	       "with 2 of 2 it verifies");
	json_decref(l);
}

static void
test_issue_rules(void)
{
	struct cert_issue_args a = { "bbbbbbbbbbbbbbbb", NULL, NOW, NOW + DAY };
	char err[200];
	json_t *c = NULL, *req;

	req = request(CERT_REGION, "370102", &k2);
	is_int(cert_issue(req, c0, &a, &c, err, sizeof(err)), TB_EFORBIDDEN,
	       "a province key cannot certify a county directly");
	like(err, "370000 may not certify 370102: it is not its parent",
	     "named");
	json_decref(req);
	req = request(CERT_REGION, "370100", &k1);
	is_int(cert_issue(req, root, &a, &c, err, sizeof(err)), TB_EFORBIDDEN,
	       "the root certifies only the province's key");
	json_decref(req);
	req = request(CERT_NODE, "370103", &node);
	a.role = "member";
	is_int(cert_issue(req, c2, &a, &c, err, sizeof(err)), TB_EFORBIDDEN,
	       "a county cannot certify a node of its sibling");
	like(err, "370102 may not certify a node of 370103", "named");
	json_decref(req);
	req = request(CERT_NODE, "370102", &node);
	a.role = "voter";
	is_int(cert_issue(req, c2, &a, &c, err, sizeof(err)), TB_EINVAL,
	       "a node's role is member or peer");
	a.role = "peer";
	a.not_after_ms = NOW + 10 * YEAR;
	is_int(cert_issue(req, c2, &a, &c, err, sizeof(err)), TB_OK,
	       "a node of the issuer's region");
	is_str(spec_str(c, "not_after"), spec_str(c2, "not_after"),
	       "validity is capped at the issuer's");
	json_decref(c);
	json_decref(req);
}

static void
test_requests(void)
{
	struct tb_diag d;
	json_t *req = request(CERT_NODE, "370102", &node), *bad;
	char err[128];

	tb_diag_init(&d);
	is_int(cert_request_check(req, NULL, "$", &d), 0,
	       "a node's request is valid");
	bad = json_deep_copy(req);
	json_object_set_new(bad, "region", json_string("370103"));
	tb_diag_init(&d);
	is_int(cert_request_check(bad, NULL, "$", &d), 1,
	       "a request changed after signing is refused");
	is_str(d.e[0].path, "$.signatures", "at its signatures");
	json_decref(bad);
	bad = json_deep_copy(req);
	json_object_set_new(bad, "node_id", json_string("0123456789abcdef"));
	json_object_del(bad, "signatures");
	trust_sign(bad, node.sk, err, sizeof(err));
	tb_diag_init(&d);
	is_int(cert_request_check(bad, NULL, "$", &d), 1,
	       "a first request's node id must be its key's");
	like(d.e[0].msg, "is not the id of sign_key", "named");
	json_decref(bad);
	json_decref(req);
}

static void
test_rotation(void)
{
	const json_t *chain[] = { NULL, c2, c1, c0, NULL };
	char id[17], err[128], msg[512];
	struct cert_expect e = { CERT_NODE, "370102", false, id, "member" };
	struct tb_diag d;
	json_t *req, *c;
	uint8_t kx[32];

	cert_node_id(node.pk, id);
	memset(kx, 0x43, sizeof(kx));
	cert_request_build(CERT_NODE, "370102", id, node2.pk, kx, "rotated",
	                   &req);
	trust_sign(req, node2.sk, err, sizeof(err));
	tb_diag_init(&d);
	ok(cert_request_check(req, leaf, "$", &d) == 1 &&
	       !strcmp(d.e[0].path, "$.signatures"),
	   "a rotated key's request needs the old key's signature");
	trust_sign(req, node.sk, err, sizeof(err));
	tb_diag_init(&d);
	is_int(cert_request_check(req, NULL, "$", &d), 1,
	       "without the previous certificate the id does not match");
	tb_diag_init(&d);
	is_int(cert_request_check(req, leaf, "$", &d), 0,
	       "with it and both signatures the request is valid");
	c = issue(req, c2, &k2, NULL, "cccccccccccccccc", "member", NOW - DAY,
	          NOW + DAY);
	chain[0] = c;
	is_int(verify(chain, NULL, &e, NOW, msg), TB_OK,
	       "the rotated key's certificate verifies with the same node id");
	ok(strcmp(spec_str(c, "sign_key"), spec_str(leaf, "sign_key")) != 0,
	   "under a new sign key");
	json_decref(c);
}

static void
test_cache(void)
{
	const json_t *chain[] = { leaf, c2, c1, c0 };
	struct cert_expect e = { CERT_NODE, "370102", false, NULL, NULL };
	struct cert_cache *cache = malloc(sizeof(*cache));
	struct tb_diag d;
	json_t *l1 = crl_new("370102", &k2, NULL, NULL, &k2);
	json_t *l2 = crl_new("370102", &k2, l1, "7f3a09c1d2e4b5a6", &k2);
	const json_t *lists1[] = { l1 }, *lists2[] = { l1, l2 };

	cert_cache_init(cache);
	is_int(
	    cert_cache_verify(cache, root, chain, 4, lists1, 1, &e, NOW, NULL),
	    TB_OK, "first verify through the cache");
	is_int(cache->hits, 0, "is a miss");
	is_int(
	    cert_cache_verify(cache, root, chain, 4, lists1, 1, &e, NOW, NULL),
	    TB_OK, "second verify");
	is_int(cache->hits, 1, "is a hit");
	e.region = "370103";
	tb_diag_init(&d);
	is_int(cert_cache_verify(cache, root, chain, 4, lists1, 1, &e, NOW, &d),
	       TB_EFORBIDDEN, "a hit still checks the expectation");
	like(d.n ? d.e[0].msg : "", "cert for 370102 where 370103", "named");
	e.region = "370102";
	is_int(cache->hits, 2, "(that was a hit too)");
	tb_diag_init(&d);
	is_int(cert_cache_verify(cache, root, chain, 4, lists2, 2, &e, NOW, &d),
	       CERT_EREVOKED, "a new list version misses and revokes");
	is_int(cache->hits, 2, "no hit with the new list");
	is_int(cert_cache_verify(cache, root, chain, 4, lists1, 1, &e,
	                         NOW + 31 * DAY, NULL),
	       TB_ERANGE, "an entry expires with the leaf");
	is_int(cache->hits, 2, "no hit after expiry");
	cert_cache_clear(cache);
	is_int(
	    cert_cache_verify(cache, root, chain, 4, lists1, 1, &e, NOW, NULL),
	    TB_OK, "after a clear");
	is_int(cache->misses, 4, "it misses again");
	free(cache);
	json_decref(l1);
	json_decref(l2);
}

static void
test_cross(void)
{
	json_t *bc0, *bc1, *bleaf, *x = NULL, *xbad, *bclient;
	struct cert_expect e = { CERT_NODE, "110101", false, NULL, "peer" };
	char err[200], msg[512];

	bc0 = issue(request(CERT_REGION, "110000", &b0), broot, &boff, NULL,
	            "b000000000000000", NULL, NOW - YEAR, NOW + YEAR);
	bc1 = issue(request(CERT_REGION, "110101", &b101), bc0, &b0, NULL,
	            "b111111111111111", NULL, NOW - YEAR, NOW + YEAR);
	bleaf = issue(request(CERT_NODE, "110101", &bnode), bc1, &b101, NULL,
	              "b222222222222222", "peer", NOW - DAY, NOW + DAY);
	is_int(cert_xcert_build(root, broot, "dddddddddddddddd", NOW - DAY,
	                        NOW + YEAR, NULL, &x, err, sizeof(err)),
	       TB_OK, "a cross-certificate of 370000 for 110000");
	trust_sign(x, off1.sk, err, sizeof(err));
	trust_sign(x, off2.sk, err, sizeof(err));
	{
		const json_t *chain[] = { bleaf, bc1, bc0, x, NULL };
		const json_t *nox[] = { bleaf, bc1, bc0, NULL };
		is_int(verify(chain, NULL, &e, NOW, msg), TB_OK,
		       "a node of 110101 verifies under 370000 through it");
		if (strlen(msg) > 2) {
			printf("# %s\n", msg);
		}
		is_int(verify(nox, NULL, &e, NOW, msg), TB_ECHAIN,
		       "without it the other root is unknown");
		like(msg, "the root of 110000 is not trusted here", "named");
	}
	xbad = copy_resign(x, NULL, NULL, &off1);
	{
		const json_t *chain[] = { bleaf, bc1, bc0, xbad, NULL };
		is_int(verify(chain, NULL, &e, NOW, msg), TB_ESIG,
		       "a cross-certificate needs threshold officers");
	}
	{
		json_t *l =
		    crl_new("370000", NULL, NULL, "dddddddddddddddd", &off1);
		const json_t *chain[] = { bleaf, bc1, bc0, x, NULL };
		const json_t *lists[] = { l, NULL };
		trust_sign(l, off2.sk, err, sizeof(err));
		is_int(verify(chain, lists, &e, NOW, msg), CERT_EREVOKED,
		       "the root's list revokes a cross-certificate");
		json_decref(l);
	}
	/* A provincial admin's token identity is valid at a county. */
	bclient =
	    issue(request(CERT_CLIENT, "370000", &node2), c0, &k0, NULL,
	          "eeeeeeeeeeeeeeee", "provincial_admin", NOW - DAY, NOW + DAY);
	{
		const json_t *chain[] = { bclient, c0, NULL };
		struct cert_expect ce = { CERT_CLIENT, "370102", true, NULL,
			                  "provincial_admin" };
		is_int(verify(chain, NULL, &ce, NOW, msg), TB_OK,
		       "a province's client certificate is valid at a county");
		ce.or_ancestor = false;
		is_int(verify(chain, NULL, &ce, NOW, msg), TB_EFORBIDDEN,
		       "unless the region must match exactly");
	}
	json_decref(bc0);
	json_decref(bc1);
	json_decref(bleaf);
	json_decref(x);
	json_decref(xbad);
	json_decref(bclient);
}

static void
test_fields(void)
{
	struct tb_diag d;
	json_t *c = json_deep_copy(leaf);

	json_object_del(c, "kx_key");
	json_object_set_new(c, "serial", json_string("XYZ"));
	json_object_set_new(c, "colour", json_string("red"));
	tb_diag_init(&d);
	ok(cert_check(c, "$", &d) >= 1, "unknown fields are refused");
	json_object_del(c, "colour");
	tb_diag_init(&d);
	is_int(cert_check(c, "$", &d), 2, "a bad serial and a missing kx_key");
	is_str(d.e[0].path, "$.serial", "serial named");
	is_str(d.e[1].path, "$.kx_key", "kx_key named");
	json_decref(c);
	c = json_deep_copy(c2);
	json_object_set_new(c, "region", json_string("379999"));
	json_object_set_new(c, "not_after",
	                    json_string("2020-01-01T00:00:00Z"));
	tb_diag_init(&d);
	is_int(cert_check(c, "$", &d), 2, "an unknown region and a window");
	like(d.e[0].msg, "\"379999\" is not a region code", "region named");
	like(d.e[1].msg, "is not after not_before", "window named");
	json_decref(c);
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	setup();
	test_valid();
	test_refusals();
	test_crl();
	test_issue_rules();
	test_requests();
	test_rotation();
	test_cache();
	test_cross();
	test_fields();
	json_decref(c0);
	json_decref(c1);
	json_decref(c2);
	json_decref(leaf);
	json_decref(root);
	json_decref(broot);
	return done_testing();
}
