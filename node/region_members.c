/* Between regions when a region is served by a group: who its members are
 * and which one leads (docs/REPLICATION.md "Groups on both sides").
 *
 * Happy path: every second the leader of each region sends its parent and
 * its children a REGION_T_MEMBERS message, {"region", "term", "leader",
 * "members": [{"node_id", "url"}]}, from its Raft configuration. A child
 * dials every member of its parent's group (links.json entries marked
 * "by": "region-member", pinned to the node id, beside the topology's
 * URL) and sends its frames and reports to the one that leads; a parent
 * sends to its child's leader. A frame or report that reaches a follower
 * anyway (the configured URL is a follower's; the leader just changed) is
 * dropped as before (`not_leader`: the sender resends) and answered with
 * the same message, so the sender learns the leader and the members at
 * its first contact: configure any one member's address.
 *
 * Failure modes: a member that dies closes its links; frames then go to
 * any member of the region, whose follower answers with the new leader
 * once the group elected one. Nothing is relayed, so nothing loops and
 * every frame reaches the leader over a link that authenticated its
 * sender. Only a node with a member certificate of the parent or of a
 * child (the link verified its chain) is listened to, about its own
 * region; a malformed message changes nothing and is counted. */
#include "node/region_impl.h"

#include "node/group.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_store.h"
#include "schema/cert.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A follower answers one sender at most this often. */
#define REGION_HINT_MS 500

/* members_json: this group's message (a new reference), or NULL. */
static json_t *
members_json(struct region_flow *f)
{
	struct raft_configuration *conf = &f->n->raft.configuration;
	raft_id lid = 0;
	const char *laddr = NULL;
	char id[17], url[300];
	json_t *ms = json_array(), *out;
	unsigned i;

	if (ms == NULL) {
		return NULL;
	}
	for (i = 0; i < conf->n && json_array_size(ms) < REGION_MEMBERS_MAX;
	     i++) {
		const struct raft_server *s = &conf->servers[i];
		const char *colon =
		    s->address ? strrchr(s->address, ':') : NULL;

		/* Voters and standbys may lead (a standby once promoted);
		 * an address that cannot be dialed is left out. */
		if (s->role == RAFT_SPARE || colon == NULL ||
		    !strcmp(colon, ":0")) {
			continue;
		}
		group_node_id(s->id, id);
		snprintf(url, sizeof(url), "%s%s",
		         strncmp(s->address, "tcp://", 6) ? "tcp://" : "",
		         s->address);
		json_array_append_new(
		    ms, json_pack("{s:s, s:s}", "node_id", id, "url", url));
	}
	raft_leader(&f->n->raft, &lid, &laddr);
	if (lid != 0) {
		group_node_id(lid, id);
	}
	out =
	    json_pack("{s:s, s:I, s:o, s:o}", "region", f->n->cfg.region,
	              "term", (json_int_t)f->n->raft.current_term, "leader",
	              lid != 0 ? json_string(id) : json_null(), "members", ms);
	return out;
}

void
region_members_send(struct region_flow *f, uint32_t to)
{
	json_t *m = members_json(f);
	char *text = m != NULL ? json_dumps(m, JSON_COMPACT) : NULL;

	json_decref(m);
	if (text != NULL) {
		region_send(f, to, REGION_T_MEMBERS, (const uint8_t *)text,
		            strlen(text));
	}
	free(text);
}

void
region_members_round(struct region_flow *f)
{
	unsigned i;

	if (f->parent != 0) {
		region_members_send(f, f->parent);
	}
	for (i = 0; i < f->nkids; i++) {
		region_members_send(f, f->kids[i].code);
	}
}

void
region_redirect(struct region_flow *f, const struct link_msg *m)
{
	int64_t now = region_mono_ms(f);
	json_t *msg;
	char *text;
	unsigned i;

	/* Only a follower redirects (a leader whose driver is off, at
	 * feature level 1, has nowhere to send anyone). */
	if (raft_state(&f->n->raft) == RAFT_LEADER || f->n->links == NULL) {
		return;
	}
	for (i = 0; i < 16; i++) {
		if (!strcmp(f->hinted[i].id, m->peer_node_id)) {
			if (now - f->hinted[i].at < REGION_HINT_MS) {
				return;
			}
			break;
		}
	}
	if (i == 16) {
		i = f->hinted_next++ % 16;
		snprintf(f->hinted[i].id, sizeof(f->hinted[i].id), "%s",
		         m->peer_node_id);
	}
	f->hinted[i].at = now;
	msg = members_json(f);
	text = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	/* Back to the node that sent it, on the link it came on. */
	if (text != NULL &&
	    link_send(f->n->links, m->peer_node_id, REGION_T_MEMBERS, text,
	              strlen(text)) == TB_OK) {
		f->redirects++;
	}
	free(text);
}

