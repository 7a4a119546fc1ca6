/* Reads of the store other than lists: status, catalog, matters, one case,
 * one bundle application, applicant lookups and tokens. Each opens its own
 * read transaction and copies what it returns out of LMDB memory. */
#include "node/store.h"

#include "node/fsm.h"
#include "schema/lifecycle.h"
#include "schema/overlay.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
rd_begin(struct store *s, MDB_txn **txn)
{
	return db_err(store_rd_begin(s, txn));
}

/* set_u64 sets obj[key] to the meta integer name. */
static int
set_meta(struct store *s, MDB_txn *txn, json_t *obj, const char *key,
         const char *name)
{
	uint64_t v;
	int rv;

	if ((rv = meta_get_u64(s, txn, name, &v)) != 0) {
		return rv;
	}
	return json_object_set_new(obj, key, json_integer((json_int_t)v))
	           ? TB_ENOMEM
	           : TB_OK;
}

/* overlay_head summarises an overlay document. */
static json_t *
overlay_head(const json_t *ov)
{
	uint8_t h[CANON_HASH_LEN];
	char hex[2 * CANON_HASH_LEN + 1], err[64];

	if (canon_hash_value(ov, "signatures", h, err, sizeof(err)) != 0) {
		return NULL;
	}
	canon_hex(h, CANON_HASH_LEN, hex);
	return json_pack(
	    "{s:O, s:O, s:O, s:s, s:I, s:I}", "region",
	    json_object_get(ov, "region"), "version",
	    json_object_get(ov, "version"), "base_version",
	    json_object_get(ov, "base_version"), "hash", hex, "entries",
	    (json_int_t)json_array_size(json_object_get(ov, "entries")),
	    "defaults",
	    (json_int_t)json_array_size(json_object_get(ov, "defaults")));
}

