/* Routing by region code (see route.h). */
#include "replication/route.h"

#include "schema/error.h"

#include <stdio.h>
#include <string.h>

const char *
route_kind_name(enum route_kind k)
{
	switch (k) {
	case ROUTE_LOCAL:
		return "local";
	case ROUTE_DOWN:
		return "down";
	case ROUTE_SIDEWAYS:
		return "sideways";
	case ROUTE_UP:
		return "up";
	case ROUTE_UNKNOWN:
		return "unknown";
	case ROUTE_UNREACHABLE:
		return "unreachable";
	}
	return "?";
}

/* at_or_above: region a is target or one of its ancestors. */
static bool
at_or_above(const struct region_table *t, int32_t a, int32_t target)
{
	return a == target || region_is_ancestor(t, a, target);
}

/* depth counts a region's ancestors (a province is 0). */
static int
depth(const struct region_table *t, int32_t code)
{
	const struct region *r = region_find(t, code);
	int d = 0;

	while (r != NULL && r->parent != 0 && d < 8) {
		r = region_find(t, r->parent);
		d++;
	}
	return d;
}

/* child_towards is self's child in the tree on the way to target (below
 * self), whether or not it is linked. */
static int32_t
child_towards(const struct region_table *t, int32_t self, int32_t target)
{
	const struct region *r = region_find(t, target);

	while (r != NULL && r->parent != self) {
		r = region_find(t, r->parent);
	}
	return r != NULL ? r->code : 0;
}

int
route_next(const struct region_table *t, const struct route_links *l,
           int32_t target, struct route *out)
{
	const struct region *self = region_find(t, l->self);
	int32_t best = 0, child;
	int best_depth = -1;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (self == NULL) {
		return TB_EINVAL;
	}
	if (region_find(t, target) == NULL) {
		out->kind = ROUTE_UNKNOWN;
		snprintf(out->reason, sizeof(out->reason),
		         "region %06d is not in the region table", (int)target);
		return TB_OK;
	}
	if (target == l->self) {
		out->kind = ROUTE_LOCAL;
		return TB_OK;
	}
	if (region_is_ancestor(t, l->self, target)) {
		child = child_towards(t, l->self, target);
		for (i = 0; i < l->n_children; i++) {
			if (l->children[i] == child) {
				out->kind = ROUTE_DOWN;
				out->hop = child;
				return TB_OK;
			}
		}
		out->kind = ROUTE_UNREACHABLE;
		snprintf(out->reason, sizeof(out->reason),
		         "region %06d is below %06d, but its child %06d on the "
		         "way is not linked",
		         (int)target, (int)l->self, (int)child);
		return TB_OK;
	}
	for (i = 0; i < l->n_peers; i++) {
		int d;

		if (!at_or_above(t, l->peers[i], target)) {
			continue;
		}
		d = depth(t, l->peers[i]);
		if (d > best_depth) {
			best = l->peers[i];
			best_depth = d;
		}
	}
	if (best != 0) {
		out->kind = ROUTE_SIDEWAYS;
		out->hop = best;
		return TB_OK;
	}
	if (l->parent != 0) {
		out->kind = ROUTE_UP;
		out->hop = l->parent;
		return TB_OK;
	}
	out->kind = ROUTE_UNREACHABLE;
	snprintf(out->reason, sizeof(out->reason),
	         "region %06d is outside %06d, which has no parent and no peer "
	         "at or above it",
	         (int)target, (int)l->self);
	return TB_OK;
}
