/* The HTTP API: routing, tokens and roles, reads, and writes as commands.
 * docs/API.md lists every endpoint and error code. */
#include "node/api.h"
#include "node/join.h"

#include "node/api_crl.h"
#include "node/api_ctoken.h"
#include "node/api_handoff.h"
#include "node/api_region.h"
#include "node/group.h"
#include "node/link_api.h"
#include "node/log.h"
#include "node/node.h"
#include "schema/json_fast.h"
#include "node/region.h"
#include "node/store.h"
#include "schema/canon.h"
#include "schema/canon_walk.h"
#include "schema/catalog.h"
#include "schema/lifecycle.h"
#include "schema/region.h"
#include "schema/spec.h"
#include "schema/trust.h"

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
	char hex[65];
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
	node_token_hash(h + 7, hex);
	canon_unhex(hex, hash, sizeof(hash));
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

static enum api_role
token_role(const struct http_call *c)
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
static int
api_allow(struct http_call *c, unsigned roles, const char *what)
{
	enum api_role r = token_role(c);

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

#define R_CLERK   (1u << API_CLERK)
#define R_RADMIN  (1u << API_REGION_ADMIN)
#define R_PADMIN  (1u << API_PROVINCIAL_ADMIN)
#define R_AUDITOR (1u << API_AUDITOR)
#define R_SERVICE (1u << API_SERVICE)
#define R_STAFF   (R_CLERK | R_RADMIN | R_PADMIN)
#define R_ANY     (R_STAFF | R_AUDITOR)

/* ---- helpers ---------------------------------------------------------- */

/* body_json parses the request body as one JSON object; replies 400/413
 * and returns NULL on failure. */
static json_t *
body_json(struct http_call *c)
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

static void
reply_store(struct http_call *c, int rv, json_t *out, const char *what)
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
	[RT_TOKENS] = { "/v1/tokens", NULL, M_POST, "POST" },
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

/* route_find names the endpoint of c->path and copies its argument (a
 * case id, a hash...) into arg. */
static enum route
route_find(const struct http_call *c, char *arg, size_t n)
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

/* ---- reads (nng threads) ---------------------------------------------- */

static void
get_status(struct http_call *c)
{
	struct node *n = c->node;
	json_t *st = NULL;
	int rv = store_status(n->store, &st);
	char leader[17], dig[8] = "";

	group_node_id(n->view.leader_id, leader);
	if (rv != 0) {
		reply_store(c, rv, NULL, "status");
		return;
	}
	json_object_set_new(st, "region", json_string(n->cfg.region));
	json_object_set_new(st, "name", json_string(n->cfg.name));
	json_object_set_new(st, "node_id", json_string(n->cfg.node_id));
	json_object_set_new(
	    st, "raft",
	    json_pack("{s:s, s:I, s:I, s:I, s:s}", "role",
	              n->view.state == RAFT_LEADER      ? "leader"
	              : n->view.state == RAFT_CANDIDATE ? "candidate"
	              : n->view.state == RAFT_FOLLOWER  ? "follower"
	                                                : "unavailable",
	              "term", (json_int_t)n->view.term, "commit",
	              (json_int_t)n->view.commit, "applied",
	              (json_int_t)n->view.applied, "leader",
	              n->view.leader_id == 0 ? "unknown" : leader));
	json_object_set_new(st, "group", group_view_json(n));
	json_object_set_new(st, "incarnation", link_api_incarnation(n));
	json_object_set_new(st, "tree", region_view_json(n));
	json_object_set_new(st, "features",
	                    json_pack("{s:i, s:i}", "level",
	                              (int)store_feature_level(n->store),
	                              "supported", TB_FEATURE_LEVEL));
	/* ?digest=1: the hash of the replicated databases (store_digest),
	 * for comparing members at the same applied index; it reads the
	 * whole store. */
	if (api_query(c, "digest", dig, sizeof(dig)) < 0) {
		json_decref(st);
		return;
	}
	if (dig[0] != '\0' && strcmp(dig, "0") != 0) {
		uint8_t h[32];
		uint64_t at = 0;
		char hex[65];
		if ((rv = store_digest(n->store, h, &at)) != 0) {
			json_decref(st);
			reply_store(c, rv, NULL, "the state digest");
			return;
		}
		canon_hex(h, 32, hex);
		json_object_set_new(st, "state_digest",
		                    json_pack("{s:s, s:I}", "hash", hex,
		                              "applied", (json_int_t)at));
	}
	json_object_set_new(st, "uptime_ms",
	                    json_integer(node_now_ms() - n->start_ms));
	http_reply_json(c, 200, st);
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

static void
get_case_list(struct http_call *c)
{
	char status[32] = "", overdue[8] = "", matter[96] = "", limit[16] = "",
	     after[128] = "";
	long lim = 50;
	int od = -1;
	char *out = NULL, *nl;
	size_t len = 0;
	int rv;

	if (api_query(c, "status", status, sizeof(status)) < 0 ||
	    api_query(c, "overdue", overdue, sizeof(overdue)) < 0 ||
	    api_query(c, "matter", matter, sizeof(matter)) < 0 ||
	    api_query(c, "after", after, sizeof(after)) < 0 ||
	    (rv = api_query(c, "limit", limit, sizeof(limit))) < 0) {
		return;
	}
	if (rv == 0) {
		char *end;
		lim = strtol(limit, &end, 10);
		if (*end != '\0' || lim < 1 || lim > 1000) {
			http_reply_error(c, 400, "out_of_range", "limit",
			                 "limit must be 1..1000");
			return;
		}
	}
	if (overdue[0] != '\0') {
		if (strcmp(overdue, "1") && strcmp(overdue, "0") &&
		    strcmp(overdue, "true") && strcmp(overdue, "false")) {
			http_reply_error(c, 400, "invalid", "overdue",
			                 "overdue must be 1, 0, true or false");
			return;
		}
		od = overdue[0] == '1' || overdue[0] == 't';
	}
	/* The page as text: at feature level 2 written straight from the
	 * summary index (docs/STORE.md), the same bytes as json_dumps. */
	rv = store_case_list_text(c->node->store, status[0] ? status : NULL, od,
	                          matter[0] ? matter : NULL, (size_t)lim,
	                          after[0] ? after : NULL, node_now_ms(), &out,
	                          &len);
	if (rv == TB_EINVAL || rv == TB_ECODE) {
		enum lc_state st;
		bool bad_status = status[0] != '\0' && strcmp(status, "open") &&
		                  strcmp(status, "final") &&
		                  lc_state_parse(status, &st) != 0;
		http_reply_error(c, 400, tb_errname(rv),
		                 bad_status ? "status" : "after",
		                 bad_status ? "status must be a state, open or "
		                              "final"
		                            : "after must be the next cursor "
		                              "of a previous page");
		return;
	}
	node_audit(c->node, c, "case.list", c->query);
	if (rv != 0 || (nl = realloc(out, len + 1)) == NULL) {
		free(out);
		reply_store(c, rv != 0 ? rv : TB_ENOMEM, NULL, "cases");
		return;
	}
	nl[len] = '\n'; /* as http_reply_json ends a body */
	http_reply_raw(c, 200, "application/json", nl, len + 1, NULL);
	free(nl);
}

static void
get_events(struct http_call *c)
{
	char after[32] = "0", limit[16] = "";
	unsigned long long a;
	long lim = 100;
	json_t *out = NULL;
	char *end;
	int rv;

	if (api_query(c, "after", after, sizeof(after)) < 0 ||
	    (rv = api_query(c, "limit", limit, sizeof(limit))) < 0) {
		return;
	}
	a = strtoull(after, &end, 10);
	if (after[0] < '0' || after[0] > '9' || *end != '\0') {
		http_reply_error(c, 400, "invalid", "after",
		                 "after must be an event sequence number");
		return;
	}
	if (rv == 0) {
		lim = strtol(limit, &end, 10);
		if (*end != '\0' || lim < 1 || lim > 1000) {
			http_reply_error(c, 400, "out_of_range", "limit",
			                 "limit must be 1..1000");
			return;
		}
	}
	reply_store(c, store_events(c->node->store, a, (size_t)lim, &out), out,
	            "events");
}

static void
get_case(struct http_call *c, const char *id)
{
	json_t *out = NULL;
	char local[4] = "";
	int rv;

	/* ?local=1: this node's own copy (a tombstone too). */
	if (api_query(c, "local", local, sizeof(local)) < 0) {
		return;
	}
	rv = store_case_get(c->node->store, id, node_now_ms(), &out);
	/* A case id starts with its receiving region's code: one held
	 * elsewhere is asked there (node/region_query.c). */
	if (rv == TB_ENOTFOUND && strcmp(local, "1") != 0 &&
	    api_remote(c, "case", id, id) != 0) {
		return;
	}
	/* A tombstone: the case was handed on; its owner answers
	 * (docs/HANDOFF.md), or 503 says it cannot. */
	if (rv == 0 && strcmp(local, "1") != 0 &&
	    spec_str(out, "owner") != NULL &&
	    api_remote(c, "case", id, spec_str(out, "owner")) != 0) {
		json_decref(out);
		return;
	}

	if (rv == 0) {
		node_audit(c->node, c, "case.read", id);
		json_object_set(out, "_etag", json_object_get(out, "version"));
	}
	reply_store(c, rv, out, "case");
}

static void
api_read(struct http_call *c, enum route r, const char *arg)
{
	json_t *out = NULL;

	switch (r) {
	case RT_STATUS:
		get_status(c);
		break;
	case RT_CATALOG: {
		int rv = store_catalog(c->node->store, &out);
		/* The province's latest-version statement, as held here. */
		if (rv == TB_OK) {
			json_t *cf = NULL;
			region_latest_catalog(c->node, out);
			/* This region's overlay against the caps above it. */
			rv = store_overlay_conflicts(c->node->store, &cf);
			if (rv == TB_OK) {
				json_object_set_new(out, "overlay_conflicts",
				                    cf);
			}
		}
		reply_store(c, rv, out, "catalog");
		break;
	}
	case RT_MATTERS:
		reply_store(c, store_matters(c->node->store, &out), out,
		            "matters");
		break;
	case RT_MATTER: {
		char rg[16] = "";
		if (api_query(c, "region", rg, sizeof(rg)) < 0 ||
		    (rg[0] && api_remote(c, "matter", arg, rg) != 0)) {
			return;
		}
		reply_store(c, store_matter(c->node->store, arg, &out), out,
		            "matter");
		break;
	}
	case RT_CASES:
		get_case_list(c);
		break;
	case RT_CASE:
		get_case(c, arg);
		break;
	case RT_EVENTS:
		get_events(c);
		break;
	case RT_BLOB:
		api_blob_get(c, arg);
		break;
	case RT_AUDIT:
		if (api_allow(c, R_AUDITOR | R_PADMIN, "read the audit log")) {
			return;
		}
		api_audit_get(c);
		break;
	case RT_LINKS:
		link_api_list(c);
		break;
	case RT_REGION:
		api_region_get(c);
		break;
	case RT_ROLLOUT:
		api_rollout_get(c);
		break;
	case RT_AREA_CASES:
		api_area_cases_get(c);
		break;
	case RT_CRLS:
		api_crl_list(c);
		break;
	case RT_CALENDARS:
		api_calendar_list(c);
		break;
	case RT_HANDOFFS:
		api_handoff_list(c);
		break;
	case RT_HANDOFF:
		api_handoff_case(c, arg);
		break;
	case RT_ROOT:
		api_root_get(c);
		break;
	case RT_APPLICATION: {
		json_t *app = NULL;
		int rv = store_bundle_get(c->node->store, arg, &app);

		reply_store(c, rv, rv == TB_OK ? app : NULL, "application");
		break;
	}
	default:
		http_reply_error(c, 404, "not_found", NULL,
		                 "no endpoint GET %s", c->path);
		break;
	}
}

/* ---- writes ----------------------------------------------------------- */

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

static void
group_op(struct http_call *c, const char *op, const char *id,
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
	r = route_find(c, arg, sizeof(arg));
	if (route_check(c, r) != 0) {
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
			group_op(c, "read", "", NULL);
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

/* Error fields of refused commands, as paths of the request: the body of
 * a release or an overlay is the document, that of a case or a token the
 * command's body; the version checked is the If-Match header, the case and
 * token ids are in the URL, and server-made fields have no request path. */
static const struct http_field_map fields_release[] = {
	{ "$.body.release", "$" }, { "$.body", "$" }, { NULL, NULL }
};
static const struct http_field_map fields_overlay[] = {
	{ "$.body.overlay", "$" }, { "$.body", "$" }, { NULL, NULL }
};
static const struct http_field_map fields_case_create[] = {
	{ "$.key", "Idempotency-Key" }, { "$.body", "$" }, { NULL, NULL }
};
static const struct http_field_map fields_case_action[] = {
	{ "$.body.version", "If-Match" },
	{ "$.body.case", NULL },
	{ "$.body.actor", NULL },
	{ "$.body", "$" },
	{ NULL, NULL }
};
static const struct http_field_map fields_token_create[] = {
	{ "$.body.expires", "$.expires_in_days" },
	{ "$.body.id", NULL },
	{ "$.body.hash", NULL },
	{ "$.body", "$" },
	{ NULL, NULL }
};
static const struct http_field_map fields_token_revoke[] = { { "$.body", NULL },
	                                                     { NULL, NULL } };

/* release_encode signs doc when this node holds the release key and doc
 * is unsigned, and sets msg to doc's canonical bytes without "signatures"
 * and b to them with: one encoding of a 5.8 MiB document serves the
 * signature, its check and the command. Returns 0, or -1 with the reply
 * sent. b stays empty when the encoder refuses doc (a float): the caller
 * then goes the way whose refusal names the field. */
static int
release_encode(struct http_call *c, json_t *doc, struct canon_buf *b,
               struct canon_buf *msg)
{
	struct node *n = c->node;
	struct canon_buf sb = { 0 };
	const json_t *sigs;
	char err[256];
	bool sign = n->cfg.has_release_key &&
	            json_array_size(json_object_get(doc, "signatures")) == 0;

	if (canon_encode_without(doc, "signatures", msg, err, sizeof(err))) {
		canon_buf_free(msg);
		if (sign &&
		    trust_sign(doc, n->cfg.release_sk, err, sizeof(err)) != 0) {
			http_reply_error(c, 422, "invalid", NULL, "%s", err);
			return -1;
		}
		return 0;
	}
	if (sign &&
	    trust_sign_msg(doc, msg->data, msg->len, n->cfg.release_sk) != 0) {
		http_reply_error(c, 422, "invalid", "$.signatures",
		                 "cannot add this node's signature to "
		                 "$.signatures");
		return -1;
	}
	if ((sigs = json_object_get(doc, "signatures")) == NULL) {
		canon_buf_append(b, msg->data, msg->len);
	} else if (canon_encode(sigs, &sb, err, sizeof(err)) != 0 ||
	           canon_bytes_with(msg->data, msg->len, "signatures", sb.data,
	                            sb.len, b) != 0) {
		canon_buf_free(b);
	}
	canon_buf_free(&sb);
	if (b->err != 0) {
		canon_buf_free(b);
	}
	return 0;
}

static void
post_release(struct http_call *c, json_t *doc)
{
	struct node *n = c->node;
	struct canon_buf b = { 0 }, msg = { 0 };
	struct tb_diag d;
	json_t *body;
	int rv;

	if (release_encode(c, doc, &b, &msg) != 0) {
		canon_buf_free(&msg);
		return;
	}
	if (n->root != NULL) {
		tb_diag_init(&d);
		rv = b.data != NULL
		         ? trust_verify_release_msg(
		               n->root, msg.data, msg.len,
		               json_object_get(doc, "signatures"), "$", &d)
		         : trust_verify_release(n->root, doc, "$", &d);
		if (rv != 0) {
			canon_buf_free(&b);
			canon_buf_free(&msg);
			http_reply_error(c, 422, "bad_signature", d.e[0].path,
			                 "%s", d.e[0].msg);
			return;
		}
	}
	canon_buf_free(&msg);
	/* The document's bytes go into the command as they are. */
	body = b.data != NULL ? json_pack("{s:n}", "release")
	                      : json_pack("{s:O}", "release", doc);
	node_audit(n, c, "catalog.release", spec_str(doc, "region"));
	c->fields = fields_release;
	if (b.data != NULL) {
		node_propose_doc(n, c, CMD_CATALOG_RELEASE, body, "release",
		                 b.data, b.len);
	} else {
		node_propose(n, c, CMD_CATALOG_RELEASE, body, NULL);
	}
	canon_buf_free(&b);
	json_decref(body);
}

/* api_may_manage replies 403 and returns -1 unless the caller may create
 * or revoke (verb) a token of role want for region: one of its own region
 * or a region below it, and a provincial admin only if it is one. fields:
 * name the request's $.role and $.region in the error. */
int
api_may_manage(struct http_call *c, enum api_role want, const char *region,
               const char *verb, bool fields)
{
	const char *mine = spec_str(c->token, "region");
	int32_t a, b;

	if (want == API_PROVINCIAL_ADMIN &&
	    token_role(c) != API_PROVINCIAL_ADMIN) {
		http_reply_error(c, 403, "forbidden", fields ? "$.role" : NULL,
		                 "only a provincial admin may %s provincial "
		                 "admins",
		                 verb);
		return -1;
	}
	if (mine == NULL || region == NULL ||
	    (strcmp(mine, region) != 0 &&
	     (region_code_parse(mine, &a) != 0 ||
	      region_code_parse(region, &b) != 0 ||
	      !region_is_ancestor(region_builtin(), a, b)))) {
		http_reply_error(
		    c, 403, "forbidden", fields ? "$.region" : NULL,
		    "a token of %s cannot %s tokens for %s", mine ? mine : "?",
		    verb, region ? region : "?");
		return -1;
	}
	return 0;
}

static void
delete_token(struct http_call *c, const char *id)
{
	json_t *t = NULL, *req;
	enum api_role want = API_PROVINCIAL_ADMIN;

	if (api_allow(c, R_RADMIN | R_PADMIN, "revoke tokens") != 0) {
		return;
	}
	/* An unknown or revoked token is refused by the command (404). */
	if (store_token_get(c->node->store, id, &t) == 0) {
		api_role_parse(spec_str(t, "role"), &want);
		if (api_may_manage(c, want, spec_str(t, "region"), "revoke",
		                   false) != 0) {
			json_decref(t);
			return;
		}
		json_decref(t);
	}
	req = json_pack("{s:s}", "id", id);
	node_audit(c->node, c, "token.revoke", id);
	c->fields = fields_token_revoke;
	node_propose(c->node, c, CMD_TOKEN_REVOKE, req, NULL);
	json_decref(req);
}

/* if_match parses an If-Match header: a strong entity tag "V" (or a bare
 * V), V the decimal case version. */
static int
if_match(const char *im, long long *v)
{
	const char *p = im + (im[0] == '"');
	char *end;

	if (*p < '0' || *p > '9' || strlen(p) > 18) {
		return -1;
	}
	*v = strtoll(p, &end, 10);
	if (im[0] == '"') {
		return *end == '"' && end[1] == '\0' ? 0 : -1;
	}
	return *end == '\0' ? 0 : -1;
}

static void
post_case_action(struct http_call *c, const char *id, json_t *req)
{
	static const char *const reserved[] = { "case", "version", "actor" };
	const char *im = http_header(c, "If-Match");
	json_t *body, *cur = NULL;
	long long version = -1;
	enum lc_action a;
	size_t i;

	/* The case is named by the URL, its version by If-Match and the
	 * actor by the token: the body may not say otherwise. */
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (json_object_get(req, reserved[i]) != NULL) {
			char field[32];
			snprintf(field, sizeof(field), "$.%s", reserved[i]);
			http_reply_error(c, 422, "unknown_field", field,
			                 "unknown field '%s' (the case is in "
			                 "the URL, its version in If-Match, "
			                 "the actor is the token's)",
			                 reserved[i]);
			return;
		}
	}
	/* lc_action_roles says who acts: a clerk's actions are every staff
	 * role's, a region admin's (void) the admins'. An unknown action is
	 * left to the command, which refuses it. */
	if (lc_action_parse(spec_str(req, "action"), &a) == 0 &&
	    !lc_role_may(LC_ROLE_CLERK, a) &&
	    !(token_role(c) != API_CLERK &&
	      lc_role_may(LC_ROLE_REGION_ADMIN, a))) {
		http_reply_error(c, 403, "forbidden", "$.action",
		                 "role %s may not %s a case",
		                 api_role_name(token_role(c)),
		                 lc_action_name(a));
		return;
	}
	/* "epoch" is a field of case.action from feature level 3 on: an
	 * older member could not decode it. */
	if (json_object_get(req, "epoch") != NULL &&
	    store_feature_level(c->node->store) < TB_HANDOFF_LEVEL) {
		http_reply_error(
		    c, 409, "feature_level", "$.epoch",
		    "an action's epoch needs feature level %d; the "
		    "group runs at %u",
		    TB_HANDOFF_LEVEL, store_feature_level(c->node->store));
		return;
	}
	if (im != NULL) {
		if (if_match(im, &version) != 0) {
			http_reply_error(c, 400, "malformed", "If-Match",
			                 "If-Match must be the case's version "
			                 "as its ETag (a number, e.g. \"3\")");
			return;
		}
	} else if (store_case_get(c->node->store, id, node_now_ms(), &cur) ==
	           0) {
		/* Without If-Match the action applies to the version the node
		 * sees now: last writer wins, by the client's choice. */
		version = spec_int(cur, "version", -1);
		json_decref(cur);
	}
	body = json_deep_copy(req);
	json_object_set_new(body, "case", json_string(id));
	json_object_set_new(body, "version", json_integer(version));
	json_object_set_new(body, "actor",
	                    json_string(spec_str(c->token, "id")));
	c->fields = fields_case_action;
	node_propose(c->node, c, CMD_CASE_ACTION, body, NULL);
	json_decref(body);
}

void
api_read_call(struct http_call *c)
{
	char arg[160];

	api_read(c, route_find(c, arg, sizeof(arg)), arg);
}

/* post_features raises the group's feature level (rolling upgrades):
 * {"level": N}. A level this build cannot apply is refused here; the
 * apply refuses one that does not rise. */
static void
post_features(struct http_call *c, json_t *req)
{
	json_t *lv = json_object_get(req, "level"), *body;

	if (!json_is_integer(lv) || json_object_size(req) != 1) {
		http_reply_error(c, 422, "invalid", "level",
		                 "the body is {\"level\": N}, N an integer");
		return;
	}
	if (json_integer_value(lv) > TB_FEATURE_LEVEL ||
	    json_integer_value(lv) < 1) {
		http_reply_error(
		    c, 422, "out_of_range", "level",
		    "this node's build applies feature levels 1 to "
		    "%d: upgrade every member before raising it",
		    TB_FEATURE_LEVEL);
		return;
	}
	body = json_pack("{s:O}", "level", lv);
	node_audit(c->node, c, "group.feature", NULL);
	node_propose(c->node, c, CMD_GROUP_FEATURE, body, NULL);
	json_decref(body);
}

void
api_write(struct http_call *c)
{
	char arg[160];
	enum route r = route_find(c, arg, sizeof(arg));
	json_t *req, *body;

	/* api_dispatch checked the route and the method. */
	if (r == RT_TOKEN) {
		delete_token(c, arg);
		return;
	}
	if (r == RT_REGION_PEER) {
		if (api_allow(c, R_RADMIN | R_PADMIN, "change the topology") ==
		    0) {
			api_region_write(c, "remove-peer", arg, NULL);
		}
		return;
	}
	if (r == RT_GROUP_MEMBER) {
		if (api_allow(c, R_RADMIN | R_PADMIN, "change the group") ==
		    0) {
			group_op(c, "remove", arg, NULL);
		}
		return;
	}
	if (r == RT_HANDOFF_ABORT) {
		if (api_allow(c, R_RADMIN | R_PADMIN, "abort a handoff") == 0) {
			api_handoff_abort(c, arg);
		}
		return;
	}
	if (r == RT_GROUP_TRANSFER && c->body_len == 0) {
		if (api_allow(c, R_RADMIN | R_PADMIN, "change the group") ==
		    0) {
			group_op(c, "transfer", "", NULL);
		}
		return;
	}
	if ((req = body_json(c)) == NULL) {
		return;
	}
	switch (r) {
	case RT_RELEASES:
		if (api_allow(c, R_PADMIN, "publish the standard layer") == 0) {
			post_release(c, req);
		}
		break;
	case RT_OVERLAYS:
		if (api_allow(c, R_RADMIN | R_PADMIN, "publish overlays") ==
		        0 &&
		    api_overlay_here(c, spec_str(req, "region")) == 0) {
			body = json_pack("{s:O}", "overlay", req);
			node_audit(c->node, c, "catalog.overlay",
			           spec_str(req, "region"));
			c->fields = fields_overlay;
			node_propose(c->node, c, CMD_CATALOG_OVERLAY, body,
			             NULL);
			json_decref(body);
		}
		break;
	case RT_CASES:
		if (api_allow(c, R_STAFF, "submit cases") == 0) {
			api_case_submit(c, req);
		}
		break;
	case RT_CASE_ACTIONS:
		if (api_allow(c, R_STAFF, "act on cases") == 0) {
			post_case_action(c, arg, req);
		}
		break;
	case RT_CASE_HANDOFF:
		if (api_allow(c, R_STAFF, "hand cases on") == 0) {
			api_handoff_offer(c, arg, req);
		}
		break;
	case RT_HANDOFF_REQUEST:
		if (api_allow(c, R_STAFF, "request cases") == 0) {
			api_handoff_request(c, NULL, req);
		}
		break;
	case RT_HANDOFF_REFUSE:
		if (api_allow(c, R_RADMIN | R_PADMIN, "refuse a request") ==
		    0) {
			api_handoff_request(c, arg, req);
		}
		break;
	case RT_TOKENS:
		if (api_allow(c, R_RADMIN | R_PADMIN, "create tokens") == 0) {
			api_token_create(c, req);
		}
		break;
	case RT_LINKS_PING:
		if (api_allow(c, R_RADMIN | R_PADMIN, "ping links") == 0) {
			node_on_loop(c->node, c, link_api_ping, req);
		}
		break;
	case RT_GROUP_FEATURES:
		if (api_allow(c, R_RADMIN | R_PADMIN,
		              "raise the feature level") == 0) {
			post_features(c, req);
		}
		break;
	case RT_CRLS:
		if (api_allow(c, R_RADMIN | R_PADMIN,
		              "commit revocation lists") == 0) {
			api_crl_post(c, req);
		}
		break;
	case RT_CALENDARS:
		if (api_allow(c, R_PADMIN, "publish calendars") == 0) {
			api_calendar_post(c, req);
		}
		break;
	case RT_ROOT:
		/* A region admin of any region may install its province's
		 * root: apply verifies it against its officers anyway. */
		if (api_allow(c, R_RADMIN | R_PADMIN,
		              "install the root metadata") == 0) {
			api_root_post(c, req);
		}
		break;
	case RT_JOIN_TOKENS:
		if (api_allow(c, R_RADMIN | R_PADMIN, "create join tokens") ==
		    0) {
			join_api_create(c, req);
		}
		break;
	case RT_REGION_PARENT:
	case RT_REGION_PEERS:
		if (api_allow(c, R_RADMIN | R_PADMIN, "change the topology") ==
		    0) {
			api_region_write(c,
			                 r == RT_REGION_PARENT ? "set-parent"
			                                       : "add-peer",
			                 NULL, req);
		}
		break;
	case RT_GROUP_MEMBERS:
	case RT_GROUP_ROLE:
	case RT_GROUP_TRANSFER:
		if (api_allow(c, R_RADMIN | R_PADMIN, "change the group") ==
		    0) {
			group_op(c,
			         r == RT_GROUP_MEMBERS ? "add"
			         : r == RT_GROUP_ROLE  ? "assign"
			                               : "transfer",
			         arg, req);
		}
		break;
	default:
		http_reply_error(c, 404, "not_found", NULL, "no endpoint %s %s",
		                 c->method, c->path);
		break;
	}
	json_decref(req);
}

const struct http_field_map *
api_fields(enum cmd_type t)
{
	return t == CMD_CASE_CREATE    ? fields_case_create
	       : t == CMD_TOKEN_CREATE ? fields_token_create
	                               : NULL;
}
