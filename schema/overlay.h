/* Overlays (实施清单): a city's or county's local layer, and the merge. */
#ifndef TB_SCHEMA_OVERLAY_H
#define TB_SCHEMA_OVERLAY_H

#include "schema/canon.h"
#include "schema/catalog.h"
#include "schema/error.h"

#include <jansson.h>

/* overlay_check validates overlay ov at path against the standard layer
 * std and the overlays `above` (nabove of them, each of a strict ancestor
 * region of ov's, from the top down): fields each tier owns, codes,
 * promised limits within the statutory one and the ancestors' defaults,
 * channels and fees within the standard's. Errors name region, matter
 * code, field path and the owning tier. Returns the number of problems
 * added to d. */
int overlay_check(const struct catalog *std, const json_t *const *above,
                  size_t nabove, const json_t *ov, const char *path,
                  struct tb_diag *d);

/* overlay_entry_key writes an implementation entry's key: its task_code,
 * followed by "#" and its task_handle_item when that is not empty (one
 * body may implement several handling items of one matter). TB_ECODE if
 * task_code is missing or not 31 characters. */
int overlay_entry_key(const json_t *entry, char *out, size_t n);

/* overlay_effective builds the effective matter of the implementation
 * entry with key task_code (as overlay_entry_key makes it) of overlay ov: the
 * standard matter, then the ancestors' defaults for it, then the entry. *out is
 * a new object (caller decrefs); TB_ENOTFOUND if ov has no such entry or the
 * matter is gone. */
int overlay_effective(const struct catalog *std, const json_t *const *above,
                      size_t nabove, const json_t *ov, const char *task_code,
                      json_t **out);

/* overlay_cap holds the promised limit (promise_day, promise_type) of eff,
 * the effective matter of standard matter key, to the caps above it: the
 * statutory limit and the standard's promise of std, then the defaults for
 * key of the overlays `above` (top down). A limit later than a cap takes
 * the cap's day and type (the stricter value wins; a layer above may lower
 * a cap below a promise published earlier underneath). Deterministic: it
 * reads only its arguments. Sets *capped when it changed eff. */
int overlay_cap(const struct catalog *std, const json_t *const *above,
                size_t nabove, const char *key, json_t *eff, bool *capped);

/* overlay_hashes computes the hash of all of an effective matter and of
 * its locked fields only (what handoff compares between regions). */
int overlay_hashes(const json_t *effective, uint8_t all[CANON_HASH_LEN],
                   uint8_t locked[CANON_HASH_LEN]);

#endif
