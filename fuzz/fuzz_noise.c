/* Fuzz the link protocol: handshake messages (raw and mutated, at every
 * step, as initiator and responder), frames and chunk reassembly. */
#include "fuzz/fuzz_util.h"
#include "schema/error.h"
#include "schema/frame.h"
#include "schema/noise.h"

#include <sodium.h>

/*
 * Input: byte 0 picks a mode, byte 1 its parameters, the rest is data.
 *
 *   0  raw handshake message: byte 1 = pattern (bit 0) and step; the
 *      data replaces the genuine message of that step
 *   1  mutated handshake message: the genuine message of that step with
 *      the edits the data describes (4 bytes each: kind, position, value)
 *   2  frames: byte 1 = pattern, maximum frame and rekey interval; the data
 *      is a program of sends, rekeys, tampers, raw frames, replays, closes
 *   3  chunks: byte 1 = cap; the data is a list of chunks, raw or built
 *
 * The genuine handshakes are computed once (fixed keys and ephemerals) and
 * replayed from snapshots, so each input costs a few X25519 operations at
 * most. Properties beyond "no crash, leak or UB": a handshake with any
 * altered message never completes; an altered message is accepted only
 * where Noise does not authenticate it (XX message 1); every refusal
 * poisons and wipes; a forged, tampered, replayed or oversized frame never
 * opens; reassembly never holds more than the declared, capped total.
 *
 * TB_FUZZ_NOISE_SEEDS=DIR writes the seed corpus (valid messages and
 * programs from this fixed run) to DIR and exits.
 */

#define PAYLOAD "certificate chain"

struct genuine {
	struct noise_hs ini[3], resp[3];
	uint8_t msg[3][128];
	size_t len[3];
	unsigned count;
	struct noise_session is, rs;
};

static struct genuine gen[2]; /* XX, IK */
static uint8_t buf[NOISE_MAX_MSG + 256], out[NOISE_MAX_MSG + 256];
static uint8_t msgbuf[NOISE_MAX_MSG + 256]; /* the message delivered */

struct fixed_key {
	uint8_t k[32];
};

static struct fixed_key eph_i, eph_r;

static int
fixed_fill(void *ctx, uint8_t *p, size_t len)
{
	const struct fixed_key *f = ctx;

	if (len != 32) {
		return -1;
	}
	memcpy(p, f->k, 32);
	return 0;
}

static const uint8_t prologue[] = "tongban link v1";

static void
make_genuine(enum noise_pattern pat, struct genuine *g)
{
	struct noise_rng ri = { &eph_i, fixed_fill },
	                 rr = { &eph_r, fixed_fill };
	uint8_t ipriv[32], rpriv[32], rpub[32];
	struct noise_hs a, b;
	unsigned m = 0;

	memset(ipriv, 0x11, 32);
	memset(rpriv, 0x22, 32);
	crypto_scalarmult_base(rpub, rpriv);
	noise_init(&a, pat, true, ipriv, rpub, prologue, sizeof(prologue), &ri);
	noise_init(&b, pat, false, rpriv, NULL, prologue, sizeof(prologue),
	           &rr);
	while (noise_next(&a) != NOISE_SPLIT) {
		struct noise_hs *w = noise_next(&a) == NOISE_WRITE ? &a : &b;
		struct noise_hs *r = w == &a ? &b : &a;
		size_t pl = sizeof(out);

		g->len[m] = sizeof(g->msg[m]);
		fuzz_check(noise_write_message(w, (const uint8_t *)PAYLOAD,
		                               sizeof(PAYLOAD) - 1, g->msg[m],
		                               &g->len[m]) == TB_OK,
		           "the genuine handshake writes");
		/* Snapshots between the write and the read of message m. */
		g->ini[m] = a;
		g->resp[m] = b;
		fuzz_check(noise_read_message(r, g->msg[m], g->len[m], out,
		                              &pl) == TB_OK,
		           "the genuine handshake reads");
		m++;
	}
	g->count = m;
	noise_split(&a, &g->is);
	noise_split(&b, &g->rs);
}

