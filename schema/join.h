/* One-time join tokens: the string an admin hands to a new node's operator
 * (docs/TRUST.md, "Enrolment with a join token"). */
#ifndef TB_SCHEMA_JOIN_H
#define TB_SCHEMA_JOIN_H

#include "schema/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 *   tbj1.<base64url(body)>          (RFC 4648 section 5, no padding)
 *
 * body, binary:
 *
 *   version 1 (1) | role (1) | region (6 ASCII digits) | id (8) |
 *   secret (32) | issuer node id (8) | issuer X25519 key (32) |
 *   expires, Unix seconds (u64 BE) | address length (1) | address |
 *   check (4: the first 4 bytes of BLAKE2b-256 of everything before)
 *
 * The secret is 32 random bytes; the issuing group stores only its
 * BLAKE2b-256 (join_secret_hash). The issuer's X25519 key is what the new
 * node pins: it refuses an issuer whose handshake static key differs. The
 * check catches a mistyped or edited string before anything is dialed (it
 * is not a signature: a forged string fails the handshake's pin or the
 * issuer's hash instead).
 */

#define JOIN_PREFIX     "tbj1."
#define JOIN_SECRET     32
#define JOIN_ADDR_MAX   120
#define JOIN_STRING_MAX 400

enum join_role {
	JOIN_MEMBER = 1, /* a member certificate of the issuer's region */
	JOIN_PEER = 2,   /* a peer certificate (links only, never votes) */
	JOIN_CHILD = 3,  /* the region key of a child region (and the first
	                    node of that region, certified by it) */
};

struct join_token {
	enum join_role role;
	char region[7];
	char id[17]; /* 16 lowercase hex digits */
	uint8_t secret[JOIN_SECRET];
	char issuer_node[17];
	uint8_t issuer_kx[32];
	int64_t expires;              /* Unix seconds */
	char addr[JOIN_ADDR_MAX + 1]; /* HOST:PORT of the issuer's link */
};

/* join_role_name: "member", "peer", "child"; NULL for another value. */
const char *join_role_name(enum join_role r);

/* join_role_parse maps a name to its role; TB_ECODE otherwise. */
int join_role_parse(const char *name, enum join_role *r);

/* join_encode writes t's string (NUL-terminated) to out (n bytes, at
 * least JOIN_STRING_MAX). TB_EINVAL for a field out of range. */
int join_encode(const struct join_token *t, char *out, size_t n);

/* join_decode parses s into t. Refusals (TB_EMALFORMED, with errmsg):
 * the prefix, base64url, the length, the version, the check ("tampered
 * or mistyped"), a role, region, id or address that is not valid. */
int join_decode(const char *s, struct join_token *t, char *errmsg,
                size_t errlen);

/* join_secret_hash writes the hex BLAKE2b-256 of secret to hex (65). */
void join_secret_hash(const uint8_t secret[JOIN_SECRET], char hex[65]);

/* join_token_wipe zeroes t (the secret). */
void join_token_wipe(struct join_token *t);

#endif
