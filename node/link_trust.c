/* What the links trust and whom they dial: the root, this node's
 * certificate, chain and cross-certificates from DIR/local (certstore.h),
 * revocation lists from DIR/certs, the peers of DIR/links.json, and their
 * reloading while the node runs.
 *
 * Reloading. Every poll period (1 s by default) the tick hashes the names,
 * sizes, inodes and modification times of DIR/root.json and every file of
 * DIR/certs, the records of DIR/local, and DIR/links.json. A change of
 * certs/ or local/ (`tongban cert install
 * --crl`, a new node certificate) reloads them all, clears the verified-chain
 * cache, and re-verifies the chain of every open link against the new
 * lists: a peer now revoked is logged (TB-LINK-REVOKED) and its pipe
 * closed. Every poll also re-verifies open links through the cache (cheap
 * on a hit), which closes links whose certificate expired. A change of
 * links.json dials new peers and closes removed ones. Polling needs no
 * signal and sees files that `tongban` writes atomically (rename). The
 * replicated lists and root (link_crl.c) are read at every poll too; a new
 * stored root reloads everything against it, as a change of root.json
 * does. */
#include "node/link_impl.h"

#include "node/certstore.h"
#include "node/log.h"
#include "schema/canon.h"
#include "schema/cert_chain.h"
#include "schema/cert_crl.h"
#include "schema/region.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LINKS_FORMAT  "tongban.links/1"
#define LINK_MAX_CRLS 64

static const char *
str_or(const char *s, const char *dflt)
{
	return s != NULL ? s : dflt;
}

static json_t *
load_json(const char *path)
{
	json_error_t je;

	return json_load_file(path, JSON_REJECT_DUPLICATES, &je);
}

/* fp_file adds a file's identity (name, size, inode, mtime) to st. */
static void
fp_file(crypto_generichash_state *st, const char *path)
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

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* certs_fingerprint hashes root.json, every file of certs/ and the
 * certificates of DIR/local (certstore.h). */
static void
certs_fingerprint(const struct links *ls, uint8_t out[32])
{
	crypto_generichash_state st;
	char path[PATH_MAX + 300], *names[256];
	uint8_t cfp[32];
	struct dirent *e;
	size_t n = 0, i;
	DIR *dp;

	crypto_generichash_init(&st, NULL, 0, 32);
	snprintf(path, sizeof(path), "%s/root.json", ls->dir);
	fp_file(&st, path);
	snprintf(path, sizeof(path), "%s/certs", ls->dir);
	if ((dp = opendir(path)) != NULL) {
		while ((e = readdir(dp)) != NULL && n < 256) {
			if (e->d_name[0] != '.' &&
			    (names[n] = strdup(e->d_name)) != NULL) {
				n++;
			}
		}
		closedir(dp);
	}
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/certs/%s", ls->dir, names[i]);
		fp_file(&st, path);
		free(names[i]);
	}
	certstore_fingerprint(ls->dir, cfp);
	crypto_generichash_update(&st, cfp, sizeof(cfp));
	crypto_generichash_final(&st, out, 32);
}

static void
peers_fingerprint(const struct links *ls, uint8_t out[32])
{
	crypto_generichash_state st;
	char path[PATH_MAX + 32];

	crypto_generichash_init(&st, NULL, 0, 32);
	snprintf(path, sizeof(path), "%s/links.json", ls->dir);
	fp_file(&st, path);
	crypto_generichash_final(&st, out, 32);
}

/* load_dir_docs appends each certs/PREFIX*.json document to arr. */
static void
load_dir_docs(const struct links *ls, const char *prefix, json_t *arr)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	json_t *doc;
	DIR *dp;

	snprintf(path, sizeof(path), "%s/certs", ls->dir);
	if ((dp = opendir(path)) == NULL) {
		return;
	}
	while ((e = readdir(dp)) != NULL) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
		    len < 5 || strcmp(e->d_name + len - 5, ".json") != 0) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/certs/%s", ls->dir, e->d_name);
		if ((doc = load_json(path)) == NULL) {
			tb_log(TB_LOG_WARN, "TB-LINK-CERTS",
			       "%s: not readable JSON, ignored", path);
			continue;
		}
		json_array_append_new(arr, doc);
	}
	closedir(dp);
}

