/* Fuzz incarnation certificates (schema/incarnation.h) as a member meets
 * them in a handshake payload: canonical msgpack, decoded, then verified
 * against a 370102 node's chain (370100's key is the parent's). Keys come
 * from fixed seeds.
 *
 * Input: byte 0 picks a mode, the rest is data.
 *
 *   0  the data is the certificate's canonical msgpack, verified as is;
 *   1  the data is decoded, its signatures dropped and the document signed
 *      with the genuine parent key, so the field checks and the issuer
 *      rules see arbitrary documents that pass the signature.
 *
 * Properties beyond "no crash, leak or UB": every refusal is named (a
 * diagnostic with a path) and is never nomem; in mode 1 a document is
 * accepted exactly when its fields pass inc_check and it names 370102 and
 * 370100's key as issuer; an accepted certificate's incarnation is at
 * least 2.
 *
 * TB_FUZZ_INCARNATION_SEEDS=DIR writes seeds (the genuine certificate in
 * both modes) to DIR and exits.
 */
#include "fuzz/fuzz_util.h"
#include "schema/canon.h"
#include "schema/incarnation.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <sodium.h>
#include <stdbool.h>

#define NOW (1780272000000LL) /* 2026-06-01T00:00:00Z */

static uint8_t k1_pk[32], k1_sk[64];
static char k1_hex[65];
static json_t *chain;

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_incarnation: property broken: %s\n",
		        what);
		abort();
	}
}

static void
seed_write(const char *dir, const char *name, uint8_t mode,
           const struct canon_buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		return;
	}
	fwrite(&mode, 1, 1, f);
	fwrite(b->data, 1, b->len, f);
	fclose(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const members[] = { "a1b2c3d4e5f60718" };
	uint8_t seed[32];
	const char *dir = getenv("TB_FUZZ_INCARNATION_SEEDS");
	struct canon_buf b = { 0 };
	char err[128];
	json_t *doc = NULL;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		abort();
	}
	memset(seed, 11, sizeof(seed));
	crypto_sign_seed_keypair(k1_pk, k1_sk, seed);
	canon_hex(k1_pk, 32, k1_hex);
	chain =
	    json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "kind", "region",
	              "region", "370102", "sign_key",
	              "0000000000000000000000000000000000000000000000000"
	              "000000000000000",
	              "kind", "region", "region", "370100", "sign_key", k1_hex);
	if (dir != NULL) {
		inc_build("370102", 2, members, 1, NOW, "370100", k1_hex, &doc);
		trust_sign(doc, k1_sk, err, sizeof(err));
		canon_encode(doc, &b, err, sizeof(err));
		seed_write(dir, "genuine", 0, &b);
		seed_write(dir, "resign", 1, &b);
		canon_buf_free(&b);
		json_decref(doc);
		exit(0);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct canon_limits lim = { 65535, 8, 4096, 4096 };
	struct tb_diag d, dc;
	json_t *doc = NULL;
	char err[256];
	bool fields_ok, names_parent;
	int rv;

	if (size < 1) {
		return 0;
	}
	if (canon_decode(data + 1, size - 1, &lim, &doc, err, sizeof(err)) !=
	    TB_OK) {
		return 0;
	}
	if (data[0] % 2 == 1) {
		if (!json_is_object(doc)) {
			json_decref(doc);
			return 0;
		}
		json_object_del(doc, "signatures");
		if (trust_sign(doc, k1_sk, err, sizeof(err)) != TB_OK) {
			json_decref(doc);
			return 0; /* not encodable (too deep, ...) */
		}
	}
	tb_diag_init(&d);
	rv = inc_verify(doc, "370102", NULL, chain, "$", &d);
	check(rv != TB_ENOMEM, "refused for memory");
	if (rv != TB_OK) {
		check(d.n > 0 && d.e[0].path[0] == '$',
		      "a refusal without a path");
	} else {
		check(inc_number(doc) >= 2, "an accepted incarnation below 2");
	}
	if (data[0] % 2 == 1) {
		const json_t *iss = json_object_get(doc, "issuer");
		tb_diag_init(&dc);
		fields_ok = inc_check(doc, "$", &dc) == 0;
		names_parent = fields_ok &&
		               !strcmp(spec_str(doc, "region"), "370102") &&
		               !strcmp(spec_str(iss, "region"), "370100") &&
		               spec_str(iss, "key") != NULL &&
		               !strcmp(spec_str(iss, "key"), k1_hex);
		check((rv == TB_OK) == names_parent,
		      "a document signed by the parent key: accepted iff its "
		      "fields pass and it names 370102 and 370100's key");
	}
	json_decref(doc);
	return 0;
}
