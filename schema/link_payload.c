/* Decoding a link frame's payload (schema/link_payload.h). */
#include "schema/link_payload.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int fail(char *errmsg, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *errmsg, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errmsg != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errmsg, errlen, fmt, ap);
		va_end(ap);
	}
	return TB_EMALFORMED;
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool
is_msg(uint8_t kind)
{
	return kind == LK_MSG || kind == LK_REQ || kind == LK_RESP;
}

int
link_payload_decode_msg(const uint8_t *m, size_t n, struct link_payload *out,
                        char *errmsg, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (n < LINK_HDR) {
		return fail(errmsg, errlen,
		            "a message of %zu bytes, shorter than its %d-byte "
		            "header",
		            n, LINK_HDR);
	}
	if (!is_msg(m[0]) || (m[1] & ~(m[0] == LK_RESP ? LF_ERROR : 0)) != 0 ||
	    m[2] != 0 || m[3] != 0) {
		return fail(errmsg, errlen,
		            "message kind %u flags %u: not a message", m[0],
		            m[1]);
	}
	out->kind = m[0];
	out->flags = m[1];
	out->type = get_u32(m + 4);
	out->id = get_u64(m + 8);
	out->body = m + LINK_HDR;
	out->len = n - LINK_HDR;
	return TB_OK;
}

int
link_payload_decode(const uint8_t *p, size_t n, struct link_payload *out,
                    char *errmsg, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (p == NULL || n < LINK_CHUNK_PRE || p[2] != 0 || p[3] != 0) {
		return fail(errmsg, errlen,
		            "a payload of %zu bytes without a valid kind", n);
	}
	if (is_msg(p[0])) {
		return link_payload_decode_msg(p, n, out, errmsg, errlen);
	}
	if (p[0] < LK_CHUNK || p[0] > LK_HELLO) {
		return fail(errmsg, errlen, "unknown payload kind %u", p[0]);
	}
	if (p[1] != 0) {
		return fail(errmsg, errlen, "payload kind %u flags %u", p[0],
		            p[1]);
	}
	out->kind = p[0];
	switch (p[0]) {
	case LK_CHUNK:
		out->body = p + LINK_CHUNK_PRE;
		out->len = n - LINK_CHUNK_PRE;
		return TB_OK;
	case LK_CREDIT:
		if (n != LINK_CREDIT_LEN) {
			return fail(errmsg, errlen,
			            "a credit of %zu bytes (it has %d)", n,
			            LINK_CREDIT_LEN);
		}
		out->count = get_u64(p + LINK_CHUNK_PRE);
		return TB_OK;
	default: /* LK_HELLO */
		if (n != LINK_HELLO_LEN) {
			return fail(errmsg, errlen,
			            "a HELLO of %zu bytes (it has %d)", n,
			            LINK_HELLO_LEN);
		}
		return TB_OK;
	}
}

size_t
link_payload_header(uint8_t out[LINK_HDR], uint8_t kind, uint8_t flags,
                    uint32_t type, uint64_t id)
{
	out[0] = kind;
	out[1] = is_msg(kind) ? flags : 0;
	out[2] = out[3] = 0;
	if (!is_msg(kind)) {
		return LINK_CHUNK_PRE;
	}
	put_u32(out + 4, type);
	put_u32(out + 8, (uint32_t)(id >> 32));
	put_u32(out + 12, (uint32_t)id);
	return LINK_HDR;
}
