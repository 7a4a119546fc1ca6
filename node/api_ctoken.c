/* Chain tokens at the HTTP API: the node's root, lists and
 * cross-certificates for them (reloaded when DIR/root.json or DIR/certs
 * changes, or the replicated lists of crl.put or root of root.put: a stored
 * root is the anchor instead of root.json), a verified-chain cache,
 * metrics, and the 401 replies.
 *
 * HTTP handlers run on nng's threads, so the state sits behind one mutex:
 * a check holds it for a cache lookup (microseconds) or, on a miss, for
 * the chain's signature checks (a few Ed25519 verifications). */
#include "node/api_ctoken.h"

#include "node/certstore.h"
#include "node/log.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/cert.h"
#include "schema/cert_cache.h"
#include "schema/cert_crl.h"
#include "schema/ctoken.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CTOK_MAX_DOCS    64
#define CTOK_POLL_MS     1000
#define CTOK_LOG_PER_MIN 20

struct api_ctok {
	pthread_mutex_t mu;
	char dir[PATH_MAX];
	json_t *root;   /* checked with trust_root_check, or NULL */
	json_t *crls;   /* verified lists */
	json_t *xcerts; /* cross-certificates our root issued */
	uint8_t fp[32];
	bool loaded;
	int64_t checked_ms;
	struct cert_cache cache;
	int64_t log_window_ms;
	unsigned log_lines;
	_Atomic unsigned long long accepted;
	_Atomic unsigned long long refused[CTOK_REASON_COUNT];
};

struct api_ctok *
api_ctok_new(const char *dir)
{
	struct api_ctok *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	cert_cache_init(&t->cache);
	return t;
}

void
api_ctok_free(struct api_ctok *t)
{
	if (t == NULL) {
		return;
	}
	json_decref(t->root);
	json_decref(t->crls);
	json_decref(t->xcerts);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

bool
api_ctok_is(const char *tok)
{
	return tok != NULL && !strncmp(tok, CTOK_PREFIX, strlen(CTOK_PREFIX));
}

/* fp_add hashes a file's identity (name, size, inode, mtime). */
static void
fp_add(crypto_generichash_state *st, const char *path)
{
	struct stat sb;
	long long v[5] = { 0 };

	if (stat(path, &sb) == 0) {
		v[0] = (long long)sb.st_size;
		v[1] = (long long)sb.st_ino;
		v[2] = (long long)sb.st_mtim.tv_sec;
		v[3] = (long long)sb.st_mtim.tv_nsec;
		v[4] = 1;
	}
	crypto_generichash_update(st, (const uint8_t *)path, strlen(path) + 1);
	crypto_generichash_update(st, (const uint8_t *)v, sizeof(v));
}

/* scan hashes root.json, the certs/crl-* files and the node-local
 * records (certstore.h) into fp and, if crls is not NULL, loads the lists
 * into crls and the cross-certificates into xcerts. Directory order is the
 * same between calls on an unchanged directory. */
static void
scan(struct api_ctok *t, uint8_t fp[32], json_t *crls, json_t *xcerts)
{
	crypto_generichash_state st;
	char path[PATH_MAX + 300];
	uint8_t cfp[32];
	struct dirent *e;
	json_error_t je;
	json_t *doc;
	DIR *dp;

	crypto_generichash_init(&st, NULL, 0, 32);
	snprintf(path, sizeof(path), "%s/root.json", t->dir);
	fp_add(&st, path);
	snprintf(path, sizeof(path), "%s/certs", t->dir);
	if ((dp = opendir(path)) != NULL) {
		while ((e = readdir(dp)) != NULL) {
			bool crl = !strncmp(e->d_name, "crl-", 4);
			size_t len = strlen(e->d_name);
			if (!crl || len < 5 ||
			    strcmp(e->d_name + len - 5, ".json") != 0) {
				continue;
			}
			snprintf(path, sizeof(path), "%s/certs/%s", t->dir,
			         e->d_name);
			fp_add(&st, path);
			if (crls == NULL) {
				continue;
			}
			doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
			if (doc != NULL &&
			    json_array_size(crls) < CTOK_MAX_DOCS) {
				json_array_append(crls, doc);
			}
			json_decref(doc);
		}
		closedir(dp);
	}
	certstore_fingerprint(t->dir, cfp);
	crypto_generichash_update(&st, cfp, sizeof(cfp));
	if (xcerts != NULL) {
		certstore_list(t->dir, "xcert-", xcerts);
		while (json_array_size(xcerts) > CTOK_MAX_DOCS) {
			json_array_remove(xcerts, CTOK_MAX_DOCS);
		}
	}
	crypto_generichash_final(&st, fp, 32);
}

/* crl_anchor: what verifies a root's list: our root, or the
 * cross-certificate our root issued for that province. */
static const json_t *
crl_anchor(const json_t *root, const json_t *xcerts, const json_t *crl)
{
	const char *r = spec_str(json_object_get(crl, "issuer"), "region");
	const json_t *x;
	size_t i;

	json_array_foreach(xcerts, i, x)
	{
		const char *sr =
		    spec_str(json_object_get(x, "subject"), "region");
		if (r != NULL && sr != NULL && !strcmp(r, sr)) {
			return x;
		}
	}
	return root;
}

/* mix_stored adds the replicated revocation lists (crl.put; *stored, a
 * new reference or NULL) and root metadata (root.put; *sroot, a new
 * reference or NULL) to the fingerprint fp of the files. */
static void
mix_stored(struct store *s, uint8_t fp[32], json_t **stored, json_t **sroot)
{
	crypto_generichash_state st;
	char *text;

	*stored = *sroot = NULL;
	if (s == NULL) {
		return;
	}
	if (store_root(s, sroot) != TB_OK) {
		*sroot = NULL;
	}
	if (store_crls(s, stored) != TB_OK) {
		*stored = NULL;
	}
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, fp, 32);
	if (*stored != NULL &&
	    (text = json_dumps(*stored, JSON_COMPACT | JSON_SORT_KEYS)) !=
	        NULL) {
		crypto_generichash_update(&st, (const uint8_t *)text,
		                          strlen(text));
		free(text);
	}
	if (*sroot != NULL &&
	    (text = json_dumps(*sroot, JSON_COMPACT | JSON_SORT_KEYS)) !=
	        NULL) {
		crypto_generichash_update(&st, (const uint8_t *)"root", 4);
		crypto_generichash_update(&st, (const uint8_t *)text,
		                          strlen(text));
		free(text);
	}
	crypto_generichash_final(&st, fp, 32);
}

