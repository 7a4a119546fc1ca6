/* The HTTP API's plumbing: nng's server, requests handed to the node. */
#ifndef TB_NODE_HTTP_H
#define TB_NODE_HTTP_H

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

struct node;

/* A rewrite of an error reply's field: a path that starts with `from` (up
 * to a segment boundary) has that part replaced by `to`, or loses its field
 * if `to` is NULL. Writes use it to report paths of the request rather than
 * of the command it became. Tables end with { NULL, NULL }. */
struct http_field_map {
	const char *from;
	const char *to;
};

/* One request in flight. It is created on an nng thread; reads are
 * answered there, writes are queued to the node's loop. It is freed when
 * the reply is sent (http_reply_*), exactly once. */
struct http_call {
	nng_aio *aio;
	nng_http_req *req;
	struct node *node;
	char method[8];
	char path[512]; /* percent-decoded, without the query */
	/* The raw query, without '?', in the request's URI ("" if none).
	 * Not a copy: the struct stays under 1 KiB, glibc's small-bin size,
	 * since a larger calloc per request ran malloc_consolidate each
	 * time (4% of the node's CPU under load). */
	const char *query;
	const char *body; /* owned by req */
	size_t body_len;
	json_t *token; /* the caller's token record, or NULL */
	int route;     /* metrics class */
	int64_t start_ns;
	struct http_call *next;       /* the node's queue */
	struct raft_apply apply;      /* its .index: a write's entry */
	unsigned long long prop_term; /* the term it was proposed in */
	int status;                   /* the reply's status, for metrics */
	json_t *extra; /* merged into a write's success reply (a new token) */
	const struct http_field_map *fields; /* error field rewrites, or NULL */
	const char *allow;      /* the Allow header of a 405, or NULL */
	struct raft_buffer cmd; /* a write's encoded command, until proposed */
	/* A write handled on the loop instead (node_on_loop). */
	void (*on_loop)(struct http_call *c, const json_t *req);
	json_t *loop_req;
	bool consistent; /* a read with ?consistent=1 (on the loop) */
};

/* http_start starts nng's HTTP server on host:port, HTTPS when cert and
 * key (PEM files) are given (port 0 picks a free
 * one) and writes the bound port to *port. Requests go to dispatch, on
 * nng's threads. */
int http_start(const char *hostport, const char *cert, const char *key,
               struct node *n, void (*dispatch)(struct http_call *c),
               nng_http_server **out, int *port, char *errmsg, size_t errlen);

/* http_stop stops and releases the server; no dispatch runs after it. */
void http_stop(nng_http_server *s);

/* http_reply_json sends status with body (stolen; may be NULL) and frees
 * c. */
void http_reply_json(struct http_call *c, uint16_t status, json_t *body);

/* http_reply_error sends {"error":{"code","message","field"}} and frees
 * c. field may be NULL. */
void http_reply_error(struct http_call *c, uint16_t status, const char *code,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* http_reply_raw sends bytes with a content type (copied) and frees c. */
void http_reply_raw(struct http_call *c, uint16_t status, const char *ctype,
                    const void *data, size_t len, const char *etag);

/* http_header returns a request header, or NULL. */
const char *http_header(const struct http_call *c, const char *name);

/* http_query copies the value of query parameter key (percent-decoded)
 * into out; returns 0 if present, -1 if absent, -2 if malformed or too
 * long for out. */
int http_query(const struct http_call *c, const char *key, char *out, size_t n);

/* http_now_ns: a monotonic clock for latencies. */
int64_t http_now_ns(void);

#endif
