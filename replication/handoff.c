/* The handoff records' transitions (see handoff.h and docs/HANDOFF.md). */
#include "replication/handoff.h"

#include <stddef.h>

const char *
handoff_state_name(enum handoff_state s)
{
	static const char *const names[HANDOFF_NSTATES] = {
		"none",     "offered", "transferred", "aborted",   "refused",
		"prepared", "owned",   "declined",    "cancelled",
	};

	return (unsigned)s < HANDOFF_NSTATES ? names[s] : "?";
}

const char *
handoff_frame_name(enum handoff_frame f)
{
	static const char *const names[] = { "none",   "offer",  "accept",
		                             "refuse", "commit", "abort",
		                             "done" };

	return (unsigned)f <= HANDOFF_F_DONE ? names[f] : "?";
}

static struct handoff_result
stay(enum handoff_state s, enum handoff_frame reply, const char *refusal)
{
	struct handoff_result r = { s, false, reply, refusal };

	return r;
}

static struct handoff_result
move(enum handoff_state next, enum handoff_frame reply)
{
	struct handoff_result r = { next, true, reply, NULL };

	return r;
}

/* The source's side: commands, and the target's answers. */
static struct handoff_result
at_source(enum handoff_state s, enum handoff_event ev)
{
	switch (ev) {
	case HANDOFF_EV_OFFER:
		if (s == HANDOFF_NONE) {
			return move(HANDOFF_OFFERED, HANDOFF_F_OFFER);
		}
		return stay(s, HANDOFF_F_NONE,
		            s == HANDOFF_OFFERED
		                ? "the case is already offered"
		                : "this handoff is over; a new offer is a new "
		                  "handoff");
	case HANDOFF_EV_ABORT:
		if (s == HANDOFF_OFFERED) {
			return move(HANDOFF_ABORTED, HANDOFF_F_ABORT);
		}
		return stay(s, HANDOFF_F_NONE,
		            s == HANDOFF_TRANSFERRED
		                ? "the transfer is decided: the target owns "
		                  "the case"
		                : "no offer is open");
	case HANDOFF_EV_GOT_ACCEPT:
		switch (s) {
		case HANDOFF_OFFERED:
			return move(HANDOFF_TRANSFERRED, HANDOFF_F_COMMIT);
		case HANDOFF_TRANSFERRED:
			return stay(s, HANDOFF_F_COMMIT, NULL);
		default:
			/* Aborted, refused, or no such offer: whatever the
			 * target prepared must be dropped. */
			return stay(s, HANDOFF_F_ABORT, NULL);
		}
	case HANDOFF_EV_GOT_REFUSE:
		if (s == HANDOFF_OFFERED) {
			return move(HANDOFF_REFUSED, HANDOFF_F_NONE);
		}
		return stay(s, HANDOFF_F_NONE, NULL);
	case HANDOFF_EV_GOT_DONE:
		return stay(s, HANDOFF_F_NONE, NULL);
	default:
		return stay(s, HANDOFF_F_NONE, "not an event of the source");
	}
}

/* The target's side: the source's frames. */
static struct handoff_result
at_target(enum handoff_state s, enum handoff_event ev, enum handoff_check check)
{
	switch (ev) {
	case HANDOFF_EV_GOT_OFFER:
		switch (s) {
		case HANDOFF_NONE:
			if (check == HANDOFF_CHECK_OK) {
				return move(HANDOFF_PREPARED, HANDOFF_F_ACCEPT);
			}
			if (check == HANDOFF_CHECK_REFUSE) {
				return move(HANDOFF_DECLINED, HANDOFF_F_REFUSE);
			}
			/* Behind: nothing is committed; the source's
			 * retries ask again. */
			return stay(s, HANDOFF_F_NONE, NULL);
		case HANDOFF_PREPARED:
		case HANDOFF_OWNED:
			return stay(s, HANDOFF_F_ACCEPT, NULL);
		case HANDOFF_DECLINED:
			return stay(s, HANDOFF_F_REFUSE, NULL);
		default: /* cancelled: a late copy of an aborted offer */
			return stay(s, HANDOFF_F_NONE, NULL);
		}
	case HANDOFF_EV_GOT_COMMIT:
		if (s == HANDOFF_PREPARED) {
			return move(HANDOFF_OWNED, HANDOFF_F_DONE);
		}
		if (s == HANDOFF_OWNED) {
			return stay(s, HANDOFF_F_DONE, NULL);
		}
		return stay(s, HANDOFF_F_NONE,
		            "a commit for no prepared offer");
	case HANDOFF_EV_GOT_ABORT:
		if (s == HANDOFF_NONE || s == HANDOFF_PREPARED) {
			return move(HANDOFF_CANCELLED, HANDOFF_F_NONE);
		}
		return stay(s, HANDOFF_F_NONE,
		            s == HANDOFF_OWNED ? "an abort after the commit"
		                               : NULL);
	default:
		return stay(s, HANDOFF_F_NONE, "not an event of the target");
	}
}

struct handoff_result
handoff_step(enum handoff_state s, enum handoff_event ev,
             enum handoff_check check)
{
	switch (ev) {
	case HANDOFF_EV_GOT_OFFER:
	case HANDOFF_EV_GOT_COMMIT:
	case HANDOFF_EV_GOT_ABORT:
		if (s != HANDOFF_NONE && s < HANDOFF_PREPARED) {
			return stay(s, HANDOFF_F_NONE,
			            "a frame for the target at the source");
		}
		return at_target(s, ev, check);
	default:
		if (s >= HANDOFF_PREPARED) {
			return stay(s, HANDOFF_F_NONE,
			            "an event of the source at the target");
		}
		return at_source(s, ev);
	}
}

enum handoff_frame
handoff_wants(enum handoff_state s, bool done)
{
	switch (s) {
	case HANDOFF_OFFERED:
		return HANDOFF_F_OFFER;
	case HANDOFF_TRANSFERRED:
		return done ? HANDOFF_F_NONE : HANDOFF_F_COMMIT;
	case HANDOFF_PREPARED:
		return HANDOFF_F_ACCEPT;
	default:
		/* An abort is not resent: a prepared target's ACCEPTs pull
		 * it, and a target that never prepared ignores a late
		 * offer once it has the ABORT, or prepares and asks. */
		return HANDOFF_F_NONE;
	}
}

bool
handoff_owns(enum handoff_state s, bool side_src)
{
	if (side_src) {
		return s == HANDOFF_NONE || s == HANDOFF_OFFERED ||
		       s == HANDOFF_ABORTED || s == HANDOFF_REFUSED;
	}
	return s == HANDOFF_OWNED;
}
