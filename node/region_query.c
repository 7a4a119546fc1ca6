/* Queries routed between regions: a case or an effective matter asked at
 * any node is answered by the region that holds it, hop by hop over the
 * tree's links (replication/route.h decides each hop).
 *
 * GET /v1/cases/ID at a node that does not hold the case asks the case's
 * receiving region (the id starts with its code); GET
 * /v1/catalog/matters/CODE?region=R asks region R. The node routes the
 * question as a REGION_T_QUERY request, JSON
 *
 *   {"kind": "case"|"matter", "key": ID or CODE, "region": R, "hops": n,
 *    "asked_by": {"region", "node_id", "token", "role"}}
 *
 * to the next hop: a linked child whose subtree holds R, else the most
 * specific sideways peer at or above R, else the parent. Each hop routes it
 * on the same way (hops + 1, at most ROUTE_MAX_HOPS); region R answers from
 * its own store with {"served_by": {"region", "node_id"}, "as_of":
 * {"applied", "at"}, "case"|"matter": ...} and writes the read to its audit
 * log (act "case.read.remote", with who asked). The answer travels back the
 * same way. HTTP: 200 with the object and served_by and as_of; 404 when R is
 * in no region table or does not hold the case or matter; 503 when no link
 * leads towards R or a hop does not answer in time (the reason names which).
 * The node that took the HTTP call audits it too.
 *
 * A case handed to another region (a tombstone here) is asked of its owner;
 * when the owner does not answer, the HTTP answer is 503 with the node's
 * own copy as "last_known" (kept up to date by the owner's NOTIFYs,
 * docs/HANDOFF.md), or at a supervising tier the case's summary from its
 * area list. No copy is kept along the way.
 *
 * The region that answers sends the full case only to the regions that
 * handle it, else its summary marked "redacted" (region_share.c); the
 * asking region is the one the first hop's link authenticated (a question
 * at hops 1 naming another region is refused), later hops trusting their
 * neighbour, as for handoff frames.
 *
 * Threads: the loop (node_on_loop and link handlers). */
#include "node/region_query.h"

#include "node/api.h"
#include "node/http.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_store.h"
#include "node/store.h"
#include "replication/route.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first hop's wait; each later hop waits a second less, so an answer
 * that comes back late is still awaited where it was asked. */
#define QUERY_TIMEOUT_MS 8000
#define QUERY_HOP_MS     1000

/* One question on its way: asked over HTTP (c) or relayed for a hop
 * (to). */
struct query {
	struct node *n;
	struct http_call *c;
	struct link_reply_to to;
	char kind[8];
	char key[80];
};

static int
status_of(int code)
{
	switch (code) {
	case TB_ENOTFOUND:
	case TB_ECODE:
		return 404;
	case TB_EINVAL:
	case TB_EMALFORMED:
		return 400;
	case TB_EFORBIDDEN:
		return 403;
	default:
		return 503;
	}
}

/* fail answers the question with an error code and reason. */
static void
fail(struct query *q, int code, const char *why)
{
	json_t *copy = NULL;

	if (q->c != NULL && status_of(code) == 503 &&
	    !strcmp(q->kind, "case") &&
	    store_case_get(q->n->store, q->key, node_now_ms(), &copy) ==
	        TB_OK) {
		/* The owner is unreachable: the last known copy (a
		 * tombstone's, kept up to date by the owner's NOTIFYs). */
		http_reply_json(q->c, 503,
		                json_pack("{s:{s:s, s:s}, s:o}", "error",
		                          "code", "unavailable", "message", why,
		                          "last_known", copy));
	} else if (q->c != NULL && status_of(code) == 503 &&
	           !strcmp(q->kind, "case") &&
	           region_store_area_get(q->n->store, q->key, &copy) == TB_OK) {
		/* A supervising tier: the newest summary its area received
		 * (case summaries up the tree), as of its version. */
		http_reply_json(
		    q->c, 503,
		    json_pack("{s:{s:s, s:s}, s:o, s:{s:s, s:O*, s:O*}}",
		              "error", "code", "unavailable", "message", why,
		              "last_known", copy, "last_known_as_of", "source",
		              "area summary", "version",
		              json_object_get(copy, "version"), "updated_at",
		              json_object_get(copy, "updated_at")));
	} else if (q->c != NULL) {
		int st = status_of(code);

		http_reply_error(q->c, (uint16_t)st,
		                 st == 404   ? "not_found"
		                 : st == 400 ? "invalid"
		                 : st == 403 ? "forbidden"
		                             : "unavailable",
		                 NULL, "%s", why);
	} else if (q->n->links != NULL) {
		link_reply_error(q->n->links, &q->to, code, why);
	}
	free(q);
}

