/* The cross-region handoff of one case (ARCHITECTURE "Handoff", issue 7),
 * modelled for spin before it is coded.
 *
 * Regions: A, the owner (the case is at epoch e); B, the target; R, the
 * receiving region, which must always learn who owns the case. Links lose
 * (up to LOSS frames in all), duplicate (up to DUPS) and reorder (a side
 * takes any waiting frame of the type it chooses). Every step a side takes
 * is a commit of its own group followed by sends that are retried while its
 * committed state asks for them, so a crash of either side at any instant
 * (before or after its commit, before or after its sends) is the same, to
 * the other side, as lost frames and a pause: the model's losses and
 * interleavings cover it.
 *
 * The protocol (two-phase, the owner decides):
 *   A: commit "frozen at e, offered to B"        -> OFFER (retried)
 *   B: check the matter against its own catalog; commit "prepared at e+1"
 *      (or "refused")                              -> ACCEPT (or REFUSE)
 *   A: on ACCEPT while frozen, commit the transfer and a tombstone (the
 *      decision)                                   -> COMMIT, NOTIFY to R
 *   B: on COMMIT, commit ownership at e+1          -> DONE
 *   Admin abort (target unreachable past a timeout): A commits "aborted"
 *      while frozen (the decision)                 -> ABORT
 *   B: on ABORT while prepared (or before the offer came), commit "aborted":
 *      a late OFFER is ignored.
 *   A target may also ask for a case (REQUEST); the owner may offer it or
 *   refuse.
 * The decision is taken once, at A, in one commit; B owns only after it
 * learns the decision. The naive protocol (-DNAIVE: B owns as soon as it
 * accepts, as a first reading of the issue suggests) lets an admin abort at
 * A while B already owns: spin finds two owners, and tests/model_handoff.t
 * checks that it does, so the checker is known to bite.
 *
 * Checked: never two owners, and the case is never lost (always an owner,
 * or A's tombstone with B prepared, the decision in flight) — in every
 * state; once nothing can move, exactly one owner, B is never left
 * prepared, and R names the owner. */

#ifndef LOSS
#define LOSS 2
#endif
#ifndef DUPS
#define DUPS 1
#endif
#define RETRIES (LOSS + 1)

mtype = { OFFER, ACCEPT, REFUSE, COMMIT, ABORT, DONE, REQUEST, NOTIFY };

/* Room for what can be in flight at once: a frame, its duplicates, and
 * the replies to each. */
#define CAP (2 * DUPS + 2)
chan toA = [CAP] of { mtype };
chan toB = [CAP] of { mtype };
chan toR = [2] of { mtype };

#define A_OWNER   0 /* owns at e, not frozen */
#define A_FROZEN  1 /* offered: frozen at e, no writes */
#define A_GONE    2 /* transferred: a tombstone naming B */
#define A_ABORTED 3 /* aborted (admin) or refused by B: owns at e again */
#define A_REFUSED 4
byte a = A_OWNER;

#define B_NONE     0
#define B_PREPARED 1 /* accepted at e+1, awaiting the decision: no writes */
#define B_OWNER    2
#define B_REFUSED  3 /* not competent, or its locked fields differ */
#define B_ABORTED  4 /* learned the abort */
byte b = B_NONE;

byte r_owner = 0; /* what R records: 0 = A, 1 = B */

byte losses = 0, dups = 0;
bool offered = false, aborted = false, requested = false, a_done = false;
byte offer_n = 0, abort_n = 0, commit_n = 0, notify_n = 0, accept_n = 0;

/* A retry fires after a timeout, when nothing is in flight (a timer longer
 * than the links' delay): it keeps the links' queues bounded. */
#define IDLE (len(toA) == 0 && len(toB) == 0 && len(toR) == 0)

#define OWNER_A (a == A_OWNER || a == A_FROZEN || a == A_ABORTED || \
                 a == A_REFUSED)
#define OWNER_B (b == B_OWNER)

