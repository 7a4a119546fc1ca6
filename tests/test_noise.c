/* Tests for the link protocol: Noise XX/IK vectors, refusals, frames,
 * rekeying, chunking, wiping, and a measure of speed. */
#include "schema/canon.h"
#include "schema/error.h"
#include "schema/frame.h"
#include "schema/noise.h"
#include "tests/tap.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* ---- helpers ----------------------------------------------------------- */

/* unhex decodes the test's own hex into out (at most cap bytes). */
static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap || canon_unhex(hex, out, n) != TB_OK) {
		ok(0, "test hex '%.40s' is valid", hex);
		return 0;
	}
	return n;
}

/* is_mem compares byte strings, printing both in hex when they differ. */
#define is_mem(got, glen, want, wlen, ...)                                 \
	do {                                                               \
		size_t gl_ = (glen), wl_ = (wlen);                         \
		int same_ = gl_ == wl_ && memcmp((got), (want), gl_) == 0; \
		ok(same_, __VA_ARGS__);                                    \
		if (!same_) {                                              \
			show_hex("got", (got), gl_);                       \
			show_hex("expected", (want), wl_);                 \
		}                                                          \
	} while (0)

static void
show_hex(const char *what, const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	if (s != NULL) {
		canon_hex(p, n, s);
		printf("#   %s: %.400s%s (%zu bytes)\n", what, s,
		       n > 200 ? "..." : "", n);
		free(s);
	}
}

static bool
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0) {
			return false;
		}
	}
	return true;
}

/* A fixed "random" source: it always hands out the same 32-byte key, so a
 * copied handshake state replays the same ephemeral. */
struct fixed_key {
	uint8_t k[32];
	int calls;
	bool fail;
};

static int
fixed_fill(void *ctx, uint8_t *buf, size_t len)
{
	struct fixed_key *f = ctx;

	f->calls++;
	if (f->fail || len != 32) {
		return -1;
	}
	memcpy(buf, f->k, 32);
	return 0;
}

/* A small deterministic generator for sizes and contents. */
static uint64_t prng_state = 0x746f6e6762616e31ull;

