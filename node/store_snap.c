/* The sending half of a streamed snapshot: the marker, the content hash and
 * the chunks, all read from one LMDB read transaction. */
#include "node/store_snap_impl.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARKER_MAGIC "TBSNAPM1"

/* One record of the chunk being built: pointers into the read transaction,
 * valid until it ends. */
struct snap_rec {
	int db;
	MDB_val k, v;
};

struct store_snap {
	struct store *s;
	MDB_txn *txn;
	MDB_cursor *cur; /* on database db, or NULL between databases */
	int db;
	bool pending; /* rec holds a record that did not fit the last chunk */
	struct snap_rec rec;
	bool done; /* the final chunk went out */
	uint64_t seq, count;
	size_t chunk_max;
	struct store_snap_marker m;
	struct snap_rec *recs;
	size_t nrecs, caprecs;
	/* The running content hash of what went out, for the final chunk
	 * (it equals m.hash when begin computed that). */
	crypto_generichash_state h;
	int hashed_db; /* the last database whose name is in h */
};

void
snap_hash_db(crypto_generichash_state *h, int i, bool has_rec)
{
	const char *name = store_db_name(i);

	if (i >= DB_FIRST_OPTIONAL && !has_rec) {
		return;
	}
	crypto_generichash_update(h, (const uint8_t *)name, strlen(name) + 1);
}

void
snap_hash_rec(crypto_generichash_state *h, int i, const MDB_val *k,
              const MDB_val *v)
{
	uint8_t len[8];

	if (i == DB_META && k->mv_size == 7 &&
	    !memcmp(k->mv_data, "applied", 7)) {
		return;
	}
	db_be64(len, k->mv_size);
	crypto_generichash_update(h, len, 8);
	crypto_generichash_update(h, k->mv_data, k->mv_size);
	db_be64(len, v->mv_size);
	crypto_generichash_update(h, len, 8);
	crypto_generichash_update(h, v->mv_data, v->mv_size);
}

int
snap_db_index(const char *name, size_t n)
{
	int i;

	for (i = 0; i < DB_COUNT; i++) {
		if (strlen(store_db_name(i)) == n &&
		    !memcmp(store_db_name(i), name, n)) {
			return i;
		}
	}
	return -1;
}

void
store_snapshot_marker_encode(const struct store_snap_marker *m,
                             uint8_t buf[STORE_SNAP_MARKER_SIZE])
{
	memset(buf, 0, STORE_SNAP_MARKER_SIZE);
	memcpy(buf, MARKER_MAGIC, 8);
	db_be64(buf + 8, m->index);
	db_be64(buf + 16, m->term);
	memcpy(buf + 24, m->hash, 32);
}

int
store_snapshot_marker_decode(const uint8_t *buf, size_t len,
                             struct store_snap_marker *m, char *errmsg,
                             size_t errlen)
{
	if (len != STORE_SNAP_MARKER_SIZE) {
		snprintf(errmsg, errlen,
		         "a snapshot marker is %d bytes, not %zu",
		         STORE_SNAP_MARKER_SIZE, len);
		return TB_EMALFORMED;
	}
	if (memcmp(buf, MARKER_MAGIC, 8) != 0) {
		snprintf(errmsg, errlen, "not a snapshot marker (magic)");
		return TB_EMALFORMED;
	}
	m->index = db_get_be64(buf + 8);
	m->term = db_get_be64(buf + 16);
	memcpy(m->hash, buf + 24, 32);
	return TB_OK;
}

/* hash_all computes the content hash of every replicated database in txn:
 * the same bytes store_digest hashes. */
