/* Enrolment with a join token, the issuer's side.
 *
 * POST /v1/join-tokens makes a token at a node that holds a region key
 * online (DIR/keys/region.json, the key of DIR/certs/chain.json[0]): for
 * its own region (member, peer) or for a child region (child). Only the
 * secret's hash goes into the group's state (join.create, feature level
 * 2); the token string carries this node's link address and X25519 key.
 *
 * A joining node dials this node's link with the join pattern; its third
 * Noise XX message carries {"format": "tongban.joinreq/1", "id",
 * "secret", "region", "role", "requests": [...]}. The checks below give a
 * precise refusal and change nothing; then join.use is committed through
 * Raft (its apply refuses a second use, so two members holding the key
 * cannot both honour one token), and only then are the certificates
 * signed and sent back with the chain, the root and the lists
 * (node/join_link.c). Logged TB-JOIN-ENROLLED or TB-JOIN-REFUSED. */
#include "node/join.h"

#include "node/api.h"
#include "node/certstore.h"
#include "node/link.h"
#include "node/node.h"
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/join.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_TTL_DEFAULT_S 3600
#define JOIN_TTL_MAX_S     (7 * 86400)

/* ---- the region key held online --------------------------------------- */

json_t *
join_load_in(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
}

/* issuer_load reads the region key and its certificate (the first of the
 * node's chain); *cert is a new reference. */
int
join_issuer_load(const char *dir, uint8_t sk[64], json_t **cert, char *err,
                 size_t n)
{
	json_t *k = join_load_in(dir, JOIN_REGION_KEY), *chain;
	uint8_t seed[32], pk[32];
	char pkh[65];
	int rv = TB_ENOTFOUND;

	*cert = NULL;
	chain = certstore_load(dir, "chain");
	if (k == NULL || canon_unhex(spec_str(k, "seed"), seed, 32) != TB_OK) {
		snprintf(err, n,
		         "this node holds no region key (%s): tongban cert "
		         "install --dir DIR --region-key KEY.json",
		         JOIN_REGION_KEY);
		goto out;
	}
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
	canon_hex(pk, 32, pkh);
	*cert = json_incref(json_array_get(chain, 0));
	if (*cert == NULL || spec_str(*cert, "sign_key") == NULL ||
	    strcmp(spec_str(*cert, "sign_key"), pkh) != 0) {
		snprintf(err, n,
		         "the region key in %s is not the key of the node's "
		         "region certificate (the chain in DIR/local)",
		         JOIN_REGION_KEY);
		json_decref(*cert);
		*cert = NULL;
		sodium_memzero(sk, 64);
		rv = TB_EFORBIDDEN;
		goto out;
	}
	rv = TB_OK;
out:
	json_decref(k);
	json_decref(chain);
	return rv;
}

/* may_grant: a region key grants member and peer in its own region, child
 * for its children in the region table. */
static bool
may_grant(const char *issuer, const char *region, enum join_role role)
{
	int32_t a, b;
	const struct region *r;

	if (role != JOIN_CHILD) {
		return !strcmp(issuer, region);
	}
	if (region_code_parse(issuer, &a) != 0 ||
	    region_code_parse(region, &b) != 0 ||
	    (r = region_find(region_builtin(), b)) == NULL) {
		return false;
	}
	return r->parent == a;
}

/* ---- POST /v1/join-tokens --------------------------------------------- */

