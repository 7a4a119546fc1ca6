/* crl.put: a signed revocation list enters the replicated state (feature
 * level 3), where every member's links read it (docs/TRUST.md,
 * "Replicated revocation lists").
 *
 * The body is {crl, root, chain?}: the list as its issuer signed it, the
 * province's root metadata the proposing node trusts (DIR/root.json, or
 * the stored root), and for a list of a region key the certificates from
 * that key's region certificate up to the province's. When the group
 * stores a root (root.put, node/fsm_root.c) that root is the anchor and
 * the command's is ignored; otherwise the command's root anchors the list,
 * so apply stays a function of the log either way. Apply checks, at the
 * command's time:
 *
 *   1. without a stored root, the command's root: threshold-signed by its
 *      own officers, unexpired, and the root of this region's province;
 *   2. the list's fields, and that its issuer is a region of this province;
 *   3. the signature: by the root's officers for a root's list; for a
 *      region key's list, by that key, and the chain names the key: its
 *      first certificate is a region certificate of the issuer's region
 *      whose sign_key is the list's issuer key, and the chain verifies to
 *      the root;
 *   4. the version is higher than the stored list's of the same issuer, and
 *      the list keeps every serial and token id the stored one names.
 *
 * Any failure is a refusal naming the field and why; nothing is written.
 * The stored value is the list document exactly as decoded from the
 * command (its signature still verifies on a read). From feature level 4
 * the list flows down the tree: {crl, root (the anchor it verified
 * against), chain?} is appended to every child's outbox stream and kept as
 * "l" issuer in DB_OUTBOX (the newest list of each issuer, for the
 * backfill of a stream opened later), in the same transaction; a child
 * applies it with these same checks (fsm_crl_delivered;
 * docs/REPLICATION.md "Trust down the tree"). */
#include "node/fsm.h"
#include "node/region_store.h"

#include "schema/cert.h"
#include "schema/cert_chain.h"
#include "schema/cert_crl.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* crl_key writes the DB_CRLS key of crl's issuer ("370100/<key hex>"
 * or "370000/root") and returns its length, 0 if it has none. */
static size_t
crl_key(const json_t *crl, char *out, size_t n)
{
	const json_t *iss = json_object_get(crl, "issuer");
	const char *region = spec_str(iss, "region");
	const char *key = spec_str(iss, "key");
	int len;

	if (region == NULL) {
		return 0;
	}
	len = snprintf(out, n, "%s/%s", region,
	               cert_issuer_is_root(crl) ? "root"
	               : key != NULL            ? key
	                                        : "");
	return len > 0 && (size_t)len < n ? (size_t)len : 0;
}

/* dropped finds the first entry of old's array `arr` (by field) that new's
 * lacks; NULL if new keeps them all. */
static const char *
dropped(const json_t *old, const json_t *new, const char *arr,
        const char *field)
{
	const json_t *o, *n;
	size_t i, j;

	json_array_foreach(json_object_get(old, arr), i, o)
	{
		const char *v = spec_str(o, field);
		bool found = false;

		json_array_foreach(json_object_get(new, arr), j, n)
		{
			const char *w = spec_str(n, field);
			if (v != NULL && w != NULL && !strcmp(v, w)) {
				found = true;
				break;
			}
		}
		if (!found) {
			return v != NULL ? v : "?";
		}
	}
	return NULL;
}

