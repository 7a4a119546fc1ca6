/* API tokens signed through the trust chain: encoding, parsing, checks. */
#include "schema/ctoken.h"

#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_chain.h"
#include "schema/cert_crl.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

static const char *const api_roles[] = {
	"clerk", "region_admin", "provincial_admin", "auditor", "service", NULL
};

/* Tight limits: a payload is a handful of small certificates. */
static const struct canon_limits ctok_limits = { CTOK_MAX_PAYLOAD, 8, 1024,
	                                         1024 };

const char *
ctok_reason_name(enum ctok_reason r)
{
	static const char *const names[] = {
#define CTOK_NAME(id, name) name,
		CTOK_REASONS(CTOK_NAME)
#undef CTOK_NAME
	};
	return (unsigned)r < CTOK_REASON_COUNT ? names[r] : "unknown";
}

/* fail records a refusal in d (may be NULL) and returns r. */
static enum ctok_reason fail(struct tb_diag *d, enum ctok_reason r,
                             const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum ctok_reason
fail(struct tb_diag *d, enum ctok_reason r, const char *path, const char *fmt,
     ...)
{
	char msg[TB_DIAG_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tb_diag_add(d, r == CTOK_NOMEM ? TB_ENOMEM : TB_EUNAUTH, path, "%s",
	            msg);
	return r;
}

/* covers: region a is b or an ancestor of b in the region table. */
static bool
covers(const char *a, const char *b)
{
	int32_t ca, cb;

	if (a == NULL || b == NULL || region_code_parse(a, &ca) != 0 ||
	    region_code_parse(b, &cb) != 0 ||
	    region_find(region_builtin(), cb) == NULL) {
		return false;
	}
	return ca == cb || region_is_ancestor(region_builtin(), ca, cb);
}

static bool
in_table(const char *s)
{
	int32_t c;

	return s != NULL && region_code_parse(s, &c) == 0 &&
	       region_find(region_builtin(), c) != NULL;
}

bool
ctok_role_grants(const char *cert_role, const char *cert_region,
                 const char *role, char *errmsg, size_t errlen)
{
	char parent[7];

	if (!spec_one_of(role, api_roles)) {
		snprintf(errmsg, errlen, "\"%s\" is not an API role",
		         role != NULL ? role : "");
		return false;
	}
	if (!strcmp(role, "provincial_admin") &&
	    (cert_region == NULL ||
	     cert_region_parent(cert_region, parent) != 0 ||
	     parent[0] != '\0')) {
		snprintf(errmsg, errlen,
		         "role provincial_admin needs a client certificate of "
		         "a province, this one is of %s",
		         cert_region != NULL ? cert_region : "?");
		return false;
	}
	if (cert_role != NULL &&
	    (!strcmp(cert_role, role) ||
	     !strcmp(cert_role, "provincial_admin") ||
	     (!strcmp(cert_role, "region_admin") && !strcmp(role, "clerk")))) {
		return true;
	}
	snprintf(errmsg, errlen,
	         "a client certificate with role %s cannot grant role %s",
	         cert_role != NULL ? cert_role : "(none)", role);
	return false;
}

/* cross_province is true if scope lies in another province than the
 * certificate's region cr: a token for a province that cross-certified
 * the certificate's, valid only through that cross-certificate's grants. */
static bool
cross_province(const char *cr, const char *scope)
{
	char a[7], b[7];

	return cr != NULL && scope != NULL &&
	       cert_region_province(cr, a) == 0 &&
	       cert_region_province(scope, b) == 0 && strcmp(a, b) != 0;
}

/* claims_check checks the claims against the client certificate leaf:
 * what both ctok_sign and a node refuse. A scope in another province is
 * left to the grants of the cross-certificate (grants_check), but only a
 * role such a grant can name is signed. */
static enum ctok_reason
claims_check(const json_t *leaf, const char *role, const char *scope,
             struct tb_diag *d)
{
	const char *kind = spec_str(leaf, "kind"),
	           *cr = spec_str(leaf, "region");
	bool cross = cross_province(cr, scope);
	char why[200];

	if (kind == NULL || strcmp(kind, "client") != 0) {
		return fail(d, CTOK_WRONG_CERT, "$.chain[0].kind",
		            "a %s certificate cannot sign API tokens, only a "
		            "client certificate",
		            kind != NULL ? kind : "(kindless)");
	}
	if (cross && !cert_grant_role_ok(role)) {
		return fail(d, CTOK_ROLE_GRANT, "$.role",
		            "role %s is never granted to another province's "
		            "tokens (a cross-certificate grants service, "
		            "auditor or clerk), and scope %s is outside %s's "
		            "province",
		            role, scope, cr);
	}
	if (!cross && !covers(cr, scope)) {
		return fail(d, CTOK_SCOPE_CERT, "$.scope",
		            "scope %s is outside the client certificate's "
		            "region %s",
		            scope, cr != NULL ? cr : "?");
	}
	if (!ctok_role_grants(spec_str(leaf, "role"), cr, role, why,
	                      sizeof(why))) {
		return fail(d, CTOK_ROLE, "$.role", "%s", why);
	}
	return CTOK_OK;
}

/* fields_check validates the payload's fields (not the chain's). */
static enum ctok_reason
fields_check(const json_t *p, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "format", SPEC_STRING, true }, { "id", SPEC_STRING, true },
		{ "role", SPEC_STRING, true },   { "scope", SPEC_STRING, true },
		{ "nbf", SPEC_INT, true },       { "exp", SPEC_INT, true },
		{ "chain", SPEC_ARRAY, true },
	};
	const json_t *chain = json_object_get(p, "chain"), *c;
	long long nbf, exp;
	char sub[TB_DIAG_PATH];
	size_t i;

	if (!json_is_object(p)) {
		return fail(d, CTOK_MALFORMED, "$", "the payload is not a map");
	}
	if (spec_object(p, f, sizeof(f) / sizeof(f[0]), "$", d) != 0) {
		return CTOK_MALFORMED; /* d names the field */
	}
	if (strcmp(spec_str(p, "format"), CTOK_FORMAT) != 0) {
		return fail(d, CTOK_MALFORMED, "$.format", "\"%s\" is not %s",
		            spec_str(p, "format"), CTOK_FORMAT);
	}
	if (!cert_token_id_ok(spec_str(p, "id"))) {
		return fail(d, CTOK_MALFORMED, "$.id",
		            "a token id has 1 to %d characters from A-Z a-z "
		            "0-9 - . _",
		            CERT_TOKEN_ID_MAX);
	}
	if (!spec_one_of(spec_str(p, "role"), api_roles)) {
		return fail(d, CTOK_MALFORMED, "$.role",
		            "\"%.40s\" is not an API role (clerk, "
		            "region_admin, provincial_admin, auditor, "
		            "service)",
		            spec_str(p, "role"));
	}
	if (!in_table(spec_str(p, "scope"))) {
		return fail(d, CTOK_MALFORMED, "$.scope",
		            "\"%.40s\" is not a region of the region table",
		            spec_str(p, "scope"));
	}
	nbf = spec_int(p, "nbf", -1);
	exp = spec_int(p, "exp", -1);
	if (nbf < 0 || nbf > (1LL << 40)) {
		return fail(d, CTOK_MALFORMED, "$.nbf",
		            "%lld is not a time in Unix seconds", nbf);
	}
	if (exp <= nbf || exp - nbf > CTOK_MAX_TTL_S) {
		return fail(d, CTOK_MALFORMED, "$.exp",
		            "exp must be after nbf and at most %lld days later",
		            CTOK_MAX_TTL_S / 86400);
	}
	if (json_array_size(chain) == 0 ||
	    json_array_size(chain) > CERT_CHAIN_MAX) {
		return fail(d, CTOK_MALFORMED, "$.chain",
		            "a chain of 1 to %d certificates, not %zu",
		            CERT_CHAIN_MAX, json_array_size(chain));
	}
	json_array_foreach(chain, i, c)
	{
		if (!json_is_object(c)) {
			tb_path_idx(sub, sizeof(sub), "$.chain", i);
			return fail(d, CTOK_MALFORMED, sub,
			            "not a certificate (a map)");
		}
	}
	return CTOK_OK;
}

