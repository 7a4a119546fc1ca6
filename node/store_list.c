/* Paged reads: the case list with its filters and cursor, and the change
 * feed of events. */
#include "node/store.h"

#include "node/fsm.h"
#include "node/store_list_impl.h"
#include "schema/lifecycle.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* A page examines at most this many cases, so that a filter matching few
 * cases cannot hold a read transaction (and old pages) for long. */
#define LIST_BUDGET 10000
#define ID_MAX      LIST_ID_MAX

static int
list_setup(struct store *s, MDB_txn *txn, const char *status, int overdue,
           const char *matter, int64_t now_ms, struct list_q *q)
{
	enum lc_state st;
	const char *h;
	int rv;

	memset(q, 0, sizeof(*q));
	if ((rv = fsm_sum_level(s, txn, &q->sum)) != 0) {
		return rv;
	}
	q->sum = q->sum && !s->list_records;
	q->state = -1;
	q->final = -1;
	q->overdue = overdue;
	q->today = fsm_day(now_ms);
	if (status == NULL) {
	} else if (!strcmp(status, "open") || !strcmp(status, "final")) {
		q->final = status[0] == 'f';
	} else if (lc_state_parse(status, &st) == 0) {
		q->state = (int)st;
	} else {
		return TB_EINVAL;
	}
	if (matter != NULL) {
		h = strchr(matter, '#');
		if (strlen(matter) >= MATTER_KEY_MAX) {
			return TB_EINVAL;
		}
		if ((h ? (size_t)(h - matter) : strlen(matter)) == 31) {
			q->task_code = matter; /* also filters by the record */
			matter += 19;
		}
		snprintf(q->basic, sizeof(q->basic), "%s", matter);
	}
	/* Scan the most selective index the filters allow. */
	if (q->state >= 0) {
		q->dbi = s->dbi[DB_CASE_STATE];
		q->prefix[0] = (uint8_t)q->state;
		q->plen = 1;
	} else if (q->basic[0] != '\0') {
		q->dbi = s->dbi[DB_CASE_MATTER];
		q->plen = strlen(q->basic) + 1;
		memcpy(q->prefix, q->basic, q->plen); /* with its NUL */
	} else {
		/* The same keys in the same order: the same pages. */
		q->dbi = s->dbi[q->sum ? DB_CASE_SUM : DB_CASES];
	}
	return TB_OK;
}

/* list_match applies the filters the scanned index does not. */
static bool
list_match(const struct list_q *q, const json_t *c)
{
	enum lc_state st = LC_STATE_RECEIVED;

	lc_state_parse(spec_str(c, "state"), &st);
	if (q->final >= 0 && lc_is_final(st) != (q->final == 1)) {
		return false;
	}
	if (q->basic[0] && strcmp(spec_str(c, "matter"), q->basic) != 0) {
		return false;
	}
	if (q->task_code != NULL &&
	    (spec_str(c, "task_code") == NULL ||
	     strcmp(spec_str(c, "task_code"), q->task_code) != 0)) {
		return false;
	}
	return q->overdue < 0 || fsm_case_overdue(c, q->today) == q->overdue;
}

/* summary is what a list shows of case c (which it may modify: the read
 * time fields are computed on it). */
static json_t *
summary(json_t *c, int32_t today)
{
	if (fsm_case_clock(c, today) != 0) {
		return NULL;
	}
	return json_pack(
	    "{s:O, s:O, s:O?, s:O, s:O, s:O, s:O, s:O, s:O, s:O?,"
	    " s:O, s:O, s:O}",
	    "id", json_object_get(c, "id"), "matter",
	    json_object_get(c, "matter"), "task_code",
	    json_object_get(c, "task_code"), "matter_name",
	    json_object_get(c, "matter_name"), "state",
	    json_object_get(c, "state"), "version",
	    json_object_get(c, "version"), "received_at",
	    json_object_get(c, "received_at"), "due", json_object_get(c, "due"),
	    "due_provisional", json_object_get(c, "due_provisional"), "bundle",
	    json_object_get(c, "bundle"), "clock", json_object_get(c, "clock"),
	    "warn", json_object_get(c, "warn"), "overdue",
	    json_object_get(c, "overdue"));
}

/* json_take is the JSON rendering's take: the case's members a list reads
 * as JSON values, from the summary index or from the case record. */
