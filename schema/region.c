/* Parsing and querying the GB/T 2260 region table. */
#include "schema/region.h"
#include "schema/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated from data/regions.csv by ops/cmake/embed.cmake. */
extern const char tb_regions_csv[];
extern const size_t tb_regions_csv_len;

/* The real table is ~100 KiB; anything far larger is not a region table and
 * would only make the row arrays huge. */
#define REGION_MAX_CSV (64u * 1024 * 1024)

static const char region_header[] = "code,name,level,parent";
static const char *const region_level_names[REGION_NLEVELS] = { "province",
	                                                        "city", "group",
	                                                        "county" };

struct region_table {
	struct region *regions;     /* sorted by code */
	const struct region **kids; /* all regions sorted by (parent, code) */
	size_t n;
	size_t count[REGION_NLEVELS];
	char *names; /* every name, NUL-terminated */
};

/* A row while loading: names are offsets into a buffer that is only final
 * once every row is read, and the line is kept for later diagnostics. */
struct row {
	struct region r;
	size_t name_off;
	size_t line;
};

/* code_reason parses n bytes at s as a code; twelve digits are accepted
 * only when allow12. Returns NULL and sets *code, or the reason. */
static const char *
code_reason(const char *s, size_t n, bool allow12, int32_t *code)
{
	int32_t v = 0;
	size_t i;

	if (n == 0) {
		return "empty code";
	}
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return "a code has only the digits 0-9";
		}
	}
	if (n != 6 && !(allow12 && n == 12)) {
		return allow12 ? "must be 6 digits, or 12 ending in 000000"
		               : "must be 6 digits";
	}
	if (n == 12 && memcmp(s + 6, "000000", 6) != 0) {
		return "names a township or village; the table stops at "
		       "counties";
	}
	if (s[0] == '0' && s[1] == '0') {
		return "no province has the code 00";
	}
	for (i = 0; i < 6; i++) {
		v = v * 10 + (s[i] - '0');
	}
	*code = v;
	return NULL;
}

int
region_code_parse_msg(const char *s, int32_t *code, char *errmsg, size_t errlen)
{
	const char *why;

	if (s == NULL) {
		return tb_errf(errmsg, errlen, TB_ECODE, "empty code");
	}
	if ((why = code_reason(s, strlen(s), true, code)) != NULL) {
		return tb_errf(errmsg, errlen, TB_ECODE, "%s", why);
	}
	return TB_OK;
}

int
region_code_parse(const char *s, int32_t *code)
{
	return region_code_parse_msg(s, code, NULL, 0);
}

/* utf8_ok is true for well-formed UTF-8 (no overlongs, surrogates or
 * values past U+10FFFF) without control characters. */
static bool
utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0, j, k;
	uint32_t cp, min;

	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f) {
				return false;
			}
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k) {
			return false;
		}
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			return false;
		}
		i += k + 1;
	}
	return true;
}

/* level_fits is true when the code's zero digits match the level, so a
 * city row cannot silently carry a county code. */
static bool
level_fits(enum region_level l, int32_t code)
{
	switch (l) {
	case REGION_PROVINCE:
		return code % 10000 == 0;
	case REGION_CITY:
	case REGION_GROUP:
		return code % 100 == 0 && code % 10000 != 0;
	case REGION_COUNTY:
		return code % 100 != 0;
	}
	return false;
}

/* parse_row reads one data line [s, s+n) into r, copying the name into
 * names at *names_len. */
