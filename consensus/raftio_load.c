/* Reading a raftio store for libraft: load at start-up and snapshot_get,
 * each in one LMDB read transaction, into memory libraft can own. */
#include "consensus/raftio_load.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct snapmeta {
	raft_index index;
	raft_term term;
	raft_index conf_index;
	uint64_t len;
};

void
raftio_snapshot_free(struct raft_snapshot *snap)
{
	if (snap == NULL) {
		return;
	}
	raft_configuration_close(&snap->configuration);
	for (unsigned i = 0; i < snap->n_bufs; i++) {
		raft_free(snap->bufs[i].base);
	}
	raft_free(snap->bufs);
	raft_free(snap);
}

/* snapmeta_decode reads the fixed header of the "snapshot" meta value and,
 * if conf is not NULL, rebuilds its configuration with libraft's heap (so
 * that libraft can take it over). Returns 0, RAFT_CORRUPT or RAFT_NOMEM. */
static int
snapmeta_decode(const MDB_val *v, struct snapmeta *m,
                struct raft_configuration *conf)
{
	const uint8_t *p = v->mv_data, *end = p + v->mv_size;
	uint32_t n;
	int rv;

	if (v->mv_size < RAFTIO_SNAP_HDR || p[0] != 1) {
		return RAFT_CORRUPT;
	}
	m->index = raftio_get64(p + 1);
	m->term = raftio_get64(p + 9);
	m->conf_index = raftio_get64(p + 17);
	m->len = raftio_get64(p + 25);
	n = raftio_get32(p + 33);
	if (conf == NULL) {
		return 0;
	}
	p += RAFTIO_SNAP_HDR;
	for (uint32_t i = 0; i < n; i++) {
		char *addr;
		size_t alen;

		if (end - p < 11) {
			return RAFT_CORRUPT;
		}
		alen = (size_t)p[9] << 8 | p[10];
		if ((size_t)(end - p) < 11 + alen) {
			return RAFT_CORRUPT;
		}
		if ((addr = malloc(alen + 1)) == NULL) {
			return RAFT_NOMEM;
		}
		memcpy(addr, p + 11, alen);
		addr[alen] = '\0';
		rv = raft_configuration_add(conf, raftio_get64(p), addr, p[8]);
		free(addr);
		if (rv != 0) {
			return rv == RAFT_NOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
		}
		p += 11 + alen;
	}
	return p == end ? 0 : RAFT_CORRUPT;
}

/* read_snapshot builds the stored snapshot in txn, NULL if there is none.
 */
static int
read_snapshot(struct raftio_store *s, MDB_txn *txn, struct raft_snapshot **out,
              char *errmsg, size_t errlen)
{
	MDB_val k = raftio_strkey("snapshot"), v;
	struct raft_snapshot *snap;
	struct snapmeta m;
	uint8_t key[4];
	uint8_t *data;
	uint64_t off;
	int rc, rv;

	*out = NULL;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc != 0) {
		raftio_errf(errmsg, errlen, "read snapshot: %s",
		            mdb_strerror(rc));
		return raftio_store_raft_err(rc);
	}
	if ((snap = raft_calloc(1, sizeof(*snap))) == NULL) {
		return RAFT_NOMEM;
	}
	raft_configuration_init(&snap->configuration);
	if ((rv = snapmeta_decode(&v, &m, &snap->configuration)) != 0) {
		raftio_errf(errmsg, errlen, "snapshot metadata is %s",
		            rv == RAFT_NOMEM ? "too big" : "malformed");
		goto err;
	}
	snap->index = m.index;
	snap->term = m.term;
	snap->configuration_index = m.conf_index;
	rv = RAFT_NOMEM;
	if (m.len > SIZE_MAX ||
	    (snap->bufs = raft_malloc(sizeof(*snap->bufs))) == NULL) {
		goto err;
	}
	/* libraft hands bufs[0].base to the FSM's restore, which frees it;
	 * give it a real allocation even for empty data. */
	if ((data = raft_malloc(m.len > 0 ? (size_t)m.len : 1)) == NULL) {
		goto err;
	}
	snap->bufs[0].base = data;
	snap->bufs[0].len = (size_t)m.len;
	snap->n_bufs = 1;
	for (off = 0; off < m.len; off += v.mv_size) {
		uint64_t want =
		    m.len - off < RAFTIO_CHUNK ? m.len - off : RAFTIO_CHUNK;

		raftio_put32(key, (uint32_t)(off / RAFTIO_CHUNK));
		k.mv_size = sizeof(key);
		k.mv_data = key;
		rc = mdb_get(txn, s->snap, &k, &v);
		if (rc != 0 || v.mv_size != want) {
			raftio_errf(errmsg, errlen,
			            "snapshot %llu: chunk %u: %s", snap->index,
			            (unsigned)(off / RAFTIO_CHUNK),
			            rc != 0 ? mdb_strerror(rc) : "wrong size");
			rv = rc != 0 && rc != MDB_NOTFOUND
			         ? raftio_store_raft_err(rc)
			         : RAFT_CORRUPT;
			goto err;
		}
		memcpy(data + off, v.mv_data, v.mv_size);
	}
	*out = snap;
	return 0;

err:
	raftio_snapshot_free(snap);
	return rv;
}

/* find_run locates the run of entries load returns: the contiguous run
 * that ends at the last entry. Entries before a hole are dropped only if
 * the snapshot covers the hole (a run left behind when the snapshot was
 * taken); any other hole is corruption. */
