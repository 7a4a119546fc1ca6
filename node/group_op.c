/* Membership changes on the leader: add (as a spare, then the role asked
 * for), assign a role (promote, demote), remove, transfer leadership.
 *
 * libraft allows one change at a time (RAFT_CANTCHANGE otherwise, a 409);
 * promoting to voter first catches the server up in rounds, so an add of
 * a voter answers only once the new member holds the log. A change whose
 * callback reports an error is answered with that error; the change may
 * still have been appended, so GET /v1/status is the truth. */
#include "node/group_impl.h"

#include "node/log.h"
#include "node/node.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum op_kind { OP_ADD, OP_ASSIGN, OP_REMOVE, OP_TRANSFER };

struct op {
	struct raft_change change;
	struct raft_transfer transfer;
	struct group *g;
	enum op_kind kind;
	raft_id id;
	int role;
	char address[256];
	char node_id[17];
	struct http_call *c;     /* answer here, or ... */
	struct link_reply_to to; /* ... as a link reply */
};

/* op_refuse answers a change that failed or cannot start: over HTTP, or
 * to the forwarding member as {"status", "error": {"code", "field",
 * "message"}} so that it answers its client with the same status. */
static void
op_refuse(struct group *g, struct http_call *c, const struct link_reply_to *to,
          uint16_t status, const char *code, const char *field, const char *why)
{
	json_t *ans;
	char *text;

	if (c != NULL) {
		http_reply_error(c, status, code, field, "%s", why);
		return;
	}
	ans = json_pack("{s:i, s:{s:s, s:s?, s:s}}", "status", status, "error",
	                "code", code, "field", field, "message", why);
	text = ans != NULL ? json_dumps(ans, JSON_COMPACT) : NULL;
	if (g->n->links != NULL) {
		if (text != NULL) {
			link_reply(g->n->links, to, GROUP_T_FWD, text,
			           strlen(text));
		} else {
			link_reply_error(g->n->links, to, TB_ENOMEM,
			                 "out of memory");
		}
	}
	free(text);
	json_decref(ans);
}

/* op_done answers the operation: rv 0 (with the group's view) or a
 * libraft error. */
static void
op_done(struct op *o, int rv, const char *why)
{
	struct group *g = o->g;
	json_t *ans;
	const char *code;
	uint16_t status;
	char *text;

	group_view_refresh(g);
	if (rv != 0) {
		status = group_raft_http(rv, &code);
		tb_log(TB_LOG_WARN, "TB-GROUP-CHANGE", "%s %s failed: %s",
		       o->kind == OP_ADD      ? "add"
		       : o->kind == OP_ASSIGN ? "assign"
		       : o->kind == OP_REMOVE ? "remove"
		                              : "transfer",
		       o->node_id, why);
		if (rv == RAFT_NOCONNECTION && o->kind == OP_ASSIGN) {
			/* libraft gave up catching the member up. */
			why = "the member did not catch up (is it running "
			      "and linked? tongban links on the leader); it "
			      "stays in the group as a spare: once it runs, "
			      "tongban group promote it";
		}
		{
			char msg[512];
			snprintf(msg, sizeof(msg), "group change of %s: %s",
			         o->node_id, why);
			op_refuse(g, o->c, &o->to, status, code, NULL, msg);
		}
		free(o);
		return;
	}
	tb_log(
	    TB_LOG_INFO, "TB-GROUP-CHANGE", "%s %s%s%s done",
	    o->kind == OP_ADD      ? "add"
	    : o->kind == OP_ASSIGN ? "assign"
	    : o->kind == OP_REMOVE ? "remove"
	                           : "transfer to",
	    o->node_id, o->kind == OP_ADD || o->kind == OP_ASSIGN ? " as " : "",
	    o->kind == OP_ADD || o->kind == OP_ASSIGN ? group_role_name(o->role)
	                                              : "");
	ans = json_pack("{s:b, s:s, s:s}", "ok", 1, "node_id", o->node_id, "op",
	                o->kind == OP_ADD      ? "add"
	                : o->kind == OP_ASSIGN ? "assign"
	                : o->kind == OP_REMOVE ? "remove"
	                                       : "transfer");
	if (o->kind == OP_ADD || o->kind == OP_ASSIGN) {
		json_object_set_new(ans, "role",
		                    json_string(group_role_name(o->role)));
	}
	if (o->c != NULL) {
		http_reply_json(o->c, 200, ans);
	} else {
		if ((text = json_dumps(ans, JSON_COMPACT)) != NULL &&
		    g->n->links != NULL) {
			link_reply(g->n->links, &o->to, GROUP_T_FWD, text,
			           strlen(text));
		}
		free(text);
		json_decref(ans);
	}
	free(o);
}

