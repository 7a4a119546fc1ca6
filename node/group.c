/* The region's replica group: the Raft transport over the links, who may
 * speak Raft to this node, the group's view, and keeping links.json in
 * step with the configuration.
 *
 * Happy path: libraft calls raftio's send, which calls group_send: the
 * message is encoded (consensus/raftmsg.h) and queued on the link to the
 * member's node id; the member's handler checks the sender's certificate
 * (role member, same region), decodes, and raftio_recv hands it to its
 * libraft. Failure modes: no link to the member (RAFT_NOCONNECTION: libraft
 * retries at the next heartbeat), a link queue full, a message over the
 * link limit (RAFT_TOOBIG); a sender that is not a member of this region,
 * or bytes that do not decode, are refused, counted and logged with
 * TB-GROUP-REFUSED or TB-GROUP-MALFORMED. */
#include "node/group_impl.h"

#include "consensus/raftmsg.h"
#include "node/applier.h"
#include "node/log.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* links.json is brought in step with the configuration this often. */
#define GROUP_SYNC_MS 1000

void
group_node_id(raft_id id, char out[17])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	/* "%016llx" without snprintf: it names the peer of every Raft
	 * message sent and received. */
	for (i = 15; i >= 0; i--, id >>= 4) {
		out[i] = hex[id & 0xf];
	}
	out[16] = '\0';
}

const char *
group_role_name(int role)
{
	return role == RAFT_VOTER     ? "voter"
	       : role == RAFT_STANDBY ? "standby"
	       : role == RAFT_SPARE   ? "spare"
	                              : "unknown";
}

int
group_role_parse(const char *s, int *role)
{
	static const int roles[] = { RAFT_VOTER, RAFT_STANDBY, RAFT_SPARE };
	size_t i;

	for (i = 0; s != NULL && i < 3; i++) {
		if (!strcmp(s, group_role_name(roles[i]))) {
			*role = roles[i];
			return TB_OK;
		}
	}
	return TB_ECODE;
}

uint16_t
group_raft_http(int rv, const char **code)
{
	switch (rv) {
	case RAFT_NOTLEADER:
	case RAFT_LEADERSHIPLOST:
		*code = "not_leader";
		return 503;
	case RAFT_CANTCHANGE:
		*code = "conflict";
		return 409;
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS:
		*code = "duplicate";
		return 409;
	case RAFT_BADID:
	case RAFT_NOTFOUND:
		*code = "not_found";
		return 404;
	case RAFT_BADROLE:
		*code = "invalid";
		return 422;
	case RAFT_NOMEM:
		*code = "nomem";
		return 500;
	default:
		*code = "unavailable";
		return 503;
	}
}

/* ---- the transport ---------------------------------------------------- */

static int group_send(void *data, const struct raft_message *msg);

int
group_send_raft(struct group *g, const struct raft_message *msg)
{
	return group_send(g, msg);
}

static int
group_send(void *data, const struct raft_message *msg)
{
	struct group *g = data;
	struct node *n = g->n;
	char peer[17], err[256];
	uint8_t *buf;
	size_t len;
	int rv;

	if (n->links == NULL) {
		return RAFT_NOCONNECTION;
	}
	/* An old member of a recovered group (node/link_inc.c) sends no
	 * Raft message: the other old members cannot win an election or
	 * commit with it. */
	if (link_fenced(n->links)) {
		return RAFT_NOCONNECTION;
	}
	rv = raftmsg_encode(msg, n->cfg.raft_id, n->cfg.link, &buf, &len, err,
	                    sizeof(err));
	if (rv != TB_OK) {
		tb_log(TB_LOG_WARN, "TB-GROUP-SEND", "%s", err);
		return rv == TB_ETOOBIG  ? RAFT_TOOBIG
		       : rv == TB_ENOMEM ? RAFT_NOMEM
		                         : RAFT_INVALID;
	}
	group_node_id(msg->server_id, peer);
	rv = link_send(n->links, peer, GROUP_T_RAFT, buf, len);
	free(buf);
	switch (rv) {
	case TB_OK:
		g->tx++;
		return 0;
	case TB_ENOMEM:
		return RAFT_NOMEM;
	case TB_ETOOBIG:
		return RAFT_TOOBIG;
	default: /* no link yet, queue full, stopping */
		return RAFT_NOCONNECTION;
	}
}

