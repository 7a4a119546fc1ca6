/* The 'keygen', 'root' and 'sign' verbs: offline keys, root metadata
 * (init, m-of-n signing, rotation) and signatures. */
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

#define TRUST_USAGE                                                           \
	"usage: tongban keygen --out KEY.json [--name NAME]\n"                \
	"       tongban root init --region CODE --expires TIME "              \
	"[--threshold M]\n"                                                   \
	"                 --officer KEY.json... --release-key KEY.json... "   \
	"--out ROOT.json\n"                                                   \
	"       tongban root sign --key OFFICER.json [--prev OLD.json] "      \
	"ROOT.json\n"                                                         \
	"       tongban root rotate --root OLD.json [--officer KEY.json...] " \
	"[--threshold M]\n"                                                   \
	"                 [--release-key KEY.json...] [--expires TIME] "      \
	"--out NEW.json\n"                                                    \
	"       tongban root check ROOT.json [--prev OLD.json]\n"             \
	"       tongban [--api URL --token T] root install ROOT.json "        \
	"--commit [--json]\n"                                                 \
	"       tongban sign --key KEY.json FILE.json\n"

static int
trust_usage(const char *verb, const char *what)
{
	fprintf(stderr, "tongban %s: %s\n", verb, what);
	fprintf(stderr, TRUST_USAGE);
	return TB_EXIT_USAGE;
}

int
tb_cli_write_json(const char *path, const json_t *v, unsigned mode, bool excl)
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
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, (mode_t)mode)) < 0) {
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

int
tb_cli_load_key(const char *path, unsigned char pk[32], unsigned char sk[64])
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
	rv = k != NULL ? tb_cli_write_json(out, k, 0600, true) : -1;
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
			if (tb_cli_load_key(argv[++i], pk, NULL) != 0) {
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
		if (tb_cli_load_key(signers[j], pk, sk) != 0 ||
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
	if (tb_cli_write_json(out, root, 0644, true) == 0) {
		rc = TB_EXIT_OK;
	}
out:
	json_decref(root);
	json_decref(officers);
	json_decref(rkeys);
	free(signers);
	return rc;
}

static json_t *
load_doc(const char *path)
{
	return tb_cli_json_file("root", path);
}

/* is_officer is true if hex is among root's officers. */
static bool
is_officer(const json_t *root, const char *hex)
{
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(root, "officers"), i, o)
	{
		const char *k = spec_str(o, "key");
		if (k != NULL && !strcmp(k, hex)) {
			return true;
		}
	}
	return false;
}

/* root_status prints how many officers of root (and of prev) signed it and
 * the problems trust_root_check still finds; returns their number. */
static int
root_status(const char *file, const json_t *root, const json_t *prev)
{
	struct tb_diag d;
	int i, n;

	printf("%s: version %lld of %s signed by %d of %zu officers (%lld "
	       "required)",
	       file, spec_int(root, "version", 0), spec_str(root, "region"),
	       trust_count_signers(root, json_object_get(root, "officers")),
	       json_array_size(json_object_get(root, "officers")),
	       spec_int(root, "threshold", 0));
	if (prev != NULL) {
		printf(" and %d of the %zu previous officers (%lld required)",
		       trust_count_signers(root,
		                           json_object_get(prev, "officers")),
		       json_array_size(json_object_get(prev, "officers")),
		       spec_int(prev, "threshold", 0));
	}
	printf("\n");
	tb_diag_init(&d);
	n = trust_root_check(root, prev, (int64_t)time(NULL) * 1000, "$", &d);
	for (i = 0; i < d.n; i++) {
		printf("%s: %s: %s\n", file, d.e[i].path, d.e[i].msg);
	}
	if (n == 0) {
		printf("%s: valid\n", file);
	}
	return n;
}

/* root_sign adds one officer's signature: an officer of the root itself,
 * or of the previous root (--prev) whose officers authorise a rotation. */
static int
root_sign(int argc, char **argv)
{
	const char *key = NULL, *file = NULL, *prev_path = NULL;
	json_t *root = NULL, *prev = NULL;
	uint8_t pk[32], sk[64];
	char err[200], hex[65];
	int i, rc = TB_EXIT_INVALID;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			key = argv[++i];
		} else if (!strcmp(argv[i], "--prev") && i + 1 < argc) {
			prev_path = argv[++i];
		} else if (argv[i][0] != '-' && file == NULL) {
			file = argv[i];
		} else {
			return trust_usage("root sign", "bad arguments");
		}
	}
	if (key == NULL || file == NULL) {
		return trust_usage("root sign",
		                   "--key and a root are required");
	}
	if ((root = load_doc(file)) == NULL ||
	    (prev_path != NULL && (prev = load_doc(prev_path)) == NULL) ||
	    tb_cli_load_key(key, pk, sk) != 0) {
		goto out;
	}
	canon_hex(pk, 32, hex);
	if (!is_officer(root, hex) &&
	    (prev == NULL || !is_officer(prev, hex))) {
		fprintf(stderr,
		        "tongban root sign: %s is not an officer of %s%s%s\n",
		        key, file, prev != NULL ? " nor of " : "",
		        prev != NULL ? prev_path : "");
		goto out;
	}
	if (trust_sign(root, sk, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban root sign: %s: %s\n", file, err);
		goto out;
	}
	if (tb_cli_write_json(file, root, 0644, false) != 0) {
		goto out;
	}
	root_status(file, root, prev);
	rc = TB_EXIT_OK;
out:
	sodium_memzero(sk, sizeof(sk));
	json_decref(root);
	json_decref(prev);
	return rc;
}