/* answer sends the answer's JSON text. */
static void
answer(struct query *q, const char *text, size_t len)
{
	if (q->c != NULL) {
		json_t *v = json_loadb(text, len, 0, NULL);
		json_t *obj = json_object_get(v, q->kind);

		if (!json_is_object(obj)) {
			http_reply_error(
			    q->c, 502, "bad_gateway", NULL,
			    "the answer from another region is not "
			    "a %s",
			    q->kind);
		} else {
			json_t *out = json_incref(obj);

			json_object_set(out, "served_by",
			                json_object_get(v, "served_by"));
			json_object_set(out, "as_of",
			                json_object_get(v, "as_of"));
			node_audit(q->n, q->c,
			           !strcmp(q->kind, "case") ? "case.read"
			                                    : "matter.read",
			           q->key);
			http_reply_json(q->c, 200, out);
		}
		json_decref(v);
	} else if (q->n->links != NULL) {
		link_reply(q->n->links, &q->to, REGION_T_QUERY, text, len);
	}
	free(q);
}

void
region_route(struct node *n, int32_t target, struct route *rt)
{
	const struct region_table *t = region_builtin();
	const struct region *kids[64];
	int32_t self = 0, parent = 0, linked[64], peers[16];
	struct route_links l = { 0 };
	const struct region *r;
	json_t *topo = NULL, *p;
	size_t nk, i, nl = 0, np = 0;
	char code[8];

	region_code_parse(n->cfg.region, &self);
	r = t != NULL ? region_find(t, self) : NULL;
	parent = r != NULL ? r->parent : 0;
	nk = t != NULL ? region_children(t, self, kids, 64) : 0;
	for (i = 0; i < nk && i < 64; i++) {
		snprintf(code, sizeof(code), "%06d", (int)kids[i]->code);
		if (link_up(n->links, code)) {
			linked[nl++] = kids[i]->code;
		}
	}
	if (region_store_topology(n->store, &topo) == TB_OK) {
		json_array_foreach(json_object_get(topo, "peers"), i, p)
		{
			int32_t c;

			if (np < 16 && region_code_parse(spec_str(p, "code"),
			                                 &c) == TB_OK) {
				peers[np++] = c;
			}
		}
	}
	json_decref(topo);
	l.self = self;
	l.parent = parent;
	l.children = linked;
	l.n_children = nl;
	l.peers = peers;
	l.n_peers = np;
	if (t == NULL || route_next(t, &l, target, rt) != TB_OK) {
		rt->kind = ROUTE_UNREACHABLE;
		snprintf(rt->reason, sizeof(rt->reason),
		         "this node's region %s is not in the region table",
		         n->cfg.region);
	}
}

static void step(struct query *q, json_t *req);

/* local answers from this node's store; a case handed to another region
 * (a tombstone naming its owner) is asked of the owner. */
