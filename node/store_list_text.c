/* The case list's text rendering (feature level 2): a page written as JSON
 * text straight from the summary index's canonical msgpack, without JSON
 * values, byte for byte what json_dumps(JSON_COMPACT) writes for the JSON
 * rendering of store_list.c, whose filters, clock and summary it follows
 * member by member (tests/test_store_sum.c compares the two). A summary
 * holding anything a summary does not (a float, a map where a string
 * belongs) sends the page back to the JSON rendering (LIST_FALLBACK). */
#include "node/fsm.h"
#include "node/store_list_impl.h"

#include <stdio.h>
#include <string.h>

enum mv_type { MV_NONE, MV_NIL, MV_BOOL, MV_INT, MV_STR, MV_ARRAY, MV_MAP };

/* One msgpack value: a scalar, or the header of an array or map (n items
 * or pairs, which follow). */
struct mv {
	enum mv_type t;
	bool b;
	int64_t i;
	const char *s;
	size_t n;
};

struct mp {
	const uint8_t *p, *end;
};

/* put appends n bytes: a memcpy while the buffer has room (a page makes
 * some thirty small appends per case), canon_buf_append to grow it. */
static inline int
put(struct canon_buf *b, const void *p, size_t n)
{
	if (b->err == 0 && n <= b->cap - b->len) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		return TB_OK;
	}
	return canon_buf_append(b, p, n);
}

static bool
mp_be(struct mp *m, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if ((size_t)(m->end - m->p) < n) {
		return false;
	}
	while (n-- > 0) {
		v = v << 8 | *m->p++;
	}
	*out = v;
	return true;
}

/* mp_next reads one value (the header only, for an array or map). */
static bool
mp_next(struct mp *m, struct mv *v)
{
	uint64_t u;
	uint8_t c;

	memset(v, 0, sizeof(*v));
	if (m->p >= m->end) {
		return false;
	}
	c = *m->p++;
	if (c <= 0x7f || c >= 0xe0) {
		v->t = MV_INT;
		v->i = (int8_t)c;
		v->i = c <= 0x7f ? c : v->i;
		return true;
	}
	if (c >= 0xa0 && c <= 0xbf) {
		v->t = MV_STR;
		u = c & 0x1f;
		goto str;
	}
	if (c >= 0x90 && c <= 0x9f) {
		v->t = MV_ARRAY;
		v->n = c & 0x0f;
		return true;
	}
	if (c >= 0x80 && c <= 0x8f) {
		v->t = MV_MAP;
		v->n = c & 0x0f;
		return true;
	}
	switch (c) {
	case 0xc0:
		v->t = MV_NIL;
		return true;
	case 0xc2:
	case 0xc3:
		v->t = MV_BOOL;
		v->b = c == 0xc3;
		return true;
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		v->t = MV_INT;
		if (!mp_be(m, (size_t)1 << (c - 0xcc), &u) || u > INT64_MAX) {
			return false;
		}
		v->i = (int64_t)u;
		return true;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		size_t n = (size_t)1 << (c - 0xd0);

		v->t = MV_INT;
		if (!mp_be(m, n, &u)) {
			return false;
		}
		/* sign-extend from n bytes */
		v->i = n == 8 ? (int64_t)u
		              : (int64_t)(u ^ (1ULL << (n * 8 - 1))) -
		                    (int64_t)(1ULL << (n * 8 - 1));
		return true;
	}
	case 0xd9:
	case 0xda:
	case 0xdb:
		v->t = MV_STR;
		if (!mp_be(m, (size_t)1 << (c - 0xd9), &u)) {
			return false;
		}
		goto str;
	case 0xdc:
	case 0xdd:
	case 0xde:
	case 0xdf:
		v->t = c <= 0xdd ? MV_ARRAY : MV_MAP;
		if (!mp_be(m, c == 0xdc || c == 0xde ? 2 : 4, &u)) {
			return false;
		}
		v->n = (size_t)u;
		return true;
	default:
		return false; /* float, bin, ext: not in a summary */
	}
