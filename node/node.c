/* The node process: libuv loop, the region's Raft group, store and HTTP.
 *
 * Threads: nng's threads run HTTP callbacks: reads are answered there from
 * LMDB read transactions; a write is checked there, its body parsed and its
 * command stamped and encoded (node_propose), then queued to the loop
 * (mutex + uv_async_send, the queue drained whole because wake-ups
 * coalesce). The loop thread owns libraft and every proposal; committed
 * entries go from fsm_apply to the store's writer thread (node/applier.h),
 * which applies them in batches, commits each batch durably and answers
 * the waiting calls. The loop never waits on the store's fsync except for
 * a snapshot, a restore or a stop. */
#include "node/node_impl.h"

#include "consensus/raftio.h"
#include "node/api_ctoken.h"
#include "node/applier.h"
#include "node/certstore.h"
#include "node/group.h"
#include "node/handoff.h"
#include "node/join.h"
#include "node/link.h"
#include "node/link_api.h"
#include "node/log.h"
#include "node/region.h"
#include "node/store.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The tick refreshes the view; Raft's heartbeat and election timeouts
 * come from the configuration (heartbeat_ms, election_ms). */
#define NODE_TICK_MS 50

int64_t
node_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- failing, and the applier's hooks --------------------------------- */

void
node_fail(struct node *n, const char *why)
{
	n->exit_code = 1;
	node_stop(n, why);
}

/* applier_failed runs on the loop after the writer could not apply or
 * commit: it answered what it held with 503s; stop the node. */
static void
applier_failed(struct node *n)
{
	n->exit_code = 1;
	node_stop(n, "the store cannot be written");
}

/* flush_cb hands the entries applied in this loop iteration to the writer,
 * in one go, before the loop next waits (a follower nobody waits on, every
 * GROUP_APPLY_DEFER_MS: group_apply_now). */
static void
flush_cb(uv_prepare_t *h)
{
	struct node *n = h->data;

	node_prop_release(n);     /* writes held for a batch that committed */
	if (group_apply_now(n)) { /* a follower defers: node/group.h */
		applier_submit(n->applier);
	}
	group_flushed(n); /* forwarded writes waiting for this member */
}

/* progress runs after the writer committed applies: forwarded writes
 * waiting for this member, and entries the outboxes can send. */
static void
progress(struct node *n)
{
	link_api_release(n); /* region messages held for this commit */
	group_flushed(n);
	region_progress(n);
	handoff_progress(n);
}

/* ---- the loop --------------------------------------------------------- */

static void
bootstrap_cb(struct raft_apply *req, int status, void *result)
{
	struct node *n = req->data;

	json_decref(result);
	free(req);
	if (status != 0) {
		/* Lost leadership or stopping: try again at the next tick. */
		n->bootstrap_proposed = false;
	}
}

/* bootstrap_token proposes the admin token made by init, once the group
 * has a leader and the store does not hold it yet; the node is ready
 * when the token is in the store. */
static void
bootstrap_token(struct node *n)
{
	struct canon_buf b = { 0 };
	struct raft_buffer buf;
	struct raft_apply *req;
	uint8_t h[32];
	json_t *rec = NULL, *body;
	char err[128];

	/* Done once the store holds the token, or held it: an admin may
	 * have revoked it since (its record stays, revoked), and proposing
	 * it again would be refused for good and the node never ready. */
	if (n->cfg.bootstrap_hash[0] == '\0' ||
	    canon_unhex(n->cfg.bootstrap_hash, h, 32) != 0 ||
	    store_token_lookup(n->store, h, &rec) == 0 ||
	    store_token_get(n->store, "admin", &rec) == 0) {
		json_decref(rec);
		n->ready = true;
		tb_log(TB_LOG_INFO, "TB-NODE-READY", "ready");
		return;
	}
	if (n->bootstrap_proposed) {
		return;
	}
	body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", "admin", "hash",
	                 n->cfg.bootstrap_hash, "role", "provincial_admin",
	                 "region", n->cfg.region, "name",
	                 "bootstrap admin (tongban init)");
	req = calloc(1, sizeof(*req));
	if (body == NULL || req == NULL ||
	    cmd_encode(CMD_TOKEN_CREATE, node_now_ms(), NULL, body, &b, err,
	               sizeof(err)) != 0 ||
	    (buf.base = raft_malloc(b.len)) == NULL) {
		goto out;
	}
	memcpy(buf.base, b.data, b.len);
	buf.len = b.len;
	req->data = n;
	if (raft_apply(&n->raft, req, &buf, 1, bootstrap_cb) != 0) {
		raft_free(buf.base);
		goto out;
	}
	req = NULL; /* owned by libraft until bootstrap_cb */
	n->bootstrap_proposed = true;
