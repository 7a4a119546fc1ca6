/* Reading a raftio store for libraft: load at start-up and snapshot_get. */
#ifndef TB_CONSENSUS_RAFTIO_LOAD_H
#define TB_CONSENSUS_RAFTIO_LOAD_H

#include <stddef.h>

#include <raft.h>

#include "consensus/raftio_store.h"

/* raftio_load reads everything libraft's load wants, in one read
 * transaction: term, vote, the snapshot and the entries after it (or the
 * trailing ones kept before it). *snap (NULL if none) is raft_malloc'd with
 * one buffer and a configuration built on libraft's heap; *entries (NULL if
 * none) is one raft_malloc'd array whose payloads share a single
 * raft_malloc'd batch, which is how libraft frees loaded entries. Returns 0
 * or a RAFT_* code with errmsg (RAFT_CORRUPT for a hole in the log or a
 * malformed record), and then nothing is allocated. Safe on any thread. */
int raftio_load(struct raftio_store *s, raft_term *term, raft_id *vote,
                struct raft_snapshot **snap, raft_index *start,
                struct raft_entry **entries, size_t *n, char *errmsg,
                size_t errlen);

/* raftio_load_snapshot reads the latest snapshot into a raft_malloc'd
 * struct as libraft's snapshot_get hands over (freed by
 * raftio_snapshot_free if libraft does not take it). RAFT_NOTFOUND if there
 * is none. Safe on any thread. */
int raftio_load_snapshot(struct raftio_store *s, struct raft_snapshot **out,
                         char *errmsg, size_t errlen);

/* raftio_snapshot_free frees a snapshot from this module; NULL is a
 * no-op. */
void raftio_snapshot_free(struct raft_snapshot *snap);

#endif
