/* The state store's writer thread: applies committed entries in batches. */
#ifndef TB_NODE_APPLIER_H
#define TB_NODE_APPLIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

struct node;
struct http_call;
struct applier;

/*
 * Happy path: libraft calls the node's fsm_apply on the loop thread for
 * each committed entry. fsm_apply hands the entry to applier_stage (a copy
 * of its bytes, and the HTTP call waiting for it, if any); the loop's
 * prepare handle calls applier_submit once per loop iteration, which moves
 * what was staged to the writer thread in one go. The writer applies up to
 * APPLIER_BATCH_MAX entries in one LMDB write transaction
 * (store_batch_begin / store_apply / store_batch_commit: one fdatasync per
 * batch), and only after that commit hands the calls of the batch to the
 * applier's reply thread, which serialises their replies and finishes their
 * aios (nng's aio is thread-safe) while the writer goes on with the next
 * batch; no reply body is built on the loop or on the writer. A batch of
 * case creations only is answered before its commit (APPLIER_DEFER_MS):
 * every reply acknowledges an entry that Raft holds durably, and every
 * request but a case creation first waits for the store's commit of what
 * was answered (applier_barrier).
 *
 * LMDB binds a write transaction to the thread that began it, so every
 * write transaction of the store, and store_sync, runs on the writer. The
 * loop never waits on the store's fsync, except in applier_sync, which
 * snapshots and restores use (rare) so that a snapshot marker never names
 * an index the store does not hold yet.
 *
 * Failure modes: a store_apply or batch commit failure (map full, I/O,
 * corruption, an unknown command type) is sticky. The applier answers the
 * calls of the lost batch and every later one with 503, logs
 * TB-STORE-FULL or TB-APPLY-FAILED, and wakes the loop (on_fail) to stop the
 * node; Raft replays the lost entries from its log on the next start.
 */

/* At most this many applies share one store commit. libraft applies every
 * committed entry at once (after a restart, all of them since the last
 * snapshot), and a batch keeps its dirty pages in memory until it commits;
 * this bounds that memory and LMDB's dirty-page limit. */
#define APPLIER_BATCH_MAX 256

/* applier_start starts the writer thread for n->store on n->loop. on_fail
 * runs on the loop after the writer hit a failure (applier_error says
 * which); on_progress (may be NULL) on the loop after commits (wake-ups
 * coalesce: it may see several). TB_OK, or TB_ENOMEM / TB_EIO; *out is
 * then NULL. */
int applier_start(struct node *n, void (*on_fail)(struct node *n),
                  void (*on_progress)(struct node *n), struct applier **out);

/* A completion on the loop thread for an entry that no HTTP call waits
 * for (a write forwarded by another member): rv is TB_OK once the entry is
 * durable, with res its result (stolen, may be NULL), or the writer's
 * failure with res NULL. */
typedef void (*applier_done_fn)(void *arg, int rv, json_t *res);

/* applier_stage queues (loop thread) the committed entry at index, whose
 * len bytes at buf are copied; c (may be NULL) is answered (reply thread)
 * once the entry is durable, and is owned by the applier from now on; or
 * else done (may be NULL) runs with arg on the loop after the commit
 * (also at applier_stop, for what the writer left). TB_OK or TB_ENOMEM
 * (nothing queued, c and arg not taken). */
int applier_stage(struct applier *a, uint64_t index, const void *buf,
                  size_t len, struct http_call *c, applier_done_fn done,
                  void *arg);

/* Case creations (the common write) are answered once applied, before
 * their batch's commit, which follows within this many milliseconds, when
 * a reader asks (applier_barrier) or when the batch is full: one store
 * commit serves many Raft rounds. The Raft log already holds each of them
 * durably on a majority, and a restart re-applies whatever the store had
 * not committed; reads wait for the commit (applier_barrier). */
#define APPLIER_DEFER_MS 20

/* applier_barrier returns once every write answered so far is committed in
 * the store, so that a request that reads the store after a reply sees
 * that reply's write: at once when nothing answered waits, else after
 * asking the writer to commit now (about one commit). Any thread but the
 * writer's. TB_OK, or TB_ETIMEOUT after timeout_ms, or the writer's
 * failure. */
int applier_barrier(struct applier *a, int timeout_ms);

/* applier_pending: a write was answered that the store has not committed
 * yet (any thread). */
bool applier_pending(struct applier *a);

/* applier_flush asks the writer to commit such writes now, without waiting
 * (the loop's readers: link_api.c's link gate). */
void applier_flush(struct applier *a);

/* applier_acked is the last index answered before its commit (any
 * thread); the store holds it once applier_durable reaches it. */
uint64_t applier_acked(struct applier *a);

/* applier_durable is the last index the writer committed (any thread). */
uint64_t applier_durable(const struct applier *a);

/* applier_staged is the last index staged (loop thread). */
uint64_t applier_staged(const struct applier *a);

/* applier_submit hands everything staged to the writer (loop thread). */
void applier_submit(struct applier *a);

/* applier_sync submits what is staged, waits until the writer applied and
 * committed it all, then forces the store to disk (store_sync). It blocks
 * the calling loop thread: for snapshots, restores and stopping only.
 * TB_OK, or the writer's sticky failure, or TB_EIO. */
int applier_sync(struct applier *a);

/* applier_idle: every entry staged so far is applied and committed. */
bool applier_idle(const struct applier *a);

/* applier_error: the writer's sticky failure (TB_*), or 0. Any thread. */
int applier_error(const struct applier *a);

/* applier_stop waits for the writer to finish what was submitted, stops
 * it and closes its loop handles, then waits for the reply thread to
 * answer every call handed to it and stops it; applier_free (after the loop
 * ended) releases a. Both accept NULL. */
void applier_stop(struct applier *a);
void applier_free(struct applier *a);

#endif
