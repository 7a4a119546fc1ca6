/* The origin's side of a stream across recoveries: outbox.acked (the
 * destination's cursor acknowledges entries, which are dropped) and
 * group.incarnation (feature level 5: the group's incarnation, raised by a
 * quorum-loss recovery, becomes replicated state and every stream moves
 * into it; docs/REPLICATION.md "Incarnations in the node").
 *
 * outbox.rewind (feature level 5) refills the stream to a child that lost
 * deliveries with its own recovery.
 *
 * Records: meta "incarnation" (u64, absent: 1) and meta
 * "incarnation_cert" (the parent's certificate of it, as proposed); "w"
 * dest(6) in DB_OUTBOX: {"by"}, the child's incarnation the stream to it
 * was last refilled for. */
#include "node/fsm.h"
#include "node/region_store.h"

#include "replication/outbox.h"
#include "schema/cert.h"
#include "schema/incarnation.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* ---- outbox.acked: at the origin ----------------------------------------- */

/* out_get reads this node's outbox towards dest into o: 0, a refusal
 * naming $.body.dest if there is none, or a store error. */
static int
out_get(struct fsm *f, const char *dest, struct outbox_out *o)
{
	uint8_t k[7];
	MDB_val v;
	int rv = 0;

	region_out_key(k, region_code_u32(dest));
	if (region_code_u32(dest) == 0 ||
	    (rv = db_get(f->txn, f->s->dbi[DB_OUTBOX], k, sizeof(k), &v)) ==
	        TB_ENOTFOUND) {
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.dest",
		                  "%s has no outbox towards %s", f->s->region,
		                  dest);
	}
	return rv != 0 ? rv : region_out_decode(&v, region_code_u32(dest), o);
}

