/* The store's lifecycle (open, sync, close), the apply of one committed
 * entry in one write transaction, and the digest of the replicated state. */
#include "node/store.h"

#include "consensus/fsync.h"

#include "node/fsm.h"
#include "node/region_store.h"
#include "node/store_snap.h"
#include "schema/canon_walk.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_DEFAULT_MAP ((size_t)1 << 30)
#define IDEM_KEY_MAX      256

const char *
store_region(const struct store *s)
{
	return s->region;
}

/* bind_region validates code, and derives the province and the overlay
 * chain (the ancestors below the province, top down, then the region). */
static int
bind_region(struct store *s, const char *code, char *errmsg, size_t errlen)
{
	const struct region_table *t = region_builtin();
	const struct region *r, *up[8];
	int32_t c;
	int n = 0, i;

	if (t == NULL) {
		return TB_ENOMEM;
	}
	if (region_code_parse_msg(code, &c, errmsg, errlen) != 0) {
		return TB_ECODE;
	}
	if ((r = region_find(t, c)) == NULL) {
		snprintf(errmsg, errlen, "%s is not in the region table", code);
		return TB_ECODE;
	}
	snprintf(s->region, sizeof(s->region), "%06d", (int)c);
	for (; r != NULL && n < 8; r = region_find(t, r->parent)) {
		up[n++] = r;
	}
	snprintf(s->province, sizeof(s->province), "%06d",
	         (int)up[n - 1]->code);
	s->nchain = 0;
	for (i = n - 2; i >= 0 && s->nchain < STORE_CHAIN_MAX; i--) {
		snprintf(s->chain[s->nchain++], 7, "%06d", (int)up[i]->code);
	}
	return TB_OK;
}

/* open_dbs opens every database and binds or checks the region, in one
 * write transaction. */
static int
open_dbs(struct store *s, const char *region, char *errmsg, size_t errlen)
{
	MDB_txn *txn;
	uint64_t layout;
	char stored[16];
	int32_t code;
	MDB_val v;
	int rv, i;

	if ((rv = db_err(mdb_txn_begin(s->env, NULL, 0, &txn))) != 0) {
		snprintf(errmsg, errlen, "cannot begin: %s", tb_strerror(rv));
		return rv;
	}
	for (i = 0; i < DB_COUNT; i++) {
		rv = db_err(mdb_dbi_open(txn, store_db_name(i), MDB_CREATE,
		                         &s->dbi[i]));
		if (rv != 0) {
			snprintf(errmsg, errlen, "database %s: %s",
			         store_db_name(i), tb_strerror(rv));
			goto fail;
		}
	}
	rv = db_get(txn, s->dbi[DB_META], "region", 6, &v);
	if (rv == TB_ENOTFOUND) {
		if (region == NULL) {
			snprintf(errmsg, errlen,
			         "a new store needs its region code");
			rv = TB_EINVAL;
			goto fail;
		}
		if ((rv = bind_region(s, region, errmsg, errlen)) != 0 ||
		    (rv = db_put(txn, s->dbi[DB_META], "region", 6, s->region,
		                 6)) != 0 ||
		    (rv = meta_put_u64(s, txn, "layout", STORE_LAYOUT)) != 0) {
			goto fail;
		}
	} else if (rv == 0) {
		if (v.mv_size != 6) {
			rv = TB_ECORRUPT;
			snprintf(errmsg, errlen, "meta region is damaged");
			goto fail;
		}
		memcpy(stored, v.mv_data, 6);
		stored[6] = '\0';
		if (region != NULL && (region_code_parse(region, &code) != 0 ||
		                       code != atoi(stored))) {
			snprintf(errmsg, errlen,
			         "this store belongs to region %s, not %s",
			         stored, region);
			rv = TB_EINVAL;
			goto fail;
		}
		if ((rv = meta_get_u64(s, txn, "layout", &layout)) != 0 ||
		    layout != STORE_LAYOUT) {
			snprintf(errmsg, errlen,
			         "store layout %llu, this build reads %d",
			         (unsigned long long)layout, STORE_LAYOUT);
			rv = rv ? rv : TB_ECORRUPT;
			goto fail;
		}
		if ((rv = bind_region(s, stored, errmsg, errlen)) != 0) {
			goto fail;
		}
	} else {
		snprintf(errmsg, errlen, "meta: %s", tb_strerror(rv));
		goto fail;
	}
	if ((rv = db_err(mdb_txn_commit(txn))) != 0) {
		snprintf(errmsg, errlen, "commit: %s", tb_strerror(rv));
	}
	return rv;
fail:
	mdb_txn_abort(txn);
	return rv;
}

