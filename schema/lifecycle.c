/* The case lifecycle table and the pure function that applies it. */
#include "schema/lifecycle.h"

#include "schema/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct lc_state_info {
	const char *name;
	const char *label;
	bool final;
	bool clock_stopped;
	int completion; /* national completion code, -1 while open */
};

struct lc_action_info {
	const char *name;
	const char *label;
	int step; /* national step result code, -1 if none */
	unsigned roles;
	enum lc_dest dest;
};

#define CLERK LC_ROLE_BIT(LC_ROLE_CLERK)
#define ADMIN LC_ROLE_BIT(LC_ROLE_REGION_ADMIN)

/* Completion code 3 (删除 deleted) is never produced: a case is never
 * deleted, an administrator voids it, so its history stays auditable. */
static const struct lc_state_info lc_states[LC_STATE_COUNT] = {
	[LC_STATE_RECEIVED] = { "received", "收件", false, false, -1 },
	[LC_STATE_NOT_ACCEPTED] = { "not_accepted", "不予受理", true, false,
	                            6 },
	[LC_STATE_SUPPLEMENT_REQUESTED] = { "supplement_requested",
	                                    "待补齐补正", false, true, -1 },
	[LC_STATE_SUPPLEMENTED] = { "supplemented", "已补齐补正", false, false,
	                            -1 },
	[LC_STATE_ACCEPTED] = { "accepted", "已受理", false, false, -1 },
	[LC_STATE_HANDLING] = { "handling", "承办", false, false, -1 },
	[LC_STATE_REVIEW] = { "review", "审核", false, false, -1 },
	[LC_STATE_DECISION] = { "decision", "批准", false, false, -1 },
	[LC_STATE_SUSPENDED] = { "suspended", "特别程序", false, true, -1 },
	[LC_STATE_APPROVED] = { "approved", "出证办结", true, false, 0 },
	[LC_STATE_REFUSED] = { "refused", "不予许可", true, false, 1 },
	[LC_STATE_FORWARDED] = { "forwarded", "转报", true, false, 4 },
	[LC_STATE_VOIDED] = { "voided", "作废", true, false, 2 },
	[LC_STATE_WITHDRAWN] = { "withdrawn", "退件", true, false, 5 },
};

/* Step code 2 (not received) is never produced: a submission the window
 * refuses to take never becomes a case. The 承办 and 审核 steps close with
 * 1 (agree) when they pass the case on; the 批准 step closes with 1 or 0. */
static const struct lc_action_info lc_actions[LC_ACTION_COUNT] = {
	[LC_ACTION_ACCEPT] = { "accept", "受理", 4, CLERK, LC_DEST_FIXED },
	[LC_ACTION_NOT_ACCEPT] = { "not_accept", "不予受理", 3, CLERK,
	                           LC_DEST_FIXED },
	[LC_ACTION_REQUEST_SUPPLEMENT] = { "request_supplement", "补齐补正告知",
	                                   5, CLERK, LC_DEST_FIXED },
	[LC_ACTION_SUPPLEMENT] = { "supplement", "补齐补正材料", -1, CLERK,
	                           LC_DEST_FIXED },
	[LC_ACTION_START_HANDLING] = { "start_handling", "承办", -1, CLERK,
	                               LC_DEST_FIXED },
	[LC_ACTION_SUBMIT_REVIEW] = { "submit_review", "提交审核", 1, CLERK,
	                              LC_DEST_FIXED },
	[LC_ACTION_SUBMIT_DECISION] = { "submit_decision", "提交批准", 1, CLERK,
	                                LC_DEST_FIXED },
	[LC_ACTION_APPROVE] = { "approve", "准予许可", 1, CLERK,
	                        LC_DEST_FIXED },
	[LC_ACTION_REFUSE] = { "refuse", "不予许可", 0, CLERK, LC_DEST_FIXED },
	[LC_ACTION_FORWARD] = { "forward", "转报", 1, CLERK, LC_DEST_FIXED },
	[LC_ACTION_SEND_BACK] = { "send_back", "退回", 7, CLERK,
	                          LC_DEST_TARGET },
	[LC_ACTION_SUSPEND] = { "suspend", "启动特别程序", 6, CLERK,
	                        LC_DEST_FIXED },
	[LC_ACTION_RESUME] = { "resume", "结束特别程序", -1, CLERK,
	                       LC_DEST_PRE_SUSPENSION },
	[LC_ACTION_WITHDRAW] = { "withdraw", "退件", -1, CLERK, LC_DEST_FIXED },
	[LC_ACTION_VOID] = { "void", "作废", -1, ADMIN, LC_DEST_FIXED },
};

