/* Between regions in the state machine: the region's place in the tree
 * (region.topology) and the outboxes' replicated records (outbox.child in
 * fsm_outbox_child.c, outbox.deliver, outbox.acked), applied with
 * replication/outbox.c.
 *
 * Records in DB_OUTBOX (docs/REPLICATION.md "In the node"):
 *   "o" dest(6)                  -> {"inc", "next", "acked_inc", "acked_seq",
 *                                   "old"?} ("old": entries of older
 *                                   incarnations held, after a recovery)
 *   "e" dest(6) inc(be32) seq(be64) -> the entry {"kind", "doc"}, or
 *                                   (feature level 5) a release's as
 *                                   {"kind": "release", "ref": version}:
 *                                   the stored release, sent as its copy
 *                                   would be (region_store_entry)
 *   "i" origin(6)                -> {"inc", "seq"}: the delivered cursor
 *   "l" issuer                   -> the newest list of issuer as it flows
 *                                   down, {crl, root, chain?} (fsm_crl.c)
 * and the topology in meta "topology": {"parent", "peers"}. */
#include "node/fsm.h"
#include "node/region_store.h"

#include "replication/outbox.h"
#include "schema/cert.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
fsm_region_inc(struct fsm *f, uint32_t *inc)
{
	uint64_t v = 0;
	int rv = meta_get_u64(f->s, f->txn, "incarnation", &v);

	*inc = v > 1 && v < UINT32_MAX ? (uint32_t)v : 1;
	return rv;
}

uint32_t
region_code_u32(const char *s)
{
	uint32_t v = 0;
	int i;

	for (i = 0; s != NULL && i < 6; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return 0;
		}
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	return s != NULL && s[6] == '\0' ? v : 0;
}

void
region_out_key(uint8_t k[7], uint32_t dest)
{
	char d[8];

	snprintf(d, sizeof(d), "%06u", dest % 1000000u);
	k[0] = 'o';
	memcpy(k + 1, d, 6);
}

void
region_entry_key(uint8_t k[19], uint32_t dest, struct outbox_pos pos)
{
	region_out_key(k, dest);
	k[0] = 'e';
	db_be32(k + 7, pos.inc);
	db_be64(k + 11, pos.seq);
}

void
region_in_key(uint8_t k[7], uint32_t origin)
{
	region_out_key(k, origin);
	k[0] = 'i';
}

void
region_rewound_key(uint8_t k[7], uint32_t dest)
{
	region_out_key(k, dest);
	k[0] = 'w';
}

int
region_out_decode(const MDB_val *v, uint32_t dest, struct outbox_out *o)
{
	json_t *j;
	int rv;

	if ((rv = db_val_json(v, &j)) != 0) {
		return rv;
	}
	o->dest = dest;
	o->inc = (uint32_t)spec_int(j, "inc", 0);
	o->next = (uint64_t)spec_int(j, "next", 0);
	o->acked.inc = (uint32_t)spec_int(j, "acked_inc", 0);
	o->acked.seq = (uint64_t)spec_int(j, "acked_seq", 0);
	o->old = (uint64_t)spec_int(j, "old", 0);
	json_decref(j);
	return o->inc == 0 || o->next == 0 ? TB_ECORRUPT : TB_OK;
}

int
region_in_decode(const MDB_val *v, uint32_t origin, struct outbox_in *in)
{
	json_t *j;
	int rv;

	if ((rv = db_val_json(v, &j)) != 0) {
		return rv;
	}
	in->origin = origin;
	in->cursor.inc = (uint32_t)spec_int(j, "inc", 0);
	in->cursor.seq = (uint64_t)spec_int(j, "seq", 0);
	in->by = (uint32_t)spec_int(j, "by", 0);
	json_decref(j);
	return TB_OK;
}

int
region_out_put(struct fsm *f, const struct outbox_out *o)
{
	uint8_t k[7];
	json_t *j;
	int rv;

	region_out_key(k, o->dest);
	j = json_pack("{s:I, s:I, s:I, s:I}", "inc", (json_int_t)o->inc, "next",
	              (json_int_t)o->next, "acked_inc",
	              (json_int_t)o->acked.inc, "acked_seq",
	              (json_int_t)o->acked.seq);
	/* "old" only after a recovery (feature level 5): a record of a
	 * group that never recovered is written as before. */
	if (j != NULL && o->old > 0 &&
	    json_object_set_new(j, "old", json_integer((json_int_t)o->old))) {
		json_decref(j);
		j = NULL;
	}
	if (j == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_OUTBOX], k, sizeof(k), j);
	json_decref(j);
	return rv;
}

