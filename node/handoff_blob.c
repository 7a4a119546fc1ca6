/* A handed-over case's materials: before a target proposes the prepare of
 * an offer, it fetches the materials the case record names and it lacks
 * from the source region, in chunks over the links (docs/HANDOFF.md,
 * "Materials").
 *
 * A REGION_T_HBLOB request is JSON {"region": SOURCE, "hops": n, "hash",
 * "off"}; it is routed hop by hop like a remote query (each region on the
 * way relays it and the answer back). A node of SOURCE answers with 8
 * bytes big-endian (the material's size) and then at most
 * HANDOFF_CHUNK_MAX bytes from offset off, or not_found. The fetcher asks
 * for one chunk after another, checks the whole material's hash, writes it
 * durably on libuv's thread pool (blob_write), and goes on with the next.
 *
 * Failure modes: a chunk that does not come (timeout, no route, the source
 * lacks the material), a size over blob_max, or a hash that does not match
 * ends the fetch with an error: nothing is proposed, and the source's next
 * OFFER starts it again (what was written stays). In a target group of
 * several members, each material is then copied to the other members as
 * group_blob.c copies an upload (GROUP_T_BLOB put requests), and the fetch
 * goes on only once a majority of the voters hold it (else it fails the
 * same way).
 *
 * Threads: the loop (blob_write on the thread pool). */
#include "node/handoff.h"

#include "node/blob.h"
#include "node/group.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_query.h"
#include "node/store_db.h"
#include "replication/route.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_TIMEOUT_MS 10000

/* ---- serving and relaying chunks --------------------------------------- */

struct relay {
	struct node *n;
	struct link_reply_to to;
};

static void
relayed(void *arg, int status, const struct link_msg *m)
{
	struct relay *r = arg;

	if (r->n->links != NULL) {
		if (status == TB_OK) {
			link_reply(r->n->links, &r->to, REGION_T_HBLOB, m->body,
			           m->len);
		} else {
			char why[200];

			snprintf(why, sizeof(why), "%.*s",
			         m != NULL ? (int)m->len : 0,
			         m != NULL ? (const char *)m->body : "");
			link_reply_error(r->n->links, &r->to,
			                 status == TB_ENOTFOUND ? TB_ENOTFOUND
			                                        : TB_ECLOSED,
			                 why[0] ? why : tb_strerror(status));
		}
	}
	free(r);
}

/* hop_request sends a chunk request one hop towards req's region. */
static int
hop_request(struct node *n, json_t *req, link_response_fn cb, void *arg)
{
	int32_t target = 0;
	struct route rt;
	char hop[8], *text;
	int rv;

	if (n->links == NULL ||
	    region_code_parse(spec_str(req, "region"), &target) != TB_OK ||
	    spec_int(req, "hops", 0) >= ROUTE_MAX_HOPS) {
		return TB_EINVAL;
	}
	region_route(n, target, &rt);
	if (rt.kind != ROUTE_DOWN && rt.kind != ROUTE_UP &&
	    rt.kind != ROUTE_SIDEWAYS) {
		return TB_ECLOSED;
	}
	json_object_set_new(req, "hops",
	                    json_integer(spec_int(req, "hops", 0) + 1));
	if ((text = json_dumps(req, JSON_COMPACT)) == NULL) {
		return TB_ENOMEM;
	}
	snprintf(hop, sizeof(hop), "%06d", (int)rt.hop);
	rv = link_request(n->links, hop, REGION_T_HBLOB, text, strlen(text),
	                  CHUNK_TIMEOUT_MS, cb, arg);
	free(text);
	return rv;
}

