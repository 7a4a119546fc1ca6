/* A node's directory: creating it, and loading its configuration. */
/* realpath(3) is XSI. */
#define _XOPEN_SOURCE 700

#include "node/config.h"

#include "schema/canon.h"
#include "schema/error.h"
#include "schema/region.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_FORMAT "tongban.node/1"

void
node_token_hash(const char *token, char hex[65])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), (const uint8_t *)token, strlen(token),
	                   NULL, 0);
	canon_hex(h, sizeof(h), hex);
}

void
node_config_wipe(struct node_config *c)
{
	sodium_memzero(c->sign_sk, sizeof(c->sign_sk));
	sodium_memzero(c->kx_sk, sizeof(c->kx_sk));
	sodium_memzero(c->index_key, sizeof(c->index_key));
	sodium_memzero(c->release_sk, sizeof(c->release_sk));
}

int
node_dir_lock(const char *dir, char *errmsg, size_t errlen)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/run.lock", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		snprintf(errmsg, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(errmsg, errlen,
		         "%s is held: the node in %s is running (or another "
		         "tongban command works on it)",
		         path, dir);
		close(fd);
		return -1;
	}
	return fd;
}

/* write_file writes text to dir/name with mode, fsyncs it and the
 * directory, refusing to replace an existing file. */
static int
write_file(const char *dir, const char *name, const char *text, mode_t mode,
           char *errmsg, size_t errlen)
{
	char path[PATH_MAX + 64];
	size_t len = strlen(text);
	int fd, dfd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)) < 0) {
		snprintf(errmsg, errlen, "%s: %s", path, strerror(errno));
		return TB_EIO;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(errmsg, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return TB_EIO;
	}
	close(fd);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return TB_OK;
}

static int
write_json(const char *dir, const char *name, json_t *v, mode_t mode,
           char *errmsg, size_t errlen)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rv;

	if (text == NULL) {
		snprintf(errmsg, errlen, "out of memory");
		return TB_ENOMEM;
	}
	rv = write_file(dir, name, text, mode, errmsg, errlen);
	sodium_memzero(text, strlen(text));
	free(text);
	return rv;
}

