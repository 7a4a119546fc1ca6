/* A node's directory: its configuration file and keys. */
#ifndef TB_NODE_CONFIG_H
#define TB_NODE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DIR/tongban.json      configuration (region, addresses, node id, sizes)
 * DIR/keys/node.json    the node's Ed25519 signing and X25519 key-exchange
 *                       keys, and the index key (0600; DIR/keys is 0700)
 * DIR/keys/officer.json a province's 1-of-1 root officer key (init without
 *                       --root), DIR/root.json its root metadata
 * DIR/raft/             the Raft log, term and vote (LMDB, node-local)
 * DIR/state/            the region's replicated state (LMDB)
 * DIR/blobs/            content-addressed materials
 * DIR/audit.log         append-only audit of administrative acts and reads
 *                       of personal data (JSON lines)
 */

struct node_config {
	char dir[PATH_MAX];
	char region[7];
	char name[128];
	char api[128];  /* HOST:PORT the HTTP API listens on (port 0: any) */
	char link[128]; /* HOST:PORT for links (used by the links issue) */
	char tls_cert[PATH_MAX]; /* PEM certificate (chain) for HTTPS, or "" */
	char tls_key[PATH_MAX];  /* its PEM private key */
	char node_id[17];
	uint64_t raft_id;
	char bootstrap_hash[65]; /* BLAKE2b of the one-time admin token */
	size_t state_map_size;
	size_t raft_map_size;
	size_t blob_max; /* largest material accepted, bytes */
	unsigned snapshot_threshold;
	/* The replica group (docs/GROUPS.md): a node made with --join starts
	 * with no configuration and waits to be added (join is the link
	 * address it dialed first); Raft's timeouts, node-local. */
	char join[128];
	/* init's --parent and --peer: a JSON array of region.topology
	 * bodies, proposed once the group runs (node/region.c). */
	char init_topology[4096];
	unsigned heartbeat_ms;    /* default 50 */
	unsigned election_ms;     /* default 1000 */
	size_t snapshot_chunk;    /* target bytes of a streamed snapshot's
	                           * chunk (default 1 MiB, 4 KiB..64 MiB) */
	unsigned blob_timeout_ms; /* a material's copy to a member (10000) */
	/* An admin may abort an offer this old (default 60000; the leader
	 * puts it in the handoff.abort command, docs/HANDOFF.md). */
	long long handoff_abort_after_ms;
	/* The province's latest-version statements (docs/REPLICATION.md
	 * "Withheld releases"): its leader signs one every interval (2000),
	 * valid for ttl (10000); a region below alerts when a release stays
	 * withheld, or no statement is fresh, for withheld_after (10000). */
	unsigned latest_interval_ms, latest_ttl_ms, withheld_after_ms;
	unsigned stop_timeout_ms; /* default 15000: a stop that takes longer
	                           * is forced (TB-STOP-FORCED) */
	/* Each link direction's key is replaced after this many frames or
	 * seconds, whichever comes first (docs/LINKS.md "Rekeying"). */
	uint64_t link_rekey_frames;        /* default 2^20, 2..2^40 */
	unsigned link_rekey_seconds;       /* default 3600, 1..86400 */
	unsigned link_rehandshake_seconds; /* default 86400; 0 off, else
	                                      2..2592000 */
	uint8_t sign_sk[64];               /* loaded from keys/node.json */
	uint8_t kx_sk[32]; /* X25519 key-exchange secret (kx_secret) */
	uint8_t kx_pk[32]; /* its public key */
	bool has_kx;       /* keys/node.json holds kx_secret */
	uint8_t index_key[32];
	bool has_release_key;
	uint8_t release_sk[64];
};

struct node_init_args {
	const char *dir;
	const char *region;
	const char *name;
	const char *api;      /* default 127.0.0.1:7400 */
	const char *link;     /* default 127.0.0.1:7401 */
	const char *root;     /* province root metadata file, or NULL */
	const char *tls_cert; /* serve HTTPS with this PEM certificate ... */
	const char *tls_key;  /* ... and key (absolute paths are stored) */
	const char *join;     /* HOST:PORT of a member's link: join its group
	                         (no bootstrap, no admin token of its own) */
	const uint8_t *index_key; /* the group's applicant index key (32
	                             bytes), or NULL to draw a new one */
	const uint8_t *sign_seed; /* the node's Ed25519 seed (32 bytes), or
	                             NULL to draw one (a join token's request
	                             is made before the directory) */
	const uint8_t *kx_secret; /* its X25519 secret (32), or NULL */
	const char *parent;       /* CODE@tcp://HOST:PORT, or NULL */
	const char *peers[16];    /* CODE@tcp://HOST:PORT ... */
	int npeers;
};

/* node_config_init creates a node directory: config, keys (owner-only),
 * the LMDB directories, and for a province without a root a 1-of-1 root.
 * Writes the one-time admin token (shown once, only its hash is stored)
 * to token (size 80). Refuses an existing directory's config. */
int node_config_init(const struct node_init_args *a, char *token,
                     struct node_config *out, char *errmsg, size_t errlen);

/* node_config_load reads DIR's configuration and keys. */
int node_config_load(const char *dir, struct node_config *c, char *errmsg,
                     size_t errlen);

/* node_dir_lock takes DIR/run.lock (flock, exclusive, not waiting): held
 * by a running node for its life, and by the offline commands that must
 * not run beside it (tongban group recover). Returns the descriptor (close
 * it to release), or -1 with the reason in errmsg. */
int node_dir_lock(const char *dir, char *errmsg, size_t errlen);

/* node_config_wipe zeroes the secret keys held in c. */
void node_config_wipe(struct node_config *c);

/* node_token_hash computes the hex BLAKE2b-256 of a bearer token. */
void node_token_hash(const char *token, char hex[65]);

#endif
