/* HTTP handlers: health, metrics, materials (blobs), audit, case
 * submission and token creation. */
#include "node/api.h"
#include "node/api_handoff.h"

#include "consensus/fsync.h"
#include "consensus/raftio.h"
#include "node/api_ctoken.h"
#include "node/blob.h"
#include "node/group.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region.h"
#include "node/store.h"
#include "schema/canon.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum route_class {
	ROUTE_OPS,
	ROUTE_READ,
	ROUTE_CASE_WRITE,
	ROUTE_CATALOG_WRITE,
	ROUTE_BLOB,
	ROUTE_TOKEN,
	ROUTE_OTHER,
	ROUTE_COUNT
};

static const char *const route_names[ROUTE_COUNT] = {
	"ops", "read", "case_write", "catalog_write", "blob", "token", "other"
};

/* Latency buckets in microseconds for the Prometheus histogram. */
static const unsigned long long buckets_us[11] = { 500,     1000,   2000,
	                                           5000,    10000,  20000,
	                                           50000,   100000, 250000,
	                                           1000000, 5000000 };

static int
route_of(const struct http_call *c)
{
	bool get = !strcmp(c->method, "GET");

	if (strncmp(c->path, "/v1/", 4) != 0) {
		return ROUTE_OPS;
	}
	if (!strncmp(c->path, "/v1/blobs", 9)) {
		return ROUTE_BLOB;
	}
	if (get) {
		return ROUTE_READ;
	}
	if (!strncmp(c->path, "/v1/cases", 9)) {
		return ROUTE_CASE_WRITE;
	}
	if (!strncmp(c->path, "/v1/catalog", 11)) {
		return ROUTE_CATALOG_WRITE;
	}
	if (!strncmp(c->path, "/v1/tokens", 10)) {
		return ROUTE_TOKEN;
	}
	return ROUTE_OTHER;
}

void
node_observe_call(struct http_call *c)
{
	struct node *n = c->node;
	unsigned long long us =
	    (unsigned long long)(http_now_ns() - c->start_ns) / 1000;
	int r = route_of(c), cls = c->status / 100, i;

	if (cls < 1 || cls > 5) {
		cls = 0;
	}
	n->m.requests[r][cls]++;
	n->m.latency_us_sum[r] += us;
	for (i = 0; i < 11; i++) {
		if (us <= buckets_us[i]) {
			n->m.latency_bucket[r][i]++;
		}
	}
	n->m.latency_bucket[r][11]++;
}

/* overlay_health warns, on healthz, of each problem this region's own
 * overlay has against the layers above as they are now. */
static void
overlay_health(struct node *n, json_t *ok)
{
	json_t *cf = NULL, *w, *x;
	size_t i;

	if (store_overlay_conflicts(n->store, &cf) != TB_OK ||
	    json_array_size(cf) == 0) {
		json_decref(cf);
		return;
	}
	if ((w = json_object_get(ok, "warnings")) == NULL) {
		json_object_set_new(ok, "warnings", w = json_array());
	}
	json_array_foreach(cf, i, x)
	{
		json_array_append_new(
		    w, json_sprintf(
		           "TB-CATALOG-OVERLAY-CONFLICT: overlay of "
		           "%s version %lld, %s: %s (a promise beyond "
		           "a cap above is served at the cap; publish "
		           "a corrected overlay; GET /v1/catalog "
		           "overlay_conflicts)",
		           spec_str(x, "region"), spec_int(x, "version", 0),
		           spec_str(x, "field"), spec_str(x, "message")));
	}
	json_decref(cf);
}

