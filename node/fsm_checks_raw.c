/* The checks of a single case's applicant, form and materials made on the
 * command's canonical bytes (fsm.h, "the same checks on the command's
 * bytes"). Each answers only "passes": true when its JSON check would find
 * nothing wrong, false for anything else, including what it does not
 * handle here (a string longer than its buffer, a form that is not
 * compiled), and then the JSON check decides and names the problem as it
 * always did. The verdicts reuse the JSON checks' own value tests
 * (fsm_value_check_t, fsm_applicant_values, fsm_codes_ok), so only the
 * reading of the shape is written twice. */
#include "node/fsm.h"

#include "schema/canon_walk.h"

#include <string.h>

/* A walk of the members of a map: each key's bytes and value's bytes. */
struct walk {
	const uint8_t *p;
	size_t n, off;
	uint64_t left;
	bool bad; /* the bytes did not walk (never for checked ones) */
};

struct mem {
	const uint8_t *k, *v;
	size_t kl, vl;
};

static bool
walk_map(struct walk *w, const uint8_t *p, size_t n)
{
	size_t hl;
	char kind;

	w->bad = false;
	if (p == NULL || canon_head(p, n, &hl, &w->left, &kind) != 0 ||
	    kind != 'm') {
		return false;
	}
	w->p = p;
	w->n = n;
	w->off = hl;
	return true;
}

/* walk_next reads the next member into *m: false at the end, or with
 * w->bad set if the bytes do not walk. */
static bool
walk_next(struct walk *w, struct mem *m)
{
	size_t hl, vl, left;
	uint64_t c;
	uint8_t b;
	char kind;

	if (w->left == 0) {
		return false;
	}
	if (w->off < w->n && (w->p[w->off] & 0xe0) == 0xa0) {
		hl = 1; /* a key of under 32 bytes */
		c = w->p[w->off] & 0x1f;
	} else if (canon_head(w->p + w->off, w->n - w->off, &hl, &c, &kind) !=
	               0 ||
	           kind != 's') {
		w->bad = true;
		return false;
	}
	if (c > w->n - w->off - hl) {
		w->bad = true;
		return false;
	}
	m->k = w->p + w->off + hl;
	m->kl = (size_t)c;
	w->off += hl + (size_t)c;
	/* Scalars and short strings, most values, without a walk. */
	left = w->n - w->off;
	b = left > 0 ? w->p[w->off] : 0xc1;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
		vl = 1;
	} else if ((b & 0xe0) == 0xa0) {
		vl = 1 + (size_t)(b & 0x1f);
	} else if (b >= 0xcc && b <= 0xd3) {
		vl = 1 + ((size_t)1 << ((b - 0xcc) & 3)); /* an integer */
	} else if (b == 0xd9 && left >= 2) {
		vl = 2 + (size_t)w->p[w->off + 1]; /* a hash's 64 bytes */
	} else {
		vl = canon_skip(w->p + w->off, left, 1);
	}
	if (vl == 0 || vl > left) {
		w->bad = true;
		return false;
	}
	m->v = w->p + w->off;
	m->vl = vl;
	w->off += vl;
	w->left--;
	return true;
}

/* key_is: the member's key is k (its first byte compared first). */
static bool
key_is(const struct mem *m, const char *k)
{
	return m->kl > 0 && k[0] == (char)m->k[0] && strlen(k) == m->kl &&
	       !memcmp(k, m->k, m->kl);
}

/* val reads the value v[0..vl): its JSON type as canon_decode makes it,
 * and for a string its text copied to buf[0..size) with a NUL (*s; NULL
 * for other types). false if a string does not fit (or holds a NUL,
 * which canon_check refuses) or the bytes do not read. */
static bool
val(const uint8_t *v, size_t vl, json_type *t, const char **s, char *buf,
    size_t size)
{
	size_t hl;
	uint64_t c;
	char kind;

	*s = NULL;
	if (canon_head(v, vl, &hl, &c, &kind) != 0) {
		return false;
	}
	switch (kind) {
	case 's':
		if (c >= size || c > vl - hl || memchr(v + hl, 0, c) != NULL) {
			return false;
		}
		memcpy(buf, v + hl, (size_t)c);
		buf[c] = '\0';
		*s = buf;
		*t = JSON_STRING;
		return true;
	case 'a':
		*t = JSON_ARRAY;
		return true;
	case 'm':
		*t = JSON_OBJECT;
		return true;
	default:
		*t = v[0] == 0xc0   ? JSON_NULL
		     : v[0] == 0xc2 ? JSON_FALSE
		     : v[0] == 0xc3 ? JSON_TRUE
		                    : JSON_INTEGER;
		return true;
	}
}