#define RCV LC_STATE_RECEIVED
#define NAC LC_STATE_NOT_ACCEPTED
#define SRQ LC_STATE_SUPPLEMENT_REQUESTED
#define SUP LC_STATE_SUPPLEMENTED
#define ACC LC_STATE_ACCEPTED
#define HND LC_STATE_HANDLING
#define REV LC_STATE_REVIEW
#define DEC LC_STATE_DECISION
#define SUS LC_STATE_SUSPENDED

/* The table. Acceptance is a legal act with a receipt, so nothing sends a
 * case back before `accepted`; a wrongly accepted case is voided instead.
 * A supplemented case is re-examined like a new one, and may be asked for
 * a supplement again when the supplied materials are themselves deficient.
 * Completions (approve, refuse, forward) are decided only at 批准. */
static const struct lc_transition lc_table[] = {
	{ RCV, LC_ACTION_ACCEPT, ACC },
	{ SUP, LC_ACTION_ACCEPT, ACC },
	{ RCV, LC_ACTION_NOT_ACCEPT, NAC },
	{ SUP, LC_ACTION_NOT_ACCEPT, NAC },
	{ RCV, LC_ACTION_REQUEST_SUPPLEMENT, SRQ },
	{ SUP, LC_ACTION_REQUEST_SUPPLEMENT, SRQ },
	{ SRQ, LC_ACTION_SUPPLEMENT, SUP },
	{ ACC, LC_ACTION_START_HANDLING, HND },
	{ HND, LC_ACTION_SUBMIT_REVIEW, REV },
	{ REV, LC_ACTION_SUBMIT_DECISION, DEC },
	{ DEC, LC_ACTION_APPROVE, LC_STATE_APPROVED },
	{ DEC, LC_ACTION_REFUSE, LC_STATE_REFUSED },
	{ DEC, LC_ACTION_FORWARD, LC_STATE_FORWARDED },
	{ HND, LC_ACTION_SEND_BACK, ACC },
	{ REV, LC_ACTION_SEND_BACK, HND },
	{ REV, LC_ACTION_SEND_BACK, ACC },
	{ DEC, LC_ACTION_SEND_BACK, REV },
	{ DEC, LC_ACTION_SEND_BACK, HND },
	{ DEC, LC_ACTION_SEND_BACK, ACC },
	/* A special procedure may start in any open state; suspending a case
	 * that awaits a supplement is allowed so the procedure is recorded,
	 * though the clock is already stopped. */
	{ RCV, LC_ACTION_SUSPEND, SUS },
	{ SRQ, LC_ACTION_SUSPEND, SUS },
	{ SUP, LC_ACTION_SUSPEND, SUS },
	{ ACC, LC_ACTION_SUSPEND, SUS },
	{ HND, LC_ACTION_SUSPEND, SUS },
	{ REV, LC_ACTION_SUSPEND, SUS },
	{ DEC, LC_ACTION_SUSPEND, SUS },
	{ SUS, LC_ACTION_RESUME, RCV },
	{ SUS, LC_ACTION_RESUME, SRQ },
	{ SUS, LC_ACTION_RESUME, SUP },
	{ SUS, LC_ACTION_RESUME, ACC },
	{ SUS, LC_ACTION_RESUME, HND },
	{ SUS, LC_ACTION_RESUME, REV },
	{ SUS, LC_ACTION_RESUME, DEC },
	/* Withdrawal (also 退件 for a supplement not made in time) and voiding
	 * end any open case, suspended or not. */
	{ RCV, LC_ACTION_WITHDRAW, LC_STATE_WITHDRAWN },
	{ SRQ, LC_ACTION_WITHDRAW, LC_STATE_WITHDRAWN },
	{ SUP, LC_ACTION_WITHDRAW, LC_STATE_WITHDRAWN },
	{ ACC, LC_ACTION_WITHDRAW, LC_STATE_WITHDRAWN },
	{ HND, LC_ACTION_WITHDRAW, LC_STATE_WITHDRAWN },
	{ REV, LC_ACTION_WITHDRAW, LC_STATE_WITHDRAWN },
	{ DEC, LC_ACTION_WITHDRAW, LC_STATE_WITHDRAWN },
	{ SUS, LC_ACTION_WITHDRAW, LC_STATE_WITHDRAWN },
	{ RCV, LC_ACTION_VOID, LC_STATE_VOIDED },
	{ SRQ, LC_ACTION_VOID, LC_STATE_VOIDED },
	{ SUP, LC_ACTION_VOID, LC_STATE_VOIDED },
	{ ACC, LC_ACTION_VOID, LC_STATE_VOIDED },
	{ HND, LC_ACTION_VOID, LC_STATE_VOIDED },
	{ REV, LC_ACTION_VOID, LC_STATE_VOIDED },
	{ DEC, LC_ACTION_VOID, LC_STATE_VOIDED },
	{ SUS, LC_ACTION_VOID, LC_STATE_VOIDED },
};