/* refused_well: a refused side is poisoned, wiped and says why. */
static void
refused_well(const struct noise_hs *hs, int rv)
{
	size_t pl = sizeof(out);
	struct noise_hs copy = *hs;

	fuzz_check(rv == TB_ESIG || rv == TB_EMALFORMED || rv == TB_ETOOBIG,
	           "a handshake refusal is ESIG, EMALFORMED or ETOOBIG");
	fuzz_check(noise_next(hs) == NOISE_FAILED, "a refusal poisons");
	fuzz_check(strncmp(hs->errmsg, "noise ", 6) == 0,
	           "a refusal says where");
	fuzz_check(sodium_is_zero(hs->ck, sizeof(hs->ck)) &&
	               sodium_is_zero(hs->s_priv, sizeof(hs->s_priv)) &&
	               sodium_is_zero(hs->e_priv, sizeof(hs->e_priv)) &&
	               sodium_is_zero(hs->cs.k, sizeof(hs->cs.k)),
	           "a refusal wipes the keys");
	fuzz_check(noise_read_message(&copy, buf, 64, out, &pl) == TB_ECLOSED,
	           "a poisoned handshake stays closed");
}

/* finish runs the rest of the handshake with genuine payloads; returns the
 * first refusal or TB_OK. */
static int
finish(struct noise_hs *a, struct noise_hs *b)
{
	while (noise_next(a) != NOISE_SPLIT || noise_next(b) != NOISE_SPLIT) {
		struct noise_hs *w = noise_next(a) == NOISE_WRITE ? a : b;
		struct noise_hs *r = w == a ? b : a;
		size_t ml = sizeof(buf), pl = sizeof(out);
		int rv;

		if (noise_next(w) != NOISE_WRITE ||
		    noise_next(r) != NOISE_READ) {
			return TB_ECLOSED;
		}
		rv = noise_write_message(w, (const uint8_t *)PAYLOAD,
		                         sizeof(PAYLOAD) - 1, buf, &ml);
		if (rv != TB_OK) {
			refused_well(w, rv);
			return rv;
		}
		rv = noise_read_message(r, buf, ml, out, &pl);
		if (rv != TB_OK) {
			refused_well(r, rv);
			return rv;
		}
	}
	return TB_OK;
}

/* deliver feeds msg as message m of pattern p and checks the outcome. */
static void
deliver(int p, unsigned m, const uint8_t *msg, size_t len)
{
	const struct genuine *g = &gen[p];
	struct noise_hs a = g->ini[m], b = g->resp[m];
	struct noise_hs *r = m % 2 == 0 ? &b : &a;
	struct noise_hs w = m % 2 == 0 ? a : b;
	struct noise_session is, rs;
	bool same = len == g->len[m] && memcmp(msg, g->msg[m], len) == 0;
	size_t pl = sizeof(out);
	int rv;

	/* The writer of message m, now waiting for message m + 1 (or done),
	 * gets the bytes too: only the genuine next message may pass. */
	rv = noise_read_message(&w, msg, len, out, &pl);
	if (rv == TB_OK) {
		fuzz_check(m + 1 < g->count && len == g->len[m + 1] &&
		               memcmp(msg, g->msg[m + 1], len) == 0,
		           "the other side accepts only its genuine message");
	} else if (rv != TB_ECLOSED) {
		refused_well(&w, rv);
	}
	noise_hs_wipe(&w);

	pl = sizeof(out);
	rv = noise_read_message(r, msg, len, out, &pl);
	if (rv != TB_OK) {
		fuzz_check(!same, "the genuine message is accepted");
		refused_well(r, rv);
		goto done;
	}
	fuzz_check(same || (p == 0 && m == 0),
	           "only XX message 1 may be altered and still read");
	rv = finish(&a, &b);
	if (!same) {
		fuzz_check(rv != TB_OK, "an altered handshake never completes");
		goto done;
	}
	fuzz_check(rv == TB_OK, "the genuine handshake completes");
	noise_split(&a, &is);
	noise_split(&b, &rs);
	fuzz_check(memcmp(&is, &g->is, sizeof(is)) == 0 &&
	               memcmp(&rs, &g->rs, sizeof(rs)) == 0,
	           "the genuine handshake gives the genuine keys");
	noise_session_wipe(&is);
	noise_session_wipe(&rs);
done:
	noise_hs_wipe(&a);
	noise_hs_wipe(&b);
}