static uint64_t
prng(void)
{
	uint64_t z = (prng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
prng_fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		p[i] = (uint8_t)prng();
	}
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* cpu_s is this process's CPU time: rates per CPU second stay meaningful
 * on a machine shared with other work. */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t big1[NOISE_MAX_MSG + 64], big2[NOISE_MAX_MSG + 64];
static uint8_t big3[NOISE_MAX_MSG + 64];

/* step moves one message from whichever side writes to the other; returns
 * the first refusal's code, or TB_OK. */
static int
step(struct noise_hs *a, struct noise_hs *b, const uint8_t *payload,
     size_t plen)
{
	struct noise_hs *w = noise_next(a) == NOISE_WRITE ? a : b;
	struct noise_hs *r = w == a ? b : a;
	size_t mlen = sizeof(big1), rlen = sizeof(big2);
	int rv;

	if ((rv = noise_write_message(w, payload, plen, big1, &mlen)) != 0) {
		return rv;
	}
	return noise_read_message(r, big1, mlen, big2, &rlen);
}

/* finish runs the handshake to its end with empty payloads. */
static int
finish(struct noise_hs *a, struct noise_hs *b)
{
	int rv;

	while (noise_next(a) != NOISE_SPLIT || noise_next(b) != NOISE_SPLIT) {
		if (noise_next(a) == NOISE_FAILED ||
		    noise_next(b) == NOISE_FAILED) {
			return TB_ECLOSED;
		}
		if ((rv = step(a, b, NULL, 0)) != TB_OK) {
			return rv;
		}
	}
	return TB_OK;
}

/* secrets_wiped: a poisoned or wiped state holds no key material. */
static bool
secrets_wiped(const struct noise_hs *hs)
{
	return all_zero(hs->ck, sizeof(hs->ck)) &&
	       all_zero(hs->h, sizeof(hs->h)) &&
	       all_zero(&hs->cs, sizeof(hs->cs)) &&
	       all_zero(hs->s_priv, sizeof(hs->s_priv)) &&
	       all_zero(hs->e_priv, sizeof(hs->e_priv)) &&
	       all_zero(hs->rs, sizeof(hs->rs)) &&
	       all_zero(hs->re, sizeof(hs->re));
}

/* ---- published vectors ------------------------------------------------- */

/*
 * Published vectors, two independent sets with the same keys:
 *
 *  - cacophony (Haskell), as shipped in mcginty/snow
 *    tests/vectors/cacophony.txt (commit 62fbfae2), prologue "John Galt";
 *  - noise-c (rweather/noise-c tests/vector/noise-c-basic.txt, commit
 *    ec5de2ca), prologue "Prologue123".
 *
 * Messages alternate initiator, responder; those after the handshake are
 * transport messages (zero-length ad). noise-c's harness checks its
 * handshake_hash against GetHandshakeHash() after the last message, which
 * is what we check. The cacophony file's handshake_hash is h as it stood
 * before the final handshake message (snow's harness never reads that
 * field); we pin that too, so the discrepancy stays documented.
 */
struct vector {
	const char *name, *source;
	enum noise_pattern pattern;
	const char *init_static, *init_ephemeral, *init_remote_static;
	const char *resp_static, *resp_ephemeral;
	const char *prologue, *handshake_hash;
	bool hash_before_last; /* cacophony's quirk, see above */
	const char *payload[6], *ciphertext[6];
};

#define PAYLOADS                                                        \
	{                                                               \
		"4c756477696720766f6e204d69736573",                     \
		    "4d757272617920526f746862617264",                   \
		    "462e20412e20486179656b", "4361726c204d656e676572", \
		    "4a65616e2d426170746973746520536179",               \
		    "457567656e2042f6686d20766f6e2042617765726b",       \
	}
#define KEY_IS \
	"e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define KEY_IE \
	"893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define KEY_RS \
	"4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define KEY_RE \
	"bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"
#define KEY_RP \
	"31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"

static const struct vector vectors[] = {
	{
	    "Noise_XX_25519_ChaChaPoly_BLAKE2b",
	    "cacophony",
	    NOISE_XX,
	    KEY_IS,
	    KEY_IE,
	    NULL,
	    KEY_RS,
	    KEY_RE,
	    "4a6f686e2047616c74",
	    "5d255b0a6984cb7ae5d69b077509225519546d843a7043057865a4086618cf70"
	    "3530f79be531f87f536a986f85890e95d820dfa5842ec0f79c4da5ea63bbf924",
	    true,
	    PAYLOADS,
	    {
	        "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79"
	        "44"
	        "4c756477696720766f6e204d69736573",
	        "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088"
	        "43"
	        "0505b6745ce64a5f33f0e8e3b83f11ce8802bca507f4f2d8b564dbe277e196"
	        "61"
	        "16e132faa2dfd70b8b077b9f94b913df5056ae1319469b824a98d54bbaa82c"
	        "32"
	        "5595587064f978c4b6d104f7596e6f",
	        "99579e1c1ee15e422a57ddd6b16d37087b17558e8369c18991b4b2ca3a824a"
	        "bf"
	        "904cdcf5458b5431a75af034ca9e9b982de039eaaf156775e2d580cd4e5eba"
	        "e8"
	        "9c3f8cb2594b556d8a8169",
	        "fc56eea290b3f3a21aac0c70cd5787b5ee99be37d2f4d751329b55",
	        "bb31c9da10d5639a4cdb88a12f5c61de41bbc7df09bf75d94f8184fe4157f5"
	        "c6"
	        "8f",
	        "f6199cadb152fb27f82be0a0891ec76a33598ae92a46cab2fb5a8ed5bf48b7"
	        "f2"
	        "67f8370af7",
	    },
	},
	{
	    "Noise_XX_25519_ChaChaPoly_BLAKE2b",
	    "noise-c",
	    NOISE_XX,
	    KEY_IS,
	    KEY_IE,
	    NULL,
	    KEY_RS,
	    KEY_RE,
	    "50726f6c6f677565313233",
	    "7f6b8a1de1faf8b5e153ded74c950d09c5caf62a8e2eeb73277671d4e65ef9ca"
	    "2421a748a4af050284fa6f3eb40bb77f4ace99b7f3ea01db2953233a546a72d2",
	    false,
	    PAYLOADS,
	    {
	        "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79"
	        "44"
	        "4c756477696720766f6e204d69736573",
	        "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088"
	        "43"
	        "0505b6745ce64a5f33f0e8e3b83f11ce8802bca507f4f2d8b564dbe277e196"
	        "61"
	        "57671ea3b8853f41ae9fb01b5198b7355056ae1319469b824a98d54bbaa82c"
	        "26"
	        "4bbb329d7b104cdeeda568b40a097c",
	        "99579e1c1ee15e422a57ddd6b16d37087b17558e8369c18991b4b2ca3a824a"
	        "bf"
	        "55433b8625300437ffbe733f1c6cf40b2de039eaaf156775e2d58021e5d46b"
	        "9c"
	        "b99b280c73026b50f27736",
	        "fc56eea290b3f3a21aac0c70cd5787b5ee99be37d2f4d751329b55",
	        "bb31c9da10d5639a4cdb88a12f5c61de41bbc7df09bf75d94f8184fe4157f5"
	        "c6"
	        "8f",
	        "f6199cadb152fb27f82be0a0891ec76a33598ae92a46cab2fb5a8ed5bf48b7"
	        "f2"
	        "67f8370af7",
	    },
	},
	{
	    "Noise_IK_25519_ChaChaPoly_BLAKE2b",
	    "cacophony",
	    NOISE_IK,
	    KEY_IS,
	    KEY_IE,
	    KEY_RP,
	    KEY_RS,
	    KEY_RE,
	    "4a6f686e2047616c74",
	    "5e19a179a87f6b55fee752f66ebe7e56f13107594a93f0b9d96358c5306426e9"
	    "fa98fa56b28af63596b83e104618eea200e6678d5d823cfd0a71a89b431a976a",
	    true,
	    PAYLOADS,
	    {
	        "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79"
	        "44"
	        "ba83a447b38c83e327ad936929812f624884847b7831e95e197b2f797088ef"
	        "dd"
	        "2f88f1db7e1fb0e99c64419097af91cee64e470f4b6fcd9298ce0b56fe20f8"
	        "6e"
	        "13bf70439c538e3602a7127af71a29cc",
	        "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088"
	        "43"
	        "9f069b267a06b3de3ecb1043bcb098e9af91d9c64748d998c7b4789087157"
	        "1",
	        "cd54383060e7a28434cca27fb1cc524cfbabeb18181589df219d07",
	        "a856d3bf0246bfc476c655009cd1ed677b8dcc5b349ae8ef2a05f2",
	        "49063084b2c51f098337cb8a13739ac848f907e67cfb2cc8a8b60586467aa0"
	        "2fc7",
	        "8b9709d23b47e4639df7678d7a21741eba4ef1e9c60383001c7435549c20f9"
	        "d56f30e935d3",
	    },
	},
	{
	    "Noise_IK_25519_ChaChaPoly_BLAKE2b",
	    "noise-c",
	    NOISE_IK,
	    KEY_IS,
	    KEY_IE,
	    KEY_RP,
	    KEY_RS,
	    KEY_RE,
	    "50726f6c6f677565313233",
	    "00e51d2aac81a9b8ebe441d6af3e1c8efc0f030cc608332edcb42588ff6a0ce2"
	    "6415ddc106e95277a5e6d54132f1e5245976b89caf96d262f1fe5a7f0c55c078",
	    false,
	    PAYLOADS,
	    {
	        "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79"
	        "44"
	        "ba83a447b38c83e327ad936929812f624884847b7831e95e197b2f797088ef"
	        "dd"
	        "232fe541af156ec6d0657602902a8c3ee64e470f4b6fcd9298ce0b56fe20f8"
	        "6e"
	        "60d9d933ec6e103ffb09e6001d6abb64",
	        "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088"
	        "43"
	        "9f069b267a06b3de3ecb1043bcb09807c6cd101f3826192a65f11ef3fe431"
	        "7",
	        "cd54383060e7a28434cca27fb1cc524cfbabeb18181589df219d07",
	        "a856d3bf0246bfc476c655009cd1ed677b8dcc5b349ae8ef2a05f2",
	        "49063084b2c51f098337cb8a13739ac848f907e67cfb2cc8a8b60586467aa0"
	        "2fc7",
	        "8b9709d23b47e4639df7678d7a21741eba4ef1e9c60383001c7435549c20f9"
	        "d56f30e935d3",
	    },
	},
};

static void
test_vector(const struct vector *v)
{
	struct fixed_key ie, re;
	struct noise_rng irng = { &ie, fixed_fill }, rrng = { &re, fixed_fill };
	struct noise_hs ini, resp;
	struct noise_session is, rs;
	uint8_t is_priv[32], rs_priv[32], rs_pub[32], pub[32], pro[64];
	uint8_t want[512], pl[512], got[512], back[512], hh[64], hpen[64];
	size_t plen, wlen, glen, blen, prolen, nhs;
	size_t i;
	int rv;
	char nm[96];

	snprintf(nm, sizeof(nm), "%s (%s)", v->name, v->source);
	memset(&ie, 0, sizeof(ie));
	memset(&re, 0, sizeof(re));
	unhex(v->init_static, is_priv, 32);
	unhex(v->resp_static, rs_priv, 32);
	unhex(v->init_ephemeral, ie.k, 32);
	unhex(v->resp_ephemeral, re.k, 32);
	prolen = unhex(v->prologue, pro, sizeof(pro));
	crypto_scalarmult_base(rs_pub, rs_priv);
	if (v->init_remote_static != NULL) {
		unhex(v->init_remote_static, pub, 32);
		is_mem(rs_pub, 32, pub, 32,
		       "%s: the responder's public key is X25519(resp_static)",
		       nm);
	}
	is_str(noise_protocol_name(v->pattern), v->name, "%s: protocol name",
	       nm);
	rv = noise_init(&ini, v->pattern, true, is_priv,
	                v->pattern == NOISE_IK ? rs_pub : NULL, pro, prolen,
	                &irng);
	is_int(rv, TB_OK, "%s: initiator starts", nm);
	rv = noise_init(&resp, v->pattern, false, rs_priv, NULL, pro, prolen,
	                &rrng);
	is_int(rv, TB_OK, "%s: responder starts", nm);

	nhs = v->pattern == NOISE_XX ? 3 : 2;
	for (i = 0; i < nhs; i++) {
		struct noise_hs *w = i % 2 == 0 ? &ini : &resp;
		struct noise_hs *r = i % 2 == 0 ? &resp : &ini;

		if (i + 1 == nhs) {
			memcpy(hpen, w->h, 64); /* h before the last message */
		}
		plen = unhex(v->payload[i], pl, sizeof(pl));
		wlen = unhex(v->ciphertext[i], want, sizeof(want));
		is_int(noise_next(w), NOISE_WRITE, "%s: message %zu: %s writes",
		       nm, i + 1, i % 2 == 0 ? "initiator" : "responder");
		is_int(noise_message_len(w, plen), wlen,
		       "%s: message %zu: predicted length", nm, i + 1);
		glen = sizeof(got);
		rv = noise_write_message(w, pl, plen, got, &glen);
		is_int(rv, TB_OK, "%s: message %zu written", nm, i + 1);
		is_mem(got, glen, want, wlen,
		       "%s: message %zu is the published ciphertext", nm,
		       i + 1);
		blen = sizeof(back);
		rv = noise_read_message(r, want, wlen, back, &blen);
		is_int(rv, TB_OK, "%s: message %zu read", nm, i + 1);
		if (rv != TB_OK) {
			printf("#   %s\n", r->errmsg);
		}
		is_mem(back, blen, pl, plen, "%s: message %zu payload", nm,
		       i + 1);
	}
	ok(noise_remote_static(&ini, pub) == TB_OK &&
	       memcmp(pub, rs_pub, 32) == 0,
	   "%s: the initiator holds the responder's static key", nm);
	crypto_scalarmult_base(hh, is_priv);
	ok(noise_remote_static(&resp, pub) == TB_OK && memcmp(pub, hh, 32) == 0,
	   "%s: the responder holds the initiator's static key", nm);
	is_int(noise_split(&ini, &is), TB_OK, "%s: initiator splits", nm);
	is_int(noise_split(&resp, &rs), TB_OK, "%s: responder splits", nm);
	unhex(v->handshake_hash, hh, 64);
	if (v->hash_before_last) {
		is_mem(hpen, 64, hh, 64,
		       "%s: the file's handshake_hash is h before the last "
		       "message",
		       nm);
		ok(memcmp(is.h, hpen, 64) != 0 && memcmp(is.h, rs.h, 64) == 0,
		   "%s: the final hash (after it) agrees on both sides", nm);
	} else {
		is_mem(is.h, 64, hh, 64, "%s: initiator's handshake hash", nm);
		is_mem(rs.h, 64, hh, 64, "%s: responder's handshake hash", nm);
	}
	ok(all_zero(&ini, sizeof(ini)) && all_zero(&resp, sizeof(resp)),
	   "%s: split wipes both handshake states", nm);

	for (i = nhs; i < 6; i++) {
		struct noise_session *tx = i % 2 == 0 ? &is : &rs;
		struct noise_session *rx = i % 2 == 0 ? &rs : &is;

		plen = unhex(v->payload[i], pl, sizeof(pl));
		wlen = unhex(v->ciphertext[i], want, sizeof(want));
		rv = noise_cs_encrypt(&tx->tx, NULL, 0, pl, plen, got);
		is_mem(got, rv == TB_OK ? plen + 16 : 0, want, wlen,
		       "%s: transport message %zu is the published one", nm,
		       i + 1);
		rv = noise_cs_decrypt(&rx->rx, NULL, 0, want, wlen, back);
		ok(rv == TB_OK && memcmp(back, pl, plen) == 0,
		   "%s: transport message %zu decrypts", nm, i + 1);
	}
	noise_session_wipe(&is);
	noise_session_wipe(&rs);
}

/* ---- handshakes: round trips and API ---------------------------------- */

struct party {
	uint8_t priv[32], pub[32];
};

static void
party_new(struct party *p)
{
	crypto_box_keypair(p->pub, p->priv);
}

/* handshake runs a whole handshake with random payload sizes up to max;
 * both sessions out. */
static int
handshake(enum noise_pattern pat, const struct party *i, const struct party *r,
          size_t max, struct noise_session *is, struct noise_session *rs)
{
	static const uint8_t pro[] = "tongban link 1";
	struct noise_hs a, b;
	int rv;

	noise_init(&a, pat, true, i->priv, r->pub, pro, sizeof(pro), NULL);
	noise_init(&b, pat, false, r->priv, NULL, pro, sizeof(pro), NULL);
	while (noise_next(&a) != NOISE_SPLIT) {
		size_t n = max ? (size_t)(prng() % (max + 1)) : 0;

		prng_fill(big3, n);
		if ((rv = step(&a, &b, big3, n)) != TB_OK) {
			return rv;
		}
		if (memcmp(big2, big3, n) != 0) {
			return TB_ECORRUPT;
		}
	}
	if ((rv = noise_split(&a, is)) != TB_OK ||
	    (rv = noise_split(&b, rs)) != TB_OK) {
		return rv;
	}
	return TB_OK;
}

static bool
sessions_pair(const struct noise_session *a, const struct noise_session *b)
{
	return memcmp(&a->tx, &b->rx, sizeof(a->tx)) == 0 &&
	       memcmp(&a->rx, &b->tx, sizeof(a->rx)) == 0 &&
	       memcmp(a->h, b->h, sizeof(a->h)) == 0 &&
	       memcmp(a->tx.k, a->rx.k, 32) != 0;
}

static void
test_round_trips(void)
{
	static const size_t maxes[] = { 0, 1, 100, 4096, 16384 };
	struct party i, r;
	struct noise_session is, rs;
	int pat, k, good;
	size_t m;

	party_new(&i);
	party_new(&r);
	for (pat = NOISE_XX; pat <= NOISE_IK; pat++) {
		for (m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
			good = 0;
			for (k = 0; k < 10; k++) {
				int rv =
				    handshake(pat, &i, &r, maxes[m], &is, &rs);

				good += rv == TB_OK &&
				        sessions_pair(&is, &rs) &&
				        memcmp(is.rs, r.pub, 32) == 0 &&
				        memcmp(rs.rs, i.pub, 32) == 0;
			}
			is_int(good, 10,
			       "%s: 10 handshakes with payloads of up to %zu "
			       "bytes agree on keys, hash and peers",
			       noise_protocol_name(pat), maxes[m]);
		}
	}
	noise_session_wipe(&is);
	noise_session_wipe(&rs);
}

static void
test_api(void)
{
	struct party i, r, other;
	struct noise_hs a, b, c;
	struct fixed_key fk;
	struct noise_rng bad = { &fk, fixed_fill };
	uint8_t k[32];
	size_t n, pl;
	int rv;

	party_new(&i);
	party_new(&r);
	party_new(&other);

	rv = noise_init(&a, NOISE_IK, true, i.priv, NULL, NULL, 0, NULL);
	is_int(rv, TB_EINVAL, "IK initiator without the responder's key");
	is_int(noise_next(&a), NOISE_FAILED, "... is poisoned");
	like(a.errmsg, "needs the responder's static key", "... and says so");
	rv = noise_init(&a, (enum noise_pattern)7, true, i.priv, NULL, NULL, 0,
	                NULL);
	is_int(rv, TB_EINVAL, "unknown pattern refused");
	rv = noise_init(&a, NOISE_XX, true, NULL, NULL, NULL, 0, NULL);
	is_int(rv, TB_EINVAL, "missing static key refused");

	noise_init(&a, NOISE_XX, true, i.priv, NULL, NULL, 0, NULL);
	noise_init(&b, NOISE_XX, false, r.priv, NULL, NULL, 0, NULL);
	is_int(noise_remote_static(&b, k), TB_ENOTFOUND,
	       "XX responder does not know the initiator yet");
	is_int(noise_message_len(&b, 0), 0, "no message length off turn");
	n = sizeof(big1);
	pl = sizeof(big2);
	rv = noise_read_message(&a, big1, 48, big2, &pl);
	is_int(rv, TB_EINVAL, "reading out of turn refused");
	is_int(noise_next(&a), NOISE_FAILED, "... and poisons");
	like(a.errmsg, "read called while our message is due",
	     "... with a reason (%s)", a.errmsg);
	ok(secrets_wiped(&a), "... and wipes the keys");
	rv = noise_write_message(&a, NULL, 0, big1, &n);
	is_int(rv, TB_ECLOSED, "a poisoned handshake stays closed");
	is_int(a.err, TB_EINVAL, "... and remembers its first error");

	/* Noise's 65535-byte limit, both ways, and exactly at it. */
	noise_init(&a, NOISE_XX, true, i.priv, NULL, NULL, 0, NULL);
	n = sizeof(big1);
	rv = noise_write_message(&a, big3, NOISE_MAX_MSG - 31, big1, &n);
	is_int(rv, TB_ETOOBIG, "a 65536-byte first message is refused");
	like(a.errmsg, "exceed 65535", "... saying why (%s)", a.errmsg);
	noise_init(&a, NOISE_XX, true, i.priv, NULL, NULL, 0, NULL);
	noise_init(&b, NOISE_XX, false, r.priv, NULL, NULL, 0, NULL);
	n = sizeof(big1);
	rv = noise_write_message(&a, big3, NOISE_MAX_MSG - 32, big1, &n);
	is_int(rv, TB_OK, "a 65535-byte first message is written");
	is_int(n, NOISE_MAX_MSG, "... of 65535 bytes");
	pl = sizeof(big2);
	rv = noise_read_message(&b, big1, n, big2, &pl);
	is_int(rv, TB_OK, "... and read");
	pl = NOISE_MAX_MSG - 96;
	prng_fill(big3, pl);
	n = sizeof(big1);
	rv = noise_write_message(&b, big3, pl, big1, &n);
	is_int(rv == TB_OK ? (long long)n : -rv, NOISE_MAX_MSG,
	       "the largest second message (payload %zu) is written", pl);
	pl = sizeof(big2);
	rv = noise_read_message(&a, big1, n, big2, &pl);
	ok(rv == TB_OK && pl == NOISE_MAX_MSG - 96 &&
	       memcmp(big2, big3, pl) == 0,
	   "... and read back");
	noise_hs_wipe(&a);
	noise_hs_wipe(&b);

	noise_init(&b, NOISE_XX, false, r.priv, NULL, NULL, 0, NULL);
	pl = sizeof(big2);
	rv = noise_read_message(&b, big1, NOISE_MAX_MSG + 1, big2, &pl);
	is_int(rv, TB_ETOOBIG, "a 65536-byte message is refused unread");
	noise_init(&b, NOISE_XX, false, r.priv, NULL, NULL, 0, NULL);
	pl = sizeof(big2);
	rv = noise_read_message(&b, big1, 31, big2, &pl);
	is_int(rv, TB_EMALFORMED, "a 31-byte XX first message is refused");
	like(b.errmsg, "31 bytes, shorter than the 32", "... (%s)", b.errmsg);
	noise_init(&b, NOISE_XX, false, r.priv, NULL, NULL, 0, NULL);
	pl = 10;
	rv = noise_read_message(&b, big1, 100, big2, &pl);
	is_int(rv, TB_ETOOBIG, "a payload larger than the buffer is refused");

	/* Buffers too small for the message. */
	noise_init(&a, NOISE_XX, true, i.priv, NULL, NULL, 0, NULL);
	n = 40;
	rv = noise_write_message(&a, big3, 10, big1, &n);
	is_int(rv, TB_ETOOBIG, "an output buffer too small is refused");

	/* A randomness source that fails. */
	memset(&fk, 0, sizeof(fk));
	fk.fail = true;
	noise_init(&a, NOISE_XX, true, i.priv, NULL, NULL, 0, &bad);
	n = sizeof(big1);
	rv = noise_write_message(&a, NULL, 0, big1, &n);
	is_int(rv, TB_EIO, "a failing rng stops the handshake");

	/* Low-order ephemeral keys: the all-zero point. */
	noise_init(&b, NOISE_XX, false, r.priv, NULL, NULL, 0, NULL);
	memset(big1, 0, 32);
	pl = sizeof(big2);
	rv = noise_read_message(&b, big1, 32, big2, &pl);
	is_int(rv, TB_OK, "XX: a zero ephemeral is only hashed in message 1");
	n = sizeof(big1);
	rv = noise_write_message(&b, NULL, 0, big1, &n);
	is_int(rv, TB_EMALFORMED, "... and refused at the first DH");
	like(b.errmsg, "low order", "... (%s)", b.errmsg);
	noise_init(&b, NOISE_IK, false, r.priv, NULL, NULL, 0, NULL);
	memset(big1, 0, 96);
	pl = sizeof(big2);
	rv = noise_read_message(&b, big1, 96, big2, &pl);
	is_int(rv, TB_EMALFORMED, "IK: a zero ephemeral is refused on read");

	/* IK towards the wrong responder key. */
	noise_init(&a, NOISE_IK, true, i.priv, other.pub, NULL, 0, NULL);
	noise_init(&b, NOISE_IK, false, r.priv, NULL, NULL, 0, NULL);
	rv = step(&a, &b, (const uint8_t *)"certs", 5);
	is_int(rv, TB_ESIG, "IK with the wrong responder static is refused");
	like(b.errmsg, "static key failed to decrypt", "... (%s)", b.errmsg);
	ok(secrets_wiped(&b) && noise_next(&b) == NOISE_FAILED,
	   "... the responder is poisoned and wiped");
	/* And a responder whose key is not the one the initiator expects. */
	noise_init(&a, NOISE_IK, true, i.priv, r.pub, NULL, 0, NULL);
	noise_init(&b, NOISE_IK, false, other.priv, NULL, NULL, 0, NULL);
	is_int(step(&a, &b, NULL, 0), TB_ESIG,
	       "IK: a responder with another static key cannot read it");

	/* Different prologues do not meet. */
	noise_init(&a, NOISE_XX, true, i.priv, NULL, (const uint8_t *)"v1", 2,
	           NULL);
	noise_init(&b, NOISE_XX, false, r.priv, NULL, (const uint8_t *)"v2", 2,
	           NULL);
	is_int(finish(&a, &b), TB_ESIG, "XX: different prologues fail");

	/* Split before the end. */
	noise_init(&a, NOISE_XX, true, i.priv, NULL, NULL, 0, NULL);
	{
		struct noise_session s;

		is_int(noise_split(&a, &s), TB_EINVAL,
		       "split before the end is refused");
	}

	/* Wiping. */
	noise_init(&c, NOISE_IK, true, i.priv, r.pub, NULL, 0, NULL);
	ok(!all_zero(c.s_priv, 32), "a started handshake holds its key");
	noise_hs_wipe(&c);
	ok(all_zero(&c, sizeof(c)), "noise_hs_wipe zeroes the whole state");
	is_int(noise_next(&c), NOISE_NONE, "... which then does nothing");
	n = sizeof(big1);
	is_int(noise_write_message(&c, NULL, 0, big1, &n), TB_ECLOSED,
	       "... and refuses to write");
}

/* ---- every tamper of every handshake message ---------------------------- */

struct transcript {
	struct noise_hs ini[3], resp[3]; /* states as each message is sent */
	uint8_t msg[3][256];
	size_t len[3];
	unsigned count;
};

static struct fixed_key tk_i, tk_r;

static void
transcript_make(enum noise_pattern pat, struct transcript *t)
{
	static const uint8_t pro[] = "tamper";
	struct noise_rng ri = { &tk_i, fixed_fill }, rr = { &tk_r, fixed_fill };
	struct noise_hs a, b;
	struct party i, r;
	unsigned m = 0;

	party_new(&i);
	party_new(&r);
	randombytes_buf(tk_i.k, 32);
	randombytes_buf(tk_r.k, 32);
	noise_init(&a, pat, true, i.priv, r.pub, pro, sizeof(pro), &ri);
	noise_init(&b, pat, false, r.priv, NULL, pro, sizeof(pro), &rr);
	while (noise_next(&a) != NOISE_SPLIT) {
		struct noise_hs *w = noise_next(&a) == NOISE_WRITE ? &a : &b;
		struct noise_hs *rd = w == &a ? &b : &a;
		size_t pl = sizeof(big2);

		t->len[m] = sizeof(t->msg[m]);
		noise_write_message(w, (const uint8_t *)"payload!", 8,
		                    t->msg[m], &t->len[m]);
		/* Snapshots between the write and the read of message m. */
		t->ini[m] = a;
		t->resp[m] = b;
		noise_read_message(rd, t->msg[m], t->len[m], big2, &pl);
		m++;
	}
	t->count = m;
	noise_hs_wipe(&a);
	noise_hs_wipe(&b);
}

/* try_altered replays message m altered to (p, len) from the snapshots and
 * runs the rest of the handshake; it must never complete, and the side
 * that refuses must be poisoned and wiped. Returns true if so. */
static bool
try_altered(const struct transcript *t, unsigned m, const uint8_t *p,
            size_t len)
{
	struct noise_hs a = t->ini[m], b = t->resp[m];
	struct noise_hs *rd = m % 2 == 0 ? &b : &a;
	size_t pl = sizeof(big2);
	int rv;
	bool good;

	rv = noise_read_message(rd, p, len, big2, &pl);
	if (rv == TB_OK) {
		rv = finish(&a, &b);
	} else {
		good = rv == TB_ESIG || rv == TB_EMALFORMED;
		good = good && noise_next(rd) == NOISE_FAILED &&
		       secrets_wiped(rd) && rd->errmsg[0] != '\0';
		noise_hs_wipe(&a);
		noise_hs_wipe(&b);
		return good;
	}
	good = rv == TB_ESIG || rv == TB_EMALFORMED;
	good = good && (noise_next(&a) == NOISE_FAILED ||
	                noise_next(&b) == NOISE_FAILED);
	if (noise_next(&a) == NOISE_FAILED) {
		good = good && secrets_wiped(&a);
	}
	if (noise_next(&b) == NOISE_FAILED) {
		good = good && secrets_wiped(&b);
	}
	noise_hs_wipe(&a);
	noise_hs_wipe(&b);
	return good;
}

static void
test_tamper(void)
{
	static struct transcript t;
	uint8_t buf[300];
	int pat;
	unsigned m;
	size_t bit, len, refused, tried;

	for (pat = NOISE_XX; pat <= NOISE_IK; pat++) {
		transcript_make(pat, &t);
		/* The untouched transcript does complete. */
		{
			struct noise_hs a = t.ini[0], b = t.resp[0];
			size_t pl = sizeof(big2);

			noise_read_message(&b, t.msg[0], t.len[0], big2, &pl);
			is_int(finish(&a, &b), TB_OK,
			       "%s: the untouched handshake completes",
			       noise_protocol_name(pat));
			noise_hs_wipe(&a);
			noise_hs_wipe(&b);
		}
		for (m = 0; m < t.count; m++) {
			refused = tried = 0;
			for (bit = 0; bit < 8 * t.len[m]; bit++) {
				memcpy(buf, t.msg[m], t.len[m]);
				buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				refused += try_altered(&t, m, buf, t.len[m]);
				tried++;
			}
			is_int(refused, tried,
			       "%s message %u: all %zu bit flips refused, the "
			       "refusing side poisoned and wiped",
			       noise_protocol_name(pat), m + 1, tried);
			refused = tried = 0;
			for (len = 0; len < t.len[m]; len++) {
				refused += try_altered(&t, m, t.msg[m], len);
				tried++;
			}
			memcpy(buf, t.msg[m], t.len[m]);
			buf[t.len[m]] = 0;
			refused += try_altered(&t, m, buf, t.len[m] + 1);
			tried++;
			is_int(refused, tried,
			       "%s message %u: every truncation and an extra "
			       "byte refused",
			       noise_protocol_name(pat), m + 1);
		}
		for (m = 0; m < t.count; m++) {
			noise_hs_wipe(&t.ini[m]);
			noise_hs_wipe(&t.resp[m]);
		}
	}
}

/* ---- frames ------------------------------------------------------------ */

/* link makes two frame contexts joined by a fresh XX handshake. */
static void
link(struct frame *a, struct frame *b, const struct frame_opts *o)
{
	struct party i, r;
	struct noise_session is, rs;

	party_new(&i);
	party_new(&r);
	handshake(NOISE_XX, &i, &r, 0, &is, &rs);
	frame_init(a, &is, o);
	frame_init(b, &rs, o);
	noise_session_wipe(&is);
	noise_session_wipe(&rs);
}

/* pass seals payload on a and opens it on b; returns the open's result
 * and checks the payload. */
static int
pass(struct frame *a, struct frame *b, enum frame_type type, const uint8_t *p,
     size_t n, enum frame_type *got)
{
	size_t fl = sizeof(big1), ol = sizeof(big2);
	int rv;

	if ((rv = frame_seal(a, type, p, n, big1, &fl)) != TB_OK) {
		return rv;
	}
	if ((rv = frame_open(b, big1, fl, got, big2, &ol)) != TB_OK) {
		return rv;
	}
	return ol == n && (n == 0 || memcmp(big2, p, n) == 0) ? TB_OK
	                                                      : TB_ECORRUPT;
}

/* The benchmark's null cipher (frame_bench_plaintext): the same frames in
 * clear, a zero tag, and still refused when changed. */
static void
test_bench_plaintext(void)
{
	static const uint8_t msg[] = "plain 1 KiB stand-in";
	struct frame a, b, c, d;
	enum frame_type t;
	size_t fl = sizeof(big1), ol = sizeof(big2);
	static const uint8_t zero[NOISE_TAGLEN];

	link(&a, &b, NULL);
	frame_bench_plaintext(&a);
	frame_bench_plaintext(&b);
	is_int(frame_seal(&a, FRAME_DATA, msg, sizeof(msg), big1, &fl), TB_OK,
	       "null cipher: a frame is sealed");
	is_int(fl, sizeof(msg) + FRAME_OVERHEAD, "of the usual size");
	ok(!memcmp(big1 + FRAME_HDR, msg, sizeof(msg)) &&
	       !memcmp(big1 + FRAME_HDR + sizeof(msg), zero, NOISE_TAGLEN),
	   "carrying the payload in clear and a zero tag");
	is_int(frame_open(&b, big1, fl, &t, big2, &ol), TB_OK, "and opened");
	ok(ol == sizeof(msg) && !memcmp(big2, msg, ol), "whole");
	fl = sizeof(big1);
	frame_seal(&a, FRAME_DATA, msg, sizeof(msg), big1, &fl);
	big1[fl - 1] ^= 1;
	ol = sizeof(big2);
	is_int(frame_open(&b, big1, fl, &t, big2, &ol), TB_ESIG,
	       "a frame whose tag is not zero is refused");
	link(&c, &d, NULL);
	frame_bench_plaintext(&d);
	fl = sizeof(big1);
	ol = sizeof(big2);
	frame_seal(&c, FRAME_DATA, msg, sizeof(msg), big1, &fl);
	is_int(frame_open(&d, big1, fl, &t, big2, &ol), TB_ESIG,
	       "a sealed frame is refused by a null-cipher end");
	frame_wipe(&a);
	frame_wipe(&b);
	frame_wipe(&c);
	frame_wipe(&d);
}

static void
test_frames(void)
{
	static const size_t sizes[] = {
		0, 1, 17, 1024, 16384, FRAME_DEFAULT_MAX - FRAME_OVERHEAD
	};
	static uint8_t huge[70000];
	struct frame a, b, snap;
	struct frame_opts small = { 1024, 0 };
	enum frame_type ty;
	uint8_t f0[200], f1[200];
	size_t l0 = sizeof(f0), l1 = sizeof(f1), ol, k, i, refused, tried;
	int rv, good;

	link(&a, &b, NULL);
	good = 0;
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		prng_fill(big3, sizes[k]);
		good +=
		    pass(&a, &b, FRAME_DATA, big3, sizes[k], &ty) == TB_OK &&
		    ty == FRAME_DATA;
		good +=
		    pass(&b, &a, FRAME_DATA, big3, sizes[k], &ty) == TB_OK &&
		    ty == FRAME_DATA;
	}
	is_int(good, 12, "frames of 0 to 65512 bytes pass both ways");
	is_int(a.tx.n, 6, "the send counter counts frames");

	/* Replay, reorder, drop. */
	frame_seal(&a, FRAME_DATA, (const uint8_t *)"zero", 4, f0, &l0);
	frame_seal(&a, FRAME_DATA, (const uint8_t *)"one", 3, f1, &l1);
	snap = b;
	ol = sizeof(big2);
	is_int(frame_open(&b, f0, l0, &ty, big2, &ol), TB_OK, "frame 6 opens");
	ol = sizeof(big2);
	rv = frame_open(&b, f0, l0, &ty, big2, &ol);
	is_int(rv, TB_ESIG, "a replayed frame is refused");
	is_str(b.errmsg,
	       "frame 7: authentication failed (tampered, replayed or "
	       "reordered)",
	       "... with the frame's number");
	ol = sizeof(big2);
	is_int(frame_open(&b, f1, l1, &ty, big2, &ol), TB_ECLOSED,
	       "... and the receiving side stays closed, even for the "
	       "genuine next frame");
	ok(all_zero(b.rx.k, 32), "... its key wiped");
	b = snap;
	ol = sizeof(big2);
	is_int(frame_open(&b, f1, l1, &ty, big2, &ol), TB_ESIG,
	       "a reordered (or skipped) frame is refused");
	b = snap;
	ol = sizeof(big2);
	frame_open(&b, f0, l0, &ty, big2, &ol);
	ol = sizeof(big2);
	rv = frame_open(&b, f1, l1, &ty, big2, &ol);
	ok(rv == TB_OK && ol == 3 && memcmp(big2, "one", 3) == 0,
	   "in order, both open");
	snap = b;

	/* Tamper at every byte, and every truncation. */
	l0 = sizeof(f0);
	prng_fill(big3, 100);
	frame_seal(&a, FRAME_DATA, big3, 100, f0, &l0);
	refused = tried = 0;
	for (i = 0; i < l0; i++) {
		static const uint8_t masks[] = { 0x01, 0x80, 0xff };
		size_t m;

		for (m = 0; m < sizeof(masks); m++) {
			memcpy(f1, f0, l0);
			f1[i] ^= masks[m];
			b = snap;
			ol = sizeof(big2);
			rv = frame_open(&b, f1, l0, &ty, big2, &ol);
			refused +=
			    rv != TB_OK && b.rx_failed && all_zero(b.rx.k, 32);
			tried++;
		}
	}
	is_int(refused, tried,
	       "each of %zu byte tampers of a 124-byte frame is refused",
	       tried);
	refused = tried = 0;
	for (i = 0; i < l0; i++) {
		b = snap;
		ol = sizeof(big2);
		rv = frame_open(&b, f0, i, &ty, big2, &ol);
		refused += rv == TB_ETRUNC || rv == TB_ESIG;
		tried++;
	}
	is_int(refused, tried, "each of %zu truncations is refused", tried);
	b = snap;
	ol = sizeof(big2);
	rv = frame_open(&b, f0, 10, &ty, big2, &ol);
	is_str(b.errmsg, "frame 8: 10 bytes, shorter than the 24-byte minimum",
	       "a truncation says so");
	b = snap;
	memcpy(f1, f0, l0);
	f1[0] = 2;
	ol = sizeof(big2);
	frame_open(&b, f1, l0, &ty, big2, &ol);
	is_str(b.errmsg, "frame 8: version 2, expected 1",
	       "a wrong version says so");
	b = snap;
	ol = sizeof(big2);
	rv = frame_open(&b, f0, l0, &ty, big2, &ol);
	ok(rv == TB_OK && ol == 100 && memcmp(big2, big3, 100) == 0,
	   "the untouched frame opens after all that");

	/* Size caps: refused before anything else. */
	ol = sizeof(big2);
	snap = b;
	rv = frame_open(&b, huge, sizeof(huge), &ty, big2, &ol);
	is_int(rv, TB_ETOOBIG, "an oversized frame is refused");
	like(b.errmsg, "exceeds 65536", "... (%s)", b.errmsg);
	is_int(b.rx.n, snap.rx.n, "... without touching the counter");
	b = snap;
	ol = sizeof(big1);
	rv = frame_seal(&a, FRAME_DATA, big3, 65536, big1, &ol);
	is_int(rv, TB_ETOOBIG, "sealing a 65536-byte payload is refused");
	is_str(a.errmsg, "frame of 65560 bytes exceeds 65536", "... saying so");
	is_int(a.tx.n, 9, "... and sends nothing");
	ol = 100;
	rv = frame_seal(&a, FRAME_DATA, big3, 100, big1, &ol);
	is_int(rv, TB_EINVAL, "an output buffer too small is refused");
	ol = sizeof(big1);
	is_int(frame_seal(&a, (enum frame_type)9, big3, 1, big1, &ol),
	       TB_EINVAL, "an unknown type is refused");
	frame_wipe(&a);
	frame_wipe(&b);

	link(&a, &b, &small);
	is_int(pass(&a, &b, FRAME_DATA, big3, 1000, &ty), TB_OK,
	       "max_frame 1024: a 1024-byte frame passes");
	ol = sizeof(big1);
	is_int(frame_seal(&a, FRAME_DATA, big3, 1001, big1, &ol), TB_ETOOBIG,
	       "max_frame 1024: a 1025-byte frame is not sealed");
	{
		struct frame big_a, big_b;
		struct frame_opts large = { 4096, 0 };

		link(&big_a, &big_b, &large);
		ol = sizeof(big1);
		frame_seal(&big_a, FRAME_DATA, big3, 2000, big1, &ol);
		l0 = sizeof(big2);
		is_int(frame_open(&b, big1, ol, &ty, big2, &l0), TB_ETOOBIG,
		       "max_frame 1024: a 2024-byte frame is refused");
		is_str(b.errmsg, "frame of 2024 bytes exceeds 1024",
		       "... saying so");
		frame_wipe(&big_a);
		frame_wipe(&big_b);
	}
	{
		struct noise_session none;
		struct frame_opts bad = { 10, 0 };

		memset(&none, 0, sizeof(none));
		is_int(frame_init(&a, &none, NULL), TB_EINVAL,
		       "frame_init without keys is refused");
		link(&a, &b, NULL);
		frame_wipe(&a);
		frame_wipe(&b);
		{
			struct party pi, pr;
			struct noise_session is, rs;

			party_new(&pi);
			party_new(&pr);
			handshake(NOISE_IK, &pi, &pr, 0, &is, &rs);
			is_int(frame_init(&a, &is, &bad), TB_EINVAL,
			       "a 10-byte maximum frame is refused");
			is_int(frame_init(&a, &is, NULL), TB_OK,
			       "frame_init takes the session");
			ok(all_zero(&is.tx, sizeof(is.tx)) &&
			       all_zero(&is.rx, sizeof(is.rx)) &&
			       !all_zero(is.h, sizeof(is.h)),
			   "... wiping its keys, keeping its hash");
			noise_session_wipe(&rs);
		}
	}
	frame_wipe(&a);
	frame_wipe(&b);

	/* Counter exhaustion. */
	link(&a, &b, NULL);
	a.tx.n = UINT64_MAX - 1;
	b.rx.n = UINT64_MAX - 1;
	is_int(pass(&a, &b, FRAME_DATA, big3, 10, &ty), TB_OK,
	       "frame 2^64-2, the last Noise allows, passes");
	ol = sizeof(big1);
	rv = frame_seal(&a, FRAME_DATA, big3, 10, big1, &ol);
	is_int(rv, TB_ERANGE, "the next frame is not sealed");
	like(a.errmsg, "send counter exhausted", "... (%s)", a.errmsg);
	is_int(a.tx.n, UINT64_MAX, "... and the counter stays");
	memset(big1, 0, 40);
	big1[0] = 1;
	big1[1] = 1;
	big1[7] = 16;
	ol = sizeof(big2);
	is_int(frame_open(&b, big1, 40, &ty, big2, &ol), TB_ERANGE,
	       "the receiver refuses beyond 2^64-2 too");
	frame_wipe(&a);
	frame_wipe(&b);

	/* Close. */
	link(&a, &b, NULL);
	is_int(pass(&a, &b, FRAME_CLOSE, (const uint8_t *)"bye", 3, &ty), TB_OK,
	       "a close frame passes");
	is_int(ty, FRAME_CLOSE, "... as a close");
	ok(all_zero(a.tx.k, 32) && all_zero(b.rx.k, 32),
	   "... and both ends wipe that direction's key");
	ol = sizeof(big1);
	is_int(frame_seal(&a, FRAME_DATA, big3, 1, big1, &ol), TB_ECLOSED,
	       "nothing is sealed after close");
	ol = sizeof(big2);
	is_int(frame_open(&b, big1, 25, &ty, big2, &ol), TB_ECLOSED,
	       "nothing is opened after close");
	is_int(pass(&b, &a, FRAME_DATA, big3, 5, &ty), TB_OK,
	       "the other direction still works");
	frame_wipe(&a);
	frame_wipe(&b);
}

