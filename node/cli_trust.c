/* The 'keygen', 'root' and 'sign' verbs: offline keys and signatures. */
#include "node/cli.h"

#include "schema/canon.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TRUST_USAGE                                                         \
	"usage: tongban keygen --out KEY.json [--name NAME]\n"              \
	"       tongban root init --region CODE --expires TIME "            \
	"[--threshold M]\n"                                                 \
	"                 --officer KEY.json... --release-key KEY.json... " \
	"--out ROOT.json\n"                                                 \
	"       tongban sign --key KEY.json FILE.json\n"

static int
trust_usage(const char *verb, const char *what)
{
	fprintf(stderr, "tongban %s: %s\n", verb, what);
	fprintf(stderr, TRUST_USAGE);
	return TB_EXIT_USAGE;
}

/* write_json_file writes v to path atomically (temporary file, fsync,
 * rename), with the given mode; O_EXCL refuses to replace when excl. */
static int
write_json_file(const char *path, const json_t *v, mode_t mode, bool excl)
{
	char tmp[4096];
	char *text;
	size_t len;
	int fd, rv = 0;

	if (excl && access(path, F_OK) == 0) {
		fprintf(stderr, "tongban: %s exists; not overwriting it\n",
		        path);
		return -1;
	}
	if ((text = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		return -1;
	}
	len = strlen(text);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)) < 0) {
		fprintf(stderr, "tongban: %s: %s\n", tmp, strerror(errno));
		free(text);
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0) {
		rv = -1;
	}
	if (close(fd) != 0) {
		rv = -1;
	}
	free(text);
	if (rv == 0 && rename(tmp, path) != 0) {
		rv = -1;
	}
	if (rv != 0) {
		fprintf(stderr, "tongban: %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	return rv;
}

/* load_key reads a key file; fills pk and, if sk is not NULL, the secret
 * key from its seed. Prints the reason and returns -1 on failure. */
static int
load_key(const char *path, uint8_t pk[32], uint8_t sk[64])
{
	uint8_t seed[32], pk2[32], skbuf[64];
	json_error_t e;
	json_t *k;
	int rv = -1;

	if ((k = json_load_file(path, JSON_REJECT_DUPLICATES, &e)) == NULL) {
		fprintf(stderr, "tongban: %s: line %d: %s\n", path, e.line,
		        e.text);
		return -1;
	}
	if (!json_is_string(json_object_get(k, "format")) ||
	    strcmp(spec_str(k, "format"), "tongban.key/1") != 0 ||
	    canon_unhex(spec_str(k, "public"), pk, 32) != 0) {
		fprintf(stderr, "tongban: %s: not a tongban.key/1 file\n",
		        path);
		goto out;
	}
	if (sk != NULL) {
		if (canon_unhex(spec_str(k, "seed"), seed, 32) != 0) {
			fprintf(stderr, "tongban: %s: has no secret seed\n",
			        path);
			goto out;
		}
		crypto_sign_seed_keypair(pk2, skbuf, seed);
		if (memcmp(pk, pk2, 32) != 0) {
			fprintf(stderr,
			        "tongban: %s: seed does not match the public "
			        "key\n",
			        path);
			goto out;
		}
		memcpy(sk, skbuf, 64);
	}
	rv = 0;
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(skbuf, sizeof(skbuf));
	json_decref(k);
	return rv;
}

int
tb_cli_keygen(int argc, char **argv)
{
	const char *out = NULL, *name = "";
	uint8_t pk[32], sk[64], seed[32];
	char pkh[65], seedh[65];
	json_t *k;
	int i, rv;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
			name = argv[++i];
		} else {
			return trust_usage("keygen", "bad arguments");
		}
	}
	if (out == NULL) {
		return trust_usage("keygen", "--out is required");
	}
	if (sodium_init() < 0) {
		return TB_EXIT_INVALID;
	}
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	canon_hex(pk, 32, pkh);
	canon_hex(seed, 32, seedh);
	k = json_pack("{s:s, s:s, s:s, s:s}", "format", "tongban.key/1", "name",
	              name, "public", pkh, "seed", seedh);
	rv = k != NULL ? write_json_file(out, k, 0600, true) : -1;
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(seedh, sizeof(seedh));
	json_decref(k);
	if (rv != 0) {
		return TB_EXIT_INVALID;
	}
	printf("%s\n", pkh);
	return TB_EXIT_OK;
}

