/* The HTTP API: routing, tokens and roles, reads, and writes as commands.
 * docs/API.md lists every endpoint and error code. */
#include "node/api.h"

#include "node/log.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/canon.h"
#include "schema/catalog.h"
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
	static const char *const names[] = { "clerk", "region_admin",
		                             "provincial_admin", "auditor" };
	return (unsigned)r < 4 ? names[r] : "unknown";
}

int
api_role_parse(const char *s, enum api_role *r)
{
	int i;

	for (i = 0; s != NULL && i < 4; i++) {
		if (!strcmp(s, api_role_name((enum api_role)i))) {
			*r = (enum api_role)i;
			return TB_OK;
		}
	}
	return TB_ECODE;
}

/* ---- authentication and authorisation -------------------------------- */

/* api_auth looks up the bearer token; replies 401 and returns -1 if it is
 * missing, unknown, revoked or expired. */
static int
api_auth(struct http_call *c)
{
	const char *h = http_header(c, "Authorization");
	char hex[65];
	uint8_t hash[32];
	json_t *rec = NULL;
	long long exp;

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
	c->token = rec;
	return 0;
}

static enum api_role
token_role(const struct http_call *c)
{
	enum api_role r = API_CLERK;

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
	v = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &je);
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

static bool
path_is(const struct http_call *c, const char *method, const char *path)
{
	return !strcmp(c->method, method) && !strcmp(c->path, path);
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

/* ---- reads (nng threads) ---------------------------------------------- */

static void
get_status(struct http_call *c)
{
	struct node *n = c->node;
	json_t *st = NULL;
	int rv = store_status(n->store, &st);

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
	              n->view.leader_id == n->cfg.raft_id ? n->cfg.node_id
	                                                  : "unknown"));
	json_object_set_new(st, "uptime_ms",
	                    json_integer(node_now_ms() - n->start_ms));
	http_reply_json(c, 200, st);
}