/* reload loads root.json, certs/ and the replicated lists again if they
 * changed (under mu). */
static void
reload(struct api_ctok *t, int64_t now, struct store *s)
{
	json_t *crls, *xcerts, *raw, *root, *crl, *stored = NULL;
	json_t *sroot = NULL;
	char path[PATH_MAX + 32];
	struct tb_diag *d;
	json_error_t je;
	uint8_t fp[32];
	size_t i;

	if (t->loaded && now - t->checked_ms < CTOK_POLL_MS &&
	    now >= t->checked_ms) {
		return;
	}
	t->checked_ms = now;
	scan(t, fp, NULL, NULL);
	mix_stored(s, fp, &stored, &sroot);
	if (t->loaded && !memcmp(fp, t->fp, 32)) {
		json_decref(stored);
		json_decref(sroot);
		return;
	}
	raw = json_array();
	xcerts = json_array();
	crls = json_array();
	d = malloc(sizeof(*d));
	if (raw == NULL || xcerts == NULL || crls == NULL || d == NULL) {
		goto out;
	}
	scan(t, fp, raw, xcerts);
	json_decref(stored);
	json_decref(sroot);
	mix_stored(s, fp, &stored, &sroot);
	if (stored != NULL) {
		json_array_extend(raw, stored);
	}
	/* The group's stored root anchors chain tokens; root.json only
	 * while the group stores none. */
	snprintf(path, sizeof(path), "%s/root.json", t->dir);
	root = sroot != NULL
	           ? json_incref(sroot)
	           : json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	tb_diag_init(d);
	if (root != NULL && trust_root_check(root, NULL, now, "$", d) != 0) {
		tb_log(TB_LOG_WARN, "TB-API-TOKEN-ROOT",
		       "%s: does not verify (%s), chain tokens are refused",
		       path, d->e[0].msg);
		json_decref(root);
		root = NULL;
	}
	json_array_foreach(raw, i, crl)
	{
		tb_diag_init(d);
		if (root == NULL ||
		    cert_crl_verify(crl, crl_anchor(root, xcerts, crl), "$",
		                    d) != TB_OK) {
			tb_log(TB_LOG_WARN, "TB-API-TOKEN-CRL",
			       "a revocation list in %s/certs does not verify "
			       "(%s), ignored",
			       t->dir, d->n ? d->e[0].msg : "no root");
			continue;
		}
		json_array_append(crls, crl);
	}
	json_decref(t->root);
	json_decref(t->crls);
	json_decref(t->xcerts);
	t->root = root;
	t->crls = crls;
	t->xcerts = xcerts;
	crls = xcerts = NULL;
	memcpy(t->fp, fp, 32);
	t->loaded = true;
	cert_cache_clear(&t->cache);
out:
	json_decref(stored);
	json_decref(sroot);
	json_decref(raw);
	json_decref(crls);
	json_decref(xcerts);
	free(d);
}

