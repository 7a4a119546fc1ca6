/* The swap of a published stage for the live store by renames, and the
 * recovery rule store_open applies after a crash at any step. */
#include "node/store_snap_impl.h"

#include "consensus/fsync.h"
#include "node/fsm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files ------------------------------------------------------------- */

void
snap_sibling(char *out, const char *dir, const char *suffix)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/') {
		n--;
	}
	snprintf(out, PATH_MAX, "%.*s%s", (int)n, dir, suffix);
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* sync_parent makes renames and deletions in dir's parent durable. */
static int
sync_parent(const char *dir, char *errmsg, size_t errlen)
{
	char parent[PATH_MAX];
	int rc;

	fs_parent(parent, dir);
	if ((rc = fs_fsync_path(parent)) != 0) {
		snprintf(errmsg, errlen, "fsync %s: %s", parent, strerror(rc));
		return TB_EIO;
	}
	return TB_OK;
}

/* rm_dir deletes a store directory: its files, then itself (the store and
 * its stages hold no subdirectories). Absent is fine. */
int
snap_rm_dir(const char *path, char *errmsg, size_t errlen)
{
	char file[PATH_MAX + 256];
	struct dirent *e;
	DIR *d = opendir(path);

	if (d == NULL) {
		if (errno == ENOENT) {
			return TB_OK;
		}
		snprintf(errmsg, errlen, "%s: %s", path, strerror(errno));
		return TB_EIO;
	}
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
			continue;
		}
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (unlink(file) != 0) {
			snprintf(errmsg, errlen, "delete %s: %s", file,
			         strerror(errno));
			closedir(d);
			return TB_EIO;
		}
	}
	closedir(d);
	if (rmdir(path) != 0) {
		snprintf(errmsg, errlen, "delete %s: %s", path,
		         strerror(errno));
		return TB_EIO;
	}
	return TB_OK;
}

int
snap_rename_dir(const char *from, const char *to, char *errmsg, size_t errlen)
{
	if (rename(from, to) != 0) {
		snprintf(errmsg, errlen, "rename %s to %s: %s", from, to,
		         strerror(errno));
		return TB_EIO;
	}
	return sync_parent(to, errmsg, errlen);
}

/* ---- recovery and swap ------------------------------------------------- */

int
store_snapshot_recover(const char *dir, char *errmsg, size_t errlen)
{
	char stage[PATH_MAX], nw[PATH_MAX], old[PATH_MAX];
	bool d, n, o;
	int rv = TB_OK;

	snap_sibling(stage, dir, ".stage");
	snap_sibling(nw, dir, ".new");
	snap_sibling(old, dir, ".old");
	/* An unpublished stage is never complete. */
	if (exists(stage) && ((rv = snap_rm_dir(stage, errmsg, errlen)) != 0 ||
	                      (rv = sync_parent(dir, errmsg, errlen)) != 0)) {
		return rv;
	}
	d = exists(dir);
	n = exists(nw);
	o = exists(old);
	if (d && o) {
		/* Step 2 (DIR.new -> DIR) happened: the new store is in. */
		rv = snap_rm_dir(old, errmsg, errlen);
	} else if (!d && o) {
		/* Step 1 happened, step 2 not: roll back. */
		if ((rv = snap_rename_dir(old, dir, errmsg, errlen)) == 0 &&
		    n) {
			rv = snap_rm_dir(nw, errmsg, errlen);
		}
	} else if (d && n) {
		/* The swap never started: keep the old store. */
		rv = snap_rm_dir(nw, errmsg, errlen);
	} else if (!d && n) {
		/* No store at all before the swap: the new one is all
		 * there is, complete and verified. */
		rv = snap_rename_dir(nw, dir, errmsg, errlen);
	} else {
		return TB_OK;
	}
	return rv != 0 ? rv : sync_parent(dir, errmsg, errlen);
}

