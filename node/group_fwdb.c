/* Writes a follower forwards to the leader in batches (link type
 * GROUP_T_FWDB, wire form in consensus/fwdmsg.h).
 *
 * Happy path. node_submit hands a write that reaches a follower, its
 * command already encoded and stamped on nng's thread (node_propose), to
 * group_fwd_queue; before the loop waits, group_fwd_release sends what
 * queued as one request [1, [cmd, ...]]. As at the leader (node_prop.c),
 * the writes wait instead while a batch of this member's is unanswered or
 * its entries are not known committed here (at most NODE_PROP_HOLD_MS, or
 * until NODE_PROP_BATCH wait): they could not commit before it anyway. The
 * leader checks each command (canonical, a known type and version, the
 * group's feature level), stamps it with its own clock (fwdmsg_restamp),
 * proposes them all in one raft_apply and answers at once with its term
 * and each entry's index, not after the apply. This member keeps each call
 * by its index (g->fcalls); when it applies that index, node_fsm_apply
 * gives the call to the store's writer (group_take_call), which answers it
 * after its own commit exactly as it answers a write at the leader:
 * read-your-writes at this member, and no result travels between members.
 *
 * Which entry is ours. The leader appended it at index in term. While this
 * member is still in that term when it applies index, only that leader can
 * have committed the entry, so it is ours. If the term changed first (a new
 * leader may have replaced the entry), the call is answered 503 (the write
 * may or may not commit: retry with the same Idempotency-Key), never with
 * another write's result.
 *
 * The answer and the commit travel on different links (each member dials
 * the other), so this member may apply an entry before the answer that
 * names it arrives. While a batch is unanswered, an entry applied with no
 * call waiting keeps its result (a stash record: the writer hands the
 * result to the loop as for the leader's forwarded proposals,
 * group_prop_done), and the answer then finds it there.
 *
 * Failures: no leader known or its link down (503 not_leader, at once);
 * the leader refuses the batch (no longer leading: 503) or one command
 * (409 feature_level, 502 otherwise; nothing proposed for it); the
 * leader's build has no handler (TB_ENOTIMPL: the writes go one by one,
 * group_fwd.c, while that member leads); no answer within
 * GROUP_FWD_TIMEOUT_MS (504: it may commit; retry with the same
 * Idempotency-Key); the index not applied here within twice that of the
 * request's start (504); the node stopping (503). Each call is answered
 * once: whoever takes it off a list answers it. */
#include "node/group_impl.h"

#include "consensus/fwdmsg.h"
#include "node/log.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/canon.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A batch sent to the leader and not answered yet. */
struct fwdb {
	struct fwdb *next;
	struct group *g;
	char leader[17];
	unsigned n;
	struct http_call *calls[];
};

/* ---- answers ---------------------------------------------------------- */

static void
fail_list(struct http_call *c, uint16_t status, const char *code,
          const char *msg)
{
	struct http_call *next;

	for (; c != NULL; c = next) {
		next = c->next;
		c->next = NULL;
		http_reply_error(c, status, code, NULL, "%s", msg);
	}
}

static void
fail_batch(struct fwdb *b, uint16_t status, const char *code, const char *msg)
{
	unsigned i;

	for (i = 0; i < b->n; i++) {
		if (b->calls[i] != NULL) {
			http_reply_error(b->calls[i], status, code, NULL, "%s",
			                 msg);
			b->calls[i] = NULL;
		}
	}
}

/* answer_result answers c with an entry's result (res stolen), as the
 * writer would have: group_fwd.c's fwd_result. */
static void
answer_result(struct http_call *c, int rv, json_t *res)
{
	json_t *err;
	uint16_t status;

	if (rv != TB_OK || res == NULL) {
		json_decref(res);
		http_reply_error(c, 503, "unavailable", NULL,
		                 "this member's store could not apply entry "
		                 "%llu: %s",
		                 (unsigned long long)c->apply.index,
		                 tb_strerror(rv != TB_OK ? rv : TB_ENOMEM));
		return;
	}
	if ((err = json_object_get(res, "error")) != NULL) {
		status = node_error_status(
		    json_string_value(json_object_get(err, "code")));
	} else {
		if (c->extra != NULL) {
			json_object_update(res, c->extra);
		}
		status = strcmp(c->method, "POST") == 0 ? 201 : 200;
	}
	http_reply_json(c, status, res);
}

