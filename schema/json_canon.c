/* A request body straight to canonical bytes (json_canon.h). A case
 * submission was parsed into jansson values on nng's thread, checked, and
 * encoded again from them (canon_encode, sorting each object's members):
 * about a fifth of the CPU our code spent on nng's threads per case
 * (docs/BENCH.md). Here the body is scanned once into a flat table of
 * tokens on the stack, with the scanner of json_fast.c, and encoded from
 * the table. Like json_fast_object it gives up on anything outside the
 * common subset; a duplicate key, which jansson refuses, is found while
 * sorting. The caller then goes the jansson way, whose answer (bytes or
 * error) counts. tests/test_json_canon.c compares the bytes with
 * canon_encode's on valid and mutated bodies. */
#include "schema/json_canon.h"

#include "schema/canon_write.h"
#include "schema/error.h"
#include "schema/json_fast_impl.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The limits of jdoc_canon: deeper or larger input goes the jansson way. */
#define JC_DEPTH   32
#define JC_MEMBERS 64

struct jp {
	struct fp f;
	struct jdoc *d;
};

static int tok_value(struct jp *p);

static struct jtok *
new_tok(struct jp *p, unsigned char type)
{
	struct jtok *t;

	if (p->d->n >= JDOC_TOKENS) {
		return NULL;
	}
	t = &p->d->t[p->d->n++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->end = p->d->n;
	return t;
}

/* tok_string: the string after its opening quote. */
static int
tok_string(struct jp *p)
{
	struct jdoc *d = p->d;
	struct jtok *t = new_tok(p, JT_STRING);
	char *buf = d->esc + d->nesc;
	const char *s;
	long n;

	if (t == NULL ||
	    (n = jf_str(&p->f, buf, JDOC_ESCAPED - d->nesc, &s)) < 0) {
		return -1;
	}
	if (s == buf) {
		d->nesc += (size_t)n;
	}
	t->u.s = s;
	t->len = (size_t)n;
	return 0;
}

static int
tok_literal(struct jp *p, const char *word, unsigned char type)
{
	size_t n = strlen(word);

	if ((size_t)(p->f.e - p->f.p) < n || memcmp(p->f.p, word, n) != 0 ||
	    new_tok(p, type) == NULL) {
		return -1;
	}
	p->f.p += n;
	return 0;
}

/* tok_list scans an object (members) or an array (elements) from its
 * opening bracket. */
static int
tok_list(struct jp *p, bool members)
{
	unsigned at = p->d->n, n = 0;
	char close = members ? '}' : ']';

	if (new_tok(p, members ? JT_OBJECT : JT_ARRAY) == NULL) {
		return -1;
	}
	p->f.p++;
	jf_ws(&p->f);
	if (p->f.p < p->f.e && *p->f.p == close) {
		p->f.p++;
		return 0;
	}
	for (;;) {
		if (members) {
			if (p->f.p >= p->f.e || *p->f.p != '"') {
				return -1;
			}
			p->f.p++;
			if (tok_string(p) != 0) {
				return -1;
			}
			jf_ws(&p->f);
			if (p->f.p >= p->f.e || *p->f.p != ':') {
				return -1;
			}
			p->f.p++;
			jf_ws(&p->f);
		}
		if (tok_value(p) != 0) {
			return -1;
		}
		n++;
		jf_ws(&p->f);
		if (p->f.p < p->f.e && *p->f.p == close) {
			p->f.p++;
			break;
		}
		if (p->f.p >= p->f.e || *p->f.p != ',') {
			return -1;
		}
		p->f.p++;
		jf_ws(&p->f);
	}
	p->d->t[at].n = n;
	p->d->t[at].end = p->d->n;
	return 0;
}

static int
tok_value(struct jp *p)
{
	struct jtok *t;
	json_int_t v;
	int rv;

	if (p->f.p >= p->f.e || ++p->f.depth > JF_DEPTH) {
		return -1;
	}
	if (p->f.depth > p->d->depth) {
		p->d->depth = p->f.depth;
	}
	switch (*p->f.p) {
	case '{':
		rv = tok_list(p, true);
		break;
	case '[':
		rv = tok_list(p, false);
		break;
	case '"':
		p->f.p++;
		rv = tok_string(p);
		break;
	case 't':
		rv = tok_literal(p, "true", JT_TRUE);
		break;
	case 'f':
		rv = tok_literal(p, "false", JT_FALSE);
		break;
	case 'n':
		rv = tok_literal(p, "null", JT_NULL);
		break;
	default:
		rv = -1;
		if (jf_int(&p->f, &v) == 0 &&
		    (t = new_tok(p, JT_INT)) != NULL) {
			t->u.i = v;
			rv = 0;
		}
		break;
	}
	p->f.depth--;
	return rv;
}

int
jdoc_parse(struct jdoc *d, const char *buf, size_t len)
{
	struct jp p = { { (const unsigned char *)buf,
		          (const unsigned char *)buf + len, 0 },
		        d };

	d->n = 0;
	d->depth = 0;
	d->nesc = 0;
	jf_ws(&p.f);
	if (p.f.p >= p.f.e || *p.f.p != '{' || tok_list(&p, true) != 0) {
		return -1;
	}
	jf_ws(&p.f);
	return p.f.p == p.f.e ? 0 : -1;
}

unsigned
jdoc_get(const struct jdoc *d, unsigned obj, const char *key)
{
	size_t kl = strlen(key);
	unsigned i = obj + 1, m;

	if (d->t[obj].type != JT_OBJECT) {
		return 0;
	}
	for (m = 0; m < d->t[obj].n; m++) {
		if (d->t[i].len == kl && !memcmp(d->t[i].u.s, key, kl)) {
			return i + 1;
		}
		i = d->t[i + 1].end;
	}
	return 0;
}

/* ---- encoding: schema/canon_write.h's forms (canon.c's encoder's) ----- */

/* A member to encode; v 0 (the root, never a member) is the extra one. */
struct jmember {
	const char *k;
	size_t kl;
	unsigned v;
};

/* key_cmp orders keys as canon's member_cmp does: bytewise, unsigned, a
 * prefix first. */
static int
key_cmp(const struct jmember *x, const struct jmember *y)
{
	int c = memcmp(x->k, y->k, x->kl < y->kl ? x->kl : y->kl);

	return c != 0 ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

struct jenc {
	const struct jdoc *d;
	struct canon_buf *out;
	struct jmember x; /* the member the root gets */
	const char *xval;
	size_t xlen;
};

static int enc_tok(struct jenc *e, unsigned i);

static int
enc_obj(struct jenc *e, unsigned o)
{
	const struct jdoc *d = e->d;
	struct jmember m[JC_MEMBERS + 1], t;
	unsigned i = o + 1, k, j, h, n = 0;
	bool extra = o == 0;
	int rv;

	if (d->t[o].n > JC_MEMBERS) {
		return 1;
	}
	for (k = 0; k < d->t[o].n; k++) {
		m[n].k = d->t[i].u.s;
		m[n].kl = d->t[i].len;
		m[n].v = i + 1;
		if (extra && key_cmp(&m[n], &e->x) == 0) {
			m[n].v = 0; /* replaced */
			extra = false;
		}
		n++;
		i = d->t[i + 1].end;
	}
	if (extra) {
		m[n++] = e->x;
	}
	for (j = 1; j < n; j++) {
		t = m[j];
		for (h = j; h > 0 && key_cmp(&m[h - 1], &t) > 0; h--) {
			m[h] = m[h - 1];
		}
		m[h] = t;
	}
	for (j = 1; j < n; j++) {
		if (key_cmp(&m[j - 1], &m[j]) == 0) {
			return 1; /* a duplicate key */
		}
	}
	canon_put_map(e->out, n);
	for (j = 0; j < n; j++) {
		canon_put_str(e->out, m[j].k, m[j].kl);
		if (m[j].v == 0) {
			canon_put_str(e->out, e->xval, e->xlen);
		} else if ((rv = enc_tok(e, m[j].v)) != 0) {
			return rv;
		}
	}
	return 0;
}

static int
enc_tok(struct jenc *e, unsigned i)
{
	const struct jtok *t = &e->d->t[i];
	unsigned k, j;
	int rv;

	switch (t->type) {
	case JT_OBJECT:
		return enc_obj(e, i);
	case JT_ARRAY:
		canon_put_array(e->out, t->n);
		for (k = 0, j = i + 1; k < t->n; k++, j = e->d->t[j].end) {
			if ((rv = enc_tok(e, j)) != 0) {
				return rv;
			}
		}
		return 0;
	case JT_STRING:
		canon_put_str(e->out, t->u.s, t->len);
		return 0;
	case JT_INT:
		canon_put_int(e->out, t->u.i);
		return 0;
	case JT_TRUE:
		canon_put_bool(e->out, true);
		return 0;
	case JT_FALSE:
		canon_put_bool(e->out, false);
		return 0;
	default:
		canon_put_nil(e->out);
		return 0;
	}
}

int
jdoc_canon(const struct jdoc *d, const char *xkey, const char *xval,
           size_t xlen, struct canon_buf *out)
{
	struct jenc e = { d, out, { xkey, strlen(xkey), 0 }, xval, xlen };
	int rv;

	if (d->n == 0 || d->depth > JC_DEPTH) {
		return 1;
	}
	rv = enc_obj(&e, 0);
	if (rv == 0 && out->err != 0) {
		rv = out->err;
	}
	return rv;
}
