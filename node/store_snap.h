/* Streamed snapshots of the store: the replicated databases out of one read
 * transaction in bounded chunks, into a staging environment on the
 * receiving member, swapped in atomically. */
#ifndef TB_NODE_STORE_SNAP_H
#define TB_NODE_STORE_SNAP_H

#include "node/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * libraft passes a snapshot as one buffer and restores it in memory; the
 * region's state lives in LMDB and may be gigabytes. So the snapshot libraft
 * holds is a small MARKER {index, term, content hash}, and the state travels
 * beside it as a sequence of CHUNKS (docs/STORE.md "Snapshots" has the byte
 * format and the swap protocol).
 *
 * Happy path, as the network half is meant to drive it:
 *
 *   sender (the leader, any thread but one at a time per stream):
 *     store_snapshot_begin(s, term, 0, true, &sn, &marker)   one read txn
 *     loop: store_snapshot_next(sn, &buf, &len, &last)  send buf; free(buf)
 *           until last
 *     store_snapshot_end(sn)                            ends the read txn
 *
 *   receiver (the follower's writer thread):
 *     store_snapshot_stage_begin(dir, &marker, store_region(s), map, ...)
 *     for each chunk in order: store_snapshot_stage_write(st, buf, len)
 *     store_snapshot_stage_finish(st)    verify hash, sync, publish DIR.new
 *     stop every reader of s; store_snapshot_swap(&s, dir, &opt, ...)
 *     only then record the marker as the Raft snapshot (raft_io
 *     snapshot_put), so a crash before that point leaves the old store and
 *     the old snapshot, and the leader simply sends again.
 *
 * Failure modes: any bad chunk (malformed msgpack, wrong magic or version,
 * a sequence gap, another index or term, an unknown database, keys out of
 * order, a value of a wrong region or layout, a count or hash that does not
 * match the marker, a stream that ends without its final chunk) makes the
 * stage call fail with a precise errmsg; the stage is then unusable: call
 * store_snapshot_stage_abort, which deletes it. The live store is never
 * touched before store_snapshot_swap, and a crash at any instant of the
 * swap leaves, after store_open's recovery, either the old store or the new
 * one, never a mix.
 *
 * Memory: the sender holds one chunk (chunk_max bytes, plus a small table
 * of pointers into the read transaction) at a time; the receiver decodes one
 * chunk at a time and commits each in its own LMDB write transaction, so
 * neither side ever holds the state in memory.
 */

/* The default target size of a chunk. A record larger than the target
 * travels alone in a chunk of its own, up to STORE_SNAP_CHUNK_HARD, the
 * largest chunk a receiver accepts. */
#define STORE_SNAP_CHUNK       ((size_t)1 << 20)
#define STORE_SNAP_CHUNK_HARD  ((size_t)64 << 20)
#define STORE_SNAP_MARKER_SIZE 64 /* bytes of an encoded marker */

/* What the Raft snapshot holds: the applied index the chunks were read at,
 * the term the caller gave (the term of the entry at index), and the
 * content hash, which equals store_digest() of a store at that index, or
 * all zero when the sender did not compute it first. */
struct store_snap_marker {
	uint64_t index;
	uint64_t term;
	uint8_t hash[32];
};

/* store_snapshot_marker_encode writes m's fixed 64-byte encoding to buf
 * ("TBSNAPM1", index, term, hash, zero padding; docs/STORE.md). */
void store_snapshot_marker_encode(const struct store_snap_marker *m,
                                  uint8_t buf[STORE_SNAP_MARKER_SIZE]);

/* store_snapshot_marker_decode reads a marker: TB_OK, or TB_EMALFORMED when
 * len or the magic is wrong (errmsg says which). */
int store_snapshot_marker_decode(const uint8_t *buf, size_t len,
                                 struct store_snap_marker *m, char *errmsg,
                                 size_t errlen);

/* ---- sending ---------------------------------------------------------- */

struct store_snap;

/* store_snapshot_begin opens a read transaction on s (it sees what is
 * committed: commit an open batch first, e.g. with store_sync) and reads
 * its applied index into *marker (term as given). With hash_first it also
 * hashes the replicated databases (one full read pass, no copy) into
 * marker->hash; without, marker->hash is all zero ("not known": a receiver
 * then checks only against the hash the final chunk carries, which the
 * sender computes as the records go out). chunk_max is the target chunk size
 * (0: STORE_SNAP_CHUNK; at least 4096). On TB_OK *out is the stream; end it
 * with store_snapshot_end. The transaction pins the pages it reads, so a
 * stream should not be kept open longer than the transfer. Errors:
 * TB_EINVAL (chunk_max), TB_ENOMEM, or an LMDB error code. */
int store_snapshot_begin(struct store *s, uint64_t term, size_t chunk_max,
                         bool hash_first, struct store_snap **out,
                         struct store_snap_marker *marker);

/* store_snapshot_next encodes the next chunk into a new buffer (*buf, *len;
 * the caller frees it with free()). *last is true for the final chunk,
 * which carries the record count and the hash; after it, TB_ENOTFOUND.
 * TB_ETOOBIG when a record does not fit in STORE_SNAP_CHUNK_HARD. */
int store_snapshot_next(struct store_snap *sn, uint8_t **buf, size_t *len,
                        bool *last);

/* store_snapshot_end ends the read transaction and frees sn (NULL: no-op). */
void store_snapshot_end(struct store_snap *sn);

/* ---- receiving -------------------------------------------------------- */

struct store_stage;

/* store_snapshot_stage_begin creates the staging environment DIR.stage
 * (deleting a leftover one: one stage per store at a time, so a newer
 * install snapshot must abort the running one first) beside the store
 * directory dir, to receive the
 * chunks of the snapshot named by marker (copied). region is the receiving
 * store's region (store_region): a snapshot of another region is refused at
 * the end. map_size 0 means the store's default (1 GiB). TB_OK and *out, or
 * TB_EIO / TB_ENOMEM with errmsg. */
int store_snapshot_stage_begin(const char *dir,
                               const struct store_snap_marker *marker,
                               const char *region, size_t map_size,
                               struct store_stage **out, char *errmsg,
                               size_t errlen);

/* store_snapshot_stage_write decodes one chunk (buf, len bytes, only read
 * during the call) and commits its records to the stage. TB_OK, or an error
 * with errmsg naming the reason: TB_ETOOBIG, TB_EMALFORMED, TB_ECORRUPT
 * (wrong marker, order, count or hash), TB_EINVAL (a chunk after the final
 * one), TB_EFULL, TB_EIO. After an error the stage refuses everything. */
int store_snapshot_stage_write(struct store_stage *st, const uint8_t *buf,
                               size_t len, char *errmsg, size_t errlen);

/* store_snapshot_stage_finish checks that the final chunk arrived and that
 * the stage is the snapshot the marker names (content hash, applied index,
 * layout, region), syncs it, closes it and publishes it as DIR.new (rename
 * and fsync of the parent). Always frees st; on failure the stage is
 * deleted: TB_ETRUNC (no final chunk), TB_ECORRUPT, TB_EIO. */
int store_snapshot_stage_finish(struct store_stage *st, char *errmsg,
                                size_t errlen);

/* store_snapshot_stage_abort deletes the stage and frees st (NULL: no-op). */
void store_snapshot_stage_abort(struct store_stage *st);

/* store_snapshot_swap replaces the store in dir by the published DIR.new:
 * closes *s (no reader may be running), swaps the directories, and opens
 * the new store into *s with opt (as store_open; opt->region may be NULL,
 * and opt->index_key must be the group's, as for the old store).
 * On failure *s is NULL and errmsg says why; store_open(dir) then recovers
 * whichever store the protocol left (docs/STORE.md). Writer only. */
int store_snapshot_swap(struct store **s, const char *dir,
                        const struct store_options *opt, char *errmsg,
                        size_t errlen);

/* store_snapshot_swap_live does the same swap under a store that stays in
 * use: it waits for every reader and the writer's batch to leave (the
 * store's gate, store_db.h), replaces the environment behind the same
 * struct store, and lets them in again. No batch may be open (commit it on
 * the writer first, e.g. applier_sync), and the caller must hold no read
 * transaction of s (a snapshot stream included): it would wait for itself.
 * TB_ENOTFOUND (no stage) and TB_ECONFLICT (a batch open) leave the store
 * as it was. On another failure the store is reopened as store_open's
 * recovery leaves it (the old store or the new one) when it can; when it
 * cannot, store_is_open turns false and every use of s answers TB_ECLOSED:
 * the caller must stop. */
int store_snapshot_swap_live(struct store *s, const char *dir,
                             const struct store_options *opt, char *errmsg,
                             size_t errlen);

/* store_is_open is false after a live swap that could not reopen a
 * store. */
bool store_is_open(struct store *s);

/* store_snapshot_swap_steps runs the first `steps` of the swap's file steps
 * on a closed store (1: DIR -> DIR.old, 2: DIR.new -> DIR, 3: delete
 * DIR.old; each followed by an fsync of the parent), then stops as if the
 * process died: the tests' crash points. steps >= 3 is the whole swap. */
int store_snapshot_swap_steps(const char *dir, int steps, char *errmsg,
                              size_t errlen);

/* store_snapshot_recover applies the recovery rule to dir's siblings
 * (DIR.stage, DIR.new, DIR.old) so that exactly the old or the new store
 * is in dir; store_open calls it first. TB_OK or TB_EIO. */
int store_snapshot_recover(const char *dir, char *errmsg, size_t errlen);

#endif