static int
json_take(struct list_sink *k, struct store *s, MDB_txn *txn,
          const struct list_q *q, const char *id, size_t idl, const MDB_val *wv)
{
	MDB_val v = *wv;
	json_t *c, *sum;
	int rv = 0;

	if (q->sum) {
		/* The summary index: the walked entry's value, or (by
		 * matter) case_sum's. */
		if (q->dbi == s->dbi[DB_CASE_MATTER]) {
			rv = db_get(txn, s->dbi[DB_CASE_SUM], id, idl, &v);
			rv = rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
		}
		if (rv == 0) {
			rv = db_val_json(&v, &c);
		}
	} else {
		/* Only the members a list reads are decoded: a whole
		 * record (form, applicant, materials) costs several times
		 * more. */
		if (q->dbi != s->dbi[DB_CASES]) {
			rv = db_get(txn, s->dbi[DB_CASES], id, idl, &v);
			rv = rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
		}
		if (rv == 0) {
			rv = db_val_json_fields(&v, fsm_sum_keys, FSM_SUM_NKEYS,
			                        &c);
		}
	}
	if (rv != 0) {
		return rv;
	}
	if (list_match(q, c)) {
		sum = summary(c, q->today);
		if (sum == NULL || json_array_append_new(k->list, sum)) {
			json_decref(c);
			return TB_ENOMEM;
		}
		k->shown++;
	}
	json_decref(c);
	return TB_OK;
}

/* list_scan walks the index from the cursor position and hands each case
 * to the sink; next receives the id to resume after, or "" when the scan
 * reached the end of what the filters can match. */
