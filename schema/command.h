/* Commands applied by a region's state machine, and the events they emit. */
#ifndef TB_SCHEMA_COMMAND_H
#define TB_SCHEMA_COMMAND_H

#include "schema/canon.h"
#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Every change of state is a command: canonical msgpack of the envelope
 *
 *   {"type": "case.action", "v": 1, "at": <leader's Unix ms>,
 *    "key": "<idempotency key>" (optional), "body": {...}}
 *
 * committed through the region's Raft group. The leader stamps "at" (and
 * any random ids) when it proposes, so apply is deterministic. "v" is the
 * version of the type's body schema; a type also has the feature level
 * from which a group may propose it (rolling upgrades: a member that does
 * not know a type refuses to decode it and stops loudly).
 *
 * Events use the same envelope with an event type ("case.event") and are
 * what the change feed and the outboxes carry.
 */

enum cmd_type {
	CMD_CATALOG_RELEASE, /* body {release}: a signed release document */
	CMD_CATALOG_OVERLAY, /* body {overlay}: a signed overlay document */
	CMD_CASE_CREATE,     /* body {matter, applicant, form, materials,..} */
	CMD_CASE_ACTION,     /* body {case, action, version, target?, ...} */
	CMD_TOKEN_CREATE,    /* body {id, hash, role, region, expires} */
	CMD_TOKEN_REVOKE,    /* body {id} */
	CMD_EVENT_CASE,      /* event body {case, seq, epoch, action, ...} */
	CMD_GROUP_FEATURE,   /* body {level}: raise the group's feature level */
	CMD_JOIN_CREATE,     /* body {id, hash, region, role, expires, issuer}:
	                        a one-time join token (level 2) */
	CMD_JOIN_USE,        /* body {id, hash, region, role, node_id}: its
	                        one use (level 2) */
	/* Between regions (feature level 2; docs/REPLICATION.md). */
	CMD_REGION_TOPOLOGY, /* body {op, code, url?}: parent and peers */
	CMD_OUTBOX_CHILD,    /* body {region}: open the stream to a child */
	CMD_OUTBOX_DELIVER,  /* body {origin, inc, seq, entry}: at the dest */
	CMD_OUTBOX_ACKED,    /* body {dest, inc, seq, report?}: at the origin */
	/* Feature level 3. */
	CMD_CRL_PUT, /* body {crl, root, chain?}: a signed revocation list
	                (docs/TRUST.md "Replicated revocation lists") */
	CMD_OUTBOX_DELIVER_RUN, /* body {origin, inc, seq, entries}: a run of
	                           entries from seq, at the dest (level 3) */
	/* Handoff of a case (feature level 3; docs/HANDOFF.md). */
	CMD_HANDOFF_OFFER,   /* body {case, to, mode, reason, actor}: at the
	                        source, freezes the case */
	CMD_HANDOFF_ABORT,   /* body {case, after_ms, actor}: at the source,
	                        unfreezes */
	CMD_HANDOFF_FRAME,   /* body {frames: [frame]}: frames received from
	                        the other region, applied in order */
	CMD_ROOT_PUT,        /* body {root}: the province's root metadata
	                        (docs/TRUST.md "The replicated root") */
	CMD_HANDOFF_REQUEST, /* body {case, reason, actor}: a target asks the
	                        owner for a case */
	CMD_HANDOFF_REFUSE,  /* body {case, reason, actor}: the owner refuses
	                        a request */
	/* Feature level 5. */
	CMD_GROUP_INCARNATION, /* body {incarnation, certificate}: a recovered
	                          group's incarnation, proposed by its leader
	                          (docs/REPLICATION.md) */
	CMD_OUTBOX_SKIP,       /* body {origin, inc, seq, by?}: at the dest,
	                          the origin acknowledged up to (inc, seq) */
	CMD_OUTBOX_REWIND,     /* body {dest, by}: at the origin, a child at
	                          incarnation by lost deliveries: its stream
	                          is refilled from the stored catalog */
	CMD_CALENDAR_PUT,      /* body {calendar, root}: a province's signed
	                          working-day calendar (docs/CALENDAR.md "The
	                          calendar feed") */
	CMD_TYPE_COUNT
};

/* The highest feature level this build applies. A group runs at a level
 * (replicated, 1 until raised by group.feature): a command type may be
 * proposed only once the group's level reaches the type's, so a new type
 * is not proposed while a member that cannot apply it may still be
 * running. Raise it after upgrading every member. Level 2 adds join tokens
 * (join.create, join.use), the region commands (region.topology,
 * outbox.*), and the case summary index that apply keeps from the raise on
 * (docs/STORE.md), which the raise builds. Level 3 adds crl.put and
 * root.put (revocation lists and the province's root metadata stored in
 * the replicated state), outbox.deliver_run (a run of consecutive entries
 * delivered in one command) and the handoff of cases (handoff.offer,
 * handoff.abort, handoff.frame, handoff.request, handoff.refuse;
 * docs/HANDOFF.md). Level 4 adds no type:
 * from it, an applied crl.put or root.put is appended to every child's
 * outbox stream and a delivered "crl" or "root" entry is applied (below
 * it a delivery of one is refused, as by a build without them;
 * docs/REPLICATION.md "Trust down the tree"). Level 5 adds
 * group.incarnation (a recovered group's incarnation becomes replicated
 * state and prefixes its outbox streams' positions), outbox.skip (a
 * recovered destination's cursor moved up to what its origin dropped),
 * outbox.rewind (the stream to such a child refilled from the stored
 * catalog, so it gets what it lost again) and
 * "by" in outbox.deliver / deliver_run (docs/REPLICATION.md "Incarnations
 * in the node") and calendar.put (a province's calendar published without
 * a release, passed down the outboxes as a "calendar" entry). */
