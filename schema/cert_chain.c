/* Verifying certificate chains against a province root, with revocation
 * lists and a cache of verified chains.
 *
 * Happy path: the leaf's issuer key is the next certificate's sign_key,
 * each region key is certified by its parent's, the province's by threshold
 * root officers, every window holds now, and no issuer's newest list names
 * a serial. Each failure stops at the first problem: a handshake needs one
 * reason, and an operator reads it with its path into the chain. */
#include "schema/cert_chain.h"

#include "schema/cert_crl.h"
#include "schema/region.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <string.h>

/* One verification: its inputs and what it learned. */
struct walk {
	const json_t *root;
	const json_t *const *crls;
	size_t ncrl;
	int64_t now;
	struct tb_diag *d;
};

static bool
is_format(const json_t *doc, const char *want)
{
	const char *f = spec_str(doc, "format");

	return f != NULL && !strcmp(f, want);
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = spec_str(o, key);

	return s != NULL ? s : "";
}

/* window checks not_before <= now < not_after of doc (a certificate or a
 * cross-certificate called `what`). */
static int
window(struct walk *w, const json_t *doc, const char *what, const char *path)
{
	char sub[TB_DIAG_PATH];
	int64_t nb, na;

	spec_time_parse(spec_str(doc, "not_before"), &nb);
	spec_time_parse(spec_str(doc, "not_after"), &na);
	if (w->now < nb) {
		tb_path_key(sub, sizeof(sub), path, "not_before");
		return tb_diag_add(w->d, TB_ERANGE, sub,
		                   "%s %s: not valid before %s", what,
		                   str(doc, "serial"), str(doc, "not_before"));
	}
	if (w->now >= na) {
		tb_path_key(sub, sizeof(sub), path, "not_after");
		return tb_diag_add(w->d, TB_ERANGE, sub, "%s %s: expired at %s",
		                   what, str(doc, "serial"),
		                   str(doc, "not_after"));
	}
	return TB_OK;
}

/* revoked looks up doc's serial in the newest list of doc's issuer, after
 * verifying that list (anchor: the root or cross-certificate whose
 * officers sign the lists of a root issuer). */
static int
revoked(struct walk *w, const json_t *doc, const char *what,
        const json_t *anchor, const char *path)
{
	const json_t *best = NULL;
	char sub[TB_DIAG_PATH], cp[TB_DIAG_PATH];
	size_t i, bi = 0;
	int rv;

	for (i = 0; i < w->ncrl; i++) {
		const json_t *l = w->crls[i];
		if (is_format(l, CERT_CRL_FORMAT) && cert_same_issuer(l, doc) &&
		    (best == NULL || spec_int(l, "version", 0) >
		                         spec_int(best, "version", 0))) {
			best = l;
			bi = i;
		}
	}
	if (best == NULL) {
		return TB_OK;
	}
	tb_path_idx(cp, sizeof(cp), "$.crls", bi);
	if ((rv = cert_crl_verify(best, anchor, cp, w->d)) != 0) {
		return rv;
	}
	if (cert_crl_find(best, spec_str(doc, "serial")) != NULL) {
		tb_path_key(sub, sizeof(sub), path, "serial");
		return tb_diag_add(
		    w->d, CERT_EREVOKED, sub,
		    "%s %s: revoked by %s's list version %lld", what,
		    str(doc, "serial"),
		    str(json_object_get(best, "issuer"), "region"),
		    spec_int(best, "version", 0));
	}
	return TB_OK;
}

