/* Certificate revocation lists: building, signing, verifying, lookup. */
#include "schema/cert_crl.h"

#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <string.h>

bool
cert_same_issuer(const json_t *a, const json_t *b)
{
	const json_t *ia = json_object_get(a, "issuer");
	const json_t *ib = json_object_get(b, "issuer");
	const char *ra = spec_str(ia, "region"), *rb = spec_str(ib, "region");
	const char *ka = spec_str(ia, "key"), *kb = spec_str(ib, "key");

	if (ra == NULL || rb == NULL || strcmp(ra, rb) != 0) {
		return false;
	}
	if (cert_issuer_is_root(a) || cert_issuer_is_root(b)) {
		return cert_issuer_is_root(a) && cert_issuer_is_root(b);
	}
	return ka != NULL && kb != NULL && !strcmp(ka, kb);
}

int
cert_crl_build(const char *region, const char *key_hex, const json_t *prev,
               int64_t now_ms, json_t **out, char *errmsg, size_t errlen)
{
	char at[CERT_TIME_LEN];
	json_t *crl, *iss;
	long long version = 1;

	iss = key_hex != NULL
	          ? json_pack("{s:s, s:s}", "region", region, "key", key_hex)
	          : json_pack("{s:s, s:b}", "region", region, "root", 1);
	if (iss == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	cert_time_format(now_ms, at);
	crl = json_pack("{s:s, s:o, s:I, s:s, s:[]}", "format", CERT_CRL_FORMAT,
	                "issuer", iss, "version", (json_int_t)1, "issued_at",
	                at, "revoked");
	if (crl == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	if (prev != NULL) {
		json_t *copy;
		if (!cert_same_issuer(crl, prev)) {
			snprintf(errmsg, errlen,
			         "the previous list is by another issuer (%s)",
			         spec_str(json_object_get(prev, "issuer"),
			                  "region"));
			json_decref(crl);
			return TB_ECONFLICT;
		}
		version = spec_int(prev, "version", 0) + 1;
		copy = json_deep_copy(json_object_get(prev, "revoked"));
		if (copy == NULL || !json_is_array(copy) ||
		    json_object_set_new(crl, "revoked", copy) != 0 ||
		    (json_object_get(prev, "tokens") != NULL &&
		     json_object_set_new(crl, "tokens",
		                         json_deep_copy(json_object_get(
		                             prev, "tokens"))) != 0) ||
		    json_object_set_new(crl, "version",
		                        json_integer(version)) != 0) {
			snprintf(errmsg, errlen, "the previous list is bad");
			json_decref(crl);
			return TB_EINVAL;
		}
	}
	*out = crl;
	return TB_OK;
}

const json_t *
cert_crl_find(const json_t *crl, const char *serial)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(crl, "revoked"), i, e)
	{
		const char *s = spec_str(e, "serial");
		if (s != NULL && serial != NULL && !strcmp(s, serial)) {
			return e;
		}
	}
	return NULL;
}

const json_t *
cert_crl_find_token(const json_t *crl, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(crl, "tokens"), i, e)
	{
		const char *s = spec_str(e, "id");
		if (s != NULL && id != NULL && !strcmp(s, id)) {
			return e;
		}
	}
	return NULL;
}

bool
cert_token_id_ok(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0, i;

	if (n == 0 || n > CERT_TOKEN_ID_MAX) {
		return false;
	}
	for (i = 0; i < n; i++) {
		char ch = id[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		      ch == '_')) {
			return false;
		}
	}
	return true;
}

