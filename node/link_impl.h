/* Internals shared by the link files (node/link*.c); not an API. */
#ifndef TB_NODE_LINK_IMPL_H
#define TB_NODE_LINK_IMPL_H

#include "node/link.h"
#include "schema/cert.h"
#include "schema/cert_cache.h"
#include "schema/frame.h"
#include "schema/link_payload.h"
#include "schema/noise.h"

#include <limits.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* Frames are at most this big; the transport (link_nng.c) refuses a
 * length prefix over LINK_RECV_MAX (twice that, so that a frame between the
 * two is seen and refused by frame_open with its reason; beyond it the
 * connection closes before the body is allocated or read). */
#define LINK_FRAME_MAX FRAME_DEFAULT_MAX
#define LINK_RECV_MAX  (2 * LINK_FRAME_MAX)
/* The payload of one frame; its kinds are in schema/link_payload.h. */
#define LINK_PAYLOAD_MAX (LINK_FRAME_MAX - FRAME_OVERHEAD)

/* The handshake's first message starts with this envelope, which is also
 * hashed into the Noise prologue after LINK_PROLOGUE. */
#define LINK_PROLOGUE "tongban link/1"
#define LINK_ENV      12 /* 'T', 1, pattern, 0, expected node id (8) */
/* The envelope's pattern for a node enrolling with a join token: Noise XX
 * whose third message carries the join request (node/link.h). */
#define LINK_PATTERN_JOIN 3

/* Each connection reads into a buffer of this size (several small frames
 * per read); a frame that does not fit is read straight into its own
 * message. */
#define LINK_RBUF (16u << 10)

#define LINK_TICK_MS       50
#define LINK_HS_TIMEOUT_MS 5000
#define LINK_QUEUE_BYTES   (LINK_MSG_MAX + (16u << 20))
#define LINK_QUEUE_AGE_MS  30000
#define LINK_RX_PAUSE      (8u << 20) /* bytes waiting for the loop */
#define LINK_MAX_INBOUND   256
#define LINK_MAX_HS        32 /* inbound handshakes at once */
#define LINK_MAX_JOINERS   8  /* joining nodes' links at once */
#define LINK_KEEP_CLOSED   16 /* closed inbound entries kept for the view */
#define LINK_EXPIRING_MS   (7LL * 86400 * 1000)
#define LINK_MAX_HANDLERS  64

/* A message held by the gate (link_release_held), with copies of what
 * its struct link_msg pointed to. */
struct link_held {
	struct link_held *next;
	struct link_msg msg;
	char node_id[CERT_NODE_ID_HEX + 1];
	char region[7];
	char role[16];
	uint8_t body[];
};

/* link_hold copies m to the held list: TB_OK or TB_ENOMEM. */
int link_hold(struct links *ls, const struct link_msg *m);

/* link_held_drop frees the held messages. */
void link_held_drop(struct links *ls);
#define LINK_KEYS         64    /* responder keys remembered for IK */
#define LINK_RECONNECT_MS 100   /* the reconnect time, normally ... */
#define LINK_BACKOFF_MS   1000  /* ... after a refusal ... */
#define LINK_BACKOFF_MAX  30000 /* ... doubling up to this */
#define LINK_DIAL_MAX_MS  5000  /* failed connects double it up to this */
#define LINK_LOG_BURST    20    /* refusal lines per second, then a count */

enum link_dir { LINK_OUT, LINK_IN };

enum link_state {
	LS_CONNECTING,
	LS_HANDSHAKING,
	LS_UP,
	LS_REFUSED,
	LS_CLOSED,
};

/* Why a frame was refused (metrics label). */
enum link_refusal {
	LR_AUTH,      /* tampered, replayed, reordered, injected */
	LR_OVERSIZED, /* over the frame maximum */
	LR_TRUNCATED,
	LR_MALFORMED, /* a header or payload that breaks the protocol */
	LR_CHUNK,     /* a chunk out of order, over the cap, ... */
	LR_EXHAUSTED, /* the nonce counter ran out */
	LR_COUNT
};

