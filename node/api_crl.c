/* POST and GET /v1/crls and /v1/root: revocation lists and the province's
 * root metadata committed through the region's group (crl.put,
 * node/fsm_crl.c; root.put, node/fsm_root.c) and read back. */
#include "node/api_crl.h"

#include "node/certstore.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/cert.h"
#include "schema/calendar.h"
#include "schema/cert_crl.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Refusals of the command name the request's fields: the list is the body
 * itself ({"format": "tongban.crl/1", ...}) or its "crl" member; the root
 * is the node's own (no request field). */
static const struct http_field_map fields_bare[] = {
	{ "$.body.crl", "$" },
	{ "$.body.chain", "$.chain" },
	{ "$.body.root", NULL },
	{ NULL, NULL },
};
static const struct http_field_map fields_wrapped[] = {
	{ "$.body.crl", "$.crl" },
	{ "$.body.chain", "$.chain" },
	{ "$.body.root", NULL },
	{ NULL, NULL },
};

static json_t *
load(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];
	json_error_t je;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return json_load_file(path, JSON_REJECT_DUPLICATES, &je);
}

/* own_chain finds the issuer key's certificates in this node's own chain
 * (the chain record of DIR/local, certstore.h): from the region certificate
 * whose sign_key is the list's issuer key up to the province's. NULL if
 * the key is not in it. */
static json_t *
own_chain(const char *dir, const json_t *crl)
{
	const char *key = spec_str(json_object_get(crl, "issuer"), "key");
	json_t *chain = certstore_load(dir, "chain"), *out = NULL, *c;
	size_t i;

	if (key == NULL || !json_is_array(chain)) {
		json_decref(chain);
		return NULL;
	}
	json_array_foreach(chain, i, c)
	{
		const char *sk = spec_str(c, "sign_key");
		if (out == NULL && sk != NULL && !strcmp(sk, key)) {
			out = json_array();
		}
		if (out != NULL) {
			json_array_append(out, c);
		}
	}
	json_decref(chain);
	return out;
}

