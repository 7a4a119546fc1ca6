/* Materials in a replica group: a material is acknowledged once a majority
 * of the voters hold it, and a member that lacks one asks the others.
 *
 * Materials stay out of the Raft log (they may be tens of MiB), so they
 * travel beside it, as type-35 link requests between members:
 *
 *   {"op":"put"} + hash   body: 64 hex digits, then the bytes. The member
 *                         checks the hash and the size limit, writes the
 *                         blob durably (blob_write) and answers "ok".
 *   {"op":"get"} + hash   body: 64 hex digits. The answer is the bytes, or
 *                         not_found.
 *
 * The first byte of a body names the op ('P' or 'G'); the hash follows.
 *
 * PUT /v1/blobs at any member stores the material there, then sends a put
 * to every other member of the configuration and answers 201 once a
 * majority of the voters (itself included when it is one) hold it; the
 * other puts go on after the answer. If no majority holds it within
 * blob_timeout_ms (tongban.json, 10 s by default) the answer is 503 (the
 * material stays where it got to; the same upload again is safe). GET
 * /v1/blobs/HASH at a member that lacks the material asks the other members one
 * at a time; the first that answers with bytes of the right hash wins, and the
 * member keeps a copy.
 *
 * Failure modes: a member down or unreachable counts as not holding it; a
 * member that answers bytes of the wrong hash is skipped and logged
 * (TB-BLOB-MISMATCH). A member checks and writes a copy it receives on
 * libuv's thread pool, and so does a member that fetches one for a GET. */
#include "node/group_impl.h"

#include "node/blob.h"
#include "node/http.h"
#include "node/log.h"
#include "node/node.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* A put on its way to the other members. */
struct blob_put {
	struct http_call *c; /* NULL once answered */
	struct group *g;
	char hash[65];
	json_int_t size;
	bool existed;
	unsigned need;        /* voters that must hold it */
	unsigned have;        /* voters known to hold it */
	unsigned copies;      /* members that answered "ok" */
	unsigned outstanding; /* requests not answered yet */
	unsigned others;      /* members asked */
};

/* A GET that asks the other members in turn. */
struct blob_fetch {
	struct http_call *c;
	struct group *g;
	char hash[65];
	raft_id ids[16];
	unsigned n, next;
};

static bool
is_voter(struct node *n, raft_id id)
{
	unsigned i;

	for (i = 0; i < n->raft.configuration.n; i++) {
		if (n->raft.configuration.servers[i].id == id) {
			return n->raft.configuration.servers[i].role ==
			       RAFT_VOTER;
		}
	}
	return false;
}

static void
put_answer(struct blob_put *p, bool timed_out)
{
	if (p->c == NULL) {
		return;
	}
	if (p->have >= p->need) {
		json_t *res =
		    json_pack("{s:s, s:I, s:I}", "hash", p->hash, "size",
		              p->size, "copies", (json_int_t)p->copies + 1);
		if (res != NULL && p->existed) {
			json_object_set_new(res, "existed", json_true());
		}
		http_reply_json(p->c, p->existed ? 200 : 201, res);
	} else if (timed_out || p->outstanding == 0) {
		http_reply_error(
		    p->c, 503, "unavailable", NULL,
		    "material %s is stored at this member and at %u of the "
		    "%u other members, but %u of the voters must hold it "
		    "(%u do): upload it again once the group is whole",
		    p->hash, p->copies, p->others, p->need, p->have);
	} else {
		return;
	}
	p->c = NULL;
}

struct put_req {
	struct blob_put *p;
	raft_id id;
};

static void
on_put(void *arg, int status, const struct link_msg *m)
{
	struct put_req *r = arg;
	struct blob_put *p = r->p;

	p->outstanding--;
	if (status != TB_OK) {
		char peer[17];

		group_node_id(r->id, peer);
		tb_log(TB_LOG_WARN, "TB-BLOB-COPY",
		       "material %s was not copied to member %s: %s%s%.*s",
		       p->hash, peer, tb_strerror(status),
		       m != NULL ? ": " : "", m != NULL ? (int)m->len : 0,
		       m != NULL ? (const char *)m->body : "");
	}
	if (status == TB_OK) {
		p->copies++;
		if (is_voter(p->g->n, r->id)) {
			p->have++;
		}
	}
	free(r);
	put_answer(p, false);
	if (p->outstanding == 0) {
		put_answer(p, true);
		free(p);
	}
}