static int
parse_row(const char *s, size_t n, size_t line, struct row *r, char *names,
          size_t *names_len, char *errmsg, size_t errlen)
{
	const char *f[4], *why;
	size_t fl[4], nf = 0, i, start = 0;
	int l;

	if (memchr(s, '"', n) != NULL) {
		return tb_errf(errmsg, errlen, TB_EMALFORMED,
		               "line %zu: quoted fields are not supported",
		               line);
	}
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != ',') {
			continue;
		}
		if (nf < 4) {
			f[nf] = s + start;
			fl[nf] = i - start;
		}
		nf++;
		start = i + 1;
	}
	if (nf != 4) {
		return tb_errf(errmsg, errlen, TB_EMALFORMED,
		               "line %zu: expected 4 columns, got %zu", line,
		               nf);
	}
	if ((why = code_reason(f[0], fl[0], false, &r->r.code)) != NULL) {
		return tb_errf(errmsg, errlen, TB_ECODE,
		               "line %zu: bad code '%.*s': %s", line,
		               (int)(fl[0] > 16 ? 16 : fl[0]), f[0], why);
	}
	if (fl[1] == 0 || !utf8_ok((const unsigned char *)f[1], fl[1])) {
		return tb_errf(errmsg, errlen, TB_EMALFORMED,
		               "line %zu: name of %06d is %s", line,
		               (int)r->r.code,
		               fl[1] == 0 ? "empty" : "not valid UTF-8 text");
	}
	for (l = 0; l < REGION_NLEVELS; l++) {
		if (strlen(region_level_names[l]) == fl[2] &&
		    !memcmp(region_level_names[l], f[2], fl[2])) {
			break;
		}
	}
	if (l == REGION_NLEVELS) {
		return tb_errf(errmsg, errlen, TB_EMALFORMED,
		               "line %zu: unknown level '%.*s' (want "
		               "province, city, group or county)",
		               line, (int)(fl[2] > 16 ? 16 : fl[2]), f[2]);
	}
	r->r.level = (enum region_level)l;
	if (!level_fits(r->r.level, r->r.code)) {
		return tb_errf(errmsg, errlen, TB_ECODE,
		               "line %zu: %06d cannot be a %s (a province "
		               "ends in 0000, a city or group in 00, a "
		               "county not in 00)",
		               line, (int)r->r.code, region_level_names[l]);
	}
	r->r.parent = 0;
	if (r->r.level == REGION_PROVINCE && fl[3] != 0) {
		return tb_errf(errmsg, errlen, TB_EMALFORMED,
		               "line %zu: province %06d has a parent", line,
		               (int)r->r.code);
	}
	if (r->r.level != REGION_PROVINCE) {
		if (fl[3] == 0) {
			return tb_errf(errmsg, errlen, TB_EMALFORMED,
			               "line %zu: %s %06d has no parent", line,
			               region_level_names[l], (int)r->r.code);
		}
		why = code_reason(f[3], fl[3], false, &r->r.parent);
		if (why != NULL) {
			return tb_errf(errmsg, errlen, TB_ECODE,
			               "line %zu: bad parent code '%.*s': %s",
			               line, (int)(fl[3] > 16 ? 16 : fl[3]),
			               f[3], why);
		}
	}
	memcpy(names + *names_len, f[1], fl[1]);
	names[*names_len + fl[1]] = '\0';
	r->name_off = *names_len;
	*names_len += fl[1] + 1;
	r->line = line;
	return TB_OK;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->r.code != y->r.code) {
		return x->r.code < y->r.code ? -1 : 1;
	}
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
kid_cmp(const void *a, const void *b)
{
	const struct region *x = *(const struct region *const *)a;
	const struct region *y = *(const struct region *const *)b;

	if (x->parent != y->parent) {
		return x->parent < y->parent ? -1 : 1;
	}
	return x->code < y->code ? -1 : x->code > y->code;
}

static const struct row *
row_find(const struct row *sorted, size_t n, int32_t code)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sorted[mid].r.code < code) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo < n && sorted[lo].r.code == code ? &sorted[lo] : NULL;
}

/* check_tree runs the checks that need every row: duplicates, then each
 * parent (in file order, so the first bad line is the one reported). */
