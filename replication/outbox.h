/* Outboxes between regions: ordered, exactly-once delivery of messages from
 * one region's group to another's over links that lose, duplicate, reorder
 * and delay frames, across leader changes and crashes.
 *
 * Happy path. The origin's apply writes an entry to the outbox of a
 * destination (outbox_emit: the next sequence of the stream). The origin's
 * leader sends a window of entries (DATA). The destination's leader checks
 * each against its replicated cursor for the origin and proposes DELIVER
 * through its own group; the apply of DELIVER advances the cursor and hands
 * the payload to the application in the same transaction, then the leader
 * acknowledges (ACK, carrying its cursor). The origin's leader proposes
 * ACKED; its apply advances the outbox's acknowledged position and drops the
 * acknowledged entries.
 *
 * Failures. Lost DATA or ACK: the origin resends the window from the
 * acknowledged position after a timeout that backs off. Duplicated or late
 * DATA: the destination's apply sees the sequence at or below its cursor
 * (DUP) and only re-acknowledges. A gap (an earlier frame lost, a later one
 * arrived): refused (GAP) and re-acknowledged, so the origin rewinds. A crash
 * or a new leader: only replicated state survives (outbox entries, positions,
 * cursors); the new leader starts from them. Proposals lost with a leader are
 * re-made on the next DATA or ACK. A stale acknowledgement (below the
 * replicated position) changes nothing.
 *
 * Incarnations. A group's incarnation (raised by a quorum-loss recovery)
 * prefixes every sequence, as the pair (inc, seq), ordered by inc first.
 * A recovered group's stream keeps the entries it still holds at their
 * positions (outbox_reincarnate: they become the stream's "old" entries)
 * and numbers new ones from (inc, 1). The leader sends the entries in
 * position order and the first entry of an incarnation only once every
 * older entry is acknowledged, so the destination accepts (inc, 1) whatever
 * its cursor of an older incarnation held: it has all the origin still
 * holds before it. An older incarnation's position is never reused, so a
 * cursor (k, s) beyond what the survivor kept (entries the lost members
 * had sent) is never confused with a new entry; an acknowledgement of such
 * a position acknowledges every old entry up to it. Entries of an
 * incarnation below the cursor's are refused (STALE). The host tells the
 * driver the sending node's incarnation as its link authenticated it
 * (outbox_msg.from_inc): a frame from a node below the cursor's
 * incarnation, or below one already seen from that region, or carrying a
 * position of an incarnation above its sender's, is dropped (unauth).
 * Exactly once holds across a recovery too.
 *
 * A recovered destination. Its cursor may go back below what the origin
 * already had acknowledged and dropped (the deliveries were in the lost
 * members' logs only): it would answer every DATA with a gap and its ACK
 * would look late. So an origin answers an ACK below its acknowledged
 * position with SKIP (its acknowledged position); the destination proposes
 * it if it is above its cursor and its apply (outbox_skip) moves the
 * cursor there. An acknowledged position is never above the destination's
 * applied cursor unless the destination lost applied state, so a SKIP
 * never skips anything a destination still holds; what it skips was lost
 * with the destination's unreplicated tail.
 *
 * Runs. A DATA_RUN frame carries up to OUTBOX_RUN_MAX consecutive entries,
 * and a DELIVER may carry such a run: its apply (outbox_deliver_run) takes
 * the entries past the cursor in one transaction and moves the cursor to
 * the run's end; a run that starts at or below the cursor has its
 * delivered prefix skipped; one that starts past the next entry is a gap
 * and changes nothing. One ACK answers a run. The sender sends runs only
 * to a peer that said it takes them (outbox_peer.takes_runs, set by the
 * host); the receiver proposes runs only when its group may apply them
 * (outbox_driver.propose_runs: the group's feature level), else each entry
 * as a DELIVER of its own.
 *
 * The module is pure: state comes in as records, I/O goes out through an
 * env. node/ keeps the replicated records in LMDB and applies the commands in
 * the region's state machine; tests/test_outbox_sim.c drives many regions in
 * one process from a seed. */
#ifndef TB_REPLICATION_OUTBOX_H
#define TB_REPLICATION_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A position in a stream: seq 0 means "nothing of incarnation inc". */
struct outbox_pos {
	uint32_t inc;
	uint64_t seq;
};

/* outbox_pos_cmp orders positions by (inc, seq): <0, 0 or >0. */
int outbox_pos_cmp(struct outbox_pos a, struct outbox_pos b);