out:
	free(req);
	canon_buf_free(&b);
	json_decref(body);
}

static void
barrier_cb(struct raft_barrier *req, int status)
{
	struct node *n = req->data;

	if (status != 0) {
		n->barrier_term = 0; /* try again at the next tick */
	}
	free(req);
}

/* A new leader does not commit the entries of earlier terms by itself:
 * a barrier in its own term commits (and so applies) everything before
 * it, which after a restart replays the log into the store. */
static void
leader_barrier(struct node *n)
{
	struct raft_barrier *req;

	if (n->barrier_term == n->raft.current_term ||
	    (req = calloc(1, sizeof(*req))) == NULL) {
		return;
	}
	req->data = n;
	if (raft_barrier(&n->raft, req, barrier_cb) != 0) {
		free(req);
		return;
	}
	n->barrier_term = n->raft.current_term;
}

static void
tick_cb(uv_timer_t *t)
{
	struct node *n = t->data;
	raft_id id = 0;
	const char *addr = NULL;

	n->view.state = raft_state(&n->raft);
	n->view.term = n->raft.current_term;
	n->view.commit = n->raft.commit_index;
	n->view.applied = raft_last_applied(&n->raft);
	raft_leader(&n->raft, &id, &addr);
	n->view.leader_id = id;
	if (n->view.state == RAFT_LEADER) {
		leader_barrier(n);
		/* Ready once the barrier applied the log and the admin token
		 * is in the store. */
		if (!n->ready && n->barrier_term == n->raft.current_term &&
		    raft_last_applied(&n->raft) >= n->raft.commit_index &&
		    applier_idle(n->applier)) {
			bootstrap_token(n);
		}
	}
	if (n->pending != NULL) {
		node_prop_sweep(n, false);
	}
	group_tick(n);
	region_tick(n);
	handoff_tick(n);
	if (n->view.state == RAFT_UNAVAILABLE && !n->stopping) {
		n->exit_code = 1;
		node_stop(n, "the Raft group is unavailable (see the errors "
		             "above)");
	}
}