/* test_rekey_in_flight: the sender runs several rekeys ahead of the
 * receiver (frames sealed and not yet read, as on a busy link), the
 * receiver catches up through them; a frame sealed under a key the sender
 * already replaced is then refused at its place in the stream. */
static void
test_rekey_in_flight(void)
{
	enum { N = 40 };
	static uint8_t wire[N][64];
	struct frame a, b, stale;
	struct frame_opts every4 = { 0, 4 };
	enum frame_type ty;
	size_t wl[N], ol, i;
	uint8_t body[16], got[64], k0[32];
	int good = 0, order = 0, rv;

	link(&a, &b, &every4);
	memcpy(k0, a.tx.k, 32);
	stale = a; /* the sender's state before its first rekey */
	for (i = 0; i < N; i++) {
		memset(body, (int)i, sizeof(body));
		wl[i] = sizeof(wire[i]);
		if (frame_seal(&a, FRAME_DATA, body, sizeof(body), wire[i],
		               &wl[i]) != TB_OK) {
			break;
		}
	}
	is_int(i, N, "%d frames sealed before the receiver reads one", N);
	is_int(a.tx_rekeys, N / 4, "... the sender rekeyed %d times ahead",
	       N / 4);
	ok(memcmp(a.tx.k, k0, 32) != 0 && memcmp(b.rx.k, k0, 32) == 0,
	   "... the receiver still holds the first key");
	for (i = 0; i < N; i++) {
		ol = sizeof(got);
		rv = frame_open(&b, wire[i], wl[i], &ty, got, &ol);
		good += rv == TB_OK;
		order += rv == TB_OK && ol == sizeof(body) &&
		         got[0] == (uint8_t)i &&
		         (ty == FRAME_REKEY) == (i % 4 == 3);
	}
	is_int(good, N, "the receiver opens all %d through the rekeys", N);
	is_int(order, N, "... in order, the rekey frames where they were");
	ok(b.rx_rekeys == a.tx_rekeys && !memcmp(a.tx.k, b.rx.k, 32),
	   "... and ends on the sender's key");
	/* The next frame, sealed under the first key at the right nonce. */
	stale.tx.n = a.tx.n;
	stale.rekey_frames = UINT64_MAX;
	ol = sizeof(wire[0]);
	memset(body, 0xee, sizeof(body));
	frame_seal(&stale, FRAME_DATA, body, sizeof(body), wire[0], &ol);
	wl[0] = ol;
	ol = sizeof(got);
	is_int(frame_open(&b, wire[0], wl[0], &ty, got, &ol), TB_ESIG,
	       "a frame under a replaced key is refused (%s)", b.errmsg);
	ok(all_zero(b.rx.k, 32), "... and the receiving side is wiped");
	frame_wipe(&stale);
	frame_wipe(&a);
	frame_wipe(&b);
}

