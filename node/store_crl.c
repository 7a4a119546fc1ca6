/* Reading the replicated trust documents: the revocation lists (DB_CRLS,
 * written by crl.put in node/fsm_crl.c) and the root metadata
 * (meta["root"], written by root.put in node/fsm_root.c). */
#include "node/store_db.h"

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
