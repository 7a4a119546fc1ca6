/* Writing canonical msgpack directly, form by form, for records whose
 * shape is fixed: the caller writes a map's keys in canonical order
 * (bytewise, a prefix first) and each value in the shortest form these
 * give, which are canon_encode's forms. A case's apply wrote its event
 * through a jansson tree and canon_encode (node/fsm_create.c). Each
 * returns the buffer's sticky error (TB_OK or TB_ENOMEM). */
#ifndef TB_SCHEMA_CANON_WRITE_H
#define TB_SCHEMA_CANON_WRITE_H

#include "schema/canon.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* canon_buf_reserve makes room for n more bytes at once (a record whose
 * size is about known grows without reallocating on the way). */
int canon_buf_reserve(struct canon_buf *b, size_t n);

/* canon_put_map / canon_put_array write the header of a map of n members
 * (then n keys and values follow) or an array of n elements. */
int canon_put_map(struct canon_buf *b, size_t n);
int canon_put_array(struct canon_buf *b, size_t n);

/* canon_put_str writes the string s[0..n) (valid UTF-8 without NUL: the
 * caller's to vouch for); canon_put_cstr the C string s. */
int canon_put_str(struct canon_buf *b, const char *s, size_t n);
int canon_put_cstr(struct canon_buf *b, const char *s);

/* canon_put_raw appends p[0..n), a value's canonical bytes (the
 * caller's to vouch for). */
int canon_put_raw(struct canon_buf *b, const uint8_t *p, size_t n);

/* canon_put_int writes an integer; canon_put_nil nil; canon_put_bool a
 * boolean. */
int canon_put_int(struct canon_buf *b, int64_t x);
int canon_put_nil(struct canon_buf *b);
int canon_put_bool(struct canon_buf *b, bool v);

#endif
