/* The outbox driver's env on the node: its clock, sending over the links,
 * proposing through the region's group, and the replicated records read
 * from the store (replication/outbox.h, struct outbox_env). */
#include "node/region_impl.h"

#include "node/fsm.h"

#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_store.h"
#include "node/store.h"
#include "replication/outbox_wire.h"
#include "schema/canon_walk.h"
#include "schema/cert.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the driver's env --------------------------------------------------- */

static uint64_t
env_now(void *data)
{
	return (uint64_t)region_mono_ms(data);
}

int
region_send(struct region_flow *f, uint32_t to, uint32_t type,
            const uint8_t *buf, size_t len)
{
	struct region_child *k;
	const char *leader = NULL;
	char peer[20];
	int rv;

	/* To the node that leads there, when known and linked: only a
	 * leader acts on a frame (a follower drops it, and redirects). A
	 * leader named but not linked (its link still coming up, or it
	 * died) is kept, and this frame goes to any node of the region:
	 * a follower there answers with the leader it knows
	 * (region_members.c). */
	k = region_kid(f, to, false);
	if (k != NULL && k->leader[0] != '\0') {
		leader = k->leader;
	} else if (to == f->parent && f->parent_leader[0] != '\0') {
		leader = f->parent_leader;
	}
	if (leader != NULL && link_up(f->n->links, leader)) {
		snprintf(peer, sizeof(peer), "%s", leader);
	} else {
		snprintf(peer, sizeof(peer), "%06u", to);
	}
	/* Best effort: no link, a full queue or a closed pipe lose the
	 * frame, and the driver resends. */
	if ((rv = link_send(f->n->links, peer, type, buf, len)) == TB_OK) {
		return rv;
	}
	if (leader != NULL && !strcmp(peer, leader)) {
		/* Its link went away: the next frame goes to the region. */
		if (k != NULL && leader == k->leader) {
			k->leader[0] = '\0';
		} else {
			f->parent_leader[0] = '\0';
		}
	}
	return rv;
}

/* withheld: TB_FAULT_REGION_WITHHOLD (a test fault, tests/
 * node_region_latest.t): a DATA frame down to a child that holds a
 * release entry is dropped, as by a region that withholds releases; the
 * driver resends it after its timeout and it is dropped again. */
static bool
withheld(struct region_flow *f, const struct outbox_msg *m)
{
	static const uint8_t rel[] = "\xa4kind\xa7release";
	size_t i, n = sizeof(rel) - 1;

	if (m->type == OUTBOX_MSG_ACK || m->dest == f->parent ||
	    getenv("TB_FAULT_REGION_WITHHOLD") == NULL) {
		return false;
	}
	for (i = 0; m->payload != NULL && i + n <= m->len; i++) {
		if (memcmp(m->payload + i, rel, n) == 0) {
			return true;
		}
	}
	return false;
}

static void
env_send(void *data, uint32_t to, const struct outbox_msg *m)
{
	struct region_flow *f = data;
	size_t len = outbox_wire_size(m);
	uint8_t *buf;

	if (withheld(f, m)) {
		return;
	}
	buf = malloc(len);

	if (buf == NULL || (len = outbox_wire_encode(m, buf, len)) == 0 ||
	    f->n->links == NULL) {
		free(buf);
		return;
	}
	if (region_send(f, to, REGION_T_OUTBOX, buf, len) == TB_OK) {
		f->tx++;
	}
	free(buf);
}

/* verify_entry checks a release's signature against this node's root
 * before it is proposed (the apply checks chain and version, as for a
 * release published here, whose signature the API checked); a refusal is
 * recorded like an apply's. */
static int refused(struct region_flow *f, uint32_t origin,
                   struct outbox_pos pos, const struct tb_diag *d);

static int
verify_entry(struct region_flow *f, uint32_t origin, struct outbox_pos pos,
             const json_t *entry)
{
	const char *kind = spec_str(entry, "kind");
	struct tb_diag d;

	if (kind == NULL || strcmp(kind, "release") != 0) {
		return 0;
	}
	tb_diag_init(&d);
	if (f->n->root != NULL &&
	    trust_verify_release(f->n->root, json_object_get(entry, "doc"),
	                         "$.entry.doc", &d) == TB_OK) {
		return 0;
	}
	return refused(f, origin, pos, &d);
}