void
api_health(struct http_call *c, bool ready)
{
	struct node *n = c->node;

	if (ready && link_fenced(n->links)) {
		/* An old member of a recovered group serves no writes: out of
		 * a load balancer's rotation (docs/GROUPS.md). */
		http_reply_error(c, 503, "fenced", NULL,
		                 "this node is an old member of a group that "
		                 "was recovered without it (GET /v1/status: "
		                 "incarnation.fenced_by)");
		return;
	}
	if (ready && !n->ready && n->cfg.join[0] != '\0' && n->links == NULL) {
		http_reply_error(c, 503, "not_ready", NULL,
		                 "this node joins a group but its links are "
		                 "off (no certificate): install its member "
		                 "certificate (tongban cert install), then "
		                 "restart it");
		return;
	}
	if (ready && !n->ready && n->cfg.join[0] != '\0' &&
	    n->view.leader_id == 0) {
		http_reply_error(c, 503, "not_ready", NULL,
		                 "waiting to be added to the group: on a "
		                 "member, tongban group add %s %s",
		                 n->cfg.node_id, n->cfg.link);
		return;
	}
	if (ready && !n->ready) {
		http_reply_error(c, 503, "not_ready", NULL,
		                 "the node has no leader or is still starting");
		return;
	}
	if (ready && n->view.leader_silent_ms >
	                 2 * (long long)n->cfg.election_ms + 1000) {
		char lid[17];
		group_node_id(n->view.leader_id, lid);
		http_reply_error(c, 503, "not_leader", NULL,
		                 "no message from the leader %s for %lld ms "
		                 "(removed from the group, a spare now, or "
		                 "cut off from it): writes would fail",
		                 lid, (long long)n->view.leader_silent_ms);
		return;
	}
	if (ready && n->view.leader_id == 0) {
		/* Ready once is not ready for good: a member that lost its
		 * leader (an election, a lost quorum, removed from the group)
		 * takes no writes until it knows one again. */
		http_reply_error(c, 503, "not_leader", NULL,
		                 "this member knows no leader now (an "
		                 "election, a lost quorum, or it was removed "
		                 "from the group): writes would fail");
		return;
	}
	if (n->view.state == RAFT_UNAVAILABLE && n->start_ms > 0 &&
	    n->view.term > 0) {
		http_reply_error(c, 503, "unavailable", NULL,
		                 "the Raft group is unavailable");
		return;
	}
	{
		/* A member's clock far from this one's is a warning, not a
		 * failure (docs/GROUPS.md). */
		json_t *gv = group_view_json(n), *ok;
		long long skew = spec_int(gv, "max_clock_skew_ms", -1);
		ok = json_pack("{s:s}", "status", "ok");
		if (skew > GROUP_SKEW_WARN_MS) {
			json_object_set_new(
			    ok, "warnings",
			    json_pack("[s]", "clock skew with a member of the "
			                     "group over 1000 ms (see GET "
			                     "/v1/status group.members)"));
			json_object_set_new(ok, "max_clock_skew_ms",
			                    json_integer(skew));
		}
		if (json_is_object(json_object_get(gv, "address_mismatch"))) {
			const json_t *am =
			    json_object_get(gv, "address_mismatch");
			json_t *w = json_object_get(ok, "warnings");
			char text[400];
			if (w == NULL) {
				json_object_set_new(ok, "warnings",
				                    w = json_array());
			}
			snprintf(text, sizeof(text),
			         "TB-GROUP-ADDRESS: the group's configuration "
			         "records this node at %s, tongban.json's link "
			         "is %s",
			         spec_str(am, "configuration"),
			         spec_str(am, "tongban_json"));
			json_array_append_new(w, json_string(text));
		}
		json_decref(gv);
		if (link_fenced(n->links)) {
			json_t *w = json_object_get(ok, "warnings");
			if (w == NULL) {
				json_object_set_new(ok, "warnings",
				                    w = json_array());
			}
			json_array_append_new(
			    w,
			    json_string("this node is an old member of a "
			                "recovered group (fenced): it takes "
			                "no part in Raft and refuses writes"));
		}
		region_latest_health(n, ok); /* a withheld release */
		overlay_health(n, ok); /* a cap above lowered below ours */
		http_reply_json(c, 200, ok);
	}
}

/* mbuf: a growing text buffer for the metrics page. */
struct mbuf {
	char *p;
	size_t len, cap;
};

static void mb_printf(struct mbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		k = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (k < 0) {
			return;
		}
		if ((size_t)k < room) {
			b->len += (size_t)k;
			return;
		}
		{
			size_t cap = b->cap ? b->cap * 2 : 8192;
			char *np;
			while (cap - b->len <= (size_t)k) {
				cap *= 2;
			}
			if ((np = realloc(b->p, cap)) == NULL) {
				return;
			}
			b->p = np;
			b->cap = cap;
		}
	}
}