#define LC_NROWS (sizeof(lc_table) / sizeof(lc_table[0]))

static const char *const lc_roles[LC_ROLE_COUNT] = { "clerk", "region_admin" };

static bool
state_ok(enum lc_state s)
{
	return (unsigned)s < LC_STATE_COUNT;
}

static bool
action_ok(enum lc_action a)
{
	return (unsigned)a < LC_ACTION_COUNT;
}

const char *
lc_state_name(enum lc_state s)
{
	return state_ok(s) ? lc_states[s].name : "unknown";
}

const char *
lc_state_label(enum lc_state s)
{
	return state_ok(s) ? lc_states[s].label : "?";
}

int
lc_state_parse(const char *name, enum lc_state *out)
{
	int i;

	for (i = 0; name != NULL && i < LC_STATE_COUNT; i++) {
		if (!strcmp(name, lc_states[i].name)) {
			*out = (enum lc_state)i;
			return TB_OK;
		}
	}
	return TB_ECODE;
}

const char *
lc_action_name(enum lc_action a)
{
	return action_ok(a) ? lc_actions[a].name : "unknown";
}

const char *
lc_action_label(enum lc_action a)
{
	return action_ok(a) ? lc_actions[a].label : "?";
}

int
lc_action_parse(const char *name, enum lc_action *out)
{
	int i;

	for (i = 0; name != NULL && i < LC_ACTION_COUNT; i++) {
		if (!strcmp(name, lc_actions[i].name)) {
			*out = (enum lc_action)i;
			return TB_OK;
		}
	}
	return TB_ECODE;
}

const char *
lc_role_name(enum lc_role r)
{
	return (unsigned)r < LC_ROLE_COUNT ? lc_roles[r] : "unknown";
}

int
lc_role_parse(const char *name, enum lc_role *out)
{
	int i;

	for (i = 0; name != NULL && i < LC_ROLE_COUNT; i++) {
		if (!strcmp(name, lc_roles[i])) {
			*out = (enum lc_role)i;
			return TB_OK;
		}
	}
	return TB_ECODE;
}

bool
lc_is_final(enum lc_state s)
{
	return state_ok(s) && lc_states[s].final;
}

bool
lc_is_open(enum lc_state s)
{
	return state_ok(s) && !lc_states[s].final;
}

bool
lc_clock_stopped(enum lc_state s)
{
	return state_ok(s) && lc_states[s].clock_stopped;
}

bool
lc_can(enum lc_state s, enum lc_action a)
{
	size_t i;

	for (i = 0; i < LC_NROWS; i++) {
		if (lc_table[i].from == s && lc_table[i].action == a) {
			return true;
		}
	}
	return false;
}

unsigned
lc_action_roles(enum lc_action a)
{
	return action_ok(a) ? lc_actions[a].roles : 0;
}