/* record builds c->token from a verified payload. */
static json_t *
record(const json_t *p)
{
	const json_t *leaf = json_array_get(json_object_get(p, "chain"), 0);

	return json_pack("{s:O, s:O, s:O, s:s, s:{s:O, s:O, s:O*}, s:I}", "id",
	                 json_object_get(p, "id"), "role",
	                 json_object_get(p, "role"), "region",
	                 json_object_get(p, "scope"), "kind", "chain",
	                 "subject", "serial", json_object_get(leaf, "serial"),
	                 "region", json_object_get(leaf, "region"), "name",
	                 json_object_get(leaf, "name"), "expires",
	                 (json_int_t)spec_int(p, "exp", 0) * 1000);
}

int
api_ctok_auth(struct http_call *c, struct api_ctok *t, const char *tok)
{
	const json_t *crls[CTOK_MAX_DOCS], *xs[CTOK_MAX_DOCS];
	struct ctok_trust tr = { 0 };
	struct tb_diag *d = malloc(sizeof(*d));
	int64_t now = node_now_ms();
	enum ctok_reason r;
	json_t *p = NULL, *x;
	bool log_it = false;
	size_t i;

	if (d == NULL || t == NULL) {
		free(d);
		http_reply_error(c, 503, "unavailable", NULL, "out of memory");
		return -1;
	}
	tb_diag_init(d);
	pthread_mutex_lock(&t->mu);
	reload(t, now, c->node->store);
	json_array_foreach(t->crls, i, x)
	{
		crls[tr.ncrl++] = x;
	}
	json_array_foreach(t->xcerts, i, x)
	{
		xs[tr.nxcert++] = x;
	}
	tr.root = t->root;
	tr.crls = crls;
	tr.xcerts = xs;
	tr.region = c->node->cfg.region;
	tr.now_ms = now;
	tr.cache = &t->cache;
	r = ctok_verify(tok, strlen(tok), &tr, &p, d);
	if (r != CTOK_OK) {
		if (now - t->log_window_ms >= 60000 || now < t->log_window_ms) {
			t->log_window_ms = now;
			t->log_lines = 0;
		}
		log_it = t->log_lines++ < CTOK_LOG_PER_MIN;
	}
	pthread_mutex_unlock(&t->mu);
	if (r == CTOK_OK && (c->token = record(p)) == NULL) {
		r = CTOK_NOMEM;
	}
	json_decref(p);
	if (r == CTOK_OK) {
		t->accepted++;
		free(d);
		return 0;
	}
	t->refused[r]++;
	if (log_it) {
		tb_log(TB_LOG_WARN, "TB-API-TOKEN-REFUSED",
		       "a chain token refused for %s %s: %s: %s: %s", c->method,
		       c->path, ctok_reason_name(r),
		       d->n ? d->e[0].path : "Authorization",
		       d->n ? d->e[0].msg : "");
	}
	if (r == CTOK_NOMEM) {
		http_reply_error(c, 503, "unavailable", NULL, "out of memory");
	} else {
		http_reply_error(c, 401, ctok_reason_name(r),
		                 d->n ? d->e[0].path : "Authorization", "%s",
		                 d->n ? d->e[0].msg : ctok_reason_name(r));
	}
	free(d);
	return -1;
}

char *
api_ctok_metrics_text(struct api_ctok *t)
{
	char *s = NULL;
	size_t len = 0, i;
	FILE *f;

	if (t == NULL || (f = open_memstream(&s, &len)) == NULL) {
		return NULL;
	}
	fprintf(f,
	        "# HELP tongban_chain_tokens_total Chain tokens (tbc1.) "
	        "checked, by result.\n"
	        "# TYPE tongban_chain_tokens_total counter\n"
	        "tongban_chain_tokens_total{result=\"ok\"} %llu\n",
	        (unsigned long long)t->accepted);
	for (i = 1; i < CTOK_REASON_COUNT; i++) {
		fprintf(f, "tongban_chain_tokens_total{result=\"%s\"} %llu\n",
		        ctok_reason_name((enum ctok_reason)i),
		        (unsigned long long)t->refused[i]);
	}
	pthread_mutex_lock(&t->mu);
	fprintf(f,
	        "# TYPE tongban_chain_token_cache_total counter\n"
	        "tongban_chain_token_cache_total{result=\"hit\"} %llu\n"
	        "tongban_chain_token_cache_total{result=\"miss\"} %llu\n",
	        (unsigned long long)t->cache.hits,
	        (unsigned long long)t->cache.misses);
	pthread_mutex_unlock(&t->mu);
	fclose(f);
	return s;
}