void
api_metrics(struct http_call *c)
{
	static const char *const classes[6] = { "other", "1xx", "2xx",
		                                "3xx",   "4xx", "5xx" };
	struct node *n = c->node;
	struct mbuf b = { 0 };
	json_t *st = NULL, *counts, *v;
	const char *k;
	int r, i;

	mb_printf(&b, "# HELP tongban_http_requests_total HTTP requests.\n"
	              "# TYPE tongban_http_requests_total counter\n");
	for (r = 0; r < ROUTE_COUNT; r++) {
		for (i = 0; i < 6; i++) {
			if (n->m.requests[r][i] == 0) {
				continue;
			}
			mb_printf(&b,
			          "tongban_http_requests_total{route=\"%s\","
			          "code=\"%s\"} %llu\n",
			          route_names[r], classes[i],
			          (unsigned long long)n->m.requests[r][i]);
		}
	}
	mb_printf(&b, "# HELP tongban_http_request_seconds HTTP latency.\n"
	              "# TYPE tongban_http_request_seconds histogram\n");
	for (r = 0; r < ROUTE_COUNT; r++) {
		if (n->m.latency_bucket[r][11] == 0) {
			continue;
		}
		for (i = 0; i < 11; i++) {
			mb_printf(
			    &b,
			    "tongban_http_request_seconds_bucket{route="
			    "\"%s\",le=\"%g\"} %llu\n",
			    route_names[r], buckets_us[i] / 1e6,
			    (unsigned long long)n->m.latency_bucket[r][i]);
		}
		mb_printf(&b,
		          "tongban_http_request_seconds_bucket{route=\"%s\","
		          "le=\"+Inf\"} %llu\n"
		          "tongban_http_request_seconds_sum{route=\"%s\"} %g\n"
		          "tongban_http_request_seconds_count{route=\"%s\"} "
		          "%llu\n",
		          route_names[r],
		          (unsigned long long)n->m.latency_bucket[r][11],
		          route_names[r], n->m.latency_us_sum[r] / 1e6,
		          route_names[r],
		          (unsigned long long)n->m.latency_bucket[r][11]);
	}
	mb_printf(
	    &b,
	    "# TYPE tongban_raft_term gauge\ntongban_raft_term %llu\n"
	    "# TYPE tongban_raft_commit_index gauge\n"
	    "tongban_raft_commit_index %llu\n"
	    "# TYPE tongban_raft_applied_index gauge\n"
	    "tongban_raft_applied_index %llu\n"
	    "# TYPE tongban_raft_leader gauge\ntongban_raft_leader %d\n"
	    "# TYPE tongban_applies_total counter\n"
	    "tongban_applies_total %llu\n"
	    "# TYPE tongban_refusals_total counter\n"
	    "tongban_refusals_total %llu\n"
	    "# TYPE tongban_apply_redos_total counter\n"
	    "tongban_apply_redos_total %llu\n"
	    "# TYPE tongban_store_commits_total counter\n"
	    "tongban_store_commits_total %llu\n"
	    "# TYPE tongban_store_answered_early_total counter\n"
	    "tongban_store_answered_early_total %llu\n"
	    "# TYPE tongban_proposals_total counter\n"
	    "tongban_proposals_total %llu\n"
	    "# TYPE tongban_proposal_batches_total counter\n"
	    "tongban_proposal_batches_total %llu\n"
	    "# TYPE tongban_proposals_held_total counter\n"
	    "tongban_proposals_held_total %llu\n"
	    "# TYPE tongban_store_full_total counter\n"
	    "tongban_store_full_total %llu\n"
	    "# TYPE tongban_joins_total counter\n"
	    "tongban_joins_total{result=\"enrolled\"} %llu\n"
	    "tongban_joins_total{result=\"refused\"} %llu\n",
	    (unsigned long long)n->view.term,
	    (unsigned long long)n->view.commit,
	    (unsigned long long)n->view.applied, n->view.state == RAFT_LEADER,
	    (unsigned long long)n->m.applies, (unsigned long long)n->m.refusals,
	    (unsigned long long)n->m.apply_redos,
	    (unsigned long long)n->m.store_commits,
	    (unsigned long long)n->m.answered_early,
	    (unsigned long long)n->m.proposals,
	    (unsigned long long)n->m.prop_batches,
	    (unsigned long long)n->m.prop_held,
	    (unsigned long long)n->m.store_full,
	    (unsigned long long)n->m.joins_ok,
	    (unsigned long long)n->m.joins_refused);
	{
		/* The Raft log writer: each commit is one synced LMDB
		 * transaction (fdatasync of the data, then an O_DSYNC write of
		 * the meta page), holding a batch of appends. */
		struct raftio_stats rs;
		raftio_stats(&n->io, &rs);
		mb_printf(&b,
		          "# TYPE tongban_raft_log_commits_total counter\n"
		          "tongban_raft_log_commits_total %llu\n"
		          "# TYPE tongban_raft_log_appends_total counter\n"
		          "tongban_raft_log_appends_total %llu\n"
		          "# TYPE tongban_raft_log_entries_total counter\n"
		          "tongban_raft_log_entries_total %llu\n"
		          "# TYPE tongban_raft_log_max_batch gauge\n"
		          "tongban_raft_log_max_batch %llu\n",
		          (unsigned long long)rs.commits,
		          (unsigned long long)rs.appends,
		          (unsigned long long)rs.entries,
		          (unsigned long long)rs.max_batch);
	}
	{
		/* The replica group (docs/GROUPS.md). */
		json_t *gv = group_view_json(n);
		json_t *gc = json_object_get(gv, "counters");
		mb_printf(
		    &b,
		    "# TYPE tongban_group_members gauge\n"
		    "tongban_group_members %zu\n"
		    "# TYPE tongban_group_raft_messages_total counter\n"
		    "tongban_group_raft_messages_total{dir=\"tx\"} %lld\n"
		    "tongban_group_raft_messages_total{dir=\"rx\"} %lld\n"
		    "# TYPE tongban_group_refused_total counter\n"
		    "tongban_group_refused_total %lld\n"
		    "# TYPE tongban_group_malformed_total counter\n"
		    "tongban_group_malformed_total %lld\n"
		    "# TYPE tongban_group_forwarded_total counter\n"
		    "tongban_group_forwarded_total %lld\n"
		    "# TYPE tongban_group_snapshots_total counter\n"
		    "tongban_group_snapshots_total{result=\"installed\"} %lld\n"
		    "tongban_group_snapshots_total{result=\"failed\"} %lld\n"
		    "tongban_group_snapshots_total{result=\"served\"} %lld\n",
		    json_array_size(json_object_get(gv, "members")),
		    spec_int(gc, "raft_tx", 0), spec_int(gc, "raft_rx", 0),
		    spec_int(gc, "refused", 0), spec_int(gc, "malformed", 0),
		    spec_int(gc, "forwarded", 0),
		    spec_int(gc, "snapshots_installed", 0),
		    spec_int(gc, "snapshot_pulls_failed", 0),
		    spec_int(gc, "snapshots_served", 0));
		json_decref(gv);
	}
	{
		/* The group's incarnation (docs/GROUPS.md, "Recovering a
		 * group that lost its quorum"). */
		struct link_incarnation inc;
		link_incarnation(n->links, &inc);
		mb_printf(&b,
		          "# TYPE tongban_group_incarnation gauge\n"
		          "tongban_group_incarnation %llu\n"
		          "# TYPE tongban_group_fenced gauge\n"
		          "tongban_group_fenced %d\n",
		          (unsigned long long)inc.current,
		          inc.fenced_by > 0 ? 1 : 0);
		link_incarnation_free(&inc);
	}
	if (store_status(n->store, &st) == 0) {
		json_t *size = json_object_get(st, "store");
		counts =
		    json_object_get(json_object_get(st, "cases"), "by_state");
		mb_printf(&b, "# TYPE tongban_cases gauge\n");
		json_object_foreach(counts, k, v)
		{
			mb_printf(&b, "tongban_cases{state=\"%s\"} %lld\n", k,
			          (long long)json_integer_value(v));
		}
		if (json_is_integer(json_object_get(st, "overdue"))) {
			mb_printf(&b,
			          "# TYPE tongban_cases_overdue gauge\n"
			          "tongban_cases_overdue %lld\n",
			          (long long)json_integer_value(
			              json_object_get(st, "overdue")));
		}
		json_object_foreach(size, k, v)
		{
			if (json_is_integer(v)) {
				mb_printf(&b,
				          "# TYPE tongban_store_%s gauge\n"
				          "tongban_store_%s %lld\n",
				          k, k,
				          (long long)json_integer_value(v));
			}
		}
		json_decref(st);
	}
	{
		char *ct = api_ctok_metrics_text(n->ctok);
		if (ct != NULL) {
			mb_printf(&b, "%s", ct);
			free(ct);
		}
	}
	{
		char *rt = region_metrics_text(n);
		if (rt != NULL) {
			mb_printf(&b, "%s", rt);
			free(rt);
		}
	}
	{
		char *lt = region_latest_metrics(n);
		if (lt != NULL) {
			mb_printf(&b, "%s", lt);
			free(lt);
		}
	}
	{
		char *ht = api_handoff_metrics(n);
		if (ht != NULL) {
			mb_printf(&b, "%s", ht);
			free(ht);
		}
	}
	{
		char *lt = links_metrics_text(n->links);
		if (lt != NULL) {
			mb_printf(&b, "%s", lt);
			free(lt);
		}
	}
	http_reply_raw(c, 200, "text/plain; version=0.0.4", b.p, b.len, NULL);
	free(b.p);
}

