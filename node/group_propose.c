/* group_propose: a command this member proposes on its own behalf (not
 * for an HTTP call), at the leader or forwarded to it. The join token
 * flow uses it to commit a token's use before a certificate is issued. */
#include "node/group_impl.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct own_fwd {
	group_done_fn done;
	void *arg;
};

/* fwd_done: the leader's answer {"index", "result"} to a forwarded
 * command, or an error. */
static void
fwd_done(void *arg, int status, const struct link_msg *m)
{
	struct own_fwd *f = arg;
	json_t *ans = NULL, *res = NULL;

	if (status == TB_OK) {
		ans = json_loadb((const char *)m->body, m->len, 0, NULL);
		res = json_incref(json_object_get(ans, "result"));
		status = res != NULL ? TB_OK : TB_EMALFORMED;
	}
	json_decref(ans);
	f->done(f->arg, status, res);
	free(f);
}

/* later: a deferred failure, so done never runs inside group_propose. */
struct later {
	uv_timer_t t;
	group_done_fn done;
	void *arg;
	int rv;
};

static void
later_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
later_cb(uv_timer_t *t)
{
	struct later *l = t->data;

	l->done(l->arg, l->rv, NULL);
	uv_close((uv_handle_t *)&l->t, later_closed);
}

static void
fail_later(struct node *n, group_done_fn done, void *arg, int rv)
{
	struct later *l = calloc(1, sizeof(*l));

	if (l == NULL || uv_timer_init(&n->loop, &l->t) != 0) {
		free(l);
		done(arg, rv, NULL); /* out of memory: no better way */
		return;
	}
	l->t.data = l;
	l->done = done;
	l->arg = arg;
	l->rv = rv;
	uv_timer_start(&l->t, later_cb, 0, 0);
}

static void
propose_here(struct group *g, enum cmd_type t, const json_t *body,
             group_done_fn done, void *arg)
{
	struct canon_buf b = { 0 };
	struct raft_buffer buf = { 0 };
	struct group_prop *p = NULL;
	char err[256];
	int rv;

	rv = cmd_encode(t, node_now_ms(), NULL, body, &b, err, sizeof(err));
	if (rv == TB_OK && ((buf.base = raft_malloc(b.len)) == NULL ||
	                    (p = calloc(1, sizeof(*p))) == NULL)) {
		rv = TB_ENOMEM;
	}
	if (rv != TB_OK) {
		raft_free(buf.base);
		canon_buf_free(&b);
		fail_later(g->n, done, arg, rv);
		return;
	}
	memcpy(buf.base, b.data, b.len);
	buf.len = b.len;
	canon_buf_free(&b);
	p->g = g;
	p->done = done;
	p->done_arg = arg;
	p->req.data = p;
	if (raft_apply(&g->n->raft, &p->req, &buf, 1, group_prop_cb) != 0) {
		raft_free(buf.base);
		free(p);
		fail_later(g->n, done, arg, TB_ECONFLICT);
		return;
	}
	g->n->m.proposals++;
	p->next = g->props;
	g->props = p;
}

void
group_propose(struct node *n, enum cmd_type t, const json_t *body,
              group_done_fn done, void *arg)
{
	struct group *g = n->group;
	struct own_fwd *f;
	char leader[17], *text;
	json_t *req;
	int rv;

	if ((unsigned)cmd_feature_level(t) > store_feature_level(n->store)) {
		fail_later(n, done, arg, TB_EFEATURE);
		return;
	}
	if (raft_state(&n->raft) == RAFT_LEADER) {
		propose_here(g, t, body, done, arg);
		return;
	}
	if (n->links == NULL || !group_leader_peer(g, leader)) {
		fail_later(n, done, arg, TB_ECONFLICT);
		return;
	}
	req = json_pack("{s:s, s:s, s:O}", "op", "cmd", "type",
	                cmd_type_name(t), "body", body);
	text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (text == NULL || (f = calloc(1, sizeof(*f))) == NULL) {
		free(text);
		fail_later(n, done, arg, TB_ENOMEM);
		return;
	}
	f->done = done;
	f->arg = arg;
	rv = link_request(n->links, leader, GROUP_T_FWD, text, strlen(text),
	                  GROUP_FWD_TIMEOUT_MS, fwd_done, f);
	free(text);
	if (rv != TB_OK) {
		free(f);
		fail_later(n, done, arg, rv);
	}
}
