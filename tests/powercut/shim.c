/* powercut: an LD_PRELOAD shim that records, before every change a process
 * makes under one directory, how to undo it, and records every fsync. After
 * kill -9, tests/powercut/replay.py undoes in reverse what was never made
 * durable: the disk then looks as it would after a power cut in which the
 * page cache was lost whole (the pessimistic and most common outcome; a
 * real disk may also keep some unsynced writes: see README.md).
 *
 * Environment:
 *   POWERCUT_ROOT     the directory to watch (its files and subdirectories)
 *   POWERCUT_JOURNAL  the undo journal, appended to (outside the root)
 *   POWERCUT_STASH    a directory on the root's filesystem where unlinked
 *                     or replaced files are kept (hard links) for undo
 *
 * Modelled (strict POSIX durability):
 *   data   write, pwrite(64), writev, pwritev(64), ftruncate(64), truncate
 *          and O_TRUNC: undone unless the file is fsynced/fdatasynced
 *          afterwards; a write through an O_SYNC/O_DSYNC descriptor is
 *          durable at once (that write only, as Linux does).
 *   names  creating a file, mkdir, rename, unlink: undone unless the
 *          directory holding the name is fsynced afterwards (for a rename,
 *          both directories).
 * Not modelled (aborts loudly if a watched file meets it): writable shared
 * mappings (MDB_WRITEMAP), fallocate, rmdir, link/symlink. Not seen: stdio's
 * internal writes (glibc calls its own __write: audit.log), files named
 * lock.mdb (LMDB's shared-memory lock file, rebuilt on open), and anything
 * before the shim loads (tongban init). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PC_MAGIC 0x50435554u /* "PCUT" */

enum pc_type {
	PC_WRITE = 1,    /* data write: old bytes of [off, off+len) */
	PC_TRUNCATE = 2, /* size change: old bytes of [new, old size) */
	PC_SYNC = 3,     /* fsync/fdatasync of (dev, ino) succeeded */
	PC_CREATE = 4,   /* a new file at path, in directory (pdev, pino) */
	PC_MKDIR = 5,    /* a new directory at path */
	PC_RENAME = 6,   /* path -> path2; stash holds what path2 was */
	PC_UNLINK = 7,   /* path removed; stash holds it */
};

/* One record: this header, then path, path2, stash and data bytes. Every
 * record is written with one write() before the change it describes (a
 * sync after it), so a torn last record describes nothing that happened. */
struct pc_rec {
	uint32_t magic, type;
	uint64_t dev, ino;     /* the file (WRITE, TRUNCATE, SYNC) */
	uint64_t pdev, pino;   /* the directory of path */
	uint64_t p2dev, p2ino; /* the directory of path2 (RENAME) */
	uint64_t off;          /* WRITE: offset; TRUNCATE: new size */
	uint64_t len;          /* WRITE: bytes written */
	uint64_t old_size;     /* WRITE, TRUNCATE: size before */
	uint64_t data_len;     /* old bytes that follow */
	uint32_t flags;        /* 1: durable at once (O_DSYNC) */
	uint32_t path_len, path2_len, stash_len;
};
_Static_assert(sizeof(struct pc_rec) == 104, "replay.py reads 104 bytes");

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static __thread int inside;
static char root[PATH_MAX];
static size_t root_len;
static char stash_dir[PATH_MAX];
static int jfd = -1;
static unsigned long long stash_seq;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_truncate)(const char *, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_mkdirat)(int, const char *, mode_t);
static int (*real_rmdir)(const char *);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_posix_fallocate)(int, off_t, off_t);

static void
die(const char *what, const char *path)
{
	char msg[PATH_MAX + 256];
	int n = snprintf(msg, sizeof(msg), "powercut shim: %s: %s\n", what,
	                 path ? path : "");

	if (real_write != NULL && n > 0) {
		real_write(2, msg, (size_t)n);
	}
	abort();
}

