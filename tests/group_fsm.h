/* A raft_fsm adapter for libraft's fixture in front of the real store: each
 * member applies committed entries with store_apply to its own LMDB store,
 * snapshots are the store's streamed chunks, restores stage and swap them.
 * Every apply is logged (a hash of command and result by index) and the
 * first hash seen for an index is the reference all members must match.
 * Included by test_group_fixture.c after tap.h and store_util.h. */
#ifndef TB_TESTS_GROUP_FSM_H
#define TB_TESTS_GROUP_FSM_H

#include "node/store_db.h"
#include "node/store_snap.h"

#include <raft.h>
#include <raft/fixture.h>
#include <sodium.h>

/* One line of a member's apply log: what it applied at index (a hash of
 * the command and of its result), or that it installed a snapshot. */
struct line {
	uint64_t index;
	uint8_t h[16];
	bool restore;
};

struct member {
	unsigned i;
	struct raft_fixture *f;
	struct raft_fsm fsm;
	struct store *s;
	char dir[128];
	struct line *log;
	size_t n, cap;
	unsigned restores, snapshots;
	int fail; /* the first adapter failure, reported at the end */
	char why[256];
};

/* The first hash seen for each index: every member must agree with it. */
static uint8_t (*REF)[16];
static bool *HAVE;
static size_t NREF;

static void
log_add(struct member *m, uint64_t index, const uint8_t h[16], bool restore)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->log = realloc(m->log, m->cap * sizeof(*m->log));
	}
	m->log[m->n].index = index;
	m->log[m->n].restore = restore;
	memcpy(m->log[m->n].h, h, 16);
	m->n++;
}

static void
fail(struct member *m, int rv, const char *what)
{
	if (m->fail == 0) {
		m->fail = rv ? rv : TB_EIO;
		snprintf(m->why, sizeof(m->why), "%s", what);
	}
}

/* ---- the FSM adapter: the real store behind libraft's raft_fsm ---- */

static int
fx_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct member *m = fsm->data;
	uint64_t index = raft_last_applied(raft_fixture_get(m->f, m->i)) + 1;
	crypto_generichash_state st;
	json_t *res = NULL;
	uint8_t h[16];
	char *text;
	int rv;

	*result = NULL;
	if (m->s == NULL) {
		fail(m, TB_ECLOSED, "apply while the store is closed");
		return RAFT_IOERR;
	}
	/* The fixture is single-threaded: each entry is its own batch,
	 * committed before apply returns. */
	if ((rv = store_batch_begin(m->s)) != 0 ||
	    (rv = store_apply(m->s, index, buf->base, buf->len, &res)) != 0 ||
	    (rv = store_batch_commit(m->s)) != 0) {
		json_decref(res);
		fail(m, rv, "store_apply");
		return RAFT_IOERR;
	}
	text =
	    res != NULL ? json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (getenv("TB_FIXTURE_DEBUG") != NULL) {
		printf("# m%u applies %llu: %.150s\n", m->i,
		       (unsigned long long)index, text ? text : "(skipped)");
	}
	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, buf->base, buf->len);
	crypto_generichash_update(&st, (const uint8_t *)(text ? text : ""),
	                          text ? strlen(text) + 1 : 0);
	crypto_generichash_final(&st, h, 16);
	free(text);
	json_decref(res);
	log_add(m, index, h, false);
	if (index >= NREF) {
		size_t n = index * 2 + 64;

		REF = realloc(REF, n * sizeof(*REF));
		HAVE = realloc(HAVE, n * sizeof(*HAVE));
		memset(HAVE + NREF, 0, (n - NREF) * sizeof(*HAVE));
		NREF = n;
	}
	if (!HAVE[index]) {
		memcpy(REF[index], h, 16);
		HAVE[index] = true;
	}
	return 0;
}

static int
append(uint8_t **p, size_t *len, size_t *cap, const void *b, size_t n)
{
	if (*len + n > *cap) {
		size_t c = (*len + n) * 2;
		void *q = raft_realloc(*p, c);

		if (q == NULL) {
			return TB_ENOMEM;
		}
		*p = q;
		*cap = c;
	}
	memcpy(*p + *len, b, n);
	*len += n;
	return TB_OK;
}

/* fx_snapshot: the marker, then each chunk with a 4-byte length. The
 * fixture's raft_io passes a snapshot as one buffer, so the chunks are
 * concatenated here; the node streams them over links instead. The term
 * is 0: the state machine does not know the term of the entry at its
 * applied index, and both sides of the stream only need the same one. */
static int
fx_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	struct member *m = fsm->data;
	struct store_snap *sn;
	struct store_snap_marker mk;
	uint8_t head[STORE_SNAP_MARKER_SIZE], be[4], *p = NULL, *c;
	size_t len = 0, cap = 0, clen;
	bool last = false;
	int rv;

	/* Even members put the content hash in the marker, odd ones leave
	 * it to the final chunk: both ways are checked by the receiver. */
	rv = store_snapshot_begin(m->s, 0, 16 << 10, m->i % 2 == 0, &sn, &mk);
	if (rv != 0) {
		fail(m, rv, "store_snapshot_begin");
		return RAFT_IOERR;
	}
	store_snapshot_marker_encode(&mk, head);
	rv = append(&p, &len, &cap, head, sizeof(head));
	while (rv == 0 && !last &&
	       (rv = store_snapshot_next(sn, &c, &clen, &last)) == 0) {
		db_be32(be, (uint32_t)clen);
		if ((rv = append(&p, &len, &cap, be, 4)) == 0) {
			rv = append(&p, &len, &cap, c, clen);
		}
		free(c);
	}
	store_snapshot_end(sn);
	if (rv != 0 || (*bufs = raft_malloc(sizeof(**bufs))) == NULL) {
		raft_free(p);
		fail(m, rv, "snapshot stream");
		return RAFT_NOMEM;
	}
	(*bufs)[0].base = p;
	(*bufs)[0].len = len;
	*n = 1;
	m->snapshots++;
	return 0;
}

/* fx_restore stages the chunks and swaps the store; owns buf->base. */
static int
fx_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct member *m = fsm->data;
	struct store_snap_marker mk;
	struct store_stage *sg = NULL;
	const uint8_t *p = buf->base;
	char err[256];
	size_t off = STORE_SNAP_MARKER_SIZE, clen;
	uint8_t h[16] = { 0 };
	int rv;

	rv = store_snapshot_marker_decode(p, buf->len < off ? buf->len : off,
	                                  &mk, err, sizeof(err));
	if (rv == 0) {
		rv = store_snapshot_stage_begin(m->dir, &mk, store_region(m->s),
		                                0, &sg, err, sizeof(err));
	}
	while (rv == 0 && off + 4 <= buf->len) {
		clen = db_get_be32(p + off);
		if (clen > buf->len - off - 4) {
			snprintf(err, sizeof(err), "a chunk runs past the end");
			rv = TB_ETRUNC;
			break;
		}
		rv = store_snapshot_stage_write(sg, p + off + 4, clen, err,
		                                sizeof(err));
		off += 4 + clen;
	}
	if (rv == 0) {
		rv = store_snapshot_stage_finish(sg, err, sizeof(err));
		sg = NULL;
	}
	store_snapshot_stage_abort(sg);
	if (rv == 0) {
		rv = store_snapshot_swap(&m->s, m->dir, NULL, err, sizeof(err));
	}
	raft_free(buf->base);
	if (rv != 0) {
		fail(m, rv, err);
		return RAFT_CORRUPT;
	}
	memcpy(h, mk.hash, 16);
	log_add(m, mk.index, h, true);
	m->restores++;
	return 0;
}

#endif
