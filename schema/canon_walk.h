/* Reading canonical msgpack in place, without decoding it: the value of a
 * map's key, and a map's bytes without one key. A delivered release is
 * 5.8 MiB; checking its signature needs the canonical bytes of the
 * document less its "signatures", which these give from the bytes it came
 * in (a JSON decode and a canonical encode cost a hop a few hundred ms).
 *
 * Meant for bytes canon_check accepted; on anything else they refuse
 * (TB_EMALFORMED) rather than read out of bounds, but they do not check
 * canonical form themselves. */
#ifndef TB_SCHEMA_CANON_WALK_H
#define TB_SCHEMA_CANON_WALK_H

#include "schema/canon.h"

#include <stddef.h>
#include <stdint.h>

/* The nesting canon_skip follows (canon_check's default depth is 24). */
#define CANON_WALK_MAX_DEPTH 64

/* canon_head reads the header of the value at p (n bytes available): its
 * length *hl; for a string its byte length, for an array or map its count
 * (*count, a map's in entries); *kind 's', 'a', 'm', or 0 for a scalar
 * (nil, a boolean or an integer: the header is the whole value). TB_OK, or
 * TB_EMALFORMED (truncated, or not a type the canonical form has). */
int canon_head(const uint8_t *p, size_t n, size_t *hl, uint64_t *count,
               char *kind);

/* canon_skip returns the length of the one value at p (n bytes
 * available; depth: the nesting so far, 0 at the top), or 0 if it does
 * not fit, nests deeper than CANON_WALK_MAX_DEPTH or holds a type the
 * canonical form has not (floats, bins, exts). */
size_t canon_skip(const uint8_t *p, size_t n, int depth);

/* canon_map_get finds the string key in the map p[0..n): *v, *vlen its
 * value's bytes. TB_OK, TB_ENOTFOUND, or TB_EMALFORMED (not a map, or
 * truncated). */
int canon_map_get(const uint8_t *p, size_t n, const char *key,
                  const uint8_t **v, size_t *vlen);

/* canon_map_find is canon_map_get without the value's length: *vat is
 * the offset in p of key's value, which is not walked (the values before
 * it are). Finding a large value's start, e.g. a release within its
 * command, then costs no walk of it. TB_OK, TB_ENOTFOUND or
 * TB_EMALFORMED. */
int canon_map_find(const uint8_t *p, size_t n, const char *key, size_t *vat);

/* canon_map_members finds the values of keys[0..nkeys) in the map
 * p[0..n) in one walk of it: v[j] and vlen[j] the bytes of keys[j]'s
 * value, NULL and 0 if the map has no such key. TB_OK or TB_EMALFORMED
 * (not a map, or truncated). */
int canon_map_members(const uint8_t *p, size_t n, const char *const *keys,
                      size_t nkeys, const uint8_t **v, size_t *vlen);

/* canon_array_head reads the header of the array p[0..n): its count
 * (*count) and header length (*hl; the first element is at p + *hl).
 * TB_OK, or TB_EMALFORMED (not an array, or truncated). */
int canon_array_head(const uint8_t *p, size_t n, uint64_t *count, size_t *hl);

/* canon_array_get finds element i of the array p[0..n): *v, *vlen its
 * bytes. TB_OK, TB_ENOTFOUND (i >= the count), or TB_EMALFORMED. */
int canon_array_get(const uint8_t *p, size_t n, uint64_t i, const uint8_t **v,
                    size_t *vlen);

/* canon_bytes_without appends to out the canonical bytes of the map
 * p[0..n) (exactly one value) without its key skip: what
 * canon_encode_without gives for the decoded map. TB_OK, TB_EMALFORMED,
 * or TB_ENOMEM. */
int canon_bytes_without(const uint8_t *p, size_t n, const char *skip,
                        struct canon_buf *out);

/* canon_bytes_without_get is canon_bytes_without that also gives the
 * value left out (*v, *vlen; NULL and 0 if the map has no key skip), from
 * the same walk. */
int canon_bytes_without_get(const uint8_t *p, size_t n, const char *skip,
                            struct canon_buf *out, const uint8_t **v,
                            size_t *vlen);

/* canon_bytes_with appends to out the canonical bytes of the map p[0..n)
 * (exactly one value, without key) with the member key: v[0..vlen) (a
 * value's canonical bytes) added in its sorted place: the bytes
 * canon_encode gives for the map with the member set. TB_OK,
 * TB_EMALFORMED (not a map, or key already in it) or TB_ENOMEM. */
int canon_bytes_with(const uint8_t *p, size_t n, const char *key,
                     const uint8_t *v, size_t vlen, struct canon_buf *out);

#endif