/* int_of reads the integer v[0..vl) as canon_decode makes it (a uint64
 * above INT64_MAX becomes negative, as json_int_t); false if it is none. */
static bool
int_of(const uint8_t *v, size_t vl, int64_t *out)
{
	size_t hl, i;
	uint64_t c, u = 0;
	char kind;
	uint8_t b = v[0];

	if (vl == 0 || canon_head(v, vl, &hl, &c, &kind) != 0 || kind != 0 ||
	    b == 0xc0 || b == 0xc2 || b == 0xc3) {
		return false;
	}
	if (b <= 0x7f || b >= 0xe0) {
		*out = (int8_t)b;
		return true;
	}
	for (i = 1; i < hl; i++) {
		u = u << 8 | v[i];
	}
	if (b >= 0xd0 && hl < 9 && (u >> (8 * (hl - 1) - 1)) != 0) {
		u |= ~0ull << (8 * (hl - 1)); /* sign-extend int8..int32 */
	}
	memcpy(out, &u, sizeof(*out));
	return true;
}

bool
fsm_raw_str(const uint8_t *p, size_t n, const char *key, char *out, size_t size)
{
	const uint8_t *v;
	const char *s;
	json_type t;
	size_t vl;

	return p != NULL && canon_map_get(p, n, key, &v, &vl) == 0 &&
	       val(v, vl, &t, &s, out, size) && t == JSON_STRING;
}

bool
fsm_applicant_ok_raw(const uint8_t *p, size_t n)
{
	/* fsm_applicant_check's fields: all strings, the first three
	 * required; the first four are the ones its values check reads. */
	static const char *const names[] = {
		"name",    "id_type", "id_number",  "phone",
		"address", "email",   "agent_name", "agent_id_number",
	};
	static const size_t sizes[4] = { 512, 32, 80, 32 };
	char buf[4][512];
	bool have[4] = { false, false, false, false };
	const char *s;
	struct walk w;
	struct mem m;
	json_type t;
	size_t i, hl;
	uint64_t c;
	char kind;

	if (!walk_map(&w, p, n)) {
		return false;
	}
	while (walk_next(&w, &m)) {
		for (i = 0; i < 8 && !key_is(&m, names[i]); i++) {
		}
		if (i == 8) {
			return false; /* an unknown field */
		}
		if (i >= 4) {
			/* Only its type is checked. */
			if (canon_head(m.v, m.vl, &hl, &c, &kind) != 0 ||
			    kind != 's') {
				return false;
			}
			continue;
		}
		if (!val(m.v, m.vl, &t, &s, buf[i], sizes[i]) ||
		    t != JSON_STRING) {
			return false;
		}
		have[i] = true;
	}
	if (w.bad || !have[0] || !have[1] || !have[2]) {
		return false;
	}
	return fsm_applicant_values(buf[0], buf[1], buf[2],
	                            have[3] ? buf[3] : NULL, "$", NULL) == 0;
}

bool
fsm_form_ok_raw(const struct fsm_checks *k, const uint8_t *p, size_t n)
{
	bool seen[FSM_CHECK_FIELDS];
	char buf[2048];
	const char *s;
	struct walk w;
	struct mem m;
	json_type t;
	size_t j;

	if (!k->form_ok || !walk_map(&w, p, n)) {
		return false;
	}
	memset(seen, 0, sizeof(seen));
	while (walk_next(&w, &m)) {
		for (j = 0; j < k->nf && !key_is(&m, k->f[j].name); j++) {
		}
		if (j == k->nf || seen[j]) {
			return false; /* a field not in the form */
		}
		if (!val(m.v, m.vl, &t, &s, buf, sizeof(buf)) ||
		    fsm_value_check_t(&k->f[j], t, s, "$", NULL) != 0) {
			return false;
		}
		seen[j] = true;
	}
	if (w.bad) {
		return false;
	}
	for (j = 0; j < k->nf; j++) {
		if (!seen[j] && k->f[j].required) {
			return false;
		}
	}
	return true;
}

/* hash_ok: v[0..vl) is a string of 64 lowercase hex digits: what
 * canon_unhex(json_string_value(v), h, 32) accepts. */