str:
	if ((uint64_t)(m->end - m->p) < u) {
		return false;
	}
	v->s = (const char *)m->p;
	v->n = (size_t)u;
	m->p += u;
	return true;
}

/* mp_skip skips one value whose header v was just read. */
static bool
mp_skip(struct mp *m, const struct mv *v, int depth)
{
	struct mv x;
	size_t i, n = v->t == MV_MAP ? v->n * 2 : v->t == MV_ARRAY ? v->n : 0;

	if (depth > 8) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!mp_next(m, &x) || !mp_skip(m, &x, depth + 1)) {
			return false;
		}
	}
	return true;
}

/* cstr is the C string view spec_str gives of a string value: up to its
 * first NUL, in out (n bytes); false if v is not a string or too long for
 * the dates and states it is used for. */
static bool
cstr(const struct mv *v, char *out, size_t n)
{
	const char *z;
	size_t len;

	if (v->t != MV_STR) {
		return false;
	}
	z = memchr(v->s, 0, v->n);
	len = z != NULL ? (size_t)(z - v->s) : v->n;
	if (len >= n) {
		return false;
	}
	memcpy(out, v->s, len);
	out[len] = '\0';
	return true;
}

static bool
day_of(const struct mv *v, int32_t *day)
{
	char b[16];

	return cstr(v, b, sizeof(b)) && cal_date_parse(b, day) == 0;
}

/* The summary's members, in fsm_sum_keys order (FSM_SUM_KEYS). */
enum {
	K_ID,
	K_MATTER,
	K_TASK,
	K_NAME,
	K_STATE,
	K_VERSION,
	K_RECEIVED,
	K_DUE,
	K_BUNDLE,
	K_WARN,
	K_PROV,
	K_PAUSES
};

/* last_pause reads the array of pauses (header a) and fills the clock's
 * pause fields from its last element, as fsm_due.c's open_pause does. */
static bool
last_pause(struct mp *m, const struct mv *a, struct fsm_clock_in *in)
{
	struct mv e, k, x, to = { 0 }, from = { 0 };
	size_t i, j;

	for (i = 0; i < a->n; i++) {
		if (!mp_next(m, &e)) {
			return false;
		}
		if (i + 1 < a->n || e.t != MV_MAP) {
			if (!mp_skip(m, &e, 1)) {
				return false;
			}
			continue;
		}
		for (j = 0; j < e.n; j++) {
			if (!mp_next(m, &k) || k.t != MV_STR ||
			    !mp_next(m, &x) ||
			    (x.t == MV_ARRAY || x.t == MV_MAP)) {
				return false;
			}
			if (k.n == 2 && !memcmp(k.s, "to", 2)) {
				to = x;
			} else if (k.n == 4 && !memcmp(k.s, "from", 4)) {
				from = x;
			}
		}
		in->paused = to.t == MV_NIL;
		in->has_pause_from =
		    in->paused && day_of(&from, &in->pause_from);
	}
	return true;
}

/* put_val appends a scalar as json_dumps writes it. */
static int
put_val(struct canon_buf *b, const struct mv *v)
{
	char num[24], *e = num + sizeof(num), *d = e;
	uint64_t u;

	switch (v->t) {
	case MV_NIL:
		return put(b, "null", 4);
	case MV_BOOL:
		return v->b ? put(b, "true", 4) : put(b, "false", 5);
	case MV_INT: /* as "%lld" */
		u = v->i < 0 ? 0 - (uint64_t)v->i : (uint64_t)v->i;
		do {
			*--d = (char)('0' + u % 10);
			u /= 10;
		} while (u > 0);
		if (v->i < 0) {
			*--d = '-';
		}
		return put(b, d, (size_t)(e - d));
	case MV_STR:
		return list_text_str(b, v->s, v->n);
	default:
		return LIST_FALLBACK;
	}
}