/* xcert_verify checks a cross-certificate of w->root's officers. */
static int
xcert_verify(struct walk *w, const json_t *x, const char *path)
{
	const json_t *officers = json_object_get(w->root, "officers");
	const char *ours = str(w->root, "region");
	char sub[TB_DIAG_PATH];
	long long m = spec_int(w->root, "threshold", 1), have;
	int before = w->d != NULL ? w->d->n : 0, rv;

	if (cert_xcert_check(x, path, w->d) != 0) {
		return w->d != NULL && w->d->n > before ? w->d->e[before].code
		                                        : TB_EMALFORMED;
	}
	tb_path_key(sub, sizeof(sub), path, "issuer");
	if (strcmp(str(json_object_get(x, "issuer"), "region"), ours) != 0) {
		return tb_diag_add(
		    w->d, TB_ECHAIN, sub,
		    "cross-certificate %s: issued by the root of %s, not by "
		    "ours (%s)",
		    str(x, "serial"),
		    str(json_object_get(x, "issuer"), "region"), ours);
	}
	tb_path_key(sub, sizeof(sub), path, "signatures");
	if ((have = trust_count_signers(x, officers)) < m) {
		return tb_diag_add(
		    w->d, TB_ESIG, sub,
		    "cross-certificate %s: signed by %lld of the "
		    "%s root's officers, %lld required",
		    str(x, "serial"), have, ours, m);
	}
	if ((rv = window(w, x, "cross-certificate", path)) != 0) {
		return rv;
	}
	return revoked(w, x, "cross-certificate", w->root, path);
}

/* by_root checks a province certificate signed by a root's officers: ours,
 * or another province's that the cross-certificate x names. Sets *anchor
 * to what signs that root's revocation lists. */
static int
by_root(struct walk *w, const json_t *c, const json_t *x, const char *path,
        const json_t **anchor)
{
	const json_t *is = json_object_get(c, "issuer");
	const char *ir = str(is, "region");
	const json_t *officers;
	char sub[TB_DIAG_PATH];
	long long m, have;

	tb_path_key(sub, sizeof(sub), path, "issuer");
	if (strcmp(str(c, "kind"), "region") != 0 ||
	    strcmp(str(c, "region"), ir) != 0) {
		return tb_diag_add(w->d, TB_ECHAIN, sub,
		                   "cert %s: the %s root's officers certify "
		                   "only the region key of %s",
		                   str(c, "serial"), ir, ir);
	}
	if (!strcmp(ir, str(w->root, "region"))) {
		officers = json_object_get(w->root, "officers");
		m = spec_int(w->root, "threshold", 1);
		*anchor = w->root;
	} else if (x != NULL &&
	           !strcmp(ir, str(json_object_get(x, "subject"), "region"))) {
		officers =
		    json_object_get(json_object_get(x, "subject"), "officers");
		m = spec_int(json_object_get(x, "subject"), "threshold", 1);
		*anchor = x;
	} else {
		return tb_diag_add(w->d, TB_ECHAIN, sub,
		                   "cert %s: unknown issuer: the root of %s is "
		                   "not trusted here (no cross-certificate of "
		                   "the %s root names it)",
		                   str(c, "serial"), ir,
		                   str(w->root, "region"));
	}
	tb_path_key(sub, sizeof(sub), path, "signatures");
	if ((have = trust_count_signers(c, officers)) < m) {
		return tb_diag_add(w->d, TB_ESIG, sub,
		                   "cert %s: signed by %lld of the %s root's "
		                   "officers, %lld required",
		                   str(c, "serial"), have, ir, m);
	}
	return TB_OK;
}

/* by_key checks a certificate issued by the key of next (NULL when the
 * chain ends): the key, the signature, and the place in the tree. */
