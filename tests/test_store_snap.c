/* Tests for streamed snapshots of the store: a store of thousands of cases
 * streamed in chunks into a stage and swapped in equals its source; bad
 * streams are refused and leave the old store; a crash at each step of the
 * swap recovers to the old or the new store, and the cost of each phase is
 * printed. TB_SNAP_CASES=N only measures, with N cases (docs/STORE.md has
 * the figures for 100,000 on a plain build). */
#include "node/store_snap.h"
#include "tests/tap.h"
#include "tests/store_util.h"

#include <msgpack.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdatomic.h>
#include <time.h>

static char BASE[64], SRC[128], DST[128], OTHER[128];
static uint8_t SRC_HASH[32];
static uint64_t SRC_APPLIED;

/* A stream held in memory, only to replay it with faults: the node sends
 * chunks as they come and never holds the whole stream. */
struct stream {
	struct store_snap_marker m;
	uint8_t **buf;
	size_t *len;
	size_t n;
};

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* rss_anon_kb reads RssAnon from /proc/self/status (0 if unknown). */
static long
rss_anon_kb(void)
{
	char line[256];
	long v = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "RssAnon: %ld", &v) == 1) {
			break;
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	return v;
}

/* fill applies the catalog and ncases case creations (every third one
 * accepted) to s, in batches. Returns the last index. */
static uint64_t
fill(struct store *s, size_t ncases)
{
	uint64_t idx = 0;
	size_t i, bad = 0;
	char id[19], cid[32];
	bool refused;

	for (i = 0; i < 3; i++) {
		struct canon_buf b = su_encode(i == 0 ? CMD_CATALOG_RELEASE
		                                      : CMD_CATALOG_OVERLAY,
		                               SU_T0, NULL, su_catalog((int)i));

		bad += su_apply(s, ++idx, &b, &refused) != 0 || refused;
		canon_buf_free(&b);
	}
	store_batch_begin(s);
	for (i = 0; i < ncases; i++) {
		struct canon_buf b;

		su_id(i, id);
		b = su_encode(CMD_CASE_CREATE, SU_T0 + (int64_t)i, NULL,
		              su_food(id));
		bad += su_apply(s, ++idx, &b, &refused) != 0 || refused;
		canon_buf_free(&b);
		if (i % 3 == 0) {
			snprintf(cid, sizeof(cid), "370102-20260210-%06zu",
			         i + 1);
			b = su_encode(CMD_CASE_ACTION, SU_T0 + (int64_t)i, NULL,
			              su_act(cid, "accept", 1));
			bad += su_apply(s, ++idx, &b, &refused) != 0 || refused;
			canon_buf_free(&b);
		}
		if (i % 1000 == 999) {
			store_batch_commit(s);
			store_batch_begin(s);
		}
	}
	store_batch_commit(s);
	is_int(bad, 0, "catalog and %zu cases applied, none refused", ncases);
	return idx;
}

static void
stream_free(struct stream *st)
{
	size_t i;

	for (i = 0; i < st->n; i++) {
		free(st->buf[i]);
	}
	free(st->buf);
	free(st->len);
	memset(st, 0, sizeof(*st));
}

/* capture streams s into memory with chunks of chunk_max. */
static int
capture(struct store *s, size_t chunk_max, bool hash_first, struct stream *st)
{
	struct store_snap *sn;
	size_t cap = 0;
	bool last = false;
	uint8_t *b;
	size_t len;
	int rv;

	memset(st, 0, sizeof(*st));
	if ((rv = store_snapshot_begin(s, 7, chunk_max, hash_first, &sn,
	                               &st->m)) != 0) {
		return rv;
	}
	while (!last && (rv = store_snapshot_next(sn, &b, &len, &last)) == 0) {
		if (st->n == cap) {
			cap = cap ? 2 * cap : 64;
			st->buf = realloc(st->buf, cap * sizeof(*st->buf));
			st->len = realloc(st->len, cap * sizeof(*st->len));
		}
		st->buf[st->n] = b;
		st->len[st->n++] = len;
	}
	store_snapshot_end(sn);
	return rv;
}

/* stage_stream feeds chunks [0, n) of st (with chunk `bad` replaced by
 * (badbuf, badlen) if badbuf is set) into a stage for dir, then finishes:
 * returns the first error, with its message in err. */
