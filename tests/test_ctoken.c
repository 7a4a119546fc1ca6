/* Tests for chain tokens (schema/ctoken.h) on a real tree: 370000 (root)
 * -> 370100 -> 370102, client certificates of 370000 and 370102, keys from
 * fixed seeds; tampering, truncation, wrong keys, time, revocation and
 * escalation, each refusal named. */
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_cache.h"
#include "schema/cert_crl.h"
#include "schema/cert_issue.h"
#include "schema/ctoken.h"
#include "schema/spec.h"
#include "schema/trust.h"
#include "tests/ctoken_util.h"
#include "tests/tap.h"

#include <sodium.h>
#include <stdlib.h>

static struct key off1, k0, k1, k2, kp, kc, kr, kx, knode, boff, b0, bcl;
static json_t *root, *broot, *c0, *c1, *c2, *cp, *cc, *cr, *cx, *cnode;
static json_t *bc0, *bclient;

/* issue certifies k (kind, region, role) under issuer, signed by s. */
static json_t *
issue(enum cert_kind kind, const char *region, const struct key *k,
      const json_t *issuer, const struct key *s, const char *serial,
      const char *role, int64_t nb, int64_t na)
{
	struct cert_issue_args a = { serial, role, nb, na };
	char id[CERT_NODE_ID_HEX + 1], err[200];
	json_t *req = NULL, *c = NULL;
	uint8_t kxk[32];

	memset(kxk, 0x42, sizeof(kxk));
	cert_node_id(k->pk, id);
	cert_request_build(kind, region, kind == CERT_NODE ? id : NULL, k->pk,
	                   kind == CERT_NODE ? kxk : NULL, NULL, &req);
	trust_sign(req, k->sk, err, sizeof(err));
	if (cert_issue(req, issuer, &a, &c, err, sizeof(err)) != 0) {
		printf("# cert_issue: %s\n", err);
	}
	json_decref(req);
	if (c != NULL) {
		trust_sign(c, s->sk, err, sizeof(err));
	}
	return c;
}

static void
setup(void)
{
	key_make(&off1, 1);
	key_make(&k0, 10);
	key_make(&k1, 11);
	key_make(&k2, 12);
	key_make(&kp, 40);
	key_make(&kc, 41);
	key_make(&kr, 42);
	key_make(&kx, 43);
	key_make(&knode, 44);
	key_make(&boff, 50);
	key_make(&b0, 51);
	key_make(&bcl, 52);
	root = make_root("370000", &off1);
	broot = make_root("110000", &boff);
	c0 = issue(CERT_REGION, "370000", &k0, root, &off1, "0000000000000000",
	           NULL, NOW - YEAR, NOW + YEAR);
	c1 = issue(CERT_REGION, "370100", &k1, c0, &k0, "1111111111111111",
	           NULL, NOW - YEAR, NOW + YEAR);
	c2 = issue(CERT_REGION, "370102", &k2, c1, &k1, "2222222222222222",
	           NULL, NOW - YEAR, NOW + YEAR);
	cp = issue(CERT_CLIENT, "370000", &kp, c0, &k0, "aaaaaaaaaaaaaaaa",
	           "provincial_admin", NOW - DAY, NOW + 30 * DAY);
	cc = issue(CERT_CLIENT, "370102", &kc, c2, &k2, "cccccccccccccccc",
	           "clerk", NOW - DAY, NOW + 30 * DAY);
	cr = issue(CERT_CLIENT, "370102", &kr, c2, &k2, "dddddddddddddddd",
	           "provincial_admin", NOW - DAY, NOW + 30 * DAY);
	/* a client certificate that expired an hour ago */
	cx = issue(CERT_CLIENT, "370102", &kx, c2, &k2, "eeeeeeeeeeeeeeee",
	           "clerk", NOW - 30 * DAY, NOW - 3600000);
	cnode = issue(CERT_NODE, "370102", &knode, c2, &k2, "ffffffffffffffff",
	              "member", NOW - DAY, NOW + 30 * DAY);
	bc0 = issue(CERT_REGION, "110000", &b0, broot, &boff,
	            "b000000000000000", NULL, NOW - YEAR, NOW + YEAR);
	bclient =
	    issue(CERT_CLIENT, "110000", &bcl, bc0, &b0, "b111111111111111",
	          "provincial_admin", NOW - DAY, NOW + 30 * DAY);
}

