/* Between regions, what operators see: the view (GET /v1/status "tree",
 * GET /v1/region), the reports sent up the tree, the rollout of a version
 * (GET /v1/catalog/rollout) and metrics. What the node keeps in step
 * (links.json, init's topology, the incarnation) is in region_sync.c. */
#include "node/region_impl.h"

#include "node/link.h"
#include "node/node.h"
#include "node/region_store.h"
#include "node/store.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* catalog_brief: {"standard": version, "overlays": {region: version}}. */
static json_t *
catalog_brief(struct store *s)
{
	json_t *c = NULL, *ovs, *o, *out;
	size_t i;

	if (store_catalog(s, &c) != 0) {
		return json_null();
	}
	ovs = json_object();
	json_array_foreach(json_object_get(c, "overlays"), i, o)
	{
		json_object_set_new(ovs, spec_str(o, "region"),
		                    json_integer(spec_int(o, "version", 0)));
	}
	out = json_pack(
	    "{s:I, s:o}", "standard",
	    (json_int_t)spec_int(json_object_get(c, "standard"), "version", 0),
	    "overlays", ovs);
	json_decref(c);
	return out;
}

/* child_row: what this region knows of child k, with its report. */
static json_t *
child_row(struct region_flow *f, struct region_child *k, int64_t now)
{
	struct outbox_out o;
	struct outbox_in in;
	char code[8];
	uint64_t backlog = 0;
	json_t *row, *rep;

	snprintf(code, sizeof(code), "%06u", k->code);
	if (k->stream && region_store_out(f->n->store, k->code, &o) == 0) {
		backlog = outbox_out_backlog(&o);
	} else {
		outbox_out_init(&o, k->code, f->inc ? f->inc : 1);
	}
	if (backlog == 0) {
		k->backlog_since = 0;
	} else if (k->backlog_since == 0) {
		k->backlog_since = now;
	}
	rep = k->report;
	row = json_pack(
	    "{s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:I, s:O?, "
	    "s:O?, s:O?}",
	    "region", code, "stream", k->stream, "link_up",
	    f->n->links != NULL && link_up(f->n->links, code), "backlog",
	    (json_int_t)backlog, "inc", (json_int_t)o.inc, "next",
	    (json_int_t)o.next, "old", (json_int_t)o.old, "acked", "inc",
	    (json_int_t)o.acked.inc, "seq", (json_int_t)o.acked.seq, "lag_ms",
	    (json_int_t)(k->backlog_since ? now - k->backlog_since : 0),
	    "catalog", json_object_get(rep, "catalog"), "refused",
	    json_object_get(rep, "refused"), "below",
	    json_object_get(rep, "below"));
	if (row != NULL && region_store_in(f->n->store, k->code, &in) == 0) {
		/* The cursor of its stream up (case summaries): what this
		 * region delivered from it. */
		json_object_set_new(row, "inbound",
		                    json_pack("{s:I, s:I, s:I}", "inc",
		                              (json_int_t)in.cursor.inc, "seq",
		                              (json_int_t)in.cursor.seq, "by",
		                              (json_int_t)in.by));
	}
	if (row != NULL) {
		const json_t *lv = json_object_get(rep, "level");

		json_object_set_new(
		    row, "watch",
		    region_latest_row(json_object_get(rep, "watch")));
		/* The child's feature level as it reported it (an added,
		 * optional field: null from an older build), checked: a
		 * province sees which region below needs raising. */
		json_object_set_new(row, "level",
		                    json_is_integer(lv) &&
		                            json_integer_value(lv) >= 1 &&
		                            json_integer_value(lv) <= 255
		                        ? json_integer(json_integer_value(lv))
		                        : json_null());
		json_object_set_new(row, "report_age_ms",
		                    k->report_at
		                        ? json_integer(now - k->report_at)
		                        : json_null());
		/* The node this region sends to there (its leader, as
		 * last heard). */
		json_object_set_new(row, "leader",
		                    k->leader[0] ? json_string(k->leader)
		                                 : json_null());
	}
	return row;
}

/* parent_group: the parent's group as its members named it (the leader
 * this node sends to, and the members it dials), or null. */
