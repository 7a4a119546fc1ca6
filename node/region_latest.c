/* The province's "latest version" statements on the node (docs/TRUST.md
 * "Latest-version statement", docs/REPLICATION.md "Withheld releases").
 *
 * Happy path. The province's leader signs a tongban.latest/1 statement of
 * its standard layer's head every latest_interval_ms with its node key,
 * carrying its certificate and chain, and sends it to its children
 * (REGION_T_LATEST). A node below verifies it end to end (signature,
 * chain to its root, province, times, order), holds it and relays the
 * bytes it received, unchanged, to its own children. The region's leader
 * compares the statement held with its applied standard version.
 *
 * Failure modes. A statement that does not verify is dropped, counted by
 * reason and logged (TB-CATALOG-LATEST-REFUSED, at most one line a second)
 * and not relayed: it changes nothing. A region between that withholds
 * releases but relays statements shows as a latest version above the
 * applied one: after withheld_after_ms, TB-CATALOG-WITHHELD. One that
 * withholds statements too, or a link down, shows as no unexpired
 * statement: after withheld_after_ms, TB-CATALOG-LATEST-STALE. Statements
 * are volatile: nothing here is Raft state, and a restarted node waits for
 * the next one. */
#include "node/region_impl.h"

#include "node/certstore.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_store.h"
#include "node/store.h"
#include "schema/cert.h"
#include "schema/latest.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often the leader compares the statement with its catalog. */
#define LATEST_CHECK_MS 250
/* The signer's certificates are read again this often. */
#define LATEST_CERTS_MS 5000

struct region_latest {
	char province[7];
	/* The province's leader: the certificates it signs with. */
	json_t *chain; /* [node certificate, its chain...] or NULL */
	int64_t chain_at, next_sign_ms;
	bool sign_warned;
	/* The statement held (loop only). */
	json_t *doc;
	struct latest_info info;
	bool have, self_signed;
	char via_node[17], via_region[7];
	/* The watch (leader of a region with a parent). */
	int64_t next_check_ms, watch_since, withheld_since;
	bool withheld_logged, stale_logged;
	long long logged_version;
	/* Refusal log lines: at most one a second. */
	int64_t refusal_logged_at;
	char last_refusal[400];
	unsigned long long received, accepted, relayed, signed_n,
	    refused[LATEST_REASONS];
	/* What other threads read (under f->mu). */
	json_t *view;
};

int
region_latest_init(struct region_flow *f)
{
	struct region_latest *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		return -1;
	}
	cert_region_province(f->n->cfg.region, l->province);
	f->lt = l;
	if (getenv("TB_FAULT_REGION_LATEST_TAMPER") != NULL) {
		tb_log(TB_LOG_WARN, "TB-FAULT",
		       "TB_FAULT_REGION_LATEST_TAMPER: this node relays "
		       "latest-version statements with their version raised "
		       "after signing (a test fault)");
	}
	if (getenv("TB_FAULT_REGION_WITHHOLD") != NULL) {
		tb_log(TB_LOG_WARN, "TB-FAULT",
		       "TB_FAULT_REGION_WITHHOLD: this node withholds release "
		       "entries from its children's streams (a test fault; "
		       "it still relays latest-version statements)");
	}
	return 0;
}

void
region_latest_free(struct region_flow *f)
{
	struct region_latest *l = f->lt;

	if (l == NULL) {
		return;
	}
	json_decref(l->chain);
	json_decref(l->doc);
	json_decref(l->view);
	free(l);
	f->lt = NULL;
}

/* relay sends body to every child this region knows. */
static void
relay(struct region_flow *f, const uint8_t *body, size_t len)
{
	unsigned i;

	for (i = 0; i < f->nkids; i++) {
		if (region_send(f, f->kids[i].code, REGION_T_LATEST, body,
		                len) == TB_OK) {
			f->lt->relayed++;
		}
	}
}

/* tamper_relay: TB_FAULT_REGION_LATEST_TAMPER (a test fault, tests/
 * node_region_latest.t): the statement goes down with its version raised
 * by one after signing, as a region between that tries to forge one. */
static void
tamper_relay(struct region_flow *f, const json_t *doc)
{
	json_t *c = json_deep_copy(doc);
	char *t;

	if (c == NULL) {
		return;
	}
	json_object_set_new(c, "version",
	                    json_integer(spec_int(doc, "version", 0) + 1));
	if ((t = json_dumps(c, JSON_COMPACT)) != NULL) {
		relay(f, (const uint8_t *)t, strlen(t));
	}
	free(t);
	json_decref(c);
}