static void
on_hblob(struct links *ls, const struct link_msg *m, void *arg)
{
	struct node *n = arg;
	json_t *req = NULL;
	const char *region, *hash;
	char *buf = NULL;
	size_t got = 0;
	uint64_t total = 0;
	long long off;
	int rv;

	if (!m->request) {
		return;
	}
	req = json_loadb((const char *)m->body, m->len, 0, NULL);
	region = spec_str(req, "region");
	hash = spec_str(req, "hash");
	off = spec_int(req, "off", -1);
	if (region == NULL || hash == NULL || !blob_hash_ok(hash) || off < 0) {
		link_reply_error(
		    ls, &m->reply_to, TB_EMALFORMED,
		    "a chunk request is {region, hops, hash, off}");
		json_decref(req);
		return;
	}
	if (strcmp(region, n->cfg.region) != 0) {
		struct relay *r = calloc(1, sizeof(*r));

		if (r != NULL) {
			r->n = n;
			r->to = m->reply_to;
		}
		if (r == NULL || hop_request(n, req, relayed, r) != TB_OK) {
			free(r);
			link_reply_error(
			    ls, &m->reply_to, TB_ECLOSED,
			    "no link towards the material's region");
		}
		json_decref(req);
		return;
	}
	if ((buf = malloc(8 + HANDOFF_CHUNK_MAX)) == NULL) {
		rv = TB_ENOMEM;
	} else {
		rv = blob_read_range(n, hash, (uint64_t)off, HANDOFF_CHUNK_MAX,
		                     buf + 8, &got, &total);
	}
	if (rv == TB_OK) {
		db_be64((uint8_t *)buf, total);
		link_reply(ls, &m->reply_to, REGION_T_HBLOB, buf, 8 + got);
	} else {
		link_reply_error(ls, &m->reply_to, rv,
		                 rv == TB_ENOTFOUND ? "no such material here"
		                                    : tb_strerror(rv));
	}
	free(buf);
	json_decref(req);
}

void
handoff_blob_start(struct node *n)
{
	if (n->links != NULL) {
		link_handle(n->links, REGION_T_HBLOB, on_hblob, n);
	}
}

/* ---- fetching ---------------------------------------------------------- */

struct fetch {
	struct node *n;
	json_t *hashes; /* the missing materials */
	size_t i;       /* the one being fetched */
	char from[8];
	char *buf;
	uint64_t len, total;
	handoff_blobs_fn done;
	void *arg;
	uv_work_t work;
	int wrv;
	unsigned need, have, outstanding; /* the copies to the members */
	char err[200];
};

static void next_chunk(struct fetch *f);

static void
finish(struct fetch *f, int rv)
{
	if (rv != TB_OK) {
		tb_log(TB_LOG_WARN, "TB-HANDOFF-BLOB",
		       "fetching material %s from %s: %s",
		       json_string_value(json_array_get(f->hashes, f->i)),
		       f->from, f->err[0] ? f->err : tb_strerror(rv));
	}
	f->done(f->arg, rv);
	json_decref(f->hashes);
	free(f->buf);
	free(f);
}

static void
write_work(uv_work_t *w)
{
	struct fetch *f = w->data;

	f->wrv =
	    blob_write(f->n, json_string_value(json_array_get(f->hashes, f->i)),
	               f->buf, (size_t)f->len, f->err, sizeof(f->err));
}

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

/* next_material goes on with the next material once this one is held by
 * a majority of the voters. */
static void
next_material(struct fetch *f)
{
	if (f->have < f->need) {
		snprintf(f->err, sizeof(f->err),
		         "held by %u of the %u voters it needs", f->have,
		         f->need);
		finish(f, TB_ECLOSED);
		return;
	}
	free(f->buf);
	f->buf = NULL;
	f->len = f->total = 0;
	f->i++;
	next_chunk(f);
}

struct copy {
	struct fetch *f;
	raft_id id;
};

static void
on_copied(void *arg, int status, const struct link_msg *m)
{
	struct copy *c = arg;
	struct fetch *f = c->f;

	(void)m;
	if (status == TB_OK && is_voter(f->n, c->id)) {
		f->have++;
	}
	free(c);
	if (--f->outstanding == 0) {
		next_material(f);
	}
}

/* copy_to_members sends the material just written to the other members
 * of the group (a one-voter group has none). */
static void
copy_to_members(struct fetch *f)
{
	struct node *n = f->n;
	struct raft_configuration *conf = &n->raft.configuration;
	uint8_t *body = NULL;
	unsigned i, voters = 0;
	char peer[17];

	for (i = 0; i < conf->n; i++) {
		voters += conf->servers[i].role == RAFT_VOTER;
	}
	f->need = voters == 0 ? 0 : voters / 2 + 1;
	f->have = is_voter(n, n->cfg.raft_id) ? 1 : 0;
	f->outstanding = 1; /* held until every request is out */
	if (conf->n > 1 && n->links != NULL &&
	    (body = malloc(65 + (size_t)f->len)) != NULL) {
		body[0] = 'P';
		memcpy(body + 1,
		       json_string_value(json_array_get(f->hashes, f->i)), 64);
		memcpy(body + 65, f->buf, (size_t)f->len);
	}
	for (i = 0; body != NULL && i < conf->n; i++) {
		struct copy *c;

		if (conf->servers[i].id == n->cfg.raft_id ||
		    (c = malloc(sizeof(*c))) == NULL) {
			continue;
		}
		c->f = f;
		c->id = conf->servers[i].id;
		group_node_id(c->id, peer);
		if (link_request(n->links, peer, GROUP_T_BLOB, body,
		                 65 + (size_t)f->len, n->cfg.blob_timeout_ms,
		                 on_copied, c) == TB_OK) {
			f->outstanding++;
		} else {
			free(c);
		}
	}
	free(body);
	if (--f->outstanding == 0) {
		next_material(f);
	}
}

