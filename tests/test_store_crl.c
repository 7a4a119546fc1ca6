/* crl.put applied to a real store of 370102 (node/fsm_crl.c): a region
 * key's list with its chain, the next version, a root's list; and each
 * refusal, named by its field, leaving the replicated state (its digest)
 * as it was. Keys from fixed seeds, certificates issued in memory. */
#include "node/store.h"
#include "schema/cert.h"
#include "schema/cert_crl.h"
#include "schema/cert_issue.h"
#include "schema/trust.h"
#include "tests/ctoken_util.h"
#include "tests/tap.h"
#include "tests/store_util.h"

static struct key off1, k0, k1, k2, kx;
static json_t *root, *c0, *c1, *c2;
static struct store *S;
static uint64_t IDX;

static json_t *
issue(enum cert_kind kind, const char *region, const struct key *k,
      const json_t *issuer, const struct key *s, const char *serial)
{
	struct cert_issue_args a = { serial, NULL, NOW - DAY, NOW + YEAR };
	json_t *req = NULL, *c = NULL;
	char err[200];

	cert_request_build(kind, region, NULL, k->pk, NULL, NULL, &req);
	trust_sign(req, k->sk, err, sizeof(err));
	if (cert_issue(req, issuer, &a, &c, err, sizeof(err)) != 0) {
		printf("# cert_issue: %s\n", err);
	}
	json_decref(req);
	if (c != NULL) {
		trust_sign(c, s->sk, err, sizeof(err));
	}
	return c;
}

/* list makes a list of region's key k (NULL: the root's) revoking serial,
 * the next version of prev (may be NULL), signed by s. */
static json_t *
list(const char *region, const struct key *k, const json_t *prev,
     const char *serial, const struct key *s)
{
	json_t *crl = NULL;
	char err[200];

	if (cert_crl_build(region, k != NULL ? k->hex : NULL, prev, NOW, &crl,
	                   err, sizeof(err)) != 0 ||
	    cert_crl_revoke(crl, serial, NULL, NOW, err, sizeof(err)) != 0 ||
	    trust_sign(crl, s->sk, err, sizeof(err)) != 0) {
		printf("# list: %s\n", err);
	}
	return crl;
}

/* put applies crl.put {crl, root, chain?} at time at; returns the refused
 * field ("" when applied) in field. */
static void
put(json_t *crl, const json_t *r, json_t *chain, int64_t at, char *field,
    size_t n)
{
	json_t *body = chain != NULL
	                   ? json_pack("{s:o, s:O, s:o}", "crl", crl, "root", r,
	                               "chain", chain)
	                   : json_pack("{s:o, s:O}", "crl", crl, "root", r);
	struct canon_buf b = su_encode(CMD_CRL_PUT, at, NULL, body);
	json_t *res = NULL, *e;
	int rv = store_apply(S, ++IDX, b.data, b.len, &res);

	e = json_object_get(res, "error");
	snprintf(field, n, "%s",
	         rv != 0     ? "(apply failed)"
	         : e == NULL ? ""
	                     : json_string_value(json_object_get(e, "field")));
	if (e != NULL) {
		printf("#   refused: %s\n",
		       json_string_value(json_object_get(e, "message")));
	}
	json_decref(res);
	canon_buf_free(&b);
}

static json_t *
chain3(void)
{
	return json_pack("[O, O, O]", c2, c1, c0);
}

/* digest is the store's content hash. */
static void
digest(uint8_t h[32])
{
	uint64_t at;

	store_digest(S, h, &at);
}

static long long
stored_version(size_t i)
{
	json_t *arr = NULL;
	long long v = -1;

	if (store_crls(S, &arr) == 0 && i < json_array_size(arr)) {
		v = spec_int(json_array_get(arr, i), "version", -1);
	}
	json_decref(arr);
	return v;
}

