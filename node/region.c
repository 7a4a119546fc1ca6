/* Between regions on the node: the outbox driver on the group's leader
 * (replication/outbox.c over the links and the Raft group; its env is
 * region_env.c), the link handlers, and the driver's proposals.
 *
 * Happy path (origin): an apply emitted entries; region_progress kicks
 * the driver, which sends DATA frames (REGION_T_OUTBOX) to the child's
 * region code; the child's ACK comes back and the driver proposes
 * outbox.acked. (Destination): a DATA frame from the parent is checked
 * against the replicated cursor and proposed as outbox.deliver; once it
 * is applied (region_prop_done) the driver acknowledges.
 *
 * Failure modes: frames not from the region they name (a child cannot
 * speak for another), malformed frames and frames reaching a follower are
 * dropped and counted; the origin resends after its timeout, with
 * backoff. A delivery the apply refuses (bad signature, version gap, an
 * overlay touching a field it does not own) is not acknowledged: the
 * stream stops at that entry, the refusal is reported up, and the entry
 * is proposed again at most every 30 s, or at once after the group's
 * feature level changed (the refusal may have been its level). A new leader
 * makes a new driver from the replicated records. */
#include "node/region_impl.h"
#include "node/region_query.h"

#include "node/applier.h"
#include "node/fsm.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_store.h"
#include "node/store.h"
#include "replication/outbox_wire.h"
#include "schema/cert.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A refused entry is proposed again after this long. */
#define REGION_REFUSED_RETRY_MS 30000

int64_t
region_mono_ms(struct region_flow *f)
{
	return (int64_t)uv_now(&f->n->loop);
}

struct region_child *
region_kid(struct region_flow *f, uint32_t code, bool add)
{
	unsigned i;

	for (i = 0; i < f->nkids; i++) {
		if (f->kids[i].code == code) {
			return &f->kids[i];
		}
	}
	if (!add || f->nkids >= OUTBOX_MAX_PEERS) {
		return NULL;
	}
	memset(&f->kids[f->nkids], 0, sizeof(f->kids[0]));
	f->kids[f->nkids].code = code;
	return &f->kids[f->nkids++];
}

/* ---- proposals --------------------------------------------------------- */

