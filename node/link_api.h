/* The node's side of its links: starting them, and their HTTP endpoints. */
#ifndef TB_NODE_LINK_API_H
#define TB_NODE_LINK_API_H

#include "node/http.h"

#include <jansson.h>
#include <stddef.h>

struct node;

/* link_node_start starts n's links (on n's loop) if the node holds a
 * certificate, and writes the bound URL to url ("" when links are off).
 * Returns 0, or -1 after logging why the node cannot run (the link port
 * cannot be bound). */
int link_node_start(struct node *n, char *url, size_t len);

/* link_api_list answers GET /v1/links (any thread). */
void link_api_list(struct http_call *c);

/* link_api_ping answers POST /v1/links/ping {"peer", "payload", "size",
 * "timeout_ms"} on the loop thread: a PING to the peer, answered with the
 * RTT once the PONG comes back. req is borrowed. */
void link_api_ping(struct http_call *c, const json_t *req);

/* link_api_incarnation describes the group's incarnation for GET
 * /v1/status: current, certificate (and its hash), joining, fenced_by and
 * fenced_certificate (an old member), refused_handshakes. Any thread. */
json_t *link_api_incarnation(struct node *n);

/* link_api_release runs the region messages the link gate held once the
 * store committed the writes they waited for (loop thread, after commits). */
void link_api_release(struct node *n);

#endif
