/* Rotating a node's keys (docs/TRUST.md, "Rotation"): the next keys wait
 * in DIR/keys/node.next.json from 'cert request --rotate' until 'cert
 * install' installs a certificate for them, which moves them into
 * DIR/keys/node.json. The node id, the index key and everything else in
 * node.json stay. A running node sees the new certificate when it polls
 * certs/, takes the new X25519 key from node.json, and starts a new
 * handshake on every link (node/link_keys.c). */
#include "node/cli.h"
#include "schema/canon.h"
#include "schema/spec.h"

#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
next_path(char *out, size_t n, const char *dir)
{
	snprintf(out, n, "%s/keys/node.next.json", dir);
}

/* keys_of reads the public keys of a node key document. */
static int
keys_of(const json_t *k, uint8_t pk[32], uint8_t kx[32])
{
	return canon_unhex(spec_str(k, "public"), pk, 32) != 0 ||
	               canon_unhex(spec_str(k, "kx_public"), kx, 32) != 0
	           ? -1
	           : 0;
}

int
tb_cli_rekey_next(const char *dir, uint8_t pk[32], uint8_t sk[64],
                  uint8_t kx[32])
{
	char path[PATH_MAX + 32], hex[65];
	uint8_t seed[32], kxs[32], chk[32];
	json_error_t je;
	json_t *k;
	int rc = -1;

	next_path(path, sizeof(path), dir);
	if ((k = json_load_file(path, 0, &je)) != NULL) {
		/* A request already made for these keys stays valid: the
		 * pending keys are reused until a certificate installs them. */
		if (canon_unhex(spec_str(k, "seed"), seed, 32) != 0 ||
		    canon_unhex(spec_str(k, "kx_secret"), kxs, 32) != 0 ||
		    keys_of(k, chk, kx) != 0) {
			fprintf(stderr,
			        "tongban cert request: %s: damaged key "
			        "file\n",
			        path);
			goto out;
		}
		crypto_sign_seed_keypair(pk, sk, seed);
		crypto_scalarmult_base(chk, kxs);
		if (sodium_memcmp(chk, kx, 32) != 0) {
			fprintf(stderr,
			        "tongban cert request: %s: kx_public is "
			        "not kx_secret's\n",
			        path);
			goto out;
		}
		rc = 0;
		goto out;
	}
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	crypto_box_keypair(kx, kxs);
	k = json_object();
	json_object_set_new(k, "format", json_string("tongban.key/1"));
	json_object_set_new(k, "name", json_string("node (next)"));
	canon_hex(pk, 32, hex);
	json_object_set_new(k, "public", json_string(hex));
	canon_hex(seed, 32, hex);
	json_object_set_new(k, "seed", json_string(hex));
	canon_hex(kxs, 32, hex);
	json_object_set_new(k, "kx_secret", json_string(hex));
	canon_hex(kx, 32, hex);
	json_object_set_new(k, "kx_public", json_string(hex));
	rc = tb_cli_write_json(path, k, 0600, true);
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(kxs, sizeof(kxs));
	sodium_memzero(hex, sizeof(hex));
	json_decref(k);
	return rc;
}

int
tb_cli_rekey_promote(const char *dir, const uint8_t pk[32],
                     const uint8_t kx[32])
{
	char path[PATH_MAX + 32];
	static const char *const fields[] = { "seed", "public", "kx_secret",
		                              "kx_public" };
	uint8_t npk[32], nkx[32];
	json_error_t je;
	json_t *next, *cur = NULL;
	size_t i;
	int rc = 1;

	next_path(path, sizeof(path), dir);
	if ((next = json_load_file(path, 0, &je)) == NULL) {
		return 1; /* no rotation pending */
	}
	if (keys_of(next, npk, nkx) != 0 || memcmp(npk, pk, 32) != 0 ||
	    memcmp(nkx, kx, 32) != 0) {
		goto out; /* pending keys, but not these */
	}
	rc = -1;
	snprintf(path, sizeof(path), "%s/keys/node.json", dir);
	if ((cur = json_load_file(path, 0, &je)) == NULL) {
		fprintf(stderr, "tongban cert install: %s: %s\n", path,
		        je.text);
		goto out;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_object_set(cur, fields[i],
		                json_object_get(next, fields[i]));
	}
	if (tb_cli_write_json(path, cur, 0600, false) == 0) {
		rc = 0;
	}
out:
	json_decref(next);
	json_decref(cur);
	return rc;
}

void
tb_cli_rekey_done(const char *dir)
{
	char path[PATH_MAX + 32];

	next_path(path, sizeof(path), dir);
	unlink(path);
}