/* crl_anchor finds what verifies a root list of another province: the
 * cross-certificate our root issued for it. */
static const json_t *
crl_anchor(const json_t *root, const json_t *xcerts, const json_t *crl)
{
	const char *region = spec_str(json_object_get(crl, "issuer"), "region");
	const json_t *x;
	size_t i;

	if (region == NULL || !strcmp(region, spec_str(root, "region"))) {
		return root;
	}
	json_array_foreach(xcerts, i, x)
	{
		if (!strcmp(region,
		            str_or(spec_str(json_object_get(x, "subject"),
		                            "region"),
		                   ""))) {
			return x;
		}
	}
	return root;
}

/* own_check warns about this node's own chain: peers refuse a chain that
 * does not verify, and expiry is better known in advance. */
static void
own_check(struct links *ls, json_t *chain)
{
	const json_t *arr[CERT_CHAIN_MAX], *crls[LINK_MAX_CRLS];
	struct cert_expect e = { .kind = CERT_NODE };
	size_t n = json_array_size(chain), nc = json_array_size(ls->crls), i;
	const json_t *leaf = json_array_get(chain, 0);
	char kxh[65];
	struct tb_diag *d;
	int64_t na = 0;
	int rv;

	canon_hex(ls->kx_pk, 32, kxh);
	if (spec_str(leaf, "kx_key") == NULL ||
	    strcmp(spec_str(leaf, "kx_key"), kxh) != 0 ||
	    spec_str(leaf, "node_id") == NULL ||
	    strcmp(spec_str(leaf, "node_id"), ls->node_id) != 0) {
		tb_log(TB_LOG_WARN, "TB-LINK-OWN-CERT",
		       "the node certificate (local/) certifies node %s kx_key "
		       "%.16s.., "
		       "this node is %s with kx_key %.16s..: peers will "
		       "refuse its handshakes",
		       str_or(spec_str(leaf, "node_id"), "?"),
		       str_or(spec_str(leaf, "kx_key"), "?"), ls->node_id, kxh);
	}
	if ((d = malloc(sizeof(*d))) == NULL) {
		return;
	}
	for (i = 0; i < n && i < CERT_CHAIN_MAX; i++) {
		arr[i] = json_array_get(chain, i);
	}
	for (i = 0; i < nc && i < LINK_MAX_CRLS; i++) {
		crls[i] = json_array_get(ls->crls, i);
	}
	e.region = ls->region;
	tb_diag_init(d);
	rv = cert_verify_chain(ls->root, arr,
	                       n < CERT_CHAIN_MAX ? n : CERT_CHAIN_MAX, crls, i,
	                       &e, link_now_ms(), d);
	if (rv != TB_OK) {
		tb_log(TB_LOG_WARN,
		       rv == CERT_EREVOKED ? "TB-LINK-REVOKED"
		                           : "TB-LINK-OWN-CERT",
		       "this node's own certificate chain does not verify "
		       "(peers will refuse it): %s: %s",
		       d->n > 0 ? d->e[0].path : "$",
		       d->n > 0 ? d->e[0].msg : tb_strerror(rv));
	} else if (spec_time_parse(spec_str(leaf, "not_after"), &na) == TB_OK &&
	           na - link_now_ms() < LINK_EXPIRING_MS) {
		tb_log(TB_LOG_WARN, "TB-LINK-CERT-EXPIRING",
		       "this node's certificate %s expires at %s",
		       spec_str(leaf, "serial"), spec_str(leaf, "not_after"));
	}
	free(d);
}

