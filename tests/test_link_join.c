/* The link layer's join pattern (envelope 3, node/link.h): a node with no
 * certificate does Noise XX with a listening endpoint and carries a
 * request in the third message. The endpoint delivers it to the join
 * callback with the key the handshake proved, answers with one
 * LINK_T_JOIN message, refuses anything but credits from the joiner, and
 * refuses the pattern altogether without a callback. The joiner runs on a
 * thread of its own (blocking calls on a link connection, node/link_wire.h:
 * the links' length-prefixed frames on an nng byte stream), the endpoint
 * on the loop. */
#include "node/config.h"
#include "node/link.h"
#include "node/link_wire.h"
#include "node/log.h"
#include "schema/canon.h"
#include "schema/frame.h"
#include "schema/link_payload.h"
#include "schema/noise.h"
#include "tests/fs_util.h"
#include "tests/tap.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uv_loop_t loop;
static char dir[PATH_MAX];
static struct links *LS;
static char URL[160], NODE_ID[17];

/* What the join callback saw. */
static int joins;
static char seen_hello[64];
static uint8_t seen_kx[32];

/* The joiner: what to do and what happened. */
enum jmode { J_ASK, J_ASK_THEN_MSG, J_EMPTY, J_NONE, J_HOLD };
static atomic_bool release; /* J_HOLD joiners close once set */
struct joiner {
	enum jmode mode;
	uint8_t sk[32], pk[32];
	int got_msg2;     /* the listener answered the first message */
	char answer[256]; /* the LINK_T_JOIN body */
	atomic_bool done;
};

static void
on_join(struct links *ls, const json_t *req, const uint8_t kx[32],
        const struct link_reply_to *to, void *arg)
{
	const char *ans = "{\"ok\":true}";

	(void)arg;
	joins++;
	snprintf(seen_hello, sizeof(seen_hello), "%s",
	         json_string_value(json_object_get(req, "hello"))
	             ? json_string_value(json_object_get(req, "hello"))
	             : "");
	memcpy(seen_kx, kx, 32);
	link_join_answer(ls, to, ans, strlen(ans));
}

static int
seal_send(struct link_wire *w, struct frame *fr, const uint8_t *p, size_t n)
{
	uint8_t f[256];
	size_t fl = sizeof(f);

	if (frame_seal(fr, FRAME_DATA, p, n, f, &fl) != TB_OK) {
		return -1;
	}
	return link_wire_send(w, f, fl, 3000);
}

