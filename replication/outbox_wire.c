/* The wire form of outbox frames (see outbox_wire.h). */
#include "replication/outbox_wire.h"

#include "schema/error.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool
region_ok(uint32_t code)
{
	return code >= 100000 && code <= 999999;
}

static bool
msg_ok(const struct outbox_msg *m)
{
	if (!region_ok(m->origin) || !region_ok(m->dest)) {
		return false;
	}
	if (m->type == OUTBOX_MSG_DATA) {
		return m->pos.seq != 0 && m->len <= OUTBOX_MAX_PAYLOAD &&
		       (m->len == 0 || m->payload != NULL);
	}
	if (m->type == OUTBOX_MSG_DATA_RUN) {
		const uint8_t *p = m->payload, *e;
		size_t left = m->len, elen;
		unsigned i;

		if (m->pos.seq == 0 || m->n == 0 || m->n > OUTBOX_RUN_MAX ||
		    m->pos.seq - 1 > UINT64_MAX - m->n ||
		    m->len > OUTBOX_MAX_PAYLOAD || p == NULL) {
			return false;
		}
		for (i = 0; i < m->n; i++) {
			if (!outbox_run_next(&p, &left, &e, &elen)) {
				return false;
			}
		}
		return left == 0; /* exactly n bins */
	}
	return (m->type == OUTBOX_MSG_ACK || m->type == OUTBOX_MSG_SKIP) &&
	       m->len == 0;
}

size_t
outbox_wire_size(const struct outbox_msg *m)
{
	/* fixarray, 5 uints of at most 9 bytes, bin32 header or nil; a run:
	 * an array16 header and its bins as they are. */
	if (m->type == OUTBOX_MSG_DATA_RUN) {
		return 1 + 5 * 9 + 3 + m->len;
	}
	return 1 + 5 * 9 + (m->type == OUTBOX_MSG_DATA ? 5 + m->len : 1);
}