static void
local(struct query *q, json_t *req)
{
	const json_t *asked_by = json_object_get(req, "asked_by");
	struct node *n = q->n;
	json_t *obj = NULL, *v;
	char *text;
	int rv;

	rv = !strcmp(q->kind, "case")
	         ? store_case_get(n->store, q->key, node_now_ms(), &obj)
	         : store_matter(n->store, q->key, &obj);
	if (rv != TB_OK) {
		char why[200];

		snprintf(why, sizeof(why), "%s %s is not held at %s (%s)",
		         q->kind, q->key, n->cfg.region, tb_strerror(rv));
		json_decref(obj);
		fail(q, rv == TB_ENOTFOUND ? TB_ENOTFOUND : TB_EIO, why);
		return;
	}
	if (!strcmp(q->kind, "case") && spec_str(obj, "owner") != NULL &&
	    strcmp(spec_str(obj, "owner"), n->cfg.region) != 0) {
		json_object_set(req, "region", json_object_get(obj, "owner"));
		json_decref(obj);
		step(q, req);
		return;
	}
	if (!strcmp(q->kind, "case")) {
		/* The full case only to the regions that handle it; the
		 * asking region is the one the first hop authenticated
		 * (on_query), each later hop trusting its neighbour. */
		bool full = false;
		json_t *out =
		    region_case_share(n->store, n->cfg.region, obj,
		                      spec_str(asked_by, "region"), &full);

		json_decref(obj);
		if ((obj = out) == NULL) {
			fail(q, TB_ENOMEM, "out of memory");
			return;
		}
		node_audit_line(n, json_pack("{s:I, s:s, s:s, s:O*, s:b}", "at",
		                             (json_int_t)node_now_ms(), "act",
		                             "case.read.remote", "object",
		                             q->key, "asked_by", asked_by,
		                             "personal_data", full));
	}
	v = json_pack("{s:{s:s, s:s}, s:{s:I, s:I}, s:o}", "served_by",
	              "region", n->cfg.region, "node_id", n->cfg.node_id,
	              "as_of", "applied",
	              (json_int_t)store_applied_index(n->store), "at",
	              (json_int_t)node_now_ms(), q->kind, obj);
	text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	if (text == NULL) {
		fail(q, TB_ENOMEM, "out of memory");
		return;
	}
	answer(q, text, strlen(text));
	free(text);
}

static void
on_answer(void *arg, int status, const struct link_msg *m)
{
	struct query *q = arg;
	char why[400];

	if (status == TB_OK) {
		answer(q, (const char *)m->body, m->len);
		return;
	}
	snprintf(why, sizeof(why), "%.*s",
	         m != NULL && m->len > 0 ? (int)m->len : 0,
	         m != NULL ? (const char *)m->body : "");
	if (why[0] == '\0') { /* the link's own failure: no answer came */
		snprintf(why, sizeof(why),
		         "the next region on the way did not answer (%s)",
		         tb_strerror(status));
		status = TB_ECLOSED;
	}
	fail(q, status, why);
}

/* step answers q (at the target) or sends it one hop on. */
static void
step(struct query *q, json_t *req)
{
	struct node *n = q->n;
	long long hops = spec_int(req, "hops", 0);
	int32_t target = 0;
	struct route rt;
	char hop[8], *text;
	int rv;

	if (region_code_parse(spec_str(req, "region"), &target) != TB_OK) {
		/* Name what was asked: "region: not a region code" did not
		 * say that GET /v1/cases/garbage was refused for its id. */
		char why[160];
		if (!strcmp(q->kind, "case")) {
			snprintf(why, sizeof(why),
			         "case %.40s: not a case id (a case id starts "
			         "with its region's code: "
			         "370102-20261130-000001)",
			         q->key);
		} else {
			snprintf(why, sizeof(why),
			         "region %.40s: not a region code",
			         spec_str(req, "region"));
		}
		fail(q, TB_ECODE, why);
		return;
	}
	if (hops >= ROUTE_MAX_HOPS) {
		fail(q, TB_ERANGE,
		     "the question travelled too many hops (a loop through "
		     "misconfigured peers?)");
		return;
	}
	region_route(n, target, &rt);
	switch (rt.kind) {
	case ROUTE_LOCAL:
		local(q, req);
		return;
	case ROUTE_UNKNOWN:
		fail(q, TB_ENOTFOUND, rt.reason);
		return;
	case ROUTE_UNREACHABLE:
		fail(q, TB_ECLOSED, rt.reason);
		return;
	default:
		break;
	}
	if (n->links == NULL) {
		fail(q, TB_ECLOSED, "this node has no links (no certificate)");
		return;
	}
	json_object_set_new(req, "hops", json_integer(hops + 1));
	if ((text = json_dumps(req, JSON_COMPACT)) == NULL) {
		fail(q, TB_ENOMEM, "out of memory");
		return;
	}
	snprintf(hop, sizeof(hop), "%06d", (int)rt.hop);
	rv = link_request(
	    n->links, hop, REGION_T_QUERY, text, strlen(text),
	    (unsigned)(QUERY_TIMEOUT_MS - (hops < 6 ? hops : 6) * QUERY_HOP_MS),
	    on_answer, q);
	free(text);
	if (rv != TB_OK) {
		char why[200];

		snprintf(why, sizeof(why),
		         "no link to %s, the next region %s "
		         "towards %06d (%s)",
		         hop, route_kind_name(rt.kind), (int)target,
		         tb_strerror(rv));
		fail(q, TB_ECLOSED, why);
	}
}

