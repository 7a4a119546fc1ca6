/* A fast path for parsing a request body: the common subset of JSON that
 * API writes use, straight from the buffer into jansson values. */
#ifndef TB_SCHEMA_JSON_FAST_H
#define TB_SCHEMA_JSON_FAST_H

#include <jansson.h>
#include <stddef.h>

/* json_fast_object parses buf (len bytes) when it is one JSON object of
 * objects, arrays, strings without \u escapes, integers that fit a
 * json_int_t, true, false and null, nested at most 64 deep, with only
 * whitespace around it. It returns a new value equal to what
 * json_loadb(buf, len, JSON_REJECT_DUPLICATES, ...) returns for it, or
 * NULL when the input is outside that subset or not valid JSON (a
 * duplicate key, invalid UTF-8, a control character, ...) or memory ran
 * out: the caller then parses with json_loadb, which gives the value or
 * the precise error. So it never accepts what jansson refuses. */
json_t *json_fast_object(const char *buf, size_t len);

#endif
