/* The node's own certificates in the node-local LMDB environment DIR/local
 * (certstore.h). Not the store's environment (DIR/state): a snapshot
 * install replaces that directory wholesale (store_swap.c), and the
 * node's certificate must survive it. */
#include "node/certstore.h"

#include "node/log.h"
#include "node/store_db.h"
#include "schema/error.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CERTSTORE_MAP ((size_t)32 << 20)
#define CERTSTORE_DB  "certs"

/* The one environment this process keeps open: LMDB forbids opening the
 * same environment twice in a process. MDB_NOTLS: a read transaction's
 * reader slot is released with it, whatever thread (links, HTTP) ran it. */
static struct {
	pthread_mutex_t mu;
	char dir[PATH_MAX];
	MDB_env *env;
	MDB_dbi dbi;
} cs = { .mu = PTHREAD_MUTEX_INITIALIZER };

void
certstore_path(const char *dir, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", dir, CERTSTORE_SUBDIR);
}

static bool
name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > CERTSTORE_NAME_MAX) {
		return false;
	}
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-')) {
			return false;
		}
	}
	return true;
}

/* env_get makes cs.env the environment of dir (cs.mu held). Without
 * create, TB_ENOTFOUND when dir has none yet. */
static int
env_get(const char *dir, bool create, char *errmsg, size_t errlen)
{
	char path[PATH_MAX + 32], file[PATH_MAX + 64];
	MDB_txn *txn;
	struct stat st;
	int rv;

	if (cs.env != NULL && !strcmp(cs.dir, dir)) {
		return TB_OK;
	}
	if (cs.env != NULL) {
		mdb_env_close(cs.env);
		cs.env = NULL;
	}
	certstore_path(dir, path, sizeof(path));
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	if (!create && stat(file, &st) != 0) {
		snprintf(errmsg, errlen, "%s holds no certificates", path);
		return TB_ENOTFOUND;
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(errmsg, errlen, "%s: %s", path, strerror(errno));
		return TB_EIO;
	}
	if ((rv = db_err(mdb_env_create(&cs.env))) != 0) {
		snprintf(errmsg, errlen, "%s: %s", path, tb_strerror(rv));
		cs.env = NULL;
		return rv;
	}
	if ((rv = db_err(mdb_env_set_maxdbs(cs.env, 2))) != 0 ||
	    (rv = db_err(mdb_env_set_mapsize(cs.env, CERTSTORE_MAP))) != 0 ||
	    (rv = db_err(mdb_env_open(cs.env, path, MDB_NOTLS, 0600))) != 0 ||
	    (rv = db_err(mdb_txn_begin(cs.env, NULL, 0, &txn))) != 0) {
		snprintf(errmsg, errlen, "%s: %s", path, tb_strerror(rv));
		goto fail;
	}
	if ((rv = db_err(
	         mdb_dbi_open(txn, CERTSTORE_DB, MDB_CREATE, &cs.dbi))) != 0) {
		mdb_txn_abort(txn);
		snprintf(errmsg, errlen, "%s: database %s: %s", path,
		         CERTSTORE_DB, tb_strerror(rv));
		goto fail;
	}
	if ((rv = db_err(mdb_txn_commit(txn))) != 0) {
		snprintf(errmsg, errlen, "%s: commit: %s", path,
		         tb_strerror(rv));
		goto fail;
	}
	snprintf(cs.dir, sizeof(cs.dir), "%s", dir);
	return TB_OK;
fail:
	mdb_env_close(cs.env);
	cs.env = NULL;
	return rv;
}

void
certstore_close(void)
{
	pthread_mutex_lock(&cs.mu);
	if (cs.env != NULL) {
		mdb_env_close(cs.env);
		cs.env = NULL;
	}
	pthread_mutex_unlock(&cs.mu);
}

