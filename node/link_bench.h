/* Switches for the link benchmark (ops/bench.d/link_bench.c), and nothing
 * else: no configuration file, flag, environment variable or HTTP request
 * of a node reaches them. */
#ifndef TB_NODE_LINK_BENCH_H
#define TB_NODE_LINK_BENCH_H

#include "node/link.h"

#include <stdbool.h>
#include <stdint.h>

struct link_bench_opts {
	/* Frames of every later session use frame_bench_plaintext: the same
	 * frame code, counters and link stack, with no AEAD. Both ends must
	 * set it (a sealed frame fails a plaintext end, and the other way). */
	bool plaintext;
	/* Every chain verification starts with an empty verified-chain
	 * cache, as if each peer were new. */
	bool cold_cache;
	/* The dialer never uses IK (every handshake is XX). */
	bool xx_only;
	/* links_bench_rehandshake's reconnect time: the redial waits a
	 * random time below it (0: 10 ms; 1: at once). */
	unsigned redial_ms;
};

/* links_bench_set sets ls's switches; call it on the loop thread right
 * after links_start, before the loop runs. */
void links_bench_set(struct links *ls, const struct link_bench_opts *o);

/* links_bench_rehandshake closes the connection of the up link this node
 * dialed to peer (a node id or region) after setting its reconnect time to
 * redial_ms; the link redials and a new handshake follows. Returns TB_OK, or
 * TB_ENOTFOUND when no dialed link to peer is up. Loop thread. */
int links_bench_rehandshake(struct links *ls, const char *peer);

/* links_bench_hs_started gives the CLOCK_MONOTONIC time (µs) at which
 * the current pipe of the link this node dialed to peer was added, the
 * start of its handshake; 0 if there is no such link. Loop thread. */
int64_t links_bench_hs_started(struct links *ls, const char *peer);

#endif
