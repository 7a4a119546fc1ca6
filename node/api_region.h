/* The HTTP API between regions (node/api_region.c; docs/API.md). */
#ifndef TB_NODE_API_REGION_H
#define TB_NODE_API_REGION_H

#include "node/api.h"
#include "node/http.h"

#include <jansson.h>

/* api_region_get answers GET /v1/region: the region's view (topology,
 * outboxes, inbound stream). */
void api_region_get(struct http_call *c);

/* api_rollout_get answers GET /v1/catalog/rollout?version=N. */
void api_rollout_get(struct http_call *c);

/* api_area_cases_get answers GET /v1/area/cases?state=&after=&limit=: the
 * summaries of the cases received in the regions below this one (sent up
 * the tree; no personal data). */
void api_area_cases_get(struct http_call *c);

/* api_region_write proposes region.topology op ("set-parent",
 * "add-peer" with req {"code", "url"}; "remove-peer" with code from the
 * URL and req NULL), after checking the code and the URL. */
void api_region_write(struct http_call *c, const char *op, const char *code,
                      const json_t *req);

/* api_overlay_here returns 0 when an overlay of region may be published at
 * this node, else replies and returns -1: a node whose replicated topology
 * has a parent takes only its own region's overlay by hand (422
 * from_parent for a region above it: its layer comes down the stream, and
 * a copy published here would differ from its owner's and stop the stream).
 * Regions neither this one nor above it are left to the apply's refusal. */
int api_overlay_here(struct http_call *c, const char *region);

/* api_remote answers c from another region and returns -1 when region
 * (a case id's first six characters, or ?region=) is not this node's: the
 * question is routed there (node/region_query.c); 0 when it is this one. */
int api_remote(struct http_call *c, const char *kind, const char *key,
               const char *region);

#endif
