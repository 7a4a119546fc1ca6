/* Incarnation certificates (schema/incarnation.h). */
#include "schema/incarnation.h"

#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int
inc_check(const json_t *doc, const char *path, struct tb_diag *d)
{
	static const struct spec_field fields[] = {
		{ "format", SPEC_STRING, true },
		{ "region", SPEC_STRING, true },
		{ "incarnation", SPEC_INT, true },
		{ "members", SPEC_ARRAY, true },
		{ "issued_at", SPEC_STRING, true },
		{ "issuer", SPEC_OBJECT, true },
		{ "signatures", SPEC_ARRAY, false },
	};
	static const struct spec_field ifields[] = {
		{ "region", SPEC_STRING, true },
		{ "key", SPEC_STRING, false },
		{ "root", SPEC_BOOL, false },
	};
	char p[TB_DIAG_PATH], q[TB_DIAG_PATH], parent[7];
	const json_t *iss, *members, *m;
	int before = d != NULL ? d->n : 0;
	int64_t ms;
	long long inc;
	size_t i, j;

	if (!json_is_object(doc)) {
		tb_diag_add(d, TB_ETYPE, path,
		            "an incarnation certificate is a JSON object");
		return 1;
	}
	if (spec_object(doc, fields, sizeof(fields) / sizeof(fields[0]), path,
	                d) != 0) {
		return d != NULL ? d->n - before : 1;
	}
	tb_path_key(p, sizeof(p), path, "format");
	if (strcmp(spec_str(doc, "format"), INC_FORMAT) != 0) {
		tb_diag_add(d, TB_EMALFORMED, p,
		            "format %s where %s was expected",
		            spec_str(doc, "format"), INC_FORMAT);
	}
	tb_path_key(p, sizeof(p), path, "region");
	if (cert_region_parent(spec_str(doc, "region"), parent) != TB_OK) {
		tb_diag_add(d, TB_ECODE, p, "%s is not a region code",
		            spec_str(doc, "region"));
	}
	tb_path_key(p, sizeof(p), path, "incarnation");
	inc = spec_int(doc, "incarnation", 0);
	if (inc < 2 || (uint64_t)inc >= INC_MAX) {
		tb_diag_add(d, TB_ERANGE, p,
		            "incarnation %lld: a recovered group's incarnation "
		            "is 2 or more (a group starts at 1)",
		            inc);
	}
	tb_path_key(p, sizeof(p), path, "issued_at");
	if (spec_time_parse(spec_str(doc, "issued_at"), &ms) != TB_OK) {
		tb_diag_add(d, TB_EMALFORMED, p, "not an RFC 3339 time: %s",
		            spec_str(doc, "issued_at"));
	}
	tb_path_key(p, sizeof(p), path, "members");
	members = json_object_get(doc, "members");
	if (json_array_size(members) == 0 ||
	    json_array_size(members) > INC_MEMBERS_MAX) {
		tb_diag_add(d, TB_ERANGE, p, "%zu members: 1 to %d node ids",
		            json_array_size(members), INC_MEMBERS_MAX);
	}
	json_array_foreach(members, i, m)
	{
		tb_path_idx(q, sizeof(q), p, i);
		if (!spec_hex(json_string_value(m), CERT_NODE_ID_HEX)) {
			tb_diag_add(d, TB_EMALFORMED, q,
			            "a node id is 16 lowercase hex digits");
			continue;
		}
		for (j = 0; j < i; j++) {
			if (json_equal(m, json_array_get(members, j))) {
				tb_diag_add(d, TB_EDUP, q,
				            "node %s is listed twice",
				            json_string_value(m));
			}
		}
	}
	tb_path_key(p, sizeof(p), path, "issuer");
	iss = json_object_get(doc, "issuer");
	if (spec_object(iss, ifields, sizeof(ifields) / sizeof(ifields[0]), p,
	                d) == 0) {
		bool root = spec_bool(iss, "root", false);
		tb_path_key(q, sizeof(q), p, root ? "root" : "key");
		if (root == (json_object_get(iss, "key") != NULL)) {
			tb_diag_add(
			    d, TB_EMALFORMED, q,
			    "the issuer is a key or a root, exactly one");
		} else if (!root && !spec_hex(spec_str(iss, "key"), 64)) {
			tb_diag_add(d, TB_EMALFORMED, q,
			            "a key is 64 lowercase hex digits");
		}
	}
	return d != NULL ? d->n - before : 0;
}

int
inc_parent_key(const char *region, const json_t *chain, char out[65])
{
	char parent[7];
	const json_t *c;
	size_t i;

	if (cert_region_parent(region, parent) != TB_OK) {
		return TB_ECODE;
	}
	if (parent[0] == '\0') {
		return TB_EINVAL;
	}
	json_array_foreach(chain, i, c)
	{
		const char *k = spec_str(c, "kind"), *r = spec_str(c, "region");
		if (k != NULL && !strcmp(k, "region") && r != NULL &&
		    !strcmp(r, parent) &&
		    spec_hex(spec_str(c, "sign_key"), 64)) {
			snprintf(out, 65, "%s", spec_str(c, "sign_key"));
			return TB_OK;
		}
	}
	return TB_ENOTFOUND;
}

