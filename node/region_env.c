/* The outbox driver's env on the node: its clock, sending over the links,
 * proposing through the region's group, and the replicated records read
 * from the store (replication/outbox.h, struct outbox_env). */
#include "node/region_impl.h"

#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/region_store.h"
#include "replication/outbox_wire.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the driver's env --------------------------------------------------- */

static uint64_t
env_now(void *data)
{
	return (uint64_t)region_mono_ms(data);
}

static void
env_send(void *data, uint32_t to, const struct outbox_msg *m)
{
	struct region_flow *f = data;
	size_t len = outbox_wire_size(m);
	uint8_t *buf = malloc(len);
	struct region_child *k;
	char peer[20];

	if (buf == NULL || (len = outbox_wire_encode(m, buf, len)) == 0 ||
	    f->n->links == NULL) {
		free(buf);
		return;
	}
	/* To the node that leads there, when known: only a leader acts on
	 * a frame (a follower drops it). */
	k = region_kid(f, to, false);
	if (k != NULL && k->leader[0] != '\0') {
		snprintf(peer, sizeof(peer), "%s", k->leader);
	} else if (to == f->parent && f->parent_leader[0] != '\0') {
		snprintf(peer, sizeof(peer), "%s", f->parent_leader);
	} else {
		snprintf(peer, sizeof(peer), "%06u", to);
	}
	/* Best effort: no link, a full queue or a closed pipe lose the
	 * frame, and the driver resends. A leader's node no longer linked
	 * is forgotten: the next frame goes to the region. */
	if (link_send(f->n->links, peer, REGION_T_OUTBOX, buf, len) == TB_OK) {
		f->tx++;
	} else if (k != NULL && !strcmp(peer, k->leader)) {
		k->leader[0] = '\0';
	} else if (!strcmp(peer, f->parent_leader)) {
		f->parent_leader[0] = '\0';
	}
	free(buf);
}

/* verify_entry checks a release's signature against this node's root
 * before it is proposed (the apply checks chain and version, as for a
 * release published here, whose signature the API checked); a refusal is
 * recorded like an apply's. */
static int
verify_entry(struct region_flow *f, const struct outbox_cmd *c,
             const json_t *entry)
{
	const char *kind = spec_str(entry, "kind");
	struct tb_diag d;

	if (kind == NULL || strcmp(kind, "release") != 0) {
		return 0;
	}
	tb_diag_init(&d);
	if (f->n->root != NULL &&
	    trust_verify_release(f->n->root, json_object_get(entry, "doc"),
	                         "$.entry.doc", &d) == TB_OK) {
		return 0;
	}
	f->refused_pos = c->pos;
	snprintf(f->refused_why, sizeof(f->refused_why), "%s: %s",
	         f->n->root == NULL ? "$.entry.doc.signatures" : d.e[0].path,
	         f->n->root == NULL ? "this node has no root.json to verify "
	                              "the release's signature against"
	                            : d.e[0].msg);
	f->refused_at = region_mono_ms(f);
	f->refused++;
	f->next_report_ms = 0;
	tb_log(TB_LOG_WARN, "TB-REGION-REFUSED",
	       "entry %u.%llu from %06u refused: %s", c->pos.inc,
	       (unsigned long long)c->pos.seq, c->origin, f->refused_why);
	return -1;
}

static void
env_propose(void *data, const struct outbox_cmd *c)
{
	struct region_flow *f = data;
	struct region_prop *p;
	char code[8], err[160];
	json_t *body, *entry = NULL;
	int rv;

	if (c->type == OUTBOX_CMD_DELIVER) {
		rv = canon_decode(c->payload, c->len, &canon_default_limits,
		                  &entry, err, sizeof(err));
		if (rv != TB_OK) {
			f->malformed++;
			tb_log(TB_LOG_WARN, "TB-REGION-MALFORMED",
			       "entry %u.%llu from %06u is not canonical "
			       "msgpack: %s",
			       c->pos.inc, (unsigned long long)c->pos.seq,
			       c->origin, err);
			return;
		}
		if (verify_entry(f, c, entry) != 0) {
			json_decref(entry);
			return;
		}
		snprintf(code, sizeof(code), "%06u", c->origin);
		body = json_pack("{s:s, s:I, s:I, s:o}", "origin", code, "inc",
		                 (json_int_t)c->pos.inc, "seq",
		                 (json_int_t)c->pos.seq, "entry", entry);
	} else {
		snprintf(code, sizeof(code), "%06u", c->dest);
		body = json_pack("{s:s, s:I, s:I}", "dest", code, "inc",
		                 (json_int_t)c->pos.inc, "seq",
		                 (json_int_t)c->pos.seq);
	}
	if (body == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(body);
		return;
	}
	p->c = *c;
	p->c.payload = NULL;
	p->c.len = 0;
	region_propose(f,
	               c->type == OUTBOX_CMD_DELIVER ? CMD_OUTBOX_DELIVER
	                                             : CMD_OUTBOX_ACKED,
	               body, p);
	json_decref(body);
}

static int
env_out_get(void *data, uint32_t dest, struct outbox_out *o)
{
	struct region_flow *f = data;
	int rv = region_store_out(f->n->store, dest, o);

	if (rv == TB_ENOTFOUND) {
		outbox_out_init(o, dest, REGION_INC);
		rv = TB_OK;
	}
	return rv;
}

static int
env_in_get(void *data, uint32_t origin, struct outbox_in *in)
{
	struct region_flow *f = data;

	return region_store_in(f->n->store, origin, in);
}

static int
env_entry_get(void *data, uint32_t dest, struct outbox_pos pos,
              const uint8_t **p, size_t *len)
{
	struct region_flow *f = data;
	int rv;

	free(f->ebuf);
	f->ebuf = NULL;
	rv = region_store_entry(f->n->store, dest, pos, &f->ebuf, len);
	*p = f->ebuf;
	return rv;
}

void
region_driver_start(struct region_flow *f)
{
	struct outbox_env env = {
		f,           env_now,    env_send,     env_propose,
		env_out_get, env_in_get, env_entry_get
	};
	unsigned i;

	/* Links are TCP: a frame is lost only with its pipe, and entries
	 * can be MiBs (a full release), so resend after a second, not
	 * outbox.c's 50 ms, up to 5 s. A proposal is lost only with the
	 * leadership (a new driver proposes again at once), so a DELIVER
	 * still being applied (seconds for a full release) is not proposed
	 * again for 20 s. */
	struct outbox_config cfg = { 64, 1000, 5000, 20000 };

	outbox_driver_init(&f->d, f->self, &env, &cfg);
	if (f->parent != 0) {
		outbox_driver_peer(&f->d, f->parent);
	}
	for (i = 0; i < f->nkids; i++) {
		if (f->kids[i].stream) {
			outbox_driver_peer(&f->d, f->kids[i].code);
		}
	}
	f->on = true;
	f->term = f->n->raft.current_term;
	tb_log(TB_LOG_INFO, "TB-REGION-DRIVER",
	       "leading %06u's streams in term %llu (%u children)", f->self,
	       (unsigned long long)f->term, f->nkids);
}
