/* LMDB helpers of the store: error mapping, big-endian keys, versioned
 * values and meta counters. */
#include "node/store_db.h"

#include "schema/canon.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

static const char *const db_names[DB_COUNT] = {
	[DB_META] = "meta",
	[DB_RELEASES] = "releases",
	[DB_MATTERS] = "matters",
	[DB_BUNDLES] = "bundles",
	[DB_OVERLAYS] = "overlays",
	[DB_CASES] = "cases",
	[DB_CASE_STATE] = "case_state",
	[DB_CASE_MATTER] = "case_matter",
	[DB_CASE_EVENTS] = "case_events",
	[DB_EVENTS] = "events",
	[DB_APPLICANTS] = "applicants",
	[DB_APPLICATIONS] = "applications",
	[DB_IDEM] = "idem",
	[DB_TOKENS] = "tokens",
	[DB_TOKEN_HASH] = "token_hash",
	[DB_OUTBOX] = "outbox",
	[DB_CASE_SUM] = "case_sum",
	[DB_CRLS] = "crls",
	[DB_HANDOFFS] = "handoffs",
};

/* Values are read back with generous limits: they were canonical when
 * written, so only a corrupt value can trip these. */
static const struct canon_limits db_limits = {
	.max_bytes = 64u << 20,
	.max_depth = 32,
	.max_str = 16u << 20,
	.max_items = 1u << 22,
};

const char *
store_db_name(enum store_db i)
{
	return (unsigned)i < DB_COUNT ? db_names[i] : "?";
}

int
db_err(int mrv)
{
	switch (mrv) {
	case MDB_SUCCESS:
		return TB_OK;
	case MDB_NOTFOUND:
		return TB_ENOTFOUND;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return TB_EFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return TB_ECORRUPT;
	case ENOMEM:
		return TB_ENOMEM;
	default:
		return TB_EIO;
	}
}

void
db_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
db_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

void
db_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t
db_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

int
db_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *v)
{
	MDB_val k = { klen, (void *)key };

	return db_err(mdb_get(txn, dbi, &k, v));
}

int
db_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
       size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };

	return db_err(mdb_put(txn, dbi, &k, &v, 0));
}

int
db_put_last(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
            const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);

	/* MDB_KEYEXIST: key is not above the last key; nothing was
	 * written. */
	if (rc == MDB_KEYEXIST) {
		rc = mdb_put(txn, dbi, &k, &v, 0);
	}
	return db_err(rc);
}

int
db_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key };

	return db_err(mdb_del(txn, dbi, &k, NULL));
}

int
db_put_canon(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
             const uint8_t *p, size_t n)
{
	MDB_val k = { klen, (void *)key }, v = { n + 1, NULL };
	int rv;

	/* MDB_RESERVE: LMDB makes the room and we fill it before the next
	 * call on the transaction. */
	if ((rv = db_err(mdb_put(txn, dbi, &k, &v, MDB_RESERVE))) != 0) {
		return rv;
	}
	((uint8_t *)v.mv_data)[0] = STORE_SV;
	memcpy((uint8_t *)v.mv_data + 1, p, n);
	return TB_OK;
}

int
db_put_json(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
            const json_t *v)
{
	struct canon_buf b = { 0 };
	uint8_t sv = STORE_SV;
	char err[128];
	int rv;

	if ((rv = canon_buf_append(&b, &sv, 1)) == 0 &&
	    (rv = canon_encode(v, &b, err, sizeof(err))) == 0) {
		rv = db_put(txn, dbi, key, klen, b.data, b.len);
	}
	canon_buf_free(&b);
	return rv == TB_ENOMEM || rv == TB_EFULL || rv == TB_EIO ||
	               rv == TB_ECORRUPT || rv == TB_OK
	           ? rv
	           : TB_EIO;
}

int
db_val_json(const MDB_val *v, json_t **out)
{
	const uint8_t *p = v->mv_data;
	char err[128];
	int rv;

	*out = NULL;
	if (v->mv_size < 2 || p[0] != STORE_SV) {
		return TB_ECORRUPT;
	}
	rv = canon_decode(p + 1, v->mv_size - 1, &db_limits, out, err,
	                  sizeof(err));
	return rv == TB_OK || rv == TB_ENOMEM ? rv : TB_ECORRUPT;
}

int
db_val_json_fields(const MDB_val *v, const char *const *keys, size_t nkeys,
                   json_t **out)
{
	const uint8_t *p = v->mv_data;
	char err[128];
	int rv;

	*out = NULL;
	if (v->mv_size < 2 || p[0] != STORE_SV) {
		return TB_ECORRUPT;
	}
	rv = canon_decode_fields(p + 1, v->mv_size - 1, &db_limits, keys, nkeys,
	                         out, err, sizeof(err));
	return rv == TB_OK || rv == TB_ENOMEM ? rv : TB_ECORRUPT;
}