static int
hash_all(struct store *s, MDB_txn *txn, uint8_t out[32])
{
	crypto_generichash_state h;
	MDB_cursor *cur;
	MDB_val k, v;
	int rv = 0, i, op;

	crypto_generichash_init(&h, NULL, 0, 32);
	for (i = 0; rv == 0 && i < DB_COUNT; i++) {
		if ((rv = db_err(mdb_cursor_open(txn, s->dbi[i], &cur))) != 0) {
			break;
		}
		op = MDB_FIRST;
		while ((rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0) {
			if (op == MDB_FIRST) {
				snap_hash_db(&h, i, true);
			}
			op = MDB_NEXT;
			snap_hash_rec(&h, i, &k, &v);
		}
		mdb_cursor_close(cur);
		if (rv == TB_ENOTFOUND && op == MDB_FIRST) {
			snap_hash_db(&h, i, false); /* empty */
		}
		rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	crypto_generichash_final(&h, out, 32);
	return rv;
}

int
store_snapshot_begin(struct store *s, uint64_t term, size_t chunk_max,
                     bool hash_first, struct store_snap **out,
                     struct store_snap_marker *marker)
{
	struct store_snap *sn;
	int rv;

	*out = NULL;
	chunk_max = chunk_max ? chunk_max : STORE_SNAP_CHUNK;
	if (chunk_max < 4096 || chunk_max > STORE_SNAP_CHUNK_HARD) {
		return TB_EINVAL;
	}
	if ((sn = calloc(1, sizeof(*sn))) == NULL) {
		return TB_ENOMEM;
	}
	sn->s = s;
	sn->chunk_max = chunk_max;
	sn->m.term = term;
	sn->hashed_db = -1;
	crypto_generichash_init(&sn->h, NULL, 0, 32);
	rv = db_err(store_rd_begin(s, &sn->txn));
	if (rv == 0) {
		rv = meta_get_u64(s, sn->txn, "applied", &sn->m.index);
	}
	if (rv == 0 && hash_first) {
		rv = hash_all(s, sn->txn, sn->m.hash);
	}
	if (rv != 0) {
		store_snapshot_end(sn);
		return rv;
	}
	*marker = sn->m;
	*out = sn;
	return TB_OK;
}

void
store_snapshot_end(struct store_snap *sn)
{
	if (sn == NULL) {
		return;
	}
	if (sn->cur != NULL) {
		mdb_cursor_close(sn->cur);
	}
	if (sn->txn != NULL) {
		store_rd_end(sn->s, sn->txn);
	}
	free(sn->recs);
	free(sn);
}

/* fetch reads the next record in stream order (databases in digest order,
 * keys in LMDB order) into sn->rec: TB_OK, TB_ENOTFOUND at the end. */
static int
fetch(struct store_snap *sn)
{
	int rv;

	while (sn->db < DB_COUNT) {
		if (sn->cur == NULL) {
			rv = db_err(mdb_cursor_open(sn->txn, sn->s->dbi[sn->db],
			                            &sn->cur));
			if (rv != 0) {
				return rv;
			}
			rv = db_err(mdb_cursor_get(sn->cur, &sn->rec.k,
			                           &sn->rec.v, MDB_FIRST));
		} else {
			rv = db_err(mdb_cursor_get(sn->cur, &sn->rec.k,
			                           &sn->rec.v, MDB_NEXT));
		}
		if (rv == 0) {
			sn->rec.db = sn->db;
			return TB_OK;
		}
		if (rv != TB_ENOTFOUND) {
			return rv;
		}
		mdb_cursor_close(sn->cur);
		sn->cur = NULL;
		sn->db++;
	}
	return TB_ENOTFOUND;
}

/* rec_size bounds a record's encoded size: array header, str, 2 bins. */
static size_t
rec_size(const struct snap_rec *r)
{
	return 1 + 5 + strlen(store_db_name(r->db)) + 5 + r->k.mv_size + 5 +
	       r->v.mv_size;
}

struct out_buf {
	uint8_t *p;
	size_t len, cap;
};

static int
out_write(void *data, const char *buf, size_t len)
{
	struct out_buf *o = data;

	if (len > o->cap - o->len) {
		return -1; /* rec_size and SNAP_OVERHEAD bound every chunk */
	}
	memcpy(o->p + o->len, buf, len);
	o->len += len;
	return 0;
}

/* collect fills sn->recs with the records of the next chunk; *final is set
 * when the stream has no record left. *size is the bound of the chunk. */
static int
collect(struct store_snap *sn, size_t *size, bool *final)
{
	size_t r;
	void *p;
	int rv;

	sn->nrecs = 0;
	*size = SNAP_OVERHEAD;
	*final = false;
	for (;;) {
		if (!sn->pending) {
			if ((rv = fetch(sn)) == TB_ENOTFOUND) {
				*final = true;
				return TB_OK;
			}
			if (rv != 0) {
				return rv;
			}
			sn->pending = true;
		}
		r = rec_size(&sn->rec);
		if (sn->nrecs > 0 && *size + r > sn->chunk_max) {
			return TB_OK; /* the record opens the next chunk */
		}
		if (*size + r > STORE_SNAP_CHUNK_HARD) {
			return TB_ETOOBIG;
		}
		if (sn->nrecs == sn->caprecs) {
			size_t cap = sn->caprecs ? 2 * sn->caprecs : 1024;

			if ((p = realloc(sn->recs, cap * sizeof(*sn->recs))) ==
			    NULL) {
				return TB_ENOMEM;
			}
			sn->recs = p;
			sn->caprecs = cap;
		}
		sn->recs[sn->nrecs++] = sn->rec;
		while (sn->hashed_db < sn->rec.db) {
			sn->hashed_db++;
			snap_hash_db(&sn->h, sn->hashed_db,
			             sn->hashed_db == sn->rec.db);
		}
		snap_hash_rec(&sn->h, sn->rec.db, &sn->rec.k, &sn->rec.v);
		*size += r;
		sn->pending = false;
		sn->count++;
	}
}

int
store_snapshot_next(struct store_snap *sn, uint8_t **buf, size_t *len,
                    bool *last)
{
	struct out_buf o = { 0 };
	uint8_t hash[32];
	msgpack_packer pk;
	const char *name;
	size_t i, size;
	bool final;
	int rv;

	*buf = NULL;
	*len = 0;
	*last = false;
	if (sn->done) {
		return TB_ENOTFOUND;
	}
	if ((rv = collect(sn, &size, &final)) != 0) {
		return rv;
	}
	if ((o.p = malloc(size)) == NULL) {
		return TB_ENOMEM;
	}
	o.cap = size;
	msgpack_packer_init(&pk, &o, out_write);
	rv = msgpack_pack_array(&pk, 7);
	rv |= msgpack_pack_str_with_body(&pk, SNAP_MAGIC, strlen(SNAP_MAGIC));
	rv |= msgpack_pack_uint64(&pk, SNAP_VERSION);
	rv |= msgpack_pack_uint64(&pk, sn->seq);
	rv |= msgpack_pack_uint64(&pk, sn->m.index);
	rv |= msgpack_pack_uint64(&pk, sn->m.term);
	rv |= msgpack_pack_array(&pk, sn->nrecs);
	for (i = 0; i < sn->nrecs; i++) {
		name = store_db_name(sn->recs[i].db);
		rv |= msgpack_pack_array(&pk, 3);
		rv |= msgpack_pack_str_with_body(&pk, name, strlen(name));
		rv |= msgpack_pack_bin_with_body(&pk, sn->recs[i].k.mv_data,
		                                 sn->recs[i].k.mv_size);
		rv |= msgpack_pack_bin_with_body(&pk, sn->recs[i].v.mv_data,
		                                 sn->recs[i].v.mv_size);
	}
	if (final) {
		while (sn->hashed_db < DB_COUNT - 1) {
			snap_hash_db(&sn->h, ++sn->hashed_db, false);
		}
		crypto_generichash_final(&sn->h, hash, 32);
		rv |= msgpack_pack_array(&pk, 2);
		rv |= msgpack_pack_uint64(&pk, sn->count);
		rv |= msgpack_pack_bin_with_body(&pk, hash, 32);
	} else {
		rv |= msgpack_pack_nil(&pk);
	}
	if (rv != 0) {
		free(o.p);
		return TB_ENOMEM; /* cannot happen: size bounds the chunk */
	}
	sn->seq++;
	sn->done = final;
	*buf = o.p;
	*len = o.len;
	*last = final;
	return TB_OK;
}
