/* Trust roots (m-of-n officer keys) and signatures over canonical bytes. */
#ifndef TB_SCHEMA_TRUST_H
#define TB_SCHEMA_TRUST_H

#include "schema/error.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>

/*
 * A province's root metadata names its officers' Ed25519 keys, how many of
 * them must sign a root act (threshold m of n), the keys that may sign
 * releases of the standard layer, a version and an expiry:
 *
 *   {"format": "tongban.root/1", "region": "370000", "version": 1,
 *    "expires": "2028-01-01T00:00:00+08:00", "threshold": 2,
 *    "officers": [{"name": "...", "key": "<hex32>"}, ...],
 *    "release_keys": [{"name": "...", "key": "<hex32>"}],
 *    "signatures": [{"key": "<hex32>", "sig": "<hex64>"}, ...]}
 *
 * A root is valid when `threshold` distinct officers signed its canonical
 * bytes (everything but "signatures"). A new version must also carry
 * `threshold` signatures of the previous version's officers, so a rotation
 * is authorised by the keys it replaces (as in TUF).
 */

/* trust_root_check validates root at path. prev is the root it replaces
 * (NULL for the first); now_ms > 0 refuses an expired root. Returns the
 * number of problems added to d. */
int trust_root_check(const json_t *root, const json_t *prev, int64_t now_ms,
                     const char *path, struct tb_diag *d);

/* trust_count_signers counts the distinct keys of the array `keys`
 * ([{"key": hex}, ...]) that made a valid signature in doc.signatures. */
int trust_count_signers(const json_t *doc, const json_t *keys);

/* trust_verify_release checks that doc (a release or overlay) carries a
 * valid signature by one of root's release_keys. Adds TB_ESIG to d at
 * path.signatures and returns it, or TB_OK. */
int trust_verify_release(const json_t *root, const json_t *doc,
                         const char *path, struct tb_diag *d);

/* trust_verify_release_bytes is trust_verify_release for a document
 * given as its canonical bytes (doc, n: a map canon_check accepted): the
 * bytes without "signatures" are cut from doc itself (schema/canon_walk.h)
 * and only the signatures are decoded. TB_OK, TB_ESIG (added to d) or
 * TB_ENOMEM. */
int trust_verify_release_bytes(const json_t *root, const uint8_t *doc, size_t n,
                               const char *path, struct tb_diag *d);

/* trust_verify_release_msg is trust_verify_release for a document whose
 * canonical bytes without "signatures" the caller already has (msg, n),
 * with sigs its "signatures" (NULL if none): a release's apply cuts those
 * bytes once from the command for both the signature and the release's
 * hash. TB_OK or TB_ESIG (added to d). */
int trust_verify_release_msg(const json_t *root, const uint8_t *msg, size_t n,
                             const json_t *sigs, const char *path,
                             struct tb_diag *d);

/* trust_sign signs doc's canonical bytes (without "signatures") with sk and
 * sets {key, sig} in doc.signatures, replacing an earlier signature by the
 * same key. Returns TB_OK, TB_ETYPE/TB_EDEPTH from encoding or
 * TB_ENOMEM. */
int trust_sign(json_t *doc, const uint8_t sk[crypto_sign_SECRETKEYBYTES],
               char *errmsg, size_t errlen);

/* trust_sign_msg is trust_sign given doc's canonical bytes without
 * "signatures" (msg, n), which the caller encoded (and may use again:
 * for the check of the signature and the signed document's bytes).
 * TB_OK or TB_ENOMEM. */
int trust_sign_msg(json_t *doc, const uint8_t *msg, size_t n,
                   const uint8_t sk[crypto_sign_SECRETKEYBYTES]);

#endif