/* A message waiting to be sent: the link header and the body. */
struct link_out {
	struct link_out *next;
	int64_t queued_ms;
	uint64_t req_id; /* a request's id (its pending entry), or 0 */
	bool priority;   /* HELLO and CREDIT go before the queue */
	size_t len;
	uint8_t data[];
};

struct link {
	struct link *next;
	struct links *ls;
	uint64_t uid; /* unique per process, for reply_to */
	enum link_dir dir;
	enum link_state state; /* written under ls->view_mu */

	/* An outbound link: what links.json says, and its own socket. */
	char url[256];
	char cfg_region[7];
	char cfg_node_id[CERT_NODE_ID_HEX + 1];
	bool removed; /* gone from links.json: closed at the next tick */
	nng_stream_dialer *dialer;
	nng_aio *dial_aio;
	bool dialing;           /* a dial in flight */
	_Atomic bool dial_lost; /* its result was lost (out of memory) */
	int64_t redial_at_us;   /* a redial is due then (0: none) */
	unsigned redial_min_ms; /* the reconnect time after a close ... */
	unsigned redial_max_ms; /* ... doubling after failed connects */
	unsigned redial_cur_ms; /* wait a random time below this */
	unsigned backoff_ms;    /* after a refusal: the reconnect time */

	/* The current connection ("pipe", 0: none) and its one send. */
	struct link_conn *conn;
	bool tx_busy;     /* as last seen by the loop (link_nng_tx_idle) */
	uint32_t tx_pipe; /* the pipe of the send in flight */
	uint32_t pipe;
	int64_t since_ms; /* state change time */
	char remote[64];  /* under view_mu */

	/* The handshake of the current pipe. */
	struct noise_hs *hs;
	_Atomic int pattern; /* NOISE_XX or NOISE_IK */
	int64_t hs_deadline;
	int64_t hs_start_us; /* when the pipe was added (link_bench.h) */
	uint8_t *hs_pending; /* a handshake message waiting for the send */
	size_t hs_pending_len;

	/* The session of the current pipe, once split. */
	struct frame *fr;
	bool confirmed; /* dialer: HELLO came; listener: the dialer proved its
	                   keys (XX message 3, or its first frame after IK) */
	struct frame_join join;
	struct link_out *chunking; /* the message being sent in chunks */
	struct frame_split split;
	uint64_t chunk_ids;
	uint64_t tx_frames, peer_acked; /* the dialer's CREDIT, listener side */
	uint64_t rx_frames, credit_sent; /* dialer side */
	int64_t rekey_at_ms, next_ping_ms;

	/* The queue of this link. */
	struct link_out *qhead, **qtail;
	size_t qbytes;

	/* The peer, from its verified certificate (under view_mu). */
	char node_id[CERT_NODE_ID_HEX + 1];
	char region[7];
	char role[16]; /* "member" or "peer" */
	char serial[CERT_SERIAL_HEX + 1];
	char not_after[CERT_TIME_LEN];
	json_t *peer_chain; /* for re-verification (loop only) */
	/* A joining node (LINK_PATTERN_JOIN): its request until delivered,
	 * and when the link closes regardless. */
	bool joiner;
	json_t *join_req;
	uint8_t join_kx[32];
	int64_t join_deadline;
	char last_error[256];
	/* The peer's incarnation refused this link (node/link_inc.c): the
	 * handshake sends its next message, if any, then fails with why. */
	bool inc_refused;
	char inc_why[400];
	/* The peer's incarnation as its handshake proved it: announced with
	 * a certificate that verifies (1: none, or one that does not). */
	uint32_t peer_inc;

	_Atomic unsigned long long frames_tx, frames_rx, bytes_tx, bytes_rx;
	_Atomic unsigned long long handshakes, rtt_us;
	_Atomic unsigned long long rehandshakes; /* link_keys_age */
	/* Keys replaced (REKEY frames sent and received), all pipes. */
	_Atomic unsigned long long rekeys_tx, rekeys_rx;
};

