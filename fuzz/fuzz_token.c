/* Fuzz the chain-token parser and verifier (schema/ctoken.h) against a real
 * tree: 370000 (root) -> 370100 -> 370102 and a county clerk's client
 * certificate, keys from fixed seeds. */
#include "fuzz/fuzz_util.h"
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_issue.h"
#include "schema/ctoken.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <sodium.h>

/*
 * Input: byte 0 picks a mode, the rest is data.
 *
 *   0  the data is the bearer token, as a node receives it;
 *   1  the data is the payload: it is wrapped as tbc1.PAYLOAD.SIG with a
 *      genuine signature by the clerk's client key, so the field checks,
 *      the chain verifier and the scope and role rules see arbitrary
 *      payloads that pass the signature;
 *   2  the genuine token with edits (2 bytes each: position, new byte).
 *
 * Properties beyond "no crash, leak or UB": every refusal is named (a
 * diagnostic with a path) and is never nomem; an accepted token's payload
 * re-encodes to the bytes that were signed, its scope covers the node's
 * region 370102 and its role is one the certificate grants; an edited
 * genuine token is accepted only if the edits left it unchanged.
 *
 * TB_FUZZ_TOKEN_SEEDS=DIR writes seeds (the genuine token and payload, and
 * a few edits) to DIR and exits.
 */

#define NOW (1780272000000LL) /* 2026-06-01T00:00:00Z */
#define DAY 86400000LL

struct key {
	uint8_t pk[32], sk[64];
	char hex[65];
};

static struct key off, k0, k1, k2, kc;
static json_t *root, *chain;
static char *genuine;
static size_t genuine_len;
static uint8_t genuine_payload[CTOK_MAX_PAYLOAD];
static size_t genuine_payload_len;

static void
key_make(struct key *k, int n)
{
	uint8_t seed[32];

	memset(seed, n, sizeof(seed));
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	canon_hex(k->pk, 32, k->hex);
}

