/* The store's read transactions: begun under the gate, and kept reset in a
 * small pool for the next reader instead of being freed. */
#include "node/store_db.h"

#include <errno.h>

int
store_rd_begin(struct store *s, MDB_txn **txn)
{
	MDB_txn *t = NULL;
	int rv;

	pthread_rwlock_rdlock(&s->gate);
	if (s->env == NULL) { /* a live swap could not reopen it */
		*txn = NULL;
		pthread_rwlock_unlock(&s->gate);
		return EINVAL; /* db_err maps it to TB_EIO */
	}
	pthread_mutex_lock(&s->rd_mu);
	if (s->nrd > 0) {
		t = s->rd_pool[--s->nrd];
	}
	pthread_mutex_unlock(&s->rd_mu);
	if (t != NULL && mdb_txn_renew(t) == 0) {
		*txn = t;
		return 0;
	}
	if (t != NULL) {
		mdb_txn_abort(t);
	}
	if ((rv = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn)) != 0) {
		*txn = NULL;
		pthread_rwlock_unlock(&s->gate);
	}
	return rv;
}

void
store_rd_end(struct store *s, MDB_txn *txn)
{
	bool kept = false;

	/* Reset, the transaction holds no snapshot: it keeps no page from
	 * being reused while it waits in the pool. */
	mdb_txn_reset(txn);
	pthread_mutex_lock(&s->rd_mu);
	if (s->nrd < STORE_RD_POOL) {
		s->rd_pool[s->nrd++] = txn;
		kept = true;
	}
	pthread_mutex_unlock(&s->rd_mu);
	if (!kept) {
		mdb_txn_abort(txn);
	}
	pthread_rwlock_unlock(&s->gate);
}

void
store_rd_drain(struct store *s)
{
	pthread_mutex_lock(&s->rd_mu);
	while (s->nrd > 0) {
		mdb_txn_abort(s->rd_pool[--s->nrd]);
	}
	pthread_mutex_unlock(&s->rd_mu);
}
