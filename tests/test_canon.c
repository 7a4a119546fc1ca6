/* Tests for canonical msgpack: golden vectors, refusals, round trips. */
#include "schema/canon.h"
#include "schema/error.h"
#include "tests/tap.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define VECTORS TB_SOURCE_DIR "/tests/golden/canon_vectors.json"

/* ---- helpers ----------------------------------------------------------- */

/* unhex_alloc decodes lowercase hex into a new buffer (never NULL for a
 * valid input, even when empty); NULL if the test's own hex is bad. */
static uint8_t *
unhex_alloc(const char *hex, size_t *n)
{
	size_t len = strlen(hex);
	uint8_t *p = malloc(len / 2 + 1);

	if (p == NULL || len % 2 != 0 ||
	    canon_unhex(hex, p, len / 2) != TB_OK) {
		free(p);
		ok(0, "test hex '%.40s' is valid", hex);
		return NULL;
	}
	*n = len / 2;
	return p;
}

/* hexdup renders bytes as a new hex string for diagnostics. */
static char *
hexdup(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	if (s != NULL) {
		canon_hex(p, n, s);
	}
	return s;
}

static json_t *
json_text(const char *text)
{
	json_error_t e;
	json_t *j =
	    json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);

	if (j == NULL) {
		ok(0, "test JSON parses: %s: %.60s", e.text, text);
	}
	return j;
}

/* json_q turns single quotes into double quotes to keep tables readable. */
static json_t *
json_q(const char *text)
{
	char buf[1024];
	size_t i;

	for (i = 0; text[i] != '\0' && i + 1 < sizeof(buf); i++) {
		buf[i] = text[i] == '\'' ? '"' : text[i];
	}
	buf[i] = '\0';
	return json_text(buf);
}

/* refused checks that canon_check and canon_decode both refuse p[0..n)
 * with code want, the same message containing sub, and no value; if not,
 * it describes the mismatch in why and returns false. */
static bool
refused(const uint8_t *p, size_t n, const struct canon_limits *lim, int want,
        const char *sub, char *why, size_t whylen)
{
	char msg[256] = "", dmsg[256] = "";
	json_t *out = (json_t *)1;
	int rv, drv;

	rv = canon_check(p, n, lim, msg, sizeof(msg));
	drv = canon_decode(p, n, lim, &out, dmsg, sizeof(dmsg));
	if (rv != want || drv != want || out != NULL ||
	    strstr(msg, sub) == NULL || strcmp(msg, dmsg) != 0) {
		snprintf(why, whylen,
		         "check %s '%s', decode %s '%s'; want %s '%s'",
		         tb_errname(rv), msg, tb_errname(drv), dmsg,
		         tb_errname(want), sub);
		json_decref(out);
		return false;
	}
	return true;
}

/* ---- golden vectors ---------------------------------------------------- */

struct vec {
	const char *name;
	json_t *value;
	uint8_t *bytes;
	size_t n;
};

static struct vec *vecs;
static size_t nvecs;
static json_t *vec_doc;

static void
load_vectors(void)
{
	json_error_t e;
	size_t i;

	vec_doc = json_load_file(VECTORS, JSON_REJECT_DUPLICATES, &e);
	ok(json_is_array(vec_doc) && json_array_size(vec_doc) > 50,
	   "golden vectors load from %s (%s)", VECTORS,
	   vec_doc ? "ok" : e.text);
	if (vec_doc == NULL) {
		return;
	}
	nvecs = json_array_size(vec_doc);
	vecs = calloc(nvecs, sizeof(*vecs));
	for (i = 0; i < nvecs; i++) {
		json_t *v = json_array_get(vec_doc, i);
		vecs[i].name = json_string_value(json_object_get(v, "name"));
		vecs[i].value =
		    json_text(json_string_value(json_object_get(v, "json")));
		vecs[i].bytes = unhex_alloc(
		    json_string_value(json_object_get(v, "hex")), &vecs[i].n);
	}
}

static void
free_vectors(void)
{
	size_t i;

	for (i = 0; i < nvecs; i++) {
		json_decref(vecs[i].value);
		free(vecs[i].bytes);
	}
	free(vecs);
	json_decref(vec_doc);
}

/* test_golden: msgpack-c's encoding equals python3-msgpack's, decoding
 * gives back the JSON, and every proper prefix is refused as truncated. */
static void
test_golden(void)
{
	size_t i, k;

	for (i = 0; i < nvecs; i++) {
		const struct vec *v = &vecs[i];
		struct canon_buf b = { 0 };
		char msg[256] = "", bad[512] = "";
		json_t *d = NULL;
		int rv;

		rv = canon_encode(v->value, &b, msg, sizeof(msg));
		ok(rv == TB_OK && b.len == v->n &&
		       memcmp(b.data, v->bytes, v->n) == 0,
		   "golden %s: canon_encode gives python3-msgpack's %zu bytes",
		   v->name, v->n);
		if (rv != TB_OK || b.len != v->n ||
		    memcmp(b.data, v->bytes, v->n) != 0) {
			char *h = hexdup(b.data, b.len);
			printf("#   rv %s '%s', got %.200s\n", tb_errname(rv),
			       msg, h ? h : "");
			free(h);
		}
		canon_buf_free(&b);

		rv = canon_decode(v->bytes, v->n, NULL, &d, msg, sizeof(msg));
		ok(rv == TB_OK && json_equal(d, v->value),
		   "golden %s: canon_decode gives the JSON back", v->name);
		if (rv != TB_OK) {
			printf("#   %s: %s\n", tb_errname(rv), msg);
		}
		json_decref(d);

		/* Every proper prefix is truncated input, including the empty
		 * one; decoding big prefixes too would only repeat the
		 * check. */
		for (k = 0; k < v->n && bad[0] == '\0'; k++) {
			if (v->n < 4096 || k % 509 == 0 || k + 8 > v->n) {
				(void)refused(v->bytes, k, NULL, TB_ETRUNC,
				              k == 0 ? "empty input"
				                     : "at byte ",
				              bad, sizeof(bad));
			} else if (canon_check(v->bytes, k, NULL, msg,
			                       sizeof(msg)) != TB_ETRUNC) {
				snprintf(bad, sizeof(bad), "check: '%s'", msg);
			}
			if (bad[0] != '\0') {
				printf("#   prefix of %zu bytes: %s\n", k, bad);
			}
		}
		ok(bad[0] == '\0',
		   "golden %s: all %zu proper prefixes refused as truncated",
		   v->name, v->n);

		/* One or two trailing bytes after a complete value. */
		{
			uint8_t *t = malloc(v->n + 2);
			bool good;
			memcpy(t, v->bytes, v->n);
			t[v->n] = 0x00;
			t[v->n + 1] = 0xc0;
			good = refused(t, v->n + 1, NULL, TB_EMALFORMED,
			               "1 trailing bytes after the value", bad,
			               sizeof(bad)) &&
			       refused(t, v->n + 2, NULL, TB_EMALFORMED,
			               "2 trailing bytes after the value", bad,
			               sizeof(bad));
			ok(good, "golden %s: trailing bytes refused", v->name);
			if (!good) {
				printf("#   %s\n", bad);
			}
			free(t);
		}
	}
}

/* ---- an independent encoder with one mutation ---------------------------
 *
 * menc re-encodes a value in canonical form with its own code (so it is a
 * third encoder next to msgpack-c and python3-msgpack), except that it can
 * damage one node, numbered in pre-order with map keys counted as nodes.
 * The mutated encoding must be refused with the code and message the
 * mutation sets, at the byte where the damage is. */

enum mut {
	MUT_NONE,
	MUT_WIDEN,   /* a longer integer, string, array or map header */
	MUT_SIGNED,  /* a non-negative integer in a signed form */
	MUT_SWAP,    /* a map's first two entries swapped */
	MUT_DUP,     /* a map's first entry twice */
	MUT_FLOAT32, /* the node replaced by a float */
	MUT_FLOAT64,
	MUT_BIN,     /* a string written as bin 8 */
	MUT_EXT,     /* the node replaced by a fixext 1 */
	MUT_C1,      /* the node replaced by the never-used byte */
	MUT_BADUTF8, /* invalid UTF-8 appended to a string */
	MUT_INTKEY,  /* a map key replaced by an integer */
	MUT_BIGUINT, /* an integer replaced by 2^63 */
	MUT_COUNT
};

static const char *const mut_names[MUT_COUNT] = {
	"none",
	"widened header",
	"signed form",
	"swapped keys",
	"dup key",
	"float32",
	"float64",
	"bin",
	"ext",
	"0xc1",
	"bad UTF-8",
	"integer key",
	"uint64 over int64",
};

