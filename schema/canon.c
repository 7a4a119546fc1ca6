/* Canonical msgpack: strict checking before decoding, and encoding. */
#include "schema/canon.h"
#include "schema/canon_write.h"

#include "schema/error.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct canon_limits canon_default_limits = {
	.max_bytes = 16u << 20,
	.max_depth = 24, /* msgpack-c's unpacker stack holds 32 */
	.max_str = 1u << 20,
	.max_items = 1u << 20,
};

/* Encoding never goes deeper than decoding would accept, plus headroom for
 * wrappers (an envelope around a document). */
#define CANON_ENCODE_DEPTH 64

int
canon_buf_append(struct canon_buf *b, const void *p, size_t n)
{
	if (b->err != 0) {
		return b->err;
	}
	if (n > SIZE_MAX / 2 - b->len) {
		return b->err = TB_ENOMEM;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *nd;
		while (cap < b->len + n) {
			cap *= 2;
		}
		if ((nd = realloc(b->data, cap)) == NULL) {
			return b->err = TB_ENOMEM;
		}
		b->data = nd;
		b->cap = cap;
	}
	if (n > 0) {
		memcpy(b->data + b->len, p, n);
	}
	b->len += n;
	return TB_OK;
}

void
canon_buf_free(struct canon_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- checking ---------------------------------------------------------- */

struct check {
	const uint8_t *p;
	size_t n;
	size_t off;
	size_t items;
	const struct canon_limits *lim;
	char *errmsg;
	size_t errlen;
};

static int check_fail(struct check *c, int rv, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
check_fail(struct check *c, int rv, size_t at, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (c->errmsg != NULL && c->errlen > 0) {
		k = snprintf(c->errmsg, c->errlen, "at byte %zu: ", at);
		if (k > 0 && (size_t)k < c->errlen) {
			va_start(ap, fmt);
			vsnprintf(c->errmsg + k, c->errlen - (size_t)k, fmt,
			          ap);
			va_end(ap);
		}
	}
	return rv;
}

static int
check_need(struct check *c, size_t k, size_t at)
{
	if (c->n - c->off < k) {
		return check_fail(c, TB_ETRUNC, at,
		                  "truncated: needs %zu more bytes, %zu left",
		                  k, c->n - c->off);
	}
	return TB_OK;
}

static uint64_t
check_be(const uint8_t *p, size_t k)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < k; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

/* utf8_valid accepts well-formed UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF) without NUL bytes, which C strings could not carry. */
static bool
utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t b;
		uint32_t cp;
		size_t k, j;

		/* Eight ASCII bytes at a time, none of them NUL (keys, codes,
		 * hashes and ids are ASCII: this was 7% of a case's apply). */
		if (n - i >= 8) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			if ((x & 0x8080808080808080u) == 0 &&
			    ((x - 0x0101010101010101u) & ~x &
			     0x8080808080808080u) == 0) {
				i += 8;
				continue;
			}
		}
		b = s[i];
		if (b == 0) {
			return false;
		}
		if (b < 0x80) {
			i++;
			continue;
		}
		/* Most of a catalog's text is CJK: three bytes led by
		 * E1..EC or EE..EF, whose every continuation is valid (E0
		 * and ED bound theirs: overlong forms, surrogates). */
		if (b >= 0xe1 && b <= 0xef && b != 0xed && n - i >= 3) {
			if ((s[i + 1] & 0xc0) != 0x80 ||
			    (s[i + 2] & 0xc0) != 0x80) {
				return false;
			}
			i += 3;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			k = 1;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			k = 2;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			k = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		if (n - i - 1 < k) {
			return false;
		}
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			return false;
		}
		i += k + 1;
	}
	return true;
}

static int check_value(struct check *c, int depth);

/* check_str validates a string of the given header size and length, and
 * returns where its bytes start through *start. */
static int
check_str_body(struct check *c, size_t hdr_at, size_t len, size_t min_len,
               size_t *start)
{
	int rv;

	if (len < min_len) {
		return check_fail(c, TB_ECANON, hdr_at,
		                  "string of %zu bytes has a longer header "
		                  "than needed",
		                  len);
	}
	if (len > c->lim->max_str) {
		return check_fail(c, TB_ETOOBIG, hdr_at,
		                  "string of %zu bytes exceeds %zu", len,
		                  c->lim->max_str);
	}
	if ((rv = check_need(c, len, hdr_at)) != 0) {
		return rv;
	}
	if (!utf8_valid(c->p + c->off, len)) {
		return check_fail(c, TB_EMALFORMED, c->off,
		                  "string is not valid UTF-8 (or holds NUL)");
	}
	*start = c->off;
	c->off += len;
	return TB_OK;
}