/* entry_check is entry_decode's check without the decode, for an entry
 * proposed as the bytes it came in: canonical msgpack, and a release's
 * signature checked on the bytes of its document (a full release is 5.8
 * MiB: decoding it to JSON was a fifth of a county's CPU). 0, or -1
 * (logged, counted, recorded like a refusal). */
static int
entry_check(struct region_flow *f, uint32_t origin, struct outbox_pos pos,
            const uint8_t *p, size_t len)
{
	static const uint8_t release[] = "\xa7release";
	static const uint8_t kind_rel[] = { 0xa4, 'k', 'i', 'n', 'd', 0xa7, 'r',
		                            'e',  'l', 'e', 'a', 's', 'e' };
	const uint8_t *k, *doc;
	size_t kl, dl;
	struct tb_diag d;
	char err[160];

	if (canon_check(p, len, &canon_default_limits, err, sizeof(err)) !=
	    TB_OK) {
		f->malformed++;
		tb_log(TB_LOG_WARN, "TB-REGION-MALFORMED",
		       "entry %u.%llu from %06u is not canonical msgpack: %s",
		       pos.inc, (unsigned long long)pos.seq, origin, err);
		return -1;
	}
	/* "doc" sorts first: found with one walk of it, and then "kind",
	 * which follows it in an entry {doc, kind}, without another. */
	if (canon_map_get(p, len, "doc", &doc, &dl) != TB_OK) {
		doc = NULL;
	}
	if (doc != NULL && len - (size_t)(doc + dl - p) == sizeof(kind_rel) &&
	    !memcmp(doc + dl, kind_rel, sizeof(kind_rel))) {
		k = release; /* {doc, kind: "release"} */
		kl = sizeof(release) - 1;
	} else if (canon_map_get(p, len, "kind", &k, &kl) != TB_OK) {
		kl = 0;
	}
	if (kl != sizeof(release) - 1 || memcmp(k, release, kl) != 0) {
		return 0; /* not a release: the apply judges it */
	}
	tb_diag_init(&d);
	if (f->n->root != NULL && doc != NULL &&
	    trust_verify_release_bytes(f->n->root, doc, dl, "$.entry.doc",
	                               &d) == TB_OK) {
		return 0;
	}
	if (f->n->root != NULL && d.n == 0) {
		tb_diag_add(&d, TB_ESIG, "$.entry.doc",
		            "a release entry "
		            "without a document");
	}
	return refused(f, origin, pos, &d);
}

/* refused records that the entry at pos was refused before its proposal
 * (d: why; unused without a root); returns -1. */
static int
refused(struct region_flow *f, uint32_t origin, struct outbox_pos pos,
        const struct tb_diag *d)
{
	f->refused_pos = pos;
	snprintf(f->refused_why, sizeof(f->refused_why), "%s: %s",
	         f->n->root == NULL ? "$.entry.doc.signatures" : d->e[0].path,
	         f->n->root == NULL ? "this node has no root.json to verify "
	                              "the release's signature against"
	                            : d->e[0].msg);
	f->refused_at = region_mono_ms(f);
	f->refused_level = f->level;
	f->refused++;
	f->next_report_ms = 0;
	tb_log(TB_LOG_WARN, "TB-REGION-REFUSED",
	       "entry %u.%llu from %06u refused: %s", pos.inc,
	       (unsigned long long)pos.seq, origin, f->refused_why);
	return -1;
}

/* entry_decode decodes and checks the entry origin@pos (p, len): NULL if
 * it is not canonical msgpack or its signature does not verify (logged,
 * counted). */