int
certstore_get(const char *dir, const char *name, json_t **out, char *errmsg,
              size_t errlen)
{
	MDB_txn *txn;
	int rv;

	*out = NULL;
	if (!name_ok(name)) {
		snprintf(errmsg, errlen, "%s: not a certificate record name",
		         name);
		return TB_EINVAL;
	}
	pthread_mutex_lock(&cs.mu);
	if ((rv = env_get(dir, false, errmsg, errlen)) != 0) {
		goto out;
	}
	if ((rv = db_err(mdb_txn_begin(cs.env, NULL, MDB_RDONLY, &txn))) != 0) {
		snprintf(errmsg, errlen, "%s/%s: %s", dir, CERTSTORE_SUBDIR,
		         tb_strerror(rv));
		goto out;
	}
	rv = db_get_json(txn, cs.dbi, name, strlen(name), out);
	mdb_txn_abort(txn);
	if (rv == TB_ENOTFOUND) {
		snprintf(errmsg, errlen, "%s/%s holds no %s", dir,
		         CERTSTORE_SUBDIR, name);
	} else if (rv != 0) {
		snprintf(errmsg, errlen, "%s/%s: %s: %s", dir, CERTSTORE_SUBDIR,
		         name, tb_strerror(rv));
	}
out:
	pthread_mutex_unlock(&cs.mu);
	return rv;
}

json_t *
certstore_load(const char *dir, const char *name)
{
	char err[PATH_MAX + 128];
	json_t *doc;
	int rv;

	rv = certstore_get(dir, name, &doc, err, sizeof(err));
	if (rv != 0 && rv != TB_ENOTFOUND) {
		tb_log(TB_LOG_WARN, "TB-CERTSTORE", "%s", err);
	}
	return rv == 0 ? doc : NULL;
}

int
certstore_put_many(const char *dir, const char *const *names,
                   const json_t *const *docs, size_t n, char *errmsg,
                   size_t errlen)
{
	MDB_txn *txn;
	size_t i;
	int rv;

	for (i = 0; i < n; i++) {
		if (!name_ok(names[i])) {
			snprintf(errmsg, errlen,
			         "%s: not a certificate record name", names[i]);
			return TB_EINVAL;
		}
	}
	pthread_mutex_lock(&cs.mu);
	if ((rv = env_get(dir, true, errmsg, errlen)) != 0) {
		goto out;
	}
	if ((rv = db_err(mdb_txn_begin(cs.env, NULL, 0, &txn))) != 0) {
		snprintf(errmsg, errlen, "%s/%s: %s", dir, CERTSTORE_SUBDIR,
		         tb_strerror(rv));
		goto out;
	}
	for (i = 0; i < n; i++) {
		rv = db_put_json(txn, cs.dbi, names[i], strlen(names[i]),
		                 docs[i]);
		if (rv != 0) {
			mdb_txn_abort(txn);
			snprintf(errmsg, errlen, "%s/%s: store %s: %s", dir,
			         CERTSTORE_SUBDIR, names[i], tb_strerror(rv));
			goto out;
		}
	}
	if ((rv = db_err(mdb_txn_commit(txn))) != 0) {
		snprintf(errmsg, errlen, "%s/%s: commit: %s", dir,
		         CERTSTORE_SUBDIR, tb_strerror(rv));
	}
out:
	pthread_mutex_unlock(&cs.mu);
	return rv;
}

int
certstore_put(const char *dir, const char *name, const json_t *doc,
              char *errmsg, size_t errlen)
{
	return certstore_put_many(dir, &name, &doc, 1, errmsg, errlen);
}

/* walk visits every record of dir whose name starts with prefix, in name
 * order, under cs.mu; the number visited. */
static size_t
walk(const char *dir, const char *prefix,
     void (*fn)(void *, const MDB_val *, const MDB_val *), void *arg)
{
	char err[PATH_MAX + 128];
	size_t plen = strlen(prefix), n = 0;
	MDB_cursor *cur = NULL;
	MDB_txn *txn = NULL;
	MDB_val k, v;
	int op, rv;

	pthread_mutex_lock(&cs.mu);
	if (env_get(dir, false, err, sizeof(err)) != 0 ||
	    mdb_txn_begin(cs.env, NULL, MDB_RDONLY, &txn) != 0) {
		goto out;
	}
	if (mdb_cursor_open(txn, cs.dbi, &cur) != 0) {
		goto out;
	}
	k.mv_data = (void *)prefix;
	k.mv_size = plen;
	for (op = plen ? MDB_SET_RANGE : MDB_FIRST;
	     (rv = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0) {
			break;
		}
		fn(arg, &k, &v);
		n++;
	}
out:
	if (cur != NULL) {
		mdb_cursor_close(cur);
	}
	if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	pthread_mutex_unlock(&cs.mu);
	return n;
}