static int
stage_stream(const char *dir, const struct stream *st,
             const struct store_snap_marker *m, size_t n, size_t bad,
             const uint8_t *badbuf, size_t badlen, char *err, size_t errlen)
{
	struct store_stage *sg;
	size_t i;
	int rv;

	rv = store_snapshot_stage_begin(dir, m, "370102", 0, &sg, err, errlen);
	for (i = 0; rv == 0 && i < n; i++) {
		if (badbuf != NULL && i == bad) {
			rv = store_snapshot_stage_write(sg, badbuf, badlen, err,
			                                errlen);
		} else {
			rv = store_snapshot_stage_write(
			    sg, st->buf[i], st->len[i], err, errlen);
		}
	}
	if (rv != 0) {
		store_snapshot_stage_abort(sg);
		return rv;
	}
	return store_snapshot_stage_finish(sg, err, errlen);
}

/* chunk_records decodes chunk i and counts its records (0 if broken). */
static size_t
chunk_records(const struct stream *st, size_t i)
{
	msgpack_unpacked up;
	size_t off = 0, n = 0;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)st->buf[i], st->len[i],
	                        &off) == MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_ARRAY &&
	    up.data.via.array.size == 7 &&
	    up.data.via.array.ptr[5].type == MSGPACK_OBJECT_ARRAY) {
		n = up.data.via.array.ptr[5].via.array.size;
	}
	msgpack_unpacked_destroy(&up);
	return n;
}

static void
digest_of(struct store *s, uint8_t d[32])
{
	memset(d, 0, 32);
	if (s != NULL) {
		store_digest(s, d, NULL);
	}
}

static void
test_marker(void)
{
	struct store_snap_marker m = { 42, 3, { 1, 2, 3 } }, back;
	uint8_t buf[STORE_SNAP_MARKER_SIZE];
	char err[128];

	store_snapshot_marker_encode(&m, buf);
	ok(store_snapshot_marker_decode(buf, sizeof(buf), &back, err,
	                                sizeof(err)) == 0 &&
	       back.index == 42 && back.term == 3 &&
	       !memcmp(back.hash, m.hash, 32),
	   "marker round-trips");
	is_int(store_snapshot_marker_decode(buf, 10, &back, err, sizeof(err)),
	       TB_EMALFORMED, "a short marker is refused");
	like(err, "64 bytes, not 10", "and says its size");
	buf[0] = 'X';
	is_int(store_snapshot_marker_decode(buf, sizeof(buf), &back, err,
	                                    sizeof(err)),
	       TB_EMALFORMED, "a marker with another magic is refused");
}

/* test_roundtrip streams SRC into a stage for DST (a store that holds the
 * region only) and swaps it in. */
static void
test_roundtrip(struct store *src, size_t ncases)
{
	struct stream st;
	struct store *dst = su_open(DST, "370102");
	uint8_t d[32];
	char err[256];
	size_t i, over = 0, total = 0, big = 0;
	json_t *stat = NULL;

	err[0] = '\0';
	is_int(capture(src, 64 << 10, true, &st), 0, "stream captured");
	ok(!memcmp(st.m.hash, SRC_HASH, 32),
	   "the marker's hash is store_digest of the source");
	is_int(st.m.index, SRC_APPLIED, "marker index is the applied index");
	is_int(st.m.term, 7, "marker term is the caller's");
	for (i = 0; i < st.n; i++) {
		/* Only a record larger than the target travels alone in a
		 * larger chunk. */
		over += st.len[i] > (64 << 10) && chunk_records(&st, i) != 1;
		big += st.len[i] > (64 << 10);
		total += st.len[i];
	}
	ok(st.n > 10, "%zu chunks (%zu bytes, %zu of one record over 64 KiB)",
	   st.n, total, big);
	is_int(over, 0, "no chunk of several records exceeds 64 KiB");
	is_int(
	    stage_stream(DST, &st, &st.m, st.n, 0, NULL, 0, err, sizeof(err)),
	    0, "the whole stream stages and verifies");
	if (err[0] != '\0') {
		printf("# %s\n", err);
	}
	ok(su_exists(strcat(strcpy(err, DST), ".new")), "DIR.new published");
	is_int(store_snapshot_swap(&dst, DST, NULL, err, sizeof(err)), 0,
	       "swap");
	digest_of(dst, d);
	ok(!memcmp(d, SRC_HASH, 32), "the swapped store equals the source");
	is_int(dst ? store_applied_index(dst) : 0, SRC_APPLIED,
	       "at the same applied index");
	if (dst != NULL) {
		store_status(dst, &stat);
	}
	is_int(spec_int(json_object_get(stat, "cases"), "total", 0), ncases,
	       "and counts %zu cases", ncases);
	json_decref(stat);
	ok(!su_exists(strcat(strcpy(err, DST), ".old")) &&
	       !su_exists(strcat(strcpy(err, DST), ".new")) &&
	       !su_exists(strcat(strcpy(err, DST), ".stage")),
	   "no sibling directory is left");
	store_close(dst);
	stream_free(&st);
}

