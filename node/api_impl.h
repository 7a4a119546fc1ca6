/* Internals shared by node/api.c, node/api_read.c and node/api_write.c:
 * the role bits, the routes and the helpers the handlers share. */
#ifndef TB_NODE_API_IMPL_H
#define TB_NODE_API_IMPL_H

#include "node/api.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Role bits for api_allow. */
#define R_CLERK   (1u << API_CLERK)
#define R_RADMIN  (1u << API_REGION_ADMIN)
#define R_PADMIN  (1u << API_PROVINCIAL_ADMIN)
#define R_AUDITOR (1u << API_AUDITOR)
#define R_SERVICE (1u << API_SERVICE)
#define R_STAFF   (R_CLERK | R_RADMIN | R_PADMIN)
#define R_ANY     (R_STAFF | R_AUDITOR)

/* The endpoints under /v1/ and the methods each allows (HEAD goes with
 * GET): an unknown path is 404, a known one with another method 405. */
enum route {
	RT_NONE,
	RT_STATUS,
	RT_CATALOG,
	RT_RELEASES,
	RT_OVERLAYS,
	RT_MATTERS,
	RT_MATTER,
	RT_CASES,
	RT_CASE,
	RT_CASE_ACTIONS,
	RT_EVENTS,
	RT_BLOBS,
	RT_BLOB,
	RT_TOKENS,
	RT_TOKEN,
	RT_AUDIT,
	RT_LINKS,
	RT_LINKS_PING,
	RT_GROUP_MEMBERS,
	RT_GROUP_MEMBER,
	RT_GROUP_ROLE,
	RT_GROUP_TRANSFER,
	RT_GROUP_FEATURES,
	RT_JOIN_TOKENS,
	RT_REGION,
	RT_REGION_PARENT,
	RT_REGION_PEERS,
	RT_REGION_PEER,
	RT_ROLLOUT,
	RT_AREA_CASES,
	RT_CRLS,
	RT_CALENDARS,
	RT_CASE_HANDOFF,
	RT_HANDOFFS,
	RT_HANDOFF_REQUEST, /* before RT_HANDOFF: the first match wins */
	RT_HANDOFF,
	RT_HANDOFF_ABORT,
	RT_ROOT,
	RT_HANDOFF_REFUSE,
	RT_APPLICATION,
};

/* api_token_role is the role of the caller's token (checked by api_auth);
 * an unknown one counts as API_SERVICE. */
enum api_role api_token_role(const struct http_call *c);

/* api_allow replies 403 and returns -1 unless the caller has one of the
 * roles (bit set) and the node's region is in its scope. */
int api_allow(struct http_call *c, unsigned roles, const char *what);

/* api_body_json parses the request body as one JSON object (the caller
 * owns it); replies 400/413 and returns NULL if it is not one. */
json_t *api_body_json(struct http_call *c);

/* api_reply_store replies 200 with out when rv is TB_OK, else 404
 * (TB_ENOTFOUND) or 500, naming what was read. */
void api_reply_store(struct http_call *c, int rv, json_t *out,
                     const char *what);

/* api_route_find names the endpoint of c->path and copies its argument (a
 * case id, a hash...) into arg. */
enum route api_route_find(const struct http_call *c, char *arg, size_t n);

/* api_group_op runs a consistent read's barrier or a membership change op
 * (id, body: borrowed) on the loop; the loop replies. */
void api_group_op(struct http_call *c, const char *op, const char *id,
                  const json_t *body);

/* api_read answers a read of route r with argument arg
 * (node/api_read.c). */
void api_read(struct http_call *c, enum route r, const char *arg);

#endif