/* ---- replicated records and their deterministic apply ------------------ */

/* The origin's record of its stream to one destination. */
struct outbox_out {
	uint32_t dest;
	uint32_t inc;            /* the incarnation entries are numbered in */
	uint64_t next;           /* the seq the next entry gets (>= 1) */
	struct outbox_pos acked; /* the highest acknowledged position */
	uint64_t old; /* entries of older incarnations (held at their own
	               * positions, below (inc, 1)) not yet acknowledged */
};

/* The destination's record of the stream from one origin. */
struct outbox_in {
	uint32_t origin;
	struct outbox_pos cursor; /* the last delivered position */
	uint32_t by; /* the highest incarnation of a sending node whose
	              * delivery was applied (0: none known) */
};

/* outbox_out_init makes an empty stream to dest in incarnation inc. */
void outbox_out_init(struct outbox_out *o, uint32_t dest, uint32_t inc);

/* outbox_out_backlog is the number of entries not yet acknowledged (of
 * every incarnation). */
uint64_t outbox_out_backlog(const struct outbox_out *o);

/* outbox_out_last is the position of the newest entry ({inc, 0} if none). */
struct outbox_pos outbox_out_last(const struct outbox_out *o);

/* outbox_emit assigns the next position of the stream; the caller stores
 * the entry under it in the same transaction. */
struct outbox_pos outbox_emit(struct outbox_out *o);

enum outbox_verdict {
	OUTBOX_ACCEPT, /* the next entry: delivered, the cursor advances */
	OUTBOX_DUP,    /* at or below the cursor: already delivered */
	OUTBOX_GAP,    /* beyond the next: an earlier entry is missing */
	OUTBOX_STALE,  /* of an older incarnation than the cursor's */
};

/* outbox_verdict_name: "accept", "dup", "gap", "stale". */
const char *outbox_verdict_name(enum outbox_verdict v);

/* outbox_check tells what delivering pos would do, changing nothing. */
enum outbox_verdict outbox_check(const struct outbox_in *in,
                                 struct outbox_pos pos);

/* outbox_deliver applies a DELIVER of pos: on OUTBOX_ACCEPT the cursor is
 * pos and the caller hands the payload to the application in the same
 * transaction; on any other verdict nothing changes. */
enum outbox_verdict outbox_deliver(struct outbox_in *in, struct outbox_pos pos);

/* outbox_deliver_run applies a DELIVER of the run of n (>= 1) entries
 * from pos: on OUTBOX_ACCEPT the cursor is the run's last position and
 * *skip (< n) entries at its head were delivered before (the caller hands
 * the others to the application, in order, in the same transaction);
 * OUTBOX_DUP when the whole run is at or below the cursor; OUTBOX_GAP when
 * it starts past the next entry; OUTBOX_STALE for an older incarnation.
 * On any verdict but OUTBOX_ACCEPT nothing changes. A run of 1 is
 * outbox_deliver. */
enum outbox_verdict outbox_deliver_run(struct outbox_in *in,
                                       struct outbox_pos pos, uint64_t n,
                                       uint64_t *skip);

/* outbox_skip applies a SKIP to pos (the origin's acknowledged position):
 * OUTBOX_ACCEPT if pos is above the cursor (it moves there: the entries
 * between were lost with this group's unreplicated tail and the origin no
 * longer holds them), else OUTBOX_DUP and nothing changes. */
enum outbox_verdict outbox_skip(struct outbox_in *in, struct outbox_pos pos);

/* outbox_in_by records, with an accepted delivery, the incarnation of the
 * node that sent it (its link's, as the proposing leader checked it; 0:
 * unknown): from then on frames from nodes below it are dropped for good
 * (sender_ok), not only while this leader remembers it. */
void outbox_in_by(struct outbox_in *in, uint32_t from_inc);

/* outbox_ack applies an ACKED of pos (the destination's cursor). If pos is
 * above o->acked and acknowledges something held (of o->inc: not beyond the
 * newest entry; of an older incarnation: while old entries are held), the
 * held entries at positions above *drop_after up to *drop_to (inclusive, in
 * (inc, seq) order, possibly of several incarnations) are to be dropped,
 * the acknowledged position is pos and it returns true; the caller drops
 * them and reports how many were of older incarnations
 * (outbox_old_dropped). Otherwise (stale, duplicate, or an acknowledgement
 * of what was never sent, which a confused or hostile peer could send) it
 * changes nothing and returns false. */
