/* Sealed link frames after a Noise handshake, and chunking of large
 * messages. */
#include "schema/frame.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Happy path: frame_init takes the session's CipherStates; frame_seal
 * writes the header, seals the payload under the next nonce with the
 * header as associated data, and rekeys after a REKEY frame; frame_open
 * checks size, then header, then tag, in that order, so nothing is
 * decrypted (and nothing is ever allocated) for a frame that is too big or
 * malformed. Failure modes: see frame.h.
 */

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static bool
type_ok(unsigned t)
{
	return t == FRAME_DATA || t == FRAME_REKEY || t == FRAME_CLOSE;
}

int
frame_init(struct frame *f, struct noise_session *s,
           const struct frame_opts *opts)
{
	size_t max = opts != NULL && opts->max_frame != 0 ? opts->max_frame
	                                                  : FRAME_DEFAULT_MAX;
	uint64_t rekey = opts != NULL && opts->rekey_frames != 0
	                     ? opts->rekey_frames
	                     : FRAME_DEFAULT_REKEY;

	if (f == NULL) {
		return TB_EINVAL;
	}
	sodium_memzero(f, sizeof(*f));
	if (s == NULL || !s->tx.has_key || !s->rx.has_key) {
		snprintf(f->errmsg, sizeof(f->errmsg), "no session keys");
		f->tx_closed = f->rx_closed = true;
		return TB_EINVAL;
	}
	if (max < FRAME_OVERHEAD || max > FRAME_MAX) {
		snprintf(f->errmsg, sizeof(f->errmsg),
		         "a maximum frame of %zu bytes is outside %d..%d", max,
		         FRAME_OVERHEAD, FRAME_MAX);
		f->tx_closed = f->rx_closed = true;
		return TB_EINVAL;
	}
	f->tx = s->tx;
	f->rx = s->rx;
	noise_cs_wipe(&s->tx);
	noise_cs_wipe(&s->rx);
	f->max_frame = max;
	f->rekey_frames = rekey;
	return TB_OK;
}

void
frame_request_rekey(struct frame *f)
{
	f->rekey_pending = true;
}

int
frame_seal(struct frame *f, enum frame_type type, const uint8_t *payload,
           size_t plen, uint8_t *out, size_t *outlen)
{
	unsigned t = (unsigned)type;
	size_t need;
	int rv;

	if (f == NULL || out == NULL || outlen == NULL ||
	    (payload == NULL && plen > 0) || !type_ok(t)) {
		return TB_EINVAL;
	}
	/* Without a key Noise's EncryptWithAd is the identity: never let a
	 * wiped or unset context send in clear. */
	if (f->tx_closed || !f->tx.has_key) {
		return TB_ECLOSED;
	}
	if (plen > f->max_frame - FRAME_OVERHEAD) {
		snprintf(f->errmsg, sizeof(f->errmsg),
		         "frame of %zu bytes exceeds %zu",
		         plen + FRAME_OVERHEAD, f->max_frame);
		return TB_ETOOBIG;
	}
	need = plen + FRAME_OVERHEAD;
	if (need > *outlen) {
		return TB_EINVAL;
	}
	/* The last nonce Noise allows for a message is 2^64-2. */
	if (f->tx.n == UINT64_MAX) {
		snprintf(f->errmsg, sizeof(f->errmsg),
		         "frame %llu: send counter exhausted, start a new "
		         "handshake",
		         (unsigned long long)f->tx.n);
		return TB_ERANGE;
	}
	if (t == FRAME_DATA &&
	    (f->rekey_pending || f->tx_since_rekey + 1 >= f->rekey_frames)) {
		t = FRAME_REKEY;
	}
	out[0] = FRAME_VERSION;
	out[1] = (uint8_t)t;
	out[2] = 0;
	out[3] = 0;
	put_u32(out + 4, (uint32_t)plen);
	if (f->bench_plaintext) {
		if (plen > 0) {
			memcpy(out + FRAME_HDR, payload, plen);
		}
		memset(out + FRAME_HDR + plen, 0, NOISE_TAGLEN);
		f->tx.n++;
	} else if ((rv = noise_cs_encrypt(&f->tx, out, FRAME_HDR, payload, plen,
	                                  out + FRAME_HDR)) != TB_OK) {
		return rv;
	}
	*outlen = need;
	f->tx_since_rekey++;
	if (t == FRAME_REKEY) {
		noise_cs_rekey(&f->tx);
		f->tx_since_rekey = 0;
		f->tx_rekeys++;
		f->rekey_pending = false;
	} else if (t == FRAME_CLOSE) {
		uint64_t n = f->tx.n;

		noise_cs_wipe(&f->tx);
		f->tx.n = n;
		f->tx_closed = true;
	}
	return TB_OK;
}

