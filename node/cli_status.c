/* `tongban status`: GET /v1/status printed as JSON (stdout, unchanged for
 * scripts), and for people a summary on stderr: the node and its group
 * (a line per member: role, leader, lag, clock skew), the catalog, the cases,
 * its place in the tree of regions and the watch of the province's
 * latest-version statement. --json prints the JSON only. */
#include "node/cli.h"

#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

void
tb_cli_status_tree(const json_t *tree)
{
	const json_t *par =
	    json_object_get(json_object_get(tree, "topology"), "parent");
	const json_t *up = json_object_get(tree, "up");
	const json_t *w =
	    json_object_get(json_object_get(tree, "latest"), "watch");
	const json_t *rows = json_object_get(tree, "outboxes"), *row;
	size_t i;

	if (json_is_object(par)) {
		const json_t *pg = json_object_get(tree, "parent_group"), *m;
		size_t j, up_n = 0;

		fprintf(stderr, "tree: parent %s at %s", spec_str(par, "code"),
		        spec_str(par, "url"));
		/* As a Consul agent shows its servers: is the parent linked? */
		json_array_foreach(json_object_get(pg, "members"), j, m)
		{
			up_n += spec_bool(m, "link_up", false) ? 1 : 0;
		}
		if (json_is_object(pg)) {
			fprintf(
			    stderr, ", link %s (%zu of %zu member(s))",
			    up_n > 0 ? "up" : "DOWN", up_n,
			    json_array_size(json_object_get(pg, "members")));
		}
		if (json_is_object(up)) {
			fprintf(stderr, " (backlog up %lld)",
			        spec_int(up, "backlog", 0));
		}
	} else {
		const struct region *r = NULL;
		int32_t code = 0;

		fprintf(stderr, "tree: no parent");
		if (spec_str(tree, "region") != NULL &&
		    region_code_parse(spec_str(tree, "region"), &code) == 0) {
			r = region_find(region_builtin(), code);
		}
		if (r != NULL && r->parent != 0) {
			/* A county linked to its city by hand (tongban link
			 * add) is still no part of the tree. */
			fprintf(stderr,
			        " (its table parent is %06d: tongban region "
			        "set-parent %06d@tcp://HOST:PORT, or nothing "
			        "flows)",
			        (int)r->parent, (int)r->parent);
		}
	}
	fprintf(stderr, "; driver %s\n",
	        spec_str(tree, "driver") ? spec_str(tree, "driver") : "?");
	json_array_foreach(rows, i, row)
	{
		const json_t *cat = json_object_get(row, "catalog");
		const json_t *rf = json_object_get(row, "refused");
		fprintf(stderr, "  child %s: link %s, stream %s, backlog %lld",
		        spec_str(row, "region"),
		        spec_bool(row, "link_up", false) ? "up" : "down",
		        spec_bool(row, "stream", false) ? "open" : "none",
		        spec_int(row, "backlog", 0));
		if (json_is_object(cat)) {
			const char *k;
			const json_t *ver;
			bool first = true;

			fprintf(stderr, ", standard version %lld",
			        spec_int(cat, "standard", 0));
			/* What a city admin asks after its overlay: which
			 * child applied which version of it. */
			json_object_foreach(
			    (json_t *)json_object_get(cat, "overlays"), k, ver)
			{
				fprintf(stderr, "%s %s v%lld",
				        first ? ", overlays" : ",", k,
				        (long long)json_integer_value(ver));
				first = false;
			}
		}
		if (json_is_integer(json_object_get(row, "level"))) {
			fprintf(stderr, ", feature level %lld",
			        spec_int(row, "level", 0));
		}
		if (json_is_object(rf)) {
			fprintf(stderr, ", refused entry %lld: %s",
			        spec_int(rf, "seq", 0), spec_str(rf, "reason"));
		}
		fprintf(stderr, "\n");
	}
	if (spec_str(w, "state") != NULL) {
		const char *msg = spec_str(w, "message");

		/* "watch: off" alone read as a fault at a province (which
		 * signs the statements) and at a follower (only the leader
		 * watches). */
		if (msg == NULL && !strcmp(spec_str(w, "state"), "off")) {
			msg = json_is_object(par)
			          ? "only the group's leader watches"
			          : "no parent: this region's leader signs the "
			            "latest-version statements, if it is the "
			            "province";
		}
		fprintf(stderr, "watch: %s%s%s\n", spec_str(w, "state"),
		        msg ? ": " : "", msg ? msg : "");
	}
}

/* status_members prints a line per member of the group: role, leader,
 * lag (known at the leader) and the clock skew this member measured (none
 * in the last 30 s: it did not answer), then the incarnation after a
 * recovery and a fence. */