/* region_emit appends the entry {kind, doc} to the stream o (written back). */
int
region_emit(struct fsm *f, struct outbox_out *o, const char *kind,
            const json_t *doc)
{
	struct outbox_pos pos = outbox_emit(o);
	uint8_t k[19];
	json_t *e;
	int rv;

	region_entry_key(k, o->dest, pos);
	if ((e = json_pack("{s:s, s:O}", "kind", kind, "doc", doc)) == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_OUTBOX], k, sizeof(k), e);
	json_decref(e);
	return rv ? rv : region_out_put(f, o);
}

/* region_emit_ref appends a release's entry to the stream o as a reference to
 * the stored release of version ver (feature level 5, FSM_REF_LEVEL): a few
 * bytes instead of a copy of the release (5.8 MiB for 3,000 matters). */
int
region_emit_ref(struct fsm *f, struct outbox_out *o, uint64_t ver)
{
	struct outbox_pos pos = outbox_emit(o);
	uint8_t k[19];
	json_t *e;
	int rv;

	region_entry_key(k, o->dest, pos);
	if ((e = json_pack("{s:s, s:I}", "kind", "release", "ref",
	                   (json_int_t)ver)) == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_OUTBOX], k, sizeof(k), e);
	json_decref(e);
	return rv ? rv : region_out_put(f, o);
}

/* entry_encode writes the stored form of the entry {kind, doc} (the
 * schema-version byte, then canonical msgpack) into b, as db_put_json
 * would; around doc's canonical bytes p[0..n) when p is not NULL. */
static int
entry_encode(const char *kind, const json_t *doc, const uint8_t *p, size_t n,
             struct canon_buf *b)
{
	/* {"doc": ..., "kind": ...}: keys in byte order, fixstr lengths. */
	static const uint8_t head[] = { STORE_SV, 0x82, 0xa3, 'd', 'o', 'c' };
	static const uint8_t kk[] = { 0xa4, 'k', 'i', 'n', 'd' };
	uint8_t sv = STORE_SV, kl = (uint8_t)(0xa0 | strlen(kind));
	char err[128];
	json_t *e;
	int rv;

	if (p != NULL && strlen(kind) < 32) {
		if (canon_buf_append(b, head, sizeof(head)) != 0 ||
		    canon_buf_append(b, p, n) != 0 ||
		    canon_buf_append(b, kk, sizeof(kk)) != 0 ||
		    canon_buf_append(b, &kl, 1) != 0 ||
		    canon_buf_append(b, kind, strlen(kind)) != 0) {
			canon_buf_free(b);
			return TB_ENOMEM;
		}
		return TB_OK;
	}
	if ((e = json_pack("{s:s, s:O}", "kind", kind, "doc", doc)) == NULL) {
		return TB_ENOMEM;
	}
	if ((rv = canon_buf_append(b, &sv, 1)) == 0) {
		rv = canon_encode(e, b, err, sizeof(err));
	}
	json_decref(e);
	if (rv != 0) {
		canon_buf_free(b);
	}
	return rv == TB_OK || rv == TB_ENOMEM ? rv : TB_EIO;
}

int
fsm_outbox_fanout(struct fsm *f, const char *kind, const json_t *doc)
{
	return fsm_outbox_fanout_doc(f, kind, doc, NULL, 0);
}

