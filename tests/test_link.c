/* Two link endpoints in one process, over TCP loopback: handshake, one-way
 * messages in order (a burst each way: each connection's one send in
 * flight and TCP's window must lose nothing), requests
 * and their failures, chunked messages, queueing before the handshake,
 * argument errors, the view and the metrics, and stopping with requests in
 * flight. The nodes are enrolled with real certificates by the tongban
 * binary, as an operator would. */
#include "node/config.h"
#include "node/link.h"
#include "node/log.h"
#include "schema/error.h"
#include "tests/tap.h"

#include <limits.h>
#include <nng/nng.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T_ECHO   100 /* request: answered with its body */
#define T_SILENT 101 /* request: never answered */
#define T_ERROR  102 /* request: answered with TB_ECONFLICT */
#define T_SEQ    103 /* one-way: a sequence number and padding */
#define T_BIG    104 /* one-way: a large message */

static uv_loop_t loop;
static char dir[PATH_MAX];

struct node {
	const char *name;
	struct node_config cfg;
	struct links *ls;
	char url[160];
	/* what arrived */
	unsigned seq_n, seq_bad;
	uint8_t *big;
	size_t big_len;
	char big_from[17];
};

static struct node A = { .name = "A" }, B = { .name = "B" };

/* sh runs a shell command line; 0 on success. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void
nap(void)
{
	struct timespec ts = { 0, 500000 };

	nanosleep(&ts, NULL);
}

/* spin runs the loop until *flag is set or ms pass; returns *flag. */
static bool
spin(volatile bool *flag, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!*flag) {
		uv_run(&loop, UV_RUN_NOWAIT);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		        (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    ms) {
			break;
		}
		nap();
	}
	return *flag;
}

static void
spin_ms(int ms)
{
	volatile bool never = false;

	spin(&never, ms);
}

static bool
wait_up(struct links *ls, const char *peer, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (link_up(ls, peer)) {
			return true;
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		        (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    ms) {
			return false;
		}
		nap();
	}
}

/* ---- handlers ---------------------------------------------------------- */

static void
on_echo(struct links *ls, const struct link_msg *m, void *arg)
{
	(void)arg;
	link_reply(ls, &m->reply_to, T_ECHO, m->body, m->len);
}

static void
on_silent(struct links *ls, const struct link_msg *m, void *arg)
{
	(void)ls;
	(void)m;
	(void)arg;
}

static void
on_error(struct links *ls, const struct link_msg *m, void *arg)
{
	(void)arg;
	link_reply_error(ls, &m->reply_to, TB_ECONFLICT, "not today");
}

static void
on_seq(struct links *ls, const struct link_msg *m, void *arg)
{
	struct node *n = arg;
	uint32_t v;

	(void)ls;
	if (m->len < 4) {
		n->seq_bad++;
		return;
	}
	memcpy(&v, m->body, 4);
	if (v != n->seq_n) {
		n->seq_bad++;
	}
	n->seq_n++;
}

static void
on_big(struct links *ls, const struct link_msg *m, void *arg)
{
	struct node *n = arg;

	(void)ls;
	free(n->big);
	n->big = malloc(m->len);
	memcpy(n->big, m->body, m->len);
	n->big_len = m->len;
	snprintf(n->big_from, sizeof(n->big_from), "%s", m->peer_node_id);
}

/* ---- requests ---------------------------------------------------------- */

struct answer {
	volatile bool done;
	int status;
	uint32_t type;
	size_t len;
	char body[64];
	char from[17];
};

static void
on_answer(void *arg, int status, const struct link_msg *m)
{
	struct answer *a = arg;

	a->done = true;
	a->status = status;
	if (m != NULL) {
		a->type = m->type;
		a->len = m->len;
		snprintf(a->body, sizeof(a->body), "%.*s",
		         (int)(m->len < 63 ? m->len : 63),
		         (const char *)m->body);
		snprintf(a->from, sizeof(a->from), "%s", m->peer_node_id);
	}
}

/* ---- setup ------------------------------------------------------------- */

