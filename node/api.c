/* The HTTP API: routing, tokens and roles, and the helpers the handlers
 * share; reads are in node/api_read.c, writes as commands in
 * node/api_write.c. docs/API.md lists every endpoint and error code. */
#include "node/api_impl.h"

#include "node/api_ctoken.h"
#include "node/applier.h"
#include "node/group.h"
#include "node/node.h"
#include "schema/json_fast.h"
#include "node/store.h"
#include "schema/canon.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bodies of JSON requests; releases carry whole catalogs. */
#define API_MAX_JSON (16u << 20)

const char *
api_role_name(enum api_role r)
{
	static const char *const names[API_ROLE_COUNT] = {
		"clerk", "region_admin", "provincial_admin", "auditor",
		"service"
	};
	return (unsigned)r < API_ROLE_COUNT ? names[r] : "unknown";
}

int
api_role_parse(const char *s, enum api_role *r)
{
	int i;

	for (i = 0; s != NULL && i < API_ROLE_COUNT; i++) {
		if (!strcmp(s, api_role_name((enum api_role)i))) {
			*r = (enum api_role)i;
			return TB_OK;
		}
	}
	return TB_ECODE;
}

/* ---- authentication and authorisation -------------------------------- */

/* api_auth checks the bearer token: a chain token ("tbc1.", verified on
 * its own: node/api_ctoken.c) or a node-local one, looked up by the hash
 * of its secret. Replies 401 and returns -1 if it is missing, unknown,
 * revoked, expired or, for a chain token, refused for a named reason. */
static int
api_auth(struct http_call *c)
{
	const char *h = http_header(c, "Authorization");
	uint8_t hash[32];
	json_t *rec = NULL;
	enum api_role role;
	long long exp;

	if (h != NULL && !strncmp(h, "Bearer ", 7) && api_ctok_is(h + 7)) {
		return api_ctok_auth(c, c->node->ctok, h + 7);
	}
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || strlen(h) > 200) {
		http_reply_error(c, 401, "unauthorized", NULL,
		                 "missing bearer token (Authorization: Bearer "
		                 "tb_...)");
		return -1;
	}
	/* node_token_hash's digest, without its hex and back. */
	crypto_generichash(hash, sizeof(hash), (const uint8_t *)h + 7,
	                   strlen(h + 7), NULL, 0);
	if (store_token_lookup(c->node->store, hash, &rec) != 0) {
		http_reply_error(c, 401, "unauthorized", NULL,
		                 "unknown or revoked token");
		return -1;
	}
	exp = spec_int(rec, "expires", 0);
	if (exp > 0 && exp <= node_now_ms()) {
		json_decref(rec);
		http_reply_error(c, 401, "unauthorized", NULL,
		                 "the token expired");
		return -1;
	}
	if (api_role_parse(spec_str(rec, "role"), &role) != TB_OK) {
		/* Fail closed: a record of a role this node does not know
		 * (written by a newer version) grants nothing. */
		json_decref(rec);
		http_reply_error(c, 401, "unauthorized", NULL,
		                 "the token's role is unknown to this node");
		return -1;
	}
	c->token = rec;
	return 0;
}

enum api_role
api_token_role(const struct http_call *c)
{
	/* api_auth admits only known roles; should one slip through, it
	 * gets the least: the read-only service role. */
	enum api_role r = API_SERVICE;

	api_role_parse(spec_str(c->token, "role"), &r);
	return r;
}

/* in_scope: the token's region is the node's region or above it. */
static bool
in_scope(const struct http_call *c, const char *region)
{
	const char *tr = spec_str(c->token, "region");
	int32_t a, b;

	if (tr == NULL || region == NULL) {
		return false;
	}
	if (!strcmp(tr, region)) {
		return true;
	}
	return region_code_parse(tr, &a) == 0 &&
	       region_code_parse(region, &b) == 0 &&
	       region_is_ancestor(region_builtin(), a, b);
}

/* api_allow replies 403 and returns -1 unless the caller has one of the
 * roles (bit set) and the node's region is in its scope. */
