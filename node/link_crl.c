/* The replicated revocation lists at the links: what crl.put stored
 * (node/fsm_crl.c) is read through the node's callback at start and every
 * poll period, checked against the root, and used by every handshake and
 * every re-verification of an open link, beside the lists of DIR/certs. */
#include "node/link_impl.h"
#include "node/log.h"
#include "schema/cert_crl.h"
#include "schema/spec.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void
fingerprint(const json_t *arr, uint8_t out[32])
{
	char *text = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);

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
