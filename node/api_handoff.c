/* The HTTP API of handoffs (docs/API.md, "Handoffs"): offer a case to
 * another region, list and read the records, abort an offer, and the
 * /metrics gauges. */
#include "node/api_handoff.h"

#include "node/fsm_handoff.h"
#include "node/handoff_impl.h"
#include "node/node.h"
#include "node/store.h"
#include "node/store_db.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX     1000

static const struct http_field_map fields_offer[] = { { "$.body.to", "to" },
	                                              { "$.body.mode", "mode" },
	                                              { "$.body.reason",
	                                                "reason" },
	                                              { "$.body.case", NULL },
	                                              { "$.body", "$" },
	                                              { NULL, NULL } };
static const struct http_field_map fields_abort[] = { { "$.body.case", NULL },
	                                              { "$.body", NULL },
	                                              { NULL, NULL } };

void
api_handoff_offer(struct http_call *c, const char *id, const json_t *req)
{
	const char *to = spec_str(req, "to");
	const char *idem = http_header(c, "Idempotency-Key");
	const json_t *mode = json_object_get(req, "mode");
	const json_t *reason = json_object_get(req, "reason");
	const char *key;
	const json_t *v;
	int32_t code;
	json_t *body;

	if (idem != NULL && (strlen(idem) == 0 || strlen(idem) > 128)) {
		http_reply_error(c, 400, "invalid", "Idempotency-Key",
		                 "an idempotency key has 1..128 characters");
		return;
	}
	json_object_foreach((json_t *)req, key, v)
	{
		if (strcmp(key, "to") && strcmp(key, "mode") &&
		    strcmp(key, "reason")) {
			http_reply_error(
			    c, 422, "unknown_field", key,
			    "unknown field '%s' (a handoff is {to, "
			    "mode, reason})",
			    key);
			return;
		}
	}
	if (to == NULL) {
		http_reply_error(c, 422, "missing", "to",
		                 "to: the target region's code is required");
		return;
	}
	if (region_code_parse(to, &code) != TB_OK ||
	    region_find(region_builtin(), code) == NULL) {
		http_reply_error(c, 422, "bad_code", "to",
		                 "to: \"%s\" is not a region of the GB/T 2260 "
		                 "table",
		                 to);
		return;
	}
	if (!strcmp(to, c->node->cfg.region)) {
		http_reply_error(c, 422, "invalid", "to",
		                 "to: %s is this region; a case is handed to "
		                 "another",
		                 to);
		return;
	}
	if ((mode != NULL && !json_is_string(mode)) ||
	    (reason != NULL && !json_is_string(reason))) {
		http_reply_error(
		    c, 422, "wrong_type",
		    mode != NULL && !json_is_string(mode) ? "mode" : "reason",
		    "mode and reason are strings");
		return;
	}
	body = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s?}", "case", id, "to", to, "mode",
	    mode != NULL ? json_string_value(mode) : "异地代收代办", "reason",
	    reason != NULL ? json_string_value(reason) : "跨域通办", "actor",
	    spec_str(c->token, "id"));
	if (body == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_audit(c->node, c, "handoff.offer", id);
	c->fields = fields_offer;
	node_propose(c->node, c, CMD_HANDOFF_OFFER, body, idem);
	json_decref(body);
}

static const struct http_field_map fields_request[] = {
	{ "$.body.case", "case" },
	{ "$.body.reason", "reason" },
	{ "$.body", "$" },
	{ NULL, NULL }
};
static const struct http_field_map fields_refuse[] = { { "$.body.case", NULL },
	                                               { "$.body.reason",
	                                                 "reason" },
	                                               { "$.body", "$" },
	                                               { NULL, NULL } };

