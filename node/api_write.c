/* The HTTP API's writes: each is checked and encoded as a command here
 * (on nng's threads), then proposed on the loop; refused commands name the
 * request's fields. */
#include "node/api_impl.h"
#include "node/join.h"

#include "node/api_crl.h"
#include "node/api_handoff.h"
#include "node/api_region.h"
#include "node/link_api.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/canon.h"
#include "schema/canon_walk.h"
#include "schema/lifecycle.h"
#include "schema/region.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	    api_token_role(c) != API_PROVINCIAL_ADMIN) {
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
	/* The caller's own node-local token: revoking it could leave the
	 * node with no admin at all (a single node has no chain tokens). */
	if (spec_str(c->token, "kind") == NULL &&
	    spec_str(c->token, "id") != NULL &&
	    !strcmp(spec_str(c->token, "id"), id)) {
		http_reply_error(
		    c, 409, "conflict", NULL,
		    "token %s is the one making this request: "
		    "make another admin token first (tongban token "
		    "create --role ...) and revoke this one with it",
		    id);
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
	    !(api_token_role(c) != API_CLERK &&
	      lc_role_may(LC_ROLE_REGION_ADMIN, a))) {
		http_reply_error(c, 403, "forbidden", "$.action",
		                 "role %s may not %s a case",
		                 api_role_name(api_token_role(c)),
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
	enum route r = api_route_find(c, arg, sizeof(arg));
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
			api_group_op(c, "remove", arg, NULL);
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
			api_group_op(c, "transfer", "", NULL);
		}
		return;
	}
	/* A case submission's common form is checked and encoded without
	 * jansson values. */
	if (r == RT_CASES && api_case_fast(c)) {
		return;
	}
	if ((req = api_body_json(c)) == NULL) {
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
			api_group_op(c,
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
