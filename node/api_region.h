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

/* api_region_write proposes region.topology op ("set-parent",
 * "add-peer" with req {"code", "url"}; "remove-peer" with code from the
 * URL and req NULL), after checking the code and the URL. */
void api_region_write(struct http_call *c, const char *op, const char *code,
                      const json_t *req);

/* api_remote_refused replies 501 and returns -1 when region (a case id's
 * or a ?region= parameter's first six characters) is not this node's:
 * queries routed to other regions are not built. what names the query. */
int api_remote_refused(struct http_call *c, const char *what,
                       const char *region);

#endif
