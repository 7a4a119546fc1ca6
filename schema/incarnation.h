/* Incarnation certificates: a region's replica group after a quorum-loss
 * recovery, certified by the parent region's key (docs/TRUST.md,
 * "Incarnation certificate"; docs/GROUPS.md, "Recovering a group that lost
 * its quorum"). No I/O, no clock. */
#ifndef TB_SCHEMA_INCARNATION_H
#define TB_SCHEMA_INCARNATION_H

#include "schema/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 *   {"format": "tongban.incarnation/1", "region": "370102",
 *    "incarnation": 2, "members": ["a1b2c3d4e5f60718"],
 *    "issued_at": "2026-11-30T01:00:00Z",
 *    "issuer": {"region": "370100", "key": "<hex32>"},
 *    "signatures": [{"key": "<hex32>", "sig": "<hex64>"}]}
 *
 * A group that never recovered is at incarnation 1 and has no certificate.
 * The issuer is the parent region's key (the key that certified the
 * region), or for a province {"region": CODE, "root": true} and threshold
 * officers of its root.
 */

#define INC_FORMAT      "tongban.incarnation/1"
#define INC_MEMBERS_MAX 5
/* Incarnations stay below 2^53 so that JSON readers agree on them. */
#define INC_MAX ((uint64_t)1 << 53)

/* inc_check validates the fields (not the signatures); returns the number
 * of problems added to d. */
int inc_check(const json_t *doc, const char *path, struct tb_diag *d);

/* inc_parent_key finds the key that signs region's incarnation
 * certificates in chain (an array of tongban.cert/1 documents, such as a
 * node's own certificate followed by certs/chain.json): the sign_key of
 * the region certificate of region's parent. Writes it (64 hex digits) to
 * out; TB_ENOTFOUND if the chain holds none, TB_ECODE for a region outside
 * the table, TB_EINVAL for a province (its issuer is its root). */
int inc_parent_key(const char *region, const json_t *chain, char out[65]);

/* inc_verify checks doc as region's incarnation certificate: its fields,
 * its region, its issuer (the parent's key found in chain, or for a
 * province threshold officers of root) and its signatures. Returns TB_OK
 * or the first problem's code (TB_ESIG for a signature, TB_EFORBIDDEN for
 * another region or issuer), with the problem in d. */
int inc_verify(const json_t *doc, const char *region, const json_t *root,
               const json_t *chain, const char *path, struct tb_diag *d);

/* inc_build makes an unsigned certificate (issued_at is unix_ms); a NULL
 * issuer_key makes a root-issued one. Returns TB_OK or TB_ENOMEM; fields
 * are checked by inc_check, not here. */
int inc_build(const char *region, uint64_t incarnation,
              const char *const *members, size_t nmembers, int64_t unix_ms,
              const char *issuer_region, const char *issuer_key, json_t **out);

/* inc_number returns doc's incarnation (1 for NULL). */
uint64_t inc_number(const json_t *doc);

/* inc_hash writes the hex BLAKE2b-256 of doc's canonical bytes (with its
 * signatures) to out; "" on failure. */
void inc_hash(const json_t *doc, char out[65]);

#endif