static void
get_case_list(struct http_call *c)
{
	char status[32] = "", overdue[8] = "", matter[96] = "", limit[16] = "",
	     after[128] = "";
	long lim = 50;
	int od = -1;
	json_t *out = NULL;
	int rv;

	http_query(c, "status", status, sizeof(status));
	http_query(c, "overdue", overdue, sizeof(overdue));
	http_query(c, "matter", matter, sizeof(matter));
	http_query(c, "after", after, sizeof(after));
	if (http_query(c, "limit", limit, sizeof(limit)) == 0) {
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
	rv = store_case_list(c->node->store, status[0] ? status : NULL, od,
	                     matter[0] ? matter : NULL, (size_t)lim,
	                     after[0] ? after : NULL, node_now_ms(), &out);
	if (rv == TB_EINVAL || rv == TB_ECODE) {
		http_reply_error(c, 400, tb_errname(rv), NULL,
		                 "bad status filter or cursor");
		return;
	}
	node_audit(c->node, c, "case.list", c->query);
	reply_store(c, rv, out, "cases");
}

static void
get_events(struct http_call *c)
{
	char after[32] = "0", limit[16] = "";
	unsigned long long a;
	long lim = 100;
	json_t *out = NULL;
	char *end;

	http_query(c, "after", after, sizeof(after));
	a = strtoull(after, &end, 10);
	if (*end != '\0') {
		http_reply_error(c, 400, "invalid", "after",
		                 "after must be an event sequence number");
		return;
	}
	if (http_query(c, "limit", limit, sizeof(limit)) == 0) {
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
	int rv = store_case_get(c->node->store, id, node_now_ms(), &out);

	if (rv == 0) {
		node_audit(c->node, c, "case.read", id);
		json_object_set(out, "_etag", json_object_get(out, "version"));
	}
	reply_store(c, rv, out, "case");
}

static void
api_read(struct http_call *c)
{
	char arg[160];

	if (path_is(c, "GET", "/v1/status")) {
		get_status(c);
	} else if (path_is(c, "GET", "/v1/catalog")) {
		json_t *out = NULL;
		reply_store(c, store_catalog(c->node->store, &out), out,
		            "catalog");
	} else if (path_is(c, "GET", "/v1/catalog/matters")) {
		json_t *out = NULL;
		reply_store(c, store_matters(c->node->store, &out), out,
		            "matters");
	} else if (path_arg(c, "/v1/catalog/matters/", "", arg, sizeof(arg))) {
		json_t *out = NULL;
		reply_store(c, store_matter(c->node->store, arg, &out), out,
		            "matter");
	} else if (path_is(c, "GET", "/v1/cases")) {
		get_case_list(c);
	} else if (path_arg(c, "/v1/cases/", "", arg, sizeof(arg))) {
		get_case(c, arg);
	} else if (path_is(c, "GET", "/v1/events")) {
		get_events(c);
	} else if (path_arg(c, "/v1/blobs/", "", arg, sizeof(arg))) {
		api_blob_get(c, arg);
	} else if (path_is(c, "GET", "/v1/audit")) {
		if (api_allow(c, R_AUDITOR | R_PADMIN, "read the audit log")) {
			return;
		}
		api_audit_get(c);
	} else {
		http_reply_error(c, 404, "not_found", NULL,
		                 "no endpoint GET %s", c->path);
	}
}

/* ---- writes ----------------------------------------------------------- */

/* Writes are checked on the nng thread (auth, body shape) and then
 * queued to the loop, which proposes them. */
static void
queue_write(struct http_call *c)
{
	struct node *n = c->node;

	pthread_mutex_lock(&n->mu);
	if (n->qtail != NULL) {
		n->qtail->next = c;
	} else {
		n->qhead = c;
	}
	n->qtail = c;
	pthread_mutex_unlock(&n->mu);
	uv_async_send(&n->wake);
}

void
api_dispatch(struct http_call *c)
{
	struct node *n = c->node;
	bool get = !strcmp(c->method, "GET") || !strcmp(c->method, "HEAD");

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
	if (get) {
		if (api_allow(c, R_ANY, "read") == 0) {
			api_read(c);
		}
		return;
	}
	if (!strcmp(c->method, "PUT") && !strcmp(c->path, "/v1/blobs")) {
		if (api_allow(c, R_STAFF, "upload materials") == 0) {
			api_blob_put(c);
		}
		return;
	}
	if (strcmp(c->method, "POST") != 0 && strcmp(c->method, "DELETE")) {
		http_reply_error(c, 405, "method_not_allowed", NULL,
		                 "%s is not allowed on %s", c->method, c->path);
		return;
	}
	queue_write(c);
}

static void
post_release(struct http_call *c, json_t *doc)
{
	struct node *n = c->node;
	struct tb_diag d;
	char err[256];
	json_t *body;

	if (n->cfg.has_release_key &&
	    json_array_size(json_object_get(doc, "signatures")) == 0 &&
	    trust_sign(doc, n->cfg.release_sk, err, sizeof(err)) != 0) {
		http_reply_error(c, 422, "invalid", NULL, "%s", err);
		return;
	}
	if (n->root != NULL) {
		tb_diag_init(&d);
		if (trust_verify_release(n->root, doc, "$", &d) != 0) {
			http_reply_error(c, 422, "bad_signature", d.e[0].path,
			                 "%s", d.e[0].msg);
			return;
		}
	}
	body = json_pack("{s:O}", "release", doc);
	node_audit(n, c, "catalog.release", spec_str(doc, "region"));
	node_propose(n, c, CMD_CATALOG_RELEASE, body, NULL);
	json_decref(body);
}

static void
post_case_action(struct http_call *c, const char *id, json_t *req)
{
	const char *im = http_header(c, "If-Match");
	json_t *body, *cur = NULL;
	long long version = -1;

	if (im != NULL) {
		char *end;
		version = strtoll(im + (im[0] == '"'), &end, 10);
		if (end == im || (*end != '\0' && *end != '"')) {
			http_reply_error(c, 400, "malformed", "If-Match",
			                 "If-Match must be the case's ETag "
			                 "(\"3\")");
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
	node_propose(c->node, c, CMD_CASE_ACTION, body, NULL);
	json_decref(body);
}

void
api_write(struct http_call *c)
{
	enum api_role role = token_role(c);
	char arg[160];
	json_t *req;

	if (path_is(c, "DELETE", "/v1/tokens") ||
	    path_arg(c, "/v1/tokens/", "", arg, sizeof(arg))) {
		if (strcmp(c->method, "DELETE") != 0 ||
		    api_allow(c, R_RADMIN | R_PADMIN, "revoke tokens")) {
			if (strcmp(c->method, "DELETE") != 0) {
				http_reply_error(c, 405, "method_not_allowed",
				                 NULL, "use DELETE");
			}
			return;
		}
		req = json_pack("{s:s}", "id", arg);
		node_audit(c->node, c, "token.revoke", arg);
		node_propose(c->node, c, CMD_TOKEN_REVOKE, req, NULL);
		json_decref(req);
		return;
	}
	if (!strcmp(c->method, "DELETE")) {
		http_reply_error(c, 405, "method_not_allowed", NULL,
		                 "DELETE is not allowed on %s", c->path);
		return;
	}
	if ((req = body_json(c)) == NULL) {
		return;
	}
	if (path_is(c, "POST", "/v1/catalog/releases")) {
		if (api_allow(c, R_PADMIN, "publish the standard layer") == 0) {
			post_release(c, req);
		}
	} else if (path_is(c, "POST", "/v1/catalog/overlays")) {
		if (api_allow(c, R_RADMIN | R_PADMIN, "publish overlays") ==
		    0) {
			json_t *body = json_pack("{s:O}", "overlay", req);
			node_audit(c->node, c, "catalog.overlay",
			           spec_str(req, "region"));
			node_propose(c->node, c, CMD_CATALOG_OVERLAY, body,
			             NULL);
			json_decref(body);
		}
	} else if (path_is(c, "POST", "/v1/cases")) {
		if (api_allow(c, R_STAFF, "submit cases") == 0) {
			api_case_submit(c, req);
		}
	} else if (path_arg(c, "/v1/cases/", "/actions", arg, sizeof(arg))) {
		if (api_allow(c, R_STAFF, "act on cases") == 0) {
			post_case_action(c, arg, req);
		}
	} else if (path_is(c, "POST", "/v1/tokens")) {
		if (api_allow(c, R_RADMIN | R_PADMIN, "create tokens") == 0) {
			api_token_create(c, req, role);
		}
	} else {
		http_reply_error(c, 404, "not_found", NULL, "no endpoint %s %s",
		                 c->method, c->path);
	}
	json_decref(req);
}
