/* Materials: content-addressed blobs beside the store (DIR/blobs), kept
 * out of the Raft log and copied to the other members of the group. */
#ifndef TB_NODE_BLOB_H
#define TB_NODE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct http_call;

/* blob_hash_ok says whether h is a BLAKE2b-256 hash in 64 lowercase hex
 * digits. */
bool blob_hash_ok(const char *h);

/* blob_exists says whether this node holds material h (any thread). A
 * material once found on disk is remembered (n->blobs_seen): the node never
 * removes one, so a file deleted by hand while the node runs is not noticed
 * here until it restarts (PUT /v1/blobs writes it again). */
bool blob_exists(struct node *n, const char *h);

/* blob_write stores len bytes whose hash the caller checked as hex h:
 * written to a temporary file, fsynced, renamed, and the directory
 * fsynced, so a material acknowledged survives a power cut. An existing
 * blob is left as it is. TB_OK, TB_EFULL (no space) or TB_EIO, with
 * errmsg. Any thread. */
int blob_write(const struct node *n, const char *h, const void *data,
               size_t len, char *errmsg, size_t errlen);

/* blob_read reads material h into a new buffer (*data, free()): TB_OK,
 * TB_ENOTFOUND or TB_EIO. */
int blob_read(const struct node *n, const char *h, char **data, size_t *len);

/* blob_read_range reads at most max bytes of material h from offset off
 * into buf: *got bytes, *total the material's size. TB_OK, TB_ENOTFOUND,
 * TB_ERANGE (off beyond the end) or TB_EIO. Any thread. */
int blob_read_range(const struct node *n, const char *h, uint64_t off,
                    size_t max, char *buf, size_t *got, uint64_t *total);

/* blob_check says whether data hashes to h. */
bool blob_check(const char *h, const void *data, size_t len);

#endif