static int
by_key(struct walk *w, const json_t *c, const json_t *next, const char *path)
{
	const json_t *is = json_object_get(c, "issuer");
	const char *ir = str(is, "region"), *ik = str(is, "key");
	const char *region = str(c, "region");
	char sub[TB_DIAG_PATH], parent[7];
	json_t *keys;
	bool good;

	tb_path_key(sub, sizeof(sub), path, "issuer");
	if (next == NULL) {
		return tb_diag_add(
		    w->d, TB_ECHAIN, sub,
		    "cert %s: unknown issuer %s key %.16s..: the "
		    "chain ends before the %s root",
		    str(c, "serial"), ir, ik, str(w->root, "region"));
	}
	if (!is_format(next, CERT_FORMAT) ||
	    strcmp(str(next, "sign_key"), ik) != 0) {
		return tb_diag_add(
		    w->d, TB_ECHAIN, sub,
		    "cert %s: unknown issuer %s key %.16s..: not "
		    "the key of the next certificate",
		    str(c, "serial"), ir, ik);
	}
	if (strcmp(str(next, "kind"), "region") != 0) {
		return tb_diag_add(w->d, TB_ECHAIN, sub,
		                   "cert %s: its issuer's certificate %s is a "
		                   "%s certificate, which cannot issue",
		                   str(c, "serial"), str(next, "serial"),
		                   str(next, "kind"));
	}
	if (strcmp(str(next, "region"), ir) != 0) {
		return tb_diag_add(w->d, TB_ECHAIN, sub,
		                   "cert %s: names issuer %s, but that key is "
		                   "certified for %s",
		                   str(c, "serial"), ir, str(next, "region"));
	}
	keys = json_pack("[{s:s}]", "key", ik);
	good = keys != NULL && trust_count_signers(c, keys) == 1;
	json_decref(keys);
	if (!good) {
		tb_path_key(sub, sizeof(sub), path, "signatures");
		return tb_diag_add(w->d, TB_ESIG, sub,
		                   "cert %s: not signed by its issuer %s (key "
		                   "%.16s..)",
		                   str(c, "serial"), ir, ik);
	}
	if (!strcmp(str(c, "kind"), "region")) {
		cert_region_parent(region, parent);
		if (strcmp(parent, ir) != 0) {
			return tb_diag_add(w->d, TB_ECHAIN, sub,
			                   "issuer %s is not the parent of %s",
			                   ir, region);
		}
	} else if (strcmp(region, ir) != 0) {
		return tb_diag_add(w->d, TB_ECHAIN, sub,
		                   "issuer %s may not certify a %s of %s: a "
		                   "region certifies only its own",
		                   ir, str(c, "kind"), region);
	}
	return TB_OK;
}

/* walk_chain verifies everything but the expectation. */
static int
walk_chain(struct walk *w, const json_t *const *chain, size_t n)
{
	const json_t *x = NULL;
	char path[TB_DIAG_PATH], sub[TB_DIAG_PATH];
	int64_t expires;
	size_t i, ncert = n;
	int rv;

	if (n == 0 || n > CERT_CHAIN_MAX) {
		return tb_diag_add(w->d, n == 0 ? TB_EINVAL : TB_ETOOBIG,
		                   "$.chain",
		                   n == 0 ? "no certificate given"
		                          : "more than %d certificates",
		                   CERT_CHAIN_MAX);
	}
	if (!is_format(w->root, "tongban.root/1") ||
	    spec_time_parse(spec_str(w->root, "expires"), &expires) != 0) {
		return tb_diag_add(w->d, TB_EINVAL, "$.root",
		                   "not a tongban.root/1 document");
	}
	if (w->now >= expires) {
		return tb_diag_add(w->d, TB_ERANGE, "$.root.expires",
		                   "the %s root expired at %s",
		                   str(w->root, "region"),
		                   str(w->root, "expires"));
	}
	if (is_format(chain[n - 1], CERT_XCERT_FORMAT)) {
		x = chain[n - 1];
		ncert = n - 1;
		tb_path_idx(path, sizeof(path), "$.chain", n - 1);
		if (ncert == 0) {
			return tb_diag_add(w->d, TB_EINVAL, path,
			                   "a cross-certificate alone is no "
			                   "chain");
		}
		if ((rv = xcert_verify(w, x, path)) != 0) {
			return rv;
		}
	}
	for (i = 0; i < ncert; i++) {
		const json_t *c = chain[i], *anchor = NULL;
		const json_t *is = json_object_get(c, "issuer");
		int before = w->d != NULL ? w->d->n : 0;

		tb_path_idx(path, sizeof(path), "$.chain", i);
		if (cert_check(c, path, w->d) != 0) {
			return w->d != NULL && w->d->n > before
			           ? w->d->e[before].code
			           : TB_EMALFORMED;
		}
		tb_path_key(sub, sizeof(sub), path, "issuer");
		if (!strcmp(str(is, "key"), str(c, "sign_key"))) {
			return tb_diag_add(w->d, TB_ECHAIN, sub,
			                   "cert %s: self-signed certificate "
			                   "refused",
			                   str(c, "serial"));
		}
		if (cert_issuer_is_root(c)) {
			if (i + 1 != ncert) {
				return tb_diag_add(
				    w->d, TB_ECHAIN, sub,
				    "cert %s: a root's certificate must end "
				    "the chain",
				    str(c, "serial"));
			}
			rv = by_root(w, c, x, path, &anchor);
		} else {
			rv = by_key(w, c, i + 1 < ncert ? chain[i + 1] : NULL,
			            path);
		}
		if (rv != 0 || (rv = window(w, c, "cert", path)) != 0 ||
		    (rv = revoked(w, c, "cert", anchor, path)) != 0) {
			return rv;
		}
	}
	if (x != NULL &&
	    !strcmp(str(json_object_get(chain[ncert - 1], "issuer"), "region"),
	            str(w->root, "region"))) {
		tb_path_idx(path, sizeof(path), "$.chain", n - 1);
		return tb_diag_add(w->d, TB_ECHAIN, path,
		                   "a cross-certificate only ends a chain of "
		                   "another province");
	}
	return TB_OK;
}

