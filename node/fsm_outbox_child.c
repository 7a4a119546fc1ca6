/* outbox.child: open the stream to a child, with the catalog so far (the
 * trust documents, published calendars, releases and overlays, in the
 * order they flowed). Records as in fsm_region.c. */
#include "node/fsm.h"
#include "node/region_store.h"

#include "replication/outbox.h"
#include "schema/cert.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* backfill_calendars (feature level 5) emits the stored published
 * calendars ({calendar, root}, version ascending) as they flowed. */
static int
backfill_calendars(struct fsm *f, struct outbox_out *o)
{
	uint64_t level = 0;
	json_t *pubs = NULL, *e;
	size_t i;
	int rv = meta_get_u64(f->s, f->txn, "feature_level", &level);

	if (rv != 0 || level < FSM_CALFEED_LEVEL) {
		return rv;
	}
	rv = db_get_json(f->txn, f->s->dbi[DB_META], "calendars", 9, &pubs);
	if (rv != TB_OK) {
		return rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	json_array_foreach(pubs, i, e)
	{
		if ((rv = region_emit(f, o, "calendar", e)) != 0) {
			break;
		}
	}
	json_decref(pubs);
	return rv;
}

/* backfill_trust (feature level 4) emits the stored root, then the newest
 * list of each issuer as it flowed ("l" records), so the lists and the
 * releases after them verify at the child as they did here. */
static int
backfill_trust(struct fsm *f, struct outbox_out *o)
{
	MDB_cursor *cur;
	MDB_val k = { 1, "l" }, v;
	json_t *doc = NULL;
	bool feed;
	int rv;

	if ((rv = fsm_feed_level(f, &feed)) != 0 || !feed ||
	    (rv = fsm_root_get(f, &doc)) != 0) {
		return rv;
	}
	if (doc != NULL) {
		rv = region_emit(f, o, "root", doc);
		json_decref(doc);
		if (rv != 0) {
			return rv;
		}
	}
	if ((rv =
	         db_err(mdb_cursor_open(f->txn, f->s->dbi[DB_OUTBOX], &cur)))) {
		return rv;
	}
	rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	while (rv == 0 && k.mv_size > 1 &&
	       ((const uint8_t *)k.mv_data)[0] == 'l') {
		if ((rv = db_val_json(&v, &doc)) != 0) {
			break;
		}
		rv = region_emit(f, o, "crl", doc);
		json_decref(doc);
		rv = rv ? rv : db_err(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	return rv == TB_ENOTFOUND || rv == 0 ? backfill_calendars(f, o) : rv;
}

/* fsm_outbox_backfill emits the trust documents (backfill_trust), then every
 * stored release (version order), then every stored overlay (region, then
 * version: top down), so a child that arrives late receives the whole
 * catalog history it must apply in order. */
int
fsm_outbox_backfill(struct fsm *f, struct outbox_out *o)
{
	static const struct {
		enum store_db db;
		const char *kind;
	} src[] = { { DB_RELEASES, "release" }, { DB_OVERLAYS, "overlay" } };
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *doc;
	size_t i;
	bool ref = false;
	int rv = backfill_trust(f, o), op;

	if (rv == 0) {
		rv = fsm_ref_level(f, &ref);
	}
	for (i = 0; rv == 0 && i < 2; i++) {
		if ((rv = db_err(mdb_cursor_open(f->txn, f->s->dbi[src[i].db],
		                                 &cur))) != 0) {
			return rv;
		}
		for (op = MDB_FIRST;
		     (rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0;
		     op = MDB_NEXT) {
			if (ref && src[i].db == DB_RELEASES) {
				/* Level 5: the release by its version (the
				 * key), not decoded nor copied. */
				if (k.mv_size != 8) {
					rv = TB_ECORRUPT;
					break;
				}
				if ((rv = region_emit_ref(
				         f, o, db_get_be64(k.mv_data))) != 0) {
					break;
				}
				continue;
			}
			if ((rv = db_val_json(&v, &doc)) != 0) {
				break;
			}
			rv = region_emit(f, o, src[i].kind, doc);
			json_decref(doc);
			if (rv != 0) {
				break;
			}
		}
		mdb_cursor_close(cur);
		rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	return rv;
}

/* count_streams counts the "o" records. */
static int
count_streams(struct fsm *f, int *n)
{
	MDB_cursor *cur;
	MDB_val k = { 1, "o" }, v;
	int rv;

	*n = 0;
	if ((rv =
	         db_err(mdb_cursor_open(f->txn, f->s->dbi[DB_OUTBOX], &cur)))) {
		return rv;
	}
	rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	while (rv == 0 && k.mv_size == 7 &&
	       ((const uint8_t *)k.mv_data)[0] == 'o') {
		(*n)++;
		rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

int
fsm_outbox_child(struct fsm *f)
{
	const char *r = spec_str(f->cmd->body, "region");
	struct outbox_out o;
	char parent[7] = "";
	uint32_t inc;
	uint8_t k[7];
	MDB_val v;
	int rv, n;

	if (region_code_u32(r) == 0 || cert_region_parent(r, parent) != 0 ||
	    strcmp(parent, f->s->region) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.region",
		                  "%s is not a child of %s in the GB/T 2260 "
		                  "table",
		                  r, f->s->region);
	}
	region_out_key(k, region_code_u32(r));
	rv = db_get(f->txn, f->s->dbi[DB_OUTBOX], k, sizeof(k), &v);
	if (rv == TB_OK) {
		f->result = json_pack("{s:{s:s, s:b}}", "outbox", "dest", r,
		                      "created", 0);
		return f->result != NULL ? TB_OK : TB_ENOMEM;
	}
	if (rv != TB_ENOTFOUND) {
		return rv;
	}
	if ((rv = count_streams(f, &n)) != 0) {
		return rv;
	}
	/* The driver takes OUTBOX_MAX_PEERS regions, the parent included. */
	if (n >= OUTBOX_MAX_PEERS - 1) {
		return fsm_refuse(f, TB_ERANGE, "$.body.region",
		                  "%s already has %d streams, the most a "
		                  "region drives",
		                  f->s->region, OUTBOX_MAX_PEERS - 1);
	}
	if ((rv = fsm_region_inc(f, &inc)) != 0) {
		return rv;
	}
	outbox_out_init(&o, region_code_u32(r), inc);
	if ((rv = region_out_put(f, &o)) != 0 ||
	    (rv = fsm_outbox_backfill(f, &o)) != 0) {
		return rv;
	}
	f->result =
	    json_pack("{s:{s:s, s:b, s:I}}", "outbox", "dest", r, "created", 1,
	              "backlog", (json_int_t)outbox_out_backlog(&o));
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}
