/* Writes forwarded in batches, the leader's half (the follower's and the
 * design are in node/group_fwdb.c): fwdb_handle checks, stamps and
 * proposes a batch and answers with its entries' indexes at once;
 * group_push_commits tells the member the commit of its entries as soon as
 * it is known. */
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

/* ---- the leader --------------------------------------------------------- */

/* push_note records that entry index (of this term) was proposed for
 * member id's batch. */
static void
push_note(struct group *g, const char *node_id, raft_index index)
{
	raft_id id = (raft_id)strtoull(node_id, NULL, 16);
	unsigned i, free_slot = GROUP_PUSH;

	for (i = 0; i < GROUP_PUSH; i++) {
		if (g->push[i].id == id) {
			break;
		}
		if (g->push[i].index == 0 && free_slot == GROUP_PUSH) {
			free_slot = i;
		}
	}
	if (i == GROUP_PUSH && (i = free_slot) == GROUP_PUSH) {
		return; /* more members than slots: libraft's heartbeat */
	}
	g->push[i].id = id;
	g->push[i].index = index;
	g->push[i].term = g->n->raft.current_term;
}

/* push_commits tells each member whose forwarded entries committed the new
 * commit index at once (leader, before the loop waits). libraft 0.15 sends
 * a commit index only with its next message to a member: its next append,
 * or its heartbeat (heartbeat_ms, 50 by default) when nothing else is
 * proposed; a follower whose clients all wait on one batch would wait
 * that long, every batch. The message is the empty AppendEntries libraft
 * sends as a heartbeat, naming as previous entry the member's own last
 * forwarded entry, which this leader appended in this term and the member
 * reported stored (its match index), so it always matches there, and as
 * commit index at most that match index. */
void
group_push_commits(struct group *g)
{
	struct raft *r = &g->n->raft;
	struct raft_message msg;
	const struct raft_server *s;
	unsigned i, j;

	for (i = 0; i < GROUP_PUSH; i++) {
		if (g->push[i].index == 0) {
			continue;
		}
		if (raft_state(r) != RAFT_LEADER ||
		    g->push[i].term != r->current_term) {
			g->push[i].index = 0;
			continue;
		}
		if (r->commit_index < g->push[i].index) {
			continue;
		}
		for (j = 0; j < r->configuration.n; j++) {
			if (r->configuration.servers[j].id == g->push[i].id) {
				break;
			}
		}
		if (j == r->configuration.n) {
			g->push[i].index = 0; /* no longer a member */
			continue;
		}
		if (r->leader_state.progress == NULL ||
		    r->leader_state.progress[j].match_index <
		        g->push[i].index) {
			continue; /* not stored there yet: after its answer */
		}
		s = &r->configuration.servers[j];
		memset(&msg, 0, sizeof(msg));
		msg.type = RAFT_IO_APPEND_ENTRIES;
		msg.server_id = s->id;
		msg.server_address = s->address;
		msg.append_entries.term = r->current_term;
		msg.append_entries.prev_log_index = g->push[i].index;
		msg.append_entries.prev_log_term = r->current_term;
		/* No further than what the member reported matching: libraft
		 * 0.15 commits min(leader_commit, its last stored index), so
		 * a commit index past the verified prefix could mark entries
		 * of an older term that it still holds beyond it. */
		msg.append_entries.leader_commit =
		    r->commit_index < r->leader_state.progress[j].match_index
		        ? r->commit_index
		        : r->leader_state.progress[j].match_index;
		if (group_send_raft(g, &msg) == 0) {
			g->fwd_pushes++;
		}
		g->push[i].index = 0;
	}
}

struct fwdb_prop {
	struct raft_apply req;
};

static void
fwdb_prop_cb(struct raft_apply *req, int status, void *result)
{
	/* The entries are answered where they apply (at the member that
	 * forwarded them), or fail there when its term moves on. */
	(void)status;
	(void)result;
	free(req->data);
}

/* check_cmd: a forwarded command this leader may propose, stamped now. */
static int
check_cmd(struct node *n, uint8_t *p, size_t len, int64_t now, char *why,
          size_t wl)
{
	static const char *const keys[] = { "type", "v" };
	enum cmd_type t;
	json_t *doc = NULL;
	long long v;
	int rv;

	rv = canon_decode_fields(p, len, &canon_default_limits, keys, 2, &doc,
	                         why, wl);
	if (rv != TB_OK) {
		return rv;
	}
	if (cmd_type_parse(spec_str(doc, "type"), &t) != TB_OK) {
		snprintf(why, wl, "$.type: unknown command type");
		rv = TB_EUNKNOWN;
	} else if ((unsigned)cmd_feature_level(t) >
	           store_feature_level(n->store)) {
		snprintf(why, wl,
		         "%s needs feature level %d; the group runs at %u",
		         cmd_type_name(t), cmd_feature_level(t),
		         store_feature_level(n->store));
		rv = TB_EFEATURE;
	} else if ((v = spec_int(doc, "v", 0)) < 1 || v > cmd_version(t)) {
		snprintf(why, wl,
		         "$.v: version %lld of %s is not supported here", v,
		         cmd_type_name(t));
		rv = TB_EUNKNOWN;
	} else if (fwdmsg_restamp(p, len, now) != TB_OK) {
		snprintf(why, wl, "$.at: not a stamp this leader can replace");
		rv = TB_EMALFORMED;
	}
	json_decref(doc);
	return rv;
}