static int
start(struct node *n, const char *listen)
{
	struct link_config lc = { 0 };
	char path[PATH_MAX + 8], err[512];
	int rv;

	snprintf(path, sizeof(path), "%s/%s", dir, n->name);
	if (node_config_load(path, &n->cfg, err, sizeof(err)) != 0) {
		printf("# %s: %s\n", n->name, err);
		return -1;
	}
	lc.loop = &loop;
	lc.dir = n->cfg.dir;
	lc.listen = listen;
	lc.node_id = n->cfg.node_id;
	lc.region = n->cfg.region;
	lc.kx_sk = n->cfg.kx_sk;
	lc.poll_ms = 200;
	lc.ping_ms = 300;
	if ((rv = links_start(&lc, &n->ls, err, sizeof(err))) != TB_OK) {
		printf("# %s: %s\n", n->name, err);
		return -1;
	}
	links_url(n->ls, n->url, sizeof(n->url));
	link_handle(n->ls, T_ECHO, on_echo, n);
	link_handle(n->ls, T_SILENT, on_silent, n);
	link_handle(n->ls, T_ERROR, on_error, n);
	link_handle(n->ls, T_SEQ, on_seq, n);
	link_handle(n->ls, T_BIG, on_big, n);
	return 0;
}

/* enrol makes A (370000, its own root) and B (370100), certified by the
 * tongban binary next to this test. */
static int
enrol(const char *tb)
{
	return sh(
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
	    dir, tb);
}