static void *
sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL) {
		die("no symbol", name);
	}
	return p;
}

static void
init(void)
{
	const char *r = getenv("POWERCUT_ROOT");
	const char *j = getenv("POWERCUT_JOURNAL");
	const char *s = getenv("POWERCUT_STASH");

	real_open = sym("open");
	real_openat = sym("openat");
	real_write = sym("write");
	real_pwrite = sym("pwrite");
	real_writev = sym("writev");
	real_pwritev = sym("pwritev");
	real_ftruncate = sym("ftruncate");
	real_truncate = sym("truncate");
	real_fsync = sym("fsync");
	real_fdatasync = sym("fdatasync");
	real_rename = sym("rename");
	real_renameat = sym("renameat");
	real_unlink = sym("unlink");
	real_unlinkat = sym("unlinkat");
	real_mkdir = sym("mkdir");
	real_mkdirat = sym("mkdirat");
	real_rmdir = sym("rmdir");
	real_mmap = sym("mmap");
	real_fallocate = sym("fallocate");
	real_posix_fallocate = sym("posix_fallocate");
	if (r == NULL || j == NULL || s == NULL) {
		return; /* not configured: a transparent shim */
	}
	if (realpath(r, root) == NULL || realpath(s, stash_dir) == NULL) {
		die("POWERCUT_ROOT or POWERCUT_STASH does not exist", r);
	}
	root_len = strlen(root);
	jfd = real_open(j, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (jfd < 0) {
		die("cannot open the journal", j);
	}
}

static void
setup(void)
{
	pthread_once(&once, init);
}

/* under reports whether the canonical path p is the root or inside it,
 * and not a file that is never tracked. */
static int
under(const char *p)
{
	const char *base = strrchr(p, '/');

	if (jfd < 0 || strncmp(p, root, root_len) != 0 ||
	    (p[root_len] != '\0' && p[root_len] != '/')) {
		return 0;
	}
	return base == NULL || strcmp(base + 1, "lock.mdb") != 0;
}

/* canon makes the canonical path of (dirfd, path) whose last component may
 * not exist yet; it fails if the directory does not exist. */
static int
canon(int dirfd, const char *path, char out[PATH_MAX])
{
	char full[PATH_MAX * 2], dir[PATH_MAX], real[PATH_MAX], link[64];
	const char *slash, *base;
	ssize_t n;

	if (path[0] == '/' || dirfd == AT_FDCWD) {
		if (path[0] == '/') {
			snprintf(full, sizeof(full), "%s", path);
		} else if (getcwd(dir, sizeof(dir)) != NULL) {
			snprintf(full, sizeof(full), "%s/%s", dir, path);
		} else {
			return -1;
		}
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		if ((n = readlink(link, dir, sizeof(dir) - 1)) < 0) {
			return -1;
		}
		dir[n] = '\0';
		snprintf(full, sizeof(full), "%s/%s", dir, path);
	}
	while ((n = (ssize_t)strlen(full)) > 1 && full[n - 1] == '/') {
		full[n - 1] = '\0';
	}
	slash = strrchr(full, '/');
	base = slash + 1;
	if (slash == full) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - full), full);
	}
	if (realpath(dir, real) == NULL) {
		return -1;
	}
	if (!strcmp(base, ".") || !strcmp(base, "..") || base[0] == '\0') {
		return realpath(full, out) == NULL ? -1 : 0;
	}
	n = snprintf(out, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "",
	             base);
	return n > 0 && n < PATH_MAX ? 0 : -1;
}

/* fd_path fills the canonical path of fd and its stat; 1 if tracked. */
static int
fd_tracked(int fd, char out[PATH_MAX], struct stat *st)
{
	char link[64];
	ssize_t n;

	if (jfd < 0 || fd < 0 || fstat(fd, st) != 0 ||
	    !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, out, PATH_MAX - 1)) < 0) {
		return 0;
	}
	out[n] = '\0';
	return under(out);
}