static void
on_query(struct links *ls, const struct link_msg *m, void *arg)
{
	struct node *n = arg;
	struct query *q;
	json_t *req;
	const char *kind, *key;

	if (!m->request) {
		return;
	}
	req = json_loadb((const char *)m->body, m->len, 0, NULL);
	kind = spec_str(req, "kind");
	key = spec_str(req, "key");
	if (kind == NULL || key == NULL || strlen(key) >= 80 ||
	    (strcmp(kind, "case") != 0 && strcmp(kind, "matter") != 0)) {
		link_reply_error(ls, &m->reply_to, TB_EMALFORMED,
		                 "a query is {\"kind\": \"case\"|\"matter\", "
		                 "\"key\", \"region\", \"hops\"}");
		json_decref(req);
		return;
	}
	if (spec_int(req, "hops", 0) <= 1 &&
	    (spec_str(json_object_get(req, "asked_by"), "region") == NULL ||
	     m->peer_region == NULL ||
	     strcmp(spec_str(json_object_get(req, "asked_by"), "region"),
	            m->peer_region) != 0)) {
		/* The first hop: the link authenticated the asking node's
		 * region, and the question must name that one (the region
		 * decides what of a case it is sent). Later hops trust
		 * their neighbour, as for handoff frames. */
		char why[160];

		snprintf(
		    why, sizeof(why),
		    "$.asked_by.region: %.8s is not the asking node's "
		    "region %.8s (its certificate's)",
		    spec_str(json_object_get(req, "asked_by"), "region")
		        ? spec_str(json_object_get(req, "asked_by"), "region")
		        : "(none)",
		    m->peer_region ? m->peer_region : "(none)");
		link_reply_error(ls, &m->reply_to, TB_EFORBIDDEN, why);
		json_decref(req);
		return;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		link_reply_error(ls, &m->reply_to, TB_ENOMEM, "out of memory");
		json_decref(req);
		return;
	}
	q->n = n;
	q->to = m->reply_to;
	snprintf(q->kind, sizeof(q->kind), "%s", kind);
	snprintf(q->key, sizeof(q->key), "%s", key);
	step(q, req);
	json_decref(req);
}

/* ask runs on the loop for an HTTP call: req {"kind", "key", "region"}. */
static void
ask(struct http_call *c, const json_t *req)
{
	struct query *q = calloc(1, sizeof(*q));
	const char *region = c->node->cfg.region;
	json_t *r;

	if (getenv("TB_FAULT_QUERY_ASKED_BY") != NULL) {
		/* A test fault (tests/node_region_flow.t): this node claims
		 * another region in the questions it sends, as a dishonest
		 * node would; the first hop refuses them. */
		region = getenv("TB_FAULT_QUERY_ASKED_BY");
		tb_log(TB_LOG_WARN, "TB-FAULT",
		       "TB_FAULT_QUERY_ASKED_BY: this node asks as %.8s",
		       region);
	}
	if (q == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	q->n = c->node;
	q->c = c;
	snprintf(q->kind, sizeof(q->kind), "%s", spec_str(req, "kind"));
	snprintf(q->key, sizeof(q->key), "%s", spec_str(req, "key"));
	r = json_deep_copy(req);
	json_object_set_new(
	    r, "asked_by",
	    json_pack("{s:s, s:s, s:s?, s:s?}", "region", region, "node_id",
	              c->node->cfg.node_id, "token",
	              c->token != NULL ? spec_str(c->token, "id") : NULL,
	              "role",
	              c->token != NULL ? spec_str(c->token, "role") : NULL));
	json_object_set_new(r, "hops", json_integer(0));
	step(q, r);
	json_decref(r);
}

void
region_query_ask(struct http_call *c, const char *kind, const char *key,
                 const char *region)
{
	json_t *req;

	if (strlen(key) >= 80) {
		http_reply_error(c, 404, "not_found", NULL, "no such %s", kind);
		return;
	}
	req = json_pack("{s:s, s:s, s:s%}", "kind", kind, "key", key, "region",
	                region, (size_t)6);
	node_on_loop(c->node, c, ask, req);
	json_decref(req);
}

void
region_query_start(struct node *n)
{
	if (n->links != NULL) {
		link_handle(n->links, REGION_T_QUERY, on_query, n);
	}
}