int
main(int argc, char **argv)
{
	char tb[PATH_MAX + 32], tmpl[] = "/tmp/tongban-link.XXXXXX";
	struct answer a[8];
	uint8_t *big, buf[1024];
	json_t *view;
	char *text;
	size_t i;
	int rv;

	(void)argc;
	if (sodium_init() < 0 || mkdtemp(tmpl) == NULL) {
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", tmpl);
	if (getenv("TB_BUILD") != NULL) {
		snprintf(tb, sizeof(tb), "%s/tongban", getenv("TB_BUILD"));
	} else {
		/* BUILD/tests/test_link -> BUILD/tongban */
		snprintf(tb, sizeof(tb), "%s", argv[0]);
		*strrchr(tb, '/') = '\0';
		strncat(tb, "/../tongban", sizeof(tb) - strlen(tb) - 1);
	}
	uv_loop_init(&loop);
	tb_log_set_level(TB_LOG_WARN);
	if (enrol(tb) != 0) {
		printf("Bail out! %s could not enrol the two nodes (set "
		       "TB_BUILD to the build directory)\n",
		       tb);
		return 1;
	}
	ok(1, "the tongban binary enrols A (370000) and B (370100)");
	if (start(&A, "127.0.0.1:0") != 0 ||
	    start(&B, "tcp://127.0.0.1:0") != 0) {
		printf("Bail out! the links of A or B did not start\n");
		return 1;
	}
	ok(1, "A's and B's links start");
	like(A.url, "tcp://127.0.0.1:", "A reports its bound URL");

	/* Only A dials: what B sends goes over its listening socket. */
	is_int(link_send(A.ls, "370100", T_SEQ, "x", 1), TB_ENOTFOUND,
	       "no link to B before links.json names it");
	ok(sh("'%s' link add --dir '%s/A' --region 370100 --url %s "
	      ">/dev/null",
	      tb, dir, B.url) == 0,
	   "link add on the running A");
	spin_ms(400);
	{
		uint32_t zero = 0;
		is_int(link_send(A.ls, "370100", T_SEQ, &zero, 4), TB_OK,
		       "a message queued while the link is still connecting");
	}
	ok(wait_up(A.ls, "370100", 5000), "A's link to B comes up");
	ok(wait_up(B.ls, "370000", 5000), "B sees it up (inbound)");
	ok(wait_up(B.ls, A.cfg.node_id, 100), "B finds A by node id");
	ok(!link_up(A.ls, "370200"), "no link to 370200");
	spin_ms(200);
	is_int(B.seq_n, 1, "the message queued before the handshake arrived");

	/* A burst from the listening end: 3000 messages, in order. */
	B.seq_n = A.seq_n = 0;
	memset(buf, 0xab, sizeof(buf));
	for (i = 0; i < 3000; i++) {
		uint32_t v = (uint32_t)i;
		memcpy(buf, &v, 4);
		if ((rv = link_send(B.ls, A.cfg.node_id, T_SEQ, buf,
		                    sizeof(buf))) != TB_OK) {
			break;
		}
	}
	is_int(i, 3000, "B queues 3000 messages of 1 KiB for A");
	{
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (A.seq_n < 3000) {
			uv_run(&loop, UV_RUN_NOWAIT);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec > 20) {
				break;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("# 3000 x 1 KiB listener to dialer: %.0f msg/s\n",
		       3000.0 / ((double)(t1.tv_sec - t0.tv_sec) +
		                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9));
	}
	is_int(A.seq_n, 3000, "all 3000 arrive: nothing is dropped on the way");
	is_int(A.seq_bad, 0, "in order");
	ok(link_up(B.ls, A.cfg.node_id), "and the link stays up");
	for (i = 0; i < 3000; i++) {
		uint32_t v = (uint32_t)i;
		memcpy(buf, &v, 4);
		link_send(A.ls, B.cfg.node_id, T_SEQ, buf, sizeof(buf));
	}
	{
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (B.seq_n < 3000) {
			uv_run(&loop, UV_RUN_NOWAIT);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec > 20) {
				break;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("# 3000 x 1 KiB dialer to listener: %.0f msg/s\n",
		       3000.0 / ((double)(t1.tv_sec - t0.tv_sec) +
		                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9));
	}
	is_int(B.seq_n, 3000, "and 3000 the other way");
	is_int(B.seq_bad, 0, "in order");

	/* Requests. */
	memset(a, 0, sizeof(a));
	is_int(link_request(A.ls, "370100", T_ECHO, "ping?", 5, 2000, on_answer,
	                    &a[0]),
	       TB_OK, "a request");
	ok(!a[0].done, "its callback does not run inside the call");
	ok(spin(&a[0].done, 3000), "answered");
	is_int(a[0].status, TB_OK, "status ok");
	is_str(a[0].body, "ping?", "with the handler's answer");
	is_str(a[0].from, B.cfg.node_id, "from B");
	link_request(B.ls, A.cfg.node_id, T_SILENT, NULL, 0, 300, on_answer,
	             &a[1]);
	ok(spin(&a[1].done, 3000), "a request nobody answers ...");
	is_int(a[1].status, TB_ETIMEOUT, "... times out");
	link_request(A.ls, B.cfg.node_id, 999, "?", 1, 2000, on_answer, &a[2]);
	ok(spin(&a[2].done, 3000), "a request of an unknown type ...");
	is_int(a[2].status, TB_ENOTIMPL, "... is answered not_implemented");
	link_request(A.ls, B.cfg.node_id, T_ERROR, NULL, 0, 2000, on_answer,
	             &a[3]);
	ok(spin(&a[3].done, 3000), "a handler's error ...");
	is_int(a[3].status, TB_ECONFLICT, "... comes back with its code");
	is_str(a[3].body, "not today", "and its reason");
	link_request(A.ls, "370100", LINK_T_PING, "rtt", 3, 2000, on_answer,
	             &a[4]);
	ok(spin(&a[4].done, 3000) && a[4].status == TB_OK &&
	       a[4].type == LINK_T_PONG && !strcmp(a[4].body, "rtt"),
	   "PING is answered by PONG with the same body");

	/* Chunks: 5 MiB each way. */
	big = malloc(5u << 20);
	randombytes_buf(big, 5u << 20);
	is_int(link_send(B.ls, "370000", T_BIG, big, 5u << 20), TB_OK,
	       "a 5 MiB message from the listening end");
	{
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (A.big_len != (5u << 20)) {
			uv_run(&loop, UV_RUN_NOWAIT);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec > 20) {
				break;
			}
		}
	}
	ok(A.big_len == (5u << 20) && !memcmp(A.big, big, 5u << 20),
	   "arrives whole, in chunks");
	is_str(A.big_from, B.cfg.node_id, "from B");
	is_int(link_send(A.ls, "370100", T_BIG, big, 5u << 20), TB_OK,
	       "5 MiB from the dialing end");
	{
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (B.big_len != (5u << 20)) {
			uv_run(&loop, UV_RUN_NOWAIT);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec > 20) {
				break;
			}
		}
	}
	ok(B.big_len == (5u << 20) && !memcmp(B.big, big, 5u << 20),
	   "arrives whole");
	free(big);

	/* Argument errors. */
	is_int(link_send(A.ls, "370100", 5, "x", 1), TB_EINVAL,
	       "link_send refuses a reserved type");
	is_int(link_send(A.ls, "370100", T_SEQ, NULL, LINK_MSG_MAX + 1),
	       TB_ETOOBIG, "and a message over LINK_MSG_MAX");
	is_int(link_send(A.ls, "0123456789abcdef", T_SEQ, "x", 1), TB_ENOTFOUND,
	       "and an unknown node");
	is_int(link_handle(A.ls, 3, on_echo, NULL), TB_EINVAL,
	       "link_handle refuses a reserved type");

	/* The view and the metrics. */
	spin_ms(400); /* a probe PING measures the RTT */
	view = links_view_json(A.ls);
	is_int(json_array_size(json_object_get(view, "links")), 1,
	       "A's view has one link");
	is_str(json_string_value(json_object_get(
	           json_array_get(json_object_get(view, "links"), 0), "state")),
	       "up", "up");
	ok(json_is_real(json_object_get(
	       json_array_get(json_object_get(view, "links"), 0), "rtt_ms")),
	   "with an RTT");
	json_decref(view);
	text = links_metrics_text(B.ls);
	ok(text != NULL && strstr(text, "tongban_link_up{peer=\"") != NULL,
	   "metrics: tongban_link_up");
	ok(text != NULL &&
	       strstr(text, "tongban_link_handshakes_total{result=\"ok\"} 1") !=
	           NULL,
	   "metrics: one handshake");
	free(text);

	/* B goes away and comes back on the same port: A's link sees the
	 * connection close, redials (failed connects back off) and comes
	 * back up with a new handshake. */
	{
		char burl[160];
		bool down = false;
		int k;

		snprintf(burl, sizeof(burl), "%s", B.url);
		links_stop(B.ls);
		spin_ms(20);
		links_free(B.ls);
		node_config_wipe(&B.cfg);
		for (k = 0; k < 200 && !down; k++) {
			spin_ms(10);
			down = !link_up(A.ls, "370100");
		}
		ok(down, "B stops: A's link to B is down");
		spin_ms(700); /* A's connects fail meanwhile */
		ok(start(&B, burl) == 0, "B starts again on the same port");
		ok(wait_up(A.ls, "370100", 10000),
		   "A redials and its link to B comes back up");
		ok(wait_up(B.ls, "370000", 5000), "B sees it up again");
		text = links_metrics_text(A.ls);
		ok(text != NULL &&
		       strstr(text, "tongban_link_handshakes_total{result="
		                    "\"ok\"} 2") != NULL,
		   "with a second handshake");
		free(text);
	}

	/* Stopping with a request in flight fails it, at once. */
	memset(&a[5], 0, sizeof(a[5]));
	link_request(A.ls, "370100", T_SILENT, NULL, 0, 60000, on_answer,
	             &a[5]);
	spin_ms(50);
	{
		struct timespec t0, t1;
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		links_stop(A.ls);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		printf("# links_stop with an up link took %.2f ms\n", ms);
		ok(ms < 1000, "links_stop returns within a second");
	}
	ok(a[5].done && a[5].status == TB_ECLOSED,
	   "links_stop fails the pending request with closed");
	is_int(link_send(A.ls, "370100", T_SEQ, "x", 1), TB_ECLOSED,
	       "and sends after it are refused");
	links_stop(B.ls);
	uv_run(&loop, UV_RUN_DEFAULT);
	links_free(A.ls);
	links_free(B.ls);
	is_int(uv_loop_close(&loop), 0, "every handle closed");
	free(A.big);
	free(B.big);
	node_config_wipe(&A.cfg);
	node_config_wipe(&B.cfg);
	sh("rm -rf '%s'", dir);
	nng_fini();
	return done_testing();
}
