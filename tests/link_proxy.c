/* A hostile peer for tests/node_links.t, on plain POSIX sockets (cc
 * tests/link_proxy.c -lpthread). It speaks the links' framing: every frame
 * is a 4-byte big-endian length, then that many bytes.
 *
 *   link_proxy proxy FRONT_URL BACK_URL MODE
 *       listens on FRONT_URL (a node dials it as if it were its peer),
 *       connects to BACK_URL (the real peer) once the front connects, and
 *       relays frames both ways, with one change MODE makes to the first
 *       front-to-back frame after the handshake (the first such frame once
 *       two back-to-front frames went by: IK's or XX's answer, then the
 *       listener's HELLO):
 *         pass      nothing
 *         replay    send that frame twice
 *         reorder   hold it, send the next frame first, then it
 *         drop      never send it (the next one arrives out of sequence)
 *         tamper    flip one bit in its ciphertext
 *         truncate  cut its last 5 bytes
 *         garbage   replace it with random bytes of the same length
 *         oversize  send 70000 random bytes instead (over the frame limit,
 *                   under the transport's limit of 131072)
 *         huge      send 1 MiB instead (over the transport's limit)
 *         biglen    send a length prefix of 4294967295 and 16 bytes, and
 *                   keep the connection open (refused on the length alone)
 *         hsgarbage replace the dialer's first handshake message with
 *                   random bytes
 *         hsreplay  relay everything, and once the link is up open a second
 *                   connection to the peer and replay the dialer's first
 *                   handshake message on it (an IK replay: the peer must
 *                   not take that connection for up)
 *   link_proxy client URL MODE
 *       connects to URL and, with no handshake:
 *         garbage   sends random frames of 0, 1, 12, 100 and 1000 bytes
 *         oversize  sends a frame of 70000 random bytes
 *         huge      sends a frame of 1 MiB
 *         biglen    sends a length prefix of 4294967295 and 16 bytes
 *         stall     opens 40 connections and sends nothing
 *
 * URLs are tcp://A.B.C.D:PORT. It prints "listening" once its front listens
 * (proxy mode), "mutated" when it made its change, and exits when the real
 * peer closes its side (as a relay would), after 120 s, or when killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long the proxy lives at most: the test kills it once it has seen
 * what it waits for, so this only bounds a test that died. */
#define LIFE_SECS 120
/* The largest frame it relays (the node's limit is far lower). */
#define RELAY_MAX (16u << 20)

static int front = -1, back = -1, back2 = -1;
static const char *mode, *back_url;
static atomic_int back_msgs;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
parse_url(const char *url, struct sockaddr_in *sa)
{
	char host[64];
	const char *h = strncmp(url, "tcp://", 6) == 0 ? url + 6 : url;
	const char *colon = strrchr(h, ':');

	if (colon == NULL || (size_t)(colon - h) >= sizeof(host)) {
		fprintf(stderr, "link_proxy: not tcp://HOST:PORT: %s\n", url);
		exit(2);
	}
	memcpy(host, h, (size_t)(colon - h));
	host[colon - h] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		fprintf(stderr, "link_proxy: not an IPv4 address: %s\n", host);
		exit(2);
	}
}

static int
dial(const char *url)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	parse_url(url, &sa);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		die("connect");
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool
read_all(int fd, uint8_t *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = read(fd, p, n)) <= 0) {
			return false;
		}
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static void
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = send(fd, p, n, MSG_NOSIGNAL)) <= 0) {
			return; /* the peer closed: its side will say so */
		}
		p += k;
		n -= (size_t)k;
	}
}

/* read_frame reads one frame (malloc'd body in *body); false at the end. */
static bool
read_frame(int fd, uint8_t **body, size_t *len)
{
	uint8_t h[4];
	uint32_t n;

	if (!read_all(fd, h, 4)) {
		return false;
	}
	n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 |
	    h[3];
	if (n > RELAY_MAX || (*body = malloc(n > 0 ? n : 1)) == NULL) {
		return false;
	}
	*len = n;
	if (!read_all(fd, *body, n)) {
		free(*body);
		return false;
	}
	return true;
}

/* write_len writes a length prefix of n. */
static void
write_len(int fd, uint32_t n)
{
	uint8_t h[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
		         (uint8_t)(n >> 8), (uint8_t)n };

	write_all(fd, h, 4);
}

static void
write_frame(int fd, const uint8_t *body, size_t len)
{
	write_len(fd, (uint32_t)len);
	write_all(fd, body, len);
}

static void
write_random(int fd, size_t len)
{
	uint8_t *b = malloc(len > 0 ? len : 1);
	size_t i;

	if (b == NULL) {
		die("malloc");
	}
	for (i = 0; i < len; i++) {
		b[i] = (uint8_t)rand();
	}
	write_frame(fd, b, len);
	free(b);
}

