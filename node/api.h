/* The HTTP API's handlers (see docs/API.md). */
#ifndef TB_NODE_API_H
#define TB_NODE_API_H

#include "node/http.h"

struct node;

#include <jansson.h>
#include <stdbool.h>

/* Token roles. A clerk handles cases; a region admin also publishes the
 * region's overlay and manages tokens; a provincial admin also publishes
 * the standard layer; an auditor reads, including the audit log. */
enum api_role {
	API_CLERK,
	API_REGION_ADMIN,
	API_PROVINCIAL_ADMIN,
	API_AUDITOR,
};

const char *api_role_name(enum api_role r);
int api_role_parse(const char *s, enum api_role *r);

/* Handlers in api_misc.c. Each replies exactly once. */
void api_health(struct http_call *c, bool ready);
void api_metrics(struct http_call *c);
void api_blob_put(struct http_call *c);
void api_blob_get(struct http_call *c, const char *hash);
void api_audit_get(struct http_call *c);
bool api_blob_exists(const struct node *n, const char *hash);
void api_case_submit(struct http_call *c, json_t *req);
void api_token_create(struct http_call *c, json_t *req, enum api_role role);

#endif