/* check_str reads one string value (used for values and map keys). */
static int
check_str(struct check *c, size_t *start, size_t *len, bool *is_str)
{
	size_t at = c->off;
	uint8_t b = c->p[c->off];
	int rv;

	*is_str = true;
	if ((b & 0xe0) == 0xa0) {
		c->off++;
		*len = b & 0x1f;
		return check_str_body(c, at, *len, 0, start);
	}
	if (b == 0xd9 || b == 0xda || b == 0xdb) {
		size_t k = b == 0xd9 ? 1 : b == 0xda ? 2 : 4;
		size_t min = b == 0xd9 ? 32 : b == 0xda ? 256 : 65536;
		if ((rv = check_need(c, 1 + k, at)) != 0) {
			return rv;
		}
		*len = (size_t)check_be(c->p + c->off + 1, k);
		c->off += 1 + k;
		return check_str_body(c, at, *len, min, start);
	}
	*is_str = false;
	return TB_OK;
}

static int
check_count(struct check *c, size_t at, uint64_t count, size_t min_bytes)
{
	if (count > (c->n - c->off) / min_bytes) {
		return check_fail(c, TB_ETRUNC, at,
		                  "declares %llu elements but only %zu bytes "
		                  "are left",
		                  (unsigned long long)count, c->n - c->off);
	}
	c->items += (size_t)count;
	if (c->items > c->lim->max_items) {
		return check_fail(c, TB_ETOOBIG, at,
		                  "more than %zu elements in all",
		                  c->lim->max_items);
	}
	return TB_OK;
}

static int
check_map(struct check *c, size_t at, uint64_t count, int depth)
{
	size_t prev = 0, prev_len = 0, i;
	int rv;

	if ((rv = check_count(c, at, count, 2)) != 0) {
		return rv;
	}
	for (i = 0; i < count; i++) {
		size_t kat = c->off, kstart, klen, m;
		bool is_str;
		int cmp;

		if ((rv = check_need(c, 1, kat)) != 0) {
			return rv;
		}
		if ((rv = check_str(c, &kstart, &klen, &is_str)) != 0) {
			return rv;
		}
		if (!is_str) {
			return check_fail(c, TB_ETYPE, kat,
			                  "map key is not a string");
		}
		if (i > 0) {
			m = prev_len < klen ? prev_len : klen;
			cmp = memcmp(c->p + prev, c->p + kstart, m);
			if (cmp == 0 && prev_len == klen) {
				return check_fail(c, TB_EDUP, kat,
				                  "duplicate map key '%.*s'",
				                  (int)(klen > 64 ? 64 : klen),
				                  (const char *)c->p + kstart);
			}
			if (cmp > 0 || (cmp == 0 && prev_len > klen)) {
				return check_fail(
				    c, TB_ECANON, kat,
				    "map keys not sorted ('%.*s' after '%.*s')",
				    (int)(klen > 64 ? 64 : klen),
				    (const char *)c->p + kstart,
				    (int)(prev_len > 64 ? 64 : prev_len),
				    (const char *)c->p + prev);
			}
		}
		prev = kstart;
		prev_len = klen;
		if ((rv = check_value(c, depth + 1)) != 0) {
			return rv;
		}
	}
	return TB_OK;
}

static int
check_array(struct check *c, size_t at, uint64_t count, int depth)
{
	uint64_t i;
	int rv;

	if ((rv = check_count(c, at, count, 1)) != 0) {
		return rv;
	}
	for (i = 0; i < count; i++) {
		if ((rv = check_value(c, depth + 1)) != 0) {
			return rv;
		}
	}
	return TB_OK;
}

