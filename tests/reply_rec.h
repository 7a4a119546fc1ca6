/* The answers of HTTP calls in tests that compile node code with its
 * http_reply_error renamed to test_reply_error: each call carries its
 * number in its path, and R[number] records how often it was answered and
 * the last answer. Include once, after the node code (MAXCALLS first). */
#ifndef TB_TESTS_REPLY_REC_H
#define TB_TESTS_REPLY_REC_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct rec {
	int answers; /* how many times the call was answered */
	uint16_t status;
	char code[32];
	char msg[300];
};

static struct rec R[MAXCALLS];

/* record notes an answer of call c and frees the call. */
static void
record(struct http_call *c, uint16_t status, const char *code, const char *msg)
{
	struct rec *r = &R[atoi(c->path)];

	r->answers++;
	r->status = status;
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
	raft_free(c->cmd.base);
	json_decref(c->extra);
	free(c);
}

void test_reply_error(struct http_call *c, uint16_t status, const char *code,
                      const char *field, const char *fmt, ...);

void
test_reply_error(struct http_call *c, uint16_t status, const char *code,
                 const char *field, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	(void)field;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record(c, status, code, msg);
}

#endif