static void
mode_mutate(int p, unsigned m, const uint8_t *d, size_t n)
{
	const struct genuine *g = &gen[p];
	size_t len = g->len[m], i;

	memcpy(msgbuf, g->msg[m], len);
	for (i = 0; i + 4 <= n && i < 64; i += 4) {
		size_t pos = ((size_t)d[i + 1] << 8 | d[i + 2]) % (len + 1);

		switch (d[i] % 4) {
		case 0:
			if (pos < len) {
				msgbuf[pos] ^= (uint8_t)(1u << (d[i + 3] % 8));
			}
			break;
		case 1:
			if (pos < len) {
				msgbuf[pos] = d[i + 3];
			}
			break;
		case 2:
			len = pos;
			break;
		default:
			if (len < 4096) {
				memmove(msgbuf + pos + 1, msgbuf + pos,
				        len - pos);
				msgbuf[pos] = d[i + 3];
				len++;
			}
		}
	}
	deliver(p, m, msgbuf, len);
}

/* ---- frames ------------------------------------------------------------ */

static const size_t max_frames[4] = { 64, 256, 1024, FRAME_DEFAULT_MAX };
static const uint64_t rekeys[4] = { 1, 2, 3, FRAME_DEFAULT_REKEY };
static uint8_t fbuf[FRAME_MAX + 512], last[2][FRAME_MAX + 16];

static void
frame_refused(const struct frame *f, int rv)
{
	fuzz_check(rv == TB_ESIG || rv == TB_EMALFORMED || rv == TB_ETRUNC ||
	               rv == TB_ETOOBIG || rv == TB_ERANGE,
	           "a frame refusal has a known code");
	fuzz_check(f->rx_failed && sodium_is_zero(f->rx.k, sizeof(f->rx.k)),
	           "a frame refusal poisons and wipes the receiving side");
	fuzz_check(f->errmsg[0] != '\0', "a frame refusal says why");
}