static int
list_scan(struct store *s, MDB_txn *txn, const struct list_q *q,
          const char *after, size_t limit, struct list_sink *k, char *next)
{
	uint8_t kb[MATTER_KEY_MAX + ID_MAX + 2];
	MDB_cursor *cur;
	MDB_val key, v;
	size_t seen = 0, alen = strlen(after);
	bool more = false;
	int rv, op;

	next[0] = '\0';
	memcpy(kb, q->prefix, q->plen);
	memcpy(kb + q->plen, after, alen);
	key.mv_size = q->plen + alen;
	key.mv_data = kb;
	op = key.mv_size > 0 ? MDB_SET_RANGE : MDB_FIRST; /* no empty keys */
	if ((rv = db_err(mdb_cursor_open(txn, q->dbi, &cur))) != 0) {
		return rv;
	}
	while ((rv = db_err(mdb_cursor_get(cur, &key, &v, op))) == 0) {
		const char *id = (const char *)key.mv_data + q->plen;
		size_t idl = key.mv_size - q->plen;
		op = MDB_NEXT;
		if (key.mv_size <= q->plen || idl >= ID_MAX ||
		    memcmp(key.mv_data, q->prefix, q->plen) != 0) {
			break; /* past the prefix */
		}
		if (idl == alen && !memcmp(id, after, idl)) {
			continue; /* the cursor's own case, already shown */
		}
		if (seen++ == LIST_BUDGET) {
			more = true; /* resume after the last one examined */
			break;
		}
		memcpy(next, id, idl);
		next[idl] = '\0';
		if ((rv = k->take(k, s, txn, q, id, idl, &v)) != 0) {
			break;
		}
		if (k->shown == limit) {
			more = true;
			break;
		}
	}
	mdb_cursor_close(cur);
	if (!more) {
		next[0] = '\0';
	}
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

/* list_page runs one page in its own read transaction: as text when
 * text is not NULL and the summary index allows (k->text, *text set),
 * else as JSON values (k->list). */
static int
list_page(struct store *s, const char *status, int overdue, const char *matter,
          size_t limit, const char *after_cursor, int64_t now_ms,
          struct list_sink *k, bool *text, char *next)
{
	struct list_q q;
	MDB_txn *txn;
	int rv;

	if (after_cursor == NULL) {
		after_cursor = "";
	}
	/* The cursor is the last case id shown; anything else is refused
	 * rather than scanned from an arbitrary place. */
	if (strlen(after_cursor) >= ID_MAX ||
	    (after_cursor[0] && strncmp(after_cursor, s->region, 6) != 0)) {
		return TB_EINVAL;
	}
	if ((rv = db_err(store_rd_begin(s, &txn))) != 0) {
		return rv;
	}
	rv = list_setup(s, txn, status, overdue, matter, now_ms, &q);
	if (rv == 0 && text != NULL && *text && q.sum) {
		k->take = list_text_take;
		rv = list_scan(s, txn, &q, after_cursor, limit, k, next);
		if (rv != LIST_FALLBACK) {
			store_rd_end(s, txn);
			return rv;
		}
		__atomic_fetch_add(&s->list_fallbacks, 1, __ATOMIC_RELAXED);
		k->shown = 0; /* the same page again, as JSON values */
		k->text.len = 0;
	}
	if (text != NULL) {
		*text = false;
	}
	if (rv == 0 || rv == LIST_FALLBACK) {
		k->take = json_take;
		k->list = json_array();
		rv = k->list == NULL
		         ? TB_ENOMEM
		         : list_scan(s, txn, &q, after_cursor, limit, k, next);
	}
	store_rd_end(s, txn);
	return rv;
}

int
store_case_list(struct store *s, const char *status, int overdue,
                const char *matter, size_t limit, const char *after_cursor,
                int64_t now_ms, json_t **out)
{
	struct list_sink k = { 0 };
	char next[ID_MAX];
	int rv;

	*out = NULL;
	limit = limit == 0 ? 50 : limit > 1000 ? 1000 : limit;
	rv = list_page(s, status, overdue, matter, limit, after_cursor, now_ms,
	               &k, NULL, next);
	if (rv != 0) {
		json_decref(k.list);
		return rv;
	}
	*out = json_pack("{s:o, s:s?}", "cases", k.list, "next",
	                 next[0] ? next : NULL);
	return *out != NULL ? TB_OK : TB_ENOMEM;
}

int
store_case_list_text(struct store *s, const char *status, int overdue,
                     const char *matter, size_t limit, const char *after_cursor,
                     int64_t now_ms, char **out, size_t *len)
{
	struct list_sink k = { 0 };
	char next[ID_MAX];
	bool text = !s->list_records;
	json_t *page;
	int rv;

	*out = NULL;
	*len = 0;
	limit = limit == 0 ? 50 : limit > 1000 ? 1000 : limit;
	rv = list_page(s, status, overdue, matter, limit, after_cursor, now_ms,
	               &k, &text, next);
	if (rv == 0 && text) {
		/* {"cases":[...],"next":...} as json_dumps writes it */
		struct canon_buf b = { 0 };

		canon_buf_append(&b, "{\"cases\":[", 10);
		if (k.text.len > 0) {
			canon_buf_append(&b, k.text.data, k.text.len);
		}
		canon_buf_append(&b, "],\"next\":", 9);
		if (next[0] != '\0') {
			rv = list_text_str(&b, next, strlen(next));
		} else {
			canon_buf_append(&b, "null", 4);
		}
		canon_buf_append(&b, "}", 2); /* with its NUL */
		canon_buf_free(&k.text);
		if (rv == 0 && b.err != 0) {
			rv = TB_ENOMEM;
		}
		if (rv != 0) {
			canon_buf_free(&b);
			return rv;
		}
		*out = (char *)b.data;
		*len = b.len - 1;
		return TB_OK;
	}
	canon_buf_free(&k.text);
	if (rv != 0) {
		json_decref(k.list);
		return rv;
	}
	page = json_pack("{s:o, s:s?}", "cases", k.list, "next",
	                 next[0] ? next : NULL);
	if (page == NULL || (*out = json_dumps(page, JSON_COMPACT)) == NULL) {
		json_decref(page);
		return TB_ENOMEM;
	}
	json_decref(page);
	*len = strlen(*out);
	return TB_OK;
}

int
store_events(struct store *s, uint64_t after, size_t limit, json_t **out)
{
	uint8_t kb[8];
	uint64_t last = after;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k = { 8, kb }, v;
	json_t *list, *e;
	int rv, op = MDB_SET_RANGE;

	*out = NULL;
	limit = limit == 0 ? 100 : limit > 1000 ? 1000 : limit;
	if (after == UINT64_MAX || (list = json_array()) == NULL) {
		return after == UINT64_MAX ? TB_EINVAL : TB_ENOMEM;
	}
	db_be64(kb, after + 1);
	if ((rv = db_err(store_rd_begin(s, &txn))) == 0) {
		if ((rv = db_err(
		         mdb_cursor_open(txn, s->dbi[DB_EVENTS], &cur))) == 0) {
			while (json_array_size(list) < limit &&
			       (rv = db_err(mdb_cursor_get(cur, &k, &v, op))) ==
			           0) {
				op = MDB_NEXT;
				last = db_get_be64(k.mv_data);
				if ((rv = fsm_event_json(last, &v, &e)) != 0 ||
				    json_array_append_new(list, e) != 0) {
					rv = rv ? rv : TB_ENOMEM;
					break;
				}
			}
			mdb_cursor_close(cur);
		}
		store_rd_end(s, txn);
	}
	if (rv != 0 && rv != TB_ENOTFOUND) {
		json_decref(list);
		return rv;
	}
	*out =
	    json_pack("{s:o, s:I}", "events", list, "next", (json_int_t)last);
	return *out != NULL ? TB_OK : TB_ENOMEM;
}

uint64_t
store_list_fallbacks(struct store *s)
{
	return __atomic_load_n(&s->list_fallbacks, __ATOMIC_RELAXED);
}

void
store_list_from_records(struct store *s, bool on)
{
	s->list_records = on;
}