bool outbox_ack(struct outbox_out *o, struct outbox_pos pos,
                struct outbox_pos *drop_after, struct outbox_pos *drop_to);

/* outbox_old_dropped: n entries of older incarnations were dropped. */
void outbox_old_dropped(struct outbox_out *o, uint64_t n);

/* outbox_reincarnate moves the stream to incarnation inc (> o->inc): the
 * entries not yet acknowledged stay at their positions and become old
 * entries, the next entry is (inc, 1); the acknowledged position stays.
 * Nothing stored changes. Returns false, changing nothing, if inc is not
 * above o->inc. */
bool outbox_reincarnate(struct outbox_out *o, uint32_t inc);

/* ---- messages and commands --------------------------------------------- */

enum outbox_msg_type {
	OUTBOX_MSG_DATA = 1,
	OUTBOX_MSG_ACK = 2,
	OUTBOX_MSG_DATA_RUN = 3,
	OUTBOX_MSG_SKIP = 4 /* origin -> dest: acknowledged up to pos */
};

/* The most entries in a run (a DATA_RUN frame, a DELIVER of a run), and
 * the most bytes a sender packs into one (an entry larger than that goes
 * alone, as DATA). */
#define OUTBOX_RUN_MAX   64
#define OUTBOX_RUN_BYTES (256u << 10)

/* A frame between regions. DATA carries the entry at pos of the stream
 * origin → dest; DATA_RUN the n entries from pos, payload being their
 * msgpack bins back to back (outbox_run_next reads them); ACK (sent by
 * dest) carries its cursor for that stream. payload is borrowed for the
 * duration of the call it is passed to. */
struct outbox_msg {
	enum outbox_msg_type type;
	uint32_t origin;
	uint32_t dest;
	struct outbox_pos pos;
	const uint8_t *payload;
	size_t len;
	unsigned n; /* DATA_RUN: entries (1..OUTBOX_RUN_MAX); else 0 */
	/* Not on the wire: the sending node's incarnation as its link
	 * authenticated it (set by the receiving host; 0: unknown, not
	 * checked). */
	uint32_t from_inc;
};

/* outbox_run_next reads the next entry of a run (*p, *len: the bins left;
 * advanced past it) into *e, *elen; false at the end or on a malformed
 * bin. */
bool outbox_run_next(const uint8_t **p, size_t *len, const uint8_t **e,
                     size_t *elen);

/* outbox_run_put appends entry e (elen bytes) to a run being built in buf
 * (cap bytes, *len used) as a msgpack bin; false if it does not fit. */
bool outbox_run_put(uint8_t *buf, size_t cap, size_t *len, const uint8_t *e,
                    size_t elen);

enum outbox_cmd_type {
	OUTBOX_CMD_DELIVER = 1,
	OUTBOX_CMD_ACKED = 2,
	OUTBOX_CMD_SKIP = 3 /* at dest: the origin acknowledged up to pos */
};

/* A command for the own group: DELIVER (at dest: the entry origin → dest
 * at pos, with its payload; or, n >= 1, the run of n entries from pos,
 * payload their bins as in a DATA_RUN frame) or ACKED (at origin: dest's
 * cursor is pos). payload is borrowed for the duration of the call. */
struct outbox_cmd {
	enum outbox_cmd_type type;
	uint32_t origin;
	uint32_t dest;
	struct outbox_pos pos;
	const uint8_t *payload;
	size_t len;
	unsigned n;        /* DELIVER of a run: its entries; 0 for one entry */
	uint32_t from_inc; /* DELIVER: the sender's incarnation, checked */
};

/* ---- the driver: volatile, on the group's leader ------------------------ */

/* What the driver needs from its host. All calls happen on the host's one
 * thread; none calls back into the driver. */