static json_t *
entry_decode(struct region_flow *f, uint32_t origin, struct outbox_pos pos,
             const uint8_t *p, size_t len)
{
	json_t *entry = NULL;
	char err[160];

	if (canon_decode(p, len, &canon_default_limits, &entry, err,
	                 sizeof(err)) != TB_OK) {
		f->malformed++;
		tb_log(TB_LOG_WARN, "TB-REGION-MALFORMED",
		       "entry %u.%llu from %06u is not canonical msgpack: %s",
		       pos.inc, (unsigned long long)pos.seq, origin, err);
		return NULL;
	}
	if (verify_entry(f, origin, pos, entry) != 0) {
		json_decref(entry);
		return NULL;
	}
	return entry;
}

/* run_body is the body of outbox.deliver_run for the run c: its entries
 * up to the first that does not decode or verify (NULL if that is the
 * first); *n is how many. */
static json_t *
run_body(struct region_flow *f, const struct outbox_cmd *c, unsigned *n)
{
	const uint8_t *rest = c->payload, *e;
	size_t left = c->len, elen;
	struct outbox_pos pos = c->pos;
	json_t *es = json_array(), *entry;
	char code[8];

	for (*n = 0; es != NULL && *n < c->n; (*n)++, pos.seq++) {
		if (!outbox_run_next(&rest, &left, &e, &elen) ||
		    (entry = entry_decode(f, c->origin, pos, e, elen)) ==
		        NULL ||
		    json_array_append_new(es, entry) != 0) {
			break;
		}
	}
	if (es == NULL || *n == 0) {
		json_decref(es);
		return NULL;
	}
	snprintf(code, sizeof(code), "%06u", c->origin);
	return json_pack("{s:s, s:I, s:I, s:o}", "origin", code, "inc",
	                 (json_int_t)c->pos.inc, "seq", (json_int_t)c->pos.seq,
	                 "entries", es);
}

/* set_by adds the sender's incarnation to a deliver body (feature level
 * 5: a member of an older build refuses the field). */
static void
set_by(struct region_flow *f, json_t *body, const struct outbox_cmd *c)
{
	if (body != NULL && f->level >= FSM_INC_LEVEL && c->from_inc > 0) {
		json_object_set_new(body, "by",
		                    json_integer((json_int_t)c->from_inc));
	}
}

static void
env_propose(void *data, const struct outbox_cmd *c)
{
	struct region_flow *f = data;
	struct region_prop *p;
	char code[8];
	json_t *body;
	unsigned n = 0;

	if (c->type == OUTBOX_CMD_DELIVER && c->n > 0) {
		/* A run: one command (feature level 3, the driver checked). */
		if ((body = run_body(f, c, &n)) == NULL ||
		    (p = calloc(1, sizeof(*p))) == NULL) {
			json_decref(body);
			return;
		}
		p->c = *c;
		p->c.payload = NULL;
		p->c.len = 0;
		p->c.n = n;
		set_by(f, body, c);
		region_propose(f, CMD_OUTBOX_DELIVER_RUN, body, p);
		json_decref(body);
		return;
	}
	if (c->type == OUTBOX_CMD_SKIP) {
		/* outbox.skip is a level-5 command: below it a recovered
		 * destination's stream waits (docs/REPLICATION.md). */
		if (f->level < FSM_INC_LEVEL) {
			return;
		}
		snprintf(code, sizeof(code), "%06u", c->origin);
		body = json_pack("{s:s, s:I, s:I}", "origin", code, "inc",
		                 (json_int_t)c->pos.inc, "seq",
		                 (json_int_t)c->pos.seq);
		set_by(f, body, c);
		if (body == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
			json_decref(body);
			return;
		}
		p->c = *c;
		p->c.payload = NULL;
		p->c.len = 0;
		tb_log(TB_LOG_WARN, "TB-REGION-SKIP",
		       "%06u has acknowledged up to %u.%llu, above this "
		       "region's cursor: deliveries lost with this group's "
		       "recovery; proposing outbox.skip",
		       c->origin, c->pos.inc, (unsigned long long)c->pos.seq);
		region_propose(f, CMD_OUTBOX_SKIP, body, p);
		json_decref(body);
		return;
	}
	if (c->type == OUTBOX_CMD_DELIVER) {
		/* Checked in place, and proposed as the bytes it came in,
		 * spliced into the command. */
		if (entry_check(f, c->origin, c->pos, c->payload, c->len) !=
		    0) {
			return;
		}
		snprintf(code, sizeof(code), "%06u", c->origin);
		body = json_pack("{s:s, s:I, s:I, s:n}", "origin", code, "inc",
		                 (json_int_t)c->pos.inc, "seq",
		                 (json_int_t)c->pos.seq, "entry");
		set_by(f, body, c);
	} else {
		snprintf(code, sizeof(code), "%06u", c->dest);
		body = json_pack("{s:s, s:I, s:I}", "dest", code, "inc",
		                 (json_int_t)c->pos.inc, "seq",
		                 (json_int_t)c->pos.seq);
	}
	if (body == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(body);
		return;
	}
	p->c = *c;
	p->c.payload = NULL;
	p->c.len = 0;
	if (c->type == OUTBOX_CMD_DELIVER) {
		p->splice = c->payload;
		p->splice_len = c->len;
	}
	region_propose(f,
	               c->type == OUTBOX_CMD_DELIVER ? CMD_OUTBOX_DELIVER
	                                             : CMD_OUTBOX_ACKED,
	               body, p);
	json_decref(body);
}