int
list_text_str(struct canon_buf *b, const char *p, size_t n)
{
	const uint8_t *s = (const uint8_t *)p;
	size_t i = 0, run = 0, k, len;
	char esc[8];
	int rv = put(b, "\"", 1);

	while (rv == 0 && i < n) {
		uint8_t c = s[i];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) { /* a whole UTF-8 sequence, checked */
			len = c >= 0xf0 && c <= 0xf4   ? 4
			      : c >= 0xe0 && c <= 0xef ? 3
			      : c >= 0xc2 && c <= 0xdf ? 2
			                               : 0;
			if (len == 0 || i + len > n) {
				return TB_ECORRUPT;
			}
			for (k = 1; k < len; k++) {
				if ((s[i + k] & 0xc0) != 0x80) {
					return TB_ECORRUPT;
				}
			}
			if ((c == 0xe0 && s[i + 1] < 0xa0) ||
			    (c == 0xed && s[i + 1] > 0x9f) ||
			    (c == 0xf0 && s[i + 1] < 0x90) ||
			    (c == 0xf4 && s[i + 1] > 0x8f)) {
				return TB_ECORRUPT; /* overlong, surrogate, >
				                       10FFFF */
			}
			i += len;
			continue;
		}
		rv = put(b, p + run, i - run);
		switch (c) {
		case '"':
			memcpy(esc, "\\\"", 3);
			break;
		case '\\':
			memcpy(esc, "\\\\", 3);
			break;
		case '\b':
			memcpy(esc, "\\b", 3);
			break;
		case '\f':
			memcpy(esc, "\\f", 3);
			break;
		case '\n':
			memcpy(esc, "\\n", 3);
			break;
		case '\r':
			memcpy(esc, "\\r", 3);
			break;
		case '\t':
			memcpy(esc, "\\t", 3);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)c);
		}
		if (rv == 0) {
			rv = put(b, esc, strlen(esc));
		}
		run = ++i;
	}
	if (rv == 0) {
		rv = put(b, p + run, n - run);
	}
	return rv == 0 ? put(b, "\"", 1) : rv;
}

/* member appends ,"name":value (or {"name":value first). */
static int
member_(struct canon_buf *b, bool first, const char *name, size_t n,
        const struct mv *v)
{
	int rv = put(b, first ? "{\"" : ",\"", 2);

	if (rv == 0 && (rv = put(b, name, n)) == 0 &&
	    (rv = put(b, "\":", 2)) == 0) {
		rv = put_val(b, v);
	}
	return rv;
}
#define member(b, first, name, v) member_(b, first, name, sizeof(name) - 1, v)

