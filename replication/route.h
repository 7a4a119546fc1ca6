/* Routing by region code: the next hop from a node's region towards any
 * region, over its links to its parent, its children and its sideways
 * peers. A case id names its receiving region, which always knows the
 * owner; a query walks towards it hop by hop, each hop deciding with only
 * its own links and the national region tree (schema/region.h). */
#ifndef TB_REPLICATION_ROUTE_H
#define TB_REPLICATION_ROUTE_H

#include "schema/region.h"

#include <stddef.h>
#include <stdint.h>

/* A relayed request carries its hop count; a hop refuses one that has
 * travelled this far (a loop through misconfigured peers). Province to
 * county and back down another branch is 4 hops; 8 leaves room for a
 * sideways detour at each end. */
#define ROUTE_MAX_HOPS 8

/* A region's links, as its replicated region record names them. */
struct route_links {
	int32_t self;
	int32_t parent;          /* 0 for none (a province, or unset) */
	const int32_t *children; /* children this region has admitted */
	size_t n_children;
	const int32_t *peers; /* sideways peers */
	size_t n_peers;
};

enum route_kind {
	ROUTE_LOCAL,       /* the target is this region */
	ROUTE_DOWN,        /* to a child whose subtree holds the target */
	ROUTE_SIDEWAYS,    /* to a peer that is, or is above, the target */
	ROUTE_UP,          /* to the parent */
	ROUTE_UNKNOWN,     /* the target is in no region table: 404 */
	ROUTE_UNREACHABLE, /* known, but no link leads there: 503 */
};

struct route {
	enum route_kind kind;
	int32_t hop;      /* the region to send to (DOWN, SIDEWAYS, UP) */
	char reason[160]; /* for UNKNOWN and UNREACHABLE, and a note else */
};

/* route_kind_name: "local", "down", "sideways", "up", "unknown",
 * "unreachable". */
const char *route_kind_name(enum route_kind k);

/* route_next decides the next hop from l->self towards target in table t.
 * The order: the target itself; down, if the target is below self (to the
 * child on the way, which must be linked: a missing link is UNREACHABLE,
 * naming the child); sideways, to the most specific peer at or above the
 * target; up, to the parent; else UNREACHABLE. Returns TB_OK and fills out
 * (also for UNKNOWN and UNREACHABLE); TB_EINVAL if l->self is not in t. */
int route_next(const struct region_table *t, const struct route_links *l,
               int32_t target, struct route *out);

#endif