int
store_open(const char *dir, const struct store_options *opt, struct store **out,
           char *errmsg, size_t errlen)
{
	struct store *s;
	int rv, rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	pthread_rwlock_init(&s->gate, NULL);
	pthread_mutex_init(&s->rd_mu, NULL);
	pthread_mutex_init(&s->tok_mu, NULL);
	s->map_size =
	    opt != NULL && opt->map_size ? opt->map_size : STORE_DEFAULT_MAP;
	if (opt != NULL && opt->index_key != NULL) {
		memcpy(s->index_key, opt->index_key, sizeof(s->index_key));
	}
	/* A crash during a snapshot swap leaves the old store or the new
	 * one; store_snap.h. */
	if ((rv = store_snapshot_recover(dir, errmsg, errlen)) != 0) {
		pthread_mutex_destroy(&s->rd_mu);
		pthread_mutex_destroy(&s->tok_mu);
		pthread_rwlock_destroy(&s->gate);
		free(s);
		return rv;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(errmsg, errlen, "%s: %s", dir, strerror(errno));
		pthread_mutex_destroy(&s->rd_mu);
		pthread_mutex_destroy(&s->tok_mu);
		pthread_rwlock_destroy(&s->gate);
		free(s);
		return TB_EIO;
	}
	/* MDB_NOMETASYNC and MDB_NOTLS: see the durability decision in
	 * store.h. */
	if ((rv = db_err(mdb_env_create(&s->env))) != 0 ||
	    (rv = db_err(mdb_env_set_maxdbs(s->env, DB_COUNT + 4))) != 0 ||
	    (rv = db_err(mdb_env_set_mapsize(s->env, s->map_size))) != 0 ||
	    (rv = db_err(mdb_env_open(s->env, dir, MDB_NOMETASYNC | MDB_NOTLS,
	                              0600))) != 0) {
		snprintf(errmsg, errlen, "%s: %s", dir, tb_strerror(rv));
		goto fail;
	}
	if ((rv = open_dbs(s, opt != NULL ? opt->region : NULL, errmsg,
	                   errlen)) != 0) {
		goto fail;
	}
	/* data.mdb's name in dir, and dir's in its parent: an fsync of
	 * data.mdb (store_sync) does not make them durable, so a power cut
	 * could lose the whole store even after a snapshot had let the Raft
	 * log drop the entries it holds (TB-SNAPSHOT-HOLE at the next
	 * start). */
	if ((rc = fs_sync_names(dir)) != 0) {
		snprintf(errmsg, errlen, "fsync the directories of %s: %s", dir,
		         strerror(rc));
		rv = TB_EIO;
		goto fail;
	}
	*out = s;
	return TB_OK;
fail:
	if (s->env != NULL) {
		mdb_env_close(s->env);
	}
	pthread_mutex_destroy(&s->rd_mu);
	pthread_mutex_destroy(&s->tok_mu);
	pthread_rwlock_destroy(&s->gate);
	free(s);
	return rv;
}

int
store_batch_begin(struct store *s)
{
	int rv;

	if (s->batch != NULL) {
		return TB_OK;
	}
	pthread_rwlock_rdlock(&s->gate);
	if (s->env == NULL) { /* a live swap could not reopen it */
		pthread_rwlock_unlock(&s->gate);
		return TB_ECLOSED;
	}
	if ((rv = mdb_txn_begin(s->env, NULL, 0, &s->batch)) != 0) {
		s->batch = NULL;
		pthread_rwlock_unlock(&s->gate);
	}
	return db_err(rv);
}

int
store_batch_commit(struct store *s)
{
	int rv;

	if (s->batch == NULL) {
		return TB_OK;
	}
	/* The batch's meta integers are written once, as its last puts. */
	if ((rv = s->meta_err) == 0 && (rv = store_meta_flush(s)) == 0) {
		rv = db_err(mdb_txn_commit(s->batch));
	} else {
		mdb_txn_abort(s->batch);
	}
	store_meta_drop(s);
	s->meta_err = 0;
	s->batch = NULL;
	pthread_rwlock_unlock(&s->gate);
	if (rv != 0) {
		s->cat.valid = false; /* it may hold the lost changes */
	}
	return rv;
}

