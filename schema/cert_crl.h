/* Certificate revocation lists: versioned, signed by the issuer. */
#ifndef TB_SCHEMA_CERT_CRL_H
#define TB_SCHEMA_CERT_CRL_H

#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A revocation list names the serials that one issuer has revoked:
 *
 *   {"format": "tongban.crl/1",
 *    "issuer": {"region": "370100", "key": "<hex32>"},
 *    "version": 3, "issued_at": "2026-03-01T08:00:00Z",
 *    "revoked": [{"serial": "7f3a09c1d2e4b5a6",
 *                 "revoked_at": "2026-03-01T08:00:00Z",
 *                 "reason": "key compromise"}],
 *    "tokens": [{"id": "5c0ffee15c0ffee1",
 *                "revoked_at": "2026-03-01T09:00:00Z"}],
 *    "signatures": [{"key": "<the issuer key>", "sig": "<hex64>"}]}
 *
 * The issuer is a region key (signed by that key; it lists certificates
 * that key issued) or a province root ({"region": "370000", "root": true},
 * signed by threshold officers; it lists province region certificates and
 * cross-certificates). Each version carries the whole list: version N+1
 * is version N plus new serials, and a newer version supersedes every
 * older one of the same issuer. "tokens" (optional) names API tokens
 * (schema/ctoken.h) by id: a token is refused if the newest list of any
 * issuer in its chain names its id.
 */

/* Token ids: 1 to 64 characters from A-Z a-z 0-9 - . _ */
#define CERT_TOKEN_ID_MAX 64

/* cert_token_id_ok is true if id is a well-formed token id. */
bool cert_token_id_ok(const char *id);

#define CERT_CRL_FORMAT "tongban.crl/1"

/* cert_crl_build makes an unsigned list (*out, caller decrefs): version 1
 * and empty when prev is NULL, else prev's entries at prev's version + 1.
 * key_hex is the issuer's region key, or NULL for the root's officers.
 * prev must have the same issuer (TB_ECONFLICT otherwise). */
int cert_crl_build(const char *region, const char *key_hex, const json_t *prev,
                   int64_t now_ms, json_t **out, char *errmsg, size_t errlen);

/* cert_crl_revoke adds serial (reason may be NULL) to crl; TB_EDUP if it is
 * listed already, TB_EINVAL if it is not a serial, TB_ENOMEM. Any existing
 * signatures are dropped, since they no longer cover the list. */
int cert_crl_revoke(json_t *crl, const char *serial, const char *reason,
                    int64_t now_ms, char *errmsg, size_t errlen);

/* cert_crl_revoke_token adds API token id to crl's "tokens" (made if
 * absent); TB_EDUP if listed, TB_EINVAL if not a token id, TB_ENOMEM.
 * Drops any signatures, like cert_crl_revoke. */
int cert_crl_revoke_token(json_t *crl, const char *id, const char *reason,
                          int64_t now_ms, char *errmsg, size_t errlen);

/* cert_crl_find_token returns the entry of crl's "tokens" naming id
 * (borrowed), or NULL. */
const json_t *cert_crl_find_token(const json_t *crl, const char *id);

/* cert_crl_sign signs crl with sk through trust_sign. For a key issuer, sk
 * must be that key (TB_EFORBIDDEN otherwise). */
int cert_crl_sign(json_t *crl, const uint8_t sk[64], char *errmsg,
                  size_t errlen);

/* cert_crl_check validates the list's fields (not its signatures);
 * returns the number of problems added to d at path. */
int cert_crl_check(const json_t *crl, const char *path, struct tb_diag *d);

/* cert_crl_verify checks the fields and the signatures: by the issuer key,
 * or, for a root issuer, by threshold officers of anchor (the root of that
 * province, or a tongban.xcert/1 whose subject is that province). Adds the
 * first problem to d and returns its code: TB_ESIG with "list of 370100
 * version 3: not signed by its issuer key 1a2b3c4d5e6f7a8b..", or TB_OK. */
int cert_crl_verify(const json_t *crl, const json_t *anchor, const char *path,
                    struct tb_diag *d);

/* cert_crl_find returns the entry of crl that revokes serial (borrowed), or
 * NULL. */
const json_t *cert_crl_find(const json_t *crl, const char *serial);

/* cert_same_issuer is true if documents a and b name the same issuer: the
 * same region and the same key, or both that region's root. A certificate
 * is listed by the revocation lists with its own issuer. */
bool cert_same_issuer(const json_t *a, const json_t *b);

#endif
