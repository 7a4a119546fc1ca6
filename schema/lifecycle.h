/* The case lifecycle: the one state/action table every module cites. */
#ifndef TB_SCHEMA_LIFECYCLE_H
#define TB_SCHEMA_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

/* The states of a case (办件). Names are stable: they are stored, replicated
 * and shown to operators. Values are stable too; append, never reorder.
 * LC_STATE_RECEIVED is 0 so a zeroed struct lc_case is a fresh case. */
enum lc_state {
	LC_STATE_RECEIVED = 0,         /* 收件: submitted, not yet examined */
	LC_STATE_NOT_ACCEPTED,         /* 不予受理: final */
	LC_STATE_SUPPLEMENT_REQUESTED, /* 补齐补正: clock stopped */
	LC_STATE_SUPPLEMENTED,         /* materials arrived; re-check */
	LC_STATE_ACCEPTED,             /* 受理: the §42 clock runs */
	LC_STATE_HANDLING,             /* 承办 */
	LC_STATE_REVIEW,               /* 审核 */
	LC_STATE_DECISION,             /* 批准 */
	LC_STATE_SUSPENDED,            /* 特别程序: clock stopped */
	LC_STATE_APPROVED,             /* 出证办结: final */
	LC_STATE_REFUSED,              /* 不予许可: final */
	LC_STATE_FORWARDED,            /* 转报: final */
	LC_STATE_VOIDED,               /* 作废: final */
	LC_STATE_WITHDRAWN,            /* 退件: final */
	LC_STATE_COUNT
};

/* The actions a clerk or an administrator takes on a case. */
enum lc_action {
	LC_ACTION_ACCEPT = 0,
	LC_ACTION_NOT_ACCEPT,
	LC_ACTION_REQUEST_SUPPLEMENT,
	LC_ACTION_SUPPLEMENT,
	LC_ACTION_START_HANDLING,
	LC_ACTION_SUBMIT_REVIEW,
	LC_ACTION_SUBMIT_DECISION,
	LC_ACTION_APPROVE,
	LC_ACTION_REFUSE,
	LC_ACTION_FORWARD,
	LC_ACTION_SEND_BACK,
	LC_ACTION_SUSPEND,
	LC_ACTION_RESUME,
	LC_ACTION_WITHDRAW,
	LC_ACTION_VOID,
	LC_ACTION_COUNT
};

/* Who may perform an action. lc_action_roles returns a mask of
 * LC_ROLE_BIT(role). */
enum lc_role { LC_ROLE_CLERK = 0, LC_ROLE_REGION_ADMIN, LC_ROLE_COUNT };
#define LC_ROLE_BIT(r) (1u << (unsigned)(r))

/* How an action picks its destination: the table's single row for the
 * state (FIXED), the caller's target among the rows (TARGET, send_back), or
 * the state the case was suspended from (PRE_SUSPENSION, resume). */
enum lc_dest { LC_DEST_FIXED = 0, LC_DEST_TARGET, LC_DEST_PRE_SUSPENSION };

/* One row of the table: `action` moves a case from `from` to `to`. Actions
 * with several rows for one `from` choose by their lc_dest. */
struct lc_transition {
	enum lc_state from;
	enum lc_action action;
	enum lc_state to;
};

/* A case as the lifecycle sees it. suspended_from is meaningful only while
 * state is LC_STATE_SUSPENDED; lc_apply sets it on suspend and resets it to
 * LC_STATE_RECEIVED whenever the case is in any other state. */
struct lc_case {
	enum lc_state state;
	enum lc_state suspended_from;
};

/* lc_state_name returns the stable snake_case name of s ("received"), or
 * "unknown" if s is out of range. lc_state_label returns its Chinese label
 * ("收件"), or "?" if out of range. Both are static strings. */
const char *lc_state_name(enum lc_state s);
const char *lc_state_label(enum lc_state s);

/* lc_state_parse sets *out to the state named name and returns TB_OK, or
 * returns TB_ECODE (leaving *out alone) for NULL or an unknown name. */
int lc_state_parse(const char *name, enum lc_state *out);

/* lc_action_name, lc_action_label and lc_action_parse are the same for
 * actions ("send_back", "退回"). */
const char *lc_action_name(enum lc_action a);
const char *lc_action_label(enum lc_action a);
int lc_action_parse(const char *name, enum lc_action *out);

/* lc_role_name returns "clerk" or "region_admin" ("unknown" if out of
 * range); lc_role_parse is its inverse (TB_OK / TB_ECODE). */
const char *lc_role_name(enum lc_role r);
int lc_role_parse(const char *name, enum lc_role *out);

/* lc_is_final is true for the states no action leaves: not_accepted and
 * the five completions. Out-of-range states are neither open nor final. */
bool lc_is_final(enum lc_state s);

/* lc_is_open is true for the states of a case still in progress. */
bool lc_is_open(enum lc_state s);

/* lc_clock_stopped is true only while the case awaits a supplement or is
 * in a special procedure (§32, §45). In a final state the clock is over,
 * not stopped, so it returns false there. */
bool lc_clock_stopped(enum lc_state s);

/* lc_can is true if the table has at least one row for (s, a). For
 * send_back and resume the destination may still be refused. */
bool lc_can(enum lc_state s, enum lc_action a);

/* lc_action_roles returns the mask of roles allowed to perform a (0 if out
 * of range); lc_role_may tests one role. */
unsigned lc_action_roles(enum lc_action a);
bool lc_role_may(enum lc_role r, enum lc_action a);

/* lc_action_dest returns how a picks its destination (FIXED if out of
 * range). */
enum lc_dest lc_action_dest(enum lc_action a);

/* lc_apply performs a on *c. target is the destination for send_back and
 * is ignored otherwise. On TB_OK *c holds the new state. On failure *c is
 * unchanged and errmsg (may be NULL) holds the reason: TB_ETRANSITION for a
 * move the table does not allow ("action 'approve' is not allowed in state
 * 'handling' (allowed: submit_review, send_back, suspend, withdraw, void)"),
 * TB_EINVAL for a NULL case or an out-of-range state, action or send_back
 * target. */
int lc_apply(struct lc_case *c, enum lc_action a, enum lc_state target,
             char *errmsg, size_t errlen);

/* lc_step_code returns the national step result code an action records
 * (4 受理, 3 不予受理, 5 补齐补正, 6 特别程序, 7 退回, 1 agree, 0 disagree)
 * or -1 if it records none. */
int lc_step_code(enum lc_action a);

/* lc_completion_code returns the national completion code of a final
 * state (0 出证办结 ... 6 不予受理) or -1 for open states. */
int lc_completion_code(enum lc_state s);

/* lc_transitions returns the table (static, read-only) and stores its
 * length in *n. Rows are grouped by action in enum order. */
const struct lc_transition *lc_transitions(size_t *n);

#endif
