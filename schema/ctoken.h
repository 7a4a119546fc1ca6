/* API tokens signed through the trust chain ("tbc1." bearer tokens). */
#ifndef TB_SCHEMA_CTOKEN_H
#define TB_SCHEMA_CTOKEN_H

#include "schema/cert_cache.h"
#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A chain token is a bearer token that any node of the tree it is scoped
 * to can check on its own (docs/TRUST.md, "API tokens through the chain"):
 *
 *   tbc1.<base64url(payload)>.<base64url(signature)>
 *
 * payload: the canonical msgpack (schema/canon.h) of
 *
 *   {"format": "tongban.token/1", "id": "5c0ffee15c0ffee1",
 *    "role": "provincial_admin", "scope": "370000",
 *    "nbf": 1780272000, "exp": 1780300800,
 *    "chain": [<client cert>, <its issuer's cert>, ... <province cert>]}
 *
 * nbf and exp are Unix seconds; the chain holds tongban.cert/1 documents
 * as they are in their JSON files, the client certificate first.
 * signature: Ed25519 (64 bytes) by the client certificate's sign_key over
 * the payload bytes exactly as sent. base64url without padding.
 *
 * A node accepts a token when (in this order, the first failure named):
 *   1. the envelope and the payload are well formed (malformed, too_big);
 *   2. the signature verifies with chain[0]'s sign_key (bad_signature);
 *   3. nbf - CTOK_SKEW_MS <= now < exp + CTOK_SKEW_MS (not_yet_valid,
 *      expired);
 *   4. chain[0] is a client certificate (wrong_certificate);
 *   5. scope is the certificate's region or below it
 *      (scope_outside_certificate) -- unless scope lies in another
 *      province, which only a non-administrative role may claim
 *      (role_outside_grant) -- and the node's region is scope or below it
 *      (scope_outside_node);
 *   6. the certificate's role grants the token's (role_exceeds_certificate,
 *      ctok_role_grants);
 *   7. the chain verifies to the node's root, or a root it cross-certified
 *      (cert_cache_verify: bad_signature, unknown_issuer, expired,
 *      not_yet_valid, revoked, ...);
 *   8. a chain of another province: the grants of the cross-certificate
 *      our root issued for it hold scope (scope_outside_grant) and role
 *      (role_outside_grant); without grants nothing is granted;
 *   9. no newest list of an issuer in the chain (the cross-certificate's
 *      too: our root's) names the token's id (revoked).
 */

#define CTOK_PREFIX "tbc1."
#define CTOK_FORMAT "tongban.token/1"
#define CTOK_MAX_LEN \
	6144 /* the whole token string (nng drops headers over ~8 KiB) */
#define CTOK_MAX_PAYLOAD 4500 /* decoded payload bytes */
#define CTOK_SKEW_MS     (60 * 1000LL)
#define CTOK_MAX_TTL_S   (31 * 86400LL)

/* Stable reasons of a refusal, the code of the API's 401 reply. */
#define CTOK_REASONS(X)                                 \
	X(CTOK_OK, "ok")                                \
	X(CTOK_MALFORMED, "malformed")                  \
	X(CTOK_TOO_BIG, "too_big")                      \
	X(CTOK_BAD_SIGNATURE, "bad_signature")          \
	X(CTOK_NOT_YET_VALID, "not_yet_valid")          \
	X(CTOK_EXPIRED, "expired")                      \
	X(CTOK_WRONG_CERT, "wrong_certificate")         \
	X(CTOK_SCOPE_CERT, "scope_outside_certificate") \
	X(CTOK_SCOPE_NODE, "scope_outside_node")        \
	X(CTOK_ROLE, "role_exceeds_certificate")        \
	X(CTOK_SCOPE_GRANT, "scope_outside_grant")      \
	X(CTOK_ROLE_GRANT, "role_outside_grant")        \
	X(CTOK_UNKNOWN_ISSUER, "unknown_issuer")        \
	X(CTOK_REVOKED, "revoked")                      \
	X(CTOK_NOMEM, "nomem")

enum ctok_reason {
#define CTOK_ENUM(id, name) id,
	CTOK_REASONS(CTOK_ENUM)
#undef CTOK_ENUM
	    CTOK_REASON_COUNT
};

/* ctok_reason_name returns the stable name of r ("expired", ...). */
const char *ctok_reason_name(enum ctok_reason r);

/* What a token claims (borrowed strings). */
struct ctok_claims {
	const char *id;    /* cert_token_id_ok */
	const char *role;  /* clerk, region_admin, provincial_admin, auditor,
	                      service */
	const char *scope; /* a region code */
	int64_t nbf_s;
	int64_t exp_s;
};

/* ctok_role_grants is true if a client certificate of cert_region with
 * cert_role may grant tokens of role: the same role, or one below it
 * (provincial_admin > region_admin > clerk; provincial_admin also grants
 * auditor and service). provincial_admin needs a certificate of a province. On
 * false, writes why to errmsg. */
bool ctok_role_grants(const char *cert_role, const char *cert_region,
                      const char *role, char *errmsg, size_t errlen);

/* ctok_sign makes a token for claims cl, signed by sk through chain (array,
 * borrowed; chain[0] must be the client certificate of sk). Checks what a
 * node would refuse anyway (fields, role and scope against chain[0], size)
 * but not the chain's signatures. *out is malloc'ed (caller frees).
 * Returns CTOK_OK or a reason with errmsg. */
enum ctok_reason ctok_sign(const json_t *chain, const struct ctok_claims *cl,
                           const uint8_t sk[64], char **out, char *errmsg,
                           size_t errlen);

/* ctok_parse checks the envelope of tok[0..len), decodes the payload
 * (*payload, caller decrefs, only on CTOK_OK), checks its fields and the
 * signature by chain[0]'s sign_key. The first problem goes to d at a path
 * into the payload ("$.exp", "$.chain[0].sign_key") or "Authorization" for
 * the envelope. */
enum ctok_reason ctok_parse(const char *tok, size_t len, json_t **payload,
                            struct tb_diag *d);

/* What a node trusts and where it is: all borrowed. crls should have been
 * verified on receipt (cert_crl_verify); cache may be NULL. */
struct ctok_trust {
	const json_t *root;        /* the province's root, NULL if none */
	const json_t *const *crls; /* verified revocation lists */
	size_t ncrl;
	const json_t *const *xcerts; /* cross-certificates root issued */
	size_t nxcert;
	const char *region; /* the node's region */
	int64_t now_ms;
	struct cert_cache *cache;
};

/* ctok_verify is ctok_parse followed by checks 3-9 above against t. On
 * CTOK_OK, *payload (caller decrefs) is the token's payload. */
enum ctok_reason ctok_verify(const char *tok, size_t len,
                             const struct ctok_trust *t, json_t **payload,
                             struct tb_diag *d);

#endif
