/* Building certificates: requests, issuance under the tree's rules, and
 * cross-certificates. The results are unsigned; trust_sign signs them. */
#include "schema/cert_issue.h"

#include "schema/canon.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const node_roles[] = { "member", "peer", NULL };

/* serial_ok is true if s is 16 lowercase hex digits. */
static bool
serial_ok(const char *s)
{
	uint8_t b[CERT_SERIAL_HEX / 2];

	return canon_unhex(s, b, sizeof(b)) == 0;
}

int
cert_request_build(enum cert_kind kind, const char *region, const char *node_id,
                   const uint8_t sign_pk[32], const uint8_t *kx_pk,
                   const char *name, json_t **out)
{
	char pk[65], kx[65];
	json_t *r;
	int bad = 0;

	canon_hex(sign_pk, 32, pk);
	r = json_pack("{s:s, s:s, s:s, s:s}", "format", CERT_REQ_FORMAT, "kind",
	              cert_kind_name(kind), "region", region, "sign_key", pk);
	if (r == NULL) {
		return TB_ENOMEM;
	}
	if (node_id != NULL) {
		bad |= json_object_set_new(r, "node_id", json_string(node_id));
	}
	if (kx_pk != NULL) {
		canon_hex(kx_pk, 32, kx);
		bad |= json_object_set_new(r, "kx_key", json_string(kx));
	}
	if (name != NULL && name[0] != '\0') {
		bad |= json_object_set_new(r, "name", json_string(name));
	}
	if (bad) {
		json_decref(r);
		return TB_ENOMEM;
	}
	*out = r;
	return TB_OK;
}

/* issuer_allows checks the issuance rules for req under issuer and
 * writes the issuer object and the issuer's expiry. */
static int
issuer_allows(const json_t *req, const json_t *issuer, json_t **iss,
              int64_t *expires, char *errmsg, size_t errlen)
{
	const char *fmt = spec_str(issuer, "format");
	const char *ir = spec_str(issuer, "region");
	const char *rr = spec_str(req, "region");
	const char *kind = spec_str(req, "kind");
	char parent[7];

	if (fmt == NULL || ir == NULL || rr == NULL || kind == NULL ||
	    cert_region_parent(rr, parent) != 0) {
		snprintf(errmsg, errlen, "issuer or request lacks fields");
		return TB_EINVAL;
	}
	if (!strcmp(fmt, "tongban.root/1")) {
		if (strcmp(kind, "region") != 0 || strcmp(rr, ir) != 0) {
			snprintf(errmsg, errlen,
			         "the %s root's officers certify only the "
			         "region key of %s, not a %s key of %s",
			         ir, ir, kind, rr);
			return TB_EFORBIDDEN;
		}
		*iss = json_pack("{s:s, s:b}", "region", ir, "root", 1);
		if (spec_time_parse(spec_str(issuer, "expires"), expires)) {
			snprintf(errmsg, errlen, "the root's expiry is bad");
			return TB_EINVAL;
		}
		return *iss != NULL ? TB_OK : TB_ENOMEM;
	}
	if (strcmp(fmt, CERT_FORMAT) != 0 ||
	    strcmp(spec_str(issuer, "kind") ? spec_str(issuer, "kind") : "",
	           "region") != 0) {
		snprintf(errmsg, errlen,
		         "an issuer is a root or a region certificate");
		return TB_EINVAL;
	}
	if (!strcmp(kind, "region") && strcmp(parent, ir) != 0) {
		snprintf(errmsg, errlen,
		         "%s may not certify %s: it is not its parent", ir, rr);
		return TB_EFORBIDDEN;
	}
	if (strcmp(kind, "region") != 0 && strcmp(rr, ir) != 0) {
		snprintf(errmsg, errlen,
		         "%s may not certify a %s of %s: a region certifies "
		         "only its own nodes and clients",
		         ir, kind, rr);
		return TB_EFORBIDDEN;
	}
	if (spec_time_parse(spec_str(issuer, "not_after"), expires) != 0) {
		snprintf(errmsg, errlen, "the issuer's not_after is bad");
		return TB_EINVAL;
	}
	*iss = json_pack("{s:s, s:s}", "region", ir, "key",
	                 spec_str(issuer, "sign_key"));
	return *iss != NULL ? TB_OK : TB_ENOMEM;
}