static json_t *
parent_group(struct region_flow *f)
{
	json_t *ms, *out;
	unsigned i;

	if (f->parent == 0 || (ms = json_array()) == NULL) {
		return json_null();
	}
	pthread_mutex_lock(&f->mu);
	for (i = 0; i < f->npm; i++) {
		json_array_append_new(
		    ms, json_pack("{s:s, s:s, s:b}", "node_id", f->pm[i].id,
		                  "url", f->pm[i].url, "link_up",
		                  f->n->links != NULL &&
		                      link_up(f->n->links, f->pm[i].id)));
	}
	out = json_pack("{s:o, s:I, s:b, s:o}", "leader",
	                f->parent_leader[0] ? json_string(f->parent_leader)
	                                    : json_null(),
	                "term", (json_int_t)f->parent_term, "known",
	                f->pm_known, "members", ms);
	pthread_mutex_unlock(&f->mu);
	return out;
}

void
region_view_refresh(struct region_flow *f)
{
	struct node *n = f->n;
	struct outbox_in in;
	json_t *v, *rows = json_array(), *topo = NULL, *inb = json_null();
	int64_t now = region_mono_ms(f);
	unsigned i;

	pthread_mutex_lock(&f->mu);
	for (i = 0; i < f->nkids; i++) {
		json_array_append_new(rows, child_row(f, &f->kids[i], now));
	}
	pthread_mutex_unlock(&f->mu);
	region_store_topology(n->store, &topo);
	if (f->parent != 0 && region_store_in(n->store, f->parent, &in) == 0) {
		json_decref(inb);
		inb = json_pack(
		    "{s:s, s:{s:I, s:I}, s:o}", "origin", f->parent_s, "cursor",
		    "inc", (json_int_t)in.cursor.inc, "seq",
		    (json_int_t)in.cursor.seq, "refused",
		    f->refused_why[0]
		        ? json_pack("{s:I, s:I, s:s, s:I}", "inc",
		                    (json_int_t)f->refused_pos.inc, "seq",
		                    (json_int_t)f->refused_pos.seq, "reason",
		                    f->refused_why, "age_ms",
		                    (json_int_t)(now - f->refused_at))
		        : json_null());
	}
	v = json_pack(
	    "{s:s, s:o, s:s, s:i, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I}}",
	    "region", n->cfg.region, "topology", topo ? topo : json_null(),
	    "driver",
	    f->inc_pending                        ? "waiting: this node's "
	                                            "incarnation is not "
	                                            "replicated yet "
	                                            "(group.incarnation)"
	    : f->on                               ? "leader"
	    : store_feature_level(n->store) < 2   ? "off: feature level 1 "
	                                            "(tongban group features "
	                                            "--set 2)"
	    : n->links == NULL                    ? "off: no links (no "
	                                            "certificate installed)"
	    : raft_state(&n->raft) != RAFT_LEADER ? "follower"
	                                          : "starting",
	    "incarnation", (int)(f->inc ? f->inc : 1), "catalog",
	    catalog_brief(n->store), "inbound", inb, "outboxes", rows,
	    "counters", "frames_tx", (json_int_t)f->tx, "frames_rx",
	    (json_int_t)f->rx, "malformed", (json_int_t)f->malformed, "spoofed",
	    (json_int_t)f->spoofed, "refused", (json_int_t)f->refused,
	    "not_leader", (json_int_t)f->not_leader, "delivered",
	    (json_int_t)f->delivered, "acked", (json_int_t)f->acked);
	if (v != NULL) {
		/* Runs (feature level 3): DATA_RUN frames sent, and runs
		 * proposed as one outbox.deliver_run, by this leader. */
		json_t *cn = json_object_get(v, "counters");
		json_int_t rs = 0, rp = 0, ua = 0, sk = 0;
		unsigned k;

		for (k = 0; f->on && k < f->d.n_peers; k++) {
			rs += (json_int_t)f->d.peers[k].runs_sent;
			rp += (json_int_t)f->d.peers[k].runs_proposed;
			ua += (json_int_t)f->d.peers[k].unauth;
			sk += (json_int_t)f->d.peers[k].skips;
		}
		json_object_set_new(cn, "runs_sent", json_integer(rs));
		json_object_set_new(cn, "runs_proposed", json_integer(rp));
		json_object_set_new(cn, "members_rx",
		                    json_integer((json_int_t)f->members_rx));
		json_object_set_new(cn, "redirects",
		                    json_integer((json_int_t)f->redirects));
		json_object_set_new(v, "parent_group", parent_group(f));
		/* Incarnations: frames dropped for their sender's
		 * incarnation, skips proposed (this leader's). */
		json_object_set_new(cn, "unauth", json_integer(ua));
		json_object_set_new(cn, "skips_proposed", json_integer(sk));
		json_object_set_new(cn, "rewinds_proposed",
		                    json_integer((json_int_t)f->rewinds));
	}
	if (v != NULL) {
		/* The stream up (case summaries to the parent), if any. */
		struct outbox_out up;

		json_object_set_new(
		    v, "up",
		    f->parent != 0 &&
		            region_store_out(n->store, f->parent, &up) == 0
		        ? json_pack("{s:s, s:I, s:I, s:I, s:I, s:{s:I, s:I}}",
		                    "region", f->parent_s, "backlog",
		                    (json_int_t)outbox_out_backlog(&up), "inc",
		                    (json_int_t)up.inc, "next",
		                    (json_int_t)up.next, "old",
		                    (json_int_t)up.old, "acked", "inc",
		                    (json_int_t)up.acked.inc, "seq",
		                    (json_int_t)up.acked.seq)
		        : json_null());
	}
	if (v == NULL) {
		return;
	}
	/* The province's latest-version statement and the watch
	 * (region_latest.c), as GET /v1/catalog shows them. */
	json_object_set_new(v, "latest", region_latest_view(n));
	pthread_mutex_lock(&f->mu);
	json_decref(f->view);
	f->view = v;
	pthread_mutex_unlock(&f->mu);
}

