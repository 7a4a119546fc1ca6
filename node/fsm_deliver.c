/* Deliveries at the destination of an outbox stream: outbox.deliver (one
 * entry) and outbox.deliver_run (a run of consecutive entries, feature
 * level 3), applied with replication/outbox.c's cursor rules. An entry is
 * a release or overlay from the parent, applied exactly as one published
 * here (a revocation list or the root too, from feature level 4, applied
 * as crl.put / root.put), or a case summary from a child, kept for the area and
 * passed on up (docs/REPLICATION.md). */
#include "node/fsm.h"
#include "node/region_store.h"

#include "replication/outbox.h"
#include "schema/canon.h"
#include "schema/canon_walk.h"
#include "schema/cert.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* area_put keeps the newest summary of a case of this region's area
 * ("a" case id in DB_OUTBOX) and passes it on up. */
static int
area_put(struct fsm *f, const json_t *sum, const char *path)
{
	const char *id = spec_str(sum, "id");
	uint8_t k[1 + 64];
	json_t *old = NULL;
	size_t idl;
	int rv;

	if (id == NULL || (idl = strlen(id)) == 0 || idl > 64) {
		return fsm_refuse(f, TB_EINVAL, path,
		                  "a case summary names its case id");
	}
	k[0] = 'a';
	memcpy(k + 1, id, idl);
	rv = db_get_json(f->txn, f->s->dbi[DB_OUTBOX], k, 1 + idl, &old);
	if (rv == TB_OK &&
	    spec_int(old, "version", 0) > spec_int(sum, "version", 0)) {
		json_decref(old);
		return TB_OK; /* an older state: the newer one stays */
	}
	json_decref(old);
	if (rv != TB_OK && rv != TB_ENOTFOUND) {
		return rv;
	}
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_OUTBOX], k, 1 + idl, sum)) !=
	    0) {
		return rv;
	}
	return fsm_outbox_up(f, sum);
}

/* ---- outbox.deliver: at the destination --------------------------------- */

static int
verdict_result(struct fsm *f, enum outbox_verdict vd, const char *origin,
               struct outbox_pos cur, json_t *applied)
{
	f->result = json_pack("{s:{s:s, s:s, s:I, s:I, s:o*}}", "outbox",
	                      "verdict", outbox_verdict_name(vd), "origin",
	                      origin, "inc", (json_int_t)cur.inc, "seq",
	                      (json_int_t)cur.seq, "applied", applied);
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

/* deliver_origin checks that origin may send entries to this region: its
 * parent (releases, overlays) or a child (case summaries, *up). */
static int
deliver_origin(struct fsm *f, const char *origin, bool *up)
{
	char parent[7] = "", oparent[7] = "";

	cert_region_parent(f->s->region, parent);
	*up = origin != NULL && region_code_u32(origin) != 0 &&
	      cert_region_parent(origin, oparent) == 0 &&
	      !strcmp(oparent, f->s->region);
	if (region_code_u32(origin) == 0 ||
	    (strcmp(origin, parent) != 0 && !*up)) {
		return fsm_refuse(f, TB_ECODE, "$.body.origin",
		                  "%s takes entries from its parent %s and its "
		                  "children only, not from %s",
		                  f->s->region, parent[0] ? parent : "(none)",
		                  origin);
	}
	return TB_OK;
}

/* cursor_get reads the cursor of the stream from origin (key k). */
static int
cursor_get(struct fsm *f, const char *origin, uint8_t k[7],
           struct outbox_in *in)
{
	MDB_val v;
	int rv;