/* Invalid UTF-8 sequences, used in turn by MUT_BADUTF8. */
static const char *const bad_utf8[] = {
	"\xc0\x80",         /* overlong NUL */
	"\xc1\xbf",         /* overlong 2-byte */
	"\xe0\x80\xaf",     /* overlong 3-byte */
	"\xf0\x80\x80\xaf", /* overlong 4-byte */
	"\xed\xa0\x80",     /* surrogate U+D800 */
	"\xed\xbf\xbf",     /* surrogate U+DFFF */
	"\xf4\x90\x80\x80", /* above U+10FFFF */
	"\xf5\x80\x80\x80", /* lead byte never used */
	"\x80",             /* lone continuation */
	"\xe4\xb8",         /* cut 3-byte sequence */
	"\xe4\x41\x41",     /* missing continuation */
	"\xff",             /* never used */
};

#define NBAD_UTF8 (sizeof(bad_utf8) / sizeof(bad_utf8[0]))

struct menc {
	struct canon_buf b;
	int node;   /* pre-order number of the next node */
	int target; /* the node to damage, -1 for none */
	enum mut mut;
	bool applied;     /* the mutation applied to the target */
	size_t err_at;    /* where the checker must report it */
	int want;         /* expected code */
	const char *sub;  /* expected message substring */
	char subbuf[160]; /* storage for a formatted substring */
};

static void
put(struct menc *m, const void *p, size_t n)
{
	(void)canon_buf_append(&m->b, p, n);
}

static void
put8(struct menc *m, uint8_t x)
{
	put(m, &x, 1);
}

static void
put_be(struct menc *m, uint64_t v, size_t k)
{
	while (k-- > 0) {
		put8(m, (uint8_t)(v >> (8 * k)));
	}
}

static void
expect(struct menc *m, size_t at, int code, const char *sub)
{
	m->applied = true;
	m->err_at = at;
	m->want = code;
	m->sub = sub;
}

/* put_hdr writes a length header at `level` (0 = fix form) for the three
 * families: fixstr/str8/16/32, fixarray/array16/32, fixmap/map16/32. */
static void
put_hdr(struct menc *m, char kind, int level, uint64_t len)
{
	static const uint8_t str[] = { 0xa0, 0xd9, 0xda, 0xdb };
	static const uint8_t arr[] = { 0x90, 0xdc, 0xdd };
	static const uint8_t map[] = { 0x80, 0xde, 0xdf };
	static const size_t sk[] = { 0, 1, 2, 4 }, ak[] = { 0, 2, 4 };

	if (kind == 's') {
		if (level == 0) {
			put8(m, (uint8_t)(str[0] | len));
		} else {
			put8(m, str[level]);
			put_be(m, len, sk[level]);
		}
		return;
	}
	if (level == 0) {
		put8(m, (uint8_t)((kind == 'a' ? arr[0] : map[0]) | len));
	} else {
		put8(m, kind == 'a' ? arr[level] : map[level]);
		put_be(m, len, ak[level]);
	}
}

static int
str_level(uint64_t len)
{
	return len < 32 ? 0 : len < 256 ? 1 : len < 65536 ? 2 : 3;
}

static int
cont_level(uint64_t len)
{
	return len < 16 ? 0 : len < 65536 ? 1 : 2;
}

/* take says whether this node is the one to damage. */
static bool
take(struct menc *m)
{
	return m->node++ == m->target && !m->applied;
}

/* replace handles the mutations that swap a whole node for another one;
 * returns true if it wrote the replacement. */
static bool
replace(struct menc *m, bool is_key)
{
	size_t at = m->b.len;
	const char *keymsg = "map key is not a string";

	switch (m->mut) {
	case MUT_FLOAT32:
		put8(m, 0xca);
		put_be(m, 0x3fc00000, 4);
		expect(m, at, TB_ETYPE,
		       is_key ? keymsg : "floats are not allowed");
		return true;
	case MUT_FLOAT64:
		put8(m, 0xcb);
		put_be(m, 0x3ff8000000000000ull, 8);
		expect(m, at, TB_ETYPE,
		       is_key ? keymsg : "floats are not allowed");
		return true;
	case MUT_EXT:
		put8(m, 0xd4);
		put8(m, 0x01);
		put8(m, 0x00);
		expect(m, at, TB_ETYPE,
		       is_key ? keymsg : "ext types are not allowed");
		return true;
	case MUT_C1:
		put8(m, 0xc1);
		expect(m, at, is_key ? TB_ETYPE : TB_EMALFORMED,
		       is_key ? keymsg : "byte 0xc1 is never used");
		return true;
	case MUT_INTKEY:
		if (!is_key) {
			return false;
		}
		put8(m, 0x01);
		expect(m, at, TB_ETYPE, keymsg);
		return true;
	default:
		return false;
	}
}

static void menc_value(struct menc *m, const json_t *v);

static void
menc_str(struct menc *m, const char *s, size_t n, bool is_key)
{
	size_t at = m->b.len;
	int level = str_level(n);

	if (take(m)) {
		if (replace(m, is_key)) {
			return;
		}
		if (m->mut == MUT_WIDEN && level < 3) {
			snprintf(m->subbuf, sizeof(m->subbuf),
			         "string of %zu bytes has a longer header", n);
			put_hdr(m, 's', level + 1, n);
			put(m, s, n);
			expect(m, at, TB_ECANON, m->subbuf);
			return;
		}
		if (m->mut == MUT_BIN) {
			put8(m, 0xc4);
			put8(m, (uint8_t)(n < 256 ? n : 255));
			put(m, s, n < 256 ? n : 255);
			expect(m, at, TB_ETYPE,
			       is_key ? "map key is not a string"
			              : "bin is not allowed");
			return;
		}
		if (m->mut == MUT_BADUTF8) {
			const char *bad = bad_utf8[m->target % NBAD_UTF8];
			size_t bn = strlen(bad);
			put_hdr(m, 's', str_level(n + bn), n + bn);
			expect(m, m->b.len, TB_EMALFORMED,
			       "string is not valid UTF-8");
			put(m, s, n);
			put(m, bad, bn);
			return;
		}
	}
	put_hdr(m, 's', level, n);
	put(m, s, n);
}

static void
menc_int(struct menc *m, json_int_t x)
{
	size_t at = m->b.len;
	uint64_t u = (uint64_t)x;
	int level;

	if (x >= 0) {
		level = x < 128           ? 0
		        : x < 256         ? 1
		        : x < 65536       ? 2
		        : x <= UINT32_MAX ? 3
		                          : 4;
	} else {
		level = x >= -32         ? 0
		        : x >= -128      ? 1
		        : x >= -32768    ? 2
		        : x >= INT32_MIN ? 3
		                         : 4;
	}
	if (take(m)) {
		if (replace(m, false)) {
			return;
		}
		if (m->mut == MUT_WIDEN && level < 4) {
			level++;
			snprintf(m->subbuf, sizeof(m->subbuf),
			         "integer %lld not in its shortest form",
			         (long long)x);
			expect(m, at, TB_ECANON, m->subbuf);
		} else if (m->mut == MUT_SIGNED && x >= 0) {
			int k = x < 128          ? 0
			        : x < 32768      ? 1
			        : x <= INT32_MAX ? 2
			                         : 3;
			put8(m, (uint8_t)(0xd0 + k));
			put_be(m, u, (size_t)1 << k);
			snprintf(m->subbuf, sizeof(m->subbuf),
			         "non-negative integer %lld in a signed form",
			         (long long)x);
			expect(m, at, TB_ECANON, m->subbuf);
			return;
		} else if (m->mut == MUT_BIGUINT) {
			put8(m, 0xcf);
			put_be(m, 1ull << 63, 8);
			expect(m, at, TB_ERANGE,
			       "integer 9223372036854775808 exceeds the int64 "
			       "range");
			return;
		}
	}
	if (level == 0) {
		put8(m, (uint8_t)u);
		return;
	}
	put8(m, (uint8_t)((x >= 0 ? 0xcc : 0xd0) + level - 1));
	put_be(m, u, (size_t)1 << (level - 1));
}

struct kv {
	const char *k;
	size_t kn;
	json_t *v;
};

static int
kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	size_t n = x->kn < y->kn ? x->kn : y->kn;
	int c = memcmp(x->k, y->k, n);

	return c != 0 ? c : (x->kn > y->kn) - (x->kn < y->kn);
}

