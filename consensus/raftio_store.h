/* The on-disk layout of a raftio store in LMDB, opening it, and the writes
 * the writer thread makes inside its transactions. */
#ifndef TB_CONSENSUS_RAFTIO_STORE_H
#define TB_CONSENSUS_RAFTIO_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>
#include <raft.h>

/* Layout, format 1 (meta "format"); integers are big-endian:
 *   meta  "format"   u32 1
 *         "term"     u64 current term
 *         "vote"     u64 server voted for in that term, 0 for none
 *         "snapshot" u8 1 | u64 index | u64 term | u64 conf_index |
 *                    u64 data length | u32 n servers | per server:
 *                    u64 id | u8 role | u16 address length | address
 *   log   u64 index -> u64 term | u8 type | payload
 *   snap  u32 chunk -> the latest snapshot's data, in 1 MiB chunks
 * The log holds one contiguous run of indexes: from 1 (no snapshot) or
 * from at most the snapshot's index + 1. */
#define RAFTIO_FORMAT    1
#define RAFTIO_ENTRY_HDR 9                 /* u64 term | u8 type */
#define RAFTIO_SNAP_HDR  (1 + 8 * 4 + 4)   /* up to n servers */
#define RAFTIO_CHUNK     ((size_t)1 << 20) /* snapshot data chunk */

/* Big-endian integers of the layout. */
static inline void
raftio_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t
raftio_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

static inline void
raftio_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t
raftio_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

struct raftio_store {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi log;
	MDB_dbi snap;
};

/* raftio_store_open opens or creates the store in dir. Returns 0 or a
 * RAFT_* code with errmsg; on failure s is left closed. */
int raftio_store_open(struct raftio_store *s, const char *dir, size_t map_size,
                      char *errmsg, size_t errlen);

/* raftio_store_close closes s; safe on a store that failed to open. */
void raftio_store_close(struct raftio_store *s);

/* raftio_store_raft_err maps an LMDB or errno code onto a RAFT_* code. */
int raftio_store_raft_err(int mdb_rc);

/* The writes below run inside txn and return an LMDB/errno code. */

/* raftio_store_get_u64 reads a meta value; a missing key reads 0. */
int raftio_store_get_u64(struct raftio_store *s, MDB_txn *txn, const char *key,
                         uint64_t *v);
int raftio_store_put_u64(struct raftio_store *s, MDB_txn *txn, const char *key,
                         uint64_t v);

/* raftio_store_tail sets *next to the index the next appended entry must
 * have, and *last_term to the term of the entry before it (that of the
 * snapshot if the log is empty, 0 if there is nothing at all). */
int raftio_store_tail(struct raftio_store *s, MDB_txn *txn, raft_index *next,
                      raft_term *last_term);

/* raftio_store_is_pristine sets *yes when there is no term, log or
 * snapshot. */
int raftio_store_is_pristine(struct raftio_store *s, MDB_txn *txn, int *yes);

/* raftio_store_put_entries writes n entries at first, first... which must
 * be past every index in the log; payloads are copied. */
int raftio_store_put_entries(struct raftio_store *s, MDB_txn *txn,
                             raft_index first, const struct raft_entry *e,
                             unsigned n, uint64_t *bytes);

/* raftio_store_delete_from deletes the entries at index and after. */
int raftio_store_delete_from(struct raftio_store *s, MDB_txn *txn,
                             raft_index index);

/* raftio_store_delete_upto deletes the entries at index and before;
 * RAFTIO_ALL deletes them all. */
#define RAFTIO_ALL UINT64_MAX
int raftio_store_delete_upto(struct raftio_store *s, MDB_txn *txn,
                             raft_index index);

/* raftio_store_put_snapshot replaces the stored snapshot: metadata and the
 * concatenation of its buffers. */
int raftio_store_put_snapshot(struct raftio_store *s, MDB_txn *txn,
                              const struct raft_snapshot *snap);

/* raftio_errf formats a message into errmsg (may be NULL). */
void raftio_errf(char *errmsg, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* raftio_strkey makes an LMDB key of a C string (not copied). */
MDB_val raftio_strkey(const char *key);

#endif
