/* Tests for the case lifecycle: every state against every action, against a
 * table written out here independently of schema/lifecycle.c, then
 * invariants over long seeded random walks. */
#include "schema/error.h"
#include "schema/lifecycle.h"
#include "tests/tap.h"

#include <stdbool.h>

#define NS LC_STATE_COUNT
#define NA LC_ACTION_COUNT

#define RCV LC_STATE_RECEIVED
#define NAC LC_STATE_NOT_ACCEPTED
#define SRQ LC_STATE_SUPPLEMENT_REQUESTED
#define SUP LC_STATE_SUPPLEMENTED
#define ACC LC_STATE_ACCEPTED
#define HND LC_STATE_HANDLING
#define REV LC_STATE_REVIEW
#define DEC LC_STATE_DECISION
#define SUS LC_STATE_SUSPENDED
#define APR LC_STATE_APPROVED
#define RFS LC_STATE_REFUSED
#define FWD LC_STATE_FORWARDED
#define VOI LC_STATE_VOIDED
#define WDR LC_STATE_WITHDRAWN

struct row {
	enum lc_state from;
	enum lc_action a;
	enum lc_state to;
};

/* What DOMAIN.md's lifecycle and the design in docs/LIFECYCLE.md allow.
 * For send_back each row is one allowed target; for resume each row is one
 * state a suspended case may return to (the one it was suspended from). */
static const struct row want[] = {
	{ RCV, LC_ACTION_ACCEPT, ACC },
	{ RCV, LC_ACTION_NOT_ACCEPT, NAC },
	{ RCV, LC_ACTION_REQUEST_SUPPLEMENT, SRQ },
	{ RCV, LC_ACTION_SUSPEND, SUS },
	{ RCV, LC_ACTION_WITHDRAW, WDR },
	{ RCV, LC_ACTION_VOID, VOI },
	{ SRQ, LC_ACTION_SUPPLEMENT, SUP },
	{ SRQ, LC_ACTION_SUSPEND, SUS },
	{ SRQ, LC_ACTION_WITHDRAW, WDR },
	{ SRQ, LC_ACTION_VOID, VOI },
	{ SUP, LC_ACTION_ACCEPT, ACC },
	{ SUP, LC_ACTION_NOT_ACCEPT, NAC },
	{ SUP, LC_ACTION_REQUEST_SUPPLEMENT, SRQ },
	{ SUP, LC_ACTION_SUSPEND, SUS },
	{ SUP, LC_ACTION_WITHDRAW, WDR },
	{ SUP, LC_ACTION_VOID, VOI },
	{ ACC, LC_ACTION_START_HANDLING, HND },
	{ ACC, LC_ACTION_SUSPEND, SUS },
	{ ACC, LC_ACTION_WITHDRAW, WDR },
	{ ACC, LC_ACTION_VOID, VOI },
	{ HND, LC_ACTION_SUBMIT_REVIEW, REV },
	{ HND, LC_ACTION_SEND_BACK, ACC },
	{ HND, LC_ACTION_SUSPEND, SUS },
	{ HND, LC_ACTION_WITHDRAW, WDR },
	{ HND, LC_ACTION_VOID, VOI },
	{ REV, LC_ACTION_SUBMIT_DECISION, DEC },
	{ REV, LC_ACTION_SEND_BACK, HND },
	{ REV, LC_ACTION_SEND_BACK, ACC },
	{ REV, LC_ACTION_SUSPEND, SUS },
	{ REV, LC_ACTION_WITHDRAW, WDR },
	{ REV, LC_ACTION_VOID, VOI },
	{ DEC, LC_ACTION_APPROVE, APR },
	{ DEC, LC_ACTION_REFUSE, RFS },
	{ DEC, LC_ACTION_FORWARD, FWD },
	{ DEC, LC_ACTION_SEND_BACK, REV },
	{ DEC, LC_ACTION_SEND_BACK, HND },
	{ DEC, LC_ACTION_SEND_BACK, ACC },
	{ DEC, LC_ACTION_SUSPEND, SUS },
	{ DEC, LC_ACTION_WITHDRAW, WDR },
	{ DEC, LC_ACTION_VOID, VOI },
	{ SUS, LC_ACTION_RESUME, RCV },
	{ SUS, LC_ACTION_RESUME, SRQ },
	{ SUS, LC_ACTION_RESUME, SUP },
	{ SUS, LC_ACTION_RESUME, ACC },
	{ SUS, LC_ACTION_RESUME, HND },
	{ SUS, LC_ACTION_RESUME, REV },
	{ SUS, LC_ACTION_RESUME, DEC },
	{ SUS, LC_ACTION_WITHDRAW, WDR },
	{ SUS, LC_ACTION_VOID, VOI },
};
#define NWANT (sizeof(want) / sizeof(want[0]))