int
link_trust_load(struct links *ls, char *errmsg, size_t errlen)
{
	char path[PATH_MAX + 32];
	json_t *root, *leaf, *chain, *crls, *xcerts, *doc, *crl;
	struct tb_diag *d;
	size_t i;
	int rv = TB_OK;

	certs_fingerprint(ls, ls->certs_fp);
	if ((leaf = certstore_load(ls->dir, "node")) == NULL) {
		snprintf(errmsg, errlen,
		         "links are off: %s has no certificate (tongban cert "
		         "request, issue and install enrol it)",
		         ls->dir);
		return TB_ENOTFOUND;
	}
	/* The group's stored root (link_root_poll checked it) anchors the
	 * links; DIR/root.json only while the group stores none. */
	snprintf(path, sizeof(path), "%s/root.json", ls->dir);
	if (ls->store_root != NULL) {
		root = json_incref(ls->store_root);
	} else if ((root = load_json(path)) == NULL) {
		json_decref(leaf);
		snprintf(errmsg, errlen,
		         "links are off: %s has no root metadata (root.json)",
		         ls->dir);
		return TB_ENOTFOUND;
	}
	chain = json_array();
	json_array_append_new(chain, leaf);
	if ((doc = certstore_load(ls->dir, "chain")) != NULL &&
	    json_is_array(doc)) {
		json_array_extend(chain, doc);
	}
	json_decref(doc);
	if ((d = malloc(sizeof(*d))) == NULL) {
		json_decref(chain);
		json_decref(root);
		return TB_ENOMEM;
	}
	tb_diag_init(d);
	if (trust_root_check(root, NULL, link_now_ms(), "$", d) != 0) {
		snprintf(errmsg, errlen, "%s/root.json: %s: %s", ls->dir,
		         d->e[0].path, d->e[0].msg);
		rv = TB_EINVAL;
		goto out;
	}
	xcerts = json_array();
	certstore_list(ls->dir, "xcert-", xcerts);
	crls = json_array();
	doc = json_array();
	load_dir_docs(ls, "crl-", doc);
	json_array_foreach(doc, i, crl)
	{
		tb_diag_init(d);
		if (cert_crl_verify(crl, crl_anchor(root, xcerts, crl), "$",
		                    d) != TB_OK) {
			tb_log(TB_LOG_WARN, "TB-LINK-CRL-INVALID",
			       "a revocation list of %s in %s/certs does not "
			       "verify (%s), ignored",
			       str_or(spec_str(json_object_get(crl, "issuer"),
			                       "region"),
			              "?"),
			       ls->dir, d->e[0].msg);
			continue;
		}
		json_array_append(crls, crl);
	}
	json_decref(doc);
	link_trust_free(ls);
	/* The replicated lists were checked against the previous root: the
	 * next link_crl_poll checks them again. */
	json_decref(ls->store_crls);
	ls->store_crls = NULL;
	ls->root = json_incref(root);
	pthread_mutex_lock(&ls->view_mu);
	ls->root_version = spec_int(root, "version", 0);
	ls->root_stored = ls->store_root != NULL;
	pthread_mutex_unlock(&ls->view_mu);
	ls->crls = crls;
	ls->xcerts = xcerts;
	ls->own_chain = json_incref(chain);
	link_inc_load(ls, root, chain);
	if ((rv = link_inc_payload(ls, errmsg, errlen)) != TB_OK) {
		goto out;
	}
	cert_cache_clear(&ls->cache);
	ls->rekeyed = link_keys_reload(ls, json_array_get(chain, 0));
	own_check(ls, chain);
out:
	free(d);
	json_decref(chain);
	json_decref(root);
	return rv;
}

void
link_trust_free(struct links *ls)
{
	json_decref(ls->root);
	json_decref(ls->crls);
	json_decref(ls->xcerts);
	json_decref(ls->own_chain);
	free(ls->own_payload);
	ls->root = ls->crls = ls->xcerts = ls->own_chain = NULL;
	ls->own_payload = NULL;
	ls->own_len = 0;
}

int
link_trust_verify(struct links *ls, struct link *l, json_t *chain,
                  struct tb_diag *d)
{
	const json_t *arr[CERT_CHAIN_MAX + 1], *crls[LINK_MAX_CRLS], *last, *x;
	struct cert_expect e = { .kind = CERT_NODE };
	size_t n = json_array_size(chain), nc = 0, i;
	const char *region;

