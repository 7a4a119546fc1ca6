/* The wire form of batched forwarded writes (consensus/fwdmsg.h): encoding
 * with msgpack-c's packer, decoding with a strict reader. */
#include "consensus/fwdmsg.h"

#include "consensus/msgrd.h"
#include "schema/error.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* rd_head reads [1, ... of an array of `fields` elements. */
static int
rd_head(struct msgrd *r, uint64_t fields)
{
	uint64_t n, v;
	int rv;

	if ((rv = msgrd_array(r, "the message", fields, fields, &n)) != TB_OK ||
	    (rv = msgrd_u64(r, "the version", &v)) != TB_OK) {
		return rv;
	}
	if (v != 1) {
		return tb_errf(
		    r->errmsg, r->errlen, TB_EMALFORMED,
		    "forwarded batch: version %llu, this build reads 1",
		    (unsigned long long)v);
	}
	return TB_OK;
}

static int
rd_end(struct msgrd *r)
{
	if (r->p != r->end) {
		return tb_errf(r->errmsg, r->errlen, TB_EMALFORMED,
		               "forwarded batch: %zu trailing bytes",
		               (size_t)(r->end - r->p));
	}
	return TB_OK;
}

int
fwdmsg_req_decode(const uint8_t *p, size_t len, struct fwdmsg_cmd *cmds,
                  unsigned max, unsigned *n, char *errmsg, size_t errlen)
{
	struct msgrd r = { p, p + len, errmsg, errlen, "forwarded batch" };
	uint64_t count, i;
	int rv;

	if ((rv = rd_head(&r, 2)) != TB_OK ||
	    (rv = msgrd_array(&r, "the commands", 1,
	                      max < FWDMSG_MAX ? max : FWDMSG_MAX, &count)) !=
	        TB_OK) {
		return rv;
	}
	/* Each bin takes at least one byte: a count beyond the bytes left
	 * is truncated input, found before the loop. */
	if (count > (uint64_t)(r.end - r.p)) {
		return tb_errf(errmsg, errlen, TB_ETRUNC,
		               "forwarded batch: %llu commands in %zu bytes",
		               (unsigned long long)count,
		               (size_t)(r.end - r.p));
	}
	for (i = 0; i < count; i++) {
		if ((rv = msgrd_raw(&r, "a command", false, &cmds[i].p,
		                    &cmds[i].n)) != TB_OK) {
			return rv;
		}
		if (cmds[i].n == 0) {
			return tb_errf(errmsg, errlen, TB_EMALFORMED,
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
	struct msgrd r = { p, p + len, errmsg, errlen, "forwarded batch" };
	uint64_t count, i, two, code;
	const uint8_t *why;
	int rv;

	if ((rv = rd_head(&r, 3)) != TB_OK ||
	    (rv = msgrd_u64(&r, "the term", term)) != TB_OK ||
	    (rv = msgrd_array(&r, "the entries", want, want, &count)) !=
	        TB_OK) {
		return rv;
	}
	for (i = 0; i < count; i++) {
		memset(&ans[i], 0, sizeof(ans[i]));
		if ((rv = msgrd_need(&r, 1, "an entry")) != TB_OK) {
			return rv;
		}
		if ((r.p[0] & 0xf0) != 0x90 && r.p[0] != 0xdc &&
		    r.p[0] != 0xdd) {
			if ((rv = msgrd_u64(&r, "an index", &ans[i].index)) !=
			    TB_OK) {
				return rv;
			}
			if (ans[i].index == 0) {
				return tb_errf(
				    errmsg, errlen, TB_EMALFORMED,
				    "forwarded batch: entry %llu has "
				    "index 0",
				    (unsigned long long)i);
			}
			continue;
		}
		if ((rv = msgrd_array(&r, "a refusal", 2, 2, &two)) != TB_OK ||
		    (rv = msgrd_u64(&r, "a refusal's code", &code)) != TB_OK ||
		    (rv = msgrd_raw(&r, "a refusal's reason", true, &why,
		                    &ans[i].why_len)) != TB_OK) {
			return rv;
		}
		if (code == 0 || code > 0xffff ||
		    ans[i].why_len > FWDMSG_WHY_MAX) {
			return tb_errf(
			    errmsg, errlen, TB_EMALFORMED,
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
