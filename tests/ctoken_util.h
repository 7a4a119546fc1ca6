/* Fixtures shared by the chain-token tests (test_ctoken.c,
 * test_ctoken_grants.c): a fixed clock, seeded keys, a 1-of-1 root. */
#ifndef TB_TESTS_CTOKEN_UTIL_H
#define TB_TESTS_CTOKEN_UTIL_H

#include "schema/canon.h"
#include "schema/trust.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

/* 2026-06-01T00:00:00Z */
#define NOW   1780272000000LL
#define NOW_S (NOW / 1000)
#define DAY   86400000LL
#define YEAR  (365 * DAY)

struct key {
	uint8_t pk[32];
	uint8_t sk[64];
	char hex[65];
};

/* key_make derives k from a seed of 32 bytes n. */
static inline void
key_make(struct key *k, int n)
{
	uint8_t seed[32];

	memset(seed, n, sizeof(seed));
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	canon_hex(k->pk, 32, k->hex);
}

/* make_root is region's root metadata with one officer a (who also holds
 * the release key), signed by a. */
static inline json_t *
make_root(const char *region, struct key *a)
{
	json_t *r = json_pack(
	    "{s:s, s:s, s:i, s:s, s:i, s:[{s:s, s:s}], s:[{s:s, s:s}]}",
	    "format", "tongban.root/1", "region", region, "version", 1,
	    "expires", "2030-01-01T00:00:00Z", "threshold", 1, "officers",
	    "name", "a", "key", a->hex, "release_keys", "name", "rel", "key",
	    a->hex);
	char err[128];

	trust_sign(r, a->sk, err, sizeof(err));
	return r;
}

#endif
