/* The node's side of a case's handoff between regions (docs/HANDOFF.md):
 * the frames over the links, routed hop by hop, and the driver on the
 * leader that resends what the committed records ask for. */
#ifndef TB_NODE_HANDOFF_H
#define TB_NODE_HANDOFF_H

#include <jansson.h>
#include <lmdb.h>
#include <stdbool.h>

struct node;
struct store;

/* One-way: {"to": REGION, "hops": n, "frames": [frame, ...]}, every frame
 * for region REGION, relayed by the regions on the way. */
#define REGION_T_HANDOFF 51

/* Request: a chunk of a material of a case being handed over
 * (node/handoff_blob.c). */
#define REGION_T_HBLOB    52
#define HANDOFF_CHUNK_MAX (256u << 10)

/* At most this many frames travel in one message (and one command). */
#define HANDOFF_BATCH_MAX 256

/* The driver's resend timeout: from 50 ms, doubling, up to 5 s. */
#define HANDOFF_BACKOFF_MIN_MS 50
#define HANDOFF_BACKOFF_MAX_MS 5000

/* handoff_init allocates n's handoff state (before the loop runs): 0, or
 * -1 out of memory. */
int handoff_init(struct node *n);

/* handoff_start registers the link handler (no-op without links). */
void handoff_start(struct node *n);

/* handoff_tick and handoff_progress run the driver on the leader (every
 * tick, and after the store committed applies). Loop thread. */
void handoff_tick(struct node *n);
void handoff_progress(struct node *n);

/* handoff_free releases n's handoff state. Safe when not initialised. */
void handoff_free(struct node *n);

/* handoff_frame_build builds frame kind ("offer", "accept", ...) of the
 * handoff rec (a committed record: its case, epoch, attempt and peer) as
 * this region sends it, reading the case and its events for an offer;
 * *out a new reference. Any thread, in txn. */
int handoff_frame_build(struct store *s, MDB_txn *txn, const char *self,
                        const json_t *rec, const char *kind, json_t **out);

/* ---- materials (node/handoff_blob.c) ---- */

/* handoff_blob_start registers the chunk handler (no-op without links). */
void handoff_blob_start(struct node *n);

/* handoff_blobs_missing lists (*missing, a new array) the hashes of the
 * materials the case record of offer frame fr names that this node lacks.
 * TB_OK or TB_ENOMEM. */
int handoff_blobs_missing(struct node *n, const json_t *fr, json_t **missing);

/* handoff_blobs_fetch fetches the materials in missing (stolen) from
 * region `from`, in chunks, checks and stores them, then calls done(arg,
 * rv) once (TB_OK when all are here; it may run inside this call on an
 * early failure). Loop thread. */
typedef void (*handoff_blobs_fn)(void *arg, int rv);
void handoff_blobs_fetch(struct node *n, const char *from, json_t *missing,
                         handoff_blobs_fn done, void *arg);

#endif
