/* Certificates, certificate requests and cross-certificates: their fields.
 * cert_issue.c builds them; cert_chain.c verifies chains. */
#include "schema/cert.h"

#include "schema/canon.h"
#include "schema/region.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[] = { "region", "node", "client", "any" };
static const char *const node_roles[] = { "member", "peer", NULL };

/* The API roles a cross-certificate may grant another province's clients:
 * never an administrative one (docs/TRUST.md, "Cross-region services"). */
static const char *const grant_roles[] = { "service", "auditor", "clerk",
	                                   NULL };

const char *
cert_kind_name(enum cert_kind k)
{
	return (unsigned)k <= CERT_ANY ? kind_names[k] : "unknown";
}

int
cert_kind_parse(const char *s, enum cert_kind *k)
{
	int i;

	for (i = 0; s != NULL && i < CERT_ANY; i++) {
		if (!strcmp(s, kind_names[i])) {
			*k = (enum cert_kind)i;
			return TB_OK;
		}
	}
	return TB_ECODE;
}

void
cert_node_id(const uint8_t pk[32], char out[CERT_NODE_ID_HEX + 1])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), pk, 32, NULL, 0);
	canon_hex(h, CERT_NODE_ID_HEX / 2, out);
}

void
cert_time_format(int64_t unix_ms, char out[CERT_TIME_LEN])
{
	time_t t = (time_t)(unix_ms / 1000 - (unix_ms % 1000 < 0 ? 1 : 0));
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, CERT_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(out, CERT_TIME_LEN, "1970-01-01T00:00:00Z");
	}
}

bool
cert_issuer_is_root(const json_t *doc)
{
	return json_is_true(
	    json_object_get(json_object_get(doc, "issuer"), "root"));
}

int
cert_region_parent(const char *region, char out[7])
{
	const struct region *r;
	int32_t code;

	if (region == NULL || !spec_digits(region, 6) ||
	    region_code_parse(region, &code) != 0 ||
	    (r = region_find(region_builtin(), code)) == NULL) {
		return TB_ECODE;
	}
	if (r->parent == 0) {
		out[0] = '\0';
	} else {
		snprintf(out, 7, "%06d", (int)r->parent);
	}
	return TB_OK;
}

int
cert_region_province(const char *region, char out[7])
{
	char cur[7], parent[7];
	int i;

	if (cert_region_parent(region, parent) != 0) {
		return TB_ECODE;
	}
	snprintf(cur, sizeof(cur), "%s", region);
	/* The table has at most four levels; the bound guards a cycle. */
	for (i = 0; i < 8 && parent[0] != '\0'; i++) {
		memcpy(cur, parent, sizeof(cur));
		if (cert_region_parent(cur, parent) != 0) {
			return TB_ECODE;
		}
	}
	if (parent[0] != '\0') {
		return TB_ECODE;
	}
	memcpy(out, cur, 7);
	return TB_OK;
}

bool
cert_grant_role_ok(const char *role)
{
	return spec_one_of(role, grant_roles);
}

bool
cert_key_is(const char *hex, const uint8_t sk[64])
{
	char pk[65];

	canon_hex(sk + 32, 32, pk);
	return hex != NULL && !strcmp(hex, pk);
}

/* hex_ok is true if s is exactly 2n lowercase hex digits. */
static bool
hex_ok(const char *s, size_t n)
{
	uint8_t buf[64];

	return n <= sizeof(buf) && canon_unhex(s, buf, n) == 0;
}

