/* tongban token sign|verify: chain tokens ("tbc1.") signed offline by a
 * client key through its certificate chain, and checked the way a node
 * checks them (schema/ctoken.h). */
#include "node/cli.h"
#include "node/certstore.h"
#include "node/config.h"
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_crl.h"
#include "schema/ctoken.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <dirent.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_USAGE                                                          \
	"usage: tongban token sign --key CLIENT.key --chain FILE "           \
	"[--chain FILE]...\n"                                                \
	"                          --role ROLE --scope CODE [--ttl 8h] "     \
	"[--not-before TIME]\n"                                              \
	"                          [--id ID] [--out FILE]\n"                 \
	"       tongban token verify (--dir NODE_DIR | --root ROOT.json "    \
	"[--crl CRL.json]...\n"                                              \
	"                            [--xcert XCERT.json]...)\n"             \
	"                            [--region CODE] TOKEN|@FILE\n"          \
	"  --chain: the client certificate, then its issuer's and so on up " \
	"to the\n"                                                           \
	"  province's; each FILE is one certificate or a JSON array of "     \
	"them.\n"                                                            \
	"  --ttl: N followed by s, m, h or d (default 1h, at most 31d).\n"   \
	"  Prints the token (tbc1....) on stdout, or writes it to --out.\n"  \
	"  verify: the checks of a node of --region (default: NODE_DIR's) "  \
	"now;\n"                                                             \
	"  exit 0 and the claims, or 1 and the refusal's code, field and "   \
	"reason.\n"                                                          \
	"  (tongban token create|revoke talk to a node: tongban help)\n"

static int
usage(const char *what)
{
	fprintf(stderr, "tongban token: %s\n%s", what, TOKEN_USAGE);
	return TB_EXIT_USAGE;
}

long long
tb_cli_parse_ttl(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10), mul;

	if (end == s || v <= 0 || end[0] == '\0' || end[1] != '\0') {
		return -1;
	}
	mul = end[0] == 's'   ? 1
	      : end[0] == 'm' ? 60
	      : end[0] == 'h' ? 3600
	      : end[0] == 'd' ? 86400
	                      : -1;
	if (mul < 0 || v > CTOK_MAX_TTL_S / mul) {
		return -1;
	}
	return v * mul;
}

/* add_chain appends the certificate (or array of them) in path to chain. */
static int
add_chain(json_t *chain, const char *path)
{
	json_error_t e;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	int rv = 0;

	if (v == NULL) {
		fprintf(stderr, "tongban token sign: %s: line %d: %s\n", path,
		        e.line, e.text);
		return -1;
	}
	if (json_is_array(v)) {
		rv = json_array_extend(chain, v);
	} else if (json_is_object(v)) {
		rv = json_array_append(chain, v);
	} else {
		fprintf(stderr,
		        "tongban token sign: %s: not a certificate or an "
		        "array of them\n",
		        path);
		rv = -1;
	}
	json_decref(v);
	return rv;
}