int
inc_verify(const json_t *doc, const char *region, const json_t *root,
           const json_t *chain, const char *path, struct tb_diag *d)
{
	char p[TB_DIAG_PATH], parent[7], key[65];
	const json_t *iss;
	const char *ir;
	json_t *keys;
	int before = d != NULL ? d->n : 0, have, need, rv;

	if (inc_check(doc, path, d) != 0) {
		return d != NULL && d->n > before ? d->e[before].code
		                                  : TB_EMALFORMED;
	}
	tb_path_key(p, sizeof(p), path, "region");
	if (strcmp(spec_str(doc, "region"), region) != 0) {
		return tb_diag_add(d, TB_EFORBIDDEN, p,
		                   "a certificate for %s, this group is %s",
		                   spec_str(doc, "region"), region);
	}
	if (cert_region_parent(region, parent) != TB_OK) {
		return tb_diag_add(d, TB_ECODE, p, "%s is not a region code",
		                   region);
	}
	iss = json_object_get(doc, "issuer");
	ir = spec_str(iss, "region");
	tb_path_key(p, sizeof(p), path, "issuer");
	if (parent[0] == '\0') {
		/* A province: threshold officers of its root. */
		if (!spec_bool(iss, "root", false) || strcmp(ir, region) != 0) {
			return tb_diag_add(
			    d, TB_EFORBIDDEN, p,
			    "%s is a province: its incarnation is "
			    "certified by its root's officers "
			    "(issuer {\"region\": \"%s\", \"root\": "
			    "true})",
			    region, region);
		}
		if (root == NULL ||
		    strcmp(spec_str(root, "region") ? spec_str(root, "region")
		                                    : "",
		           region) != 0) {
			return tb_diag_add(d, TB_ENOTFOUND, p,
			                   "no root of %s to check it against",
			                   region);
		}
		need = (int)spec_int(root, "threshold", 1);
		have =
		    trust_count_signers(doc, json_object_get(root, "officers"));
		tb_path_key(p, sizeof(p), path, "signatures");
		if (have < need) {
			return tb_diag_add(
			    d, TB_ESIG, p,
			    "incarnation %lld of %s: signed by %d "
			    "of the %s root's officers, %d required",
			    spec_int(doc, "incarnation", 0), region, have,
			    region, need);
		}
		return TB_OK;
	}
	if (spec_bool(iss, "root", false) || strcmp(ir, parent) != 0) {
		return tb_diag_add(
		    d, TB_EFORBIDDEN, p,
		    "issuer %s%s: the incarnation of %s is "
		    "certified by its parent %s's key",
		    ir, spec_bool(iss, "root", false) ? " (root)" : "", region,
		    parent);
	}
	if ((rv = inc_parent_key(region, chain, key)) != TB_OK) {
		return tb_diag_add(d, rv, p,
		                   "this node's chain holds no certificate of "
		                   "%s's region key to check it against",
		                   parent);
	}
	tb_path_key(p, sizeof(p), path, "issuer.key");
	if (strcmp(spec_str(iss, "key"), key) != 0) {
		return tb_diag_add(d, TB_ESIG, p,
		                   "issuer key %.16s.. is not %s's region key "
		                   "(%.16s..)",
		                   spec_str(iss, "key"), parent, key);
	}
	keys = json_pack("[{s:s}]", "key", key);
	have = keys != NULL ? trust_count_signers(doc, keys) : 0;
	json_decref(keys);
	tb_path_key(p, sizeof(p), path, "signatures");
	if (have != 1) {
		return tb_diag_add(d, TB_ESIG, p,
		                   "incarnation %lld of %s: not signed by %s's "
		                   "key %.16s..",
		                   spec_int(doc, "incarnation", 0), region,
		                   parent, key);
	}
	return TB_OK;
}

int
inc_build(const char *region, uint64_t incarnation, const char *const *members,
          size_t nmembers, int64_t unix_ms, const char *issuer_region,
          const char *issuer_key, json_t **out)
{
	char at[CERT_TIME_LEN];
	json_t *doc, *arr, *iss;
	size_t i;

	cert_time_format(unix_ms, at);
	arr = json_array();
	for (i = 0; arr != NULL && i < nmembers; i++) {
		json_array_append_new(arr, json_string(members[i]));
	}
	iss = issuer_key != NULL
	          ? json_pack("{s:s, s:s}", "region", issuer_region, "key",
	                      issuer_key)
	          : json_pack("{s:s, s:b}", "region", issuer_region, "root", 1);
	doc =
	    json_pack("{s:s, s:s, s:I, s:o*, s:s, s:o*}", "format", INC_FORMAT,
	              "region", region, "incarnation", (json_int_t)incarnation,
	              "members", arr, "issued_at", at, "issuer", iss);
	*out = doc;
	return doc != NULL ? TB_OK : TB_ENOMEM;
}

uint64_t
inc_number(const json_t *doc)
{
	long long v = doc != NULL ? spec_int(doc, "incarnation", 1) : 1;

	return v > 0 ? (uint64_t)v : 1;
}

void
inc_hash(const json_t *doc, char out[65])
{
	struct canon_buf b = { 0 };
	uint8_t h[32];
	char err[128];

	out[0] = '\0';
	if (doc == NULL || canon_encode(doc, &b, err, sizeof(err)) != TB_OK) {
		canon_buf_free(&b);
		return;
	}
	crypto_generichash(h, sizeof(h), b.data, b.len, NULL, 0);
	canon_hex(h, sizeof(h), out);
	canon_buf_free(&b);
}