/* add adds a problem at path.key with a formatted reason; returns 1. */
static int add(struct tb_diag *d, int code, const char *path, const char *key,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
add(struct tb_diag *d, int code, const char *path, const char *key,
    const char *fmt, ...)
{
	char sub[TB_DIAG_PATH], msg[TB_DIAG_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tb_path_key(sub, sizeof(sub), path, key);
	tb_diag_add(d, code, sub, "%s", msg);
	return 1;
}

/* check_format checks doc.format against want. */
static int
check_format(const json_t *doc, const char *want, const char *path,
             struct tb_diag *d)
{
	const char *f = spec_str(doc, "format");

	if (strcmp(f, want) != 0) {
		return add(d, TB_ECODE, path, "format", "\"%s\" is not %s", f,
		           want);
	}
	return 0;
}

static int
check_key(const json_t *doc, const char *key, const char *path,
          struct tb_diag *d)
{
	const char *s = spec_str(doc, key);

	if (s != NULL && !hex_ok(s, 32)) {
		return add(d, TB_ECODE, path, key,
		           "not a 32-byte key (64 lowercase hex digits)");
	}
	return 0;
}

static int
check_region(const json_t *doc, const char *key, const char *path,
             struct tb_diag *d)
{
	const char *s = spec_str(doc, key);
	char parent[7];

	if (cert_region_parent(s, parent) != 0) {
		return add(d, TB_ECODE, path, key,
		           "\"%s\" is not a region code of GB/T 2260", s);
	}
	return 0;
}

/* check_window checks not_before < not_after, both RFC 3339. */
static int
check_window(const json_t *doc, const char *path, struct tb_diag *d)
{
	int64_t nb, na;
	int n = 0;

	if (spec_time_parse(spec_str(doc, "not_before"), &nb) != 0) {
		n += add(d, TB_EMALFORMED, path, "not_before",
		         "not an RFC 3339 time");
	}
	if (spec_time_parse(spec_str(doc, "not_after"), &na) != 0) {
		n += add(d, TB_EMALFORMED, path, "not_after",
		         "not an RFC 3339 time");
	}
	if (n == 0 && na <= nb) {
		n += add(d, TB_ERANGE, path, "not_after",
		         "%s is not after not_before %s",
		         spec_str(doc, "not_after"),
		         spec_str(doc, "not_before"));
	}
	return n;
}

/* check_kind_fields checks the fields a kind needs or forbids. role_needed
 * is false for requests (the issuer decides the role). */
static int
check_kind_fields(const json_t *doc, enum cert_kind kind, bool role_needed,
                  const char *path, struct tb_diag *d)
{
	const char *role = spec_str(doc, "role");
	int n = 0;

	if (kind == CERT_NODE) {
		const char *id = spec_str(doc, "node_id");
		if (id == NULL) {
			n += add(d, TB_EMISSING, path, "node_id",
			         "a node certificate names its node");
		} else if (!hex_ok(id, CERT_NODE_ID_HEX / 2)) {
			n += add(d, TB_ECODE, path, "node_id",
			         "not a node id (16 lowercase hex digits)");
		}
		if (json_object_get(doc, "kx_key") == NULL) {
			n += add(d, TB_EMISSING, path, "kx_key",
			         "a node certificate carries its X25519 key");
		}
		if (role_needed && role == NULL) {
			n += add(d, TB_EMISSING, path, "role",
			         "a node is a \"member\" or a \"peer\"");
		} else if (role != NULL && !spec_one_of(role, node_roles)) {
			n += add(d, TB_ECODE, path, "role",
			         "\"%s\" is not \"member\" or \"peer\"", role);
		}
		return n;
	}
	if (json_object_get(doc, "node_id") != NULL) {
		n += add(d, TB_EUNKNOWN, path, "node_id",
		         "only node certificates name a node");
	}
	if (json_object_get(doc, "kx_key") != NULL) {
		n += add(d, TB_EUNKNOWN, path, "kx_key",
		         "only node certificates carry an X25519 key");
	}
	if (kind == CERT_REGION && role != NULL) {
		n += add(d, TB_EUNKNOWN, path, "role",
		         "a region key has no role");
	}
	if (kind == CERT_CLIENT && role_needed) {
		size_t len = role != NULL ? strlen(role) : 0, i;
		bool good = len >= 1 && len <= 32;
		for (i = 0; good && i < len; i++) {
			good = (role[i] >= 'a' && role[i] <= 'z') ||
			       role[i] == '_';
		}
		if (!good) {
			n += add(d, TB_ECODE, path, "role",
			         "a client's role has 1 to 32 characters from "
			         "a-z _");
		}
	}
	return n;
}

/* check_issuer checks {"region", "key"} or {"region", "root": true}. */
static int
check_issuer(const json_t *doc, bool root_only, const char *path,
             struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "region", SPEC_STRING, true },
		{ "key", SPEC_STRING, false },
		{ "root", SPEC_BOOL, false },
	};
	const json_t *is = json_object_get(doc, "issuer");
	bool has_key = json_object_get(is, "key") != NULL;
	char sub[TB_DIAG_PATH];
	int n;

	tb_path_key(sub, sizeof(sub), path, "issuer");
	if ((n = spec_object(is, f, 3, sub, d)) != 0) {
		return n;
	}
	n += check_region(is, "region", sub, d);
	n += check_key(is, "key", sub, d);
	if (root_only && has_key) {
		n += add(d, TB_EUNKNOWN, sub, "key",
		         "only a root's officers issue this");
	}
	if (has_key == cert_issuer_is_root(doc) && !root_only) {
		n += add(d, TB_EMISSING, sub, "key",
		         "an issuer names a key or \"root\": true, "
		         "exactly one");
	} else if (root_only && !cert_issuer_is_root(doc)) {
		n += add(d, TB_EMISSING, sub, "root",
		         "must be true: a root's officers issue this");
	}
	return n;
}

