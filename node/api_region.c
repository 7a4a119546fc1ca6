/* The HTTP API between regions: the region's place in the tree (GET
 * /v1/region, POST /v1/region/parent, POST /v1/region/peers, DELETE
 * /v1/region/peers/CODE), the rollout of a catalog version (GET
 * /v1/catalog/rollout?version=N), and loud refusals of what this slice
 * does not build (remote case and matter queries). */
#include "node/api_region.h"

#include "node/region_query.h"

#include "node/node.h"
#include "node/region.h"
#include "schema/lifecycle.h"
#include "node/region_store.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <stdlib.h>
#include <string.h>

void
api_region_get(struct http_call *c)
{
	http_reply_json(c, 200, region_view_json(c->node));
}

int
api_overlay_here(struct http_call *c, const char *region)
{
	const char *own = c->node->cfg.region;
	json_t *topo = NULL;
	int32_t code, self;
	bool parent;

	if (region == NULL || !strcmp(region, own) ||
	    region_code_parse(region, &code) != TB_OK ||
	    region_code_parse(own, &self) != TB_OK ||
	    !region_is_ancestor(region_builtin(), code, self)) {
		return 0;
	}
	if (region_store_topology(c->node->store, &topo) != TB_OK) {
		json_decref(topo);
		http_reply_error(c, 503, "unavailable", NULL,
		                 "the region's topology cannot be read");
		return -1;
	}
	parent = json_is_object(json_object_get(topo, "parent"));
	json_decref(topo);
	if (!parent) {
		return 0; /* a root takes the layers above it, as before */
	}
	http_reply_error(c, 422, "from_parent", "$.region",
	                 "overlays of %s reach %s from its parent; publish it "
	                 "at %s",
	                 region, own, region);
	return -1;
}

void
api_rollout_get(struct http_call *c)
{
	char v[24] = "";
	char *end;
	long long ver;
	int rv;

	if ((rv = api_query(c, "version", v, sizeof(v))) < 0) {
		return;
	}
	ver = strtoll(v, &end, 10);
	if (rv != 0 || v[0] < '0' || v[0] > '9' || *end != '\0' || ver < 1) {
		http_reply_error(c, 400, "invalid", "version",
		                 "version must be a standard release version "
		                 "(1, 2, ...)");
		return;
	}
	http_reply_json(c, 200, region_rollout(c->node, ver));
}

void
api_area_cases_get(struct http_call *c)
{
	char state[32] = "", after[72] = "", lim[12] = "", od[8] = "";
	long limit = 100;
	int overdue = -1;
	enum lc_state st;
	json_t *out = NULL;
	int rv;

	if (api_query(c, "state", state, sizeof(state)) < 0 ||
	    api_query(c, "after", after, sizeof(after)) < 0 ||
	    api_query(c, "limit", lim, sizeof(lim)) < 0 ||
	    api_query(c, "overdue", od, sizeof(od)) < 0) {
		return;
	}
	if (od[0] != '\0') {
		if (strcmp(od, "0") != 0 && strcmp(od, "1") != 0) {
			http_reply_error(c, 400, "invalid", "overdue",
			                 "overdue is 0 or 1");
			return;
		}
		overdue = od[0] == '1';
	}
	if (state[0] != '\0' && lc_state_parse(state, &st) != 0) {
		http_reply_error(c, 400, "bad_code", "state",
		                 "not a case state (tongban lifecycle lists "
		                 "them)");
		return;
	}
	if (lim[0] != '\0') {
		char *end;

		limit = strtol(lim, &end, 10);
		if (*end != '\0' || limit < 1 || limit > 1000) {
			http_reply_error(c, 400, "out_of_range", "limit",
			                 "limit is 1..1000");
			return;
		}
	}
	rv = region_store_area(c->node->store, state[0] ? state : NULL, overdue,
	                       node_now_ms(), after, (size_t)limit, &out);
	if (rv != TB_OK) {
		http_reply_error(c, rv == TB_EINVAL ? 400 : 500,
		                 rv == TB_EINVAL ? "invalid" : "io",
		                 rv == TB_EINVAL ? "after" : NULL,
		                 "the area's cases: %s", tb_strerror(rv));
		return;
	}
	json_object_set_new(out, "region", json_string(c->node->cfg.region));
	http_reply_json(c, 200, out);
}

/* code_ok replies 422 naming field unless code is a region of the table. */
static int
code_ok(struct http_call *c, const char *code, const char *field)
{
	int32_t v;

	if (code == NULL || strlen(code) != 6 ||
	    region_code_parse(code, &v) != 0 ||
	    region_find(region_builtin(), v) == NULL) {
		http_reply_error(c, 422, "invalid_code", field,
		                 "%s is not a region of the GB/T 2260 table",
		                 code != NULL ? code : "(missing)");
		return -1;
	}
	return 0;
}

void
api_region_write(struct http_call *c, const char *op, const char *code,
                 const json_t *req)
{
	const char *url = NULL;
	json_t *body;

	if (req != NULL) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)req, k, x)
		{
			if (strcmp(k, "code") != 0 && strcmp(k, "url") != 0) {
				http_reply_error(c, 422, "unknown_field", k,
				                 "unknown field '%s' (the body "
				                 "is {\"code\", \"url\"})",
				                 k);
				return;
			}
		}
		code = spec_str(req, "code");
		url = spec_str(req, "url");
		if (code_ok(c, code, "$.code") != 0) {
			return;
		}
		if (url == NULL || strncmp(url, "tcp://", 6) != 0 ||
		    strrchr(url + 6, ':') == NULL) {
			http_reply_error(c, 422, "invalid", "$.url",
			                 "url must be tcp://HOST:PORT");
			return;
		}
	} else if (code_ok(c, code, NULL) != 0) {
		return;
	}
	body =
	    json_pack("{s:s, s:s, s:s*}", "op", op, "code", code, "url", url);
	if (body == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_audit(c->node, c, "region.topology", code);
	node_propose(c->node, c, CMD_REGION_TOPOLOGY, body, NULL);
	json_decref(body);
}

int
api_remote(struct http_call *c, const char *kind, const char *key,
           const char *region)
{
	const char *self = c->node->cfg.region;

	if (region == NULL || strlen(region) < 6 || !strncmp(region, self, 6)) {
		return 0;
	}
	region_query_ask(c, kind, key, region);
	return -1;
}