static void
test_rekey(void)
{
	static const uint8_t zeros[32];
	struct frame a, b, old;
	struct frame_opts every3 = { 0, 3 };
	struct noise_cs cs;
	enum frame_type ty;
	uint8_t want[48], npub[12], k0[32];
	size_t ol, i;
	int good, rv;
	char types[16];

	/* Rekey is the first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros). */
	randombytes_buf(k0, 32);
	noise_cs_init(&cs, k0);
	memset(npub, 0, 4);
	memset(npub + 4, 0xff, 8);
	crypto_aead_chacha20poly1305_ietf_encrypt(want, NULL, zeros, 32, NULL,
	                                          0, NULL, npub, k0);
	noise_cs_rekey(&cs);
	is_mem(cs.k, 32, want, 32, "noise_cs_rekey is Noise's REKEY(k)");
	is_int(cs.n, 0, "... and leaves n alone");
	noise_cs_wipe(&cs);

	link(&a, &b, NULL);
	memcpy(k0, a.tx.k, 32);
	old = a;
	frame_request_rekey(&a);
	rv = pass(&a, &b, FRAME_DATA, big3, 10, &ty);
	ok(rv == TB_OK && ty == FRAME_REKEY,
	   "a requested rekey rides on the next data frame");
	ok(memcmp(a.tx.k, k0, 32) != 0 && memcmp(a.tx.k, b.rx.k, 32) == 0,
	   "... both ends switch to the same new key after it");
	is_int(pass(&a, &b, FRAME_DATA, big3, 10, &ty), TB_OK,
	       "... and the next frame passes");
	ol = sizeof(big1);
	frame_seal(&old, FRAME_DATA, big3, 10, big1, &ol);
	old.tx.n = a.tx.n;
	ol = sizeof(big1);
	frame_seal(&old, FRAME_DATA, big3, 10, big1, &ol);
	{
		struct frame c = b;
		size_t pl = sizeof(big2);

		is_int(frame_open(&c, big1, ol, &ty, big2, &pl), TB_ESIG,
		       "a frame under the old key is refused");
		frame_wipe(&c);
	}
	frame_wipe(&old);
	memcpy(k0, b.tx.k, 32);
	rv = pass(&b, &a, FRAME_REKEY, NULL, 0, &ty);
	ok(rv == TB_OK && ty == FRAME_REKEY && memcmp(b.tx.k, k0, 32) != 0 &&
	       memcmp(b.tx.k, a.rx.k, 32) == 0,
	   "an empty rekey frame the other way switches that direction");
	is_int(pass(&b, &a, FRAME_DATA, big3, 100, &ty), TB_OK,
	       "... and traffic goes on");
	/* A dropped rekey frame: everything after it fails. */
	ol = sizeof(big1);
	frame_seal(&a, FRAME_REKEY, NULL, 0, big1, &ol);
	is_int(pass(&a, &b, FRAME_DATA, big3, 10, &ty), TB_ESIG,
	       "after a dropped rekey frame the next one is refused");
	frame_wipe(&a);
	frame_wipe(&b);

	link(&a, &b, &every3);
	good = 0;
	for (i = 0; i < 10; i++) {
		rv = pass(&a, &b, FRAME_DATA, big3, i, &ty);
		good += rv == TB_OK;
		types[i] = ty == FRAME_REKEY ? 'R' : 'D';
		rv = pass(&b, &a, FRAME_DATA, big3, i, &ty);
		good += rv == TB_OK;
	}
	types[10] = '\0';
	is_int(good, 20, "rekey every 3 frames: 10 frames each way pass");
	is_str(types, "DDRDDRDDRD", "... every third frame is a rekey frame");
	ok(a.tx_rekeys == 3 && b.rx_rekeys == 3 && a.rx_rekeys == 3 &&
	       b.tx_rekeys == 3,
	   "... three rekeys each way, counted on both ends");
	ok(memcmp(a.tx.k, b.rx.k, 32) == 0 && memcmp(b.tx.k, a.rx.k, 32) == 0,
	   "... and the keys agree");
	frame_wipe(&a);
	frame_wipe(&b);
	test_rekey_in_flight();

	link(&a, &b, &every3);
	frame_wipe(&a);
	ok(all_zero(&a, sizeof(a)), "frame_wipe zeroes the whole context");
	ol = sizeof(big1);
	rv = frame_seal(&a, FRAME_DATA, big3, 10, big1, &ol);
	is_int(rv, TB_ECLOSED,
	       "a wiped context refuses to seal (never in "
	       "clear)");
	ol = sizeof(big2);
	rv = frame_open(&a, big1, 34, &ty, big2, &ol);
	is_int(rv, TB_ECLOSED, "... and to open");
	frame_wipe(&b);
}

