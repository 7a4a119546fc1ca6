/* A blocking client for one link connection, for programs that speak the
 * link wire without running a node and its loop: tongban init
 * --join-token (node/cli_join_wire.c) and tests. It dials the listener
 * with an nng byte stream, as link_nng.c does, and carries frames as the
 * listener expects them (node/link_conn.c): a 4-byte big-endian length,
 * then that many bytes (a handshake message or a sealed frame). A length
 * over LINK_WIRE_MAX is refused before anything is read for it. Noise and
 * the frames' sealing stay with the caller. After a call fails the
 * connection is of no further use (a frame may be half sent or read). */
#ifndef TB_NODE_LINK_WIRE_H
#define TB_NODE_LINK_WIRE_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/frame.h"

/* The listener's own limit (LINK_RECV_MAX in node/link_impl.h). */
#define LINK_WIRE_MAX (2 * FRAME_DEFAULT_MAX)

struct link_wire {
	nng_stream *s;
	nng_aio *aio;
	char err[200]; /* why the last call failed */
};

/* link_wire_dial connects w to url (tcp://HOST:PORT) within timeout_ms.
 * TB_OK, or TB_ECLOSED / TB_ETIMEOUT / TB_ENOMEM with w->err set; w needs
 * link_wire_close either way. */
int link_wire_dial(struct link_wire *w, const char *url, int timeout_ms);

/* link_wire_send sends one frame of n bytes (n <= LINK_WIRE_MAX). */
int link_wire_send(struct link_wire *w, const void *p, size_t n,
                   int timeout_ms);

/* link_wire_recv receives one frame: *p (malloc'd, the caller frees) of *n
 * bytes. TB_ETIMEOUT when nothing whole came within timeout_ms, TB_ECLOSED
 * when the peer closed, TB_ETOOBIG for a length over LINK_WIRE_MAX. */
int link_wire_recv(struct link_wire *w, uint8_t **p, size_t *n, int timeout_ms);

/* link_wire_close closes the connection (if any) and frees w's aio. */
void link_wire_close(struct link_wire *w);

#endif
