/* What of a case the region that holds it sends to another region that
 * asked for it (a routed query, node/region_query.c): the full case, with
 * the applicant's personal data, only to the regions that handle it; to any
 * other region the summary that flows up the tree (fsm_case_summary: no
 * applicant, form or materials), marked "redacted" with the reason.
 *
 * The regions that handle a case: its receiving region (the id's first six
 * characters), its owner (this region: only the owner answers), the region
 * it was handed from, and every region a handoff record here names as its
 * peer (offered to, handed to or from, declined or aborted included).
 *
 * Threads: the loop (reads in their own read transaction). */
#include "node/region_query.h"

#include "node/fsm_handoff.h"
#include "node/region_store.h"
#include "node/store.h"
#include "node/store_db.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* handoff_peer sets *found when a handoff record of case id here names
 * region as its peer. */
static int
handoff_peer(struct store *s, const char *id, const char *region, bool *found)
{
	uint8_t k[FSM_HANDOFF_KEY_MAX];
	size_t pl = strlen(id);
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val key, v;
	int rv;

	*found = false;
	if (pl >= FSM_HANDOFF_ID_MAX) {
		return TB_OK;
	}
	k[0] = 'R';
	memcpy(k + 1, id, pl);
	k[1 + pl] = 0;
	pl += 2; /* 'R' + id + 0: every record of this case */
	if ((rv = db_err(store_rd_begin(s, &txn))) != 0) {
		return rv;
	}
	if ((rv = db_err(mdb_cursor_open(txn, s->dbi[DB_HANDOFFS], &cur)))) {
		store_rd_end(s, txn);
		return rv;
	}
	key.mv_data = k;
	key.mv_size = pl;
	rv = db_err(mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE));
	while (rv == 0 && !*found && key.mv_size >= pl &&
	       !memcmp(key.mv_data, k, pl)) {
		json_t *rec = NULL;

		if ((rv = db_val_json(&v, &rec)) != 0) {
			break;
		}
		*found = spec_str(rec, "peer") != NULL &&
		         !strcmp(spec_str(rec, "peer"), region);
		json_decref(rec);
		rv = db_err(mdb_cursor_get(cur, &key, &v, MDB_NEXT));
	}
	mdb_cursor_close(cur);
	store_rd_end(s, txn);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

json_t *
region_case_share(struct store *s, const char *self, json_t *c,
                  const char *asker, bool *full)
{
	const char *id = spec_str(c, "id"), *from = spec_str(c, "handed_from");
	const char *owner = spec_str(c, "owner");
	char why[200];
	bool peer = false;
	json_t *sum;

	*full = false;
	if (id == NULL) {
		return NULL;
	}
	if (asker == NULL || strlen(asker) != 6) {
		snprintf(why, sizeof(why),
		         "the question names no asking region: personal data "
		         "goes only to the regions that handle the case");
	} else if (!strncmp(id, asker, 6) || !strcmp(asker, self) ||
	           (owner != NULL && !strcmp(asker, owner)) ||
	           (from != NULL && !strcmp(asker, from)) ||
	           (handoff_peer(s, id, asker, &peer) == TB_OK && peer)) {
		*full = true;
		return json_incref(c);
	} else {
		snprintf(why, sizeof(why),
		         "%s is not the receiving region (%.6s), the owner "
		         "(%s) or a region the case was handed through: its "
		         "summary, without personal data",
		         asker, id, owner != NULL ? owner : self);
	}
	/* The owner is no personal data, and the one thing a supervising
	 * tier asks of a case handed on (the reason named it, the summary
	 * did not). Only this answer carries it: the summaries up the tree
	 * are replicated and stay as they are. */
	if ((sum = fsm_case_summary(c)) == NULL ||
	    (owner != NULL &&
	     json_object_set_new(sum, "owner", json_string(owner)) != 0) ||
	    json_object_set_new(sum, "redacted", json_true()) != 0 ||
	    json_object_set_new(sum, "reason", json_string(why)) != 0) {
		json_decref(sum);
		return NULL;
	}
	return sum;
}