int
api_allow(struct http_call *c, unsigned roles, const char *what)
{
	enum api_role r = api_token_role(c);

	if (!(roles & (1u << r))) {
		http_reply_error(c, 403, "forbidden", NULL,
		                 "role %s may not %s", api_role_name(r), what);
		return -1;
	}
	if (!in_scope(c, c->node->cfg.region)) {
		http_reply_error(c, 403, "forbidden", NULL,
		                 "a token of region %s may not %s at %s",
		                 spec_str(c->token, "region"), what,
		                 c->node->cfg.region);
		return -1;
	}
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

/* api_body_json parses the request body as one JSON object; replies 400/413
 * and returns NULL on failure. */
json_t *
api_body_json(struct http_call *c)
{
	json_error_t je;
	json_t *v;

	if (c->body_len > API_MAX_JSON) {
		http_reply_error(c, 413, "too_big", NULL,
		                 "request body of %zu bytes exceeds %u",
		                 c->body_len, API_MAX_JSON);
		return NULL;
	}
	if (c->body_len == 0) {
		http_reply_error(c, 400, "malformed", NULL,
		                 "a JSON body is required");
		return NULL;
	}
	/* The common case without jansson's decoder; anything else (and
	 * every error) through it (schema/json_fast.h). */
	v = json_fast_object(c->body, c->body_len);
	if (v == NULL) {
		v = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES,
		               &je);
	}
	if (v == NULL) {
		http_reply_error(c, 400, "malformed", NULL,
		                 "body is not JSON: line %d column %d: %s",
		                 je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		http_reply_error(c, 400, "malformed", "$",
		                 "body must be a JSON object");
		return NULL;
	}
	return v;
}

void
api_reply_store(struct http_call *c, int rv, json_t *out, const char *what)
{
	if (rv == TB_OK) {
		http_reply_json(c, 200, out);
	} else if (rv == TB_ENOTFOUND) {
		http_reply_error(c, 404, "not_found", NULL, "%s not found",
		                 what);
	} else {
		http_reply_error(c, 500, tb_errname(rv), NULL, "reading %s: %s",
		                 what, tb_strerror(rv));
	}
}

/* path_arg: c->path is prefix + one segment (+ suffix); copies it. */
static bool
path_arg(const struct http_call *c, const char *prefix, const char *suffix,
         char *out, size_t n)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), len = strlen(c->path);
	size_t al;

	if (len <= pl + sl || strncmp(c->path, prefix, pl) != 0 ||
	    strcmp(c->path + len - sl, suffix) != 0) {
		return false;
	}
	al = len - pl - sl;
	if (al >= n || memchr(c->path + pl, '/', al) != NULL) {
		return false;
	}
	memcpy(out, c->path + pl, al);
	out[al] = '\0';
	return true;
}

#define M_GET    1u
#define M_POST   2u
#define M_PUT    4u
#define M_DELETE 8u

