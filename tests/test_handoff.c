/* Unit tests of replication/handoff.h: the transition table, row by row
 * against docs/HANDOFF.md, and the frames each state resends. */
#include "replication/handoff.h"
#include "tests/tap.h"

#define N   HANDOFF_NONE
#define OFF HANDOFF_OFFERED
#define TRA HANDOFF_TRANSFERRED
#define ABO HANDOFF_ABORTED
#define REF HANDOFF_REFUSED
#define PRE HANDOFF_PREPARED
#define OWN HANDOFF_OWNED
#define DEC HANDOFF_DECLINED
#define CAN HANDOFF_CANCELLED

static void
test_table(void)
{
	static const struct {
		enum handoff_state s;
		enum handoff_event ev;
		enum handoff_check chk;
		enum handoff_state next;
		enum handoff_frame reply;
		int refused;
	} rows[] = {
		/* the source */
		{ N, HANDOFF_EV_OFFER, 0, OFF, HANDOFF_F_OFFER, 0 },
		{ OFF, HANDOFF_EV_OFFER, 0, OFF, HANDOFF_F_NONE, 1 },
		{ ABO, HANDOFF_EV_OFFER, 0, ABO, HANDOFF_F_NONE, 1 },
		{ OFF, HANDOFF_EV_ABORT, 0, ABO, HANDOFF_F_ABORT, 0 },
		{ TRA, HANDOFF_EV_ABORT, 0, TRA, HANDOFF_F_NONE, 1 },
		{ N, HANDOFF_EV_ABORT, 0, N, HANDOFF_F_NONE, 1 },
		{ OFF, HANDOFF_EV_GOT_ACCEPT, 0, TRA, HANDOFF_F_COMMIT, 0 },
		{ TRA, HANDOFF_EV_GOT_ACCEPT, 0, TRA, HANDOFF_F_COMMIT, 0 },
		{ ABO, HANDOFF_EV_GOT_ACCEPT, 0, ABO, HANDOFF_F_ABORT, 0 },
		{ REF, HANDOFF_EV_GOT_ACCEPT, 0, REF, HANDOFF_F_ABORT, 0 },
		{ N, HANDOFF_EV_GOT_ACCEPT, 0, N, HANDOFF_F_ABORT, 0 },
		{ OFF, HANDOFF_EV_GOT_REFUSE, 0, REF, HANDOFF_F_NONE, 0 },
		{ ABO, HANDOFF_EV_GOT_REFUSE, 0, ABO, HANDOFF_F_NONE, 0 },
		{ TRA, HANDOFF_EV_GOT_DONE, 0, TRA, HANDOFF_F_NONE, 0 },
		{ OFF, HANDOFF_EV_GOT_COMMIT, 0, OFF, HANDOFF_F_NONE, 1 },
		/* the target */
		{ N, HANDOFF_EV_GOT_OFFER, HANDOFF_CHECK_OK, PRE,
		  HANDOFF_F_ACCEPT, 0 },
		{ N, HANDOFF_EV_GOT_OFFER, HANDOFF_CHECK_REFUSE, DEC,
		  HANDOFF_F_REFUSE, 0 },
		{ N, HANDOFF_EV_GOT_OFFER, HANDOFF_CHECK_BEHIND, N,
		  HANDOFF_F_NONE, 0 },
		{ PRE, HANDOFF_EV_GOT_OFFER, HANDOFF_CHECK_REFUSE, PRE,
		  HANDOFF_F_ACCEPT, 0 },
		{ OWN, HANDOFF_EV_GOT_OFFER, 0, OWN, HANDOFF_F_ACCEPT, 0 },
		{ DEC, HANDOFF_EV_GOT_OFFER, HANDOFF_CHECK_OK, DEC,
		  HANDOFF_F_REFUSE, 0 },
		{ CAN, HANDOFF_EV_GOT_OFFER, HANDOFF_CHECK_OK, CAN,
		  HANDOFF_F_NONE, 0 },
		{ PRE, HANDOFF_EV_GOT_COMMIT, 0, OWN, HANDOFF_F_DONE, 0 },
		{ OWN, HANDOFF_EV_GOT_COMMIT, 0, OWN, HANDOFF_F_DONE, 0 },
		{ N, HANDOFF_EV_GOT_COMMIT, 0, N, HANDOFF_F_NONE, 1 },
		{ CAN, HANDOFF_EV_GOT_COMMIT, 0, CAN, HANDOFF_F_NONE, 1 },
		{ N, HANDOFF_EV_GOT_ABORT, 0, CAN, HANDOFF_F_NONE, 0 },
		{ PRE, HANDOFF_EV_GOT_ABORT, 0, CAN, HANDOFF_F_NONE, 0 },
		{ OWN, HANDOFF_EV_GOT_ABORT, 0, OWN, HANDOFF_F_NONE, 1 },
		{ DEC, HANDOFF_EV_GOT_ABORT, 0, DEC, HANDOFF_F_NONE, 0 },
		{ PRE, HANDOFF_EV_GOT_ACCEPT, 0, PRE, HANDOFF_F_NONE, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct handoff_result r =
		    handoff_step(rows[i].s, rows[i].ev, rows[i].chk);

		ok(r.next == rows[i].next && r.reply == rows[i].reply &&
		       r.commit == (rows[i].next != rows[i].s) &&
		       (r.refusal != NULL) == rows[i].refused,
		   "%s + event %d: %s, reply %s%s",
		   handoff_state_name(rows[i].s), (int)rows[i].ev,
		   handoff_state_name(r.next), handoff_frame_name(r.reply),
		   r.refusal ? ", refused" : "");
		if (r.refusal != NULL) {
			printf("#   %s\n", r.refusal);
		}
	}
}

static void
test_wants(void)
{
	is_str(handoff_frame_name(handoff_wants(OFF, false)), "offer",
	       "an open offer is resent");
	is_str(handoff_frame_name(handoff_wants(TRA, false)), "commit",
	       "a transfer resends its commit");
	is_str(handoff_frame_name(handoff_wants(TRA, true)), "none",
	       "  until the target confirms");
	is_str(handoff_frame_name(handoff_wants(PRE, false)), "accept",
	       "a prepared target asks for the decision");
	is_str(handoff_frame_name(handoff_wants(ABO, false)), "none",
	       "an abort waits to be asked");
	ok(handoff_owns(N, true) && handoff_owns(OFF, true) &&
	       !handoff_owns(TRA, true) && handoff_owns(ABO, true) &&
	       handoff_owns(REF, true),
	   "the source owns until it transfers");
	ok(!handoff_owns(PRE, false) && handoff_owns(OWN, false) &&
	       !handoff_owns(N, false),
	   "the target owns only once the decision reached it");
}

int
main(void)
{
	test_table();
	test_wants();
	return done_testing();
}