json_t *
region_view_json(struct node *n)
{
	json_t *v;

	if (n->flow == NULL) {
		return json_null();
	}
	pthread_mutex_lock(&n->flow->mu);
	v = n->flow->view != NULL ? json_incref(n->flow->view) : json_null();
	pthread_mutex_unlock(&n->flow->mu);
	return v;
}

void
region_report_send(struct region_flow *f)
{
	json_t *v = region_view_json(f->n), *rep, *inb;
	struct region_member ms[REGION_MEMBERS_MAX];
	unsigned n, i;
	char *text;
	bool lead;

	if (!json_is_object(v) || f->n->links == NULL) {
		json_decref(v);
		return;
	}
	inb = json_object_get(v, "inbound");
	rep = json_pack("{s:s, s:O?, s:O?, s:O?}", "region", f->n->cfg.region,
	                "catalog", json_object_get(v, "catalog"), "refused",
	                json_object_get(inb, "refused"), "below",
	                json_object_get(v, "outboxes"));
	json_decref(v);
	if (rep == NULL) {
		return;
	}
	/* This region's watch of the province's statements (ok, waiting,
	 * withheld, stale), so the province sees why a region lags. An
	 * added field: an older parent ignores it. */
	json_object_set_new(rep, "watch", region_latest_report(f->n));
	json_object_set_new(rep, "level",
	                    json_integer(store_feature_level(f->n->store)));
	/* To the leader ("leader": its id) when its link is up, else to
	 * any member ("leader": null: a follower answers with who leads);
	 * and a copy to each other member linked, so that every member's
	 * rollout and view know this region (and a new leader at once). */
	lead = f->parent_leader[0] != '\0' &&
	       link_up(f->n->links, f->parent_leader);
	json_object_set_new(rep, "leader",
	                    lead ? json_string(f->parent_leader) : json_null());
	text = json_dumps(rep, JSON_COMPACT);
	json_decref(rep);
	if (text == NULL) {
		return;
	}
	region_send(f, f->parent, REGION_T_REPORT, (const uint8_t *)text,
	            strlen(text));
	pthread_mutex_lock(&f->mu);
	n = f->npm;
	memcpy(ms, f->pm, sizeof(ms));
	pthread_mutex_unlock(&f->mu);
	for (i = 0; lead && i < n; i++) {
		if (strcmp(ms[i].id, f->parent_leader) != 0 &&
		    link_up(f->n->links, ms[i].id)) {
			link_send(f->n->links, ms[i].id, REGION_T_REPORT, text,
			          strlen(text));
		}
	}
	free(text);
}

