/* Reading canonical msgpack in place (see canon_walk.h). */
#include "schema/canon_walk.h"

#include "schema/error.h"

#include <stdbool.h>
#include <string.h>

/* be reads an n-byte big-endian unsigned integer. */
static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

/* head reads the header of the value at p: its header length *hl, and
 * for a string its byte length, for an array or map its count (*count;
 * a map's counts entries, each a key and a value). *kind is 's', 'a',
 * 'm' or 0 (a scalar: the header is the whole value). false if the
 * header does not fit or is not a type canon_check accepts. */
static bool
head(const uint8_t *p, size_t n, size_t *hl, uint64_t *count, char *kind)
{
	uint8_t b;
	size_t w = 0;

	if (n == 0) {
		return false;
	}
	b = p[0];
	*count = 0;
	*kind = 0;
	*hl = 1;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
		return true; /* fixints, nil, booleans */
	}
	if (b >= 0x80 && b <= 0x8f) {
		*kind = 'm';
		*count = b & 0x0f;
		return true;
	}
	if (b >= 0x90 && b <= 0x9f) {
		*kind = 'a';
		*count = b & 0x0f;
		return true;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		*kind = 's';
		*count = b & 0x1f;
		return true;
	}
	switch (b) {
	case 0xcc:
	case 0xd0:
		*hl = 2;
		return n >= 2;
	case 0xcd:
	case 0xd1:
		*hl = 3;
		return n >= 3;
	case 0xce:
	case 0xd2:
		*hl = 5;
		return n >= 5;
	case 0xcf:
	case 0xd3:
		*hl = 9;
		return n >= 9;
	case 0xd9:
		w = 1, *kind = 's';
		break;
	case 0xda:
		w = 2, *kind = 's';
		break;
	case 0xdb:
		w = 4, *kind = 's';
		break;
	case 0xdc:
		w = 2, *kind = 'a';
		break;
	case 0xdd:
		w = 4, *kind = 'a';
		break;
	case 0xde:
		w = 2, *kind = 'm';
		break;
	case 0xdf:
		w = 4, *kind = 'm';
		break;
	default:
		return false; /* floats, bins, exts: not canonical here */
	}
	if (n < 1 + w) {
		return false;
	}
	*hl = 1 + w;
	*count = be(p + 1, w);
	return true;
}

int
canon_head(const uint8_t *p, size_t n, size_t *hl, uint64_t *count, char *kind)
{
	return head(p, n, hl, count, kind) ? TB_OK : TB_EMALFORMED;
}

size_t
canon_skip(const uint8_t *p, size_t n, int depth)
{
	/* Iterative: left[k] is how many values remain at nesting k (0 is
	 * the value asked for). A full release is some 10^6 values and is
	 * walked a few times per apply; fixints and short strings, most of
	 * them, take the quick path. */
	uint64_t left[CANON_WALK_MAX_DEPTH + 2], count;
	size_t off = 0, hl;
	int top = 0;
	uint8_t b;
	char kind;

	if (depth < 0 || depth > CANON_WALK_MAX_DEPTH) {
		return 0;
	}
	left[0] = 1;
	for (;;) {
		if (left[top] == 0) {
			if (top == 0) {
				return off;
			}
			top--;
			continue;
		}
		left[top]--;
		if (off >= n || depth + top > CANON_WALK_MAX_DEPTH) {
			return 0;
		}
		b = p[off];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3) {
			off++;
			continue;
		}
		if ((b & 0xe0) == 0xa0) {
			if ((size_t)(b & 0x1f) >= n - off) {
				return 0;
			}
			off += 1 + (size_t)(b & 0x1f);
			continue;
		}
		if (!head(p + off, n - off, &hl, &count, &kind)) {
			return 0;
		}
		if (kind == 0) {
			off += hl;
		} else if (kind == 's') {
			if (count > n - off - hl) {
				return 0;
			}
			off += hl + (size_t)count;
		} else {
			off += hl;
			left[++top] = kind == 'm' ? 2 * count : count;
		}
	}
}

/* key_is: the string at p (n bytes available) is key; *klen its whole
 * length. */
static bool
key_is(const uint8_t *p, size_t n, const char *key, size_t *klen)
{
	size_t hl, kl = strlen(key);
	uint64_t count;
	char kind;

	if (!head(p, n, &hl, &count, &kind) || kind != 's' || count > n - hl) {
		return false;
	}
	*klen = hl + (size_t)count;
	return count == kl && !memcmp(p + hl, key, kl);
}

/* member finds key in the map p[0..n): the offset of its key (*at) and
 * the length of key and value (*len), and the value's offset (*vat).
 * TB_OK, TB_ENOTFOUND, or TB_EMALFORMED. *count is the map's. */