static int rx_fail(struct frame *f, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* rx_fail poisons the receiving side: its key is wiped (the counter kept
 * for messages) and every later frame_open returns TB_ECLOSED. */
static int
rx_fail(struct frame *f, int rv, const char *fmt, ...)
{
	uint64_t n = f->rx.n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->errmsg, sizeof(f->errmsg), fmt, ap);
	va_end(ap);
	noise_cs_wipe(&f->rx);
	f->rx.n = n;
	f->rx_failed = true;
	f->err = rv;
	return rv;
}

/* plain_open is frame_open's null cipher (frame_bench_plaintext): the tag
 * must be 16 zero bytes. */
static int
plain_open(struct frame *f, const uint8_t *in, size_t inlen, uint8_t *out)
{
	static const uint8_t zero[NOISE_TAGLEN];
	size_t len = inlen - FRAME_OVERHEAD;

	if (memcmp(in + FRAME_HDR + len, zero, NOISE_TAGLEN) != 0) {
		return TB_ESIG;
	}
	memmove(out, in + FRAME_HDR, len);
	f->rx.n++;
	return TB_OK;
}

void
frame_bench_plaintext(struct frame *f)
{
	f->bench_plaintext = true;
}

int
frame_open(struct frame *f, const uint8_t *in, size_t inlen,
           enum frame_type *type, uint8_t *out, size_t *outlen)
{
	unsigned long long n;
	uint32_t len;

	if (f == NULL || (in == NULL && inlen > 0) || type == NULL ||
	    out == NULL || outlen == NULL) {
		return TB_EINVAL;
	}
	if (f->rx_failed || f->rx_closed || !f->rx.has_key) {
		return TB_ECLOSED;
	}
	n = (unsigned long long)f->rx.n;
	if (inlen > f->max_frame) {
		return rx_fail(f, TB_ETOOBIG, "frame of %zu bytes exceeds %zu",
		               inlen, f->max_frame);
	}
	if (inlen < FRAME_OVERHEAD) {
		return rx_fail(
		    f, TB_ETRUNC,
		    "frame %llu: %zu bytes, shorter than the %d-byte "
		    "minimum",
		    n, inlen, FRAME_OVERHEAD);
	}
	if (in[0] != FRAME_VERSION) {
		return rx_fail(f, TB_EMALFORMED,
		               "frame %llu: version %u, expected %d", n, in[0],
		               FRAME_VERSION);
	}
	if (!type_ok(in[1]) || in[2] != 0 || in[3] != 0) {
		return rx_fail(f, TB_EMALFORMED,
		               "frame %llu: unknown type %u or reserved bits "
		               "set",
		               n, in[1]);
	}
	len = get_u32(in + 4);
	if ((size_t)len != inlen - FRAME_OVERHEAD) {
		return rx_fail(f, TB_ETRUNC,
		               "frame %llu: header says %lu payload bytes, the "
		               "frame carries %zu",
		               n, (unsigned long)len, inlen - FRAME_OVERHEAD);
	}
	if ((size_t)len > *outlen) {
		return rx_fail(f, TB_ETOOBIG,
		               "frame %llu: a payload of %lu bytes exceeds the "
		               "%zu-byte buffer",
		               n, (unsigned long)len, *outlen);
	}
	if (f->rx.n == UINT64_MAX) {
		return rx_fail(f, TB_ERANGE,
		               "frame %llu: receive counter exhausted", n);
	}
	if (f->bench_plaintext
	        ? plain_open(f, in, inlen, out) != TB_OK
	        : noise_cs_decrypt(&f->rx, in, FRAME_HDR, in + FRAME_HDR,
	                           inlen - FRAME_HDR, out) != TB_OK) {
		return rx_fail(f, TB_ESIG,
		               "frame %llu: authentication failed (tampered, "
		               "replayed or reordered)",
		               n);
	}
	*type = (enum frame_type)in[1];
	*outlen = len;
	if (*type == FRAME_REKEY) {
		noise_cs_rekey(&f->rx);
		f->rx_rekeys++;
	} else if (*type == FRAME_CLOSE) {
		uint64_t k = f->rx.n;

		noise_cs_wipe(&f->rx);
		f->rx.n = k;
		f->rx_closed = true;
	}
	return TB_OK;
}

void
frame_wipe(struct frame *f)
{
	if (f != NULL) {
		sodium_memzero(f, sizeof(*f));
	}
}

