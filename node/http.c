/* The HTTP API's plumbing over nng's HTTP server. */
#include "node/http.h"

#include "schema/error.h"
#include "schema/json_fast.h"

#include <arpa/inet.h>
#include <nng/supplemental/tls/tls.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The largest request body nng collects for us; larger requests get 400
 * from nng itself. Endpoints enforce their own, smaller limits (413). */
#define HTTP_MAX_BODY (64u << 20)

/* The longest query accepted (414 beyond). */
#define HTTP_MAX_QUERY 1024

struct http_server_ctx {
	struct node *node;
	void (*dispatch)(struct http_call *c);
};

int64_t
http_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* pct_decode decodes %XX and '+' (in queries) into out; -1 if malformed
 * or too long. */
static int
pct_decode(const char *s, size_t len, char *out, size_t n, int plus)
{
	size_t i, j = 0;

	for (i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '%') {
			int hi, lo;
			if (i + 2 >= len) {
				return -1;
			}
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0) {
				return -1;
			}
			ch = (char)(hi << 4 | lo);
			if (ch == '\0') {
				return -1;
			}
			i += 2;
		} else if (ch == '+' && plus) {
			ch = ' ';
		}
		if (j + 1 >= n) {
			return -1;
		}
		out[j++] = ch;
	}
	out[j] = '\0';
	return 0;
}

static void
http_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct http_server_ctx *ctx = nng_http_handler_get_data(h);
	const char *uri = nng_http_req_get_uri(req);
	const char *q = strchr(uri, '?');
	size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
	struct http_call *c;
	const char *m;
	size_t mlen;
	void *body;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	c->aio = aio;
	c->req = req;
	c->node = ctx->node;
	c->start_ns = http_now_ns();
	/* Truncated as snprintf did, without its cost on every request. */
	m = nng_http_req_get_method(req);
	mlen = strnlen(m, sizeof(c->method) - 1);
	memcpy(c->method, m, mlen);
	c->method[mlen] = '\0';
	nng_http_req_get_data(req, &body, &c->body_len);
	c->body = body;
	c->query = "";
	if (pct_decode(uri, plen, c->path, sizeof(c->path), 0) != 0) {
		http_reply_error(c, 400, "malformed", NULL,
		                 "the request path is malformed or too long");
		return;
	}
	c->query = q != NULL ? q + 1 : "";
	if (q != NULL) {
		if (strlen(q + 1) >= HTTP_MAX_QUERY) {
			http_reply_error(c, 414, "too_big", NULL,
			                 "the query is too long");
			return;
		}
	}
	ctx->dispatch(c);
}

static void
ctx_free(void *p)
{
	free(p);
}

