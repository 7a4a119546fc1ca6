/* Revocation lists and the root metadata at the HTTP API (docs/API.md
 * "Revocation lists", "Root metadata"). */
#ifndef TB_NODE_API_CRL_H
#define TB_NODE_API_CRL_H

#include "node/http.h"

#include <jansson.h>

/* api_crl_post proposes crl.put for the signed list in req (the list, or
 * {"crl": LIST, "chain": [CERT...]}), anchored at the stored root, else
 * this node's root.json;
 * a region key's list without a chain takes it from this node's own chain
 * when the key is in it. The caller checked the role. Replies once. */
void api_crl_post(struct http_call *c, json_t *req);

/* api_crl_list answers {"crls": [LIST...]}: the stored lists, the newest
 * of each issuer. */
void api_crl_list(struct http_call *c);

/* api_root_post proposes root.put for the signed root metadata req (the
 * document itself, or {"root": ROOT}). The caller checked the role.
 * Replies once. */
void api_root_post(struct http_call *c, json_t *req);

/* api_root_get answers {"root": ROOT} (the stored root metadata) or 404
 * no_root. */
void api_root_get(struct http_call *c);

/* api_calendar_post proposes calendar.put for the signed calendar req (a
 * tongban.calendar/1 with region, version and signatures), anchored at the
 * stored root, else this node's root.json. The caller checked the role.
 * Replies once. */
void api_calendar_post(struct http_call *c, json_t *req);

/* api_calendar_list answers store_calendars (node/store.h). */
void api_calendar_list(struct http_call *c);

#endif