static void
menc_map(struct menc *m, const json_t *v)
{
	size_t at = m->b.len, n = json_object_size(v), i = 0, kn, cnt;
	struct kv *kvs = calloc(n ? n : 1, sizeof(*kvs));
	const char *k;
	json_t *x;
	int level;
	bool swap = false, dup = false;

	json_object_keylen_foreach((json_t *)v, k, kn, x)
	{
		kvs[i].k = k;
		kvs[i].kn = kn;
		kvs[i++].v = x;
	}
	qsort(kvs, n, sizeof(*kvs), kv_cmp);
	cnt = n;
	level = cont_level(n);
	if (take(m) && !replace(m, false)) {
		if (m->mut == MUT_WIDEN && level < 2) {
			level++;
			snprintf(m->subbuf, sizeof(m->subbuf),
			         "map of %zu elements has a longer header", n);
			expect(m, at, TB_ECANON, m->subbuf);
		} else if (m->mut == MUT_SWAP && n >= 2) {
			swap = true;
		} else if (m->mut == MUT_DUP && n >= 1) {
			dup = true;
			cnt = n + 1;
			level = cont_level(cnt);
		}
	} else if (m->applied && m->b.len > at) {
		free(kvs);
		return;
	}
	put_hdr(m, 'm', level, cnt);
	for (i = 0; i < n; i++) {
		size_t j = swap && i < 2 ? 1 - i : i;
		if (swap && i == 1) {
			snprintf(
			    m->subbuf, sizeof(m->subbuf),
			    "map keys not sorted ('%.*s' after '%.*s')",
			    (int)(kvs[0].kn > 64 ? 64 : kvs[0].kn), kvs[0].k,
			    (int)(kvs[1].kn > 64 ? 64 : kvs[1].kn), kvs[1].k);
			expect(m, m->b.len, TB_ECANON, m->subbuf);
		}
		menc_str(m, kvs[j].k, kvs[j].kn, true);
		menc_value(m, kvs[j].v);
		if (dup && i == 0) {
			snprintf(m->subbuf, sizeof(m->subbuf),
			         "duplicate map key '%.*s'",
			         (int)(kvs[0].kn > 64 ? 64 : kvs[0].kn),
			         kvs[0].k);
			expect(m, m->b.len, TB_EDUP, m->subbuf);
			menc_str(m, kvs[0].k, kvs[0].kn, true);
			menc_value(m, kvs[0].v);
		}
	}
	free(kvs);
}

static void
menc_value(struct menc *m, const json_t *v)
{
	size_t at = m->b.len, i, n;
	int level;

	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_TRUE:
	case JSON_FALSE:
		if (take(m) && replace(m, false)) {
			return;
		}
		put8(m, json_is_null(v) ? 0xc0 : json_is_true(v) ? 0xc3 : 0xc2);
		return;
	case JSON_INTEGER:
		menc_int(m, json_integer_value(v));
		return;
	case JSON_STRING:
		menc_str(m, json_string_value(v), json_string_length(v), false);
		return;
	case JSON_ARRAY:
		n = json_array_size(v);
		level = cont_level(n);
		if (take(m)) {
			if (replace(m, false)) {
				return;
			}
			if (m->mut == MUT_WIDEN && level < 2) {
				level++;
				snprintf(m->subbuf, sizeof(m->subbuf),
				         "array of %zu elements has a longer "
				         "header",
				         n);
				expect(m, at, TB_ECANON, m->subbuf);
			}
		}
		put_hdr(m, 'a', level, n);
		for (i = 0; i < n; i++) {
			menc_value(m, json_array_get(v, i));
		}
		return;
	case JSON_OBJECT:
		menc_map(m, v);
		return;
	default:
		put8(m, 0xc1); /* no reals in test values */
		return;
	}
}

/* menc_run encodes v with mutation mut at node target into m. */
static void
menc_run(struct menc *m, const json_t *v, enum mut mut, int target)
{
	memset(m, 0, sizeof(*m));
	m->target = target;
	m->mut = mut;
	menc_value(m, v);
}

/* test_mutations: every applicable mutation of every node of every golden
 * vector is refused, with the right code, message and byte offset. */
static void
test_mutations(void)
{
	size_t i;
	int mut;

	for (i = 0; i < nvecs; i++) {
		const struct vec *v = &vecs[i];
		struct menc m;
		int nodes;

		menc_run(&m, v->value, MUT_NONE, -1);
		nodes = m.node;
		ok(m.b.err == 0 && m.b.len == v->n &&
		       memcmp(m.b.data, v->bytes, v->n) == 0,
		   "golden %s: the test's own encoder agrees (%d nodes)",
		   v->name, nodes);
		canon_buf_free(&m.b);
		/* Mutating every node of the big vectors adds time, not
		 * coverage: they are flat runs of one kind of node. */
		if (v->n > 8192) {
			nodes = 4;
		}
		for (mut = MUT_WIDEN; mut < MUT_COUNT; mut++) {
			char why[512] = "", at[32];
			int t, tried = 0;
			for (t = 0; t < nodes && why[0] == '\0'; t++) {
				menc_run(&m, v->value, mut, t);
				if (m.applied) {
					tried++;
					snprintf(at, sizeof(at),
					         "at byte %zu: ", m.err_at);
					if (refused(m.b.data, m.b.len, NULL,
					            m.want, m.sub, why,
					            sizeof(why))) {
						(void)refused(m.b.data, m.b.len,
						              NULL, m.want, at,
						              why, sizeof(why));
					}
					if (why[0] != '\0') {
						char *h =
						    hexdup(m.b.data, m.b.len);
						printf("#   node %d: %s\n"
						       "#   bytes %.300s\n",
						       t, why, h ? h : "");
						free(h);
					}
				}
				canon_buf_free(&m.b);
			}
			if (tried > 0 || why[0] != '\0') {
				ok(why[0] == '\0',
				   "golden %s: %d %s variants refused", v->name,
				   tried, mut_names[mut]);
			}
		}
	}
}

/* ---- explicit refusals ------------------------------------------------- */

struct refusal {
	const char *hex;
	int code;
	const char *msg;
};

