/* The 'lifecycle' verb: prints the case state/action table as text, JSON
 * or the Markdown embedded in docs/LIFECYCLE.md. */
#include "node/cli.h"
#include "schema/lifecycle.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum lcli_format { LCLI_TEXT, LCLI_JSON, LCLI_MARKDOWN };

static void
lcli_usage(FILE *f)
{
	fprintf(f, "usage: tongban lifecycle [--json | --markdown]\n");
}

/* Writes the roles allowed to perform a into buf ("clerk, region_admin"). */
static void
lcli_roles(char *buf, size_t len, enum lc_action a)
{
	size_t off = 0;
	int r;

	buf[0] = '\0';
	for (r = 0; r < LC_ROLE_COUNT && off < len; r++) {
		if (lc_role_may((enum lc_role)r, a)) {
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			                        off ? ", " : "",
			                        lc_role_name((enum lc_role)r));
		}
	}
}

/* Prints the destinations of a from s separated by sep; returns how many
 * there are. */
static int
lcli_tos(FILE *f, enum lc_state s, enum lc_action a, const char *sep)
{
	size_t i, n;
	const struct lc_transition *t = lc_transitions(&n);
	int k = 0;

	for (i = 0; i < n; i++) {
		if (t[i].from == s && t[i].action == a) {
			fprintf(f, "%s%s", k++ ? sep : "",
			        lc_state_name(t[i].to));
		}
	}
	return k;
}

/* Prints the moves of a compactly. When every row ends in one state the
 * sources are listed once ("received, supplemented -> accepted");
 * otherwise each source gets its destinations ("review -> handling /
 * accepted; decision -> ..."). */
static void
lcli_moves(FILE *f, enum lc_action a, const char *arrow)
{
	size_t i, n;
	const struct lc_transition *t = lc_transitions(&n);
	int s, k = 0;
	bool one_to = true;
	enum lc_state to = LC_STATE_COUNT;

	for (i = 0; i < n; i++) {
		if (t[i].action != a) {
			continue;
		}
		if (to != LC_STATE_COUNT && t[i].to != to) {
			one_to = false;
		}
		to = t[i].to;
	}
	if (lc_action_dest(a) == LC_DEST_PRE_SUSPENSION) {
		fprintf(f, "suspended %s the state it was suspended from (",
		        arrow);
		lcli_tos(f, LC_STATE_SUSPENDED, a, ", ");
		fprintf(f, ")");
		return;
	}
	for (s = 0; s < LC_STATE_COUNT; s++) {
		if (!lc_can((enum lc_state)s, a)) {
			continue;
		}
		fprintf(f, "%s%s",
		        k == 0   ? ""
		        : one_to ? ", "
		                 : "; ",
		        lc_state_name((enum lc_state)s));
		if (!one_to) {
			fprintf(f, " %s ", arrow);
			lcli_tos(f, (enum lc_state)s, a, " / ");
		}
		k++;
	}
	if (one_to && k > 0) {
		fprintf(f, " %s %s", arrow, lc_state_name(to));
	}
}

static const char *
lcli_clock(enum lc_state s)
{
	if (lc_is_final(s)) {
		return "—";
	}
	return lc_clock_stopped(s) ? "stopped" : "runs";
}

static void
lcli_code(FILE *f, int code, const char *none)
{
	if (code < 0) {
		fputs(none, f);
	} else {
		fprintf(f, "%d", code);
	}
}

static int
lcli_markdown(FILE *f)
{
	char roles[64];
	int s, a;

	fprintf(f, "| State | 中文 | Kind | Clock | Completion code |\n"
	           "|---|---|---|---|---|\n");
	for (s = 0; s < LC_STATE_COUNT; s++) {
		fprintf(f, "| `%s` | %s | %s | %s | ",
		        lc_state_name((enum lc_state)s),
		        lc_state_label((enum lc_state)s),
		        lc_is_final((enum lc_state)s) ? "final" : "open",
		        lcli_clock((enum lc_state)s));
		lcli_code(f, lc_completion_code((enum lc_state)s), "—");
		fprintf(f, " |\n");
	}
	fprintf(f, "\n| Action | 中文 | From → to | Step code | Roles |\n"
	           "|---|---|---|---|---|\n");
	for (a = 0; a < LC_ACTION_COUNT; a++) {
		fprintf(f, "| `%s` | %s | ", lc_action_name((enum lc_action)a),
		        lc_action_label((enum lc_action)a));
		lcli_moves(f, (enum lc_action)a, "→");
		fprintf(f, " | ");
		lcli_code(f, lc_step_code((enum lc_action)a), "—");
		lcli_roles(roles, sizeof(roles), (enum lc_action)a);
		fprintf(f, " | %s |\n", roles);
	}
	return TB_EXIT_OK;
}

/* Chinese labels go last on each line: their display width differs from
 * their byte length, so they would break the column alignment. */