static const char *const state_names[NS] = {
	"received",     "not_accepted", "supplement_requested",
	"supplemented", "accepted",     "handling",
	"review",       "decision",     "suspended",
	"approved",     "refused",      "forwarded",
	"voided",       "withdrawn",
};
static const char *const action_names[NA] = {
	"accept",          "not_accept",     "request_supplement",
	"supplement",      "start_handling", "submit_review",
	"submit_decision", "approve",        "refuse",
	"forward",         "send_back",      "suspend",
	"resume",          "withdraw",       "void",
};
/* DOMAIN.md: step result codes and completion codes. */
static const int step_codes[NA] = { 4, 3, 5, -1, -1, 1,  1, 1,
	                            0, 1, 7, 6,  -1, -1, -1 };
static const int completion_codes[NS] = { -1, 6,  -1, -1, -1, -1, -1,
	                                  -1, -1, 0,  1,  4,  2,  5 };

static bool
is_final(enum lc_state s)
{
	return s == NAC || s == APR || s == RFS || s == FWD || s == VOI ||
	       s == WDR;
}

/* expect: is (from, a) legal with this target / pre-suspension state, and
 * where does it land? */
static bool
expect(enum lc_state from, enum lc_action a, enum lc_state target,
       enum lc_state pre, enum lc_state *to)
{
	size_t i;

	for (i = 0; i < NWANT; i++) {
		if (want[i].from != from || want[i].a != a) {
			continue;
		}
		if ((a == LC_ACTION_SEND_BACK && want[i].to != target) ||
		    (a == LC_ACTION_RESUME && want[i].to != pre)) {
			continue;
		}
		*to = want[i].to;
		return true;
	}
	return false;
}

/* check_one applies a to {s, p} with target t and compares with the
 * expected table; on a mismatch it describes it in why and returns 1. */
static int
check_one(int s, int a, int t, int p, int *legal, char *why, size_t len)
{
	struct lc_case c = { (enum lc_state)s, (enum lc_state)p };
	enum lc_state to = RCV, pre_after;
	char err[256] = "";
	bool ex;
	int rv;

	ex = expect(c.state, (enum lc_action)a, (enum lc_state)t,
	            c.suspended_from, &to);
	rv =
	    lc_apply(&c, (enum lc_action)a, (enum lc_state)t, err, sizeof(err));
	*legal += ex;
	if (ex) {
		pre_after = to == SUS ? (enum lc_state)s : RCV;
		if (rv == TB_OK && c.state == to &&
		    c.suspended_from == pre_after) {
			return 0;
		}
		snprintf(why, len,
		         "target %d pre %d: rv %d state %d/%d, want %d/%d (%s)",
		         t, p, rv, c.state, c.suspended_from, to, pre_after,
		         err);
		return 1;
	}
	if (rv == TB_ETRANSITION && (int)c.state == s &&
	    (int)c.suspended_from == p && strstr(err, action_names[a]) &&
	    strstr(err, state_names[s])) {
		return 0;
	}
	snprintf(why, len, "target %d pre %d: rv %d state %d, err '%s'", t, p,
	         rv, c.state, err);
	return 1;
}

/* Every state x every action x every target (x every remembered state
 * when suspended): one test point per (state, action). */
static void
test_exhaustive(void)
{
	int s, a, t, p;

	for (s = 0; s < NS; s++) {
		for (a = 0; a < NA; a++) {
			int bad = 0, legal = 0;
			char why[512] = "";

			for (t = 0; t < NS; t++) {
				for (p = 0; p < NS; p++) {
					/* Only a suspended case remembers. */
					if (s != SUS && p != RCV) {
						continue;
					}
					bad += check_one(s, a, t, p, &legal,
					                 why, sizeof(why));
				}
			}
			ok(bad == 0,
			   "%s + %s: %d legal combinations, rest refused",
			   state_names[s], action_names[a], legal);
			if (bad) {
				printf("#   %d wrong, last: %s\n", bad, why);
			}
		}
	}
}

