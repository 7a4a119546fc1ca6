/* Making names durable: fsync of files and directories, for the LMDB
 * environments (the Raft log, the state store and its snapshot swap) and
 * the node's blobs. */
#ifndef TB_CONSENSUS_FSYNC_H
#define TB_CONSENSUS_FSYNC_H

/* fs_fsync_path fsyncs the file or directory path: 0 or an errno. A
 * filesystem that cannot fsync a directory (EINVAL) has nothing more to
 * make durable, so EINVAL counts as success. */
int fs_fsync_path(const char *path);

/* fs_parent writes the parent directory of path to out (PATH_MAX bytes),
 * ignoring trailing slashes: "." for a bare name. */
void fs_parent(char *out, const char *path);

/* fs_sync_names makes dir's entries and dir's own name durable: it fsyncs
 * dir, then its parent. An fsync of a file does not make its directory
 * entry durable (POSIX does not promise it), so a store created, or a
 * directory renamed, needs this before it is relied on. 0 or an errno. */
int fs_sync_names(const char *dir);

#endif