/* A connection ("pipe" to the link files): one nng byte stream carrying
 * length-prefixed frames (link_conn.c). */
struct link_conn {
	struct link_conn *next;  /* in ls->conns[id % 256] */
	struct link_conn *pnext; /* in ls->paused (under qmu) */
	struct links *ls;
	struct link *l; /* the owner (loop), once bound */
	uint32_t id;
	nng_stream *s;
	nng_aio *rx_aio, *tx_aio;
	atomic_bool closing;
	_Atomic int lost; /* an event that could not be queued (ENOMEM) */
	bool paused;      /* under qmu: on ls->paused */
	bool tx_inflight; /* under qmu: a send is in flight ... */
	bool tx_wanted;   /* ... and the loop waits for it (EV_SENT) */
	char remote[64];

	/* Receiving (the nng thread of rx_aio, or the loop while paused). */
	size_t rlen;     /* bytes in rbuf */
	nng_msg *rmsg;   /* a frame larger than rbuf, being read */
	size_t rgot;     /* its bytes so far */
	uint8_t *rbuf;   /* LINK_RBUF bytes */
	nng_msg *rspare; /* under qmu: a handled frame's message, wiped,
	                    for the next (link_conn_rx_spare) */

	/* Sending: one frame (header: its length). */
	nng_msg *tmsg;
	size_t toff;
	/* Under qmu: the last sent frame's message, kept for the next one
	 * (link_nng_msg): a fresh 64 KiB message per frame cost the loop a
	 * page fault per 4 KiB it sealed into it. It held ciphertext only. */
	nng_msg *tspare;
};

/* An event handed from an nng thread to the loop. */
enum link_ev_kind {
	EV_ADD,  /* a dial or accept finished: s (NULL: the dial failed) */
	EV_REM,  /* the connection pipe failed or closed (result) */
	EV_RECV, /* a frame of pipe */
	EV_SENT, /* the send on pipe completed (result) */
};
struct link_ev {
	struct link_ev *next;
	enum link_ev_kind kind;
	struct link *l; /* EV_ADD: the outbound link; NULL: accepted */
	nng_stream *s;  /* EV_ADD */
	uint32_t pipe;
	nng_msg *msg;
	int result;
	size_t len; /* EV_REM with NNG_EMSGSIZE: the length refused */
};

struct link_pending {
	struct link_pending *next;
	uint64_t id;
	uint64_t link; /* uid of the link it went on */
	int64_t deadline_ms;
	int64_t sent_us; /* for RTT */
	link_response_fn cb;
	void *arg;
	bool probe; /* the link's own RTT ping */
	int status; /* not TB_OK: complete with it at the next tick */
};

struct links {
	uv_loop_t *loop;
	uv_async_t wake;
	uv_timer_t tick;
	bool stopping, handles_open;
	char dir[PATH_MAX];
	char node_id[CERT_NODE_ID_HEX + 1];
	char region[7];
	uint8_t kx_sk[32], kx_pk[32];
	bool rekeyed; /* link_keys_reload took new keys: re-handshake */
	unsigned poll_ms, ping_ms;
	uint64_t rekey_frames;  /* per key and direction */
	int64_t rekey_ms;       /* per key and direction */
	int64_t rehandshake_ms; /* a link up this long handshakes again
	                           (0: never; link_keys_age) */
	int64_t next_poll_ms;

	/* nng threads to the loop. */
	pthread_mutex_t qmu;
	struct link_ev *evh, **evt;
	size_t ev_bytes;

	/* The listener, and the connections (a hash of their ids; the loop
	 * adds and removes them). */
	nng_stream_listener *listener;
	nng_aio *accept_aio;
	bool accept_slept; /* the accept aio sleeps after an error */
	char url[160];
	struct link_conn *conns[256];
	struct link_conn *paused; /* under qmu: receives waiting for the loop */
	uint32_t next_conn;
	uv_timer_t redial; /* the next outbound link due to dial */