void
group_blob_replicate(struct http_call *c, const json_t *req)
{
	struct node *n = c->node;
	struct raft_configuration *conf = &n->raft.configuration;
	struct blob_put *p = calloc(1, sizeof(*p));
	unsigned i, voters = 0;
	uint8_t *body = NULL;
	int rv;
	size_t len = 0;
	char peer[17];

	if (p == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	p->c = c;
	p->g = n->group;
	snprintf(p->hash, sizeof(p->hash), "%s", spec_str(req, "hash"));
	p->size = spec_int(req, "size", 0);
	p->existed = json_is_true(json_object_get(req, "existed"));
	for (i = 0; i < conf->n; i++) {
		voters += conf->servers[i].role == RAFT_VOTER;
	}
	/* A node not in a group yet (voters 0) answers at once. */
	p->need = voters == 0 ? 0 : voters / 2 + 1;
	p->have = is_voter(n, n->cfg.raft_id) ? 1 : 0;
	if (conf->n > 1 && n->links != NULL &&
	    (body = malloc(1 + 64 + c->body_len)) != NULL) {
		body[0] = 'P';
		memcpy(body + 1, p->hash, 64);
		memcpy(body + 65, c->body, c->body_len);
		len = 65 + c->body_len;
	}
	for (i = 0; body != NULL && i < conf->n; i++) {
		struct put_req *r;

		if (conf->servers[i].id == n->cfg.raft_id ||
		    (r = malloc(sizeof(*r))) == NULL) {
			continue;
		}
		r->p = p;
		r->id = conf->servers[i].id;
		group_node_id(r->id, peer);
		p->others++;
		rv = link_request(n->links, peer, GROUP_T_BLOB, body, len,
		                  n->cfg.blob_timeout_ms, on_put, r);
		if (rv == TB_OK) {
			p->outstanding++;
		} else {
			tb_log(TB_LOG_WARN, "TB-BLOB-COPY",
			       "material %s cannot be sent to member %s: %s",
			       p->hash, peer, tb_strerror(rv));
			free(r);
		}
	}
	free(body);
	put_answer(p, p->outstanding == 0);
	if (p->outstanding == 0) {
		free(p);
	}
}

/* ---- a GET that misses ------------------------------------------------ */

static void fetch_next(struct blob_fetch *f);

/* A fetched copy, checked and kept on the thread pool. */
struct got_work {
	uv_work_t work;
	struct blob_fetch *f;
	char peer[17];
	bool good, answered;
	size_t len;
	uint8_t data[];
};

static void
got_work(uv_work_t *req)
{
	struct got_work *w = req->data;
	char err[256];

	w->good = blob_check(w->f->hash, w->data, w->len);
	if (!w->good) {
		if (w->f->g->n->stopping) {
			/* The loop may be waiting in nng's server stop for
			 * this very call: answer here, not in got_done. */
			http_reply_error(w->f->c, 503, "closed", NULL,
			                 "the node is stopping");
			w->answered = true;
		}
		return;
	}
	if (blob_write(w->f->g->n, w->f->hash, w->data, w->len, err,
	               sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_WARN, "TB-BLOB-KEEP",
		       "cannot keep a copy of material %s: %s", w->f->hash,
		       err);
	}
	/* Answered here (nng's replies are thread-safe), not in got_done:
	 * a stopping node's loop waits in nng's server stop for this call,
	 * and would never run got_done. */
	node_audit(w->f->g->n, w->f->c, "blob.read", w->f->hash);
	http_reply_raw(w->f->c, 200, "application/octet-stream", w->data,
	               w->len, NULL);
}

static void
got_done(uv_work_t *req, int status)
{
	struct got_work *w = req->data;
	struct blob_fetch *f = w->f;

	if (w->answered) {
		free(w);
		free(f);
		return;
	}
	if (status != 0 || !w->good) {
		if (status == 0) {
			tb_log(TB_LOG_WARN, "TB-BLOB-MISMATCH",
			       "member %s answered %zu bytes for material %s "
			       "that hash to something else",
			       w->peer, w->len, f->hash);
		}
		free(w);
		fetch_next(f);
		return;
	}
	free(w);
	free(f);
}

static void
on_got(void *arg, int status, const struct link_msg *m)
{
	struct blob_fetch *f = arg;
	struct got_work *w;

	if (status != TB_OK || (w = malloc(sizeof(*w) + m->len)) == NULL) {
		fetch_next(f);
		return;
	}
	w->f = f;
	w->good = w->answered = false;
	snprintf(w->peer, sizeof(w->peer), "%s", m->peer_node_id);
	w->len = m->len;
	memcpy(w->data, m->body, m->len);
	w->work.data = w;
	if (uv_queue_work(&f->g->n->loop, &w->work, got_work, got_done) != 0) {
		free(w);
		fetch_next(f);
	}
}

static void
fetch_next(struct blob_fetch *f)
{
	struct node *n = f->g->n;
	uint8_t body[65];
	char peer[17];

	body[0] = 'G';
	memcpy(body + 1, f->hash, 64);
	while (f->next < f->n) {
		group_node_id(f->ids[f->next++], peer);
		if (link_request(n->links, peer, GROUP_T_BLOB, body,
		                 sizeof(body), n->cfg.blob_timeout_ms, on_got,
		                 f) == TB_OK) {
			return;
		}
	}
	http_reply_error(f->c, 404, "not_found", NULL,
	                 "no material %s on this node%s", f->hash,
	                 f->n > 0 ? " or on the other members it reached" : "");
	free(f);
}

void
group_blob_fetch(struct http_call *c, const json_t *req)
{
	struct node *n = c->node;
	struct raft_configuration *conf = &n->raft.configuration;
	struct blob_fetch *f = calloc(1, sizeof(*f));
	unsigned i;

	if (f == NULL) {
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	f->c = c;
	f->g = n->group;
	snprintf(f->hash, sizeof(f->hash), "%s", spec_str(req, "hash"));
	for (i = 0; n->links != NULL && i < conf->n && f->n < 16; i++) {
		if (conf->servers[i].id != n->cfg.raft_id) {
			f->ids[f->n++] = conf->servers[i].id;
		}
	}
	fetch_next(f);
}

/* ---- a member's side -------------------------------------------------- */

/* A copy being written on the thread pool. */
struct put_work {
	uv_work_t work;
	struct node *n;
	struct link_reply_to to;
	char hash[65];
	int rv;
	char err[256];
	size_t len;
	uint8_t data[];
};

static void
put_work(uv_work_t *req)
{
	struct put_work *w = req->data;

	if (!blob_check(w->hash, w->data, w->len)) {
		w->rv = TB_ECORRUPT;
		snprintf(w->err, sizeof(w->err),
		         "the bytes do not hash to the name given");
		return;
	}
	w->rv =
	    blob_write(w->n, w->hash, w->data, w->len, w->err, sizeof(w->err));
}

static void
put_done(uv_work_t *req, int status)
{
	struct put_work *w = req->data;
	struct links *ls = w->n->links;

	if (ls != NULL && status == 0 && w->rv == TB_OK) {
		link_reply(ls, &w->to, GROUP_T_BLOB, "ok", 2);
	} else if (ls != NULL) {
		link_reply_error(ls, &w->to, status != 0 ? TB_ECLOSED : w->rv,
		                 status != 0 ? "cancelled" : w->err);
	}
	free(w);
}

void
group_blob_handle(struct links *ls, const struct link_msg *m, void *arg)
{
	struct group *g = arg;
	struct node *n = g->n;
	struct put_work *w;
	char hash[65], *data;
	size_t len;
	int rv;

	if (!m->request) {
		return;
	}
	if (!group_peer_ok(g, m, "a material request")) {
		link_reply_error(ls, &m->reply_to, TB_EFORBIDDEN,
		                 "only members of this region may exchange its "
		                 "materials");
		return;
	}
	if (m->len < 65 || (m->body[0] != 'P' && m->body[0] != 'G')) {
		link_reply_error(ls, &m->reply_to, TB_EMALFORMED,
		                 "a material request is 'P' or 'G', a hash of "
		                 "64 hex digits, then (for 'P') the bytes");
		return;
	}
	memcpy(hash, m->body + 1, 64);
	hash[64] = '\0';
	if (!blob_hash_ok(hash)) {
		link_reply_error(ls, &m->reply_to, TB_ECODE,
		                 "the hash is not 64 lowercase hex digits");
		return;
	}
	if (m->body[0] == 'G') {
		if ((rv = blob_read(n, hash, &data, &len)) != TB_OK) {
			link_reply_error(ls, &m->reply_to, rv,
			                 rv == TB_ENOTFOUND ? "no such material"
			                                    : "cannot read it");
			return;
		}
		link_reply(ls, &m->reply_to, GROUP_T_BLOB, data, len);
		free(data);
		return;
	}
	len = m->len - 65;
	if (len == 0 || len > n->cfg.blob_max) {
		link_reply_error(ls, &m->reply_to, TB_ETOOBIG,
		                 "a material is 1 byte to blob_max bytes");
		return;
	}
	/* Hashing and writing up to blob_max bytes (an fsync) happen on
	 * libuv's thread pool, not on the loop that runs Raft. */
	if ((w = malloc(sizeof(*w) + len)) == NULL) {
		link_reply_error(ls, &m->reply_to, TB_ENOMEM, "out of memory");
		return;
	}
	w->n = n;
	w->to = m->reply_to;
	memcpy(w->hash, hash, sizeof(w->hash));
	w->len = len;
	memcpy(w->data, m->body + 65, len);
	w->work.data = w;
	if (uv_queue_work(&n->loop, &w->work, put_work, put_done) != 0) {
		free(w);
		link_reply_error(ls, &m->reply_to, TB_ENOMEM,
		                 "cannot queue the write");
	}
}