static void
parent_of(const char *p, uint64_t *dev, uint64_t *ino)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(p, '/');
	struct stat st;

	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p), p);
	if (stat(dir[0] ? dir : "/", &st) != 0) {
		die("cannot stat the directory of", p);
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
}

/* emit appends one record (header, strings, bytes) with one write. */
static void
emit(struct pc_rec *h, const char *path, const char *path2, const char *stash,
     const void *data)
{
	size_t total, at = 0;
	char *buf;
	ssize_t w;

	h->magic = PC_MAGIC;
	h->path_len = path ? (uint32_t)strlen(path) : 0;
	h->path2_len = path2 ? (uint32_t)strlen(path2) : 0;
	h->stash_len = stash ? (uint32_t)strlen(stash) : 0;
	total = sizeof(*h) + h->path_len + h->path2_len + h->stash_len +
	        h->data_len;
	if ((buf = malloc(total)) == NULL) {
		die("out of memory", NULL);
	}
	memcpy(buf, h, sizeof(*h));
	at = sizeof(*h);
	if (h->path_len > 0) {
		memcpy(buf + at, path, h->path_len);
	}
	at += h->path_len;
	if (h->path2_len > 0) {
		memcpy(buf + at, path2, h->path2_len);
	}
	at += h->path2_len;
	if (h->stash_len > 0) {
		memcpy(buf + at, stash, h->stash_len);
	}
	at += h->stash_len;
	if (h->data_len > 0) {
		memcpy(buf + at, data, h->data_len);
	}
	at = 0;
	while (at < total) {
		w = real_write(jfd, buf + at, total - at);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			die("cannot write the journal", NULL);
		}
		at += (size_t)w;
	}
	free(buf);
}

/* note_data records the old bytes of [off, off+len) of a tracked file and
 * its size, before a write or a truncation there. */
static void
note_data(int fd, const char *path, const struct stat *st, uint32_t type,
          uint64_t off, uint64_t len, uint32_t flags)
{
	struct pc_rec h = { 0 };
	uint64_t size = (uint64_t)st->st_size, end = off + len, n = 0;
	char *old = NULL;
	int rfd = fd;

	if (off < size) {
		n = (end < size ? end : size) - off;
	}
	if (n > 0) {
		if ((old = malloc(n)) == NULL) {
			die("out of memory", path);
		}
		/* The descriptor may be write-only (LMDB's meta fd). */
		if ((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY &&
		    (rfd = real_open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			die("cannot reopen to read old bytes", path);
		}
		if (pread(rfd, old, n, (off_t)off) != (ssize_t)n) {
			die("cannot read old bytes", path);
		}
		if (rfd != fd) {
			close(rfd);
		}
	}
	h.type = type;
	h.dev = st->st_dev;
	h.ino = st->st_ino;
	parent_of(path, &h.pdev, &h.pino);
	h.off = off;
	h.len = len;
	h.old_size = size;
	h.data_len = n;
	h.flags = flags;
	emit(&h, path, NULL, NULL, old);
	free(old);
}

static int
dsync(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & (O_DSYNC | O_SYNC)) != 0;
}

/* before_write records the undo of writing len bytes at off (-1: the
 * current offset, or the end for O_APPEND). Returns with mu held when the
 * file is tracked (after_write releases it). */
static int
before_write(int fd, off_t off, size_t len)
{
	char path[PATH_MAX];
	struct stat st;
	int fl;

	setup();
	/* Sockets and pipes (most writes) go by without the lock. */
	if (inside || jfd < 0 || len == 0 || fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode)) {
		return 0;
	}
	pthread_mutex_lock(&mu);
	if (!fd_tracked(fd, path, &st) || !S_ISREG(st.st_mode)) {
		pthread_mutex_unlock(&mu);
		return 0;
	}
	if (off < 0) {
		fl = fcntl(fd, F_GETFL);
		off = (fl & O_APPEND) ? st.st_size : lseek(fd, 0, SEEK_CUR);
	}
	note_data(fd, path, &st, PC_WRITE, (uint64_t)off, len,
	          dsync(fd) ? 1 : 0);
	inside = 1;
	return 1;
}