/* chain_of builds an array of the NULL-terminated certificates. */
static json_t *
chain_of(json_t *a, json_t *b, json_t *c, json_t *d)
{
	json_t *arr = json_array(), *v[] = { a, b, c, d };
	int i;

	for (i = 0; i < 4 && v[i] != NULL; i++) {
		json_array_append(arr, v[i]);
	}
	return arr;
}

/* sign makes a token through ctok_sign; NULL (and the reason printed) if
 * it refuses. */
static char *
sign(json_t *chain, const struct key *k, const char *id, const char *role,
     const char *scope, int64_t nbf_s, int64_t exp_s, enum ctok_reason *r)
{
	struct ctok_claims cl = { id, role, scope, nbf_s, exp_s };
	char *tok = NULL, err[300];
	enum ctok_reason rr;

	rr = ctok_sign(chain, &cl, k->sk, &tok, err, sizeof(err));
	if (r != NULL) {
		*r = rr;
	}
	if (rr != CTOK_OK && r == NULL) {
		printf("# ctok_sign: %s\n", err);
	}
	json_decref(chain);
	return tok;
}

/* forge encodes payload p (taken) and signs it with k, bypassing the
 * checks of ctok_sign, as an attacker would. */
static char *
forge(json_t *p, const struct key *k)
{
	struct canon_buf b = { 0 };
	uint8_t sig[64];
	char err[200], *s;
	size_t n;

	canon_encode(p, &b, err, sizeof(err));
	json_decref(p);
	crypto_sign_detached(sig, NULL, b.data, b.len, k->sk);
	n = 5 + b.len * 2 + 100;
	s = malloc(n);
	memcpy(s, "tbc1.", 5);
	sodium_bin2base64(s + 5, n - 5, b.data, b.len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	strcat(s, ".");
	sodium_bin2base64(s + strlen(s), n - strlen(s), sig, 64,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	canon_buf_free(&b);
	return s;
}

static json_t *
payload(json_t *chain, const char *id, const char *role, const char *scope,
        int64_t nbf_s, int64_t exp_s)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "format",
	                 CTOK_FORMAT, "id", id, "role", role, "scope", scope,
	                 "nbf", (json_int_t)nbf_s, "exp", (json_int_t)exp_s,
	                 "chain", chain);
}

/* check verifies tok at a node of region at now with the lists crls
 * (NULL-terminated), writing "path: message" to msg. */
static struct cert_cache cache;
static enum ctok_reason
check(const char *tok, const char *region, int64_t now,
      const json_t *const *crls, char *msg, size_t mlen, json_t **out)
{
	const json_t *xs[1];
	struct ctok_trust t = { root, crls, 0, xs, 0, region, now, &cache };
	struct tb_diag d;
	json_t *p = NULL;
	enum ctok_reason r;

	while (crls != NULL && crls[t.ncrl] != NULL) {
		t.ncrl++;
	}
	tb_diag_init(&d);
	r = ctok_verify(tok, strlen(tok), &t, &p, &d);
	snprintf(msg, mlen, "%s: %s", d.n ? d.e[0].path : "",
	         d.n ? d.e[0].msg : "");
	if (out != NULL) {
		*out = p;
	} else {
		json_decref(p);
	}
	return r;
}

#define CHECK(tok, region, now, crls, want, sub, name)                      \
	do {                                                                \
		char m_[600];                                               \
		enum ctok_reason r_ = check((tok), (region), (now), (crls), \
		                            m_, sizeof(m_), NULL);          \
		is_str(ctok_reason_name(r_), ctok_reason_name(want), name); \
		if ((sub) != NULL) {                                        \
			like(m_, (const char *)(sub), "  %s", m_);          \
		}                                                           \
	} while (0)