/* Readers that hammer a store while it is swapped under them. */
struct reader {
	struct store *s;
	atomic_bool stop;
	atomic_ulong reads, errors;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	json_t *st;

	while (!atomic_load(&r->stop)) {
		if (store_status(r->s, &st) == 0) {
			json_decref(st);
			atomic_fetch_add(&r->reads, 1);
		} else {
			atomic_fetch_add(&r->errors, 1);
		}
	}
	return NULL;
}

/* test_live streams SRC into a stage for DST and swaps it in with
 * store_snapshot_swap_live while two threads read DST: the struct stays,
 * every read succeeds, and afterwards it holds the source's state. */
static void
test_live(struct store *src)
{
	struct stream st;
	struct store *dst = su_open(DST, "370102");
	struct reader r = { .s = dst };
	pthread_t t[2];
	uint8_t d[32];
	char err[256];
	int i;

	atomic_init(&r.reads, 0);
	atomic_init(&r.errors, 0);
	err[0] = '\0';
	is_int(capture(src, 64 << 10, false, &st), 0, "live: stream captured");
	is_int(
	    stage_stream(DST, &st, &st.m, st.n, 0, NULL, 0, err, sizeof(err)),
	    0, "live: the stream stages");
	atomic_init(&r.stop, false);
	for (i = 0; i < 2; i++) {
		pthread_create(&t[i], NULL, reader_main, &r);
	}
	while (r.reads < 50) {
		sched_yield();
	}
	is_int(store_snapshot_swap_live(dst, DST, NULL, err, sizeof(err)), 0,
	       "live: swapped under two readers");
	{
		unsigned long at = r.reads;

		while (r.reads < at + 50) {
			sched_yield();
		}
	}
	atomic_store(&r.stop, true);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
	}
	is_int(atomic_load(&r.errors), 0, "live: no read failed (%lu reads)",
	       atomic_load(&r.reads));
	digest_of(dst, d);
	ok(!memcmp(d, SRC_HASH, 32),
	   "live: the same struct now holds the source");
	is_int(store_applied_index(dst), SRC_APPLIED,
	       "live: its applied index");
	is_int(store_snapshot_swap_live(dst, DST, NULL, err, sizeof(err)),
	       TB_ENOTFOUND, "live: without a stage nothing is swapped");
	is_int(store_applied_index(dst), SRC_APPLIED,
	       "live: and it still works");
	store_close(dst);
	stream_free(&st);
	tu_rmtree(DST);
}

/* test_nohash streams without the hash pass: the marker has no hash, the
 * final chunk's hash still protects the stream. */
static void
test_nohash(struct store *src)
{
	struct stream st;
	struct store *o;
	uint8_t zero[32] = { 0 }, d[32], *b;
	char err[256], dir[160];
	size_t k;

	snprintf(dir, sizeof(dir), "%s/nohash", BASE);
	o = su_open(dir, "370102");
	capture(src, 16 << 10, false, &st);
	ok(!memcmp(st.m.hash, zero, 32), "without hash_first: no marker hash");
	k = 1;
	b = malloc(st.len[k]);
	memcpy(b, st.buf[k], st.len[k]);
	b[st.len[k] - 2] ^= 0x5a;
	is_int(stage_stream(dir, &st, &st.m, st.n, k, b, st.len[k], err,
	                    sizeof(err)),
	       TB_ECORRUPT,
	       "a flipped byte is still refused (final chunk's "
	       "hash)");
	free(b);
	is_int(
	    stage_stream(dir, &st, &st.m, st.n, 0, NULL, 0, err, sizeof(err)),
	    0, "the intact stream stages");
	is_int(store_snapshot_swap(&o, dir, NULL, err, sizeof(err)), 0,
	       "and swaps in");
	digest_of(o, d);
	ok(!memcmp(d, SRC_HASH, 32), "equal to the source");
	store_close(o);
	tu_rmtree(dir);
	stream_free(&st);
}