void
store_batch_abort(struct store *s)
{
	if (s->batch != NULL) {
		mdb_txn_abort(s->batch);
		store_meta_drop(s);
		s->meta_err = 0;
		s->batch = NULL;
		pthread_rwlock_unlock(&s->gate);
		s->cat.valid = false; /* it may hold the dropped changes */
	}
}

int
store_sync(struct store *s)
{
	int rv = store_batch_commit(s);

	if (rv != 0) {
		return rv;
	}
	pthread_rwlock_rdlock(&s->gate);
	rv = s->env == NULL                 ? TB_ECLOSED
	     : mdb_env_sync(s->env, 1) == 0 ? TB_OK
	                                    : TB_EIO;
	pthread_rwlock_unlock(&s->gate);
	return rv;
}

void
store_close(struct store *s)
{
	if (s == NULL) {
		return;
	}
	store_batch_commit(s);
	store_rd_drain(s);
	if (s->env != NULL) {
		mdb_env_sync(s->env, 1);
		mdb_env_close(s->env);
	}
	fsm_catalog_fini(&s->cat);
	store_tok_drop(s);
	pthread_mutex_destroy(&s->rd_mu);
	pthread_mutex_destroy(&s->tok_mu);
	pthread_rwlock_destroy(&s->gate);
	free(s);
}

uint64_t
store_applied_index(struct store *s)
{
	MDB_txn *txn;
	uint64_t v = 0;

	if (store_rd_begin(s, &txn) != 0) {
		return 0;
	}
	meta_get_u64(s, txn, "applied", &v);
	store_rd_end(s, txn);
	return v;
}

unsigned
store_feature_level(struct store *s)
{
	MDB_txn *txn;
	uint64_t v = 0;

	if (store_rd_begin(s, &txn) != 0) {
		return 1;
	}
	meta_get_u64(s, txn, "feature_level", &v);
	store_rd_end(s, txn);
	return v == 0 ? 1 : (unsigned)v;
}

/* error_result builds {"error": {code, message, field}}. */
static json_t *
error_result(int code, const char *path, const char *msg)
{
	return json_pack("{s:{s:s, s:s, s:s}}", "error", "code",
	                 tb_errname(code), "message", msg, "field",
	                 path != NULL && path[0] ? path : "$");
}

/* decode_refusal turns cmd_decode's "path: message" into a result. */
static json_t *
decode_refusal(int code, const char *errmsg)
{
	char path[TB_DIAG_PATH];
	const char *sep = strstr(errmsg, ": ");

	if (errmsg[0] == '$' && sep != NULL &&
	    (size_t)(sep - errmsg) < sizeof(path)) {
		memcpy(path, errmsg, (size_t)(sep - errmsg));
		path[sep - errmsg] = '\0';
		return error_result(code, path, sep + 2);
	}
	return error_result(code, "$", errmsg);
}

/* idem_key names the idempotency record of (type, key). */
static void
idem_key(const struct cmd *c, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"idem", 5);
	crypto_generichash_update(&st, (const uint8_t *)cmd_type_name(c->type),
	                          strlen(cmd_type_name(c->type)) + 1);
	crypto_generichash_update(&st, (const uint8_t *)c->key, strlen(c->key));
	crypto_generichash_final(&st, out, 32);
}

/* idem_check looks the command's key up: TB_OK with *replay set to the
 * original result for a repeat with the same body, FSM_REFUSED for the
 * same key with another body, TB_OK with *replay NULL for a new key. */
