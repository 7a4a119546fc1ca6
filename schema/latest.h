/* The province's signed "latest version" statement (tongban.latest/1,
 * docs/TRUST.md "Latest-version statement"): a short-lived document by
 * which a county learns the newest release of the standard layer even
 * when a region between withholds the release itself. No I/O, no clock:
 * the caller passes now. */
#ifndef TB_SCHEMA_LATEST_H
#define TB_SCHEMA_LATEST_H

#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 *   {"format": "tongban.latest/1", "region": "370000", "layer": "standard",
 *    "version": 2, "hash": "<hex32>",
 *    "issued_at": "2026-11-30T06:00:00Z", "expires_at": "...",
 *    "chain": [<the signer's node certificate>, <370000's region cert>],
 *    "signatures": [{"key": "<chain[0].sign_key>", "sig": "<hex64>"}]}
 *
 * Signed (trust_sign) by the key of chain[0], a member node certificate of
 * the province, whose chain verifies to the province's root: so it is
 * verified end to end wherever it arrives, and a region between that
 * relays it cannot change it. version 0 (no release yet) carries no hash.
 */

#define LATEST_FORMAT "tongban.latest/1"
/* A statement lives at most this long (expires_at - issued_at). */
#define LATEST_TTL_MAX_MS (3600LL * 1000)
/* issued_at may be this far ahead of the verifier's clock. */
#define LATEST_SKEW_MS 60000LL
/* The largest statement accepted (a chain of 8 certificates fits). */
#define LATEST_MAX_BYTES 16384

/* Why a statement was refused (latest_reason_name: the label of the
 * refusal counter and of the log line). */
enum latest_reason {
	LATEST_OK,
	LATEST_MALFORMED,     /* not JSON, a field missing or wrong */
	LATEST_WRONG_REGION,  /* not the province above the verifier */
	LATEST_EXPIRED,       /* expires_at <= now */
	LATEST_NOT_YET_VALID, /* issued_at > now + LATEST_SKEW_MS */
	LATEST_BAD_SIGNATURE, /* not signed by chain[0]'s key */
	LATEST_BAD_CHAIN,     /* chain[0] is not a member node of the
	                         province whose chain verifies to the root */
	LATEST_OLDER,         /* older than the statement held */
	LATEST_FORK,          /* same version as the held one, other hash */
	LATEST_REASONS
};

const char *latest_reason_name(enum latest_reason r);

/* What a verified statement says. */
struct latest_info {
	char region[7];
	long long version;
	char hash[65]; /* "" for version 0 */
	int64_t issued_ms, expires_ms;
	char signer[17]; /* chain[0]'s node id */
	char signer_serial[17];
};

/* latest_build makes the unsigned statement (*out, caller decrefs) of
 * region's standard layer at version with hash (64 hex digits; NULL for
 * version 0), valid from issued_ms to expires_ms, carrying chain (borrowed:
 * an array, the signer's node certificate first, then its issuer's up to
 * the province's). Sign it with trust_sign by chain[0]'s key. TB_OK,
 * TB_EINVAL (errmsg) or TB_ENOMEM. */
int latest_build(const char *region, long long version, const char *hash,
                 int64_t issued_ms, int64_t expires_ms, const json_t *chain,
                 json_t **out, char *errmsg, size_t errlen);

/* latest_check validates the fields (not signatures, chain or times
 * against a clock); returns the number of problems added to d. */
int latest_check(const json_t *doc, const char *path, struct tb_diag *d);

/*
 * latest_verify checks doc as a verifier in province (the province its
 * region belongs to) at now_ms, against root (its trusted root, already
 * checked with trust_root_check) and the revocation lists crls[0..ncrl):
 * the fields, region == province, the times (unexpired, not issued more
 * than LATEST_SKEW_MS ahead, a lifetime of at most LATEST_TTL_MAX_MS), the
 * signature by chain[0].sign_key, and the chain (cert_verify_chain, the
 * leaf a member node certificate of province). Fills *out (may be NULL)
 * when valid. Returns LATEST_OK or the reason, with the problem added to
 * d (may be NULL; path and message: "$.signatures: statement of 370000 version
 * 2: not signed by its signer's key 1a2b..").
 */
enum latest_reason latest_verify(const json_t *doc, const char *province,
                                 const json_t *root, const json_t *const *crls,
                                 size_t ncrl, int64_t now_ms,
                                 struct latest_info *out, struct tb_diag *d);

/* latest_order decides whether cand replaces held (held may be NULL: none
 * held): LATEST_OK if it is newer or the same version at a later or equal
 * expiry (*same set when it says exactly what held says: nothing to
 * change or relay), LATEST_OLDER for a lower version or an earlier expiry
 * of the same version, LATEST_FORK for the same version with another
 * hash; the problem added to d. */
enum latest_reason latest_order(const struct latest_info *held,
                                const struct latest_info *cand, bool *same,
                                struct tb_diag *d);

#endif