/* ---- the province signs ------------------------------------------------- */

/* signer_chain: [the node certificate, its chain...] when the node's
 * certificate is for the key it runs with, else NULL (logged once). */
static json_t *
signer_chain(struct region_flow *f, int64_t now)
{
	struct region_latest *l = f->lt;
	json_t *leaf, *up, *chain;

	if (l->chain != NULL && now - l->chain_at < LATEST_CERTS_MS) {
		return l->chain;
	}
	json_decref(l->chain);
	l->chain = NULL;
	l->chain_at = now;
	leaf = certstore_load(f->n->cfg.dir, "node");
	up = certstore_load(f->n->cfg.dir, "chain");
	if (leaf == NULL || !json_is_array(up) ||
	    !cert_key_is(spec_str(leaf, "sign_key"), f->n->cfg.sign_sk)) {
		if (!l->sign_warned) {
			tb_log(TB_LOG_WARN, "TB-CATALOG-LATEST-NOSIGN",
			       "no latest-version statements: %s",
			       leaf == NULL || !json_is_array(up)
			           ? "no node certificate and chain installed"
			           : "the node certificate is not for the "
			             "key this node runs with (restart after "
			             "a rotation)");
			l->sign_warned = true;
		}
		json_decref(leaf);
		json_decref(up);
		return NULL;
	}
	l->sign_warned = false;
	chain = json_array();
	json_array_append_new(chain, leaf);
	json_array_extend(chain, up);
	json_decref(up);
	l->chain = chain;
	return chain;
}

static void
sign_and_send(struct region_flow *f, int64_t now_wall)
{
	struct region_latest *l = f->lt;
	const struct node_config *cfg = &f->n->cfg;
	json_t *cat = NULL, *std, *doc = NULL, *chain;
	char err[200], *text;
	long long v;
	const char *h;

	if ((chain = signer_chain(f, region_mono_ms(f))) == NULL ||
	    store_catalog(f->n->store, &cat) != TB_OK) {
		return;
	}
	std = json_object_get(cat, "standard");
	v = spec_int(std, "version", 0);
	h = spec_str(std, "hash");
	if (latest_build(l->province, v, v > 0 ? h : NULL, now_wall,
	                 now_wall + (int64_t)cfg->latest_ttl_ms, chain, &doc,
	                 err, sizeof(err)) != TB_OK ||
	    trust_sign(doc, cfg->sign_sk, err, sizeof(err)) != TB_OK ||
	    (text = json_dumps(doc, JSON_COMPACT)) == NULL) {
		json_decref(cat);
		json_decref(doc);
		return;
	}
	json_decref(cat);
	/* Held here too (GET /v1/catalog shows what the province says). */
	json_decref(l->doc);
	l->doc = doc;
	memset(&l->info, 0, sizeof(l->info));
	snprintf(l->info.region, sizeof(l->info.region), "%s", l->province);
	l->info.version = v;
	snprintf(l->info.hash, sizeof(l->info.hash), "%s",
	         spec_str(doc, "hash") ? spec_str(doc, "hash") : "");
	spec_time_parse(spec_str(doc, "issued_at"), &l->info.issued_ms);
	spec_time_parse(spec_str(doc, "expires_at"), &l->info.expires_ms);
	snprintf(l->info.signer, sizeof(l->info.signer), "%s", cfg->node_id);
	h = spec_str(json_array_get(chain, 0), "serial");
	snprintf(l->info.signer_serial, sizeof(l->info.signer_serial), "%s",
	         h ? h : "");
	l->have = l->self_signed = true;
	l->signed_n++;
	relay(f, (const uint8_t *)text, strlen(text));
	free(text);
}

/* ---- a statement arrives ---------------------------------------------- */

static void
refused(struct region_flow *f, const struct link_msg *m, enum latest_reason r,
        const struct tb_diag *d)
{
	struct region_latest *l = f->lt;
	int64_t now = region_mono_ms(f);

	l->refused[r]++;
	snprintf(l->last_refusal, sizeof(l->last_refusal),
	         "%s from node %s of %s: %s: %s", latest_reason_name(r),
	         m->peer_node_id, m->peer_region, d->n ? d->e[0].path : "$",
	         d->n ? d->e[0].msg : "");
	if (now - l->refusal_logged_at >= 1000) {
		l->refusal_logged_at = now;
		tb_log(TB_LOG_WARN, "TB-CATALOG-LATEST-REFUSED",
		       "latest-version statement refused: %s", l->last_refusal);
	}
}