static int
env_out_get(void *data, uint32_t dest, struct outbox_out *o)
{
	struct region_flow *f = data;
	int rv = region_store_out(f->n->store, dest, o);

	if (rv == TB_ENOTFOUND) {
		outbox_out_init(o, dest, f->inc ? f->inc : 1);
		rv = TB_OK;
	}
	return rv;
}

static int
env_in_get(void *data, uint32_t origin, struct outbox_in *in)
{
	struct region_flow *f = data;

	return region_store_in(f->n->store, origin, in);
}

static int
env_entry_get(void *data, uint32_t dest, struct outbox_pos pos,
              const uint8_t **p, size_t *len)
{
	struct region_flow *f = data;
	int rv;

	free(f->ebuf);
	f->ebuf = NULL;
	rv = region_store_entry(f->n->store, dest, pos, &f->ebuf, len);
	*p = f->ebuf;
	return rv;
}

static int
env_entry_next(void *data, uint32_t dest, struct outbox_pos after,
               struct outbox_pos *next)
{
	struct region_flow *f = data;

	return region_store_entry_next(f->n->store, dest, after, next);
}

void
region_driver_start(struct region_flow *f)
{
	struct outbox_env env = {
		f,           env_now,    env_send,      env_propose,
		env_out_get, env_in_get, env_entry_get, env_entry_next
	};
	unsigned i;

	/* Links are TCP: a frame is lost only with its pipe, and entries
	 * can be MiBs (a full release), so resend after a second, not
	 * outbox.c's 50 ms, up to 5 s. A proposal is lost only with the
	 * leadership (a new driver proposes again at once), so a DELIVER
	 * still being applied (seconds for a full release) is not proposed
	 * again for 20 s. A round waits a second more per MiB it carries
	 * (a full release, 5.8 MiB, takes the receiver seconds to apply:
	 * resent every second, it was received two or three times per
	 * hop, each a few hundred ms of CPU on both sides). */
	struct outbox_config cfg = { 64, 1000, 5000, 20000, 1000 };

	outbox_driver_init(&f->d, f->self, &env, &cfg);
	if (f->parent != 0) {
		outbox_driver_peer(&f->d, f->parent);
	}
	for (i = 0; i < f->nkids; i++) {
		if (f->kids[i].stream) {
			outbox_driver_peer(&f->d, f->kids[i].code);
		}
	}
	f->on = true;
	f->term = f->n->raft.current_term;
	tb_log(TB_LOG_INFO, "TB-REGION-DRIVER",
	       "leading %06u's streams in term %llu (%u children)", f->self,
	       (unsigned long long)f->term, f->nkids);
}