/* ---- chunks ------------------------------------------------------------ */

/* mkchunk builds a chunk header by hand. */
static size_t
mkchunk(uint8_t *out, uint64_t id, uint64_t total, uint32_t size,
        uint32_t index, size_t dlen)
{
	int i;

	for (i = 0; i < 8; i++) {
		out[i] = (uint8_t)(id >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(total >> (56 - 8 * i));
	}
	for (i = 0; i < 4; i++) {
		out[16 + i] = (uint8_t)(size >> (24 - 8 * i));
		out[20 + i] = (uint8_t)(index >> (24 - 8 * i));
	}
	memset(out + FRAME_CHUNK_HDR, 0x5a, dlen);
	return FRAME_CHUNK_HDR + dlen;
}

static void
test_chunks(void)
{
	static uint8_t msg[200000], chunks[8][70000];
	struct frame a, b;
	struct frame_split sp;
	struct frame_join j;
	enum frame_type ty;
	size_t clen[8], n = 0, fl, ol, len;
	uint8_t *data, c[200];
	uint64_t id;
	bool done = false;
	int rv, good = 0;

	prng_fill(msg, sizeof(msg));
	link(&a, &b, NULL);
	rv = frame_chunk_split_init(&sp, 42, msg, sizeof(msg),
	                            FRAME_DEFAULT_MAX - FRAME_OVERHEAD);
	is_int(rv, TB_OK, "a 200000-byte message is split");
	is_int(sp.count, 4, "... into 4 chunks of at most 65512 bytes");
	frame_chunk_join_init(&j, 1 << 20);
	while (!frame_chunk_split_done(&sp) && n < 8) {
		clen[n] = sizeof(chunks[n]);
		frame_chunk_split_next(&sp, chunks[n], &clen[n]);
		fl = sizeof(big1);
		frame_seal(&a, FRAME_DATA, chunks[n], clen[n], big1, &fl);
		ol = sizeof(big2);
		rv = frame_open(&b, big1, fl, &ty, big2, &ol);
		good += rv == TB_OK;
		rv = frame_chunk_join_add(&j, big2, ol, &done);
		good += rv == TB_OK;
		n++;
	}
	is_int(good, 8, "... which travel as frames and are joined");
	ok(done, "... the last completes the message");
	rv = frame_chunk_join_take(&j, &id, &data, &len);
	ok(rv == TB_OK && id == 42 && len == sizeof(msg) &&
	       memcmp(data, msg, len) == 0,
	   "... which is the message");
	free(data);
	frame_wipe(&a);
	frame_wipe(&b);

	/* An empty message is one chunk. */
	frame_chunk_split_init(&sp, 7, NULL, 0, 100);
	ol = sizeof(c);
	frame_chunk_split_next(&sp, c, &ol);
	rv = frame_chunk_join_add(&j, c, ol, &done);
	ok(rv == TB_OK && done && frame_chunk_split_done(&sp),
	   "an empty message is one chunk");
	rv = frame_chunk_join_take(&j, &id, &data, &len);
	ok(rv == TB_OK && id == 7 && len == 0 && data != NULL,
	   "... taken as 0 bytes");
	free(data);

	/* Refusals. */
	rv = frame_chunk_join_add(&j, chunks[0], clen[0], &done);
	is_int(rv, TB_OK, "chunk 0 of 4");
	rv = frame_chunk_join_add(&j, chunks[2], clen[2], &done);
	is_int(rv, TB_EMISSING, "chunk 2 after chunk 0 is refused");
	is_str(j.errmsg, "message 42: chunk 2 arrived, chunk 1 is missing",
	       "... saying which is missing");
	ok(j.buf == NULL && !j.active, "... and the partial message dropped");
	frame_chunk_join_add(&j, chunks[0], clen[0], &done);
	rv = frame_chunk_join_add(&j, chunks[0], clen[0], &done);
	is_int(rv, TB_EDUP, "a duplicate chunk is refused");
	frame_chunk_join_add(&j, chunks[0], clen[0], &done);
	rv = frame_chunk_join_take(&j, &id, &data, &len);
	is_int(rv, TB_EMISSING, "an incomplete message cannot be taken");
	like(j.errmsg, "1 of 4 chunks", "... (%s)", j.errmsg);
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 43, 10, 5, 0, 5), &done);
	is_int(rv, TB_EMISSING, "a new message while one is incomplete");
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 1, 10, 5, 0, 4), &done);
	is_int(rv, TB_EMALFORMED, "a short chunk is refused");
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 1, 10, 5, 0, 6), &done);
	is_int(rv, TB_EMALFORMED, "a long chunk is refused");
	frame_chunk_join_add(&j, c, mkchunk(c, 1, 10, 5, 0, 5), &done);
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 1, 11, 5, 1, 5), &done);
	is_int(rv, TB_EMALFORMED, "a changed total is refused");
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 1, 10, 5, 2, 5), &done);
	is_int(rv, TB_EMALFORMED, "an index past the count is refused");
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 1, 10, 0, 0, 0), &done);
	is_int(rv, TB_EMALFORMED, "a chunk size of 0 is refused");
	rv = frame_chunk_join_add(&j, c, 23, &done);
	is_int(rv, TB_ETRUNC, "a chunk shorter than its header is refused");
	rv = frame_chunk_join_add(
	    &j, c, mkchunk(c, 1, (1 << 20) + 1, 100, 0, 100), &done);
	is_int(rv, TB_ETOOBIG, "a message over the cap is refused");
	is_str(j.errmsg,
	       "message 1 declares 1048577 bytes, over the cap of 1048576",
	       "... saying so");
	ok(j.buf == NULL, "... before allocating anything");
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 1, 1 << 20, 100, 0, 100),
	                          &done);
	ok(rv == TB_OK && j.cap <= 4096,
	   "a 1 MiB message's first 100 bytes take %zu bytes, not 1 MiB",
	   j.cap);
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 5, UINT64_MAX, 1, 0, 1),
	                          &done);
	is_int(rv, TB_EMISSING, "a new message id drops the partial one");
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 2, UINT64_MAX, 1, 0, 1),
	                          &done);
	is_int(rv, TB_ETOOBIG, "a 2^64-1 byte message is refused");
	frame_chunk_join_add(&j, c, mkchunk(c, 3, 5, 5, 0, 5), &done);
	rv = frame_chunk_join_add(&j, c, mkchunk(c, 4, 5, 5, 0, 5), &done);
	is_int(rv, TB_EINVAL, "a complete message must be taken first");
	frame_chunk_join_free(&j);
	ok(j.buf == NULL && !j.complete && j.max_total == 1 << 20,
	   "frame_chunk_join_free drops it and keeps the cap");
	ok(frame_chunk_split_init(&sp, 1, msg, 10, FRAME_CHUNK_HDR) ==
	       TB_EINVAL,
	   "chunks must have room for data");
}

