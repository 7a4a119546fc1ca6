/* The store's LMDB layout and helpers: databases, keys, versioned values. */
#ifndef TB_NODE_STORE_DB_H
#define TB_NODE_STORE_DB_H

#include "node/store.h"
#include "schema/catalog.h"
#include "schema/error.h"

#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Every value but the raw index values starts with this schema-version
 * byte, followed by canonical msgpack (docs/STORE.md). A reader refuses a
 * version it does not know (TB_ECORRUPT) rather than misread it. */
#define STORE_SV 1

/* The layout version in meta "layout": the set of databases and keys. */
#define STORE_LAYOUT 1

/* The replicated databases, in digest order. Names are stored in the
 * environment: append, never rename. */
enum store_db {
	DB_META,         /* string key -> sv + value (docs/STORE.md) */
	DB_RELEASES,     /* u64 version -> release document */
	DB_MATTERS,      /* matter key -> standard matter */
	DB_BUNDLES,      /* bundle code -> standard bundle */
	DB_OVERLAYS,     /* region(6) u64 version -> overlay document */
	DB_CASES,        /* case id -> case record */
	DB_CASE_STATE,   /* u8 state, case id -> "" */
	DB_CASE_MATTER,  /* basic key, 0, case id -> "" */
	DB_CASE_EVENTS,  /* case id, 0, u32 seq -> u64 event seq */
	DB_EVENTS,       /* u64 event seq -> case.event envelope */
	DB_APPLICANTS,   /* keyed hash(32), case id -> "" */
	DB_APPLICATIONS, /* bundle application id -> record */
	DB_IDEM,         /* hash(type, key) -> idempotency record */
	DB_TOKENS,       /* token id -> token record */
	DB_TOKEN_HASH,   /* secret hash(32) -> token id */
	/* Added after layout 1, at a feature level: a database from here on
	 * is in the content hash and the snapshot stream only once it holds
	 * a record, so that a group at a lower level hashes as the previous
	 * build does. */
	DB_OUTBOX,   /* streams between regions (level 2, REPLICATION.md) */
	DB_CASE_SUM, /* case id -> case summary (level 2, fsm_sum.c) */
	DB_CRLS,     /* issuer region "/" key hex | "root" -> the newest
	                revocation list of that issuer (level 3, fsm_crl.c) */
	DB_HANDOFFS, /* handoff records (level 3, fsm_handoff.c) */
	DB_COUNT
};

/* The first database that enters the content hash only when not empty. */
#define DB_FIRST_OPTIONAL DB_OUTBOX

/* The region, its province, and the regions whose overlays it takes: its
 * ancestors below the province, top down, then itself. */
#define STORE_CHAIN_MAX 4

/* The catalog as the writer caches it between applies: a pure function of
 * the committed databases, rebuilt whenever it may be stale. */
#define FSM_CHECKS_CACHE 8
struct fsm_checks;

struct fsm_catalog {
	bool valid;
	/* The group runs at FSM_CAP_LEVEL or above: resolving holds a
	 * promised limit to the caps above it (overlay_cap). */
	bool cap;
	struct catalog std;
	json_t *ov[STORE_CHAIN_MAX]; /* current overlay of chain[i] or NULL */
	/* Matter codes resolved so far: code -> {eff, key, task_code,
	 * region, hash, locked}. Resolving hashes the effective matter's
	 * canonical bytes, the dearest step of a case.create. */
	json_t *resolved;
	/* The form and material lists of the effective matters checked
	 * last, compiled (fsm_checks.c); each holds its matter. */
	struct fsm_checks *chk[FSM_CHECKS_CACHE];
	unsigned chk_next;
};

/* Reset read transactions a store keeps for reuse. */
#define STORE_RD_POOL   8
#define STORE_TOK_CACHE 16

/* The meta integers (meta_get_u64, meta_put_u64, meta_add) a direct batch
 * keeps in memory: up to this many names of up to STORE_META_NAME - 1
 * bytes; others are read and written in LMDB as usual. */
#define STORE_META_CACHE 16
#define STORE_META_NAME  32

/* One cached meta integer: its value in the batch (0 if absent) and
 * whether the batch has changed it (a put still to be written). */
struct store_meta {
	char name[STORE_META_NAME];
	uint64_t v;
	bool dirty;
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	char region[7];
	char province[7];
	int nchain;
	char chain[STORE_CHAIN_MAX][7];
	uint8_t index_key[32];
	size_t map_size;
	struct fsm_catalog cat; /* the writer's alone */
	MDB_txn *batch;    /* the open batch (store_batch_begin), or NULL */
	bool direct;       /* applies write into the batch (store_set_direct) */
	bool list_records; /* store_list_from_records */
	bool decode_full;  /* store_decode_full */
	/* Set by an apply that entered the step TB_FAULT_HANDOFF_EXIT names:
	 * the writer _exit(9)s after the commit (fsm_handoff.c). */
	bool fault_exit;
	int last_type;           /* the last applied command's type, or -1 */
	uint64_t list_fallbacks; /* store_list_fallbacks (atomic) */
	/* The meta integers of the open direct batch (store_meta_flush):
	 * a case's apply read and wrote six of them (applied, last_at, the
	 * serial, the event sequence, two counters), each an LMDB search. */
	size_t nmeta;
	struct store_meta meta[STORE_META_CACHE];
	int meta_err; /* a flush failed in store_set_direct: the batch is lost
	               */
	/* The gate: every transaction holds it shared (a read for its
	 * length, the writer's batch from begin to commit), and
	 * store_snapshot_swap_live holds it exclusively while it replaces
	 * the environment under the same struct store. */
	pthread_rwlock_t gate;
	/* Read transactions kept reset for reuse (MDB_NOTLS lets any thread
	 * renew one): beginning a fresh one callocs a few KiB, which made
	 * glibc consolidate its fast bins on every request. */
	pthread_mutex_t rd_mu;
	int nrd;
	MDB_txn *rd_pool[STORE_RD_POOL];
	/* Token records decoded once (store_token_lookup), each kept with
	 * the stored bytes it was decoded from; under tok_mu. */
	pthread_mutex_t tok_mu;
	struct store_tok {
		uint8_t hash[32];
		uint8_t *val; /* the stored value, or NULL: a free slot */
		size_t len;
		json_t *rec;
	} tok[STORE_TOK_CACHE];
};