int
fsm_outbox_acked(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *dest = spec_str(b, "dest");
	struct outbox_pos pos = { (uint32_t)spec_int(b, "inc", 0),
		                  (uint64_t)spec_int(b, "seq", 0) };
	struct outbox_out o;
	struct outbox_pos after, to, at;
	uint64_t s, old = 0;
	uint8_t ek[19];
	bool moved;
	int rv = 0;

	if ((rv = out_get(f, dest, &o)) != 0) {
		return rv;
	}
	moved = outbox_ack(&o, pos, &after, &to);
	if (moved && after.inc == to.inc && after.inc == o.inc) {
		/* One incarnation: exactly these keys. */
		for (s = after.seq + 1; s <= to.seq; s++) {
			region_entry_key(ek, o.dest,
			                 (struct outbox_pos){ o.inc, s });
			rv = db_del(f->txn, f->s->dbi[DB_OUTBOX], ek,
			            sizeof(ek));
			if (rv != 0) {
				return rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
			}
		}
	} else if (moved) {
		/* After a recovery: the entries held above after up to to,
		 * of older incarnations and maybe of this one. */
		at = after;
		while ((rv = region_entry_next(f->txn, f->s->dbi[DB_OUTBOX],
		                               o.dest, at, &at)) == 0 &&
		       outbox_pos_cmp(at, to) <= 0) {
			region_entry_key(ek, o.dest, at);
			if ((rv = db_del(f->txn, f->s->dbi[DB_OUTBOX], ek,
			                 sizeof(ek))) != 0) {
				return rv;
			}
			old += at.inc < o.inc;
		}
		if (rv != 0 && rv != TB_ENOTFOUND) {
			return rv;
		}
		outbox_old_dropped(&o, old);
	}
	if (moved && (rv = region_out_put(f, &o)) != 0) {
		return rv;
	}
	f->result = json_pack("{s:{s:s, s:s, s:I, s:I, s:I}}", "outbox",
	                      "verdict", moved ? "accept" : "dup", "dest", dest,
	                      "acked_inc", (json_int_t)o.acked.inc, "acked_seq",
	                      (json_int_t)o.acked.seq, "backlog",
	                      (json_int_t)outbox_out_backlog(&o));
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

/* ---- group.incarnation ----------------------------------------------------
 */

/* reincarnate moves every stream of this region into incarnation inc
 * (outbox_reincarnate: what is not acknowledged stays at its position as
 * old entries; the next entry is (inc, 1)); *n counts them. */
static int
reincarnate(struct fsm *f, uint32_t inc, unsigned *n)
{
	struct outbox_out o[OUTBOX_MAX_PEERS];
	MDB_val k = { 1, "o" }, v;
	MDB_cursor *cur;
	char d[7];
	unsigned i;
	int rv;

	*n = 0;
	if ((rv = db_err(
	         mdb_cursor_open(f->txn, f->s->dbi[DB_OUTBOX], &cur))) != 0) {
		return rv;
	}
	rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	while (rv == 0 && *n < OUTBOX_MAX_PEERS && k.mv_size == 7 &&
	       ((const uint8_t *)k.mv_data)[0] == 'o') {
		memcpy(d, (const uint8_t *)k.mv_data + 1, 6);
		d[6] = '\0';
		if ((rv = region_out_decode(&v, region_code_u32(d), &o[*n])) !=
		    0) {
			break;
		}
		(*n)++;
		rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	if (rv != 0 && rv != TB_ENOTFOUND) {
		return rv;
	}
	for (i = 0; i < *n; i++) {
		if (outbox_reincarnate(&o[i], inc) &&
		    (rv = region_out_put(f, &o[i])) != 0) {
			return rv;
		}
	}
	return TB_OK;
}

/* need_level: 0 if the group runs at FSM_INC_LEVEL or above, else what
 * refuses command type (or a store error). */
static int
need_level(struct fsm *f, const char *type)
{
	uint64_t level = 0;
	int rv;

	if ((rv = meta_get_u64(f->s, f->txn, "feature_level", &level)) != 0) {
		return rv;
	}
	if (level < FSM_INC_LEVEL) {
		return fsm_refuse(f, TB_ECONFLICT, "$.type",
		                  "%s needs feature level %d (the group runs "
		                  "at %llu)",
		                  type, FSM_INC_LEVEL,
		                  (unsigned long long)(level ? level : 1));
	}
	return 0;
}

int
fsm_group_incarnation(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const json_t *cert = json_object_get(b, "certificate");
	long long inc = spec_int(b, "incarnation", 0);
	uint32_t cur;
	unsigned n = 0;
	struct tb_diag d;
	int rv;

	if ((rv = fsm_region_inc(f, &cur)) != 0 ||
	    (rv = need_level(f, "group.incarnation")) != 0) {
		return rv;
	}
	tb_diag_init(&d);
	if (inc_check(cert, "$.body.certificate", &d) != 0) {
		return fsm_refused(f, &d, NULL);
	}
	if (strcmp(spec_str(cert, "region"), f->s->region) != 0) {
		return fsm_refuse(f, TB_EFORBIDDEN, "$.body.certificate.region",
		                  "a certificate for %s, this group is %s",
		                  spec_str(cert, "region"), f->s->region);
	}
	if (inc < 2 || inc >= UINT32_MAX || (uint64_t)inc != inc_number(cert)) {
		return fsm_refuse(f, TB_EINVAL, "$.body.incarnation",
		                  "%lld: the certificate's incarnation (%llu), "
		                  "2 or more",
		                  inc, (unsigned long long)inc_number(cert));
	}
	if ((uint32_t)inc <= cur) {
		return fsm_refuse(
		    f, TB_ECONFLICT, "$.body.incarnation",
		    "%lld is not above the group's incarnation %u", inc, cur);
	}
	if ((rv = meta_put_u64(f->s, f->txn, "incarnation", (uint64_t)inc)) !=
	        0 ||
	    (rv = db_put_json(f->txn, f->s->dbi[DB_META], "incarnation_cert",
	                      16, cert)) != 0 ||
	    (rv = reincarnate(f, (uint32_t)inc, &n)) != 0) {
		return rv;
	}
	f->result = json_pack("{s:{s:I, s:I, s:I}}", "incarnation", "current",
	                      (json_int_t)inc, "was", (json_int_t)cur,
	                      "streams", (json_int_t)n);
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

/* ---- outbox.rewind: at the origin ---------------------------------------- */

/* drop_all deletes every entry the stream o holds and acknowledges up to
 * the last of them (*n: how many). */
static int
drop_all(struct fsm *f, struct outbox_out *o, uint64_t *n)
{
	struct outbox_pos at = { 0, 0 };
	uint8_t ek[19];
	int rv;

	*n = 0;
	while ((rv = region_entry_next(f->txn, f->s->dbi[DB_OUTBOX], o->dest,
	                               at, &at)) == 0) {
		region_entry_key(ek, o->dest, at);
		if ((rv = db_del(f->txn, f->s->dbi[DB_OUTBOX], ek,
		                 sizeof(ek))) != 0) {
			return rv;
		}
		if (outbox_pos_cmp(at, o->acked) > 0) {
			o->acked = at;
		}
		(*n)++;
	}
	o->old = 0;
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

int
fsm_outbox_rewind(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *dest = spec_str(b, "dest");
	long long by = spec_int(b, "by", 0);
	char parent[7] = "";
	struct outbox_out o;
	uint64_t n = 0;
	uint8_t k[7];
	json_t *w = NULL;
	long long was = 1;
	int rv;

	if ((rv = need_level(f, "outbox.rewind")) != 0) {
		return rv;
	}
	if (region_code_u32(dest) == 0 || cert_region_parent(dest, parent) ||
	    strcmp(parent, f->s->region) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.dest",
		                  "%s is not a child of %s in the GB/T 2260 "
		                  "table",
		                  dest ? dest : "?", f->s->region);
	}
	if (by < 2 || by >= UINT32_MAX) {
		return fsm_refuse(f, TB_EINVAL, "$.body.by",
		                  "%lld: a recovered child's incarnation, 2 or "
		                  "more",
		                  by);
	}
	if ((rv = out_get(f, dest, &o)) != 0) {
		return rv;
	}
	region_rewound_key(k, o.dest);
	rv = db_get_json(f->txn, f->s->dbi[DB_OUTBOX], k, sizeof(k), &w);
	if (rv == TB_OK) {
		was = spec_int(w, "by", 1);
	}
	json_decref(w);
	if (rv != TB_OK && rv != TB_ENOTFOUND) {
		return rv;
	}
	if (by <= was) { /* refilled for that incarnation already */
		f->result =
		    json_pack("{s:{s:s, s:b, s:I}}", "outbox", "dest", dest,
		              "rewound", 0, "by", (json_int_t)was);
		return f->result != NULL ? TB_OK : TB_ENOMEM;
	}
	if ((rv = drop_all(f, &o, &n)) != 0 ||
	    (rv = region_out_put(f, &o)) != 0 ||
	    (rv = fsm_outbox_backfill(f, &o)) != 0) {
		return rv;
	}
	if ((w = json_pack("{s:I}", "by", (json_int_t)by)) == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_OUTBOX], k, sizeof(k), w);
	json_decref(w);
	if (rv != 0) {
		return rv;
	}
	f->result = json_pack("{s:{s:s, s:b, s:I, s:I, s:I, s:I, s:I}}",
	                      "outbox", "dest", dest, "rewound", 1, "by",
	                      (json_int_t)by, "dropped", (json_int_t)n,
	                      "acked_inc", (json_int_t)o.acked.inc, "acked_seq",
	                      (json_int_t)o.acked.seq, "backlog",
	                      (json_int_t)outbox_out_backlog(&o));
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}
