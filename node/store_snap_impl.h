/* Internals shared by the snapshot sender (store_snap.c) and receiver
 * (store_stage.c): the chunk format's constants and the content hash. */
#ifndef TB_NODE_STORE_SNAP_IMPL_H
#define TB_NODE_STORE_SNAP_IMPL_H

#include "node/store_db.h"
#include "node/store_snap.h"

#include <sodium.h>

/* A chunk is the msgpack array [SNAP_MAGIC, SNAP_VERSION, seq, index,
 * term, [[db, key, value]...], tail], tail nil or [count, hash]. */
#define SNAP_MAGIC    "tbsnap"
#define SNAP_VERSION  1
#define SNAP_OVERHEAD 128 /* bytes of a chunk's header and tail, at most */

/* snap_hash_db starts database i in the content hash (its name and a 0),
 * as store_digest does for every database, empty or not, except one from
 * DB_FIRST_OPTIONAL on, which is hashed only when has_rec (it holds a
 * record). */
void snap_hash_db(crypto_generichash_state *h, int i, bool has_rec);

/* snap_hash_rec adds one record of database i to the content hash, unless
 * it is meta "applied", which store_digest leaves out too. */
void snap_hash_rec(crypto_generichash_state *h, int i, const MDB_val *k,
                   const MDB_val *v);

/* snap_db_index returns the database named name (n bytes), or -1. */
int snap_db_index(const char *name, size_t n);

/* Files of the swap (store_swap.c; fsync through consensus/fsync.h).
 * snap_sibling writes DIR plus suffix to out (PATH_MAX bytes); snap_rm_dir
 * deletes a store directory and its files (absent is fine); snap_rename_dir
 * renames and fsyncs the parent. The last two return TB_OK or TB_EIO with
 * errmsg. */
void snap_sibling(char *out, const char *dir, const char *suffix);
int snap_rm_dir(const char *path, char *errmsg, size_t errlen);
int snap_rename_dir(const char *from, const char *to, char *errmsg,
                    size_t errlen);

#endif
