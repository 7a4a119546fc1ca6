/* The node's side of its links: starting them with the node, GET
 * /v1/links and POST /v1/links/ping. */
#include "node/link_api.h"

#include "node/applier.h"
#include "node/group.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region.h"
#include "node/region_store.h"
#include "node/store.h"
#include "schema/incarnation.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The largest PING body the API sends (it travels in chunks). */
#define LINK_API_PING_MAX (8u << 20)

/* node_crls gives the links the replicated revocation lists. */
static int
node_crls(void *arg, json_t **out)
{
	struct node *n = arg;

	return n->store != NULL ? store_crls(n->store, out) : TB_ENOTFOUND;
}

/* node_root gives the links the replicated root metadata. */
static int
node_root(void *arg, json_t **out)
{
	struct node *n = arg;

	*out = NULL;
	return n->store != NULL ? store_root(n->store, out) : TB_ENOTFOUND;
}

/* gate_cb holds a message of the tree of regions (a query, a handoff, an
 * outbox frame: handlers that read the store on the loop) while a write
 * this node answered is not committed in its store yet, and asks for that
 * commit; link_api_release runs them after it (node/applier.h). Group
 * messages (Raft, forwarded writes) never wait. gate_until: the answered
 * index the held messages wait for (later answers do not hold them
 * longer, so a steady stream of writes cannot starve them). */
static bool
gate_cb(void *arg, uint32_t type, bool held)
{
	struct node *n = arg;
	uint64_t acked;

	if (type < REGION_T_OUTBOX) {
		return false;
	}
	if (!held && !applier_pending(n->applier)) {
		return false;
	}
	acked = applier_acked(n->applier);
	if (acked > n->gate_until) {
		n->gate_until = acked;
	}
	if (applier_durable(n->applier) >= n->gate_until) {
		link_release_held(n->links); /* first, in order */
		return false;
	}
	applier_flush(n->applier);
	return true;
}

void
link_api_release(struct node *n)
{
	if (n->links != NULL && applier_durable(n->applier) >= n->gate_until) {
		link_release_held(n->links);
	}
}

int
link_node_start(struct node *n, char *url, size_t len)
{
	struct link_config lc = { 0 };
	char err[512];
	int rv;

	url[0] = '\0';
	if (!n->cfg.has_kx) {
		tb_log(TB_LOG_INFO, "TB-LINK-OFF",
		       "links are off: keys/node.json has no kx_secret");
		return 0;
	}
	lc.loop = &n->loop;
	lc.dir = n->cfg.dir;
	lc.listen = n->cfg.link;
	lc.node_id = n->cfg.node_id;
	lc.region = n->cfg.region;
	lc.kx_sk = n->cfg.kx_sk;
	lc.joining = group_joining(n);
	lc.rekey_frames = n->cfg.link_rekey_frames;
	lc.rekey_seconds = n->cfg.link_rekey_seconds;
	lc.rehandshake_seconds = n->cfg.link_rehandshake_seconds;
	lc.crls_fn = node_crls;
	lc.crls_arg = n;
	lc.root_fn = node_root;
	rv = links_start(&lc, &n->links, err, sizeof(err));
	if (rv == TB_ENOTFOUND) {
		/* A node given a parent or peers (init --parent, region
		 * set-parent) cannot reach them: warn, not info (a county
		 * started before its certificate was installed logged an
		 * info line, then "dialing 370100", and nothing flowed). */
		json_t *topo = NULL;
		bool tree = n->cfg.init_topology[0] != '\0';
		if (!tree && n->store != NULL &&
		    region_store_topology(n->store, &topo) == TB_OK) {
			tree =
			    json_is_object(json_object_get(topo, "parent")) ||
			    json_array_size(json_object_get(topo, "peers")) > 0;
		}
		json_decref(topo);
		tb_log(tree ? TB_LOG_WARN : TB_LOG_INFO, "TB-LINK-OFF", "%s%s",
		       err,
		       tree ? "; its parent and peers in the tree of regions "
		              "cannot be reached until then"
		            : "");
		return 0;
	}
	if (rv != TB_OK) {
		tb_log(TB_LOG_ERROR, "TB-LINK-LISTEN", "%s", err);
		return -1;
	}
	links_url(n->links, url, len);
	link_set_gate(n->links, gate_cb, n);
	tb_log(TB_LOG_INFO, "TB-LINK-LISTEN", "links listen on %s", url);
	return 0;
}