/* check_int handles 0xcc..0xd3 and refuses longer-than-needed forms. */
static int
check_int(struct check *c, size_t at, uint8_t b)
{
	static const size_t widths[] = { 1, 2, 4, 8 };
	bool is_signed = b >= 0xd0;
	size_t k = widths[(b - (is_signed ? 0xd0 : 0xcc)) & 3];
	uint64_t u;
	int64_t s;
	int rv;

	if ((rv = check_need(c, 1 + k, at)) != 0) {
		return rv;
	}
	u = check_be(c->p + c->off + 1, k);
	c->off += 1 + k;
	if (!is_signed) {
		static const uint64_t min[] = { 128, 256, 65536, 1ull << 32 };
		if (u < min[b - 0xcc]) {
			return check_fail(c, TB_ECANON, at,
			                  "integer %llu not in its shortest "
			                  "form",
			                  (unsigned long long)u);
		}
		if (u > INT64_MAX) {
			return check_fail(
			    c, TB_ERANGE, at,
			    "integer %llu exceeds the int64 range",
			    (unsigned long long)u);
		}
		return TB_OK;
	}
	/* Sign-extend the k-byte two's complement value. */
	if (k < 8 && (u >> (8 * k - 1)) != 0) {
		u |= ~0ull << (8 * k);
	}
	memcpy(&s, &u, sizeof(s));
	if (s >= 0) {
		return check_fail(c, TB_ECANON, at,
		                  "non-negative integer %lld in a signed form",
		                  (long long)s);
	}
	if ((k == 1 && s >= -32) || (k == 2 && s >= -128) ||
	    (k == 4 && s >= -32768) || (k == 8 && s >= -2147483648LL)) {
		return check_fail(c, TB_ECANON, at,
		                  "integer %lld not in its shortest form",
		                  (long long)s);
	}
	return TB_OK;
}

static int
check_value(struct check *c, int depth)
{
	size_t at = c->off, start, len;
	uint8_t b;
	bool is_str;
	int rv;

	if (depth > c->lim->max_depth) {
		return check_fail(c, TB_EDEPTH, at, "nested deeper than %d",
		                  c->lim->max_depth);
	}
	if ((rv = check_need(c, 1, at)) != 0) {
		return rv;
	}
	b = c->p[at];
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
		c->off++;
		return TB_OK;
	}
	if ((rv = check_str(c, &start, &len, &is_str)) != 0 || is_str) {
		return rv;
	}
	if ((b & 0xf0) == 0x90) {
		c->off++;
		return check_array(c, at, b & 0x0f, depth);
	}
	if ((b & 0xf0) == 0x80) {
		c->off++;
		return check_map(c, at, b & 0x0f, depth);
	}
	if (b >= 0xcc && b <= 0xd3) {
		return check_int(c, at, b);
	}
	if (b == 0xdc || b == 0xdd || b == 0xde || b == 0xdf) {
		size_t k = (b == 0xdc || b == 0xde) ? 2 : 4;
		uint64_t count;
		if ((rv = check_need(c, 1 + k, at)) != 0) {
			return rv;
		}
		count = check_be(c->p + at + 1, k);
		c->off += 1 + k;
		if (count < (k == 2 ? 16u : 65536u)) {
			return check_fail(c, TB_ECANON, at,
			                  "%s of %llu elements has a longer "
			                  "header than needed",
			                  b <= 0xdd ? "array" : "map",
			                  (unsigned long long)count);
		}
		return b <= 0xdd ? check_array(c, at, count, depth)
		                 : check_map(c, at, count, depth);
	}
	if (b == 0xca || b == 0xcb) {
		return check_fail(c, TB_ETYPE, at, "floats are not allowed");
	}
	if (b == 0xc4 || b == 0xc5 || b == 0xc6) {
		return check_fail(c, TB_ETYPE, at, "bin is not allowed");
	}
	if (b == 0xc1) {
		return check_fail(c, TB_EMALFORMED, at,
		                  "byte 0xc1 is never used");
	}
	return check_fail(c, TB_ETYPE, at, "ext types are not allowed");
}

int
canon_check(const uint8_t *p, size_t n, const struct canon_limits *lim,
            char *errmsg, size_t errlen)
{
	struct check c = { p, n, 0, 0, lim, errmsg, errlen };
	int rv;

	if (lim == NULL) {
		c.lim = &canon_default_limits;
	}
	if (n > c.lim->max_bytes) {
		return check_fail(&c, TB_ETOOBIG, 0,
		                  "input of %zu bytes exceeds %zu", n,
		                  c.lim->max_bytes);
	}
	if (n == 0) {
		return check_fail(&c, TB_ETRUNC, 0, "empty input");
	}
	if ((rv = check_value(&c, 1)) != 0) {
		return rv;
	}
	if (c.off != n) {
		return check_fail(&c, TB_EMALFORMED, c.off,
		                  "%zu trailing bytes after the value",
		                  n - c.off);
	}
	return TB_OK;
}