static int
node_open(struct node *n, const char *dir)
{
	struct store_options so = { 0 };
	struct raftio_options ro = { 0 };
	char err[512], path[PATH_MAX + 16];
	struct raft_configuration conf;
	int rv;

	if (node_config_load(dir, &n->cfg, err, sizeof(err)) != 0) {
		tb_log(TB_LOG_ERROR, "TB-CONFIG", "%s", err);
		return -1;
	}
	/* Certificates an older build (or a test) left as DIR/certs files
	 * move into DIR/local once; from here on only that is read. */
	if (certstore_import(dir, err, sizeof(err)) < 0) {
		tb_log(TB_LOG_ERROR, "TB-CERTSTORE", "%s", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/root.json", dir);
	{
		json_error_t je;
		n->root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	}
	snprintf(path, sizeof(path), "%s/state", dir);
	so.map_size = n->cfg.state_map_size;
	so.index_key = n->cfg.index_key;
	so.region = n->cfg.region;
	if (store_open(path, &so, &n->store, err, sizeof(err)) != 0) {
		tb_log(TB_LOG_ERROR, "TB-STORE-OPEN", "%s", err);
		return -1;
	}
	if (uv_loop_init(&n->loop) != 0) {
		return -1;
	}
	snprintf(path, sizeof(path), "%s/raft", dir);
	ro.map_size = n->cfg.raft_map_size;
	ro.seed = (uint64_t)node_now_ms();
	if (group_init(n) != 0 || region_init(n) != 0 || handoff_init(n) != 0) {
		return -1;
	}
	ro.transport = group_transport(n);
	if (raftio_init(&n->io, &n->loop, path, &ro, err, sizeof(err)) != 0) {
		tb_log(TB_LOG_ERROR, "TB-RAFT-OPEN", "%s", err);
		return -1;
	}
	n->fsm.version = 1;
	n->fsm.data = n;
	n->fsm.apply = node_fsm_apply;
	n->fsm.snapshot = node_fsm_snapshot;
	n->fsm.restore = node_fsm_restore;
	if ((rv = raft_init(&n->raft, &n->io, &n->fsm, n->cfg.raft_id,
	                    n->cfg.link)) != 0) {
		tb_log(TB_LOG_ERROR, "TB-RAFT-INIT", "raft_init: %s",
		       raft_strerror(rv));
		return -1;
	}
	n->raft.data = n;
	raft_set_heartbeat_timeout(&n->raft, n->cfg.heartbeat_ms);
	raft_set_election_timeout(&n->raft, n->cfg.election_ms);
	/* Pre-vote: a member that was away (restarted, partitioned) asks
	 * whether it could win before it raises its term, so its return
	 * does not depose a working leader. */
	raft_set_pre_vote(&n->raft, true);
	raft_set_snapshot_threshold(&n->raft, n->cfg.snapshot_threshold);
	raft_set_snapshot_trailing(&n->raft, n->cfg.snapshot_threshold / 4);
	/* A new node's log is empty: bootstrap a one-voter configuration.
	 * On later starts raft_bootstrap refuses (RAFT_CANTBOOTSTRAP). A
	 * node made to join a group bootstraps nothing: it waits for the
	 * leader to add it (docs/GROUPS.md). */
	raft_configuration_init(&conf);
	rv = n->cfg.join[0] != '\0'
	         ? 0
	         : raft_configuration_add(&conf, n->cfg.raft_id, n->cfg.link,
	                                  RAFT_VOTER);
	if (rv == 0 && n->cfg.join[0] == '\0') {
		rv = raft_bootstrap(&n->raft, &conf);
		if (rv == RAFT_CANTBOOTSTRAP) {
			rv = 0;
		}
	}
	raft_configuration_close(&conf);
	if (rv != 0) {
		tb_log(TB_LOG_ERROR, "TB-RAFT-BOOTSTRAP", "bootstrap: %s",
		       raft_strerror(rv));
		return -1;
	}
	if ((rv = applier_start(n, applier_failed, progress, &n->applier)) !=
	    0) {
		tb_log(TB_LOG_ERROR, "TB-APPLIER-START",
		       "cannot start the store's writer thread: %s",
		       tb_strerror(rv));
		return -1;
	}
	if ((rv = raft_start(&n->raft)) != 0) {
		tb_log(TB_LOG_ERROR, "TB-RAFT-START", "raft_start: %s (%s)",
		       raft_strerror(rv), raft_errmsg(&n->raft));
		return -1;
	}
	return 0;
}

int
node_run(const char *dir)
{
	struct node *n = calloc(1, sizeof(*n));
	char err[512], ready[512], link[160];

	if (n == NULL) {
		return 1;
	}
	n->prop_tail = &n->prop_head;
	signal(SIGPIPE, SIG_IGN);
	/* No node here: say so before the lock, which would otherwise
	 * report "run.lock: No such file or directory" as TB-NODE-LOCKED
	 * (or leave a run.lock behind in an empty directory). */
	snprintf(err, sizeof(err), "%s/tongban.json", dir);
	if (access(err, F_OK) != 0) {
		tb_log(TB_LOG_ERROR, "TB-CONFIG",
		       "%s: no node in this directory (no tongban.json): "
		       "tongban init --dir %s --region CODE makes one",
		       dir, dir);
		free(n);
		return 1;
	}
	/* Held until the process exits: group recover refuses to run
	 * beside a running node. */
	if (node_dir_lock(dir, err, sizeof(err)) < 0) {
		tb_log(TB_LOG_ERROR, "TB-NODE-LOCKED", "%s", err);
		free(n);
		return 1;
	}
	n->start_ms = node_now_ms();
	pthread_mutex_init(&n->mu, NULL);
	pthread_mutex_init(&n->audit_mu, NULL);
	pthread_mutex_init(&n->blobs_seen.mu, NULL);
	if (node_open(n, dir) != 0) {
		/* Nothing runs yet: release what was opened and say why
		 * above (the libraft and loop halves are only reached once
		 * the store is open, and a failing start exits anyway). */
		applier_stop(n->applier);
		applier_free(n->applier);
		if (n->store != NULL) {
			store_close(n->store);
		}
		json_decref(n->root);
		node_config_wipe(&n->cfg);
		group_free(n);
		region_free(n);
		handoff_free(n);
		free(n);
		return 1;
	}
	snprintf(err, sizeof(err), "%s/audit.log", dir);
	n->audit = fopen(err, "a");
	n->ctok = api_ctok_new(dir); /* NULL: chain tokens get 503 */
	uv_async_init(&n->loop, &n->wake, node_wake_cb);
	n->wake.data = n;
	uv_prepare_init(&n->loop, &n->flush);
	n->flush.data = n;
	uv_prepare_start(&n->flush, flush_cb);
	uv_timer_init(&n->loop, &n->tick);
	n->tick.data = n;
	uv_timer_start(&n->tick, tick_cb, 0, NODE_TICK_MS);
	uv_signal_init(&n->loop, &n->sigterm);
	uv_signal_init(&n->loop, &n->sigint);
	n->sigterm.data = n->sigint.data = n;
	uv_signal_start(&n->sigterm, node_signal_cb, SIGTERM);
	uv_signal_start(&n->sigint, node_signal_cb, SIGINT);
	/* Links start before HTTP, so that HTTP threads see n->links. */
	if (link_node_start(n, link, sizeof(link)) != 0) {
		return 1;
	}
	group_start(n);
	join_start(n);
	region_start(n);
	handoff_start(n);
	if (http_start(n->cfg.api, n->cfg.tls_cert, n->cfg.tls_key, n,
	               api_dispatch, &n->http, &n->port, err,
	               sizeof(err)) != 0) {
		tb_log(TB_LOG_ERROR, "TB-HTTP-LISTEN", "%s", err);
		return 1;
	}
	snprintf(
	    ready, sizeof(ready),
	    "{\"event\":\"listening\",\"region\":\"%s\",\"node_id\":\"%s\","
	    "\"api\":\"%s://%.*s:%d\",%s%s%s\"pid\":%ld}\n",
	    n->cfg.region, n->cfg.node_id,
	    n->cfg.tls_cert[0] != '\0' ? "https" : "http",
	    (int)(strrchr(n->cfg.api, ':') - n->cfg.api), n->cfg.api, n->port,
	    link[0] ? "\"link\":\"" : "", link, link[0] ? "\"," : "",
	    (long)getpid());
	fputs(ready, stdout);
	fflush(stdout);
	tb_log(TB_LOG_INFO, "TB-NODE-START",
	       "node %s of %s serving HTTP on port %d", n->cfg.node_id,
	       n->cfg.region, n->port);
	uv_run(&n->loop, UV_RUN_DEFAULT);
	links_free(n->links);
	api_ctok_free(n->ctok);
	group_free(n);
	region_free(n);
	handoff_free(n);
	raftio_close(&n->io);
	applier_free(n->applier);
	store_close(n->store);
	if (n->audit != NULL) {
		fclose(n->audit);
	}
	uv_loop_close(&n->loop);
	json_decref(n->root);
	node_config_wipe(&n->cfg);
	/* nng frees closed pipes on a reaper thread: let it finish, so what
	 * it still holds is freed before the process exits. */
	nng_fini();
	node_stop_guard_done();
	tb_log(TB_LOG_INFO, "TB-NODE-STOPPED", "stopped");
	{
		int code = n->exit_code;
		free(n);
		return code;
	}
}

void
node_audit_line(struct node *n, json_t *line)
{
	char *text;

	if (n->audit == NULL || line == NULL ||
	    (text = json_dumps(line, JSON_COMPACT)) == NULL) {
		json_decref(line);
		return;
	}
	pthread_mutex_lock(&n->audit_mu);
	fprintf(n->audit, "%s\n", text);
	fflush(n->audit);
	pthread_mutex_unlock(&n->audit_mu);
	free(text);
	json_decref(line);
}

void
node_audit(struct node *n, const struct http_call *c, const char *act,
           const char *object)
{
	if (n->audit == NULL) {
		return;
	}
	/* A chain token also names its subject: the client certificate
	 * (serial, region, name) that signed it. */
	node_audit_line(
	    n, json_pack(
	           "{s:I, s:s, s:s?, s:O*, s:s, s:s}", "at",
	           (json_int_t)node_now_ms(), "act", act, "token",
	           c->token ? json_string_value(json_object_get(c->token, "id"))
	                    : NULL,
	           "subject",
	           c->token ? json_object_get(c->token, "subject") : NULL,
	           "object", object, "path", c->path));
}