static void
test_valid(void)
{
	char *tp, *tc, msg[600];
	json_t *p = NULL;

	ok(cp && cc && cr && cx && cnode && bclient, "the certificates exist");
	tp = sign(chain_of(cp, c0, NULL, NULL), &kp, "prov-1",
	          "provincial_admin", "370000", NOW_S - 60, NOW_S + 8 * 3600,
	          NULL);
	ok(tp != NULL && !strncmp(tp, "tbc1.", 5),
	   "a provincial token: %.40s..", tp ? tp : "");
	is_str(ctok_reason_name(
	           check(tp, "370102", NOW, NULL, msg, sizeof(msg), &p)),
	       "ok", "it is valid at a county node of the province");
	is_str(spec_str(p, "id"), "prov-1", "  the payload names its id");
	is_str(
	    spec_str(json_array_get(json_object_get(p, "chain"), 0), "serial"),
	    "aaaaaaaaaaaaaaaa", "  and its client certificate");
	json_decref(p);
	CHECK(tp, "370000", NOW, NULL, CTOK_OK, NULL,
	      "and at the province's own node");
	CHECK(tp, "370100", NOW, NULL, CTOK_OK, NULL, "and at a city node");
	CHECK(tp, "440000", NOW, NULL, CTOK_SCOPE_NODE,
	      "a token scoped to 370000 is not valid at this node of 440000",
	      "not at another province's node");
	{
		uint64_t h = cache.hits;
		CHECK(tp, "370102", NOW, NULL, CTOK_OK, NULL,
		      "a repeat is valid");
		ok(cache.hits > h, "  through the verified-chain cache");
	}
	tc = sign(chain_of(cc, c2, c1, c0), &kc, "clerk-1", "clerk", "370102",
	          NOW_S, NOW_S + 3600, NULL);
	CHECK(tc, "370102", NOW, NULL, CTOK_OK, NULL,
	      "a county clerk's token is valid at the county");
	CHECK(tc, "370000", NOW, NULL, CTOK_SCOPE_NODE,
	      "scoped to 370102 is not valid at this node of 370000",
	      "not at its province");
	CHECK(tc, "370103", NOW, NULL, CTOK_SCOPE_NODE, "370103",
	      "not at a sibling county");
	{
		struct ctok_trust t = { NULL, NULL,     0,   NULL,
			                0,    "370102", NOW, NULL };
		struct tb_diag d;
		json_t *none = NULL;
		tb_diag_init(&d);
		is_str(ctok_reason_name(
		           ctok_verify(tc, strlen(tc), &t, &none, &d)),
		       "unknown_issuer",
		       "a node without root metadata: "
		       "unknown_issuer");
		like(d.n ? d.e[0].msg : "", "no root metadata", "  named");
	}
	free(tp);
	free(tc);
}

static void
test_envelope(void)
{
	char *t = sign(chain_of(cc, c2, c1, c0), &kc, "clerk-2", "clerk",
	               "370102", NOW_S, NOW_S + 3600, NULL);
	char *big, *dot = strrchr(t, '.');
	size_t len = strlen(t), i, bad = 0, notmal = 0;
	char save;

	/* Every truncation is refused as malformed. */
	for (i = 0; i < len; i++) {
		char *cut = strndup(t, i), m[600];
		enum ctok_reason r =
		    check(cut, "370102", NOW, NULL, m, sizeof(m), NULL);
		bad += r != CTOK_OK;
		notmal += r != CTOK_MALFORMED;
		free(cut);
	}
	is_int(bad, len, "each of the %zu truncations is refused", len);
	is_int(notmal, 0, "  as malformed");
	/* Every single changed byte is refused. */
	bad = 0;
	for (i = 0; i < len; i += 7) {
		char m[600];
		t[i] ^= 0x01;
		bad += check(t, "370102", NOW, NULL, m, sizeof(m), NULL) !=
		       CTOK_OK;
		t[i] ^= 0x01;
	}
	is_int(bad, (len + 6) / 7, "every 7th byte flipped: each refused");
	save = dot[5];
	dot[5] = save == 'A' ? 'B' : 'A';
	CHECK(t, "370102", NOW, NULL, CTOK_BAD_SIGNATURE,
	      "not signed by the key of its client certificate cccccccc",
	      "a changed signature: bad_signature");
	dot[5] = save;
	CHECK(t, "370102", NOW, NULL, CTOK_OK, NULL, "  restored, valid");
	CHECK("tbc1.!!!!.????", "370102", NOW, NULL, CTOK_MALFORMED,
	      "not base64url", "garbage base64: malformed");
	CHECK("tbc1.AAAA", "370102", NOW, NULL, CTOK_MALFORMED, "three parts",
	      "two parts: malformed");
	CHECK("tbc1.a.b.c", "370102", NOW, NULL, CTOK_MALFORMED, "three parts",
	      "four parts: malformed");
	CHECK("tb_0123456789abcdef", "370102", NOW, NULL, CTOK_MALFORMED,
	      "starts with tbc1.", "a node-local token is not a chain token");
	big = malloc(CTOK_MAX_LEN + 100);
	memset(big, 'A', CTOK_MAX_LEN + 99);
	memcpy(big, "tbc1.", 5);
	big[CTOK_MAX_LEN + 99] = '\0';
	CHECK(big, "370102", NOW, NULL, CTOK_TOO_BIG, "at most 6144",
	      "an oversized header: too_big");
	free(big);
	free(t);
}

