/* A hostile peer for tests/node_links.t, built at test time against nng
 * alone (cc tests/link_proxy.c -lnng -lpthread):
 *
 *   link_proxy proxy FRONT_URL BACK_URL MODE
 *       listens on FRONT_URL (a node dials it as if it were its peer),
 *       dials BACK_URL (the real peer) once the front has a pipe, and
 *       relays pair1 messages both ways, with one change MODE makes to the
 *       first front-to-back frame after the handshake (the first such
 *       message once two back-to-front messages went by: IK's or XX's
 *       answer, then the listener's HELLO):
 *         pass      nothing
 *         replay    send that frame twice
 *         reorder   hold it, send the next message first, then it
 *         drop      never send it (the next one arrives out of sequence)
 *         tamper    flip one bit in its ciphertext
 *         truncate  cut its last 5 bytes
 *         garbage   replace it with random bytes of the same length
 *         oversize  send 70000 random bytes instead (over the frame limit,
 *                   under nng's receive limit)
 *         huge      send 1 MiB instead (over nng's receive limit)
 *         hsgarbage replace the dialer's first handshake message with
 *                   random bytes
 *         hsreplay  relay everything, and once the link is up open a second
 *                   connection to the peer and replay the dialer's first
 *                   handshake message on it (an IK replay: the peer must
 *                   not take that pipe for up)
 *   link_proxy client URL MODE
 *       dials URL and, with no handshake:
 *         garbage   sends random messages of 0, 1, 12, 100 and 1000 bytes
 *         oversize  sends 70000 random bytes
 *         huge      sends 1 MiB
 *         stall     opens 40 connections and sends nothing
 *
 * It prints "listening" once its front listens (proxy mode), "mutated"
 * when it made its change, and exits when the real peer closes its side
 * (as a relay would), after 120 s, or when killed. */
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long the proxy lives at most: the test kills it once it has seen
 * what it waits for, so this only bounds a test that died. */
#define LIFE_SECS 120

static nng_socket front, back, back2;
static const char *mode, *back_url;
static atomic_int back_msgs, dialed;

static void
die(const char *what, int rv)
{
	fprintf(stderr, "link_proxy: %s: %s\n", what, nng_strerror(rv));
	exit(1);
}

static nng_msg *
random_msg(size_t len)
{
	nng_msg *m;
	size_t i;

	if (nng_msg_alloc(&m, len) != 0) {
		die("alloc", NNG_ENOMEM);
	}
	for (i = 0; i < len; i++) {
		((unsigned char *)nng_msg_body(m))[i] = (unsigned char)rand();
	}
	return m;
}

static void
mutated(void)
{
	printf("mutated\n");
	fflush(stdout);
}

/* When the real peer closes its side, so does the proxy (as a TCP relay
 * would): the dialing node sees its link close. */
static void
on_back_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	(void)arg;
	printf("back closed\n");
	fflush(stdout);
	_exit(0);
}