struct raftio_transport
group_transport(struct node *n)
{
	struct raftio_transport t = { n->group, group_send };

	return t;
}

bool
group_peer_ok(struct group *g, const struct link_msg *m, const char *what)
{
	struct node *n = g->n;
	int64_t now;

	if (m->peer_role != NULL && !strcmp(m->peer_role, "member") &&
	    m->peer_region != NULL && !strcmp(m->peer_region, n->cfg.region)) {
		return true;
	}
	g->refused++;
	now = node_now_ms();
	if (now - g->refuse_log_ms >= 1000) {
		tb_log(TB_LOG_WARN, "TB-GROUP-REFUSED",
		       "%s from node %s of %s (role %s) refused: only members "
		       "of %s may speak for its group (%u more refused since "
		       "the last line)",
		       what, m->peer_node_id, m->peer_region,
		       m->peer_role && m->peer_role[0] ? m->peer_role : "none",
		       n->cfg.region, g->refuse_quiet);
		g->refuse_log_ms = now;
		g->refuse_quiet = 0;
	} else {
		g->refuse_quiet++;
	}
	return false;
}

const struct raft_server *
group_server(const struct raft *r, raft_id id)
{
	unsigned i;

	for (i = 0; i < r->configuration.n; i++) {
		if (r->configuration.servers[i].id == id) {
			return &r->configuration.servers[i];
		}
	}
	return NULL;
}

static void
on_raft(struct links *ls, const struct link_msg *m, void *arg)
{
	struct group *g = arg;
	struct node *n = g->n;
	char addr[RAFTMSG_ADDRESS_MAX + 1], err[256], id[17];
	struct raft_message msg;
	int rv;

	if (!group_peer_ok(g, m, "a Raft message")) {
		return;
	}
	if (link_fenced(ls)) {
		g->refused++; /* an old member takes no Raft message either */
		return;
	}
	rv = raftmsg_decode(m->body, m->len, &msg, addr, sizeof(addr), err,
	                    sizeof(err));
	if (rv == TB_OK) {
		group_node_id(msg.server_id, id);
		if (strcmp(id, m->peer_node_id) != 0) {
			snprintf(err, sizeof(err),
			         "raft message: sender id %s is not the link's "
			         "node",
			         id);
			raftmsg_release(&msg);
			rv = TB_EFORBIDDEN;
		}
	}
	if (rv != TB_OK) {
		g->malformed++;
		tb_log(TB_LOG_WARN, "TB-GROUP-MALFORMED", "from node %s: %s",
		       m->peer_node_id, err);
		return;
	}
	/* A node that bootstrapped its own group takes log entries only
	 * from members of its configuration: entries from another group's
	 * leader would overwrite a log whose commands its store has
	 * already applied, and the two states would silently diverge. Only
	 * a node made with --join starts empty and takes anyone's. */
	if ((msg.type == RAFT_IO_APPEND_ENTRIES ||
	     msg.type == RAFT_IO_INSTALL_SNAPSHOT) &&
	    n->cfg.join[0] == '\0' &&
	    group_server(&n->raft, msg.server_id) == NULL) {
		g->refused++;
		if (node_now_ms() - g->refuse_log_ms >= 1000) {
			g->refuse_log_ms = node_now_ms();
			tb_log(
			    TB_LOG_WARN, "TB-GROUP-FOREIGN",
			    "%s from node %s refused: it is not in this "
			    "node's configuration and this node bootstrapped "
			    "its own group (only nodes made with tongban "
			    "init --join may be added to a group)",
			    raftmsg_type_name(msg.type), m->peer_node_id);
		}
		raftmsg_release(&msg);
		return;
	}
	g->rx++;
	if (msg.type == RAFT_IO_APPEND_ENTRIES ||
	    msg.type == RAFT_IO_INSTALL_SNAPSHOT) {
		g->leader_rx_ms = node_now_ms(); /* only a leader sends them */
	}
	if (!n->stopping && group_snap_hold(g, m->peer_node_id, &msg)) {
		return;
	}
	if (n->stopping || raftio_recv(&n->io, &msg) != 0) {
		raftmsg_release(&msg);
	}
}

