/* The receiving half of a streamed snapshot: chunks into a staging LMDB
 * environment beside the store, verified, synced and published as DIR.new
 * for store_snapshot_swap (store_swap.c). */
#include "node/store_snap_impl.h"

#include "consensus/fsync.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STAGE_DEFAULT_MAP ((size_t)1 << 30)

struct store_stage {
	char dir[PATH_MAX];   /* the store's directory */
	char stage[PATH_MAX]; /* DIR.stage */
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	struct store_snap_marker m;
	char region[7];
	crypto_generichash_state h;
	int db; /* the database the hash has reached */
	uint64_t seq, count, tail_count;
	uint8_t tail_hash[32];
	bool ended, failed;
};

/* ---- staging ----------------------------------------------------------- */

int
store_snapshot_stage_begin(const char *dir,
                           const struct store_snap_marker *marker,
                           const char *region, size_t map_size,
                           struct store_stage **out, char *errmsg,
                           size_t errlen)
{
	struct store_stage *st;
	MDB_txn *txn = NULL;
	int rv, i;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	snap_sibling(st->stage, dir, ".stage");
	snprintf(st->region, sizeof(st->region), "%s", region);
	st->m = *marker;
	crypto_generichash_init(&st->h, NULL, 0, 32);
	snap_hash_db(&st->h, 0, true);
	if ((rv = snap_rm_dir(st->stage, errmsg, errlen)) != 0) {
		free(st);
		return rv;
	}
	if (mkdir(st->stage, 0700) != 0) {
		snprintf(errmsg, errlen, "%s: %s", st->stage, strerror(errno));
		free(st);
		return TB_EIO;
	}
	/* MDB_NOSYNC: nothing of the stage counts until finish syncs it. */
	if ((rv = db_err(mdb_env_create(&st->env))) != 0 ||
	    (rv = db_err(mdb_env_set_maxdbs(st->env, DB_COUNT + 4))) != 0 ||
	    (rv = db_err(mdb_env_set_mapsize(
	         st->env, map_size ? map_size : STAGE_DEFAULT_MAP))) != 0 ||
	    (rv = db_err(mdb_env_open(st->env, st->stage,
	                              MDB_NOSYNC | MDB_NOTLS, 0600))) != 0 ||
	    (rv = db_err(mdb_txn_begin(st->env, NULL, 0, &txn))) != 0) {
		snprintf(errmsg, errlen, "%s: %s", st->stage, tb_strerror(rv));
		goto fail;
	}
	for (i = 0; i < DB_COUNT; i++) {
		rv = db_err(mdb_dbi_open(txn, store_db_name(i), MDB_CREATE,
		                         &st->dbi[i]));
		if (rv != 0) {
			snprintf(errmsg, errlen, "stage database %s: %s",
			         store_db_name(i), tb_strerror(rv));
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if ((rv = db_err(mdb_txn_commit(txn))) != 0) {
		snprintf(errmsg, errlen, "stage: %s", tb_strerror(rv));
		goto fail;
	}
	*out = st;
	return TB_OK;
fail:
	store_snapshot_stage_abort(st);
	return rv;
}

void
store_snapshot_stage_abort(struct store_stage *st)
{
	char err[256];

	if (st == NULL) {
		return;
	}
	if (st->env != NULL) {
		mdb_env_close(st->env);
	}
	snap_rm_dir(st->stage, err, sizeof(err));
	free(st);
}

/* A bounds-checked reader of the few msgpack forms a chunk uses. It reads
 * in place (no allocation, whatever sizes a chunk declares), so a hostile
 * or damaged chunk costs no memory and is refused where it goes wrong. */
struct rd {
	const uint8_t *p, *end;
};

static bool
rd_be(struct rd *r, int n, uint64_t *v)
{
	*v = 0;
	if (r->end - r->p < n) {
		return false;
	}
	while (n-- > 0) {
		*v = (*v << 8) | *r->p++;
	}
	return true;
}

static bool
rd_uint(struct rd *r, uint64_t *v)
{
	if (r->p >= r->end) {
		return false;
	}
	if (*r->p <= 0x7f) {
		*v = *r->p++;
		return true;
	}
	switch (*r->p++) {
	case 0xcc:
		return rd_be(r, 1, v);
	case 0xcd:
		return rd_be(r, 2, v);
	case 0xce:
		return rd_be(r, 4, v);
	case 0xcf:
		return rd_be(r, 8, v);
	default:
		return false;
	}
}

static bool
rd_array(struct rd *r, uint64_t *n)
{
	if (r->p >= r->end) {
		return false;
	}
	if ((*r->p & 0xf0) == 0x90) {
		*n = *r->p++ & 0x0f;
		return true;
	}
	switch (*r->p++) {
	case 0xdc:
		return rd_be(r, 2, n);
	case 0xdd:
		return rd_be(r, 4, n);
	default:
		return false;
	}
}

/* rd_bytes reads a str (str true) or a bin into *b, *n. */
static bool
rd_bytes(struct rd *r, bool str, const uint8_t **b, uint64_t *n)
{
	uint8_t t;
	bool okay;

	if (r->p >= r->end) {
		return false;
	}
	t = *r->p++;
	if (str && (t & 0xe0) == 0xa0) {
		*n = t & 0x1f;
		okay = true;
	} else if (t == (str ? 0xd9 : 0xc4)) {
		okay = rd_be(r, 1, n);
	} else if (t == (str ? 0xda : 0xc5)) {
		okay = rd_be(r, 2, n);
	} else if (t == (str ? 0xdb : 0xc6)) {
		okay = rd_be(r, 4, n);
	} else {
		return false;
	}
	if (!okay || (uint64_t)(r->end - r->p) < *n) {
		return false;
	}
	*b = r->p;
	r->p += *n;
	return true;
}

/* put_rec reads one [db, key, value] record and stores it in stream
 * order. */
static int
put_rec(struct store_stage *st, MDB_txn *txn, struct rd *r, char *errmsg,
        size_t errlen)
{
	const uint8_t *name, *kb, *vb;
	uint64_t n, nlen, klen, vlen;
	MDB_val k, v;
	int i, mrv;

	if (!rd_array(r, &n) || n != 3 || !rd_bytes(r, true, &name, &nlen) ||
	    !rd_bytes(r, false, &kb, &klen) ||
	    !rd_bytes(r, false, &vb, &vlen)) {
		snprintf(errmsg, errlen,
		         "chunk %llu: record %llu is not [db, key, value]",
		         (unsigned long long)st->seq,
		         (unsigned long long)st->count);
		return TB_EMALFORMED;
	}
	if ((i = snap_db_index((const char *)name, nlen)) < 0) {
		snprintf(errmsg, errlen, "record %llu: unknown database '%.*s'",
		         (unsigned long long)st->count,
		         (int)(nlen > 32 ? 32 : nlen), (const char *)name);
		return TB_ECORRUPT;
	}
	if (i < st->db) {
		snprintf(errmsg, errlen,
		         "record %llu: database %s after %s (out of order)",
		         (unsigned long long)st->count, store_db_name(i),
		         store_db_name(st->db));
		return TB_ECORRUPT;
	}
	while (st->db < i) {
		st->db++;
		snap_hash_db(&st->h, st->db, st->db == i);
	}
	k.mv_size = klen;
	k.mv_data = (void *)kb;
	v.mv_size = vlen;
	v.mv_data = (void *)vb;
	/* MDB_APPEND loads sorted keys fast and refuses any key not
	 * greater than the last one: the order check comes for free. */
	mrv = mdb_put(txn, st->dbi[i], &k, &v, MDB_APPEND);
	if (mrv == MDB_KEYEXIST) {
		snprintf(errmsg, errlen, "record %llu: key out of order in %s",
		         (unsigned long long)st->count, store_db_name(i));
		return TB_ECORRUPT;
	}
	if (mrv != 0) {
		snprintf(errmsg, errlen, "record %llu in %s: %s",
		         (unsigned long long)st->count, store_db_name(i),
		         mdb_strerror(mrv));
		return mrv == MDB_BAD_VALSIZE ? TB_ECORRUPT : db_err(mrv);
	}
	snap_hash_rec(&st->h, i, &k, &v);
	st->count++;
	return TB_OK;
}

/* read_head checks a chunk's array, magic, version, seq, index and term. */
static int
read_head(struct store_stage *st, struct rd *r, char *errmsg, size_t errlen)
{
	const uint8_t *magic;
	uint64_t n, v, idx, term;

	if (!rd_array(r, &n) || n != 7 || !rd_bytes(r, true, &magic, &n) ||
	    n != strlen(SNAP_MAGIC) || memcmp(magic, SNAP_MAGIC, n) != 0) {
		snprintf(errmsg, errlen, "chunk %llu is not a snapshot chunk",
		         (unsigned long long)st->seq);
		return TB_EMALFORMED;
	}
	if (!rd_uint(r, &v) || v != SNAP_VERSION) {
		snprintf(errmsg, errlen, "chunk format version is not %d",
		         SNAP_VERSION);
		return TB_EMALFORMED;
	}
	if (!rd_uint(r, &v) || !rd_uint(r, &idx) || !rd_uint(r, &term)) {
		snprintf(errmsg, errlen, "chunk %llu: header malformed",
		         (unsigned long long)st->seq);
		return TB_EMALFORMED;
	}
	if (v != st->seq) {
		snprintf(errmsg, errlen, "expected chunk %llu (seq), got %llu",
		         (unsigned long long)st->seq, (unsigned long long)v);
		return TB_ECORRUPT;
	}
	if (idx != st->m.index || term != st->m.term) {
		snprintf(errmsg, errlen,
		         "chunk %llu is not of the snapshot at index %llu "
		         "term %llu",
		         (unsigned long long)st->seq,
		         (unsigned long long)st->m.index,
		         (unsigned long long)st->m.term);
		return TB_ECORRUPT;
	}
	return TB_OK;
}

/* read_tail reads nil, or [count, hash] into the stage (final chunk). */
static int
read_tail(struct store_stage *st, struct rd *r, bool *final, char *errmsg,
          size_t errlen)
{
	const uint8_t *h;
	uint64_t n, hl;

	*final = false;
	if (r->p < r->end && *r->p == 0xc0) {
		r->p++;
	} else if (rd_array(r, &n) && n == 2 && rd_uint(r, &st->tail_count) &&
	           rd_bytes(r, false, &h, &hl) && hl == 32) {
		memcpy(st->tail_hash, h, 32);
		*final = true;
	} else {
		snprintf(errmsg, errlen, "chunk %llu: tail malformed",
		         (unsigned long long)st->seq);
		return TB_EMALFORMED;
	}
	if (r->p != r->end) {
		snprintf(errmsg, errlen,
		         "chunk %llu: %zu bytes after its end (truncated or "
		         "malformed)",
		         (unsigned long long)st->seq, (size_t)(r->end - r->p));
		return TB_EMALFORMED;
	}
	return TB_OK;
}

int
store_snapshot_stage_write(struct store_stage *st, const uint8_t *buf,
                           size_t len, char *errmsg, size_t errlen)
{
	struct rd r = { buf, buf + len };
	MDB_txn *txn = NULL;
	uint64_t n, i;
	bool final;
	int rv;

	if (st->failed || st->ended) {
		snprintf(errmsg, errlen, "%s",
		         st->failed ? "the stage already failed"
		                    : "a chunk after the final one");
		return TB_EINVAL;
	}
	st->failed = true; /* until this chunk is in */
	if (len > STORE_SNAP_CHUNK_HARD) {
		snprintf(errmsg, errlen, "chunk %llu has %zu bytes, over %zu",
		         (unsigned long long)st->seq, len,
		         STORE_SNAP_CHUNK_HARD);
		return TB_ETOOBIG;
	}
	if ((rv = read_head(st, &r, errmsg, errlen)) != 0) {
		return rv;
	}
	if (!rd_array(&r, &n)) {
		snprintf(errmsg, errlen, "chunk %llu: records malformed",
		         (unsigned long long)st->seq);
		return TB_EMALFORMED;
	}
	if ((rv = db_err(mdb_txn_begin(st->env, NULL, 0, &txn))) != 0) {
		snprintf(errmsg, errlen, "stage: %s", tb_strerror(rv));
		return rv;
	}
	for (i = 0; i < n && rv == 0; i++) {
		rv = put_rec(st, txn, &r, errmsg, errlen);
	}
	if (rv == 0) {
		rv = read_tail(st, &r, &final, errmsg, errlen);
	}
	if (rv != 0) {
		mdb_txn_abort(txn); /* nothing of a bad chunk is kept */
		return rv;
	}
	if ((rv = db_err(mdb_txn_commit(txn))) != 0) {
		snprintf(errmsg, errlen, "stage commit: %s", tb_strerror(rv));
		return rv;
	}
	st->ended = final;
	st->seq++;
	st->failed = false;
	return TB_OK;
}

/* verify checks what the stage holds against the marker. */
static int
verify(struct store_stage *st, char *errmsg, size_t errlen)
{
	uint8_t hash[32], b[9];
	uint64_t applied = 0, layout = 0;
	MDB_txn *txn;
	MDB_val k, v;
	int rv;

	while (st->db < DB_COUNT - 1) {
		snap_hash_db(&st->h, ++st->db, false);
	}
	crypto_generichash_final(&st->h, hash, 32);
	if (st->count != st->tail_count) {
		snprintf(errmsg, errlen,
		         "%llu records staged, the stream says "
		         "%llu",
		         (unsigned long long)st->count,
		         (unsigned long long)st->tail_count);
		return TB_ECORRUPT;
	}
	/* A marker without a hash (all zero) leaves the check to the
	 * stream's own tail. */
	if (sodium_memcmp(hash, st->tail_hash, 32) != 0 ||
	    (!sodium_is_zero(st->m.hash, 32) &&
	     sodium_memcmp(hash, st->m.hash, 32) != 0)) {
		snprintf(errmsg, errlen,
		         "the staged content hash does not "
		         "match the snapshot marker");
		return TB_ECORRUPT;
	}
	if ((rv = db_err(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))) {
		snprintf(errmsg, errlen, "stage: %s", tb_strerror(rv));
		return rv;
	}
	k.mv_size = 7;
	k.mv_data = "applied";
	if (mdb_get(txn, st->dbi[DB_META], &k, &v) == 0 && v.mv_size == 9) {
		memcpy(b, v.mv_data, 9);
		applied = db_get_be64(b + 1);
	}
	k.mv_size = 6;
	k.mv_data = "layout";
	if (mdb_get(txn, st->dbi[DB_META], &k, &v) == 0 && v.mv_size == 9) {
		memcpy(b, v.mv_data, 9);
		layout = db_get_be64(b + 1);
	}
	k.mv_data = "region";
	rv = mdb_get(txn, st->dbi[DB_META], &k, &v);
	if (rv != 0 || v.mv_size != 6 || memcmp(v.mv_data, st->region, 6)) {
		snprintf(errmsg, errlen, "the snapshot is not of region %s",
		         st->region);
		rv = TB_ECORRUPT;
	} else if (applied != st->m.index) {
		snprintf(errmsg, errlen,
		         "the snapshot holds applied index "
		         "%llu, the marker says %llu",
		         (unsigned long long)applied,
		         (unsigned long long)st->m.index);
		rv = TB_ECORRUPT;
	} else if (layout != STORE_LAYOUT) {
		snprintf(errmsg, errlen,
		         "snapshot layout %llu, this build "
		         "reads %d",
		         (unsigned long long)layout, STORE_LAYOUT);
		rv = TB_ECORRUPT;
	}
	mdb_txn_abort(txn);
	return rv;
}

int
store_snapshot_stage_finish(struct store_stage *st, char *errmsg, size_t errlen)
{
	char nw[PATH_MAX];
	int rv, rc;

	if (st->failed || !st->ended) {
		if (st->failed) {
			snprintf(errmsg, errlen, "the stage failed earlier");
		} else {
			snprintf(errmsg, errlen,
			         "the stream ended after %llu chunks without "
			         "its final one",
			         (unsigned long long)st->seq);
		}
		rv = st->failed ? TB_EINVAL : TB_ETRUNC;
		goto fail;
	}
	if ((rv = verify(st, errmsg, errlen)) != 0) {
		goto fail;
	}
	if (mdb_env_sync(st->env, 1) != 0) {
		snprintf(errmsg, errlen, "sync %s failed", st->stage);
		rv = TB_EIO;
		goto fail;
	}
	mdb_env_close(st->env);
	st->env = NULL;
	snap_sibling(nw, st->dir, ".new");
	if ((rc = fs_fsync_path(st->stage)) != 0) {
		snprintf(errmsg, errlen, "fsync %s: %s", st->stage,
		         strerror(rc));
		rv = TB_EIO;
		goto fail;
	}
	if ((rv = snap_rm_dir(nw, errmsg, errlen)) != 0 ||
	    (rv = snap_rename_dir(st->stage, nw, errmsg, errlen)) != 0) {
		goto fail;
	}
	free(st);
	return TB_OK;
fail:
	store_snapshot_stage_abort(st);
	return rv;
}
