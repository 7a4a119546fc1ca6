/* The province's "latest version" statements (schema/latest.h). */
#include "schema/latest.h"

#include "schema/cert.h"
#include "schema/cert_chain.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <string.h>

const char *
latest_reason_name(enum latest_reason r)
{
	static const char *const names[LATEST_REASONS] = {
		"ok",        "malformed",     "wrong_region",
		"expired",   "not_yet_valid", "bad_signature",
		"bad_chain", "older",         "fork",
	};

	return (unsigned)r < LATEST_REASONS ? names[r] : "unknown";
}

int
latest_build(const char *region, long long version, const char *hash,
             int64_t issued_ms, int64_t expires_ms, const json_t *chain,
             json_t **out, char *errmsg, size_t errlen)
{
	char ia[CERT_TIME_LEN], ea[CERT_TIME_LEN];
	json_t *doc;

	*out = NULL;
	if (version < 0 || (version > 0) != (hash != NULL) ||
	    (hash != NULL && !spec_hex(hash, 64)) || !json_is_array(chain) ||
	    json_array_size(chain) == 0 || expires_ms <= issued_ms) {
		snprintf(errmsg, errlen,
		         "a statement needs a version >= 0, a hash of 64 hex "
		         "digits exactly when the version is above 0, a "
		         "chain and an expiry after its issue");
		return TB_EINVAL;
	}
	cert_time_format(issued_ms, ia);
	cert_time_format(expires_ms, ea);
	doc = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:O}", "format",
	                LATEST_FORMAT, "region", region, "layer", "standard",
	                "version", (json_int_t)version, "issued_at", ia,
	                "expires_at", ea, "chain", chain);
	if (doc == NULL ||
	    (hash != NULL &&
	     json_object_set_new(doc, "hash", json_string(hash)) != 0)) {
		json_decref(doc);
		return TB_ENOMEM;
	}
	*out = doc;
	return TB_OK;
}

int
latest_check(const json_t *doc, const char *path, struct tb_diag *d)
{
	static const struct spec_field fields[] = {
		{ "format", SPEC_STRING, true },
		{ "region", SPEC_STRING, true },
		{ "layer", SPEC_STRING, true },
		{ "version", SPEC_INT, true },
		{ "hash", SPEC_STRING, false },
		{ "issued_at", SPEC_STRING, true },
		{ "expires_at", SPEC_STRING, true },
		{ "chain", SPEC_ARRAY, true },
		{ "signatures", SPEC_ARRAY, true },
	};
	char p[TB_DIAG_PATH], q[TB_DIAG_PATH], parent[7];
	int before = d != NULL ? d->n : 0;
	const json_t *chain, *c;
	int64_t ia = 0, ea = 0;
	long long v;
	size_t i;

	if (!json_is_object(doc)) {
		tb_diag_add(d, TB_ETYPE, path,
		            "a latest-version statement is a JSON object");
		return 1;
	}
	if (spec_object(doc, fields, sizeof(fields) / sizeof(fields[0]), path,
	                d) != 0) {
		return d != NULL ? d->n - before : 1;
	}
	tb_path_key(p, sizeof(p), path, "format");
	if (strcmp(spec_str(doc, "format"), LATEST_FORMAT) != 0) {
		tb_diag_add(d, TB_EMALFORMED, p,
		            "format %s where %s was expected",
		            spec_str(doc, "format"), LATEST_FORMAT);
	}
	tb_path_key(p, sizeof(p), path, "region");
	if (cert_region_parent(spec_str(doc, "region"), parent) != TB_OK ||
	    parent[0] != '\0') {
		tb_diag_add(d, TB_ECODE, p, "%s is not a province's code",
		            spec_str(doc, "region"));
	}
	tb_path_key(p, sizeof(p), path, "layer");
	if (strcmp(spec_str(doc, "layer"), "standard") != 0) {
		tb_diag_add(d, TB_EMALFORMED, p,
		            "layer %s: only the standard layer has statements",
		            spec_str(doc, "layer"));
	}
	v = spec_int(doc, "version", -1);
	tb_path_key(p, sizeof(p), path, "version");
	if (v < 0 || v >= (1LL << 53)) {
		tb_diag_add(d, TB_ERANGE, p, "version %lld: 0 to 2^53-1", v);
	}
	tb_path_key(p, sizeof(p), path, "hash");
	if (v > 0 && !spec_hex(spec_str(doc, "hash"), 64)) {
		tb_diag_add(d, TB_EMALFORMED, p,
		            "version %lld needs the hash of that release, 64 "
		            "lowercase hex digits",
		            v);
	} else if (v == 0 && json_object_get(doc, "hash") != NULL) {
		tb_diag_add(d, TB_EMALFORMED, p,
		            "version 0 (no release yet) has no hash");
	}
	tb_path_key(p, sizeof(p), path, "issued_at");
	if (spec_time_parse(spec_str(doc, "issued_at"), &ia) != TB_OK) {
		tb_diag_add(d, TB_EMALFORMED, p, "not an RFC 3339 time: %s",
		            spec_str(doc, "issued_at"));
	}
	tb_path_key(p, sizeof(p), path, "expires_at");
	if (spec_time_parse(spec_str(doc, "expires_at"), &ea) != TB_OK) {
		tb_diag_add(d, TB_EMALFORMED, p, "not an RFC 3339 time: %s",
		            spec_str(doc, "expires_at"));
	} else if (ia != 0 && (ea <= ia || ea - ia > LATEST_TTL_MAX_MS)) {
		tb_diag_add(d, TB_ERANGE, p,
		            "a statement lives from issued_at for 1 s to %lld "
		            "s, not %lld s",
		            LATEST_TTL_MAX_MS / 1000,
		            (long long)(ea - ia) / 1000);
	}
	tb_path_key(p, sizeof(p), path, "chain");
	chain = json_object_get(doc, "chain");
	if (json_array_size(chain) == 0 ||
	    json_array_size(chain) > CERT_CHAIN_MAX) {
		tb_diag_add(d, TB_ERANGE, p,
		            "%zu certificates: the signer's, then up to the "
		            "province's (1 to %d)",
		            json_array_size(chain), CERT_CHAIN_MAX);
	}
	json_array_foreach(chain, i, c)
	{
		if (!json_is_object(c)) {
			tb_path_idx(q, sizeof(q), p, i);
			tb_diag_add(d, TB_ETYPE, q,
			            "a certificate is an object");
		}
	}
	return d != NULL ? d->n - before : 0;
}

