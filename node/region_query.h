/* Queries routed between regions (node/region_query.c). */
#ifndef TB_NODE_REGION_QUERY_H
#define TB_NODE_REGION_QUERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct node;
struct http_call;
struct route;

#define REGION_T_QUERY 50 /* request: a case or matter asked of a region */

/* region_query_ask answers c with kind ("case" or "matter") key as region
 * (its first six characters name it) holds it, asked hop by hop over the
 * links; 404 or 503 with the reason when it cannot be. Any thread. */
void region_query_ask(struct http_call *c, const char *kind, const char *key,
                      const char *region);

/* region_route builds this region's links (linked children, peers, the
 * parent) and decides the hop towards target (replication/route.h). Loop
 * thread. */
void region_route(struct node *n, int32_t target, struct route *rt);

/* region_case_share (region_share.c) decides what of case c, held here at
 * region self, goes to a node of region asker (as the query's first hop
 * authenticated it): c itself (a new reference, *full set) when asker is
 * the case's receiving region, its owner, the region it was handed from
 * or a peer of one of its handoff records here; else its summary
 * (fsm_case_summary) with "redacted": true and "reason". NULL: out of
 * memory or no id. Loop thread. */
struct store;
json_t *region_case_share(struct store *s, const char *self, json_t *c,
                          const char *asker, bool *full);

/* region_query_start registers the link handler (no-op without links). */
void region_query_start(struct node *n);

#endif