static int
check_tree(const struct row *rows, const struct row *sorted, size_t n,
           char *errmsg, size_t errlen)
{
	size_t i, first = 0, dup = 0, dup_first = 0;
	const struct row *p;

	/* Rows with one code sit together, in line order; the first of a run
	 * is the original and the earliest later line is reported. */
	for (i = 1; i < n; i++) {
		if (sorted[i].r.code != sorted[i - 1].r.code) {
			first = i;
		} else if (dup == 0 || sorted[i].line < sorted[dup].line) {
			dup = i;
			dup_first = first;
		}
	}
	if (dup != 0) {
		return tb_errf(errmsg, errlen, TB_EDUP,
		               "line %zu: duplicate code %06d (first on "
		               "line %zu)",
		               sorted[dup].line, (int)sorted[dup].r.code,
		               sorted[dup_first].line);
	}
	for (i = 0; i < n; i++) {
		const struct region *r = &rows[i].r;
		if (r->level == REGION_PROVINCE) {
			continue;
		}
		if ((p = row_find(sorted, n, r->parent)) == NULL) {
			return tb_errf(errmsg, errlen, TB_EMALFORMED,
			               "line %zu: parent %06d of %06d is not "
			               "in the table",
			               rows[i].line, (int)r->parent,
			               (int)r->code);
		}
		if (p->r.level == REGION_COUNTY ||
		    (r->level != REGION_COUNTY &&
		     p->r.level != REGION_PROVINCE)) {
			return tb_errf(
			    errmsg, errlen, TB_EMALFORMED,
			    "line %zu: %s %06d cannot have the %s %06d as "
			    "parent",
			    rows[i].line, region_level_names[r->level],
			    (int)r->code, region_level_names[p->r.level],
			    (int)p->r.code);
		}
		if (p->r.code / 10000 != r->code / 10000) {
			return tb_errf(errmsg, errlen, TB_EMALFORMED,
			               "line %zu: parent %06d of %06d is in "
			               "another province",
			               rows[i].line, (int)p->r.code,
			               (int)r->code);
		}
	}
	return TB_OK;
}

void
region_table_free(struct region_table *t)
{
	if (t == NULL) {
		return;
	}
	free(t->regions);
	free(t->kids);
	free(t->names);
	free(t);
}

/* build_index fills t from the rows sorted by code. */
static int
build_index(struct region_table *t, const struct row *sorted, size_t n)
{
	size_t i;

	t->regions = malloc(n * sizeof(*t->regions));
	t->kids = malloc(n * sizeof(*t->kids));
	if (t->regions == NULL || t->kids == NULL) {
		return TB_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		t->regions[i] = sorted[i].r;
		t->regions[i].name = t->names + sorted[i].name_off;
		t->count[sorted[i].r.level]++;
		t->kids[i] = &t->regions[i];
	}
	qsort(t->kids, n, sizeof(*t->kids), kid_cmp);
	t->n = n;
	return TB_OK;
}

int
region_table_load(const char *csv, size_t len, struct region_table **out,
                  char *errmsg, size_t errlen)
{
	struct region_table *t = NULL;
	struct row *rows = NULL, *sorted = NULL;
	size_t maxrows = 1, n = 0, names_len = 0, line = 0, ll;
	const char *p, *s, *nl, *end;
	bool header = false;
	int rv;

	if (csv == NULL && len > 0) {
		return tb_errf(errmsg, errlen, TB_EINVAL, "no input");
	}
	if (len > REGION_MAX_CSV) {
		return tb_errf(errmsg, errlen, TB_ETOOBIG,
		               "region table larger than %u bytes",
		               (unsigned)REGION_MAX_CSV);
	}
	p = csv != NULL ? csv : "";
	end = p + len;
	for (s = p; (nl = memchr(s, '\n', (size_t)(end - s))) != NULL;
	     s = nl + 1) {
		maxrows++;
	}
	/* A name and its NUL always fit in the row they came from, so len + 1
	 * bytes hold every name. */
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (rows = calloc(maxrows, sizeof(*rows))) == NULL ||
	    (t->names = malloc(len + 1)) == NULL) {
		goto err_nomem;
	}
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) {
		p += 3; /* a BOM from a spreadsheet export is harmless */
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		s = p;
		ll = (size_t)((nl != NULL ? nl : end) - p);
		p = nl != NULL ? nl + 1 : end;
		line++;
		if (ll > 0 && s[ll - 1] == '\r') {
			ll--;
		}
		if (ll == 0 || s[0] == '#') {
			continue;
		}
		if (memchr(s, '\0', ll) != NULL) {
			rv = tb_errf(errmsg, errlen, TB_EMALFORMED,
			             "line %zu: NUL byte", line);
			goto err;
		}
		if (!header) {
			if (ll != strlen(region_header) ||
			    memcmp(s, region_header, ll) != 0) {
				rv = tb_errf(errmsg, errlen, TB_EMALFORMED,
				             "line %zu: expected the header "
				             "'%s'",
				             line, region_header);
				goto err;
			}
			header = true;
			continue;
		}
		rv = parse_row(s, ll, line, &rows[n], t->names, &names_len,
		               errmsg, errlen);
		if (rv != TB_OK) {
			goto err;
		}
		n++;
	}
	if (!header) {
		rv = tb_errf(errmsg, errlen, TB_EMALFORMED,
		             "no header line '%s'", region_header);
		goto err;
	}
	if (n == 0) {
		rv = tb_errf(errmsg, errlen, TB_EMALFORMED,
		             "no regions after the header");
		goto err;
	}
	if ((sorted = malloc(n * sizeof(*sorted))) == NULL) {
		goto err_nomem;
	}
	memcpy(sorted, rows, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), row_cmp);
	if ((rv = check_tree(rows, sorted, n, errmsg, errlen)) != TB_OK) {
		goto err;
	}
	if ((rv = build_index(t, sorted, n)) != TB_OK) {
		goto err_nomem;
	}
	free(sorted);
	free(rows);
	*out = t;
	return TB_OK;