int
cert_crl_revoke_token(json_t *crl, const char *id, const char *reason,
                      int64_t now_ms, char *errmsg, size_t errlen)
{
	char at[CERT_TIME_LEN];
	json_t *e, *arr = json_object_get(crl, "tokens");

	if (!cert_token_id_ok(id)) {
		snprintf(errmsg, errlen,
		         "\"%s\" is not a token id (1 to %d characters from "
		         "A-Z a-z 0-9 - . _)",
		         id != NULL ? id : "", CERT_TOKEN_ID_MAX);
		return TB_EINVAL;
	}
	if (cert_crl_find_token(crl, id) != NULL) {
		snprintf(errmsg, errlen, "token %s is already revoked", id);
		return TB_EDUP;
	}
	if (arr == NULL) {
		if (json_object_set_new(crl, "tokens", json_array()) != 0) {
			snprintf(errmsg, errlen, "out of memory");
			return TB_ENOMEM;
		}
		arr = json_object_get(crl, "tokens");
	}
	cert_time_format(now_ms, at);
	e = json_pack("{s:s, s:s}", "id", id, "revoked_at", at);
	if (e == NULL ||
	    (reason != NULL && reason[0] != '\0' &&
	     json_object_set_new(e, "reason", json_string(reason)) != 0) ||
	    json_array_append_new(arr, e) != 0) {
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	json_object_del(crl, "signatures");
	return TB_OK;
}

int
cert_crl_revoke(json_t *crl, const char *serial, const char *reason,
                int64_t now_ms, char *errmsg, size_t errlen)
{
	char at[CERT_TIME_LEN];
	uint8_t b[CERT_SERIAL_HEX / 2];
	json_t *e;

	if (canon_unhex(serial, b, sizeof(b)) != 0) {
		snprintf(errmsg, errlen,
		         "\"%s\" is not a serial (16 lowercase hex digits)",
		         serial != NULL ? serial : "");
		return TB_EINVAL;
	}
	if (cert_crl_find(crl, serial) != NULL) {
		snprintf(errmsg, errlen, "%s is already revoked", serial);
		return TB_EDUP;
	}
	cert_time_format(now_ms, at);
	e = json_pack("{s:s, s:s}", "serial", serial, "revoked_at", at);
	if (e == NULL ||
	    (reason != NULL && reason[0] != '\0' &&
	     json_object_set_new(e, "reason", json_string(reason)) != 0)) {
		json_decref(e);
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	if (json_array_append_new(json_object_get(crl, "revoked"), e) != 0) {
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	json_object_del(crl, "signatures");
	return TB_OK;
}

int
cert_crl_sign(json_t *crl, const uint8_t sk[64], char *errmsg, size_t errlen)
{
	const json_t *iss = json_object_get(crl, "issuer");

	if (!cert_issuer_is_root(crl) &&
	    !cert_key_is(spec_str(iss, "key"), sk)) {
		snprintf(errmsg, errlen,
		         "this key is not the list's issuer key %.16s..",
		         spec_str(iss, "key") ? spec_str(iss, "key") : "");
		return TB_EFORBIDDEN;
	}
	return trust_sign(crl, sk, errmsg, errlen);
}

int
cert_crl_check(const json_t *crl, const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "format", SPEC_STRING, true },
		{ "issuer", SPEC_OBJECT, true },
		{ "version", SPEC_INT, true },
		{ "issued_at", SPEC_STRING, true },
		{ "revoked", SPEC_ARRAY, true },
		{ "tokens", SPEC_ARRAY, false },
		{ "signatures", SPEC_ARRAY, false },
	};
	static const struct spec_field fi[] = {
		{ "region", SPEC_STRING, true },
		{ "key", SPEC_STRING, false },
		{ "root", SPEC_BOOL, false },
	};
	static const struct spec_field fe[] = {
		{ "serial", SPEC_STRING, true },
		{ "revoked_at", SPEC_STRING, true },
		{ "reason", SPEC_STRING, false },
	};
	static const struct spec_field ft[] = {
		{ "id", SPEC_STRING, true },
		{ "revoked_at", SPEC_STRING, true },
		{ "reason", SPEC_STRING, false },
	};
	char sub[TB_DIAG_PATH], ep[TB_DIAG_PATH];
	const json_t *iss = json_object_get(crl, "issuer");
	uint8_t b[32];
	int64_t t;
	json_t *e;
	size_t i;
	int n;

	if ((n = spec_object(crl, f, sizeof(f) / sizeof(f[0]), path, d))) {
		return n;
	}
	if (strcmp(spec_str(crl, "format"), CERT_CRL_FORMAT) != 0) {
		tb_path_key(sub, sizeof(sub), path, "format");
		n += tb_diag_add(d, TB_ECODE, sub, "\"%s\" is not %s",
		                 spec_str(crl, "format"), CERT_CRL_FORMAT) != 0;
	}
	if (spec_int(crl, "version", 0) < 1) {
		tb_path_key(sub, sizeof(sub), path, "version");
		n += tb_diag_add(d, TB_ERANGE, sub, "versions start at 1") != 0;
	}
	if (spec_time_parse(spec_str(crl, "issued_at"), &t) != 0) {
		tb_path_key(sub, sizeof(sub), path, "issued_at");
		n += tb_diag_add(d, TB_EMALFORMED, sub,
		                 "not an RFC 3339 time") != 0;
	}
	tb_path_key(sub, sizeof(sub), path, "issuer");
	if (spec_object(iss, fi, 3, sub, d) != 0) {
		n++;
	} else if ((json_object_get(iss, "key") != NULL) ==
	               cert_issuer_is_root(crl) ||
	           (json_object_get(iss, "key") != NULL &&
	            canon_unhex(spec_str(iss, "key"), b, 32) != 0)) {
		n += tb_diag_add(d, TB_ECODE, sub,
		                 "an issuer names a key (64 hex digits) or "
		                 "\"root\": true, exactly one") != 0;
	}
	tb_path_key(sub, sizeof(sub), path, "revoked");
	json_array_foreach(json_object_get(crl, "revoked"), i, e)
	{
		tb_path_idx(ep, sizeof(ep), sub, i);
		if (spec_object(e, fe, 3, ep, d) != 0) {
			n++;
		} else if (canon_unhex(spec_str(e, "serial"), b,
		                       CERT_SERIAL_HEX / 2) != 0) {
			n += tb_diag_add(d, TB_ECODE, ep,
			                 "not a serial (16 hex digits)") != 0;
		}
	}
	tb_path_key(sub, sizeof(sub), path, "tokens");
	json_array_foreach(json_object_get(crl, "tokens"), i, e)
	{
		tb_path_idx(ep, sizeof(ep), sub, i);
		if (spec_object(e, ft, 3, ep, d) != 0) {
			n++;
		} else if (!cert_token_id_ok(spec_str(e, "id"))) {
			n += tb_diag_add(d, TB_ECODE, ep,
			                 "not a token id (1 to %d characters "
			                 "from A-Z a-z 0-9 - . _)",
			                 CERT_TOKEN_ID_MAX) != 0;
		}
	}
	return n;
}

int
cert_crl_verify(const json_t *crl, const json_t *anchor, const char *path,
                struct tb_diag *d)
{
	const json_t *iss = json_object_get(crl, "issuer");
	const char *region = spec_str(iss, "region");
	const json_t *officers = NULL;
	char sub[TB_DIAG_PATH];
	long long m = 0, have;
	int before = d != NULL ? d->n : 0;
	int rv;

	tb_path_key(sub, sizeof(sub), path, "signatures");
	if (cert_crl_check(crl, path, d) != 0) {
		/* The first problem this call added gives the code. */
		return d != NULL && d->n > before ? d->e[before].code
		                                  : TB_EMALFORMED;
	}
	if (!cert_issuer_is_root(crl)) {
		json_t *keys =
		    json_pack("[{s:O}]", "key", json_object_get(iss, "key"));
		have = keys != NULL ? trust_count_signers(crl, keys) : 0;
		json_decref(keys);
		if (have == 1) {
			return TB_OK;
		}
		return tb_diag_add(d, TB_ESIG, sub,
		                   "list of %s version %lld: not signed by "
		                   "its issuer key %.16s..",
		                   region, spec_int(crl, "version", 0),
		                   spec_str(iss, "key"));
	}
	/* A root's list: the officers of that province's root, or those a
	 * cross-certificate names for it. */
	if (anchor != NULL &&
	    !strcmp(spec_str(anchor, "format") ? spec_str(anchor, "format")
	                                       : "",
	            CERT_XCERT_FORMAT)) {
		anchor = json_object_get(anchor, "subject");
	}
	if (anchor != NULL && spec_str(anchor, "region") != NULL &&
	    !strcmp(spec_str(anchor, "region"), region)) {
		officers = json_object_get(anchor, "officers");
		m = spec_int(anchor, "threshold", 1);
	}
	if (officers == NULL) {
		return tb_diag_add(d, TB_ECHAIN, sub,
		                   "list of %s's root version %lld: no root of "
		                   "%s is known here",
		                   region, spec_int(crl, "version", 0), region);
	}
	have = trust_count_signers(crl, officers);
	rv = have >= m
	         ? TB_OK
	         : tb_diag_add(d, TB_ESIG, sub,
	                       "list of %s's root version %lld: signed "
	                       "by %lld of its officers, %lld required",
	                       region, spec_int(crl, "version", 0), have, m);
	return rv;
}
