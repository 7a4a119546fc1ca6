/* consensus/msgrd.h: the strict msgpack reader of consensus/'s wire forms. */
#include "consensus/msgrd.h"

#include "schema/error.h"

#include <stdio.h>

static uint64_t
be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

size_t
msgrd_left(const struct msgrd *r)
{
	return (size_t)(r->end - r->p);
}

int
msgrd_need(struct msgrd *r, size_t n, const char *what)
{
	if (msgrd_left(r) < n) {
		return tb_errf(r->errmsg, r->errlen, TB_ETRUNC,
		               "%s: %s: input ends %zu bytes early", r->kind,
		               what, n - msgrd_left(r));
	}
	return TB_OK;
}

int
msgrd_wrong(struct msgrd *r, const char *what, const char *want)
{
	return tb_errf(r->errmsg, r->errlen, TB_ETYPE,
	               "%s: %s: %s expected, found msgpack 0x%02x", r->kind,
	               what, want, r->p[0]);
}

/* wide reads the w-byte big-endian number after the tag at r->p (not
 * moving past it), or TB_ETRUNC naming what. */
static int
wide(struct msgrd *r, const char *what, unsigned w, uint64_t *v)
{
	int rv = msgrd_need(r, 1 + w, what);

	if (rv == TB_OK) {
		*v = be(r->p + 1, w);
	}
	return rv;
}

int
msgrd_u64(struct msgrd *r, const char *what, uint64_t *v)
{
	static const unsigned width[] = { 1, 2, 4, 8 };
	uint8_t b;
	int rv;

	if ((rv = msgrd_need(r, 1, what)) != TB_OK) {
		return rv;
	}
	b = r->p[0];
	if (b <= 0x7f) {
		*v = b;
		r->p++;
		return TB_OK;
	}
	if (b < 0xcc || b > 0xcf) {
		return msgrd_wrong(r, what, "an unsigned integer");
	}
	if ((rv = wide(r, what, width[b - 0xcc], v)) != TB_OK) {
		return rv;
	}
	r->p += 1 + width[b - 0xcc];
	return TB_OK;
}

int
msgrd_array(struct msgrd *r, const char *what, uint64_t min, uint64_t max,
            uint64_t *n)
{
	uint8_t b;
	unsigned w = 0;
	int rv;

	if ((rv = msgrd_need(r, 1, what)) != TB_OK) {
		return rv;
	}
	b = r->p[0];
	if ((b & 0xf0) == 0x90) {
		*n = b & 0x0f;
	} else if (b == 0xdc || b == 0xdd) {
		w = b == 0xdc ? 2 : 4;
		if ((rv = wide(r, what, w, n)) != TB_OK) {
			return rv;
		}
	} else {
		return msgrd_wrong(r, what, "an array");
	}
	if (*n > max && min == 0) {
		return tb_errf(r->errmsg, r->errlen, TB_ETOOBIG,
		               "%s: %s: %llu elements, over %llu", r->kind,
		               what, (unsigned long long)*n,
		               (unsigned long long)max);
	}
	if (*n < min || *n > max) {
		return tb_errf(r->errmsg, r->errlen, TB_ETOOBIG,
		               "%s: %s: %llu elements, not %llu to %llu",
		               r->kind, what, (unsigned long long)*n,
		               (unsigned long long)min,
		               (unsigned long long)max);
	}
	r->p += 1 + w;
	return TB_OK;
}

int
msgrd_raw(struct msgrd *r, const char *what, bool str, const uint8_t **p,
          size_t *n)
{
	uint64_t v;
	uint8_t b;
	unsigned w = 0;
	int rv;

	if ((rv = msgrd_need(r, 1, what)) != TB_OK) {
		return rv;
	}
	b = r->p[0];
	if (str && (b & 0xe0) == 0xa0) {
		*n = b & 0x1f;
	} else if (str ? (b >= 0xd9 && b <= 0xdb) : (b >= 0xc4 && b <= 0xc6)) {
		w = 1u << (b - (str ? 0xd9 : 0xc4));
		if ((rv = wide(r, what, w, &v)) != TB_OK) {
			return rv;
		}
		*n = (size_t)v;
	} else {
		return msgrd_wrong(r, what, str ? "a string" : "binary data");
	}
	r->p += 1 + w;
	if ((rv = msgrd_need(r, *n, what)) != TB_OK) {
		r->p -= 1 + w;
		return rv;
	}
	*p = r->p;
	r->p += *n;
	return TB_OK;
}