	/* Links (the list is changed under view_mu). */
	pthread_mutex_t view_mu;
	struct link *list;
	uint64_t next_uid;

	/* Trust: the root, our chain as the handshake payload, the lists. */
	json_t *root;
	json_t *crls;   /* array of verified lists */
	json_t *xcerts; /* array of cross-certificates our root issued */
	/* The replicated lists (link_crl.c): verified, and the hash of what
	 * crls_fn last gave. */
	int (*crls_fn)(void *arg, json_t **out);
	void *crls_arg;
	json_t *store_crls;
	uint8_t store_crls_fp[32];
	/* The replicated root (link_crl.c): root_fn as in link_config; the
	 * stored root when it checks (NULL: none, DIR/root.json anchors),
	 * and the hash of what root_fn last gave. root_version and
	 * root_stored describe ls->root for the view (under view_mu). */
	int (*root_fn)(void *arg, json_t **out);
	json_t *store_root;
	uint8_t store_root_fp[32];
	long long root_version;
	bool root_stored;
	uint8_t *own_payload;
	size_t own_len;
	json_t *own_chain; /* our certificate and chain.json (loop only) */
	/* The group's incarnation (node/link_inc.c; under view_mu): ours
	 * and its certificate (NULL at 1), the higher one that fenced this
	 * node (0: none), and whether this node waits to join a group. */
	uint64_t inc;
	json_t *inc_cert;
	uint64_t fenced_by;
	json_t *fenced_cert;
	bool joining;
	_Atomic unsigned long long hs_incarnation; /* refusals */
	struct cert_cache cache;
	uint8_t certs_fp[32], peers_fp[32];
	struct {
		char node_id[CERT_NODE_ID_HEX + 1];
		char url[256]; /* where it was learned (outbound) */
		uint8_t kx[32];
	} keys[LINK_KEYS];
	unsigned nkeys;

	struct {
		uint32_t type;
		link_handler_fn fn;
		void *arg;
	} handlers[LINK_MAX_HANDLERS];
	unsigned nhandlers;
	link_gate_fn gate; /* link_set_gate */
	void *gate_arg;
	struct link_held *held, **held_tail;
	struct link_pending *pending;
	uint64_t next_id;
	link_join_fn join_fn;
	void *join_arg;

	_Atomic unsigned long long hs_ok, hs_refused, hs_revoked, hs_timeout;
	_Atomic unsigned long long refused[LR_COUNT];
	_Atomic unsigned long long unhandled;
	_Atomic unsigned long long cert_closes;  /* up links closed on reload */
	_Atomic unsigned long long rehandshakes; /* closed for their age */
	int64_t log_window_ms; /* the rate limit of refusal lines */
	unsigned log_lines, log_suppressed;
	uint8_t scratch[LINK_PAYLOAD_MAX]; /* a chunk being sealed */
	/* ops/bench.d/link_bench.c's switches (node/link_bench.h); false in
	 * a node. */
	struct {
		bool plaintext, cold_cache, xx_only;
		unsigned redial_ms;
	} bench;
};

/* ---- byte order and clocks --------------------------------------------- */