bool
group_joining(struct node *n)
{
	return n->cfg.join[0] != '\0' && n->raft.configuration.n == 0 &&
	       raft_last_index(&n->raft) == 0;
}

/* ---- start, stop ------------------------------------------------------ */

int
group_init(struct node *n)
{
	struct group *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		return -1;
	}
	g->n = n;
	pthread_mutex_init(&g->mu, NULL);
	n->group = g;
	return 0;
}

void
group_start(struct node *n)
{
	struct group *g = n->group;

	if (n->links == NULL && n->cfg.join[0] != '\0') {
		tb_log(TB_LOG_ERROR, "TB-GROUP-NO-LINKS",
		       "this node was made to join a group but its links are "
		       "off (no certificate installed): it cannot be added "
		       "until it holds a member certificate (docs/GROUPS.md)");
	}
	if (n->links == NULL || g->started) {
		return;
	}
	if (link_handle(n->links, GROUP_T_RAFT, on_raft, g) != TB_OK ||
	    link_handle(n->links, GROUP_T_FWD, group_fwd_handle, g) != TB_OK ||
	    link_handle(n->links, GROUP_T_SNAP, group_snap_handle, g) !=
	        TB_OK ||
	    link_handle(n->links, GROUP_T_BLOB, group_blob_handle, g) !=
	        TB_OK ||
	    group_fwdb_start(g) != TB_OK) {
		tb_log(TB_LOG_ERROR, "TB-GROUP-START",
		       "cannot register the group's link handlers");
		return;
	}
	g->started = true;
}

void
group_free(struct node *n)
{
	struct group *g = n->group;

	if (g == NULL) {
		return;
	}
	group_snap_free(g);
	group_fwdb_free(g);
	json_decref(g->view);
	pthread_mutex_destroy(&g->mu);
	free(g);
	n->group = NULL;
}

/* ---- the view --------------------------------------------------------- */

/* progress_of returns the leader's progress of server i, or NULL. */
static const struct raft_progress *
progress_of(struct raft *r, unsigned i)
{
	if (raft_state(r) != RAFT_LEADER || r->leader_state.progress == NULL) {
		return NULL;
	}
	return &r->leader_state.progress[i];
}

/* self_address_differs returns this node's server in the group's
 * configuration when the address recorded there (at the bootstrap, or by
 * group add) is not tongban.json's link, else NULL. The other members and
 * the regions below dial the recorded one. */
static const struct raft_server *
self_address_differs(const struct node *n)
{
	const struct raft_server *s = group_server(&n->raft, n->cfg.raft_id);

	return s != NULL && strcmp(s->address, n->cfg.link) != 0 ? s : NULL;
}

/* leader_silence: for a follower that is not a spare, how long since the
 * leader's last append (a removed standby keeps following a leader that no
 * longer sends to it); else 0. A member demoted to spare while it runs
 * rarely learns it (the leader stops sending to it), so it counts the
 * silence too: it no longer replicates, and a write there would wait for
 * an apply that never comes. */
static long long
leader_silence(struct node *n, int64_t now)
{
	const struct raft_server *self;

	if (raft_state(&n->raft) != RAFT_FOLLOWER ||
	    n->group->leader_rx_ms == 0) {
		return 0;
	}
	self = group_server(&n->raft, n->cfg.raft_id);
	if (self != NULL && self->role == RAFT_SPARE) {
		return 0;
	}
	return now - n->group->leader_rx_ms;
}

