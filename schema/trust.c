/* Trust roots and signatures over canonical bytes. */
#include "schema/trust.h"

#include "schema/canon.h"
#include "schema/canon_walk.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* sig_valid checks one {key, sig} entry against the canonical bytes. */
static bool
sig_valid(const json_t *s, const struct canon_buf *msg, const char *key_hex)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
	const char *k = spec_str(s, "key");

	if (k == NULL || strcmp(k, key_hex) != 0 ||
	    canon_unhex(k, pk, sizeof(pk)) != 0 ||
	    canon_unhex(spec_str(s, "sig"), sig, sizeof(sig)) != 0) {
		return false;
	}
	return crypto_sign_verify_detached(sig, msg->data, msg->len, pk) == 0;
}

/* count_signers counts the keys of `keys` with a valid signature in
 * sigs over msg. */
static int
count_signers(const struct canon_buf *msg, const json_t *sigs,
              const json_t *keys)
{
	json_t *k, *s;
	size_t i, j;
	int count = 0;

	json_array_foreach(keys, i, k)
	{
		const char *hex = spec_str(k, "key");
		if (hex == NULL) {
			continue;
		}
		json_array_foreach(sigs, j, s)
		{
			if (sig_valid(s, msg, hex)) {
				count++;
				break;
			}
		}
	}
	return count;
}

int
trust_count_signers(const json_t *doc, const json_t *keys)
{
	struct canon_buf msg = { 0 };
	char err[128];
	int count = 0;

	if (canon_encode_without(doc, "signatures", &msg, err, sizeof(err)) ==
	    0) {
		count = count_signers(&msg, json_object_get(doc, "signatures"),
		                      keys);
	}
	canon_buf_free(&msg);
	return count;
}

static int
keys_check(const json_t *root, const char *name, const char *path,
           struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "name", SPEC_STRING, true },
		{ "key", SPEC_STRING, true },
	};
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	char sub[TB_DIAG_PATH], kp[TB_DIAG_PATH];
	json_t *keys = json_object_get(root, name), *k;
	size_t i, j;
	int n = 0;

	tb_path_key(sub, sizeof(sub), path, name);
	if (json_array_size(keys) == 0) {
		tb_diag_add(d, TB_EMISSING, sub, "needs at least one key");
		return 1;
	}
	json_array_foreach(keys, i, k)
	{
		tb_path_idx(kp, sizeof(kp), sub, i);
		if (spec_object(k, f, 2, kp, d) != 0) {
			n++;
			continue;
		}
		if (canon_unhex(spec_str(k, "key"), pk, sizeof(pk)) != 0) {
			char fp[TB_DIAG_PATH];
			tb_path_key(fp, sizeof(fp), kp, "key");
			tb_diag_add(
			    d, TB_ECODE, fp,
			    "not an Ed25519 public key (64 lowercase hex "
			    "digits)");
			n++;
			continue;
		}
		for (j = 0; j < i; j++) {
			if (json_equal(json_object_get(k, "key"),
			               json_object_get(json_array_get(keys, j),
			                               "key"))) {
				tb_diag_add(d, TB_EDUP, kp, "key listed twice");
				n++;
			}
		}
	}
	return n;
}