/* ---- encoding ---------------------------------------------------------- */

struct enc {
	struct canon_buf *out;
	char *errmsg;
	size_t errlen;
	const char *skip;            /* top-level key to leave out, or NULL */
	const struct canon_raw *raw; /* top-level values already encoded */
	size_t nraw;
};

/* raw_of returns the known bytes of top-level member k = v, or NULL. */
static const struct canon_raw *
raw_of(const struct enc *e, const char *k, const json_t *v)
{
	size_t i;

	for (i = 0; i < e->nraw; i++) {
		if (e->raw[i].v == v && !strcmp(e->raw[i].key, k)) {
			return &e->raw[i];
		}
	}
	return NULL;
}

/* The msgpack forms are schema/canon_write.h's: the shortest ones, as
 * msgpack-c chose them and as canon_check demands. */

/* A member of an object being encoded: its key, the key's length and its
 * value, so that the sorted members need no second lookup. */
struct enc_member {
	const char *k;
	size_t kl;
	json_t *v;
};

/* member_cmp orders keys as strcmp does (they hold no NUL): bytewise,
 * unsigned, a prefix first. */
static int
member_cmp(const void *a, const void *b)
{
	const struct enc_member *x = a, *y = b;
	int c = memcmp(x->k, y->k, x->kl < y->kl ? x->kl : y->kl);

	return c != 0 ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

/* Objects up to this size are sorted on the stack by insertion (most are:
 * a case record has 26 members); larger ones are allocated and qsorted. */
#define ENC_SMALL_OBJECT 32

/* Where enc_value is in the value, as a chain of frames on the C stack:
 * the JSON path ("$.form.materials[2]") is only rendered for an error
 * message. Building it with snprintf for every value encoded was a
 * quarter of the cost of applying a command. */
struct enc_path {
	const struct enc_path *parent; /* NULL at the root ("$") */
	const char *key;               /* an object member, or NULL */
	size_t idx;                    /* else an array index */
};

/* enc_path_str renders p as tb_path_key/tb_path_idx would have, level by
 * level (including truncation at TB_DIAG_PATH). */
static const char *
enc_path_str(const struct enc_path *p, char *out, size_t n)
{
	char parent[TB_DIAG_PATH];

	if (p->parent == NULL) {
		snprintf(out, n, "$");
		return out;
	}
	enc_path_str(p->parent, parent, sizeof(parent));
	if (p->key != NULL) {
		tb_path_key(out, n, parent, p->key);
	} else {
		tb_path_idx(out, n, parent, p->idx);
	}
	return out;
}

static int enc_value(struct enc *e, const json_t *v,
                     const struct enc_path *path, int depth);

static int
enc_object(struct enc *e, const json_t *v, const struct enc_path *path,
           int depth)
{
	char where[TB_DIAG_PATH];
	struct enc_member small[ENC_SMALL_OBJECT], *m = small, t;
	size_t n = json_object_size(v), i = 0, j, klen;
	const char *k;
	json_t *x;
	int rv = TB_OK;

	if (n > ENC_SMALL_OBJECT && (m = calloc(n, sizeof(*m))) == NULL) {
		return TB_ENOMEM;
	}
	json_object_keylen_foreach((json_t *)v, k, klen, x)
	{
		/* Keys are handled as C strings below: one holding NUL would
		 * be cut short and collide with another key. */
		if (memchr(k, 0, klen) != NULL) {
			snprintf(e->errmsg, e->errlen,
			         "%s: keys may not hold NUL",
			         enc_path_str(path, where, sizeof(where)));
			if (m != small) {
				free(m);
			}
			return TB_EMALFORMED;
		}
		if (depth == 1 && e->skip != NULL && !strcmp(k, e->skip)) {
			continue;
		}
		m[i].k = k;
		m[i].kl = klen;
		m[i++].v = x;
	}
	if (m != small) {
		qsort(m, i, sizeof(*m), member_cmp);
	} else {
		for (j = 1; j < i; j++) {
			size_t h = j;
			t = m[j];
			for (; h > 0 && member_cmp(&m[h - 1], &t) > 0; h--) {
				m[h] = m[h - 1];
			}
			m[h] = t;
		}
	}
	canon_put_map(e->out, i);
	for (j = 0; j < i && rv == TB_OK; j++) {
		struct enc_path sub = { path, m[j].k, 0 };
		const struct canon_raw *r =
		    depth == 1 ? raw_of(e, m[j].k, m[j].v) : NULL;
		canon_put_str(e->out, m[j].k, m[j].kl);
		if (r != NULL) {
			canon_buf_append(e->out, r->p, r->n);
			continue;
		}
		rv = enc_value(e, m[j].v, &sub, depth + 1);
	}
	if (m != small) {
		free(m);
	}
	return rv;
}

static int
enc_value(struct enc *e, const json_t *v, const struct enc_path *path,
          int depth)
{
	char where[TB_DIAG_PATH];
	size_t i;
	int rv;

	if (depth > CANON_ENCODE_DEPTH) {
		snprintf(e->errmsg, e->errlen, "%s: nested deeper than %d",
		         enc_path_str(path, where, sizeof(where)),
		         CANON_ENCODE_DEPTH);
		return TB_EDEPTH;
	}
	switch (json_typeof(v)) {
	case JSON_NULL:
		canon_put_nil(e->out);
		break;
	case JSON_TRUE:
		canon_put_bool(e->out, true);
		break;
	case JSON_FALSE:
		canon_put_bool(e->out, false);
		break;
	case JSON_INTEGER: {
		canon_put_int(e->out, json_integer_value(v));
		break;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (memchr(s, 0, n) != NULL) {
			snprintf(e->errmsg, e->errlen,
			         "%s: strings may not hold NUL",
			         enc_path_str(path, where, sizeof(where)));
			return TB_EMALFORMED;
		}
		canon_put_str(e->out, s, n);
		break;
	}
	case JSON_ARRAY:
		canon_put_array(e->out, json_array_size(v));
		for (i = 0; i < json_array_size(v); i++) {
			struct enc_path sub = { path, NULL, i };
			rv =
			    enc_value(e, json_array_get(v, i), &sub, depth + 1);
			if (rv != 0) {
				return rv;
			}
		}
		break;
	case JSON_OBJECT:
		return enc_object(e, v, path, depth);
	case JSON_REAL:
	default:
		snprintf(e->errmsg, e->errlen,
		         "%s: numbers must be integers (no floats)",
		         enc_path_str(path, where, sizeof(where)));
		return TB_ETYPE;
	}
	return e->out->err;
}

/* enc_top encodes v as e's top-level value: the buffer's own error wins
 * over a clean encode, and running out of memory is said in errmsg. */
static int
enc_top(struct enc *e, const json_t *v)
{
	struct enc_path root = { NULL, NULL, 0 };
	int rv = enc_value(e, v, &root, 1);

	if (rv == TB_OK && e->out->err != 0) {
		rv = e->out->err;
	}
	if (rv == TB_ENOMEM) {
		snprintf(e->errmsg, e->errlen, "out of memory encoding");
	}
	return rv;
}

int
canon_encode_without(const json_t *v, const char *skip, struct canon_buf *out,
                     char *errmsg, size_t errlen)
{
	struct enc e = {
		.out = out, .errmsg = errmsg, .errlen = errlen, .skip = skip
	};

	return enc_top(&e, v);
}

int
canon_encode_raw(const json_t *v, const struct canon_raw *raw, size_t nraw,
                 struct canon_buf *out, char *errmsg, size_t errlen)
{
	struct enc e = { .out = out,
		         .errmsg = errmsg,
		         .errlen = errlen,
		         .raw = raw,
		         .nraw = nraw };

	return enc_top(&e, v);
}

int
canon_encode(const json_t *v, struct canon_buf *out, char *errmsg,
             size_t errlen)
{
	return canon_encode_without(v, NULL, out, errmsg, errlen);
}

void
canon_hash(const uint8_t *p, size_t n, uint8_t out[CANON_HASH_LEN])
{
	crypto_generichash(out, CANON_HASH_LEN, p, n, NULL, 0);
}

int
canon_hash_value(const json_t *v, const char *skip, uint8_t out[CANON_HASH_LEN],
                 char *errmsg, size_t errlen)
{
	struct canon_buf b = { 0 };
	int rv;

	if ((rv = canon_encode_without(v, skip, &b, errmsg, errlen)) == 0) {
		canon_hash(b.data, b.len, out);
	}
	canon_buf_free(&b);
	return rv;
}

void
canon_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

int
canon_unhex(const char *s, uint8_t *out, size_t n)
{
	size_t i;

	if (s == NULL || strlen(s) != 2 * n) {
		return TB_ECODE;
	}
	for (i = 0; i < n; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return TB_ECODE;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return TB_OK;
}