int
cert_issue(const json_t *req, const json_t *issuer,
           const struct cert_issue_args *a, json_t **out, char *errmsg,
           size_t errlen)
{
	char nb[CERT_TIME_LEN], na[CERT_TIME_LEN];
	const char *kind = spec_str(req, "kind");
	json_t *iss = NULL, *c;
	int64_t expires, not_after = a->not_after_ms;
	int rv, bad = 0;

	if ((rv = issuer_allows(req, issuer, &iss, &expires, errmsg, errlen)) !=
	    0) {
		json_decref(iss);
		return rv;
	}
	if (!serial_ok(a->serial)) {
		snprintf(errmsg, errlen, "a serial is 16 lowercase hex digits");
		json_decref(iss);
		return TB_EINVAL;
	}
	if (not_after > expires) {
		not_after = expires;
	}
	if (not_after <= a->not_before_ms) {
		cert_time_format(expires, na);
		snprintf(errmsg, errlen,
		         "the validity window is empty (the issuer expires "
		         "at %s)",
		         na);
		json_decref(iss);
		return TB_EINVAL;
	}
	if (!strcmp(kind, "region")
	        ? a->role != NULL
	        : (a->role == NULL || (!strcmp(kind, "node") &&
	                               !spec_one_of(a->role, node_roles)))) {
		snprintf(errmsg, errlen,
		         "role %s does not fit a %s certificate",
		         a->role != NULL ? a->role : "(none)", kind);
		json_decref(iss);
		return TB_EINVAL;
	}
	cert_time_format(a->not_before_ms, nb);
	cert_time_format(not_after, na);
	c = json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:o}", "format",
	              CERT_FORMAT, "serial", a->serial, "kind", kind, "region",
	              json_object_get(req, "region"), "sign_key",
	              json_object_get(req, "sign_key"), "not_before", nb,
	              "not_after", na, "issuer", iss);
	if (c == NULL) {
		return TB_ENOMEM;
	}
	if (a->role != NULL) {
		bad |= json_object_set_new(c, "role", json_string(a->role));
	}
	if (json_object_get(req, "node_id") != NULL) {
		bad |= json_object_set(c, "node_id",
		                       json_object_get(req, "node_id"));
	}
	if (json_object_get(req, "kx_key") != NULL) {
		bad |= json_object_set(c, "kx_key",
		                       json_object_get(req, "kx_key"));
	}
	if (json_object_get(req, "name") != NULL) {
		bad |= json_object_set(c, "name", json_object_get(req, "name"));
	}
	if (bad) {
		json_decref(c);
		return TB_ENOMEM;
	}
	*out = c;
	return TB_OK;
}

int
cert_xcert_build(const json_t *root, const json_t *subject_root,
                 const char *serial, int64_t not_before_ms,
                 int64_t not_after_ms, const json_t *grants, json_t **out,
                 char *errmsg, size_t errlen)
{
	struct tb_diag *d;
	char nb[CERT_TIME_LEN], na[CERT_TIME_LEN];
	const char *ir = spec_str(root, "region");
	const char *sr = spec_str(subject_root, "region");
	json_t *x;

	if (ir == NULL || sr == NULL || !strcmp(ir, sr)) {
		snprintf(errmsg, errlen,
		         "a cross-certificate joins two provinces' roots");
		return TB_EINVAL;
	}
	if (!serial_ok(serial) || not_after_ms <= not_before_ms) {
		snprintf(errmsg, errlen, "bad serial or validity window");
		return TB_EINVAL;
	}
	cert_time_format(not_before_ms, nb);
	cert_time_format(not_after_ms, na);
	x = json_pack("{s:s, s:s, s:{s:s, s:b}, s:{s:s, s:O, s:O}, s:s, "
	              "s:s}",
	              "format", CERT_XCERT_FORMAT, "serial", serial, "issuer",
	              "region", ir, "root", 1, "subject", "region", sr,
	              "threshold", json_object_get(subject_root, "threshold"),
	              "officers", json_object_get(subject_root, "officers"),
	              "not_before", nb, "not_after", na);
	if (x == NULL) {
		snprintf(errmsg, errlen, "the subject root lacks officers");
		return TB_ENOMEM;
	}
	if (grants != NULL) {
		if (json_object_set_new(x, "grants", json_deep_copy(grants)) !=
		        0 ||
		    (d = malloc(sizeof(*d))) == NULL) {
			json_decref(x);
			snprintf(errmsg, errlen, "out of memory");
			return TB_ENOMEM;
		}
		tb_diag_init(d);
		if (cert_xcert_check(x, "$", d) != 0) {
			snprintf(errmsg, errlen, "%s: %s",
			         d->n ? d->e[0].path : "$",
			         d->n ? d->e[0].msg : "invalid");
			free(d);
			json_decref(x);
			return TB_EINVAL;
		}
		free(d);
	}
	*out = x;
	return TB_OK;
}
