/* Verifying a certificate chain up to a province root (cert_cache.h keeps
 * verified chains so repeated handshakes skip the signature checks). */
#ifndef TB_SCHEMA_CERT_CHAIN_H
#define TB_SCHEMA_CERT_CHAIN_H

#include "schema/cert.h"
#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* What the configuration expects at the other end of a link (or of a
 * token): the leaf certificate must match every field that is set. */
struct cert_expect {
	enum cert_kind kind; /* CERT_ANY: any kind */
	const char *region;  /* NULL: any region */
	bool or_ancestor;    /* the leaf may also be an ancestor of region
	                        (tokens of a provincial admin at a county) */
	const char *node_id; /* NULL: any node */
	const char *role;    /* NULL: any role */
};

/*
 * cert_verify_chain verifies chain[0..n) (borrowed; the leaf first, then
 * its issuer, and so on up to the province certificate that root's
 * officers signed; for a chain of another province, that province's
 * certificate is followed by a tongban.xcert/1 of root's officers naming
 * the other root's officers) at now_ms:
 *
 *   - every certificate's fields (cert_check) and signature: by the key of
 *     the next certificate, or threshold officers of the root;
 *   - a region certificate's issuer is the parent of its region in the
 *     region table (the root for a province), a node's or client's issuer
 *     is its own region; nothing is self-signed;
 *   - every validity window contains now_ms, and root has not expired;
 *   - no certificate is revoked by the newest list in crls[0..ncrl) of its
 *     issuer (older versions of that issuer are ignored; the newest must
 *     verify, else the chain is refused: a list that cannot be checked
 *     cannot be trusted to be complete);
 *   - the leaf matches expect (may be NULL).
 *
 * root is the caller's trusted anchor, already checked with
 * trust_root_check; only its expiry is checked here. Adds the first problem
 * to d (may be NULL) at a path such as "$.chain[1].not_after" and returns
 * its code (TB_OK when valid):
 *   TB_ESIG         "cert 7f3a09c1d2e4b5a6: not signed by its issuer 370100
 *                   (key 1a2b3c4d5e6f7a8b..)" (also a field changed after
 *                   signing), or a revocation list not signed by its issuer;
 *   TB_ECHAIN       "cert ..: self-signed certificate refused", "cert ..:
 *                   unknown issuer 370100 key ..: the chain ends before the
 *                   370000 root", "issuer 370200 is not the parent of
 *                   370102";
 *   TB_ERANGE       "cert ..: expired at 2026-01-01T00:00:00Z", "cert ..:
 *                   not valid before ...";
 *   CERT_EREVOKED   "cert ..: revoked by 370100's list version 3";
 *   TB_EFORBIDDEN   "cert for 370103 where 370102 was expected", and the
 *                   same for kind, node and role;
 *   TB_EMALFORMED, TB_ECODE, TB_EMISSING ... from the field checks;
 *   TB_EINVAL       an empty chain; TB_ETOOBIG more than CERT_CHAIN_MAX.
 */
int cert_verify_chain(const json_t *root, const json_t *const *chain, size_t n,
                      const json_t *const *crls, size_t ncrl,
                      const struct cert_expect *expect, int64_t now_ms,
                      struct tb_diag *d);

/* cert_expect_check checks only the leaf against expect (cheap: no
 * signatures); same messages and codes as cert_verify_chain. */
int cert_expect_check(const json_t *leaf, const struct cert_expect *expect,
                      struct tb_diag *d);

#endif