static json_t *
issue(enum cert_kind kind, const char *region, const struct key *k,
      const json_t *issuer, const struct key *s, const char *serial,
      const char *role)
{
	struct cert_issue_args a = { serial, role, NOW - 365 * DAY,
		                     NOW + 365 * DAY };
	char err[200];
	json_t *req = NULL, *c = NULL;

	cert_request_build(kind, region, NULL, k->pk, NULL, NULL, &req);
	trust_sign(req, k->sk, err, sizeof(err));
	if (cert_issue(req, issuer, &a, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_token: cert_issue: %s\n", err);
		abort();
	}
	json_decref(req);
	trust_sign(c, s->sk, err, sizeof(err));
	return c;
}

static enum ctok_reason
verify(const char *tok, size_t len, json_t **p, struct tb_diag *d)
{
	struct ctok_trust t = { root, NULL, 0, NULL, 0, "370102", NOW, NULL };

	tb_diag_init(d);
	return ctok_verify(tok, len, &t, p, d);
}

/* check_result checks the properties common to every mode. */
static void
check_result(enum ctok_reason r, json_t *p, const struct tb_diag *d)
{
	char why[200];
	const json_t *leaf;

	fuzz_check(r < CTOK_REASON_COUNT, "a reason in range");
	fuzz_check(r != CTOK_NOMEM, "a refusal is not nomem");
	if (r != CTOK_OK) {
		fuzz_check(p == NULL, "no payload on refusal");
		fuzz_check(d->n > 0 && d->e[0].path[0] != '\0',
		           "a refusal is named with a path");
		return;
	}
	fuzz_check(p != NULL, "a payload on success");
	leaf = json_array_get(json_object_get(p, "chain"), 0);
	fuzz_check(!strcmp(spec_str(p, "scope"), "370102") ||
	               !strcmp(spec_str(p, "scope"), "370100") ||
	               !strcmp(spec_str(p, "scope"), "370000"),
	           "an accepted scope covers the node's region");
	fuzz_check(ctok_role_grants(spec_str(leaf, "role"),
	                            spec_str(leaf, "region"),
	                            spec_str(p, "role"), why, sizeof(why)),
	           "an accepted role is granted by the certificate");
}

static void
mode_token(const uint8_t *data, size_t size)
{
	struct tb_diag d;
	json_t *p = NULL;
	enum ctok_reason r = verify((const char *)data, size, &p, &d);

	check_result(r, p, &d);
	json_decref(p);
}

/* wrap makes tbc1.B64(data).B64(sig by the clerk's key) into out. */
static size_t
wrap(const uint8_t *data, size_t size, char *out, size_t cap)
{
	const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	uint8_t sig[64];
	size_t n;

	crypto_sign_detached(sig, NULL, data, size, kc.sk);
	memcpy(out, CTOK_PREFIX, 5);
	sodium_bin2base64(out + 5, cap - 5, data, size, v);
	n = strlen(out);
	out[n++] = '.';
	sodium_bin2base64(out + n, cap - n, sig, sizeof(sig), v);
	return strlen(out);
}

static void
mode_payload(const uint8_t *data, size_t size)
{
	static char tok[2 * CTOK_MAX_PAYLOAD + 200];
	struct canon_buf b = { 0 };
	struct tb_diag d;
	json_t *p = NULL;
	enum ctok_reason r;
	char err[200];

	if (size > CTOK_MAX_PAYLOAD) {
		return;
	}
	r = verify(tok, wrap(data, size, tok, sizeof(tok)), &p, &d);
	check_result(r, p, &d);
	if (r == CTOK_OK) {
		fuzz_check(
		    canon_encode(p, &b, err, sizeof(err)) == TB_OK &&
		        b.len == size && !memcmp(b.data, data, size),
		    "an accepted payload re-encodes to the signed bytes");
		canon_buf_free(&b);
	}
	json_decref(p);
}

static void
mode_edit(const uint8_t *data, size_t size)
{
	char *t = malloc(genuine_len + 1);
	struct tb_diag d;
	json_t *p = NULL;
	enum ctok_reason r;
	size_t i;

	memcpy(t, genuine, genuine_len + 1);
	for (i = 0; i + 1 < size; i += 2) {
		t[(data[i] * 131u + i * 7u) % genuine_len] = (char)data[i + 1];
	}
	r = verify(t, genuine_len, &p, &d);
	check_result(r, p, &d);
	fuzz_check(r != CTOK_OK || !memcmp(t, genuine, genuine_len),
	           "an edited token is accepted only if unchanged");
	json_decref(p);
	free(t);
}

static void
write_seed(const char *dir, const char *name, uint8_t mode, const void *p,
           size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		return;
	}
	fputc(mode, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("TB_FUZZ_TOKEN_SEEDS");
	struct ctok_claims cl = { "clerk-1", "clerk", "370102", NOW / 1000 - 60,
		                  NOW / 1000 + 3600 };
	json_t *c0, *c1, *c2, *cc;
	char err[300], *dot;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		abort();
	}
	key_make(&off, 1);
	key_make(&k0, 10);
	key_make(&k1, 11);
	key_make(&k2, 12);
	key_make(&kc, 41);
	root = json_pack(
	    "{s:s, s:s, s:i, s:s, s:i, s:[{s:s, s:s}], s:[{s:s, s:s}]}",
	    "format", "tongban.root/1", "region", "370000", "version", 1,
	    "expires", "2030-01-01T00:00:00Z", "threshold", 1, "officers",
	    "name", "a", "key", off.hex, "release_keys", "name", "r", "key",
	    off.hex);
	trust_sign(root, off.sk, err, sizeof(err));
	c0 = issue(CERT_REGION, "370000", &k0, root, &off, "0000000000000000",
	           NULL);
	c1 = issue(CERT_REGION, "370100", &k1, c0, &k0, "1111111111111111",
	           NULL);
	c2 = issue(CERT_REGION, "370102", &k2, c1, &k1, "2222222222222222",
	           NULL);
	cc = issue(CERT_CLIENT, "370102", &kc, c2, &k2, "cccccccccccccccc",
	           "clerk");
	chain = json_pack("[o, o, o, o]", cc, c2, c1, c0);
	if (ctok_sign(chain, &cl, kc.sk, &genuine, err, sizeof(err)) !=
	    CTOK_OK) {
		fprintf(stderr, "fuzz_token: ctok_sign: %s\n", err);
		abort();
	}
	genuine_len = strlen(genuine);
	dot = strrchr(genuine, '.');
	sodium_base642bin(genuine_payload, sizeof(genuine_payload), genuine + 5,
	                  (size_t)(dot - genuine - 5), NULL,
	                  &genuine_payload_len, NULL,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (dir != NULL && dir[0] != '\0') {
		const uint8_t edits[] = { 3, 'x', 200, '.', 77, 0 };
		write_seed(dir, "token", 0, genuine, genuine_len);
		write_seed(dir, "payload", 1, genuine_payload,
		           genuine_payload_len);
		write_seed(dir, "edits", 2, edits, sizeof(edits));
		write_seed(dir, "node_local", 0, "tb_0123456789abcdef", 19);
		exit(0);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > CTOK_MAX_LEN + 64) {
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		mode_token(data + 1, size - 1);
		break;
	case 1:
		mode_payload(data + 1, size - 1);
		break;
	default:
		mode_edit(data + 1, size - 1);
		break;
	}
	return 0;
}
