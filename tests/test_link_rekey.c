/* Rekeying on live links, two endpoints in one process over TCP loopback:
 * A replaces its sending key every 4 frames (link_rekey_frames), B every
 * second (link_rekey_seconds). Bursts both ways at once keep many frames
 * in flight across the rekeys; every message must arrive, in order, and
 * the link must stay up on the same connection. The view and the metrics
 * count the rekeys on both ends. */
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

#define T_SEQ 103 /* one-way: a sequence number and padding */
#define BURST 3000

static uv_loop_t loop;
static char dir[PATH_MAX];

struct node {
	const char *name;
	struct node_config cfg;
	struct links *ls;
	char url[160];
	unsigned seq_n, seq_bad;
};

static struct node A = { .name = "A" }, B = { .name = "B" };

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

static int64_t
mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* run_until runs the loop until cond(arg) holds or ms pass. */
static bool
run_until(bool (*cond)(void *), void *arg, int ms)
{
	int64_t end = mono_ms() + ms;
	struct timespec nap = { 0, 500000 };

	while (!cond(arg)) {
		if (mono_ms() > end) {
			return false;
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		nanosleep(&nap, NULL);
	}
	return true;
}

static bool
never(void *arg)
{
	(void)arg;
	return false;
}

static bool
both_up(void *arg)
{
	(void)arg;
	return link_up(A.ls, "370100") && link_up(B.ls, "370000");
}

static bool
bursts_in(void *arg)
{
	(void)arg;
	return A.seq_n >= BURST && B.seq_n >= BURST;
}

static long long view_int(struct links *ls, const char *field);

static bool
rx_caught_up(void *arg)
{
	(void)arg;
	return view_int(A.ls, "rekeys_tx") == view_int(B.ls, "rekeys_rx");
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

static int
start(struct node *n, uint64_t rekey_frames, unsigned rekey_seconds)
{
	struct link_config lc = { 0 };
	char path[PATH_MAX + 8], err[512];

	snprintf(path, sizeof(path), "%s/%s", dir, n->name);
	if (node_config_load(path, &n->cfg, err, sizeof(err)) != 0) {
		printf("# %s: %s\n", n->name, err);
		return -1;
	}
	lc.loop = &loop;
	lc.dir = n->cfg.dir;
	lc.listen = "127.0.0.1:0";
	lc.node_id = n->cfg.node_id;
	lc.region = n->cfg.region;
	lc.kx_sk = n->cfg.kx_sk;
	lc.poll_ms = 200;
	lc.ping_ms = 200;
	lc.rekey_frames = rekey_frames;
	lc.rekey_seconds = rekey_seconds;
	if (links_start(&lc, &n->ls, err, sizeof(err)) != TB_OK) {
		printf("# %s: %s\n", n->name, err);
		return -1;
	}
	links_url(n->ls, n->url, sizeof(n->url));
	link_handle(n->ls, T_SEQ, on_seq, n);
	return 0;
}

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

/* view_int reads a field of the first link in ls's view that is up. */
static long long
view_int(struct links *ls, const char *field)
{
	json_t *v = links_view_json(ls), *l;
	long long out = -1;
	size_t i;

	json_array_foreach(json_object_get(v, "links"), i, l)
	{
		const char *st = json_string_value(json_object_get(l, "state"));
		if (st != NULL && !strcmp(st, "up")) {
			out = json_integer_value(json_object_get(l, field));
			break;
		}
	}
	json_decref(v);
	return out;
}

static void
burst(struct node *from, const char *to)
{
	uint8_t buf[1024];
	unsigned i;

	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < BURST; i++) {
		memcpy(buf, &i, 4);
		if (link_send(from->ls, to, T_SEQ, buf, sizeof(buf)) != TB_OK) {
			break;
		}
	}
	is_int(i, BURST, "%s queues %d messages of 1 KiB", from->name, BURST);
}

int
main(int argc, char **argv)
{
	char tb[PATH_MAX + 32], tmpl[] = "/tmp/tongban-rekey.XXXXXX";
	long long hs, a_tx, a_rx, b_tx, b_tx0;
	char *text;

	(void)argc;
	if (sodium_init() < 0 || mkdtemp(tmpl) == NULL) {
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", tmpl);
	if (getenv("TB_BUILD") != NULL) {
		snprintf(tb, sizeof(tb), "%s/tongban", getenv("TB_BUILD"));
	} else {
		snprintf(tb, sizeof(tb), "%s", argv[0]);
		*strrchr(tb, '/') = '\0';
		strncat(tb, "/../tongban", sizeof(tb) - strlen(tb) - 1);
	}
	uv_loop_init(&loop);
	tb_log_set_level(TB_LOG_WARN);
	if (enrol(tb) != 0) {
		printf("Bail out! %s could not enrol the two nodes\n", tb);
		return 1;
	}
	/* A: a rekey every 4 frames (and by time only after an hour); B:
	 * every second by time (and by count only after 2^20 frames). */
	if (start(&A, 4, 3600) != 0 || start(&B, 0, 1) != 0) {
		printf("Bail out! the links of A or B did not start\n");
		return 1;
	}
	ok(sh("'%s' link add --dir '%s/A' --region 370100 --url %s "
	      ">/dev/null",
	      tb, dir, B.url) == 0,
	   "link add: A dials B");
	ok(run_until(both_up, NULL, 5000), "the link comes up");
	hs = view_int(A.ls, "handshakes");

	/* Both ways at once: each end seals many frames (A rekeying every
	 * fourth) before the other has read them. */
	burst(&A, B.cfg.node_id);
	burst(&B, A.cfg.node_id);
	ok(run_until(bursts_in, NULL, 30000), "both bursts arrive");
	is_int(B.seq_n, BURST, "B got all %d of A's", BURST);
	is_int(A.seq_n, BURST, "A got all %d of B's", BURST);
	is_int(A.seq_bad + B.seq_bad, 0, "in order, each way");
	ok(both_up(NULL), "the link stays up");
	is_int(view_int(A.ls, "handshakes"), hs,
	       "on the same connection (no new handshake)");
	a_tx = view_int(A.ls, "rekeys_tx");
	ok(a_tx >= BURST / 4, "A rekeyed at least %d times sending (%lld)",
	   BURST / 4, a_tx);
	/* (A PING may be in flight: wait until B has read all A sent.) */
	ok(run_until(rx_caught_up, NULL, 2000),
	   "B switched keys as often, receiving (%lld and %lld)",
	   view_int(A.ls, "rekeys_tx"), view_int(B.ls, "rekeys_rx"));

	/* Time: B's pongs and pings keep frames flowing; its key is
	 * replaced every second. */
	b_tx0 = view_int(B.ls, "rekeys_tx");
	run_until(never, NULL, 3500);
	b_tx = view_int(B.ls, "rekeys_tx");
	a_rx = view_int(A.ls, "rekeys_rx");
	ok(b_tx - b_tx0 >= 2 && b_tx - b_tx0 <= 5,
	   "B rekeys by time: %lld times in 3.5 s at 1 s", b_tx - b_tx0);
	ok(a_rx >= b_tx - 1 && a_rx <= b_tx,
	   "A followed (%lld of %lld; one may be in flight)", a_rx, b_tx);
	ok(both_up(NULL), "the link is still up");
	is_int(view_int(A.ls, "handshakes"), hs, "still no new handshake");
	text = links_metrics_text(A.ls);
	ok(text != NULL &&
	       strstr(text, "tongban_link_rekeys_total{dir=\"tx\"}") != NULL,
	   "metrics: tongban_link_rekeys_total");
	free(text);

	links_stop(A.ls);
	links_stop(B.ls);
	uv_run(&loop, UV_RUN_DEFAULT);
	links_free(A.ls);
	links_free(B.ls);
	is_int(uv_loop_close(&loop), 0, "every handle closed");
	node_config_wipe(&A.cfg);
	node_config_wipe(&B.cfg);
	sh("rm -rf '%s'", dir);
	nng_fini();
	return done_testing();
}