/* refuse adds msg at path to d and returns r. */
static enum latest_reason
refuse(struct tb_diag *d, enum latest_reason r, int code, const char *path,
       const char *msg)
{
	tb_diag_add(d, code, path, "%s", msg);
	return r;
}

enum latest_reason
latest_verify(const json_t *doc, const char *province, const json_t *root,
              const json_t *const *crls, size_t ncrl, int64_t now_ms,
              struct latest_info *out, struct tb_diag *d)
{
	const json_t *chain = json_object_get(doc, "chain"), *leaf;
	const json_t *certs[CERT_CHAIN_MAX];
	struct cert_expect ex = { CERT_NODE, province, false, NULL, "member" };
	struct latest_info li;
	char msg[TB_DIAG_MSG];
	struct tb_diag own;
	json_t *keys;
	const char *key;
	size_t i, n;
	int have;

	if (d == NULL) { /* latest_check counts problems only with a d */
		tb_diag_init(&own);
		d = &own;
	}
	if (latest_check(doc, "$", d) != 0) {
		return LATEST_MALFORMED;
	}
	memset(&li, 0, sizeof(li));
	snprintf(li.region, sizeof(li.region), "%s", spec_str(doc, "region"));
	li.version = spec_int(doc, "version", 0);
	snprintf(li.hash, sizeof(li.hash), "%s",
	         spec_str(doc, "hash") ? spec_str(doc, "hash") : "");
	spec_time_parse(spec_str(doc, "issued_at"), &li.issued_ms);
	spec_time_parse(spec_str(doc, "expires_at"), &li.expires_ms);
	if (strcmp(li.region, province) != 0) {
		snprintf(msg, sizeof(msg),
		         "a statement of %s: this node's province is %s",
		         li.region, province);
		return refuse(d, LATEST_WRONG_REGION, TB_EFORBIDDEN, "$.region",
		              msg);
	}
	if (li.expires_ms <= now_ms) {
		snprintf(msg, sizeof(msg),
		         "statement of %s version %lld expired at %s (%lld s "
		         "ago)",
		         li.region, li.version, spec_str(doc, "expires_at"),
		         (long long)(now_ms - li.expires_ms) / 1000);
		return refuse(d, LATEST_EXPIRED, TB_ERANGE, "$.expires_at",
		              msg);
	}
	if (li.issued_ms > now_ms + LATEST_SKEW_MS) {
		snprintf(msg, sizeof(msg),
		         "statement of %s version %lld issued at %s, %lld s "
		         "ahead of this node's clock",
		         li.region, li.version, spec_str(doc, "issued_at"),
		         (long long)(li.issued_ms - now_ms) / 1000);
		return refuse(d, LATEST_NOT_YET_VALID, TB_ERANGE, "$.issued_at",
		              msg);
	}
	leaf = json_array_get(chain, 0);
	key = spec_str(leaf, "sign_key");
	keys = json_pack("[{s:s}]", "key", key ? key : "");
	have = keys != NULL ? trust_count_signers(doc, keys) : 0;
	json_decref(keys);
	if (have != 1) {
		snprintf(msg, sizeof(msg),
		         "statement of %s version %lld: not signed by its "
		         "signer's key %.16s.. (chain[0].sign_key)",
		         li.region, li.version, key ? key : "(none)");
		return refuse(d, LATEST_BAD_SIGNATURE, TB_ESIG, "$.signatures",
		              msg);
	}
	n = json_array_size(chain);
	for (i = 0; i < n; i++) {
		certs[i] = json_array_get(chain, i);
	}
	if (root == NULL) {
		return refuse(d, LATEST_BAD_CHAIN, TB_ENOTFOUND, "$.chain",
		              "no root to verify the signer's chain against");
	}
	{
		struct tb_diag cd;

		tb_diag_init(&cd);
		if (cert_verify_chain(root, certs, n, crls, ncrl, &ex, now_ms,
		                      &cd) != TB_OK) {
			char path[TB_DIAG_PATH];
			const char *cp = cd.n ? cd.e[0].path : "$";

			/* cert_verify_chain names "$.chain[N]...". */
			snprintf(path, sizeof(path), "%s", cp);
			snprintf(msg, sizeof(msg), "the signer's chain: %s",
			         cd.n ? cd.e[0].msg : "refused");
			return refuse(d, LATEST_BAD_CHAIN,
			              cd.n ? cd.e[0].code : TB_ECHAIN, path,
			              msg);
		}
	}
	snprintf(li.signer, sizeof(li.signer), "%s",
	         spec_str(leaf, "node_id") ? spec_str(leaf, "node_id") : "");
	snprintf(li.signer_serial, sizeof(li.signer_serial), "%s",
	         spec_str(leaf, "serial") ? spec_str(leaf, "serial") : "");
	if (out != NULL) {
		*out = li;
	}
	return LATEST_OK;
}

