/* The HTTP API's reads of the local store (status, catalog, matters,
 * cases, events...), on nng's threads or after a consistent read's
 * barrier. */
#include "node/api_impl.h"

#include "node/api_crl.h"
#include "node/api_handoff.h"
#include "node/api_region.h"
#include "node/group.h"
#include "node/link_api.h"
#include "node/node.h"
#include "node/region.h"
#include "node/store.h"
#include "schema/canon.h"
#include "schema/lifecycle.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
get_status(struct http_call *c)
{
	struct node *n = c->node;
	json_t *st = NULL;
	int rv = store_status(n->store, &st);
	char leader[17], dig[8] = "";

	group_node_id(n->view.leader_id, leader);
	if (rv != 0) {
		api_reply_store(c, rv, NULL, "status");
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
			api_reply_store(c, rv, NULL, "the state digest");
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
		api_reply_store(c, rv != 0 ? rv : TB_ENOMEM, NULL, "cases");
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
	api_reply_store(c, store_events(c->node->store, a, (size_t)lim, &out),
	                out, "events");
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
	api_reply_store(c, rv, out, "case");
}

/* get_tokens lists the node-local API tokens (hashes never leave the
 * store) of the caller's region and the regions below it: an admin's way
 * to find the id that tongban token revoke needs. */
static void
get_tokens(struct http_call *c)
{
	const char *mine = spec_str(c->token, "region");
	json_t *all = NULL, *keep, *t;
	int32_t a, b;
	size_t i;
	int rv;

	if ((rv = store_token_list(c->node->store, &all)) != 0) {
		api_reply_store(c, rv, NULL, "token list");
		return;
	}
	keep = json_array();
	json_array_foreach(json_object_get(all, "tokens"), i, t)
	{
		const char *r = spec_str(t, "region");
		if (mine != NULL && r != NULL &&
		    (!strcmp(mine, r) ||
		     (region_code_parse(mine, &a) == 0 &&
		      region_code_parse(r, &b) == 0 &&
		      region_is_ancestor(region_builtin(), a, b)))) {
			json_array_append(keep, t);
		}
	}
	http_reply_json(c, 200,
	                json_pack("{s:o, s:O}", "tokens", keep, "truncated",
	                          json_object_get(all, "truncated")));
	json_decref(all);
}

void
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
		api_reply_store(c, rv, out, "catalog");
		break;
	}
	case RT_MATTERS:
		api_reply_store(c, store_matters(c->node->store, &out), out,
		                "matters");
		break;
	case RT_MATTER: {
		char rg[16] = "";
		if (api_query(c, "region", rg, sizeof(rg)) < 0 ||
		    (rg[0] && api_remote(c, "matter", arg, rg) != 0)) {
			return;
		}
		api_reply_store(c, store_matter(c->node->store, arg, &out), out,
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
	case RT_TOKENS:
		if (api_allow(c, R_RADMIN | R_PADMIN, "list tokens")) {
			return;
		}
		get_tokens(c);
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

		api_reply_store(c, rv, rv == TB_OK ? app : NULL, "application");
		break;
	}
	default:
		http_reply_error(c, 404, "not_found", NULL,
		                 "no endpoint GET %s", c->path);
		break;
	}
}

void
api_read_call(struct http_call *c)
{
	char arg[160];

	api_read(c, api_route_find(c, arg, sizeof(arg)), arg);
}
