/* Filesystem helpers shared by the C tests. */
#ifndef TB_TESTS_FS_UTIL_H
#define TB_TESTS_FS_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* tu_rmtree removes path and everything under it. */
static inline void
tu_rmtree(const char *path)
{
	struct stat st;
	struct dirent *d;
	char sub[512];
	DIR *dir;

	if (lstat(path, &st) != 0) {
		return;
	}
	if (S_ISDIR(st.st_mode) && (dir = opendir(path)) != NULL) {
		while ((d = readdir(dir)) != NULL) {
			if (strcmp(d->d_name, ".") == 0 ||
			    strcmp(d->d_name, "..") == 0) {
				continue;
			}
			snprintf(sub, sizeof(sub), "%s/%s", path, d->d_name);
			tu_rmtree(sub);
		}
		closedir(dir);
		rmdir(path);
	} else {
		unlink(path);
	}
}

#endif