enum latest_reason
latest_order(const struct latest_info *held, const struct latest_info *cand,
             bool *same, struct tb_diag *d)
{
	char msg[TB_DIAG_MSG];

	*same = false;
	if (held == NULL) {
		return LATEST_OK;
	}
	if (cand->version < held->version ||
	    (cand->version == held->version &&
	     cand->expires_ms < held->expires_ms)) {
		snprintf(msg, sizeof(msg),
		         "statement of version %lld expiring at %lld s is "
		         "older than the one held (version %lld, expiring at "
		         "%lld s)",
		         cand->version, (long long)cand->expires_ms / 1000,
		         held->version, (long long)held->expires_ms / 1000);
		return refuse(d, LATEST_OLDER, TB_ESTALE, "$.version", msg);
	}
	if (cand->version == held->version &&
	    strcmp(cand->hash, held->hash) != 0) {
		snprintf(msg, sizeof(msg),
		         "version %lld with hash %.16s..: the statement held "
		         "names hash %.16s.. for it (a fork)",
		         cand->version, cand->hash, held->hash);
		return refuse(d, LATEST_FORK, TB_ECONFLICT, "$.hash", msg);
	}
	*same = cand->version == held->version &&
	        cand->expires_ms == held->expires_ms &&
	        cand->issued_ms == held->issued_ms &&
	        !strcmp(cand->signer, held->signer);
	return LATEST_OK;
}