enum ctok_reason
ctok_parse(const char *tok, size_t len, json_t **payload, struct tb_diag *d)
{
	const size_t pre = sizeof(CTOK_PREFIX) - 1;
	const char *b, *dot;
	uint8_t *bytes = NULL, sig[64], pk[32];
	size_t blen, slen, plen = 0, siglen = 0;
	char err[200];
	json_t *p = NULL;
	enum ctok_reason r;

	*payload = NULL;
	if (len > CTOK_MAX_LEN) {
		return fail(d, CTOK_TOO_BIG, "Authorization",
		            "a token of %zu bytes, at most %d", len,
		            CTOK_MAX_LEN);
	}
	if (len < pre || memcmp(tok, CTOK_PREFIX, pre) != 0) {
		return fail(d, CTOK_MALFORMED, "Authorization",
		            "a chain token starts with " CTOK_PREFIX);
	}
	b = tok + pre;
	dot = memchr(b, '.', len - pre);
	if (dot == NULL ||
	    memchr(dot + 1, '.', len - pre - (size_t)(dot - b) - 1) != NULL) {
		return fail(d, CTOK_MALFORMED, "Authorization",
		            "a chain token is " CTOK_PREFIX
		            "PAYLOAD.SIGNATURE (three parts separated by '.')");
	}
	blen = (size_t)(dot - b);
	slen = len - pre - blen - 1;
	if ((bytes = malloc(blen / 4 * 3 + 3)) == NULL) {
		return fail(d, CTOK_NOMEM, "Authorization", "out of memory");
	}
	if (blen == 0 || sodium_base642bin(bytes, blen / 4 * 3 + 3, b, blen,
	                                   NULL, &plen, NULL, B64) != 0) {
		r = fail(d, CTOK_MALFORMED, "Authorization",
		         "the payload is not base64url without padding");
		goto out;
	}
	if (plen > CTOK_MAX_PAYLOAD) {
		r = fail(d, CTOK_TOO_BIG, "Authorization",
		         "a payload of %zu bytes, at most %d", plen,
		         CTOK_MAX_PAYLOAD);
		goto out;
	}
	if (slen != 86 ||
	    sodium_base642bin(sig, sizeof(sig), dot + 1, slen, NULL, &siglen,
	                      NULL, B64) != 0 ||
	    siglen != sizeof(sig)) {
		r = fail(d, CTOK_MALFORMED, "Authorization",
		         "the signature is not 64 bytes in base64url "
		         "without padding");
		goto out;
	}
	if (canon_decode(bytes, plen, &ctok_limits, &p, err, sizeof(err)) !=
	    TB_OK) {
		r = fail(d, CTOK_MALFORMED, "$",
		         "the payload is not canonical msgpack: %s", err);
		goto out;
	}
	if ((r = fields_check(p, d)) != CTOK_OK) {
		goto out;
	}
	if (canon_unhex(spec_str(json_array_get(json_object_get(p, "chain"), 0),
	                         "sign_key"),
	                pk, sizeof(pk)) != 0) {
		r = fail(d, CTOK_MALFORMED, "$.chain[0].sign_key",
		         "the client certificate has no sign_key of 64 hex "
		         "digits");
		goto out;
	}
	if (crypto_sign_verify_detached(sig, bytes, plen, pk) != 0) {
		r = fail(
		    d, CTOK_BAD_SIGNATURE, "Authorization",
		    "the token is not signed by the key of its client "
		    "certificate %.16s (changed after signing, or signed "
		    "by another key)",
		    spec_str(json_array_get(json_object_get(p, "chain"), 0),
		             "serial")
		        ? spec_str(
		              json_array_get(json_object_get(p, "chain"), 0),
		              "serial")
		        : "?");
		goto out;
	}
	*payload = p;
	p = NULL;
	r = CTOK_OK;
out:
	json_decref(p);
	free(bytes);
	return r;
}