/* tb_read_small reads a file of at most 1 MiB, NUL-terminated. */
static char *
tb_read_small(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		return NULL;
	}
	if ((buf = malloc((1u << 20) + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, 1u << 20, f);
	fclose(f);
	buf[n] = '\0';
	*lenp = n;
	return buf;
}

/* http_tls gives the server its certificate (chain) and key, both PEM
 * files, through nng's TLS (mbedTLS in Debian's build). */
static int
http_tls(nng_http_server *s, const char *cert, const char *key, char *errmsg,
         size_t errlen)
{
	nng_tls_config *cfg = NULL;
	char *c = NULL, *k = NULL;
	size_t len;
	int rv = NNG_ENOMEM;

	if ((c = tb_read_small(cert, &len)) == NULL ||
	    (k = tb_read_small(key, &len)) == NULL) {
		snprintf(errmsg, errlen, "TLS: cannot read %s",
		         c == NULL ? cert : key);
		free(c);
		return NNG_ENOENT;
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0 ||
	    (rv = nng_tls_config_own_cert(cfg, c, k, NULL)) != 0 ||
	    (rv = nng_http_server_set_tls(s, cfg)) != 0) {
		snprintf(errmsg, errlen, "TLS with %s and %s: %s", cert, key,
		         nng_strerror(rv));
	}
	if (cfg != NULL) {
		nng_tls_config_free(cfg);
	}
	sodium_memzero(k, strlen(k));
	free(c);
	free(k);
	return rv;
}

int
http_start(const char *hostport, const char *cert, const char *key,
           struct node *n, void (*dispatch)(struct http_call *c),
           nng_http_server **out, int *port, char *errmsg, size_t errlen)
{
	bool tls = cert != NULL && cert[0] != '\0';
	struct http_server_ctx *ctx;
	nng_http_handler *h = NULL;
	nng_http_server *s = NULL;
	char url[300];
	nng_url *u = NULL;
	nng_sockaddr sa;
	int rv;

	snprintf(url, sizeof(url), "%s://%s", tls ? "https" : "http", hostport);
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		return TB_ENOMEM;
	}
	ctx->node = n;
	ctx->dispatch = dispatch;
	if ((rv = nng_url_parse(&u, url)) != 0 ||
	    (rv = nng_http_server_hold(&s, u)) != 0 ||
	    (rv = nng_http_handler_alloc(&h, "/", http_cb)) != 0 ||
	    (rv = nng_http_handler_set_tree(h)) != 0 ||
	    (rv = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (rv = nng_http_handler_collect_body(h, true, HTTP_MAX_BODY)) ||
	    (rv = nng_http_handler_set_data(h, ctx, ctx_free)) != 0) {
		goto fail;
	}
	ctx = NULL; /* the handler owns it now */
	if ((rv = nng_http_server_add_handler(s, h)) != 0) {
		goto fail;
	}
	h = NULL;
	if (tls && (rv = http_tls(s, cert, key, errmsg, errlen)) != 0) {
		nng_http_server_release(s);
		nng_url_free(u);
		return TB_EIO;
	}
	if ((rv = nng_http_server_start(s)) != 0 ||
	    (rv = nng_http_server_get_addr(s, &sa)) != 0) {
		goto fail;
	}
	*port = sa.s_family == NNG_AF_INET6 ? ntohs(sa.s_in6.sa_port)
	                                    : ntohs(sa.s_in.sa_port);
	nng_url_free(u);
	*out = s;
	return TB_OK;
fail:
	snprintf(errmsg, errlen, "HTTP on %s: %s", hostport, nng_strerror(rv));
	if (h != NULL) {
		nng_http_handler_free(h);
	}
	if (s != NULL) {
		nng_http_server_release(s);
	}
	if (u != NULL) {
		nng_url_free(u);
	}
	free(ctx);
	return TB_EIO;
}

void
http_stop(nng_http_server *s)
{
	if (s != NULL) {
		nng_http_server_stop(s);
		nng_http_server_release(s);
	}
}

/* call_free frees c and what it owns. */
static void
call_free(struct http_call *c)
{
	json_decref(c->token);
	json_decref(c->extra);
	json_decref(c->loop_req);
	raft_free(c->cmd.base);
	free(c);
}

static void
reply(struct http_call *c, uint16_t status, const char *ctype, const void *data,
      size_t len, const char *etag)
{
	nng_http_res *res;
	nng_aio *aio = c->aio;

	c->status = status;
	if (nng_http_res_alloc(&res) != 0) {
		call_free(c);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, status);
	nng_http_res_set_header(res, "Content-Type", ctype);
	nng_http_res_set_header(res, "Cache-Control", "no-store");
	if (etag != NULL) {
		nng_http_res_set_header(res, "ETag", etag);
	}
	if (c->allow != NULL && status == 405) {
		nng_http_res_set_header(res, "Allow", c->allow);
	}
	if (len > 0 && nng_http_res_copy_data(res, data, len) != 0) {
		nng_http_res_free(res);
		call_free(c);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	if (c->node != NULL) {
		extern void node_observe_call(struct http_call * c);
		extern void group_reply_headers(struct node * n,
		                                nng_http_res * res);
		group_reply_headers(c->node, res);
		node_observe_call(c);
	}
	call_free(c);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

void
http_reply_raw(struct http_call *c, uint16_t status, const char *ctype,
               const void *data, size_t len, const char *etag)
{
	reply(c, status, ctype, data, len, etag);
}

/* map_field rewrites the field of an error reply with c->fields. */
static void
map_field(const struct http_call *c, json_t *body)
{
	json_t *err = json_object_get(body, "error");
	const char *f = json_string_value(json_object_get(err, "field"));
	const struct http_field_map *m;
	char out[512];

	for (m = c->fields; f != NULL && m != NULL && m->from != NULL; m++) {
		size_t n = strlen(m->from);
		if (strncmp(f, m->from, n) != 0 ||
		    (f[n] != '\0' && f[n] != '.' && f[n] != '[')) {
			continue;
		}
		if (m->to == NULL) {
			json_object_set_new(err, "field", json_null());
		} else {
			snprintf(out, sizeof(out), "%s%s", m->to, f + n);
			json_object_set_new(err, "field", json_string(out));
		}
		return;
	}
}

/* A reply body being dumped: on the stack while it fits (most replies
 * do), then in a heap buffer that doubles. */
struct dump_buf {
	char *p;
	size_t n, cap;
	char small[2048];
};

static int
dump_cb(const char *buf, size_t size, void *data)
{
	struct dump_buf *d = data;
	char *np;
	size_t cap;

	if (size > d->cap - d->n) {
		cap = d->cap * 2;
		while (size > cap - d->n) {
			cap *= 2;
		}
		np = d->p == d->small ? malloc(cap) : realloc(d->p, cap);
		if (np == NULL) {
			return -1;
		}
		if (d->p == d->small) {
			memcpy(np, d->small, d->n);
		}
		d->p = np;
		d->cap = cap;
	}
	memcpy(d->p + d->n, buf, size);
	d->n += size;
	return 0;
}

void
http_reply_json(struct http_call *c, uint16_t status, json_t *body)
{
	struct dump_buf d;
	const char *etag = NULL;
	char tag[48];
	int rv = -1;

	if (body != NULL && c->fields != NULL && status >= 400) {
		map_field(c, body);
	}
	d.p = d.small;
	d.n = 0;
	d.cap = sizeof(d.small);
	if (body != NULL) {
		json_t *v = json_object_get(body, "_etag");
		if (json_is_integer(v)) {
			snprintf(tag, sizeof(tag), "\"%lld\"",
			         (long long)json_integer_value(v));
			etag = tag;
			json_object_del(body, "_etag");
		}
		/* The text and its newline, dumped once into d: by the fast
		 * path, or by jansson where it gives up (a real). */
		rv = json_fast_dump(body, dump_cb, &d);
		if (rv == 1) {
			d.n = 0;
			rv =
			    json_dump_callback(body, dump_cb, &d, JSON_COMPACT);
		}
		if (rv == 0) {
			rv = dump_cb("\n", 1, &d);
		}
		json_decref(body);
	}
	if (rv != 0) { /* as json_dumps failing did */
		reply(c, status, "application/json", "{}\n", 3, etag);
	} else {
		reply(c, status, "application/json", d.p, d.n, etag);
	}
	if (d.p != d.small) {
		free(d.p);
	}
}

void
http_reply_error(struct http_call *c, uint16_t status, const char *code,
                 const char *field, const char *fmt, ...)
{
	char msg[600];
	json_t *err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err = json_pack("{s:{s:s, s:s, s:s?}}", "error", "code", code,
	                "message", msg, "field", field);
	http_reply_json(c, status, err);
}

const char *
http_header(const struct http_call *c, const char *name)
{
	return nng_http_req_get_header(c->req, name);
}

int
http_query(const struct http_call *c, const char *key, char *out, size_t n)
{
	const char *p = c->query;
	size_t klen = strlen(key);

	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			return pct_decode(p + klen + 1, len - klen - 1, out, n,
			                  1) == 0
			           ? 0
			           : -2;
		}
		if (len == klen && !strncmp(p, key, klen)) {
			out[0] = '\0';
			return 0;
		}
		p += len + (amp != NULL);
	}
	return -1;
}