int
region_members_parse(const json_t *h, struct region_member *ms, unsigned *n,
                     const char **leader, char *why, size_t wlen)
{
	const json_t *a = json_object_get(h, "members"), *e;
	const json_t *l = json_object_get(h, "leader");
	size_t i;
	bool found = false;

	*n = 0;
	*leader = json_is_string(l) ? json_string_value(l) : NULL;
	if (!json_is_array(a) || json_array_size(a) > REGION_MEMBERS_MAX) {
		snprintf(why, wlen, "$.members: an array of at most %d",
		         REGION_MEMBERS_MAX);
		return -1;
	}
	if (!json_is_integer(json_object_get(h, "term")) ||
	    json_integer_value(json_object_get(h, "term")) < 0) {
		snprintf(why, wlen, "$.term: a Raft term (an integer >= 0)");
		return -1;
	}
	if (!json_is_null(l) && !json_is_string(l)) {
		snprintf(why, wlen, "$.leader: a node id or null");
		return -1;
	}
	json_array_foreach(a, i, e)
	{
		const char *id = spec_str(e, "node_id");
		const char *url = spec_str(e, "url");

		if (id == NULL || strlen(id) != CERT_NODE_ID_HEX ||
		    strspn(id, "0123456789abcdef") != CERT_NODE_ID_HEX) {
			snprintf(why, wlen,
			         "$.members[%zu].node_id: 16 lowercase hex "
			         "digits expected",
			         i);
			return -1;
		}
		if (url == NULL || strncmp(url, "tcp://", 6) != 0 ||
		    strlen(url) >= sizeof(ms[0].url) ||
		    strrchr(url, ':') < url + 6) {
			snprintf(why, wlen,
			         "$.members[%zu].url: tcp://HOST:PORT expected",
			         i);
			return -1;
		}
		snprintf(ms[*n].id, sizeof(ms[0].id), "%s", id);
		snprintf(ms[*n].url, sizeof(ms[0].url), "%s", url);
		(*n)++;
		found = found || (*leader != NULL && !strcmp(*leader, id));
	}
	if (*leader != NULL && !found) {
		snprintf(why, wlen, "$.leader: %.16s is not one of the members",
		         *leader);
		return -1;
	}
	return 0;
}

void
region_on_members(struct links *ls, const struct link_msg *m, void *arg)
{
	struct region_flow *f = arg;
	uint32_t code = region_code_u32(m->peer_region);
	struct region_member ms[REGION_MEMBERS_MAX];
	struct region_child *k = NULL;
	const char *leader;
	char why[160], parent[7] = "", c[8];
	unsigned n, i;
	uint64_t term;
	json_t *h;

	(void)ls;
	memset(ms, 0, sizeof(ms)); /* compared whole with f->pm */
	f->members_rx++;
	/* From a member of the parent's group or of a child's (the link
	 * verified its chain), about its own region. */
	snprintf(c, sizeof(c), "%06u", code);
	if (strcmp(m->peer_role, "member") != 0 ||
	    (code != f->parent && (cert_region_parent(c, parent) != 0 ||
	                           region_code_u32(parent) != f->self))) {
		f->spoofed++;
		return;
	}
	h = json_loadb((const char *)m->body, m->len, JSON_REJECT_DUPLICATES,
	               NULL);
	if (!json_is_object(h) ||
	    strcmp(spec_str(h, "region") ? spec_str(h, "region") : "",
	           m->peer_region) != 0) {
		snprintf(why, sizeof(why), "$.region: not the sender's %s",
		         m->peer_region);
		goto bad;
	}
	if (region_members_parse(h, ms, &n, &leader, why, sizeof(why)) != 0) {
		goto bad;
	}
	term = (uint64_t)json_integer_value(json_object_get(h, "term"));
	if (code == f->parent) {
		if (leader != NULL && term >= f->parent_term) {
			snprintf(f->parent_leader, sizeof(f->parent_leader),
			         "%s", leader);
			f->parent_term = term;
		}
		/* An empty list (a node not yet added to its group) says
		 * nothing about the members. */
		pthread_mutex_lock(&f->mu);
		if (n > 0 && (!f->pm_known || n != f->npm ||
		              memcmp(ms, f->pm, n * sizeof(ms[0])) != 0)) {
			for (i = 0; i < n; i++) {
				f->pm[i] = ms[i];
			}
			f->npm = n;
			f->pm_known = true;
			f->next_links_ms = 0; /* dial them now */
		}
		pthread_mutex_unlock(&f->mu);
	} else if (leader != NULL && (k = region_kid(f, code, true)) != NULL &&
	           term >= k->leader_term) {
		/* A child's members dial us (its topology); we only need to
		 * know which one leads. */
		snprintf(k->leader, sizeof(k->leader), "%s", leader);
		k->leader_term = term;
	}
	json_decref(h);
	return;
bad:
	f->malformed++;
	tb_log(TB_LOG_WARN, "TB-REGION-MALFORMED",
	       "members message from %s (%s): %s", m->peer_node_id,
	       m->peer_region, why);
	json_decref(h);
}