void
api_crl_post(struct http_call *c, json_t *req)
{
	struct node *n = c->node;
	const json_t *crl = req, *chain = NULL;
	const char *fmt = spec_str(req, "format");
	json_t *root, *body, *found = NULL;
	bool wrapped = fmt == NULL;

	if (wrapped) {
		const char *k;
		json_t *v;

		crl = json_object_get(req, "crl");
		chain = json_object_get(req, "chain");
		json_object_foreach(req, k, v)
		{
			if (strcmp(k, "crl") != 0 && strcmp(k, "chain") != 0) {
				http_reply_error(
				    c, 422, "invalid", k,
				    "unknown field %s: the body is a "
				    "signed tongban.crl/1 list, or "
				    "{\"crl\": LIST, \"chain\": "
				    "[CERT...]}",
				    k);
				return;
			}
		}
		if (!json_is_object(crl)) {
			http_reply_error(c, 422, "invalid", "crl",
			                 "the body is a signed tongban.crl/1 "
			                 "list, or {\"crl\": LIST, \"chain\": "
			                 "[CERT...]}");
			return;
		}
		if (chain != NULL && !json_is_array(chain)) {
			http_reply_error(c, 422, "invalid", "chain",
			                 "chain is an array of certificates, "
			                 "the issuer key's first");
			return;
		}
	}
	/* Apply anchors the list at the stored root when there is one
	 * and ignores this one; the field stays for groups without. */
	if (store_root(n->store, &root) != TB_OK &&
	    (root = load(n->cfg.dir, "root.json")) == NULL) {
		http_reply_error(c, 409, "no_root", NULL,
		                 "this node has no root metadata (root.json) "
		                 "to anchor revocation lists");
		return;
	}
	/* A region key's list needs that key's chain; this node's own
	 * chain holds its region's key and those above it. */
	if (chain == NULL && !cert_issuer_is_root(crl) &&
	    (found = own_chain(n->cfg.dir, crl)) != NULL) {
		chain = found;
	}
	body = chain != NULL
	           ? json_pack("{s:O, s:O, s:O}", "crl", crl, "root", root,
	                       "chain", chain)
	           : json_pack("{s:O, s:O}", "crl", crl, "root", root);
	json_decref(root);
	json_decref(found);
	if (body == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_audit(n, c, "crl.put",
	           spec_str(json_object_get(crl, "issuer"), "region"));
	c->fields = wrapped ? fields_wrapped : fields_bare;
	node_propose(n, c, CMD_CRL_PUT, body, NULL);
	json_decref(body);
}

void
api_crl_list(struct http_call *c)
{
	json_t *arr = NULL;
	int rv = store_crls(c->node->store, &arr);

	if (rv != TB_OK) {
		http_reply_error(c, 500, tb_errname(rv), NULL,
		                 "reading the revocation lists: %s",
		                 tb_strerror(rv));
		return;
	}
	http_reply_json(c, 200, json_pack("{s:o}", "crls", arr));
}

/* Refusals of root.put name the request's fields: the root is the body
 * ({"format": "tongban.root/1", ...}) or its "root" member. */
static const struct http_field_map root_bare[] = {
	{ "$.body.root", "$" },
	{ NULL, NULL },
};
static const struct http_field_map root_wrapped[] = {
	{ "$.body.root", "$.root" },
	{ NULL, NULL },
};

void
api_root_post(struct http_call *c, json_t *req)
{
	const json_t *root = req;
	bool wrapped = spec_str(req, "format") == NULL;
	json_t *body;
	const char *k;
	json_t *v;

	if (wrapped) {
		json_object_foreach(req, k, v)
		{
			if (strcmp(k, "root") != 0) {
				http_reply_error(
				    c, 422, "invalid", k,
				    "unknown field %s: the body is "
				    "a signed tongban.root/1, or "
				    "{\"root\": ROOT}",
				    k);
				return;
			}
		}
		root = json_object_get(req, "root");
		if (!json_is_object(root)) {
			http_reply_error(c, 422, "invalid", "root",
			                 "the body is a signed tongban.root/1, "
			                 "or {\"root\": ROOT}");
			return;
		}
	}
	if ((body = json_pack("{s:O}", "root", root)) == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_audit(c->node, c, "root.put", spec_str(root, "region"));
	c->fields = wrapped ? root_wrapped : root_bare;
	node_propose(c->node, c, CMD_ROOT_PUT, body, NULL);
	json_decref(body);
}

void
api_root_get(struct http_call *c)
{
	json_t *root = NULL;
	int rv = store_root(c->node->store, &root);

	if (rv == TB_ENOTFOUND) {
		http_reply_error(c, 404, "no_root", NULL,
		                 "the group stores no root metadata (POST "
		                 "/v1/root, tongban root install --commit)");
		return;
	}
	if (rv != TB_OK) {
		http_reply_error(c, 500, tb_errname(rv), NULL,
		                 "reading the root metadata: %s",
		                 tb_strerror(rv));
		return;
	}
	http_reply_json(c, 200, json_pack("{s:o}", "root", root));
}

/* Refusals of calendar.put name the request's fields: the body is the
 * signed calendar itself. */
static const struct http_field_map cal_fields[] = {
	{ "$.body.calendar", "$" },
	{ NULL, NULL },
};

void
api_calendar_post(struct http_call *c, json_t *req)
{
	struct node *n = c->node;
	json_t *root = NULL, *body;
	char err[256];

	if (strcmp(spec_str(req, "format") ? spec_str(req, "format") : "",
	           CAL_FORMAT) != 0) {
		http_reply_error(c, 422, "invalid", "format",
		                 "the body is a signed %s document",
		                 CAL_FORMAT);
		return;
	}
	/* As for releases (post_release): a province node holding a
	 * release key signs an unsigned calendar. */
	if (n->cfg.has_release_key &&
	    json_array_size(json_object_get(req, "signatures")) == 0 &&
	    trust_sign(req, n->cfg.release_sk, err, sizeof(err)) != 0) {
		http_reply_error(c, 422, "invalid", NULL, "%s", err);
		return;
	}
	/* As for lists: apply anchors at the stored root when there is
	 * one; the field is for groups without. */
	if (store_root(n->store, &root) != TB_OK &&
	    (root = load(n->cfg.dir, "root.json")) == NULL) {
		http_reply_error(c, 409, "no_root", NULL,
		                 "this node has no root metadata (root.json) "
		                 "to verify calendars");
		return;
	}
	body = json_pack("{s:O, s:o}", "calendar", req, "root", root);
	if (body == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_audit(n, c, "calendar.put", spec_str(req, "region"));
	c->fields = cal_fields;
	node_propose(n, c, CMD_CALENDAR_PUT, body, NULL);
	json_decref(body);
}

void
api_calendar_list(struct http_call *c)
{
	json_t *out = NULL;
	int rv = store_calendars(c->node->store, &out);

	if (rv != TB_OK) {
		http_reply_error(c, 500, tb_errname(rv), NULL,
		                 "reading the calendars: %s", tb_strerror(rv));
		return;
	}
	http_reply_json(c, 200, out);
}