/* chain_reason maps a cert_verify_chain code to a reason. */
static enum ctok_reason
chain_reason(int rv, const struct tb_diag *d, int first)
{
	const char *msg = d != NULL && d->n > first ? d->e[first].msg : "";

	switch (rv) {
	case TB_OK:
		return CTOK_OK;
	case TB_ESIG:
		return CTOK_BAD_SIGNATURE;
	case TB_ECHAIN:
		return CTOK_UNKNOWN_ISSUER;
	case TB_ERANGE:
		return strstr(msg, "not valid before") != NULL
		           ? CTOK_NOT_YET_VALID
		           : CTOK_EXPIRED;
	case CERT_EREVOKED:
		return CTOK_REVOKED;
	case TB_EFORBIDDEN:
		return CTOK_WRONG_CERT;
	case TB_ETOOBIG:
		return CTOK_TOO_BIG;
	case TB_ENOMEM:
		return CTOK_NOMEM;
	default:
		return CTOK_MALFORMED;
	}
}

/* newest is true if no list of crls has crl's issuer and a higher version. */
static bool
newest(const struct ctok_trust *t, const json_t *crl)
{
	size_t i;

	for (i = 0; i < t->ncrl; i++) {
		if (cert_same_issuer(t->crls[i], crl) &&
		    spec_int(t->crls[i], "version", 0) >
		        spec_int(crl, "version", 0)) {
			return false;
		}
	}
	return true;
}

