/* Bundles (一件事): several matters applied for as one. */
#ifndef TB_SCHEMA_BUNDLE_H
#define TB_SCHEMA_BUNDLE_H

#include "schema/error.h"

#include <jansson.h>

/* bundle_check validates bundle b at path against matters (an object of
 * matter key -> standard matter): departments, members naming existing
 * matters, the `after` graph (unknown ids and cycles are errors, the
 * cycle is named), and the shared form (each mapping names a member and
 * a field of that member's form with the same type; every required member
 * field is fed). Returns the number of problems added to d. */
int bundle_check(const json_t *b, const json_t *matters, const char *path,
                 struct tb_diag *d);

/* bundle_order writes the member indexes of a valid bundle in an order
 * that respects `after` (a topological order, ties by position) into
 * order (capacity n). Returns the number written, or -1 on a cycle. */
int bundle_order(const json_t *b, size_t *order, size_t n);

#endif
