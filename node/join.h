/* The issuer's side of enrolment with a join token (docs/TRUST.md,
 * "Enrolment with a join token"): POST /v1/join-tokens, and the requests
 * of joining nodes over their first link. */
#ifndef TB_NODE_JOIN_H
#define TB_NODE_JOIN_H

#include "node/http.h"

#include <jansson.h>
#include <stdint.h>

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

/* join_start lets n's links take joining nodes (after links_start);
 * node/join_link.c. */
void join_start(struct node *n);

/* Shared by node/join.c and node/join_link.c. join_load_in reads
 * DIR/name as JSON (NULL if it cannot); join_issuer_load reads the region
 * key into sk and its certificate (the first of the node's chain, a new
 * reference) into *cert: TB_ENOTFOUND without a key, TB_EFORBIDDEN if it
 * is not that certificate's key (err says which). */
json_t *join_load_in(const char *dir, const char *name);
int join_issuer_load(const char *dir, uint8_t sk[64], json_t **cert, char *err,
                     size_t n);

#endif
