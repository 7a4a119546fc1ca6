/* Clock skew between the members of a group: the leader stamps commands
 * with its clock and apply clamps time to be monotone, so a member whose
 * clock is far off makes due dates jump when it leads. Every 5 s each
 * member asks each other member for its time over the link and keeps
 * skew = their clock - (sent + received) / 2, with the round trip as its
 * error bound. Skews over GROUP_SKEW_WARN_MS are logged (TB-GROUP-CLOCK,
 * at most once a minute) and shown in /healthz and GET /v1/status. */
#include "node/group_impl.h"

#include "node/log.h"
#include "node/node.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK_PERIOD_MS 5000
#define CLOCK_FRESH_MS  30000

struct probe {
	struct group *g;
	raft_id id;
	int64_t t0;
};

static struct group_clock *
slot(struct group *g, raft_id id, bool make)
{
	struct group_clock *free_slot = NULL, *oldest = &g->clocks[0];
	unsigned i;

	for (i = 0; i < GROUP_CLOCKS; i++) {
		if (g->clocks[i].id == id) {
			return &g->clocks[i];
		}
		if (g->clocks[i].id == 0 && free_slot == NULL) {
			free_slot = &g->clocks[i];
		}
		if (g->clocks[i].at_ms < oldest->at_ms) {
			oldest = &g->clocks[i];
		}
	}
	if (!make) {
		return NULL;
	}
	return free_slot != NULL ? free_slot : oldest;
}

static void
probe_cb(void *arg, int status, const struct link_msg *m)
{
	struct probe *p = arg;
	struct group *g = p->g;
	int64_t t1 = node_now_ms(), tp;
	struct group_clock *c;
	json_t *ans = NULL;
	char id[17];

	if (status == TB_OK &&
	    (ans = json_loadb((const char *)m->body, m->len, 0, NULL)) !=
	        NULL &&
	    (tp = spec_int(ans, "t", -1)) > 0 && t1 >= p->t0) {
		c = slot(g, p->id, true);
		c->id = p->id;
		c->skew_ms = tp - (p->t0 + t1) / 2;
		c->rtt_ms = t1 - p->t0;
		c->at_ms = t1;
		if ((c->skew_ms > GROUP_SKEW_WARN_MS ||
		     c->skew_ms < -GROUP_SKEW_WARN_MS) &&
		    t1 - g->clock_log_ms >= 60000) {
			g->clock_log_ms = t1;
			group_node_id(p->id, id);
			tb_log(TB_LOG_WARN, "TB-GROUP-CLOCK",
			       "member %s's clock is %lld ms %s this node's "
			       "(round trip %lld ms): fix NTP on one of them",
			       id,
			       (long long)(c->skew_ms < 0 ? -c->skew_ms
			                                  : c->skew_ms),
			       c->skew_ms < 0 ? "behind" : "ahead of",
			       (long long)c->rtt_ms);
		}
	}
	json_decref(ans);
	free(p);
}

void
group_clock_tick(struct group *g)
{
	struct node *n = g->n;
	int64_t now = node_now_ms();
	char id[17], body[64];
	struct probe *p;
	unsigned i;

	if (n->links == NULL || now < g->next_clock_ms) {
		return;
	}
	g->next_clock_ms = now + CLOCK_PERIOD_MS;
	for (i = 0; i < n->raft.configuration.n; i++) {
		raft_id sid = n->raft.configuration.servers[i].id;
		if (sid == n->cfg.raft_id) {
			continue;
		}
		group_node_id(sid, id);
		if (!link_up(n->links, id) ||
		    (p = calloc(1, sizeof(*p))) == NULL) {
			continue;
		}
		p->g = g;
		p->id = sid;
		p->t0 = node_now_ms();
		snprintf(body, sizeof(body), "{\"op\":\"time\",\"t\":%lld}",
		         (long long)p->t0);
		if (link_request(n->links, id, GROUP_T_FWD, body, strlen(body),
		                 2000, probe_cb, p) != TB_OK) {
			free(p);
		}
	}
}

void
group_clock_handle(struct group *g, const struct link_msg *m)
{
	char body[64];

	snprintf(body, sizeof(body), "{\"t\":%lld}", (long long)node_now_ms());
	link_reply(g->n->links, &m->reply_to, GROUP_T_FWD, body, strlen(body));
}

int64_t
group_clock_json(struct group *g, raft_id id, json_t *m)
{
	struct group_clock *c = slot(g, id, false);

	if (c == NULL || node_now_ms() - c->at_ms > CLOCK_FRESH_MS) {
		return -1;
	}
	json_object_set_new(m, "clock_skew_ms", json_integer(c->skew_ms));
	json_object_set_new(m, "clock_rtt_ms", json_integer(c->rtt_ms));
	return c->skew_ms < 0 ? -c->skew_ms : c->skew_ms;
}