bool
lc_role_may(enum lc_role r, enum lc_action a)
{
	return (unsigned)r < LC_ROLE_COUNT &&
	       (lc_action_roles(a) & LC_ROLE_BIT(r)) != 0;
}

enum lc_dest
lc_action_dest(enum lc_action a)
{
	return action_ok(a) ? lc_actions[a].dest : LC_DEST_FIXED;
}

int
lc_step_code(enum lc_action a)
{
	return action_ok(a) ? lc_actions[a].step : -1;
}

int
lc_completion_code(enum lc_state s)
{
	return state_ok(s) ? lc_states[s].completion : -1;
}

const struct lc_transition *
lc_transitions(size_t *n)
{
	*n = LC_NROWS;
	return lc_table;
}

/* Appends ", name" (or "name" first) to buf at *off, truncating safely. */
static void
lc_append(char *buf, size_t len, size_t *off, const char *name)
{
	int w;

	if (*off >= len) {
		return;
	}
	w = snprintf(buf + *off, len - *off, "%s%s", *off > 0 ? ", " : "",
	             name);
	*off = w < 0 ? len : *off + (size_t)w;
}

/* Lists what is allowed instead, so an operator sees the way forward:
 * the actions of state s, or the destinations of action a from s. */
static void
lc_allowed(char *buf, size_t len, enum lc_state s, enum lc_action a, bool dests)
{
	size_t i, off = 0;

	buf[0] = '\0';
	if (!dests) {
		for (i = 0; i < LC_ACTION_COUNT; i++) {
			if (lc_can(s, (enum lc_action)i)) {
				lc_append(buf, len, &off, lc_actions[i].name);
			}
		}
	} else {
		for (i = 0; i < LC_NROWS; i++) {
			if (lc_table[i].from == s && lc_table[i].action == a) {
				lc_append(buf, len, &off,
				          lc_states[lc_table[i].to].name);
			}
		}
	}
	if (off == 0) {
		snprintf(buf, len, "none, the state is final");
	}
}

int
lc_apply(struct lc_case *c, enum lc_action a, enum lc_state target,
         char *errmsg, size_t errlen)
{
	enum lc_dest dest;
	enum lc_state want;
	bool any = false;
	char allowed[256];
	size_t i;

	if (c == NULL || !state_ok(c->state) || !action_ok(a)) {
		return tb_errf(errmsg, errlen, TB_EINVAL,
		               "lifecycle: no case, or state %d or action %d "
		               "out of range",
		               c != NULL ? (int)c->state : -1, (int)a);
	}
	dest = lc_actions[a].dest;
	want = dest == LC_DEST_TARGET ? target : c->suspended_from;
	if (dest == LC_DEST_TARGET && !state_ok(target)) {
		return tb_errf(errmsg, errlen, TB_EINVAL,
		               "action '%s': target state %d out of range",
		               lc_actions[a].name, (int)target);
	}
	for (i = 0; i < LC_NROWS; i++) {
		const struct lc_transition *t = &lc_table[i];

		if (t->from != c->state || t->action != a) {
			continue;
		}
		any = true;
		if (dest == LC_DEST_FIXED || t->to == want) {
			/* Entering suspended is the only way in, so this is
			 * where the pre-suspension state is remembered. */
			c->suspended_from = t->to == LC_STATE_SUSPENDED
			                        ? c->state
			                        : LC_STATE_RECEIVED;
			c->state = t->to;
			return TB_OK;
		}
	}
	lc_allowed(allowed, sizeof(allowed), c->state, a, any);
	if (!any) {
		return tb_errf(errmsg, errlen, TB_ETRANSITION,
		               "action '%s' is not allowed in state '%s' "
		               "(allowed: %s)",
		               lc_actions[a].name, lc_states[c->state].name,
		               allowed);
	}
	return tb_errf(errmsg, errlen, TB_ETRANSITION,
	               "action '%s' in state '%s' cannot go to '%s' "
	               "(allowed: %s)",
	               lc_actions[a].name, lc_states[c->state].name,
	               lc_state_name(want), allowed);
}