/* test_flips flips one random byte of one random chunk of a small store's
 * stream, many times: every flip must be refused (by the msgpack shape,
 * the header, the order or the hash), never staged. */
static void
test_flips(void)
{
	enum { TRIALS = 200 };
	struct stream st;
	struct store *small;
	char dir[160], dst[160], err[256];
	uint64_t rng = 0x5eed;
	size_t t, k, at, accepted = 0, codes[TB_ERR_COUNT] = { 0 };
	uint8_t *b;
	int rv;

	snprintf(dir, sizeof(dir), "%s/small", BASE);
	snprintf(dst, sizeof(dst), "%s/flips", BASE);
	small = su_open(dir, "370102");
	fill(small, 20);
	capture(small, 4096, false, &st);
	store_close(small);
	for (t = 0; t < TRIALS; t++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		k = (size_t)(rng >> 33) % st.n;
		at = (size_t)(rng >> 13) % st.len[k];
		b = malloc(st.len[k]);
		memcpy(b, st.buf[k], st.len[k]);
		b[at] ^= (uint8_t)(1 + (rng >> 5) % 255);
		rv = stage_stream(dst, &st, &st.m, st.n, k, b, st.len[k], err,
		                  sizeof(err));
		free(b);
		if (rv == 0) {
			accepted++;
			printf("# flip at chunk %zu byte %zu was accepted\n", k,
			       at);
			tu_rmtree(strcat(strcpy(err, dst), ".new"));
		} else if (rv > 0 && rv < TB_ERR_COUNT) {
			codes[rv]++;
		}
	}
	is_int(accepted, 0,
	       "%d random one-byte flips in %zu chunks: all "
	       "refused (malformed %zu, corrupt %zu, other %zu)",
	       TRIALS, st.n, codes[TB_EMALFORMED], codes[TB_ECORRUPT],
	       TRIALS - codes[TB_EMALFORMED] - codes[TB_ECORRUPT]);
	stream_free(&st);
	tu_rmtree(dir);
	tu_rmtree(dst);
}

/* test_refusals feeds broken streams to a stage for OTHER, whose store
 * must stay exactly as it was. */
static void
test_refusals(struct store *src)
{
	struct stream st;
	struct store *o = su_open(OTHER, "370102"), *w;
	struct store_snap_marker m;
	uint8_t before[32], after[32], *b;
	char err[256], path[256];
	size_t k;
	int rv;

	digest_of(o, before);
	capture(src, 16 << 10, true, &st);
	k = st.n / 2;
	b = malloc(st.len[k]);
	memcpy(b, st.buf[k], st.len[k]);

	rv = stage_stream(OTHER, &st, &st.m, st.n - 1, 0, NULL, 0, err,
	                  sizeof(err));
	is_int(rv, TB_ETRUNC, "a stream without its final chunk: truncated");
	like(err, "without its final one", "says so");
	rv = stage_stream(OTHER, &st, &st.m, st.n, k, b, st.len[k] - 1, err,
	                  sizeof(err));
	is_int(rv, TB_EMALFORMED, "a truncated chunk: malformed");
	like(err, "malformed", "says so");
	b[st.len[k] - 2] ^= 0x5a; /* inside the last value: still msgpack */
	rv = stage_stream(OTHER, &st, &st.m, st.n, k, b, st.len[k], err,
	                  sizeof(err));
	is_int(rv, TB_ECORRUPT, "a flipped byte in a value: corrupt");
	like(err, "content hash does not match", "found by the hash");
	rv = stage_stream(OTHER, &st, &st.m, st.n, k, st.buf[k + 1],
	                  st.len[k + 1], err, sizeof(err));
	is_int(rv, TB_ECORRUPT, "a skipped chunk is refused");
	like(err, "expected chunk", "by its sequence number");
	m = st.m;
	m.index++;
	rv = stage_stream(OTHER, &st, &m, st.n, 0, NULL, 0, err, sizeof(err));
	is_int(rv, TB_ECORRUPT, "chunks of another snapshot are refused");
	like(err, "not of the snapshot at index", "names the marker");
	m = st.m;
	m.hash[0] ^= 1;
	rv = stage_stream(OTHER, &st, &m, st.n, 0, NULL, 0, err, sizeof(err));
	is_int(rv, TB_ECORRUPT, "a marker with another hash is refused");
	free(b);
	b = (uint8_t *)"\x93\xa6tbsnap\x01";
	rv = stage_stream(OTHER, &st, &st.m, st.n, 0, b, 10, err, sizeof(err));
	is_int(rv, TB_EMALFORMED, "a chunk of the wrong shape is refused");
	{
		/* A header, then an array that claims 2^32-1 records: read in
		 * place, it costs nothing and fails at the first record. */
		static const uint8_t huge[] = { 0x97, 0xa6, 't',  'b',  's',
			                        'n',  'a',  'p',  0x01, 0x00,
			                        0x00, 0x00, 0xdd, 0xff, 0xff,
			                        0xff, 0xff };
		struct store_snap_marker z = { 0 };
		struct store_stage *sg;

		store_snapshot_stage_begin(OTHER, &z, "370102", 0, &sg, err,
		                           sizeof(err));
		is_int(store_snapshot_stage_write(sg, huge, sizeof(huge), err,
		                                  sizeof(err)),
		       TB_EMALFORMED,
		       "a chunk claiming 2^32-1 records is "
		       "refused");
		like(err, "record 0 is not", "at its first record");
		store_snapshot_stage_abort(sg);
	}
	{
		struct store_stage *sg;

		store_snapshot_stage_begin(OTHER, &st.m, "370101", 0, &sg, err,
		                           sizeof(err));
		for (k = 0, rv = 0; rv == 0 && k < st.n; k++) {
			rv = store_snapshot_stage_write(
			    sg, st.buf[k], st.len[k], err, sizeof(err));
		}
		rv =
		    rv ? rv : store_snapshot_stage_finish(sg, err, sizeof(err));
		is_int(rv, TB_ECORRUPT, "a snapshot of another region too");
		like(err, "not of region 370101", "says which");
	}
	snprintf(path, sizeof(path), "%s.stage", OTHER);
	ok(!su_exists(path), "no stage is left behind");
	w = o;
	is_int(store_snapshot_swap(&w, OTHER, NULL, err, sizeof(err)),
	       TB_ENOTFOUND, "nothing to swap in");
	ok(w == o, "and the store stays open");
	digest_of(o, after);
	ok(!memcmp(before, after, 32), "the old store is untouched");
	store_close(o);
	stream_free(&st);
}