/* check_chain verifies the certificates of a region key's list. */
static int
check_chain(struct fsm *f, const json_t *crl, const json_t *root,
            const json_t *chain, struct tb_diag *d)
{
	const json_t *arr[CERT_CHAIN_MAX];
	const json_t *iss = json_object_get(crl, "issuer");
	struct cert_expect e = { .kind = CERT_REGION };
	size_t n = json_array_size(chain), i;
	const char *sk;

	if (n == 0) {
		return fsm_refuse(f, TB_ECHAIN, "$.body.chain",
		                  "a list of %s's key needs the chain of that "
		                  "key's region certificate up to the province",
		                  spec_str(iss, "region"));
	}
	if (n > CERT_CHAIN_MAX) {
		return fsm_refuse(f, TB_ETOOBIG, "$.body.chain",
		                  "a chain of %zu certificates; at most %d", n,
		                  CERT_CHAIN_MAX);
	}
	for (i = 0; i < n; i++) {
		arr[i] = json_array_get(chain, i);
	}
	sk = spec_str(arr[0], "sign_key");
	if (sk == NULL || strcmp(sk, spec_str(iss, "key")) != 0) {
		return fsm_refuse(f, TB_ECHAIN, "$.body.chain[0].sign_key",
		                  "the chain's first certificate is not the "
		                  "one of the list's issuer key %.16s..",
		                  spec_str(iss, "key"));
	}
	e.region = spec_str(iss, "region");
	tb_diag_init(d);
	if (cert_verify_chain(root, arr, n, NULL, 0, &e, f->at, d) != TB_OK) {
		return fsm_refused(f, d, "$.body");
	}
	return TB_OK;
}

static int crl_put_at(struct fsm *f, struct tb_diag *d, const json_t *root);

/* feed_down (feature level 4) appends the stored list, with the root it
 * verified against and its chain, to every child's stream, and keeps it
 * as "l" key for streams opened later. */
static int
feed_down(struct fsm *f, const char *key, size_t klen, const json_t *root)
{
	json_t *chain = json_object_get(f->cmd->body, "chain");
	uint8_t lk[1 + 96];
	json_t *doc;
	bool feed;
	int rv;

	if ((rv = fsm_feed_level(f, &feed)) != TB_OK || !feed) {
		return rv;
	}
	doc = json_pack("{s:O, s:O}", "crl",
	                json_object_get(f->cmd->body, "crl"), "root", root);
	if (doc == NULL ||
	    (chain != NULL && json_object_set(doc, "chain", chain) != 0)) {
		json_decref(doc);
		return TB_ENOMEM;
	}
	lk[0] = 'l';
	memcpy(lk + 1, key, klen);
	rv = db_put_json(f->txn, f->s->dbi[DB_OUTBOX], lk, 1 + klen, doc);
	rv = rv ? rv : fsm_outbox_fanout(f, "crl", doc);
	json_decref(doc);
	return rv;
}

static int
crl_put(struct fsm *f, struct tb_diag *d)
{
	const json_t *root = json_object_get(f->cmd->body, "root");
	const char *rregion;
	json_t *stored = NULL;
	int rv;

	/* A stored root (root.put) is the anchor; the one in the command
	 * only anchors lists while the group stores none. */
	if ((rv = fsm_root_get(f, &stored)) != TB_OK) {
		return rv;
	}
	if (stored != NULL) {
		tb_diag_init(d);
		rv = trust_root_check(stored, NULL, f->at, "$.root", d) != 0
		         ? fsm_refused(f, d, NULL)
		         : crl_put_at(f, d, stored);
		json_decref(stored);
		return rv;
	}
	rregion = spec_str(root, "region");
	tb_diag_init(d);
	if (trust_root_check(root, NULL, f->at, "$.body.root", d) != 0) {
		return fsm_refused(f, d, NULL);
	}
	if (rregion == NULL || strcmp(rregion, f->s->province) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.root.region",
		                  "the root of %s cannot anchor lists at %s, "
		                  "whose province is %s",
		                  rregion ? rregion : "?", f->s->region,
		                  f->s->province);
	}
	return crl_put_at(f, d, root);
}

