/* The link benchmark (ops/bench --links): two nodes' links in one process,
 * each on its own libuv loop and thread (so both cores work, as two nodes
 * on this machine would), over TCP on 127.0.0.1.
 *
 *   link-enc     the real link stack: Noise handshake, sealed frames, nng
 *                byte streams over TCP with length-prefixed frames,
 *                queues, chunks, handlers
 *   link-plain   the same stack with frame_bench_plaintext on both ends
 *                (node/link_bench.h): every line of node/ and schema/frame.c
 *                runs as for link-enc except the ChaCha20-Poly1305 call, so
 *                the ratio is what encryption costs
 *   nng-pair     raw nng pair1 over TCP: a thread sends, a thread receives
 *   nng-reqrep   raw nng req/rep over TCP, one request in flight
 *
 * For each rep, interleaved: throughput of MSGS one-way 1 KiB messages
 * from the dialing end (all queued at once; the clock stops when the last
 * arrives), then RTTS request/response round trips of 1 KiB each way, one
 * in flight (latency p50/p99). Then full handshakes: the dialer closes its
 * connection, redials after a random 0-9 ms, and the clock runs until the
 * link is up again (TCP connect, three Noise XX messages or two IK ones,
 * both chains verified, the listener's HELLO), with the verified-chain
 * cache warm (as in a node) or cleared before every verification (cold).
 *
 * Usage: link_bench TONGBAN WORKDIR [--reps N] [--msgs N] [--rtts N]
 *                   [--handshakes N] [--redial-ms N] [--handshakes-only]
 *                   [--xx-warm-only]
 * --redial-ms: the reconnect time of the handshake rows (the redial waits a
 * random time below it; default 10, as the figures before streams; 1 redials
 * at once). --handshakes-only skips the message and raw nng rows;
 * --xx-warm-only runs only the row of the target (XX, cache warm, 8 at a
 * time), for profiling it alone.
 * Prints one table of medians over the reps, ratios, and the targets. */
#include "node/config.h"
#include "node/link.h"
#include "node/link_bench.h"
#include "node/log.h"
#include "ops/bench.d/link_bench.h"
#include "schema/error.h"

#include <limits.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define T_SEQ  100 /* one-way: 1 KiB */
#define T_ECHO 101 /* request: answered with its body */

