/* This region's own overlay checked again against the layers above it as
 * they are now: what `tongban overlay check` would say of it. A layer above
 * may lower a cap below a promise published earlier here; the effective
 * matter takes the cap (overlay_cap) and this is the alert. */
#include "node/store.h"

#include "node/fsm.h"
#include "schema/matter.h"
#include "schema/overlay.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* want_matter copies the standard matter key, when stored, into std. */
static int
want_matter(struct store *s, MDB_txn *txn, struct catalog *std, const char *key)
{
	json_t *m = NULL;
	int rv;

	if (key[0] == '\0' || json_object_get(std->matters, key) != NULL) {
		return TB_OK;
	}
	rv = db_get_json(txn, s->dbi[DB_MATTERS], key, strlen(key), &m);
	if (rv == TB_ENOTFOUND) {
		return TB_OK; /* overlay_check names the missing matter */
	}
	return rv != 0                                          ? rv
	       : json_object_set_new(std->matters, key, m) != 0 ? TB_ENOMEM
	                                                        : TB_OK;
}

/* partial_std loads what overlay_check reads of the standard layer for
 * overlay ov: the head, the calendar and the matters ov names. */
static int
partial_std(struct store *s, MDB_txn *txn, const json_t *ov,
            struct catalog *std)
{
	char key[MATTER_KEY_MAX];
	json_t *head = NULL, *x;
	const char *tc;
	size_t i;
	int rv;

	if ((rv = db_get_json(txn, s->dbi[DB_META], "std", 3, &head)) != 0) {
		return rv;
	}
	snprintf(std->region, sizeof(std->region), "%s",
	         spec_str(head, "region") ? spec_str(head, "region") : "");
	std->version = spec_int(head, "version", 0);
	json_decref(head);
	rv = db_get_json(txn, s->dbi[DB_META], "calendar", 8, &std->calendar);
	if (rv == TB_OK &&
	    cal_from_json(std->calendar, NULL, &std->cal, NULL) != 0) {
		return TB_ECORRUPT;
	}
	rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	json_array_foreach(json_object_get(ov, "defaults"), i, x)
	{
		if (rv == 0 && matter_key(x, key, sizeof(key)) == 0) {
			rv = want_matter(s, txn, std, key);
		}
	}
	json_array_foreach(json_object_get(ov, "entries"), i, x)
	{
		if (rv != 0 || (tc = spec_str(x, "task_code")) == NULL ||
		    strlen(tc) != 31) {
			continue;
		}
		tc = spec_str(x, "task_handle_item");
		snprintf(key, sizeof(key), "%s%s%s",
		         spec_str(x, "task_code") + 19,
		         tc != NULL && tc[0] != '\0' ? "#" : "",
		         tc != NULL ? tc : "");
		rv = want_matter(s, txn, std, key);
	}
	return rv;
}

int
store_overlay_conflicts(struct store *s, json_t **out)
{
	json_t *ov = NULL, *above[STORE_CHAIN_MAX] = { 0 }, *list;
	struct catalog std;
	struct tb_diag d;
	MDB_txn *txn;
	int rv, i, na = 0;

	*out = NULL;
	if ((list = json_array()) == NULL || catalog_init(&std) != 0) {
		json_decref(list);
		return TB_ENOMEM;
	}
	if ((rv = db_err(store_rd_begin(s, &txn))) != 0) {
		json_decref(list);
		catalog_fini(&std);
		return rv;
	}
	rv = s->nchain > 0 && !strcmp(s->chain[s->nchain - 1], s->region)
	         ? fsm_overlay_current(s, txn, s->region, &ov)
	         : TB_OK;
	for (i = 0; rv == 0 && ov != NULL && i < s->nchain - 1; i++) {
		rv = fsm_overlay_current(s, txn, s->chain[i], &above[na]);
		na += above[na] != NULL;
	}
	if (rv == 0 && ov != NULL) {
		rv = partial_std(s, txn, ov, &std);
		rv = rv == TB_ENOTFOUND ? TB_OK : rv; /* no release yet */
	}
	store_rd_end(s, txn);
	tb_diag_init(&d);
	if (rv == 0 && ov != NULL && std.version > 0) {
		overlay_check(&std, (const json_t *const *)above, (size_t)na,
		              ov, "$", &d);
	}
	for (i = 0; rv == 0 && i < d.n; i++) {
		rv = json_array_append_new(
		         list, json_pack("{s:s, s:I, s:s, s:s}", "region",
		                         s->region, "version",
		                         (json_int_t)spec_int(ov, "version", 0),
		                         "field", d.e[i].path, "message",
		                         d.e[i].msg)) != 0
		         ? TB_ENOMEM
		         : TB_OK;
	}
	json_decref(ov);
	for (i = 0; i < na; i++) {
		json_decref(above[i]);
	}
	catalog_fini(&std);
	if (rv != 0) {
		json_decref(list);
		return rv;
	}
	*out = list;
	return TB_OK;
}