	if (ls->bench.cold_cache) {
		cert_cache_clear(&ls->cache);
	}
	if (n == 0 || n > CERT_CHAIN_MAX) {
		return tb_diag_add(d, n == 0 ? TB_EINVAL : TB_ETOOBIG,
		                   "$.chain", "a chain of %zu certificates", n);
	}
	for (i = 0; i < n; i++) {
		arr[i] = json_array_get(chain, i);
	}
	/* A chain of another province ends with its province certificate:
	 * the cross-certificate our root issued for that province follows. */
	last = arr[n - 1];
	region = spec_str(json_object_get(last, "issuer"), "region");
	if (cert_issuer_is_root(last) && region != NULL &&
	    strcmp(region, str_or(spec_str(ls->root, "region"), "")) != 0 &&
	    n < CERT_CHAIN_MAX) {
		json_array_foreach(ls->xcerts, i, x)
		{
			if (!strcmp(
			        str_or(spec_str(json_object_get(x, "subject"),
			                        "region"),
			               ""),
			        region)) {
				arr[n++] = x;
				break;
			}
		}
	}
	json_array_foreach(ls->crls, i, x)
	{
		if (nc < LINK_MAX_CRLS) {
			crls[nc++] = x;
		}
	}
	json_array_foreach(ls->store_crls, i, x)
	{
		if (nc < LINK_MAX_CRLS) {
			crls[nc++] = x;
		}
	}
	if (l->dir == LINK_OUT) {
		e.region = l->cfg_region;
		e.node_id = l->cfg_node_id[0] ? l->cfg_node_id : NULL;
	}
	return cert_cache_verify(&ls->cache, ls->root, arr, n, crls, nc, &e,
	                         link_now_ms(), d);
}

/* reverify checks every open link's peer chain again (after a reload, or
 * to catch expiry) and closes the links that no longer verify. */
static void
reverify(struct links *ls)
{
	struct tb_diag *d = malloc(sizeof(*d));
	struct link *l;
	int rv;

	if (d == NULL) {
		return;
	}
	for (l = ls->list; l != NULL; l = l->next) {
		if (l->peer_chain == NULL || l->pipe == 0) {
			continue;
		}
		tb_diag_init(d);
		if ((rv = link_trust_verify(ls, l, l->peer_chain, d)) ==
		    TB_OK) {
			continue;
		}
		ls->cert_closes++;
		link_fail(l, LS_REFUSED,
		          rv == CERT_EREVOKED ? "TB-LINK-REVOKED"
		                              : "TB-LINK-HANDSHAKE-REFUSED",
		          "the peer's certificate no longer verifies: %s: %s",
		          d->n > 0 ? d->e[0].path : "$",
		          d->n > 0 ? d->e[0].msg : tb_strerror(rv));
	}
	free(d);
}

void
link_trust_poll(struct links *ls)
{
	uint8_t fp[32];
	char err[512];

	certs_fingerprint(ls, fp);
	if (link_root_poll(ls)) {
		/* A new stored root: everything is checked against it. */
		memset(ls->certs_fp, 0, sizeof(ls->certs_fp));
		tb_log(TB_LOG_INFO, "TB-LINK-ROOT",
		       "the trust anchor is now %s",
		       ls->store_root != NULL ? "the group's stored root"
		                              : "root.json");
	}
	if (memcmp(fp, ls->certs_fp, 32) != 0) {
		if (link_trust_load(ls, err, sizeof(err)) != TB_OK) {
			tb_log(TB_LOG_ERROR, "TB-LINK-CERTS",
			       "reloading certificates failed, the previous "
			       "ones stay in force: %s",
			       err);
		} else {
			tb_log(TB_LOG_INFO, "TB-LINK-CERTS",
			       "reloaded certs/ and local/: %zu revocation "
			       "lists, %zu "
			       "cross-certificates; the verified-chain cache "
			       "is cleared",
			       json_array_size(ls->crls),
			       json_array_size(ls->xcerts));
		}
	}
	if (ls->rekeyed) {
		ls->rekeyed = false;
		link_keys_rehandshake(ls);
	}
	link_keys_age(ls);
	link_crl_poll(ls);
	reverify(ls);
	peers_fingerprint(ls, fp);
	if (memcmp(fp, ls->peers_fp, 32) != 0 &&
	    link_peers_load(ls, err, sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_ERROR, "TB-LINK-CONFIG", "%s", err);
	}
}

