/* The node's own certificates in DIR/local (node/certstore.c): records in
 * the store's value encoding (schema-version byte, canonical msgpack) read
 * back by raw LMDB, listing by prefix, the fingerprint, refused names, the
 * one-time import of the DIR/certs files, and the store's content digest
 * unchanged by any of it (node-local, never replicated). */
#include "node/certstore.h"
#include "node/store.h"
#include "node/store_db.h"
#include "schema/canon.h"
#include "tests/store_util.h"
#include "tests/tap.h"

#include <lmdb.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* raw_value reads record name of dir/local with LMDB alone. */
static json_t *
raw_value(const char *dir, const char *name, int *sv, bool *canonical)
{
	char path[256];
	struct canon_buf b = { 0 };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(name), (void *)name }, v;
	json_t *doc = NULL;
	char err[128];

	*sv = -1;
	*canonical = false;
	snprintf(path, sizeof(path), "%s/local", dir);
	if (mdb_env_create(&env) != 0) {
		return NULL;
	}
	mdb_env_set_maxdbs(env, 2);
	if (mdb_env_open(env, path, MDB_RDONLY, 0600) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
		if (mdb_dbi_open(txn, "certs", 0, &dbi) == 0 &&
		    mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size > 1) {
			const uint8_t *p = v.mv_data;
			*sv = p[0];
			if (canon_decode(p + 1, v.mv_size - 1,
			                 &canon_default_limits, &doc, err,
			                 sizeof(err)) == 0 &&
			    canon_encode(doc, &b, err, sizeof(err)) == 0) {
				*canonical = b.len == v.mv_size - 1 &&
				             !memcmp(b.data, p + 1, b.len);
			}
			canon_buf_free(&b);
		}
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return doc;
}

