/* Canonical msgpack: decoding checked input into JSON (canon_check, in
 * canon.c, vouches for the bytes first). */
#include "schema/canon.h"

#include "schema/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Decoding reads checked input directly: canon_check has vouched for every
 * header, length, UTF-8 string (NUL-free), shortest form and unique,
 * sorted key, so the reader below trusts the bytes. It replaced msgpack-c's
 * unpacker, whose zone (an 8 KiB malloc per value) and object tree cost
 * more than building the JSON. */
struct raw {
	const uint8_t *p;
	size_t off;
};

static uint64_t
raw_be(struct raw *r, size_t k)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < k; i++) {
		v = (v << 8) | r->p[r->off + i];
	}
	r->off += k;
	return v;
}

/* raw_len reads the length of a string, array or map whose header byte b
 * was just consumed; *kind is 's', 'a' or 'm', or 0 for a scalar. */
static size_t
raw_len(struct raw *r, uint8_t b, char *kind)
{
	*kind = 0;
	if ((b & 0xe0) == 0xa0) {
		*kind = 's';
		return b & 0x1f;
	}
	if ((b & 0xf0) == 0x90 || (b & 0xf0) == 0x80) {
		*kind = (b & 0xf0) == 0x90 ? 'a' : 'm';
		return b & 0x0f;
	}
	switch (b) {
	case 0xd9:
		*kind = 's';
		return (size_t)raw_be(r, 1);
	case 0xda:
		*kind = 's';
		return (size_t)raw_be(r, 2);
	case 0xdb:
		*kind = 's';
		return (size_t)raw_be(r, 4);
	case 0xdc:
	case 0xde:
		*kind = b == 0xdc ? 'a' : 'm';
		return (size_t)raw_be(r, 2);
	case 0xdd:
	case 0xdf:
		*kind = b == 0xdd ? 'a' : 'm';
		return (size_t)raw_be(r, 4);
	default:
		return 0;
	}
}

/* raw_int reads an integer whose header byte b was just consumed. */
static json_int_t
raw_int(struct raw *r, uint8_t b)
{
	static const size_t widths[] = { 1, 2, 4, 8 };
	size_t k;
	uint64_t u;
	int64_t v;

	if (b <= 0x7f) {
		return b;
	}
	if (b >= 0xe0) {
		return (json_int_t)(int8_t)b;
	}
	k = widths[(b - (b >= 0xd0 ? 0xd0 : 0xcc)) & 3];
	u = raw_be(r, k);
	if (b >= 0xd0 && k < 8 && (u >> (8 * k - 1)) != 0) {
		u |= ~0ull << (8 * k);
	}
	memcpy(&v, &u, sizeof(v));
	return (json_int_t)v;
}

static json_t *
raw_value(struct raw *r)
{
	uint8_t b = r->p[r->off++];
	json_t *v, *e;
	size_t n, i, kl;
	char kind;
	const char *k;

	if (b == 0xc0) {
		return json_null();
	}
	if (b == 0xc2 || b == 0xc3) {
		return json_boolean(b == 0xc3);
	}
	n = raw_len(r, b, &kind);
	switch (kind) {
	case 's':
		v = json_stringn_nocheck((const char *)r->p + r->off, n);
		r->off += n;
		return v;
	case 'a':
		if ((v = json_array()) == NULL) {
			return NULL;
		}
		for (i = 0; i < n; i++) {
			if ((e = raw_value(r)) == NULL ||
			    json_array_append_new(v, e) != 0) {
				json_decref(v);
				return NULL;
			}
		}
		return v;
	case 'm':
		if ((v = json_object()) == NULL) {
			return NULL;
		}
		for (i = 0; i < n; i++) {
			kl = raw_len(r, r->p[r->off++], &kind);
			k = (const char *)r->p + r->off;
			r->off += kl;
			if ((e = raw_value(r)) == NULL ||
			    json_object_setn_new_nocheck(v, k, kl, e) != 0) {
				json_decref(v);
				return NULL;
			}
		}
		return v;
	default:
		return json_integer(raw_int(r, b));
	}
}

/* raw_skip steps over one value. */
static void
raw_skip(struct raw *r)
{
	uint8_t b = r->p[r->off++];
	size_t n, i;
	char kind;

	if (b == 0xc0 || b == 0xc2 || b == 0xc3) {
		return;
	}
	n = raw_len(r, b, &kind);
	if (kind == 's') {
		r->off += n;
	} else if (kind == 'a' || kind == 'm') {
		for (i = 0; i < (kind == 'm' ? 2 * n : n); i++) {
			raw_skip(r);
		}
	} else {
		(void)raw_int(r, b);
	}
}

/* msgpack-c's unpacker, which decoding once used, held at most 32 open
 * containers (MSGPACK_EMBED_STACK_SIZE); decoding still refuses deeper
 * input, precisely, whatever the caller's limit, as it always has. */
#define CANON_DECODE_DEPTH 32

int
canon_decode(const uint8_t *p, size_t n, const struct canon_limits *lim,
             json_t **out, char *errmsg, size_t errlen)
{
	struct canon_limits l = lim != NULL ? *lim : canon_default_limits;
	struct raw r = { p, 0 };
	int rv;

	*out = NULL;
	if (l.max_depth > CANON_DECODE_DEPTH) {
		l.max_depth = CANON_DECODE_DEPTH;
	}
	if ((rv = canon_check(p, n, &l, errmsg, errlen)) != 0) {
		return rv;
	}
	*out = raw_value(&r);
	if (*out == NULL) {
		snprintf(errmsg, errlen, "out of memory decoding");
		return TB_ENOMEM;
	}
	return TB_OK;
}

/* wanted: key k (len n) is one of keys[0..nkeys). */
static bool
wanted(const char *k, size_t n, const char *const *keys, size_t nkeys)
{
	size_t i;

	for (i = 0; i < nkeys; i++) {
		if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0) {
			return true;
		}
	}
	return false;
}

int
canon_decode_fields(const uint8_t *p, size_t n, const struct canon_limits *lim,
                    const char *const *keys, size_t nkeys, json_t **out,
                    char *errmsg, size_t errlen)
{
	struct canon_limits l = lim != NULL ? *lim : canon_default_limits;
	struct raw r = { p, 0 };
	size_t count, i, kl;
	const char *k;
	json_t *e;
	char kind;
	int rv;

	*out = NULL;
	if (l.max_depth > CANON_DECODE_DEPTH) {
		l.max_depth = CANON_DECODE_DEPTH;
	}
	if ((rv = canon_check(p, n, &l, errmsg, errlen)) != 0) {
		return rv;
	}
	r.off = 1;
	count = raw_len(&r, p[0], &kind);
	if (kind != 'm') {
		r.off = 0;
		*out = raw_value(&r);
	} else if ((*out = json_object()) != NULL) {
		for (i = 0; i < count; i++) {
			kl = raw_len(&r, r.p[r.off++], &kind);
			k = (const char *)r.p + r.off;
			r.off += kl;
			if (!wanted(k, kl, keys, nkeys)) {
				raw_skip(&r);
				continue;
			}
			if ((e = raw_value(&r)) == NULL ||
			    json_object_setn_new_nocheck(*out, k, kl, e) != 0) {
				json_decref(*out);
				*out = NULL;
				break;
			}
		}
	}
	if (*out == NULL) {
		snprintf(errmsg, errlen, "out of memory decoding");
		return TB_ENOMEM;
	}
	return TB_OK;
}