#define TB_FEATURE_LEVEL 5

/* The feature level from which cases are handed between regions (the
 * handoff.* commands, an action's "epoch", link types 51 and 52). */
#define TB_HANDOFF_LEVEL 3

/* cmd_type_name returns the wire name ("case.action"). */
const char *cmd_type_name(enum cmd_type t);

/* cmd_type_parse maps a wire name to its type; TB_EUNKNOWN otherwise. */
int cmd_type_parse(const char *name, enum cmd_type *t);

/* cmd_feature_level is the group feature level from which t may be
 * proposed. */
int cmd_feature_level(enum cmd_type t);

/* cmd_version is the newest body version of t this build decodes (a
 * forwarded command's "v" is checked against it before it is proposed). */
int cmd_version(enum cmd_type t);

/* A decoded command; `doc` owns everything (the envelope), `body` borrows
 * from it. `raw` borrows the canonical bytes it was decoded from (valid as
 * long as the caller's buffer: during an apply), so that a large document
 * in it can be stored or hashed as the bytes it came in. */
#define CMD_CASE_PARTS 5

struct cmd {
	enum cmd_type type;
	int version;
	int64_t at;
	const char *key; /* NULL if none */
	json_t *doc;
	const json_t *body;
	const uint8_t *raw; /* the bytes decoded, rawlen of them */
	size_t rawlen;
	/* cmd_decode_shallow left body's applicant, form and materials
	 * empty (their bytes are in raw; cmd_body_decode decodes them). */
	bool shallow;
	/* A case.create's body members applicant, form, materials, channel
	 * and receiver, in that order: their bytes within raw (NULL and 0
	 * for one absent), noted by cmd_decode_shallow (has_parts). */
	bool has_parts;
	struct canon_span part[CMD_CASE_PARTS];
};

/* cmd_encode builds the envelope around body (a reference is taken, not
 * stolen) and appends its canonical bytes to out. key may be NULL. */
int cmd_encode(enum cmd_type t, int64_t at, const char *key, const json_t *body,
               struct canon_buf *out, char *errmsg, size_t errlen);

/* cmd_encode_body is cmd_encode with the body given as its canonical
 * bytes (body[0..blen), a map, e.g. from jdoc_canon): the same command
 * bytes as cmd_encode of the body they encode. */
int cmd_encode_body(enum cmd_type t, int64_t at, const char *key,
                    const uint8_t *body, size_t blen, struct canon_buf *out,
                    char *errmsg, size_t errlen);

/* cmd_splice replaces the nil value of key (a string under 32 bytes) in
 * the command bytes b with v[0..vlen), a value's canonical bytes: a large
 * document is encoded once and placed into its command as those bytes.
 * The key and nil must occur exactly once in b (TB_EINVAL otherwise, with
 * the reason in errmsg); TB_ENOMEM. On success b holds the new bytes. */
int cmd_splice(struct canon_buf *b, const char *key, const uint8_t *v,
               size_t vlen, char *errmsg, size_t errlen);

/* cmd_decode validates bytes (canonical form, limits), then the envelope
 * and the body's fields for the type and version: unknown fields,
 * duplicate keys, wrong types and unknown types are refused before the
 * command is used. On TB_OK fills c (release with cmd_free). */
int cmd_decode(const uint8_t *p, size_t n, struct cmd *c, char *errmsg,
               size_t errlen);

/* cmd_decode_shallow is cmd_decode (the same checks, refusals and
 * messages), except that a case.create's body members applicant, form and
 * materials, when objects or arrays, are decoded as empty ones of their
 * type and c->shallow is set: the store's apply reads them from the bytes
 * and decodes the whole body (cmd_body_decode) only when it needs it as
 * JSON (node/fsm_create.c). Building and freeing them was about a quarter
 * of a case's apply (docs/BENCH.md, session 8). */
int cmd_decode_shallow(const uint8_t *p, size_t n, struct cmd *c, char *errmsg,
                       size_t errlen);

/* cmd_body_decode decodes the whole body of the decoded command c from its
 * bytes into *body (a new reference): TB_OK, TB_ENOMEM, or TB_ECORRUPT if
 * c has no bytes. */
int cmd_body_decode(const struct cmd *c, json_t **body);

/* cmd_free releases a decoded command; safe on a zeroed one. */
void cmd_free(struct cmd *c);

#endif
