/* What the link benchmark's two files share (ops/bench.d/link_bench.c,
 * link_bench_raw.c). */
#ifndef TB_OPS_LINK_BENCH_H
#define TB_OPS_LINK_BENCH_H

#include <stddef.h>

#define MSG    1024 /* bytes per message */
#define MAXREP 16

/* One result row per scenario, one value per rep. */
struct row {
	const char *name;
	double ops[MAXREP], p50[MAXREP], p99[MAXREP];
	int n;
};
enum {
	R_TP_ENC,
	R_TP_PLAIN,
	R_TP_NNG,
	R_RR_ENC,
	R_RR_PLAIN,
	R_RR_NNG,
	R_HS_XX_WARM1,
	R_HS_XX_COLD1,
	R_HS_IK_WARM1,
	R_HS_XX_WARM,
	R_HS_XX_COLD,
	R_HS_IK_WARM,
	R_COUNT
};

/* now_s: CLOCK_MONOTONIC in seconds. */
double now_s(void);
/* die prints what and exits 1. */
void die(const char *what) __attribute__((noreturn));
/* pct is the nearest-rank percentile q of v[n] (sorted in place). */
double pct(double *v, size_t n, double q);
/* record adds one rep's figures to row r. */
void record(int r, double ops, double p50, double p99);
/* run_nng measures one rep of raw nng: pair1 one-way and req/rep. */
void run_nng(unsigned long msgs, unsigned long rtts);

#endif