/* crl_put_at checks and stores the list against root (checked). */
static int
crl_put_at(struct fsm *f, struct tb_diag *d, const json_t *root)
{
	const json_t *b = f->cmd->body;
	const json_t *crl = json_object_get(b, "crl");
	const char *region;
	json_t *old = NULL;
	const char *gone;
	char key[96];
	size_t klen;
	int rv;

	tb_diag_init(d);
	if (cert_crl_check(crl, "$.body.crl", d) != 0) {
		return fsm_refused(f, d, NULL);
	}
	region = spec_str(json_object_get(crl, "issuer"), "region");
	if (strncmp(region, f->s->province, 2) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.crl.issuer.region",
		                  "a list of %s is not of this region's "
		                  "province %s",
		                  region, f->s->province);
	}
	tb_diag_init(d);
	if (cert_crl_verify(crl, root, "$.body.crl", d) != TB_OK) {
		return fsm_refused(f, d, NULL);
	}
	if (!cert_issuer_is_root(crl) &&
	    (rv = check_chain(f, crl, root, json_object_get(b, "chain"), d)) !=
	        TB_OK) {
		return rv;
	}
	if ((klen = crl_key(crl, key, sizeof(key))) == 0) {
		return fsm_refuse(f, TB_EMALFORMED, "$.body.crl.issuer",
		                  "the list names no issuer");
	}
	rv = db_get_json(f->txn, f->s->dbi[DB_CRLS], key, klen, &old);
	if (rv != TB_OK && rv != TB_ENOTFOUND) {
		return rv;
	}
	if (old != NULL &&
	    spec_int(crl, "version", 0) <= spec_int(old, "version", 0)) {
		rv = fsm_refuse(f, TB_ECONFLICT, "$.body.crl.version",
		                "list of %s version %lld is not newer than the "
		                "stored version %lld",
		                region, spec_int(crl, "version", 0),
		                spec_int(old, "version", 0));
		json_decref(old);
		return rv;
	}
	if (old != NULL &&
	    ((gone = dropped(old, crl, "revoked", "serial")) != NULL ||
	     (gone = dropped(old, crl, "tokens", "id")) != NULL)) {
		rv = fsm_refuse(f, TB_ECONFLICT, "$.body.crl",
		                "list of %s version %lld drops %s, which the "
		                "stored version %lld revokes (a later version "
		                "keeps every entry)",
		                region, spec_int(crl, "version", 0), gone,
		                spec_int(old, "version", 0));
		json_decref(old);
		return rv;
	}
	json_decref(old);
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_CRLS], key, klen, crl)) !=
	        TB_OK ||
	    (rv = feed_down(f, key, klen, root)) != TB_OK) {
		return rv;
	}
	f->result = json_pack(
	    "{s:{s:s, s:s, s:I, s:I, s:I}}", "crl", "issuer", key, "region",
	    region, "version", (json_int_t)spec_int(crl, "version", 0),
	    "revoked",
	    (json_int_t)json_array_size(json_object_get(crl, "revoked")),
	    "tokens",
	    (json_int_t)json_array_size(json_object_get(crl, "tokens")));
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

int
fsm_crl_put(struct fsm *f)
{
	return fsm_with_diag(f, crl_put);
}

int
fsm_crl_delivered(struct fsm *f)
{
	const json_t *crl = json_object_get(f->cmd->body, "crl");
	json_t *old = NULL;
	char key[96];
	size_t klen = crl_key(crl, key, sizeof(key));
	int rv;

	if (klen > 0) {
		rv = db_get_json(f->txn, f->s->dbi[DB_CRLS], key, klen, &old);
		if (rv != TB_OK && rv != TB_ENOTFOUND) {
			return rv;
		}
	}
	if (old != NULL &&
	    (json_equal(old, crl) ||
	     spec_int(old, "version", 0) > spec_int(crl, "version", 0))) {
		f->result = json_pack(
		    "{s:{s:s, s:s, s:I, s:I}}", "crl", "held", "already stored",
		    "issuer", key, "version",
		    (json_int_t)spec_int(crl, "version", 0), "stored_version",
		    (json_int_t)spec_int(old, "version", 0));
		json_decref(old);
		return f->result != NULL ? TB_OK : TB_ENOMEM;
	}
	json_decref(old);
	return fsm_crl_put(f);
}