static json_t *
view_build(struct node *n)
{
	struct raft *r = &n->raft;
	raft_index last = raft_last_index(r);
	json_t *v, *members = json_array();
	raft_id lid = 0;
	const char *laddr = NULL;
	int64_t max_skew = -1;
	unsigned long long sn_in, sn_fail, sn_out;
	const struct raft_server *self;
	char id[17];
	unsigned i;

	raft_leader(r, &lid, &laddr);
	for (i = 0; i < r->configuration.n; i++) {
		const struct raft_server *s = &r->configuration.servers[i];
		const struct raft_progress *p = progress_of(r, i);
		json_t *m;
		group_node_id(s->id, id);
		m = json_pack("{s:s, s:s, s:s, s:b, s:b}", "node_id", id,
		              "address", s->address, "role",
		              group_role_name(s->role), "leader", s->id == lid,
		              "self", s->id == n->cfg.raft_id);
		if (s->id == n->cfg.raft_id) {
			json_object_set_new(m, "match_index",
			                    json_integer((json_int_t)last));
			json_object_set_new(m, "lag", json_integer(0));
		} else if (p != NULL) {
			json_object_set_new(
			    m, "match_index",
			    json_integer((json_int_t)p->match_index));
			json_object_set_new(
			    m, "lag",
			    json_integer(
			        (json_int_t)(last > p->match_index
			                         ? last - p->match_index
			                         : 0)));
		}
		if (s->id != n->cfg.raft_id) {
			int64_t skew = group_clock_json(n->group, s->id, m);
			if (skew > max_skew) {
				max_skew = skew;
			}
		}
		json_array_append_new(members, m);
	}
	group_node_id(lid, id);
	v = json_pack(
	    "{s:o, s:s?, s:s?, s:I, s:I, s:I, s:I, s:b}", "members", members,
	    "leader", lid != 0 ? id : NULL, "leader_address",
	    lid != 0 ? laddr : NULL, "term", (json_int_t)r->current_term,
	    "commit", (json_int_t)r->commit_index, "applied",
	    (json_int_t)raft_last_applied(r), "last_index", (json_int_t)last,
	    "joining", n->cfg.join[0] != '\0' && r->configuration.n == 0);
	if (max_skew >= 0) {
		json_object_set_new(v, "max_clock_skew_ms",
		                    json_integer(max_skew));
	}
	if ((self = self_address_differs(n)) != NULL) {
		json_object_set_new(v, "address_mismatch",
		                    json_pack("{s:s, s:s}", "configuration",
		                              self->address, "tongban_json",
		                              n->cfg.link));
	}
	group_snap_counts(n->group, &sn_in, &sn_fail, &sn_out);
	json_object_set_new(
	    v, "counters",
	    json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "raft_tx",
	        (json_int_t)n->group->tx, "raft_rx", (json_int_t)n->group->rx,
	        "refused", (json_int_t)n->group->refused, "malformed",
	        (json_int_t)n->group->malformed, "forwarded",
	        (json_int_t)n->group->fwd, "forwarded_batches",
	        (json_int_t)n->group->fwd_batches, "commit_pushes",
	        (json_int_t)n->group->fwd_pushes, "snapshots_installed",
	        (json_int_t)sn_in, "snapshot_pulls_failed", (json_int_t)sn_fail,
	        "snapshots_served", (json_int_t)sn_out));
	return v;
}

json_t *
group_view_json(struct node *n)
{
	struct group *g = n->group;
	json_t *v;

	pthread_mutex_lock(&g->mu);
	v = g->view != NULL ? json_deep_copy(g->view) : json_object();
	pthread_mutex_unlock(&g->mu);
	return v;
}