static const struct refusal refusals[] = {
	/* integers in a longer form than needed */
	{ "cc05", TB_ECANON, "at byte 0: integer 5 not in its shortest form" },
	{ "cc7f", TB_ECANON, "integer 127 not in its shortest form" },
	{ "cd0005", TB_ECANON, "integer 5 not in its shortest form" },
	{ "cd00c8", TB_ECANON, "integer 200 not in its shortest form" },
	{ "cd00ff", TB_ECANON, "integer 255 not in its shortest form" },
	{ "ce0000ffff", TB_ECANON, "integer 65535 not in its shortest form" },
	{ "cf00000000ffffffff", TB_ECANON,
	  "integer 4294967295 not in its shortest form" },
	{ "d005", TB_ECANON, "non-negative integer 5 in a signed form" },
	{ "d000", TB_ECANON, "non-negative integer 0 in a signed form" },
	{ "d07f", TB_ECANON, "non-negative integer 127 in a signed form" },
	{ "d10080", TB_ECANON, "non-negative integer 128 in a signed form" },
	{ "d27fffffff", TB_ECANON,
	  "non-negative integer 2147483647 in a signed form" },
	{ "d37fffffffffffffff", TB_ECANON,
	  "non-negative integer 9223372036854775807 in a signed form" },
	{ "d0fb", TB_ECANON, "integer -5 not in its shortest form" },
	{ "d0e0", TB_ECANON, "integer -32 not in its shortest form" },
	{ "d1fffb", TB_ECANON, "integer -5 not in its shortest form" },
	{ "d1ff80", TB_ECANON, "integer -128 not in its shortest form" },
	{ "d2fffffffb", TB_ECANON, "integer -5 not in its shortest form" },
	{ "d2ffff8000", TB_ECANON, "integer -32768 not in its shortest form" },
	{ "d3ffffffff80000000", TB_ECANON,
	  "integer -2147483648 not in its shortest form" },
	{ "d3fffffffffffffffb", TB_ECANON,
	  "integer -5 not in its shortest form" },
	{ "9201cc05", TB_ECANON, "at byte 2: integer 5 not in its shortest" },
	/* uint64 beyond int64 */
	{ "cf8000000000000000", TB_ERANGE,
	  "at byte 0: integer 9223372036854775808 exceeds the int64 range" },
	{ "cfffffffffffffffff", TB_ERANGE,
	  "integer 18446744073709551615 exceeds the int64 range" },
	{ "81a161cf8000000000000001", TB_ERANGE,
	  "at byte 3: integer 9223372036854775809 exceeds" },
	/* strings, arrays and maps with longer headers */
	{ "d90568656c6c6f", TB_ECANON,
	  "at byte 0: string of 5 bytes has a longer header than needed" },
	{ "d900", TB_ECANON, "string of 0 bytes has a longer header" },
	{ "d91f", TB_ECANON, "string of 31 bytes has a longer header" },
	{ "da0005", TB_ECANON, "string of 5 bytes has a longer header" },
	{ "da00ff", TB_ECANON, "string of 255 bytes has a longer header" },
	{ "db0000ffff", TB_ECANON, "string of 65535 bytes has a longer" },
	{ "dc0000", TB_ECANON,
	  "at byte 0: array of 0 elements has a longer header than needed" },
	{ "dc000f", TB_ECANON, "array of 15 elements has a longer header" },
	{ "dd00000001", TB_ECANON, "array of 1 elements has a longer" },
	{ "dd0000ffff", TB_ECANON, "array of 65535 elements has a longer" },
	{ "de0000", TB_ECANON, "map of 0 elements has a longer header" },
	{ "de000f", TB_ECANON, "map of 15 elements has a longer header" },
	{ "df0000ffff", TB_ECANON, "map of 65535 elements has a longer" },
	/* map keys */
	{ "82a16201a16102", TB_ECANON,
	  "at byte 4: map keys not sorted ('a' after 'b')" },
	{ "82a16201a2616102", TB_ECANON,
	  "map keys not sorted ('aa' after 'b')" },
	{ "82a2616201a16102", TB_ECANON,
	  "map keys not sorted ('a' after 'ab')" },
	{ "82a3e4ba8b01a17a02", TB_ECANON,
	  "map keys not sorted ('z' after '\xe4\xba\x8b')" },
	{ "82a16101a16102", TB_EDUP, "at byte 4: duplicate map key 'a'" },
	{ "82a001a002", TB_EDUP, "duplicate map key ''" },
	{ "830102a1610304", TB_ETYPE, "at byte 1: map key is not a string" },
	{ "81c001", TB_ETYPE, "map key is not a string" },
	{ "81c3c3", TB_ETYPE, "map key is not a string" },
	{ "819001", TB_ETYPE, "map key is not a string" },
	{ "818001", TB_ETYPE, "map key is not a string" },
	{ "81c4016101", TB_ETYPE, "map key is not a string" },
	{ "81ca3f80000001", TB_ETYPE, "map key is not a string" },
	{ "81c101", TB_ETYPE, "map key is not a string" },
	/* floats, bin, ext and the unused byte */
	{ "ca3f800000", TB_ETYPE, "at byte 0: floats are not allowed" },
	{ "cb3ff0000000000000", TB_ETYPE, "floats are not allowed" },
	{ "91cb0000000000000000", TB_ETYPE, "at byte 1: floats" },
	{ "c40100", TB_ETYPE, "bin is not allowed" },
	{ "c5000100", TB_ETYPE, "bin is not allowed" },
	{ "c60000000100", TB_ETYPE, "bin is not allowed" },
	{ "c7010100", TB_ETYPE, "ext types are not allowed" },
	{ "c800010100", TB_ETYPE, "ext types are not allowed" },
	{ "c9000000010100", TB_ETYPE, "ext types are not allowed" },
	{ "d40100", TB_ETYPE, "ext types are not allowed" },
	{ "d5010000", TB_ETYPE, "ext types are not allowed" },
	{ "d60100000000", TB_ETYPE, "ext types are not allowed" },
	{ "d7010000000000000000", TB_ETYPE, "ext types are not allowed" },
	{ "d801"
	  "00000000000000000000000000000000",
	  TB_ETYPE, "ext types" },
	{ "d6ffffffffff", TB_ETYPE, "ext types are not allowed" },
	{ "c1", TB_EMALFORMED, "at byte 0: byte 0xc1 is never used" },
	{ "91c1", TB_EMALFORMED, "at byte 1: byte 0xc1 is never used" },
	/* truncation and counts beyond the bytes left */
	{ "", TB_ETRUNC, "at byte 0: empty input" },
	{ "cc", TB_ETRUNC, "at byte 0: truncated: needs 2 more bytes, 1 left" },
	{ "cf0000", TB_ETRUNC, "needs 9 more bytes, 3 left" },
	{ "d3", TB_ETRUNC, "needs 9 more bytes, 1 left" },
	{ "a56162", TB_ETRUNC, "at byte 0: truncated: needs 5 more bytes, 2" },
	{ "d9", TB_ETRUNC, "needs 2 more bytes, 1 left" },
	{ "db0001", TB_ETRUNC, "needs 5 more bytes, 3 left" },
	{ "9201", TB_ETRUNC,
	  "at byte 0: declares 2 elements but only 1 bytes" },
	{ "92a161", TB_ETRUNC, "at byte 3: truncated: needs 1 more bytes, 0" },
	{ "81a161", TB_ETRUNC, "at byte 3: truncated" },
	{ "81", TB_ETRUNC, "declares 1 elements but only 0 bytes are left" },
	{ "8201020304", TB_ETYPE, "map key is not a string" },
	{ "82a16101", TB_ETRUNC, "declares 2 elements but only 3 bytes" },
	{ "dc", TB_ETRUNC, "needs 3 more bytes, 1 left" },
	{ "dcffff", TB_ETRUNC,
	  "at byte 0: declares 65535 elements but only 0 bytes are left" },
	{ "ddffffffff", TB_ETRUNC,
	  "declares 4294967295 elements but only 0 bytes are left" },
	{ "dfffffffff", TB_ETRUNC,
	  "declares 4294967295 elements but only 0 bytes are left" },
	{ "deffff0000", TB_ETRUNC, "declares 65535 elements but only 2 bytes" },
	{ "9f000000000000000000000000", TB_ETRUNC,
	  "declares 15 elements but only 12 bytes" },
	{ "8a00000000000000000000000000000000000000", TB_ETRUNC,
	  "declares 10 elements but only 19 bytes" },
	{ "91ddffffffff", TB_ETRUNC, "at byte 1: declares 4294967295" },
	{ "dbffffffff", TB_ETOOBIG,
	  "at byte 0: string of 4294967295 bytes exceeds 1048576" },
	{ "db00100001", TB_ETOOBIG, "string of 1048577 bytes exceeds" },
	/* trailing bytes */
	{ "c0c0", TB_EMALFORMED,
	  "at byte 1: 1 trailing bytes after the value" },
	{ "9000ffff", TB_EMALFORMED, "3 trailing bytes after the value" },
	/* invalid UTF-8 and NUL */
	{ "a2c080", TB_EMALFORMED, "at byte 1: string is not valid UTF-8" },
	{ "a2c1bf", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3e080af", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3e09fbf", TB_EMALFORMED, "not valid UTF-8" },
	{ "a4f08080af", TB_EMALFORMED, "not valid UTF-8" },
	{ "a4f08fbfbf", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3e428ad", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3e4b828", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3efbfc0", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3eda080", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3edbfbf", TB_EMALFORMED, "not valid UTF-8" },
	{ "a6eda0bdedb880", TB_EMALFORMED, "not valid UTF-8" },
	{ "a4f4908080", TB_EMALFORMED, "not valid UTF-8" },
	{ "a4f5808080", TB_EMALFORMED, "not valid UTF-8" },
	{ "a4f8888080", TB_EMALFORMED, "not valid UTF-8" },
	{ "a180", TB_EMALFORMED, "not valid UTF-8" },
	{ "a1bf", TB_EMALFORMED, "not valid UTF-8" },
	{ "a2e4b8", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3e44141", TB_EMALFORMED, "not valid UTF-8" },
	{ "a3f09f98", TB_EMALFORMED, "not valid UTF-8" },
	{ "a1ff", TB_EMALFORMED, "not valid UTF-8" },
	{ "a1fe", TB_EMALFORMED, "not valid UTF-8" },
	{ "a100", TB_EMALFORMED,
	  "at byte 1: string is not valid UTF-8 (or "
	  "holds NUL)" },
	{ "a3610062", TB_EMALFORMED, "holds NUL" },
	{ "81a2c08001", TB_EMALFORMED, "at byte 2: string is not valid UTF-8" },
	{ "81a10001", TB_EMALFORMED, "holds NUL" },
	{ "9201a3eda080", TB_EMALFORMED, "at byte 3: string is not valid" },
};

/* accepted lists edge cases that are canonical, with their JSON. */
static const struct {
	const char *hex;
	const char *json;
} accepted[] = {
	{ "a3efbfbf", "\"\xef\xbf\xbf\"" },
	{ "a4f48fbfbf", "\"\xf4\x8f\xbf\xbf\"" },
	{ "a3ed9fbf", "\"\xed\x9f\xbf\"" },
	{ "a3ee8080", "\"\xee\x80\x80\"" },
	{ "a2c280", "\"\xc2\x80\"" },
	{ "a17f", "\"\x7f\"" },
	{ "a101", "\"\\u0001\"" },
	{ "82a2616101a16202", "{\"aa\":1,\"b\":2}" },
	{ "83a001a16102a2616103", "{\"\":1,\"a\":2,\"aa\":3}" },
	{ "82a17a01a3e4ba8b02", "{\"z\":1,\"\xe4\xba\x8b\":2}" },
	{ "80", "{}" },
	{ "90", "[]" },
	{ "9190", "[[]]" },
	{ "81a080", "{\"\":{}}" },
	{ "a0", "\"\"" },
	{ "92a0a0", "[\"\",\"\"]" },
};

static void
test_refusals(void)
{
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		char why[512] = "";
		uint8_t *p;
		size_t n;

		if ((p = unhex_alloc(r->hex, &n)) == NULL) {
			continue;
		}
		ok(refused(p, n, NULL, r->code, r->msg, why, sizeof(why)),
		   "%s refused: %s '%s'", r->hex[0] ? r->hex : "(empty)",
		   tb_errname(r->code), r->msg);
		if (why[0] != '\0') {
			printf("#   %s\n", why);
		}
		free(p);
	}
	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		json_t *want = json_text(accepted[i].json), *got = NULL;
		char msg[256] = "";
		uint8_t *p;
		size_t n;
		int rv;

		if ((p = unhex_alloc(accepted[i].hex, &n)) == NULL) {
			json_decref(want);
			continue;
		}
		rv = canon_decode(p, n, NULL, &got, msg, sizeof(msg));
		ok(rv == TB_OK && json_equal(got, want), "%s decodes to %s",
		   accepted[i].hex, accepted[i].json);
		if (rv != TB_OK) {
			printf("#   %s: %s\n", tb_errname(rv), msg);
		}
		json_decref(got);
		json_decref(want);
		free(p);
	}
}