/* ---- rollout ------------------------------------------------------------ */

/* rollout_watch: the row's reported watch, checked again (a row relayed
 * from below was checked only by the region that relayed it), on e; and
 * its reported feature level, checked the same way (null if absent). */
static void
rollout_watch(json_t *e, const json_t *r)
{
	const json_t *lv = json_object_get(r, "level");

	if (e != NULL) {
		json_object_set_new(
		    e, "watch", region_latest_row(json_object_get(r, "watch")));
		json_object_set_new(e, "level",
		                    json_is_integer(lv) &&
		                            json_integer_value(lv) >= 1 &&
		                            json_integer_value(lv) <= 255
		                        ? json_integer(json_integer_value(lv))
		                        : json_null());
	}
}

/* rollout_rows walks rows (outboxes, and the "below" of their reports)
 * into applied and lagging, with the reason a region lags; none (NULL when
 * this node holds the version) is the reason of a region merely behind
 * it: "no release N at CODE" rather than waiting for what never came. */
static void
rollout_rows(const json_t *rows, long long ver, const char *none,
             const char *via, bool via_has, int depth, json_t *applied,
             json_t *lagging)
{
	const json_t *r, *ref;
	size_t i;

	json_array_foreach(rows, i, r)
	{
		const char *code = spec_str(r, "region");
		const json_t *cat = json_object_get(r, "catalog");
		const json_t *age = json_object_get(r, "report_age_ms");
		long long have = spec_int(cat, "standard", -1);
		char why[400];
		json_t *e;

		ref = json_object_get(r, "refused");
		if (cat != NULL && have >= ver) {
			e = json_pack("{s:s, s:I, s:s}", "region", code,
			              "applied_version", (json_int_t)have,
			              "via", via);
			rollout_watch(e, r);
			json_array_append_new(applied, e);
		} else {
			if (!json_is_integer(age)) {
				snprintf(why, sizeof(why),
				         "unreachable: no report received "
				         "(link %s)",
				         spec_bool(r, "link_up", false)
				             ? "up"
				             : "down");
			} else if (json_integer_value(age) > REGION_STALE_MS) {
				snprintf(why, sizeof(why),
				         "unreachable: last report %lld ms ago "
				         "(link %s)",
				         (long long)json_integer_value(age),
				         spec_bool(r, "link_up", false)
				             ? "up"
				             : "down");
			} else if (json_is_object(ref)) {
				snprintf(why, sizeof(why),
				         "refused entry %lld: %s",
				         spec_int(ref, "seq", 0),
				         spec_str(ref, "reason"));
			} else if (spec_int(r, "backlog", 0) > 0) {
				snprintf(why, sizeof(why),
				         "in flight: %lld entries not yet "
				         "acknowledged to %s",
				         spec_int(r, "backlog", 0), via);
			} else if (via_has) {
				snprintf(why, sizeof(why),
				         "pending: %s applied it, and the last "
				         "report from %s predates it",
				         via, code);
			} else if (none != NULL) {
				snprintf(why, sizeof(why), "%s", none);
			} else {
				snprintf(
				    why, sizeof(why),
				    "waiting for %s, which has not applied "
				    "version %lld",
				    via, ver);
			}
			e = json_pack("{s:s, s:o, s:s, s:s}", "region", code,
			              "applied_version",
			              cat != NULL ? json_integer(have)
			                          : json_null(),
			              "via", via, "reason", why);
			rollout_watch(e, r);
			json_array_append_new(lagging, e);
		}
		if (depth < 8) {
			rollout_rows(json_object_get(r, "below"), ver, none,
			             code, cat != NULL && have >= ver,
			             depth + 1, applied, lagging);
		}
	}
}

