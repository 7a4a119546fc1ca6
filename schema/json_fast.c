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
#include "schema/json_fast_impl.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Integers of at most this many digits cannot overflow json_int_t. */
#define FAST_DIGITS 18

size_t
jf_utf8_len(const unsigned char *p, const unsigned char *e)
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

/* plain8: none of the 8 bytes at p is a control character, '"', '\\' or
 * a byte of a multi-byte sequence, tested a word at a time. */
static bool
plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull,
	               highs = 0x8080808080808080ull;
	uint64_t w, q, b;

	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return ((w & highs) | ((w - ones * 0x20) & ~w & highs) |
	        ((q - ones) & ~q & highs) | ((b - ones) & ~b & highs)) == 0;
}

long
jf_str(struct fp *f, char *buf, size_t cap, const char **out)
{
	const unsigned char *start = f->p;
	size_t n = 0, k;
	bool esc = false;
	char c;

	/* First pass: check, and find the end. */
	for (;;) {
		while (f->e - f->p >= 8 && plain8(f->p)) {
			f->p += 8;
		}
		if (f->p >= f->e || *f->p == '"') {
			break;
		}
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
			if ((k = jf_utf8_len(f->p, f->e)) == 0) {
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
	long n = jf_str(f, buf, sizeof(buf), &s);

	return n < 0 ? NULL : json_stringn_nocheck(s, (size_t)n);
}

int
jf_int(struct fp *f, json_int_t *out)
{
	bool neg = f->p < f->e && *f->p == '-';
	json_int_t v = 0;
	int digits = 0;

	if (neg) {
		f->p++;
	}
	if (f->p >= f->e || *f->p < '0' || *f->p > '9') {
		return -1;
	}
	if (*f->p == '0') {
		f->p++;
		digits = 1;
	} else {
		while (f->p < f->e && *f->p >= '0' && *f->p <= '9') {
			if (++digits > FAST_DIGITS) {
				return -1;
			}
			v = v * 10 + (*f->p++ - '0');
		}
	}
	if (f->p < f->e && ((*f->p >= '0' && *f->p <= '9') || *f->p == '.' ||
	                    *f->p == 'e' || *f->p == 'E')) {
		return -1; /* a leading zero, or a real: jansson decides */
	}
	*out = neg ? -v : v;
	return 0;
}

static json_t *
integer(struct fp *f)
{
	json_int_t v;

	return jf_int(f, &v) == 0 ? json_integer(v) : NULL;
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
	jf_ws(f);
	if (f->p < f->e && *f->p == ']') {
		f->p++;
		return a;
	}
	while (a != NULL) {
		if ((v = value(f)) == NULL ||
		    json_array_append_new(a, v) != 0) {
			break;
		}
		jf_ws(f);
		if (f->p < f->e && *f->p == ']') {
			f->p++;
			return a;
		}
		if (f->p >= f->e || *f->p != ',') {
			break;
		}
		f->p++;
		jf_ws(f);
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
	jf_ws(f);
	if (f->p < f->e && *f->p == '}') {
		f->p++;
		return o;
	}
	while (o != NULL) {
		if (f->p >= f->e || *f->p != '"') {
			break;
		}
		f->p++;
		if ((kn = jf_str(f, buf, sizeof(buf), &k)) < 0 ||
		    json_object_getn(o, k, (size_t)kn) != NULL) {
			break; /* a duplicate: jansson's error message */
		}
		jf_ws(f);
		if (f->p >= f->e || *f->p != ':') {
			break;
		}
		f->p++;
		jf_ws(f);
		if ((v = value(f)) == NULL ||
		    json_object_setn_new_nocheck(o, k, (size_t)kn, v) != 0) {
			break;
		}
		jf_ws(f);
		if (f->p < f->e && *f->p == '}') {
			f->p++;
			return o;
		}
		if (f->p >= f->e || *f->p != ',') {
			break;
		}
		f->p++;
		jf_ws(f);
	}
	json_decref(o);
	return NULL;
}

static json_t *
value(struct fp *f)
{
	json_t *v = NULL;

	if (f->p >= f->e || ++f->depth > JF_DEPTH) {
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

	jf_ws(&f);
	if (f.p >= f.e || *f.p != '{') {
		return NULL;
	}
	v = object(&f);
	jf_ws(&f);
	if (v != NULL && f.p != f.e) {
		json_decref(v); /* something after the object */
		return NULL;
	}
	return v;
}

/* ---- writing ----------------------------------------------------------- */

/* The writer: bytes gather in buf and go to cb a chunk at a time (a call
 * per token cost as much as the rest of the dump). */
struct jw {
	json_dump_callback_t cb;
	void *data;
	size_t n;
	char buf[1024];
};

static int
flush(struct jw *w)
{
	int rv = w->n > 0 && w->cb(w->buf, w->n, w->data) != 0 ? -1 : 0;

	w->n = 0;
	return rv;
}

/* put writes n bytes: 0, or -1 if cb failed. */
static int
put(struct jw *w, const char *s, size_t n)
{
	if (n > sizeof(w->buf) - w->n) {
		if (flush(w) != 0) {
			return -1;
		}
		if (n > sizeof(w->buf)) {
			return w->cb(s, n, w->data) != 0 ? -1 : 0;
		}
	}
	memcpy(w->buf + w->n, s, n);
	w->n += n;
	return 0;
}

/* dump_str writes s (n bytes) quoted, escaped as jansson's dump_string
 * escapes without flags: \" \\ \b \f \n \r \t, other control characters
 * as \u00XX (upper-case hex), everything else as it is. Returns 0, -1 (cb
 * failed) or 1 (not valid UTF-8: jansson's dump fails on it). */
static int
dump_str(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *e = p + n, *run;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t k;

	if (put(w, "\"", 1) != 0) {
		return -1;
	}
	run = p;
	while (p < e) {
		unsigned char c = *p;
		const char *t;
		size_t tl = 2;
		if (c >= 0x80) {
			if ((k = jf_utf8_len(p, e)) == 0) {
				return 1;
			}
			p += k;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			p++;
			continue;
		}
		if (p > run && put(w, (const char *)run, (size_t)(p - run))) {
			return -1;
		}
		switch (c) {
		case '"':
			t = "\\\"";
			break;
		case '\\':
			t = "\\\\";
			break;
		case '\b':
			t = "\\b";
			break;
		case '\f':
			t = "\\f";
			break;
		case '\n':
			t = "\\n";
			break;
		case '\r':
			t = "\\r";
			break;
		case '\t':
			t = "\\t";
			break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			t = esc;
			tl = 6;
			break;
		}
		if (put(w, t, tl) != 0) {
			return -1;
		}
		run = ++p;
	}
	if (p > run && put(w, (const char *)run, (size_t)(p - run)) != 0) {
		return -1;
	}
	return put(w, "\"", 1);
}

/* dump_int writes v in decimal, as "%lld" does. */
static int
dump_int(struct jw *w, json_int_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	unsigned long long u =
	    v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0) {
		*--p = '-';
	}
	return put(w, p, (size_t)(buf + sizeof(buf) - p));
}

static int
dump_value(struct jw *w, const json_t *v, int depth)
{
	size_t i, n;
	void *it;
	int rv;

	switch (json_typeof(v)) {
	case JSON_NULL:
		return put(w, "null", 4);
	case JSON_TRUE:
		return put(w, "true", 4);
	case JSON_FALSE:
		return put(w, "false", 5);
	case JSON_INTEGER:
		return dump_int(w, json_integer_value(v));
	case JSON_STRING:
		return dump_str(w, json_string_value(v), json_string_length(v));
	case JSON_ARRAY:
		if (depth >= JF_DEPTH) {
			return 1;
		}
		if (put(w, "[", 1) != 0) {
			return -1;
		}
		n = json_array_size(v);
		for (i = 0; i < n; i++) {
			if (i > 0 && put(w, ",", 1) != 0) {
				return -1;
			}
			rv = dump_value(w, json_array_get(v, i), depth + 1);
			if (rv != 0) {
				return rv;
			}
		}
		return put(w, "]", 1);
	case JSON_OBJECT:
		if (depth >= JF_DEPTH) {
			return 1;
		}
		if (put(w, "{", 1) != 0) {
			return -1;
		}
		/* jansson's iteration order, the one its dump follows. */
		for (it = json_object_iter((json_t *)v), i = 0; it != NULL;
		     it = json_object_iter_next((json_t *)v, it), i++) {
			if (i > 0 && put(w, ",", 1) != 0) {
				return -1;
			}
			if ((rv = dump_str(w, json_object_iter_key(it),
			                   json_object_iter_key_len(it))) !=
			    0) {
				return rv;
			}
			if (put(w, ":", 1) != 0) {
				return -1;
			}
			rv = dump_value(w, json_object_iter_value(it),
			                depth + 1);
			if (rv != 0) {
				return rv;
			}
		}
		return put(w, "}", 1);
	default: /* a real: jansson's formatting of doubles */
		return 1;
	}
}

int
json_fast_dump(const json_t *v, json_dump_callback_t cb, void *data)
{
	struct jw w;
	int rv;

	if (!json_is_object(v) && !json_is_array(v)) {
		return 1;
	}
	w.cb = cb;
	w.data = data;
	w.n = 0;
	rv = dump_value(&w, v, 0);
	return rv != 0 ? rv : flush(&w);
}