static void
test_messages(void)
{
	struct lc_case c = { HND, RCV };
	char err[256], tiny[8];

	lc_apply(&c, LC_ACTION_APPROVE, RCV, err, sizeof(err));
	is_str(err,
	       "action 'approve' is not allowed in state 'handling' (allowed: "
	       "submit_review, send_back, suspend, withdraw, void)",
	       "refusal lists the allowed actions");
	c.state = REV;
	is_int(lc_apply(&c, LC_ACTION_SEND_BACK, DEC, err, sizeof(err)),
	       TB_ETRANSITION, "send_back to a later step is refused");
	like(err, "'decision'", "naming the target");
	like(err, "handling, accepted", "and listing the allowed targets");
	c.state = APR;
	lc_apply(&c, LC_ACTION_VOID, RCV, err, sizeof(err));
	like(err, "final", "a final state says so");
	is_int(lc_apply(&c, LC_ACTION_VOID, RCV, NULL, 0), TB_ETRANSITION,
	       "NULL errmsg is fine");
	memset(tiny, 'x', sizeof(tiny));
	lc_apply(&c, LC_ACTION_VOID, RCV, tiny, sizeof(tiny));
	is_int((int)strlen(tiny), 7, "errmsg truncates and terminates");

	c.state = HND;
	is_int(lc_apply(NULL, LC_ACTION_VOID, RCV, err, sizeof(err)), TB_EINVAL,
	       "NULL case");
	is_int(lc_apply(&c, (enum lc_action)NA, RCV, err, sizeof(err)),
	       TB_EINVAL, "action out of range");
	is_int(lc_apply(&c, LC_ACTION_SEND_BACK, (enum lc_state)NS, err,
	                sizeof(err)),
	       TB_EINVAL, "send_back target out of range");
	c.state = (enum lc_state)NS;
	is_int(lc_apply(&c, LC_ACTION_VOID, RCV, err, sizeof(err)), TB_EINVAL,
	       "state out of range");
	is_int(c.state, NS, "and the case is left alone");
	c.state = SUS;
	c.suspended_from = APR;
	is_int(lc_apply(&c, LC_ACTION_RESUME, RCV, err, sizeof(err)),
	       TB_ETRANSITION, "resume into a final state is refused");
	is_int(c.state, SUS, "the case stays suspended");
}

static void
test_names_codes(void)
{
	enum lc_state s = RCV;
	enum lc_action a = LC_ACTION_ACCEPT;
	enum lc_role r = LC_ROLE_CLERK;
	int i, bad = 0;

	for (i = 0; i < NS; i++) {
		is_str(lc_state_name((enum lc_state)i), state_names[i],
		       "state %d is named %s", i, state_names[i]);
		ok(lc_state_parse(state_names[i], &s) == TB_OK && (int)s == i,
		   "%s parses back", state_names[i]);
		ok(strlen(lc_state_label((enum lc_state)i)) >= 3,
		   "%s has a Chinese label", state_names[i]);
		is_int(lc_completion_code((enum lc_state)i),
		       completion_codes[i], "completion code of %s",
		       state_names[i]);
		is_int(lc_is_final((enum lc_state)i),
		       is_final((enum lc_state)i), "%s final flag",
		       state_names[i]);
		is_int(lc_is_open((enum lc_state)i),
		       !is_final((enum lc_state)i), "%s open flag",
		       state_names[i]);
		is_int(lc_clock_stopped((enum lc_state)i), i == SUS || i == SRQ,
		       "%s clock flag", state_names[i]);
	}
	for (i = 0; i < NA; i++) {
		is_str(lc_action_name((enum lc_action)i), action_names[i],
		       "action %d is named %s", i, action_names[i]);
		ok(lc_action_parse(action_names[i], &a) == TB_OK && (int)a == i,
		   "%s parses back", action_names[i]);
		ok(strlen(lc_action_label((enum lc_action)i)) >= 3,
		   "%s has a Chinese label", action_names[i]);
		is_int(lc_step_code((enum lc_action)i), step_codes[i],
		       "step code of %s", action_names[i]);
		is_int(lc_action_roles((enum lc_action)i),
		       i == LC_ACTION_VOID ? LC_ROLE_BIT(LC_ROLE_REGION_ADMIN)
		                           : LC_ROLE_BIT(LC_ROLE_CLERK),
		       "roles of %s", action_names[i]);
	}
	s = APR;
	a = LC_ACTION_VOID;
	is_int(lc_state_parse("Received", &s), TB_ECODE, "names are exact");
	is_int(lc_state_parse("", &s), TB_ECODE, "empty state name");
	is_int(lc_state_parse(NULL, &s), TB_ECODE, "NULL state name");
	is_int(lc_action_parse("approve ", &a), TB_ECODE, "trailing space");
	is_int(lc_action_parse("批准", &a), TB_ECODE, "labels are not names");
	is_int(s, APR, "failed parses leave the output alone");
	is_int(a, LC_ACTION_VOID, "for actions too");
	is_str(lc_state_name((enum lc_state)NS), "unknown", "state past end");
	is_str(lc_action_name((enum lc_action) - 1), "unknown", "action < 0");
	is_int(lc_completion_code((enum lc_state)NS), -1, "no code past end");
	is_int(lc_step_code((enum lc_action)NA), -1, "no step past end");
	ok(!lc_is_final((enum lc_state)NS) && !lc_is_open((enum lc_state)NS),
	   "out of range is neither final nor open");
	ok(lc_role_parse("region_admin", &r) == TB_OK &&
	       r == LC_ROLE_REGION_ADMIN,
	   "region_admin parses");
	is_int(lc_role_parse("admin", &r), TB_ECODE, "unknown role");
	ok(lc_role_may(LC_ROLE_REGION_ADMIN, LC_ACTION_VOID) &&
	       !lc_role_may(LC_ROLE_CLERK, LC_ACTION_VOID),
	   "only a region admin voids");

	/* The table the docs print must be the one lc_apply enforces. */
	{
		size_t n, k;
		const struct lc_transition *t = lc_transitions(&n);

		for (k = 0; k < n; k++) {
			enum lc_state to;

			if (!expect(t[k].from, t[k].action, t[k].to, t[k].to,
			            &to) ||
			    to != t[k].to) {
				bad++;
			}
		}
		ok(n == NWANT && bad == 0,
		   "lc_transitions lists exactly the expected rows");
		printf("#   %zu rows, %d unexpected\n", n, bad);
	}
}

