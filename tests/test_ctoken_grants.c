/* Tests for chain tokens of another province through the grants of a
 * cross-certificate (schema/ctoken.h check 8, schema/cert.h "grants"): our
 * root 370000 cross-certifies 110000, whose region key certifies client
 * keys of services; grants allowed, refused (scope, role, none), revoked
 * (our root's list, 110000's lists) and tampered, each refusal named. */
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

static struct key off1, k0, boff, b0, bsvc, bprov;
static json_t *root, *broot, *c0, *bc0, *csvc, *cprov;
static struct cert_cache cache;

/* issue certifies k (kind, region, role) under issuer, signed by s. */
static json_t *
issue(enum cert_kind kind, const char *region, const struct key *k,
      const json_t *issuer, const struct key *s, const char *serial,
      const char *role)
{
	struct cert_issue_args a = { serial, role, NOW - DAY, NOW + YEAR };
	char err[200];
	json_t *req = NULL, *c = NULL;

	cert_request_build(kind, region, NULL, k->pk, NULL, NULL, &req);
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

/* xcert makes our root's cross-certificate for 110000 with grants g (a
 * JSON text, NULL: none), signed by our officer. */
static json_t *
xcert(const char *serial, const char *g)
{
	json_t *grants = g != NULL ? json_loads(g, 0, NULL) : NULL, *x = NULL;
	char err[200];

	if (cert_xcert_build(root, broot, serial, NOW - DAY, NOW + YEAR, grants,
	                     &x, err, sizeof(err)) != 0) {
		printf("# cert_xcert_build: %s\n", err);
	} else {
		trust_sign(x, off1.sk, err, sizeof(err));
	}
	json_decref(grants);
	return x;
}

/* token signs a token of the 110000 client (service or provincial). */
static char *
token(bool prov, const char *id, const char *role, const char *scope)
{
	struct ctok_claims cl = { id, role, scope, NOW_S - 60, NOW_S + 3600 };
	json_t *chain = json_pack("[O, O]", prov ? cprov : csvc, bc0);
	char *tok = NULL, err[300];

	if (ctok_sign(chain, &cl, prov ? bprov.sk : bsvc.sk, &tok, err,
	              sizeof(err)) != CTOK_OK) {
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
	const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
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
	sodium_bin2base64(s + 5, n - 5, b.data, b.len, v);
	strcat(s, ".");
	sodium_bin2base64(s + strlen(s), n - strlen(s), sig, 64, v);
	canon_buf_free(&b);
	return s;
}

/* check verifies tok at a node of region holding the cross-certificate x
 * and the lists crls (NULL-terminated); "path: message" goes to msg. */
static enum ctok_reason
check(const char *tok, const char *region, const json_t *x,
      const json_t *const *crls, char *msg, size_t mlen, json_t **out)
{
	const json_t *xs[1] = { x };
	struct ctok_trust t = { root,      crls,   0,   xs,
		                x != NULL, region, NOW, &cache };
	struct tb_diag d;
	json_t *p = NULL;
	enum ctok_reason r;

	while (crls != NULL && crls[t.ncrl] != NULL) {
		t.ncrl++;
	}
	tb_diag_init(&d);
	r = tok != NULL ? ctok_verify(tok, strlen(tok), &t, &p, &d)
	                : CTOK_MALFORMED;
	snprintf(msg, mlen, "%s: %s", d.n ? d.e[0].path : "",
	         d.n ? d.e[0].msg : "");
	if (out != NULL) {
		*out = p;
	} else {
		json_decref(p);
	}
	return r;
}

#define CHECK(tok, region, x, crls, want, sub, name)                           \
	do {                                                                   \
		char m_[600];                                                  \
		enum ctok_reason r_ =                                          \
		    check((tok), (region), (x), (crls), m_, sizeof(m_), NULL); \
		is_str(ctok_reason_name(r_), ctok_reason_name(want), name);    \
		if ((sub) != NULL) {                                           \
			like(m_, (const char *)(sub), "  %s", m_);             \
		}                                                              \
	} while (0)

static void
setup(void)
{
	key_make(&off1, 1);
	key_make(&k0, 10);
	key_make(&boff, 50);
	key_make(&b0, 51);
	key_make(&bsvc, 52);
	key_make(&bprov, 53);
	root = make_root("370000", &off1);
	broot = make_root("110000", &boff);
	c0 = issue(CERT_REGION, "370000", &k0, root, &off1, "0000000000000000",
	           NULL);
	bc0 = issue(CERT_REGION, "110000", &b0, broot, &boff,
	            "b000000000000000", NULL);
	csvc = issue(CERT_CLIENT, "110000", &bsvc, bc0, &b0, "b111111111111111",
	             "service");
	cprov = issue(CERT_CLIENT, "110000", &bprov, bc0, &b0,
	              "b222222222222222", "provincial_admin");
}

static void
test_grant_ok(void)
{
	json_t *x = xcert("5555555555555555",
	                  "{\"scope\": \"370000\", \"roles\": [\"service\"]}");
	char *t = token(false, "svc-1", "service", "370000"), msg[600];
	char *tc = token(false, "svc-2", "service", "370102");
	json_t *p = NULL;

	ok(x != NULL && t != NULL && tc != NULL,
	   "a cross-certificate with grants and a 110000 service's token "
	   "scoped to 370000 (ctok_sign allows another province's scope)");
	is_str(
	    ctok_reason_name(check(t, "370102", x, NULL, msg, sizeof(msg), &p)),
	    "ok", "it is valid at a node of 370102, within the grant");
	is_str(spec_str(p, "role"), "service", "  with its role");
	is_str(
	    spec_str(json_array_get(json_object_get(p, "chain"), 0), "region"),
	    "110000", "  and its client certificate of 110000");
	json_decref(p);
	CHECK(t, "370000", x, NULL, CTOK_OK, NULL, "and at 370000's own node");
	CHECK(tc, "370102", x, NULL, CTOK_OK, NULL,
	      "a token scoped to 370102 is valid at 370102");
	CHECK(tc, "370100", x, NULL, CTOK_SCOPE_NODE,
	      "scoped to 370102 is not valid at this node of 370100",
	      "  but not at 370100 (the node outside the token's scope)");
	CHECK(t, "370102", NULL, NULL, CTOK_UNKNOWN_ISSUER,
	      "the root of 110000 is not trusted here",
	      "without the cross-certificate: unknown_issuer");
	free(t);
	free(tc);
	json_decref(x);
}

static void
test_grant_refused(void)
{
	json_t *x370100 =
	    xcert("6666666666666666", "{\"scope\": \"370100\", "
	                              "\"roles\": [\"service\"]}");
	json_t *xnone = xcert("7777777777777777", NULL);
	json_t *xnoroles = xcert("8888888888888888", "{\"scope\": \"370000\"}");
	json_t *x = xcert("9999999999999999",
	                  "{\"scope\": \"370000\", \"roles\": [\"service\"]}");
	char *t = token(false, "svc-3", "service", "370000");
	char *ta = token(true, "aud-1", "auditor", "370000");
	char *town = token(false, "svc-4", "service", "110000");
	struct ctok_claims cl = { "p", "provincial_admin", "370000", NOW_S,
		                  NOW_S + 60 };
	json_t *chain = json_pack("[O, O]", cprov, bc0);
	char *tok = NULL, err[300];

	CHECK(t, "370102", x370100, NULL, CTOK_SCOPE_GRANT,
	      "$.scope: scope 370000 is outside 370100, what "
	      "cross-certificate 6666666666666666 grants 110000's tokens",
	      "a scope outside the grant's: scope_outside_grant at $.scope");
	CHECK(ta, "370102", x, NULL, CTOK_ROLE_GRANT,
	      "$.role: role auditor is not among the roles "
	      "cross-certificate 9999999999999999 grants",
	      "a role outside the grant's (a provincial key's auditor): "
	      "role_outside_grant at $.role");
	CHECK(t, "370102", xnone, NULL, CTOK_SCOPE_GRANT,
	      "$.scope: cross-certificate 7777777777777777 grants 110000's "
	      "tokens no scope here",
	      "a cross-certificate without grants grants nothing");
	CHECK(t, "370102", xnoroles, NULL, CTOK_ROLE_GRANT, "$.role: ",
	      "grants with a scope but no roles: role_outside_grant");
	CHECK(town, "370102", x, NULL, CTOK_SCOPE_NODE, "$.scope: ",
	      "a token scoped to its own province: scope_outside_node");
	is_str(ctok_reason_name(
	           ctok_sign(chain, &cl, bprov.sk, &tok, err, sizeof(err))),
	       "role_outside_grant",
	       "ctok_sign refuses an administrative role for another "
	       "province");
	like(err, "never granted to another province's tokens", "  %s", err);
	free(tok);
	json_decref(chain);
	/* An attacker holding the provincial key forges what ctok_sign
	 * refuses: the node refuses it before looking at the chain. */
	{
		json_t *pl = json_pack(
		    "{s:s, s:s, s:s, s:s, s:I, s:I, s:[O, O]}", "format",
		    CTOK_FORMAT, "id", "forged", "role", "provincial_admin",
		    "scope", "370000", "nbf", (json_int_t)NOW_S, "exp",
		    (json_int_t)NOW_S + 60, "chain", cprov, bc0);
		json_t *wide = xcert("dddddddddddddddd",
		                     "{\"scope\": \"370000\", \"roles\": "
		                     "[\"service\", \"auditor\"]}");
		char *f = forge(pl, &bprov);
		CHECK(f, "370102", wide, NULL, CTOK_ROLE_GRANT,
		      "$.role: role provincial_admin is never granted",
		      "a forged provincial_admin token for 370000: "
		      "role_outside_grant");
		free(f);
		json_decref(wide);
	}
	/* A certificate's role still bounds the token's. */
	{
		struct ctok_claims c2 = { "p", "auditor", "370000", NOW_S,
			                  NOW_S + 60 };
		json_t *ch = json_pack("[O, O]", csvc, bc0);
		tok = NULL;
		is_str(ctok_reason_name(
		           ctok_sign(ch, &c2, bsvc.sk, &tok, err, sizeof(err))),
		       "role_exceeds_certificate",
		       "a service's certificate cannot sign an auditor's "
		       "token");
		free(tok);
		json_decref(ch);
	}
	free(t);
	free(ta);
	free(town);
	json_decref(x370100);
	json_decref(xnone);
	json_decref(xnoroles);
	json_decref(x);
}

static void
test_revoked(void)
{
	json_t *x = xcert("aaaaaaaaaaaaaaaa",
	                  "{\"scope\": \"370000\", \"roles\": [\"service\"]}");
	char *t = token(false, "svc-r", "service", "370000");
	json_t *ours = NULL, *ours_id = NULL, *bkey = NULL, *broot_l = NULL;
	const json_t *l[2] = { NULL, NULL };
	char err[200];

	CHECK(t, "370102", x, NULL, CTOK_OK, NULL, "valid before any list");
	cert_crl_build("370000", NULL, NULL, NOW, &ours, err, sizeof(err));
	cert_crl_revoke(ours, "aaaaaaaaaaaaaaaa", "trust withdrawn", NOW, err,
	                sizeof(err));
	trust_sign(ours, off1.sk, err, sizeof(err));
	l[0] = ours;
	CHECK(t, "370102", x, l, CTOK_REVOKED,
	      "$.chain[2].serial: cross-certificate aaaaaaaaaaaaaaaa: revoked "
	      "by 370000's list version 1",
	      "our root's list naming the cross-certificate cuts the token");
	cert_crl_build("370000", NULL, NULL, NOW, &ours_id, err, sizeof(err));
	cert_crl_revoke_token(ours_id, "svc-r", NULL, NOW, err, sizeof(err));
	trust_sign(ours_id, off1.sk, err, sizeof(err));
	l[0] = ours_id;
	CHECK(t, "370102", x, l, CTOK_REVOKED,
	      "$.id: token svc-r is revoked by 370000's list version 1",
	      "our root's list naming the token's id revokes it");
	cert_crl_build("110000", b0.hex, NULL, NOW, &bkey, err, sizeof(err));
	cert_crl_revoke(bkey, "b111111111111111", NULL, NOW, err, sizeof(err));
	trust_sign(bkey, b0.sk, err, sizeof(err));
	l[0] = bkey;
	CHECK(t, "370102", x, l, CTOK_REVOKED,
	      "$.chain[0].serial: cert b111111111111111: revoked by 110000's",
	      "110000's region key revokes the service's certificate");
	cert_crl_build("110000", NULL, NULL, NOW, &broot_l, err, sizeof(err));
	cert_crl_revoke(broot_l, "b000000000000000", NULL, NOW, err,
	                sizeof(err));
	trust_sign(broot_l, boff.sk, err, sizeof(err));
	l[0] = broot_l;
	CHECK(t, "370102", x, l, CTOK_REVOKED,
	      "$.chain[1].serial: cert b000000000000000: revoked",
	      "110000's root list (checked against the officers the "
	      "cross-certificate names) revokes its region key");
	json_decref(ours);
	json_decref(ours_id);
	json_decref(bkey);
	json_decref(broot_l);
	json_decref(x);
	free(t);
}

static void
test_tampered(void)
{
	json_t *x = xcert("bbbbbbbbbbbbbbbb",
	                  "{\"scope\": \"370100\", \"roles\": [\"service\"]}");
	json_t *wide = json_deep_copy(x), *g = NULL, *bad = NULL;
	char *t = token(false, "svc-t", "service", "370000");
	char *ta = token(true, "aud-t", "auditor", "370100");
	char err[300];
	struct tb_diag d;

	json_object_set_new(json_object_get(wide, "grants"), "scope",
	                    json_string("370000"));
	CHECK(t, "370102", wide, NULL, CTOK_BAD_SIGNATURE,
	      "$.chain[2].signatures: cross-certificate bbbbbbbbbbbbbbbb: "
	      "signed by 0 of the 370000 root's officers",
	      "grants widened after signing (scope): bad_signature");
	json_decref(wide);
	wide = json_deep_copy(x);
	json_array_append_new(
	    json_object_get(json_object_get(wide, "grants"), "roles"),
	    json_string("auditor"));
	CHECK(ta, "370102", wide, NULL, CTOK_BAD_SIGNATURE,
	      "$.chain[2].signatures: ",
	      "grants widened after signing (a role): bad_signature");
	CHECK(ta, "370102", x, NULL, CTOK_ROLE_GRANT, NULL,
	      "  the signed grants still refuse that role");
	json_decref(wide);
	wide = json_deep_copy(x);
	json_object_del(wide, "grants");
	CHECK(t, "370102", wide, NULL, CTOK_BAD_SIGNATURE, NULL,
	      "grants removed after signing: bad_signature");
	json_decref(wide);
	/* What the officers may not sign at all. */
	{
		static const struct {
			const char *g, *path, *sub, *name;
		} bads[] = {
			{ "{\"scope\": \"110000\", \"roles\": [\"service\"]}",
			  "$.grants.scope",
			  "not a region of the issuing root's",
			  "a scope in the other province" },
			{ "{\"scope\": \"999999\"}", "$.grants.scope",
			  "not a region code", "a scope not in the table" },
			{ "{\"scope\": \"370000\", \"roles\": "
			  "[\"provincial_admin\"]}",
			  "$.grants.roles[0]", "never an administrative",
			  "an administrative role" },
			{ "{\"scope\": \"370000\", \"roles\": [\"service\", "
			  "\"service\"]}",
			  "$.grants.roles[1]", "twice", "a role twice" },
			{ "{\"scope\": \"370000\", \"roles\": []}",
			  "$.grants.roles", "1 to 8 roles", "no roles" },
			{ "{\"scope\": \"370000\", \"admin\": true}",
			  "$.grants.admin", "", "an unknown field" },
		};
		size_t i;
		for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
			g = json_loads(bads[i].g, 0, NULL);
			bad = NULL;
			ok(cert_xcert_build(root, broot, "cccccccccccccccc",
			                    NOW - DAY, NOW + YEAR, g, &bad, err,
			                    sizeof(err)) == TB_EINVAL &&
			       bad == NULL,
			   "cert_xcert_build refuses %s", bads[i].name);
			like(err, bads[i].path, "  at %s", bads[i].path);
			like(err, bads[i].sub, "  %s", err);
			json_decref(g);
		}
	}
	/* The field check also runs inside the chain's verification. */
	bad = json_deep_copy(x);
	json_object_set_new(json_object_get(bad, "grants"), "roles",
	                    json_pack("[s]", "region_admin"));
	tb_diag_init(&d);
	ok(cert_xcert_check(bad, "$", &d) == 1 &&
	       !strcmp(d.e[0].path, "$.grants.roles[0]"),
	   "cert_xcert_check refuses a stored cross-certificate granting "
	   "region_admin at $.grants.roles[0]");
	json_decref(bad);
	json_decref(x);
	free(t);
	free(ta);
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	cert_cache_init(&cache);
	setup();
	ok(root && broot && c0 && bc0 && csvc && cprov,
	   "the certificates exist");
	test_grant_ok();
	test_grant_refused();
	test_revoked();
	test_tampered();
	json_decref(root);
	json_decref(broot);
	json_decref(c0);
	json_decref(bc0);
	json_decref(csvc);
	json_decref(cprov);
	return done_testing();
}