static int
member(const uint8_t *p, size_t n, const char *key, size_t *at, size_t *len,
       size_t *vat, uint64_t *count)
{
	size_t hl, off, kl, vl;
	uint64_t i;
	char kind;
	bool hit;

	if (!head(p, n, &hl, count, &kind) || kind != 'm') {
		return TB_EMALFORMED;
	}
	off = hl;
	for (i = 0; i < *count; i++) {
		if ((kl = canon_skip(p + off, n - off, 1)) == 0) {
			return TB_EMALFORMED;
		}
		hit = key_is(p + off, n - off, key, &kl);
		if ((vl = canon_skip(p + off + kl, n - off - kl, 1)) == 0) {
			return TB_EMALFORMED;
		}
		if (hit) {
			*at = off;
			*vat = off + kl;
			*len = kl + vl;
			return TB_OK;
		}
		off += kl + vl;
	}
	return TB_ENOTFOUND;
}

int
canon_map_find(const uint8_t *p, size_t n, const char *key, size_t *vat)
{
	size_t hl, off, kl, vl;
	uint64_t count, i;
	char kind;

	if (!head(p, n, &hl, &count, &kind) || kind != 'm') {
		return TB_EMALFORMED;
	}
	off = hl;
	for (i = 0; i < count; i++) {
		if ((kl = canon_skip(p + off, n - off, 1)) == 0) {
			return TB_EMALFORMED;
		}
		if (key_is(p + off, n - off, key, &kl)) {
			if (off + kl >= n) {
				return TB_EMALFORMED;
			}
			*vat = off + kl;
			return TB_OK;
		}
		if ((vl = canon_skip(p + off + kl, n - off - kl, 1)) == 0) {
			return TB_EMALFORMED;
		}
		off += kl + vl;
	}
	return TB_ENOTFOUND;
}

int
canon_map_get(const uint8_t *p, size_t n, const char *key, const uint8_t **v,
              size_t *vlen)
{
	size_t at, len, vat;
	uint64_t count;
	int rv = member(p, n, key, &at, &len, &vat, &count);

	if (rv == TB_OK) {
		*v = p + vat;
		*vlen = len - (vat - at);
	}
	return rv;
}

int
canon_map_members(const uint8_t *p, size_t n, const char *const *keys,
                  size_t nkeys, const uint8_t **v, size_t *vlen)
{
	size_t hl, off, kl, vl, j;
	uint64_t count, i;
	char kind;

	for (j = 0; j < nkeys; j++) {
		v[j] = NULL;
		vlen[j] = 0;
	}
	if (!head(p, n, &hl, &count, &kind) || kind != 'm') {
		return TB_EMALFORMED;
	}
	off = hl;
	for (i = 0; i < count; i++) {
		if ((kl = canon_skip(p + off, n - off, 1)) == 0 ||
		    (vl = canon_skip(p + off + kl, n - off - kl, 1)) == 0) {
			return TB_EMALFORMED;
		}
		for (j = 0; j < nkeys; j++) {
			if (v[j] == NULL &&
			    key_is(p + off, n - off, keys[j], &kl)) {
				v[j] = p + off + kl;
				vlen[j] = vl;
				break;
			}
		}
		off += kl + vl;
	}
	return TB_OK;
}

int
canon_array_head(const uint8_t *p, size_t n, uint64_t *count, size_t *hl)
{
	char kind;

	if (!head(p, n, hl, count, &kind) || kind != 'a') {
		return TB_EMALFORMED;
	}
	return TB_OK;
}

int
canon_array_get(const uint8_t *p, size_t n, uint64_t i, const uint8_t **v,
                size_t *vlen)
{
	size_t off, len;
	uint64_t count, j;
	int rv;

	if ((rv = canon_array_head(p, n, &count, &off)) != TB_OK) {
		return rv;
	}
	if (i >= count) {
		return TB_ENOTFOUND;
	}
	for (j = 0;; j++) {
		if ((len = canon_skip(p + off, n - off, 1)) == 0) {
			return TB_EMALFORMED;
		}
		if (j == i) {
			*v = p + off;
			*vlen = len;
			return TB_OK;
		}
		off += len;
	}
}

int
canon_bytes_without(const uint8_t *p, size_t n, const char *skip,
                    struct canon_buf *out)
{
	const uint8_t *v;
	size_t vlen;

	return canon_bytes_without_get(p, n, skip, out, &v, &vlen);
}

int
canon_bytes_without_get(const uint8_t *p, size_t n, const char *skip,
                        struct canon_buf *out, const uint8_t **v, size_t *vlen)
{
	size_t at = 0, len = 0, vat, hl, whole;
	uint64_t count, c2;
	uint8_t h[5];
	char kind;
	int rv;

