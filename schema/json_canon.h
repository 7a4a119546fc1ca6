/* A request body straight to canonical bytes, without jansson values: for
 * the writes that are only checked and encoded on nng's threads. */
#ifndef TB_SCHEMA_JSON_CANON_H
#define TB_SCHEMA_JSON_CANON_H

#include "schema/canon.h"
#include "schema/error.h"

#include <jansson.h>
#include <stddef.h>

enum jtok_type {
	JT_OBJECT,
	JT_ARRAY,
	JT_STRING,
	JT_INT,
	JT_TRUE,
	JT_FALSE,
	JT_NULL
};

/* One value of a scanned body. An object's members follow it as key (a
 * string) and value, an array's elements as values; end is the index
 * past the value and everything in it. */
struct jtok {
	unsigned char type;
	unsigned n;   /* an object's members, an array's elements */
	unsigned end; /* the index after this value */
	size_t len;   /* a string's bytes */
	union {
		const char *s; /* a string: in the body, or in jdoc.esc */
		json_int_t i;  /* an integer */
	} u;
};

#define JDOC_TOKENS  256
#define JDOC_ESCAPED 2048

/* A scanned body (about 10 KiB: meant for the stack). Its strings point
 * into the body, which must outlive it. */
struct jdoc {
	struct jtok t[JDOC_TOKENS];
	unsigned n;
	int depth; /* the deepest nesting (the root's members: 1) */
	char esc[JDOC_ESCAPED]; /* strings that had escapes, unescaped */
	size_t nesc;
};

/* jdoc_parse scans buf (len bytes) into d when json_fast_object would
 * take it (schema/json_fast.h), duplicate keys aside (jdoc_canon finds
 * those): the root object is d->t[0]. Returns 0, or -1 to give up: the
 * input is outside that subset, not valid JSON, or holds more than
 * JDOC_TOKENS values or JDOC_ESCAPED bytes of escaped strings. */
int jdoc_parse(struct jdoc *d, const char *buf, size_t len);

/* jdoc_get returns the index of the value of member key of the object at
 * index obj (its first, if the key repeats), or 0 if it has none. */
unsigned jdoc_get(const struct jdoc *d, unsigned obj, const char *key);

/* jdoc_canon appends to out the canonical encoding (canon_encode's bytes)
 * of the root object with member xkey set to the string xval (xlen bytes,
 * valid UTF-8 without NUL), replacing a member of that name. Returns
 * TB_OK, TB_ENOMEM, or 1 to give up (a duplicate key: jansson refuses the
 * body; nesting deeper than 32; an object of more than 64 members): out
 * then holds partial bytes to discard. */
int jdoc_canon(const struct jdoc *d, const char *xkey, const char *xval,
               size_t xlen, struct canon_buf *out);

#endif