static void
change_cb(struct raft_change *req, int status)
{
	struct op *o = req->data;
	int rv;

	if (status != 0) {
		op_done(o, status, raft_strerror(status));
		return;
	}
	/* An add lands as a spare; then the role asked for. */
	if (o->kind == OP_ADD && o->role != RAFT_SPARE) {
		o->kind = OP_ASSIGN;
		rv = raft_assign(&o->g->n->raft, &o->change, o->id, o->role,
		                 change_cb);
		if (rv != 0) {
			op_done(o, rv, raft_errmsg(&o->g->n->raft));
		}
		return;
	}
	op_done(o, 0, NULL);
}

static void
transfer_cb(struct raft_transfer *req)
{
	struct op *o = req->data;
	raft_id lid = 0;
	const char *addr = NULL;

	raft_leader(&o->g->n->raft, &lid, &addr);
	if (lid == 0 || lid == o->g->n->cfg.raft_id ||
	    (o->id != 0 && lid != o->id)) {
		op_done(o, RAFT_LEADERSHIPLOST,
		        "leadership did not move within the election timeout");
		return;
	}
	o->id = lid;
	group_node_id(lid, o->node_id);
	op_done(o, 0, NULL);
}

/* parse_id reads a 16-hex-digit node id as a raft id. */
static bool
parse_id(const char *s, raft_id *id)
{
	if (s == NULL || strlen(s) != 16 ||
	    strspn(s, "0123456789abcdef") != 16) {
		return false;
	}
	*id = strtoull(s, NULL, 16);
	return *id != 0;
}