/* token_revoked checks the token's id against the newest list of every
 * issuer in its chain arr[0..n) (with the cross-certificate, whose issuer
 * is our root). */
static enum ctok_reason
token_revoked(const struct ctok_trust *t, const json_t *const *arr, size_t n,
              const json_t *p, struct tb_diag *d)
{
	const char *id = spec_str(p, "id");
	size_t i, j;

	for (i = 0; i < t->ncrl; i++) {
		if (cert_crl_find_token(t->crls[i], id) == NULL ||
		    !newest(t, t->crls[i])) {
			continue;
		}
		for (j = 0; j < n; j++) {
			if (cert_same_issuer(arr[j], t->crls[i])) {
				return fail(d, CTOK_REVOKED, "$.id",
				            "token %s is revoked by %s's list "
				            "version %lld",
				            id,
				            spec_str(json_object_get(t->crls[i],
				                                     "issuer"),
				                     "region"),
				            spec_int(t->crls[i], "version", 0));
			}
		}
	}
	return CTOK_OK;
}

/* grants_check checks a token of another province against the grants of
 * the cross-certificate x our root issued for it (x verified already):
 * its scope within grants.scope, its role among grants.roles. */
static enum ctok_reason
grants_check(const json_t *x, const json_t *p, struct tb_diag *d)
{
	const json_t *g = json_object_get(x, "grants"), *r;
	const char *gs = spec_str(g, "scope"), *scope = spec_str(p, "scope");
	const char *role = spec_str(p, "role"), *serial = spec_str(x, "serial");
	const char *sr = spec_str(json_object_get(x, "subject"), "region");
	size_t i;

	if (x == NULL) { /* cert_verify_chain refuses such a chain first */
		return fail(d, CTOK_UNKNOWN_ISSUER, "$.chain",
		            "no cross-certificate of ours for this chain");
	}
	if (gs == NULL) {
		return fail(d, CTOK_SCOPE_GRANT, "$.scope",
		            "cross-certificate %s grants %s's tokens no scope "
		            "here (it has no grants.scope)",
		            serial, sr);
	}
	if (!covers(gs, scope)) {
		return fail(d, CTOK_SCOPE_GRANT, "$.scope",
		            "scope %s is outside %s, what cross-certificate %s "
		            "grants %s's tokens",
		            scope, gs, serial, sr);
	}
	json_array_foreach(json_object_get(g, "roles"), i, r)
	{
		if (json_is_string(r) && !strcmp(json_string_value(r), role)) {
			return CTOK_OK;
		}
	}
	return fail(d, CTOK_ROLE_GRANT, "$.role",
	            "role %s is not among the roles cross-certificate %s "
	            "grants %s's tokens",
	            role, serial, sr);
}