/* send: the frame is lost, delivered, or delivered twice. */
inline send(ch, m)
{
	if
	:: losses < LOSS -> losses++
	:: nfull(ch) -> ch ! m
	:: dups < DUPS && len(ch) + 2 <= CAP -> ch ! m; ch ! m; dups++
	:: full(ch) -> assert(false) /* capacity must cover the budgets */
	fi
}

active proctype A()
{
end:
	do
	:: atomic { a == A_OWNER && !offered -> offered = true; a = A_FROZEN }
	:: atomic { IDLE && a == A_FROZEN && offer_n < RETRIES -> offer_n++;
	            send(toB, OFFER) }
	:: atomic { a == A_FROZEN && !aborted -> aborted = true;
	            a = A_ABORTED }
	:: atomic { IDLE && a == A_ABORTED && abort_n < RETRIES -> abort_n++;
	            send(toB, ABORT) }
	:: atomic { IDLE && a == A_GONE && !a_done && commit_n < RETRIES ->
	            commit_n++; send(toB, COMMIT) }
	:: atomic { IDLE && a == A_GONE && notify_n < RETRIES -> notify_n++;
	            send(toR, NOTIFY) }
	:: atomic { toA ?? ACCEPT ->
	            if
	            :: a == A_FROZEN -> a = A_GONE
	            :: a == A_GONE && !a_done -> send(toB, COMMIT)
	            :: a == A_ABORTED -> send(toB, ABORT)
	            :: else -> skip
	            fi }
	:: atomic { toA ?? REFUSE ->
	            if
	            :: a == A_FROZEN -> a = A_REFUSED
	            :: else -> skip
	            fi }
	:: atomic { toA ?? DONE -> a_done = true }
	:: atomic { toA ?? REQUEST ->
	            if
	            :: a == A_OWNER && !offered -> offered = true;
	               a = A_FROZEN
	            :: else -> skip /* the owner refuses, or is busy */
	            fi }
	od
}

active proctype B()
{
end:
	do
	:: atomic { toB ?? OFFER ->
	            if
	            :: b == B_NONE ->
	               if
#ifdef NAIVE
	               :: b = B_OWNER; send(toA, ACCEPT)
#else
	               :: b = B_PREPARED; send(toA, ACCEPT)
#endif
	               :: b = B_REFUSED; send(toA, REFUSE)
	               fi
	            :: b == B_PREPARED || b == B_OWNER -> send(toA, ACCEPT)
	            :: b == B_REFUSED -> send(toA, REFUSE)
	            :: b == B_ABORTED -> skip
	            fi }
	:: atomic { toB ?? COMMIT ->
	            if
	            :: b == B_PREPARED -> b = B_OWNER; send(toA, DONE)
	            :: b == B_OWNER -> send(toA, DONE)
	            :: else -> assert(false) /* a decision for no offer */
	            fi }
	:: atomic { toB ?? ABORT ->
	            if
	            :: b == B_NONE || b == B_PREPARED -> b = B_ABORTED
#ifdef NAIVE
	            :: b == B_OWNER -> skip
#else
	            :: b == B_OWNER -> assert(false) /* aborted after commit */
#endif
	            :: else -> skip
	            fi }
	:: atomic { IDLE && b == B_PREPARED && accept_n < RETRIES -> accept_n++;
	            send(toA, ACCEPT) }
	:: atomic { b == B_NONE && !requested -> requested = true;
	            send(toA, REQUEST) }
	od
}

active proctype R()
{
end:
	do
	:: toR ?? NOTIFY -> r_owner = 1
	od
}

/* In every state. */
active proctype safety()
{
	assert(!(OWNER_A && OWNER_B));
	assert(OWNER_A || OWNER_B || (a == A_GONE && b == B_PREPARED))
}

/* Once nothing can move. */
active proctype quiet()
{
	timeout ->
	assert(OWNER_A != OWNER_B);
	assert(b != B_PREPARED);
	assert(r_owner == (OWNER_B -> 1 : 0))
}
