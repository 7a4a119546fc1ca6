/* root.put: the province's root metadata enters the replicated state
 * (feature level 3) as meta["root"], where crl.put, releases and every
 * member's links and chain tokens take it as the trust anchor
 * (docs/TRUST.md, "The replicated root").
 *
 * The body is {root}: a tongban.root/1 document as its officers signed it.
 * Apply checks, at the command's time:
 *
 *   1. the root: its fields, threshold-signed by its own officers, and
 *      unexpired (trust_root_check);
 *   2. that it is the root of this region's province;
 *   3. when a root is stored already, that this one replaces it: the next
 *      version, the same region, and signed by threshold of the stored
 *      root's officers too (a rotation authorised by the keys it replaces).
 *
 * Any failure is a refusal naming the field and why; nothing is written.
 * The stored value is the document exactly as decoded from the command,
 * so its signatures still verify on a read. From feature level 4 the
 * stored root is appended to every child's outbox stream in the same
 * transaction, and a child applies it with these same checks
 * (fsm_root_delivered; docs/REPLICATION.md "Trust down the tree"). */
#include "node/fsm.h"
#include "node/region_store.h"

#include "schema/spec.h"
#include "schema/trust.h"

#include <stdlib.h>
#include <string.h>

int
fsm_root_get(struct fsm *f, json_t **out)
{
	int rv = db_get_json(f->txn, f->s->dbi[DB_META], "root", 4, out);

	if (rv == TB_ENOTFOUND) {
		*out = NULL;
		return TB_OK;
	}
	return rv;
}

static int
root_put(struct fsm *f, struct tb_diag *d)
{
	const json_t *root = json_object_get(f->cmd->body, "root");
	const char *region = spec_str(root, "region");
	json_t *old = NULL;
	bool feed = false;
	int rv;

	if ((rv = fsm_root_get(f, &old)) != TB_OK) {
		return rv;
	}
	tb_diag_init(d);
	if (trust_root_check(root, old, f->at, "$.body.root", d) != 0) {
		json_decref(old);
		return fsm_refused(f, d, NULL);
	}
	json_decref(old);
	if (strcmp(region, f->s->province) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.root.region",
		                  "the root of %s cannot anchor trust at %s, "
		                  "whose province is %s",
		                  region, f->s->region, f->s->province);
	}
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_META], "root", 4, root)) !=
	        TB_OK ||
	    (rv = fsm_feed_level(f, &feed)) != TB_OK ||
	    (feed && (rv = fsm_outbox_fanout(f, "root", root)) != TB_OK)) {
		return rv;
	}
	f->result = json_pack(
	    "{s:{s:s, s:I, s:I, s:I, s:s}}", "root", "region", region,
	    "version", (json_int_t)spec_int(root, "version", 0), "threshold",
	    (json_int_t)spec_int(root, "threshold", 0), "officers",
	    (json_int_t)json_array_size(json_object_get(root, "officers")),
	    "expires", spec_str(root, "expires"));
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

int
fsm_root_put(struct fsm *f)
{
	return fsm_with_diag(f, root_put);
}

int
fsm_root_delivered(struct fsm *f)
{
	const json_t *root = json_object_get(f->cmd->body, "root");
	json_t *old = NULL;
	bool held;
	int rv;

	if ((rv = fsm_root_get(f, &old)) != TB_OK) {
		return rv;
	}
	held = old != NULL &&
	       (json_equal(old, root) ||
	        spec_int(old, "version", 0) > spec_int(root, "version", 0));
	if (held) {
		f->result = json_pack(
		    "{s:{s:s, s:I, s:I}}", "root", "held", "already stored",
		    "version", (json_int_t)spec_int(root, "version", 0),
		    "stored_version", (json_int_t)spec_int(old, "version", 0));
		json_decref(old);
		return f->result != NULL ? TB_OK : TB_ENOMEM;
	}
	json_decref(old);
	return fsm_root_put(f);
}