static int
idem_check(struct fsm *f, char *bhex, json_t **replay)
{
	uint8_t k[32], h[CANON_HASH_LEN];
	const uint8_t *body;
	char err[128];
	size_t blen;
	json_t *rec;
	int rv;

	*replay = NULL;
	if (strlen(f->cmd->key) > IDEM_KEY_MAX) {
		return fsm_refuse(f, TB_ERANGE, "$.key",
		                  "an idempotency key has at most %d bytes",
		                  IDEM_KEY_MAX);
	}
	/* The body's canonical bytes are those in the command (a shallow
	 * body holds only part of it as JSON): the hash of its encoding
	 * (store_decode_full, as before) is the hash of those bytes. */
	if (f->s->decode_full) {
		if (canon_hash_value(f->cmd->body, NULL, h, err, sizeof(err)) !=
		    0) {
			return TB_ENOMEM;
		}
	} else if (canon_map_get(f->raw, f->raw_len, "body", &body, &blen) !=
	           0) {
		return TB_ECORRUPT;
	} else {
		canon_hash(body, blen, h);
	}
	canon_hex(h, CANON_HASH_LEN, bhex);
	idem_key(f->cmd, k);
	rv = db_get_json(f->txn, f->s->dbi[DB_IDEM], k, 32, &rec);
	if (rv == TB_ENOTFOUND) {
		return TB_OK;
	}
	if (rv != 0) {
		return rv;
	}
	if (strcmp(spec_str(rec, "body_hash") ? spec_str(rec, "body_hash") : "",
	           bhex) != 0) {
		json_decref(rec);
		return fsm_refuse(f, TB_ECONFLICT, "$.key",
		                  "idempotency key \"%s\" was used for a "
		                  "different %s",
		                  f->cmd->key, cmd_type_name(f->cmd->type));
	}
	*replay = json_incref(json_object_get(rec, "result"));
	json_decref(rec);
	return *replay != NULL ? TB_OK : TB_ECORRUPT;
}

static int
idem_put(struct fsm *f, const char *bhex)
{
	uint8_t k[32];
	json_t *rec;
	int rv;

	idem_key(f->cmd, k);
	rec = json_pack("{s:s, s:s, s:s, s:O, s:I}", "type",
	                cmd_type_name(f->cmd->type), "key", f->cmd->key,
	                "body_hash", bhex, "result", f->result, "at",
	                (json_int_t)f->at);
	if (rec == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_IDEM], k, 32, rec);
	json_decref(rec);
	return rv;
}

static int
dispatch(struct fsm *f)
{
	switch (f->cmd->type) {
	case CMD_CATALOG_RELEASE:
		return fsm_release(f);
	case CMD_CATALOG_OVERLAY:
		return fsm_overlay(f);
	case CMD_CASE_CREATE:
		return fsm_case_create(f);
	case CMD_CASE_ACTION:
		return fsm_case_action(f);
	case CMD_TOKEN_CREATE:
		return fsm_token_create(f);
	case CMD_TOKEN_REVOKE:
		return fsm_token_revoke(f);
	case CMD_GROUP_FEATURE:
		return fsm_group_feature(f);
	case CMD_JOIN_CREATE:
		return fsm_join_create(f);
	case CMD_JOIN_USE:
		return fsm_join_use(f);
	case CMD_REGION_TOPOLOGY:
		return fsm_region_topology(f);
	case CMD_OUTBOX_CHILD:
		return fsm_outbox_child(f);
	case CMD_OUTBOX_DELIVER:
		return fsm_outbox_deliver(f);
	case CMD_OUTBOX_ACKED:
		return fsm_outbox_acked(f);
	case CMD_CRL_PUT:
		return fsm_crl_put(f);
	case CMD_OUTBOX_DELIVER_RUN:
		return fsm_outbox_deliver_run(f);
	case CMD_HANDOFF_OFFER:
		return fsm_handoff_offer(f);
	case CMD_HANDOFF_ABORT:
		return fsm_handoff_abort(f);
	case CMD_HANDOFF_FRAME:
		return fsm_handoff_frame(f);
	case CMD_ROOT_PUT:
		return fsm_root_put(f);
	case CMD_HANDOFF_REQUEST:
		return fsm_handoff_request(f);
	case CMD_HANDOFF_REFUSE:
		return fsm_handoff_refuse(f);
	case CMD_GROUP_INCARNATION:
		return fsm_group_incarnation(f);
	case CMD_OUTBOX_SKIP:
		return fsm_outbox_skip(f);
	case CMD_OUTBOX_REWIND:
		return fsm_outbox_rewind(f);
	case CMD_CALENDAR_PUT:
		return fsm_calendar_put(f);
	default:
		return fsm_refuse(f, TB_ENOTIMPL, "$.type",
		                  "%s is an event, not a command this region "
		                  "applies",
		                  cmd_type_name(f->cmd->type));
	}
}

/* run applies the decoded command c in txn: TB_OK (f->result set, changes
 * written), FSM_REFUSED, or a real failure. */