static void
on_front_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	int rv;

	(void)p;
	(void)ev;
	(void)arg;
	if (atomic_exchange(&dialed, 1) == 0 &&
	    (rv = nng_dial(back, back_url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		die("dial", rv);
	}
}

/* back_to_front relays what the real peer sends. */
static void *
back_to_front(void *arg)
{
	nng_msg *m;

	(void)arg;
	while (nng_recvmsg(back, &m, 0) == 0) {
		atomic_fetch_add(&back_msgs, 1);
		if (nng_sendmsg(front, m, 0) != 0) {
			nng_msg_free(m);
		}
	}
	return NULL;
}

static void
send_back(nng_msg *m)
{
	if (nng_sendmsg(back, m, 0) != 0) {
		nng_msg_free(m);
	}
}

static void
proxy(const char *front_url)
{
	nng_msg *m, *held = NULL, *first = NULL;
	pthread_t t;
	int rv, n = 0;
	bool done = false;

	if ((rv = nng_pair1_open(&front)) != 0 ||
	    (rv = nng_pair1_open(&back)) != 0) {
		die("open", rv);
	}
	nng_socket_set_size(front, NNG_OPT_RECVMAXSZ, 0);
	nng_socket_set_size(back, NNG_OPT_RECVMAXSZ, 0);
	nng_pipe_notify(front, NNG_PIPE_EV_ADD_POST, on_front_pipe, NULL);
	nng_pipe_notify(back, NNG_PIPE_EV_REM_POST, on_back_pipe, NULL);
	if ((rv = nng_listen(front, front_url, NULL, 0)) != 0) {
		die("listen", rv);
	}
	printf("listening\n");
	fflush(stdout);
	pthread_create(&t, NULL, back_to_front, NULL);
	while (nng_recvmsg(front, &m, 0) == 0) {
		size_t len = nng_msg_len(m);
		unsigned char *b = nng_msg_body(m);
		n++;
		if (n == 1 && !strcmp(mode, "hsreplay")) {
			nng_msg_dup(&first, m);
		}
		if (n == 1 && !strcmp(mode, "hsgarbage")) {
			nng_msg_free(m);
			mutated();
			send_back(random_msg(len));
			continue;
		}
		if (held != NULL) {
			/* reorder: the next message, then the held one. */
			mutated();
			send_back(m);
			send_back(held);
			held = NULL;
			continue;
		}
		if (done || atomic_load(&back_msgs) < 2 ||
		    !strcmp(mode, "pass")) {
			send_back(m);
			continue;
		}
		done = true;
		if (!strcmp(mode, "hsreplay")) {
			send_back(m);
			if (first != NULL &&
			    ((rv = nng_pair1_open(&back2)) != 0 ||
			     (rv = nng_dial(back2, back_url, NULL, 0)) != 0 ||
			     (rv = nng_sendmsg(back2, first, 0)) != 0)) {
				die("replay", rv);
			}
			first = NULL;
			mutated();
			continue;
		}
		/* Say it first: the peer may close (and this process exit)
		 * as soon as the change arrives. */
		if (strcmp(mode, "reorder") != 0) {
			mutated();
		}
		if (!strcmp(mode, "replay")) {
			nng_msg *dup;
			nng_msg_dup(&dup, m);
			send_back(m);
			send_back(dup);
		} else if (!strcmp(mode, "reorder")) {
			held = m;
		} else if (!strcmp(mode, "drop")) {
			nng_msg_free(m);
		} else if (!strcmp(mode, "tamper")) {
			b[len / 2] ^= 0x04;
			send_back(m);
		} else if (!strcmp(mode, "truncate")) {
			nng_msg_chop(m, len > 5 ? 5 : len);
			send_back(m);
		} else if (!strcmp(mode, "garbage")) {
			nng_msg_free(m);
			send_back(random_msg(len));
		} else if (!strcmp(mode, "oversize")) {
			nng_msg_free(m);
			send_back(random_msg(70000));
		} else if (!strcmp(mode, "huge")) {
			nng_msg_free(m);
			send_back(random_msg(1 << 20));
		} else {
			fprintf(stderr, "link_proxy: unknown mode %s\n", mode);
			exit(2);
		}
	}
}

static void
client(const char *url)
{
	static const size_t sizes[] = { 0, 1, 12, 100, 1000 };
	nng_socket s[40];
	size_t i;
	int rv;

	if (!strcmp(mode, "stall")) {
		for (i = 0; i < 40; i++) {
			if ((rv = nng_pair1_open(&s[i])) != 0 ||
			    (rv = nng_dial(s[i], url, NULL, 0)) != 0) {
				die("dial", rv);
			}
		}
		mutated();
		sleep(LIFE_SECS);
		return;
	}
	if ((rv = nng_pair1_open(&s[0])) != 0 ||
	    (rv = nng_dial(s[0], url, NULL, 0)) != 0) {
		die("dial", rv);
	}
	if (!strcmp(mode, "garbage")) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			nng_sendmsg(s[0], random_msg(sizes[i]), 0);
		}
	} else if (!strcmp(mode, "oversize")) {
		nng_sendmsg(s[0], random_msg(70000), 0);
	} else if (!strcmp(mode, "huge")) {
		nng_sendmsg(s[0], random_msg(1 << 20), 0);
	} else {
		fprintf(stderr, "link_proxy: unknown mode %s\n", mode);
		exit(2);
	}
	mutated();
	sleep(LIFE_SECS);
}

static void *
deadline(void *arg)
{
	(void)arg;
	sleep(LIFE_SECS);
	exit(0);
}

int
main(int argc, char **argv)
{
	pthread_t t;

	srand((unsigned)getpid());
	pthread_create(&t, NULL, deadline, NULL);
	if (argc == 5 && !strcmp(argv[1], "proxy")) {
		back_url = argv[3];
		mode = argv[4];
		proxy(argv[2]);
	} else if (argc == 4 && !strcmp(argv[1], "client")) {
		mode = argv[3];
		client(argv[2]);
	} else {
		fprintf(stderr, "usage: link_proxy proxy FRONT BACK MODE | "
		                "link_proxy client URL MODE\n");
		return 2;
	}
	return 0;
}