/* ---- speed -------------------------------------------------------------- */

static void
measure(void)
{
	static const uint8_t pro[] = "bench";
	struct party i, r;
	struct noise_session is, rs;
	struct frame a, b;
	enum frame_type ty;
	uint8_t src[1024], dst[1024];
	double t0, c0, dt, dc, wall[2] = { 0, 0 }, cpu[2] = { 0, 0 };
	double fps, fcpu, mps;
	size_t n, fl, ol;
	int pat;

	party_new(&i);
	party_new(&r);
	for (pat = NOISE_XX; pat <= NOISE_IK; pat++) {
		struct noise_hs ha, hb;

		n = 0;
		t0 = now_s();
		c0 = cpu_s();
		do {
			noise_init(&ha, pat, true, i.priv, r.pub, pro,
			           sizeof(pro), NULL);
			noise_init(&hb, pat, false, r.priv, NULL, pro,
			           sizeof(pro), NULL);
			finish(&ha, &hb);
			noise_split(&ha, &is);
			noise_split(&hb, &rs);
			n++;
			dt = now_s() - t0;
		} while (dt < 1.0);
		dc = cpu_s() - c0;
		wall[pat - 1] = (double)n / dt;
		cpu[pat - 1] = (double)n / dc;
	}
	ok(1, "handshakes were measured");
	printf("# perf: full handshakes, both sides in one process: "
	       "XX %.0f/s (%.0f per CPU-second), IK %.0f/s (%.0f per "
	       "CPU-second)\n",
	       wall[0], cpu[0], wall[1], cpu[1]);
	frame_init(&a, &is, NULL);
	frame_init(&b, &rs, NULL);
	prng_fill(src, sizeof(src));
	n = 0;
	t0 = now_s();
	c0 = cpu_s();
	do {
		fl = sizeof(big1);
		frame_seal(&a, FRAME_DATA, src, sizeof(src), big1, &fl);
		ol = sizeof(big2);
		frame_open(&b, big1, fl, &ty, big2, &ol);
		n++;
		dt = now_s() - t0;
	} while (dt < 0.5);
	fps = (double)n / dt;
	fcpu = (double)n / (cpu_s() - c0);
	n = 0;
	t0 = now_s();
	c0 = cpu_s();
	do {
		size_t k;

		for (k = 0; k < 1000; k++) {
			memcpy(dst, src, sizeof(src));
			src[k & 1023] ^= dst[(k + 1) & 1023];
		}
		n += 1000;
		dt = now_s() - t0;
	} while (dt < 0.2);
	mps = (double)n / (cpu_s() - c0);
	ok(1, "frames were measured");
	printf("# perf: 1 KiB frames sealed and opened: %.0f/s (%.0f per "
	       "CPU-second, %.0f MB/s); 1 KiB memcpy: %.0f per CPU-second "
	       "(%.0fx)\n",
	       fps, fcpu, fcpu * 1024 / 1e6, mps, mps / fcpu);
	frame_wipe(&a);
	frame_wipe(&b);
}

