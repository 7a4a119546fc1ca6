/* The raftio store in LMDB: opening it, and the writes the writer thread
 * makes inside its transactions (layout in raftio_store.h). */
#include "consensus/raftio_store.h"

#include "consensus/fsync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
raftio_errf(char *errmsg, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errmsg == NULL || errlen == 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(errmsg, errlen, fmt, ap);
	va_end(ap);
}

MDB_val
raftio_strkey(const char *key)
{
	MDB_val k = { strlen(key), (void *)key };
	return k;
}

int
raftio_store_raft_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
	case ENOSPC:
		return RAFT_NOSPACE;
	case ENOMEM:
		return RAFT_NOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return RAFT_CORRUPT;
	default:
		return RAFT_IOERR;
	}
}

/* check_format stamps a new store with RAFTIO_FORMAT and refuses a store
 * of another format, so that a future layout change is never misread. */
static int
check_format(struct raftio_store *s, MDB_txn *txn, char *errmsg, size_t errlen)
{
	MDB_val k = raftio_strkey("format"), v;
	MDB_stat st;
	uint8_t buf[4];
	int rc;

	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == 0) {
		if (v.mv_size != 4 ||
		    raftio_get32(v.mv_data) != RAFTIO_FORMAT) {
			raftio_errf(errmsg, errlen,
			            "unknown raftio store format");
			return RAFT_CORRUPT;
		}
		return 0;
	}
	if (rc != MDB_NOTFOUND) {
		return -rc; /* an LMDB code: the caller maps it */
	}
	if ((rc = mdb_stat(txn, s->meta, &st)) != 0) {
		return -rc;
	}
	if (st.ms_entries != 0) {
		raftio_errf(errmsg, errlen,
		            "raftio store without a format stamp");
		return RAFT_CORRUPT;
	}
	raftio_put32(buf, RAFTIO_FORMAT);
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	rc = mdb_put(txn, s->meta, &k, &v, 0);
	return rc != 0 ? -rc : 0;
}

int
raftio_store_open(struct raftio_store *s, const char *dir, size_t map_size,
                  char *errmsg, size_t errlen)
{
	MDB_txn *txn = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		raftio_errf(errmsg, errlen, "create %s: %s", dir,
		            strerror(errno));
		return RAFT_IOERR;
	}
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, 3)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, map_size)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "log", MDB_CREATE, &s->log)) != 0 ||
	    (rc = mdb_dbi_open(txn, "snap", MDB_CREATE, &s->snap)) != 0) {
		goto err_lmdb;
	}
	rc = check_format(s, txn, errmsg, errlen);
	if (rc > 0) {
		goto err;
	}
	if (rc < 0) {
		rc = -rc;
		goto err_lmdb;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		goto err_lmdb;
	}
	/* data.mdb's name in dir, and dir's in its parent: without them a
	 * cut after the first start could take the whole log with it, and
	 * the node would bootstrap an empty one (tests/node_powercut.t found
	 * it). Cheap, so every open. */
	if ((rc = fs_sync_names(dir)) != 0) {
		raftio_errf(errmsg, errlen, "fsync the directories of %s: %s",
		            dir, strerror(rc));
		rc = RAFT_IOERR;
		goto err;
	}
	return 0;

err_lmdb:
	raftio_errf(errmsg, errlen, "open raft store %s: %s", dir,
	            mdb_strerror(rc));
	rc = raftio_store_raft_err(rc);
err:
	if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	raftio_store_close(s);
	return rc;
}

void
raftio_store_close(struct raftio_store *s)
{
	if (s->env != NULL) {
		mdb_env_close(s->env);
		s->env = NULL;
	}
}

int
raftio_store_get_u64(struct raftio_store *s, MDB_txn *txn, const char *key,
                     uint64_t *v)
{
	MDB_val k = raftio_strkey(key), d;
	int rc;

	*v = 0;
	rc = mdb_get(txn, s->meta, &k, &d);
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc == 0) {
		if (d.mv_size != 8) {
			return MDB_CORRUPTED;
		}
		*v = raftio_get64(d.mv_data);
	}
	return rc;
}

int
raftio_store_put_u64(struct raftio_store *s, MDB_txn *txn, const char *key,
                     uint64_t v)
{
	MDB_val k = raftio_strkey(key), d;
	uint8_t buf[8];

	raftio_put64(buf, v);
	d.mv_size = sizeof(buf);
	d.mv_data = buf;
	return mdb_put(txn, s->meta, &k, &d, 0);
}

int
raftio_store_tail(struct raftio_store *s, MDB_txn *txn, raft_index *next,
                  raft_term *last_term)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*next = 1;
	*last_term = 0;
	if ((rc = mdb_cursor_open(txn, s->log, &c)) != 0) {
		return rc;
	}
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == 0) {
		if (k.mv_size != 8 || v.mv_size < RAFTIO_ENTRY_HDR) {
			return MDB_CORRUPTED;
		}
		*next = raftio_get64(k.mv_data) + 1;
		*last_term = raftio_get64(v.mv_data);
		return 0;
	}
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	k = raftio_strkey("snapshot");
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc == 0) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size < RAFTIO_SNAP_HDR || p[0] != 1) {
			return MDB_CORRUPTED;
		}
		*next = raftio_get64(p + 1) + 1;
		*last_term = raftio_get64(p + 9);
	}
	return rc;
}

int
raftio_store_is_pristine(struct raftio_store *s, MDB_txn *txn, int *yes)
{
	MDB_val k = raftio_strkey("snapshot"), v;
	MDB_stat st;
	uint64_t term;
	int rc;

	*yes = 0;
	if ((rc = raftio_store_get_u64(s, txn, "term", &term)) != 0 ||
	    (rc = mdb_stat(txn, s->log, &st)) != 0) {
		return rc;
	}
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return rc;
	}
	*yes = term == 0 && st.ms_entries == 0 && rc == MDB_NOTFOUND;
	return 0;
}