int
cert_check(const json_t *cert, const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "format", SPEC_STRING, true },
		{ "serial", SPEC_STRING, true },
		{ "kind", SPEC_STRING, true },
		{ "region", SPEC_STRING, true },
		{ "node_id", SPEC_STRING, false },
		{ "role", SPEC_STRING, false },
		{ "name", SPEC_STRING, false },
		{ "sign_key", SPEC_STRING, true },
		{ "kx_key", SPEC_STRING, false },
		{ "not_before", SPEC_STRING, true },
		{ "not_after", SPEC_STRING, true },
		{ "issuer", SPEC_OBJECT, true },
		{ "signatures", SPEC_ARRAY, false },
	};
	enum cert_kind kind;
	int n;

	if ((n = spec_object(cert, f, sizeof(f) / sizeof(f[0]), path, d))) {
		return n;
	}
	n += check_format(cert, CERT_FORMAT, path, d);
	if (!hex_ok(spec_str(cert, "serial"), CERT_SERIAL_HEX / 2)) {
		n += add(d, TB_ECODE, path, "serial",
		         "not a serial (16 lowercase hex digits)");
	}
	n += check_region(cert, "region", path, d);
	n += check_key(cert, "sign_key", path, d);
	n += check_key(cert, "kx_key", path, d);
	n += check_window(cert, path, d);
	n += check_issuer(cert, false, path, d);
	if (cert_kind_parse(spec_str(cert, "kind"), &kind) != 0) {
		return n + add(d, TB_ECODE, path, "kind",
		               "\"%s\" is not region, node or client",
		               spec_str(cert, "kind"));
	}
	return n + check_kind_fields(cert, kind, true, path, d);
}

/* signed_by counts whether doc carries a valid signature by key hex. */
static bool
signed_by(const json_t *doc, const char *hex)
{
	json_t *keys = json_pack("[{s:s}]", "key", hex);
	bool ok = keys != NULL && trust_count_signers(doc, keys) == 1;

	json_decref(keys);
	return ok;
}

int
cert_request_check(const json_t *req, const json_t *prev_cert, const char *path,
                   struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "format", SPEC_STRING, true },
		{ "kind", SPEC_STRING, true },
		{ "region", SPEC_STRING, true },
		{ "node_id", SPEC_STRING, false },
		{ "name", SPEC_STRING, false },
		{ "sign_key", SPEC_STRING, true },
		{ "kx_key", SPEC_STRING, false },
		{ "signatures", SPEC_ARRAY, false },
	};
	char id[CERT_NODE_ID_HEX + 1];
	uint8_t pk[32];
	enum cert_kind kind;
	const char *key;
	int n;

	if ((n = spec_object(req, f, sizeof(f) / sizeof(f[0]), path, d))) {
		return n;
	}
	n += check_format(req, CERT_REQ_FORMAT, path, d);
	n += check_region(req, "region", path, d);
	n += check_key(req, "sign_key", path, d);
	n += check_key(req, "kx_key", path, d);
	if (cert_kind_parse(spec_str(req, "kind"), &kind) != 0) {
		return n + add(d, TB_ECODE, path, "kind",
		               "\"%s\" is not region, node or client",
		               spec_str(req, "kind"));
	}
	n += check_kind_fields(req, kind, false, path, d);
	if (n != 0) {
		return n;
	}
	key = spec_str(req, "sign_key");
	if (!signed_by(req, key)) {
		n += add(d, TB_ESIG, path, "signatures",
		         "not signed by its own sign_key, which proves "
		         "possession of the key");
	}
	if (kind != CERT_NODE) {
		return n;
	}
	canon_unhex(key, pk, 32);
	cert_node_id(pk, id);
	if (prev_cert == NULL) {
		if (strcmp(id, spec_str(req, "node_id")) != 0) {
			n += add(d, TB_ECODE, path, "node_id",
			         "%s is not the id of sign_key (%s); a rotated "
			         "key needs the node's previous certificate",
			         spec_str(req, "node_id"), id);
		}
		return n;
	}
	if (!json_equal(json_object_get(req, "node_id"),
	                json_object_get(prev_cert, "node_id")) ||
	    !json_equal(json_object_get(req, "region"),
	                json_object_get(prev_cert, "region"))) {
		n += add(d, TB_ECONFLICT, path, "node_id",
		         "a rotated key keeps the node id and region of the "
		         "previous certificate (%s of %s)",
		         spec_str(prev_cert, "node_id"),
		         spec_str(prev_cert, "region"));
	}
	if (spec_str(prev_cert, "sign_key") == NULL ||
	    !signed_by(req, spec_str(prev_cert, "sign_key"))) {
		n += add(d, TB_ESIG, path, "signatures",
		         "a rotated key's request must also be signed by the "
		         "key it replaces");
	}
	return n;
}