static void
after_write(int held)
{
	if (held) {
		inside = 0;
		pthread_mutex_unlock(&mu);
	}
}

static size_t
iov_len(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++) {
		t += iov[i].iov_len;
	}
	return t;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	int held = before_write(fd, -1, len);
	ssize_t r = real_write(fd, buf, len);
	int e = errno;

	after_write(held);
	errno = e;
	return r;
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	int held = before_write(fd, off, len);
	ssize_t r = real_pwrite(fd, buf, len, off);
	int e = errno;

	after_write(held);
	errno = e;
	return r;
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	int held = before_write(fd, -1, iov_len(iov, n));
	ssize_t r = real_writev(fd, iov, n);
	int e = errno;

	after_write(held);
	errno = e;
	return r;
}

ssize_t
pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	int held = before_write(fd, off, iov_len(iov, n));
	ssize_t r = real_pwritev(fd, iov, n, off);
	int e = errno;

	after_write(held);
	errno = e;
	return r;
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int n, off_t off)
{
	return pwritev(fd, iov, n, off);
}

/* note_truncate records the undo of cutting or growing fd to size. */
static void
note_truncate(int fd, const char *path, const struct stat *st, off_t size)
{
	uint64_t old = (uint64_t)st->st_size, s = (uint64_t)size;

	note_data(fd, path, st, PC_TRUNCATE, s, s < old ? old - s : 0, 0);
}

int
ftruncate(int fd, off_t size)
{
	char path[PATH_MAX];
	struct stat st;
	int r, e;

	setup();
	if (inside || jfd < 0) {
		return real_ftruncate(fd, size);
	}
	pthread_mutex_lock(&mu);
	if (fd_tracked(fd, path, &st) && S_ISREG(st.st_mode)) {
		note_truncate(fd, path, &st, size);
	}
	inside = 1;
	r = real_ftruncate(fd, size);
	e = errno;
	inside = 0;
	pthread_mutex_unlock(&mu);
	errno = e;
	return r;
}

int
ftruncate64(int fd, off_t size)
{
	return ftruncate(fd, size);
}

/* A read-only descriptor serves to read the old bytes of a path. */
static int
truncate_path(const char *path, off_t size)
{
	char p[PATH_MAX];
	struct stat st;
	int fd;

	if (canon(AT_FDCWD, path, p) != 0 || !under(p) || stat(p, &st) != 0 ||
	    !S_ISREG(st.st_mode)) {
		return 0;
	}
	if ((fd = real_open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		return 0;
	}
	note_truncate(fd, p, &st, size);
	close(fd);
	return 0;
}

int
truncate(const char *path, off_t size)
{
	int r, e;

	setup();
	if (inside || jfd < 0) {
		return real_truncate(path, size);
	}
	pthread_mutex_lock(&mu);
	truncate_path(path, size);
	inside = 1;
	r = real_truncate(path, size);
	e = errno;
	inside = 0;
	pthread_mutex_unlock(&mu);
	errno = e;
	return r;
}

int
truncate64(const char *path, off_t size)
{
	return truncate(path, size);
}

static int
do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	char p[PATH_MAX];
	struct stat st;
	struct pc_rec h = { 0 };
	int r, e, tracked;

	setup();
	if (inside || jfd < 0 || !(flags & (O_CREAT | O_TRUNC))) {
		return real_openat(dirfd, path, flags, mode);
	}
	pthread_mutex_lock(&mu);
	tracked = canon(dirfd, path, p) == 0 && under(p);
	if (!tracked) {
		/* not watched */
	} else if (lstat(p, &st) != 0) {
		if (errno == ENOENT && (flags & O_CREAT)) {
			h.type = PC_CREATE;
			parent_of(p, &h.pdev, &h.pino);
			emit(&h, p, NULL, NULL, NULL);
		}
	} else if ((flags & O_TRUNC) && S_ISREG(st.st_mode) && st.st_size > 0 &&
	           (flags & O_ACCMODE) != O_RDONLY) {
		truncate_path(p, 0);
	}
	inside = 1;
	r = real_openat(dirfd, path, flags, mode);
	e = errno;
	inside = 0;
	pthread_mutex_unlock(&mu);
	errno = e;
	return r;
}