static void
mode_frames(uint8_t cfg, const uint8_t *d, size_t n)
{
	struct noise_session is = gen[cfg & 1].is, rs = gen[cfg & 1].rs;
	struct frame_opts o = { max_frames[(cfg >> 1) & 3],
		                rekeys[(cfg >> 3) & 3] };
	struct frame f[2];
	size_t lastlen[2] = { 0, 0 }, i = 0;
	bool dead[2] = { false, false };
	enum frame_type ty;

	fuzz_check(frame_init(&f[0], &is, &o) == TB_OK &&
	               frame_init(&f[1], &rs, &o) == TB_OK,
	           "frames start");
	while (i < n) {
		uint8_t op = d[i++];
		int dir = op >> 7; /* 0: initiator sends, 1: responder sends */
		struct frame *tx = &f[dir], *rx = &f[!dir];
		size_t arg = i < n ? d[i++] : 0, fl = sizeof(fbuf), ol, pl;
		int rv;

		switch (op & 7) {
		case 0: /* a genuine frame carrying the next arg bytes */
		case 1:
			if (op & 1) {
				pl = arg * 64; /* bigger frames, zero-filled */
				memset(out, 0, pl);
			} else {
				pl = arg <= n - i ? arg : n - i;
				memcpy(out, d + i, pl);
				i += pl;
			}
			rv = frame_seal(tx, FRAME_DATA, out, pl, fbuf, &fl);
			if (rv == TB_ETOOBIG) {
				fuzz_check(pl + FRAME_OVERHEAD > o.max_frame,
				           "only oversized frames are refused");
				break;
			}
			if (rv != TB_OK) {
				fuzz_check(rv == TB_ECLOSED && tx->tx_closed,
				           "sealing fails only when closed");
				break;
			}
			memcpy(last[dir], fbuf, fl);
			lastlen[dir] = fl;
			ol = sizeof(buf);
			rv = frame_open(rx, fbuf, fl, &ty, buf, &ol);
			if (dead[dir]) {
				fuzz_check(rv == TB_ECLOSED,
				           "a dead direction stays closed");
				break;
			}
			fuzz_check(rv == TB_OK && ol == pl &&
			               memcmp(buf, out, pl) == 0,
			           "a genuine frame opens to its payload");
			fuzz_check(memcmp(&tx->tx, &rx->rx, sizeof(tx->tx)) ==
			               0,
			           "both ends keep the same key and counter");
			break;
		case 2:
			frame_request_rekey(tx);
			break;
		case 3: /* tamper with a genuine frame */
		case 4: /* a forged frame of arg bytes */
			if (tx->tx_closed || dead[dir]) {
				break;
			}
			if ((op & 7) == 3) {
				rv = frame_seal(tx, FRAME_DATA, d + i, 0, fbuf,
				                &fl);
				fuzz_check(rv == TB_OK, "an empty frame seals");
				fbuf[arg % fl] ^=
				    (uint8_t)(1u << (op >> 4 & 7));
			} else {
				fl = arg <= n - i ? arg : n - i;
				memcpy(fbuf, d + i, fl);
				i += fl;
			}
			ol = sizeof(buf);
			rv = frame_open(rx, fbuf, fl, &ty, buf, &ol);
			fuzz_check(rv != TB_OK, "an altered frame never opens");
			frame_refused(rx, rv);
			dead[dir] = true;
			break;
		case 5: /* replay the last genuine frame */
			if (lastlen[dir] == 0 || dead[dir]) {
				break;
			}
			ol = sizeof(buf);
			rv = frame_open(rx, last[dir], lastlen[dir], &ty, buf,
			                &ol);
			if (rx->rx_closed) {
				fuzz_check(rv == TB_ECLOSED,
				           "closed stays closed");
				break;
			}
			fuzz_check(rv != TB_OK, "a replayed frame never opens");
			frame_refused(rx, rv);
			dead[dir] = true;
			break;
		case 6: /* close */
			rv = frame_seal(tx, FRAME_CLOSE, d + i, 0, fbuf, &fl);
			if (rv != TB_OK) {
				fuzz_check(rv == TB_ECLOSED, "close twice");
				break;
			}
			ol = sizeof(buf);
			rv = frame_open(rx, fbuf, fl, &ty, buf, &ol);
			fuzz_check(dead[dir] ? rv == TB_ECLOSED
			                     : rv == TB_OK && ty == FRAME_CLOSE,
			           "a close frame closes");
			break;
		default: /* oversized */
			if (dead[dir] || rx->rx_closed) {
				break;
			}
			fl = o.max_frame + 1 + arg;
			memset(fbuf, 0, fl);
			ol = sizeof(buf);
			rv = frame_open(rx, fbuf, fl, &ty, buf, &ol);
			fuzz_check(rv == TB_ETOOBIG,
			           "an oversized frame is refused as such");
			frame_refused(rx, rv);
			dead[dir] = true;
		}
	}
	frame_wipe(&f[0]);
	frame_wipe(&f[1]);
}

/* ---- chunks ------------------------------------------------------------ */

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	int k;

	for (k = 0; k < n; k++) {
		p[k] = (uint8_t)(v >> (8 * (n - 1 - k)));
	}
}

