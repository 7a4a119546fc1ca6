/* A cache of verified certificate chains, so repeated handshakes with the
 * same peer skip the signature checks. */
#ifndef TB_SCHEMA_CERT_CACHE_H
#define TB_SCHEMA_CERT_CACHE_H

#include "schema/cert_chain.h"

#include <jansson.h>
#include <stdint.h>

/*
 * A cache of verified chains: a small table keyed by the BLAKE2b-256 of the
 * root's, every chain element's canonical bytes (signatures included) and
 * the issuer and version of every revocation list passed. An entry lives
 * from the latest not_before to the earliest not_after (and the root's
 * expiry) of its chain. A hit skips the signature checks; the leaf is still
 * checked against expect on every call.
 *
 * Invalidation: a new revocation list has a new version, so the key
 * changes and the chain is verified again against it; a new root changes
 * its bytes likewise. Callers that replace a list or root should also call
 * cert_cache_clear, so entries of the old state do not wait for eviction.
 * Not thread-safe: one cache per loop thread.
 */
#define CERT_CACHE_SLOTS 64

struct cert_cache_slot {
	uint8_t key[32];
	int64_t valid_from;
	int64_t valid_until; /* 0: empty slot */
	uint64_t used;       /* tick of the last hit, for LRU eviction */
};

struct cert_cache {
	struct cert_cache_slot slot[CERT_CACHE_SLOTS];
	uint64_t tick;
	uint64_t hits;
	uint64_t misses;
};

/* cert_cache_init empties c and zeroes its counters. */
void cert_cache_init(struct cert_cache *c);

/* cert_cache_clear drops every entry (counters are kept). */
void cert_cache_clear(struct cert_cache *c);

/* cert_cache_verify is cert_verify_chain through the cache c: on a hit
 * only expect and the validity window are checked; on a miss the chain is
 * verified in full and, if valid, remembered (even if expect refuses the
 * leaf). Same results as cert_verify_chain. */
int cert_cache_verify(struct cert_cache *c, const json_t *root,
                      const json_t *const *chain, size_t n,
                      const json_t *const *crls, size_t ncrl,
                      const struct cert_expect *expect, int64_t now_ms,
                      struct tb_diag *d);

#endif