static void
test_payload(void)
{
	json_t *p;
	char *t;

	/* The payload is checked before the signature's meaning. */
	p = payload(chain_of(cc, c2, c1, c0), "x", "clerk", "370102", NOW_S,
	            NOW_S + 60);
	json_object_set_new(p, "admin", json_true());
	t = forge(p, &kc);
	CHECK(t, "370102", NOW, NULL, CTOK_MALFORMED,
	      "$.admin: ", "an unknown field: malformed, named");
	free(t);
	p = payload(chain_of(cc, c2, c1, c0), "x", "root", "370102", NOW_S,
	            NOW_S + 60);
	t = forge(p, &kc);
	CHECK(t, "370102", NOW, NULL, CTOK_MALFORMED,
	      "$.role: ", "an unknown role: malformed at $.role");
	free(t);
	p = payload(chain_of(cc, c2, c1, c0), "bad id!", "clerk", "370102",
	            NOW_S, NOW_S + 60);
	t = forge(p, &kc);
	CHECK(t, "370102", NOW, NULL, CTOK_MALFORMED,
	      "$.id: ", "a bad id: malformed at $.id");
	free(t);
	p = payload(chain_of(cc, c2, c1, c0), "x", "clerk", "370102", NOW_S,
	            NOW_S + 40 * 86400);
	t = forge(p, &kc);
	CHECK(t, "370102", NOW, NULL, CTOK_MALFORMED,
	      "$.exp: ", "a lifetime over 31 days: malformed at $.exp");
	free(t);
	p = payload(json_array(), "x", "clerk", "370102", NOW_S, NOW_S + 60);
	t = forge(p, &kc);
	CHECK(t, "370102", NOW, NULL, CTOK_MALFORMED,
	      "$.chain: ", "an empty chain: malformed");
	free(t);
	/* Non-canonical msgpack: a fixmap with its keys out of order. */
	{
		const uint8_t mp[] = { 0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02 };
		char s[200] = "tbc1.", *e;
		uint8_t z[64] = { 0 };
		sodium_bin2base64(s + 5, 100, mp, sizeof(mp),
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		strcat(s, ".");
		e = s + strlen(s);
		sodium_bin2base64(e, 100, z, 64,
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		CHECK(s, "370102", NOW, NULL, CTOK_MALFORMED,
		      "not canonical msgpack: at byte",
		      "non-canonical msgpack: malformed, at a byte");
	}
}

static void
test_keys_and_chain(void)
{
	json_t *p;
	char *t;
	enum ctok_reason r;

	t = sign(chain_of(cc, c2, c1, c0), &kr, "x", "clerk", "370102", NOW_S,
	         NOW_S + 60, &r);
	ok(t == NULL && r == CTOK_BAD_SIGNATURE,
	   "ctok_sign refuses a key that is not the certificate's");
	p = payload(chain_of(cc, c2, c1, c0), "x", "clerk", "370102", NOW_S,
	            NOW_S + 60);
	t = forge(p, &kr);
	CHECK(t, "370102", NOW, NULL, CTOK_BAD_SIGNATURE,
	      "not signed by the key of its client certificate",
	      "signed by another key: bad_signature");
	free(t);
	/* The attacker's own certificate: a client cert it signed itself
	 * with a region key the root never certified. */
	{
		json_t *fake =
		    issue(CERT_REGION, "370102", &kx, c1, &kr,
		          "9999999999999999", NULL, NOW - DAY, NOW + DAY);
		json_t *fc =
		    issue(CERT_CLIENT, "370102", &kc, fake, &kx,
		          "9999999999999998", "clerk", NOW - DAY, NOW + DAY);
		t = sign(chain_of(fc, fake, c1, c0), &kc, "x", "clerk",
		         "370102", NOW_S, NOW_S + 60, NULL);
		CHECK(t, "370102", NOW, NULL, CTOK_BAD_SIGNATURE,
		      "$.chain[1].signatures: ",
		      "a region certificate not signed by its issuer: "
		      "bad_signature at the certificate");
		free(t);
		json_decref(fake);
		json_decref(fc);
	}
	t = sign(chain_of(cc, c2, c1, NULL), &kc, "x", "clerk", "370102", NOW_S,
	         NOW_S + 60, NULL);
	CHECK(t, "370102", NOW, NULL, CTOK_UNKNOWN_ISSUER,
	      "the chain ends before the 370000 root",
	      "a chain that stops short: unknown_issuer");
	free(t);
	t = sign(chain_of(bclient, bc0, NULL, NULL), &bcl, "x",
	         "provincial_admin", "110000", NOW_S, NOW_S + 60, NULL);
	CHECK(t, "110000", NOW, NULL, CTOK_UNKNOWN_ISSUER, "not trusted here",
	      "another province's root (no cross-certificate): "
	      "unknown_issuer");
	free(t);
	/* With the cross-certificate 370000's root issued for 110000 but no
	 * grants in it, the foreign chain verifies and is still refused:
	 * nothing is granted (tests/test_ctoken_grants.c has the grants). */
	{
		json_t *x = NULL;
		const json_t *xs[1];
		struct ctok_trust tr = { root, NULL,     0,   xs,
			                 1,    "110101", NOW, NULL };
		struct tb_diag d;
		char err[200];
		json_t *got = NULL;
		enum ctok_reason rr;

		cert_xcert_build(root, broot, "5555555555555555", NOW - DAY,
		                 NOW + YEAR, NULL, &x, err, sizeof(err));
		trust_sign(x, off1.sk, err, sizeof(err));
		xs[0] = x;
		t = sign(chain_of(bclient, bc0, NULL, NULL), &bcl, "x",
		         "provincial_admin", "110000", NOW_S, NOW_S + 60, NULL);
		tb_diag_init(&d);
		rr = ctok_verify(t, strlen(t), &tr, &got, &d);
		is_str(ctok_reason_name(rr), "scope_outside_grant",
		       "a cross-certified province's chain without grants: "
		       "scope_outside_grant");
		like(d.n ? d.e[0].msg : "", "no grants.scope", "  named");
		json_decref(got);
		tr.region = "370102";
		tb_diag_init(&d);
		is_str(
		    ctok_reason_name(ctok_verify(t, strlen(t), &tr, &got, &d)),
		    "scope_outside_node",
		    "  but its scope never covers one of our nodes");
		free(t);
		json_decref(x);
	}
	p = payload(chain_of(cnode, c2, c1, c0), "x", "clerk", "370102", NOW_S,
	            NOW_S + 60);
	t = forge(p, &knode);
	CHECK(t, "370102", NOW, NULL, CTOK_WRONG_CERT,
	      "a node certificate cannot sign API tokens",
	      "signed by a node's key: wrong_certificate");
	free(t);
}

static void
test_time(void)
{
	char *t = sign(chain_of(cc, c2, c1, c0), &kc, "t", "clerk", "370102",
	               NOW_S, NOW_S + 3600, NULL);
	char *x;

	CHECK(t, "370102", NOW + 3600000 + 30000, NULL, CTOK_OK, NULL,
	      "30 s after exp: within the 60 s skew");
	CHECK(t, "370102", NOW + 3600000 + 61000, NULL, CTOK_EXPIRED,
	      "$.exp: the token expired at 2026-06-01T01:00:00Z",
	      "61 s after exp: expired, named");
	CHECK(t, "370102", NOW - 30000, NULL, CTOK_OK, NULL,
	      "30 s before nbf: within the skew");
	CHECK(t, "370102", NOW - 120000, NULL, CTOK_NOT_YET_VALID,
	      "$.nbf: the token is not valid before 2026-06-01T00:00:00Z",
	      "2 min before nbf: not_yet_valid, named");
	free(t);
	x = sign(chain_of(cx, c2, c1, c0), &kx, "t", "clerk", "370102", NOW_S,
	         NOW_S + 3600, NULL);
	CHECK(x, "370102", NOW, NULL, CTOK_EXPIRED,
	      "$.chain[0].not_after: cert eeeeeeeeeeeeeeee: expired",
	      "a token of an expired client certificate: expired");
	free(x);
}

static void
test_escalation(void)
{
	enum ctok_reason r;
	json_t *p;
	char *t;

	t = sign(chain_of(cc, c2, c1, c0), &kc, "x", "region_admin", "370102",
	         NOW_S, NOW_S + 60, &r);
	ok(t == NULL && r == CTOK_ROLE,
	   "ctok_sign refuses a role above the certificate's");
	p = payload(chain_of(cc, c2, c1, c0), "x", "region_admin", "370102",
	            NOW_S, NOW_S + 60);
	t = forge(p, &kc);
	CHECK(t, "370102", NOW, NULL, CTOK_ROLE,
	      "$.role: a client certificate with role clerk cannot grant "
	      "role region_admin",
	      "a clerk's key signs a region admin's token: "
	      "role_exceeds_certificate");
	free(t);
	p = payload(chain_of(cr, c2, c1, c0), "x", "provincial_admin", "370102",
	            NOW_S, NOW_S + 60);
	t = forge(p, &kr);
	CHECK(t, "370102", NOW, NULL, CTOK_ROLE,
	      "needs a client certificate of a province, this one is of "
	      "370102",
	      "a county certificate claiming provincial_admin: refused");
	free(t);
	p = payload(chain_of(cc, c2, c1, c0), "x", "clerk", "370000", NOW_S,
	            NOW_S + 60);
	t = forge(p, &kc);
	CHECK(t, "370000", NOW, NULL, CTOK_SCOPE_CERT,
	      "$.scope: scope 370000 is outside the client certificate's "
	      "region 370102",
	      "a county key scoping a token to its province: "
	      "scope_outside_certificate");
	free(t);
	t = sign(chain_of(cp, c0, NULL, NULL), &kp, "x", "clerk", "370102",
	         NOW_S, NOW_S + 60, NULL);
	CHECK(t, "370102", NOW, NULL, CTOK_OK, NULL,
	      "a provincial key grants a clerk scoped to a county");
	CHECK(t, "370101", NOW, NULL, CTOK_SCOPE_NODE, NULL,
	      "  not valid at another county");
	free(t);
}

static void
test_revoked(void)
{
	char *tp = sign(chain_of(cp, c0, NULL, NULL), &kp, "prov-r",
	                "provincial_admin", "370000", NOW_S, NOW_S + 600, NULL);
	char *tc = sign(chain_of(cc, c2, c1, c0), &kc, "clerk-r", "clerk",
	                "370102", NOW_S, NOW_S + 600, NULL);
	json_t *l0 = NULL, *l2 = NULL, *l2b = NULL;
	const json_t *only0[2], *only2[2], *both2[3];
	char err[200];

	cert_crl_build("370000", k0.hex, NULL, NOW, &l0, err, sizeof(err));
	is_int(cert_crl_revoke_token(l0, "prov-r", "lost laptop", NOW, err,
	                             sizeof(err)),
	       TB_OK, "370000's key lists token prov-r");
	is_int(cert_crl_revoke_token(l0, "prov-r", NULL, NOW, err, sizeof(err)),
	       TB_EDUP, "  once");
	is_int(cert_crl_revoke_token(l0, "bad id", NULL, NOW, err, sizeof(err)),
	       TB_EINVAL, "  a bad id is refused");
	trust_sign(l0, k0.sk, err, sizeof(err));
	{
		struct tb_diag d;
		tb_diag_init(&d);
		is_int(cert_crl_verify(l0, root, "$", &d), TB_OK,
		       "the list with a token verifies");
	}
	only0[0] = l0;
	only0[1] = NULL;
	CHECK(tp, "370102", NOW, only0, CTOK_REVOKED,
	      "$.id: token prov-r is revoked by 370000's list version 1",
	      "a revoked token id: revoked, named");
	free(tc);
	tc = sign(chain_of(cc, c2, c1, c0), &kc, "clerk-ok", "clerk", "370102",
	          NOW_S, NOW_S + 600, NULL);
	CHECK(tc, "370102", NOW, only0, CTOK_OK, NULL,
	      "a token whose id is not listed stays valid");
	/* The county's key revokes the clerk's client certificate. */
	cert_crl_build("370102", k2.hex, NULL, NOW, &l2, err, sizeof(err));
	cert_crl_revoke(l2, "cccccccccccccccc", "left", NOW, err, sizeof(err));
	trust_sign(l2, k2.sk, err, sizeof(err));
	only2[0] = l2;
	only2[1] = NULL;
	CHECK(tc, "370102", NOW, only2, CTOK_REVOKED,
	      "$.chain[0].serial: cert cccccccccccccccc: revoked",
	      "a token of a revoked client certificate: revoked");
	/* Version 2 of 370102's list names a token; version 1 does not
	 * (nor the certificate): the newest counts. */
	json_decref(l2);
	l2 = NULL;
	cert_crl_build("370102", k2.hex, NULL, NOW, &l2, err, sizeof(err));
	trust_sign(l2, k2.sk, err, sizeof(err));
	cert_crl_build("370102", k2.hex, l2, NOW, &l2b, err, sizeof(err));
	cert_crl_revoke_token(l2b, "clerk-ok", NULL, NOW, err, sizeof(err));
	trust_sign(l2b, k2.sk, err, sizeof(err));
	both2[0] = l2;
	both2[1] = l2b;
	both2[2] = NULL;
	CHECK(tc, "370102", NOW, both2, CTOK_REVOKED,
	      "revoked by 370102's list version 2",
	      "the county's newest list names the clerk's token: revoked");
	CHECK(tp, "370102", NOW, both2, CTOK_OK, NULL,
	      "  a list of 370102 cannot revoke a 370000 token");
	json_decref(l0);
	json_decref(l2);
	json_decref(l2b);
	free(tp);
	free(tc);
}

static void
test_crl_format(void)
{
	json_t *l = NULL, *l2 = NULL;
	struct tb_diag d;
	char err[200];

	cert_crl_build("370102", k2.hex, NULL, NOW, &l, err, sizeof(err));
	cert_crl_revoke_token(l, "t1", NULL, NOW, err, sizeof(err));
	cert_crl_build("370102", k2.hex, l, NOW, &l2, err, sizeof(err));
	ok(cert_crl_find_token(l2, "t1") != NULL,
	   "the next version keeps the revoked tokens");
	json_object_set_new(json_array_get(json_object_get(l2, "tokens"), 0),
	                    "id", json_string("no spaces allowed"));
	tb_diag_init(&d);
	ok(cert_crl_check(l2, "$", &d) > 0 && d.n > 0 &&
	       !strcmp(d.e[0].path, "$.tokens[0]"),
	   "a bad token id in a list is refused at $.tokens[0]");
	json_decref(l);
	json_decref(l2);
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	cert_cache_init(&cache);
	setup();
	test_valid();
	test_envelope();
	test_payload();
	test_keys_and_chain();
	test_time();
	test_escalation();
	test_revoked();
	test_crl_format();
	json_decref(root);
	json_decref(broot);
	json_decref(c0);
	json_decref(c1);
	json_decref(c2);
	json_decref(cp);
	json_decref(cc);
	json_decref(cr);
	json_decref(cx);
	json_decref(cnode);
	json_decref(bc0);
	json_decref(bclient);
	return done_testing();
}