/* test_crashes publishes a stage for OTHER and stops the swap after each
 * step, then opens the store as a restarted node would. */
static void
test_crashes(struct store *src)
{
	static const char *const sfx[3] = { ".stage", ".new", ".old" };
	struct stream st;
	struct store *o;
	uint8_t old[32], got[32];
	char err[256], path[256];
	int steps, i, left;

	o = su_open(OTHER, "370102");
	digest_of(o, old);
	store_close(o);
	capture(src, 0, true, &st);
	for (steps = -1; steps <= 3; steps++) {
		if (steps == -1) {
			/* A crash while staging: a half-written stage. */
			struct store_stage *sg;

			store_snapshot_stage_begin(OTHER, &st.m, "370102", 0,
			                           &sg, err, sizeof(err));
			store_snapshot_stage_write(sg, st.buf[0], st.len[0],
			                           err, sizeof(err));
			store_snapshot_stage_abort(sg);
			snprintf(path, sizeof(path), "%s.stage", OTHER);
			mkdir(path, 0700);
			snprintf(path, sizeof(path), "%s.stage/data.mdb",
			         OTHER);
			fclose(fopen(path, "w"));
		} else {
			is_int(stage_stream(OTHER, &st, &st.m, st.n, 0, NULL, 0,
			                    err, sizeof(err)),
			       0, "stage published (crash after step %d)",
			       steps);
			store_snapshot_swap_steps(OTHER, steps, err,
			                          sizeof(err));
		}
		o = su_open(OTHER, NULL);
		digest_of(o, got);
		ok(!memcmp(got, steps >= 2 ? SRC_HASH : old, 32),
		   "crash after step %d: store_open finds the %s store", steps,
		   steps >= 2 ? "new" : "old");
		for (i = 0, left = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s%s", OTHER, sfx[i]);
			left += su_exists(path);
		}
		is_int(left, 0, "and no sibling directory is left");
		store_close(o);
		if (steps >= 2) {
			/* Back to the old store for the next round. */
			tu_rmtree(OTHER);
			o = su_open(OTHER, "370102");
			store_close(o);
		}
	}
	stream_free(&st);
}

/* measure streams src into a stage and swaps it in, timing each phase and
 * sampling the anonymous memory of the process after each chunk. */