static void
status_members(const json_t *v)
{
	const json_t *g = json_object_get(v, "group"), *m;
	const json_t *inc = json_object_get(v, "incarnation");
	bool in = false;
	size_t i;

	json_array_foreach(json_object_get(g, "members"), i, m)
	{
		bool self = spec_bool(m, "self", false);
		in = in || self;
		fprintf(stderr, "  member %s %s %s%s%s",
		        tb_cli_str(m, "node_id"), tb_cli_str(m, "address"),
		        tb_cli_str(m, "role"),
		        spec_bool(m, "leader", false) ? " leader" : "",
		        self ? " (this node)" : "");
		if (json_is_integer(json_object_get(m, "lag"))) {
			fprintf(stderr, ", lag %lld", spec_int(m, "lag", 0));
		}
		if (json_is_integer(json_object_get(m, "clock_skew_ms"))) {
			fprintf(stderr, ", clock skew %+lld ms (rtt %lld ms)",
			        spec_int(m, "clock_skew_ms", 0),
			        spec_int(m, "clock_rtt_ms", 0));
		} else if (!self) {
			fprintf(stderr,
			        ", clock not measured in the last 30 s");
		}
		fprintf(stderr, "\n");
	}
	if (json_is_object(g)) {
		/* What docs/GROUPS.md's recovery compares between survivors. */
		fprintf(stderr, "  log: last index %lld, commit %lld\n",
		        spec_int(g, "last_index", 0), spec_int(g, "commit", 0));
	}
	if (json_is_object(json_object_get(g, "address_mismatch"))) {
		const json_t *am = json_object_get(g, "address_mismatch");
		fprintf(stderr,
		        "  WARNING: the configuration records this node at "
		        "%s, tongban.json's link is %s: the others dial %s "
		        "(docs/GROUPS.md \"A member's address\")\n",
		        spec_str(am, "configuration"),
		        spec_str(am, "tongban_json"),
		        spec_str(am, "configuration"));
	}
	if (!in && json_is_object(g)) {
		fprintf(stderr, "  this node is not in the group's "
		                "configuration: not added yet (made with "
		                "--join), or removed\n");
	}
	if (spec_int(inc, "current", 1) > 1) {
		fprintf(stderr, "incarnation %lld (a recovered group)\n",
		        spec_int(inc, "current", 1));
	}
	if (spec_int(inc, "fenced_by", 0) > 0) {
		fprintf(stderr,
		        "FENCED: an old member of a group recovered without "
		        "it (incarnation %lld): it takes no writes; wipe it "
		        "and add it again (docs/GROUPS.md)\n",
		        spec_int(inc, "fenced_by", 0));
	}
}

int
tb_cli_status_show(const char *api, const char *token, bool json)
{
	json_t *v = NULL, *raft, *std, *ov, *o, *cases, *by, *n;
	const char *k;
	size_t i;
	int status, rc;
	bool first = true;

	rc = tb_cli_request(api, token, json, "GET", "/v1/status", NULL, true,
	                    &status, &v);
	if (rc != TB_EXIT_OK || json || !json_is_object(v)) {
		json_decref(v);
		return rc;
	}
	raft = json_object_get(v, "raft");
	fprintf(stderr,
	        "node %s of %s %s: %s, term %lld, applied %lld; %zu "
	        "member(s), feature level %lld (this build: %lld)\n",
	        spec_str(v, "node_id"), spec_str(v, "region"),
	        spec_str(v, "name") ? spec_str(v, "name") : "",
	        spec_str(raft, "role") ? spec_str(raft, "role") : "?",
	        spec_int(raft, "term", 0), spec_int(v, "applied_index", 0),
	        json_array_size(
	            json_object_get(json_object_get(v, "group"), "members")),
	        spec_int(json_object_get(v, "features"), "level", 0),
	        spec_int(json_object_get(v, "features"), "supported", 0));
	status_members(v);
	std = json_object_get(json_object_get(v, "catalog"), "standard");
	fprintf(stderr, "catalog: standard version %lld (%lld matters)",
	        spec_int(std, "version", 0), spec_int(std, "matters", 0));
	ov = json_object_get(json_object_get(v, "catalog"), "overlays");
	json_array_foreach(ov, i, o)
	{
		fprintf(stderr, "%s %s v%lld", i == 0 ? "; overlays" : ",",
		        spec_str(o, "region"), spec_int(o, "version", 0));
	}
	cases = json_object_get(v, "cases");
	fprintf(stderr, "\ncases: %lld", spec_int(cases, "total", 0));
	by = json_object_get(cases, "by_state");
	json_object_foreach(by, k, n)
	{
		if (json_integer_value(n) > 0) {
			fprintf(stderr, "%s%s %lld", first ? " (" : ", ", k,
			        (long long)json_integer_value(n));
			first = false;
		}
	}
	fprintf(stderr, "%s\n", first ? "" : ")");
	if (json_is_object(json_object_get(v, "tree"))) {
		tb_cli_status_tree(json_object_get(v, "tree"));
	}
	json_decref(v);
	return rc;
}