/* fsync_parent makes path's name durable in its parent directory. */
static void
fsync_parent(const char *path)
{
	char parent[PATH_MAX];
	char *slash;
	int fd;

	snprintf(parent, sizeof(parent), "%s", path);
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0') {
		*slash = '\0'; /* "dir/" names dir */
	}
	if ((slash = strrchr(parent, '/')) == NULL) {
		snprintf(parent, sizeof(parent), ".");
	} else if (slash == parent) {
		parent[1] = '\0';
	} else {
		*slash = '\0';
	}
	if ((fd = open(parent, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int
make_dir(const char *path, mode_t mode, char *errmsg, size_t errlen)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		snprintf(errmsg, errlen, "%s: %s", path, strerror(errno));
		return TB_EIO;
	}
	return TB_OK;
}

static json_t *
key_json(const char *kind, const uint8_t seed[32], const uint8_t pk[32])
{
	char s[65], p[65];
	json_t *k;

	canon_hex(seed, 32, s);
	canon_hex(pk, 32, p);
	k = json_pack("{s:s, s:s, s:s, s:s}", "format", "tongban.key/1", "name",
	              kind, "public", p, "seed", s);
	sodium_memzero(s, sizeof(s));
	return k;
}

/* make_root writes a 1-of-1 root for a province: a new officer key signs
 * it, and the node's own signing key is its release key. */
static int
make_root(const char *dir, const char *region, const uint8_t node_pk[32],
          char *errmsg, size_t errlen)
{
	uint8_t seed[32], pk[32], sk[64];
	char keydir[PATH_MAX + 8], opk[65], npk[65], expires[40];
	json_t *officer, *root;
	time_t t = time(NULL) + 5 * 365 * 86400;
	struct tm tm;
	int rv;

	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	canon_hex(pk, 32, opk);
	canon_hex(node_pk, 32, npk);
	gmtime_r(&t, &tm);
	strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
	root = json_pack("{s:s, s:s, s:i, s:s, s:i, s:[{s:s, s:s}], "
	                 "s:[{s:s, s:s}]}",
	                 "format", "tongban.root/1", "region", region,
	                 "version", 1, "expires", expires, "threshold", 1,
	                 "officers", "name", "officer (1-of-1, made by init)",
	                 "key", opk, "release_keys", "name",
	                 "standard layer (this node)", "key", npk);
	officer = key_json("officer", seed, pk);
	rv = TB_ENOMEM;
	if (root != NULL && officer != NULL &&
	    (rv = trust_sign(root, sk, errmsg, errlen)) == 0) {
		snprintf(keydir, sizeof(keydir), "%s/keys", dir);
		rv = write_json(keydir, "officer.json", officer, 0600, errmsg,
		                errlen);
		if (rv == 0) {
			rv = write_json(dir, "root.json", root, 0644, errmsg,
			                errlen);
		}
	}
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	json_decref(officer);
	json_decref(root);
	return rv;
}

int
node_config_init(const struct node_init_args *a, char *token,
                 struct node_config *out, char *errmsg, size_t errlen)
{
	uint8_t seed[32], pk[32], sk[64], kx_pk[32], kx_sk[32], idx[32];
	uint8_t tok[24], h[32];
	char sub[PATH_MAX + 16], hex[65], kxs[65], kxp[65], idxh[65];
	const struct region *r;
	json_t *cfg = NULL, *keys = NULL;
	int32_t code;
	int rv;

	if ((a->tls_cert == NULL) != (a->tls_key == NULL)) {
		snprintf(errmsg, errlen,
		         "--tls-cert and --tls-key go together");
		return TB_EINVAL;
	}
	if (region_code_parse_msg(a->region, &code, sub, sizeof(sub)) != 0) {
		/* Name the option and the value: "must be 6 digits" alone
		 * did not say which of init's codes was wrong. */
		snprintf(errmsg, errlen, "--region %s: %s", a->region, sub);
		return TB_ECODE;
	}
	if ((r = region_find(region_builtin(), code)) == NULL) {
		snprintf(errmsg, errlen,
		         "--region %s: no such region in GB/T 2260", a->region);
		return TB_ECODE;
	}
	if (sodium_init() < 0) {
		snprintf(errmsg, errlen, "libsodium failed to initialise");
		return TB_EIO;
	}
	snprintf(sub, sizeof(sub), "%s/tongban.json", a->dir);
	if (access(sub, F_OK) == 0) {
		snprintf(errmsg, errlen,
		         "%s exists: this directory already holds a node", sub);
		return TB_EDUP;
	}
	if ((rv = make_dir(a->dir, 0700, errmsg, errlen)) != 0) {
		return rv;
	}
	snprintf(sub, sizeof(sub), "%s/keys", a->dir);
	if ((rv = make_dir(sub, 0700, errmsg, errlen)) != 0) {
		return rv;
	}
	snprintf(sub, sizeof(sub), "%s/blobs", a->dir);
	if ((rv = make_dir(sub, 0700, errmsg, errlen)) != 0) {
		return rv;
	}

	if (a->sign_seed != NULL) {
		memcpy(seed, a->sign_seed, sizeof(seed));
	} else {
		randombytes_buf(seed, sizeof(seed));
	}
	crypto_sign_seed_keypair(pk, sk, seed);
	if (a->kx_secret != NULL) {
		memcpy(kx_sk, a->kx_secret, sizeof(kx_sk));
		crypto_scalarmult_base(kx_pk, kx_sk);
	} else {
		crypto_box_keypair(kx_pk, kx_sk);
	}
	if (a->index_key != NULL) {
		memcpy(idx, a->index_key, sizeof(idx));
	} else {
		randombytes_buf(idx, sizeof(idx));
	}
	randombytes_buf(tok, sizeof(tok));
	crypto_generichash(h, sizeof(h), pk, sizeof(pk), NULL, 0);
	canon_hex(h, 8, hex);
	canon_hex(kx_sk, 32, kxs);
	canon_hex(kx_pk, 32, kxp);
	canon_hex(idx, 32, idxh);

	keys = key_json("node", seed, pk);
	if (keys != NULL) {
		json_object_set_new(keys, "kx_secret", json_string(kxs));
		json_object_set_new(keys, "kx_public", json_string(kxp));
		json_object_set_new(keys, "index_key", json_string(idxh));
	}
	snprintf(sub, sizeof(sub), "%s/keys", a->dir);
	rv = keys != NULL
	         ? write_json(sub, "node.json", keys, 0600, errmsg, errlen)
	         : TB_ENOMEM;
	json_decref(keys);
	if (rv != 0) {
		goto out;
	}
	if (r->level == REGION_PROVINCE && a->root == NULL) {
		if ((rv = make_root(a->dir, a->region, pk, errmsg, errlen))) {
			goto out;
		}
	} else if (a->root != NULL) {
		json_error_t je;
		json_t *root =
		    json_load_file(a->root, JSON_REJECT_DUPLICATES, &je);
		if (root == NULL) {
			snprintf(errmsg, errlen, "%s: %s", a->root, je.text);
			rv = TB_EMALFORMED;
			goto out;
		}
		rv =
		    write_json(a->dir, "root.json", root, 0644, errmsg, errlen);
		json_decref(root);
		if (rv != 0) {
			goto out;
		}
	}

	/* The admin token: "tb_" + 48 hex digits; only its hash is kept. */
	memcpy(token, "tb_", 3);
	canon_hex(tok, sizeof(tok), token + 3);
	node_token_hash(token, kxs);
	cfg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, "
	                "s:i}",
	                "format", CONFIG_FORMAT, "region", a->region, "name",
	                a->name ? a->name : r->name, "api",
	                a->api ? a->api : "127.0.0.1:7400", "link",
	                a->link ? a->link : "127.0.0.1:7401", "node_id", hex,
	                "bootstrap_token_hash", kxs, "state_map_size",
	                (json_int_t)(4ll << 30), "raft_map_size",
	                (json_int_t)(1ll << 30), "blob_max",
	                (json_int_t)(32ll << 20), "snapshot_threshold", 16384);
	if (cfg != NULL && (a->parent != NULL || a->npeers > 0)) {
		/* CODE@tcp://HOST:PORT, checked by the CLI. */
		json_t *ops = json_array();
		int i;
		for (i = -1; ops != NULL && i < a->npeers; i++) {
			const char *spec = i < 0 ? a->parent : a->peers[i];
			const char *at =
			    spec != NULL ? strchr(spec, '@') : NULL;
			if (at == NULL || at - spec != 6) {
				continue;
			}
			json_array_append_new(
			    ops,
			    json_pack("{s:s, s:s%, s:s}", "op",
			              i < 0 ? "set-parent" : "add-peer", "code",
			              spec, (size_t)6, "url", at + 1));
		}
		json_object_set_new(cfg, "init_topology", ops);
	}
	if (cfg != NULL && a->join != NULL) {
		/* A joining node bootstraps nothing: the group's tokens are
		 * the ones its leader replicates to it. */
		json_object_set_new(cfg, "join", json_string(a->join));
		json_object_del(cfg, "bootstrap_token_hash");
		token[0] = '\0';
	}
	if (cfg != NULL && a->tls_cert != NULL) {
		char cert[PATH_MAX], key[PATH_MAX];
		if (realpath(a->tls_cert, cert) == NULL ||
		    realpath(a->tls_key, key) == NULL) {
			snprintf(errmsg, errlen, "TLS files: %s",
			         strerror(errno));
			json_decref(cfg);
			rv = TB_EIO;
			goto out;
		}
		json_object_set_new(cfg, "tls_cert", json_string(cert));
		json_object_set_new(cfg, "tls_key", json_string(key));
	}
	rv = cfg != NULL
	         ? write_json(a->dir, "tongban.json", cfg, 0600, errmsg, errlen)
	         : TB_ENOMEM;
	json_decref(cfg);
	if (rv == 0) {
		/* The node directory's own name must survive a power cut. */
		fsync_parent(a->dir);
		rv = node_config_load(a->dir, out, errmsg, errlen);
	}
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(kx_sk, sizeof(kx_sk));
	sodium_memzero(kxs, sizeof(kxs));
	sodium_memzero(idx, sizeof(idx));
	sodium_memzero(idxh, sizeof(idxh));
	sodium_memzero(tok, sizeof(tok));
	return rv;
}