static int
find_run(struct raftio_store *s, MDB_cursor *c, raft_index snap_index,
         raft_index *first, size_t *count, size_t *bytes, char *errmsg,
         size_t errlen)
{
	MDB_val k, v;
	raft_index prev = 0, idx;
	int rc;

	*first = 0;
	*count = 0;
	*bytes = 0;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size < RAFTIO_ENTRY_HDR) {
			raftio_errf(errmsg, errlen, "malformed log record");
			return RAFT_CORRUPT;
		}
		idx = raftio_get64(k.mv_data);
		if (*count > 0 && idx != prev + 1) {
			if (snap_index == 0 || idx > snap_index + 1) {
				raftio_errf(errmsg, errlen,
				            "hole in the log after index %llu",
				            prev);
				return RAFT_CORRUPT;
			}
			*count = 0;
			*bytes = 0;
		}
		if (*count == 0) {
			*first = idx;
		}
		(*count)++;
		*bytes += v.mv_size - RAFTIO_ENTRY_HDR;
		prev = idx;
	}
	if (rc != MDB_NOTFOUND) {
		raftio_errf(errmsg, errlen, "read log: %s", mdb_strerror(rc));
		return raftio_store_raft_err(rc);
	}
	(void)s;
	if (*count > 0 && snap_index > 0 && prev < snap_index) {
		*count = 0; /* entirely behind the snapshot */
	}
	if (*count > 0 && *first > (snap_index > 0 ? snap_index + 1 : 1)) {
		raftio_errf(errmsg, errlen,
		            "log starts at %llu after snapshot %llu", *first,
		            snap_index);
		return RAFT_CORRUPT;
	}
	return 0;
}

static int
read_entries(struct raftio_store *s, MDB_txn *txn, raft_index snap_index,
             raft_index *start, struct raft_entry **out, size_t *n,
             char *errmsg, size_t errlen)
{
	struct raft_entry *entries = NULL;
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t key[8];
	uint8_t *batch = NULL;
	size_t count, bytes, off = 0;
	raft_index first;
	int rc, rv;

	*start = snap_index + 1;
	*out = NULL;
	*n = 0;
	if ((rc = mdb_cursor_open(txn, s->log, &c)) != 0) {
		raftio_errf(errmsg, errlen, "read log: %s", mdb_strerror(rc));
		return raftio_store_raft_err(rc);
	}
	rv = find_run(s, c, snap_index, &first, &count, &bytes, errmsg, errlen);
	if (rv != 0 || count == 0) {
		goto out;
	}
	rv = RAFT_NOMEM;
	if ((entries = raft_calloc(count, sizeof(*entries))) == NULL ||
	    (batch = raft_malloc(bytes > 0 ? bytes : 1)) == NULL) {
		goto out;
	}
	raftio_put64(key, first);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = v.mv_data;
		struct raft_entry *e = &entries[i];

		if (rc != 0) {
			raftio_errf(errmsg, errlen, "read log: %s",
			            mdb_strerror(rc));
			rv = raftio_store_raft_err(rc);
			goto out;
		}
		e->term = raftio_get64(p);
		e->type = p[8];
		if (e->type < RAFT_COMMAND || e->type > RAFT_CHANGE) {
			raftio_errf(errmsg, errlen, "log entry %llu: type %u",
			            first + i, e->type);
			rv = RAFT_CORRUPT;
			goto out;
		}
		e->buf.len = v.mv_size - RAFTIO_ENTRY_HDR;
		e->buf.base = batch + off;
		e->batch = batch;
		memcpy(batch + off, p + RAFTIO_ENTRY_HDR, e->buf.len);
		off += e->buf.len;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	*start = first;
	*out = entries;
	*n = count;
	entries = NULL;
	batch = NULL;
	rv = 0;
out:
	mdb_cursor_close(c);
	raft_free(batch);
	raft_free(entries);
	return rv;
}

int
raftio_load(struct raftio_store *s, raft_term *term, raft_id *vote,
            struct raft_snapshot **snap, raft_index *start,
            struct raft_entry **entries, size_t *n, char *errmsg, size_t errlen)
{
	MDB_txn *txn = NULL;
	uint64_t t, vf;
	int rc, rv;

	*snap = NULL;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = raftio_store_get_u64(s, txn, "term", &t)) != 0 ||
	    (rc = raftio_store_get_u64(s, txn, "vote", &vf)) != 0) {
		raftio_errf(errmsg, errlen, "load: %s", mdb_strerror(rc));
		if (rc != 0 && txn != NULL) {
			mdb_txn_abort(txn);
		}
		return raftio_store_raft_err(rc);
	}
	rv = read_snapshot(s, txn, snap, errmsg, errlen);
	if (rv == 0) {
		rv = read_entries(s, txn, *snap ? (*snap)->index : 0, start,
		                  entries, n, errmsg, errlen);
	}
	mdb_txn_abort(txn);
	if (rv != 0) {
		raftio_snapshot_free(*snap);
		*snap = NULL;
		return rv;
	}
	*term = t;
	*vote = vf;
	return 0;
}

int
raftio_load_snapshot(struct raftio_store *s, struct raft_snapshot **out,
                     char *errmsg, size_t errlen)
{
	MDB_txn *txn;
	int rc, rv;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) {
		raftio_errf(errmsg, errlen, "snapshot: %s", mdb_strerror(rc));
		return raftio_store_raft_err(rc);
	}
	rv = read_snapshot(s, txn, out, errmsg, errlen);
	mdb_txn_abort(txn);
	if (rv == 0 && *out == NULL) {
		raftio_errf(errmsg, errlen, "no snapshot stored");
		return RAFT_NOTFOUND;
	}
	return rv;
}