int
cert_expect_check(const json_t *leaf, const struct cert_expect *e,
                  struct tb_diag *d)
{
	const char *serial = str(leaf, "serial"), *region = str(leaf, "region");
	int32_t want, have;

	if (e == NULL) {
		return TB_OK;
	}
	if (e->kind != CERT_ANY &&
	    strcmp(str(leaf, "kind"), cert_kind_name(e->kind)) != 0) {
		return tb_diag_add(d, TB_EFORBIDDEN, "$.chain[0].kind",
		                   "cert %s: a %s certificate where a %s "
		                   "certificate was expected",
		                   serial, str(leaf, "kind"),
		                   cert_kind_name(e->kind));
	}
	if (e->region != NULL && strcmp(region, e->region) != 0 &&
	    !(e->or_ancestor && region_code_parse(region, &have) == 0 &&
	      region_code_parse(e->region, &want) == 0 &&
	      region_is_ancestor(region_builtin(), have, want))) {
		return tb_diag_add(d, TB_EFORBIDDEN, "$.chain[0].region",
		                   "cert for %s where %s%s was expected",
		                   region, e->region,
		                   e->or_ancestor ? " or an ancestor" : "");
	}
	if (e->node_id != NULL && strcmp(str(leaf, "node_id"), e->node_id)) {
		return tb_diag_add(d, TB_EFORBIDDEN, "$.chain[0].node_id",
		                   "cert %s: node %s where %s was expected",
		                   serial, str(leaf, "node_id"), e->node_id);
	}
	if (e->role != NULL && strcmp(str(leaf, "role"), e->role) != 0) {
		return tb_diag_add(d, TB_EFORBIDDEN, "$.chain[0].role",
		                   "cert %s: role %s where %s was expected",
		                   serial, str(leaf, "role"), e->role);
	}
	return TB_OK;
}

int
cert_verify_chain(const json_t *root, const json_t *const *chain, size_t n,
                  const json_t *const *crls, size_t ncrl,
                  const struct cert_expect *expect, int64_t now_ms,
                  struct tb_diag *d)
{
	struct walk w = { root, crls, ncrl, now_ms, d };
	int rv;

	if ((rv = walk_chain(&w, chain, n)) != 0) {
		return rv;
	}
	return cert_expect_check(chain[0], expect, d);
}