static int
run(struct fsm *f)
{
	char bhex[2 * CANON_HASH_LEN + 1];
	json_t *replay = NULL;
	uint64_t last;
	int rv;

	if ((rv = meta_get_u64(f->s, f->txn, "last_at", &last)) != 0) {
		return rv;
	}
	/* Time comes only from the leader's stamp, clamped monotone so a
	 * new leader with a slower clock cannot move days backwards. */
	f->at = f->cmd->at > (int64_t)last ? f->cmd->at : (int64_t)last;
	f->day = fsm_day(f->at);
	if (f->cmd->key != NULL) {
		if ((rv = idem_check(f, bhex, &replay)) != 0) {
			return rv;
		}
		if (replay != NULL) {
			f->result = replay;
			return TB_OK; /* nothing to write but the index */
		}
	}
	if ((rv = dispatch(f)) != 0) {
		return rv;
	}
	if (f->cmd->key != NULL && (rv = idem_put(f, bhex)) != 0) {
		return rv;
	}
	if ((uint64_t)f->at != last) {
		rv = meta_put_u64(f->s, f->txn, "last_at", (uint64_t)f->at);
	}
	return rv;
}

/* finish writes the applied index into txn and commits it; txn is gone
 * afterwards whatever the outcome. */
static int
finish(struct store *s, MDB_txn *txn, uint64_t index)
{
	int rv;

	if ((rv = meta_put_u64(s, txn, "applied", index)) != 0) {
		if (txn != s->batch) {
			mdb_txn_abort(txn);
		}
		return rv;
	}
	/* In direct mode txn is the batch: committed with it. */
	return txn != s->batch ? db_err(mdb_txn_commit(txn)) : TB_OK;
}

void
store_decode_full(struct store *s, bool on)
{
	s->decode_full = on;
}

void
store_set_direct(struct store *s, bool on)
{
	int rv;

	/* The meta integers kept for a direct batch go into it before its
	 * applies use nested transactions (store_db.h). */
	if (s->direct && !on && s->batch != NULL &&
	    (rv = store_meta_flush(s)) != 0 && s->meta_err == 0) {
		s->meta_err = rv;
	}
	s->direct = on;
}

int
store_apply(struct store *s, uint64_t index, const uint8_t *buf, size_t len,
            json_t **result)
{
	bool direct = s->direct && s->batch != NULL;
	struct fsm f;
	struct cmd c;
	char err[TB_DIAG_MSG];
	uint64_t applied;
	MDB_txn *txn;
	int rv;

	*result = NULL;
	s->last_type = -1;
	/* In a batch, a nested transaction: its commit only merges it into
	 * the batch, and its abort drops only its own writes. In direct
	 * mode the batch itself (store_set_direct). */
	if (direct) {
		txn = s->batch;
	} else if ((rv = db_err(mdb_txn_begin(s->env, s->batch, 0, &txn))) !=
	           0) {
		return rv;
	}
	if ((rv = meta_get_u64(s, txn, "applied", &applied)) != 0 ||
	    index <= applied) {
		if (!direct) {
			mdb_txn_abort(txn); /* libraft re-applies after a
			                       restart */
		}
		return rv;
	}
	rv = s->decode_full
	         ? cmd_decode(buf, len, &c, err, sizeof(err))
	         : cmd_decode_shallow(buf, len, &c, err, sizeof(err));
	if (rv != 0) {
		/* A type or body version this build does not know must stop
		 * the member; any other undecodable entry is refused alike
		 * by every member. */
		bool stop =
		    (rv == TB_EUNKNOWN && !strncmp(err, "$.type:", 7)) ||
		    !strncmp(err, "$.v:", 4);
		if (stop || rv == TB_ENOMEM) {
			if (!direct) {
				mdb_txn_abort(txn);
			}
			return stop ? TB_EUNKNOWN : rv;
		}
		*result = decode_refusal(rv, err);
		if (direct) {
			/* Nothing was written: only the index is. */
			goto refused_direct;
		}
		goto refused;
	}
	s->last_type = (int)c.type;
	memset(&f, 0, offsetof(struct fsm, d));
	f.s = s;
	f.txn = txn;
	f.cmd = &c;
	f.raw = buf;
	f.raw_len = len;
	tb_diag_init(&f.d);
	/* A refusal reads the first entry (empty unless a handler added
	 * one, as when all of f was zeroed). */
	memset(&f.d.e[0], 0, sizeof(f.d.e[0]));
	rv = run(&f);
	if (rv != TB_OK &&
	    (c.type == CMD_CATALOG_RELEASE || c.type == CMD_CATALOG_OVERLAY ||
	     c.type == CMD_OUTBOX_DELIVER ||
	     c.type == CMD_OUTBOX_DELIVER_RUN)) {
		/* The catalog cache may hold what this transaction wrote;
		 * it stays only if the transaction commits. */
		s->cat.valid = false;
	}
	json_decref(f.body);
	if (rv == FSM_REFUSED && direct) {
		/* The batch may hold what the handler wrote: the caller
		 * drops it and applies it again without direct mode. */
		json_decref(f.result);
		cmd_free(&c);
		return STORE_REDO;
	}
	if (rv == FSM_REFUSED) {
		json_decref(f.result);
		*result =
		    error_result(f.d.e[0].code, f.d.e[0].path, f.d.e[0].msg);
		cmd_free(&c);
		goto refused;
	}
	cmd_free(&c);
	if (rv != 0) {
		if (!direct) {
			mdb_txn_abort(txn); /* a half-applied entry is never
			                       kept */
		}
		json_decref(f.result);
		return rv;
	}
	if ((rv = finish(s, txn, index)) != 0) {
		s->cat.valid = false; /* it may hold the lost changes */
		json_decref(f.result);
		return rv;
	}
	*result = f.result;
	if (f.fault) {
		s->fault_exit = true; /* node/applier.c exits after the batch */
	}
	return TB_OK;
refused:
	/* A refusal writes nothing but the applied index: drop whatever the
	 * handler wrote and record the index in a fresh transaction. */
	mdb_txn_abort(txn);
	if (*result == NULL) {
		return TB_ENOMEM;
	}
	if ((rv = db_err(mdb_txn_begin(s->env, s->batch, 0, &txn))) != 0) {
		json_decref(*result);
		*result = NULL;
		return rv;
	}
refused_direct:
	if (*result == NULL) {
		return TB_ENOMEM;
	}
	if ((rv = finish(s, txn, index)) != 0) {
		json_decref(*result);
		*result = NULL;
	}
	return rv;
}

