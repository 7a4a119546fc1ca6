/* The handoff of a case between two regions' groups, as modelled and
 * verified in tests/model/handoff.pml (docs/HANDOFF.md): the source offers
 * (frozen at epoch e), the target prepares (at e+1, no writes yet), the
 * source decides once (transfer, or abort), the target owns only after it
 * learns the decision.
 *
 * Each side keeps one record per handoff, replicated in its group and
 * changed only by the apply of a command; this module is the record's
 * transitions and the frames each state sends. handoff_step is pure: the
 * node's apply calls it in its transaction and then does the side effects
 * the new state implies (freeze or unfreeze the case, tombstone, the case's
 * epoch), and its leader sends what handoff_wants says, retried after a
 * timeout while the state asks for it (a frame that arrives is answered
 * by handoff_answer, without a commit, when the state already holds the
 * answer). */
#ifndef TB_REPLICATION_HANDOFF_H
#define TB_REPLICATION_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>

enum handoff_state {
	HANDOFF_NONE, /* no record: never offered / never heard of it */
	/* at the source */
	HANDOFF_OFFERED,     /* frozen at e, offered to the target */
	HANDOFF_TRANSFERRED, /* decided: a tombstone naming the target */
	HANDOFF_ABORTED,     /* decided: the source owns at e again */
	HANDOFF_REFUSED,     /* the target refused: the source owns again */
	/* at the target */
	HANDOFF_PREPARED,  /* accepted at e+1, awaiting the decision */
	HANDOFF_OWNED,     /* the owner at e+1 */
	HANDOFF_DECLINED,  /* refused the offer (with a reason) */
	HANDOFF_CANCELLED, /* learned the abort; a late offer is ignored */
	HANDOFF_NSTATES
};

/* handoff_state_name: "none", "offered", "transferred", ... */
const char *handoff_state_name(enum handoff_state s);

enum handoff_event {
	/* commands at the source */
	HANDOFF_EV_OFFER = 1, /* the owner (or a target's request) offers */
	HANDOFF_EV_ABORT,     /* an admin aborts, the target unreachable */
	/* frames received */
	HANDOFF_EV_GOT_OFFER,
	HANDOFF_EV_GOT_ACCEPT,
	HANDOFF_EV_GOT_REFUSE,
	HANDOFF_EV_GOT_COMMIT,
	HANDOFF_EV_GOT_ABORT,
	HANDOFF_EV_GOT_DONE,
};

/* The target's verdict on an offer, from its own effective catalog. */
enum handoff_check {
	HANDOFF_CHECK_OK,     /* it offers the matter to the same standard */
	HANDOFF_CHECK_REFUSE, /* it does not offer it, or locked fields differ
	                       */
	HANDOFF_CHECK_BEHIND, /* its catalog lags: no commit; the source retries
	                       */
};

enum handoff_frame {
	HANDOFF_F_NONE = 0,
	HANDOFF_F_OFFER,
	HANDOFF_F_ACCEPT,
	HANDOFF_F_REFUSE,
	HANDOFF_F_COMMIT,
	HANDOFF_F_ABORT,
	HANDOFF_F_DONE,
};

/* handoff_frame_name: "offer", "accept", ... ("none"). */
const char *handoff_frame_name(enum handoff_frame f);

/* The outcome of an event on a record. */
struct handoff_result {
	enum handoff_state next;  /* the new state (== the old if unchanged) */
	bool commit;              /* next differs: the apply must persist it */
	enum handoff_frame reply; /* to send now (also when nothing changes) */
	const char *refusal; /* non-NULL: the event is refused in this state
	                      * (a command: its result names this reason) */
};

/* handoff_step decides what event ev does to a record in state s; check is
 * read only for HANDOFF_EV_GOT_OFFER. It never fails: frames that make no
 * sense in s (a duplicate, a late one, or one a confused peer sends) leave
 * the record as it is, with the reply the state holds. */
struct handoff_result handoff_step(enum handoff_state s, enum handoff_event ev,
                                   enum handoff_check check);

/* handoff_wants is the frame a leader resends from state s after a timeout
 * (HANDOFF_F_NONE: nothing; the other side's frames drive it). done is
 * whether the target confirmed ownership (HANDOFF_EV_GOT_DONE), which
 * stops a transferred source's COMMITs; it is volatile. */
enum handoff_frame handoff_wants(enum handoff_state s, bool done);

/* handoff_owns is true if a side in state s owns the case: the source
 * (whose state is NONE before any offer) in NONE, OFFERED (frozen, still
 * the owner of record), ABORTED and REFUSED; the target in OWNED. side_src
 * says which side's record s is. */
bool handoff_owns(enum handoff_state s, bool side_src);

#endif
