/* The replicated state of one region in LMDB, and the deterministic apply
 * of committed commands. */
#ifndef TB_NODE_STORE_H
#define TB_NODE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One store is one LMDB environment (a directory) holding what the region's
 * Raft group agrees on: the catalog layers, cases and their events, the
 * indexes, counters, idempotency records, tokens and the applied index.
 * docs/STORE.md describes every database, key and value.
 *
 * Happy path: the Raft glue calls store_apply(index, bytes) for each
 * committed entry in index order, from one thread (the writer). Each call is
 * one LMDB write transaction that writes the command's changes and the
 * applied index together, so an entry is either applied with its index or
 * not at all. Readers (HTTP handlers, any thread) call the store_* reads;
 * each opens its own read transaction, sees one committed state, and never
 * blocks or is blocked by the writer.
 *
 * Failure modes: a command the state machine refuses (illegal transition,
 * stale version, invalid release...) is a RESULT ({"error": ...}) that
 * changes nothing but the applied index; store_apply returns non-zero only
 * when the member cannot go on (map full, I/O, corruption, an unknown
 * command type), and then nothing of the entry was written.
 *
 * Durability decision: the environment is opened with MDB_NOMETASYNC and
 * MDB_NOTLS. The Raft log, a separate store, is fsynced before an entry
 * commits, and libraft re-applies every entry after the last snapshot on
 * each start; entries at or below the stored applied index are skipped. So
 * an apply need not be durable, but the environment must stay consistent:
 * after a power loss it must hold some committed prefix of the applies for
 * Raft to replay the rest onto. MDB_NOMETASYNC gives that: each commit
 * fdatasyncs its data pages before it writes its meta page (unsynced), so
 * the newest meta page on disk never points at pages that are not there,
 * and a power loss undoes at most the last apply. It costs one fdatasync
 * per apply. MDB_NOSYNC (the earlier choice) does not: the kernel writes
 * dirty pages back in no particular order (ext4 data=ordered orders data
 * before metadata, not one overwrite before another, and LMDB's meta pages
 * are the first pages of the file), so a power cut during writeback can
 * leave a meta page naming pages that were never written, or pages of the
 * last synced state overwritten by later transactions, and LMDB has no
 * checksums: tests/node_powercut.t's writeback cuts left stores that
 * failed every apply ("stored data is corrupt") or read as empty.
 * store_sync() (mdb_env_sync, forced) must still be called before a
 * snapshot is reported to Raft, since the log before it may then be
 * truncated; store_close() syncs too. store_open fsyncs the store's
 * directory and its parent so that the files' names survive a power loss.
 * MDB_NOTLS lets a read transaction be used from any thread (one per call
 * here).
 *
 * Region binding: a store belongs to one region for its whole life. The
 * region code is given in store_options.region on the first open, written
 * to the meta database, and checked on every later open (NULL there means
 * "whatever is stored"). It decides case ids, which overlays are accepted
 * (this region's and its ancestors') and which province's releases.
 *
 * Threads: store_apply, store_sync and store_close belong to the writer
 * thread; every other function may be called from any thread at any time
 * while the store is open.
 */

struct store;

struct store_options {
	/* LMDB map size in bytes; 0 means 1 GiB. A full map is TB_EFULL from
	 * store_apply, an alarm, not a crash. */
	size_t map_size;
	/* 32-byte key of the keyed BLAKE2b that indexes applicants by their id
	 * number, copied by store_open (the caller keeps its buffer). It must
	 * be the same on every member of the group, since the index it keys is
	 * replicated state; NULL (tests) uses an all-zero key. */
	const uint8_t *index_key;
	/* The region code ("370102"), required on the first open, checked
	 * afterwards; borrowed for the call only. NULL on a later open. */
	const char *region;
};

/* store_open opens (creating if needed) the store in directory dir, which is
 * created if missing. opt may be NULL for defaults (then the store must
 * exist already); it and dir are only read during the call. On TB_OK *out
 * is the open store (close with store_close). On failure errmsg holds the
 * reason: TB_EINVAL (no region on first open, or a region different from the
 * stored one), TB_ECODE (not a region code), TB_ECORRUPT (not a store, or
 * an unknown layout version), TB_EIO, TB_ENOMEM. */
int store_open(const char *dir, const struct store_options *opt,
               struct store **out, char *errmsg, size_t errlen);

/* store_close syncs the environment to disk and frees s; NULL is a no-op.
 * No read may be running on another thread. */
void store_close(struct store *s);

/* store_sync commits an open batch, then forces everything committed so far
 * to disk (mdb_env_sync with force). Call it before reporting a snapshot.
 * TB_OK, or the batch's error, or TB_EIO. */
int store_sync(struct store *s);