static int
load_json(const char *path, json_t **out, char *errmsg, size_t errlen)
{
	json_error_t je;

	*out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (*out == NULL) {
		snprintf(errmsg, errlen, "%s: %s", path, je.text);
		return TB_EIO;
	}
	return TB_OK;
}

static void
copy_str(char *dst, size_t n, const json_t *o, const char *key)
{
	const char *s = spec_str(o, key);

	snprintf(dst, n, "%s", s != NULL ? s : "");
}

/* ms_opt reads cfg[key] (default dflt) into *out if it is lo..hi ms, else
 * says so in errmsg and returns TB_ERANGE. */
static int
ms_opt(const json_t *cfg, const char *key, long long dflt, long long lo,
       long long hi, unsigned *out, const char *path, char *errmsg,
       size_t errlen)
{
	long long v = spec_int(cfg, key, dflt);

	if (v < lo || v > hi) {
		snprintf(errmsg, errlen, "%s: %s %lld: it is %lld..%lld ms",
		         path, key, v, lo, hi);
		return TB_ERANGE;
	}
	*out = (unsigned)v;
	return TB_OK;
}

int
node_config_load(const char *dir, struct node_config *c, char *errmsg,
                 size_t errlen)
{
	char path[PATH_MAX + 32];
	uint8_t seed[32], pk[32];
	json_t *cfg, *keys;
	int rv;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/tongban.json", dir);
	if ((rv = load_json(path, &cfg, errmsg, errlen)) != 0) {
		return rv;
	}
	if (spec_str(cfg, "format") == NULL ||
	    strcmp(spec_str(cfg, "format"), CONFIG_FORMAT) != 0) {
		snprintf(errmsg, errlen, "%s: not a %s file", path,
		         CONFIG_FORMAT);
		json_decref(cfg);
		return TB_EMALFORMED;
	}
	copy_str(c->region, sizeof(c->region), cfg, "region");
	copy_str(c->name, sizeof(c->name), cfg, "name");
	copy_str(c->api, sizeof(c->api), cfg, "api");
	copy_str(c->link, sizeof(c->link), cfg, "link");
	copy_str(c->node_id, sizeof(c->node_id), cfg, "node_id");
	copy_str(c->tls_cert, sizeof(c->tls_cert), cfg, "tls_cert");
	copy_str(c->tls_key, sizeof(c->tls_key), cfg, "tls_key");
	copy_str(c->bootstrap_hash, sizeof(c->bootstrap_hash), cfg,
	         "bootstrap_token_hash");
	c->state_map_size = (size_t)spec_int(cfg, "state_map_size", 4ll << 30);
	c->raft_map_size = (size_t)spec_int(cfg, "raft_map_size", 1ll << 30);
	c->blob_max = (size_t)spec_int(cfg, "blob_max", 32ll << 20);
	c->snapshot_threshold =
	    (unsigned)spec_int(cfg, "snapshot_threshold", 16384);
	copy_str(c->join, sizeof(c->join), cfg, "join");
	if (json_is_array(json_object_get(cfg, "init_topology"))) {
		char *t = json_dumps(json_object_get(cfg, "init_topology"),
		                     JSON_COMPACT);
		if (t != NULL && strlen(t) < sizeof(c->init_topology)) {
			memcpy(c->init_topology, t, strlen(t) + 1);
		}
		free(t);
	}
	c->heartbeat_ms = (unsigned)spec_int(cfg, "heartbeat_ms", 50);
	c->election_ms = (unsigned)spec_int(cfg, "election_ms", 1000);
	c->snapshot_chunk = (size_t)spec_int(cfg, "snapshot_chunk", 1ll << 20);
	if (c->snapshot_chunk < 4096 || c->snapshot_chunk > (64u << 20)) {
		snprintf(errmsg, errlen,
		         "%s: snapshot_chunk %zu: it is 4096..67108864 bytes",
		         path, c->snapshot_chunk);
		json_decref(cfg);
		return TB_ERANGE;
	}
	c->handoff_abort_after_ms =
	    spec_int(cfg, "handoff_abort_after_ms", 60000);
	if (c->handoff_abort_after_ms < 0 ||
	    c->handoff_abort_after_ms > 30ll * 86400000) {
		snprintf(errmsg, errlen,
		         "%s: handoff_abort_after_ms %lld: it is 0..30 days",
		         path, c->handoff_abort_after_ms);
		json_decref(cfg);
		return TB_ERANGE;
	}
	c->blob_timeout_ms = (unsigned)spec_int(cfg, "blob_timeout_ms", 10000);
	if (c->blob_timeout_ms < 100 || c->blob_timeout_ms > 600000) {
		snprintf(errmsg, errlen,
		         "%s: blob_timeout_ms %u: it is 100..600000 ms", path,
		         c->blob_timeout_ms);
		json_decref(cfg);
		return TB_ERANGE;
	}
	/* The province's latest-version statements (node/region_latest.c):
	 * signed every interval, valid for ttl; a county alerts after
	 * withheld_after. */
	if ((rv = ms_opt(cfg, "latest_interval_ms", 2000, 50, 600000,
	                 &c->latest_interval_ms, path, errmsg, errlen)) != 0 ||
	    (rv = ms_opt(cfg, "latest_ttl_ms", 10000, 1000, 3600000,
	                 &c->latest_ttl_ms, path, errmsg, errlen)) != 0 ||
	    (rv = ms_opt(cfg, "withheld_after_ms", 10000, 0, 86400000,
	                 &c->withheld_after_ms, path, errmsg, errlen)) != 0) {
		json_decref(cfg);
		return rv;
	}
	c->stop_timeout_ms = (unsigned)spec_int(cfg, "stop_timeout_ms", 15000);
	if (c->stop_timeout_ms < 100 || c->stop_timeout_ms > 3600000) {
		snprintf(errmsg, errlen,
		         "%s: stop_timeout_ms %u: it is 100..3600000 ms", path,
		         c->stop_timeout_ms);
		json_decref(cfg);
		return TB_ERANGE;
	}
	c->link_rekey_frames =
	    (uint64_t)spec_int(cfg, "link_rekey_frames", 1ll << 20);
	c->link_rekey_seconds =
	    (unsigned)spec_int(cfg, "link_rekey_seconds", 3600);
	if (c->link_rekey_frames < 2 || c->link_rekey_frames > (1ull << 40) ||
	    c->link_rekey_seconds < 1 || c->link_rekey_seconds > 86400) {
		snprintf(errmsg, errlen,
		         "%s: link_rekey_frames %llu and link_rekey_seconds "
		         "%u: frames are 2..2^40 and seconds 1..86400",
		         path, (unsigned long long)c->link_rekey_frames,
		         c->link_rekey_seconds);
		json_decref(cfg);
		return TB_ERANGE;
	}
	c->link_rehandshake_seconds =
	    (unsigned)spec_int(cfg, "link_rehandshake_seconds", 86400);
	if (spec_int(cfg, "link_rehandshake_seconds", 86400) < 0 ||
	    c->link_rehandshake_seconds == 1 ||
	    c->link_rehandshake_seconds > 2592000) {
		snprintf(errmsg, errlen,
		         "%s: link_rehandshake_seconds %lld: it is 0 (never) "
		         "or 2..2592000 (30 days)",
		         path,
		         spec_int(cfg, "link_rehandshake_seconds", 86400));
		json_decref(cfg);
		return TB_ERANGE;
	}
	if (c->heartbeat_ms < 10 || c->heartbeat_ms > 60000 ||
	    c->election_ms < 2 * c->heartbeat_ms || c->election_ms > 600000) {
		snprintf(errmsg, errlen,
		         "%s: heartbeat_ms %u and election_ms %u: heartbeat "
		         "is 10..60000 ms and election at least twice it "
		         "(at most 600000)",
		         path, c->heartbeat_ms, c->election_ms);
		json_decref(cfg);
		return TB_ERANGE;
	}
	json_decref(cfg);
	c->raft_id = strtoull(c->node_id, NULL, 16);
	if (c->raft_id == 0) {
		c->raft_id = 1;
	}

	snprintf(path, sizeof(path), "%s/keys/node.json", dir);
	if ((rv = load_json(path, &keys, errmsg, errlen)) != 0) {
		return rv;
	}
	if (canon_unhex(spec_str(keys, "seed"), seed, 32) != 0 ||
	    canon_unhex(spec_str(keys, "index_key"), c->index_key, 32) != 0) {
		snprintf(errmsg, errlen, "%s: damaged key file", path);
		json_decref(keys);
		return TB_ECORRUPT;
	}
	/* The X25519 key of the link handshakes (older directories may lack
	 * it: links then stay off). */
	if (spec_str(keys, "kx_secret") != NULL) {
		if (canon_unhex(spec_str(keys, "kx_secret"), c->kx_sk, 32) !=
		    0) {
			snprintf(errmsg, errlen, "%s: damaged kx_secret", path);
			json_decref(keys);
			sodium_memzero(seed, sizeof(seed));
			return TB_ECORRUPT;
		}
		crypto_scalarmult_base(c->kx_pk, c->kx_sk);
		c->has_kx = true;
	}
	json_decref(keys);
	crypto_sign_seed_keypair(pk, c->sign_sk, seed);
	sodium_memzero(seed, sizeof(seed));
	/* A province node made its own root: its signing key signs the
	 * releases it publishes. */
	snprintf(path, sizeof(path), "%s/root.json", dir);
	if (access(path, F_OK) == 0) {
		json_t *root;
		char pkh[65];
		size_t i;
		json_t *k;
		canon_hex(pk, 32, pkh);
		if (load_json(path, &root, errmsg, errlen) == 0) {
			json_array_foreach(
			    json_object_get(root, "release_keys"), i, k)
			{
				const char *s = spec_str(k, "key");
				if (s != NULL && !strcmp(s, pkh)) {
					c->has_release_key = true;
					memcpy(c->release_sk, c->sign_sk, 64);
				}
			}
			json_decref(root);
		}
	}
	return TB_OK;
}