static bool
hash_ok(const uint8_t *v, size_t vl)
{
	size_t i;

	/* 64 bytes take a str8 header: 0xd9 64. */
	if (vl != 66 || v[0] != 0xd9 || v[1] != 64) {
		return false;
	}
	for (i = 2; i < 66; i++) {
		if ((unsigned)(v[i] - '0') > 9 && (unsigned)(v[i] - 'a') > 5) {
			return false;
		}
	}
	return true;
}

/* ref_ok: the reference at x (n bytes available, *len its length) is a
 * map of exactly a string code (copied to code), a string hash of 64
 * lowercase hex digits and an integer size >= 0 (fsm_checks.c,
 * given_ok). */
static bool
ref_ok(const uint8_t *x, size_t n, char code[64], size_t *len)
{
	bool c = false, h = false, z = false;
	const char *s;
	struct walk w;
	struct mem m;
	json_type t;
	int64_t size;

	if (!walk_map(&w, x, n) || w.left != 3) {
		return false;
	}
	while (walk_next(&w, &m)) {
		if (key_is(&m, "code")) {
			c = val(m.v, m.vl, &t, &s, code, 64) &&
			    t == JSON_STRING;
		} else if (key_is(&m, "hash")) {
			h = hash_ok(m.v, m.vl);
		} else if (key_is(&m, "size")) {
			z = int_of(m.v, m.vl, &size) && size >= 0;
		} else {
			return false;
		}
	}
	*len = w.off;
	return !w.bad && c && h && z;
}

bool
fsm_materials_ok_raw(const struct fsm_checks *k, const uint8_t *p, size_t n)
{
	char codes[FSM_CHECK_MATERIALS][64];
	const char *gc[FSM_CHECK_MATERIALS];
	size_t hl, off, vl, i;
	uint64_t ng;
	char kind;

	if (!k->mat_ok || p == NULL || canon_head(p, n, &hl, &ng, &kind) != 0 ||
	    kind != 'a' || ng > FSM_CHECK_MATERIALS) {
		return false;
	}
	for (i = 0, off = hl; i < ng; i++, off += vl) {
		if (!ref_ok(p + off, n - off, codes[i], &vl)) {
			return false;
		}
		gc[i] = codes[i];
	}
	return fsm_codes_ok(k, gc, (size_t)ng);
}

/* part: the bytes of part i for the checks of the bytes: NULL (none: the
 * JSON checks decide) unless cmd_decode_shallow decoded the command. */
#define part(f, cp, i) \
	((cp) != NULL && (f)->cmd->has_parts ? (cp)->p[(i)] : NULL)
#define part_n(cp, i) ((cp) != NULL ? (cp)->n[(i)] : 0)

int
fsm_applicant_checks(struct fsm *f, const struct fsm_case_parts *cp)
{
	const json_t *w;
	int rv;

	if (fsm_applicant_ok_raw(part(f, cp, FSM_PART_APPLICANT),
	                         part_n(cp, FSM_PART_APPLICANT))) {
		return TB_OK;
	}
	if ((rv = fsm_body(f, &w)) != 0) {
		return rv;
	}
	return fsm_applicant_check(json_object_get(w, "applicant"),
	                           "$.body.applicant", &f->d) != 0
	           ? FSM_REFUSED
	           : TB_OK;
}

int
fsm_single_checks(struct fsm *f, const struct fsm_checks *k, const json_t *eff,
                  const char *key, const struct fsm_case_parts *cp)
{
	const json_t *w;
	int rv;

	if (k == NULL || !fsm_form_ok_raw(k, part(f, cp, FSM_PART_FORM),
	                                  part_n(cp, FSM_PART_FORM))) {
		if ((rv = fsm_body(f, &w)) != 0) {
			return rv;
		}
		if (k != NULL) {
			fsm_form_check_c(k, json_object_get(w, "form"), key,
			                 "$.body.form", &f->d);
		} else {
			fsm_form_check(json_object_get(eff, "form"),
			               json_object_get(w, "form"), key,
			               "$.body.form", &f->d);
		}
	}
	if (k == NULL ||
	    !fsm_materials_ok_raw(k, part(f, cp, FSM_PART_MATERIALS),
	                          part_n(cp, FSM_PART_MATERIALS))) {
		if ((rv = fsm_body(f, &w)) != 0) {
			return rv;
		}
		if (k != NULL) {
			fsm_materials_check_c(k,
			                      json_object_get(w, "materials"),
			                      key, "$.body.materials", &f->d);
		} else {
			fsm_materials_check(json_object_get(eff, "materials"),
			                    json_object_get(w, "materials"),
			                    NULL, key, "$.body.materials",
			                    &f->d);
		}
	}
	return TB_OK;
}