	if ((whole = canon_skip(p, n, 0)) == 0 || whole != n) {
		return TB_EMALFORMED;
	}
	*v = NULL;
	*vlen = 0;
	rv = member(p, n, skip, &at, &len, &vat, &count);
	if (rv == TB_ENOTFOUND) {
		return canon_buf_append(out, p, n); /* nothing to leave out */
	}
	if (rv != TB_OK || !head(p, n, &hl, &c2, &kind)) {
		return TB_EMALFORMED;
	}
	*v = p + vat;
	*vlen = len - (vat - at);
	/* The smallest header for one member fewer, as the encoder writes
	 * it; then the members before and after the one left out. */
	count--;
	if (count < 16) {
		h[0] = (uint8_t)(0x80 | count);
		rv = canon_buf_append(out, h, 1);
	} else if (count < 0x10000) {
		h[0] = 0xde;
		h[1] = (uint8_t)(count >> 8);
		h[2] = (uint8_t)count;
		rv = canon_buf_append(out, h, 3);
	} else {
		h[0] = 0xdf;
		h[1] = (uint8_t)(count >> 24);
		h[2] = (uint8_t)(count >> 16);
		h[3] = (uint8_t)(count >> 8);
		h[4] = (uint8_t)count;
		rv = canon_buf_append(out, h, 5);
	}
	if (rv == TB_OK) {
		rv = canon_buf_append(out, p + hl, at - hl);
	}
	if (rv == TB_OK) {
		rv = canon_buf_append(out, p + at + len, n - at - len);
	}
	return rv;
}

/* put_map_head appends the shortest header of a map of count members. */
static int
put_map_head(struct canon_buf *out, uint64_t count)
{
	uint8_t h[5];

	if (count < 16) {
		h[0] = (uint8_t)(0x80 | count);
		return canon_buf_append(out, h, 1);
	}
	if (count < 0x10000) {
		h[0] = 0xde;
		h[1] = (uint8_t)(count >> 8);
		h[2] = (uint8_t)count;
		return canon_buf_append(out, h, 3);
	}
	h[0] = 0xdf;
	h[1] = (uint8_t)(count >> 24);
	h[2] = (uint8_t)(count >> 16);
	h[3] = (uint8_t)(count >> 8);
	h[4] = (uint8_t)count;
	return canon_buf_append(out, h, 5);
}

/* put_str appends the shortest string header and the bytes of s. */
static int
put_str(struct canon_buf *out, const char *s)
{
	size_t n = strlen(s);
	uint8_t h[5];

	if (n < 32) {
		h[0] = (uint8_t)(0xa0 | n);
		if (canon_buf_append(out, h, 1) != 0) {
			return TB_ENOMEM;
		}
	} else if (n < 0x100) {
		h[0] = 0xd9;
		h[1] = (uint8_t)n;
		if (canon_buf_append(out, h, 2) != 0) {
			return TB_ENOMEM;
		}
	} else if (n < 0x10000) {
		h[0] = 0xda;
		h[1] = (uint8_t)(n >> 8);
		h[2] = (uint8_t)n;
		if (canon_buf_append(out, h, 3) != 0) {
			return TB_ENOMEM;
		}
	} else {
		return TB_EMALFORMED; /* no such keys here */
	}
	return canon_buf_append(out, s, n);
}

int
canon_bytes_with(const uint8_t *p, size_t n, const char *key, const uint8_t *v,
                 size_t vlen, struct canon_buf *out)
{
	size_t hl, off, kl, vl, khl, m, nk = strlen(key);
	uint64_t count, i, kc;
	char kind;
	int cmp;

	if (!head(p, n, &hl, &count, &kind) || kind != 'm' ||
	    canon_skip(p, n, 0) != n) {
		return TB_EMALFORMED;
	}
	/* The first member whose key sorts after key (by bytes, a prefix
	 * first), as canon_check orders them. */
	off = hl;
	for (i = 0; i < count; i++) {
		if ((kl = canon_skip(p + off, n - off, 1)) == 0 ||
		    !head(p + off, n - off, &khl, &kc, &kind) || kind != 's') {
			return TB_EMALFORMED;
		}
		m = kc < nk ? (size_t)kc : nk;
		cmp = memcmp(p + off + khl, key, m);
		if (cmp == 0 && kc == nk) {
			return TB_EMALFORMED; /* already there */
		}
		if (cmp > 0 || (cmp == 0 && kc > nk)) {
			break;
		}
		if ((vl = canon_skip(p + off + kl, n - off - kl, 1)) == 0) {
			return TB_EMALFORMED;
		}
		off += kl + vl;
	}
	if (put_map_head(out, count + 1) != 0 ||
	    canon_buf_append(out, p + hl, off - hl) != 0 ||
	    put_str(out, key) != 0 || canon_buf_append(out, v, vlen) != 0 ||
	    canon_buf_append(out, p + off, n - off) != 0) {
		return out->err != 0 ? TB_ENOMEM : TB_EMALFORMED;
	}
	return TB_OK;
}
