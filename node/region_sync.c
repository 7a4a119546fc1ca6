/* Between regions, what the node keeps in step with the replicated state:
 * links.json's entries for the parent and peers, init's --parent and
 * --peer (proposed once) and the group's incarnation. */
#include "node/region_impl.h"

#include "node/fsm.h"

#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_store.h"
#include "schema/spec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- links.json: the parent and the peers ------------------------------ */

void
region_links_sync(struct region_flow *f)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 24];
	json_t *topo = NULL, *doc, *peers, *want = json_array(), *p, *w;
	json_error_t je;
	bool changed = false;
	size_t i, j;

	if (region_store_topology(f->n->store, &topo) != 0) {
		json_decref(want);
		return;
	}
	if ((p = json_object_get(topo, "parent")) != NULL && !json_is_null(p)) {
		json_array_append(want, p);
	}
	json_array_extend(want, json_object_get(topo, "peers"));
	snprintf(path, sizeof(path), "%s/links.json", f->n->cfg.dir);
	doc = access(path, F_OK) == 0
	          ? json_load_file(path, JSON_REJECT_DUPLICATES, &je)
	          : json_pack("{s:s, s:[]}", "format", "tongban.links/1",
	                      "peers");
	if (doc == NULL ||
	    !json_is_array(peers = json_object_get(doc, "peers"))) {
		goto out; /* the link layer logs a malformed file */
	}
	/* Drop our entries that the topology no longer names. */
	for (i = 0; i < json_array_size(peers);) {
		bool keep = true;
		p = json_array_get(peers, i);
		if (!strcmp(spec_str(p, "by") ? spec_str(p, "by") : "",
		            "region")) {
			keep = false;
			json_array_foreach(want, j, w)
			{
				keep = keep || (!strcmp(spec_str(w, "url"),
				                        spec_str(p, "url")) &&
				                !strcmp(spec_str(w, "code"),
				                        spec_str(p, "region")));
			}
		}
		if (!keep) {
			tb_log(TB_LOG_INFO, "TB-REGION-LINK",
			       "links.json: %s at %s left the topology",
			       spec_str(p, "region"), spec_str(p, "url"));
			json_array_remove(peers, i);
			changed = true;
			continue;
		}
		i++;
	}
	json_array_foreach(want, j, w)
	{
		bool have = false;
		json_array_foreach(peers, i, p)
		{
			have = have ||
			       !strcmp(spec_str(p, "url") ? spec_str(p, "url")
			                                  : "",
			               spec_str(w, "url"));
		}
		if (!have) {
			json_array_append_new(
			    peers,
			    json_pack("{s:s, s:s, s:s}", "region",
			              spec_str(w, "code"), "url",
			              spec_str(w, "url"), "by", "region"));
			tb_log(TB_LOG_INFO, "TB-REGION-LINK",
			       "links.json: dialing %s at %s",
			       spec_str(w, "code"), spec_str(w, "url"));
			changed = true;
		}
	}
	/* The parent's other members, as its group named them. */
	p = json_object_get(topo, "parent");
	if (region_members_sync(
	        f, peers, json_is_object(p) ? spec_str(p, "code") : NULL,
	        json_is_object(p) ? spec_str(p, "url") : NULL)) {
		changed = true;
	}
	snprintf(tmp, sizeof(tmp), "%s.region.tmp", path);
	if (changed && (json_dump_file(doc, tmp, JSON_INDENT(2)) != 0 ||
	                rename(tmp, path) != 0)) {
		tb_log(TB_LOG_WARN, "TB-REGION-LINK", "cannot write %s: %s",
		       path, strerror(errno));
		unlink(tmp);
	}
out:
	json_decref(doc);
	json_decref(want);
	json_decref(topo);
}

/* ---- init's --parent and --peer ----------------------------------------- */

void
region_topology_init(struct region_flow *f)
{
	struct node *n = f->n;
	json_t *ops, *op, *topo = NULL;
	size_t i;

	if (n->cfg.init_topology[0] == '\0' || !n->ready) {
		return;
	}
	if (region_store_topology(n->store, &topo) != 0) {
		return;
	}
	if (!json_is_true(json_object_get(topo, "unset")) ||
	    region_mono_ms(f) < f->topo_next_ms) {
		/* Set once: later changes are the operator's. */
		json_decref(topo);
		return;
	}
	json_decref(topo);
	/* Proposals may be lost with the leadership: retry while unset. */
	f->topo_next_ms = region_mono_ms(f) + 2000;
	/* A node made with --parent or --peer asks for the region commands
	 * (feature level 2); a group it bootstrapped has no older member. */
	if (store_feature_level(n->store) < 2) {
		json_t *b = json_pack("{s:i}", "level", 2);
		if (n->cfg.join[0] == '\0' && b != NULL) {
			region_propose(f, CMD_GROUP_FEATURE, b, NULL);
		}
		json_decref(b);
		f->topo_next_ms = region_mono_ms(f) + 300;
		return;
	}
	ops = json_loads(n->cfg.init_topology, 0, NULL);
	json_array_foreach(ops, i, op)
	{
		region_propose(f, CMD_REGION_TOPOLOGY, op, NULL);
	}
	json_decref(ops);
}

void
region_inc_sync(struct region_flow *f)
{
	struct node *n = f->n;
	struct link_incarnation li;
	uint32_t inc = 1;
	json_t *b;

	if (region_store_inc(n->store, &inc) == 0) {
		f->inc = inc;
	}
	link_incarnation(n->links, &li);
	f->link_inc =
	    li.current < UINT32_MAX ? (uint32_t)li.current : UINT32_MAX;
	f->inc_pending = f->level >= FSM_INC_LEVEL && f->link_inc > f->inc &&
	                 li.cert != NULL;
	if (f->inc_pending && raft_state(&n->raft) == RAFT_LEADER &&
	    region_mono_ms(f) >= f->inc_prop_at) {
		/* Retried while not applied (lost with a leadership). */
		f->inc_prop_at = region_mono_ms(f) + 2000;
		b = json_pack("{s:I, s:O}", "incarnation",
		              (json_int_t)li.current, "certificate", li.cert);
		if (b != NULL) {
			tb_log(TB_LOG_INFO, "TB-REGION-INCARNATION",
			       "this node is at incarnation %u, the group's "
			       "replicated one is %u: proposing "
			       "group.incarnation (its streams move into it)",
			       f->link_inc, f->inc);
			region_propose(f, CMD_GROUP_INCARNATION, b, NULL);
		}
		json_decref(b);
	}
	link_incarnation_free(&li);
}

unsigned
region_inc_pending(struct node *n)
{
	return n->flow != NULL && n->flow->inc_pending ? n->flow->link_inc : 0;
}