/* anchor: the group's stored root if it checks, else root.json's (a new
 * reference, or NULL). */
static json_t *
anchor(struct region_flow *f, int64_t now_wall)
{
	json_t *root = NULL;
	struct tb_diag d;

	tb_diag_init(&d);
	if (store_root(f->n->store, &root) == TB_OK && root != NULL &&
	    trust_root_check(root, NULL, now_wall, "$", &d) == 0) {
		return root;
	}
	json_decref(root);
	root = f->n->root != NULL ? json_incref(f->n->root) : NULL;
	return root;
}

void
region_on_latest(struct links *ls, const struct link_msg *m, void *arg)
{
	struct region_flow *f = arg;
	struct region_latest *l = f->lt;
	const json_t **cv = NULL;
	json_t *doc, *root, *crls = NULL, *c;
	struct latest_info li;
	enum latest_reason r;
	int64_t now = node_now_ms();
	struct tb_diag d;
	size_t i, ncrl = 0;
	bool same;

	(void)ls;
	l->received++;
	tb_diag_init(&d);
	/* Down the tree only: from the parent's nodes (the statement
	 * itself is verified end to end whoever relays it). */
	if (f->parent == 0 || region_code_u32(m->peer_region) != f->parent) {
		tb_diag_add(&d, TB_EFORBIDDEN, "$",
		            "statements come from the parent (%s), not from "
		            "%s",
		            f->parent ? f->parent_s : "none: a province",
		            m->peer_region);
		refused(f, m, LATEST_WRONG_REGION, &d);
		return;
	}
	doc = m->len <= LATEST_MAX_BYTES
	          ? json_loadb((const char *)m->body, m->len,
	                       JSON_REJECT_DUPLICATES, NULL)
	          : NULL;
	if (doc == NULL) {
		tb_diag_add(&d, TB_EMALFORMED, "$",
		            "not a JSON document of at most %d bytes (%zu)",
		            LATEST_MAX_BYTES, m->len);
		refused(f, m, LATEST_MALFORMED, &d);
		return;
	}
	root = anchor(f, now);
	/* Every stored list: one left out could hide a revocation. */
	if (store_crls(f->n->store, &crls) == TB_OK &&
	    json_array_size(crls) > 0 &&
	    (cv = calloc(json_array_size(crls), sizeof(*cv))) != NULL) {
		json_array_foreach(crls, i, c)
		{
			cv[ncrl++] = c;
		}
	}
	if (json_array_size(crls) > 0 && cv == NULL) {
		r = LATEST_MALFORMED; /* out of memory: not verified */
		tb_diag_add(&d, TB_ENOMEM, "$", "out of memory");
	} else {
		r = latest_verify(doc, l->province, root, cv, ncrl, now, &li,
		                  &d);
	}
	free(cv);
	json_decref(root);
	json_decref(crls);
	if (r == LATEST_OK) {
		r = latest_order(l->have ? &l->info : NULL, &li, &same, &d);
	}
	if (r != LATEST_OK) {
		json_decref(doc);
		refused(f, m, r, &d);
		return;
	}
	if (same) {
		json_decref(doc); /* already held and relayed */
		return;
	}
	l->accepted++;
	json_decref(l->doc);
	l->doc = doc;
	l->info = li;
	l->have = true;
	snprintf(l->via_node, sizeof(l->via_node), "%s", m->peer_node_id);
	snprintf(l->via_region, sizeof(l->via_region), "%s", m->peer_region);
	/* Unchanged: the bytes as they came, to every child. */
	if (getenv("TB_FAULT_REGION_LATEST_TAMPER") != NULL) {
		tamper_relay(f, doc);
	} else {
		relay(f, m->body, m->len);
	}
	l->next_check_ms = 0;
}

/* ---- the watch ---------------------------------------------------------- */

/* info_json: the statement held, for GET /v1/catalog. */
static json_t *
info_json(struct region_latest *l, int64_t wall)
{
	char ia[CERT_TIME_LEN], ea[CERT_TIME_LEN];

	if (!l->have) {
		return json_null();
	}
	cert_time_format(l->info.issued_ms, ia);
	cert_time_format(l->info.expires_ms, ea);
	return json_pack(
	    "{s:s, s:s, s:I, s:s?, s:s, s:s, s:s, s:s?, s:b, s:b, s:o}",
	    "region", l->info.region, "layer", "standard", "version",
	    (json_int_t)l->info.version, "hash",
	    l->info.hash[0] ? l->info.hash : NULL, "issued_at", ia,
	    "expires_at", ea, "signer", l->info.signer, "signer_serial",
	    l->info.signer_serial[0] ? l->info.signer_serial : NULL, "verified",
	    true, "expired", l->info.expires_ms <= wall, "via",
	    l->self_signed ? json_string("signed here")
	                   : json_pack("{s:s, s:s}", "region", l->via_region,
	                               "node", l->via_node));
}