void
api_audit_get(struct http_call *c)
{
	char path[PATH_MAX + 16], line[4096], limit[16] = "";
	json_t *lines = json_array(), *v;
	long lim = 100;
	FILE *f;
	int rv = api_query(c, "limit", limit, sizeof(limit));

	if (rv < 0) {
		json_decref(lines);
		return;
	}
	if (rv == 0) {
		char *end;
		lim = strtol(limit, &end, 10);
		if (*end != '\0' || lim < 1 || lim > 10000) {
			json_decref(lines);
			http_reply_error(c, 400, "out_of_range", "limit",
			                 "limit must be 1..10000");
			return;
		}
	}
	snprintf(path, sizeof(path), "%s/audit.log", c->node->cfg.dir);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			json_error_t je;
			if ((v = json_loads(line, 0, &je)) != NULL) {
				json_array_append_new(lines, v);
			}
			if ((long)json_array_size(lines) > lim) {
				json_array_remove(lines, 0);
			}
		}
		fclose(f);
	}
	http_reply_json(c, 200, json_pack("{s:o}", "audit", lines));
}

/* ---- cases and tokens ------------------------------------------------- */

void
api_case_submit(struct http_call *c, json_t *req)
{
	const char *key = http_header(c, "Idempotency-Key");
	json_t *m, *rcv;
	size_t i;

	if (key != NULL && (strlen(key) == 0 || strlen(key) > 128)) {
		http_reply_error(c, 400, "invalid", "Idempotency-Key",
		                 "an idempotency key has 1..128 characters");
		return;
	}
	/* Materials are node-local blobs: the case may only reference ones
	 * this node holds (they travel with the case when it moves). */
	json_array_foreach(json_object_get(req, "materials"), i, m)
	{
		const char *h = spec_str(m, "hash");
		char field[64];

		/* (blob_exists checks the hash's form first.) */
		if (h == NULL || blob_exists(c->node, h)) {
			continue; /* the path is rendered only for an error */
		}
		snprintf(field, sizeof(field), "$.materials[%zu].hash", i);
		if (!blob_hash_ok(h)) {
			http_reply_error(
			    c, 422, "bad_code", field,
			    "a material is named by its BLAKE2b-256 "
			    "hash (64 lowercase hex digits)");
			return;
		}
		if (!blob_exists(c->node, h)) {
			http_reply_error(c, 422, "not_found", field,
			                 "material %s was not uploaded to this "
			                 "node (PUT /v1/blobs first)",
			                 h);
			return;
		}
	}
	/* The receiving clerk is who the token says, never what the body
	 * claims: the record names who took the application in. */
	rcv = json_object_get(req, "receiver");
	if (rcv != NULL &&
	    (!json_is_string(rcv) ||
	     strcmp(json_string_value(rcv), spec_str(c->token, "id")) != 0)) {
		http_reply_error(c, 422, "invalid", "receiver",
		                 "receiver is set by the node from the bearer "
		                 "token (%s); leave it out",
		                 spec_str(c->token, "id"));
		return;
	}
	/* req is the caller's, parsed for this call alone: the receiver is
	 * set in it rather than in a deep copy (a copy cost as much as a
	 * tenth of the request's parse and encode). */
	if (json_object_set_new(req, "receiver",
	                        json_string(spec_str(c->token, "id"))) != 0) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	c->fields = api_fields(CMD_CASE_CREATE);
	node_propose(c->node, c, CMD_CASE_CREATE, req, key);
}