/* store_batch_begin opens a batch (a no-op if one is open): the store_apply
 * calls until store_batch_commit share one LMDB write transaction, each
 * apply a nested transaction in it (a refusal or a failure drops only its
 * own writes), and one fdatasync at the commit instead of one per apply.
 * Nothing of a batch is visible to readers, or durable, before
 * store_batch_commit returns TB_OK; if it fails, the whole batch is lost
 * (TB_EFULL, TB_EIO, ...) and the member must stop: Raft applies it again
 * after a restart. Without a batch each store_apply commits on its own.
 * store_sync and store_close commit an open batch first. Writer only. */
int store_batch_begin(struct store *s);

/* store_batch_commit commits the open batch, if any: TB_OK or an error as
 * above. */
int store_batch_commit(struct store *s);

/* store_batch_abort drops the open batch, if any: none of its applies
 * happened. Writer only. */
void store_batch_abort(struct store *s);

/* STORE_REDO: store_apply in direct mode met a refusal (below). */
#define STORE_REDO (-2)

/* store_set_direct(s, true): in a batch, store_apply writes straight into
 * the batch's transaction instead of a nested one (whose begin allocates
 * LMDB's dirty and free lists and whose every page is copied from the
 * batch's: about 4% of the node's CPU per write, docs/BENCH.md). A
 * successful apply is the same either way. A refusal must write nothing,
 * and the handler may already have written when it refuses, so in direct
 * mode a refusal returns STORE_REDO (*result NULL) and leaves the batch
 * holding what the handler wrote: the caller must store_batch_abort it and
 * apply the batch's entries again without direct mode (node/applier.c).
 * Failures are returned as without it (the batch is lost either way).
 * Writer only; off by default. */
void store_set_direct(struct store *s, bool on);

/* store_applied_index returns the index of the last applied entry (0 for a
 * new store), or 0 if it cannot be read. */
uint64_t store_applied_index(struct store *s);

/* store_feature_level returns the group's replicated feature level (1 for
 * a store that never raised it, or if it cannot be read). */
unsigned store_feature_level(struct store *s);

/* store_region returns the store's region code ("370102"); the string lives
 * as long as s. */
const char *store_region(const struct store *s);

/* store_apply applies the command in buf (len bytes of a canonical msgpack
 * envelope, only read during the call) committed at index. On TB_OK
 * *result is a new JSON object the caller owns (json_decref): the success
 * payload ({"case": ...}, {"catalog": ...}, ...), or
 * {"error": {"code", "message", "field"}} for a refusal; or NULL when the
 * entry was skipped because index is at or below the applied index. A
 * non-zero return means nothing of the entry was written and *result is
 * NULL: TB_EFULL (map or transaction full; raise an alarm), TB_EIO,
 * TB_ECORRUPT, TB_ENOMEM, or TB_EUNKNOWN for a command type or body version
 * this build cannot decode (stop the member loudly). */
int store_apply(struct store *s, uint64_t index, const uint8_t *buf, size_t len,
                json_t **result);

/* store_digest hashes (BLAKE2b-256) every key and value of every replicated
 * database in a fixed order, except the applied index itself, into out; the
 * applied index of the same read is stored in *applied (may be NULL). Two
 * members at the same applied index must have the same digest; a refused
 * command leaves it unchanged. */
int store_digest(struct store *s, uint8_t out[32], uint64_t *applied);

/*
 * Reads. Each opens its own read transaction. On TB_OK *out is a new JSON
 * object the caller owns (json_decref); on failure *out is NULL. String
 * parameters are borrowed for the call only. now_ms is the caller's clock
 * (Unix ms), used only to compute warn and overdue at read time.
 */

/* store_status: {"region", "applied_index", "last_at", "catalog": {...
 * versions}, "cases": {"total", "by_state": {...}}, "events", "store":
 * {"map_size", "used_bytes", "page_size", "readers"}}. */
int store_status(struct store *s, json_t **out);

/* store_catalog: the standard layer's head (region, version, hash, counts,
 * calendar years), the stored release versions, and each overlay's region,
 * version and hash. */
int store_catalog(struct store *s, json_t **out);

/* store_matters: {"matters": [{"key", "name", "type", "task_code"?,
 * "region", "dept_name"?}]}: every standard matter and every implementation
 * entry of this region and the regions above it. */
int store_matters(struct store *s, json_t **out);

/* store_matter resolves code (a basic key "000117001000#01" or an
 * implementation key) as case.create does: {"key", "task_code", "release",
 * "hash", "locked_hash", "matter": <effective matter>}. TB_ENOTFOUND. */
int store_matter(struct store *s, const char *code, json_t **out);

/* store_overlay_conflicts checks this region's own current overlay again,
 * as `tongban overlay check` would, against the standard layer and the
 * overlays above as they are now: *out is an array of {"region", "version",
 * "field", "message"}, one per problem (empty when it passes or there is no
 * overlay). A layer above that lowered a cap below a promise here shows up
 * so; the effective matter serves the cap meanwhile (overlay_cap). */
int store_overlay_conflicts(struct store *s, json_t **out);

/* store_case_get: the case record with its events and, computed from
 * now_ms, "today", "clock" (not_started|running|stopped|over), "warn" and
 * "overdue". TB_ENOTFOUND. */
