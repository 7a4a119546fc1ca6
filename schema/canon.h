/* Canonical msgpack: one encoding per value, strict validation, hashing. */
#ifndef TB_SCHEMA_CANON_H
#define TB_SCHEMA_CANON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * tongban's value model is JSON's without numbers that are not integers:
 * nil, booleans, 64-bit signed integers, UTF-8 strings, arrays and maps
 * with string keys. Its canonical msgpack encoding is the one that signed
 * bytes, hashes and Raft commands use:
 *
 *   - integers in the shortest form: non-negative values in the unsigned
 *     family (positive fixint, uint8..uint64), negative values in the
 *     shortest signed form (negative fixint, int8..int64);
 *   - strings, arrays and maps with the shortest length header;
 *   - map keys are strings, sorted by their UTF-8 bytes, each once;
 *   - no floats, no bin, no ext; strings are valid UTF-8.
 *
 * Python's msgpack.packb(v, use_bin_type=True) produces the same bytes for
 * a value whose dicts are built with sorted keys, which is how the golden
 * vectors in tests/ are made.
 */

/* A growable byte buffer. Zero-initialise, append, then canon_buf_free. */
struct canon_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* sticky: TB_ENOMEM after a failed append */
};

/* canon_buf_append appends n bytes; returns TB_OK or TB_ENOMEM (and then
 * the buffer's err stays set). */
int canon_buf_append(struct canon_buf *b, const void *p, size_t n);

/* canon_buf_free releases the buffer's memory and zeroes it. */
void canon_buf_free(struct canon_buf *b);

/* Limits applied while validating input bytes. */
struct canon_limits {
	size_t max_bytes; /* the whole input */
	int max_depth;    /* nesting of arrays and maps */
	size_t max_str;   /* one string's bytes */
	size_t max_items; /* elements and map entries in the whole input */
};

/* canon_default_limits: 16 MiB, depth 24, 1 MiB strings, 1M items. */
extern const struct canon_limits canon_default_limits;

/* canon_check validates that p[0..n) is exactly one value in canonical
 * form within the limits, before anything is allocated from the counts it
 * declares. On failure returns TB_ETRUNC, TB_ETOOBIG, TB_EDEPTH,
 * TB_ECANON, TB_ETYPE (float, bin, ext, non-string key), TB_EDUP
 * (duplicate key), TB_EMALFORMED (trailing bytes, bad UTF-8) and writes
 * "at byte 17: map keys not sorted ('b' after 'c')" to errmsg. */
int canon_check(const uint8_t *p, size_t n, const struct canon_limits *lim,
                char *errmsg, size_t errlen);

/* A top-level member of an object whose canonical bytes are known: v was
 * decoded from p[0..n) (canon_decode, so canon_encode(v) gives exactly
 * those bytes). */
struct canon_raw {
	const char *key;
	const json_t *v;
	const uint8_t *p;
	size_t n;
};

/* canon_encode_raw is canon_encode of the object v, except that a
 * top-level member named and valued (the same json_t) as an entry of raw
 * is written as that entry's bytes instead of being encoded again: a
 * record that embeds parts of a decoded command (node/fsm_create.c). The
 * result is the same bytes as canon_encode's. */
int canon_encode_raw(const json_t *v, const struct canon_raw *raw, size_t nraw,
                     struct canon_buf *out, char *errmsg, size_t errlen);

/* canon_encode appends the canonical encoding of v to out. Refuses reals
 * (TB_ETYPE, naming the JSON path) since the model has no floats. */
int canon_encode(const json_t *v, struct canon_buf *out, char *errmsg,
                 size_t errlen);

/* canon_encode_without encodes object v as if its top-level key `skip`
 * were absent (signatures over a document exclude its signature field). */
int canon_encode_without(const json_t *v, const char *skip,
                         struct canon_buf *out, char *errmsg, size_t errlen);

/* canon_decode checks p[0..n) with canon_check and then decodes it with
 * msgpack-c into a new jansson value (*out, caller json_decref's). */
int canon_decode(const uint8_t *p, size_t n, const struct canon_limits *lim,
                 json_t **out, char *errmsg, size_t errlen);

/* canon_decode_fields is canon_decode (the whole input is checked), except
 * that of a top-level map only the members named in keys[0..nkeys) are
 * converted to JSON: a reader that needs a few fields of a large record
 * skips building the rest (keys are borrowed for the call). */
int canon_decode_fields(const uint8_t *p, size_t n,
                        const struct canon_limits *lim, const char *const *keys,
                        size_t nkeys, json_t **out, char *errmsg,
                        size_t errlen);

/* Bytes within a checked value. */
struct canon_span {
	const uint8_t *p;
	size_t n;
};

/* canon_decode_shell is canon_decode (the whole input is checked), except
 * that within the top-level map's member `member` (a map) the members
 * named in keys[0..nkeys) have their value's bytes noted in spans[0..nkeys)
 * (NULL and 0 for one absent), and those of them that are arrays or maps are
 * decoded as empty ones of their type (*made counts them): a reader that checks
 * the shape of those members (spec_object) but reads their contents from the
 * bytes skips building them (store_apply's case.create, schema/command.h
 * cmd_decode_shallow). */
int canon_decode_shell(const uint8_t *p, size_t n,
                       const struct canon_limits *lim, const char *member,
                       const char *const *keys, size_t nkeys, json_t **out,
                       struct canon_span *spans, size_t *made, char *errmsg,
                       size_t errlen);

/* canon_decode_checked decodes the one value at p without checking it:
 * only for bytes canon_check accepted, or a value within them (it reads
 * as far as their headers say). TB_OK or TB_ENOMEM. */
int canon_decode_checked(const uint8_t *p, json_t **out);

#define CANON_HASH_LEN 32

/* canon_hash computes BLAKE2b-256 (libsodium crypto_generichash) of the
 * bytes. */
void canon_hash(const uint8_t *p, size_t n, uint8_t out[CANON_HASH_LEN]);

/* canon_hash_value encodes v canonically (less top-level key `skip`, may be
 * NULL) and hashes the bytes. */
int canon_hash_value(const json_t *v, const char *skip,
                     uint8_t out[CANON_HASH_LEN], char *errmsg, size_t errlen);

/* canon_hex writes 2n lowercase hex digits and a NUL to out. */
void canon_hex(const uint8_t *p, size_t n, char *out);

/* canon_unhex parses exactly 2n lowercase hex digits; TB_ECODE otherwise. */
int canon_unhex(const char *s, uint8_t *out, size_t n);

#endif
