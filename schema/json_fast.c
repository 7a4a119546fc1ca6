/* The request body's fast path (json_fast.h). jansson's decoder reads its
 * input byte by byte through a stream layer, copies every string through a
 * growing buffer and allocates every token: json_loadb was 10 to 12% of a
 * leader's CPU per written case (docs/BENCH.md). This parser builds the
 * same values from the buffer directly. It is deliberately partial: any
 * input it does not handle exactly as jansson would (a \u escape, a
 * fraction or exponent, a long integer, deep nesting) and any error makes
 * it give up, and the caller asks jansson, whose answer (value or error
 * message) is then the one the client gets. tests/test_json_fast.c
 * compares the two on valid, invalid and mutated inputs. */
#include "schema/json_fast.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FAST_DEPTH 64
/* Integers of at most this many digits cannot overflow json_int_t. */
#define FAST_DIGITS 18

struct fp {
	const unsigned char *p, *e;
	int depth;
};

static void
ws(struct fp *f)
{
	while (f->p < f->e && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' ||
	                       *f->p == '\t')) {
		f->p++;
	}
}

/* utf8_len: the length of the valid UTF-8 sequence at p (lead byte >=
 * 0x80), or 0: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *e)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if ((size_t)(e - p) < n || p[1] < lo || p[1] > hi) {
		return 0;
	}
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf) {
			return 0;
		}
	}
	return n;
}

/* str scans the string at f->p (after its opening quote): *out points at
 * its bytes, unescaped into buf (cap bytes) if it has escapes. Returns
 * the length, or -1 to give up. */
static long
str(struct fp *f, char *buf, size_t cap, const char **out)
{
	const unsigned char *start = f->p;
	size_t n = 0, k;
	bool esc = false;
	char c;

	/* First pass: check, and find the end. */
	while (f->p < f->e && *f->p != '"') {
		if (*f->p < 0x20) {
			return -1;
		}
		if (*f->p == '\\') {
			esc = true;
			if (f->e - f->p < 2 || f->p[1] == 'u') {
				return -1;
			}
			f->p += 2;
		} else if (*f->p >= 0x80) {
			if ((k = utf8_len(f->p, f->e)) == 0) {
				return -1;
			}
			f->p += k;
		} else {
			f->p++;
		}
	}
	if (f->p >= f->e) {
		return -1;
	}
	f->p++; /* the closing quote */
	if (!esc) {
		*out = (const char *)start;
		return (long)(f->p - 1 - start);
	}
	for (; start < f->p - 1; start++) {
		if (n == cap) {
			return -1;
		}
		if (*start != '\\') {
			buf[n++] = (char)*start;
			continue;
		}
		switch (*++start) {
		case '"':
		case '\\':
		case '/':
			c = (char)*start;
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		default:
			return -1;
		}
		buf[n++] = c;
	}
	*out = buf;
	return (long)n;
}

static json_t *value(struct fp *f);

static json_t *
string(struct fp *f)
{
	char buf[512];
	const char *s;
	long n = str(f, buf, sizeof(buf), &s);

	return n < 0 ? NULL : json_stringn_nocheck(s, (size_t)n);
}

static json_t *
integer(struct fp *f)
{
	bool neg = f->p < f->e && *f->p == '-';
	json_int_t v = 0;
	int digits = 0;

	if (neg) {
		f->p++;
	}
	if (f->p >= f->e || *f->p < '0' || *f->p > '9') {
		return NULL;
	}
	if (*f->p == '0') {
		f->p++;
		digits = 1;
	} else {
		while (f->p < f->e && *f->p >= '0' && *f->p <= '9') {
			if (++digits > FAST_DIGITS) {
				return NULL;
			}
			v = v * 10 + (*f->p++ - '0');
		}
	}
	if (f->p < f->e && ((*f->p >= '0' && *f->p <= '9') || *f->p == '.' ||
	                    *f->p == 'e' || *f->p == 'E')) {
		return NULL; /* a leading zero, or a real: jansson decides */
	}
	return json_integer(neg ? -v : v);
}

static json_t *
literal(struct fp *f, const char *word, json_t *v)
{
	size_t n = strlen(word);

	if ((size_t)(f->e - f->p) < n || memcmp(f->p, word, n) != 0) {
		return NULL;
	}
	f->p += n;
	return v;
}

static json_t *
array(struct fp *f)
{
	json_t *a = json_array(), *v;

	f->p++;
	ws(f);
	if (f->p < f->e && *f->p == ']') {
		f->p++;
		return a;
	}
	while (a != NULL) {
		if ((v = value(f)) == NULL ||
		    json_array_append_new(a, v) != 0) {
			break;
		}
		ws(f);
		if (f->p < f->e && *f->p == ']') {
			f->p++;
			return a;
		}
		if (f->p >= f->e || *f->p != ',') {
			break;
		}
		f->p++;
		ws(f);
	}
	json_decref(a);
	return NULL;
}

static json_t *
object(struct fp *f)
{
	json_t *o = json_object(), *v;
	char buf[256];
	const char *k;
	long kn;

	f->p++;
	ws(f);
	if (f->p < f->e && *f->p == '}') {
		f->p++;
		return o;
	}
	while (o != NULL) {
		if (f->p >= f->e || *f->p != '"') {
			break;
		}
		f->p++;
		if ((kn = str(f, buf, sizeof(buf), &k)) < 0 ||
		    json_object_getn(o, k, (size_t)kn) != NULL) {
			break; /* a duplicate: jansson's error message */
		}
		ws(f);
		if (f->p >= f->e || *f->p != ':') {
			break;
		}
		f->p++;
		ws(f);
		if ((v = value(f)) == NULL ||
		    json_object_setn_new_nocheck(o, k, (size_t)kn, v) != 0) {
			break;
		}
		ws(f);
		if (f->p < f->e && *f->p == '}') {
			f->p++;
			return o;
		}
		if (f->p >= f->e || *f->p != ',') {
			break;
		}
		f->p++;
		ws(f);
	}
	json_decref(o);
	return NULL;
}

static json_t *
value(struct fp *f)
{
	json_t *v = NULL;

	if (f->p >= f->e || ++f->depth > FAST_DEPTH) {
		return NULL;
	}
	switch (*f->p) {
	case '{':
		v = object(f);
		break;
	case '[':
		v = array(f);
		break;
	case '"':
		f->p++;
		v = string(f);
		break;
	case 't':
		v = literal(f, "true", json_true());
		break;
	case 'f':
		v = literal(f, "false", json_false());
		break;
	case 'n':
		v = literal(f, "null", json_null());
		break;
	default:
		v = integer(f);
		break;
	}
	f->depth--;
	return v;
}

json_t *
json_fast_object(const char *buf, size_t len)
{
	struct fp f = { (const unsigned char *)buf,
		        (const unsigned char *)buf + len, 0 };
	json_t *v;

	ws(&f);
	if (f.p >= f.e || *f.p != '{') {
		return NULL;
	}
	v = object(&f);
	ws(&f);
	if (v != NULL && f.p != f.e) {
		json_decref(v); /* something after the object */
		return NULL;
	}
	return v;
}