/* peer_check validates one entry of links.json. */
static int
peer_check(const json_t *p, size_t i, char *errmsg, size_t errlen)
{
	const char *region = spec_str(p, "region"), *url = spec_str(p, "url");
	const char *id = spec_str(p, "node_id");
	int32_t code;

	if (region == NULL || region_code_parse(region, &code) != TB_OK ||
	    region_find(region_builtin(), code) == NULL) {
		snprintf(errmsg, errlen,
		         "links.json: $.peers[%zu].region: "
		         "not a region code",
		         i);
		return TB_ECODE;
	}
	if (url == NULL || strncmp(url, "tcp://", 6) != 0 ||
	    strlen(url) >= 256 || strrchr(url, ':') < url + 6) {
		snprintf(errmsg, errlen,
		         "links.json: $.peers[%zu].url: "
		         "tcp://HOST:PORT expected",
		         i);
		return TB_EMALFORMED;
	}
	if (id != NULL && (strlen(id) != CERT_NODE_ID_HEX ||
	                   strspn(id, "0123456789abcdef") != strlen(id))) {
		snprintf(errmsg, errlen,
		         "links.json: $.peers[%zu].node_id: "
		         "16 lowercase hex digits expected",
		         i);
		return TB_ECODE;
	}
	return TB_OK;
}

static bool
peer_is(const struct link *l, const json_t *p)
{
	const char *id = spec_str(p, "node_id");

	return l->dir == LINK_OUT && !l->removed &&
	       !strcmp(l->url, spec_str(p, "url")) &&
	       !strcmp(l->cfg_region, spec_str(p, "region")) &&
	       !strcmp(l->cfg_node_id, id != NULL ? id : "");
}

int
link_peers_load(struct links *ls, char *errmsg, size_t errlen)
{
	char path[PATH_MAX + 32];
	json_t *doc, *peers, *p;
	struct link *l;
	size_t i;
	int rv;

	peers_fingerprint(ls, ls->peers_fp);
	snprintf(path, sizeof(path), "%s/links.json", ls->dir);
	if ((doc = load_json(path)) == NULL) {
		doc = json_pack("{s:s, s:[]}", "format", LINKS_FORMAT, "peers");
	}
	peers = json_object_get(doc, "peers");
	if (spec_str(doc, "format") == NULL ||
	    strcmp(spec_str(doc, "format"), LINKS_FORMAT) != 0 ||
	    !json_is_array(peers)) {
		snprintf(errmsg, errlen,
		         "%s: not a %s file with a peers array; the links "
		         "stay as they are",
		         path, LINKS_FORMAT);
		json_decref(doc);
		return TB_EMALFORMED;
	}
	json_array_foreach(peers, i, p)
	{
		if ((rv = peer_check(p, i, errmsg, errlen)) != TB_OK) {
			json_decref(doc);
			return rv;
		}
	}
	/* Links no longer configured close at the next tick. */
	for (l = ls->list; l != NULL; l = l->next) {
		bool keep = false;
		json_array_foreach(peers, i, p)
		{
			keep = keep || peer_is(l, p);
		}
		if (l->dir == LINK_OUT && !keep) {
			l->removed = true;
		}
	}
	json_array_foreach(peers, i, p)
	{
		for (l = ls->list; l != NULL && !peer_is(l, p); l = l->next) {
		}
		if (l != NULL || (l = link_new(ls, LINK_OUT)) == NULL) {
			continue;
		}
		pthread_mutex_lock(&ls->view_mu);
		snprintf(l->url, sizeof(l->url), "%s", spec_str(p, "url"));
		snprintf(l->cfg_region, sizeof(l->cfg_region), "%s",
		         spec_str(p, "region"));
		snprintf(l->cfg_node_id, sizeof(l->cfg_node_id), "%s",
		         str_or(spec_str(p, "node_id"), ""));
		pthread_mutex_unlock(&ls->view_mu);
		if ((rv = link_nng_dial(l)) != 0) {
			link_set_state(l, LS_REFUSED, "cannot dial %s: %s",
			               l->url, nng_strerror(rv));
			tb_log(TB_LOG_ERROR, "TB-LINK-CONFIG",
			       "cannot dial %s: %s", l->url, nng_strerror(rv));
		}
	}
	json_decref(doc);
	return TB_OK;
}