void
link_api_list(struct http_call *c)
{
	struct node *n = c->node;
	json_t *v;

	if (n->links == NULL) {
		http_reply_json(c, 200,
		                json_pack("{s:b, s:s, s:s, s:[]}", "enabled", 0,
		                          "node_id", n->cfg.node_id, "region",
		                          n->cfg.region, "links"));
		return;
	}
	if ((v = links_view_json(n->links)) == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	json_object_set_new(v, "enabled", json_true());
	http_reply_json(c, 200, v);
}

struct ping {
	struct http_call *c;
	struct timespec t0;
	uint8_t *body;
	size_t len;
	char peer[32];
};

static void
ping_cb(void *arg, int status, const struct link_msg *m)
{
	struct ping *p = arg;
	struct timespec t1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - p->t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - p->t0.tv_nsec) / 1e6;
	if (status == TB_OK) {
		bool echo = m->type == LINK_T_PONG && m->len == p->len &&
		            (p->len == 0 || !memcmp(m->body, p->body, p->len));
		http_reply_json(p->c, 200,
		                json_pack("{s:s, s:s, s:s, s:f, s:I, s:b}",
		                          "peer", p->peer, "node_id",
		                          m->peer_node_id, "region",
		                          m->peer_region, "rtt_ms", ms, "bytes",
		                          (json_int_t)p->len, "echo_ok", echo));
	} else {
		http_reply_error(p->c,
		                 status == TB_ETIMEOUT  ? 504
		                 : status == TB_ECLOSED ? 503
		                                        : 502,
		                 tb_errname(status), NULL,
		                 "ping of %s: %s after %.1f ms", p->peer,
		                 tb_strerror(status), ms);
	}
	free(p->body);
	free(p);
}

void
link_api_ping(struct http_call *c, const json_t *req)
{
	struct node *n = c->node;
	const char *peer = spec_str(req, "peer");
	const char *payload = spec_str(req, "payload");
	long long size = spec_int(req, "size", -1);
	long long timeout = spec_int(req, "timeout_ms", 5000);
	size_t plen = payload != NULL ? strlen(payload) : 0, i;
	struct ping *p;
	int rv;

	if (n->links == NULL) {
		http_reply_error(c, 409, "conflict", NULL,
		                 "links are off on this node (it started "
		                 "without a certificate; restart it after "
		                 "tongban cert install)");
		return;
	}
	if (peer == NULL || strlen(peer) >= sizeof(p->peer)) {
		http_reply_error(c, 422, "missing", "$.peer",
		                 "peer (a node id or a region code) is "
		                 "required");
		return;
	}
	if (size < -1 || size > (long long)LINK_API_PING_MAX) {
		http_reply_error(c, 422, "out_of_range", "$.size",
		                 "size is 0..%u bytes", LINK_API_PING_MAX);
		return;
	}
	if (timeout < 1 || timeout > 60000) {
		http_reply_error(c, 422, "out_of_range", "$.timeout_ms",
		                 "timeout_ms is 1..60000");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	/* The body is the payload, repeated to size bytes when size is
	 * given. */
	p->len = size >= 0 ? (size_t)size : plen;
	if (p->len > 0 && (p->body = malloc(p->len)) == NULL) {
		free(p);
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	for (i = 0; i < p->len; i++) {
		p->body[i] = plen > 0 ? (uint8_t)payload[i % plen]
		                      : (uint8_t)('a' + i % 26);
	}
	p->c = c;
	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	rv = link_request(n->links, peer, LINK_T_PING, p->body, p->len,
	                  (unsigned)timeout, ping_cb, p);
	if (rv != TB_OK) {
		free(p->body);
		free(p);
		http_reply_error(
		    c, rv == TB_ENOTFOUND ? 404 : 503, tb_errname(rv),
		    rv == TB_ENOTFOUND ? "$.peer" : NULL, "%s: %s", peer,
		    rv == TB_ENOTFOUND ? "no link to that peer"
		                       : tb_strerror(rv));
	}
}

json_t *
link_api_incarnation(struct node *n)
{
	struct link_incarnation inc;
	char hash[65] = "";
	json_t *v;

	link_incarnation(n->links, &inc);
	if (inc.cert != NULL) {
		inc_hash(inc.cert, hash);
	}
	v = json_pack("{s:I, s:O?, s:s?, s:b, s:I}", "current",
	              (json_int_t)inc.current, "certificate", inc.cert,
	              "certificate_hash", hash[0] ? hash : NULL, "joining",
	              inc.joining, "refused_handshakes",
	              (json_int_t)inc.refused);
	if (v != NULL && inc.fenced_by > 0) {
		json_object_set_new(v, "fenced_by",
		                    json_integer((json_int_t)inc.fenced_by));
		json_object_set(v, "fenced_certificate", inc.fenced_cert);
	}
	link_incarnation_free(&inc);
	return v;
}