static uint64_t rng;

static uint32_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

/* Random walks: mostly legal moves (chosen from the expected table) so
 * deep states are reached, some random ones to probe refusals. */
static void
test_walks(uint64_t seed, int steps)
{
	struct lc_case c = { RCV, RCV };
	enum lc_state pre = RCV;
	int visits[NS] = { 0 }, n_final_left = 0, n_clock = 0, n_resume = 0;
	int n_model = 0, n_unchanged = 0, cases = 1, i, s;

	rng = seed;
	for (i = 0; i < steps; i++) {
		struct lc_case before = c;
		enum lc_action a = (enum lc_action)(next() % NA);
		enum lc_state t = (enum lc_state)(next() % NS), to;
		bool ex;
		int rv;

		visits[c.state]++;
		if (next() % 4 != 0) {
			/* Withdraw and void are legal almost everywhere; if
			 * they were as likely as the rest, few walks would
			 * reach a decision. */
			bool end = next() % 16 == 0;
			const struct row *r[NWANT];
			size_t k, m = 0;

			for (k = 0; k < NWANT; k++) {
				if (want[k].from == c.state &&
				    (end || (want[k].a != LC_ACTION_WITHDRAW &&
				             want[k].a != LC_ACTION_VOID)) &&
				    (want[k].a != LC_ACTION_RESUME ||
				     want[k].to == pre)) {
					r[m++] = &want[k];
				}
			}
			if (m > 0) {
				k = next() % m;
				a = r[k]->a;
				t = r[k]->to;
			}
		}
		ex = expect(c.state, a, t, pre, &to);
		rv = lc_apply(&c, a, t, NULL, 0);
		n_model += ex != (rv == TB_OK) || (ex && c.state != to);
		n_unchanged +=
		    rv != TB_OK && (c.state != before.state ||
		                    c.suspended_from != before.suspended_from);
		n_final_left += is_final(before.state) && rv != TB_ETRANSITION;
		n_clock += lc_clock_stopped(c.state) !=
		           (c.state == SUS || c.state == SRQ);
		if (rv == TB_OK && a == LC_ACTION_RESUME) {
			n_resume += c.state != pre;
		}
		if (rv == TB_OK && c.state == SUS) {
			pre = before.state;
		}
		/* A final case gets a few more tries, then a new case. */
		if (is_final(c.state) && next() % 4 == 0) {
			c.state = RCV;
			c.suspended_from = RCV;
			cases++;
		}
	}
	printf("# seed %llu: %d steps, %d cases\n", (unsigned long long)seed,
	       steps, cases);
	is_int(n_model, 0, "every step agrees with the expected table");
	is_int(n_unchanged, 0, "refused steps leave the case unchanged");
	is_int(n_final_left, 0, "no action leaves a final state");
	is_int(n_clock, 0,
	       "clock stopped iff suspended or supplement_requested");
	is_int(n_resume, 0, "resume returns to the pre-suspension state");
	printf("# visits:");
	for (s = 0; s < NS; s++) {
		printf(" %s=%d", state_names[s], visits[s]);
	}
	printf("\n");
	for (s = 0; s < NS; s++) {
		if (visits[s] == 0) {
			break;
		}
	}
	is_int(s, NS, "the walk visited every state");
}

int
main(void)
{
	test_exhaustive();
	test_messages();
	test_names_codes();
	test_walks(20240601, 50000);
	test_walks(0x9e3779b97f4a7c15ull, 50000);
	return done_testing();
}