/* ---- big counts, depth and limits --------------------------------------- */

/* test_big_counts: arrays and maps at the 16-bit/32-bit header boundary,
 * and declared counts just beyond the bytes actually there. */
static void
test_big_counts(void)
{
	static const struct {
		size_t n;
		bool map;
		const char *hdr;
	} cases[] = {
		{ 65535, false, "dcffff" },
		{ 65536, false, "dd00010000" },
		{ 65535, true, "deffff" },
		{ 65536, true, "df00010000" },
	};
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = cases[i].map ? json_object() : json_array();
		json_t *d = NULL;
		struct canon_buf b = { 0 };
		char msg[256] = "", why[512] = "", h[16];
		size_t hl = strlen(cases[i].hdr) / 2;
		int rv;

		for (k = 0; k < cases[i].n; k++) {
			char key[16];
			if (cases[i].map) {
				snprintf(key, sizeof(key), "%06zu", k);
				json_object_set_new(
				    v, key, json_integer((json_int_t)k));
			} else {
				json_array_append_new(
				    v, json_integer((json_int_t)(k % 300)));
			}
		}
		rv = canon_encode(v, &b, msg, sizeof(msg));
		canon_hex(b.data, hl, h);
		ok(rv == TB_OK && !strcmp(h, cases[i].hdr),
		   "%s of %zu encodes with header %s (got %s)",
		   cases[i].map ? "map" : "array", cases[i].n, cases[i].hdr, h);
		rv = canon_decode(b.data, b.len, NULL, &d, msg, sizeof(msg));
		ok(rv == TB_OK && json_equal(d, v),
		   "%s of %zu decodes back (%s)",
		   cases[i].map ? "map" : "array", cases[i].n, msg);
		/* Less its last byte, the last element is cut short. */
		ok(refused(b.data, b.len - 1, NULL, TB_ETRUNC, "truncated", why,
		           sizeof(why)),
		   "%s of %zu less its last byte is truncated %s",
		   cases[i].map ? "map" : "array", cases[i].n, why);
		json_decref(d);
		json_decref(v);
		canon_buf_free(&b);
	}

	/* A count one more than the bytes that follow, at 16 and 32 bits. */
	{
		size_t n = 3 + 65534;
		uint8_t *p = calloc(1, n);
		char why[512] = "";
		p[0] = 0xdc;
		p[1] = 0xff;
		p[2] = 0xff;
		ok(refused(p, n, NULL, TB_ETRUNC,
		           "declares 65535 elements but only 65534 bytes are "
		           "left",
		           why, sizeof(why)),
		   "array16 of 65535 with 65534 bytes left: truncated %s", why);
		free(p);
	}
	{
		size_t n = 5 + 65536;
		uint8_t *p = calloc(1, n);
		char why[512] = "";
		memcpy(p, "\xdd\x00\x01\x00\x01", 5);
		ok(refused(p, n, NULL, TB_ETRUNC,
		           "declares 65537 elements but only 65536 bytes are "
		           "left",
		           why, sizeof(why)),
		   "array32 of 65537 with 65536 bytes left: truncated %s", why);
		memcpy(p, "\xdf\x00\x01\x00\x00", 5);
		ok(refused(p, n, NULL, TB_ETRUNC,
		           "declares 65536 elements but only 65536 bytes are "
		           "left",
		           why, sizeof(why)),
		   "map32 of 65536 with 65536 bytes left: truncated %s", why);
		free(p);
	}
}

/* Counting jansson's allocations shows that refused input allocates
 * nothing: the checker runs before msgpack-c and jansson see a count. */
static size_t jansson_allocs;

static void *
count_malloc(size_t n)
{
	jansson_allocs++;
	return malloc(n);
}

static void
test_no_alloc(void)
{
	static const char *const huge[] = {
		"ddffffffff", "dfffffffff",   "dbffffffff",
		"dcffff",     "91ddffffffff", "81a161dfffffffff",
	};
	char msg[256];
	json_t *v = NULL;
	uint8_t *p;
	size_t i, n;

	json_set_alloc_funcs(count_malloc, free);
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		if ((p = unhex_alloc(huge[i], &n)) == NULL) {
			continue;
		}
		jansson_allocs = 0;
		ok(canon_decode(p, n, NULL, &v, msg, sizeof(msg)) != TB_OK &&
		       v == NULL && jansson_allocs == 0,
		   "%s refused before anything is allocated (%s)", huge[i],
		   msg);
		free(p);
	}
	p = unhex_alloc("92a16101", &n);
	jansson_allocs = 0;
	ok(canon_decode(p, n, NULL, &v, msg, sizeof(msg)) == TB_OK &&
	       jansson_allocs > 0,
	   "  (the count does see the allocations of a decode)");
	json_decref(v);
	free(p);
	json_set_alloc_funcs(malloc, free);
}

/* nest builds `levels` containers around an innermost value: arrays
 * (0x91 ... 0x90) or maps ({"k": ...} ... {}), with a scalar inside when
 * scalar is true. */
static uint8_t *
nest(size_t levels, bool map, bool scalar, size_t *n)
{
	uint8_t *p = malloc(levels * 3 + 2);
	size_t i, k = 0;

	for (i = 0; i + 1 < levels; i++) {
		if (map) {
			p[k++] = 0x81;
			p[k++] = 0xa1;
			p[k++] = 'k';
		} else {
			p[k++] = 0x91;
		}
	}
	if (scalar) {
		p[k++] = map ? 0x81 : 0x91;
		if (map) {
			p[k++] = 0xa1;
			p[k++] = 'k';
		}
		p[k++] = 0x07;
	} else {
		p[k++] = map ? 0x80 : 0x90;
	}
	*n = k;
	return p;
}

static void
test_depth(void)
{
	struct canon_limits lim = canon_default_limits;
	char msg[256], why[512] = "";
	size_t n;
	uint8_t *p;
	json_t *d = NULL;
	int map, rv;

	is_int(canon_default_limits.max_depth, 24, "default depth limit");
	for (map = 0; map <= 1; map++) {
		const char *kind = map ? "maps" : "arrays";

		/* Depth counts values: 24 nested containers, the innermost
		 * empty, is exactly at the limit of 24. */
		p = nest(24, map, false, &n);
		rv = canon_decode(p, n, NULL, &d, msg, sizeof(msg));
		is_int(rv, TB_OK, "24 nested %s: at the limit, accepted", kind);
		json_decref(d);
		d = NULL;
		free(p);
		/* A scalar inside 23 containers is a value at depth 24. */
		p = nest(23, map, true, &n);
		rv = canon_decode(p, n, NULL, &d, msg, sizeof(msg));
		is_int(rv, TB_OK, "a scalar in 23 nested %s: accepted", kind);
		json_decref(d);
		d = NULL;
		free(p);
		p = nest(25, map, false, &n);
		ok(refused(p, n, NULL, TB_EDEPTH, "nested deeper than 24", why,
		           sizeof(why)),
		   "25 nested %s: refused as too deep %s", kind, why);
		free(p);
		p = nest(24, map, true, &n);
		ok(refused(p, n, NULL, TB_EDEPTH, "nested deeper than 24", why,
		           sizeof(why)),
		   "a scalar in 24 nested %s: refused as too deep %s", kind,
		   why);
		free(p);
		/* Far deeper than any stack would take recursing. */
		p = nest(200000, map, true, &n);
		ok(refused(p, n, NULL, TB_EDEPTH,
		           map ? "at byte 72: nested deeper than 24"
		               : "at byte 24: nested deeper than 24",
		           why, sizeof(why)),
		   "200000 nested %s: refused at the limit %s", kind, why);
		free(p);
	}

	/* Custom limits, including ones beyond msgpack-c's own stack of 32
	 * containers: decoding must then refuse precisely, not fail inside
	 * msgpack-c. */
	lim.max_depth = 3;
	p = nest(3, false, false, &n);
	rv = canon_decode(p, n, &lim, &d, msg, sizeof(msg));
	is_int(rv, TB_OK, "limit 3: [[[]]] accepted");
	json_decref(d);
	d = NULL;
	free(p);
	p = nest(3, true, true, &n);
	ok(refused(p, n, &lim, TB_EDEPTH, "at byte 9: nested deeper than 3",
	           why, sizeof(why)),
	   "limit 3: {k:{k:{k:7}}} refused %s", why);
	free(p);
	lim.max_depth = 64;
	p = nest(32, false, false, &n);
	rv = canon_decode(p, n, &lim, &d, msg, sizeof(msg));
	is_int(rv, TB_OK, "limit 64: 32 nested arrays decode (%s)", msg);
	json_decref(d);
	d = NULL;
	free(p);
	p = nest(33, false, true, &n);
	rv = canon_decode(p, n, &lim, &d, msg, sizeof(msg));
	ok(rv == TB_EDEPTH && d == NULL,
	   "limit 64: 33 nested arrays refused as too deep for msgpack-c "
	   "(%s: %s)",
	   tb_errname(rv), msg);
	like(msg, "nested deeper than 32", "  and the message says so");
	json_decref(d);
	free(p);
}

