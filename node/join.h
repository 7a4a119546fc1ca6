/* The issuer's side of enrolment with a join token (docs/TRUST.md,
 * "Enrolment with a join token"): POST /v1/join-tokens, and the requests
 * of joining nodes over their first link. */
#ifndef TB_NODE_JOIN_H
#define TB_NODE_JOIN_H

#include "node/http.h"

#include <jansson.h>

struct node;

/* The region key a node holds online to issue certificates: a
 * tongban.key/1 file (tongban keygen's), installed with tongban cert
 * install --dir DIR --region-key KEY.json. */
#define JOIN_REGION_KEY "keys/region.json"

/* join_api_create answers POST /v1/join-tokens {"region", "role",
 * "ttl_s"} (the caller checked the role): makes a token, proposes
 * join.create with the secret's hash and answers with the token string
 * (shown once). */
void join_api_create(struct http_call *c, const json_t *req);

/* join_start lets n's links take joining nodes (after links_start). */
void join_start(struct node *n);

#endif