/* topo_parent: the replicated topology's parent code ("" if none). */
static void
topo_parent(struct region_flow *f, char out[7])
{
	json_t *topo = NULL;
	const char *c;

	out[0] = '\0';
	if (region_store_topology(f->n->store, &topo) == 0) {
		c = spec_str(json_object_get(topo, "parent"), "code");
		snprintf(out, 7, "%s", c ? c : "");
	}
	json_decref(topo);
}

static void
watch(struct region_flow *f, int64_t wall)
{
	struct region_latest *l = f->lt;
	const long long after = f->n->cfg.withheld_after_ms;
	json_t *cat = NULL, *std, *view, *fields, *cn, *rf;
	char parent[7], since_s[CERT_TIME_LEN], msg[700] = "";
	long long applied = 0;
	const char *state = "off", *ah = NULL;
	bool watching, fresh, stale = false, withheld = false;
	int64_t stale_since = 0;
	unsigned i;

	if (store_catalog(f->n->store, &cat) == TB_OK) {
		std = json_object_get(cat, "standard");
		applied = spec_int(std, "version", 0);
		ah = spec_str(std, "hash");
	}
	topo_parent(f, parent);
	watching = f->parent != 0 && f->on && parent[0] != '\0';
	fresh = l->have && l->info.expires_ms > wall;
	since_s[0] = '\0';
	if (!watching) {
		l->watch_since = l->withheld_since = 0;
	} else {
		if (l->watch_since == 0) {
			l->watch_since = wall;
		}
		stale_since = l->have ? l->info.expires_ms : l->watch_since;
		stale = !fresh && wall - stale_since >= after;
		if (fresh && l->info.version > applied) {
			if (l->withheld_since == 0) {
				l->withheld_since = wall;
			}
			withheld = wall - l->withheld_since >= after;
		} else {
			l->withheld_since = 0;
		}
		state = withheld ? "withheld"
		        : stale  ? "stale"
		        : fresh ? (l->info.version > applied ? "waiting" : "ok")
		                : "waiting";
	}
	if (withheld && f->refused_why[0] != '\0') {
		/* The release reached this region and its own group refused
		 * it: say so, not that the parent withholds it (which sent a
		 * county admin looking at the wrong node). */
		cert_time_format(l->withheld_since, since_s);
		snprintf(msg, sizeof(msg),
		         "release %lld (hash %.16s..) of %s is the latest by "
		         "a statement of node %s, but this region applied "
		         "version %lld since %s: it refused entry %llu.%llu "
		         "from %s (%s); the stream waits at it (GET /v1/region "
		         "inbound.refused)",
		         l->info.version, l->info.hash, l->info.region,
		         l->info.signer, applied, since_s,
		         (unsigned long long)f->refused_pos.inc,
		         (unsigned long long)f->refused_pos.seq, l->via_region,
		         f->refused_why);
	} else if (withheld) {
		cert_time_format(l->withheld_since, since_s);
		snprintf(msg, sizeof(msg),
		         "release %lld (hash %.16s..) of %s is the latest by "
		         "a statement of node %s, valid to the next %lld s, "
		         "but this region applied version %lld since %s: the "
		         "parent between, %s (node %s), relays the statements "
		         "but not the release",
		         l->info.version, l->info.hash, l->info.region,
		         l->info.signer,
		         (long long)(l->info.expires_ms - wall) / 1000, applied,
		         since_s, l->via_region, l->via_node);
	} else if (stale) {
		cert_time_format(stale_since, since_s);
		if (l->have) {
			char ea[CERT_TIME_LEN];
			cert_time_format(l->info.expires_ms, ea);
			snprintf(
			    msg, sizeof(msg),
			    "no unexpired latest-version statement from "
			    "%s since %s: the last (version %lld) expired "
			    "at %s; the parent between is %s (link %s)",
			    l->province, since_s, l->info.version, ea, parent,
			    f->n->links != NULL && link_up(f->n->links, parent)
			        ? "up"
			        : "down");
		} else {
			snprintf(msg, sizeof(msg),
			         "no latest-version statement from %s since "
			         "this node began watching at %s; the parent "
			         "between is %s (link %s)",
			         l->province, since_s, parent,
			         f->n->links != NULL &&
			                 link_up(f->n->links, parent)
			             ? "up"
			             : "down");
		}
	}
	/* The log: once when an alert starts (again for a higher
	 * version), once when it ends. */
	fields = json_pack(
	    "{s:s, s:I, s:s?, s:I, s:s?, s:s?, s:s?}", "region", l->province,
	    "version", (json_int_t)(l->have ? l->info.version : -1), "hash",
	    l->have && l->info.hash[0] ? l->info.hash : NULL, "applied",
	    (json_int_t)applied, "since", since_s[0] ? since_s : NULL, "parent",
	    parent[0] ? parent : NULL, "via_node",
	    l->via_node[0] ? l->via_node : NULL);
	if (withheld &&
	    (!l->withheld_logged || l->logged_version != l->info.version)) {
		tb_log_fields(TB_LOG_WARN, "TB-CATALOG-WITHHELD", fields, "%s",
		              msg);
		l->withheld_logged = true;
		l->logged_version = l->info.version;
	} else if (!withheld && l->withheld_logged &&
	           (!watching || (fresh && l->info.version <= applied))) {
		/* Not when the statement merely expired: that is
		 * TB-CATALOG-LATEST-STALE, and the release is still
		 * missing. */
		tb_log_fields(TB_LOG_INFO, "TB-CATALOG-WITHHELD-CLEARED",
		              fields,
		              "standard version %lld applied; the latest "
		              "statement names %lld%s",
		              applied, l->have ? l->info.version : -1,
		              watching ? ""
		                       : " (no longer watching: not the "
		                         "leader)");
		l->withheld_logged = false;
	}
	if (stale && !l->stale_logged) {
		tb_log_fields(TB_LOG_WARN, "TB-CATALOG-LATEST-STALE", fields,
		              "%s", msg);
		l->stale_logged = true;
	} else if (!stale && l->stale_logged) {
		tb_log_fields(TB_LOG_INFO, "TB-CATALOG-LATEST-FRESH", fields,
		              "an unexpired latest-version statement (version "
		              "%lld) is held again",
		              l->have ? l->info.version : -1);
		l->stale_logged = false;
	}
	json_decref(fields);

	rf = json_object();
	for (i = 1; i < LATEST_REASONS; i++) {
		json_object_set_new(rf,
		                    latest_reason_name((enum latest_reason)i),
		                    json_integer((json_int_t)l->refused[i]));
	}
	cn = json_pack("{s:I, s:I, s:I, s:I, s:o}", "received",
	               (json_int_t)l->received, "accepted",
	               (json_int_t)l->accepted, "relayed",
	               (json_int_t)l->relayed, "signed",
	               (json_int_t)l->signed_n, "refused", rf);
	view = json_pack(
	    "{s:o, s:b, s:b, s:{s:s, s:I, s:s?, s:s?, s:s?, s:I, s:s?}, "
	    "s:o, s:s?}",
	    "latest", info_json(l, wall), "withheld", withheld, "stale", stale,
	    "watch", "state", state, "applied", (json_int_t)applied,
	    "applied_hash", ah, "since", since_s[0] ? since_s : NULL, "parent",
	    parent[0] ? parent : NULL, "withheld_after_ms", (json_int_t)after,
	    "message", msg[0] ? msg : NULL, "counters", cn, "last_refusal",
	    l->last_refusal[0] ? l->last_refusal : NULL);
	json_decref(cat);
	pthread_mutex_lock(&f->mu);
	json_decref(l->view);
	l->view = view;
	pthread_mutex_unlock(&f->mu);
}

void
region_latest_tick(struct region_flow *f)
{
	struct region_latest *l = f->lt;
	int64_t now = region_mono_ms(f), wall = node_now_ms();

	if (l == NULL) {
		return;
	}
	if (f->parent == 0 && f->on && now >= l->next_sign_ms) {
		sign_and_send(f, wall);
		l->next_sign_ms = now + (int64_t)f->n->cfg.latest_interval_ms;
	}
	if (now >= l->next_check_ms) {
		l->next_check_ms = now + LATEST_CHECK_MS;
		watch(f, wall);
	}
}

json_t *
region_latest_view(struct node *n)
{
	json_t *v = NULL;

	if (n->flow == NULL || n->flow->lt == NULL) {
		return NULL;
	}
	pthread_mutex_lock(&n->flow->mu);
	v = json_incref(n->flow->lt->view);
	pthread_mutex_unlock(&n->flow->mu);
	return v;
}