enum ctok_reason
ctok_verify(const char *tok, size_t len, const struct ctok_trust *t,
            json_t **payload, struct tb_diag *d)
{
	const json_t *arr[CERT_CHAIN_MAX + 1], *chain, *last, *x = NULL;
	struct cert_expect e = { .kind = CERT_CLIENT, .or_ancestor = true };
	char when[CERT_TIME_LEN], now[CERT_TIME_LEN];
	const char *region, *scope;
	int64_t nbf, exp;
	size_t n, i;
	json_t *p;
	int first = d != NULL ? d->n : 0, rv;
	bool foreign;
	enum ctok_reason r;

	*payload = NULL;
	if ((r = ctok_parse(tok, len, &p, d)) != CTOK_OK) {
		return r;
	}
	nbf = (int64_t)spec_int(p, "nbf", 0) * 1000;
	exp = (int64_t)spec_int(p, "exp", 0) * 1000;
	cert_time_format(t->now_ms, now);
	scope = spec_str(p, "scope");
	chain = json_object_get(p, "chain");
	if (t->now_ms < nbf - CTOK_SKEW_MS) {
		cert_time_format(nbf, when);
		r = fail(d, CTOK_NOT_YET_VALID, "$.nbf",
		         "the token is not valid before %s (this node's clock "
		         "says %s; %lld s of skew allowed)",
		         when, now, CTOK_SKEW_MS / 1000);
	} else if (t->now_ms >= exp + CTOK_SKEW_MS) {
		cert_time_format(exp, when);
		r = fail(d, CTOK_EXPIRED, "$.exp",
		         "the token expired at %s (this node's clock says %s; "
		         "%lld s of skew allowed)",
		         when, now, CTOK_SKEW_MS / 1000);
	} else if ((r = claims_check(json_array_get(chain, 0),
	                             spec_str(p, "role"), scope, d)) !=
	           CTOK_OK) {
		/* named */
	} else if (!covers(scope, t->region)) {
		r = fail(d, CTOK_SCOPE_NODE, "$.scope",
		         "a token scoped to %s is not valid at this node of %s",
		         scope, t->region != NULL ? t->region : "?");
	} else if (t->root == NULL) {
		r = fail(d, CTOK_UNKNOWN_ISSUER, "$.chain",
		         "this node has no root metadata to verify the chain "
		         "against");
	}
	if (r != CTOK_OK) {
		json_decref(p);
		return r;
	}
	n = json_array_size(chain);
	for (i = 0; i < n; i++) {
		arr[i] = json_array_get(chain, i);
	}
	/* A chain of another province ends with its province certificate:
	 * the cross-certificate our root issued for it follows, and its
	 * leaf is a client of that province, not of an ancestor of ours. */
	last = arr[n - 1];
	region = spec_str(json_object_get(last, "issuer"), "region");
	foreign = cert_issuer_is_root(last) && region != NULL &&
	          spec_str(t->root, "region") != NULL &&
	          strcmp(region, spec_str(t->root, "region")) != 0;
	for (i = 0; foreign && i < t->nxcert && n < CERT_CHAIN_MAX; i++) {
		const char *sr = spec_str(
		    json_object_get(t->xcerts[i], "subject"), "region");
		if (sr != NULL && !strcmp(sr, region)) {
			x = arr[n++] = t->xcerts[i];
			break;
		}
	}
	e.region = foreign ? NULL : t->region;
	rv = t->cache != NULL
	         ? cert_cache_verify(t->cache, t->root, arr, n, t->crls,
	                             t->ncrl, &e, t->now_ms, d)
	         : cert_verify_chain(t->root, arr, n, t->crls, t->ncrl, &e,
	                             t->now_ms, d);
	if ((r = chain_reason(rv, d, first)) == CTOK_OK && foreign) {
		/* the chain verified, so x was: its grants are our root's */
		r = grants_check(x, p, d);
	}
	if (r == CTOK_OK) {
		r = token_revoked(t, arr, n, p, d);
	}
	if (r != CTOK_OK) {
		json_decref(p);
		return r;
	}
	*payload = p;
	return CTOK_OK;
}