void
join_api_create(struct http_call *c, const json_t *req)
{
	static const struct spec_field f[] = {
		{ "region", SPEC_STRING, true },
		{ "role", SPEC_STRING, true },
		{ "ttl_s", SPEC_INT, false },
		{ "address", SPEC_STRING, false },
	};
	struct node *n = c->node;
	struct join_token t;
	struct tb_diag d;
	char url[160], err[300], hash[65], str[JOIN_STRING_MAX];
	const char *region = spec_str(req, "region"), *host;
	long long ttl = spec_int(req, "ttl_s", JOIN_TTL_DEFAULT_S);
	uint8_t sk[64], id[8];
	int64_t now = node_now_ms();
	json_t *cert = NULL, *body;
	int32_t code;
	int rv;

	tb_diag_init(&d);
	if (spec_object(req, f, sizeof(f) / sizeof(f[0]), "$", &d) != 0) {
		http_reply_error(c, 422, tb_errname(d.e[0].code), d.e[0].path,
		                 "%s", d.e[0].msg);
		return;
	}
	memset(&t, 0, sizeof(t));
	if (join_role_parse(spec_str(req, "role"), &t.role) != TB_OK) {
		http_reply_error(c, 422, "bad_code", "$.role",
		                 "role is member, peer or child");
		return;
	}
	if (region_code_parse(region, &code) != 0 ||
	    region_find(region_builtin(), code) == NULL) {
		http_reply_error(c, 422, "bad_code", "$.region",
		                 "%s is not a region of GB/T 2260", region);
		return;
	}
	if (ttl < 1 || ttl > JOIN_TTL_MAX_S) {
		http_reply_error(c, 422, "out_of_range", "$.ttl_s",
		                 "ttl_s is 1 to %d seconds (7 days)",
		                 JOIN_TTL_MAX_S);
		return;
	}
	if (n->links == NULL) {
		http_reply_error(c, 409, "conflict", NULL,
		                 "links are off on this node (it started "
		                 "without a certificate; restart it after "
		                 "tongban cert install): a joining node could "
		                 "not reach it");
		return;
	}
	if ((rv = join_issuer_load(n->cfg.dir, sk, &cert, err, sizeof(err))) !=
	    TB_OK) {
		/* 409 conflict, as docs/API.md says: the node's state, not a
		 * missing resource of the request ("409 not_found" read as a
		 * contradiction). */
		http_reply_error(c, 409, "conflict", NULL, "%s", err);
		return;
	}
	sodium_memzero(sk, sizeof(sk));
	if (!may_grant(spec_str(cert, "region"), region, t.role)) {
		http_reply_error(
		    c, 403, "forbidden", "$.region",
		    t.role == JOIN_CHILD
		        ? "this node's region key (%s) certifies only the "
		          "region keys of its children, and %s is not one"
		        : "this node's region key (%s) certifies nodes of %s "
		          "only, not of %s",
		    spec_str(cert, "region"),
		    t.role == JOIN_CHILD ? region : spec_str(cert, "region"),
		    region);
		json_decref(cert);
		return;
	}
	json_decref(cert);
	/* The address the new node dials: given (this node behind NAT, or
	 * listening on all addresses), or where its link listens. */
	links_url(n->links, url, sizeof(url));
	if (spec_str(req, "address") != NULL) {
		snprintf(url, sizeof(url), "%s", spec_str(req, "address"));
	}
	host = strncmp(url, "tcp://", 6) ? url : url + 6;
	if (strrchr(host, ':') == NULL || strlen(host) > JOIN_ADDR_MAX ||
	    atoi(strrchr(host, ':') + 1) <= 0) {
		http_reply_error(c, 422, "bad_code", "$.address",
		                 "the address is HOST:PORT (at most %d "
		                 "characters)",
		                 JOIN_ADDR_MAX);
		return;
	}
	if (!strncmp(host, "0.0.0.0:", 8) || !strncmp(host, "[::]:", 5)) {
		http_reply_error(c, 409, "conflict", "$.address",
		                 "this node's link listens on %s, which a "
		                 "joining node cannot dial: give the address "
		                 "others reach it at (--address HOST:PORT)",
		                 host);
		return;
	}
	snprintf(t.region, sizeof(t.region), "%s", region);
	randombytes_buf(id, sizeof(id));
	canon_hex(id, sizeof(id), t.id);
	randombytes_buf(t.secret, sizeof(t.secret));
	snprintf(t.issuer_node, sizeof(t.issuer_node), "%s", n->cfg.node_id);
	memcpy(t.issuer_kx, n->cfg.kx_pk, 32);
	t.expires = (now + ttl * 1000) / 1000;
	snprintf(t.addr, sizeof(t.addr), "%s", host);
	join_secret_hash(t.secret, hash);
	rv = join_encode(&t, str, sizeof(str));
	join_token_wipe(&t);
	if (rv != TB_OK) {
		http_reply_error(c, 422, "bad_code", "$.address",
		                 "the address %s cannot go in a token "
		                 "(printable ASCII HOST:PORT)",
		                 host);
		return;
	}
	canon_hex(id, sizeof(id), err);
	body = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "id", err, "hash",
	                 hash, "region", region, "role", spec_str(req, "role"),
	                 "expires", (json_int_t)(now + ttl * 1000), "issuer",
	                 n->cfg.node_id);
	c->extra = json_pack("{s:s, s:s}", "token", str, "address", host);
	sodium_memzero(str, sizeof(str));
	if (body == NULL || c->extra == NULL) {
		json_decref(body);
		http_reply_error(c, 500, "nomem", NULL, "out of memory");
		return;
	}
	node_audit(n, c, "join_token.create", err);
	node_propose(n, c, CMD_JOIN_CREATE, body, NULL);
	json_decref(body);
}