static void
mode_chunks(uint8_t cfg, const uint8_t *d, size_t n)
{
	struct frame_join j;
	struct frame_split sp;
	size_t cap = (size_t)cfg * 64, i = 0, len, cl;
	uint8_t *data;
	uint64_t id;
	bool done;
	int rv;

	/* A split and join round trip of a size drawn from the input. */
	if (n >= 3) {
		size_t total = ((size_t)d[0] << 8 | d[1]) % 5000;
		size_t mc = FRAME_CHUNK_HDR + 1 + d[2];

		memset(buf, 0xa5, total);
		frame_chunk_join_init(&j, 5000);
		fuzz_check(frame_chunk_split_init(&sp, 9, buf, total, mc) ==
		               TB_OK,
		           "split starts");
		done = false;
		while (!frame_chunk_split_done(&sp)) {
			cl = sizeof(out);
			fuzz_check(frame_chunk_split_next(&sp, out, &cl) ==
			                   TB_OK &&
			               cl <= mc,
			           "chunks fit");
			fuzz_check(frame_chunk_join_add(&j, out, cl, &done) ==
			               TB_OK,
			           "genuine chunks join");
		}
		fuzz_check(done, "the last chunk completes");
		fuzz_check(
		    frame_chunk_join_take(&j, &id, &data, &len) == TB_OK &&
		        id == 9 && len == total && memcmp(data, buf, len) == 0,
		    "split then join is the identity");
		free(data);
	}

	frame_chunk_join_init(&j, cap);
	i = n >= 3 ? 3 : n;
	while (i < n) {
		uint8_t h = d[i++];

		if (h & 0x80) {
			/* Built: a plausible header from 4 small fields. */
			uint8_t f4[4] = { 0, 0, 0, 0 };
			uint64_t total;
			uint32_t size, index;
			size_t dl;

			memcpy(f4, d + i, n - i < 4 ? n - i : 4);
			i += n - i < 4 ? n - i : 4;
			total = f4[1];
			size = f4[2] % 16 + (h & 1 ? 0 : 1);
			index = f4[3] % 16;
			dl =
			    size == 0 || (uint64_t)index * size >= total
			        ? (h >> 1 & 3)
			        : (size_t)(total - (uint64_t)index * size < size
			                       ? total - (uint64_t)index * size
			                       : size);
			put_be(out, f4[0] & 3, 8);
			put_be(out + 8, total, 8);
			put_be(out + 16, size, 4);
			put_be(out + 20, index, 4);
			memset(out + FRAME_CHUNK_HDR, 0x5a, dl);
			cl = FRAME_CHUNK_HDR + dl;
		} else {
			cl = h <= n - i ? h : n - i;
			memcpy(out, d + i, cl);
			i += cl;
		}
		rv = frame_chunk_join_add(&j, out, cl, &done);
		if (rv == TB_EINVAL) {
			fuzz_check(j.complete, "EINVAL only before a take");
		} else if (rv != TB_OK) {
			fuzz_check(j.buf == NULL && !j.active && !j.complete,
			           "a refused chunk drops the partial message");
			fuzz_check(j.errmsg[0] != '\0', "and says why");
		} else {
			fuzz_check(j.cap <= (j.total > 0 ? j.total : 1) &&
			               j.total <= cap && j.have <= j.total,
			           "reassembly stays within the declared total "
			           "and the cap");
		}
		if (j.complete) {
			fuzz_check(frame_chunk_join_take(&j, &id, &data,
			                                 &len) == TB_OK &&
			               data != NULL && len <= cap,
			           "a complete message is taken");
			free(data);
		}
	}
	frame_chunk_join_free(&j);
}

/* ---- seeds ------------------------------------------------------------- */

static void
seed(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "fuzz_noise: cannot write %s\n", path);
		exit(1);
	}
	fwrite(p, 1, n, f);
	fclose(f);
}