int
store_snapshot_swap_steps(const char *dir, int steps, char *errmsg,
                          size_t errlen)
{
	char nw[PATH_MAX], old[PATH_MAX];
	int rv;

	snap_sibling(nw, dir, ".new");
	snap_sibling(old, dir, ".old");
	if (!exists(nw)) {
		snprintf(errmsg, errlen, "no finished stage at %s", nw);
		return TB_ENOTFOUND;
	}
	if (exists(old) && (rv = snap_rm_dir(old, errmsg, errlen)) != 0) {
		return rv;
	}
	if (steps >= 1 && exists(dir) &&
	    (rv = snap_rename_dir(dir, old, errmsg, errlen)) != 0) {
		return rv;
	}
	if (steps >= 2 &&
	    (rv = snap_rename_dir(nw, dir, errmsg, errlen)) != 0) {
		return rv;
	}
	if (steps >= 3 && ((rv = snap_rm_dir(old, errmsg, errlen)) != 0 ||
	                   (rv = sync_parent(dir, errmsg, errlen)) != 0)) {
		return rv;
	}
	return TB_OK;
}

/* published says whether a finished stage waits beside dir (errmsg says
 * where it looked if not). */
static bool
published(const char *dir, char *errmsg, size_t errlen)
{
	char nw[PATH_MAX];

	snap_sibling(nw, dir, ".new");
	if (!exists(nw)) {
		snprintf(errmsg, errlen, "no finished stage at %s", nw);
		return false;
	}
	return true;
}

int
store_snapshot_swap(struct store **s, const char *dir,
                    const struct store_options *opt, char *errmsg,
                    size_t errlen)
{
	int rv;

	if (!published(dir, errmsg, errlen)) {
		return TB_ENOTFOUND; /* the live store stays open */
	}
	store_close(*s);
	*s = NULL;
	if ((rv = store_snapshot_swap_steps(dir, 3, errmsg, errlen)) != 0) {
		return rv;
	}
	return store_open(dir, opt, s, errmsg, errlen);
}

/* adopt moves what fresh points at into s, which stays (the writer, the
 * FSM and readers hold its address), and frees fresh. Under the gate. */
static void
adopt(struct store *s, struct store *fresh)
{
	s->env = fresh->env;
	memcpy(s->dbi, fresh->dbi, sizeof(s->dbi));
	memcpy(s->region, fresh->region, sizeof(s->region));
	memcpy(s->province, fresh->province, sizeof(s->province));
	s->nchain = fresh->nchain;
	memcpy(s->chain, fresh->chain, sizeof(s->chain));
	memcpy(s->index_key, fresh->index_key, sizeof(s->index_key));
	s->map_size = fresh->map_size;
	s->cat = fresh->cat;
	s->batch = NULL;
	store_rd_drain(fresh);
	pthread_mutex_destroy(&fresh->rd_mu);
	pthread_rwlock_destroy(&fresh->gate);
	free(fresh);
}

int
store_snapshot_swap_live(struct store *s, const char *dir,
                         const struct store_options *opt, char *errmsg,
                         size_t errlen)
{
	struct store *fresh = NULL;
	char again[256];
	int rv;

	if (!published(dir, errmsg, errlen)) {
		return TB_ENOTFOUND; /* the live store stays open */
	}
	if (s->batch != NULL) {
		snprintf(errmsg, errlen, "the writer's batch is still open");
		return TB_ECONFLICT; /* the live store stays open */
	}
	/* Every reader and the writer's batches hold the gate shared: once
	 * it is ours, nobody is inside the environment. */
	pthread_rwlock_wrlock(&s->gate);
	store_rd_drain(s);
	mdb_env_sync(s->env, 1);
	mdb_env_close(s->env);
	s->env = NULL;
	fsm_catalog_fini(&s->cat);
	memset(&s->cat, 0, sizeof(s->cat));
	rv = store_snapshot_swap_steps(dir, 3, errmsg, errlen);
	if (rv == TB_OK) {
		rv = store_open(dir, opt, &fresh, errmsg, errlen);
	}
	if (rv == TB_OK) {
		adopt(s, fresh);
	} else if (store_open(dir, opt, &fresh, again, sizeof(again)) ==
	           TB_OK) {
		/* store_open's recovery left the old store or the new one in
		 * dir: the node goes on with it, and the swap reports its
		 * failure. */
		adopt(s, fresh);
	}
	/* else s->env stays NULL: every later use answers TB_ECLOSED. */
	pthread_rwlock_unlock(&s->gate);
	return rv;
}

bool
store_is_open(struct store *s)
{
	bool open;

	pthread_rwlock_rdlock(&s->gate);
	open = s->env != NULL;
	pthread_rwlock_unlock(&s->gate);
	return open;
}
