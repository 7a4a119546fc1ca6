/* A region's catalog: the standard layer folded from signed releases. */
#ifndef TB_SCHEMA_CATALOG_H
#define TB_SCHEMA_CATALOG_H

#include "schema/canon.h"
#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>

struct tb_calendar;

/* The standard layer as of `version`: what releases 1..version fold to. */
struct catalog {
	char region[7];               /* province code, "" while empty */
	long long version;            /* 0 while empty */
	uint8_t hash[CANON_HASH_LEN]; /* of the last applied release */
	json_t *matters;              /* object: matter key -> matter */
	json_t *bundles;              /* object: bundle code -> bundle */
	json_t *calendar;        /* the newest calendar document, or NULL */
	struct tb_calendar *cal; /* the same, parsed */
};

/* catalog_init makes c empty. Returns TB_OK or TB_ENOMEM. */
int catalog_init(struct catalog *c);

/* catalog_fini releases c's memory; safe on a zeroed or half-built c. */
void catalog_fini(struct catalog *c);

/* release_check validates a release document's shape and its own contents
 * (each matter, calendar) without reference to earlier versions. Returns
 * the number of problems added to d. */
int release_check(const json_t *r, const char *path, struct tb_diag *d);

/* catalog_apply verifies release r against c and folds it in: the region,
 * the chain (version = c's + 1, prev_hash = c's hash; a lower version is a
 * rollback, a higher one a gap, another hash a fork), the signature when
 * root is not NULL, removals of existing entries only, and the bundles of
 * the resulting layer. On any problem c is unchanged and the problems are
 * in d (returns the first code); on TB_OK c is at r's version. */
int catalog_apply(struct catalog *c, const json_t *r, const json_t *root,
                  struct tb_diag *d);

/* catalog_apply_doc is catalog_apply given also r's canonical bytes (doc,
 * doclen; NULL if the caller has none): the bytes the signature and the
 * release's hash cover are cut from doc instead of encoded from r. doc
 * must be the canonical encoding of r (a command's bytes canon_check
 * accepted, decoded into r). */
int catalog_apply_doc(struct catalog *c, const json_t *r, const uint8_t *doc,
                      size_t doclen, const json_t *root, struct tb_diag *d);

/* catalog_matter returns the standard matter with the given key
 * ("catalog_code" or "catalog_code#item"), or NULL. */
const json_t *catalog_matter(const struct catalog *c, const char *key);

/* limit_le checks that a period of (pd, pt) never ends after one of
 * (ad, at) from the same start, for every start in cal's years (cal may be
 * NULL when the units allow a comparison without it). Returns TB_OK, or
 * TB_ERANGE / TB_ECALENDAR with the reason in why. */
int limit_le(const struct tb_calendar *cal, long long pd, const char *pt,
             long long ad, const char *at, char *why, size_t whylen);

#endif
