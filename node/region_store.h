/* The outboxes' and the topology's records in the store: keys, decoding,
 * and the reads the leader's driver makes (node/region.c). */
#ifndef TB_NODE_REGION_STORE_H
#define TB_NODE_REGION_STORE_H

#include "node/store_db.h"
#include "replication/outbox.h"

#include <jansson.h>
#include <stdint.h>

/* region_code_u32 reads a 6-digit region code ("370100" -> 370100); 0 if
 * s is not one. */
uint32_t region_code_u32(const char *s);

/* Keys in DB_OUTBOX: "o" dest, "e" dest inc seq, "i" origin (the code as 6
 * ASCII digits, inc and seq big-endian). */
void region_out_key(uint8_t k[7], uint32_t dest);
void region_entry_key(uint8_t k[19], uint32_t dest, struct outbox_pos pos);
void region_in_key(uint8_t k[7], uint32_t origin);

/* region_out_decode / region_in_decode read a stored record. */
int region_out_decode(const MDB_val *v, uint32_t dest, struct outbox_out *o);
int region_in_decode(const MDB_val *v, uint32_t origin, struct outbox_in *in);

/* The reads below open their own read transaction (any thread). */

/* region_store_out reads the stream to dest: TB_OK, TB_ENOTFOUND. */
int region_store_out(struct store *s, uint32_t dest, struct outbox_out *o);

/* region_store_in reads the cursor of the stream from origin (an empty one
 * if none). */
int region_store_in(struct store *s, uint32_t origin, struct outbox_in *in);

/* region_store_entry copies the payload of entry dest@pos (the canonical
 * msgpack of {"kind", "doc"}) into *p (malloc'd, the caller frees) and
 * its length into *len. TB_OK, TB_ENOTFOUND, TB_ENOMEM. */
int region_store_entry(struct store *s, uint32_t dest, struct outbox_pos pos,
                       uint8_t **p, size_t *len);

/* region_entry_next finds, in txn, the position of the first stored entry
 * to dest above after: TB_OK, TB_ENOTFOUND. region_store_entry_next does
 * it in a read transaction of its own. */
int region_entry_next(MDB_txn *txn, MDB_dbi dbi, uint32_t dest,
                      struct outbox_pos after, struct outbox_pos *next);
int region_store_entry_next(struct store *s, uint32_t dest,
                            struct outbox_pos after, struct outbox_pos *next);

/* region_store_inc reads the group's replicated incarnation (meta
 * "incarnation", written by group.incarnation; 1 if never raised). */
int region_store_inc(struct store *s, uint32_t *inc);

/* region_store_dests writes up to max destinations (children with a
 * stream) into out and returns how many, or -1 on a storage error. */
int region_store_dests(struct store *s, uint32_t *out, int max);

/* region_store_topology: {"parent": {"code", "url"} or null, "peers":
 * [...]} (an empty one if never set). */
int region_store_topology(struct store *s, json_t **out);

/* fsm_outbox_fanout (fsm_region.c) appends {kind, doc} to the outbox of
 * every child with a stream, in f's transaction: called when a release or
 * overlay applies here (and, at feature level 4, a revocation list or the
 * root), so the tree below receives it. */
struct fsm;
int fsm_outbox_fanout(struct fsm *f, const char *kind, const json_t *doc);

/* fsm_outbox_fanout_doc is fsm_outbox_fanout given also doc's canonical
 * bytes (p, n; NULL if the caller has none): the entry is made around
 * those bytes instead of encoding doc again. */
int fsm_outbox_fanout_doc(struct fsm *f, const char *kind, const json_t *doc,
                          const uint8_t *p, size_t n);

/* fsm_case_summary: what a supervising tier sees of case c (a new
 * reference; no applicant, form or materials). fsm_outbox_up appends
 * {"case", summary} to the stream to the parent, at feature level 2 and
 * once the region's parent is set (else nothing). */
json_t *fsm_case_summary(const json_t *c);
int fsm_outbox_up(struct fsm *f, const json_t *summary);

/* region_store_area lists the case summaries of this region's area (the
 * regions below it) with state (NULL: any) and overdue (-1: either, 0, 1,
 * on the day of now_ms), after the case id after (""), at most limit:
 * {"cases": [...], "next": id or null}; each summary gains "overdue". Any
 * thread. */
int region_store_area(struct store *s, const char *state, int overdue,
                      int64_t now_ms, const char *after, size_t limit,
                      json_t **out);

/* region_store_area_get: the newest summary of case id this region holds of
 * its area (*out, a new reference), or TB_ENOTFOUND. Any thread. */
int region_store_area_get(struct store *s, const char *id, json_t **out);

/* Handlers of the region commands (fsm_region.c; outbox.child in
 * fsm_outbox_child.c). */
int fsm_region_topology(struct fsm *f);
int fsm_outbox_child(struct fsm *f);
int fsm_outbox_deliver(struct fsm *f);
int fsm_outbox_acked(struct fsm *f);
int fsm_outbox_deliver_run(struct fsm *f);

/* fsm_region_inc: the group's replicated incarnation in f's transaction
 * (1 if never raised). region_out_put writes a stream's record. */
int fsm_region_inc(struct fsm *f, uint32_t *inc);
int region_out_put(struct fsm *f, const struct outbox_out *o);

/* region_emit appends the entry {kind, doc} (doc borrowed) to the stream o
 * and writes o back; region_emit_ref appends a release's entry as a
 * reference to the stored release of version ver (feature level 5). Both
 * in fsm_region.c. */
int region_emit(struct fsm *f, struct outbox_out *o, const char *kind,
                const json_t *doc);
int region_emit_ref(struct fsm *f, struct outbox_out *o, uint64_t ver);

/* group.incarnation (fsm_incarnation.c, feature level 5): the group's
 * incarnation raised by a recovery, every stream moved into it. */
int fsm_group_incarnation(struct fsm *f);

/* outbox.skip (fsm_deliver.c, feature level 5): the origin acknowledged up
 * to (inc, seq), above this region's cursor: this group lost deliveries
 * with a recovery, and the cursor moves there. */
int fsm_outbox_skip(struct fsm *f);

/* outbox.rewind (fsm_outbox_inc.c, feature level 5): at the origin, a
 * child at incarnation "by" acknowledged below what was dropped (it lost
 * deliveries with a recovery). Once per incarnation of the child (record
 * "w" dest: {"by"}), every entry the stream holds is dropped as
 * acknowledged and the stream is filled again as outbox.child fills a new
 * one (fsm_outbox_backfill): the SKIP that follows moves the child past
 * the dropped positions, and it receives the stored catalog in order (what
 * it already holds is accepted as held, fsm_deliver.c). */
int fsm_outbox_rewind(struct fsm *f);
int fsm_outbox_backfill(struct fsm *f, struct outbox_out *o);

/* region_rewound_key: "w" dest(6); region_store_rewound reads the child
 * incarnation the stream to dest was last refilled for (1: never). */
void region_rewound_key(uint8_t k[7], uint32_t dest);
int region_store_rewound(struct store *s, uint32_t dest, uint32_t *by);

#endif