bool
region_members_sync(struct region_flow *f, json_t *peers,
                    const char *parent_code, const char *parent_url)
{
	struct region_member ms[REGION_MEMBERS_MAX];
	unsigned n, i;
	size_t j;
	bool known, changed = false;
	json_t *p;
	char via[17] = "";

	/* The member the topology's URL reaches (through a proxy, a name,
	 * another address than the group records) is dialed there only. */
	if (f->n->links == NULL ||
	    !link_url_node(f->n->links, parent_url, via)) {
		via[0] = '\0';
	}
	pthread_mutex_lock(&f->mu);
	known = f->pm_known;
	n = f->npm;
	memcpy(ms, f->pm, sizeof(ms));
	pthread_mutex_unlock(&f->mu);
	/* Drop members of another parent, or (once a list came) those the
	 * parent's group no longer names. */
	for (j = 0; j < json_array_size(peers);) {
		const char *by, *id, *rg;
		bool keep = true;

		p = json_array_get(peers, j);
		by = spec_str(p, "by");
		id = spec_str(p, "node_id");
		rg = spec_str(p, "region");
		if (by != NULL && !strcmp(by, "region-member")) {
			keep = parent_code != NULL && rg != NULL &&
			       !strcmp(rg, parent_code);
			for (i = 0; keep && known && i < n; i++) {
				if (id != NULL && !strcmp(id, ms[i].id) &&
				    !strcmp(spec_str(p, "url")
				                ? spec_str(p, "url")
				                : "",
				            ms[i].url)) {
					break;
				}
			}
			keep = keep && (!known || i < n) &&
			       (id == NULL || strcmp(id, via) != 0);
		}
		if (!keep) {
			tb_log(TB_LOG_INFO, "TB-REGION-LINK",
			       "links.json: %s's member %s at %s is no longer "
			       "dialed",
			       rg ? rg : "?", id ? id : "?",
			       spec_str(p, "url") ? spec_str(p, "url") : "?");
			json_array_remove(peers, j);
			changed = true;
			continue;
		}
		j++;
	}
	for (i = 0; parent_code != NULL && i < n; i++) {
		bool have = false;

		json_array_foreach(peers, j, p)
		{
			have = have ||
			       !strcmp(spec_str(p, "url") ? spec_str(p, "url")
			                                  : "",
			               ms[i].url);
		}
		if (have || !strcmp(ms[i].id, f->n->cfg.node_id) ||
		    !strcmp(ms[i].id, via)) {
			continue; /* the topology's URL, or already dialed */
		}
		json_array_append_new(
		    peers, json_pack("{s:s, s:s, s:s, s:s}", "region",
		                     parent_code, "url", ms[i].url, "node_id",
		                     ms[i].id, "by", "region-member"));
		tb_log(TB_LOG_INFO, "TB-REGION-LINK",
		       "links.json: dialing %s's member %s at %s", parent_code,
		       ms[i].id, ms[i].url);
		changed = true;
	}
	return changed;
}