static void
test_limits(void)
{
	struct canon_limits lim = canon_default_limits;
	char why[512] = "";
	uint8_t *p;
	size_t n;
	json_t *d = NULL;
	char msg[256];

	ok(canon_default_limits.max_bytes == 16u << 20 &&
	       canon_default_limits.max_str == 1u << 20 &&
	       canon_default_limits.max_items == 1u << 20,
	   "default limits: 16 MiB, 1 MiB strings, 1M items");

	lim.max_bytes = 4;
	p = unhex_alloc("9401020304", &n);
	ok(refused(p, n, &lim, TB_ETOOBIG,
	           "at byte 0: input of 5 bytes "
	           "exceeds 4",
	           why, sizeof(why)),
	   "max_bytes 4: 5 bytes refused %s", why);
	ok(canon_check(p, 4, &lim, msg, sizeof(msg)) == TB_ETRUNC,
	   "max_bytes 4: 4 bytes are checked (and truncated)");
	free(p);

	lim = canon_default_limits;
	lim.max_str = 3;
	p = unhex_alloc("92a361626381a461626364c0", &n);
	ok(refused(p, n, &lim, TB_ETOOBIG,
	           "at byte 6: string of 4 bytes exceeds 3", why, sizeof(why)),
	   "max_str 3: a 4-byte key refused %s", why);
	free(p);
	p = unhex_alloc("a3616263", &n);
	ok(canon_decode(p, n, &lim, &d, msg, sizeof(msg)) == TB_OK,
	   "max_str 3: a 3-byte string accepted");
	json_decref(d);
	d = NULL;
	free(p);
	p = unhex_alloc("dbffffffff", &n);
	lim.max_str = SIZE_MAX;
	ok(refused(p, n, &lim, TB_ETRUNC, "needs 4294967295 more bytes, 0", why,
	           sizeof(why)),
	   "max_str unlimited: a 4 GiB string header is truncated input %s",
	   why);
	free(p);

	lim = canon_default_limits;
	lim.max_items = 3;
	p = unhex_alloc("93010203", &n);
	ok(canon_decode(p, n, &lim, &d, msg, sizeof(msg)) == TB_OK,
	   "max_items 3: [1,2,3] accepted");
	json_decref(d);
	d = NULL;
	free(p);
	p = unhex_alloc("9401020304", &n);
	ok(refused(p, n, &lim, TB_ETOOBIG, "at byte 0: more than 3 elements",
	           why, sizeof(why)),
	   "max_items 3: [1,2,3,4] refused %s", why);
	free(p);
	p = unhex_alloc("92910191a16202", &n);
	ok(refused(p, n, &lim, TB_ETOOBIG, "at byte 3: more than 3 elements",
	           why, sizeof(why)),
	   "max_items 3: [[1],[\"b\"]] holds 4 in all, refused %s", why);
	free(p);
	p = unhex_alloc("82a16101a16202", &n);
	ok(canon_decode(p, n, &lim, &d, msg, sizeof(msg)) == TB_OK,
	   "max_items 3: a map of 2 entries counts 2");
	json_decref(d);
	free(p);
}

/* ---- encoder ------------------------------------------------------------ */

static void
test_encode_errors(void)
{
	static const struct {
		const char *json;
		const char *msg;
	} reals[] = {
		{ "{'a':[1,2,1.5]}",
		  "$.a[2]: numbers must be integers (no floats)" },
		{ "1.0", "$: numbers must be integers (no floats)" },
		{ "{'x':{'y':-0.0}}",
		  "$.x.y: numbers must be integers (no floats)" },
		{ "[[0,[1e3]]]",
		  "$[0][1][0]: numbers must be integers (no floats)" },
		{ "{'b':1,'a':{'c':0.5}}",
		  "$.a.c: numbers must be integers (no floats)" },
	};
	struct canon_buf b = { 0 };
	char msg[256];
	json_t *v, *w;
	size_t i;
	int rv;

	for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		v = json_q(reals[i].json);
		msg[0] = '\0';
		rv = canon_encode(v, &b, msg, sizeof(msg));
		is_int(rv, TB_ETYPE, "encode %s refused as wrong_type",
		       reals[i].json);
		is_str(msg, reals[i].msg, "  with the path");
		canon_buf_free(&b);
		json_decref(v);
	}

	v = json_object();
	json_object_set_new(v, "k", json_stringn("a\0b", 3));
	rv = canon_encode(v, &b, msg, sizeof(msg));
	is_int(rv, TB_EMALFORMED, "encode a string holding NUL: malformed");
	is_str(msg, "$.k: strings may not hold NUL", "  with the path");
	canon_buf_free(&b);
	json_decref(v);

	/* A key with NUL would be cut at the NUL by a C-string encoder and
	 * collide with the shorter key: {"a\0x":1} must not encode as
	 * {"a":1}. */
	v = json_object();
	json_object_setn_new(v, "a\0x", 3, json_integer(1));
	rv = canon_encode(v, &b, msg, sizeof(msg));
	is_int(rv, TB_EMALFORMED, "encode a key holding NUL: malformed");
	is_str(msg, "$: keys may not hold NUL", "  with the path");
	canon_buf_free(&b);
	json_decref(v);

	/* Encoding allows 64 levels (envelopes around documents). */
	v = json_integer(1);
	for (i = 1; i < 64; i++) {
		w = json_array();
		json_array_append_new(w, v);
		v = w;
	}
	rv = canon_encode(v, &b, msg, sizeof(msg));
	is_int(rv, TB_OK, "encode 64 levels of values");
	canon_buf_free(&b);
	w = json_array();
	json_array_append_new(w, v);
	rv = canon_encode(w, &b, msg, sizeof(msg));
	is_int(rv, TB_EDEPTH, "encode 65 levels: too deep");
	like(msg, ": nested deeper than 64", "  message says so");
	canon_buf_free(&b);
	json_decref(w);

	/* A buffer that failed stays failed. */
	{
		uint8_t x = 1;
		is_int(canon_buf_append(&b, &x, SIZE_MAX / 2 + 1), TB_ENOMEM,
		       "an impossible append is out of memory");
		is_int(canon_buf_append(&b, &x, 1), TB_ENOMEM,
		       "  and the buffer stays failed");
		v = json_integer(5);
		rv = canon_encode(v, &b, msg, sizeof(msg));
		is_int(rv, TB_ENOMEM, "encoding into a failed buffer: nomem");
		is_str(msg, "out of memory encoding", "  message says so");
		json_decref(v);
		canon_buf_free(&b);
		ok(b.data == NULL && b.len == 0 && b.err == 0,
		   "canon_buf_free zeroes the buffer");
	}
}

static void
test_encode_without(void)
{
	json_t *doc = json_q("{'b':1,'signatures':[{'key':'x'}],'a':"
	                     "{'signatures':2}}");
	json_t *bare = json_q("{'a':{'signatures':2},'b':1}");
	struct canon_buf b1 = { 0 }, b2 = { 0 };
	uint8_t h1[CANON_HASH_LEN], h2[CANON_HASH_LEN];
	char msg[256];
	int rv;

	rv = canon_encode_without(doc, "signatures", &b1, msg, sizeof(msg));
	(void)canon_encode(bare, &b2, msg, sizeof(msg));
	ok(rv == TB_OK && b1.len == b2.len &&
	       memcmp(b1.data, b2.data, b1.len) == 0,
	   "encode_without drops the top-level key only");
	canon_hash(b2.data, b2.len, h2);
	rv = canon_hash_value(doc, "signatures", h1, msg, sizeof(msg));
	ok(rv == TB_OK && memcmp(h1, h2, sizeof(h1)) == 0,
	   "hash_value hashes the same bytes");
	rv = canon_hash_value(bare, NULL, h1, msg, sizeof(msg));
	ok(rv == TB_OK && memcmp(h1, h2, sizeof(h1)) == 0,
	   "hash_value with no skip");
	canon_buf_free(&b1);
	canon_buf_free(&b2);
	json_decref(doc);
	json_decref(bare);

	doc = json_q("{'a':0.5}");
	rv = canon_hash_value(doc, NULL, h1, msg, sizeof(msg));
	is_int(rv, TB_ETYPE, "hash_value refuses a real");
	is_str(msg, "$.a: numbers must be integers (no floats)",
	       "  with the path");
	json_decref(doc);
}