void
api_token_create(struct http_call *c, json_t *req)
{
	static const struct spec_field f[] = {
		{ "role", SPEC_STRING, true },
		{ "region", SPEC_STRING, false },
		{ "name", SPEC_STRING, false },
		{ "expires_in_days", SPEC_INT, false },
	};
	struct tb_diag d;
	enum api_role want;
	uint8_t secret[24], id[6];
	char token[64], idhex[16], hash[65];
	const char *region;
	long long days;
	json_t *body;

	tb_diag_init(&d);
	if (spec_object(req, f, 4, "$", &d) != 0) {
		http_reply_error(c, 422, tb_errname(d.e[0].code), d.e[0].path,
		                 "%s", d.e[0].msg);
		return;
	}
	if (api_role_parse(spec_str(req, "role"), &want) != 0) {
		http_reply_error(c, 422, "bad_code", "$.role",
		                 "role must be clerk, region_admin, "
		                 "provincial_admin, auditor or service");
		return;
	}
	region = spec_str(req, "region");
	if (region == NULL) {
		region = c->node->cfg.region;
	}
	{
		int32_t b;
		if (region_code_parse(region, &b) != 0 ||
		    region_find(region_builtin(), b) == NULL) {
			http_reply_error(c, 422, "bad_code", "$.region",
			                 "%s is not a region of GB/T 2260",
			                 region);
			return;
		}
	}
	if (api_may_manage(c, want, region, "create", true) != 0) {
		return;
	}
	days = spec_int(req, "expires_in_days", 0);
	if (days < 0 || days > 3650) {
		http_reply_error(c, 422, "out_of_range", "$.expires_in_days",
		                 "0 (never) .. 3650 days");
		return;
	}
	randombytes_buf(secret, sizeof(secret));
	randombytes_buf(id, sizeof(id));
	memcpy(token, "tb_", 3);
	canon_hex(secret, sizeof(secret), token + 3);
	idhex[0] = 't';
	canon_hex(id, sizeof(id), idhex + 1);
	node_token_hash(token, hash);
	body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", idhex, "hash", hash,
	                 "role", api_role_name(want), "region", region, "name",
	                 spec_str(req, "name") ? spec_str(req, "name") : "");
	if (days > 0) {
		json_object_set_new(
		    body, "expires",
		    json_integer(node_now_ms() + days * 86400000LL));
	}
	/* The secret is shown once, in this reply, with the token's id (to
	 * revoke it), role, region, name and expiry; only its hash is kept. */
	c->extra = json_deep_copy(body);
	json_object_del(c->extra, "hash");
	json_object_set_new(c->extra, "token", json_string(token));
	{
		/* A node-local token lives in this group's state and is
		 * checked only here, where a region below the node's is
		 * refused ("a token of region 370102 may not read at
		 * 370000"): say so rather than hand out a token that works
		 * nowhere. */
		int32_t nb, tb;
		if (region_code_parse(c->node->cfg.region, &nb) == 0 &&
		    region_code_parse(region, &tb) == 0 &&
		    region_is_ancestor(region_builtin(), nb, tb)) {
			json_object_set_new(
			    c->extra, "warning",
			    json_sprintf(
			        "this token is kept and checked at the nodes "
			        "of %s only, where a token of %s (below it) "
			        "may do nothing: make it at a node of %s, or "
			        "sign a chain token (tongban token sign "
			        "--scope %s), valid at every node of it",
			        c->node->cfg.region, region, region, region));
		}
	}
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(token, sizeof(token));
	node_audit(c->node, c, "token.create", idhex);
	c->fields = api_fields(CMD_TOKEN_CREATE);
	node_propose(c->node, c, CMD_TOKEN_CREATE, body, NULL);
	json_decref(body);
}