static const char *workdir;
static unsigned redial_ms = 10;
static struct node_config cfg_a, cfg_b;
double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
die(const char *what)
{
	fprintf(stderr, "link_bench: %s\n", what);
	exit(1);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
pct(double *v, size_t n, double q)
{
	size_t k;

	if (n == 0) {
		return NAN;
	}
	qsort(v, n, sizeof(*v), cmp_d);
	k = (size_t)ceil(q * (double)n);
	return v[k > 0 ? k - 1 : 0];
}

static double
median(double *v, size_t n)
{
	if (n == 0) {
		return NAN;
	}
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct row rows[R_COUNT] = {
	{ .name = "link-enc one-way 1 KiB msgs" },
	{ .name = "link-plain one-way 1 KiB msgs" },
	{ .name = "nng-pair one-way 1 KiB msgs" },
	{ .name = "link-enc request/response" },
	{ .name = "link-plain request/response" },
	{ .name = "nng-reqrep request/response" },
	{ .name = "handshakes XX warm, 1 at a time" },
	{ .name = "handshakes XX cold, 1 at a time" },
	{ .name = "handshakes IK warm, 1 at a time" },
	{ .name = "handshakes XX warm, 8 at a time" },
	{ .name = "handshakes XX cold, 8 at a time" },
	{ .name = "handshakes IK warm, 8 at a time" },
};

/* Handshakes that took over 1 s. */
static unsigned long stalls[R_COUNT];
/* CPU time per handshake (this process: both ends, every thread), per
 * row and rep: less sensitive to the other load on the machine than the
 * wall-clock rate. */
static double hs_cpu[R_COUNT][MAXREP];
static unsigned hs_cpu_n[R_COUNT];

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}
/* Links that never came back up (wedged), per row (run_handshakes). */
static unsigned long wedges[R_COUNT];
static unsigned long short_rows[R_COUNT]; /* reps cut short by wedges */
#define STALL_S 10

void
record(int r, double ops, double p50, double p99)
{
	struct row *w = &rows[r];

	if (w->n < MAXREP) {
		w->ops[w->n] = ops;
		w->p50[w->n] = p50;
		w->p99[w->n] = p99;
		w->n++;
	}
}
/* ---- the listening node B on its own thread ------------------------------ */

struct side_b {
	struct link_bench_opts opts;
	uv_loop_t loop;
	uv_async_t stop;
	struct links *ls;
	pthread_t th;
	char url[160];
	atomic_int ready; /* 1 up, -1 failed */
	atomic_ulong got;
	_Atomic double t_last;
	unsigned long want;
};

static void
b_on_seq(struct links *ls, const struct link_msg *m, void *arg)
{
	struct side_b *b = arg;

	(void)ls;
	(void)m;
	if (atomic_fetch_add(&b->got, 1) + 1 == b->want) {
		b->t_last = now_s();
	}
}

static void
b_on_echo(struct links *ls, const struct link_msg *m, void *arg)
{
	(void)arg;
	link_reply(ls, &m->reply_to, T_ECHO, m->body, m->len);
}

static void
b_on_stop(uv_async_t *h)
{
	struct side_b *b = h->data;

	links_stop(b->ls);
	uv_close((uv_handle_t *)h, NULL);
}

static void *
b_main(void *arg)
{
	struct side_b *b = arg;
	struct link_config lc = { 0 };
	char err[512];

	uv_loop_init(&b->loop);
	lc.loop = &b->loop;
	lc.dir = cfg_b.dir;
	lc.listen = "127.0.0.1:0";
	lc.node_id = cfg_b.node_id;
	lc.region = cfg_b.region;
	lc.kx_sk = cfg_b.kx_sk;
	if (links_start(&lc, &b->ls, err, sizeof(err)) != TB_OK) {
		fprintf(stderr, "link_bench: B: %s\n", err);
		b->ready = -1;
		return NULL;
	}
	links_bench_set(b->ls, &b->opts);
	links_url(b->ls, b->url, sizeof(b->url));
	link_handle(b->ls, T_SEQ, b_on_seq, b);
	link_handle(b->ls, T_ECHO, b_on_echo, b);
	b->stop.data = b;
	uv_async_init(&b->loop, &b->stop, b_on_stop);
	b->ready = 1;
	uv_run(&b->loop, UV_RUN_DEFAULT);
	links_free(b->ls);
	uv_loop_close(&b->loop);
	return NULL;
}

/* ---- the dialing node A on the main thread --------------------------------
 */

/* A's loop: a new one per row, since a row with a wedged link is left
 * behind (see run_handshakes). */
static uv_loop_t *loop_a;
static unsigned long wedged; /* links left behind, over all rows */

static void
new_loop_a(void)
{
	if ((loop_a = calloc(1, sizeof(*loop_a))) == NULL ||
	    uv_loop_init(loop_a) != 0) {
		die("cannot make a loop");
	}
}

static void
free_loop_a(void)
{
	uv_loop_close(loop_a);
	free(loop_a);
	loop_a = NULL;
}

/* start_b starts B (listening) with opts on its thread and writes A's
 * links.json to dial it, named by node id. */
static void
start_b(struct side_b *b, const struct link_bench_opts *opts)
{
	char path[PATH_MAX + 32];
	FILE *f;

	memset(b, 0, sizeof(*b));
	b->opts = *opts;
	if (pthread_create(&b->th, NULL, b_main, b) != 0) {
		die("pthread_create");
	}
	while (b->ready == 0) {
		sched_yield();
	}
	if (b->ready < 0) {
		die("B's links did not start");
	}
	snprintf(path, sizeof(path), "%s/links.json", cfg_a.dir);
	if ((f = fopen(path, "w")) == NULL) {
		die("cannot write A's links.json");
	}
	fprintf(f,
	        "{\"format\": \"tongban.links/1\", \"peers\": [{\"region\": "
	        "\"%s\", \"url\": \"%s\", \"node_id\": \"%s\"}]}\n",
	        cfg_b.region, b->url, cfg_b.node_id);
	fclose(f);
}

/* start_a starts one instance of A's links on loop_a (several may run,
 * each with its own link to B) and waits for its link. */
static struct links *
start_a(const struct link_bench_opts *opts)
{
	struct link_config lc = { 0 };
	struct links *ls;
	char err[512];
	double t0;

	lc.loop = loop_a;
	lc.dir = cfg_a.dir;
	lc.listen = "127.0.0.1:0";
	lc.node_id = cfg_a.node_id;
	lc.region = cfg_a.region;
	lc.kx_sk = cfg_a.kx_sk;
	if (links_start(&lc, &ls, err, sizeof(err)) != TB_OK) {
		fprintf(stderr, "link_bench: A: %s\n", err);
		exit(1);
	}
	links_bench_set(ls, opts);
	t0 = now_s();
	while (!link_up(ls, cfg_b.node_id)) {
		uv_run(loop_a, UV_RUN_ONCE);
		if (now_s() - t0 > 20) {
			die("A's link to B did not come up in 20 s");
		}
	}
	return ls;
}

static struct links *
start_pair(struct side_b *b, const struct link_bench_opts *opts)
{
	new_loop_a();
	start_b(b, opts);
	return start_a(opts);
}

static void
stop_pair(struct side_b *b, struct links *ls)
{
	links_stop(ls);
	uv_run(loop_a, UV_RUN_DEFAULT);
	links_free(ls);
	free_loop_a();
	uv_async_send(&b->stop);
	pthread_join(b->th, NULL);
}

struct rr {
	unsigned long n, want;
	double t0, *rtt;
	struct links *ls;
	uint8_t *body;
	int err;
};

static void rr_next(struct rr *r);

static void
rr_answer(void *arg, int status, const struct link_msg *m)
{
	struct rr *r = arg;

	if (status != TB_OK || m->len != MSG) {
		r->err = status != TB_OK ? status : TB_EMALFORMED;
		return;
	}
	r->rtt[r->n++] = now_s() - r->t0;
	if (r->n < r->want) {
		rr_next(r);
	}
}

static void
rr_next(struct rr *r)
{
	int rv;

	r->t0 = now_s();
	rv = link_request(r->ls, cfg_b.node_id, T_ECHO, r->body, MSG, 5000,
	                  rr_answer, r);
	if (rv != TB_OK) {
		r->err = rv;
	}
}

/* run_link measures one rep of link-enc or link-plain. */
static void
run_link(bool plain, unsigned long msgs, unsigned long rtts)
{
	struct link_bench_opts o = { .plaintext = plain };
	struct side_b b;
	struct links *ls = start_pair(&b, &o);
	uint8_t body[MSG];
	struct rr r = { 0 };
	double t0, *lat = calloc(msgs, sizeof(double));
	unsigned long i;

	if (lat == NULL) {
		die("out of memory");
	}
	randombytes_buf(body, sizeof(body));
	b.want = msgs;
	t0 = now_s();
	for (i = 0; i < msgs; i++) {
		if (link_send(ls, cfg_b.node_id, T_SEQ, body, MSG) != TB_OK) {
			die("link_send refused a message");
		}
	}
	while (atomic_load(&b.got) < msgs) {
		uv_run(loop_a, UV_RUN_ONCE);
		if (now_s() - t0 > 120) {
			die("one-way messages did not all arrive in 120 s");
		}
	}
	record(plain ? R_TP_PLAIN : R_TP_ENC, (double)msgs / (b.t_last - t0),
	       NAN, NAN);

	r.ls = ls;
	r.want = rtts;
	r.rtt = lat;
	r.body = body;
	t0 = now_s();
	rr_next(&r);
	while (r.n < rtts && r.err == TB_OK) {
		uv_run(loop_a, UV_RUN_ONCE);
	}
	if (r.err != TB_OK) {
		fprintf(stderr, "link_bench: request %lu: %s\n", r.n,
		        tb_strerror(r.err));
		exit(1);
	}
	record(plain ? R_RR_PLAIN : R_RR_ENC, (double)rtts / (now_s() - t0),
	       pct(lat, rtts, 0.5), pct(lat, rtts, 0.99));
	free(lat);
	stop_pair(&b, ls);
}

/* run_handshakes measures n handshakes of one kind, conc at a time: conc
 * instances of A's links each close their pipe to B and wait for the next
 * handshake to bring it up, over and over. */
static void
run_handshakes(bool xx, bool cold, unsigned long n, unsigned conc, int row)
{
	struct link_bench_opts o = { .cold_cache = cold,
		                     .xx_only = xx,
		                     .redial_ms = redial_ms };
	struct links *ls[64];
	double *lat = calloc(n, sizeof(double)), t0[64], tall, c0;
	unsigned long started = 0, done = 0, slow = 0, nwedged = 0;
	struct side_b *b = calloc(1, sizeof(*b));
	bool busy[64];
	unsigned k;

	if (lat == NULL || b == NULL || conc < 1 || conc > 64) {
		die("out of memory, or a concurrency outside 1..64");
	}
	new_loop_a();
	start_b(b, &o);
	for (k = 0; k < conc; k++) {
		ls[k] = start_a(&o);
		busy[k] = false;
	}
	tall = now_s();
	c0 = cpu_s();
	while (done < n) {
		for (k = 0; k < conc; k++) {
			if (busy[k] && now_s() - t0[k] > STALL_S) {
				/* The link did not come back within STALL_S
				 * (with nng's pair1 sockets, nng 1.5 left a
				 * socket wedged now and then: no new pipe,
				 * and nng_close blocked for good). Leave it,
				 * count it, and go on with a new instance;
				 * the handshake is retried. */
				wedged++;
				nwedged++;
				ls[k] = start_a(&o);
				busy[k] = false;
				started--;
			}
			if (busy[k] && link_up(ls[k], cfg_b.node_id)) {
				/* The handshake's time: from the new
				 * connection (after the 0-9 ms redial wait
				 * and TCP connect) to up. */
				struct timespec ts;
				clock_gettime(CLOCK_MONOTONIC, &ts);
				busy[k] = false;
				lat[done] = ((double)ts.tv_sec * 1e6 +
				             (double)ts.tv_nsec / 1e3 -
				             (double)links_bench_hs_started(
				                 ls[k], cfg_b.node_id)) /
				            1e6;
				slow += lat[done] > 1;
				done++;
			}
			if (!busy[k] && started < n) {
				if (links_bench_rehandshake(
				        ls[k], cfg_b.node_id) != TB_OK) {
					die("no up link to close");
				}
				t0[k] = now_s();
				busy[k] = true;
				started++;
			}
		}
		if (done < n) {
			uv_run(loop_a, UV_RUN_ONCE);
		}
		if (nwedged > conc * 4) {
			fprintf(stderr,
			        "link_bench: %s: %lu of %lu done, %lu links "
			        "wedged: the row ends here\n",
			        rows[row].name, done, n, nwedged);
			break;
		}
	}
	if (done < n) {
		short_rows[row]++;
	}
	record(row, (double)done / (now_s() - tall), pct(lat, done, 0.5),
	       pct(lat, done, 0.99));
	if (done > 0 && hs_cpu_n[row] < MAXREP) {
		hs_cpu[row][hs_cpu_n[row]++] = (cpu_s() - c0) / (double)done;
	}
	stalls[row] += slow;
	wedges[row] += nwedged;
	free(lat);
	if (nwedged > 0) {
		return; /* this row's loop, links and B (its thread runs
		           on: b is not freed) stay behind */
	}
	for (k = 0; k < conc; k++) {
		links_stop(ls[k]);
	}
	uv_run(loop_a, UV_RUN_DEFAULT);
	for (k = 0; k < conc; k++) {
		links_free(ls[k]);
	}
	free_loop_a();
	uv_async_send(&b->stop);
	pthread_join(b->th, NULL);
	free(b);
}
/* ---- setup and the table ----------------------------------------------- */

static void
enrol(const char *tb)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd),
	         "set -e; cd '%s'; tb='%s'\n"
	         "$tb init --dir A --region 370000 --api 127.0.0.1:0 "
	         "  --link 127.0.0.1:0 >/dev/null\n"
	         "$tb init --dir B --region 370100 --root A/root.json "
	         "  --api 127.0.0.1:0 --link 127.0.0.1:0 >/dev/null\n"
	         "$tb keygen --out r0.key >/dev/null\n"
	         "$tb keygen --out r1.key >/dev/null\n"
	         "$tb cert request --region-key r0.key --region 370000 "
	         "  --out q0.json >/dev/null\n"
	         "$tb cert issue --key A/keys/officer.json --root A/root.json "
	         "  --request q0.json --days 30 --out c0.json >/dev/null\n"
	         "$tb cert request --region-key r1.key --region 370100 "
	         "  --out q1.json >/dev/null\n"
	         "$tb cert issue --key r0.key --issuer-cert c0.json "
	         "  --request q1.json --days 30 --out c1.json >/dev/null\n"
	         "$tb cert request --dir A --out qa.json >/dev/null\n"
	         "$tb cert issue --key r0.key --issuer-cert c0.json "
	         "  --request qa.json --days 30 --out a.json >/dev/null\n"
	         "$tb cert install --dir A a.json c0.json >/dev/null\n"
	         "$tb cert request --dir B --out qb.json >/dev/null\n"
	         "$tb cert issue --key r1.key --issuer-cert c1.json "
	         "  --request qb.json --days 30 --out b.json >/dev/null\n"
	         "$tb cert install --dir B b.json c1.json c0.json >/dev/null\n",
	         workdir, tb);
	if (system(cmd) != 0) {
		die("cannot enrol the two nodes with the tongban binary");
	}
}

