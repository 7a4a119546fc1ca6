/* Materials on disk, and the HTTP API over them (PUT /v1/blobs, GET
 * /v1/blobs/HASH). In a group of several members a PUT is answered once a
 * majority of the voters hold the material, and a GET that misses asks the
 * other members (group_blob.c). */
#include "node/blob.h"

#include "consensus/fsync.h"
#include "node/api.h"
#include "node/group.h"
#include "node/http.h"
#include "node/node.h"
#include "schema/canon.h"
#include "schema/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
blob_hash_ok(const char *h)
{
	uint8_t tmp[32];

	return spec_hex(h, 64) && canon_unhex(h, tmp, sizeof(tmp)) == 0;
}

/* blob_path writes DIR/blobs/HA/HASH into out, or "" (a path nothing
 * opens) if it does not fit: with out of PATH_MAX + 160 and a 64-digit hash
 * it always fits. (snprintf was a tenth of a case submission's check of its
 * materials.) */
static void
blob_path(const struct node *n, const char *hash, char *out, size_t len)
{
	size_t dl = strlen(n->cfg.dir), hl = strlen(hash);

	if (hl < 2 || dl + 10 + hl + 1 > len) {
		out[0] = '\0';
		return;
	}
	memcpy(out, n->cfg.dir, dl);
	memcpy(out + dl, "/blobs/", 7);
	memcpy(out + dl + 7, hash, 2);
	out[dl + 9] = '/';
	memcpy(out + dl + 10, hash, hl + 1);
}

/* on_disk says whether material hash is on disk now (access(2)). */
static bool
on_disk(const struct node *n, const char *hash)
{
	char path[PATH_MAX + 160];

	blob_path(n, hash, path, sizeof(path));
	return access(path, R_OK) == 0;
}

/* Materials seen on disk. A material is named by its hash and nothing in
 * the node removes one (no API, command or task deletes a blob), so once
 * its file was seen it stays: the table answers a case submission's check
 * of its materials without an access(2) per material (about 3 us each, a
 * few percent of a write's CPU). Only presence is kept; a material not in
 * the table is looked for on disk, and found ones displace older ones. */
static bool
seen(struct node *n, const uint8_t h[32])
{
	struct node_blobs_seen *t = &n->blobs_seen;
	unsigned i = (h[0] | (unsigned)h[1] << 8) % NODE_BLOBS_SEEN;
	bool hit;

	pthread_mutex_lock(&t->mu);
	hit = t->e[i].used && memcmp(t->e[i].h, h, 32) == 0;
	pthread_mutex_unlock(&t->mu);
	return hit;
}

static void
see(struct node *n, const uint8_t h[32])
{
	struct node_blobs_seen *t = &n->blobs_seen;
	unsigned i = (h[0] | (unsigned)h[1] << 8) % NODE_BLOBS_SEEN;

	pthread_mutex_lock(&t->mu);
	memcpy(t->e[i].h, h, 32);
	t->e[i].used = true;
	pthread_mutex_unlock(&t->mu);
}

/* unhex_lower reads 64 lowercase hex digits (and nothing more) into h:
 * spec_hex(hash, 64) and canon_unhex in one pass. */
static bool
unhex_lower(const char *hash, uint8_t h[32])
{
	size_t i;

	for (i = 0; i < 64; i++) {
		char c = hash[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		                               : -1;
		if (d < 0) {
			return false; /* NUL included: too short */
		}
		h[i / 2] = (uint8_t)(i % 2 == 0 ? d << 4 : h[i / 2] | d);
	}
	return hash[64] == '\0';
}

bool
blob_exists(struct node *n, const char *hash)
{
	uint8_t h[32];

	if (hash == NULL || !unhex_lower(hash, h)) {
		return false;
	}
	if (seen(n, h)) {
		return true;
	}
	if (!on_disk(n, hash)) {
		return false;
	}
	see(n, h);
	return true;
}

bool
blob_check(const char *h, const void *data, size_t len)
{
	uint8_t d[32];
	char hex[65];

	crypto_generichash(d, sizeof(d), data, len, NULL, 0);
	canon_hex(d, sizeof(d), hex);
	return strcmp(hex, h) == 0;
}

int
blob_write(const struct node *n, const char *hex, const void *data, size_t len,
           char *errmsg, size_t errlen)
{
	char dir[PATH_MAX + 64], path[PATH_MAX + 160], tmp[PATH_MAX + 200];
	ssize_t w;
	int fd, rc;

	blob_path(n, hex, path, sizeof(path));
	if (access(path, R_OK) == 0) {
		return TB_OK;
	}
	snprintf(dir, sizeof(dir), "%s/blobs/%.2s", n->cfg.dir, hex);
	if (mkdir(dir, 0700) == 0) {
		/* A new prefix directory is durable only once blobs/ is. */
		char parent[PATH_MAX + 16];
		snprintf(parent, sizeof(parent), "%s/blobs", n->cfg.dir);
		if ((rc = fs_fsync_path(parent)) != 0) {
			snprintf(errmsg, errlen, "%s: %s", parent,
			         strerror(rc));
			return TB_EIO;
		}
	} else if (errno != EEXIST) {
		snprintf(errmsg, errlen, "%s: %s", dir, strerror(errno));
		return TB_EIO;
	}
	/* Write, fsync, rename, fsync the directory. The temporary name is
	 * the thread's, so two writers of the same blob do not collide. */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%lx", path,
	         (unsigned long)pthread_self());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		snprintf(errmsg, errlen, "%s", strerror(errno));
		return TB_EIO;
	}
	w = write(fd, data, len);
	if (w != (ssize_t)len || fsync(fd) != 0) {
		int e = w >= 0 && w != (ssize_t)len ? ENOSPC : errno;
		close(fd);
		unlink(tmp);
		snprintf(errmsg, errlen, "writing the material: %s",
		         strerror(e));
		return e == ENOSPC ? TB_EFULL : TB_EIO;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		snprintf(errmsg, errlen, "%s", strerror(errno));
		unlink(tmp);
		return TB_EIO;
	}
	if ((rc = fs_fsync_path(dir)) != 0) {
		/* The bytes are on disk but their name may not be: the
		 * client retries, and the same upload is then a no-op. */
		snprintf(errmsg, errlen, "making the material durable: %s",
		         strerror(rc));
		return TB_EIO;
	}
	return TB_OK;
}