struct outbox_env {
	void *data;
	/* now: milliseconds of a monotonic clock. */
	uint64_t (*now)(void *data);
	/* send: best effort; the frame may be lost. */
	void (*send)(void *data, uint32_t to, const struct outbox_msg *m);
	/* propose: submit to the own group; it is applied later, or lost
	 * with the leader. */
	void (*propose)(void *data, const struct outbox_cmd *c);
	/* out_get / in_get: the replicated records (an empty one if the
	 * stream has none yet); 0, or non-zero on a storage error. */
	int (*out_get)(void *data, uint32_t dest, struct outbox_out *o);
	int (*in_get)(void *data, uint32_t origin, struct outbox_in *in);
	/* entry_get: the stored entry dest@pos; *p stays valid until the
	 * next call into the env. 0, or non-zero if it is missing. */
	int (*entry_get)(void *data, uint32_t dest, struct outbox_pos pos,
	                 const uint8_t **p, size_t *len);
	/* entry_next: the position of the first stored entry to dest above
	 * after (asked only while the stream holds old entries). 0, or
	 * non-zero if there is none. */
	int (*entry_next)(void *data, uint32_t dest, struct outbox_pos after,
	                  struct outbox_pos *next);
};

struct outbox_config {
	unsigned window;       /* entries in flight per stream (default 64) */
	uint64_t rto_min;      /* first resend timeout, ms (default 50) */
	uint64_t rto_max;      /* backoff cap, ms (default 5000) */
	uint64_t repropose_ms; /* re-propose a DELIVER/ACKED not applied
	                        * after this long (default 1000) */
	uint64_t rto_per_mib;  /* added to the resend timeout per MiB sent
	                        * in the round (default 0): a receiver
	                        * takes longer over a large entry, and
	                        * resending it meanwhile only adds work */
};

#define OUTBOX_MAX_PEERS 64

/* Per stream, what this leader has done and when to do it again. */
struct outbox_peer {
	uint32_t region;
	/* as origin, towards region */
	uint64_t sent; /* highest seq sent in the current round */
	uint32_t sent_inc;
	uint64_t due;         /* when to resend from acked + 1 */
	uint64_t round_bytes; /* payload bytes sent since the round began */
	uint64_t rto;
	struct outbox_pos ack_proposed;
	uint64_t ack_proposed_at;
	struct outbox_pos ack_seen; /* the highest ACK not yet proposed */
	bool takes_runs;            /* the host: it decodes DATA_RUN frames */
	unsigned window;            /* the host may set it; 0: cfg.window */
	/* as destination, from region */
	struct outbox_pos deliver_proposed;
	uint64_t deliver_proposed_at;
	uint32_t from_inc; /* the highest sender incarnation seen */
	/* counters */
	uint64_t resends, dups, gaps, stales, bogus_acks, unauth;
	uint64_t skip_due; /* as origin: when a SKIP may be sent again */
	struct outbox_pos skip_proposed; /* as destination */
	uint64_t skip_proposed_at, skips;
	uint64_t runs_sent, runs_proposed;
};

struct outbox_driver {
	uint32_t self;
	struct outbox_env env;
	struct outbox_config cfg;
	/* Propose a run of entries as one DELIVER (the host: the group may
	 * apply it); else each entry as a DELIVER of its own. */
	bool propose_runs;
	unsigned n_peers;
	struct outbox_peer peers[OUTBOX_MAX_PEERS];
	uint8_t run_buf[OUTBOX_RUN_BYTES]; /* a DATA_RUN being built */
};

/* outbox_driver_init makes a driver for region self (cfg may be NULL for
 * the defaults). A new leader makes a new one: nothing in it survives. */
void outbox_driver_init(struct outbox_driver *d, uint32_t self,
                        const struct outbox_env *env,
                        const struct outbox_config *cfg);

/* outbox_driver_peer adds (or finds) the streams with region; NULL if
 * OUTBOX_MAX_PEERS are taken. */
struct outbox_peer *outbox_driver_peer(struct outbox_driver *d,
                                       uint32_t region);

/* outbox_tick sends what is due: a stream with a backlog whose timeout has
 * passed resends its window from the acknowledged position, and backs off. */
void outbox_tick(struct outbox_driver *d);

/* outbox_kick: entries were emitted towards dest (applied): send the part
 * of the window not yet sent, now. */
void outbox_kick(struct outbox_driver *d, uint32_t dest);

/* outbox_recv handles a frame from another region. Frames not addressed to
 * self, or from a region that is not a peer, are ignored (returns false). */
bool outbox_recv(struct outbox_driver *d, const struct outbox_msg *m);

/* outbox_applied tells the driver that the own group applied c with verdict
 * v (for ACKED: OUTBOX_ACCEPT if it advanced, OUTBOX_DUP otherwise). */
void outbox_applied(struct outbox_driver *d, const struct outbox_cmd *c,
                    enum outbox_verdict v);

#endif