int
trust_root_check(const json_t *root, const json_t *prev, int64_t now_ms,
                 const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "format", SPEC_STRING, true },
		{ "region", SPEC_STRING, true },
		{ "version", SPEC_INT, true },
		{ "expires", SPEC_STRING, true },
		{ "threshold", SPEC_INT, true },
		{ "officers", SPEC_ARRAY, true },
		{ "release_keys", SPEC_ARRAY, true },
		{ "signatures", SPEC_ARRAY, false },
	};
	char sub[TB_DIAG_PATH];
	long long m, officers, have;
	int64_t expires;
	const char *fmt, *region;
	int n;

	if ((n = spec_object(root, f, 8, path, d)) != 0) {
		return n;
	}
	fmt = spec_str(root, "format");
	region = spec_str(root, "region");
	if (strcmp(fmt, "tongban.root/1") != 0) {
		tb_path_key(sub, sizeof(sub), path, "format");
		tb_diag_add(d, TB_ECODE, sub, "\"%s\" is not tongban.root/1",
		            fmt);
		n++;
	}
	if (!spec_digits(region, 6) || strcmp(region + 2, "0000") != 0) {
		tb_path_key(sub, sizeof(sub), path, "region");
		tb_diag_add(d, TB_ECODE, sub, "\"%s\" is not a province code",
		            region);
		n++;
	}
	tb_path_key(sub, sizeof(sub), path, "expires");
	if (spec_time_parse(spec_str(root, "expires"), &expires) != 0) {
		tb_diag_add(d, TB_EMALFORMED, sub, "not an RFC 3339 time");
		n++;
	} else if (now_ms > 0 && expires <= now_ms) {
		tb_diag_add(d, TB_ESIG, sub, "the root expired at %s",
		            spec_str(root, "expires"));
		n++;
	}
	n += keys_check(root, "officers", path, d);
	n += keys_check(root, "release_keys", path, d);
	if (n != 0) {
		return n;
	}
	m = spec_int(root, "threshold", 0);
	officers =
	    (long long)json_array_size(json_object_get(root, "officers"));
	if (m < 1 || m > officers) {
		tb_path_key(sub, sizeof(sub), path, "threshold");
		tb_diag_add(d, TB_ERANGE, sub,
		            "threshold %lld must be 1..%lld (the officers)", m,
		            officers);
		return n + 1;
	}
	tb_path_key(sub, sizeof(sub), path, "signatures");
	have = trust_count_signers(root, json_object_get(root, "officers"));
	if (have < m) {
		tb_diag_add(d, TB_ESIG, sub,
		            "signed by %lld of its officers, %lld required",
		            have, m);
		n++;
	}
	if (prev != NULL) {
		long long pv = spec_int(prev, "version", 0);
		long long pm = spec_int(prev, "threshold", 1);
		if (spec_int(root, "version", 0) != pv + 1) {
			char vp[TB_DIAG_PATH];
			tb_path_key(vp, sizeof(vp), path, "version");
			tb_diag_add(d, TB_ECHAIN, vp,
			            "version %lld does not follow %lld",
			            spec_int(root, "version", 0), pv);
			n++;
		}
		if (strcmp(region, spec_str(prev, "region")) != 0) {
			char rp[TB_DIAG_PATH];
			tb_path_key(rp, sizeof(rp), path, "region");
			tb_diag_add(
			    d, TB_ECHAIN, rp,
			    "region %s differs from the previous root's",
			    region);
			n++;
		}
		have = trust_count_signers(root,
		                           json_object_get(prev, "officers"));
		if (have < pm) {
			tb_diag_add(d, TB_ESIG, sub,
			            "signed by %lld of the previous root's "
			            "officers, %lld required",
			            have, pm);
			n++;
		}
	}
	return n;
}

int
trust_verify_release(const json_t *root, const json_t *doc, const char *path,
                     struct tb_diag *d)
{
	char sub[TB_DIAG_PATH];

	if (trust_count_signers(doc, json_object_get(root, "release_keys")) >
	    0) {
		return TB_OK;
	}
	tb_path_key(sub, sizeof(sub), path, "signatures");
	return tb_diag_add(d, TB_ESIG, sub,
	                   json_array_size(json_object_get(doc, "signatures"))
	                       ? "no valid signature by a release key of "
	                         "the %s root"
	                       : "unsigned: a release key of the %s root "
	                         "must sign it",
	                   spec_str(root, "region"));
}

int
trust_verify_release_msg(const json_t *root, const uint8_t *msg, size_t n,
                         const json_t *sigs, const char *path,
                         struct tb_diag *d)
{
	const struct canon_buf m = { (uint8_t *)msg, n, n, 0 };
	char sub[TB_DIAG_PATH];