/* digest_db feeds database i into st, skipping the applied index. */
static int
digest_db(struct store *s, MDB_txn *txn, int i, crypto_generichash_state *st)
{
	const char *name = store_db_name(i);
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t len[8];
	int rv, op = MDB_FIRST;

	/* A database added after layout 1 counts only once it holds a
	 * record (store_db.h, DB_FIRST_OPTIONAL). */
	if (i < DB_FIRST_OPTIONAL) {
		crypto_generichash_update(st, (const uint8_t *)name,
		                          strlen(name) + 1);
	}
	if ((rv = db_err(mdb_cursor_open(txn, s->dbi[i], &cur))) != 0) {
		return rv;
	}
	while ((rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0) {
		if (op == MDB_FIRST && i >= DB_FIRST_OPTIONAL) {
			crypto_generichash_update(st, (const uint8_t *)name,
			                          strlen(name) + 1);
		}
		op = MDB_NEXT;
		if (i == DB_META && k.mv_size == 7 &&
		    !memcmp(k.mv_data, "applied", 7)) {
			continue;
		}
		db_be64(len, k.mv_size);
		crypto_generichash_update(st, len, 8);
		crypto_generichash_update(st, k.mv_data, k.mv_size);
		db_be64(len, v.mv_size);
		crypto_generichash_update(st, len, 8);
		crypto_generichash_update(st, v.mv_data, v.mv_size);
	}
	mdb_cursor_close(cur);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

int
store_digest(struct store *s, uint8_t out[32], uint64_t *applied)
{
	crypto_generichash_state st;
	MDB_txn *txn;
	int rv, i;

	if ((rv = db_err(store_rd_begin(s, &txn)))) {
		return rv;
	}
	crypto_generichash_init(&st, NULL, 0, 32);
	for (i = 0, rv = 0; rv == 0 && i < DB_COUNT; i++) {
		rv = digest_db(s, txn, i, &st);
	}
	if (rv == 0 && applied != NULL) {
		rv = meta_get_u64(s, txn, "applied", applied);
	}
	store_rd_end(s, txn);
	crypto_generichash_final(&st, out, 32);
	return rv;
}