static int
lcli_text(FILE *f)
{
	int s, a;

	fprintf(f, "States\n  %-22s %-6s %-8s %-11s %s\n", "state", "kind",
	        "clock", "completion", "label");
	for (s = 0; s < LC_STATE_COUNT; s++) {
		int code = lc_completion_code((enum lc_state)s);

		fprintf(f, "  %-22s %-6s %-8s ",
		        lc_state_name((enum lc_state)s),
		        lc_is_final((enum lc_state)s) ? "final" : "open",
		        lc_is_final((enum lc_state)s)
		            ? "-"
		            : lcli_clock((enum lc_state)s));
		if (code < 0) {
			fprintf(f, "%-11s ", "-");
		} else {
			fprintf(f, "%-11d ", code);
		}
		fprintf(f, "%s\n", lc_state_label((enum lc_state)s));
	}
	fprintf(f, "\nActions\n  %-22s %-6s %-13s %s\n", "action", "step",
	        "roles", "label");
	for (a = 0; a < LC_ACTION_COUNT; a++) {
		int code = lc_step_code((enum lc_action)a);
		char roles[64];

		lcli_roles(roles, sizeof(roles), (enum lc_action)a);
		fprintf(f, "  %-22s ", lc_action_name((enum lc_action)a));
		if (code < 0) {
			fprintf(f, "%-6s ", "-");
		} else {
			fprintf(f, "%-6d ", code);
		}
		fprintf(f, "%-13s %s\n      ", roles,
		        lc_action_label((enum lc_action)a));
		lcli_moves(f, (enum lc_action)a, "->");
		fprintf(f, "\n");
	}
	return TB_EXIT_OK;
}

static json_t *
lcli_code_json(int code)
{
	return code < 0 ? json_null() : json_integer(code);
}

static json_t *
lcli_json_states(void)
{
	json_t *arr = json_array();
	int s, a;

	for (s = 0; arr != NULL && s < LC_STATE_COUNT; s++) {
		enum lc_state st = (enum lc_state)s;
		json_t *acts = json_array();

		for (a = 0; acts != NULL && a < LC_ACTION_COUNT; a++) {
			if (lc_can(st, (enum lc_action)a)) {
				json_array_append_new(
				    acts, json_string(lc_action_name(
				              (enum lc_action)a)));
			}
		}
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:b, s:b, s:o, s:o}", "name",
		              lc_state_name(st), "label", lc_state_label(st),
		              "final", lc_is_final(st), "clock_stopped",
		              lc_clock_stopped(st), "completion_code",
		              lcli_code_json(lc_completion_code(st)), "actions",
		              acts));
	}
	return arr;
}

static json_t *
lcli_json_action(enum lc_action a)
{
	static const char *const dests[] = { "fixed", "target",
		                             "pre_suspension" };
	const struct lc_transition *t;
	json_t *from = json_array(), *moves = json_array(), *roles;
	size_t i, n;
	int s, r;

	roles = json_array();
	for (r = 0; roles != NULL && r < LC_ROLE_COUNT; r++) {
		if (lc_role_may((enum lc_role)r, a)) {
			json_array_append_new(
			    roles, json_string(lc_role_name((enum lc_role)r)));
		}
	}
	t = lc_transitions(&n);
	for (s = 0; from != NULL && moves != NULL && s < LC_STATE_COUNT; s++) {
		json_t *to = json_array();

		for (i = 0; to != NULL && i < n; i++) {
			if (t[i].from == (enum lc_state)s && t[i].action == a) {
				json_array_append_new(
				    to, json_string(lc_state_name(t[i].to)));
			}
		}
		if (json_array_size(to) > 0) {
			json_array_append_new(
			    from, json_string(lc_state_name((enum lc_state)s)));
			json_array_append_new(
			    moves, json_pack("{s:s, s:o}", "from",
			                     lc_state_name((enum lc_state)s),
			                     "to", to));
		} else {
			json_decref(to);
		}
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:o}", "name",
	                 lc_action_name(a), "label", lc_action_label(a),
	                 "step_code", lcli_code_json(lc_step_code(a)), "roles",
	                 roles, "destination", dests[lc_action_dest(a)], "from",
	                 from, "transitions", moves);
}

static int
lcli_json(FILE *f)
{
	json_t *root, *acts = json_array();
	char *s;
	int a;

	for (a = 0; acts != NULL && a < LC_ACTION_COUNT; a++) {
		json_array_append_new(acts,
		                      lcli_json_action((enum lc_action)a));
	}
	root = json_pack("{s:o, s:o}", "states", lcli_json_states(), "actions",
	                 acts);
	s = root != NULL
	        ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
	        : NULL;
	json_decref(root);
	if (s == NULL) {
		fprintf(stderr, "tongban lifecycle: out of memory\n");
		return TB_EXIT_INVALID;
	}
	fprintf(f, "%s\n", s);
	free(s);
	return TB_EXIT_OK;
}

int
tb_cli_lifecycle(int argc, char **argv)
{
	enum lcli_format fmt = LCLI_TEXT;
	int i, nfmt = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			fmt = LCLI_JSON;
			nfmt++;
		} else if (!strcmp(argv[i], "--markdown")) {
			fmt = LCLI_MARKDOWN;
			nfmt++;
		} else if (!strcmp(argv[i], "--help") ||
		           !strcmp(argv[i], "-h")) {
			lcli_usage(stdout);
			return TB_EXIT_OK;
		} else {
			fprintf(stderr,
			        "tongban lifecycle: unknown option '%s'\n",
			        argv[i]);
			lcli_usage(stderr);
			return TB_EXIT_USAGE;
		}
	}
	if (nfmt > 1) {
		fprintf(stderr, "tongban lifecycle: choose one of --json and "
		                "--markdown\n");
		lcli_usage(stderr);
		return TB_EXIT_USAGE;
	}
	switch (fmt) {
	case LCLI_JSON:
		return lcli_json(stdout);
	case LCLI_MARKDOWN:
		return lcli_markdown(stdout);
	default:
		return lcli_text(stdout);
	}
}