/* ---- the stash: entries applied while a batch is unanswered ---------- */

static void
stash_free(struct group_prop *p)
{
	struct group_prop **pp;

	for (pp = &p->g->stash; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	json_decref(p->res);
	free(p);
}

/* stash_sweep frees the records no answer can claim any more. */
static void
stash_sweep(struct group *g)
{
	struct group_prop *p, *next;

	if (g->fwdbs != NULL) {
		return;
	}
	for (p = g->stash; p != NULL; p = next) {
		next = p->next;
		if (p->ready && p->c == NULL) {
			stash_free(p);
		}
	}
}

void *
group_stash_take(struct group *g, raft_index index)
{
	struct group_prop *p;

	if (g->fwdbs == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		return NULL;
	}
	p->g = g;
	p->stash = true;
	p->stash_index = index;
	p->stash_term = g->n->raft.current_term;
	p->next = g->stash;
	g->stash = p;
	return p;
}

void
group_stash_done(struct group_prop *p, int rv, json_t *res)
{
	struct http_call *c = p->c;

	p->ready = true;
	p->rv = rv;
	p->res = res;
	if (c != NULL) {
		p->c = NULL;
		p->res = NULL;
		answer_result(c, rv, res);
		stash_free(p);
	} else if (p->g->fwdbs == NULL || p->g->n->stopping) {
		stash_free(p);
	}
}

void
group_stash_drop(struct group_prop *p)
{
	stash_free(p);
}

/* ---- the follower: calls waiting for their entry ----------------------- */

/* wait_call keeps c until this member applies its entry (or answers it
 * now: the term already changed, or the entry was applied first). */
static void
wait_call(struct group *g, struct http_call *c, raft_index index,
          raft_term term)
{
	struct node *n = g->n;
	struct http_call **pp;
	struct group_prop *p;

	c->apply.index = index;
	c->prop_term = term;
	raft_free(c->cmd.base); /* the leader has it */
	c->cmd.base = NULL;
	c->cmd.len = 0;
	if (term < n->raft.current_term) {
		http_reply_error(c, 503, "unavailable", NULL,
		                 "the leader proposed the write as entry %llu "
		                 "in term %llu, which ended before this member "
		                 "applied it: it may or may not commit (retry "
		                 "with the same Idempotency-Key)",
		                 (unsigned long long)index,
		                 (unsigned long long)term);
		return;
	}
	if (index <= raft_last_applied(&n->raft)) {
		for (p = g->stash; p != NULL; p = p->next) {
			if (p->stash_index == index) {
				break;
			}
		}
		if (p != NULL && p->stash_term == term && p->c == NULL) {
			if (p->ready) {
				json_t *res = p->res;
				p->res = NULL;
				answer_result(c, p->rv, res);
				stash_free(p);
			} else {
				p->c = c;
			}
			return;
		}
		http_reply_error(
		    c, 504, "timeout", NULL,
		    "entry %llu was applied here before the "
		    "leader's answer named it, and its result was "
		    "not kept: the write may be committed (read it "
		    "back, or retry with the same Idempotency-Key)",
		    (unsigned long long)index);
		return;
	}
	/* In index order: answers come in order, so usually at the end. */
	c->next = NULL;
	if (g->fcalls_tail == NULL) {
		g->fcalls = g->fcalls_tail = c;
		return;
	}
	if (g->fcalls_tail->apply.index < index) {
		g->fcalls_tail->next = c;
		g->fcalls_tail = c;
		return;
	}
	for (pp = &g->fcalls; (*pp)->apply.index < index; pp = &(*pp)->next) {
	}
	c->next = *pp;
	*pp = c;
}

static struct http_call *
fcalls_pop(struct group *g)
{
	struct http_call *c = g->fcalls;

	g->fcalls = c->next;
	if (g->fcalls == NULL) {
		g->fcalls_tail = NULL;
	}
	c->next = NULL;
	return c;
}

struct http_call *
group_take_call(struct node *n, raft_index index)
{
	struct group *g = n->group;
	struct http_call *c;

	while (g != NULL && g->fcalls != NULL &&
	       g->fcalls->apply.index <= index) {
		c = fcalls_pop(g);
		if (c->apply.index < index) {
			/* Skipped: the store took a snapshot past it. */
			http_reply_error(
			    c, 504, "timeout", NULL,
			    "entry %llu reached this member in a snapshot, "
			    "not applied one by one: the write may be "
			    "committed (read it back, or retry with the same "
			    "Idempotency-Key)",
			    (unsigned long long)c->apply.index);
			continue;
		}
		if (c->prop_term != n->raft.current_term) {
			http_reply_error(
			    c, 503, "unavailable", NULL,
			    "the leader changed (term %llu, now %llu) before "
			    "this member applied entry %llu, which may hold "
			    "another write: the write may or may not be "
			    "committed (retry with the same Idempotency-Key)",
			    (unsigned long long)c->prop_term,
			    (unsigned long long)n->raft.current_term,
			    (unsigned long long)index);
			return NULL;
		}
		return c;
	}
	return NULL;
}

/* ---- the follower: sending ------------------------------------------- */

static void fwdb_cb(void *arg, int status, const struct link_msg *m);

static void
send_batch(struct group *g)
{
	struct node *n = g->n;
	struct http_call *list = g->fq_head, *c, *next;
	struct fwdmsg_cmd cmds[NODE_PROP_BATCH];
	char leader[17], why[512];
	unsigned count = 0;
	struct fwdb *b;
	void *body = NULL;
	size_t len = 0;
	int rv;

	g->fq_head = g->fq_tail = NULL;
	g->fq_n = 0;
	g->fq_bytes = 0;
	if (list == NULL) {
		return;
	}
	if (!group_fwd_target(g, leader, why, sizeof(why))) {
		fail_list(list, 503, "not_leader", why);
		return;
	}
	if (!strcmp(g->fwdb_off, leader)) {
		/* The leader's build takes one write per request. */
		for (c = list; c != NULL; c = next) {
			next = c->next;
			c->next = NULL;
			group_forward_cmd(n, c);
		}
		return;
	}
	b = calloc(1, sizeof(*b) + NODE_PROP_BATCH * sizeof(b->calls[0]));
	if (b == NULL) {
		fail_list(list, 500, "nomem", "out of memory");
		return;
	}
	for (c = list; c != NULL; c = next) {
		next = c->next;
		c->next = NULL;
		cmds[count].p = c->cmd.base;
		cmds[count].n = c->cmd.len;
		b->calls[count++] = c;
	}
	b->g = g;
	b->n = count;
	memcpy(b->leader, leader, sizeof(b->leader));
	rv = fwdmsg_req_encode(cmds, count, &body, &len);
	if (rv == TB_OK && len > GROUP_FWD_MAX) {
		rv = TB_ETOOBIG;
	}
	if (rv == TB_OK) {
		rv = link_request(n->links, leader, GROUP_T_FWDB, body, len,
		                  GROUP_FWD_TIMEOUT_MS, fwdb_cb, b);
	}
	free(body);
	if (rv != TB_OK) {
		snprintf(why, sizeof(why),
		         "cannot forward to the leader %s: %s", leader,
		         tb_strerror(rv));
		fail_batch(b, rv == TB_ETOOBIG ? 413 : 503, tb_errname(rv),
		           why);
		free(b);
		return;
	}
	b->next = g->fwdbs; /* order does not matter: matched by pointer */
	g->fwdbs = b;
	g->fwd += count;
	g->fwd_batches++;
}

/* held: whether the queued writes wait for this member's last batch. */
static bool
held(struct group *g)
{
	struct node *n = g->n;

	if (g->fq_n >= NODE_PROP_BATCH || g->fq_bytes >= GROUP_FWD_MAX / 2) {
		return false;
	}
	if (g->fwdbs == NULL && (g->fwd_last_term != n->raft.current_term ||
	                         g->fwd_last <= n->raft.commit_index)) {
		return false;
	}
	return (int64_t)uv_now(&n->loop) - g->fq_since_ms < NODE_PROP_HOLD_MS;
}

void
group_fwd_queue(struct node *n, struct http_call *c)
{
	struct group *g = n->group;

	/* A command over the limit alone is refused alone (413). */
	if (g->fq_n > 0 && g->fq_bytes + c->cmd.len > GROUP_FWD_MAX) {
		send_batch(g);
	}
	c->next = NULL;
	if (g->fq_tail != NULL) {
		g->fq_tail->next = c;
	} else {
		g->fq_head = c;
		g->fq_since_ms = (int64_t)uv_now(&n->loop);
	}
	g->fq_tail = c;
	g->fq_n++;
	g->fq_bytes += c->cmd.len;
	if (g->fq_n >= NODE_PROP_BATCH) {
		send_batch(g);
	}
}

void
group_fwd_release(struct node *n)
{
	struct group *g = n->group;
	struct http_call *c, *next;

	if (g == NULL) {
		return;
	}
	group_push_commits(g);
	if (g->fq_head == NULL) {
		return;
	}
	if (n->stopping) {
		c = g->fq_head;
		g->fq_head = g->fq_tail = NULL;
		g->fq_n = 0;
		g->fq_bytes = 0;
		fail_list(c, 503, "closed", "the node is shutting down");
		return;
	}
	if (raft_state(&n->raft) == RAFT_LEADER) {
		/* Elected meanwhile: propose them here. */
		c = g->fq_head;
		g->fq_head = g->fq_tail = NULL;
		g->fq_n = 0;
		g->fq_bytes = 0;
		for (; c != NULL; c = next) {
			next = c->next;
			c->next = NULL;
			node_submit(n, c);
		}
		return;
	}
	if (!held(g)) {
		send_batch(g);
	}
}

/* ---- the follower: the leader's answer ------------------------------- */

static void
fwdb_failed(struct fwdb *b, int status, const struct link_msg *m)
{
	char msg[512], why[256] = "";

	if (m != NULL && m->len > 0) {
		snprintf(why, sizeof(why), ": %.*s",
		         (int)(m->len < 200 ? m->len : 200),
		         (const char *)m->body);
	}
	snprintf(msg, sizeof(msg),
	         "forwarding to the leader %s failed: %s%s (retry with the "
	         "same Idempotency-Key)",
	         b->leader, tb_strerror(status), why);
	/* As group_fwd.c's fwd_cb: timeouts 504, a leader gone or not
	 * leading 503, anything else it refused a bad gateway. */
	fail_batch(b,
	           status == TB_ETIMEOUT  ? 504
	           : status == TB_ETOOBIG ? 413
	           : status == TB_ECONFLICT || status == TB_ECLOSED ||
	                   status == TB_ENOMEM
	               ? 503
	               : 502,
	           status == TB_ECONFLICT ? "not_leader" : tb_errname(status),
	           msg);
}

static void
fwdb_cb(void *arg, int status, const struct link_msg *m)
{
	struct fwdb *b = arg, **pp;
	struct group *g = b->g;
	struct node *n = g->n;
	struct fwdmsg_ans *ans = NULL;
	char err[256], msg[512];
	uint64_t term = 0;
	unsigned i;
	int rv;

	for (pp = &g->fwdbs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	if (n->stopping) {
		fail_batch(b, 503, "closed", "the node is shutting down");
	} else if (status == TB_ENOTIMPL) {
		/* An older build leads: one by one while it does. */
		memcpy(g->fwdb_off, b->leader, sizeof(g->fwdb_off));
		for (i = 0; i < b->n; i++) {
			group_forward_cmd(n, b->calls[i]);
			b->calls[i] = NULL;
		}
	} else if (status != TB_OK) {
		fwdb_failed(b, status, m);
	} else if ((ans = calloc(b->n, sizeof(*ans))) == NULL ||
	           (rv = fwdmsg_ans_decode(m->body, m->len, &term, ans, b->n,
	                                   err, sizeof(err))) != TB_OK) {
		snprintf(
		    msg, sizeof(msg),
		    "the leader's answer to a forwarded batch is not "
		    "readable: %s; the writes may be committed (retry with "
		    "the same Idempotency-Key)",
		    ans == NULL ? "out of memory" : err);
		fail_batch(b, 502, "malformed", msg);
	} else {
		for (i = 0; i < b->n; i++) {
			if (ans[i].code != 0) {
				http_reply_error(
				    b->calls[i],
				    ans[i].code == TB_EFEATURE ? 409 : 502,
				    ans[i].code == TB_EFEATURE
				        ? "feature_level"
				        : tb_errname(ans[i].code),
				    NULL, "the leader refused the write: %.*s",
				    (int)ans[i].why_len, ans[i].why);
			} else {
				wait_call(g, b->calls[i], ans[i].index, term);
				if (term > g->fwd_last_term ||
				    ans[i].index > g->fwd_last) {
					g->fwd_last = ans[i].index;
					g->fwd_last_term = term;
				}
			}
			b->calls[i] = NULL;
		}
	}
	free(ans);
	free(b);
	stash_sweep(g);
}

void
group_fwdb_tick(struct group *g)
{
	struct node *n = g->n;
	struct http_call *c, *keep = NULL, **kp = &keep, *last = NULL;
	int64_t limit_ns = (int64_t)2 * GROUP_FWD_TIMEOUT_MS * 1000000;
	int64_t now = http_now_ns();

	while (g->fcalls != NULL) {
		c = fcalls_pop(g);
		if (c->prop_term < n->raft.current_term) {
			http_reply_error(
			    c, 503, "unavailable", NULL,
			    "the leader changed (term %llu, now %llu) before "
			    "this member applied entry %llu: the write may or "
			    "may not be committed (retry with the same "
			    "Idempotency-Key)",
			    (unsigned long long)c->prop_term,
			    (unsigned long long)n->raft.current_term,
			    (unsigned long long)c->apply.index);
		} else if (now - c->start_ns > limit_ns) {
			http_reply_error(
			    c, 504, "timeout", NULL,
			    "this member did not apply entry %llu in time: "
			    "the write may be committed (retry with the same "
			    "Idempotency-Key)",
			    (unsigned long long)c->apply.index);
		} else {
			*kp = c;
			kp = &c->next;
			last = c;
		}
	}
	g->fcalls = keep;
	g->fcalls_tail = last;
	stash_sweep(g);
}

void
group_fwdb_stop(struct group *g)
{
	struct http_call *c;
	struct group_prop *p;

	c = g->fq_head;
	g->fq_head = g->fq_tail = NULL;
	g->fq_n = 0;
	fail_list(c, 503, "closed", "the node is shutting down");
	while (g->fcalls != NULL) {
		c = fcalls_pop(g);
		http_reply_error(c, 503, "closed", NULL,
		                 "the node stopped before it applied entry "
		                 "%llu (the write may be committed: retry with "
		                 "the same Idempotency-Key)",
		                 (unsigned long long)c->apply.index);
	}
	for (p = g->stash; p != NULL; p = p->next) {
		if ((c = p->c) != NULL) {
			p->c = NULL;
			http_reply_error(c, 503, "closed", NULL,
			                 "the node stopped before it applied "
			                 "entry %llu (the write is committed)",
			                 (unsigned long long)c->apply.index);
		}
	}
}

void
group_fwdb_free(struct group *g)
{
	while (g->stash != NULL) {
		stash_free(g->stash);
	}
}

bool
group_apply_now(struct node *n)
{
	struct group *g = n->group;
	int64_t now = (int64_t)uv_now(&n->loop);

	if (g == NULL || raft_state(&n->raft) == RAFT_LEADER ||
	    g->fcalls != NULL || g->fwdbs != NULL || g->fq_head != NULL ||
	    g->waits != NULL || g->stash != NULL || n->stopping ||
	    now - g->apply_submit_ms >= GROUP_APPLY_DEFER_MS) {
		g->apply_submit_ms = now;
		return true;
	}
	return false;
}