/* catalog_head builds {"standard": {...}, "overlays": [...]}. */
static int
catalog_head(struct store *s, MDB_txn *txn, json_t **out)
{
	json_t *std = NULL, *cal = NULL, *ovs = json_array(), *ov, *h;
	MDB_stat ms, bs;
	int rv, i;

	*out = NULL;
	rv = db_get_json(txn, s->dbi[DB_META], "std", 3, &std);
	if (rv == TB_ENOTFOUND) {
		std = json_pack("{s:s, s:i}", "region", s->province, "version",
		                0);
		rv = std != NULL ? TB_OK : TB_ENOMEM;
	}
	if (rv == 0 &&
	    (rv = db_err(mdb_stat(txn, s->dbi[DB_MATTERS], &ms))) == 0) {
		rv = db_err(mdb_stat(txn, s->dbi[DB_BUNDLES], &bs));
	}
	if (rv == 0) {
		json_object_set_new(std, "matters",
		                    json_integer((json_int_t)ms.ms_entries));
		json_object_set_new(std, "bundles",
		                    json_integer((json_int_t)bs.ms_entries));
		rv = db_get_json(txn, s->dbi[DB_META], "calendar", 8, &cal);
		if (rv == 0) {
			json_object_set(std, "calendar_years",
			                json_object_get(cal, "years"));
			json_decref(cal);
		}
		rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	for (i = 0; rv == 0 && i < s->nchain; i++) {
		if ((rv = fsm_overlay_current(s, txn, s->chain[i], &ov)) != 0 ||
		    ov == NULL) {
			continue;
		}
		h = overlay_head(ov);
		json_decref(ov);
		rv = h == NULL || json_array_append_new(ovs, h) ? TB_ENOMEM : 0;
	}
	if (rv != 0 || ovs == NULL) {
		json_decref(std);
		json_decref(ovs);
		return rv ? rv : TB_ENOMEM;
	}
	/* json_pack steals "o" references even when it fails. */
	*out = json_pack("{s:o, s:o}", "standard", std, "overlays", ovs);
	return *out != NULL ? TB_OK : TB_ENOMEM;
}

int
store_status(struct store *s, json_t **out)
{
	json_t *o, *cases, *by, *cat = NULL;
	MDB_envinfo info;
	MDB_stat st;
	MDB_txn *txn;
	char name[48];
	int rv, i;

	*out = NULL;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	o = json_pack("{s:s, s:s, s:{s:I, s:I, s:I, s:I}}", "region", s->region,
	              "province", s->province, "store", "map_size",
	              (json_int_t)info.me_mapsize, "used_bytes",
	              (json_int_t)((info.me_last_pgno + 1) * st.ms_psize),
	              "page_size", (json_int_t)st.ms_psize, "readers",
	              (json_int_t)info.me_numreaders);
	cases = json_object();
	by = json_object();
	rv = o && cases && by ? TB_OK : TB_ENOMEM;
	if (rv == 0 &&
	    (rv = set_meta(s, txn, o, "applied_index", "applied")) == 0 &&
	    (rv = set_meta(s, txn, o, "last_at", "last_at")) == 0 &&
	    (rv = set_meta(s, txn, o, "events", "event_seq")) == 0) {
		rv = set_meta(s, txn, cases, "total", "n/total");
	}
	for (i = 0; rv == 0 && i < LC_STATE_COUNT; i++) {
		snprintf(name, sizeof(name), "n/%s", lc_state_name(i));
		rv = set_meta(s, txn, by, lc_state_name(i), name);
	}
	if (rv == 0) {
		rv = catalog_head(s, txn, &cat);
	}
	store_rd_end(s, txn);
	if (rv == 0 && (json_object_set_new(cases, "by_state", by) ||
	                json_object_set_new(o, "cases", cases) ||
	                json_object_set_new(o, "catalog", cat))) {
		rv = TB_ENOMEM;
	} else if (rv != 0) {
		json_decref(by);
		json_decref(cases);
	}
	if (rv != 0) {
		json_decref(o);
		return rv;
	}
	*out = o;
	return TB_OK;
}

int
store_catalog(struct store *s, json_t **out)
{
	json_t *head = NULL, *vers = json_array();
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	int rv, op = MDB_FIRST;

	*out = NULL;
	if ((rv = rd_begin(s, &txn)) != 0) {
		json_decref(vers);
		return rv;
	}
	rv = catalog_head(s, txn, &head);
	if (rv == 0 && (rv = db_err(mdb_cursor_open(txn, s->dbi[DB_RELEASES],
	                                            &cur))) == 0) {
		while ((rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0) {
			op = MDB_NEXT;
			if (k.mv_size == 8) {
				json_array_append_new(
				    vers, json_integer((json_int_t)db_get_be64(
				              k.mv_data)));
			}
		}
		mdb_cursor_close(cur);
		rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	store_rd_end(s, txn);
	if (rv != 0 || vers == NULL ||
	    json_object_set_new(head, "region", json_string(s->region)) ||
	    json_object_set_new(head, "releases", vers)) {
		json_decref(head);
		return rv ? rv : TB_ENOMEM;
	}
	*out = head;
	return TB_OK;
}

int
store_matters(struct store *s, json_t **out)
{
	struct fsm_catalog c;
	json_t *list = json_array(), *m, *e;
	const char *key;
	MDB_txn *txn;
	size_t j;
	int rv, i;

	*out = NULL;
	if (list == NULL || (rv = rd_begin(s, &txn)) != 0) {
		json_decref(list);
		return list == NULL ? TB_ENOMEM : rv;
	}
	rv = fsm_catalog_load(s, txn, &c);
	store_rd_end(s, txn);
	if (rv != 0) {
		json_decref(list);
		return rv;
	}
	json_object_foreach(c.std.matters, key, m)
	{
		json_array_append_new(
		    list, json_pack("{s:s, s:O, s:O, s:s}", "key", key, "name",
		                    json_object_get(m, "task_name"), "type",
		                    json_object_get(m, "task_type"), "region",
		                    c.std.region));
	}
	for (i = 0; i < s->nchain; i++) {
		json_array_foreach(json_object_get(c.ov[i], "entries"), j, e)
		{
			char ek[MATTER_KEY_MAX];
			if (overlay_entry_key(e, ek, sizeof(ek)) != 0 ||
			    (m = json_object_get(c.std.matters, ek + 19)) ==
			        NULL) {
				continue;
			}
			json_array_append_new(
			    list,
			    json_pack("{s:s, s:s, s:O, s:O, s:s, s:O?}", "key",
			              ek, "task_code", ek, "name",
			              json_object_get(m, "task_name"), "type",
			              json_object_get(m, "task_type"), "region",
			              s->chain[i], "dept_name",
			              json_object_get(e, "dept_name")));
		}
	}
	fsm_catalog_fini(&c);
	if ((*out = json_pack("{s:o}", "matters", list)) == NULL) {
		return TB_ENOMEM;
	}
	return TB_OK;
}

int
store_matter(struct store *s, const char *code, json_t **out)
{
	struct fsm_catalog c;
	struct fsm_matter m;
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = fsm_catalog_load(s, txn, &c);
	store_rd_end(s, txn);
	if (rv != 0) {
		return rv;
	}
	if ((rv = fsm_resolve(s, &c, code, &m)) == 0) {
		*out = json_pack("{s:s, s:s?, s:s?, s:I, s:s, s:s, s:O}", "key",
		                 m.key, "task_code",
		                 m.task_code[0] ? m.task_code : NULL, "region",
		                 m.region[0] ? m.region : NULL, "release",
		                 (json_int_t)c.std.version, "hash", m.hash,
		                 "locked_hash", m.locked, "matter", m.eff);
		rv = *out != NULL ? TB_OK : TB_ENOMEM;
		fsm_matter_fini(&m);
	}
	fsm_catalog_fini(&c);
	return rv;
}

/* case_events lists the events of case id, oldest first. */
static int
case_events(struct store *s, MDB_txn *txn, const char *id, json_t *list)
{
	uint8_t kb[80];
	size_t idl = strlen(id);
	MDB_cursor *cur;
	MDB_val k = { idl + 1, kb }, v, ev;
	json_t *e;
	int rv, op = MDB_SET_RANGE;

	memcpy(kb, id, idl);
	kb[idl] = 0;
	if ((rv = db_err(mdb_cursor_open(txn, s->dbi[DB_CASE_EVENTS], &cur)))) {
		return rv;
	}
	while ((rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != idl + 5 || memcmp(k.mv_data, kb, idl + 1) ||
		    v.mv_size != 8) {
			break;
		}
		if ((rv = db_get(txn, s->dbi[DB_EVENTS], v.mv_data, 8, &ev)) ||
		    (rv = fsm_event_json(db_get_be64(v.mv_data), &ev, &e))) {
			break;
		}
		if (json_array_append_new(list, e) != 0) {
			rv = TB_ENOMEM;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

int
store_case_get(struct store *s, const char *id, int64_t now_ms, json_t **out)
{
	json_t *c = NULL, *evs = json_array();
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if (evs == NULL || strlen(id) > 64 || (rv = rd_begin(s, &txn)) != 0) {
		json_decref(evs);
		return evs == NULL       ? TB_ENOMEM
		       : strlen(id) > 64 ? TB_ENOTFOUND
		                         : rv;
	}
	rv = db_get_json(txn, s->dbi[DB_CASES], id, strlen(id), &c);
	if (rv == 0) {
		rv = case_events(s, txn, id, evs);
	}
	store_rd_end(s, txn);
	if (rv == 0 && (json_object_set_new(c, "events", evs) ||
	                fsm_case_clock(c, fsm_day(now_ms)))) {
		rv = TB_ENOMEM;
		evs = NULL;
	}
	if (rv != 0) {
		json_decref(evs);
		json_decref(c);
		return rv;
	}
	*out = c;
	return TB_OK;
}

int
store_bundle_get(struct store *s, const char *id, json_t **out)
{
	json_t *app = NULL, *x, *c;
	MDB_txn *txn;
	size_t i, nfinal = 0;
	enum lc_state st;
	bool final;
	int rv;

	*out = NULL;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = db_get_json(txn, s->dbi[DB_APPLICATIONS], id, strlen(id), &app);
	json_array_foreach(json_object_get(app, "cases"), i, x)
	{
		const char *cid = spec_str(x, "id");
		if (rv != 0 || (rv = db_get_json(txn, s->dbi[DB_CASES], cid,
		                                 strlen(cid), &c)) != 0) {
			break;
		}
		json_object_set(x, "state", json_object_get(c, "state"));
		json_object_set(x, "version", json_object_get(c, "version"));
		/* A member handed to another region (多地联办): its owner,
		 * and the state its NOTIFYs brought back here. */
		if (spec_str(c, "owner") != NULL) {
			json_object_set(x, "owner",
			                json_object_get(c, "owner"));
		}
		st = LC_STATE_RECEIVED;
		final = lc_state_parse(spec_str(c, "state"), &st) == TB_OK &&
		        lc_is_final(st);
		json_object_set_new(x, "final", json_boolean(final));
		nfinal += final;
		json_decref(c);
	}
	store_rd_end(s, txn);
	if (rv != 0) {
		json_decref(app);
		return rv == TB_ENOTFOUND && app != NULL ? TB_ECORRUPT : rv;
	}
	json_object_set_new(app, "members_final",
	                    json_integer((json_int_t)nfinal));
	json_object_set_new(
	    app, "status",
	    json_string(nfinal == json_array_size(json_object_get(app, "cases"))
	                    ? "complete"
	                    : "in_progress"));
	*out = json_pack("{s:o}", "bundle", app);
	return *out != NULL ? TB_OK : TB_ENOMEM;
}

int
store_applicant_cases(struct store *s, const char *id_number, size_t limit,
                      json_t **out)
{
	json_t *ids = json_array();
	uint8_t h[32];
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k = { 32, h }, v;
	int rv, op = MDB_SET_RANGE;

	*out = NULL;
	limit = limit == 0 ? 100 : limit;
	db_applicant_hash(s, id_number, h);
	if (ids == NULL || (rv = rd_begin(s, &txn)) != 0) {
		json_decref(ids);
		return ids == NULL ? TB_ENOMEM : rv;
	}
	rv = db_err(mdb_cursor_open(txn, s->dbi[DB_APPLICANTS], &cur));
	if (rv == 0) {
		while (json_array_size(ids) < limit &&
		       (rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0) {
			op = MDB_NEXT;
			if (k.mv_size <= 32 || memcmp(k.mv_data, h, 32) != 0) {
				break;
			}
			json_array_append_new(
			    ids, json_stringn((const char *)k.mv_data + 32,
			                      k.mv_size - 32));
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(s, txn);
	rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	if (rv != 0 || (*out = json_pack("{s:o}", "cases", ids)) == NULL) {
		json_decref(ids);
		return rv ? rv : TB_ENOMEM;
	}
	return TB_OK;
}

/* Token records. Every request looks its bearer token up: the record is
 * read under a read transaction as before, but decoded only when its
 * stored bytes differ from those the kept record was decoded from (a
 * revocation rewrites them), and the decoded record is shared, read-only,
 * between the requests that hold it (jansson counts references
 * atomically). Decoding and freeing it were a few percent of a write's
 * CPU. A slot per hash's first byte; a new token displaces the old. */
static json_t *
tok_kept(struct store *s, const uint8_t hash[32], const MDB_val *v)
{
	struct store_tok *k = &s->tok[hash[0] % STORE_TOK_CACHE];
	json_t *rec = NULL;

	pthread_mutex_lock(&s->tok_mu);
	if (k->val != NULL && k->len == v->mv_size &&
	    memcmp(k->hash, hash, 32) == 0 &&
	    memcmp(k->val, v->mv_data, v->mv_size) == 0) {
		rec = json_incref(k->rec);
	}
	pthread_mutex_unlock(&s->tok_mu);
	return rec;
}

static void
tok_keep(struct store *s, const uint8_t hash[32], const MDB_val *v, json_t *rec)
{
	struct store_tok *k = &s->tok[hash[0] % STORE_TOK_CACHE];
	uint8_t *val = malloc(v->mv_size);
	json_t *old_rec;
	uint8_t *old;

	if (val == NULL) {
		return; /* not kept: decoded again next time */
	}
	memcpy(val, v->mv_data, v->mv_size);
	pthread_mutex_lock(&s->tok_mu);
	old = k->val;
	old_rec = k->rec;
	memcpy(k->hash, hash, 32);
	k->val = val;
	k->len = v->mv_size;
	k->rec = json_incref(rec);
	pthread_mutex_unlock(&s->tok_mu);
	free(old);
	json_decref(old_rec);
}

void
store_tok_drop(struct store *s)
{
	for (size_t i = 0; i < STORE_TOK_CACHE; i++) {
		free(s->tok[i].val);
		json_decref(s->tok[i].rec);
		s->tok[i].val = NULL;
		s->tok[i].rec = NULL;
	}
}

int
store_token_lookup(struct store *s, const uint8_t hash[32], json_t **out)
{
	json_t *t = NULL;
	MDB_txn *txn;
	MDB_val id, v;
	int rv;

	*out = NULL;
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = db_get(txn, s->dbi[DB_TOKEN_HASH], hash, 32, &id);
	if (rv == 0) {
		rv = db_get(txn, s->dbi[DB_TOKENS], id.mv_data, id.mv_size, &v);
	}
	if (rv == 0 && (t = tok_kept(s, hash, &v)) != NULL) {
		/* The same bytes as a record kept unrevoked. */
		store_rd_end(s, txn);
		*out = t;
		return TB_OK;
	}
	if (rv == 0) {
		rv = db_val_json(&v, &t);
	}
	if (rv == 0 && json_object_get(t, "revoked_at") != NULL) {
		rv = TB_ENOTFOUND;
	}
	if (rv == 0) {
		json_object_del(t, "hash");
		tok_keep(s, hash, &v, t); /* v is LMDB's until rd_end */
	}
	store_rd_end(s, txn);
	if (rv != 0) {
		json_decref(t);
		return rv;
	}
	*out = t;
	return TB_OK;
}

int
store_token_get(struct store *s, const char *id, json_t **out)
{
	json_t *t = NULL;
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if (id == NULL || id[0] == '\0' || strlen(id) > 64) {
		return TB_ENOTFOUND;
	}
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = db_get_json(txn, s->dbi[DB_TOKENS], id, strlen(id), &t);
	store_rd_end(s, txn);
	if (rv != 0) {
		json_decref(t);
		return rv;
	}
	json_object_del(t, "hash");
	*out = t;
	return TB_OK;
}

int
store_token_list(struct store *s, json_t **out)
{
	json_t *arr = json_array(), *t;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	bool more = false;
	int rv, op = MDB_FIRST;

	*out = NULL;
	if (arr == NULL || (rv = rd_begin(s, &txn)) != 0) {
		json_decref(arr);
		return arr == NULL ? TB_ENOMEM : rv;
	}
	rv = db_err(mdb_cursor_open(txn, s->dbi[DB_TOKENS], &cur));
	if (rv == 0) {
		while (json_array_size(arr) < STORE_TOKEN_LIST_MAX &&
		       (rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0) {
			op = MDB_NEXT;
			/* Decoded inside the transaction: v dies with it. */
			if ((rv = db_val_json(&v, &t)) != 0) {
				break;
			}
			json_object_del(t, "hash");
			json_array_append_new(arr, t);
		}
		/* Cut at STORE_TOKEN_LIST_MAX: say so. */
		more = rv == 0 &&
		       mdb_cursor_get(cur, &k, &v, MDB_NEXT) == MDB_SUCCESS;
		mdb_cursor_close(cur);
	}
	store_rd_end(s, txn);
	rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	if (rv != 0 || (*out = json_pack("{s:o, s:b}", "tokens", arr,
	                                 "truncated", more)) == NULL) {
		json_decref(arr);
		return rv ? rv : TB_ENOMEM;
	}
	return TB_OK;
}

int
store_join_get(struct store *s, const char *id, json_t **out)
{
	char key[40];
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if (id == NULL || strlen(id) != 16) {
		return TB_ENOTFOUND;
	}
	snprintf(key, sizeof(key), "join/%s", id);
	if ((rv = rd_begin(s, &txn)) != 0) {
		return rv;
	}
	rv = db_get_json(txn, s->dbi[DB_META], key, strlen(key), out);
	store_rd_end(s, txn);
	return rv;
}