/* add_key appends {name, key} for a key file to arr. */
static int
add_key(json_t *arr, const char *path)
{
	uint8_t pk[32];
	char hex[65];
	json_t *k;
	const char *name = path;

	if (tb_cli_load_key(path, pk, NULL) != 0) {
		return -1;
	}
	canon_hex(pk, 32, hex);
	k = json_load_file(path, 0, NULL);
	if (spec_str(k, "name") != NULL && spec_str(k, "name")[0] != '\0') {
		name = spec_str(k, "name");
	}
	json_array_append_new(
	    arr, json_pack("{s:s, s:s}", "name", name, "key", hex));
	json_decref(k);
	return 0;
}

/* root_rotate writes the next version of a root, unsigned: the previous
 * officers (threshold of them) and the new ones then sign it with
 * `root sign`, so a rotation is authorised by the keys it replaces. */
static int
root_rotate(int argc, char **argv)
{
	const char *old_path = NULL, *out = NULL, *expires = NULL;
	json_t *old = NULL, *root = NULL, *officers, *rkeys;
	struct tb_diag d;
	long threshold = 0;
	int i, rc = TB_EXIT_INVALID;

	officers = json_array();
	rkeys = json_array();
	for (i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 >= argc) {
			rc = trust_usage("root rotate",
			                 "an option lacks its value");
			goto out;
		}
		if (!strcmp(o, "--root")) {
			old_path = argv[++i];
		} else if (!strcmp(o, "--out")) {
			out = argv[++i];
		} else if (!strcmp(o, "--expires")) {
			expires = argv[++i];
		} else if (!strcmp(o, "--threshold")) {
			threshold = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(o, "--officer")) {
			if (add_key(officers, argv[++i]) != 0) {
				goto out;
			}
		} else if (!strcmp(o, "--release-key")) {
			if (add_key(rkeys, argv[++i]) != 0) {
				goto out;
			}
		} else {
			rc = trust_usage("root rotate", "unknown option");
			goto out;
		}
	}
	if (old_path == NULL || out == NULL) {
		rc =
		    trust_usage("root rotate", "--root and --out are required");
		goto out;
	}
	if ((old = load_doc(old_path)) == NULL) {
		goto out;
	}
	tb_diag_init(&d);
	if (trust_root_check(old, NULL, 0, "$", &d) != 0) {
		for (i = 0; i < d.n; i++) {
			fprintf(stderr, "tongban root rotate: %s: %s: %s\n",
			        old_path, d.e[i].path, d.e[i].msg);
		}
		goto out;
	}
	root = json_deep_copy(old);
	json_object_del(root, "signatures");
	json_object_set_new(root, "version",
	                    json_integer(spec_int(old, "version", 0) + 1));
	if (json_array_size(officers) > 0) {
		json_object_set(root, "officers", officers);
	}
	if (json_array_size(rkeys) > 0) {
		json_object_set(root, "release_keys", rkeys);
	}
	if (expires != NULL) {
		json_object_set_new(root, "expires", json_string(expires));
	}
	if (threshold > 0) {
		json_object_set_new(root, "threshold", json_integer(threshold));
	}
	if (spec_int(root, "threshold", 0) >
	    (long long)json_array_size(json_object_get(root, "officers"))) {
		fprintf(stderr,
		        "tongban root rotate: threshold %lld exceeds the %zu "
		        "officers\n",
		        spec_int(root, "threshold", 0),
		        json_array_size(json_object_get(root, "officers")));
		goto out;
	}
	json_object_set_new(root, "signatures", json_array());
	if (tb_cli_write_json(out, root, 0644, true) != 0) {
		goto out;
	}
	printf("%s: version %lld of %s needs %lld signatures of its officers "
	       "and %lld of the previous ones:\n"
	       "  tongban root sign --key OFFICER.json --prev %s %s\n",
	       out, spec_int(root, "version", 0), spec_str(root, "region"),
	       spec_int(root, "threshold", 0), spec_int(old, "threshold", 0),
	       old_path, out);
	rc = TB_EXIT_OK;
