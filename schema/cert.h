/* Certificates of region, node and client keys, their requests and the
 * cross-certification of province roots. */
#ifndef TB_SCHEMA_CERT_H
#define TB_SCHEMA_CERT_H

#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A certificate binds an Ed25519 key to a region's place in the tree
 * (docs/TRUST.md has the full story):
 *
 *   {"format": "tongban.cert/1", "serial": "7f3a09c1d2e4b5a6",
 *    "kind": "node", "region": "370102", "node_id": "a1b2c3d4e5f60718",
 *    "role": "member", "name": "历下区 node 1",
 *    "sign_key": "<hex32>", "kx_key": "<hex32>",
 *    "not_before": "2026-01-01T00:00:00Z",
 *    "not_after": "2027-01-01T00:00:00Z",
 *    "issuer": {"region": "370102", "key": "<hex32>"},
 *    "signatures": [{"key": "<hex32>", "sig": "<hex64>"}]}
 *
 * kind "region": the region's signing key. No node_id, role or kx_key.
 *   A province's is issued by its root's officers (issuer {"region":
 *   "370000", "root": true}, threshold signatures); any other region's by
 *   its parent region's key (parents from the region table).
 * kind "node": one node of the region, issued by the region's own key;
 *   node_id, kx_key and role ("member": may be a voter of the region's
 *   replica group; "peer": may only link) are required.
 * kind "client": an identity that signs API tokens, issued by its region's
 *   key; role is the API role it may grant ("region_admin", a-z and _).
 *
 * Signatures cover the canonical bytes without "signatures" (trust_sign).
 * Serials are 16 lowercase hex digits, drawn at random by the issuer.
 */

#define CERT_FORMAT       "tongban.cert/1"
#define CERT_REQ_FORMAT   "tongban.certreq/1"
#define CERT_XCERT_FORMAT "tongban.xcert/1"
#define CERT_SERIAL_HEX   16
#define CERT_NODE_ID_HEX  16
#define CERT_TIME_LEN     21 /* "2026-01-01T00:00:00Z" and a NUL */
#define CERT_CHAIN_MAX    8  /* certificates and a cross-certificate */

/* The error a revoked certificate gives. TB_ECONFLICT ("conflicts with the
 * current state": the current revocation list) until the error table has a
 * code of its own; callers use this name. */
#define CERT_EREVOKED TB_EREVOKED

enum cert_kind { CERT_REGION, CERT_NODE, CERT_CLIENT, CERT_ANY };

/* cert_kind_name returns "region", "node", "client" or "any". */
const char *cert_kind_name(enum cert_kind k);

/* cert_kind_parse maps a name to its kind; TB_ECODE if unknown. */
int cert_kind_parse(const char *s, enum cert_kind *k);

/* cert_node_id writes the node id of an Ed25519 public key: the hex of the
 * first 8 bytes of its BLAKE2b-256 (what `tongban init` records). A node
 * keeps the id of its FIRST key across rotations (the issuer carries it
 * over), so only a first certificate must match its key's hash. */
void cert_node_id(const uint8_t pk[32], char out[CERT_NODE_ID_HEX + 1]);

/* cert_time_format writes unix_ms (rounded down to the second) as an RFC
 * 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ". */
void cert_time_format(int64_t unix_ms, char out[CERT_TIME_LEN]);

/* cert_check validates a certificate's fields: types, unknown and missing
 * fields, hex keys and serial, the region in the region table, the fields
 * its kind needs or forbids, a validity window that is not empty. It does
 * not check signatures or the issuer (cert_verify_chain does). Problems go
 * to d at path ("$.chain[1].not_after"); returns how many. */
int cert_check(const json_t *cert, const char *path, struct tb_diag *d);

/*
 * A certificate request proves possession of the key it names:
 *
 *   {"format": "tongban.certreq/1", "kind": "node", "region": "370102",
 *    "node_id": "<hex8>", "sign_key": "<hex32>", "kx_key": "<hex32>",
 *    "name": "...", "signatures": [<by sign_key>, <by the previous key>]}
 *
 * kind region: only region, sign_key and optionally name. A rotated node
 * key keeps its node_id and is also signed by the key it replaces.
 * cert_issue.h builds requests, certificates and cross-certificates.
 */

/* cert_request_check validates req: its fields, a signature by its own
 * sign_key and, for a node, the node id: with prev_cert NULL it must be
 * the hash of sign_key; with prev_cert (the node's current certificate,
 * when its key rotates) it must be prev_cert's, in the same region, and
 * req must also carry a signature by prev_cert's sign_key. Problems go to
 * d at path; returns how many. */
int cert_request_check(const json_t *req, const json_t *prev_cert,
                       const char *path, struct tb_diag *d);

/*
 * A cross-certificate lets one province trust another's root without a
 * central server:
 *
 *   {"format": "tongban.xcert/1", "serial": "<hex8>",
 *    "issuer": {"region": "370000", "root": true},
 *    "subject": {"region": "110000", "threshold": 2,
 *                "officers": [{"name": "...", "key": "<hex32>"}, ...]},
 *    "grants": {"scope": "370000", "roles": ["service"]},
 *    "not_before": "...", "not_after": "...", "signatures": [...]}
 *
 * signed by threshold officers of the issuing root. A chain of the other
 * province ends with its province certificate (signed by the officers the
 * subject names) followed by this cross-certificate. A rotation of the
 * other root that changes its officers needs a new cross-certificate.
 *
 * grants (optional, signed with the rest) says what the other province's
 * API tokens may do here: scope, a region of the issuing root's province
 * (absent: no token of the other province is valid here), and roles, the
 * API roles they may carry (cert_grant_role_ok: service, auditor, clerk;
 * never an administrative role). Without grants the cross-certificate
 * still lets links verify the other province's chains.
 */

/* cert_xcert_check validates a cross-certificate's fields (not its
 * signatures); returns the number of problems added to d. */
int cert_xcert_check(const json_t *x, const char *path, struct tb_diag *d);

/* cert_grant_role_ok is true if a cross-certificate may grant role to
 * another province's API tokens (service, auditor, clerk). */
bool cert_grant_role_ok(const char *role);

/* cert_issuer_is_root is true if doc's issuer is a root's officers. */
bool cert_issuer_is_root(const json_t *doc);

/* cert_region_parent writes the parent of region per the built-in region
 * table into out ("" for a province). TB_ECODE if region is not a code of
 * the table. Parents come from the table, never from the digits. */
int cert_region_parent(const char *region, char out[7]);

/* cert_region_province writes the province region belongs to (region
 * itself for a province) into out; TB_ECODE if region is not in the
 * table. */
int cert_region_province(const char *region, char out[7]);

/* cert_key_is is true if hex names the public key of the libsodium secret
 * key sk (its second half). */
bool cert_key_is(const char *hex, const uint8_t sk[64]);

#endif