	memset(in, 0, sizeof(*in));
	region_in_key(k, region_code_u32(origin));
	rv = db_get(f->txn, f->s->dbi[DB_OUTBOX], k, 7, &v);
	if (rv == TB_OK) {
		return region_in_decode(&v, region_code_u32(origin), in);
	}
	in->origin = region_code_u32(origin);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

static int
cursor_put(struct fsm *f, const uint8_t k[7], const struct outbox_in *in)
{
	json_t *cj;
	int rv;

	cj = json_pack("{s:I, s:I}", "inc", (json_int_t)in->cursor.inc, "seq",
	               (json_int_t)in->cursor.seq);
	/* "by" only from a delivery that said who sent it (feature level
	 * 5): below it the record is written as before. */
	if (cj != NULL && in->by > 0 &&
	    json_object_set_new(cj, "by", json_integer((json_int_t)in->by))) {
		json_decref(cj);
		cj = NULL;
	}
	if (cj == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_OUTBOX], k, 7, cj);
	json_decref(cj);
	return rv;
}

/* held_doc sets *held when the delivered release or overlay doc is one this
 * region stores already, at its version, with the same hash (signatures
 * aside): a stream refilled after the destination's recovery
 * (outbox.rewind) sends the catalog from its start. Feature level 5;
 * below it the apply refuses it as before (rollback). */
static int
held_doc(struct fsm *f, const char *kind, const json_t *doc, bool *held)
{
	char e1[64], e2[64];
	uint8_t k[14], h1[CANON_HASH_LEN], h2[CANON_HASH_LEN];
	long long ver = spec_int(doc, "version", 0);
	const char *reg = spec_str(doc, "region");
	bool rel = !strcmp(kind, "release");
	uint64_t level = 0;
	json_t *old = NULL;
	size_t kl = 8;
	int rv;

	*held = false;
	if ((rv = meta_get_u64(f->s, f->txn, "feature_level", &level)) != 0 ||
	    level < FSM_INC_LEVEL || ver < 1 ||
	    (!rel && (strcmp(kind, "overlay") != 0 || reg == NULL ||
	              strlen(reg) != 6))) {
		return rv;
	}
	if (!rel) {
		memcpy(k, reg, 6);
		kl = 14;
	}
	db_be64(k + kl - 8, (uint64_t)ver);
	rv = db_get_json(f->txn, f->s->dbi[rel ? DB_RELEASES : DB_OVERLAYS], k,
	                 kl, &old);
	if (rv == TB_OK &&
	    canon_hash_value(old, "signatures", h1, e1, sizeof(e1)) == 0 &&
	    canon_hash_value(doc, "signatures", h2, e2, sizeof(e2)) == 0) {
		*held = memcmp(h1, h2, CANON_HASH_LEN) == 0;
	}
	json_decref(old);
	return rv == TB_ENOTFOUND || rv == TB_OK ? TB_OK : rv;
}

/* entry_bytes finds in the command's bytes its body's "entry" (one) or
 * "entries" (many: the array); NULL if it cannot be found. *n bounds
 * them (a first member of the body is not walked to find its end: a full
 * release is 5.8 MiB). */
static const uint8_t *
entry_bytes(const struct fsm *f, bool many, size_t *n)
{
	const uint8_t *p = f->cmd->raw;
	size_t b, at;

	if (p == NULL || canon_map_find(p, f->cmd->rawlen, "body", &b) != 0 ||
	    canon_map_find(p + b, f->cmd->rawlen - b,
	                   many ? "entries" : "entry", &at) != 0) {
		return NULL;
	}
	*n = f->cmd->rawlen - b - at;
	return p + b + at;
}

/* kind_level refuses a known kind of entry from the parent that this
 * group's feature level does not take yet, saying which level takes it
 * and where to raise it: the stream waits at the entry until then (a
 * child left at level 2 under a tree at 5 used to read only the shape of
 * an entry, and could not tell that its own level was the cause). */
static int
kind_level(struct fsm *f, const char *kind, const char *path)
{
	uint64_t level = 0, need = strcmp(kind, "calendar") != 0
	                               ? FSM_FEED_LEVEL
	                               : FSM_CALFEED_LEVEL;
	char at[48];
	int rv;

	if ((rv = meta_get_u64(f->s, f->txn, "feature_level", &level)) != 0) {
		return rv;
	}
	snprintf(at, sizeof(at), "%s.kind", path);
	/* At most TB_DIAG_MSG (256) bytes: fsm_refuse cuts the rest. */
	return fsm_refuse(
	    f, TB_EINVAL, at,
	    "a \"%s\" entry needs feature level %u and this group runs at "
	    "%llu: raise it here (tongban group features --set %u, or to "
	    "the tree's level, %u for calendars, once every member runs a "
	    "build with it); the stream waits here until then",
	    kind, (unsigned)need, (unsigned long long)(level ? level : 1),
	    (unsigned)need, (unsigned)FSM_CALFEED_LEVEL);
}

/* deliver_entry applies one delivered entry e (at path, for refusals;
 * its canonical bytes eb, en, or NULL): a case summary from a child is
 * kept and passed on up; a release or overlay from the parent goes
 * through the same apply as one published here (signature, chain and
 * version checked alike). f->result is the inner apply's; a refusal
 * refuses the whole command. */
static int
deliver_entry(struct fsm *f, bool up, const json_t *e, const uint8_t *eb,
              size_t en, const char *path)
{
	const char *kind = spec_str(e, "kind");
	const json_t *doc = json_object_get(e, "doc");
	const struct cmd *outer = f->cmd;
	struct cmd inner;
	bool feed = false, calfeed = false;
	json_t *body;
	int rv;

	if (!up && (rv = fsm_feed_level(f, &feed)) != TB_OK) {
		return rv;
	}
	if (!up && kind != NULL && !strcmp(kind, "calendar")) {
		uint64_t level = 0;
		if ((rv = meta_get_u64(f->s, f->txn, "feature_level",
		                       &level)) != 0) {
			return rv;
		}
		calfeed = level >= FSM_CALFEED_LEVEL;
	}
	if (!up && json_is_object(doc) && kind != NULL &&
	    ((!feed && (!strcmp(kind, "crl") || !strcmp(kind, "root"))) ||
	     (!calfeed && !strcmp(kind, "calendar")))) {
		return kind_level(f, kind, path);
	}
	if (kind == NULL || !json_is_object(doc) ||
	    (up ? strcmp(kind, "case") != 0
	        : (strcmp(kind, "release") && strcmp(kind, "overlay") &&
	           (!feed || (strcmp(kind, "crl") && strcmp(kind, "root"))) &&
	           !calfeed))) {
		return fsm_refuse(
		    f, TB_EINVAL, path,
		    "an entry is {\"kind\": \"release\" or "
		    "\"overlay\" (from the parent; \"crl\" or \"root\" "
		    "too from feature level %d, \"calendar\" from %d) or "
		    "\"case\" (from a child), \"doc\": {...}}",
		    FSM_FEED_LEVEL, FSM_CALFEED_LEVEL);
	}
	if (up) {
		char idp[48];

		snprintf(idp, sizeof(idp), "%s.doc.id", path);
		return area_put(f, doc, idp);
	}
	if (!strcmp(kind, "release") || !strcmp(kind, "overlay")) {
		bool h;

		if ((rv = held_doc(f, kind, doc, &h)) != TB_OK) {
			return rv;
		}
		if (h) { /* already stored: no change, not passed on */
			f->result = json_pack(
			    "{s:{s:s, s:I}}", kind, "held", "already stored",
			    "version", (json_int_t)spec_int(doc, "version", 0));
			return f->result != NULL ? TB_OK : TB_ENOMEM;
		}
	}
	/* A list's doc is the crl.put body {crl, root, chain?} itself, a
	 * calendar's the calendar.put body {calendar, root}. */
	body = !strcmp(kind, "crl") || !strcmp(kind, "calendar")
	           ? json_incref((json_t *)doc)
	           : json_pack("{s:O}", kind, doc);
	if (body == NULL) {
		return TB_ENOMEM;
	}
	inner = *outer;
	inner.type = !strcmp(kind, "release")    ? CMD_CATALOG_RELEASE
	             : !strcmp(kind, "overlay")  ? CMD_CATALOG_OVERLAY
	             : !strcmp(kind, "crl")      ? CMD_CRL_PUT
	             : !strcmp(kind, "calendar") ? CMD_CALENDAR_PUT
	                                         : CMD_ROOT_PUT;
	inner.body = body;
	inner.raw = NULL; /* the outer command's: not this body's bytes */
	inner.rawlen = 0;
	f->cmd = &inner;
	/* A release is stored and passed on as the bytes it came in. */
	if (inner.type == CMD_CATALOG_RELEASE && eb != NULL &&
	    canon_map_get(eb, en, "doc", &f->doc, &f->doclen) != 0) {
		f->doc = NULL;
	}
	rv = inner.type == CMD_CATALOG_RELEASE   ? fsm_release(f)
	     : inner.type == CMD_CATALOG_OVERLAY ? fsm_overlay(f)
	     : inner.type == CMD_CRL_PUT         ? fsm_crl_delivered(f)
	     : inner.type == CMD_CALENDAR_PUT    ? fsm_calendar_delivered(f)
	                                         : fsm_root_delivered(f);
	f->cmd = outer;
	f->doc = NULL;
	f->doclen = 0;
	json_decref(body);
	return rv;
}

int
fsm_outbox_deliver(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *origin = spec_str(b, "origin");
	struct outbox_pos pos = { (uint32_t)spec_int(b, "inc", 0),
		                  (uint64_t)spec_int(b, "seq", 0) };
	struct outbox_in in;
	enum outbox_verdict vd;
	uint8_t k[7];
	const uint8_t *eb;
	json_t *applied;
	size_t en = 0;
	bool up;
	int rv;

	if ((rv = deliver_origin(f, origin, &up)) != TB_OK) {
		return rv;
	}
	if (pos.inc == 0 || pos.seq == 0) {
		return fsm_refuse(f, TB_EINVAL, "$.body.seq",
		                  "an entry is at a position (inc, seq) >= "
		                  "(1, 1)");
	}
	if ((rv = cursor_get(f, origin, k, &in)) != 0) {
		return rv;
	}
	if ((vd = outbox_check(&in, pos)) != OUTBOX_ACCEPT) {
		return verdict_result(f, vd, origin, in.cursor, NULL);
	}
	/* A refusal refuses the delivery: the cursor stays. */
	/* Bytes are used for a release from the parent, not a summary. */
	eb = up ? NULL : entry_bytes(f, false, &en);
	if ((rv = deliver_entry(f, up, json_object_get(b, "entry"), eb, en,
	                        "$.body.entry")) != TB_OK) {
		return rv;
	}
	outbox_deliver(&in, pos);
	outbox_in_by(&in, (uint32_t)spec_int(b, "by", 0));
	if ((rv = cursor_put(f, k, &in)) != 0) {
		return rv;
	}
	applied = f->result;
	f->result = NULL;
	return verdict_result(f, vd, origin, in.cursor, applied);
}

/* ---- outbox.deliver_run: a run of entries at the destination ------------ */

int
fsm_outbox_deliver_run(struct fsm *f)
{
	const json_t *b = f->cmd->body, *es = json_object_get(b, "entries");
	const char *origin = spec_str(b, "origin");
	struct outbox_pos pos = { (uint32_t)spec_int(b, "inc", 0),
		                  (uint64_t)spec_int(b, "seq", 0) };
	size_t n = json_array_size(es), i;
	struct outbox_in in;
	enum outbox_verdict vd;
	const uint8_t *eb, *ab;
	uint64_t skip, count;
	char path[40];
	size_t en = 0, an = 0, off = 0;
	uint8_t k[7];
	bool up;
	int rv;

	if ((rv = deliver_origin(f, origin, &up)) != TB_OK) {
		return rv;
	}
	if (pos.inc == 0 || pos.seq == 0) {
		return fsm_refuse(f, TB_EINVAL, "$.body.seq",
		                  "a run starts at a position (inc, seq) >= "
		                  "(1, 1)");
	}
	if (n == 0 || n > OUTBOX_RUN_MAX) {
		return fsm_refuse(f, TB_EINVAL, "$.body.entries",
		                  "a run holds 1 to %d entries, not %zu",
		                  OUTBOX_RUN_MAX, n);
	}
	if ((rv = cursor_get(f, origin, k, &in)) != 0) {
		return rv;
	}
	if ((vd = outbox_deliver_run(&in, pos, n, &skip)) != OUTBOX_ACCEPT) {
		return verdict_result(f, vd, origin, in.cursor, NULL);
	}
	/* The entries past the cursor, in order, in this transaction; one
	 * refused refuses the run (the cursor stays where it was). */
	/* From the parent, each entry's bytes, walked once in order. */
	if ((ab = up ? NULL : entry_bytes(f, true, &an)) != NULL &&
	    canon_array_head(ab, an, &count, &off) != 0) {
		ab = NULL;
	}
	for (i = 0; i < n; i++) {
		eb = NULL;
		if (ab != NULL &&
		    (en = canon_skip(ab + off, an - off, 1)) > 0) {
			eb = ab + off;
			off += en;
		} else {
			ab = NULL;
		}
		if (i < (size_t)skip) {
			continue;
		}
		snprintf(path, sizeof(path), "$.body.entries[%zu]", i);
		rv = deliver_entry(f, up, json_array_get(es, i), eb, en, path);
		json_decref(f->result);
		f->result = NULL;
		if (rv != TB_OK) {
			return rv;
		}
	}
	outbox_in_by(&in, (uint32_t)spec_int(b, "by", 0));
	if ((rv = cursor_put(f, k, &in)) != 0) {
		return rv;
	}
	if ((rv = verdict_result(f, vd, origin, in.cursor, NULL)) != 0) {
		return rv;
	}
	return json_object_set_new(json_object_get(f->result, "outbox"),
	                           "delivered",
	                           json_integer((json_int_t)(n - skip))) == 0
	           ? TB_OK
	           : TB_ENOMEM;
}

/* ---- outbox.skip: at a recovered destination ----------------------------- */

int
fsm_outbox_skip(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *origin = spec_str(b, "origin");
	struct outbox_pos pos = { (uint32_t)spec_int(b, "inc", 0),
		                  (uint64_t)spec_int(b, "seq", 0) };
	struct outbox_in in;
	enum outbox_verdict vd;
	uint8_t k[7];
	bool up;
	int rv;

	if ((rv = deliver_origin(f, origin, &up)) != TB_OK) {
		return rv;
	}
	if (pos.inc == 0) {
		return fsm_refuse(f, TB_EINVAL, "$.body.inc",
		                  "a position's incarnation is 1 or more");
	}
	if ((rv = cursor_get(f, origin, k, &in)) != 0) {
		return rv;
	}
	if ((vd = outbox_skip(&in, pos)) == OUTBOX_ACCEPT) {
		outbox_in_by(&in, (uint32_t)spec_int(b, "by", 0));
		if ((rv = cursor_put(f, k, &in)) != 0) {
			return rv;
		}
	}
	return verdict_result(f, vd, origin, in.cursor, NULL);
}