out:
	json_decref(old);
	json_decref(root);
	json_decref(officers);
	json_decref(rkeys);
	return rc;
}

/* root_check verifies a root, and a rotation when --prev names the root it
 * replaces. */
static int
root_check(int argc, char **argv)
{
	const char *file = NULL, *prev_path = NULL;
	json_t *root = NULL, *prev = NULL;
	int i, rc = TB_EXIT_INVALID;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--prev") && i + 1 < argc) {
			prev_path = argv[++i];
		} else if (argv[i][0] != '-' && file == NULL) {
			file = argv[i];
		} else {
			return trust_usage("root check", "bad arguments");
		}
	}
	if (file == NULL) {
		return trust_usage("root check", "a root file is required");
	}
	if ((root = load_doc(file)) != NULL &&
	    (prev_path == NULL || (prev = load_doc(prev_path)) != NULL) &&
	    root_status(file, root, prev) == 0) {
		rc = TB_EXIT_OK;
	}
	json_decref(root);
	json_decref(prev);
	return rc;
}

int
tb_cli_root(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "init")) {
		return root_init(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "sign")) {
		return root_sign(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "rotate")) {
		return root_rotate(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "check")) {
		return root_check(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "install")) {
		return tb_cli_root_install(argc - 1, argv + 1);
	}
	return trust_usage("root",
	                   "expected 'root init|sign|rotate|check|install'");
}

int
tb_cli_sign(int argc, char **argv)
{
	const char *key = NULL, *file = NULL;
	uint8_t pk[32], sk[64];
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
	if ((doc = tb_cli_json_file("sign", file)) == NULL) {
		return TB_EXIT_INVALID;
	}
	if (!json_is_object(doc) || tb_cli_load_key(key, pk, sk) != 0) {
		json_decref(doc);
		return TB_EXIT_INVALID;
	}
	rv = trust_sign(doc, sk, err, sizeof(err));
	sodium_memzero(sk, sizeof(sk));
	if (rv != 0) {
		fprintf(stderr, "tongban sign: %s: %s\n", file, err);
	} else if (tb_cli_write_json(file, doc, 0644, false) != 0) {
		rv = -1;
	} else {
		/* It used to say nothing: a user could not tell that the
		 * file was signed, nor by which key. On stdout, as cert
		 * request, issue and install print theirs. */
		char hex[65];
		canon_hex(pk, 32, hex);
		hex[16] = '\0';
		size_t ns = json_array_size(json_object_get(doc, "signatures"));
		printf("%s: signed by key %s.. (%zu signature%s)\n", file, hex,
		       ns, ns == 1 ? "" : "s");
	}
	json_decref(doc);
	return rv == 0 ? TB_EXIT_OK : TB_EXIT_INVALID;
}