err_nomem:
	rv = tb_errf(errmsg, errlen, TB_ENOMEM, "out of memory");
err:
	free(sorted);
	free(rows);
	region_table_free(t);
	return rv;
}

static pthread_once_t region_builtin_once = PTHREAD_ONCE_INIT;
static struct region_table *region_builtin_table;

static void
region_builtin_init(void)
{
	/* The embedded copy is checked by the tests, so the only way this can
	 * fail at run time is memory. */
	if (region_table_load(tb_regions_csv, tb_regions_csv_len,
	                      &region_builtin_table, NULL, 0) != TB_OK) {
		region_builtin_table = NULL;
	}
}

const struct region_table *
region_builtin(void)
{
	pthread_once(&region_builtin_once, region_builtin_init);
	return region_builtin_table;
}

const struct region *
region_find(const struct region_table *t, int32_t code)
{
	size_t lo = 0, hi;

	if (t == NULL) {
		return NULL;
	}
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->regions[mid].code < code) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo < t->n && t->regions[lo].code == code ? &t->regions[lo]
	                                                : NULL;
}

bool
region_is_ancestor(const struct region_table *t, int32_t anc, int32_t code)
{
	const struct region *r = region_find(t, code);

	/* Levels strictly rise along parents, so this ends within 3 steps. */
	while (r != NULL && r->parent != 0) {
		if (r->parent == anc) {
			return true;
		}
		r = region_find(t, r->parent);
	}
	return false;
}

/* kids_bound returns the first index in t->kids whose parent is >= code
 * (or > code when after). */
static size_t
kids_bound(const struct region_table *t, int32_t code, bool after)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int32_t p = t->kids[mid]->parent;
		if (p < code || (after && p == code)) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

size_t
region_children(const struct region_table *t, int32_t code,
                const struct region **out, size_t max)
{
	size_t lo, hi, i;

	if (t == NULL) {
		return 0;
	}
	lo = kids_bound(t, code, false);
	hi = kids_bound(t, code, true);
	for (i = lo; i < hi && i - lo < max; i++) {
		out[i - lo] = t->kids[i];
	}
	return hi - lo;
}

size_t
region_count(const struct region_table *t, enum region_level level)
{
	if (t == NULL || (unsigned)level >= REGION_NLEVELS) {
		return 0;
	}
	return t->count[level];
}

size_t
region_table_size(const struct region_table *t)
{
	return t != NULL ? t->n : 0;
}

const struct region *
region_at(const struct region_table *t, size_t i)
{
	return t != NULL && i < t->n ? &t->regions[i] : NULL;
}

int
region_tier(const struct region *r)
{
	if (r == NULL) {
		return 0;
	}
	switch (r->level) {
	case REGION_PROVINCE:
		return 2;
	case REGION_CITY:
	case REGION_GROUP:
		return 3;
	case REGION_COUNTY:
		return 4;
	}
	return 0;
}

const char *
region_level_name(enum region_level l)
{
	return (unsigned)l < REGION_NLEVELS ? region_level_names[l] : "unknown";
}