/* A msgpack_packer writer into a fixed buffer. */
struct fixed {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

static int
fixed_write(void *data, const char *p, size_t n)
{
	struct fixed *f = data;

	if (n == 0) {
		return 0; /* an empty bin body: p may be NULL */
	}
	if (f->cap - f->len < n) {
		f->overflow = true;
		return -1;
	}
	memcpy(f->buf + f->len, p, n);
	f->len += n;
	return 0;
}

size_t
outbox_wire_encode(const struct outbox_msg *m, uint8_t *buf, size_t cap)
{
	struct fixed f = { buf, cap, 0, false };
	msgpack_packer pk;

	if (!msg_ok(m)) {
		return 0;
	}
	msgpack_packer_init(&pk, &f, fixed_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint32(&pk, (uint32_t)m->type);
	msgpack_pack_uint32(&pk, m->origin);
	msgpack_pack_uint32(&pk, m->dest);
	msgpack_pack_uint32(&pk, m->pos.inc);
	msgpack_pack_uint64(&pk, m->pos.seq);
	if (m->type == OUTBOX_MSG_DATA) {
		msgpack_pack_bin(&pk, m->len);
		msgpack_pack_bin_body(&pk, m->payload, m->len);
	} else if (m->type == OUTBOX_MSG_DATA_RUN) {
		msgpack_pack_array(&pk, m->n);
		fixed_write(&f, (const char *)m->payload, m->len);
	} else {
		msgpack_pack_nil(&pk);
	}
	return f.overflow ? 0 : f.len;
}

static const char *const field_names[6] = { "type", "origin", "dest",
	                                    "inc",  "seq",    "payload" };

static int
bad(char *errmsg, size_t errlen, int code, int ix, const char *why)
{
	if (errmsg != NULL && errlen > 0) {
		if (ix >= 0) {
			snprintf(errmsg, errlen, "[%d] %s: %s", ix,
			         field_names[ix], why);
		} else {
			snprintf(errmsg, errlen, "%s", why);
		}
	}
	return code;
}

/* A cursor over the frame. The format is small enough to read by hand,
 * which refuses a hostile length before anything is allocated (msgpack-c's
 * unpacker sizes its zone from a container's declared count). */
struct rd {
	const uint8_t *p;
	size_t n, off;
};

static bool
rd_be(struct rd *r, size_t width, uint64_t *v)
{
	size_t i;

	if (r->n - r->off < width) {
		return false;
	}
	*v = 0;
	for (i = 0; i < width; i++) {
		*v = *v << 8 | r->p[r->off++];
	}
	return true;
}

/* rd_uint reads a msgpack unsigned integer of any width; a negative
 * integer, another type or a truncation is refused. */
static bool
rd_uint(struct rd *r, uint64_t *v)
{
	uint8_t b;

	if (r->off >= r->n) {
		return false;
	}
	b = r->p[r->off++];
	if (b <= 0x7f) {
		*v = b;
		return true;
	}
	switch (b) {
	case 0xcc:
		return rd_be(r, 1, v);
	case 0xcd:
		return rd_be(r, 2, v);
	case 0xce:
		return rd_be(r, 4, v);
	case 0xcf:
		return rd_be(r, 8, v);
	}
	return false;
}

/* decode_run reads a run's payload, the array of its entries' bins, at
 * r's offset to the end of the frame. */
static int
decode_run(struct rd *r, struct outbox_msg *m, char *errmsg, size_t errlen)
{
	const uint8_t *p, *e;
	uint64_t count;
	size_t left, elen;
	uint8_t b = r->p[r->off++];
	unsigned i;

	if (m->pos.seq == 0) {
		return bad(errmsg, errlen, TB_EMALFORMED, 4,
		           "must be at least 1 in data");
	}
	if (b >= 0x90 && b <= 0x9f) {
		count = b & 0x0f;
	} else if ((b != 0xdc && b != 0xdd) ||
	           !rd_be(r, b == 0xdc ? 2 : 4, &count)) {
		return bad(errmsg, errlen, TB_EMALFORMED, 5,
		           "must be an array of entries in a run");
	}
	if (count == 0 || count > OUTBOX_RUN_MAX) {
		return bad(errmsg, errlen, TB_EMALFORMED, 5,
		           "a run has 1 to 64 entries");
	}
	if (m->pos.seq - 1 > UINT64_MAX - count) {
		return bad(errmsg, errlen, TB_EMALFORMED, 4,
		           "the run would pass the largest seq");
	}
	p = r->p + r->off;
	left = r->n - r->off;
	m->payload = p;
	for (i = 0; i < count; i++) {
		if (!outbox_run_next(&p, &left, &e, &elen)) {
			return bad(errmsg, errlen, TB_EMALFORMED, 5,
			           "each entry of a run must be a bin, and "
			           "the run must hold as many as it says");
		}
	}
	if (left != 0) {
		return bad(errmsg, errlen, TB_EMALFORMED, -1,
		           "trailing bytes after the frame");
	}
	m->len = (size_t)(p - m->payload);
	m->n = (unsigned)count;
	return TB_OK;
}

int
outbox_wire_decode(const uint8_t *p, size_t n, struct outbox_msg *m,
                   char *errmsg, size_t errlen)
{
	struct rd r = { p, n, 0 };
	uint64_t v[5], len;
	uint8_t b;
	int i;

	memset(m, 0, sizeof(*m));
	if (n > OUTBOX_MAX_PAYLOAD + 64) {
		return bad(errmsg, errlen, TB_ETOOBIG, -1,
		           "frame larger than the outbox limit");
	}
	if (n == 0) {
		return bad(errmsg, errlen, TB_EMALFORMED, -1, "empty frame");
	}
	if (p[r.off++] != 0x96) {
		return bad(errmsg, errlen, TB_EMALFORMED, -1,
		           "must be an array of 6");
	}
	for (i = 0; i < 5; i++) {
		uint64_t max = i == 4 ? UINT64_MAX : UINT32_MAX;

		if (!rd_uint(&r, &v[i]) || v[i] > max) {
			return bad(errmsg, errlen, TB_EMALFORMED, i,
			           i == 4 ? "must be an unsigned integer"
			                  : "must be an unsigned integer below "
			                    "2^32");
		}
	}
	if (v[0] != OUTBOX_MSG_DATA && v[0] != OUTBOX_MSG_ACK &&
	    v[0] != OUTBOX_MSG_DATA_RUN && v[0] != OUTBOX_MSG_SKIP) {
		return bad(errmsg, errlen, TB_EMALFORMED, 0,
		           "must be 1 (data), 2 (ack), 3 (a run of data) or 4 "
		           "(skip)");
	}
	for (i = 1; i <= 2; i++) {
		if (!region_ok((uint32_t)v[i])) {
			return bad(errmsg, errlen, TB_EMALFORMED, i,
			           "must be a 6-digit region code");
		}
	}
	m->type = (enum outbox_msg_type)v[0];
	m->origin = (uint32_t)v[1];
	m->dest = (uint32_t)v[2];
	m->pos.inc = (uint32_t)v[3];
	m->pos.seq = v[4];
	if (r.off >= n) {
		return bad(errmsg, errlen, TB_EMALFORMED, 5, "missing");
	}
	b = p[r.off++];
	if (m->type == OUTBOX_MSG_DATA_RUN) {
		r.off--;
		return decode_run(&r, m, errmsg, errlen);
	}
	if (m->type == OUTBOX_MSG_ACK || m->type == OUTBOX_MSG_SKIP) {
		if (b != 0xc0) {
			return bad(errmsg, errlen, TB_EMALFORMED, 5,
			           m->type == OUTBOX_MSG_ACK
			               ? "must be nil in an ack"
			               : "must be nil in a skip");
		}
	} else {
		if (m->pos.seq == 0) {
			return bad(errmsg, errlen, TB_EMALFORMED, 4,
			           "must be at least 1 in data");
		}
		if ((b != 0xc4 && b != 0xc5 && b != 0xc6) ||
		    !rd_be(&r,
		           b == 0xc4   ? 1
		           : b == 0xc5 ? 2
		                       : 4,
		           &len)) {
			return bad(errmsg, errlen, TB_EMALFORMED, 5,
			           "must be a bin in data");
		}
		if (len > OUTBOX_MAX_PAYLOAD) {
			return bad(errmsg, errlen, TB_ETOOBIG, 5,
			           "larger than the outbox limit (1 MiB)");
		}
		if (n - r.off < len) {
			return bad(errmsg, errlen, TB_EMALFORMED, 5,
			           "truncated");
		}
		m->payload = len > 0 ? p + r.off : NULL;
		m->len = (size_t)len;
		r.off += (size_t)len;
	}
	if (r.off != n) {
		return bad(errmsg, errlen, TB_EMALFORMED, -1,
		           "trailing bytes after the frame");
	}
	return TB_OK;
}
