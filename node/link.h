/* Authenticated, encrypted links between nodes: the API that the replica
 * group and the cross-region feeds share. */
#ifndef TB_NODE_LINK_H
#define TB_NODE_LINK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * A node keeps one link per configured peer (it dials, with one nng stream
 * dialer per peer, and redials after a close) and accepts links from any
 * node whose certificate chain verifies against its root (one nng stream
 * listener). Every new TCP connection starts a Noise handshake (IK when the
 * dialer holds the peer's certificate, else XX) that exchanges and
 * verifies the two certificate chains; then every length-prefixed frame on
 * the connection is one sealed frame (schema/frame.h). docs/LINKS.md has
 * the wire format, the states and the failure modes.
 *
 * Threads: everything here runs on the libuv loop thread given to
 * links_start, except links_view_json and links_metrics_text, which any
 * thread may call. Handlers and callbacks run on the loop, never inside
 * the call that scheduled them.
 *
 * Delivery: a message is sent on the peer's link once its handshake
 * completes; messages queued for a pipe that closes are dropped (requests
 * then fail with TB_ECLOSED), so the layers above re-send. Within one
 * connection messages arrive in order, exactly once.
 */

struct links;

/* Message types 0..15 belong to the link layer. */
#define LINK_TYPE_RESERVED 16
#define LINK_T_PING        1 /* a request; the answer is a PONG */
#define LINK_T_PONG        2 /* echoes the PING's body */
#define LINK_T_JOIN        3 /* to a joining node: the answer (JSON) */

/* Rekeying (docs/LINKS.md "Rekeying"): the defaults of a node's
 * link_rekey_frames and link_rekey_seconds. */
#define LINK_REKEY_FRAMES  (1u << 20)
#define LINK_REKEY_SECONDS 3600

/* The largest message link_send and link_request take (larger than a
 * frame: it travels in chunks). */
#define LINK_MSG_MAX (64u << 20)

/* What a node needs to run its links. Strings and keys are copied. */
struct link_config {
	uv_loop_t *loop;
	const char *dir;        /* the node directory: root.json, certs/,
	                           links.json */
	const char *listen;     /* HOST:PORT or tcp://HOST:PORT (port 0: any) */
	const char *node_id;    /* 16 hex digits */
	const char *region;     /* 6 digits */
	const uint8_t *kx_sk;   /* the node's X25519 secret key (32 bytes) */
	unsigned poll_ms;       /* reload period of links.json and certs/ (0:
	                           1000) */
	unsigned ping_ms;       /* RTT probe period per link (0: 5000) */
	uint64_t rekey_frames;  /* each direction's key is replaced after
	                           this many frames (0: LINK_REKEY_FRAMES) */
	unsigned rekey_seconds; /* ... or this many seconds (0:
	                           LINK_REKEY_SECONDS) */
	unsigned rehandshake_seconds; /* a link up this long makes a new
	                                 full handshake (0: never) */
	bool joining;                 /* waits to be added (link_set_joining) */
	/* The replicated revocation lists (node/fsm_crl.c), beside the files
	 * of DIR/certs: crls_fn sets *out to an array of lists (a new
	 * reference) and returns 0. The links call it on the loop at start
	 * and every poll period; when the lists changed they clear the
	 * verified-chain cache and re-verify every open link. NULL: files
	 * only. */
	int (*crls_fn)(void *arg, json_t **out);
	void *crls_arg;
	/* The replicated root metadata (root.put, node/fsm_root.c): root_fn
	 * sets *out to it (a new reference) and returns 0, or TB_ENOTFOUND
	 * when the group stores none. Called with crls_arg at start and
	 * every poll period; a stored root that checks replaces
	 * DIR/root.json as the trust anchor. NULL: root.json only. */
	int (*root_fn)(void *arg, json_t **out);
};

/* links_start loads DIR's root, certificate chain, revocation lists and
 * links.json, listens and dials. *out is set on success (release it with
 * links_stop, then links_free once the loop has run the close callbacks).
 * Returns TB_OK; TB_ENOTFOUND when the node has no certificate installed
 * (links are off: errmsg says how to enrol); TB_EIO for a listen failure;
 * TB_EINVAL, TB_ENOMEM. */
int links_start(const struct link_config *cfg, struct links **out, char *errmsg,
                size_t errlen);

/* links_url writes the bound listen URL ("tcp://127.0.0.1:7401"). */
void links_url(const struct links *ls, char *out, size_t n);

/* links_stop closes every link and socket, fails pending requests with
 * TB_ECLOSED and starts closing the loop handles. Safe on NULL and twice.
 * Runs on the loop thread. */
void links_stop(struct links *ls);

/* links_free releases ls after links_stop and after the loop has run the
 * handles' close callbacks (uv_run returned). Safe on NULL. */
void links_free(struct links *ls);

/* The group's incarnation as the links know it (docs/GROUPS.md,
 * "Recovering a group that lost its quorum"). */
struct link_incarnation {
	uint64_t current;   /* 1 until a recovery */
	json_t *cert;       /* its certificate (a new reference), or NULL */
	uint64_t fenced_by; /* 0, or a higher incarnation seen: this node is
	                       an old member and takes no part in Raft */
	json_t *fenced_cert;
	bool joining;
	unsigned long long refused; /* handshakes refused for incarnation */
};

/* link_incarnation fills out (any thread; release the references with
 * link_incarnation_free). ls may be NULL (links off: incarnation 1). */
void link_incarnation(struct links *ls, struct link_incarnation *out);
void link_incarnation_free(struct link_incarnation *inc);

/* link_fenced is true once this node saw a higher incarnation of its own
 * group (any thread; false for NULL). */
bool link_fenced(struct links *ls);

/* link_set_joining says whether this node waits to be added to a group (a
 * node made with --join whose Raft log is empty): such a node takes a
 * higher incarnation as its own instead of being fenced by it, and members
 * accept it at a lower one. Loop thread. */
void link_set_joining(struct links *ls, bool joining);

/* A received message, valid during the handler call. */
struct link_msg {
	const char *peer_node_id; /* the sender, from its certificate */
	const char *peer_region;
	const char *peer_role; /* the certificate's role: "member", "peer" */
	/* The sender's group incarnation, as its handshake proved it (a
	 * certificate of its parent's that verifies; else 1). */
	uint32_t peer_inc;
	uint32_t type;
	const uint8_t *body;
	size_t len;
	bool request; /* answer with link_reply / link_reply_error */
	struct link_reply_to {
		uint64_t link; /* which link and pipe it came on */
		uint32_t pipe;
		uint64_t id; /* the request's correlation id */
	} reply_to;          /* a copy stays valid after the call */
};

/* A handler of one message type. It may send and reply at once or later
 * (keep m->reply_to). */
typedef void (*link_handler_fn)(struct links *ls, const struct link_msg *m,
                                void *arg);

/* link_handle registers fn for type (>= LINK_TYPE_RESERVED), replacing any
 * handler of that type; fn NULL removes it. Returns TB_OK, TB_EINVAL (a
 * reserved type) or TB_ETOOBIG (the table is full). A request of a type
 * without a handler is answered with TB_ENOTIMPL; a one-way message of such
 * a type is counted and dropped. */
int link_handle(struct links *ls, uint32_t type, link_handler_fn fn, void *arg);

/* A gate says (loop thread) whether a message of type waits before its
 * handler runs; held: messages wait already. A message held is copied and
 * delivered, in arrival order among the held ones, by link_release_held;
 * the node holds messages that read its store while writes it answered
 * are not committed there yet (node/applier.h). */
typedef bool (*link_gate_fn)(void *arg, uint32_t type, bool held);

/* link_set_gate sets the gate (NULL: none). */
void link_set_gate(struct links *ls, link_gate_fn gate, void *arg);

/* link_release_held runs the handlers of the held messages (loop thread).
 * Whatever is still held when the links stop is dropped (a request's
 * sender times out, as when a node stops). */
void link_release_held(struct links *ls);

/* link_send queues a one-way message (body copied) to peer: a node id (16
 * hex digits) or a region code (6 digits; any node of that region with a
 * link). It prefers an up link this node dialed, then an up inbound link,
 * then queues on a configured link still connecting. Returns TB_OK;
 * TB_ENOTFOUND (no link to that peer); TB_ETOOBIG (over LINK_MSG_MAX);
 * TB_EFULL (the link's queue is full); TB_EINVAL (a reserved type);
 * TB_ECLOSED (stopping); TB_ENOMEM. */
int link_send(struct links *ls, const char *peer, uint32_t type,
              const void *msg, size_t len);

/* A response, or why there is none. status: TB_OK with m set (valid
 * during the call); TB_ETIMEOUT; TB_ECLOSED (the link closed, or the node
 * stops); TB_ENOTIMPL (the peer has no handler for the type); or the code
 * the peer's handler gave link_reply_error, with m->body its reason. */
typedef void (*link_response_fn)(void *arg, int status,
                                 const struct link_msg *m);

/* link_request sends a request to peer (as link_send) and calls cb once:
 * with the response, or after timeout_ms, or when the link closes. On an
 * error return cb is never called. Same errors as link_send. */
int link_request(struct links *ls, const char *peer, uint32_t type,
                 const void *msg, size_t len, unsigned timeout_ms,
                 link_response_fn cb, void *arg);

/* link_reply answers the request that to names with type and body
 * (copied), on the link and pipe it came on. Returns TB_OK, TB_ECLOSED if
 * that pipe is gone (the requester times out or sees the close), or as
 * link_send. */
int link_reply(struct links *ls, const struct link_reply_to *to, uint32_t type,
               const void *body, size_t len);

/* link_reply_error answers with an error code (a TB_* value, not TB_OK)
 * and a reason. */
int link_reply_error(struct links *ls, const struct link_reply_to *to, int code,
                     const char *why);

/* link_up says whether peer (a node id or region) has an up link. */
bool link_up(struct links *ls, const char *peer);

/* link_url_node writes the node id that the link this node dials at url
 * (as links.json names it) reached at its last handshake; false if there
 * is no such link or it never completed one. */
bool link_url_node(struct links *ls, const char *url, char out[17]);

/* A new node enrolling with a join token (docs/TRUST.md) dials with the
 * envelope's pattern 3: Noise XX whose third message carries, instead of a
 * certificate chain, its request (canonical msgpack, decoded to req) with
 * the token's secret. The link is then up but restricted: the joiner may
 * send nothing but credits, no handler sees it, and it closes after
 * LINK_JOIN_MS. fn runs on the loop with the request (borrowed), the X25519
 * key the handshake proved, and where to answer; the answer is
 * link_join_answer (a LINK_T_JOIN message: the JSON body), after which the
 * joiner closes the link. Without fn, joiners are refused. */
#define LINK_JOIN_MS 30000
typedef void (*link_join_fn)(struct links *ls, const json_t *req,
                             const uint8_t kx[32],
                             const struct link_reply_to *to, void *arg);
void link_on_join(struct links *ls, link_join_fn fn, void *arg);
int link_join_answer(struct links *ls, const struct link_reply_to *to,
                     const void *body, size_t len);

/* links_view_json describes every link for GET /v1/links (any thread;
 * caller decrefs): {"node_id", "region", "listen", "links": [{"peer_node_id",
 * "peer_region", "direction", "url", "remote", "state", "pattern",
 * "cert_serial", "cert_not_after", "frames_tx", "frames_rx", "bytes_tx",
 * "bytes_rx", "handshakes", "last_error", "rtt_ms", "since"}]}. */
json_t *links_view_json(struct links *ls);

/* links_metrics_text returns the links' Prometheus text (malloc'd, caller
 * frees; any thread), or NULL. */
char *links_metrics_text(struct links *ls);

#endif