int
db_get_json(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
            json_t **out)
{
	MDB_val v;
	int rv;

	*out = NULL;
	if ((rv = db_get(txn, dbi, key, klen, &v)) != 0) {
		return rv;
	}
	return db_val_json(&v, out);
}

/* meta_read reads the integer under name from LMDB (0 if absent). */
static int
meta_read(const struct store *s, MDB_txn *txn, const char *name, size_t nl,
          uint64_t *v)
{
	MDB_val val;
	int rv;

	*v = 0;
	rv = db_get(txn, s->dbi[DB_META], name, nl, &val);
	if (rv == TB_ENOTFOUND) {
		return TB_OK;
	}
	if (rv != 0) {
		return rv;
	}
	if (val.mv_size != 9 || ((uint8_t *)val.mv_data)[0] != STORE_SV) {
		return TB_ECORRUPT;
	}
	*v = db_get_be64((uint8_t *)val.mv_data + 1);
	return TB_OK;
}

static int
meta_write(const struct store *s, MDB_txn *txn, const char *name, size_t nl,
           uint64_t v)
{
	uint8_t b[9];

	b[0] = STORE_SV;
	db_be64(b + 1, v);
	return db_put(txn, s->dbi[DB_META], name, nl, b, sizeof(b));
}

/* meta_cached finds name in the direct batch's cache, reading it from
 * LMDB into a free slot the first time; NULL when the cache does not
 * apply (not the direct batch, a long name, no slot left: the caller
 * uses LMDB, and always will for that name in this batch) or *rv is an
 * error. The cache belongs to the writer, which alone uses s->batch; s
 * is const only in the callers' signatures. */
static struct store_meta *
meta_cached(const struct store *s, MDB_txn *txn, const char *name, size_t nl,
            int *rv)
{
	struct store *w = (struct store *)s;
	struct store_meta *m;
	size_t i;

	*rv = TB_OK;
	if (txn != s->batch || !s->direct || nl >= STORE_META_NAME) {
		return NULL;
	}
	for (i = 0; i < s->nmeta; i++) {
		if (!strcmp(s->meta[i].name, name)) {
			return &w->meta[i];
		}
	}
	if (s->nmeta == STORE_META_CACHE) {
		return NULL;
	}
	m = &w->meta[w->nmeta];
	if ((*rv = meta_read(s, txn, name, nl, &m->v)) != 0) {
		return NULL;
	}
	memcpy(m->name, name, nl + 1);
	m->dirty = false;
	w->nmeta++;
	return m;
}

int
meta_get_u64(const struct store *s, MDB_txn *txn, const char *name, uint64_t *v)
{
	size_t nl = strlen(name);
	struct store_meta *m;
	int rv;

	if ((m = meta_cached(s, txn, name, nl, &rv)) != NULL) {
		*v = m->v;
		return TB_OK;
	}
	if (rv != 0) {
		*v = 0;
		return rv;
	}
	return meta_read(s, txn, name, nl, v);
}

int
meta_put_u64(const struct store *s, MDB_txn *txn, const char *name, uint64_t v)
{
	size_t nl = strlen(name);
	struct store_meta *m;
	int rv;

	if ((m = meta_cached(s, txn, name, nl, &rv)) != NULL) {
		m->v = v;
		m->dirty = true;
		return TB_OK;
	}
	return rv != 0 ? rv : meta_write(s, txn, name, nl, v);
}

int
meta_add(const struct store *s, MDB_txn *txn, const char *name, int64_t delta)
{
	uint64_t v;
	int rv;

	if ((rv = meta_get_u64(s, txn, name, &v)) != 0) {
		return rv;
	}
	if (delta < 0 && v < (uint64_t)-delta) {
		return TB_ECORRUPT; /* a counter below zero: state is damaged */
	}
	return meta_put_u64(s, txn, name, v + (uint64_t)delta);
}

int
store_meta_flush(struct store *s)
{
	struct store_meta *m;
	size_t i;
	int rv = TB_OK;

	for (i = 0; i < s->nmeta && rv == TB_OK; i++) {
		m = &s->meta[i];
		if (m->dirty) {
			rv = meta_write(s, s->batch, m->name, strlen(m->name),
			                m->v);
		}
	}
	s->nmeta = 0;
	return rv;
}

void
store_meta_drop(struct store *s)
{
	s->nmeta = 0;
}

void
db_applicant_hash(const struct store *s, const char *id_number, uint8_t out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)id_number,
	                   strlen(id_number), s->index_key, 32);
}