/* check_grants checks a cross-certificate's optional "grants": {"scope":
 * a region of the issuing root's province, "roles": [1..8 distinct roles of
 * grant_roles]}; both optional (no scope: no token is valid). */
static int
check_grants(const json_t *x, const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "scope", SPEC_STRING, false },
		{ "roles", SPEC_ARRAY, false },
	};
	const json_t *g = json_object_get(x, "grants"), *roles, *r;
	const char *ir = spec_str(json_object_get(x, "issuer"), "region");
	const char *scope;
	char sub[TB_DIAG_PATH], rp[TB_DIAG_PATH], prov[7];
	size_t i, j;
	int n;

	if (g == NULL) {
		return 0;
	}
	tb_path_key(sub, sizeof(sub), path, "grants");
	if ((n = spec_object(g, f, 2, sub, d)) != 0) {
		return n;
	}
	scope = spec_str(g, "scope");
	if (scope != NULL) {
		if ((n = check_region(g, "scope", sub, d)) != 0) {
			return n;
		}
		if (ir == NULL || cert_region_province(scope, prov) != 0 ||
		    strcmp(prov, ir) != 0) {
			n += add(d, TB_EFORBIDDEN, sub, "scope",
			         "%s is not a region of the issuing root's "
			         "province %s",
			         scope, ir != NULL ? ir : "?");
		}
	}
	roles = json_object_get(g, "roles");
	if (roles == NULL) {
		return n;
	}
	tb_path_key(rp, sizeof(rp), sub, "roles");
	if (json_array_size(roles) == 0 || json_array_size(roles) > 8) {
		return n + add(d, TB_ERANGE, sub, "roles",
		               "1 to 8 roles, not %zu", json_array_size(roles));
	}
	json_array_foreach(roles, i, r)
	{
		char ep[TB_DIAG_PATH];
		tb_path_idx(ep, sizeof(ep), rp, i);
		if (!json_is_string(r) ||
		    !cert_grant_role_ok(json_string_value(r))) {
			tb_diag_add(
			    d, TB_ECODE, ep,
			    "\"%.40s\" is not a role a cross-certificate "
			    "grants (service, auditor, clerk; never an "
			    "administrative one)",
			    json_is_string(r) ? json_string_value(r)
			                      : "(not a string)");
			n++;
			continue;
		}
		for (j = 0; j < i; j++) {
			if (json_equal(r, json_array_get(roles, j))) {
				tb_diag_add(d, TB_EDUP, ep, "\"%s\" twice",
				            json_string_value(r));
				n++;
				break;
			}
		}
	}
	return n;
}

int
cert_xcert_check(const json_t *x, const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "format", SPEC_STRING, true },
		{ "serial", SPEC_STRING, true },
		{ "issuer", SPEC_OBJECT, true },
		{ "subject", SPEC_OBJECT, true },
		{ "not_before", SPEC_STRING, true },
		{ "not_after", SPEC_STRING, true },
		{ "grants", SPEC_OBJECT, false },
		{ "signatures", SPEC_ARRAY, false },
	};
	static const struct spec_field fs[] = {
		{ "region", SPEC_STRING, true },
		{ "threshold", SPEC_INT, true },
		{ "officers", SPEC_ARRAY, true },
	};
	char sub[TB_DIAG_PATH];
	const json_t *s = json_object_get(x, "subject");
	long long m;
	int n;

	if ((n = spec_object(x, f, sizeof(f) / sizeof(f[0]), path, d))) {
		return n;
	}
	n += check_format(x, CERT_XCERT_FORMAT, path, d);
	if (!hex_ok(spec_str(x, "serial"), CERT_SERIAL_HEX / 2)) {
		n += add(d, TB_ECODE, path, "serial",
		         "not a serial (16 lowercase hex digits)");
	}
	n += check_window(x, path, d);
	n += check_issuer(x, true, path, d);
	tb_path_key(sub, sizeof(sub), path, "subject");
	if (spec_object(s, fs, 3, sub, d) != 0) {
		return n + 1;
	}
	n += check_region(s, "region", sub, d);
	m = spec_int(s, "threshold", 0);
	if (m < 1 ||
	    m > (long long)json_array_size(json_object_get(s, "officers"))) {
		n += add(d, TB_ERANGE, sub, "threshold",
		         "threshold %lld must be 1..the officers", m);
	}
	return n + check_grants(x, path, d);
}