static const struct {
	const char *prefix, *suffix; /* suffix NULL: an exact path */
	unsigned methods;
	const char *allow;
} routes[] = {
	[RT_NONE] = { NULL, NULL, 0, NULL },
	[RT_STATUS] = { "/v1/status", NULL, M_GET, "GET, HEAD" },
	[RT_CATALOG] = { "/v1/catalog", NULL, M_GET, "GET, HEAD" },
	[RT_RELEASES] = { "/v1/catalog/releases", NULL, M_POST, "POST" },
	[RT_OVERLAYS] = { "/v1/catalog/overlays", NULL, M_POST, "POST" },
	[RT_MATTERS] = { "/v1/catalog/matters", NULL, M_GET, "GET, HEAD" },
	[RT_MATTER] = { "/v1/catalog/matters/", "", M_GET, "GET, HEAD" },
	[RT_CASES] = { "/v1/cases", NULL, M_GET | M_POST, "GET, HEAD, POST" },
	[RT_CASE] = { "/v1/cases/", "", M_GET, "GET, HEAD" },
	[RT_CASE_ACTIONS] = { "/v1/cases/", "/actions", M_POST, "POST" },
	[RT_EVENTS] = { "/v1/events", NULL, M_GET, "GET, HEAD" },
	[RT_BLOBS] = { "/v1/blobs", NULL, M_PUT, "PUT" },
	[RT_BLOB] = { "/v1/blobs/", "", M_GET, "GET, HEAD" },
	[RT_TOKENS] = { "/v1/tokens", NULL, M_GET | M_POST, "GET, HEAD, POST" },
	[RT_TOKEN] = { "/v1/tokens/", "", M_DELETE, "DELETE" },
	[RT_AUDIT] = { "/v1/audit", NULL, M_GET, "GET, HEAD" },
	[RT_LINKS] = { "/v1/links", NULL, M_GET, "GET, HEAD" },
	[RT_LINKS_PING] = { "/v1/links/ping", NULL, M_POST, "POST" },
	[RT_GROUP_MEMBERS] = { "/v1/group/members", NULL, M_POST, "POST" },
	[RT_GROUP_MEMBER] = { "/v1/group/members/", "", M_DELETE, "DELETE" },
	[RT_GROUP_ROLE] = { "/v1/group/members/", "/role", M_POST, "POST" },
	[RT_GROUP_TRANSFER] = { "/v1/group/transfer", NULL, M_POST, "POST" },
	[RT_GROUP_FEATURES] = { "/v1/group/features", NULL, M_POST, "POST" },
	[RT_JOIN_TOKENS] = { "/v1/join-tokens", NULL, M_POST, "POST" },
	[RT_REGION] = { "/v1/region", NULL, M_GET, "GET, HEAD" },
	[RT_REGION_PARENT] = { "/v1/region/parent", NULL, M_POST, "POST" },
	[RT_REGION_PEERS] = { "/v1/region/peers", NULL, M_POST, "POST" },
	[RT_REGION_PEER] = { "/v1/region/peers/", "", M_DELETE, "DELETE" },
	[RT_ROLLOUT] = { "/v1/catalog/rollout", NULL, M_GET, "GET, HEAD" },
	[RT_AREA_CASES] = { "/v1/area/cases", NULL, M_GET, "GET, HEAD" },
	[RT_CRLS] = { "/v1/crls", NULL, M_GET | M_POST, "GET, HEAD, POST" },
	[RT_CALENDARS] = { "/v1/calendars", NULL, M_GET | M_POST,
	                   "GET, HEAD, POST" },
	[RT_CASE_HANDOFF] = { "/v1/cases/", "/handoff", M_POST, "POST" },
	[RT_HANDOFFS] = { "/v1/handoffs", NULL, M_GET, "GET, HEAD" },
	[RT_HANDOFF] = { "/v1/handoffs/", "", M_GET, "GET, HEAD" },
	[RT_HANDOFF_REQUEST] = { "/v1/handoffs/request", NULL, M_POST, "POST" },
	[RT_HANDOFF_ABORT] = { "/v1/handoffs/", "/abort", M_POST, "POST" },
	[RT_ROOT] = { "/v1/root", NULL, M_GET | M_POST, "GET, HEAD, POST" },
	[RT_HANDOFF_REFUSE] = { "/v1/handoffs/", "/refuse", M_POST, "POST" },
	[RT_APPLICATION] = { "/v1/applications/", "", M_GET, "GET, HEAD" },
};

static unsigned
method_bit(const struct http_call *c)
{
	if (!strcmp(c->method, "GET") || !strcmp(c->method, "HEAD")) {
		return M_GET;
	}
	if (!strcmp(c->method, "POST")) {
		return M_POST;
	}
	if (!strcmp(c->method, "PUT")) {
		return M_PUT;
	}
	return !strcmp(c->method, "DELETE") ? M_DELETE : 0;
}

/* api_route_find names the endpoint of c->path and copies its argument (a
 * case id, a hash...) into arg. */
enum route
api_route_find(const struct http_call *c, char *arg, size_t n)
{
	size_t i;

	arg[0] = '\0';
	for (i = 1; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (routes[i].suffix == NULL
		        ? !strcmp(c->path, routes[i].prefix)
		        : path_arg(c, routes[i].prefix, routes[i].suffix, arg,
		                   n)) {
			return (enum route)i;
		}
	}
	return RT_NONE;
}

/* route_check replies 404 or 405 and returns -1 unless the request names
 * an endpoint with its method. */
