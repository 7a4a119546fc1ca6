/* Fuzz the province's latest-version statements (schema/latest.h) as a node
 * below receives them over a link: JSON text, parsed, verified by a node of
 * 370102 against a real tree (a root, 370000's region certificate, a member
 * node of 370000), keys from fixed seeds.
 *
 * Input: byte 0 picks a mode, the rest is data.
 *
 *   0  the data is the statement's JSON, verified as is;
 *   1  the data is parsed, its signatures dropped and the document signed
 *      with the genuine province node's key, so the field, region, time and
 *      chain checks see arbitrary documents that pass the signature.
 *
 * Properties beyond "no crash, leak or UB": every refusal is named (a path
 * into the document) and has a reason; an accepted statement passes
 * latest_check, names 370000, is unexpired, and its signer is the genuine
 * node: no other key has a chain to the root, so in either mode nothing
 * signed by another key is accepted.
 *
 * TB_FUZZ_LATEST_SEEDS=DIR writes seeds (the genuine statement in both
 * modes) to DIR and exits.
 */
#include "fuzz/fuzz_util.h"
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_issue.h"
#include "schema/latest.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <sodium.h>
#include <stdbool.h>

#define NOW (1780272000000LL) /* 2026-06-01T00:00:00Z */
#define DAY (86400000LL)

static uint8_t off_sk[64], k0_sk[64], node_sk[64];
static char node_hex[65], node_id[17];
static json_t *root, *chain;

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_latest: property broken: %s\n", what);
		abort();
	}
}

static void
key(int n, uint8_t sk[64], char hex[65])
{
	uint8_t seed[32], pk[32];

	memset(seed, n, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	canon_hex(pk, 32, hex);
}

/* issue: the certificate of sk's key, issued under issuer, signed by by. */
static json_t *
issue(enum cert_kind kind, const uint8_t sk[64], const json_t *issuer,
      const uint8_t by[64], const char *serial)
{
	struct cert_issue_args a = { serial,
		                     kind == CERT_NODE ? "member" : NULL,
		                     NOW - DAY, NOW + 30 * DAY };
	char id[CERT_NODE_ID_HEX + 1], err[200];
	json_t *req = NULL, *c = NULL;
	uint8_t kx[32];

	memset(kx, 0x42, sizeof(kx));
	cert_node_id(sk + 32, id);
	cert_request_build(kind, "370000", kind == CERT_NODE ? id : NULL,
	                   sk + 32, kind == CERT_NODE ? kx : NULL, NULL, &req);
	trust_sign(req, sk, err, sizeof(err));
	if (cert_issue(req, issuer, &a, &c, err, sizeof(err)) != TB_OK) {
		fprintf(stderr, "fuzz_latest: cert_issue: %s\n", err);
		abort();
	}
	json_decref(req);
	trust_sign(c, by, err, sizeof(err));
	return c;
}

static void
seed_write(const char *dir, const char *name, uint8_t mode, const char *t)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		return;
	}
	fwrite(&mode, 1, 1, f);
	fwrite(t, 1, strlen(t), f);
	fclose(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("TB_FUZZ_LATEST_SEEDS");
	char off_hex[65], k0_hex[65], err[200], *t;
	json_t *c0, *leaf, *doc = NULL;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		abort();
	}
	key(1, off_sk, off_hex);
	key(10, k0_sk, k0_hex);
	key(20, node_sk, node_hex);
	cert_node_id(node_sk + 32, node_id);
	root =
	    json_pack("{s:s, s:s, s:i, s:s, s:i, s:[{s:s, s:s}], s:[]}",
	              "format", "tongban.root/1", "region", "370000", "version",
	              1, "expires", "2030-01-01T00:00:00Z", "threshold", 1,
	              "officers", "name", "a", "key", off_hex, "release_keys");
	trust_sign(root, off_sk, err, sizeof(err));
	c0 = issue(CERT_REGION, k0_sk, root, off_sk, "0000000000000000");
	leaf = issue(CERT_NODE, node_sk, c0, k0_sk, "2222222222222222");
	chain = json_pack("[o, o]", leaf, c0);
	latest_build("370000", 2,
	             "00112233445566778899aabbccddeeff"
	             "00112233445566778899aabbccddeeff",
	             NOW, NOW + 10000, chain, &doc, err, sizeof(err));
	trust_sign(doc, node_sk, err, sizeof(err));
	/* The genuine statement must pass, or the target tests nothing. */
	check(latest_verify(doc, "370000", root, NULL, 0, NOW + 1000, NULL,
	                    NULL) == LATEST_OK,
	      "the genuine statement is refused");
	if (dir != NULL) {
		t = json_dumps(doc, JSON_COMPACT);
		seed_write(dir, "genuine", 0, t);
		seed_write(dir, "resign", 1, t);
		free(t);
		json_decref(doc);
		exit(0);
	}
	json_decref(doc);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct latest_info li;
	enum latest_reason r;
	struct tb_diag d, dc;
	json_t *doc;
	char err[200];
	const char *sk;

	if (size < 1 || size - 1 > LATEST_MAX_BYTES) {
		return 0;
	}
	doc = json_loadb((const char *)data + 1, size - 1,
	                 JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL) {
		return 0;
	}
	if (data[0] % 2 == 1) {
		if (!json_is_object(doc)) {
			json_decref(doc);
			return 0;
		}
		json_object_del(doc, "signatures");
		if (trust_sign(doc, node_sk, err, sizeof(err)) != TB_OK) {
			json_decref(doc);
			return 0; /* not encodable (floats, too deep, ...) */
		}
	}
	tb_diag_init(&d);
	r = latest_verify(doc, "370000", root, NULL, 0, NOW + 1000, &li, &d);
	if (r != LATEST_OK) {
		check(d.n > 0 && d.e[0].path[0] == '$' && d.e[0].msg[0] != '\0',
		      "a refusal without a path or a reason");
		check(r < LATEST_REASONS, "an unknown reason");
	} else {
		tb_diag_init(&dc);
		check(latest_check(doc, "$", &dc) == 0,
		      "accepted but its fields do not pass");
		check(!strcmp(li.region, "370000"), "accepted for another "
		                                    "province");
		check(li.expires_ms > NOW + 1000, "accepted while expired");
		sk = spec_str(json_array_get(json_object_get(doc, "chain"), 0),
		              "sign_key");
		check(sk != NULL && !strcmp(sk, node_hex) &&
		          !strcmp(li.signer, node_id),
		      "accepted with a signer other than the province's node");
	}
	json_decref(doc);
	return 0;
}
