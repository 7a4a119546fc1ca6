/* The HTTP API's handlers (see docs/API.md). */
#ifndef TB_NODE_API_H
#define TB_NODE_API_H

#include "node/http.h"
#include "schema/command.h"

struct node;

#include <jansson.h>
#include <stdbool.h>

/* Token roles. A clerk handles cases; a region admin also publishes the
 * region's overlay and manages tokens; a provincial admin also publishes
 * the standard layer; an auditor reads, including the audit log; a service
 * (another system, e.g. a cross-province one) reads cases, case lists and
 * events only. */
enum api_role {
	API_CLERK,
	API_REGION_ADMIN,
	API_PROVINCIAL_ADMIN,
	API_AUDITOR,
	API_SERVICE,
	API_ROLE_COUNT
};

const char *api_role_name(enum api_role r);
int api_role_parse(const char *s, enum api_role *r);

/* Handlers in api_misc.c. Each replies exactly once. */
void api_health(struct http_call *c, bool ready);
void api_metrics(struct http_call *c);
void api_blob_put(struct http_call *c);
void api_blob_get(struct http_call *c, const char *hash);
void api_audit_get(struct http_call *c);
/* api_case_submit sets receiver in req (the caller's, which it decrefs). */
void api_case_submit(struct http_call *c, json_t *req);
void api_token_create(struct http_call *c, json_t *req);
/* api_case_fast answers or queues POST /v1/cases from its scanned body and
 * returns true, or returns false, having sent nothing, for the request to
 * go the usual way (api_case_submit) (node/api_case_fast.c). */
bool api_case_fast(struct http_call *c);

/* api_may_manage replies 403 and returns -1 unless the caller may create
 * or revoke (verb) a token of role want for region (its own or one below,
 * a provincial admin only if it is one); fields names $.role/$.region. */
int api_may_manage(struct http_call *c, enum api_role want, const char *region,
                   const char *verb, bool fields);

/* api_query copies query parameter key into out: 0 if present, 1 if
 * absent; replies 400 and returns -1 if it is malformed or too long. */
int api_query(struct http_call *c, const char *key, char *out, size_t n);

/* api_fields: how the error fields of a refused command of type t map to
 * the request (for c->fields), or NULL. */
const struct http_field_map *api_fields(enum cmd_type t);

#endif
