/* Canonical msgpack written form by form (schema/canon_write.h): the
 * shortest forms canon.c's encoder writes, tested against it in
 * tests/test_canon_write.c. */
#include "schema/canon_write.h"

#include "schema/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
canon_buf_reserve(struct canon_buf *b, size_t n)
{
	uint8_t *nd;

	if (b->err != 0 || b->cap - b->len >= n) {
		return b->err;
	}
	if (n > SIZE_MAX / 2 - b->len) {
		return b->err = TB_ENOMEM;
	}
	if ((nd = realloc(b->data, b->len + n)) == NULL) {
		return b->err = TB_ENOMEM;
	}
	b->data = nd;
	b->cap = b->len + n;
	return TB_OK;
}

/* put appends p[0..n): in place when the buffer has the room (a reserved
 * record always has), else through canon_buf_append, which grows it. */
static int
put(struct canon_buf *b, const void *p, size_t n)
{
	if (b->err == 0 && b->cap - b->len >= n) {
		if (n > 0) {
			memcpy(b->data + b->len, p, n);
		}
		b->len += n;
		return TB_OK;
	}
	return canon_buf_append(b, p, n);
}

/* put_be writes tag and the k low bytes of v, big-endian. */
static int
put_be(struct canon_buf *b, uint8_t tag, uint64_t v, size_t k)
{
	uint8_t x[9];
	size_t i;

	x[0] = tag;
	for (i = 0; i < k; i++) {
		x[k - i] = (uint8_t)(v >> (8 * i));
	}
	return put(b, x, k + 1);
}

/* put_head writes the header of n: fix | n up to fixmax, then the 8-bit
 * form t8 (0: none), the 16-bit form t16 and the 32-bit form t16 + 1. */
static int
put_head(struct canon_buf *b, uint8_t fix, size_t fixmax, uint8_t t8,
         uint8_t t16, size_t n)
{
	uint8_t x;

	if (n <= fixmax) {
		x = (uint8_t)(fix | n);
		return put(b, &x, 1);
	}
	if (t8 != 0 && n <= 0xff) {
		return put_be(b, t8, n, 1);
	}
	if (n <= 0xffff) {
		return put_be(b, t16, n, 2);
	}
	return put_be(b, (uint8_t)(t16 + 1), n, 4);
}

int
canon_put_map(struct canon_buf *b, size_t n)
{
	return put_head(b, 0x80, 15, 0, 0xde, n);
}

int
canon_put_array(struct canon_buf *b, size_t n)
{
	return put_head(b, 0x90, 15, 0, 0xdc, n);
}

int
canon_put_str(struct canon_buf *b, const char *s, size_t n)
{
	if (put_head(b, 0xa0, 31, 0xd9, 0xda, n) != 0) {
		return b->err;
	}
	return put(b, s, n);
}

int
canon_put_cstr(struct canon_buf *b, const char *s)
{
	return canon_put_str(b, s, strlen(s));
}

int
canon_put_int(struct canon_buf *b, int64_t x)
{
	uint64_t u = (uint64_t)x;
	uint8_t c;

	if (x >= 0) {
		if (u <= 0x7f) {
			c = (uint8_t)u;
			return put(b, &c, 1);
		}
		return u <= 0xff         ? put_be(b, 0xcc, u, 1)
		       : u <= 0xffff     ? put_be(b, 0xcd, u, 2)
		       : u <= 0xffffffff ? put_be(b, 0xce, u, 4)
		                         : put_be(b, 0xcf, u, 8);
	}
	if (x >= -32) {
		c = (uint8_t)(int8_t)x;
		return put(b, &c, 1);
	}
	return x >= -128        ? put_be(b, 0xd0, u & 0xff, 1)
	       : x >= -32768    ? put_be(b, 0xd1, u & 0xffff, 2)
	       : x >= INT32_MIN ? put_be(b, 0xd2, u & 0xffffffffu, 4)
	                        : put_be(b, 0xd3, u, 8);
}

int
canon_put_raw(struct canon_buf *b, const uint8_t *p, size_t n)
{
	return put(b, p, n);
}

int
canon_put_nil(struct canon_buf *b)
{
	return put(b, "\xc0", 1);
}

int
canon_put_bool(struct canon_buf *b, bool v)
{
	return put(b, v ? "\xc3" : "\xc2", 1);
}
