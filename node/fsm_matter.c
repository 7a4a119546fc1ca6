/* Resolving a matter code, as a case names it, to the effective matter
 * the case pins, with the answers remembered in the catalog cache. */
#include "node/fsm.h"

#include "schema/overlay.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

void
fsm_matter_fini(struct fsm_matter *m)
{
	json_decref(m->eff);
	m->eff = NULL;
}

/* is_impl tells an implementation key (31-character task code, then
 * "#item" or nothing) from a basic key (12 characters, ...). */
static bool
is_impl(const char *code)
{
	const char *h = strchr(code, '#');

	return (h != NULL ? (size_t)(h - code) : strlen(code)) == 31;
}

/* find_entry returns the chain position whose overlay has an entry with
 * implementation key code (or, when basic, whose task code names the basic
 * key code), nearest region first; the entry key goes to key. */
static int
find_entry(const struct store *s, const struct fsm_catalog *c, const char *code,
           bool basic, char *key)
{
	json_t *e;
	size_t j;
	int i;

	for (i = s->nchain - 1; i >= 0; i--) {
		json_array_foreach(json_object_get(c->ov[i], "entries"), j, e)
		{
			if (overlay_entry_key(e, key, MATTER_KEY_MAX) == 0 &&
			    !strcmp(basic ? key + 19 : key, code)) {
				return i;
			}
		}
	}
	return -1;
}

/* with_defaults copies the standard matter with the defaults for it of
 * every overlay in the chain, top down. */
static int
with_defaults(const struct store *s, const struct fsm_catalog *c,
              const json_t *std, const char *key, json_t **out)
{
	char k[MATTER_KEY_MAX];
	json_t *eff, *df, *v;
	const char *name;
	size_t j;
	int i;

	if ((eff = json_copy((json_t *)std)) == NULL) {
		return TB_ENOMEM;
	}
	for (i = 0; i < s->nchain; i++) {
		json_array_foreach(json_object_get(c->ov[i], "defaults"), j, df)
		{
			if (matter_key(df, k, sizeof(k)) != 0 ||
			    strcmp(k, key)) {
				continue;
			}
			json_object_foreach(df, name, v)
			{
				if (json_object_set(eff, name, v) != 0) {
					json_decref(eff);
					return TB_ENOMEM;
				}
			}
		}
	}
	*out = eff;
	return TB_OK;
}

/* hold_to_caps holds m's promised limit to the caps above the layer that
 * set it: above chain position i for an entry, every default in the chain
 * (each one caps those below it) for a basic key (i < 0). */
static int
hold_to_caps(const struct store *s, const struct fsm_catalog *c, int i,
             struct fsm_matter *m)
{
	const json_t *above[STORE_CHAIN_MAX];
	bool capped;

	return overlay_cap(&c->std, above,
	                   fsm_above(c, i >= 0 ? i : s->nchain, above), m->key,
	                   m->eff, &capped);
}

/* resolve computes what fsm_resolve answers. */
static int
resolve(const struct store *s, const struct fsm_catalog *c, const char *code,
        struct fsm_matter *m)
{
	uint8_t all[CANON_HASH_LEN], locked[CANON_HASH_LEN];
	const json_t *above[STORE_CHAIN_MAX];
	const json_t *std;
	char ek[MATTER_KEY_MAX];
	bool impl = is_impl(code);
	int rv, i;

	memset(m, 0, sizeof(*m));
	if (c->std.version == 0 || strlen(code) >= MATTER_KEY_MAX) {
		return TB_ENOTFOUND;
	}
	if (!impl && (std = catalog_matter(&c->std, code)) == NULL) {
		return TB_ENOTFOUND;
	}
	i = find_entry(s, c, code, !impl, ek);
	if (i >= 0) {
		rv = overlay_effective(&c->std, above, fsm_above(c, i, above),
		                       c->ov[i], ek, &m->eff);
		if (rv != 0) {
			return rv; /* the entry's matter left the layer */
		}
		snprintf(m->task_code, sizeof(m->task_code), "%s", ek);
		snprintf(m->region, sizeof(m->region), "%s", s->chain[i]);
		snprintf(m->key, sizeof(m->key), "%s", ek + 19);
	} else if (impl) {
		return TB_ENOTFOUND;
	} else {
		if ((rv = with_defaults(s, c, std, code, &m->eff)) != 0) {
			return rv;
		}
		snprintf(m->key, sizeof(m->key), "%s", code);
	}
	if (c->cap && (rv = hold_to_caps(s, c, i, m)) != 0) {
		fsm_matter_fini(m);
		return rv;
	}
	if ((rv = overlay_hashes(m->eff, all, locked)) != 0) {
		fsm_matter_fini(m);
		return rv == TB_ENOMEM ? rv : TB_ECORRUPT;
	}
	canon_hex(all, CANON_HASH_LEN, m->hash);
	canon_hex(locked, CANON_HASH_LEN, m->locked);
	return TB_OK;
}

/* copy_str copies obj[key] (a string) into out. */
static void
copy_str(const json_t *obj, const char *key, char *out, size_t n)
{
	const char *v = spec_str(obj, key);
	size_t len = v != NULL ? strlen(v) : 0;

	/* snprintf's truncation, without its cost on every case. */
	len = len < n ? len : n - 1;
	memcpy(out, v != NULL ? v : "", len);
	out[len] = '\0';
}

int
fsm_resolve(const struct store *s, struct fsm_catalog *c, const char *code,
            struct fsm_matter *m)
{
	json_t *hit = json_object_get(c->resolved, code);
	int rv;

	if (hit != NULL) {
		memset(m, 0, sizeof(*m));
		m->eff = json_incref(json_object_get(hit, "eff"));
		copy_str(hit, "key", m->key, sizeof(m->key));
		copy_str(hit, "task_code", m->task_code, sizeof(m->task_code));
		copy_str(hit, "region", m->region, sizeof(m->region));
		copy_str(hit, "hash", m->hash, sizeof(m->hash));
		copy_str(hit, "locked", m->locked, sizeof(m->locked));
		return TB_OK;
	}
	if ((rv = resolve(s, c, code, m)) != 0) {
		return rv;
	}
	hit = json_pack("{s:O, s:s, s:s, s:s, s:s, s:s}", "eff", m->eff, "key",
	                m->key, "task_code", m->task_code, "region", m->region,
	                "hash", m->hash, "locked", m->locked);
	if (hit == NULL || json_object_set_new(c->resolved, code, hit) != 0) {
		fsm_matter_fini(m);
		return TB_ENOMEM;
	}
	return TB_OK;
}
