/* Chain tokens ("tbc1.") at the HTTP API: the node's trust for them and
 * the 401 replies (schema/ctoken.h has the format and the checks). */
#ifndef TB_NODE_API_CTOKEN_H
#define TB_NODE_API_CTOKEN_H

#include "node/http.h"

#include <stdbool.h>

struct api_ctok;

/* api_ctok_new makes the chain-token state of the node in dir: its
 * DIR/root.json and the revocation lists and cross-certificates of
 * DIR/certs, loaded on first use and again whenever they change (checked
 * at most once a second). NULL if out of memory. */
struct api_ctok *api_ctok_new(const char *dir);

/* api_ctok_free releases t (may be NULL); no request may be running. */
void api_ctok_free(struct api_ctok *t);

/* api_ctok_is is true if the bearer token tok is a chain token. */
bool api_ctok_is(const char *tok);

/* api_ctok_auth verifies the chain token tok for c (any thread). On
 * success sets c->token to a record {"id", "role", "region" (the scope),
 * "kind": "chain", "subject": {"serial", "region", "name"?}, "expires"}
 * and returns 0; otherwise replies 401 with the reason's code
 * (ctok_reason_name), the message and the field, and returns -1. */
int api_ctok_auth(struct http_call *c, struct api_ctok *t, const char *tok);

/* api_ctok_metrics_text returns Prometheus lines of accepted and refused
 * chain tokens by reason (malloc'ed, caller frees), or NULL. */
char *api_ctok_metrics_text(struct api_ctok *t);

#endif