static void *
joiner_run(void *arg)
{
	struct joiner *j = arg;
	uint8_t env[12] = { 'T', 1, 3, 0 }, pro[64], out[512], in[4096];
	uint8_t p[LINK_HDR + 8], *m;
	size_t plen = strlen("tongban link/1"), n, ml;
	struct canon_buf req = { 0 };
	struct noise_hs hs;
	struct noise_session ses;
	struct frame fr;
	struct link_payload d;
	enum frame_type ty;
	struct link_wire s;
	char err[128];
	json_t *doc;
	int frames = 0, i;

	memset(&fr, 0, sizeof(fr));
	canon_unhex(NODE_ID, env + 4, 8);
	memcpy(pro, "tongban link/1", plen);
	memcpy(pro + plen, env, 12);
	doc = json_pack("{s:s}", "hello", "from the joiner");
	canon_encode(doc, &req, err, sizeof(err));
	json_decref(doc);
	if (link_wire_dial(&s, URL, 3000) != TB_OK) {
		link_wire_close(&s);
		goto out;
	}
	noise_init(&hs, NOISE_XX, true, j->sk, NULL, pro, plen + 12, NULL);
	memcpy(out, env, 12);
	n = sizeof(out) - 12;
	noise_write_message(&hs, NULL, 0, out + 12, &n);
	link_wire_send(&s, out, 12 + n, 3000);
	if (link_wire_recv(&s, &m, &ml, 3000) != TB_OK) {
		goto close; /* refused at the first message */
	}
	n = sizeof(in);
	j->got_msg2 = noise_read_message(&hs, m, ml, in, &n) == TB_OK;
	free(m);
	n = sizeof(out);
	noise_write_message(&hs, j->mode == J_EMPTY ? NULL : req.data,
	                    j->mode == J_EMPTY ? 0 : req.len, out, &n);
	link_wire_send(&s, out, n, 3000);
	if (noise_split(&hs, &ses) != TB_OK ||
	    frame_init(&fr, &ses, NULL) != TB_OK) {
		goto close;
	}
	while (j->answer[0] == '\0' &&
	       link_wire_recv(&s, &m, &ml, 3000) == TB_OK) {
		n = sizeof(in);
		i = frame_open(&fr, m, ml, &ty, in, &n);
		free(m);
		if (i != TB_OK ||
		    link_payload_decode(in, n, &d, err, sizeof(err)) != TB_OK) {
			break;
		}
		if (++frames == 1) {
			/* XX needs no confirming frame and the listener no
			 * credit window, but a credit (what a dialer sends
			 * first) is all a joiner may send: it is taken. */
			n = link_payload_header(p, LK_CREDIT, 0, 0, 0);
			for (i = 0; i < 8; i++) {
				p[n + i] =
				    (uint8_t)((uint64_t)frames >> (56 - 8 * i));
			}
			seal_send(&s, &fr, p, n + 8);
		}
		if (d.kind == LK_MSG && d.type == LINK_T_JOIN) {
			snprintf(j->answer, sizeof(j->answer), "%.*s",
			         (int)d.len, (const char *)d.body);
		}
	}
	while (j->mode == J_HOLD && !release) {
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	if (j->mode == J_ASK_THEN_MSG) {
		/* A joiner may send credits only. */
		n = link_payload_header(p, LK_MSG, 0, 100, 0);
		seal_send(&s, &fr, p, n);
		nanosleep(&(struct timespec){ 0, 300000000 }, NULL);
	}
close:
	noise_hs_wipe(&hs);
	frame_wipe(&fr);
	link_wire_close(&s);
out:
	canon_buf_free(&req);
	j->done = true;
	return NULL;
}

/* join runs a joiner in mode while the loop turns. */
static void
join(struct joiner *j, enum jmode mode)
{
	pthread_t t;
	struct timespec ts = { 0, 500000 };

	memset(j, 0, sizeof(*j));
	j->mode = mode;
	crypto_box_keypair(j->pk, j->sk);
	pthread_create(&t, NULL, joiner_run, j);
	while (!j->done) {
		uv_run(&loop, UV_RUN_NOWAIT);
		nanosleep(&ts, NULL);
	}
	pthread_join(t, NULL);
	for (int i = 0; i < 200; i++) { /* let the listener see the close */
		uv_run(&loop, UV_RUN_NOWAIT);
		nanosleep(&ts, NULL);
	}
}

/* hold_limit: LINK_MAX_JOINERS (8) joiners hold their links open; a
 * ninth is refused at its first message; once they close, another one
 * gets through. */
static void
hold_limit(void)
{
	static struct joiner h[8];
	struct timespec ts = { 0, 500000 };
	pthread_t t[8];
	struct joiner j;
	int before = joins, i, n = 0;

	release = false;
	for (i = 0; i < 8; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		h[i].mode = J_HOLD;
		crypto_box_keypair(h[i].pk, h[i].sk);
		pthread_create(&t[i], NULL, joiner_run, &h[i]);
	}
	for (i = 0; i < 20000 && n < 8; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		nanosleep(&ts, NULL);
		for (n = 0; n < 8 && h[n].answer[0] != '\0'; n++) {
		}
	}
	is_int(joins - before, 8,
	       "eight joiners are answered and hold their links");
	join(&j, J_ASK);
	ok(!j.got_msg2, "a ninth is refused at its first message (at most 8 "
	                "joiners' links at once)");
	is_int(joins - before, 8, "  and nothing of it is delivered");
	release = true;
	for (i = 0; i < 8; i++) {
		while (!h[i].done) {
			uv_run(&loop, UV_RUN_NOWAIT);
			nanosleep(&ts, NULL);
		}
		pthread_join(t[i], NULL);
	}
	join(&j, J_ASK);
	ok(j.got_msg2 && j.answer[0] != '\0',
	   "once they closed, the next joiner is answered");
}

/* wire_checks: the client the joiner uses (node/link_wire.c) against a
 * plain TCP socket standing for the listener: the framing on the wire,
 * a frame that arrives in pieces, an oversized length prefix, a receive
 * that times out, and a dial that finds nobody. */
static void
wire_checks(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct link_wire w;
	uint8_t got[16], *m = NULL;
	char url[64];
	size_t ml = 0;
	int l, c = -1, rv;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&a, &al)) {
		printf("Bail out! a plain listening socket\n");
		exit(1);
	}
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(a.sin_port));
	ok(link_wire_dial(&w, url, 3000) == TB_OK &&
	       (c = accept(l, NULL, NULL)) >= 0,
	   "link_wire dials a plain TCP listener");
	ok(link_wire_send(&w, "abc", 3, 3000) == TB_OK &&
	       recv(c, got, 7, MSG_WAITALL) == 7 &&
	       !memcmp(got, "\0\0\0\3abc", 7),
	   "  a frame goes out as a 4-byte big-endian length and its bytes");
	rv = send(c, "\0\0\0\5he", 6, 0) == 6 ? 0 : -1;
	nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	rv |= send(c, "llo", 3, 0) == 3 ? 0 : -1;
	ok(rv == 0 && link_wire_recv(&w, &m, &ml, 3000) == TB_OK && ml == 5 &&
	       !memcmp(m, "hello", 5),
	   "  a frame that arrives in two pieces is received whole");
	free(m);
	is_int(link_wire_recv(&w, &m, &ml, 100), TB_ETIMEOUT,
	       "  nothing within the time limit: TB_ETIMEOUT");
	link_wire_close(&w);
	close(c);
	ok(link_wire_dial(&w, url, 3000) == TB_OK &&
	       (c = accept(l, NULL, NULL)) >= 0 &&
	       send(c, "\0\123\120\0", 4, 0) == 4,
	   "  a second connection");
	is_int(link_wire_recv(&w, &m, &ml, 3000), TB_ETOOBIG,
	       "  a length prefix over the limit is refused before it is "
	       "read (pair1's SP header: 5459968 bytes)");
	ok(strstr(w.err, "5459968") != NULL, "  saying so: %s", w.err);
	link_wire_close(&w);
	close(c);
	close(l);
	rv = link_wire_dial(&w, url, 3000);
	ok(rv == TB_ECLOSED && strstr(w.err, "cannot connect") != NULL,
	   "  a dial that finds nobody fails: %s", w.err);
	link_wire_close(&w);
}