int
fsm_outbox_fanout_doc(struct fsm *f, const char *kind, const json_t *doc,
                      const uint8_t *p, size_t len)
{
	MDB_cursor *cur;
	MDB_val k = { 1, "o" }, v;
	struct outbox_out o[OUTBOX_MAX_PEERS];
	struct canon_buf b = { 0 };
	char parent[7] = "";
	bool ref = false;
	int rv, n = 0, i;

	/* Down the tree only: the stream to the parent carries case
	 * summaries up (fsm_outbox_up). */
	cert_region_parent(f->s->region, parent);
	if ((rv =
	         db_err(mdb_cursor_open(f->txn, f->s->dbi[DB_OUTBOX], &cur)))) {
		return rv;
	}
	rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	while (rv == 0 && n < OUTBOX_MAX_PEERS && k.mv_size == 7 &&
	       ((const uint8_t *)k.mv_data)[0] == 'o') {
		char d[7];
		memcpy(d, (const uint8_t *)k.mv_data + 1, 6);
		d[6] = '\0';
		if ((rv = region_out_decode(&v, region_code_u32(d), &o[n])) !=
		    0) {
			break;
		}
		n += strcmp(d, parent) != 0;
		rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	if (rv != 0 && rv != TB_ENOTFOUND) {
		return rv;
	}
	if (n == 0) {
		return TB_OK;
	}
	/* At feature level 5 a release's entry refers to the release the
	 * apply has just stored (persist_layer, same transaction). */
	if (!strcmp(kind, "release") && (rv = fsm_ref_level(f, &ref)) != 0) {
		return rv;
	}
	if (ref) {
		long long ver = spec_int(doc, "version", 0);

		if (ver < 1) {
			return TB_EINVAL;
		}
		for (i = 0; rv == 0 && i < n; i++) {
			rv = region_emit_ref(f, &o[i], (uint64_t)ver);
		}
		return rv;
	}
	/* The entry is the same for every child: encoded once (a full
	 * release is 5.8 MiB of canonical msgpack). */
	if ((rv = entry_encode(kind, doc, p, len, &b)) != 0) {
		return rv;
	}
	for (i = 0; rv == 0 && i < n; i++) {
		struct outbox_pos pos = outbox_emit(&o[i]);
		uint8_t ek[19];

		region_entry_key(ek, o[i].dest, pos);
		rv = db_put(f->txn, f->s->dbi[DB_OUTBOX], ek, sizeof(ek),
		            b.data, b.len);
		rv = rv ? rv : region_out_put(f, &o[i]);
	}
	canon_buf_free(&b);
	return rv;
}

/* ---- case summaries up the tree ------------------------------------------ */

/* The fields of a case that its supervising tiers see: no applicant, no
 * form, no materials (personal data stays with the regions that handle
 * the case). */
static const char *const summary_fields[] = {
	"id",          "region",      "matter",     "task_code", "matter_name",
	"dept_name",   "state",       "version",    "epoch",     "channel",
	"received_at", "accepted_at", "updated_at", "due",       "limit",
};

json_t *
fsm_case_summary(const json_t *c)
{
	json_t *sum = json_object();
	size_t i;

	for (i = 0; sum != NULL &&
	            i < sizeof(summary_fields) / sizeof(summary_fields[0]);
	     i++) {
		json_t *v = json_object_get(c, summary_fields[i]);

		if (v != NULL && !json_is_null(v)) {
			json_object_set(sum, summary_fields[i], v);
		}
	}
	{
		/* A running pause (its start only: the clock's rule needs it
		 * for "overdue"; reasons stay at the region). */
		const json_t *ps = json_object_get(c, "pauses");
		const json_t *last =
		    json_array_get(ps, json_array_size(ps) - 1);

		if (sum != NULL && last != NULL &&
		    json_is_null(json_object_get(last, "to"))) {
			json_object_set_new(
			    sum, "pauses",
			    json_pack("[{s:O, s:n}]", "from",
			              json_object_get(last, "from"), "to"));
		}
	}
	return sum;
}

int
fsm_outbox_up(struct fsm *f, const json_t *summary)
{
	char parent[7] = "";
	struct outbox_out o;
	json_t *topo = NULL;
	bool sum_level;
	uint32_t inc;
	uint8_t k[7];
	MDB_val v;
	int rv;

	/* At feature level 1 apply writes what the previous build wrote;
	 * and a region whose parent is not set sends nothing up. */
	if ((rv = fsm_sum_level(f->s, f->txn, &sum_level)) != 0 || !sum_level) {
		return rv;
	}
	rv = db_get_json(f->txn, f->s->dbi[DB_META], "topology", 8, &topo);
	if (rv == TB_ENOTFOUND ||
	    (rv == TB_OK && !json_is_object(json_object_get(topo, "parent")))) {
		json_decref(topo);
		return TB_OK;
	}
	json_decref(topo);
	if (rv != 0 || cert_region_parent(f->s->region, parent) != 0 ||
	    parent[0] == '\0') {
		return rv;
	}
	region_out_key(k, region_code_u32(parent));
	rv = db_get(f->txn, f->s->dbi[DB_OUTBOX], k, sizeof(k), &v);
	if (rv == TB_ENOTFOUND && (rv = fsm_region_inc(f, &inc)) == 0) {
		outbox_out_init(&o, region_code_u32(parent), inc);
	} else if (rv == TB_OK) {
		rv = region_out_decode(&v, region_code_u32(parent), &o);
	}
	return rv != 0 ? rv : region_emit(f, &o, "case", summary);
}

/* ---- region.topology ---------------------------------------------------- */

/* url_ok: tcp://HOST:PORT with a port of 1..65535. */
static bool
url_ok(const char *u)
{
	const char *c;
	long port;
	char *end;

	if (u == NULL || strncmp(u, "tcp://", 6) != 0 ||
	    (c = strrchr(u + 6, ':')) == NULL || c == u + 6) {
		return false;
	}
	port = strtol(c + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536 && c[1] != '\0';
}

int
fsm_region_topology(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *op = spec_str(b, "op"), *code = spec_str(b, "code");
	const char *url = spec_str(b, "url");
	json_t *t = NULL, *peers, *p;
	char parent[7] = "";
	size_t i;
	int rv;

	if (region_code_u32(code) == 0 || cert_region_parent(code, parent)) {
		return fsm_refuse(f, TB_ECODE, "$.body.code",
		                  "%s is not a region of the GB/T 2260 table",
		                  code);
	}
	if (strcmp(op, "remove-peer") != 0 && !url_ok(url)) {
		return fsm_refuse(f, TB_EINVAL, "$.body.url",
		                  "the address of %s must be tcp://HOST:PORT",
		                  code);
	}
	rv = db_get_json(f->txn, f->s->dbi[DB_META], "topology", 8, &t);
	if (rv == TB_ENOTFOUND) {
		t = json_pack("{s:n, s:[]}", "parent", "peers");
	} else if (rv != 0) {
		return rv;
	}
	if (t == NULL) {
		return TB_ENOMEM;
	}
	peers = json_object_get(t, "peers");
	cert_region_parent(f->s->region, parent);
	if (!strcmp(op, "set-parent")) {
		if (strcmp(code, parent) != 0) {
			json_decref(t);
			return fsm_refuse(
			    f, TB_ECODE, "$.body.code",
			    "%s's parent in the GB/T 2260 table is %s, not %s",
			    f->s->region,
			    parent[0] ? parent : "none (a province)", code);
		}
		json_object_set_new(
		    t, "parent",
		    json_pack("{s:s, s:s}", "code", code, "url", url));
	} else if (!strcmp(op, "add-peer") || !strcmp(op, "remove-peer")) {
		bool add = op[0] == 'a';
		if (!strcmp(code, f->s->region) || !strcmp(code, parent)) {
			json_decref(t);
			return fsm_refuse(
			    f, TB_EINVAL, "$.body.code",
			    "%s cannot be a peer of %s (itself or "
			    "its parent)",
			    code, f->s->region);
		}
		json_array_foreach(peers, i, p)
		{
			if (!strcmp(spec_str(p, "code"), code)) {
				break;
			}
		}
		if (!add && i == json_array_size(peers)) {
			json_decref(t);
			return fsm_refuse(f, TB_ENOTFOUND, "$.body.code",
			                  "%s is not a peer of %s", code,
			                  f->s->region);
		}
		if (i < json_array_size(peers)) {
			json_array_remove(peers, i);
		}
		if (add) {
			json_array_append_new(
			    peers,
			    json_pack("{s:s, s:s}", "code", code, "url", url));
		}
	} else {
		json_decref(t);
		return fsm_refuse(f, TB_EINVAL, "$.body.op",
		                  "unknown op '%s' (set-parent, add-peer, "
		                  "remove-peer)",
		                  op);
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_META], "topology", 8, t);
	if (rv == 0) {
		f->result = json_pack("{s:O}", "topology", t);
		rv = f->result != NULL ? TB_OK : TB_ENOMEM;
	}
	json_decref(t);
	return rv;
}
