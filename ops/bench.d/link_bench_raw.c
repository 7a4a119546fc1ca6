/* The link benchmark's raw nng rows: pair1 one-way messages (a thread
 * sends, a thread receives) and req/rep round trips with one request in
 * flight, both over TCP on 127.0.0.1, 1 KiB each. */
#include "ops/bench.d/link_bench.h"

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
#include <math.h>
#include <sched.h>

struct raw {
	nng_socket s;
	pthread_t th;
	int port;
	unsigned long want;
	atomic_ulong got;
	_Atomic double t_last;
};

static void
raw_listen(struct raw *w, int (*open)(nng_socket *))
{
	nng_listener l;

	if (open(&w->s) != 0 ||
	    nng_listen(w->s, "tcp://127.0.0.1:0", &l, 0) != 0 ||
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &w->port) != 0) {
		die("cannot listen with raw nng");
	}
}

static void
raw_dial(nng_socket *s, int (*open)(nng_socket *), int port)
{
	char url[64];

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	if (open(s) != 0 || nng_dial(*s, url, NULL, 0) != 0) {
		die("cannot dial with raw nng");
	}
}

static void *
pair_sink(void *arg)
{
	struct raw *w = arg;
	nng_msg *m;

	while (nng_recvmsg(w->s, &m, 0) == 0) {
		nng_msg_free(m);
		if (atomic_fetch_add(&w->got, 1) + 1 == w->want) {
			w->t_last = now_s();
		}
	}
	return NULL;
}

static void *
rep_echo(void *arg)
{
	struct raw *w = arg;
	nng_msg *m;

	while (nng_recvmsg(w->s, &m, 0) == 0) {
		if (nng_sendmsg(w->s, m, 0) != 0) {
			nng_msg_free(m);
		}
	}
	return NULL;
}

void
run_nng(unsigned long msgs, unsigned long rtts)
{
	struct raw w;
	nng_socket c;
	uint8_t body[MSG];
	double t0, t1, *lat = calloc(rtts, sizeof(double));
	unsigned long i;
	size_t sz;
	void *rb;

	if (lat == NULL) {
		die("out of memory");
	}
	randombytes_buf(body, sizeof(body));
	memset(&w, 0, sizeof(w));
	w.want = msgs;
	raw_listen(&w, nng_pair1_open);
	pthread_create(&w.th, NULL, pair_sink, &w);
	raw_dial(&c, nng_pair1_open, w.port);
	t0 = now_s();
	for (i = 0; i < msgs; i++) {
		if (nng_send(c, body, MSG, 0) != 0) {
			die("nng_send (pair1)");
		}
	}
	while (atomic_load(&w.got) < msgs) {
		if (now_s() - t0 > 120) {
			die("pair1 messages did not all arrive in 120 s");
		}
		sched_yield();
	}
	record(R_TP_NNG, (double)msgs / (w.t_last - t0), NAN, NAN);
	nng_close(c);
	nng_close(w.s);
	pthread_join(w.th, NULL);

	memset(&w, 0, sizeof(w));
	raw_listen(&w, nng_rep0_open);
	pthread_create(&w.th, NULL, rep_echo, &w);
	raw_dial(&c, nng_req0_open, w.port);
	t0 = now_s();
	for (i = 0; i < rtts; i++) {
		t1 = now_s();
		if (nng_send(c, body, MSG, 0) != 0 ||
		    nng_recv(c, &rb, &sz, NNG_FLAG_ALLOC) != 0) {
			die("nng req/rep");
		}
		lat[i] = now_s() - t1;
		if (sz != MSG) {
			die("nng rep answered a wrong size");
		}
		nng_free(rb, sz);
	}
	record(R_RR_NNG, (double)rtts / (now_s() - t0), pct(lat, rtts, 0.5),
	       pct(lat, rtts, 0.99));
	nng_close(c);
	nng_close(w.s);
	pthread_join(w.th, NULL);
	free(lat);
}
