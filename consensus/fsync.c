/* Making names durable (see fsync.h). */
#include "consensus/fsync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
fs_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		return errno;
	}
	if (fsync(fd) != 0 && errno != EINVAL) {
		rc = errno;
	}
	close(fd);
	return rc;
}

void
fs_parent(char *out, const char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/') {
		n--;
	}
	while (n > 0 && path[n - 1] != '/') {
		n--;
	}
	while (n > 1 && path[n - 1] == '/') {
		n--;
	}
	if (n == 0) {
		snprintf(out, PATH_MAX, ".");
	} else {
		snprintf(out, PATH_MAX, "%.*s", (int)n, path);
	}
}

int
fs_sync_names(const char *dir)
{
	char parent[PATH_MAX];
	int rc;

	if ((rc = fs_fsync_path(dir)) != 0) {
		return rc;
	}
	fs_parent(parent, dir);
	return fs_fsync_path(parent);
}
