/* Field-set checks for JSON documents: types, required and unknown keys. */
#ifndef TB_SCHEMA_SPEC_H
#define TB_SCHEMA_SPEC_H

#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum spec_type {
	SPEC_STRING,
	SPEC_INT,
	SPEC_BOOL,
	SPEC_ARRAY,
	SPEC_OBJECT,
	SPEC_STRING_OR_NULL,
	SPEC_ANY
};

struct spec_field {
	const char *name;
	enum spec_type type;
	bool required;
};

/* spec_object checks that obj is an object whose keys are all in fields
 * (else TB_EUNKNOWN naming the key), that every required field is present
 * (TB_EMISSING) and every present field has its type (TB_ETYPE). Each
 * problem is added to d at its path. Returns the number of problems. */
int spec_object(const json_t *obj, const struct spec_field *fields,
                size_t nfields, const char *path, struct tb_diag *d);

/* spec_type_name returns "string", "integer", ... for messages. */
const char *spec_type_name(enum spec_type t);

/* spec_str returns obj[key] as a string, or NULL if absent/not a string. */
const char *spec_str(const json_t *obj, const char *key);

/* spec_int returns obj[key] as an integer, or dflt. */
long long spec_int(const json_t *obj, const char *key, long long dflt);

/* spec_bool returns obj[key] as a boolean, or dflt. */
bool spec_bool(const json_t *obj, const char *key, bool dflt);

/* spec_utf8_chars counts the characters (code points) of a UTF-8 string. */
size_t spec_utf8_chars(const char *s);

/* spec_digits is true if s is exactly n ASCII digits. */
bool spec_digits(const char *s, size_t n);

/* spec_hex is true if s is exactly n lower-case hexadecimal digits. */
bool spec_hex(const char *s, size_t n);

/* spec_time_parse parses an RFC 3339 time with an explicit offset
 * ("2026-01-01T00:00:00+08:00" or "...Z") into Unix milliseconds. Returns
 * TB_OK or TB_EMALFORMED. */
int spec_time_parse(const char *s, int64_t *unix_ms);

/* spec_one_of is true if s equals one of the NULL-terminated options. */
bool spec_one_of(const char *s, const char *const *options);

/* spec_string_set checks that arr[key] (if present) is an array of
 * distinct strings each in options (NULL = any), non-empty if nonempty;
 * problems go to d. Returns the number of problems. */
int spec_string_set(const json_t *obj, const char *key,
                    const char *const *options, bool nonempty, const char *path,
                    struct tb_diag *d);

#endif