/* write_biglen writes a length prefix no node accepts, and a little of
 * what it claims. */
static void
write_biglen(int fd)
{
	uint8_t b[16];

	memset(b, 0x5a, sizeof(b));
	write_len(fd, 0xffffffffu);
	write_all(fd, b, sizeof(b));
}

static void
mutated(void)
{
	printf("mutated\n");
	fflush(stdout);
}

/* back_to_front relays what the real peer sends; when the peer closes its
 * side, so does the proxy (as a TCP relay would): the dialing node sees
 * its link close. */
static void *
back_to_front(void *arg)
{
	uint8_t *b;
	size_t len;

	(void)arg;
	while (read_frame(back, &b, &len)) {
		atomic_fetch_add(&back_msgs, 1);
		write_frame(front, b, len);
		free(b);
	}
	printf("back closed\n");
	fflush(stdout);
	_exit(0);
	return NULL;
}

static void
proxy(const char *front_url)
{
	struct sockaddr_in sa;
	uint8_t *m, *held = NULL, *first = NULL;
	size_t len, held_len = 0, first_len = 0;
	int lfd, n = 0, one = 1;
	bool done = false;
	pthread_t t;

	parse_url(front_url, &sa);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		die("socket");
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 4) != 0) {
		die("listen");
	}
	printf("listening\n");
	fflush(stdout);
	if ((front = accept(lfd, NULL, NULL)) < 0) {
		die("accept");
	}
	setsockopt(front, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	back = dial(back_url);
	pthread_create(&t, NULL, back_to_front, NULL);
	while (read_frame(front, &m, &len)) {
		n++;
		if (n == 1 && !strcmp(mode, "hsreplay")) {
			if ((first = malloc(len)) == NULL) {
				die("malloc");
			}
			memcpy(first, m, len);
			first_len = len;
		}
		if (n == 1 && !strcmp(mode, "hsgarbage")) {
			free(m);
			mutated();
			write_random(back, len);
			continue;
		}
		if (held != NULL) {
			/* reorder: the next frame, then the held one. */
			mutated();
			write_frame(back, m, len);
			write_frame(back, held, held_len);
			free(m);
			free(held);
			held = NULL;
			continue;
		}
		if (done || atomic_load(&back_msgs) < 2 ||
		    !strcmp(mode, "pass")) {
			write_frame(back, m, len);
			free(m);
			continue;
		}
		done = true;
		if (!strcmp(mode, "hsreplay")) {
			write_frame(back, m, len);
			free(m);
			if (first != NULL) {
				back2 = dial(back_url);
				write_frame(back2, first, first_len);
				free(first);
				first = NULL;
			}
			mutated();
			continue;
		}
		/* Say it first: the peer may close (and this process exit)
		 * as soon as the change arrives. */
		if (strcmp(mode, "reorder") != 0) {
			mutated();
		}
		if (!strcmp(mode, "replay")) {
			write_frame(back, m, len);
			write_frame(back, m, len);
		} else if (!strcmp(mode, "reorder")) {
			held = m;
			held_len = len;
			continue;
		} else if (!strcmp(mode, "drop")) {
		} else if (!strcmp(mode, "tamper")) {
			m[len / 2] ^= 0x04;
			write_frame(back, m, len);
		} else if (!strcmp(mode, "truncate")) {
			write_frame(back, m, len > 5 ? len - 5 : 0);
		} else if (!strcmp(mode, "garbage")) {
			write_random(back, len);
		} else if (!strcmp(mode, "oversize")) {
			write_random(back, 70000);
		} else if (!strcmp(mode, "huge")) {
			write_random(back, 1 << 20);
		} else if (!strcmp(mode, "biglen")) {
			write_biglen(back);
		} else {
			fprintf(stderr, "link_proxy: unknown mode %s\n", mode);
			exit(2);
		}
		free(m);
	}
	/* The dialing node closed its side: close the peer's too. */
	shutdown(back, SHUT_RDWR);
	sleep(LIFE_SECS);
}

static void
client(const char *url)
{
	static const size_t sizes[] = { 0, 1, 12, 100, 1000 };
	int s[40];
	size_t i;

	if (!strcmp(mode, "stall")) {
		for (i = 0; i < 40; i++) {
			s[i] = dial(url);
		}
		mutated();
		sleep(LIFE_SECS);
		return;
	}
	s[0] = dial(url);
	if (!strcmp(mode, "garbage")) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			write_random(s[0], sizes[i]);
		}
	} else if (!strcmp(mode, "oversize")) {
		write_random(s[0], 70000);
	} else if (!strcmp(mode, "huge")) {
		write_random(s[0], 1 << 20);
	} else if (!strcmp(mode, "biglen")) {
		write_biglen(s[0]);
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