/* addr_ok accepts HOST:PORT with a port 1..65535 (the member's link). */
static bool
addr_ok(const char *s)
{
	const char *colon = s != NULL ? strrchr(s, ':') : NULL;
	char *end;
	long port;

	if (colon == NULL || colon == s || strlen(s) > 200 ||
	    !strncmp(s, "tcp://", 6) || strchr(s, '/') != NULL) {
		return false;
	}
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

void
group_op_start(struct group *g, const json_t *req, struct http_call *c,
               const struct link_reply_to *to)
{
	const char *op = spec_str(req, "op"), *nid = spec_str(req, "node_id");
	const char *role = spec_str(req, "role");
	struct raft *r = &g->n->raft;
	struct op *o;
	const char *code;
	int rv;

	if ((o = calloc(1, sizeof(*o))) == NULL) {
		op_refuse(g, c, to, 500, "nomem", NULL, "out of memory");
		return;
	}
	o->g = g;
	o->c = c;
	if (to != NULL) {
		o->to = *to;
	}
	o->change.data = o;
	o->transfer.data = o;
	o->role = RAFT_VOTER;
	if (op == NULL || (strcmp(op, "add") && strcmp(op, "assign") &&
	                   strcmp(op, "remove") && strcmp(op, "transfer"))) {
		free(o);
		op_refuse(g, c, to, 422, "invalid", "$.op",
		          "unknown group operation");
		return;
	}
	o->kind = !strcmp(op, "add")      ? OP_ADD
	          : !strcmp(op, "assign") ? OP_ASSIGN
	          : !strcmp(op, "remove") ? OP_REMOVE
	                                  : OP_TRANSFER;
	if (nid != NULL || o->kind != OP_TRANSFER) {
		if (!parse_id(nid, &o->id)) {
			free(o);
			op_refuse(
			    g, c, to, 422, "invalid", "$.node_id",
			    "node_id is a node's 16 lowercase hex digits");
			return;
		}
		snprintf(o->node_id, sizeof(o->node_id), "%s", nid);
	}
	if ((o->kind == OP_ADD || o->kind == OP_ASSIGN) && role != NULL &&
	    group_role_parse(role, &o->role) != TB_OK) {
		free(o);
		op_refuse(g, c, to, 422, "bad_code", "$.role",
		          "role is voter, standby or spare");
		return;
	}
	if (o->kind == OP_ADD) {
		const char *a = spec_str(req, "address");
		if (!addr_ok(a)) {
			free(o);
			op_refuse(g, c, to, 422, "invalid", "$.address",
			          "address is the member's link HOST:PORT");
			return;
		}
		snprintf(o->address, sizeof(o->address), "%s", a);
	}
	if (raft_state(r) != RAFT_LEADER) {
		free(o);
		op_refuse(g, c, to, 503, "not_leader", NULL,
		          "not the leader (any more): retry");
		return;
	}
	/* An add of a member (say, after an add that did not catch up and
	 * left it a spare): name its role and the verb that changes it. */
	if (o->kind == OP_ADD) {
		unsigned k;
		for (k = 0; k < r->configuration.n; k++) {
			const struct raft_server *sv =
			    &r->configuration.servers[k];
			char why[400], other[17];
			if (sv->id != o->id &&
			    strcmp(sv->address, o->address) != 0) {
				continue;
			}
			group_node_id(sv->id, other);
			if (sv->id == o->id) {
				snprintf(why, sizeof(why),
				         "%s is a member already, as a %s at "
				         "%s (tongban group promote|demote "
				         "changes its role)",
				         o->node_id, group_role_name(sv->role),
				         sv->address);
			} else {
				snprintf(why, sizeof(why),
				         "%s is the address of member %s",
				         o->address, other);
			}
			op_refuse(g, c, to, 409, "duplicate",
			          sv->id == o->id ? "$.node_id" : "$.address",
			          why);
			free(o);
			return;
		}
	}
	/* libraft's own refusal names the id in decimal ("no server has ID
	 * 1237..."): say it in the words of the CLI. */
	if (o->kind != OP_ADD && o->id != 0 && group_server(r, o->id) == NULL) {
		char why[200];
		snprintf(why, sizeof(why),
		         "%s is not a member of the group (tongban status "
		         "lists the members)",
		         o->node_id);
		free(o);
		op_refuse(g, c, to, 404, "not_found", "$.node_id", why);
		return;
	}
	if (o->kind == OP_TRANSFER && o->id != 0) {
		const struct raft_server *sv = group_server(r, o->id);
		const char *why = NULL;
		if (sv != NULL && sv->role != RAFT_VOTER) {
			why = "is not a voter: only a voter can lead "
			      "(tongban group promote it first)";
		}
		if (o->id == g->n->cfg.raft_id) {
			why = "is the leader already";
		}
		if (why != NULL) {
			char msg[200];
			snprintf(msg, sizeof(msg), "%s %s", o->node_id, why);
			op_refuse(g, c, to, 422, "invalid", "$.node_id", msg);
			free(o);
			return;
		}
	}
	switch (o->kind) {
	case OP_ADD:
		rv = raft_add(r, &o->change, o->id, o->address, change_cb);
		break;
	case OP_ASSIGN:
		rv = raft_assign(r, &o->change, o->id, o->role, change_cb);
		break;
	case OP_REMOVE:
		rv = raft_remove(r, &o->change, o->id, change_cb);
		break;
	default:
		rv = raft_transfer(r, &o->transfer, o->id, transfer_cb);
		break;
	}
	if (rv != 0) {
		char why[300];
		/* libraft's message often repeats its error's name. */
		if (strcmp(raft_strerror(rv), raft_errmsg(r)) == 0) {
			snprintf(why, sizeof(why), "%s", raft_errmsg(r));
		} else {
			snprintf(why, sizeof(why), "%s: %s", raft_strerror(rv),
			         raft_errmsg(r));
		}
		free(o);
		op_refuse(g, c, to, group_raft_http(rv, &code), code,
		          rv == RAFT_BADROLE ? "$.role" : NULL, why);
	}
}
