/* The node's own certificates in a node-local LMDB environment, DIR/local:
 * its node certificate ("node"), the chain above it ("chain": array, its
 * issuer's certificate first) and the cross-certificates its province's
 * root issued ("xcert-REGION"). Values are the store's schema-version byte
 * and canonical msgpack (store_db.h). Nothing here is replicated: not in
 * the group's state, its snapshots or its content hash (docs/STORE.md).
 *
 * Every reader and writer goes through these calls. A process keeps one
 * environment open (the last directory asked for) behind a mutex; another
 * process (tongban cert install beside a running node) opens its own, as
 * LMDB allows. */
#ifndef TB_NODE_CERTSTORE_H
#define TB_NODE_CERTSTORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The subdirectory of a node directory that holds the environment. */
#define CERTSTORE_SUBDIR "local"

/* The longest name of a record. */
#define CERTSTORE_NAME_MAX 64

/* certstore_get loads record name of dir into *out (caller decrefs).
 * TB_ENOTFOUND when it is absent (also when dir has no environment yet),
 * TB_ECORRUPT for a value that does not decode, else a db_err code. */
int certstore_get(const char *dir, const char *name, json_t **out, char *errmsg,
                  size_t errlen);

/* certstore_load is certstore_get that returns NULL when the record is
 * absent or unreadable (the latter logged as TB-CERTSTORE). */
json_t *certstore_load(const char *dir, const char *name);

/* certstore_put stores doc as record name of dir (creating the
 * environment), in one durable write transaction. */
int certstore_put(const char *dir, const char *name, const json_t *doc,
                  char *errmsg, size_t errlen);

/* certstore_put_many stores docs[i] as names[i] for i < n in one write
 * transaction: all or none. */
int certstore_put_many(const char *dir, const char *const *names,
                       const json_t *const *docs, size_t n, char *errmsg,
                       size_t errlen);

/* certstore_list appends to arr the records whose names start with
 * prefix, in name order; the number appended (0 also when dir has no
 * environment). Unreadable values are logged and skipped. */
size_t certstore_list(const char *dir, const char *prefix, json_t *arr);

/* certstore_fingerprint hashes every record's name and value into out
 * (all zero bytes hashed when there is no environment): a change of any
 * certificate changes it. */
void certstore_fingerprint(const char *dir, uint8_t out[32]);

/* certstore_import moves the certificates an older build kept as files
 * (DIR/certs/node.json, chain.json, xcert-*.json) into the environment:
 * each file that reads as JSON is stored and renamed to FILE.imported;
 * one that does not is logged and left. Logs TB-CERTSTORE-IMPORTED per
 * file. Returns the number imported, or -1 (errmsg) when storing failed. */
int certstore_import(const char *dir, char *errmsg, size_t errlen);

/* certstore_legacy counts the files certstore_import would import. */
int certstore_legacy(const char *dir);

/* certstore_close closes the environment this process keeps open (the
 * next call opens it again). */
void certstore_close(void);

/* certstore_path writes DIR/local into out. */
void certstore_path(const char *dir, char *out, size_t outlen);

#endif