int store_case_get(struct store *s, const char *id, int64_t now_ms,
                   json_t **out);

/* store_case_list: {"cases": [...summaries...], "next": cursor or null}, in
 * case id order (receiving day, then serial). status is a state name,
 * "open" or "final" (NULL: any); overdue -1 any, 0 not overdue, 1 overdue
 * (at now_ms); matter a basic or implementation key (NULL: any); limit 1..
 * 1000 (0 means 50); after_cursor the "next" of the previous page, or NULL.
 * A page examines at most 10,000 cases, so a selective filter may return
 * fewer than limit cases with a non-null "next": keep paging until null.
 * TB_EINVAL for an unknown status or a malformed cursor. */
int store_case_list(struct store *s, const char *status, int overdue,
                    const char *matter, size_t limit, const char *after_cursor,
                    int64_t now_ms, json_t **out);

/* store_case_list_text is store_case_list rendered as json_dumps
 * (JSON_COMPACT) would write it, without a final newline: *out (free()),
 * *len bytes. Where the summary index serves the list (feature level 2) the
 * text is written straight from it, without JSON values. */
int store_case_list_text(struct store *s, const char *status, int overdue,
                         const char *matter, size_t limit,
                         const char *after_cursor, int64_t now_ms, char **out,
                         size_t *len);

/* store_list_from_records makes store_case_list read case records, as at
 * feature level 1, even where the summary index exists (tests compare the
 * two; set before readers start). */
void store_list_from_records(struct store *s, bool on);

/* store_decode_full(s, true) makes store_apply decode every command in
 * full and check a case.create's applicant, form and materials as JSON
 * only, as before cmd_decode_shallow: the way tests/test_create_raw.c
 * compares the two (off by default). Writer only. */
void store_decode_full(struct store *s, bool on);

/* store_list_fallbacks counts the pages store_case_list_text rendered as
 * JSON values although the summary index served them (a summary it could
 * not read in place); 0 in a healthy store. */
uint64_t store_list_fallbacks(struct store *s);

/* store_events: the change feed after sequence `after`: {"events": [{"seq",
 * "type", "at", "body"}...], "next": the last seq returned (or after)}.
 * limit 1..1000 (0 means 100). */
int store_events(struct store *s, uint64_t after, size_t limit, json_t **out);

/* store_token_lookup: the token record whose secret hashes to hash (32
 * bytes, read during the call): {"id", "role", "region", "expires",
 * "name"?, "created_at"}. TB_ENOTFOUND if unknown or revoked; the caller
 * checks "expires" against its clock. The record may be shared with other
 * callers (node/store_read.c): read it, never change it. */
int store_token_lookup(struct store *s, const uint8_t hash[32], json_t **out);

/* store_token_get: the token record with id, revoked or not (its hash left
 * out). TB_ENOTFOUND. */
int store_token_get(struct store *s, const char *id, json_t **out);

/* store_token_list: every token record, revoked ones too, by id (hashes
 * left out): {"tokens": [...], "truncated": false}. At most
 * STORE_TOKEN_LIST_MAX (an API's tokens are made by hand; more would be a
 * bug, not a list to page); "truncated" is true when there were more. */
#define STORE_TOKEN_LIST_MAX 10000
int store_token_list(struct store *s, json_t **out);

/* store_join_get: the join token record with id (meta "join/ID", its hash
 * included: the caller compares it); TB_ENOTFOUND if none. */
int store_join_get(struct store *s, const char *id, json_t **out);

/* store_crls: the replicated revocation lists, the newest of each issuer
 * (crl.put), as an array in issuer order (*out, caller decrefs; empty when
 * none). */
int store_crls(struct store *s, json_t **out);

/* store_root: the province's root metadata stored by root.put
 * (meta["root"], *out a new reference); TB_ENOTFOUND if none. */
int store_root(struct store *s, json_t **out);

/* store_calendars: {"release_years": the release calendar's years or null,
 * "calendars": [{region, version, name, years, hash, calendar}] (the
 * published calendars of calendar.put, version ascending),
 * "effective_years": the years due dates count on, or null} (*out, caller
 * decrefs). Any thread. */
int store_calendars(struct store *s, json_t **out);

/* store_bundle_get: a bundle application and the state of each member
 * (with its owner when handed elsewhere, and whether it is final), the
 * count of final members and the bundle's "status" (complete once every
 * member is final, else in_progress) --
 * case: {"bundle": {"id", "code", "name", "cases": [{"id", "member",
 * "matter", "state", "version"}]}}. TB_ENOTFOUND. */
int store_bundle_get(struct store *s, const char *id, json_t **out);

/* store_applicant_cases: {"cases": [ids]} of the cases whose applicant has
 * id_number, found through the keyed index (at most limit, 0 means 100). */
int store_applicant_cases(struct store *s, const char *id_number, size_t limit,
                          json_t **out);

#endif
