/* The case list's scan, shared by its two renderings: JSON values
 * (store_list.c) and JSON text straight from the summary index
 * (store_list_text.c). Internal to the store. */
#ifndef TB_NODE_STORE_LIST_IMPL_H
#define TB_NODE_STORE_LIST_IMPL_H

#include "node/store_db.h"
#include "schema/canon.h"
#include "schema/matter.h"

#include <stdbool.h>
#include <stdint.h>

#define LIST_ID_MAX 64

/* The case list's filters and where its scan runs. */
struct list_q {
	int state;   /* a state, or -1 */
	int final;   /* -1 any, 0 open only, 1 final only */
	int overdue; /* -1 any, 0, 1 */
	int32_t today;
	char basic[MATTER_KEY_MAX]; /* "" for any */
	const char *task_code;      /* NULL for any */
	bool sum;                   /* read the summary index */
	MDB_dbi dbi;                /* the database scanned */
	uint8_t prefix[MATTER_KEY_MAX + 1];
	size_t plen; /* keys are prefix + case id */
};

/* A page under construction: take examines one case (id, idl; v its value
 * in the walked database, or, for a walk of case_matter, the empty value)
 * and adds it to the page if it matches, counting it in shown. */
struct list_sink {
	int (*take)(struct list_sink *k, struct store *s, MDB_txn *txn,
	            const struct list_q *q, const char *id, size_t idl,
	            const MDB_val *v);
	size_t shown;
	json_t *list;          /* the JSON rendering's array */
	struct canon_buf text; /* the text rendering's "{...},{...}" */
};

/* LIST_FALLBACK from a take: this summary holds something the text
 * rendering does not handle; render the page as JSON values instead. */
#define LIST_FALLBACK 1000

/* list_text_take is the text rendering's take (store_list_text.c): it
 * reads the summary (q->sum must be set) without building JSON values. */
int list_text_take(struct list_sink *k, struct store *s, MDB_txn *txn,
                   const struct list_q *q, const char *id, size_t idl,
                   const MDB_val *v);

/* list_text_str appends the JSON string of n bytes of UTF-8 at p as
 * jansson's json_dumps writes it; TB_ECORRUPT if p is not UTF-8. */
int list_text_str(struct canon_buf *b, const char *p, size_t n);

#endif