/* ---- chunking --------------------------------------------------------- */

static uint64_t
chunk_count(uint64_t total, uint32_t size)
{
	return total == 0 ? 1 : (total - 1) / size + 1;
}

int
frame_chunk_split_init(struct frame_split *sp, uint64_t id, const uint8_t *data,
                       size_t len, size_t max_chunk)
{
	uint64_t size, count;

	if (sp == NULL || (data == NULL && len > 0) ||
	    max_chunk <= FRAME_CHUNK_HDR) {
		return TB_EINVAL;
	}
	memset(sp, 0, sizeof(*sp));
	size = max_chunk - FRAME_CHUNK_HDR;
	if (size > UINT32_MAX) {
		size = UINT32_MAX;
	}
	count = chunk_count(len, (uint32_t)size);
	if (count > UINT32_MAX) {
		return TB_ETOOBIG;
	}
	sp->data = data;
	sp->id = id;
	sp->total = len;
	sp->chunk_size = (uint32_t)size;
	sp->count = (uint32_t)count;
	return TB_OK;
}

bool
frame_chunk_split_done(const struct frame_split *sp)
{
	return sp->next >= sp->count;
}

int
frame_chunk_split_next(struct frame_split *sp, uint8_t *out, size_t *outlen)
{
	uint64_t off, n;

	if (sp == NULL || out == NULL || outlen == NULL ||
	    frame_chunk_split_done(sp)) {
		return TB_EINVAL;
	}
	off = (uint64_t)sp->next * sp->chunk_size;
	n = sp->total - off < sp->chunk_size ? sp->total - off : sp->chunk_size;
	if (FRAME_CHUNK_HDR + n > *outlen) {
		return TB_EINVAL;
	}
	put_u64(out, sp->id);
	put_u64(out + 8, sp->total);
	put_u32(out + 16, sp->chunk_size);
	put_u32(out + 20, sp->next);
	if (n > 0) {
		memcpy(out + FRAME_CHUNK_HDR, sp->data + off, (size_t)n);
	}
	*outlen = FRAME_CHUNK_HDR + (size_t)n;
	sp->next++;
	return TB_OK;
}

void
frame_chunk_join_init(struct frame_join *j, size_t max_total)
{
	memset(j, 0, sizeof(*j));
	j->max_total = max_total;
}

/* drop wipes and frees the partial message, keeping the cap and errmsg. */
static void
drop(struct frame_join *j)
{
	size_t max = j->max_total;
	char msg[sizeof(j->errmsg)];

	memcpy(msg, j->errmsg, sizeof(msg));
	if (j->buf != NULL) {
		sodium_memzero(j->buf, j->cap);
		free(j->buf);
	}
	memset(j, 0, sizeof(*j));
	j->max_total = max;
	memcpy(j->errmsg, msg, sizeof(msg));
}

static int join_fail(struct frame_join *j, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
join_fail(struct frame_join *j, int rv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->errmsg, sizeof(j->errmsg), fmt, ap);
	va_end(ap);
	drop(j);
	return rv;
}

/* grow makes room for need bytes, at least doubling, never beyond the
 * declared total; the old buffer is wiped, not realloc'ed, so no copy of
 * the plaintext is left behind in freed memory. */
static int
grow(struct frame_join *j, uint64_t need)
{
	uint64_t cap = j->cap < 4096 ? 4096 : (uint64_t)j->cap * 2;
	uint8_t *nb;

	if (need <= j->cap && j->buf != NULL) {
		return TB_OK;
	}
	if (cap < need) {
		cap = need;
	}
	if (cap > j->total) {
		cap = j->total;
	}
	if (cap == 0) {
		cap = 1;
	}
	if ((nb = malloc((size_t)cap)) == NULL) {
		return join_fail(
		    j, TB_ENOMEM, "message %llu: cannot allocate %llu bytes",
		    (unsigned long long)j->id, (unsigned long long)cap);
	}
	if (j->buf != NULL) {
		memcpy(nb, j->buf, (size_t)j->have);
		sodium_memzero(j->buf, j->cap);
		free(j->buf);
	}
	j->buf = nb;
	j->cap = (size_t)cap;
	return TB_OK;
}