int
main(void)
{
	char dir[] = "/tmp/tongban-crl.XXXXXX", f[128];
	json_t *v1, *v2, *bad, *other;
	uint8_t h0[32], h1[32];

	if (sodium_init() < 0 || mkdtemp(dir) == NULL) {
		return 1;
	}
	key_make(&off1, 1);
	key_make(&k0, 10);
	key_make(&k1, 11);
	key_make(&k2, 12);
	key_make(&kx, 13);
	root = make_root("370000", &off1);
	c0 = issue(CERT_REGION, "370000", &k0, root, &off1, "00000000000000c0");
	c1 = issue(CERT_REGION, "370100", &k1, c0, &k0, "00000000000000c1");
	c2 = issue(CERT_REGION, "370102", &k2, c1, &k1, "00000000000000c2");
	ok(c0 && c1 && c2, "a chain 370000 -> 370100 -> 370102");
	S = su_open(dir, "370102");
	ok(S != NULL, "a store of 370102");

	/* A region key's list with its chain. */
	v1 = list("370102", &k2, NULL, "7f3a09c1d2e4b5a6", &k2);
	put(json_incref(v1), root, chain3(), NOW, f, sizeof(f));
	is_str(f, "", "370102's list version 1 with its chain is applied");
	is_int(stored_version(0), 1, "and stored");
	digest(h0);

	/* Refusals: each names its field; nothing changes. */
	put(json_incref(v1), root, chain3(), NOW, f, sizeof(f));
	is_str(f, "$.body.crl.version", "the same version again is refused");
	bad = json_deep_copy(v1);
	json_object_set_new(bad, "version", json_integer(2));
	json_array_clear(json_object_get(bad, "revoked"));
	trust_sign(bad, k2.sk, f, sizeof(f));
	put(bad, root, chain3(), NOW, f, sizeof(f));
	is_str(f, "$.body.crl", "a version 2 that drops a serial is refused");
	bad = json_deep_copy(v1);
	json_object_set_new(bad, "version", json_integer(2));
	put(bad, root, chain3(), NOW, f, sizeof(f));
	like(f, "$.body.crl.signatures",
	     "a list changed after signing is refused at its signatures");
	v2 = list("370102", &k2, v1, "0000000000000bad", &k2);
	put(json_incref(v2), root, json_pack("[O, O]", c1, c0), NOW, f,
	    sizeof(f));
	is_str(f, "$.body.chain[0].sign_key",
	       "a chain that is not the issuer key's is refused");
	put(json_incref(v2), root, NULL, NOW, f, sizeof(f));
	is_str(f, "$.body.chain", "a key's list without a chain is refused");
	other = make_root("110000", &off1);
	put(json_incref(v2), other, chain3(), NOW, f, sizeof(f));
	is_str(f, "$.body.root.region",
	       "a root of another province is refused");
	json_decref(other);
	put(list("110000", &kx, NULL, "7f3a09c1d2e4b5a6", &kx), root, chain3(),
	    NOW, f, sizeof(f));
	is_str(f, "$.body.crl.issuer.region",
	       "a list of another province's key is refused");
	put(list("370102", &kx, NULL, "7f3a09c1d2e4b5a6", &kx), root, chain3(),
	    NOW, f, sizeof(f));
	is_str(f, "$.body.chain[0].sign_key",
	       "a list of a key no certificate names is refused");
	put(json_incref(v2), root, chain3(), NOW + 2 * YEAR, f, sizeof(f));
	like(f, "$.body.chain",
	     "a chain expired at the command's time is refused");
	put(json_incref(v2), root, chain3(), NOW + 5 * YEAR, f, sizeof(f));
	like(f, "$.body.root", "a root expired at the command's time too");
	digest(h1);
	is_int(memcmp(h0, h1, 32), 0, "no refusal changed the state");
	is_int(stored_version(0), 1, "the stored list is still version 1");

	/* The next version, and a root's list. */
	put(json_incref(v2), root, chain3(), NOW + DAY, f, sizeof(f));
	is_str(f, "", "version 2 with both serials is applied");
	is_int(stored_version(0), 2, "and replaces version 1");
	put(list("370000", NULL, NULL, "00000000000000c1", &off1), root, NULL,
	    NOW + DAY, f, sizeof(f));
	is_str(f, "", "a root's list, signed by its officers, is applied");
	ok(stored_version(0) == 1 && stored_version(1) == 2,
	   "stored beside 370102's (two issuers, in key order)");
	put(list("370000", NULL, NULL, "00000000000000c2", &kx), root, NULL,
	    NOW + DAY, f, sizeof(f));
	like(f, "$.body.crl.signatures",
	     "a root's list not signed by its officers is refused");

	/* Applied at a restart: the lists are in the store. */
	store_close(S);
	S = su_open(dir, "370102");
	is_int(stored_version(0) * 10 + stored_version(1), 12,
	       "after reopening, both lists are there");
	store_close(S);
	json_decref(v1);
	json_decref(v2);
	json_decref(root);
	json_decref(c0);
	json_decref(c1);
	json_decref(c2);
	tu_rmtree(dir);
	return done_testing();
}