/* metric returns the value of a line of the links' metrics, or -1. */
static long
metric(const char *name)
{
	char *text = links_metrics_text(LS), *p;
	long v = -1;

	if (text != NULL && (p = strstr(text, name)) != NULL) {
		v = strtol(p + strlen(name), NULL, 10);
	}
	free(text);
	return v;
}

int
main(int argc, char **argv)
{
	char tb[PATH_MAX + 32], tmpl[] = "/tmp/tongban-ljoin.XXXXXX";
	char path[PATH_MAX + 8], err[512], cmd[8192];
	struct link_config lc = { 0 };
	struct node_config cfg;
	struct joiner j;
	long refused;

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
	snprintf(cmd, sizeof(cmd),
	         "set -e; cd '%s'; tb='%s'\n"
	         "$tb init --dir A --region 370000 --api 127.0.0.1:0 "
	         "  --link 127.0.0.1:0 >/dev/null\n"
	         "$tb keygen --out r0.key >/dev/null\n"
	         "$tb cert request --region-key r0.key --region 370000 "
	         "  --out q0.json >/dev/null\n"
	         "$tb cert issue --key A/keys/officer.json --root A/root.json "
	         "  --request q0.json --days 30 --out c0.json >/dev/null\n"
	         "$tb cert request --dir A --out qa.json >/dev/null\n"
	         "$tb cert issue --key r0.key --issuer-cert c0.json "
	         "  --request qa.json --days 30 --out a.json >/dev/null\n"
	         "$tb cert install --dir A a.json c0.json >/dev/null\n",
	         dir, tb);
	uv_loop_init(&loop);
	tb_log_set_level(TB_LOG_ERROR);
	snprintf(path, sizeof(path), "%s/A", dir);
	if (system(cmd) != 0 ||
	    node_config_load(path, &cfg, err, sizeof(err)) != 0) {
		printf("Bail out! %s could not enrol A (set TB_BUILD)\n", tb);
		return 1;
	}
	lc.loop = &loop;
	lc.dir = cfg.dir;
	lc.listen = "127.0.0.1:0";
	lc.node_id = cfg.node_id;
	lc.region = cfg.region;
	lc.kx_sk = cfg.kx_sk;
	if (links_start(&lc, &LS, err, sizeof(err)) != TB_OK) {
		printf("Bail out! links: %s\n", err);
		return 1;
	}
	links_url(LS, URL, sizeof(URL));
	snprintf(NODE_ID, sizeof(NODE_ID), "%s", cfg.node_id);

	join(&j, J_NONE);
	ok(!j.got_msg2, "without a join callback the first message of a "
	                "joiner is refused (no second message)");
	ok(metric("tongban_link_handshakes_total{result=\"refused\"} ") >= 1,
	   "  counted as a refused handshake");
	is_int(joins, 0, "  and nothing is delivered");

	link_on_join(LS, on_join, NULL);
	join(&j, J_ASK);
	ok(j.got_msg2, "with one, the listener answers with its chain");
	is_int(joins, 1, "the request reaches the callback once");
	is_str(seen_hello, "from the joiner", "  as sent in the third message");
	ok(!memcmp(seen_kx, j.pk, 32),
	   "  with the X25519 key the handshake proved");
	is_str(j.answer, "{\"ok\":true}",
	       "the answer arrives as one LINK_T_JOIN message after HELLO");

	refused = metric("tongban_link_refused_frames_total{reason="
	                 "\"malformed\"} ");
	join(&j, J_ASK_THEN_MSG);
	is_int(joins, 2, "a second joiner's request is delivered too");
	is_int(metric("tongban_link_refused_frames_total{reason="
	              "\"malformed\"} "),
	       refused + 1,
	       "a message (not a credit) from a joiner is refused and closes "
	       "its link");

	join(&j, J_EMPTY);
	is_int(joins, 2, "a third message without a request is refused");

	hold_limit();
	wire_checks();

	links_stop(LS);
	uv_run(&loop, UV_RUN_DEFAULT);
	links_free(LS);
	uv_loop_close(&loop);
	node_config_wipe(&cfg);
	tu_rmtree(dir);
	return done_testing();
}