int
raftio_store_put_entries(struct raftio_store *s, MDB_txn *txn, raft_index first,
                         const struct raft_entry *e, unsigned n,
                         uint64_t *bytes)
{
	uint8_t key[8];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	for (unsigned i = 0; i < n; i++) {
		raftio_put64(key, first + i);
		v.mv_size = RAFTIO_ENTRY_HDR + e[i].buf.len;
		v.mv_data = NULL;
		/* Keys only grow, so MDB_APPEND skips the search; RESERVE
		 * lets us copy the payload straight into the page. */
		rc = mdb_put(txn, s->log, &k, &v, MDB_APPEND | MDB_RESERVE);
		if (rc != 0) {
			return rc;
		}
		raftio_put64(v.mv_data, e[i].term);
		((uint8_t *)v.mv_data)[8] = (uint8_t)e[i].type;
		if (e[i].buf.len > 0) {
			memcpy((uint8_t *)v.mv_data + RAFTIO_ENTRY_HDR,
			       e[i].buf.base, e[i].buf.len);
		}
		*bytes += e[i].buf.len;
	}
	return 0;
}

int
raftio_store_delete_from(struct raftio_store *s, MDB_txn *txn, raft_index index)
{
	MDB_cursor *c;
	uint8_t key[8];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, s->log, &c)) != 0) {
		return rc;
	}
	raftio_put64(key, index);
	/* After mdb_cursor_del the cursor already sits on the next record,
	 * and MDB_NEXT returns it without moving. */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			break;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
raftio_store_delete_upto(struct raftio_store *s, MDB_txn *txn, raft_index index)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (index == RAFTIO_ALL) {
		return mdb_drop(txn, s->log, 0);
	}
	if ((rc = mdb_cursor_open(txn, s->log, &c)) != 0) {
		return rc;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (raftio_get64(k.mv_data) > index) {
			break;
		}
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			break;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* snapmeta_encode returns a malloc'd "snapshot" meta value, or NULL with
 * *rc set (ENOMEM, or EINVAL for an address over 65535 bytes). */
static uint8_t *
snapmeta_encode(const struct raft_snapshot *snap, uint64_t len, size_t *size,
                int *rc)
{
	const struct raft_configuration *conf = &snap->configuration;
	uint8_t *buf, *p;

	*size = RAFTIO_SNAP_HDR;
	for (unsigned i = 0; i < conf->n; i++) {
		size_t alen = strlen(conf->servers[i].address);
		if (alen > UINT16_MAX) {
			*rc = EINVAL;
			return NULL;
		}
		*size += 11 + alen;
	}
	if ((buf = malloc(*size)) == NULL) {
		*rc = ENOMEM;
		return NULL;
	}
	buf[0] = 1;
	raftio_put64(buf + 1, snap->index);
	raftio_put64(buf + 9, snap->term);
	raftio_put64(buf + 17, snap->configuration_index);
	raftio_put64(buf + 25, len);
	raftio_put32(buf + 33, conf->n);
	p = buf + RAFTIO_SNAP_HDR;
	for (unsigned i = 0; i < conf->n; i++) {
		size_t alen = strlen(conf->servers[i].address);
		raftio_put64(p, conf->servers[i].id);
		p[8] = (uint8_t)conf->servers[i].role;
		p[9] = (uint8_t)(alen >> 8);
		p[10] = (uint8_t)alen;
		memcpy(p + 11, conf->servers[i].address, alen);
		p += 11 + alen;
	}
	return buf;
}

int
raftio_store_put_snapshot(struct raftio_store *s, MDB_txn *txn,
                          const struct raft_snapshot *snap)
{
	MDB_val k = raftio_strkey("snapshot"), v;
	uint8_t key[4];
	uint64_t total = 0, off;
	size_t size, boff = 0;
	unsigned bi = 0;
	uint8_t *meta;
	int rc = 0;

	for (unsigned i = 0; i < snap->n_bufs; i++) {
		total += snap->bufs[i].len;
	}
	if ((meta = snapmeta_encode(snap, total, &size, &rc)) == NULL) {
		return rc;
	}
	v.mv_size = size;
	v.mv_data = meta;
	rc = mdb_put(txn, s->meta, &k, &v, 0);
	free(meta);
	if (rc != 0 || (rc = mdb_drop(txn, s->snap, 0)) != 0) {
		return rc;
	}
	/* Chunks keep each value small enough that LMDB finds room for it in
	 * a fragmented map; one huge value needs contiguous free pages. */
	for (off = 0; off < total; off += v.mv_size) {
		size_t clen = total - off < RAFTIO_CHUNK ? (size_t)(total - off)
		                                         : RAFTIO_CHUNK;
		size_t done = 0;

		raftio_put32(key, (uint32_t)(off / RAFTIO_CHUNK));
		k.mv_size = sizeof(key);
		k.mv_data = key;
		v.mv_size = clen;
		v.mv_data = NULL;
		rc = mdb_put(txn, s->snap, &k, &v, MDB_APPEND | MDB_RESERVE);
		if (rc != 0) {
			return rc;
		}
		while (done < clen) {
			const struct raft_buffer *b = &snap->bufs[bi];
			size_t take = b->len - boff;

			if (take > clen - done) {
				take = clen - done;
			}
			if (take > 0) {
				memcpy((uint8_t *)v.mv_data + done,
				       (const uint8_t *)b->base + boff, take);
			}
			done += take;
			boff += take;
			if (boff == b->len) {
				bi++;
				boff = 0;
			}
		}
	}
	return 0;
}