json_t *
region_rollout(struct node *n, long long ver)
{
	json_t *v = region_view_json(n), *applied = json_array();
	json_t *lagging = json_array(), *out, *rows;
	const struct region_table *t = region_builtin();
	const struct region *kids[64];
	int32_t self = 0;
	long long self_ver;
	char none[120];
	size_t nk, i, j;

	rows = json_object_get(v, "outboxes");
	self_ver = spec_int(json_object_get(v, "catalog"), "standard", 0);
	snprintf(none, sizeof(none),
	         "no release %lld at %s (its standard version is %lld)", ver,
	         n->cfg.region, self_ver);
	rollout_rows(rows, ver, self_ver >= ver ? NULL : none, n->cfg.region,
	             self_ver >= ver, 0, applied, lagging);
	/* Children in the table that never made contact lag too. */
	region_code_parse(n->cfg.region, &self);
	nk = region_children(t, self, kids, 64);
	for (i = 0; i < nk && i < 64; i++) {
		char code[8];
		bool seen = false;
		const json_t *r;
		snprintf(code, sizeof(code), "%06d", (int)kids[i]->code);
		json_array_foreach(rows, j, r)
		{
			seen = seen || !strcmp(spec_str(r, "region"), code);
		}
		if (!seen) {
			json_array_append_new(
			    lagging,
			    json_pack("{s:s, s:n, s:s, s:s, s:n}", "region",
			              code, "applied_version", "via",
			              n->cfg.region, "reason",
			              "never connected: no report and no "
			              "stream",
			              "watch"));
		}
	}
	out = json_pack(
	    "{s:I, s:s, s:O?, s:b, s:o, s:o}", "version", (json_int_t)ver,
	    "region", n->cfg.region, "catalog", json_object_get(v, "catalog"),
	    "self_applied",
	    spec_int(json_object_get(v, "catalog"), "standard", 0) >= ver,
	    "applied", applied, "lagging", lagging);
	json_decref(v);
	return out;
}

/* ---- metrics ------------------------------------------------------------ */

char *
region_metrics_text(struct node *n)
{
	json_t *v = region_view_json(n), *r;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL) {
		json_decref(v);
		return NULL;
	}
	fprintf(m, "# HELP tongban_outbox_backlog Entries not yet "
	           "acknowledged, per destination region.\n"
	           "# TYPE tongban_outbox_backlog gauge\n");
	json_array_foreach(json_object_get(v, "outboxes"), i, r)
	{
		fprintf(m, "tongban_outbox_backlog{dest=\"%s\"} %lld\n",
		        spec_str(r, "region"), spec_int(r, "backlog", 0));
	}
	if ((r = json_object_get(v, "up")) != NULL && json_is_object(r)) {
		fprintf(m, "tongban_outbox_backlog{dest=\"%s\"} %lld\n",
		        spec_str(r, "region"), spec_int(r, "backlog", 0));
	}
	fprintf(m, "# HELP tongban_outbox_lag_seconds How long the oldest "
	           "unacknowledged entry's backlog has lasted (leader).\n"
	           "# TYPE tongban_outbox_lag_seconds gauge\n");
	json_array_foreach(json_object_get(v, "outboxes"), i, r)
	{
		fprintf(m, "tongban_outbox_lag_seconds{dest=\"%s\"} %.3f\n",
		        spec_str(r, "region"),
		        (double)spec_int(r, "lag_ms", 0) / 1000.0);
	}
	fprintf(m, "# HELP tongban_outbox_frames_total Outbox frames.\n"
	           "# TYPE tongban_outbox_frames_total counter\n");
	r = json_object_get(v, "counters");
	fprintf(m,
	        "tongban_outbox_frames_total{dir=\"tx\"} %lld\n"
	        "tongban_outbox_frames_total{dir=\"rx\"} %lld\n"
	        "# TYPE tongban_outbox_refused_total counter\n"
	        "tongban_outbox_refused_total %lld\n"
	        "# TYPE tongban_outbox_delivered_total counter\n"
	        "tongban_outbox_delivered_total %lld\n",
	        spec_int(r, "frames_tx", 0), spec_int(r, "frames_rx", 0),
	        spec_int(r, "refused", 0), spec_int(r, "delivered", 0));
	fclose(m);
	json_decref(v);
	return buf;
}