void
group_reply_headers(struct node *n, nng_http_res *res)
{
	char v[24], *p = v + sizeof(v), id[17];
	unsigned long long lid = n->view.leader_id;
	uint64_t applied;

	if (n->store == NULL) {
		return;
	}
	/* The decimal digits, as "%llu" writes them. */
	applied = store_applied_index(n->store);
	*--p = '\0';
	do {
		*--p = (char)('0' + applied % 10);
		applied /= 10;
	} while (applied != 0);
	nng_http_res_set_header(res, "X-Tongban-Applied", p);
	if (lid != 0) {
		group_node_id(lid, id);
		nng_http_res_set_header(res, "X-Tongban-Leader", id);
	}
}

/* ---- links.json ------------------------------------------------------- */

static bool
has_url(json_t *peers, const char *url)
{
	json_t *p;
	size_t i;

	json_array_foreach(peers, i, p)
	{
		const char *u = spec_str(p, "url");
		if (u != NULL && !strcmp(u, url)) {
			return true;
		}
	}
	return false;
}

/* in_conf: node id hex is a member of the configuration other than self. */
static bool
in_conf(struct node *n, const char *hex)
{
	struct raft_configuration *conf = &n->raft.configuration;
	char id[17];
	unsigned i;

	for (i = 0; hex != NULL && i < conf->n; i++) {
		group_node_id(conf->servers[i].id, id);
		if (conf->servers[i].id != n->cfg.raft_id && !strcmp(id, hex)) {
			return true;
		}
	}
	return false;
}

/* links_sync adds every other member of the configuration to links.json
 * (written whole: a temporary file, then rename, as the poller expects),
 * marked "by": "group", and drops the entries it added for members that
 * have left, so a removed member is no longer dialed. An operator's
 * entries (without the mark) stay theirs. */
static void
links_sync(struct node *n)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 24], url[300], id[17];
	struct raft_configuration *conf = &n->raft.configuration;
	json_t *doc, *peers;
	json_error_t je;
	bool changed = false;
	unsigned i;

	snprintf(path, sizeof(path), "%s/links.json", n->cfg.dir);
	doc = access(path, F_OK) == 0
	          ? json_load_file(path, JSON_REJECT_DUPLICATES, &je)
	          : json_pack("{s:s, s:[]}", "format", "tongban.links/1",
	                      "peers");
	if (doc == NULL ||
	    !json_is_array(peers = json_object_get(doc, "peers"))) {
		json_decref(doc);
		return; /* the link layer logs a malformed file */
	}
	for (i = 0; i < conf->n; i++) {
		const struct raft_server *s = &conf->servers[i];
		if (s->id == n->cfg.raft_id) {
			continue;
		}
		snprintf(url, sizeof(url), "%s%s",
		         strncmp(s->address, "tcp://", 6) ? "tcp://" : "",
		         s->address);
		if (has_url(peers, url) || strrchr(url, ':') == NULL ||
		    !strcmp(strrchr(url, ':'), ":0")) {
			continue;
		}
		group_node_id(s->id, id);
		json_array_append_new(peers, json_pack("{s:s, s:s, s:s, s:s}",
		                                       "region", n->cfg.region,
		                                       "url", url, "node_id",
		                                       id, "by", "group"));
		tb_log(TB_LOG_INFO, "TB-GROUP-LINK",
		       "links.json: dialing member %s at %s", id, url);
		changed = true;
	}
	/* With no configuration yet (a node waiting to be added) nothing
	 * is known to have left. */
	for (i = 0; conf->n > 0 && i < json_array_size(peers);) {
		json_t *p = json_array_get(peers, i);
		const char *by = spec_str(p, "by");

		if (by != NULL && !strcmp(by, "group") &&
		    !in_conf(n, spec_str(p, "node_id"))) {
			tb_log(TB_LOG_INFO, "TB-GROUP-LINK",
			       "links.json: member %s at %s left the group; "
			       "no longer dialed",
			       spec_str(p, "node_id") ? spec_str(p, "node_id")
			                              : "?",
			       spec_str(p, "url") ? spec_str(p, "url") : "?");
			json_array_remove(peers, i);
			changed = true;
			continue;
		}
		i++;
	}
	snprintf(tmp, sizeof(tmp), "%s.group.tmp", path);
	if (changed && (json_dump_file(doc, tmp, JSON_INDENT(2)) != 0 ||
	                rename(tmp, path) != 0)) {
		tb_log(TB_LOG_WARN, "TB-GROUP-LINK", "cannot write %s: %s",
		       path, strerror(errno));
		unlink(tmp);
	}
	json_decref(doc);
}

