/* The wire form of batched forwarded writes (consensus/fwdmsg.h): encoding
 * with msgpack-c's packer, decoding with a strict reader. */
#include "consensus/fwdmsg.h"

#include "schema/error.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *errmsg, size_t errlen, int rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *errmsg, size_t errlen, int rv, const char *fmt, ...)
{
	va_list ap;

	if (errmsg != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errmsg, errlen, fmt, ap);
		va_end(ap);
	}
	return rv;
}

/* ---- encoding --------------------------------------------------------- */

/* done hands the packed bytes to the caller. */
static int
done(msgpack_sbuffer *sb, int bad, void **out, size_t *len)
{
	if (bad) {
		msgpack_sbuffer_destroy(sb);
		return TB_ENOMEM;
	}
	*out = sb->data;
	*len = sb->size;
	return TB_OK;
}

int
fwdmsg_req_encode(const struct fwdmsg_cmd *cmds, unsigned n, void **out,
                  size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	unsigned i;
	int bad;

	if (n == 0 || n > FWDMSG_MAX) {
		return TB_EINVAL;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	bad = msgpack_pack_array(&pk, 2) != 0 || msgpack_pack_uint8(&pk, 1) ||
	      msgpack_pack_array(&pk, n) != 0;
	for (i = 0; i < n && !bad; i++) {
		bad = msgpack_pack_bin(&pk, cmds[i].n) != 0 ||
		      (cmds[i].n > 0 &&
		       msgpack_pack_bin_body(&pk, cmds[i].p, cmds[i].n) != 0);
	}
	return done(&sb, bad, out, len);
}

int
fwdmsg_ans_encode(uint64_t term, const struct fwdmsg_ans *ans, unsigned n,
                  void **out, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	unsigned i;
	size_t wn;
	int bad;

	if (n == 0 || n > FWDMSG_MAX) {
		return TB_EINVAL;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	bad = msgpack_pack_array(&pk, 3) != 0 || msgpack_pack_uint8(&pk, 1) ||
	      msgpack_pack_uint64(&pk, term) != 0 ||
	      msgpack_pack_array(&pk, n) != 0;
	for (i = 0; i < n && !bad; i++) {
		if (ans[i].code == 0) {
			bad = msgpack_pack_uint64(&pk, ans[i].index) != 0;
			continue;
		}
		wn = ans[i].why != NULL ? strlen(ans[i].why) : 0;
		wn = wn > FWDMSG_WHY_MAX ? FWDMSG_WHY_MAX : wn;
		bad = msgpack_pack_array(&pk, 2) != 0 ||
		      msgpack_pack_uint32(&pk, (uint32_t)ans[i].code) != 0 ||
		      msgpack_pack_str(&pk, wn) != 0 ||
		      (wn > 0 && msgpack_pack_str_body(&pk, ans[i].why, wn));
	}
	return done(&sb, bad, out, len);
}

/* ---- decoding --------------------------------------------------------- */

struct rd {
	const uint8_t *p, *end;
	char *errmsg;
	size_t errlen;
};

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

static int
need(struct rd *r, size_t n, const char *what)
{
	if ((size_t)(r->end - r->p) < n) {
		return fail(r->errmsg, r->errlen, TB_ETRUNC,
		            "forwarded batch: %s: input ends %zu bytes early",
		            what, n - (size_t)(r->end - r->p));
	}
	return TB_OK;
}

static int
wrong(struct rd *r, const char *what, const char *want)
{
	return fail(r->errmsg, r->errlen, TB_ETYPE,
	            "forwarded batch: %s: %s expected, found msgpack 0x%02x",
	            what, want, r->p[0]);
}

static int
rd_u64(struct rd *r, const char *what, uint64_t *v)
{
	static const unsigned width[] = { 1, 2, 4, 8 };
	uint8_t b;
	int rv;

	if ((rv = need(r, 1, what)) != TB_OK) {
		return rv;
	}
	b = r->p[0];
	if (b <= 0x7f) {
		*v = b;
		r->p++;
		return TB_OK;
	}
	if (b < 0xcc || b > 0xcf) {
		return wrong(r, what, "an unsigned integer");
	}
	if ((rv = need(r, 1 + width[b - 0xcc], what)) != TB_OK) {
		return rv;
	}
	*v = be(r->p + 1, width[b - 0xcc]);
	r->p += 1 + width[b - 0xcc];
	return TB_OK;
}

/* rd_array reads an array header of min..max elements. */
static int
rd_array(struct rd *r, const char *what, uint64_t min, uint64_t max,
         uint64_t *n)
{
	uint8_t b;
	unsigned w = 0;
	int rv;

	if ((rv = need(r, 1, what)) != TB_OK) {
		return rv;
	}
	b = r->p[0];
	if ((b & 0xf0) == 0x90) {
		*n = b & 0x0f;
	} else if (b == 0xdc || b == 0xdd) {
		w = b == 0xdc ? 2 : 4;
		if ((rv = need(r, 1 + w, what)) != TB_OK) {
			return rv;
		}
		*n = be(r->p + 1, w);
	} else {
		return wrong(r, what, "an array");
	}
	if (*n < min || *n > max) {
		return fail(r->errmsg, r->errlen, TB_ETOOBIG,
		            "forwarded batch: %s: %llu elements, not %llu to "
		            "%llu",
		            what, (unsigned long long)*n,
		            (unsigned long long)min, (unsigned long long)max);
	}
	r->p += 1 + w;
	return TB_OK;
}

/* rd_raw reads a bin (str false) or str (str true) and points at it. */
static int
rd_raw(struct rd *r, const char *what, bool str, const uint8_t **p, size_t *n)
{
	uint8_t b;
	unsigned w = 0;
	int rv;

	if ((rv = need(r, 1, what)) != TB_OK) {
		return rv;
	}
	b = r->p[0];
	if (str && (b & 0xe0) == 0xa0) {
		*n = b & 0x1f;
	} else if (str ? (b >= 0xd9 && b <= 0xdb) : (b >= 0xc4 && b <= 0xc6)) {
		w = 1u << (b - (str ? 0xd9 : 0xc4));
		if ((rv = need(r, 1 + w, what)) != TB_OK) {
			return rv;
		}
		*n = (size_t)be(r->p + 1, w);
	} else {
		return wrong(r, what, str ? "a string" : "binary data");
	}
	r->p += 1 + w;
	if ((rv = need(r, *n, what)) != TB_OK) {
		r->p -= 1 + w;
		return rv;
	}
	*p = r->p;
	r->p += *n;
	return TB_OK;
}

/* rd_head reads [1, ... of an array of `fields` elements. */
static int
rd_head(struct rd *r, uint64_t fields)
{
	uint64_t n, v;
	int rv;

	if ((rv = rd_array(r, "the message", fields, fields, &n)) != TB_OK ||
	    (rv = rd_u64(r, "the version", &v)) != TB_OK) {
		return rv;
	}
	if (v != 1) {
		return fail(r->errmsg, r->errlen, TB_EMALFORMED,
		            "forwarded batch: version %llu, this build reads 1",
		            (unsigned long long)v);
	}
	return TB_OK;
}

static int
rd_end(struct rd *r)
{
	if (r->p != r->end) {
		return fail(r->errmsg, r->errlen, TB_EMALFORMED,
		            "forwarded batch: %zu trailing bytes",
		            (size_t)(r->end - r->p));
	}
	return TB_OK;
}

int
fwdmsg_req_decode(const uint8_t *p, size_t len, struct fwdmsg_cmd *cmds,
                  unsigned max, unsigned *n, char *errmsg, size_t errlen)
{
	struct rd r = { p, p + len, errmsg, errlen };
	uint64_t count, i;
	int rv;

	if ((rv = rd_head(&r, 2)) != TB_OK ||
	    (rv = rd_array(&r, "the commands", 1,
	                   max < FWDMSG_MAX ? max : FWDMSG_MAX, &count)) !=
	        TB_OK) {
		return rv;
	}
	/* Each bin takes at least one byte: a count beyond the bytes left
	 * is truncated input, found before the loop. */
	if (count > (uint64_t)(r.end - r.p)) {
		return fail(errmsg, errlen, TB_ETRUNC,
		            "forwarded batch: %llu commands in %zu bytes",
		            (unsigned long long)count, (size_t)(r.end - r.p));
	}
	for (i = 0; i < count; i++) {
		if ((rv = rd_raw(&r, "a command", false, &cmds[i].p,
		                 &cmds[i].n)) != TB_OK) {
			return rv;
		}
		if (cmds[i].n == 0) {
			return fail(errmsg, errlen, TB_EMALFORMED,
			            "forwarded batch: command %llu is empty",
			            (unsigned long long)i);
		}
	}
	*n = (unsigned)count;
	return rd_end(&r);
}

int
fwdmsg_ans_decode(const uint8_t *p, size_t len, uint64_t *term,
                  struct fwdmsg_ans *ans, unsigned want, char *errmsg,
                  size_t errlen)
{
	struct rd r = { p, p + len, errmsg, errlen };
	uint64_t count, i, two, code;
	const uint8_t *why;
	int rv;

	if ((rv = rd_head(&r, 3)) != TB_OK ||
	    (rv = rd_u64(&r, "the term", term)) != TB_OK ||
	    (rv = rd_array(&r, "the entries", want, want, &count)) != TB_OK) {
		return rv;
	}
	for (i = 0; i < count; i++) {
		memset(&ans[i], 0, sizeof(ans[i]));
		if ((rv = need(&r, 1, "an entry")) != TB_OK) {
			return rv;
		}
		if ((r.p[0] & 0xf0) != 0x90 && r.p[0] != 0xdc &&
		    r.p[0] != 0xdd) {
			if ((rv = rd_u64(&r, "an index", &ans[i].index)) !=
			    TB_OK) {
				return rv;
			}
			if (ans[i].index == 0) {
				return fail(errmsg, errlen, TB_EMALFORMED,
				            "forwarded batch: entry %llu has "
				            "index 0",
				            (unsigned long long)i);
			}
			continue;
		}
		if ((rv = rd_array(&r, "a refusal", 2, 2, &two)) != TB_OK ||
		    (rv = rd_u64(&r, "a refusal's code", &code)) != TB_OK ||
		    (rv = rd_raw(&r, "a refusal's reason", true, &why,
		                 &ans[i].why_len)) != TB_OK) {
			return rv;
		}
		if (code == 0 || code > 0xffff ||
		    ans[i].why_len > FWDMSG_WHY_MAX) {
			return fail(errmsg, errlen, TB_EMALFORMED,
			            "forwarded batch: entry %llu: a refusal's "
			            "code is 1 to 65535 and its reason at most "
			            "%u bytes",
			            (unsigned long long)i, FWDMSG_WHY_MAX);
		}
		ans[i].code = (int)code;
		ans[i].why = (const char *)why;
	}
	return rd_end(&r);
}

int
fwdmsg_restamp(uint8_t *p, size_t n, int64_t at)
{
	uint64_t v = (uint64_t)at;
	int i;

	/* fixmap or map16/map32 header, then "at" (fixstr of 2). */
	size_t off = 0;

	if (n >= 1 && (p[0] & 0xf0) == 0x80) {
		off = 1;
	} else if (n >= 3 && p[0] == 0xde) {
		off = 3;
	} else if (n >= 5 && p[0] == 0xdf) {
		off = 5;
	} else {
		return TB_EMALFORMED;
	}
	if (at < ((int64_t)1 << 32) || n < off + 12 || p[off] != 0xa2 ||
	    p[off + 1] != 'a' || p[off + 2] != 't' || p[off + 3] != 0xcf) {
		return TB_EMALFORMED;
	}
	for (i = 7; i >= 0; i--) {
		p[off + 4 + (size_t)i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
	return TB_OK;
}
