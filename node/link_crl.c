/* The replicated revocation lists and root at the links: what crl.put
 * stored (node/fsm_crl.c) is read through the node's callback at start and
 * every poll period, checked against the root, and used by every handshake
 * and every re-verification of an open link, beside the lists of
 * DIR/certs. The root that root.put stored (node/fsm_root.c) is read the
 * same way and, when it checks, is the trust anchor instead of
 * DIR/root.json. */
#include "node/link_impl.h"
#include "node/log.h"
#include "schema/cert_crl.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void
fingerprint(const json_t *arr, uint8_t out[32])
{
	char *text =
	    arr != NULL ? json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	crypto_generichash(out, 32, (const uint8_t *)(text ? text : ""),
	                   text ? strlen(text) : 0, NULL, 0);
	free(text);
}

bool
link_crl_poll(struct links *ls)
{
	json_t *arr = NULL, *ok, *crl;
	struct tb_diag *d;
	uint8_t fp[32];
	size_t i;

	if (ls->crls_fn == NULL || ls->crls_fn(ls->crls_arg, &arr) != 0 ||
	    arr == NULL) {
		return false;
	}
	fingerprint(arr, fp);
	if (ls->store_crls != NULL && !memcmp(fp, ls->store_crls_fp, 32)) {
		json_decref(arr);
		return false;
	}
	if ((ok = json_array()) == NULL || (d = malloc(sizeof(*d))) == NULL) {
		json_decref(ok);
		json_decref(arr);
		return false;
	}
	/* Apply verified them against the root in its command; the links
	 * trust their own root.json, so each list is checked again. */
	json_array_foreach(arr, i, crl)
	{
		tb_diag_init(d);
		if (cert_crl_verify(crl, ls->root, "$", d) != TB_OK) {
			tb_log(
			    TB_LOG_WARN, "TB-LINK-CRL-INVALID",
			    "a replicated revocation list of %s does not "
			    "verify against this node's root (%s), ignored",
			    spec_str(json_object_get(crl, "issuer"), "region"),
			    d->n > 0 ? d->e[0].msg : "?");
			continue;
		}
		json_array_append(ok, crl);
	}
	free(d);
	json_decref(arr);
	/* (A node that never stored a list says nothing at start.) */
	if (json_array_size(ok) > 0 || json_array_size(ls->store_crls) > 0) {
		tb_log(TB_LOG_INFO, "TB-LINK-CERTS",
		       "replicated revocation lists: %zu in force; the "
		       "verified-chain cache is cleared",
		       json_array_size(ok));
	}
	json_decref(ls->store_crls);
	ls->store_crls = ok;
	memcpy(ls->store_crls_fp, fp, 32);
	cert_cache_clear(&ls->cache);
	return true;
}

bool
link_root_poll(struct links *ls)
{
	json_t *doc = NULL;
	struct tb_diag *d;
	uint8_t fp[32];
	int rv;

	if (ls->root_fn == NULL) {
		return false;
	}
	rv = ls->root_fn(ls->crls_arg, &doc);
	if (rv != TB_OK && rv != TB_ENOTFOUND) {
		return false;
	}
	fingerprint(doc, fp);
	if (!memcmp(fp, ls->store_root_fp, 32)) {
		json_decref(doc);
		return false;
	}
	memcpy(ls->store_root_fp, fp, 32);
	if (doc != NULL && (d = malloc(sizeof(*d))) != NULL) {
		tb_diag_init(d);
		/* Apply checked it at its command's time; it may have
		 * expired since. */
		if (trust_root_check(doc, NULL, link_now_ms(), "$", d) != 0) {
			tb_log(TB_LOG_WARN, "TB-LINK-ROOT-INVALID",
			       "the stored root metadata of %s version %lld "
			       "does not check (%s: %s); %s/root.json anchors "
			       "the links",
			       spec_str(doc, "region"),
			       spec_int(doc, "version", 0), d->e[0].path,
			       d->e[0].msg, ls->dir);
			json_decref(doc);
			doc = NULL;
		}
		free(d);
	}
	json_decref(ls->store_root);
	ls->store_root = doc;
	return true;
}
