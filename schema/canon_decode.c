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

int
canon_decode_checked(const uint8_t *p, json_t **out)
{
	struct raw r = { p, 0 };

	*out = raw_value(&r);
	return *out != NULL ? TB_OK : TB_ENOMEM;
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

/* The members canon_decode_shell leaves empty, and where they are. */
struct shell {
	const char *member;
	const char *const *keys;
	size_t nkeys;
	struct canon_span *spans;
	size_t made;
};

/* shell_key: the index of key k (kl bytes) in sh->keys, or nkeys. */
static size_t
shell_key(const struct shell *sh, const char *k, size_t kl)
{
	size_t i;

	for (i = 0; i < sh->nkeys; i++) {
		if (sh->keys[i][0] == k[0] && strlen(sh->keys[i]) == kl &&
		    !memcmp(sh->keys[i], k, kl)) {
			break;
		}
	}
	return i;
}

/* raw_shell decodes the map of count members at r (its header read) as
 * raw_value does, except that at level 0 the member sh->member, if a
 * map, is decoded the same way at level 1, and at level 1 the members
 * named in sh->keys have their bytes noted and become empty ones if
 * arrays or maps. */
static json_t *
raw_shell(struct raw *r, size_t count, struct shell *sh, int level)
{
	json_t *v = json_object(), *e;
	size_t i, j, kl, at;
	const char *k;
	uint8_t b;
	char kind;

	for (i = 0; v != NULL && i < count; i++) {
		kl = raw_len(r, r->p[r->off++], &kind);
		k = (const char *)r->p + r->off;
		r->off += kl;
		at = r->off;
		b = r->p[at];
		j = level == 1 && kl > 0 ? shell_key(sh, k, kl) : sh->nkeys;
		if (j < sh->nkeys) {
			r->off++;
			(void)raw_len(r, b, &kind);
			r->off = at;
			if (kind == 'a' || kind == 'm') {
				raw_skip(r);
				e = kind == 'm' ? json_object() : json_array();
				sh->made++;
			} else {
				e = raw_value(r);
			}
			sh->spans[j].p = r->p + at;
			sh->spans[j].n = r->off - at;
		} else if (level == 0 &&
		           ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf) &&
		           strlen(sh->member) == kl &&
		           !memcmp(sh->member, k, kl)) {
			r->off++;
			e = raw_shell(r, raw_len(r, b, &kind), sh, 1);
		} else {
			e = raw_value(r);
		}
		if (e == NULL ||
		    json_object_setn_new_nocheck(v, k, kl, e) != 0) {
			json_decref(v);
			v = NULL;
		}
	}
	return v;
}

int
canon_decode_shell(const uint8_t *p, size_t n, const struct canon_limits *lim,
                   const char *member, const char *const *keys, size_t nkeys,
                   json_t **out, struct canon_span *spans, size_t *made,
                   char *errmsg, size_t errlen)
{
	struct shell sh = { member, keys, nkeys, spans, 0 };
	struct canon_limits l = lim != NULL ? *lim : canon_default_limits;
	struct raw r = { p, 1 };
	size_t count;
	char kind;
	int rv;

	*out = NULL;
	*made = 0;
	memset(spans, 0, nkeys * sizeof(*spans));
	if (l.max_depth > CANON_DECODE_DEPTH) {
		l.max_depth = CANON_DECODE_DEPTH;
	}
	if ((rv = canon_check(p, n, &l, errmsg, errlen)) != 0) {
		return rv;
	}
	count = raw_len(&r, p[0], &kind);
	if (kind == 'm') {
		*out = raw_shell(&r, count, &sh, 0);
	} else {
		r.off = 0;
		*out = raw_value(&r);
	}
	if (*out == NULL) {
		snprintf(errmsg, errlen, "out of memory decoding");
		return TB_ENOMEM;
	}
	*made = sh.made;
	return TB_OK;
}