static double
med_of(int r, int what)
{
	double v[MAXREP];
	int i;

	for (i = 0; i < rows[r].n; i++) {
		v[i] = what == 0   ? rows[r].ops[i]
		       : what == 1 ? rows[r].p50[i]
		                   : rows[r].p99[i];
	}
	return median(v, (size_t)rows[r].n);
}

/* ratio is the median over reps of a/b, paired by rep. */
static double
ratio(int a, int b)
{
	double v[MAXREP];
	int i, n = rows[a].n < rows[b].n ? rows[a].n : rows[b].n;

	for (i = 0; i < n; i++) {
		v[i] = rows[a].ops[i] / rows[b].ops[i];
	}
	return median(v, (size_t)n);
}

static unsigned long
arg_ul(char **argv, int i, int argc)
{
	if (i >= argc) {
		die("an option needs a number");
	}
	return strtoul(argv[i], NULL, 10);
}

int
main(int argc, char **argv)
{
	unsigned long reps = 3, msgs = 20000, rtts = 2000, hs = 300, rep;
	char path[PATH_MAX + 8], err[512];
	bool hs_only = false, warm_only = false;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: link_bench TONGBAN WORKDIR [--reps N] "
		                "[--msgs N] [--rtts N] [--handshakes N] "
		                "[--redial-ms N] [--handshakes-only] "
		                "[--xx-warm-only]\n");
		return 2;
	}
	workdir = argv[2];
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--reps")) {
			reps = arg_ul(argv, ++i, argc);
		} else if (!strcmp(argv[i], "--msgs")) {
			msgs = arg_ul(argv, ++i, argc);
		} else if (!strcmp(argv[i], "--rtts")) {
			rtts = arg_ul(argv, ++i, argc);
		} else if (!strcmp(argv[i], "--handshakes")) {
			hs = arg_ul(argv, ++i, argc);
		} else if (!strcmp(argv[i], "--redial-ms")) {
			redial_ms = (unsigned)arg_ul(argv, ++i, argc);
		} else if (!strcmp(argv[i], "--handshakes-only")) {
			hs_only = true;
		} else if (!strcmp(argv[i], "--xx-warm-only")) {
			hs_only = warm_only = true;
		} else {
			die("unknown option (see the usage)");
		}
	}
	if (reps < 1 || reps > MAXREP || msgs < 1 || rtts < 1 || hs < 1 ||
	    redial_ms < 1 || redial_ms > 10000) {
		die("--reps must be 1..16; --msgs, --rtts, --handshakes >= 1; "
		    "--redial-ms 1..10000");
	}
	if (sodium_init() < 0) {
		die("sodium_init");
	}
	tb_log_set_level(getenv("TB_BENCH_LOG") != NULL ? TB_LOG_INFO
	                                                : TB_LOG_ERROR);
	enrol(argv[1]);
	snprintf(path, sizeof(path), "%s/A", workdir);
	if (node_config_load(path, &cfg_a, err, sizeof(err)) != 0) {
		die(err);
	}
	snprintf(path, sizeof(path), "%s/B", workdir);
	if (node_config_load(path, &cfg_b, err, sizeof(err)) != 0) {
		die(err);
	}
	for (rep = 1; rep <= reps; rep++) {
		fprintf(stderr, "== links rep %lu/%lu\n", rep, reps);
		if (!hs_only) {
			run_link(false, msgs, rtts);
			run_link(true, msgs, rtts);
			run_nng(msgs, rtts);
		}
		if (warm_only) {
			run_handshakes(true, false, hs, 8, R_HS_XX_WARM);
			continue;
		}
		run_handshakes(true, false, hs, 1, R_HS_XX_WARM1);
		run_handshakes(true, true, hs, 1, R_HS_XX_COLD1);
		run_handshakes(false, false, hs, 1, R_HS_IK_WARM1);
		run_handshakes(true, false, hs, 8, R_HS_XX_WARM);
		run_handshakes(true, true, hs, 8, R_HS_XX_COLD);
		run_handshakes(false, false, hs, 8, R_HS_IK_WARM);
	}
	printf("links: %lu rep(s), medians; %lu x 1 KiB one-way, %lu round "
	       "trips, %lu handshakes per rep and row (redial wait: a random "
	       "time below %u ms); latencies in ms\n\n",
	       reps, msgs, rtts, hs, redial_ms);
	printf("%-34s%10s%9s%9s%9s\n", "scenario", "ops/s", "MB/s", "p50",
	       "p99");
	for (i = 0; i < R_COUNT; i++) {
		double ops = med_of(i, 0);
		printf("%-34s%10.0f", rows[i].name, ops);
		if (i <= R_TP_NNG) {
			printf("%9.1f%9s%9s\n", ops * MSG / 1e6, "-", "-");
		} else {
			printf("%9s%9.3f%9.3f\n", "-", med_of(i, 1) * 1e3,
			       med_of(i, 2) * 1e3);
		}
	}
	for (i = R_HS_XX_WARM1; i < R_COUNT; i++) {
		if (stalls[i] > 0) {
			printf("  (%s: %lu of %lu handshakes took over 1 s: "
			       "counted in ops/s and p99)\n",
			       rows[i].name, stalls[i], hs * reps);
		}
		if (wedges[i] > 0) {
			printf("  (%s: %lu link(s) never came back within %d s "
			       "(wedged): each cost %d s "
			       "of the row's time, counted in ops/s; the "
			       "handshake was retried on a new link)\n",
			       rows[i].name, wedges[i], STALL_S, STALL_S);
		}
		if (short_rows[i] > 0) {
			printf("  (%s: %lu rep(s) ended early after more than "
			       "4 wedged links per link: figures over the "
			       "handshakes done)\n",
			       rows[i].name, short_rows[i]);
		}
	}
	printf("\nCPU per handshake (this process: both ends, all threads; "
	       "median over reps), ms:\n");
	for (i = R_HS_XX_WARM1; i < R_COUNT; i++) {
		if (hs_cpu_n[i] > 0) {
			printf("  %-34s%6.3f\n", rows[i].name,
			       median(hs_cpu[i], hs_cpu_n[i]) * 1e3);
		}
	}
	printf("\nratios of ops/s (median over reps of the paired ratio)\n");
	printf("  one-way:          link-enc/link-plain %.3f, "
	       "link-enc/nng-pair %.3f\n",
	       ratio(R_TP_ENC, R_TP_PLAIN), ratio(R_TP_ENC, R_TP_NNG));
	printf("  request/response: link-enc/link-plain %.3f, "
	       "link-enc/nng-reqrep %.3f\n",
	       ratio(R_RR_ENC, R_RR_PLAIN), ratio(R_RR_ENC, R_RR_NNG));
	printf("\ntargets\n");
	printf("  %-8s encrypted >= 0.8x plain, one-way 1 KiB: %.3fx\n",
	       ratio(R_TP_ENC, R_TP_PLAIN) >= 0.8 ? "MET" : "NOT MET",
	       ratio(R_TP_ENC, R_TP_PLAIN));
	printf("  %-8s >= 1,000 full (XX) handshakes/s, cache warm: %.0f/s "
	       "(cold: %.0f/s; 8 links handshaking at a time)\n",
	       med_of(R_HS_XX_WARM, 0) >= 1000 ? "MET" : "NOT MET",
	       med_of(R_HS_XX_WARM, 0), med_of(R_HS_XX_COLD, 0));
	node_config_wipe(&cfg_a);
	node_config_wipe(&cfg_b);
	if (wedged > 0) {
		/* A wedged link's state is unknown: end without tearing
		 * it down. */
		fflush(stdout);
		_exit(0);
	}
	nng_fini();
	return 0;
}