	if (count_signers(&m, sigs, json_object_get(root, "release_keys")) >
	    0) {
		return TB_OK;
	}
	tb_path_key(sub, sizeof(sub), path, "signatures");
	return tb_diag_add(d, TB_ESIG, sub,
	                   json_array_size(sigs)
	                       ? "no valid signature by a release key of "
	                         "the %s root"
	                       : "unsigned: a release key of the %s root "
	                         "must sign it",
	                   spec_str(root, "region"));
}

int
trust_verify_release_bytes(const json_t *root, const uint8_t *doc, size_t n,
                           const char *path, struct tb_diag *d)
{
	struct canon_buf msg = { 0 };
	const uint8_t *sv = NULL;
	json_t *sigs = NULL;
	char sub[TB_DIAG_PATH], err[128];
	size_t svl = 0;
	int rv, count = 0;

	tb_path_key(sub, sizeof(sub), path, "signatures");
	/* One walk cuts the signed bytes and finds the signatures (an
	 * unsigned document has none: counted as none below). */
	rv = canon_bytes_without_get(doc, n, "signatures", &msg, &sv, &svl);
	if (rv == TB_OK && sv != NULL) {
		rv = canon_decode(sv, svl, &canon_default_limits, &sigs, err,
		                  sizeof(err));
	}
	if (rv == TB_ENOMEM) {
		json_decref(sigs);
		canon_buf_free(&msg);
		return rv;
	}
	if (rv == TB_OK) {
		count = count_signers(&msg, sigs,
		                      json_object_get(root, "release_keys"));
	}
	canon_buf_free(&msg);
	if (count > 0) {
		json_decref(sigs);
		return TB_OK;
	}
	rv = tb_diag_add(d, TB_ESIG, sub,
	                 rv != TB_OK ? "not a canonical document: the %s "
	                               "root's keys cannot check it"
	                 : json_array_size(sigs)
	                     ? "no valid signature by a release key of "
	                       "the %s root"
	                     : "unsigned: a release key of the %s root "
	                       "must sign it",
	                 spec_str(root, "region"));
	json_decref(sigs);
	return rv;
}

int
trust_sign(json_t *doc, const uint8_t sk[crypto_sign_SECRETKEYBYTES],
           char *errmsg, size_t errlen)
{
	struct canon_buf msg = { 0 };
	int rv;

	rv = canon_encode_without(doc, "signatures", &msg, errmsg, errlen);
	if (rv == 0) {
		rv = trust_sign_msg(doc, msg.data, msg.len, sk);
	}
	canon_buf_free(&msg);
	return rv;
}

int
trust_sign_msg(json_t *doc, const uint8_t *msg, size_t n,
               const uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
	uint8_t sig[crypto_sign_BYTES];
	char pk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
	char sig_hex[2 * crypto_sign_BYTES + 1];
	json_t *sigs, *s, *entry;
	size_t i;

	crypto_sign_detached(sig, NULL, msg, n, sk);
	/* The public key is the second half of a libsodium secret key. */
	canon_hex(sk + 32, crypto_sign_PUBLICKEYBYTES, pk_hex);
	canon_hex(sig, sizeof(sig), sig_hex);
	sigs = json_object_get(doc, "signatures");
	if (sigs == NULL) {
		if ((sigs = json_array()) == NULL ||
		    json_object_set_new(doc, "signatures", sigs) != 0) {
			return TB_ENOMEM;
		}
	}
	entry = json_pack("{s:s, s:s}", "key", pk_hex, "sig", sig_hex);
	if (entry == NULL) {
		return TB_ENOMEM;
	}
	json_array_foreach(sigs, i, s)
	{
		const char *k = spec_str(s, "key");
		if (k != NULL && !strcmp(k, pk_hex)) {
			return json_array_set_new(sigs, i, entry) ? TB_ENOMEM
			                                          : TB_OK;
		}
	}
	return json_array_append_new(sigs, entry) ? TB_ENOMEM : TB_OK;
}
