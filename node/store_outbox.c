/* Reads of the outboxes' records and the topology for the leader's driver
 * and the API (any thread, each in its own read transaction). */
#include "node/region_store.h"

#include "node/fsm.h"

#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
rd_begin(struct store *s, MDB_txn **txn)
{
	return db_err(store_rd_begin(s, txn));
}

int
region_store_out(struct store *s, uint32_t dest, struct outbox_out *o)
{
	MDB_txn *txn;
	uint8_t k[7];
	MDB_val v;
	int rv;

	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	region_out_key(k, dest);
	rv = db_get(txn, s->dbi[DB_OUTBOX], k, sizeof(k), &v);
	if (rv == TB_OK) {
		rv = region_out_decode(&v, dest, o);
	}
	store_rd_end(s, txn);
	return rv;
}

int
region_store_rewound(struct store *s, uint32_t dest, uint32_t *by)
{
	MDB_txn *txn;
	uint8_t k[7];
	json_t *j = NULL;
	long long v;
	int rv;

	*by = 1;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	region_rewound_key(k, dest);
	rv = db_get_json(txn, s->dbi[DB_OUTBOX], k, sizeof(k), &j);
	if (rv == TB_OK && (v = spec_int(j, "by", 1)) > 1 && v < UINT32_MAX) {
		*by = (uint32_t)v;
	}
	json_decref(j);
	store_rd_end(s, txn);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

int
region_store_in(struct store *s, uint32_t origin, struct outbox_in *in)
{
	MDB_txn *txn;
	uint8_t k[7];
	MDB_val v;
	int rv;

	memset(in, 0, sizeof(*in));
	in->origin = origin;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	region_in_key(k, origin);
	rv = db_get(txn, s->dbi[DB_OUTBOX], k, sizeof(k), &v);
	if (rv == TB_OK) {
		rv = region_in_decode(&v, origin, in);
	} else if (rv == TB_ENOTFOUND) {
		rv = TB_OK;
	}
	store_rd_end(s, txn);
	return rv;
}

/* ref_version reads a release's entry stored as a reference (feature level
 * 5, fsm_region.c region_emit_ref): the canonical {"kind": "release", "ref": n}
 * after the schema-version byte. *ver = 0 for any other entry (a copy
 * {"doc", "kind"}, whose first key is "doc"); TB_ECORRUPT for a reference
 * whose version is not a positive integer. */
static int
ref_version(const MDB_val *v, uint64_t *ver)
{
	static const uint8_t head[] = { 0x82, 0xa4, 'k',  'i', 'n', 'd',
		                        0xa7, 'r',  'e',  'l', 'e', 'a',
		                        's',  'e',  0xa3, 'r', 'e', 'f' };
	const uint8_t *p = (const uint8_t *)v->mv_data + 1;
	size_t n = v->mv_size - 1, w, i;

	*ver = 0;
	if (n < sizeof(head) || memcmp(p, head, sizeof(head)) != 0) {
		return TB_OK;
	}
	p += sizeof(head);
	n -= sizeof(head);
	/* A positive fixint, or uint 8/16/32/64 (0xcc..0xcf). */
	if (n == 1 && p[0] < 0x80) {
		*ver = p[0];
		return *ver > 0 ? TB_OK : TB_ECORRUPT;
	}
	if (n < 2 || p[0] < 0xcc || p[0] > 0xcf ||
	    n != 1 + (w = (size_t)1 << (p[0] - 0xcc))) {
		return TB_ECORRUPT;
	}
	for (i = 1; i <= w; i++) {
		*ver = *ver << 8 | p[i];
	}
	return *ver > 0 ? TB_OK : TB_ECORRUPT;
}

/* entry_copy copies the payload of the stored entry v into *p: the value
 * without its schema-version byte, or for a reference the entry the copy
 * form stores, {"doc": <the stored release's bytes>, "kind": "release"}:
 * the same bytes (fsm_region.c entry_encode), read in txn. */
static int
entry_copy(struct store *s, MDB_txn *txn, const MDB_val *v, uint8_t **p,
           size_t *len)
{
	static const uint8_t head[] = { 0x82, 0xa3, 'd', 'o', 'c' };
	static const uint8_t tail[] = { 0xa4, 'k', 'i', 'n', 'd', 0xa7, 'r',
		                        'e',  'l', 'e', 'a', 's', 'e' };
	const uint8_t *src = (const uint8_t *)v->mv_data + 1;
	size_t n = v->mv_size - 1;
	uint8_t vk[8];
	uint64_t ver;
	MDB_val r;
	int rv;

	if ((rv = ref_version(v, &ver)) != 0) {
		return rv;
	}
	if (ver > 0) {
		db_be64(vk, ver);
		rv = db_get(txn, s->dbi[DB_RELEASES], vk, sizeof(vk), &r);
		if (rv == TB_ENOTFOUND ||
		    (rv == TB_OK &&
		     (r.mv_size < 2 ||
		      ((const uint8_t *)r.mv_data)[0] != STORE_SV))) {
			/* The entry outlives nothing it refers to: releases
			 * are never dropped. */
			return TB_ECORRUPT;
		}
		if (rv != 0) {
			return rv;
		}
		src = (const uint8_t *)r.mv_data + 1;
		n = r.mv_size - 1;
		if ((*p = malloc(sizeof(head) + n + sizeof(tail))) == NULL) {
			return TB_ENOMEM;
		}
		memcpy(*p, head, sizeof(head));
		memcpy(*p + sizeof(head), src, n);
		memcpy(*p + sizeof(head) + n, tail, sizeof(tail));
		*len = sizeof(head) + n + sizeof(tail);
		return TB_OK;
	}
	if ((*p = malloc(n)) == NULL) {
		return TB_ENOMEM;
	}
	memcpy(*p, src, n);
	*len = n;
	return TB_OK;
}

int
region_store_entry(struct store *s, uint32_t dest, struct outbox_pos pos,
                   uint8_t **p, size_t *len)
{
	MDB_txn *txn;
	uint8_t k[19];
	MDB_val v;
	int rv;

	*p = NULL;
	*len = 0;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	region_entry_key(k, dest, pos);
	rv = db_get(txn, s->dbi[DB_OUTBOX], k, sizeof(k), &v);
	if (rv == TB_OK &&
	    (v.mv_size < 2 || ((const uint8_t *)v.mv_data)[0] != STORE_SV)) {
		rv = TB_ECORRUPT;
	}
	if (rv == TB_OK) {
		/* The payload is the value without its schema-version byte:
		 * the canonical bytes the apply wrote, or the release an
		 * entry refers to, as its copy. */
		rv = entry_copy(s, txn, &v, p, len);
	}
	store_rd_end(s, txn);
	return rv;
}

int
region_entry_next(MDB_txn *txn, MDB_dbi dbi, uint32_t dest,
                  struct outbox_pos after, struct outbox_pos *next)
{
	MDB_cursor *cur;
	uint8_t kb[19];
	MDB_val k = { sizeof(kb), kb }, v;
	const uint8_t *p;
	int rv;

	if (after.seq == UINT64_MAX) {
		after.inc++;
		after.seq = 0;
	}
	after.seq++;
	region_entry_key(kb, dest, after);
	if ((rv = db_err(mdb_cursor_open(txn, dbi, &cur))) != 0) {
		return rv;
	}
	rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	p = k.mv_data;
	if (rv == 0 && (k.mv_size != sizeof(kb) || memcmp(p, kb, 7) != 0)) {
		rv = TB_ENOTFOUND; /* past the entries to dest */
	}
	if (rv == 0) {
		next->inc = db_get_be32(p + 7);
		next->seq = db_get_be64(p + 11);
	}
	mdb_cursor_close(cur);
	return rv;
}

int
region_store_entry_next(struct store *s, uint32_t dest, struct outbox_pos after,
                        struct outbox_pos *next)
{
	MDB_txn *txn;
	int rv;

	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = region_entry_next(txn, s->dbi[DB_OUTBOX], dest, after, next);
	store_rd_end(s, txn);
	return rv;
}

int
region_store_inc(struct store *s, uint32_t *inc)
{
	MDB_txn *txn;
	uint64_t v = 0;
	int rv;

	*inc = 1;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = meta_get_u64(s, txn, "incarnation", &v);
	store_rd_end(s, txn);
	*inc = v > 1 && v < UINT32_MAX ? (uint32_t)v : 1;
	return rv;
}

int
region_store_dests(struct store *s, uint32_t *out, int max)
{
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k = { 1, "o" }, v;
	int rv, n = 0;

	if (rd_begin(s, &txn) != 0) {
		return -1;
	}
	if (db_err(mdb_cursor_open(txn, s->dbi[DB_OUTBOX], &cur)) != 0) {
		store_rd_end(s, txn);
		return -1;
	}
	rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	while (rv == 0 && n < max && k.mv_size == 7 &&
	       ((const uint8_t *)k.mv_data)[0] == 'o') {
		char d[7];
		memcpy(d, (const uint8_t *)k.mv_data + 1, 6);
		d[6] = '\0';
		out[n++] = region_code_u32(d);
		rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	store_rd_end(s, txn);
	return rv == 0 || rv == TB_ENOTFOUND ? n : -1;
}

int
region_store_topology(struct store *s, json_t **out)
{
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = db_get_json(txn, s->dbi[DB_META], "topology", 8, out);
	store_rd_end(s, txn);
	if (rv == TB_ENOTFOUND) {
		*out = json_pack("{s:n, s:[], s:b}", "parent", "peers", "unset",
		                 1);
		rv = *out != NULL ? TB_OK : TB_ENOMEM;
	}
	return rv;
}

int
region_store_area(struct store *s, const char *state, int overdue,
                  int64_t now_ms, const char *after, size_t limit, json_t **out)
{
	int32_t today = fsm_day(now_ms);
	const char *st;
	bool od;
	uint8_t kb[1 + 64];
	MDB_val k, v;
	MDB_cursor *cur;
	MDB_txn *txn;
	json_t *list = json_array(), *sum;
	char next[65] = "";
	size_t al = after != NULL ? strlen(after) : 0;
	int rv, op = MDB_SET_RANGE;

	*out = NULL;
	if (list == NULL || al > 64) {
		json_decref(list);
		return list == NULL ? TB_ENOMEM : TB_EINVAL;
	}
	kb[0] = 'a';
	memcpy(kb + 1, after != NULL ? after : "", al);
	k.mv_data = kb;
	k.mv_size = 1 + al;
	if ((rv = rd_begin(s, &txn)) != 0) {
		json_decref(list);
		return rv;
	}
	if ((rv = db_err(mdb_cursor_open(txn, s->dbi[DB_OUTBOX], &cur))) != 0) {
		store_rd_end(s, txn);
		json_decref(list);
		return rv;
	}
	while ((rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0) {
		op = MDB_NEXT;
		if (k.mv_size < 2 || ((const uint8_t *)k.mv_data)[0] != 'a') {
			break;
		}
		if (al > 0 && k.mv_size == 1 + al &&
		    !memcmp((const uint8_t *)k.mv_data + 1, after, al)) {
			continue; /* the cursor's own case */
		}
		if (json_array_size(list) == limit) {
			break;
		}
		if ((rv = db_val_json(&v, &sum)) != 0) {
			break;
		}
		od = fsm_case_overdue(sum, today);
		st = spec_str(sum, "state");
		if ((state == NULL || !strcmp(state, st != NULL ? st : "")) &&
		    (overdue < 0 || od == (overdue == 1)) &&
		    json_object_set_new(sum, "overdue", json_boolean(od)) ==
		        0) {
			snprintf(next, sizeof(next), "%s", spec_str(sum, "id"));
			json_array_append_new(list, sum);
		} else {
			json_decref(sum);
		}
	}
	mdb_cursor_close(cur);
	store_rd_end(s, txn);
	if (rv != 0 && rv != TB_ENOTFOUND) {
		json_decref(list);
		return rv;
	}
	*out = json_pack("{s:o, s:s?}", "cases", list, "next",
	                 json_array_size(list) == limit ? next : NULL);
	return *out != NULL ? TB_OK : TB_ENOMEM;
}

int
region_store_area_get(struct store *s, const char *id, json_t **out)
{
	size_t idl = id != NULL ? strlen(id) : 0;
	uint8_t k[1 + 64];
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if (idl == 0 || idl > 64) {
		return TB_ENOTFOUND;
	}
	k[0] = 'a';
	memcpy(k + 1, id, idl);
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = db_get_json(txn, s->dbi[DB_OUTBOX], k, 1 + idl, out);
	store_rd_end(s, txn);
	return rv;
}