static int
token_sign(int argc, char **argv)
{
	const char *key = NULL, *role = NULL, *scope = NULL, *id = NULL;
	const char *out = NULL, *nb = NULL;
	char idbuf[CERT_SERIAL_HEX + 1], err[512], until[CERT_TIME_LEN];
	long long ttl = 3600;
	int64_t nbf_ms = (int64_t)time(NULL) * 1000;
	uint8_t pk[32], sk[64], rnd[CERT_SERIAL_HEX / 2];
	json_t *chain = json_array();
	struct ctok_claims cl;
	char *tok = NULL;
	int i, rc = TB_EXIT_INVALID;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc) {
			json_decref(chain);
			return usage("an option lacks its value");
		}
		if (!strcmp(a, "--key")) {
			key = argv[++i];
		} else if (!strcmp(a, "--chain")) {
			if (add_chain(chain, argv[++i]) != 0) {
				goto out;
			}
		} else if (!strcmp(a, "--role")) {
			role = argv[++i];
		} else if (!strcmp(a, "--scope")) {
			scope = argv[++i];
		} else if (!strcmp(a, "--id")) {
			id = argv[++i];
		} else if (!strcmp(a, "--out")) {
			out = argv[++i];
		} else if (!strcmp(a, "--not-before")) {
			nb = argv[++i];
		} else if (!strcmp(a, "--ttl")) {
			if ((ttl = tb_cli_parse_ttl(argv[++i])) < 0) {
				json_decref(chain);
				return usage(
				    "--ttl is N followed by s, m, h or "
				    "d, at most 31d");
			}
		} else {
			json_decref(chain);
			return usage("unknown option");
		}
	}
	if (key == NULL || role == NULL || scope == NULL ||
	    json_array_size(chain) == 0) {
		json_decref(chain);
		return usage("--key, --chain, --role and --scope are required");
	}
	if (nb != NULL && spec_time_parse(nb, &nbf_ms) != 0) {
		json_decref(chain);
		return usage("--not-before is an RFC 3339 time");
	}
	if (id == NULL) {
		randombytes_buf(rnd, sizeof(rnd));
		canon_hex(rnd, sizeof(rnd), idbuf);
		id = idbuf;
	}
	if (tb_cli_load_key(key, pk, sk) != 0) {
		goto out;
	}
	cl.id = id;
	cl.role = role;
	cl.scope = scope;
	cl.nbf_s = nbf_ms / 1000;
	cl.exp_s = cl.nbf_s + ttl;
	if (ctok_sign(chain, &cl, sk, &tok, err, sizeof(err)) != CTOK_OK) {
		fprintf(stderr, "tongban token sign: %s\n", err);
		goto out;
	}
	if (out != NULL) {
		FILE *f = fopen(out, "w");
		if (f == NULL || fprintf(f, "%s\n", tok) < 0 ||
		    fclose(f) != 0) {
			fprintf(stderr, "tongban token sign: cannot write %s\n",
			        out);
			goto out;
		}
	} else {
		printf("%s\n", tok);
	}
	cert_time_format(cl.exp_s * 1000, until);
	fprintf(stderr,
	        "token %s: role %s, scope %s, valid to %s, signed by "
	        "client cert %s of %s\n",
	        id, role, scope, until,
	        spec_str(json_array_get(chain, 0), "serial"),
	        spec_str(json_array_get(chain, 0), "region"));
	rc = TB_EXIT_OK;
out:
	sodium_memzero(sk, sizeof(sk));
	free(tok);
	json_decref(chain);
	return rc;
}

/* load_docs appends the certs/PREFIX*.json documents of dir to arr. */
static void
load_docs(const char *dir, const char *prefix, json_t *arr)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	json_error_t je;
	json_t *doc;
	DIR *dp;

	snprintf(path, sizeof(path), "%s/certs", dir);
	if ((dp = opendir(path)) == NULL) {
		return;
	}
	while ((e = readdir(dp)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/certs/%s", dir, e->d_name);
		if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) !=
		    NULL) {
			json_array_append_new(arr, doc);
		}
	}
	closedir(dp);
}

/* read_token reads TOKEN, or the first line of FILE for @FILE. */
static char *
read_token(const char *arg)
{
	size_t len;
	char *s;

	if (arg[0] != '@') {
		return strdup(arg);
	}
	if ((s = tb_cli_read_file(arg + 1, CTOK_MAX_LEN + 64, &len)) != NULL) {
		s[strcspn(s, "\r\n")] = '\0';
	}
	return s;
}