/* test_init_pub: noise_init_pub with the static public key given starts
 * exactly the handshake noise_init starts (which computes it), and one
 * with a key that is not the private key's fails at the peer. */
static void
test_init_pub(void)
{
	static const uint8_t pro[] = "prologue";
	struct party i, r, other;
	struct noise_hs a, b, c;
	uint8_t m[256], p[64];
	size_t ml, pl;
	int pat, role;

	party_new(&i);
	party_new(&r);
	party_new(&other);
	for (pat = NOISE_XX; pat <= NOISE_IK; pat++) {
		for (role = 0; role < 2; role++) {
			noise_init(&a, (enum noise_pattern)pat, role == 0,
			           i.priv, r.pub, pro, sizeof(pro), NULL);
			noise_init_pub(&b, (enum noise_pattern)pat, role == 0,
			               i.priv, i.pub, r.pub, pro, sizeof(pro),
			               NULL);
			ok(memcmp(&a, &b, sizeof(a)) == 0,
			   "noise_init_pub (%s, %s) starts the same handshake "
			   "as noise_init",
			   pat == NOISE_XX ? "XX" : "IK",
			   role == 0 ? "initiator" : "responder");
			noise_hs_wipe(&a);
			noise_hs_wipe(&b);
		}
	}
	/* IK: the initiator claims a static key it does not hold. */
	noise_init_pub(&a, NOISE_IK, true, i.priv, other.pub, r.pub, pro,
	               sizeof(pro), NULL);
	noise_init(&c, NOISE_IK, false, r.priv, NULL, pro, sizeof(pro), NULL);
	ml = sizeof(m);
	is_int(noise_write_message(&a, NULL, 0, m, &ml), TB_OK,
	       "a wrong s_pub is not noticed by its owner ...");
	pl = sizeof(p);
	is_int(noise_read_message(&c, m, ml, p, &pl), TB_ESIG,
	       "... but the peer refuses the message (ss is not shared)");
	noise_hs_wipe(&a);
	noise_hs_wipe(&c);
}

int
main(void)
{
	size_t k;

	if (sodium_init() < 0) {
		printf("Bail out! sodium_init failed\n");
		return 1;
	}
	for (k = 0; k < sizeof(vectors) / sizeof(vectors[0]); k++) {
		test_vector(&vectors[k]);
	}
	test_round_trips();
	test_init_pub();
	test_api();
	test_tamper();
	test_frames();
	test_bench_plaintext();
	test_rekey();
	test_chunks();
	measure();
	return done_testing();
}
