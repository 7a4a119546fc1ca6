/* Writes to any member: a follower forwards what it cannot propose to the
 * leader over the link and answers once its own store applied the result.
 *
 * Happy path: api_write checks the token and the body at the follower,
 * node_propose finds it is not the leader and calls group_forward, which
 * sends {"op":"cmd","type","key","body"} as a GROUP_T_FWD request to the
 * leader. The leader stamps and proposes it (as node_propose would) and,
 * once applied, answers {"index","result"}. The follower keeps the result
 * in a group_wait until libraft's applied index reaches index with no
 * apply batch open, i.e. the store committed it (checked after every batch
 * commit and every tick), then replies. Consistent reads and
 * membership changes ride the same request with op "barrier" / "member".
 *
 * Failure modes: no leader known (503 not_leader), no answer within
 * GROUP_FWD_TIMEOUT_MS (504: the write may still commit; retry with the
 * same Idempotency-Key), the leader lost leadership or refused (503 with
 * its reason), this member not applying the index in time (504), the node
 * stopping (503). */
#include "node/applier.h"
#include "node/group_impl.h"

#include "node/log.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the follower ----------------------------------------------------- */

struct fwd {
	struct group *g;
	struct http_call *c;
	bool read;
	bool member;
};

static void
wait_add(struct group *g, struct http_call *c, uint64_t index, uint16_t status,
         json_t *res, bool read)
{
	struct group_wait *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		json_decref(res);
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	w->c = c;
	w->index = index;
	w->status = status;
	w->res = res;
	w->read = read;
	w->deadline_ms = node_now_ms() + GROUP_FWD_TIMEOUT_MS;
	w->next = g->waits;
	g->waits = w;
	group_flushed(g->n);
}

static void
wait_answer(struct group_wait *w)
{
	if (w->read) {
		api_read_call(w->c);
	} else {
		http_reply_json(w->c, w->status, w->res);
	}
	free(w);
}

void
group_flushed(struct node *n)
{
	struct group *g = n->group;
	struct group_wait **pp, *w, *done = NULL;
	uint64_t applied;

	/* libraft's last applied index counts barriers too (which never
	 * reach the store); once the writer has committed everything
	 * staged, every command applied up to it is in the store. Until
	 * then, only what the writer committed. */
	if (g == NULL || g->waits == NULL || n->applier == NULL) {
		return;
	}
	applied = applier_idle(n->applier) ? raft_last_applied(&n->raft)
	                                   : applier_durable(n->applier);
	for (pp = &g->waits; (w = *pp) != NULL;) {
		if (w->index > applied) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = done;
		done = w;
	}
	while ((w = done) != NULL) {
		done = w->next;
		wait_answer(w);
	}
}

/* fwd_result turns the leader's answer to a forwarded write into a wait:
 * the reply status comes from the result, as node.c's apply_cb does. */
static void
fwd_result(struct fwd *f, json_t *ans)
{
	json_t *res = json_object_get(ans, "result"), *err;
	uint64_t index = (uint64_t)spec_int(ans, "index", 0);
	uint16_t status;

	if (!json_is_object(res) || index == 0) {
		http_reply_error(f->c, 502, "malformed", NULL,
		                 "the leader's answer has no index or result");
		return;
	}
	json_incref(res);
	if ((err = json_object_get(res, "error")) != NULL) {
		status = node_error_status(
		    json_string_value(json_object_get(err, "code")));
	} else {
		if (f->c->extra != NULL) {
			json_object_update(res, f->c->extra);
		}
		status = strcmp(f->c->method, "POST") == 0 ? 201 : 200;
	}
	wait_add(f->g, f->c, index, status, res, false);
}