static inline int64_t
link_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void
link_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
link_put_u64(uint8_t *p, uint64_t v)
{
	link_put_u32(p, (uint32_t)(v >> 32));
	link_put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t
link_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
link_get_u64(const uint8_t *p)
{
	return (uint64_t)link_get_u32(p) << 32 | link_get_u32(p + 4);
}

/* ---- link.c: links, pipes, the tick, start and stop --------------------- */

/* link_name describes l for logs ("link to 370100 node ... (tcp://...)"). */
void link_name(const struct link *l, char *out, size_t n);

/* link_by_pipe finds the inbound link of pipe, or NULL. */
struct link *link_by_pipe(struct links *ls, uint32_t pipe);

/* link_new makes a link (outbound: with url, region and node id from
 * links.json) and adds it to the list. NULL on ENOMEM. */
struct link *link_new(struct links *ls, enum link_dir dir);

/* link_destroy removes l from the list and frees it (an outbound link's
 * dialer must be released first: link_nng_close). */
void link_destroy(struct link *l);

/* Events from link_nng.c, on the loop. link_on_recv wipes msg; the caller
 * frees it (or keeps it: link_conn_rx_spare). */
void link_on_add(struct links *ls, struct link *l, uint32_t pipe);
void link_on_rem(struct links *ls, struct link *l, uint32_t pipe);
void link_on_recv(struct links *ls, struct link *l, uint32_t pipe,
                  nng_msg *msg);
void link_on_sent(struct link *l, int result);
/* link_on_oversize: the peer's next frame declares len bytes, over
 * LINK_RECV_MAX; its connection is closed before the body is read. */
void link_on_oversize(struct link *l, size_t len);

/* link_set_state changes l's state (and last error, when why is not NULL)
 * under the view lock. */
void link_set_state(struct link *l, enum link_state st, const char *why, ...)
    __attribute__((format(printf, 3, 4)));

/* link_log_allowed rate-limits refusal lines (LINK_LOG_BURST a second);
 * when it allows one, more says how many were left out before it (" (12
 * lines left out)", or ""). */
bool link_log_allowed(struct links *ls, char *more, size_t n);

/* link_fail closes l's pipe: logs id with the reason, sets state
 * (refused or closed), drops the session and the queue. */
void link_fail(struct link *l, enum link_state st, const char *id,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- link_frame.c: frames ---------------------------------------------- */

/* link_sanitize copies at most n-1 printable ASCII bytes of p. */
void link_sanitize(const uint8_t *p, size_t len, char *out, size_t n);

/* link_session_up: the handshake split; frames may flow. */
void link_session_up(struct link *l, struct noise_session *s);

/* link_pump sends l's next frame when its connection has no send in
 * flight. */
void link_pump(struct link *l);

/* link_enqueue queues a link message (header and body) on l. */
int link_enqueue(struct link *l, uint8_t kind, uint8_t flags, uint32_t type,
                 uint64_t id, const void *body, size_t len, bool priority);

/* ---- link_msg.c: handlers and requests ----------------------------------- */

struct link_pending *link_pending_find(struct links *ls, uint64_t id);
void link_pending_unlink(struct links *ls, struct link_pending *p);
/* link_pending_doom marks the requests of link uid to complete with status
 * at the next tick (never inside the call that made them). */
void link_pending_doom(struct links *ls, uint64_t uid, int status);
/* link_pending_expire completes doomed and timed-out requests (all: every
 * one, with TB_ECLOSED). */
void link_pending_expire(struct links *ls, int64_t now, bool all);
/* link_handler_find returns the index of type's handler, or -1. */
int link_handler_find(const struct links *ls, uint32_t type);
/* link_request_on sends a request on link l (probe: the RTT ping). */
int link_request_on(struct link *l, uint32_t type, const void *msg, size_t len,
                    unsigned timeout_ms, link_response_fn cb, void *arg,
                    bool probe);

/* links_after_drain runs after a batch of events: credits, pumps. */
void links_after_drain(struct links *ls);

/* link_now_ms: wall-clock milliseconds. */
int64_t link_now_ms(void);

/* ---- link_nng.c: connections, dialing, listening, the event queue ------- */

int link_nng_listen(struct links *ls, const char *url, char *errmsg,
                    size_t errlen);
/* link_nng_dial makes an outbound link's dialer and dials (then redials
 * after every close or failed connect, with the link's backoff). Returns
 * an nng error code (a URL that cannot be dialed). */
int link_nng_dial(struct link *l);
/* link_nng_backoff sets the reconnect time: after the next close the link
 * waits a random time below ms; failed connects double it up to
 * max(ms, LINK_DIAL_MAX_MS). */
void link_nng_backoff(struct link *l, unsigned ms);
/* link_nng_close stops an outbound link's dialing and closes its
 * connection, then drops its queued events. */
void link_nng_close(struct link *l);
/* link_nng_stop closes the listener and every connection and dialer. */
void link_nng_stop(struct links *ls);
/* link_nng_bind makes l the owner of the connection l->pipe (from EV_ADD),
 * which then starts receiving. */
void link_nng_bind(struct link *l);
/* link_nng_tx_idle says whether l's connection can take a frame now (no
 * send in flight); if not, the loop hears (EV_SENT) when it can. */
bool link_nng_tx_idle(struct link *l);
/* link_nng_msg sets *m to a message of len bytes for a frame to l: its
 * connection's spare (the last sent frame's) if it has one, else a new
 * one; returns TB_ENOMEM. */
int link_nng_msg(struct link *l, nng_msg **m, size_t len);
/* link_nng_send sends one frame on l's connection (m stolen); refused
 * (TB_ECLOSED) without a connection or with a send in flight. */
int link_nng_send(struct link *l, nng_msg *m);
/* link_nng_pipe_close closes l's connection (at once: its callbacks have
 * run when it returns) and, for an outbound link, schedules the redial. */
void link_nng_pipe_close(struct link *l);
/* link_nng_conn_close closes the connection pipe, owned or not. */
void link_nng_conn_close(struct links *ls, uint32_t pipe);
/* link_nng_remote writes the connection's remote address. */
void link_nng_remote(struct links *ls, uint32_t pipe, char *out, size_t n);
void link_nng_wake(uv_async_t *h);
/* link_nng_tick picks up what nng threads could not queue (out of
 * memory). */
void link_nng_tick(struct links *ls);
/* link_nng_drop_events frees the queued events (of one link, or all). */
void link_nng_drop_events(struct links *ls, struct link *only);
/* link_nng_redial dials outbound link l again after a random time below
 * wait_ms. */
void link_nng_redial(struct link *l, unsigned wait_ms);

/* ---- link_conn.c: connections and the event queue ---------------------- */

/* link_ev_push queues an event from an nng thread (msg, s stolen); for a
 * received frame it may pause c's receiving: true means do not re-arm. */
bool link_ev_push(struct links *ls, struct link_conn *c, enum link_ev_kind kind,
                  struct link *l, nng_stream *s, nng_msg *msg, int result,
                  size_t len);
/* link_conn_new registers a connection for stream s (closed and freed on
 * failure: NULL); link_conn_find finds one by id. */
struct link_conn *link_conn_new(struct links *ls, nng_stream *s);
struct link_conn *link_conn_find(struct links *ls, uint32_t id);
/* link_conn_free closes and frees c (an outbound owner redials later). */
void link_conn_free(struct links *ls, struct link_conn *c);
/* link_conn_rx takes the whole frames c has buffered and arms its next
 * receive (its rx thread, or the loop while c is paused). */
void link_conn_rx(struct link_conn *c);
/* link_conn_rx_spare gives msg (a frame of pipe the loop handled and
 * wiped) back to its connection for the next frame, or frees it. */
void link_conn_rx_spare(struct links *ls, uint32_t pipe, nng_msg *msg);

/* ---- link_hs.c: the handshake ------------------------------------------ */

/* link_hs_begin starts the handshake on a new pipe (the dialer writes the
 * first message; the listener waits for it). */
void link_hs_begin(struct link *l);
/* link_hs_recv takes the peer's next handshake message. */
void link_hs_recv(struct link *l, const uint8_t *msg, size_t len);
/* link_hs_send hands a handshake message to nng (or keeps it until the
 * previous send completes); a failed send fails the handshake. */
void link_hs_send(struct link *l, const uint8_t *msg, size_t len);
/* link_hs_wipe drops the handshake state. */
void link_hs_wipe(struct link *l);

/* ---- link_trust.c: certificates, lists and links.json ------------------- */

/* ---- link_inc.c: the group's incarnation at the handshake --------------- */

/* link_inc_load reads DIR/certs/incarnation.json and
 * DIR/incarnation-fenced.json, checked against root and chain (our own
 * certificate and chain.json), into ls. Loop thread (or before start). */
void link_inc_load(struct links *ls, const json_t *root, const json_t *chain);

/* link_inc_payload encodes the handshake payload (our chain, incarnation,
 * its certificate, joining) into ls->own_payload. TB_OK, else errmsg. */
int link_inc_payload(struct links *ls, char *errmsg, size_t errlen);

/* link_inc_check looks at the incarnation the peer's verified handshake
 * payload doc names (l's peer fields are set). A member of our region at a
 * lower incarnation (not joining) sets l->inc_refused; a higher certified
 * one fences this node (or, while it waits to join, becomes its own). */
void link_inc_check(struct link *l, const json_t *doc);

/* link_inc_refuse fails l's handshake for its incarnation
 * (TB-LINK-INCARNATION, counted); the handshake calls it once its own next
 * message, which tells the peer our incarnation, has gone out. */
void link_inc_refuse(struct link *l);

/* link_trust_load loads root, our chain, the lists and cross-certificates
 * (and clears the cache); TB_ENOTFOUND without a certificate. */
int link_trust_load(struct links *ls, char *errmsg, size_t errlen);
/* link_trust_free releases what link_trust_load holds. */
void link_trust_free(struct links *ls);
/* link_trust_verify verifies a peer's chain (array, leaf first) for l:
 * kind node, and for an outbound link the region and node id links.json
 * names. Returns a cert_verify_chain code with d filled. */
int link_trust_verify(struct links *ls, struct link *l, json_t *chain,
                      struct tb_diag *d);
/* link_trust_poll reloads certs/ and links.json when they changed. */
void link_trust_poll(struct links *ls);
/* link_peers_load reconciles the outbound links with links.json. */
int link_peers_load(struct links *ls, char *errmsg, size_t errlen);
/* ---- link_known.c: the responder keys learned, for IK ------------------ */

/* link_known_load reads DIR/peer_keys.json (node-local) into ls->keys at
 * start; link_key_put and link_key_forget write it when a key is new,
 * changed or dropped. */
void link_known_load(struct links *ls);
/* link_key_get/put/forget: the responder keys learned, for IK, by node id
 * and by the URL dialed to learn it (a link that pins no node id, such as
 * a joiner's link to the member it joined, finds its key by URL). An empty
 * node_id or url matches nothing. */
bool link_key_get(struct links *ls, const char *node_id, const char *url,
                  uint8_t kx[32]);
void link_key_put(struct links *ls, const char *node_id, const char *url,
                  const uint8_t kx[32]);
void link_key_forget(struct links *ls, const char *node_id, const char *url);

/* ---- link_crl.c: the replicated revocation lists ------------------------ */

/* link_crl_poll asks crls_fn for the replicated lists; when they changed it
 * keeps those that verify against the root, clears the verified-chain
 * cache and returns true (the caller re-verifies open links). */
bool link_crl_poll(struct links *ls);

/* link_root_poll asks root_fn for the stored root; when it changed it keeps
 * it in ls->store_root if it checks (else NULL) and returns true (the
 * caller reloads the trust: link_trust_load anchors at it). */
bool link_root_poll(struct links *ls);

/* ---- link_keys.c: key rotation ----------------------------------------- */

/* link_keys_reload takes the X25519 key of DIR/keys/node.json when leaf
 * (the node's new certificate) certifies it and it is not the key in use;
 * returns whether it did. */
bool link_keys_reload(struct links *ls, const json_t *leaf);
/* link_keys_rehandshake closes every link's pipe: outbound links redial,
 * inbound peers dial again, and each new pipe is a new handshake. */
void link_keys_rehandshake(struct links *ls);
/* link_keys_age closes the pipe of every link up for rehandshake_ms or
 * longer (a periodic full handshake: fresh ephemeral keys, certificates
 * exchanged and checked again); outbound links redial at once, inbound
 * ones wait for the peer's. Called every poll period. */
void link_keys_age(struct links *ls);

/* ---- link_view.c -------------------------------------------------------- */

const char *link_state_name(enum link_state st);
const char *link_refusal_name(enum link_refusal r);

#endif