int
frame_chunk_join_add(struct frame_join *j, const uint8_t *chunk, size_t len,
                     bool *complete)
{
	uint64_t id, total, count, want;
	uint32_t size, index;
	int rv;

	if (j == NULL || (chunk == NULL && len > 0) || complete == NULL) {
		return TB_EINVAL;
	}
	*complete = false;
	if (j->complete) {
		snprintf(j->errmsg, sizeof(j->errmsg),
		         "message %llu is complete and not yet taken",
		         (unsigned long long)j->id);
		return TB_EINVAL;
	}
	if (len < FRAME_CHUNK_HDR) {
		return join_fail(
		    j, TB_ETRUNC,
		    "chunk of %zu bytes is shorter than its %d-byte "
		    "header",
		    len, FRAME_CHUNK_HDR);
	}
	id = get_u64(chunk);
	total = get_u64(chunk + 8);
	size = get_u32(chunk + 16);
	index = get_u32(chunk + 20);
	if (j->active && id != j->id) {
		return join_fail(
		    j, TB_EMISSING,
		    "message %llu: a chunk of message %llu arrived "
		    "with %lu of %lu chunks missing",
		    (unsigned long long)j->id, (unsigned long long)id,
		    (unsigned long)(j->count - j->next),
		    (unsigned long)j->count);
	}
	if (j->active && (total != j->total || size != j->chunk_size)) {
		return join_fail(j, TB_EMALFORMED,
		                 "message %llu: chunk %lu changes the total or "
		                 "chunk size",
		                 (unsigned long long)id, (unsigned long)index);
	}
	if (!j->active) {
		if (total > j->max_total) {
			return join_fail(
			    j, TB_ETOOBIG,
			    "message %llu declares %llu bytes, over "
			    "the cap of %zu",
			    (unsigned long long)id, (unsigned long long)total,
			    j->max_total);
		}
		if (size == 0) {
			return join_fail(j, TB_EMALFORMED,
			                 "message %llu: chunk size 0",
			                 (unsigned long long)id);
		}
		count = chunk_count(total, size);
		if (count > UINT32_MAX) {
			return join_fail(j, TB_EMALFORMED,
			                 "message %llu: too many chunks",
			                 (unsigned long long)id);
		}
		j->id = id;
		j->total = total;
		j->chunk_size = size;
		j->count = (uint32_t)count;
		j->next = 0;
		j->have = 0;
	}
	if (index >= j->count) {
		return join_fail(j, TB_EMALFORMED,
		                 "message %llu: chunk %lu of %lu",
		                 (unsigned long long)id, (unsigned long)index,
		                 (unsigned long)j->count);
	}
	if (index < j->next) {
		return join_fail(j, TB_EDUP,
		                 "message %llu: chunk %lu again (duplicate)",
		                 (unsigned long long)id, (unsigned long)index);
	}
	if (index > j->next) {
		return join_fail(
		    j, TB_EMISSING,
		    "message %llu: chunk %lu arrived, chunk %lu is "
		    "missing",
		    (unsigned long long)id, (unsigned long)index,
		    (unsigned long)j->next);
	}
	want = index + 1 == j->count ? j->total - (uint64_t)index * size : size;
	if (len - FRAME_CHUNK_HDR != want) {
		return join_fail(j, TB_EMALFORMED,
		                 "message %llu: chunk %lu carries %zu bytes, "
		                 "expected %llu",
		                 (unsigned long long)id, (unsigned long)index,
		                 len - FRAME_CHUNK_HDR,
		                 (unsigned long long)want);
	}
	j->active = true;
	if ((rv = grow(j, j->have + want)) != TB_OK) {
		return rv;
	}
	if (want > 0) {
		memcpy(j->buf + j->have, chunk + FRAME_CHUNK_HDR, (size_t)want);
	}
	j->have += want;
	j->next++;
	if (j->next == j->count) {
		j->complete = true;
		*complete = true;
	}
	return TB_OK;
}

int
frame_chunk_join_take(struct frame_join *j, uint64_t *id, uint8_t **data,
                      size_t *len)
{
	size_t max;

	if (j == NULL || id == NULL || data == NULL || len == NULL) {
		return TB_EINVAL;
	}
	if (!j->complete) {
		snprintf(j->errmsg, sizeof(j->errmsg),
		         "message %llu incomplete: %lu of %lu chunks",
		         (unsigned long long)j->id, (unsigned long)j->next,
		         (unsigned long)j->count);
		return TB_EMISSING;
	}
	*id = j->id;
	*data = j->buf;
	*len = (size_t)j->total;
	max = j->max_total;
	memset(j, 0, sizeof(*j));
	j->max_total = max;
	return TB_OK;
}

void
frame_chunk_join_free(struct frame_join *j)
{
	if (j != NULL) {
		drop(j);
		memset(j->errmsg, 0, sizeof(j->errmsg));
	}
}