int
list_text_take(struct list_sink *k, struct store *s, MDB_txn *txn,
               const struct list_q *q, const char *id, size_t idl,
               const MDB_val *wv)
{
	struct fsm_clock_in in = { .state = LC_STATE_RECEIVED };
	struct mv f[FSM_SUM_NKEYS] = { 0 }, map, key, val;
	struct mv clock = { .t = MV_STR }, warn = { .t = MV_BOOL },
	          overdue = { .t = MV_BOOL };
	struct canon_buf *b = &k->text;
	char st[32], m[MATTER_KEY_MAX];
	MDB_val v = *wv;
	struct mp mp;
	size_t i, j, mark;
	int rv = 0;

	if (q->dbi == s->dbi[DB_CASE_MATTER]) {
		rv = db_get(txn, s->dbi[DB_CASE_SUM], id, idl, &v);
		if (rv != 0) {
			return rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
		}
	}
	if (v.mv_size < 2 || ((const uint8_t *)v.mv_data)[0] != STORE_SV) {
		return TB_ECORRUPT;
	}
	mp.p = (const uint8_t *)v.mv_data + 1;
	mp.end = (const uint8_t *)v.mv_data + v.mv_size;
	if (!mp_next(&mp, &map) || map.t != MV_MAP) {
		return LIST_FALLBACK;
	}
	for (i = 0; i < map.n; i++) {
		if (!mp_next(&mp, &key) || key.t != MV_STR ||
		    !mp_next(&mp, &val)) {
			return LIST_FALLBACK;
		}
		for (j = 0; j < FSM_SUM_NKEYS; j++) {
			if (fsm_sum_key_lens[j] == key.n &&
			    !memcmp(fsm_sum_keys[j], key.s, key.n)) {
				break;
			}
		}
		if (j == K_PAUSES && val.t == MV_ARRAY) {
			f[j] = val;
			if (!last_pause(&mp, &val, &in)) {
				return LIST_FALLBACK;
			}
		} else if (val.t == MV_ARRAY || val.t == MV_MAP) {
			return LIST_FALLBACK; /* not a summary's */
		} else if (j < FSM_SUM_NKEYS) {
			f[j] = val;
		}
	}
	/* The members summary() requires, and the filters' strings. */
	if (f[K_ID].t == MV_NONE || f[K_MATTER].t != MV_STR ||
	    f[K_NAME].t == MV_NONE || f[K_STATE].t == MV_NONE ||
	    f[K_VERSION].t == MV_NONE || f[K_RECEIVED].t == MV_NONE ||
	    f[K_DUE].t == MV_NONE || f[K_PROV].t == MV_NONE) {
		return LIST_FALLBACK;
	}
	if (cstr(&f[K_STATE], st, sizeof(st))) {
		lc_state_parse(st, &in.state);
	}
	if (q->final >= 0 && lc_is_final(in.state) != (q->final == 1)) {
		return TB_OK;
	}
	/* (A string too long for m cannot equal a filter, which is
	 * shorter than MATTER_KEY_MAX.) */
	if (q->basic[0] != '\0' &&
	    (!cstr(&f[K_MATTER], m, sizeof(m)) || strcmp(m, q->basic) != 0)) {
		return TB_OK;
	}
	if (q->task_code != NULL &&
	    (!cstr(&f[K_TASK], m, sizeof(m)) || strcmp(m, q->task_code))) {
		return TB_OK;
	}
	in.has_due = day_of(&f[K_DUE], &in.due);
	in.has_warn_from = day_of(&f[K_WARN], &in.warn_from);
	clock.s = fsm_clock(&in, q->today, &warn.b, &overdue.b);
	clock.n = strlen(clock.s);
	if (q->overdue >= 0 && overdue.b != (q->overdue == 1)) {
		return TB_OK;
	}
	/* summary(): id, matter, task_code?, matter_name, state, version,
	 * received_at, due, due_provisional, bundle?, clock, warn, overdue */
	mark = b->len;
	if (k->shown > 0) {
		rv = put(b, ",", 1);
	}
	if (rv == 0) {
		rv = member(b, true, "id", &f[K_ID]);
	}
	if (rv == 0) {
		rv = member(b, false, "matter", &f[K_MATTER]);
	}
	/* (json_pack's "O?" writes null for an absent member.) */
	if (f[K_TASK].t == MV_NONE) {
		f[K_TASK].t = MV_NIL;
	}
	if (f[K_BUNDLE].t == MV_NONE) {
		f[K_BUNDLE].t = MV_NIL;
	}
	if (rv == 0) {
		rv = member(b, false, "task_code", &f[K_TASK]);
	}
	if (rv == 0) {
		rv = member(b, false, "matter_name", &f[K_NAME]);
	}
	if (rv == 0) {
		rv = member(b, false, "state", &f[K_STATE]);
	}
	if (rv == 0) {
		rv = member(b, false, "version", &f[K_VERSION]);
	}
	if (rv == 0) {
		rv = member(b, false, "received_at", &f[K_RECEIVED]);
	}
	if (rv == 0) {
		rv = member(b, false, "due", &f[K_DUE]);
	}
	if (rv == 0) {
		rv = member(b, false, "due_provisional", &f[K_PROV]);
	}
	if (rv == 0) {
		rv = member(b, false, "bundle", &f[K_BUNDLE]);
	}
	if (rv == 0) {
		rv = member(b, false, "clock", &clock);
	}
	if (rv == 0) {
		rv = member(b, false, "warn", &warn);
	}
	if (rv == 0) {
		rv = member(b, false, "overdue", &overdue);
	}
	if (rv == 0) {
		rv = put(b, "}", 1);
	}
	if (rv != 0) {
		b->len = mark;
		return rv == TB_ECORRUPT ? LIST_FALLBACK : rv;
	}
	k->shown++;
	return TB_OK;
}