static int
route_check(struct http_call *c, enum route r)
{
	if (r == RT_NONE) {
		http_reply_error(c, 404, "not_found", NULL, "no endpoint %s %s",
		                 c->method, c->path);
		return -1;
	}
	if (!(routes[r].methods & method_bit(c))) {
		c->allow = routes[r].allow;
		http_reply_error(c, 405, "method_not_allowed", NULL,
		                 "%s is not allowed on %s (allowed: %s)",
		                 c->method, c->path, routes[r].allow);
		return -1;
	}
	return 0;
}

int
api_query(struct http_call *c, const char *key, char *out, size_t n)
{
	int rv = http_query(c, key, out, n);

	if (rv == -2) {
		http_reply_error(c, 400, "invalid", key,
		                 "query parameter %s is malformed or too long",
		                 key);
		return -1;
	}
	return rv == 0 ? 0 : 1;
}

/* ---- dispatch (nng threads) ------------------------------------------ */

/* group_on_loop runs a consistent read's barrier or a membership change
 * on the loop (libraft is loop-only; api_write runs on nng's threads). */
static void
group_on_loop(struct http_call *c, const json_t *op)
{
	const json_t *body = json_object_get(op, "body");

	if (c->consistent) {
		group_consistent_read(c->node, c);
		return;
	}
	group_member_api(c, spec_str(op, "op"), spec_str(op, "id"),
	                 json_is_null(body) ? NULL : body);
}

void
api_group_op(struct http_call *c, const char *op, const char *id,
             const json_t *body)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:O?}", "op", op, "id", id, "body", body);

	if (o == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_on_loop(c->node, c, group_on_loop, o);
	json_decref(o);
}

void
api_dispatch(struct http_call *c)
{
	struct node *n = c->node;
	bool get = !strcmp(c->method, "GET") || !strcmp(c->method, "HEAD");
	char arg[160];
	enum route r;
	int rv;

	if (!strcmp(c->path, "/healthz") && get) {
		api_health(c, false);
		return;
	}
	if (!strcmp(c->path, "/readyz") && get) {
		api_health(c, true);
		return;
	}
	if (!strcmp(c->path, "/metrics") && get) {
		api_metrics(c);
		return;
	}
	if (strncmp(c->path, "/v1/", 4) != 0) {
		http_reply_error(c, 404, "not_found", NULL,
		                 "no endpoint %s (the API lives under /v1/)",
		                 c->path);
		return;
	}
	if (n->stopping) {
		http_reply_error(c, 503, "closed", NULL,
		                 "the node is shutting down");
		return;
	}
	if (api_auth(c) != 0) {
		return;
	}
	r = api_route_find(c, arg, sizeof(arg));
	if (route_check(c, r) != 0) {
		return;
	}
	/* Case creations are answered before the store commits them
	 * (node/applier.h): any other request may read one, so it first
	 * waits for that commit (at once when none is pending). */
	if ((get || r != RT_CASES) &&
	    (rv = applier_barrier(n->applier, 5000)) != TB_OK) {
		http_reply_error(c, 503, "unavailable", NULL,
		                 "the store did not commit the writes answered "
		                 "before this request: %s",
		                 tb_strerror(rv));
		return;
	}
	if (get) {
		/* A service reads cases, case lists and events, nothing else
		 * (docs/API.md "Roles"). */
		bool cases = r == RT_CASES || r == RT_CASE || r == RT_EVENTS;
		char cons[8] = "";
		if (api_allow(c, R_ANY | (cases ? R_SERVICE : 0), "read") !=
		    0) {
			return;
		}
		/* ?consistent=1: a barrier on the leader first (on the loop,
		 * like a write). */
		if (api_query(c, "consistent", cons, sizeof(cons)) < 0) {
			return;
		}
		if (cons[0] != '\0' && strcmp(cons, "0") != 0) {
			c->consistent = true;
			api_group_op(c, "read", "", NULL);
			return;
		}
		api_read(c, r, arg);
		return;
	}
	if (r == RT_BLOBS) {
		if (api_allow(c, R_STAFF, "upload materials") == 0) {
			api_blob_put(c);
		}
		return;
	}
	/* Writes are checked, and their commands encoded, here on the nng
	 * thread; the loop only proposes them. */
	api_write(c);
}