static void
list_one(void *arg, const MDB_val *k, const MDB_val *v)
{
	json_t *doc;

	if (db_val_json(v, &doc) != 0) {
		tb_log(TB_LOG_WARN, "TB-CERTSTORE",
		       "certificate record %.*s does not decode: ignored",
		       (int)k->mv_size, (const char *)k->mv_data);
		return;
	}
	json_array_append_new(arg, doc);
}

size_t
certstore_list(const char *dir, const char *prefix, json_t *arr)
{
	size_t before = json_array_size(arr);

	walk(dir, prefix, list_one, arr);
	return json_array_size(arr) - before;
}

static void
fp_one(void *arg, const MDB_val *k, const MDB_val *v)
{
	uint8_t len[8];

	db_be64(len, k->mv_size);
	crypto_generichash_update(arg, len, sizeof(len));
	crypto_generichash_update(arg, k->mv_data, k->mv_size);
	db_be64(len, v->mv_size);
	crypto_generichash_update(arg, len, sizeof(len));
	crypto_generichash_update(arg, v->mv_data, v->mv_size);
}

void
certstore_fingerprint(const char *dir, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	walk(dir, "", fp_one, &st);
	crypto_generichash_final(&st, out, 32);
}

/* legacy_name maps a file of DIR/certs onto its record name (into rec),
 * or returns false for a file that is not a certificate of the node's. */
static bool
legacy_name(const char *file, char *rec, size_t reclen)
{
	size_t n = strlen(file);

	if (n < 6 || strcmp(file + n - 5, ".json") != 0 ||
	    (strcmp(file, "node.json") != 0 &&
	     strcmp(file, "chain.json") != 0 &&
	     strncmp(file, "xcert-", 6) != 0)) {
		return false;
	}
	snprintf(rec, reclen, "%.*s", (int)(n - 5), file);
	return name_ok(rec);
}

int
certstore_legacy(const char *dir)
{
	char path[PATH_MAX + 16], rec[CERTSTORE_NAME_MAX + 8];
	struct dirent *e;
	int n = 0;
	DIR *dp;

	snprintf(path, sizeof(path), "%s/certs", dir);
	if ((dp = opendir(path)) == NULL) {
		return 0;
	}
	while ((e = readdir(dp)) != NULL) {
		n += legacy_name(e->d_name, rec, sizeof(rec));
	}
	closedir(dp);
	return n;
}

int
certstore_import(const char *dir, char *errmsg, size_t errlen)
{
	char path[PATH_MAX + 300], to[PATH_MAX + 320];
	char rec[CERTSTORE_NAME_MAX + 8];
	struct dirent *e;
	json_error_t je;
	json_t *doc;
	int n = 0;
	DIR *dp;

	snprintf(path, sizeof(path), "%s/certs", dir);
	if ((dp = opendir(path)) == NULL) {
		return 0;
	}
	while ((e = readdir(dp)) != NULL) {
		if (!legacy_name(e->d_name, rec, sizeof(rec))) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/certs/%s", dir, e->d_name);
		doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
		if (doc == NULL ||
		    (!strcmp(rec, "chain") ? !json_is_array(doc)
		                           : !json_is_object(doc))) {
			tb_log(TB_LOG_WARN, "TB-CERTSTORE",
			       "%s: %s: not imported", path,
			       doc == NULL             ? je.text
			       : !strcmp(rec, "chain") ? "not a JSON array"
			                               : "not a JSON object");
			json_decref(doc);
			continue;
		}
		if (certstore_put(dir, rec, doc, errmsg, errlen) != 0) {
			json_decref(doc);
			closedir(dp);
			return -1;
		}
		json_decref(doc);
		snprintf(to, sizeof(to), "%s.imported", path);
		if (rename(path, to) != 0) {
			snprintf(errmsg, errlen, "rename %s: %s", path,
			         strerror(errno));
			closedir(dp);
			return -1;
		}
		tb_log(TB_LOG_INFO, "TB-CERTSTORE-IMPORTED",
		       "%s: imported into %s/%s as %s (the file is now %s)",
		       path, dir, CERTSTORE_SUBDIR, rec, to);
		n++;
	}
	closedir(dp);
	return n;
}