int
blob_read(const struct node *n, const char *hash, char **data, size_t *len)
{
	char path[PATH_MAX + 160];
	struct stat st;
	FILE *f;

	*data = NULL;
	*len = 0;
	blob_path(n, hash, path, sizeof(path));
	if ((f = fopen(path, "rb")) == NULL) {
		return errno == ENOENT ? TB_ENOTFOUND : TB_EIO;
	}
	if (fstat(fileno(f), &st) != 0 ||
	    (*data = malloc((size_t)st.st_size + 1)) == NULL ||
	    fread(*data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(*data);
		*data = NULL;
		fclose(f);
		return TB_EIO;
	}
	fclose(f);
	*len = (size_t)st.st_size;
	return TB_OK;
}

int
blob_read_range(const struct node *n, const char *hash, uint64_t off,
                size_t max, char *buf, size_t *got, uint64_t *total)
{
	char path[PATH_MAX + 160];
	struct stat st;
	ssize_t r;
	int fd;

	*got = 0;
	*total = 0;
	blob_path(n, hash, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return errno == ENOENT ? TB_ENOTFOUND : TB_EIO;
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return TB_EIO;
	}
	*total = (uint64_t)st.st_size;
	if (off > *total) {
		close(fd);
		return TB_ERANGE;
	}
	if (max > *total - off) {
		max = (size_t)(*total - off);
	}
	while (*got < max) {
		r = pread(fd, buf + *got, max - *got, (off_t)(off + *got));
		if (r <= 0) {
			close(fd);
			return TB_EIO;
		}
		*got += (size_t)r;
	}
	close(fd);
	return TB_OK;
}

/* ---- the API ---------------------------------------------------------- */

void
api_blob_put(struct http_call *c)
{
	struct node *n = c->node;
	char hex[65], err[256];
	uint8_t h[32];
	json_t *req;
	bool existed;
	int rv;

	if (c->body_len == 0) {
		http_reply_error(c, 400, "malformed", NULL,
		                 "an empty material is not a material");
		return;
	}
	if (c->body_len > n->cfg.blob_max) {
		http_reply_error(c, 413, "too_big", NULL,
		                 "material of %zu bytes exceeds the limit of "
		                 "%zu",
		                 c->body_len, n->cfg.blob_max);
		return;
	}
	crypto_generichash(h, sizeof(h), (const uint8_t *)c->body, c->body_len,
	                   NULL, 0);
	canon_hex(h, sizeof(h), hex);
	/* On disk, not from the table: an upload always restores a
	 * material's file. */
	existed = on_disk(n, hex);
	if (!existed && (rv = blob_write(n, hex, c->body, c->body_len, err,
	                                 sizeof(err))) != TB_OK) {
		http_reply_error(c, rv == TB_EFULL ? 507 : 500,
		                 rv == TB_EFULL ? "store_full" : "io", NULL,
		                 "%s", err);
		return;
	}
	if (!existed) {
		node_audit(n, c, "blob.put", hex);
	}
	/* The other members get a copy; the answer waits for a majority of
	 * the voters (at once in a one-member group). */
	req = json_pack("{s:s, s:I, s:b}", "hash", hex, "size",
	                (json_int_t)c->body_len, "existed", existed);
	node_on_loop(n, c, group_blob_replicate, req);
	json_decref(req);
}

void
api_blob_get(struct http_call *c, const char *hash)
{
	char *data;
	size_t len;
	int rv;

	if (!blob_hash_ok(hash)) {
		http_reply_error(c, 400, "bad_code", "hash",
		                 "a material is named by its BLAKE2b-256 hash "
		                 "(64 lowercase hex digits)");
		return;
	}
	rv = blob_read(c->node, hash, &data, &len);
	if (rv == TB_ENOTFOUND) {
		/* Another member may hold it (uploaded there, or this member
		 * was away): ask them. */
		json_t *req = json_pack("{s:s}", "hash", hash);

		node_on_loop(c->node, c, group_blob_fetch, req);
		json_decref(req);
		return;
	}
	if (rv != TB_OK) {
		http_reply_error(c, 500, "io", NULL, "reading %s", hash);
		return;
	}
	node_audit(c->node, c, "blob.read", hash);
	http_reply_raw(c, 200, "application/octet-stream", data, len, NULL);
	free(data);
}