enum ctok_reason
ctok_sign(const json_t *chain, const struct ctok_claims *cl,
          const uint8_t sk[64], char **out, char *errmsg, size_t errlen)
{
	struct canon_buf b = { 0 };
	uint8_t sig[64];
	struct tb_diag *d;
	size_t plen, slen, pre = sizeof(CTOK_PREFIX) - 1;
	json_t *p;
	char *s = NULL;
	enum ctok_reason r = CTOK_NOMEM;

	*out = NULL;
	if ((d = malloc(sizeof(*d))) == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return CTOK_NOMEM;
	}
	tb_diag_init(d);
	p = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:O}", "format",
	              CTOK_FORMAT, "id", cl->id ? cl->id : "", "role",
	              cl->role ? cl->role : "", "scope",
	              cl->scope ? cl->scope : "", "nbf", (json_int_t)cl->nbf_s,
	              "exp", (json_int_t)cl->exp_s, "chain", chain);
	if (p == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		goto out;
	}
	if ((r = fields_check(p, d)) != CTOK_OK ||
	    (r = claims_check(json_array_get(chain, 0), cl->role, cl->scope,
	                      d)) != CTOK_OK) {
		snprintf(errmsg, errlen, "%s: %s", d->n ? d->e[0].path : "$",
		         d->n ? d->e[0].msg : ctok_reason_name(r));
		goto out;
	}
	if (!cert_key_is(spec_str(json_array_get(chain, 0), "sign_key"), sk)) {
		snprintf(errmsg, errlen,
		         "the key is not the client certificate's sign_key");
		r = CTOK_BAD_SIGNATURE;
		goto out;
	}
	r = CTOK_NOMEM;
	if (canon_encode(p, &b, errmsg, errlen) != TB_OK) {
		r = CTOK_MALFORMED;
		goto out;
	}
	if (b.len > CTOK_MAX_PAYLOAD) {
		snprintf(errmsg, errlen, "a payload of %zu bytes, at most %d",
		         b.len, CTOK_MAX_PAYLOAD);
		r = CTOK_TOO_BIG;
		goto out;
	}
	crypto_sign_detached(sig, NULL, b.data, b.len, sk);
	plen = sodium_base64_ENCODED_LEN(b.len, B64);
	slen = sodium_base64_ENCODED_LEN(sizeof(sig), B64);
	if ((s = malloc(pre + plen + slen + 1)) == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		goto out;
	}
	memcpy(s, CTOK_PREFIX, pre);
	sodium_bin2base64(s + pre, plen, b.data, b.len, B64);
	plen = strlen(s);
	s[plen++] = '.';
	sodium_bin2base64(s + plen, slen, sig, sizeof(sig), B64);
	if (strlen(s) > CTOK_MAX_LEN) {
		snprintf(errmsg, errlen, "a token of %zu bytes, at most %d",
		         strlen(s), CTOK_MAX_LEN);
		free(s);
		r = CTOK_TOO_BIG;
		goto out;
	}
	*out = s;
	r = CTOK_OK;
out:
	canon_buf_free(&b);
	json_decref(p);
	free(d);
	return r;
}