static void
measure(struct store *src, size_t ncases)
{
	struct store_snap *sn;
	struct store_snap_marker m;
	struct store_stage *sg;
	struct store *dst = su_open(DST, "370102");
	double t0, t1, t2, t3, t4;
	long base = rss_anon_kb(), peak = base, r;
	size_t n = 0, bytes = 0, len;
	bool last = false;
	uint8_t *b, d[32];
	char err[256];
	int rv;

	/* The sender alone, as a leader streaming to a link, without the
	 * hash pass first. */
	t0 = now_s();
	rv = store_snapshot_begin(src, 1, 0, false, &sn, &m);
	while (rv == 0 && !last &&
	       (rv = store_snapshot_next(sn, &b, &len, &last)) == 0) {
		free(b);
		if ((r = rss_anon_kb()) > peak) {
			peak = r;
		}
	}
	store_snapshot_end(sn);
	printf(
	    "# sender alone: %.2f s (one pass, hash in the tail), RssAnon peak "
	    "%+ld KiB\n",
	    now_s() - t0, peak - base);
	ok(rv == 0, "sender streams %zu cases", ncases);
	last = false;
	peak = base = rss_anon_kb();

	t0 = now_s();
	rv = store_snapshot_begin(src, 1, 0, true, &sn, &m);
	t1 = now_s();
	rv = rv ? rv
	        : store_snapshot_stage_begin(DST, &m, "370102", 0, &sg, err,
	                                     sizeof(err));
	while (rv == 0 && !last &&
	       (rv = store_snapshot_next(sn, &b, &len, &last)) == 0) {
		rv = store_snapshot_stage_write(sg, b, len, err, sizeof(err));
		free(b);
		n++;
		bytes += len;
		if ((r = rss_anon_kb()) > peak) {
			peak = r;
		}
	}
	store_snapshot_end(sn);
	t2 = now_s();
	rv = rv ? rv : store_snapshot_stage_finish(sg, err, sizeof(err));
	t3 = now_s();
	rv = rv ? rv : store_snapshot_swap(&dst, DST, NULL, err, sizeof(err));
	t4 = now_s();
	digest_of(dst, d);
	ok(rv == 0 && !memcmp(d, SRC_HASH, 32),
	   "measured stream of %zu cases arrives intact", ncases);
	printf("# snapshot of %zu cases: %zu chunks, %.1f MiB; hash pass "
	       "%.2f s, stream+stage %.2f s, verify+sync+publish %.2f s, "
	       "swap+open %.2f s; RssAnon %ld KiB before, peak %+ld KiB\n",
	       ncases, n, (double)bytes / (1 << 20), t1 - t0, t2 - t1, t3 - t2,
	       t4 - t3, base, peak - base);
	store_close(dst);
}

int
main(void)
{
	const char *env = getenv("TB_SNAP_CASES");
	size_t ncases = env != NULL ? strtoul(env, NULL, 10) : 3000;
	struct stat sb;
	char path[160];
	struct store *src;
	double t0;

	if (sodium_init() < 0) {
		return 1;
	}
	snprintf(BASE, sizeof(BASE), "/tmp/tb-snap-XXXXXX");
	if (mkdtemp(BASE) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(SRC, sizeof(SRC), "%s/src", BASE);
	snprintf(DST, sizeof(DST), "%s/dst", BASE);
	snprintf(OTHER, sizeof(OTHER), "%s/other", BASE);
	test_marker();
	src = su_open(SRC, "370102");
	ok(src != NULL, "source store opened");
	if (src != NULL) {
		t0 = now_s();
		fill(src, ncases);
		snprintf(path, sizeof(path), "%s/data.mdb", SRC);
		store_sync(src);
		printf("# %zu cases applied in %.1f s; data.mdb %.1f MiB\n",
		       ncases, now_s() - t0,
		       stat(path, &sb) == 0 ? (double)sb.st_size / (1 << 20)
		                            : 0.0);
		store_digest(src, SRC_HASH, &SRC_APPLIED);
		if (env == NULL) {
			test_roundtrip(src, ncases);
			tu_rmtree(DST);
			test_live(src);
			test_nohash(src);
			test_flips();
			test_refusals(src);
			test_crashes(src);
			tu_rmtree(DST);
		}
		measure(src, ncases);
	}
	store_close(src);
	tu_rmtree(BASE);
	return done_testing();
}