static mode_t
mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(AT_FDCWD, path, flags, m);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(AT_FDCWD, path, flags, m);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(dirfd, path, flags, m);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, flags);
	m = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(dirfd, path, flags, m);
}

int
__open_2(const char *path, int flags)
{
	return do_openat(AT_FDCWD, path, flags, 0);
}

int
__open64_2(const char *path, int flags)
{
	return do_openat(AT_FDCWD, path, flags, 0);
}

int
creat(const char *path, mode_t mode)
{
	return do_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int
creat64(const char *path, mode_t mode)
{
	return creat(path, mode);
}

static int
do_sync(int fd, int (*fn)(int))
{
	char path[PATH_MAX];
	struct stat st;
	struct pc_rec h = { 0 };
	int r, e, tracked;

	setup();
	if (inside || jfd < 0 || !fd_tracked(fd, path, &st)) {
		return fn(fd);
	}
	/* Writes are recorded under mu; a sync records what it covers
	 * after it returns, so it must not let a write slip in between:
	 * hold mu across it. */
	pthread_mutex_lock(&mu);
	tracked = fd_tracked(fd, path, &st);
	inside = 1;
	r = fn(fd);
	e = errno;
	inside = 0;
	if (r == 0 && tracked) {
		h.type = PC_SYNC;
		h.dev = st.st_dev;
		h.ino = st.st_ino;
		h.old_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
		emit(&h, path, NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&mu);
	errno = e;
	return r;
}

int
fsync(int fd)
{
	setup();
	return do_sync(fd, real_fsync);
}

int
fdatasync(int fd)
{
	setup();
	return do_sync(fd, real_fdatasync);
}

/* stash_link keeps the file at p reachable by a hard link in the stash. */
static int
stash_link(const char *p, char out[PATH_MAX])
{
	int n = snprintf(out, PATH_MAX, "%s/%llu", stash_dir, ++stash_seq);

	return n > 0 && n < PATH_MAX ? link(p, out) : -1;
}

static int
do_renameat(int ofd, const char *from, int nfd, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX], st_path[PATH_MAX] = "";
	struct pc_rec h = { 0 };
	struct stat st;
	int r, e, tracked_a, tracked_b;

	setup();
	if (inside || jfd < 0) {
		return real_renameat(ofd, from, nfd, to);
	}
	pthread_mutex_lock(&mu);
	tracked_a = canon(ofd, from, a) == 0 && under(a);
	tracked_b = canon(nfd, to, b) == 0 && under(b);
	if (tracked_a != tracked_b) {
		die("rename across the watched directory is not modelled", a);
	}
	if (tracked_a && lstat(a, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			die("renaming a directory is not modelled", a);
		}
		if (lstat(b, &st) == 0 && stash_link(b, st_path) != 0) {
			die("cannot stash the rename target", b);
		}
		h.type = PC_RENAME;
		parent_of(a, &h.pdev, &h.pino);
		parent_of(b, &h.p2dev, &h.p2ino);
		emit(&h, a, b, st_path[0] ? st_path : NULL, NULL);
	}
	inside = 1;
	r = real_renameat(ofd, from, nfd, to);
	e = errno;
	inside = 0;
	pthread_mutex_unlock(&mu);
	errno = e;
	return r;
}

int
rename(const char *from, const char *to)
{
	return do_renameat(AT_FDCWD, from, AT_FDCWD, to);
}

int
renameat(int ofd, const char *from, int nfd, const char *to)
{
	return do_renameat(ofd, from, nfd, to);
}

static int
do_unlinkat(int dirfd, const char *path, int flags)
{
	char p[PATH_MAX], sp[PATH_MAX];
	struct pc_rec h = { 0 };
	struct stat st;
	int r, e;

	setup();
	if (inside || jfd < 0) {
		return real_unlinkat(dirfd, path, flags);
	}
	pthread_mutex_lock(&mu);
	if (canon(dirfd, path, p) == 0 && under(p) && lstat(p, &st) == 0) {
		if ((flags & AT_REMOVEDIR) || S_ISDIR(st.st_mode)) {
			die("removing a directory is not modelled", p);
		}
		if (stash_link(p, sp) != 0) {
			die("cannot stash the unlinked file", p);
		}
		h.type = PC_UNLINK;
		parent_of(p, &h.pdev, &h.pino);
		emit(&h, p, NULL, sp, NULL);
	}
	inside = 1;
	r = real_unlinkat(dirfd, path, flags);
	e = errno;
	inside = 0;
	pthread_mutex_unlock(&mu);
	errno = e;
	return r;
}

int
unlink(const char *path)
{
	return do_unlinkat(AT_FDCWD, path, 0);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	return do_unlinkat(dirfd, path, flags);
}

int
rmdir(const char *path)
{
	char p[PATH_MAX];

	setup();
	if (!inside && jfd >= 0 && canon(AT_FDCWD, path, p) == 0 && under(p)) {
		die("rmdir is not modelled", p);
	}
	return real_rmdir(path);
}

static int
do_mkdirat(int dirfd, const char *path, mode_t mode)
{
	char p[PATH_MAX];
	struct pc_rec h = { 0 };
	struct stat st;
	int r, e;

	setup();
	if (inside || jfd < 0) {
		return real_mkdirat(dirfd, path, mode);
	}
	pthread_mutex_lock(&mu);
	if (canon(dirfd, path, p) == 0 && under(p) && strcmp(p, root) != 0 &&
	    lstat(p, &st) != 0 && errno == ENOENT) {
		h.type = PC_MKDIR;
		parent_of(p, &h.pdev, &h.pino);
		emit(&h, p, NULL, NULL, NULL);
	}
	inside = 1;
	r = real_mkdirat(dirfd, path, mode);
	e = errno;
	inside = 0;
	pthread_mutex_unlock(&mu);
	errno = e;
	return r;
}

int
mkdir(const char *path, mode_t mode)
{
	return do_mkdirat(AT_FDCWD, path, mode);
}

int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	return do_mkdirat(dirfd, path, mode);
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	char path[PATH_MAX];
	struct stat st;

	setup();
	if (!inside && fd >= 0 && (prot & PROT_WRITE) && (flags & MAP_SHARED) &&
	    fd_tracked(fd, path, &st)) {
		die("a writable shared mapping is not modelled", path);
	}
	return real_mmap(addr, len, prot, flags, fd, off);
}

void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

int
fallocate(int fd, int mode, off_t off, off_t len)
{
	char path[PATH_MAX];
	struct stat st;

	setup();
	if (!inside && fd_tracked(fd, path, &st)) {
		die("fallocate is not modelled", path);
	}
	return real_fallocate(fd, mode, off, len);
}

int
posix_fallocate(int fd, off_t off, off_t len)
{
	char path[PATH_MAX];
	struct stat st;

	setup();
	if (!inside && fd_tracked(fd, path, &st)) {
		die("posix_fallocate is not modelled", path);
	}
	return real_posix_fallocate(fd, off, len);
}