/* ---- random round trips ------------------------------------------------ */

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t
rnd_below(uint64_t *s, uint64_t n)
{
	return n == 0 ? 0 : rnd(s) % n;
}

static json_int_t
rand_int(uint64_t *s)
{
	static const json_int_t edges[] = {
		0,      127,    128,          255,         256,
		65535,  65536,  4294967295LL, 4294967296,  INT64_MAX,
		-1,     -32,    -33,          -128,        -129,
		-32768, -32769, INT32_MIN,    -2147483649, INT64_MIN,
	};
	int width = (int)rnd_below(s, 11);
	uint64_t u = rnd(s);

	switch (width) {
	case 0:
		return edges[rnd_below(s, sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return (json_int_t)(u & 0x7f);
	case 2:
		return (json_int_t)(u & 0xff);
	case 3:
		return (json_int_t)(u & 0xffff);
	case 4:
		return (json_int_t)(u & 0xffffffff);
	case 5:
		return (json_int_t)(u >> 1);
	case 6:
		return -(json_int_t)(u & 0x1f) - 1;
	case 7:
		return (json_int_t)(int8_t)(u | 0x80);
	case 8:
		return (json_int_t)(int16_t)(u | 0x8000);
	case 9:
		return (json_int_t)(int32_t)(u | 0x80000000u);
	default:
		return (json_int_t)(u | (1ull << 63));
	}
}

/* put_utf8 appends code point cp to p[*k]. */
static void
put_utf8(char *p, size_t *k, uint32_t cp)
{
	if (cp < 0x80) {
		p[(*k)++] = (char)cp;
	} else if (cp < 0x800) {
		p[(*k)++] = (char)(0xc0 | cp >> 6);
		p[(*k)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		p[(*k)++] = (char)(0xe0 | cp >> 12);
		p[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[(*k)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		p[(*k)++] = (char)(0xf0 | cp >> 18);
		p[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		p[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[(*k)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* rand_str makes a string of about `chars` code points from a mix of
 * ASCII (with controls), 2-, 3- and 4-byte characters; small alphabets
 * for keys so maps share prefixes. */
static json_t *
rand_str(uint64_t *s, size_t chars, bool key)
{
	char *p = malloc(chars * 4 + 1);
	size_t i, k = 0;
	json_t *j;

	for (i = 0; i < chars; i++) {
		uint32_t cp;
		switch (key ? rnd_below(s, 3) : rnd_below(s, 6)) {
		case 0:
			cp = (uint32_t)('a' + rnd_below(s, 3));
			break;
		case 1:
			cp = key ? 0x4e00 + (uint32_t)rnd_below(s, 3)
			         : 1 + (uint32_t)rnd_below(s, 0x7f);
			break;
		case 2:
			cp = key ? 0x1f600
			         : 0x80 + (uint32_t)rnd_below(s, 0x780);
			break;
		case 3:
			cp = 0x800 + (uint32_t)rnd_below(s, 0xd800 - 0x800);
			break;
		case 4:
			cp = 0xe000 + (uint32_t)rnd_below(s, 0x2000);
			break;
		default:
			cp = 0x10000 + (uint32_t)rnd_below(s, 0x100000);
			break;
		}
		put_utf8(p, &k, cp);
	}
	j = json_stringn(p, k);
	free(p);
	return j;
}

static size_t
rand_len(uint64_t *s)
{
	uint64_t r = rnd_below(s, 1000);

	if (r < 700) {
		return (size_t)rnd_below(s, 6);
	}
	if (r < 950) {
		return 12 + (size_t)rnd_below(s, 30);
	}
	if (r < 998) {
		return 60 + (size_t)rnd_below(s, 250);
	}
	return 16000 + (size_t)rnd_below(s, 20000);
}

static json_t *
rand_value(uint64_t *s, int depth, int maxdepth, size_t *budget)
{
	uint64_t kind = rnd_below(s, depth >= maxdepth ? 5 : 8);
	size_t n, i;
	json_t *v;

	if (*budget > 0) {
		(*budget)--;
	}
	switch (kind) {
	case 0:
		return rnd_below(s, 3) == 0 ? json_null()
		                            : json_boolean(rnd_below(s, 2));
	case 1:
	case 2:
		return json_integer(rand_int(s));
	case 3:
	case 4:
		n = rand_len(s);
		return rand_str(s, n, false);
	case 5:
	case 6:
		v = json_array();
		n = *budget > 0 ? rand_len(s) % 300 : 0;
		for (i = 0; i<n && * budget> 0; i++) {
			json_array_append_new(
			    v, rand_value(s, depth + 1, maxdepth, budget));
		}
		return v;
	default:
		v = json_object();
		n = *budget > 0 ? rand_len(s) % 40 : 0;
		for (i = 0; i<n && * budget> 0; i++) {
			json_t *k = rand_str(s, 1 + rnd_below(s, 4), true);
			json_object_set_new(
			    v, json_string_value(k),
			    rand_value(s, depth + 1, maxdepth, budget));
			json_decref(k);
		}
		return v;
	}
}

/* json_depth counts levels of values: a scalar is 1, [] is 1, [1] is 2. */
static int
json_depth(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	int d = 0, e;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			e = json_depth(x);
			d = e > d ? e : d;
		}
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
		{
			e = json_depth(x);
			d = e > d ? e : d;
		}
	}
	return 1 + d;
}

static void
test_random(void)
{
	const char *env = getenv("TB_SEED"), *lng = getenv("TB_LONG");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20260101;
	uint64_t s = seed;
	int rounds = lng != NULL && !strcmp(lng, "1") ? 50000 : 5000;
	int i, bad_enc = 0, bad_chk = 0, bad_dec = 0, bad_re = 0, bad_own = 0;
	size_t bytes = 0, maxlen = 0;

	printf("# random round trips: seed %llu (TB_SEED), %d values\n",
	       (unsigned long long)seed, rounds);
	for (i = 0; i < rounds; i++) {
		size_t budget = 50 + (size_t)rnd_below(&s, 400);
		int maxdepth =
		    rnd_below(&s, 10) == 0 ? 24 : 1 + (int)rnd_below(&s, 6);
		json_t *v = rand_value(&s, 1, maxdepth, &budget), *d = NULL;
		struct canon_buf b1 = { 0 }, b2 = { 0 };
		struct menc m;
		char msg[256] = "";
		int rv;

		/* Some values are wrapped in arrays up to the depth limit,
		 * to reach it with every kind of leaf. */
		if (maxdepth == 24) {
			int k;
			for (k = json_depth(v); k < 24; k++) {
				json_t *w = json_array();
				json_array_append_new(w, v);
				v = w;
			}
		}
		rv = canon_encode(v, &b1, msg, sizeof(msg));
		if (rv != TB_OK) {
			if (bad_enc++ == 0) {
				printf("#   value %d: encode %s: %s\n", i,
				       tb_errname(rv), msg);
			}
			goto next;
		}
		bytes += b1.len;
		maxlen = b1.len > maxlen ? b1.len : maxlen;
		rv = canon_check(b1.data, b1.len, NULL, msg, sizeof(msg));
		if (rv != TB_OK) {
			if (bad_chk++ == 0) {
				printf("#   value %d: check %s: %s\n", i,
				       tb_errname(rv), msg);
			}
			goto next;
		}
		rv = canon_decode(b1.data, b1.len, NULL, &d, msg, sizeof(msg));
		if (rv != TB_OK || !json_equal(d, v)) {
			if (bad_dec++ == 0) {
				printf("#   value %d: decode %s: %s\n", i,
				       tb_errname(rv), msg);
			}
			goto next;
		}
		rv = canon_encode(d, &b2, msg, sizeof(msg));
		if (rv != TB_OK || b1.len != b2.len ||
		    memcmp(b1.data, b2.data, b1.len) != 0) {
			if (bad_re++ == 0) {
				printf("#   value %d: re-encoding differs\n",
				       i);
			}
		}
		menc_run(&m, v, MUT_NONE, -1);
		if (m.b.len != b1.len ||
		    memcmp(m.b.data, b1.data, b1.len) != 0) {
			if (bad_own++ == 0) {
				printf("#   value %d: own encoder differs\n",
				       i);
			}
		}
		canon_buf_free(&m.b);
	next:
		json_decref(v);
		json_decref(d);
		canon_buf_free(&b1);
		canon_buf_free(&b2);
	}
	printf("#   %zu bytes encoded in all, the largest %zu\n", bytes,
	       maxlen);
	is_int(bad_enc, 0, "random: every value encodes");
	is_int(bad_chk, 0, "random: canon_check accepts every encoding");
	is_int(bad_dec, 0, "random: decode gives an equal value");
	is_int(bad_re, 0, "random: encode -> decode -> encode is identical");
	is_int(bad_own, 0, "random: the test's own encoder agrees");
}

/* ---- hex and hash ------------------------------------------------------- */

static void
test_hex_hash(void)
{
	static const struct {
		const char *in;
		const char *hex;
	} blake[] = {
		/* /usr/bin/python3: hashlib.blake2b(m, digest_size=32) */
		{ "", "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45c"
		      "df12fe3a8" },
		{ "abc", "bddd813c634239723171ef3fee98579b94964e3bb1cb3e42726"
		         "2c8c068d52319" },
	};
	uint8_t all[256], back[256], h[CANON_HASH_LEN];
	char hex[2 * 256 + 1], hh[2 * CANON_HASH_LEN + 1];
	size_t i;

	for (i = 0; i < 256; i++) {
		all[i] = (uint8_t)i;
	}
	canon_hex(all, 256, hex);
	ok(!strncmp(hex, "000102", 6) && !strcmp(hex + 500, "fafbfcfdfeff"),
	   "canon_hex writes lowercase pairs");
	ok(canon_unhex(hex, back, 256) == TB_OK && !memcmp(all, back, 256),
	   "canon_unhex round trips every byte");
	canon_hex(all, 0, hex);
	is_str(hex, "", "canon_hex of nothing is empty");
	is_int(canon_unhex("", back, 0), TB_OK, "canon_unhex of nothing");
	is_int(canon_unhex("AB", back, 1), TB_ECODE, "uppercase refused");
	is_int(canon_unhex("aB", back, 1), TB_ECODE, "mixed case refused");
	is_int(canon_unhex("abc", back, 1), TB_ECODE, "odd length refused");
	is_int(canon_unhex("abc", back, 2), TB_ECODE, "short input refused");
	is_int(canon_unhex("abcd", back, 1), TB_ECODE, "long input refused");
	is_int(canon_unhex("zz", back, 1), TB_ECODE, "non-hex refused");
	is_int(canon_unhex("0g", back, 1), TB_ECODE, "non-hex refused (g)");
	is_int(canon_unhex(" 0", back, 1), TB_ECODE, "space refused");
	is_int(canon_unhex(NULL, back, 1), TB_ECODE, "NULL refused");
	for (i = 0; i < sizeof(blake) / sizeof(blake[0]); i++) {
		canon_hash((const uint8_t *)blake[i].in, strlen(blake[i].in),
		           h);
		canon_hex(h, sizeof(h), hh);
		is_str(hh, blake[i].hex, "BLAKE2b-256('%s')", blake[i].in);
	}
}

/* canon_decode_fields keeps only the named members of a top-level map,
 * decodes anything else whole, and checks the whole input either way. */
static void
test_decode_fields(void)
{
	static const char *const keys[] = { "id", "state", "pauses", "none" };
	const char *doc = "{\"id\": \"370102-20260210-000001\", \"form\": "
	                  "{\"a\": 1, \"b\": [1, 2]}, \"state\": "
	                  "\"received\", \"pauses\": [{\"to\": null}], "
	                  "\"version\": 3}";
	json_t *v = json_loads(doc, 0, NULL), *d = NULL, *want, *arr;
	struct canon_buf b = { 0 };
	char msg[256] = "";
	int rv;

	rv = canon_encode(v, &b, msg, sizeof(msg));
	is_int(rv, TB_OK, "a record encodes (%s)", msg);
	rv = canon_decode_fields(b.data, b.len, NULL, keys, 4, &d, msg,
	                         sizeof(msg));
	want = json_loads("{\"id\": \"370102-20260210-000001\", \"state\": "
	                  "\"received\", \"pauses\": [{\"to\": null}]}",
	                  0, NULL);
	ok(rv == TB_OK && json_equal(d, want),
	   "only the named members are decoded (%s)", msg);
	json_decref(d);
	d = NULL;
	rv = canon_decode_fields(b.data, b.len - 1, NULL, keys, 4, &d, msg,
	                         sizeof(msg));
	ok(rv == TB_ETRUNC && d == NULL,
	   "a truncated record is refused like canon_decode does: %s", msg);
	arr = json_pack("[i, s]", 1, "x");
	canon_buf_free(&b);
	canon_encode(arr, &b, msg, sizeof(msg));
	rv = canon_decode_fields(b.data, b.len, NULL, keys, 4, &d, msg,
	                         sizeof(msg));
	ok(rv == TB_OK && json_equal(d, arr), "a non-map decodes whole");
	json_decref(d);
	json_decref(arr);
	json_decref(want);
	json_decref(v);
	canon_buf_free(&b);
}

/* canon_encode_raw: a member decoded from known bytes is written as those
 * bytes (so the same output as canon_encode), and only for that very
 * value: an equal copy, or the same value under another key, is encoded. */
static void
test_encode_raw(void)
{
	json_t *doc =
	    json_pack("{s:{s:[i,s,{s:b}], s:s}, s:i, s:s}", "form", "b", 1, "x",
	              "k", 1, "a", "z", "n", 300, "m", "é");
	struct canon_buf whole = { 0 }, part = { 0 }, out = { 0 }, fake = { 0 };
	struct canon_raw raw;
	json_t *form = NULL, *copy;
	char err[128];
	const uint8_t marker[] = { 0xc0 };

	canon_encode(json_object_get(doc, "form"), &part, err, sizeof(err));
	canon_decode(part.data, part.len, NULL, &form, err, sizeof(err));
	json_object_set(doc, "form", form);
	canon_encode(doc, &whole, err, sizeof(err));
	raw = (struct canon_raw){ "form", form, part.data, part.len };
	is_int(canon_encode_raw(doc, &raw, 1, &out, err, sizeof(err)), TB_OK,
	       "canon_encode_raw: encodes");
	ok(out.len == whole.len && !memcmp(out.data, whole.data, out.len),
	   "the same bytes as canon_encode, the decoded part copied");
	raw.p = marker;
	raw.n = 1;
	canon_encode_raw(doc, &raw, 1, &fake, err, sizeof(err));
	ok(fake.len == whole.len - part.len + 1,
	   "the part's bytes are what is written for it (a marker here)");
	canon_buf_free(&fake);
	copy = json_deep_copy(form);
	json_object_set_new(doc, "form", copy);
	canon_encode_raw(doc, &raw, 1, &fake, err, sizeof(err));
	ok(fake.len == whole.len && !memcmp(fake.data, whole.data, fake.len),
	   "an equal copy of the value is encoded, not replaced");
	canon_buf_free(&fake);
	raw.key = "other";
	json_object_set(doc, "form", form);
	canon_encode_raw(doc, &raw, 1, &fake, err, sizeof(err));
	ok(fake.len == whole.len && !memcmp(fake.data, whole.data, fake.len),
	   "and so is the value under another key");
	canon_buf_free(&fake);
	canon_buf_free(&out);
	canon_buf_free(&part);
	canon_buf_free(&whole);
	json_decref(form);
	json_decref(doc);
}

/* test_utf8_words: the eight-bytes-at-a-time ASCII path of the UTF-8
 * check: ASCII strings of every length up to 40 pass, and a NUL, a byte
 * of 0x80 or above alone, or a bad sequence at any position is refused. */
static void
test_utf8_words(void)
{
	uint8_t p[48];
	char msg[256], why[512];
	size_t n, at, h;
	bool good = true;

	for (n = 0; n < 41 && good; n++) {
		/* The shortest header: fixstr below 32 bytes, else str8. */
		h = n < 32 ? 1 : 2;
		p[0] = n < 32 ? (uint8_t)(0xa0 | n) : 0xd9;
		p[1] = (uint8_t)n;
		memset(p + h, 'a' + (int)(n % 26), n);
		good = canon_check(p, n + h, NULL, msg, sizeof(msg)) == TB_OK;
		for (at = 0; at < n && good; at++) {
			p[h + at] = 0;
			good = refused(p, n + h, NULL, TB_EMALFORMED, "UTF-8",
			               why, sizeof(why));
			p[h + at] = 0x80;
			good = good && refused(p, n + h, NULL, TB_EMALFORMED,
			                       "UTF-8", why, sizeof(why));
			p[h + at] = 0xff;
			good = good && refused(p, n + h, NULL, TB_EMALFORMED,
			                       "UTF-8", why, sizeof(why));
			p[h + at] = 'a' + (int)(n % 26);
		}
	}
	ok(good,
	   "ASCII strings of 0 to 40 bytes pass, one NUL or high byte "
	   "anywhere is refused (stopped at %zu bytes)",
	   n - 1);
	if (!good) {
		printf("#   %s\n", why);
	}
}

int
main(void)
{
	load_vectors();
	test_golden();
	test_mutations();
	test_refusals();
	test_big_counts();
	test_no_alloc();
	test_depth();
	test_limits();
	test_encode_errors();
	test_encode_without();
	test_random();
	test_hex_hash();
	test_decode_fields();
	test_encode_raw();
	test_utf8_words();
	free_vectors();
	return done_testing();
}