static int
token_verify(int argc, char **argv)
{
	const char *dir = NULL, *rootf = NULL, *region = NULL, *arg = NULL;
	const json_t *crl[64], *xs[64];
	json_t *root = NULL, *crls = json_array(), *xcerts = json_array(), *p;
	json_t *raw = json_array(), *x;
	struct ctok_trust t = { 0 };
	struct node_config cfg;
	char path[PATH_MAX + 32], err[512], until[CERT_TIME_LEN], *tok = NULL;
	char regbuf[7];
	struct tb_diag d;
	enum ctok_reason r;
	json_error_t je;
	size_t i;
	int rc = TB_EXIT_INVALID;

	for (i = 2; i < (size_t)argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] != '-') {
			arg = a;
			continue;
		}
		if (i + 1 >= (size_t)argc) {
			rc = usage("an option lacks its value");
			goto out;
		}
		if (!strcmp(a, "--dir")) {
			dir = argv[++i];
		} else if (!strcmp(a, "--root")) {
			rootf = argv[++i];
		} else if (!strcmp(a, "--region")) {
			region = argv[++i];
		} else if (!strcmp(a, "--crl")) {
			json_t *l = json_load_file(argv[++i],
			                           JSON_REJECT_DUPLICATES, &je);
			if (l == NULL) {
				fprintf(stderr,
				        "tongban token verify: %s: %s\n",
				        argv[i], je.text);
				goto out;
			}
			json_array_append_new(raw, l);
		} else if (!strcmp(a, "--xcert")) {
			json_t *l = json_load_file(argv[++i],
			                           JSON_REJECT_DUPLICATES, &je);
			if (l == NULL) {
				fprintf(stderr,
				        "tongban token verify: %s: %s\n",
				        argv[i], je.text);
				goto out;
			}
			json_array_append_new(xcerts, l);
		} else {
			rc = usage("unknown option");
			goto out;
		}
	}
	if (arg == NULL || (dir == NULL) == (rootf == NULL) ||
	    (dir == NULL && region == NULL)) {
		rc = usage("a token and --dir, or --root with --region, are "
		           "required");
		goto out;
	}
	if (dir != NULL) {
		if (node_config_load(dir, &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "tongban token verify: %s\n", err);
			goto out;
		}
		snprintf(regbuf, sizeof(regbuf), "%s", cfg.region);
		node_config_wipe(&cfg);
		region = region != NULL ? region : regbuf;
		snprintf(path, sizeof(path), "%s/root.json", dir);
		rootf = path;
		load_docs(dir, "crl-", raw);
		certstore_list(dir, "xcert-", xcerts);
	}
	if ((root = json_load_file(rootf, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		fprintf(stderr, "tongban token verify: %s: %s\n", rootf,
		        je.text);
		goto out;
	}
	tb_diag_init(&d);
	if (trust_root_check(root, NULL, (int64_t)time(NULL) * 1000, "$", &d) !=
	    0) {
		fprintf(stderr, "tongban token verify: %s: %s: %s\n", rootf,
		        d.e[0].path, d.e[0].msg);
		goto out;
	}
	json_array_foreach(raw, i, x)
	{
		const json_t *anchor = root;
		size_t j;
		json_t *y;
		json_array_foreach(xcerts, j, y)
		{
			const char *a =
			    spec_str(json_object_get(y, "subject"), "region");
			const char *b =
			    spec_str(json_object_get(x, "issuer"), "region");
			if (a != NULL && b != NULL && !strcmp(a, b)) {
				anchor = y;
			}
		}
		tb_diag_init(&d);
		if (cert_crl_verify(x, anchor, "$", &d) != TB_OK) {
			fprintf(stderr,
			        "tongban token verify: a revocation list does "
			        "not verify (%s), ignored\n",
			        d.n ? d.e[0].msg : "?");
			continue;
		}
		if (json_array_size(crls) < 64) {
			json_array_append(crls, x);
		}
	}
	json_array_foreach(crls, i, x)
	{
		crl[t.ncrl++] = x;
	}
	json_array_foreach(xcerts, i, x)
	{
		if (t.nxcert < 64) {
			xs[t.nxcert++] = x;
		}
	}
	if ((tok = read_token(arg)) == NULL) {
		goto out;
	}
	t.root = root;
	t.crls = crl;
	t.xcerts = xs;
	t.region = region;
	t.now_ms = (int64_t)time(NULL) * 1000;
	tb_diag_init(&d);
	r = ctok_verify(tok, strlen(tok), &t, &p, &d);
	if (r != CTOK_OK) {
		printf("refused: %s at %s: %s\n", ctok_reason_name(r),
		       d.n ? d.e[0].path : "Authorization",
		       d.n ? d.e[0].msg : "");
		goto out;
	}
	cert_time_format(spec_int(p, "exp", 0) * 1000, until);
	printf(
	    "valid at a node of %s: token %s, role %s, scope %s, until %s, "
	    "signed by client cert %s of %s\n",
	    region, spec_str(p, "id"), spec_str(p, "role"),
	    spec_str(p, "scope"), until,
	    spec_str(json_array_get(json_object_get(p, "chain"), 0), "serial"),
	    spec_str(json_array_get(json_object_get(p, "chain"), 0), "region"));
	json_decref(p);
	rc = TB_EXIT_OK;
out:
	free(tok);
	json_decref(root);
	json_decref(raw);
	json_decref(crls);
	json_decref(xcerts);
	return rc;
}

int
tb_cli_token(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "sign")) {
		return token_sign(argc, argv);
	}
	if (argc >= 2 && !strcmp(argv[1], "verify")) {
		return token_verify(argc, argv);
	}
	if (argc >= 2 &&
	    (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))) {
		fputs(TOKEN_USAGE, stdout);
		return TB_EXIT_OK;
	}
	fputs(TOKEN_USAGE, stderr);
	return TB_EXIT_USAGE;
}