/* store_tok_drop frees the decoded token records (store_close). */
void store_tok_drop(struct store *s);

/* store_rd_begin begins a read transaction under the gate (shared),
 * renewing a pooled one if there is one; the LMDB return code.
 * store_rd_end resets it back into the pool (or aborts it) and leaves the
 * gate. store_rd_drain aborts the pooled ones: under the gate held
 * exclusively, or with no reader left, before the environment closes. */
int store_rd_begin(struct store *s, MDB_txn **txn);
void store_rd_end(struct store *s, MDB_txn *txn);
void store_rd_drain(struct store *s);

/* store_db_name returns the LMDB name of database i. */
const char *store_db_name(enum store_db i);

/* db_err maps an LMDB or errno return onto the project's codes:
 * MDB_NOTFOUND -> TB_ENOTFOUND, MDB_MAP_FULL and MDB_TXN_FULL -> TB_EFULL,
 * MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_VERSION_MISMATCH ->
 * TB_ECORRUPT, ENOMEM -> TB_ENOMEM, anything else TB_EIO. */
int db_err(int mrv);

/* Big-endian integers, so that byte order is numeric order. */
void db_be64(uint8_t *p, uint64_t v);
uint64_t db_get_be64(const uint8_t *p);
void db_be32(uint8_t *p, uint32_t v);
uint32_t db_get_be32(const uint8_t *p);

/* db_get looks key up; *v borrows LMDB memory that dies with txn. Returns
 * TB_OK, TB_ENOTFOUND or a db_err code. */
int db_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *v);

/* db_put stores raw bytes (copied by LMDB); db_del removes a key
 * (TB_ENOTFOUND if absent). */
int db_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
           const void *val, size_t vlen);
int db_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

/* db_put_last is db_put for a key that is most likely above every key of
 * dbi (a new event's sequence number, a new case's id): LMDB appends it
 * (MDB_APPEND: no search down the tree, and a full page is split at its
 * end rather than its middle); any other key is put as db_put does. The
 * database holds the same keys and values either way. */
int db_put_last(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                const void *val, size_t vlen);

/* db_put_canon stores what db_put_json would for a value whose canonical
 * msgpack the caller has (p, n: copied by LMDB, with no buffer of ours in
 * between): the bytes of a matter or release as they came in a command. */
int db_put_canon(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const uint8_t *p, size_t n);

/* db_put_json stores the schema-version byte and v's canonical msgpack
 * (v is only read). */
int db_put_json(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                const json_t *v);

/* db_val_json decodes a versioned value into a new JSON value (*out, caller
 * decrefs), copying it out of LMDB memory. TB_ECORRUPT on a bad value. */
int db_val_json(const MDB_val *v, json_t **out);

/* db_val_json_fields is db_val_json keeping only the top-level members
 * named in keys[0..nkeys) of an object value (canon_decode_fields). */
int db_val_json_fields(const MDB_val *v, const char *const *keys, size_t nkeys,
                       json_t **out);

/* db_get_json is db_get then db_val_json. */
int db_get_json(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                json_t **out);

/* meta_get_u64 reads the integer under meta key name (0 if absent);
 * meta_put_u64 writes it. Integers are sv + 8 bytes big-endian. */
int meta_get_u64(const struct store *s, MDB_txn *txn, const char *name,
                 uint64_t *v);
int meta_put_u64(const struct store *s, MDB_txn *txn, const char *name,
                 uint64_t v);

/* meta_add adds delta to the counter name (which must not go below 0). */
int meta_add(const struct store *s, MDB_txn *txn, const char *name,
             int64_t delta);

/* In a direct batch (txn is s->batch and s->direct), the three above read
 * a name once from LMDB and then keep it in s->meta; its puts stay there
 * until store_meta_flush writes each changed value once into the batch,
 * which store_batch_commit does before it commits (and store_set_direct
 * before the batch leaves direct mode): the committed bytes are the same.
 * store_meta_drop forgets them (the batch is aborted). */
int store_meta_flush(struct store *s);
void store_meta_drop(struct store *s);

/* db_applicant_hash is the keyed BLAKE2b-256 of an id number: the only form
 * in which an id number may appear in a key. */
void db_applicant_hash(const struct store *s, const char *id_number,
                       uint8_t out[32]);

#endif