int
region_splice(struct canon_buf *b, const uint8_t *e, size_t elen, char *err,
              size_t errlen)
{
	/* The key "entry" (fixstr 5) and nil: unique in a deliver body. */
	static const uint8_t pat[] = { 0xa5, 'e', 'n', 't', 'r', 'y', 0xc0 };
	struct canon_buf out = { 0 };
	size_t i, at = 0, hits = 0;

	for (i = 0; b->len >= sizeof(pat) && i <= b->len - sizeof(pat); i++) {
		if (!memcmp(b->data + i, pat, sizeof(pat))) {
			at = i + sizeof(pat) - 1;
			hits++;
		}
	}
	if (hits != 1) {
		snprintf(err, errlen, "%zu places for the entry's bytes", hits);
		return TB_EINVAL;
	}
	if (canon_buf_append(&out, b->data, at) != 0 ||
	    canon_buf_append(&out, e, elen) != 0 ||
	    canon_buf_append(&out, b->data + at + 1, b->len - at - 1) != 0) {
		canon_buf_free(&out);
		return TB_ENOMEM;
	}
	canon_buf_free(b);
	*b = out;
	return TB_OK;
}

/* ---- runs: who takes them ------------------------------------------------ */

/* region_child_of: code's parent in the region table is this region. */
static bool
region_child_of(struct region_flow *f, uint32_t code)
{
	char c[8], parent[7] = "";

	snprintf(c, sizeof(c), "%06u", code);
	return cert_region_parent(c, parent) == 0 &&
	       region_code_u32(parent) == f->self;
}

static bool
fresh(int64_t at, int64_t now)
{
	return at != 0 && now - at < REGION_STALE_MS;
}

void
region_runs_sync(struct region_flow *f)
{
	int64_t now = region_mono_ms(f);
	struct region_child *k;
	unsigned i;

	f->d.propose_runs = f->level >= 3 && now >= f->runs_off_until;
	for (i = 0; i < f->d.n_peers; i++) {
		struct outbox_peer *p = &f->d.peers[i];

		if (p->region == f->parent) {
			p->takes_runs = fresh(f->parent_runs_at, now);
			/* Case summaries up are small and many: a wider
			 * window when they travel in runs. */
			p->window = p->takes_runs ? REGION_UP_WINDOW : 0;
		} else {
			k = region_kid(f, p->region, false);
			p->takes_runs = k != NULL && fresh(k->runs_at, now);
		}
	}
}

void
region_hello_send(struct region_flow *f)
{
	char buf[64];
	int len;
	unsigned i;

	len = snprintf(buf, sizeof(buf), "{\"region\":\"%06u\",\"runs\":%d}",
	               f->self, OUTBOX_RUN_MAX);
	if (f->n->links == NULL || len <= 0 || (size_t)len >= sizeof(buf)) {
		return;
	}
	if (f->parent != 0) {
		region_send(f, f->parent, REGION_T_HELLO, (const uint8_t *)buf,
		            (size_t)len);
	}
	for (i = 0; i < f->nkids; i++) {
		region_send(f, f->kids[i].code, REGION_T_HELLO,
		            (const uint8_t *)buf, (size_t)len);
	}
}

void
region_on_hello(struct links *ls, const struct link_msg *m, void *arg)
{
	struct region_flow *f = arg;
	uint32_t code = region_code_u32(m->peer_region);
	struct region_child *k = NULL;
	json_t *h;

	(void)ls;
	h = json_loadb((const char *)m->body, m->len, JSON_REJECT_DUPLICATES,
	               NULL);
	/* From the parent or a child (the link verified its chain), for
	 * itself only. */
	if (!json_is_object(h) ||
	    strcmp(spec_str(h, "region") ? spec_str(h, "region") : "",
	           m->peer_region) != 0 ||
	    spec_int(h, "runs", 0) < 1) {
		f->malformed++;
		json_decref(h);
		return;
	}
	json_decref(h);
	if (code == f->parent && code != 0) {
		f->parent_runs_at = region_mono_ms(f);
	} else if (region_child_of(f, code) &&
	           (k = region_kid(f, code, true)) != NULL) {
		k->runs_at = region_mono_ms(f);
	} else {
		f->spoofed++;
		return;
	}
	if (f->on) {
		region_runs_sync(f);
	}
	region_redirect(f, m); /* at a follower: who leads here */
}