static int
root_init(int argc, char **argv)
{
	const char *region = NULL, *expires = NULL, *out = NULL;
	json_t *root = NULL, *officers, *rkeys;
	char **signers;
	size_t nsigners = 0, j;
	struct tb_diag d;
	long threshold = 1;
	char err[200], hex[65];
	uint8_t pk[32], sk[64];
	int i, rc = TB_EXIT_INVALID;

	officers = json_array();
	rkeys = json_array();
	signers = calloc((size_t)argc, sizeof(*signers));
	if (officers == NULL || rkeys == NULL || signers == NULL) {
		goto out;
	}
	for (i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 >= argc) {
			rc = trust_usage("root", "an option lacks its value");
			goto out;
		}
		if (!strcmp(o, "--region")) {
			region = argv[++i];
		} else if (!strcmp(o, "--expires")) {
			expires = argv[++i];
		} else if (!strcmp(o, "--threshold")) {
			threshold = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(o, "--out")) {
			out = argv[++i];
		} else if (!strcmp(o, "--officer") ||
		           !strcmp(o, "--release-key")) {
			bool officer = o[2] == 'o';
			if (load_key(argv[++i], pk, NULL) != 0) {
				goto out;
			}
			canon_hex(pk, 32, hex);
			json_array_append_new(officer ? officers : rkeys,
			                      json_pack("{s:s, s:s}", "name",
			                                argv[i], "key", hex));
			if (officer) {
				signers[nsigners++] = argv[i];
			}
		} else {
			rc = trust_usage("root", "unknown option");
			goto out;
		}
	}
	if (region == NULL || expires == NULL || out == NULL || nsigners == 0 ||
	    json_array_size(rkeys) == 0) {
		rc = trust_usage("root", "--region, --expires, --officer, "
		                         "--release-key and --out are "
		                         "required");
		goto out;
	}
	root = json_pack("{s:s, s:s, s:i, s:s, s:i, s:O, s:O}", "format",
	                 "tongban.root/1", "region", region, "version", 1,
	                 "expires", expires, "threshold", (int)threshold,
	                 "officers", officers, "release_keys", rkeys);
	for (j = 0; root != NULL && j < nsigners; j++) {
		if (load_key(signers[j], pk, sk) != 0 ||
		    trust_sign(root, sk, err, sizeof(err)) != 0) {
			sodium_memzero(sk, sizeof(sk));
			goto out;
		}
		sodium_memzero(sk, sizeof(sk));
	}
	tb_diag_init(&d);
	if (root == NULL ||
	    trust_root_check(root, NULL, (int64_t)time(NULL) * 1000, "$", &d) !=
	        0) {
		for (i = 0; i < d.n; i++) {
			fprintf(stderr, "tongban root: %s: %s\n", d.e[i].path,
			        d.e[i].msg);
		}
		goto out;
	}
	if (write_json_file(out, root, 0644, true) == 0) {
		rc = TB_EXIT_OK;
	}
out:
	json_decref(root);
	json_decref(officers);
	json_decref(rkeys);
	free(signers);
	return rc;
}

int
tb_cli_root(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "init")) {
		return root_init(argc - 1, argv + 1);
	}
	return trust_usage("root", "expected 'root init'");
}

int
tb_cli_sign(int argc, char **argv)
{
	const char *key = NULL, *file = NULL;
	uint8_t pk[32], sk[64];
	json_error_t e;
	char err[200];
	json_t *doc;
	int i, rv;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			key = argv[++i];
		} else if (argv[i][0] != '-' && file == NULL) {
			file = argv[i];
		} else {
			return trust_usage("sign", "bad arguments");
		}
	}
	if (key == NULL || file == NULL) {
		return trust_usage("sign", "--key and a file are required");
	}
	if ((doc = json_load_file(file, JSON_REJECT_DUPLICATES, &e)) == NULL) {
		fprintf(stderr, "tongban sign: %s: line %d column %d: %s\n",
		        file, e.line, e.column, e.text);
		return TB_EXIT_INVALID;
	}
	if (!json_is_object(doc) || load_key(key, pk, sk) != 0) {
		json_decref(doc);
		return TB_EXIT_INVALID;
	}
	rv = trust_sign(doc, sk, err, sizeof(err));
	sodium_memzero(sk, sizeof(sk));
	if (rv != 0) {
		fprintf(stderr, "tongban sign: %s: %s\n", file, err);
	} else if (write_json_file(file, doc, 0644, false) != 0) {
		rv = -1;
	}
	json_decref(doc);
	return rv == 0 ? TB_EXIT_OK : TB_EXIT_INVALID;
}