void
group_view_refresh(struct group *g)
{
	json_t *v = view_build(g->n);

	pthread_mutex_lock(&g->mu);
	json_decref(g->view);
	g->view = v;
	pthread_mutex_unlock(&g->mu);
}

void
group_tick(struct node *n)
{
	struct group *g = n->group;
	struct group_wait **pp, *w;
	int64_t now = node_now_ms();
	const struct raft_server *self;

	group_view_refresh(g);
	/* A node made with --join waits with an empty log until it is
	 * added: its links accept a higher incarnation as its own. */
	link_set_joining(n->links, group_joining(n));
	/* A follower is ready once it follows a leader and its store holds
	 * the commands applied when it first could be (a leader is made
	 * ready by node.c's bootstrap). The store trails libraft by a batch
	 * (up to GROUP_APPLY_DEFER_MS and a commit): ready before it, a
	 * request would find no token or catalog that it was sent. */
	if (!n->ready && !n->stopping &&
	    raft_state(&n->raft) == RAFT_FOLLOWER && n->view.leader_id != 0 &&
	    raft_last_applied(&n->raft) > 0 && !g->ready_armed) {
		g->ready_armed = true;
		g->ready_at = applier_staged(n->applier);
	}
	if (!n->ready && !n->stopping && g->ready_armed &&
	    raft_state(&n->raft) == RAFT_FOLLOWER && n->view.leader_id != 0 &&
	    applier_durable(n->applier) >= g->ready_at) {
		char lid[17];
		group_node_id(n->view.leader_id, lid);
		n->ready = true;
		tb_log(TB_LOG_INFO, "TB-NODE-READY", "ready (a follower of %s)",
		       lid);
	}
	if ((self = self_address_differs(n)) != NULL &&
	    now - g->addr_log_ms >= 60000) {
		const char *rec = self->address;
		g->addr_log_ms = now;
		tb_log(TB_LOG_WARN, "TB-GROUP-ADDRESS",
		       "the group's configuration records this node at %s, "
		       "tongban.json's link is %s: the other members and the "
		       "regions below dial %s (docs/GROUPS.md, \"A member's "
		       "address\")",
		       rec, n->cfg.link, rec);
	}
	n->view.leader_silent_ms = leader_silence(n, now);
	group_clock_tick(g);
	group_snap_tick(g);
	group_fwdb_tick(g);
	if (n->links != NULL && now >= g->next_sync_ms) {
		g->next_sync_ms = now + GROUP_SYNC_MS;
		links_sync(n);
	}
	group_flushed(n);
	for (pp = &g->waits; (w = *pp) != NULL;) {
		if (now < w->deadline_ms) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		json_decref(w->res);
		http_reply_error(w->c, 504, "timeout", NULL,
		                 "the leader committed entry %llu but this "
		                 "member has not applied it within %d ms "
		                 "(the write is durable; read it at the "
		                 "leader or retry the read)",
		                 (unsigned long long)w->index,
		                 GROUP_FWD_TIMEOUT_MS);
		free(w);
	}
}

bool
group_leader_peer(struct group *g, char out[17])
{
	raft_id id = 0;
	const char *addr = NULL;

	raft_leader(&g->n->raft, &id, &addr);
	if (id == 0 || id == g->n->cfg.raft_id) {
		return false;
	}
	group_node_id(id, out);
	return true;
}