static void
fwd_cb(void *arg, int status, const struct link_msg *m)
{
	struct fwd *f = arg;
	struct group *g = f->g;
	json_error_t je;
	json_t *ans = NULL;

	if (g->n->stopping) {
		http_reply_error(f->c, 503, "closed", NULL,
		                 "the node is shutting down");
	} else if (status != TB_OK) {
		char why[256] = "";
		if (m != NULL && m->len > 0) {
			snprintf(why, sizeof(why), ": %.*s",
			         (int)(m->len < 200 ? m->len : 200),
			         (const char *)m->body);
		}
		/* Timeouts are 504; a leader gone, stopping or not leading
		 * any more 503 (retry); too big 413; anything else the
		 * leader refused is a bad gateway. */
		http_reply_error(
		    f->c,
		    status == TB_ETIMEOUT  ? 504
		    : status == TB_ETOOBIG ? 413
		    : status == TB_ECONFLICT || status == TB_ECLOSED ||
		            status == TB_ENOMEM || status == TB_ENOTIMPL
		        ? 503
		        : 502,
		    status == TB_ECONFLICT ? "not_leader" : tb_errname(status),
		    NULL, "forwarding to the leader failed: %s%s (retry%s)",
		    tb_strerror(status), why,
		    f->read || f->member ? ""
		                         : " with the same Idempotency-Key");
	} else if ((ans = json_loadb((const char *)m->body, m->len, 0, &je)) ==
	           NULL) {
		http_reply_error(f->c, 502, "malformed", NULL,
		                 "the leader's answer is not JSON: %s",
		                 je.text);
	} else if (f->member && spec_int(ans, "status", 200) != 200) {
		json_t *e = json_object_get(ans, "error");
		long long st = spec_int(ans, "status", 502);
		http_reply_error(
		    f->c, st >= 400 && st <= 599 ? (uint16_t)st : 502,
		    spec_str(e, "code") ? spec_str(e, "code") : "unavailable",
		    spec_str(e, "field"), "%s",
		    spec_str(e, "message") ? spec_str(e, "message")
		                           : "the leader refused");
	} else if (f->member) {
		http_reply_json(f->c, 200, json_incref(ans));
	} else if (f->read) {
		wait_add(g, f->c, (uint64_t)spec_int(ans, "index", 0), 0, NULL,
		         true);
	} else {
		fwd_result(f, ans);
	}
	json_decref(ans);
	free(f);
}

bool
group_fwd_target(struct group *g, char leader[17], char *why, size_t len)
{
	if (g->n->links == NULL || !group_leader_peer(g, leader)) {
		snprintf(why, len,
		         "this member of %s knows no leader to forward to yet "
		         "(an election: retry; if it lasts, a majority of the "
		         "voters may be down, docs/GROUPS.md \"Recovering a "
		         "group that lost its quorum\")",
		         g->n->cfg.region);
		return false;
	}
	/* A leader that no longer sends to this member (a removed standby
	 * still names it): the write would commit there and never reach
	 * this member, whose answer would time out. */
	if (g->n->view.leader_silent_ms >
	    2 * (long long)g->n->cfg.election_ms + 1000) {
		snprintf(why, len,
		         "no message from the leader %s for %lld ms (removed "
		         "from the group, a spare now, or cut off from it)",
		         leader, (long long)g->n->view.leader_silent_ms);
		return false;
	}
	/* A leader whose link is down is probably gone: fail now rather
	 * than queue for a link that may never come back (an election
	 * follows within the election timeout). */
	if (!link_up(g->n->links, leader)) {
		snprintf(why, len,
		         "the link to the leader %s is down (an election may "
		         "be under way; retry)",
		         leader);
		return false;
	}
	return true;
}

