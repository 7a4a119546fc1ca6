/* Fast paths for JSON: parsing a request body (the common subset of JSON
 * that API writes use, straight from the buffer into jansson values) and
 * writing a reply body. */
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

/* json_fast_dump writes v (an object or an array) through cb with the
 * bytes json_dump_callback(v, cb, data, JSON_COMPACT) writes: members in
 * jansson's order, strings escaped as jansson escapes them, integers in
 * decimal; without jansson's cycle check, which formats and hashes the
 * address of every object and array it enters. Returns 0 when done, -1
 * when cb failed, 1 when v holds what it leaves to jansson (a real, a
 * string that is not valid UTF-8, nesting deeper than 64, v neither an
 * object nor an array): the caller then discards what cb received and asks
 * json_dump_callback, whose answer (bytes or failure) is the one that
 * counts. */
int json_fast_dump(const json_t *v, json_dump_callback_t cb, void *data);

#endif
