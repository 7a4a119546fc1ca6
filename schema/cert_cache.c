/* A cache of verified certificate chains: a small table searched by the
 * hash of what was verified. */
#include "schema/cert_cache.h"

#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/spec.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *
str(const json_t *o, const char *key)
{
	const char *s = spec_str(o, key);

	return s != NULL ? s : "";
}

void
cert_cache_init(struct cert_cache *c)
{
	memset(c, 0, sizeof(*c));
}

void
cert_cache_clear(struct cert_cache *c)
{
	memset(c->slot, 0, sizeof(c->slot));
}

/* hash_doc feeds a length and the canonical bytes of doc into st. */
static int
hash_doc(crypto_generichash_state *st, const json_t *doc)
{
	struct canon_buf b = { 0 };
	uint8_t len[8];
	char err[64];
	int rv, i;

	if ((rv = canon_encode(doc, &b, err, sizeof(err))) == 0) {
		for (i = 0; i < 8; i++) {
			len[i] = (uint8_t)(b.len >> (56 - 8 * i));
		}
		crypto_generichash_update(st, len, sizeof(len));
		crypto_generichash_update(st, b.data, b.len);
	}
	canon_buf_free(&b);
	return rv;
}

/* cache_key hashes root, chain and the lists' issuers and versions. */
static int
cache_key(const json_t *root, const json_t *const *chain, size_t n,
          const json_t *const *crls, size_t ncrl, uint8_t key[32])
{
	crypto_generichash_state st;
	char line[160];
	size_t i;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"tongban.chain/1", 15);
	if (hash_doc(&st, root) != 0) {
		return TB_EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (hash_doc(&st, chain[i]) != 0) {
			return TB_EINVAL;
		}
	}
	for (i = 0; i < ncrl; i++) {
		const json_t *is = json_object_get(crls[i], "issuer");
		snprintf(line, sizeof(line), "|%s/%s/%lld", str(is, "region"),
		         cert_issuer_is_root(crls[i]) ? "root" : str(is, "key"),
		         spec_int(crls[i], "version", 0));
		crypto_generichash_update(&st, (const uint8_t *)line,
		                          strlen(line));
	}
	crypto_generichash_final(&st, key, 32);
	return TB_OK;
}

/* chain_window computes the latest not_before and the earliest not_after
 * (and the root's expiry) of a verified chain. */
static void
chain_window(const json_t *root, const json_t *const *chain, size_t n,
             int64_t *from, int64_t *until)
{
	int64_t t;
	size_t i;

	*from = INT64_MIN;
	*until = INT64_MAX;
	if (spec_time_parse(spec_str(root, "expires"), &t) == 0) {
		*until = t;
	}
	for (i = 0; i < n; i++) {
		if (spec_time_parse(spec_str(chain[i], "not_before"), &t) ==
		        0 &&
		    t > *from) {
			*from = t;
		}
		if (spec_time_parse(spec_str(chain[i], "not_after"), &t) == 0 &&
		    t < *until) {
			*until = t;
		}
	}
}

int
cert_cache_verify(struct cert_cache *c, const json_t *root,
                  const json_t *const *chain, size_t n,
                  const json_t *const *crls, size_t ncrl,
                  const struct cert_expect *expect, int64_t now_ms,
                  struct tb_diag *d)
{
	struct cert_cache_slot *s, *victim = NULL;
	uint8_t key[32];
	bool keyed;
	size_t i;
	int rv;

	keyed = n >= 1 && n <= CERT_CHAIN_MAX &&
	        cache_key(root, chain, n, crls, ncrl, key) == 0;
	c->tick++;
	for (i = 0; keyed && i < CERT_CACHE_SLOTS; i++) {
		s = &c->slot[i];
		if (s->valid_until != 0 &&
		    sodium_memcmp(s->key, key, 32) == 0 &&
		    now_ms >= s->valid_from && now_ms < s->valid_until) {
			s->used = c->tick;
			c->hits++;
			return cert_expect_check(chain[0], expect, d);
		}
	}
	c->misses++;
	rv = cert_verify_chain(root, chain, n, crls, ncrl, NULL, now_ms, d);
	if (rv != 0) {
		return rv;
	}
	for (i = 0; keyed && i < CERT_CACHE_SLOTS; i++) {
		s = &c->slot[i];
		if (s->valid_until == 0 || now_ms >= s->valid_until ||
		    sodium_memcmp(s->key, key, 32) == 0) {
			victim = s;
			break;
		}
		if (victim == NULL || s->used < victim->used) {
			victim = s;
		}
	}
	if (keyed && victim != NULL) {
		memcpy(victim->key, key, 32);
		chain_window(root, chain, n, &victim->valid_from,
		             &victim->valid_until);
		victim->used = c->tick;
	}
	return cert_expect_check(chain[0], expect, d);
}