/* fwd_send forwards req (borrowed) to the leader for c. */
static void
fwd_send(struct group *g, struct http_call *c, const json_t *req, bool read,
         bool member)
{
	char leader[17], why[512];
	struct fwd *f;
	char *text;
	int rv;

	if (!group_fwd_target(g, leader, why, sizeof(why))) {
		http_reply_error(c, 503, "not_leader", NULL, "%s", why);
		return;
	}
	text = json_dumps(req, JSON_COMPACT);
	f = calloc(1, sizeof(*f));
	if (text == NULL || f == NULL) {
		free(text);
		free(f);
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	f->g = g;
	f->c = c;
	f->read = read;
	f->member = member;
	rv = strlen(text) > GROUP_FWD_MAX
	         ? TB_ETOOBIG
	         : link_request(g->n->links, leader, GROUP_T_FWD, text,
	                        strlen(text), GROUP_FWD_TIMEOUT_MS, fwd_cb, f);
	free(text);
	if (rv != TB_OK) {
		free(f);
		http_reply_error(c, rv == TB_ETOOBIG ? 413 : 503,
		                 tb_errname(rv), NULL,
		                 "cannot forward to the leader %s: %s", leader,
		                 tb_strerror(rv));
		return;
	}
	g->fwd++;
}

void
group_forward(struct node *n, struct http_call *c, enum cmd_type t,
              const json_t *body, const char *idem_key)
{
	json_t *req =
	    json_pack("{s:s, s:s, s:s?, s:O}", "op", "cmd", "type",
	              cmd_type_name(t), "key", idem_key, "body", body);

	if (req == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	fwd_send(n->group, c, req, false, false);
	json_decref(req);
}

void
group_forward_cmd(struct node *n, struct http_call *c)
{
	struct cmd cmd;
	char err[256];
	int rv;

	rv = cmd_decode(c->cmd.base, c->cmd.len, &cmd, err, sizeof(err));
	raft_free(c->cmd.base);
	c->cmd.base = NULL;
	if (rv != TB_OK) {
		http_reply_error(c, 500, "internal", NULL,
		                 "a command this node encoded does not decode: "
		                 "%s",
		                 err);
		return;
	}
	group_forward(n, c, cmd.type, cmd.body, cmd.key);
	cmd_free(&cmd);
}

static void local_barrier(struct group *g, struct http_call *c,
                          const struct link_reply_to *to);

void
group_consistent_read(struct node *n, struct http_call *c)
{
	json_t *req;

	if (raft_state(&n->raft) == RAFT_LEADER) {
		local_barrier(n->group, c, NULL);
		return;
	}
	req = json_pack("{s:s}", "op", "barrier");
	fwd_send(n->group, c, req, true, false);
	json_decref(req);
}

void
group_member_api(struct http_call *c, const char *op, const char *id,
                 const json_t *req)
{
	struct node *n = c->node;
	json_t *r = req != NULL ? json_deep_copy(req) : json_object();

	if (r == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	if (link_fenced(n->links)) {
		json_decref(r);
		http_reply_error(
		    c, 503, "fenced", NULL,
		    "this node is an old member of a group that was "
		    "recovered without it: it changes no group");
		return;
	}
	json_object_set_new(r, "op", json_string(op));
	if (id[0] != '\0') {
		json_object_set_new(r, "node_id", json_string(id));
	}
	node_audit(n, c, "group.member", op);
	if (raft_state(&n->raft) == RAFT_LEADER) {
		group_op_start(n->group, r, c, NULL);
	} else {
		json_object_set_new(r, "member_op", json_string(op));
		json_object_set_new(r, "op", json_string("member"));
		fwd_send(n->group, c, r, false, true);
	}
	json_decref(r);
}

void
group_stop(struct node *n)
{
	struct group *g = n->group;
	struct group_wait *w;

	if (g != NULL) {
		group_snap_stop(g);
		group_fwdb_stop(g);
	}
	while (g != NULL && (w = g->waits) != NULL) {
		g->waits = w->next;
		json_decref(w->res);
		http_reply_error(w->c, 503, "closed", NULL,
		                 "the node stopped before it applied entry "
		                 "%llu (the write is committed)",
		                 (unsigned long long)w->index);
		free(w);
	}
}

/* ---- the leader ------------------------------------------------------- */

static void
prop_unlink(struct group *g, struct group_prop *p)
{
	struct group_prop **pp;

	for (pp = &g->props; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

void *
group_take_prop(struct node *n, raft_index index)
{
	struct group_prop *p;

	for (p = n->group->props; p != NULL; p = p->next) {
		if (p->req.index == index) {
			prop_unlink(n->group, p);
			p->staged = true;
			return p;
		}
	}
	return group_stash_take(n->group, index);
}

static void
reply_json(struct group *g, const struct link_reply_to *to, json_t *v)
{
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

	if (g->n->links == NULL) {
		free(text);
		return;
	}
	if (text == NULL) {
		link_reply_error(g->n->links, to, TB_ENOMEM, "out of memory");
		return;
	}
	link_reply(g->n->links, to, GROUP_T_FWD, text, strlen(text));
	free(text);
}

/* prop_cb: libraft is done with the proposal. Once applied, it was
 * staged (group_take_prop) and group_prop_done answers it after the store
 * commit; otherwise it failed here. */
void
group_prop_cb(struct raft_apply *req, int status, void *result)
{
	struct group_prop *p = req->data;
	struct group *g = p->g;

	(void)result;
	if (p->staged) {
		return;
	}
	prop_unlink(g, p);
	if (p->done != NULL) {
		p->done(p->done_arg, TB_ECONFLICT, NULL);
	} else if (g->n->links != NULL) {
		link_reply_error(g->n->links, &p->to, TB_ECONFLICT,
		                 status != 0 ? raft_strerror(status)
		                             : "the result is lost");
	}
	free(p);
}

void
group_prop_unstage(void *arg)
{
	struct group_prop *p = arg;

	if (p != NULL && p->stash) {
		group_stash_drop(p);
	} else if (p != NULL) {
		p->staged = false;
	}
}

void
group_prop_done(void *arg, int rv, json_t *res)
{
	struct group_prop *p = arg;
	struct group *g;
	json_t *ans;

	if (p == NULL) {
		json_decref(res);
		return;
	}
	if (p->stash) {
		group_stash_done(p, rv, res);
		return;
	}
	g = p->g;
	if (p->done != NULL) {
		p->done(p->done_arg, res != NULL ? rv : TB_ECONFLICT,
		        rv == TB_OK ? res : NULL);
		if (rv != TB_OK) {
			json_decref(res);
		}
		free(p);
		return;
	}
	if (rv != TB_OK || res == NULL) {
		json_decref(res);
		if (g->n->links != NULL) {
			link_reply_error(g->n->links, &p->to,
			                 rv != TB_OK ? rv : TB_ECONFLICT,
			                 rv != TB_OK ? tb_strerror(rv)
			                             : "the result is lost");
		}
		free(p);
		return;
	}
	ans = json_pack("{s:I, s:o}", "index", (json_int_t)p->req.index,
	                "result", res);
	reply_json(g, &p->to, ans);
	json_decref(ans);
	free(p);
}

/* propose stamps and proposes a forwarded command, like node_propose. */
static void
propose(struct group *g, const json_t *req, const struct link_reply_to *to)
{
	struct canon_buf b = { 0 };
	struct raft_buffer buf;
	struct group_prop *p;
	enum cmd_type t;
	char err[256];
	int rv;

	if (cmd_type_parse(spec_str(req, "type"), &t) != TB_OK ||
	    !json_is_object(json_object_get(req, "body"))) {
		link_reply_error(g->n->links, to, TB_EMALFORMED,
		                 "a forwarded command needs a known type and "
		                 "an object body");
		return;
	}
	rv = cmd_encode(t, node_now_ms(), spec_str(req, "key"),
	                json_object_get(req, "body"), &b, err, sizeof(err));
	if (rv != TB_OK || (buf.base = raft_malloc(b.len)) == NULL ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		if (rv == TB_OK) {
			raft_free(buf.base);
		}
		canon_buf_free(&b);
		link_reply_error(g->n->links, to, rv != TB_OK ? rv : TB_ENOMEM,
		                 rv != TB_OK ? err : "out of memory");
		return;
	}
	memcpy(buf.base, b.data, b.len);
	buf.len = b.len;
	canon_buf_free(&b);
	p->g = g;
	p->to = *to;
	p->req.data = p;
	if ((rv = raft_apply(&g->n->raft, &p->req, &buf, 1, group_prop_cb)) !=
	    0) {
		raft_free(buf.base);
		free(p);
		link_reply_error(g->n->links, to, TB_ECONFLICT,
		                 raft_strerror(rv));
		return;
	}
	g->n->m.proposals++;
	p->next = g->props;
	g->props = p;
}

struct bar {
	struct raft_barrier req;
	struct group *g;
	struct http_call *c;
	struct link_reply_to to;
};

static void
bar_cb(struct raft_barrier *req, int status)
{
	struct bar *b = req->data;
	struct group *g = b->g;
	/* Everything up to the barrier is applied now. */
	uint64_t index = raft_last_applied(&g->n->raft);
	json_t *ans;

	if (b->c != NULL) {
		if (status != 0) {
			http_reply_error(b->c, 503, "not_leader", NULL,
			                 "the barrier failed: %s (retry)",
			                 raft_strerror(status));
		} else {
			wait_add(g, b->c, index, 0, NULL, true);
		}
	} else if (status != 0) {
		if (g->n->links != NULL) {
			link_reply_error(g->n->links, &b->to, TB_ECONFLICT,
			                 raft_strerror(status));
		}
	} else {
		ans = json_pack("{s:I}", "index", (json_int_t)index);
		reply_json(g, &b->to, ans);
		json_decref(ans);
	}
	free(b);
}

static void
local_barrier(struct group *g, struct http_call *c,
              const struct link_reply_to *to)
{
	struct bar *b = calloc(1, sizeof(*b));
	int rv;

	if (b == NULL) {
		if (c != NULL) {
			http_reply_error(c, 500, "nomem", NULL,
			                 "out of memory");
		} else {
			link_reply_error(g->n->links, to, TB_ENOMEM,
			                 "out of memory");
		}
		return;
	}
	b->g = g;
	b->c = c;
	if (to != NULL) {
		b->to = *to;
	}
	b->req.data = b;
	if ((rv = raft_barrier(&g->n->raft, &b->req, bar_cb)) != 0) {
		free(b);
		if (c != NULL) {
			http_reply_error(c, 503, "not_leader", NULL,
			                 "cannot start a barrier: %s",
			                 raft_strerror(rv));
		} else {
			link_reply_error(g->n->links, to, TB_ECONFLICT,
			                 raft_strerror(rv));
		}
	}
}

void
group_fwd_handle(struct links *ls, const struct link_msg *m, void *arg)
{
	struct group *g = arg;
	const char *op;
	json_error_t je;
	json_t *req;

	if (!m->request) {
		return;
	}
	if (!group_peer_ok(g, m, "a forwarded request")) {
		link_reply_error(ls, &m->reply_to, TB_EFORBIDDEN,
		                 "only members of this region may forward");
		return;
	}
	req = json_loadb((const char *)m->body, m->len, JSON_REJECT_DUPLICATES,
	                 &je);
	op = spec_str(req, "op");
	if (op != NULL && !strcmp(op, "time")) {
		/* A clock probe: any member answers (group_clock.c). */
		group_clock_handle(g, m);
	} else if (raft_state(&g->n->raft) != RAFT_LEADER || g->n->stopping) {
		link_reply_error(ls, &m->reply_to, TB_ECONFLICT,
		                 "not the leader (any more)");
	} else if (op != NULL && !strcmp(op, "cmd")) {
		propose(g, req, &m->reply_to);
	} else if (op != NULL && !strcmp(op, "barrier")) {
		local_barrier(g, NULL, &m->reply_to);
	} else if (op != NULL && !strcmp(op, "member")) {
		json_object_set(req, "op", json_object_get(req, "member_op"));
		group_op_start(g, req, NULL, &m->reply_to);
	} else {
		link_reply_error(ls, &m->reply_to, TB_EMALFORMED,
		                 req == NULL ? "a forwarded request is not "
		                               "JSON"
		                             : "unknown forwarded op");
	}
	json_decref(req);
}
