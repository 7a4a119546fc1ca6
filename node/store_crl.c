/* Reading the replicated trust documents: the revocation lists (DB_CRLS,
 * written by crl.put in node/fsm_crl.c), the root metadata
 * (meta["root"], written by root.put in node/fsm_root.c) and the
 * published calendars (meta["calendars"], calendar.put in
 * node/fsm_calfeed.c). */
#include "node/fsm.h"
#include "node/store_db.h"

#include "schema/canon.h"
#include "schema/spec.h"

#include <string.h>

int
store_crls(struct store *s, json_t **out)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	MDB_txn *txn;
	json_t *arr, *doc;
	int rv, op = MDB_FIRST;

	*out = NULL;
	if ((arr = json_array()) == NULL) {
		return TB_ENOMEM;
	}
	if ((rv = db_err(store_rd_begin(s, &txn))) != 0) {
		json_decref(arr);
		return rv;
	}
	rv = db_err(mdb_cursor_open(txn, s->dbi[DB_CRLS], &cur));
	while (rv == 0) {
		if ((rv = db_err(mdb_cursor_get(cur, &k, &v, op))) != 0) {
			break;
		}
		op = MDB_NEXT;
		if ((rv = db_val_json(&v, &doc)) == 0 &&
		    json_array_append_new(arr, doc) != 0) {
			rv = TB_ENOMEM;
		}
	}
	if (cur != NULL) {
		mdb_cursor_close(cur);
	}
	store_rd_end(s, txn);
	if (rv != TB_ENOTFOUND) {
		json_decref(arr);
		return rv;
	}
	*out = arr;
	return TB_OK;
}

int
store_root(struct store *s, json_t **out)
{
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if ((rv = db_err(store_rd_begin(s, &txn))) != 0) {
		return rv;
	}
	rv = db_get_json(txn, s->dbi[DB_META], "root", 4, out);
	store_rd_end(s, txn);
	return rv;
}

/* describe_pubs lists each published calendar as {region, version, name,
 * years, hash (BLAKE2b-256 of its canonical bytes without signatures, as
 * the province's `tongban calendar publish` prints), calendar}. */
static int
describe_pubs(const json_t *pubs, json_t *arr)
{
	char err[128], hex[2 * CANON_HASH_LEN + 1];
	uint8_t h[CANON_HASH_LEN];
	const json_t *e, *cal;
	size_t i;

	json_array_foreach(pubs, i, e)
	{
		cal = json_object_get(e, "calendar");
		if (canon_hash_value(cal, "signatures", h, err, sizeof(err))) {
			return TB_ECORRUPT;
		}
		canon_hex(h, CANON_HASH_LEN, hex);
		if (json_array_append_new(
		        arr,
		        json_pack("{s:O, s:O, s:O, s:O, s:s, s:O}", "region",
		                  json_object_get(cal, "region"), "version",
		                  json_object_get(cal, "version"), "name",
		                  json_object_get(cal, "name") != NULL
		                      ? json_object_get(cal, "name")
		                      : json_null(),
		                  "years", json_object_get(cal, "years"),
		                  "hash", hex, "calendar", cal)) != 0) {
			return TB_ENOMEM;
		}
	}
	return TB_OK;
}

int
store_calendars(struct store *s, json_t **out)
{
	json_t *rel = NULL, *pubs = NULL, *eff = NULL, *arr = json_array();
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if (arr == NULL) {
		return TB_ENOMEM;
	}
	if ((rv = db_err(store_rd_begin(s, &txn))) != 0) {
		json_decref(arr);
		return rv;
	}
	rv = db_get_json(txn, s->dbi[DB_META], "calendar", 8, &rel);
	if (rv == TB_OK || rv == TB_ENOTFOUND) {
		rv = db_get_json(txn, s->dbi[DB_META], "calendars", 9, &pubs);
		rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	store_rd_end(s, txn);
	rv = rv ? rv : describe_pubs(pubs, arr);
	rv = rv ? rv : fsm_calendar_effective(rel, pubs, &eff);
	if (rv == TB_OK) {
		*out = json_pack(
		    "{s:O, s:o, s:O}", "release_years",
		    rel != NULL ? json_object_get(rel, "years") : json_null(),
		    "calendars", arr, "effective_years",
		    eff != NULL ? json_object_get(eff, "years") : json_null());
		arr = NULL;
		rv = *out != NULL ? TB_OK : TB_ENOMEM;
	}
	json_decref(arr);
	json_decref(rel);
	json_decref(pubs);
	json_decref(eff);
	return rv;
}