static void
write_done(uv_work_t *w, int status)
{
	struct fetch *f = w->data;

	if (status != 0 || f->wrv != TB_OK) {
		finish(f, f->wrv != TB_OK ? f->wrv : TB_EIO);
		return;
	}
	copy_to_members(f);
}

static void
on_chunk(void *arg, int status, const struct link_msg *m)
{
	struct fetch *f = arg;
	const char *hash = json_string_value(json_array_get(f->hashes, f->i));
	uint64_t total;

	if (status != TB_OK || m->len < 8) {
		snprintf(f->err, sizeof(f->err), "%s%s%.*s",
		         tb_strerror(status != TB_OK ? status : TB_ETRUNC),
		         m != NULL && m->len ? ": " : "",
		         m != NULL ? (int)(m->len > 150 ? 150 : m->len) : 0,
		         m != NULL ? (const char *)m->body : "");
		finish(f, status != TB_OK ? status : TB_ETRUNC);
		return;
	}
	total = db_get_be64(m->body);
	if (f->buf == NULL) {
		if (total == 0 || total > f->n->cfg.blob_max ||
		    (f->buf = malloc((size_t)total)) == NULL) {
			snprintf(f->err, sizeof(f->err),
			         "a material of %llu bytes (blob_max %zu)",
			         (unsigned long long)total, f->n->cfg.blob_max);
			finish(f, TB_ETOOBIG);
			return;
		}
		f->total = total;
	}
	if (total != f->total || m->len - 8 > f->total - f->len ||
	    m->len == 8) {
		snprintf(f->err, sizeof(f->err), "a chunk that does not fit");
		finish(f, TB_EMALFORMED);
		return;
	}
	memcpy(f->buf + f->len, m->body + 8, m->len - 8);
	f->len += m->len - 8;
	if (f->len < f->total) {
		next_chunk(f);
		return;
	}
	if (!blob_check(hash, f->buf, (size_t)f->len)) {
		snprintf(f->err, sizeof(f->err), "the bytes do not hash to it");
		finish(f, TB_EMALFORMED);
		return;
	}
	f->work.data = f;
	if (uv_queue_work(&f->n->loop, &f->work, write_work, write_done)) {
		finish(f, TB_EIO);
	}
}

static void
next_chunk(struct fetch *f)
{
	json_t *req;
	int rv;

	if (f->i == json_array_size(f->hashes)) {
		f->done(f->arg, TB_OK);
		json_decref(f->hashes);
		free(f);
		return;
	}
	req = json_pack("{s:s, s:i, s:O, s:I}", "region", f->from, "hops", 0,
	                "hash", json_array_get(f->hashes, f->i), "off",
	                (json_int_t)f->len);
	rv = req != NULL ? hop_request(f->n, req, on_chunk, f) : TB_ENOMEM;
	json_decref(req);
	if (rv != TB_OK) {
		snprintf(f->err, sizeof(f->err), "no link towards %s", f->from);
		finish(f, rv);
	}
}

int
handoff_blobs_missing(struct node *n, const json_t *fr, json_t **missing)
{
	const json_t *mats =
	    json_object_get(json_object_get(fr, "record"), "materials");
	const json_t *m;
	size_t i;

	if ((*missing = json_array()) == NULL) {
		return TB_ENOMEM;
	}
	json_array_foreach(mats, i, m)
	{
		const char *h = spec_str(m, "hash");

		if (h != NULL && blob_hash_ok(h) && !blob_exists(n, h)) {
			json_array_append_new(*missing, json_string(h));
		}
	}
	return TB_OK;
}

void
handoff_blobs_fetch(struct node *n, const char *from, json_t *missing,
                    handoff_blobs_fn done, void *arg)
{
	struct fetch *f = calloc(1, sizeof(*f));

	if (f == NULL) {
		json_decref(missing);
		done(arg, TB_ENOMEM);
		return;
	}
	f->n = n;
	f->hashes = missing;
	snprintf(f->from, sizeof(f->from), "%s", from);
	f->done = done;
	f->arg = arg;
	next_chunk(f);
}
