/* The summary index (feature level 2; docs/STORE.md, "The summary index"):
 * what a case list reads of a case, kept beside the record in case_sum (by
 * id) and as the value of its case_state entry, so that a list page is one
 * cursor walk that never reads a case record. Written in the apply of every
 * case change, and built for the cases already stored in the apply of the
 * group.feature command that raises the level to 2. */
#include "node/fsm.h"

#include "node/log.h"
#include "schema/lifecycle.h"
#include "schema/spec.h"

#include <string.h>

/* Case ids are short ("370102-20260105-000001"); 64 bytes is ample. */
#define ID_MAX 64

#define SUM_NAME(k) #k,
#define SUM_LEN(k)  sizeof(#k) - 1,
const char *const fsm_sum_keys[FSM_SUM_NKEYS] = { FSM_SUM_KEYS(SUM_NAME) };
const size_t fsm_sum_key_lens[FSM_SUM_NKEYS] = { FSM_SUM_KEYS(SUM_LEN) };

int
fsm_sum_level(const struct store *s, MDB_txn *txn, bool *on)
{
	uint64_t level = 0;
	int rv = meta_get_u64(s, txn, "feature_level", &level);

	*on = rv == 0 && level >= FSM_SUM_LEVEL;
	return rv;
}

/* open_pause returns c's last pause if it is still open ("to" is null):
 * the only pause the clock reads (fsm_due.c). */
static const json_t *
open_pause(const json_t *c)
{
	const json_t *p = json_object_get(c, "pauses");
	const json_t *last = json_array_get(p, json_array_size(p) - 1);

	return last != NULL && json_is_null(json_object_get(last, "to")) ? last
	                                                                 : NULL;
}

int
fsm_sum_encode(const json_t *c, struct canon_buf *b)
{
	const json_t *p = open_pause(c), *from;
	uint8_t sv = STORE_SV;
	json_t *sum = json_object(), *v;
	char err[128];
	size_t i;
	int rv = sum == NULL ? TB_ENOMEM : TB_OK;

	for (i = 0; rv == 0 && i < FSM_SUM_NKEYS; i++) {
		if (strcmp(fsm_sum_keys[i], "pauses") == 0) {
			continue;
		}
		if ((v = json_object_get(c, fsm_sum_keys[i])) != NULL &&
		    json_object_set(sum, fsm_sum_keys[i], v) != 0) {
			rv = TB_ENOMEM;
		}
	}
	if (rv == 0 && p != NULL) {
		from = json_object_get(p, "from");
		v = from != NULL ? json_pack("[{s:O, s:n}]", "from", from, "to")
		                 : json_pack("[{s:n}]", "to");
		if (v == NULL || json_object_set_new(sum, "pauses", v) != 0) {
			rv = TB_ENOMEM;
		}
	}
	if (rv == 0 && (rv = canon_buf_append(b, &sv, 1)) == 0) {
		rv = canon_encode(sum, b, err, sizeof(err));
		rv = rv == TB_OK || rv == TB_ENOMEM ? rv : TB_ECORRUPT;
	}
	json_decref(sum);
	return rv;
}

int
fsm_sum_put(struct fsm *f, const json_t *c, int st)
{
	const struct store *s = f->s;
	const char *id = spec_str(c, "id");
	struct canon_buf b = { 0 };
	uint8_t k[ID_MAX + 1];
	size_t n, idl = strlen(id);
	int rv;

	if (idl >= ID_MAX) {
		return TB_ECORRUPT;
	}
	if ((rv = fsm_sum_encode(c, &b)) == 0 &&
	    (rv = db_put(f->txn, s->dbi[DB_CASE_SUM], id, idl, b.data,
	                 b.len)) == 0) {
		n = fsm_state_key(st, id, k, sizeof(k));
		rv = db_put(f->txn, s->dbi[DB_CASE_STATE], k, n, b.data, b.len);
	}
	canon_buf_free(&b);
	return rv;
}

int
fsm_sum_backfill(struct fsm *f, uint64_t *count)
{
	const struct store *s = f->s;
	struct canon_buf b = { 0 };
	uint8_t k[ID_MAX + 1];
	MDB_cursor *cur;
	MDB_val key, v, sk, sv;
	enum lc_state st;
	json_t *c;
	size_t n;
	int rv, op = MDB_FIRST;

	*count = 0;
	if ((rv = db_err(mdb_cursor_open(f->txn, s->dbi[DB_CASES], &cur)))) {
		return rv;
	}
	while ((rv = db_err(mdb_cursor_get(cur, &key, &v, op))) == 0) {
		op = MDB_NEXT;
		if (key.mv_size >= ID_MAX) {
			rv = TB_ECORRUPT;
			break;
		}
		if ((rv = db_val_json_fields(&v, fsm_sum_keys, FSM_SUM_NKEYS,
		                             &c)) != 0) {
			break;
		}
		if (lc_state_parse(spec_str(c, "state"), &st) != 0) {
			json_decref(c);
			rv = TB_ECORRUPT;
			break;
		}
		b.len = 0;
		rv = fsm_sum_encode(c, &b);
		json_decref(c);
		if (rv != 0) {
			break;
		}
		/* Cases come in id order, so the new index is appended. */
		sv.mv_size = b.len;
		sv.mv_data = b.data;
		rv = db_err(mdb_put(f->txn, s->dbi[DB_CASE_SUM], &key, &sv,
		                    MDB_APPEND));
		if (rv != 0) {
			break;
		}
		k[0] = (uint8_t)st;
		memcpy(k + 1, key.mv_data, key.mv_size);
		n = key.mv_size + 1;
		sk.mv_size = n;
		sk.mv_data = k;
		/* The entry must exist: a record without one is damage. */
		if ((rv = db_get(f->txn, s->dbi[DB_CASE_STATE], k, n, &v)) !=
		    0) {
			rv = rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
			break;
		}
		if ((rv = db_err(mdb_put(f->txn, s->dbi[DB_CASE_STATE], &sk,
		                         &sv, 0))) != 0) {
			break;
		}
		(*count)++;
	}
	mdb_cursor_close(cur);
	canon_buf_free(&b);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}