static void
fwdb_handle(struct links *ls, const struct link_msg *m, void *arg)
{
	struct group *g = arg;
	struct node *n = g->n;
	struct fwdmsg_cmd *cmds = NULL;
	struct fwdmsg_ans *ans = NULL;
	struct raft_buffer *bufs = NULL;
	struct fwdb_prop *p = NULL;
	char err[256];
	unsigned count = 0, k = 0, i;
	char(*why)[FWDMSG_WHY_MAX + 1] = NULL;
	int64_t now = node_now_ms();
	void *out = NULL;
	size_t len;
	int rv;

	if (!m->request) {
		return;
	}
	if (!group_peer_ok(g, m, "a forwarded batch")) {
		link_reply_error(ls, &m->reply_to, TB_EFORBIDDEN,
		                 "only members of this region may forward");
		return;
	}
	if (raft_state(&n->raft) != RAFT_LEADER || n->stopping) {
		link_reply_error(ls, &m->reply_to, TB_ECONFLICT,
		                 "not the leader (any more)");
		return;
	}
	cmds = calloc(FWDMSG_MAX, sizeof(*cmds));
	if (cmds == NULL) {
		link_reply_error(ls, &m->reply_to, TB_ENOMEM, "out of memory");
		return;
	}
	rv = fwdmsg_req_decode(m->body, m->len, cmds, FWDMSG_MAX, &count, err,
	                       sizeof(err));
	if (rv != TB_OK) {
		g->malformed++;
		link_reply_error(ls, &m->reply_to, rv, err);
		free(cmds);
		return;
	}
	ans = calloc(count, sizeof(*ans));
	bufs = calloc(count, sizeof(*bufs));
	why = calloc(count, sizeof(*why));
	p = malloc(sizeof(*p));
	if (ans == NULL || bufs == NULL || why == NULL || p == NULL) {
		rv = TB_ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	for (i = 0; i < count; i++) {
		uint8_t *b = raft_malloc(cmds[i].n);
		if (b == NULL) {
			rv = TB_ENOMEM;
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
		memcpy(b, cmds[i].p, cmds[i].n);
		ans[i].code =
		    check_cmd(n, b, cmds[i].n, now, why[i], sizeof(why[i]));
		if (ans[i].code != TB_OK) {
			ans[i].why = why[i];
			raft_free(b);
			continue;
		}
		bufs[k].base = b;
		bufs[k].len = cmds[i].n;
		k++;
	}
	if (k > 0) {
		p->req.data = p;
		if ((rv = raft_apply(&n->raft, &p->req, bufs, k,
		                     fwdb_prop_cb)) != 0) {
			snprintf(err, sizeof(err), "%s", raft_strerror(rv));
			rv = TB_ECONFLICT;
			goto fail;
		}
		n->m.proposals += k;
		n->m.prop_batches++;
		for (i = 0, k = 0; i < count; i++) {
			if (ans[i].code == TB_OK) {
				ans[i].index = p->req.index + k++;
			}
		}
		push_note(g, m->peer_node_id, p->req.index + k - 1);
		p = NULL; /* libraft's until fwdb_prop_cb */
	}
	rv = fwdmsg_ans_encode(n->raft.current_term, ans, count, &out, &len);
	if (rv != TB_OK) {
		/* Proposed, but the answer cannot be built: the follower
		 * times out (504, the writes may commit). */
		tb_log(TB_LOG_ERROR, "TB-GROUP-FWD",
		       "cannot answer a forwarded batch of %u: %s", count,
		       tb_strerror(rv));
	} else {
		link_reply(ls, &m->reply_to, GROUP_T_FWDB, out, len);
	}
	free(out);
	free(p);
	free(why);
	free(bufs);
	free(ans);
	free(cmds);
	return;
fail:
	for (i = 0; bufs != NULL && i < k; i++) {
		raft_free(bufs[i].base);
	}
	link_reply_error(ls, &m->reply_to, rv, err);
	free(p);
	free(why);
	free(bufs);
	free(ans);
	free(cmds);
}

int
group_fwdb_start(struct group *g)
{
	return link_handle(g->n->links, GROUP_T_FWDB, fwdb_handle, g);
}
