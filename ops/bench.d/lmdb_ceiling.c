/* The LMDB ceiling of ops/bench: the most synced puts/s this disk and
 * LMDB give with group commit, in the load shape of the HTTP benchmarks.
 *
 * C client threads each put one 256-byte value and wait for it to be
 * durable, then put the next (a closed loop, like wrk's connections). One
 * writer thread takes every put queued so far, writes them in one
 * transaction and commits it synced (LMDB's default: fdatasync of the data,
 * then the meta page through its O_DSYNC descriptor), then wakes the
 * clients. That is the shape of tongban's raft log writer (consensus/
 * raftio_writer.c) without Raft, JSON, HTTP or the state machine.
 *
 * usage: lmdb_ceiling DIR CLIENTS SECONDS [VALUE_BYTES]
 * prints: LMDBRESULT ops=N secs=S p50_us=U p99_us=U commits=N
 *         max_batch=N */
#define _GNU_SOURCE
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct put {
	uint8_t key[16];
	struct put *next;
	int done;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t fin = PTHREAD_COND_INITIALIZER;
static struct put *qhead, *qtail;
static volatile int stop;
static MDB_env *env;
static MDB_dbi dbi;
static size_t vbytes = 256;
static uint8_t value[65536];
static unsigned long long commits, max_batch;

struct client {
	pthread_t th;
	unsigned id;
	uint64_t *lat; /* microseconds */
	size_t n, cap;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "lmdb_ceiling: %s: %s\n", what, mdb_strerror(rc));
	exit(1);
}

static void *
writer(void *arg)
{
	(void)arg;
	for (;;) {
		struct put *batch, *p;
		unsigned long long n = 0;
		MDB_txn *txn;
		int rc;

		pthread_mutex_lock(&mu);
		while (qhead == NULL && !stop) {
			pthread_cond_wait(&work, &mu);
		}
		if (qhead == NULL && stop) {
			pthread_mutex_unlock(&mu);
			return NULL;
		}
		batch = qhead;
		qhead = qtail = NULL;
		pthread_mutex_unlock(&mu);
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
			die("mdb_txn_begin", rc);
		}
		for (p = batch; p != NULL; p = p->next, n++) {
			MDB_val k = { sizeof(p->key), p->key };
			MDB_val v = { vbytes, value };
			if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
				die("mdb_put", rc);
			}
		}
		if ((rc = mdb_txn_commit(txn)) != 0) {
			die("mdb_txn_commit", rc);
		}
		pthread_mutex_lock(&mu);
		commits++;
		if (n > max_batch) {
			max_batch = n;
		}
		for (p = batch; p != NULL; p = p->next) {
			p->done = 1;
		}
		pthread_cond_broadcast(&fin);
		pthread_mutex_unlock(&mu);
	}
}

static void *
client(void *arg)
{
	struct client *c = arg;
	uint64_t seq = 0;
	struct put p;

	while (!stop) {
		int64_t t0 = now_ns();
		int i;

		memset(&p, 0, sizeof(p));
		for (i = 0; i < 8; i++) {
			p.key[i] = (uint8_t)((uint64_t)c->id >> (56 - 8 * i));
			p.key[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
		}
		seq++;
		pthread_mutex_lock(&mu);
		if (qtail != NULL) {
			qtail->next = &p;
		} else {
			qhead = &p;
		}
		qtail = &p;
		pthread_cond_signal(&work);
		while (!p.done) {
			pthread_cond_wait(&fin, &mu);
		}
		pthread_mutex_unlock(&mu);
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 4096;
			c->lat = realloc(c->lat, c->cap * sizeof(*c->lat));
			if (c->lat == NULL) {
				exit(1);
			}
		}
		c->lat[c->n++] = (uint64_t)(now_ns() - t0) / 1000;
	}
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct client *cs;
	unsigned nc, i;
	double secs;
	uint64_t *all;
	size_t total = 0, k = 0;
	pthread_t w;
	MDB_txn *txn;
	int64_t t0, t1;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: lmdb_ceiling DIR CLIENTS SECONDS "
		                "[VALUE_BYTES]\n");
		return 2;
	}
	nc = (unsigned)atoi(argv[2]);
	secs = atof(argv[3]);
	if (argc > 4) {
		vbytes = (size_t)atoi(argv[4]);
	}
	if (nc < 1 || secs <= 0 || vbytes < 1 || vbytes > sizeof(value)) {
		fprintf(stderr, "lmdb_ceiling: bad arguments\n");
		return 2;
	}
	for (i = 0; i < vbytes; i++) {
		value[i] = (uint8_t)(i * 131 + 7);
	}
	mkdir(argv[1], 0700);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, (size_t)8 << 30)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0600)) != 0) {
		die("open", rc);
	}
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		die("dbi", rc);
	}
	cs = calloc(nc, sizeof(*cs));
	pthread_create(&w, NULL, writer, NULL);
	t0 = now_ns();
	for (i = 0; i < nc; i++) {
		cs[i].id = i;
		pthread_create(&cs[i].th, NULL, client, &cs[i]);
	}
	{
		struct timespec ts = { (time_t)secs,
			               (long)((secs - (time_t)secs) * 1e9) };
		nanosleep(&ts, NULL);
	}
	stop = 1;
	for (i = 0; i < nc; i++) {
		pthread_join(cs[i].th, NULL);
		total += cs[i].n;
	}
	t1 = now_ns();
	pthread_mutex_lock(&mu);
	pthread_cond_signal(&work);
	pthread_mutex_unlock(&mu);
	pthread_join(w, NULL);
	all = malloc((total ? total : 1) * sizeof(*all));
	for (i = 0; i < nc; i++) {
		memcpy(all + k, cs[i].lat, cs[i].n * sizeof(*all));
		k += cs[i].n;
	}
	qsort(all, total, sizeof(*all), cmp_u64);
	printf("LMDBRESULT ops=%zu secs=%.3f p50_us=%llu p99_us=%llu "
	       "commits=%llu max_batch=%llu\n",
	       total, (t1 - t0) / 1e9,
	       (unsigned long long)(total ? all[total / 2] : 0),
	       (unsigned long long)(total ? all[(total * 99) / 100] : 0),
	       commits, max_batch);
	mdb_env_close(env);
	return 0;
}
