/* The request body's scanner, shared by the two fast paths that read a
 * body: into jansson values (schema/json_fast.c) and into canonical bytes
 * (schema/json_canon.c). */
#ifndef TB_SCHEMA_JSON_FAST_IMPL_H
#define TB_SCHEMA_JSON_FAST_IMPL_H

#include <jansson.h>
#include <stddef.h>

/* The deepest nesting either fast path takes. */
#define JF_DEPTH 64

/* A position in the input. */
struct fp {
	const unsigned char *p, *e;
	int depth;
};

/* jf_ws skips JSON whitespace. */
static inline void
jf_ws(struct fp *f)
{
	while (f->p < f->e && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' ||
	                       *f->p == '\t')) {
		f->p++;
	}
}

/* jf_utf8_len: the length of the valid UTF-8 sequence at p (lead byte >=
 * 0x80), or 0: no overlong forms, no surrogates, nothing past U+10FFFF. */
size_t jf_utf8_len(const unsigned char *p, const unsigned char *e);

/* jf_str scans the string at f->p (after its opening quote): *out points
 * at its bytes, unescaped into buf (cap bytes) if it has escapes. Returns
 * the length, or -1 to give up (a \u escape, a control character, invalid
 * UTF-8, no closing quote, buf too small). */
long jf_str(struct fp *f, char *buf, size_t cap, const char **out);

/* jf_int scans an integer of at most 18 digits into *v: 0, or -1 to give
 * up (a leading zero, a fraction or exponent, more digits, not a
 * number). */
int jf_int(struct fp *f, json_int_t *v);

#endif
