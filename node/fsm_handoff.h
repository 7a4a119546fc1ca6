/* Handoff records in the store (fsm_handoff.c): keys, reads, and the
 * writes the apply makes. */
#ifndef TB_NODE_FSM_HANDOFF_H
#define TB_NODE_FSM_HANDOFF_H

#include "node/fsm.h"
#include "replication/handoff.h"

#include <jansson.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

/* Case ids are short; a key is a space byte, the id, 0, two u32. */
#define FSM_HANDOFF_ID_MAX     64
#define FSM_HANDOFF_KEY_MAX    (FSM_HANDOFF_ID_MAX + 10)
#define FSM_HANDOFF_REASON_MAX 500

/* fsm_handoff_key writes the key of the handoff of case id at epoch and
 * attempt in space 'R' (records) or 'O' (open) to out; returns its
 * length. */
size_t fsm_handoff_key(char space, const char *id, uint32_t epoch,
                       uint32_t attempt, uint8_t *out);

/* fsm_handoff_get reads a record (TB_ENOTFOUND if none) into *rec (a new
 * reference), in any transaction. */
int fsm_handoff_get(const struct store *s, MDB_txn *txn, const char *id,
                    uint32_t epoch, uint32_t attempt, json_t **rec);

/* fsm_handoff_state is a record's state (HANDOFF_NONE for NULL). */
enum handoff_state fsm_handoff_state(const json_t *rec);

/* fsm_handoff_open is true for the states whose record is in the 'O'
 * space (offered, prepared: handoff_wants asks for a resend until the
 * state moves on); a transferred record is in the 'T' list instead. */
bool fsm_handoff_open(enum handoff_state s);

/* fsm_handoff_put sets rec's state to next and its updated_at, and writes
 * it with its 'O' entry (rec is modified, not stolen). */
int fsm_handoff_put(struct fsm *f, json_t *rec, enum handoff_state next);

/* Results delivered back (fsm_handoff_notify.c). fsm_handoff_notify_due
 * records that the receiving region of case c must learn this write (when
 * this region owns c by a handoff and c was received elsewhere);
 * fsm_handoff_notify_get reads that record ({to, epoch, version};
 * TB_ENOTFOUND if none); fsm_handoff_notify_frame applies a "notify" or
 * "noted" frame of a handoff.frame and appends its result entry to out. */
int fsm_handoff_notify_due(struct fsm *f, const json_t *c);
int fsm_handoff_notify_get(const struct store *s, MDB_txn *txn, const char *id,
                           json_t **due);
int fsm_handoff_notify_frame(struct fsm *f, const json_t *fr, json_t *out);

/* A target's request (fsm_handoff_request.c): fsm_handoff_request_frame
 * applies a "request" or "request_refused" frame; fsm_handoff_request_offered
 * marks the request of case id (a record with peer `peer`) answered by an
 * offer. */
int fsm_handoff_request_frame(struct fsm *f, const json_t *fr, json_t *out);
int fsm_handoff_request_offered(struct fsm *f, const char *id,
                                const char *peer);

#endif