static void
prop_unlink(struct region_flow *f, struct region_prop *p)
{
	struct region_prop **pp;

	for (pp = &f->props; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

void
region_prop_unstage(void *arg)
{
	struct region_prop *p = arg;

	if (p != NULL) {
		p->staged = false;
	}
}

static void
prop_cb(struct raft_apply *req, int status, void *result)
{
	struct region_prop *p = req->data;

	(void)status;
	(void)result;
	if (p->staged) {
		return; /* region_prop_done frees it */
	}
	/* Not committed: the driver proposes again (repropose_ms). */
	prop_unlink(p->f, p);
	free(p);
}

int
region_propose(struct region_flow *f, int t, const json_t *body,
               struct region_prop *p)
{
	struct canon_buf b = { 0 };
	struct raft_buffer buf;
	char err[256];
	int rv;

	rv = cmd_encode((enum cmd_type)t, node_now_ms(), NULL, body, &b, err,
	                sizeof(err));
	if (rv == TB_OK && p != NULL && p->splice != NULL) {
		rv = region_splice(&b, p->splice, p->splice_len, err,
		                   sizeof(err));
		p->splice = NULL; /* borrowed for this call only */
	}
	if (rv == TB_OK && (buf.base = raft_malloc(b.len)) == NULL) {
		rv = TB_ENOMEM;
	}
	if (rv == TB_OK && p == NULL && (p = calloc(1, sizeof(*p))) == NULL) {
		raft_free(buf.base);
		rv = TB_ENOMEM;
	}
	if (rv != TB_OK) {
		canon_buf_free(&b);
		free(p);
		tb_log(TB_LOG_WARN, "TB-REGION-PROPOSE", "cannot encode %s: %s",
		       cmd_type_name((enum cmd_type)t),
		       rv == TB_ENOMEM ? "out of memory" : err);
		return rv;
	}
	memcpy(buf.base, b.data, b.len);
	buf.len = b.len;
	canon_buf_free(&b);
	p->f = f;
	p->term = f->n->raft.current_term;
	p->req.data = p;
	if ((rv = raft_apply(&f->n->raft, &p->req, &buf, 1, prop_cb)) != 0) {
		raft_free(buf.base);
		free(p);
		return TB_ECONFLICT;
	}
	f->n->m.proposals++;
	p->next = f->props;
	f->props = p;
	return TB_OK;
}

void *
region_take_prop(struct node *n, raft_index index)
{
	struct region_prop *p;

	if (n->flow == NULL) {
		return NULL;
	}
	for (p = n->flow->props; p != NULL; p = p->next) {
		if (p->req.index == index) {
			prop_unlink(n->flow, p);
			p->staged = true;
			return p;
		}
	}
	return NULL;
}

void
region_prop_done(void *arg, int rv, json_t *res)
{
	struct region_prop *p = arg;
	struct region_flow *f;
	const json_t *ob, *er;
	const char *vd;
	enum outbox_verdict v = OUTBOX_DUP;

	if (p == NULL) {
		json_decref(res);
		return;
	}
	f = p->f;
	ob = json_object_get(res, "outbox");
	er = json_object_get(res, "error");
	if (rv == TB_OK && er != NULL && p->c.type == OUTBOX_CMD_DELIVER &&
	    p->c.n > 0) {
		/* A run refused: deliver its entries one by one for a while,
		 * so the ones before the bad entry go in and the refusal
		 * names that entry. */
		tb_log(TB_LOG_WARN, "TB-REGION-REFUSED",
		       "run %u.%llu+%u from %06u refused (%s); its entries "
		       "go one by one for %d s",
		       p->c.pos.inc, (unsigned long long)p->c.pos.seq, p->c.n,
		       p->c.origin,
		       spec_str(er, "message") ? spec_str(er, "message") : "",
		       REGION_REFUSED_RETRY_MS / 1000);
		f->runs_off_until = region_mono_ms(f) + REGION_REFUSED_RETRY_MS;
		if (f->on && p->term == f->term) {
			region_runs_sync(f);
			outbox_applied(&f->d, &p->c, OUTBOX_GAP);
		}
	} else if (rv == TB_OK && er != NULL &&
	           p->c.type == OUTBOX_CMD_DELIVER) {
		/* Refused by the apply: remember why, for the report. */
		f->refused_pos = p->c.pos;
		snprintf(f->refused_why, sizeof(f->refused_why), "%s: %s",
		         spec_str(er, "field") ? spec_str(er, "field") : "$",
		         spec_str(er, "message") ? spec_str(er, "message")
		                                 : "refused");
		f->refused_at = region_mono_ms(f);
		f->refused_level = f->level;
		f->refused++;
		tb_log(TB_LOG_WARN, "TB-REGION-REFUSED",
		       "entry %u.%llu from %06u refused: %s", p->c.pos.inc,
		       (unsigned long long)p->c.pos.seq, p->c.origin,
		       f->refused_why);
		f->next_report_ms = 0; /* tell the parent now */
	} else if (rv == TB_OK && (vd = spec_str(ob, "verdict")) != NULL &&
	           p->c.type != 0 && f->on && p->term == f->term) {
		v = !strcmp(vd, "accept")  ? OUTBOX_ACCEPT
		    : !strcmp(vd, "gap")   ? OUTBOX_GAP
		    : !strcmp(vd, "stale") ? OUTBOX_STALE
		                           : OUTBOX_DUP;
		if (p->c.type == OUTBOX_CMD_DELIVER && v == OUTBOX_ACCEPT) {
			f->delivered +=
			    (unsigned long long)spec_int(ob, "delivered", 1);
			f->refused_pos = (struct outbox_pos){ 0, 0 };
			f->refused_why[0] = '\0';
			f->next_report_ms = 0;
		}
		if (p->c.type == OUTBOX_CMD_ACKED && v == OUTBOX_ACCEPT) {
			f->acked++;
		}
		outbox_applied(&f->d, &p->c, v);
	}
	json_decref(res);
	free(p);
}

/* ---- link handlers ------------------------------------------------------ */

static bool
leading(struct region_flow *f)
{
	return f->on && raft_state(&f->n->raft) == RAFT_LEADER;
}

/* is_child: code's parent in the region table is this region. */
static bool
is_child(struct region_flow *f, uint32_t code)
{
	char c[8], parent[7] = "";

	snprintf(c, sizeof(c), "%06u", code);
	return cert_region_parent(c, parent) == 0 &&
	       region_code_u32(parent) == f->self;
}

/* rewind: an ACK below what the stream to child om->dest has dropped, from
 * a node of an incarnation the stream was not refilled for: the child lost
 * deliveries with its recovery. Instead of the SKIP (which would move it
 * past releases it no longer has) propose outbox.rewind, at most once a
 * second; once it is applied the SKIP follows (feature level 5). True if
 * the ACK was taken here. */
static bool
rewind_child(struct region_flow *f, const struct outbox_msg *om)
{
	struct region_child *k;
	struct outbox_out o;
	uint32_t was;
	int64_t now = region_mono_ms(f);
	json_t *b;
	char d[8];

	if (f->level < FSM_INC_LEVEL || om->from_inc < 2 ||
	    om->dest == f->parent ||
	    (k = region_kid(f, om->dest, false)) == NULL ||
	    region_store_out(f->n->store, om->dest, &o) != 0 ||
	    outbox_pos_cmp(om->pos, o.acked) >= 0 ||
	    region_store_rewound(f->n->store, om->dest, &was) != 0 ||
	    om->from_inc <= was) {
		return false;
	}
	if (now - k->rewind_prop_at < 1000) {
		return true;
	}
	k->rewind_prop_at = now;
	snprintf(d, sizeof(d), "%06u", om->dest);
	tb_log(TB_LOG_WARN, "TB-REGION-REWIND",
	       "%s (a node at incarnation %u) acknowledges %u.%llu, below "
	       "%u.%llu: it lost deliveries with its recovery; proposing "
	       "outbox.rewind (its stream refilled from the stored catalog)",
	       d, om->from_inc, om->pos.inc, (unsigned long long)om->pos.seq,
	       o.acked.inc, (unsigned long long)o.acked.seq);
	if ((b = json_pack("{s:s, s:I}", "dest", d, "by",
	                   (json_int_t)om->from_inc)) != NULL) {
		region_propose(f, CMD_OUTBOX_REWIND, b, NULL);
		f->rewinds++;
	}
	json_decref(b);
	return true;
}

static void
on_outbox(struct links *ls, const struct link_msg *m, void *arg)
{
	struct region_flow *f = arg;
	struct outbox_msg om;
	char err[200];
	uint32_t from;
	bool data;

	(void)ls;
	f->rx++;
	if (outbox_wire_decode(m->body, m->len, &om, err, sizeof(err)) != 0) {
		f->malformed++;
		tb_log(TB_LOG_WARN, "TB-REGION-MALFORMED",
		       "outbox frame from %s (%s): %s", m->peer_node_id,
		       m->peer_region, err);
		return;
	}
	/* The sender speaks for its own region only: DATA comes from the
	 * origin, ACK from the destination. */
	data = om.type != OUTBOX_MSG_ACK; /* DATA or DATA_RUN */
	from = data ? om.origin : om.dest;
	if (from != region_code_u32(m->peer_region)) {
		f->spoofed++;
		tb_log(TB_LOG_WARN, "TB-REGION-SPOOFED",
		       "node %s of %s sent a frame for %06u", m->peer_node_id,
		       m->peer_region, from);
		return;
	}
	/* Streams run down the tree (releases, overlays) and up it (case
	 * summaries): DATA to us from the parent or a child, ACKs for our
	 * streams from a child or the parent. A child is a region whose
	 * table parent is us (the link verified that our region key issued
	 * its certificate). */
	if (data ? om.dest != f->self ||
	               (om.origin != f->parent && !is_child(f, om.origin))
	         : om.origin != f->self ||
	               (om.dest != f->parent &&
	                region_kid(f, om.dest, false) == NULL)) {
		f->spoofed++;
		tb_log(TB_LOG_WARN, "TB-REGION-SPOOFED",
		       "node %s of %s sent a frame of the stream %06u -> "
		       "%06u, which is not one of %06u's",
		       m->peer_node_id, m->peer_region, om.origin, om.dest,
		       f->self);
		return;
	}
	if (!leading(f)) {
		f->not_leader++;
		/* The origin resends; a follower tells it who leads. */
		region_redirect(f, m);
		return;
	}
	om.from_inc = m->peer_inc; /* as the sender's handshake proved it */
	if (data && om.origin == f->parent) {
		snprintf(f->parent_leader, sizeof(f->parent_leader), "%s",
		         m->peer_node_id);
	} else if (data) {
		struct region_child *k = region_kid(f, om.origin, true);

		if (k != NULL) { /* ACKs go to the node that leads there */
			snprintf(k->leader, sizeof(k->leader), "%s",
			         m->peer_node_id);
		}
	}
	if (data && f->refused_why[0] != '\0' &&
	    outbox_pos_cmp(om.pos, f->refused_pos) == 0 &&
	    region_mono_ms(f) - f->refused_at < REGION_REFUSED_RETRY_MS &&
	    f->level == f->refused_level) {
		return; /* refused: not proposed again for a while (unless the
		         * group's level was raised since: it may take it) */
	}
	if (data && om.origin != f->parent) {
		/* A child's stream up: the driver learns it at its first
		 * frame (its records say where it stands). */
		outbox_driver_peer(&f->d, om.origin);
	}
	if (!data && rewind_child(f, &om)) {
		return;
	}
	outbox_recv(&f->d, &om);
}

static void
on_report(struct links *ls, const struct link_msg *m, void *arg)
{
	struct region_flow *f = arg;
	uint32_t code = region_code_u32(m->peer_region);
	struct region_child *k;
	char parent[7] = "";
	const char *to;
	json_t *rep;

	(void)ls;
	/* Admitted: the link verified the chain, in which the child's
	 * region certificate must be issued by its table parent: us. */
	if (cert_region_parent(m->peer_region, parent) != 0 ||
	    region_code_u32(parent) != f->self) {
		f->spoofed++;
		return;
	}
	rep = json_loadb((const char *)m->body, m->len, JSON_REJECT_DUPLICATES,
	                 NULL);
	if (!json_is_object(rep) ||
	    strcmp(spec_str(rep, "region") ? spec_str(rep, "region") : "",
	           m->peer_region) != 0) {
		f->malformed++;
		json_decref(rep);
		return;
	}
	/* Every member keeps the reports (volatile: the rollout and the
	 * view), sent to the leader and, by a child that knows them, to the
	 * other members too. One sent here as to the leader ("leader" names
	 * this node, or none was known) while this node does not lead: the
	 * child is told who does. */
	to = spec_str(rep, "leader");
	if (!leading(f) && (to == NULL || !strcmp(to, f->n->cfg.node_id))) {
		f->not_leader++;
		region_redirect(f, m);
	}
	if ((k = region_kid(f, code, true)) == NULL) {
		json_decref(rep);
		return;
	}
	pthread_mutex_lock(&f->mu);
	json_decref(k->report);
	k->report = rep;
	pthread_mutex_unlock(&f->mu);
	k->report_at = region_mono_ms(f);
	snprintf(k->leader, sizeof(k->leader), "%s", m->peer_node_id);
	if (leading(f) && !k->stream &&
	    k->report_at - k->child_prop_at > 1000) {
		/* A child we have no stream to: open one. */
		json_t *b = json_pack("{s:s}", "region", m->peer_region);
		k->child_prop_at = k->report_at;
		if (b != NULL) {
			region_propose(f, CMD_OUTBOX_CHILD, b, NULL);
		}
		json_decref(b);
	}
}

/* ---- the node's hooks ---------------------------------------------------- */

int
region_init(struct node *n)
{
	struct region_flow *f = calloc(1, sizeof(*f));
	char parent[7] = "";

	if (f == NULL) {
		return -1;
	}
	f->n = n;
	f->self = region_code_u32(n->cfg.region);
	if (cert_region_parent(n->cfg.region, parent) == 0 && parent[0]) {
		f->parent = region_code_u32(parent);
		memcpy(f->parent_s, parent, sizeof(f->parent_s));
	}
	pthread_mutex_init(&f->mu, NULL);
	n->flow = f;
	if (region_latest_init(f) != 0) {
		region_free(n);
		return -1;
	}
	return 0;
}

void
region_start(struct node *n)
{
	if (n->links == NULL || n->flow == NULL) {
		return;
	}
	link_handle(n->links, REGION_T_MEMBERS, region_on_members, n->flow);
	link_handle(n->links, REGION_T_OUTBOX, on_outbox, n->flow);
	link_handle(n->links, REGION_T_REPORT, on_report, n->flow);
	link_handle(n->links, REGION_T_HELLO, region_on_hello, n->flow);
	link_handle(n->links, REGION_T_LATEST, region_on_latest, n->flow);
	region_query_start(n);
}

/* kids_refresh marks the children with a stream (a new one, opened by an
 * outbox.child apply, joins the driver). */
static void
kids_refresh(struct region_flow *f)
{
	uint32_t d[OUTBOX_MAX_PEERS];
	struct region_child *k;
	int i, nd = region_store_dests(f->n->store, d, OUTBOX_MAX_PEERS);

	for (i = 0; i < nd; i++) {
		if (d[i] == f->parent) {
			continue; /* the stream up (case summaries) */
		}
		if ((k = region_kid(f, d[i], true)) != NULL && !k->stream) {
			k->stream = true;
			if (f->on) {
				outbox_driver_peer(&f->d, d[i]);
				outbox_kick(&f->d, d[i]);
			}
		}
	}
}

void
region_progress(struct node *n)
{
	struct region_flow *f = n->flow;
	unsigned i;

	if (f == NULL || !leading(f)) {
		return;
	}
	kids_refresh(f);
	for (i = 0; i < f->nkids; i++) {
		if (f->kids[i].stream) {
			outbox_kick(&f->d, f->kids[i].code);
		}
	}
	if (f->parent != 0) {
		outbox_kick(&f->d, f->parent); /* case summaries up */
	}
}

void
region_tick(struct node *n)
{
	struct region_flow *f = n->flow;
	int64_t now;
	bool lead;

	if (f == NULL || n->stopping) {
		return;
	}
	now = region_mono_ms(f);
	f->level = store_feature_level(n->store);
	region_inc_sync(f);
	/* A recovered group's streams wait for its incarnation to be
	 * replicated: a delivery relayed on would be numbered in the old. */
	lead = raft_state(&n->raft) == RAFT_LEADER && f->level >= 2 &&
	       n->links != NULL && !f->inc_pending;
	if (!lead) {
		f->on = false;
	} else {
		kids_refresh(f);
		if (!f->on || f->term != n->raft.current_term) {
			region_driver_start(f);
		}
		region_runs_sync(f);
		outbox_tick(&f->d);
		if (now >= f->next_hello_ms) {
			region_hello_send(f);    /* this build takes runs */
			region_members_round(f); /* who leads here */
			f->next_hello_ms = now + 1000;
		}
		if (now >= f->next_report_ms && f->parent != 0) {
			region_report_send(f);
			f->next_report_ms = now + 1000;
		}
	}
	region_latest_tick(f); /* the province's statements */
	if (raft_state(&n->raft) == RAFT_LEADER) {
		region_topology_init(f);
	}
	if (now >= f->next_links_ms) {
		region_links_sync(f);
		f->next_links_ms = now + 1000;
	}
	region_view_refresh(f);
}

void
region_free(struct node *n)
{
	struct region_flow *f = n->flow;
	struct region_prop *p;
	unsigned i;

	if (f == NULL) {
		return;
	}
	while ((p = f->props) != NULL) {
		f->props = p->next;
		free(p);
	}
	for (i = 0; i < f->nkids; i++) {
		json_decref(f->kids[i].report);
	}
	json_decref(f->view);
	region_latest_free(f);
	free(f->ebuf);
	pthread_mutex_destroy(&f->mu);
	free(f);
	n->flow = NULL;
}