int
main(void)
{
	char dir[] = "/tmp/tongban-certstore.XXXXXX", path[256], err[512];
	json_t *leaf, *chain, *x1, *x2, *got, *arr;
	uint8_t h0[32], h1[32], f0[32], f1[32], f2[32];
	uint64_t applied;
	struct store *s;
	bool canonical;
	int sv;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL) {
		return 1;
	}
	leaf = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "format",
	                 "tongban.cert/1", "kind", "node", "node_id", "ab12",
	                 "signatures", "key", "k1", "sig", "s1");
	chain =
	    json_pack("[{s:s, s:s}, {s:s, s:s}]", "kind", "region", "region",
	              "370100", "kind", "region", "region", "370000");
	x1 = json_pack("{s:s, s:{s:s}}", "serial", "x1", "subject", "region",
	               "110000");
	x2 = json_pack("{s:s, s:{s:s}}", "serial", "x2", "subject", "region",
	               "120000");

	is_int(certstore_get(dir, "node", &got, err, sizeof(err)), TB_ENOTFOUND,
	       "a new directory holds no certificate");
	snprintf(path, sizeof(path), "%s/local", dir);
	ok(!exists(path), "no DIR/local made by a read");

	snprintf(path, sizeof(path), "%s/state", dir);
	s = su_open(path, "370102");
	ok(s != NULL, "a store of 370102 in DIR/state");
	is_int(store_digest(s, h0, &applied), 0, "its content digest");
	certstore_fingerprint(dir, f0);

	is_int(certstore_put(dir, "node", leaf, err, sizeof(err)), 0,
	       "put the node certificate");
	{
		const char *names[] = { "chain", "xcert-110000" };
		const json_t *docs[] = { chain, x1 };
		is_int(
		    certstore_put_many(dir, names, docs, 2, err, sizeof(err)),
		    0, "put the chain and a cross-certificate together");
	}
	is_int(certstore_put(dir, "xcert-120000", x2, err, sizeof(err)), 0,
	       "put a second cross-certificate");
	is_int(certstore_put(dir, "../node", leaf, err, sizeof(err)), TB_EINVAL,
	       "a record name with '/' is refused");
	like(err, "not a certificate record name", "  named");
	is_int(certstore_put(dir, "Node", leaf, err, sizeof(err)), TB_EINVAL,
	       "an upper-case name is refused");

	is_int(certstore_get(dir, "node", &got, err, sizeof(err)), 0,
	       "get the node certificate");
	ok(json_equal(got, leaf), "  as it was put");
	json_decref(got);
	got = certstore_load(dir, "chain");
	ok(json_equal(got, chain), "the chain too");
	json_decref(got);
	arr = json_array();
	is_int(certstore_list(dir, "xcert-", arr), 2,
	       "two cross-certificates by prefix");
	is_str(json_string_value(
	           json_object_get(json_array_get(arr, 0), "serial")),
	       "x1", "  in name order");
	json_decref(arr);
	certstore_fingerprint(dir, f1);
	ok(memcmp(f0, f1, 32) != 0, "the fingerprint changed");

	is_int(store_digest(s, h1, &applied), 0, "the store's digest again");
	ok(!memcmp(h0, h1, 32),
	   "unchanged: the certificates are not in the replicated state");
	store_close(s);

	/* The bytes, read by LMDB alone. */
	certstore_close();
	got = raw_value(dir, "node", &sv, &canonical);
	is_int(sv, STORE_SV, "raw: the value starts with the schema version");
	ok(canonical, "raw: then the document's canonical msgpack");
	ok(json_equal(got, leaf), "raw: which decodes to the certificate");
	json_decref(got);

	/* A damaged value is refused by name, not misread. */
	{
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		MDB_val k = { 5, "xcert" }, v = { 3, "\002ab" };
		int rv = -1;

		snprintf(path, sizeof(path), "%s/local", dir);
		if (mdb_env_create(&env) == 0) {
			mdb_env_set_maxdbs(env, 2);
			if (mdb_env_open(env, path, 0, 0600) == 0 &&
			    mdb_txn_begin(env, NULL, 0, &txn) == 0) {
				rv = mdb_dbi_open(txn, "certs", 0, &dbi) ||
				     mdb_put(txn, dbi, &k, &v, 0) ||
				     mdb_txn_commit(txn);
			}
			mdb_env_close(env);
		}
		ok(rv == 0, "raw: a value of schema version 2 written");
	}
	is_int(certstore_get(dir, "xcert", &got, err, sizeof(err)), TB_ECORRUPT,
	       "a value of an unknown schema version is refused");
	like(err, "xcert", "  naming the record");
	arr = json_array();
	is_int(certstore_list(dir, "xcert", arr), 2,
	       "listing skips it (and logs it), keeping the good ones");
	json_decref(arr);

	/* Import of the files an older build wrote. */
	snprintf(path, sizeof(path), "%s/certs", dir);
	mkdir(path, 0700);
	json_object_set_new(leaf, "node_id", json_string("cd34"));
	snprintf(path, sizeof(path), "%s/certs/node.json", dir);
	json_dump_file(leaf, path, 0);
	snprintf(path, sizeof(path), "%s/certs/chain.json", dir);
	json_dump_file(x1, path, 0); /* an object: not a chain */
	snprintf(path, sizeof(path), "%s/certs/crl-370100-ab.json", dir);
	json_dump_file(x1, path, 0);
	is_int(certstore_legacy(dir), 2, "two files look like certificates");
	is_int(certstore_import(dir, err, sizeof(err)), 1,
	       "import takes one (a chain that is not an array is not)");
	got = certstore_load(dir, "node");
	is_str(json_string_value(json_object_get(got, "node_id")), "cd34",
	       "  the imported certificate replaced the stored one");
	json_decref(got);
	got = certstore_load(dir, "chain");
	ok(json_equal(got, chain), "  the stored chain stayed");
	json_decref(got);
	snprintf(path, sizeof(path), "%s/certs/node.json.imported", dir);
	ok(exists(path), "  node.json is now node.json.imported");
	snprintf(path, sizeof(path), "%s/certs/chain.json", dir);
	ok(exists(path), "  the refused chain.json is left");
	snprintf(path, sizeof(path), "%s/certs/crl-370100-ab.json", dir);
	ok(exists(path), "  revocation list files are not touched");
	certstore_fingerprint(dir, f2);
	ok(memcmp(f1, f2, 32) != 0, "the fingerprint changed again");
	unlink(path);
	snprintf(path, sizeof(path), "%s/certs/chain.json", dir);
	unlink(path);
	is_int(certstore_import(dir, err, sizeof(err)), 0,
	       "a second import finds nothing");

	certstore_close();
	json_decref(leaf);
	json_decref(chain);
	json_decref(x1);
	json_decref(x2);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0) {
		return 1;
	}
	return done_testing();
}