static void
write_seeds(const char *dir)
{
	static const char *const pat[2] = { "xx", "ik" };
	uint8_t s[600];
	char name[64];
	size_t n;
	int p;
	unsigned m;

	for (p = 0; p < 2; p++) {
		for (m = 0; m < gen[p].count; m++) {
			s[0] = 0;
			s[1] = (uint8_t)(m << 1 | (unsigned)p);
			memcpy(s + 2, gen[p].msg[m], gen[p].len[m]);
			snprintf(name, sizeof(name), "hs_%s_msg%u", pat[p],
			         m + 1);
			seed(dir, name, s, 2 + gen[p].len[m]);
			s[0] = 1;
			memcpy(s + 2, "\x00\x00\x05\x03", 4);
			snprintf(name, sizeof(name), "hs_%s_msg%u_flip", pat[p],
			         m + 1);
			seed(dir, name, s, 6);
		}
		/* A frame program: data both ways, a rekey, big frames,
		 * then a replay, a tamper and a close. */
		n = 0;
		s[n++] = 2;
		s[n++] = (uint8_t)(p | 3 << 1 | 2 << 3);
		s[n++] = 0x00, s[n++] = 5, memcpy(s + n, "hello", 5), n += 5;
		s[n++] = 0x80, s[n++] = 3, memcpy(s + n, "ack", 3), n += 3;
		s[n++] = 0x02, s[n++] = 0;
		s[n++] = 0x01, s[n++] = 16;
		s[n++] = 0x00, s[n++] = 1, s[n++] = 'x';
		s[n++] = 0x85, s[n++] = 0;
		s[n++] = 0x13, s[n++] = 7;
		s[n++] = 0x06, s[n++] = 0;
		snprintf(name, sizeof(name), "frames_%s", pat[p]);
		seed(dir, name, s, n);
	}
	/* Chunks: a round trip size, then a built message of 3 chunks
	 * (total 40, size 15), a raw short chunk, and a built duplicate. */
	n = 0;
	s[n++] = 3;
	s[n++] = 4; /* cap 256 */
	s[n++] = 0x01, s[n++] = 0x2c, s[n++] = 40;
	s[n++] = 0x80, s[n++] = 1, s[n++] = 40, s[n++] = 14, s[n++] = 0;
	s[n++] = 0x80, s[n++] = 1, s[n++] = 40, s[n++] = 14, s[n++] = 1;
	s[n++] = 0x80, s[n++] = 1, s[n++] = 40, s[n++] = 14, s[n++] = 2;
	s[n++] = 0x05, memcpy(s + n, "short", 5), n += 5;
	s[n++] = 0x80, s[n++] = 2, s[n++] = 40, s[n++] = 14, s[n++] = 0;
	s[n++] = 0x80, s[n++] = 2, s[n++] = 40, s[n++] = 14, s[n++] = 0;
	seed(dir, "chunks", s, n);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("TB_FUZZ_NOISE_SEEDS");

	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		abort();
	}
	memset(eph_i.k, 0x33, 32);
	memset(eph_r.k, 0x44, 32);
	make_genuine(NOISE_XX, &gen[0]);
	make_genuine(NOISE_IK, &gen[1]);
	if (dir != NULL && dir[0] != '\0') {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int p;
	unsigned m;

	if (size < 2 || size > sizeof(buf)) {
		return 0;
	}
	p = data[1] & 1;
	m = (unsigned)(data[1] >> 1) % gen[p].count;
	switch (data[0] % 4) {
	case 0:
		memcpy(msgbuf, data + 2, size - 2);
		deliver(p, m, msgbuf, size - 2);
		break;
	case 1:
		mode_mutate(p, m, data + 2, size - 2);
		break;
	case 2:
		mode_frames(data[1], data + 2, size - 2);
		break;
	default:
		mode_chunks(data[1], data + 2, size - 2);
	}
	return 0;
}
