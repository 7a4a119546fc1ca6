/* The GB/T 2260 region table: codes, names, levels and the parent tree. */
#ifndef TB_SCHEMA_REGION_H
#define TB_SCHEMA_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An immutable table of regions, safe to share between threads. */
struct region_table;

/* A group (e.g. 419000) gathers county-level divisions that a province
 * administers directly; it has a city-shaped code but is no city. */
enum region_level { REGION_PROVINCE, REGION_CITY, REGION_GROUP, REGION_COUNTY };

#define REGION_NLEVELS 4

/* One region. parent is 0 for a province. name is UTF-8 and lives as long
 * as the table that returned the region. */
struct region {
	int32_t code;
	int32_t parent;
	enum region_level level;
	const char *name;
};

/* region_table_load parses csv (len bytes, need not be NUL-terminated):
 * '#' comment lines, the header "code,name,level,parent", then one row per
 * region. Empty lines and a trailing CR are ignored; quoted fields are
 * refused (the real table has none). On success *out owns a new table that
 * the caller frees with region_table_free; csv is not referenced after the
 * call. On failure *out is untouched and errmsg (errlen bytes, may be NULL)
 * names the line and the reason, e.g. "line 12: unknown level 'town'":
 *   TB_ECODE      a code is not 6 digits or does not fit its level
 *                 (province xx0000, city or group xxxx00, county not xx00);
 *   TB_EDUP       a code appears twice;
 *   TB_EMALFORMED anything else: columns, header, level, name, a province
 *                 with a parent or another region without one, a parent
 *                 missing from the table, of the wrong level or in another
 *                 province, no rows at all;
 *   TB_ETOOBIG    csv is over 64 MiB;
 *   TB_ENOMEM     allocation failed. */
int region_table_load(const char *csv, size_t len, struct region_table **out,
                      char *errmsg, size_t errlen);

/* region_table_free frees t and everything it returned; NULL is a no-op. */
void region_table_free(struct region_table *t);

/* region_builtin returns the table compiled from data/regions.csv, parsed
 * once on first use (thread-safe). It lives until exit; do not free it.
 * NULL only if memory ran out on that first use. */
const struct region_table *region_builtin(void);

/* region_code_parse reads a region code from the NUL-terminated s: six
 * digits ("370102"), or twelve whose last six are zeros ("370102000000",
 * the platform form), normalised to the six-digit code. Anything else
 * (township or village codes, other lengths, signs, spaces, "000000", a
 * province part of 00) returns TB_ECODE and leaves *code untouched. It does
 * not check that the code is in any table: use region_find for that. */
int region_code_parse(const char *s, int32_t *code);

/* region_code_parse_msg is region_code_parse that also writes the reason
 * for a refusal into errmsg (errlen bytes, may be NULL), without repeating
 * s: "must be 6 digits, or 12 ending in 000000". */
int region_code_parse_msg(const char *s, int32_t *code, char *errmsg,
                          size_t errlen);

/* region_find returns the region with code, or NULL if t has none. */
const struct region *region_find(const struct region_table *t, int32_t code);

/* region_is_ancestor is true if anc is a strict ancestor of code, following
 * the table's parents (a region is not its own ancestor). False if either
 * code is unknown. */
bool region_is_ancestor(const struct region_table *t, int32_t anc,
                        int32_t code);

/* region_children stores up to max children of code, in code order, into
 * out (may be NULL when max is 0) and returns how many there are in all.
 * Code 0 stands for the root: its children are the provinces. */
size_t region_children(const struct region_table *t, int32_t code,
                       const struct region **out, size_t max);

/* region_count returns how many regions of level t holds (0 for a level
 * out of range). */
size_t region_count(const struct region_table *t, enum region_level level);

/* region_table_size returns how many regions t holds. */
size_t region_table_size(const struct region_table *t);

/* region_at returns the i-th region of t in code order, NULL past the end. */
const struct region *region_at(const struct region_table *t, size_t i);

/* region_tier returns the national 行使层级 digit of r: 2 for a province,
 * 3 for a city or group, 4 for a county; 0 for NULL. */
int region_tier(const struct region *r);

/* region_level_name returns "province", "city", "group" or "county"
 * ("unknown" out of range). */
const char *region_level_name(enum region_level l);

#endif
