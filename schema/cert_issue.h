/* Building certificates: requests, issuance under the tree's rules, and
 * cross-certificates. Everything built here is unsigned: the key (or the
 * root's officers) then signs it with trust_sign. */
#ifndef TB_SCHEMA_CERT_ISSUE_H
#define TB_SCHEMA_CERT_ISSUE_H

#include "schema/cert.h"

#include <jansson.h>
#include <stdint.h>

/* cert_request_build makes an unsigned request (*out, caller decrefs).
 * node_id and kx_pk are for node requests (NULL otherwise); name may be
 * NULL. Returns TB_OK or TB_ENOMEM. Sign it with trust_sign. */
int cert_request_build(enum cert_kind kind, const char *region,
                       const char *node_id, const uint8_t sign_pk[32],
                       const uint8_t *kx_pk, const char *name, json_t **out);

/* What an issuer decides. */
struct cert_issue_args {
	const char *serial; /* 16 lowercase hex digits, random */
	const char *role;   /* node: member|peer; client: API role; else NULL */
	int64_t not_before_ms;
	int64_t not_after_ms; /* capped at the issuer's own expiry */
};

/* cert_issue builds the unsigned certificate (*out, caller decrefs) that
 * issuer grants to the checked request req. issuer is either the province's
 * root (tongban.root/1: only a region request for the province itself) or
 * a region certificate (tongban.cert/1 kind region: a node or client
 * request of its own region, or a region request of one of its children
 * per the region table). The issuer's key then signs it with trust_sign
 * (the root's officers: threshold of them). Refusals: TB_EFORBIDDEN with
 * "370200 may not certify 370102: it is not its parent" and the like,
 * TB_EINVAL for bad args, TB_ENOMEM. */
int cert_issue(const json_t *req, const json_t *issuer,
               const struct cert_issue_args *a, json_t **out, char *errmsg,
               size_t errlen);

/* cert_xcert_build makes an unsigned cross-certificate from the issuing
 * root to subject_root (*out, caller decrefs). grants (borrowed, may be
 * NULL: none) is copied in and checked as cert_xcert_check does: a refusal
 * is TB_EINVAL with "$.grants.scope: ..." in errmsg. */
int cert_xcert_build(const json_t *root, const json_t *subject_root,
                     const char *serial, int64_t not_before_ms,
                     int64_t not_after_ms, const json_t *grants, json_t **out,
                     char *errmsg, size_t errlen);

#endif
