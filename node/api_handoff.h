/* The HTTP API of handoffs (node/api_handoff.c). */
#ifndef TB_NODE_API_HANDOFF_H
#define TB_NODE_API_HANDOFF_H

#include "node/api.h"

/* api_handoff_offer: POST /v1/cases/ID/handoff {to, mode?, reason?}
 * (checked here, proposed as handoff.offer; 202 with the record). */
void api_handoff_offer(struct http_call *c, const char *id, const json_t *req);

/* api_handoff_abort: POST /v1/handoffs/ID/abort (handoff.abort with this
 * node's handoff_abort_after_ms). */
void api_handoff_abort(struct http_call *c, const char *id);

/* api_handoff_request: POST /v1/handoffs/request {case, reason?}
 * (id NULL: handoff.request) or POST /v1/handoffs/ID/refuse {reason}
 * (handoff.refuse). */
void api_handoff_request(struct http_call *c, const char *id,
                         const json_t *req);

/* api_handoff_list: GET /v1/handoffs?state=&side=&after=&limit=. */
void api_handoff_list(struct http_call *c);

/* api_handoff_case: GET /v1/handoffs/ID, the records of one case. */
void api_handoff_case(struct http_call *c, const char *id);

/* api_handoff_metrics returns the tongban_handoffs gauges (malloc'd text,
 * or NULL). Any thread. */
char *api_handoff_metrics(struct node *n);

#endif