void
api_handoff_request(struct http_call *c, const char *id, const json_t *req)
{
	const json_t *cs = json_object_get(req, "case");
	const json_t *reason = json_object_get(req, "reason");
	const char *key;
	const json_t *v;
	json_t *body;

	json_object_foreach((json_t *)req, key, v)
	{
		if ((id != NULL || strcmp(key, "case")) &&
		    strcmp(key, "reason")) {
			http_reply_error(c, 422, "unknown_field", key,
			                 "unknown field '%s' (%s)", key,
			                 id == NULL
			                     ? "a request is {case, reason}"
			                     : "a refusal is {reason}");
			return;
		}
	}
	if (id == NULL && (cs == NULL || !json_is_string(cs))) {
		http_reply_error(c, 422, cs == NULL ? "missing" : "wrong_type",
		                 "case",
		                 "case: the requested case's id (a string)");
		return;
	}
	if (reason != NULL && !json_is_string(reason)) {
		http_reply_error(c, 422, "wrong_type", "reason",
		                 "reason: a string");
		return;
	}
	if (id != NULL && reason == NULL) {
		http_reply_error(c, 422, "missing", "reason",
		                 "reason: a refusal names its reason");
		return;
	}
	body = json_pack(
	    "{s:s, s:s, s:s?}", "case", id != NULL ? id : json_string_value(cs),
	    "reason", reason != NULL ? json_string_value(reason) : "跨域通办",
	    "actor", spec_str(c->token, "id"));
	if (body == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_audit(c->node, c,
	           id == NULL ? "handoff.request" : "handoff.refuse",
	           spec_str(body, "case"));
	c->fields = id == NULL ? fields_request : fields_refuse;
	node_propose(c->node, c,
	             id == NULL ? CMD_HANDOFF_REQUEST : CMD_HANDOFF_REFUSE,
	             body, NULL);
	json_decref(body);
}

void
api_handoff_abort(struct http_call *c, const char *id)
{
	json_t *body =
	    json_pack("{s:s, s:I, s:s?}", "case", id, "after_ms",
	              (json_int_t)c->node->cfg.handoff_abort_after_ms, "actor",
	              spec_str(c->token, "id"));

	if (body == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_audit(c->node, c, "handoff.abort", id);
	c->fields = fields_abort;
	node_propose(c->node, c, CMD_HANDOFF_ABORT, body, NULL);
	json_decref(body);
}

/* cursor_key writes the 'R' key a list resumes after ("ID/E/A"). */
static int
cursor_key(const char *after, uint8_t *k, size_t *kl)
{
	char id[FSM_HANDOFF_ID_MAX];
	const char *s1 = strchr(after, '/');
	unsigned e, a;

	if (s1 == NULL || (size_t)(s1 - after) >= sizeof(id) ||
	    sscanf(s1, "/%u/%u", &e, &a) != 2) {
		return -1;
	}
	memcpy(id, after, (size_t)(s1 - after));
	id[s1 - after] = '\0';
	*kl = fsm_handoff_key('R', id, e, a, k);
	return 0;
}

/* scan lists records from key k (prefix p of length pl must match),
 * filtered by state and side, at most limit; next receives the cursor
 * of a full page. */
static int
scan(struct store *s, const uint8_t *k, size_t kl, bool skip_first, size_t pl,
     const char *state, const char *side, size_t limit, json_t *out, char *next,
     size_t nn)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val key, v;
	int rv, op = MDB_SET_RANGE;

	next[0] = '\0';
	if ((rv = db_err(store_rd_begin(s, &txn))) != 0) {
		return rv;
	}
	if ((rv = db_err(mdb_cursor_open(txn, s->dbi[DB_HANDOFFS], &cur)))) {
		store_rd_end(s, txn);
		return rv;
	}
	key.mv_data = (void *)k;
	key.mv_size = kl;
	while ((rv = db_err(mdb_cursor_get(cur, &key, &v, op))) == 0) {
		json_t *rec;

		op = MDB_NEXT;
		if (key.mv_size < pl || memcmp(key.mv_data, k, pl) != 0) {
			break;
		}
		if (skip_first && key.mv_size == kl &&
		    !memcmp(key.mv_data, k, kl)) {
			continue;
		}
		if ((rv = db_val_json(&v, &rec)) != 0) {
			break;
		}
		if ((state[0] && strcmp(state, spec_str(rec, "state")
		                                   ? spec_str(rec, "state")
		                                   : "")) ||
		    (side[0] &&
		     strcmp(side, spec_str(rec, "side") ? spec_str(rec, "side")
		                                        : ""))) {
			json_decref(rec);
			continue;
		}
		if (json_array_size(out) == limit) {
			json_decref(rec);
			break;
		}
		json_array_append_new(out, rec);
		if (json_array_size(out) == limit) {
			snprintf(next, nn, "%s/%lld/%lld",
			         spec_str(rec, "case"),
			         spec_int(rec, "epoch", 0),
			         spec_int(rec, "attempt", 0));
		}
	}
	mdb_cursor_close(cur);
	store_rd_end(s, txn);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

void
api_handoff_list(struct http_call *c)
{
	static const char *const sides[] = { "source", "target", NULL };
	char state[16] = "", side[8] = "", after[96] = "", lim[12] = "";
	uint8_t k[FSM_HANDOFF_KEY_MAX] = { 'R' };
	size_t kl = 1, limit = LIST_DEFAULT;
	char next[96];
	json_t *out = json_array(), *v;
	int i, rv;

	if (api_query(c, "state", state, sizeof(state)) < 0 ||
	    api_query(c, "side", side, sizeof(side)) < 0 ||
	    api_query(c, "after", after, sizeof(after)) < 0 ||
	    api_query(c, "limit", lim, sizeof(lim)) < 0) {
		json_decref(out);
		return;
	}
	for (i = 0; state[0] && i < HANDOFF_NSTATES &&
	            strcmp(state, handoff_state_name((enum handoff_state)i));
	     i++) {
	}
	if (state[0] &&
	    (!strcmp(state, "requested") || !strcmp(state, "request_refused") ||
	     !strcmp(state, "request_offered"))) {
		i = HANDOFF_OFFERED; /* a request's state: filtered by name */
	}
	if (state[0] && (i == HANDOFF_NSTATES || i == HANDOFF_NONE)) {
		json_decref(out);
		http_reply_error(c, 400, "bad_code", "state",
		                 "state: \"%s\" is not a handoff state "
		                 "(offered, transferred, aborted, refused, "
		                 "prepared, owned, declined, cancelled, "
		                 "requested, request_refused, "
		                 "request_offered)",
		                 state);
		return;
	}
	if (side[0] && !spec_one_of(side, sides)) {
		json_decref(out);
		http_reply_error(c, 400, "bad_code", "side",
		                 "side: source or target");
		return;
	}
	if (lim[0]) {
		char *end;
		long l = strtol(lim, &end, 10);
		if (*end != '\0' || l < 1 || l > LIST_MAX) {
			json_decref(out);
			http_reply_error(c, 400, "out_of_range", "limit",
			                 "limit: 1 to %d", LIST_MAX);
			return;
		}
		limit = (size_t)l;
	}
	if (after[0] && cursor_key(after, k, &kl) != 0) {
		json_decref(out);
		http_reply_error(c, 400, "malformed", "after",
		                 "after: the \"next\" of the previous page "
		                 "(CASE/EPOCH/ATTEMPT)");
		return;
	}
	rv = scan(c->node->store, k, kl, after[0] != '\0', 1, state, side,
	          limit, out, next, sizeof(next));
	if (rv != TB_OK) {
		json_decref(out);
		http_reply_error(c, 500, tb_errname(rv), NULL,
		                 "reading handoffs: %s", tb_strerror(rv));
		return;
	}
	v = json_pack("{s:o}", "handoffs", out);
	if (v != NULL && next[0]) {
		json_object_set_new(v, "next", json_string(next));
	}
	http_reply_json(c, 200, v);
}

void
api_handoff_case(struct http_call *c, const char *id)
{
	uint8_t k[FSM_HANDOFF_KEY_MAX];
	size_t kl = fsm_handoff_key('R', id, 0, 0, k) - 8;
	json_t *out = json_array(), *v, *due = NULL;
	char next[96];
	MDB_txn *txn;
	int rv;

	if (strlen(id) >= FSM_HANDOFF_ID_MAX) {
		json_decref(out);
		http_reply_error(c, 404, "not_found", NULL, "no such case");
		return;
	}
	rv = scan(c->node->store, k, kl, false, kl, "", "", LIST_MAX, out, next,
	          sizeof(next));
	if (rv != TB_OK) {
		json_decref(out);
		http_reply_error(c, 500, tb_errname(rv), NULL,
		                 "reading handoffs: %s", tb_strerror(rv));
		return;
	}
	if (json_array_size(out) == 0) {
		json_decref(out);
		http_reply_error(c, 404, "not_found", NULL,
		                 "case %s has no handoff at %s", id,
		                 c->node->cfg.region);
		return;
	}
	v = json_pack("{s:s, s:o}", "case", id, "handoffs", out);
	/* The owner's NOTIFY to the receiving region not yet acknowledged
	 * (results delivered back), if any. */
	if (v != NULL && store_rd_begin(c->node->store, &txn) == 0) {
		if (fsm_handoff_notify_get(c->node->store, txn, id, &due) ==
		    TB_OK) {
			json_object_set_new(v, "notify_due", due);
		}
		store_rd_end(c->node->store, txn);
	}
	http_reply_json(c, 200, v);
}

char *
api_handoff_metrics(struct node *n)
{
	static const char *const sides[] = { "source", "target" };
	size_t len = 0, cap = 4096;
	char *b = malloc(cap), name[48];
	MDB_txn *txn;
	int i, st;

	if (b == NULL || store_rd_begin(n->store, &txn) != 0) {
		free(b);
		return NULL;
	}
	len = (size_t)snprintf(b, cap,
	                       "# HELP tongban_handoffs Handoff records by "
	                       "side and state.\n"
	                       "# TYPE tongban_handoffs gauge\n");
	for (i = 0; i < 2; i++) {
		for (st = HANDOFF_OFFERED; st < HANDOFF_NSTATES; st++) {
			const char *sn = handoff_state_name(st);
			uint64_t v = 0;

			if ((i == 0) != (st < HANDOFF_PREPARED)) {
				continue;
			}
			snprintf(name, sizeof(name), "h/%s/%s", sides[i], sn);
			meta_get_u64(n->store, txn, name, &v);
			len += (size_t)snprintf(
			    b + len, cap - len,
			    "tongban_handoffs{side=\"%s\",state=\"%s\"} "
			    "%llu\n",
			    sides[i], sn, (unsigned long long)v);
		}
	}
	store_rd_end(n->store, txn);
	if (n->handoff != NULL) {
		struct handoff_node *h = n->handoff;

		len += (size_t)snprintf(
		    b + len, cap - len,
		    "# HELP tongban_handoff_frames_total Handoff frames.\n"
		    "# TYPE tongban_handoff_frames_total counter\n"
		    "tongban_handoff_frames_total{dir=\"sent\"} %llu\n"
		    "tongban_handoff_frames_total{dir=\"received\"} %llu\n"
		    "tongban_handoff_frames_total{dir=\"relayed\"} %llu\n"
		    "tongban_handoff_frames_total{dir=\"dropped\"} %llu\n",
		    (unsigned long long)h->sent,
		    (unsigned long long)h->received,
		    (unsigned long long)h->relayed,
		    (unsigned long long)h->dropped);
	}
	return b;
}
