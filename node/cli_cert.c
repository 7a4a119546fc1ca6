/* The 'cert' verb: offline enrolment of nodes and region keys (request,
 * issue, install), revocation, cross-certification, show and verify. */
#include "node/cli.h"
#include "node/certstore.h"

#include "node/config.h"
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_chain.h"
#include "schema/cert_crl.h"
#include "schema/cert_issue.h"
#include "schema/region.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CERT_USAGE                                                             \
	"usage: tongban cert request --dir NODE_DIR [--region CODE] "          \
	"[--prev-key OLD.json]\n"                                              \
	"                            [--name N] [--rotate] --out REQ.json\n"   \
	"       tongban cert request --region-key KEY.json --region CODE "     \
	"--out REQ.json\n"                                                     \
	"       tongban cert request --client-key KEY.json --region CODE "     \
	"--out REQ.json\n"                                                     \
	"       tongban cert issue --key KEY.json (--issuer-cert CERT.json | " \
	"--root ROOT.json)\n"                                                  \
	"                          --request REQ.json --days N [--role R] "    \
	"[--prev-cert OLD.json]\n"                                             \
	"                          --out CERT.json\n"                          \
	"       tongban cert install --dir NODE_DIR CERT.json "                \
	"[CHAIN.json...]\n"                                                    \
	"       tongban cert install --dir NODE_DIR --crl CRL.json\n"          \
	"       tongban cert install --dir NODE_DIR --xcert XCERT.json\n"      \
	"       tongban cert install --dir NODE_DIR --region-key KEY.json\n"   \
	"       tongban --api URL --token T cert join-token --region CODE "    \
	"--role member|peer|child\n"                                           \
	"                          [--ttl 1h] [--json]\n"                      \
	"       tongban cert revoke --key KEY.json (--serial S | --token ID) " \
	"[--reason R]\n"                                                       \
	"                           (--crl OLD.json | --region CODE | "        \
	"--root ROOT.json) --out CRL.json\n"                                   \
	"       tongban [--api URL --token T] cert revoke ... --commit "       \
	"[--chain CHAIN.json] [--out CRL.json]\n"                              \
	"       tongban cert show (FILE... [--crl CRL.json]... | --dir "       \
	"NODE_DIR) [--json]\n"                                                 \
	"       tongban [--api URL --token T] cert show --stored [--json]\n"   \
	"       tongban cert export --dir NODE_DIR [--kind node|chain|"        \
	"xcert-REGION] [--out FILE]\n"                                         \
	"       tongban cert verify (--dir NODE_DIR | --root ROOT.json "       \
	"[--crl CRL.json]...\n"                                                \
	"                           [--region CODE] [--node-id ID] [--role "   \
	"R] CERT.json [CHAIN.json...])\n"                                      \
	"       tongban cert cross --root ROOT.json --subject-root "           \
	"OTHER.json --key OFFICER.json...\n"                                   \
	"                          --days N [--grant-scope CODE "              \
	"--grant-role ROLE...]\n"                                              \
	"                          --out XCERT.json\n"                         \
	"       tongban cert incarnation --key PARENT.key --region CODE "      \
	"--incarnation N\n"                                                    \
	"                                --member NODE_ID --out FILE   (a "    \
	"recovered group)\n"

/* Certificates start 5 minutes in the past, so a peer whose clock is a
 * little behind the issuer's accepts them at once. */
#define CERT_SKEW_MS (5 * 60 * 1000LL)

/* Options of all subcommands; each takes what it needs. */
struct opts {
	const char *dir, *region, *out, *name, *prev_key, *region_key;
	const char *client_key, *issuer_cert, *root, *request, *role;
	const char *prev_cert, *serial, *reason, *node_id, *subject_root;
	const char *kind, *token, *grant_scope, *xcert, *chain;
	long days;
	bool json, rotate, commit, stored;
	const char *keys[16];
	int nkeys;
	const char *crls[64];
	int ncrls;
	const char *grant_roles[8];
	int ngrant_roles;
	char **files;
	int nfiles;
};

static int
usage(const char *sub, const char *what)
{
	fprintf(stderr, "tongban cert %s: %s\n%s", sub, what, CERT_USAGE);
	return TB_EXIT_USAGE;
}

static int
parse_opts(const char *sub, int argc, char **argv, struct opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} str_opts[] = {
#define O(n, f) { n, offsetof(struct opts, f) }
		O("--dir", dir),
		O("--region", region),
		O("--out", out),
		O("--name", name),
		O("--prev-key", prev_key),
		O("--region-key", region_key),
		O("--client-key", client_key),
		O("--issuer-cert", issuer_cert),
		O("--root", root),
		O("--request", request),
		O("--role", role),
		O("--prev-cert", prev_cert),
		O("--serial", serial),
		O("--reason", reason),
		O("--node-id", node_id),
		O("--subject-root", subject_root),
		O("--kind", kind),
		O("--token", token),
		O("--grant-scope", grant_scope),
		O("--xcert", xcert),
		O("--chain", chain),
#undef O
	};
	size_t j;
	int i;

	memset(o, 0, sizeof(*o));
	o->files = calloc((size_t)argc + 1, sizeof(*o->files));
	if (o->files == NULL) {
		return TB_EXIT_INVALID;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool done = false;
		if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		}
		if (!strcmp(a, "--rotate")) {
			o->rotate = true;
			continue;
		}
		if (!strcmp(a, "--commit") || !strcmp(a, "--stored")) {
			*(a[2] == 'c' ? &o->commit : &o->stored) = true;
			continue;
		}
		if (a[0] != '-' || a[1] != '-') {
			o->files[o->nfiles++] = argv[i];
			continue;
		}
		if (i + 1 >= argc) {
			return usage(sub, "an option lacks its value");
		}
		for (j = 0; j < sizeof(str_opts) / sizeof(str_opts[0]); j++) {
			if (!strcmp(a, str_opts[j].name)) {
				*(const char **)((char *)o + str_opts[j].off) =
				    argv[++i];
				done = true;
			}
		}
		if (done) {
			continue;
		}
		if (!strcmp(a, "--days")) {
			o->days = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--key") && o->nkeys < 16) {
			o->keys[o->nkeys++] = argv[++i];
		} else if (!strcmp(a, "--crl") && o->ncrls < 64) {
			o->crls[o->ncrls++] = argv[++i];
		} else if (!strcmp(a, "--grant-role") && o->ngrant_roles < 8) {
			o->grant_roles[o->ngrant_roles++] = argv[++i];
		} else {
			fprintf(stderr, "tongban cert %s: unknown option %s\n",
			        sub, a);
			return TB_EXIT_USAGE;
		}
	}
	return TB_EXIT_OK;
}

static const char *
fmt_of(const json_t *doc)
{
	const char *f = spec_str(doc, "format");

	return f != NULL ? f : "";
}

static const char *
region_name(const char *code)
{
	const struct region *r;
	int32_t c;

	if (code == NULL || region_code_parse(code, &c) != 0 ||
	    (r = region_find(region_builtin(), c)) == NULL) {
		return "?";
	}
	return r->name;
}

/* print_diag prints each problem as "FILE: PATH: reason". */
static void
print_diag(const char *file, const struct tb_diag *d)
{
	int i;

	for (i = 0; i < d->n; i++) {
		fprintf(stderr, "%s: %s: %s\n", file, d->e[i].path,
		        d->e[i].msg);
	}
}

/* dir_path writes DIR/name into out. */
static void
dir_path(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* node_keys reads the node's public keys from DIR/keys/node.json. */
static int
node_keys(const char *dir, uint8_t pk[32], uint8_t kx[32])
{
	char path[PATH_MAX];
	json_t *k;
	int rv;

	dir_path(path, sizeof(path), dir, "keys/node.json");
	if ((k = tb_cli_json_file("cert", path)) == NULL) {
		return -1;
	}
	rv = canon_unhex(spec_str(k, "public"), pk, 32) != 0 ||
	             canon_unhex(spec_str(k, "kx_public"), kx, 32) != 0
	         ? -1
	         : 0;
	if (rv != 0) {
		fprintf(stderr, "tongban cert: %s: damaged key file\n", path);
	}
	json_decref(k);
	return rv;
}

static int
cert_request(struct opts *o)
{
	const char *kfile = o->region_key ? o->region_key : o->client_key;
	enum cert_kind kind = o->region_key ? CERT_REGION : CERT_CLIENT;
	uint8_t pk[32], sk[64], kx[32], opk[32], osk[64];
	char err[512], id[CERT_NODE_ID_HEX + 1];
	struct node_config cfg;
	const char *region = o->region;
	json_t *req = NULL;
	struct tb_diag d;
	int rc = TB_EXIT_INVALID;

	if (o->out == NULL || (o->dir == NULL) == (kfile == NULL) ||
	    (kfile != NULL && region == NULL)) {
		return usage("request", "--out and either --dir or a key with "
		                        "--region are required");
	}
	if (o->rotate && (o->dir == NULL || o->prev_key != NULL)) {
		return usage("request", "--rotate needs --dir (the current "
		                        "keys countersign) and no --prev-key");
	}
	if (o->dir != NULL) {
		if (node_config_load(o->dir, &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "tongban cert request: %s\n", err);
			return TB_EXIT_INVALID;
		}
		memcpy(sk, cfg.sign_sk, 64);
		memcpy(pk, sk + 32, 32);
		snprintf(id, sizeof(id), "%s", cfg.node_id);
		if (region == NULL) {
			region = cfg.region;
		}
		if (o->rotate) {
			/* The request is for the next keys, countersigned
			 * by the current ones (as --prev-key would). */
			memcpy(osk, cfg.sign_sk, 64);
			if (tb_cli_rekey_next(o->dir, pk, sk, kx) != 0) {
				sodium_memzero(osk, sizeof(osk));
				node_config_wipe(&cfg);
				goto out;
			}
		}
		node_config_wipe(&cfg);
		kind = CERT_NODE;
		if (!o->rotate && node_keys(o->dir, pk, kx) != 0) {
			goto out;
		}
	} else if (tb_cli_load_key(kfile, pk, sk) != 0) {
		goto out;
	}
	if (cert_request_build(kind, region, kind == CERT_NODE ? id : NULL, pk,
	                       kind == CERT_NODE ? kx : NULL, o->name,
	                       &req) != 0 ||
	    trust_sign(req, sk, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban cert request: cannot build it\n");
		goto out;
	}
	if (o->prev_key != NULL || o->rotate) {
		if ((!o->rotate &&
		     tb_cli_load_key(o->prev_key, opk, osk) != 0) ||
		    trust_sign(req, osk, err, sizeof(err)) != 0) {
			sodium_memzero(osk, sizeof(osk));
			goto out;
		}
		sodium_memzero(osk, sizeof(osk));
	}
	tb_diag_init(&d);
	if (o->prev_key == NULL && !o->rotate &&
	    cert_request_check(req, NULL, "$", &d)) {
		print_diag(o->out, &d);
		goto out;
	}
	if (tb_cli_write_json(o->out, req, 0644, false) == 0) {
		printf("%s: request for the %s key of %s %s%s%s\n", o->out,
		       cert_kind_name(kind), region, region_name(region),
		       kind == CERT_NODE ? ", node " : "",
		       kind == CERT_NODE ? id : "");
		rc = TB_EXIT_OK;
	}
out:
	sodium_memzero(sk, sizeof(sk));
	json_decref(req);
	return rc;
}

/* random_serial writes 16 random hex digits. */
static void
random_serial(char out[CERT_SERIAL_HEX + 1])
{
	uint8_t b[CERT_SERIAL_HEX / 2];

	randombytes_buf(b, sizeof(b));
	canon_hex(b, sizeof(b), out);
}

static int
cert_issue_cmd(struct opts *o)
{
	json_t *req = NULL, *issuer = NULL, *prev = NULL, *c = NULL;
	struct cert_issue_args a;
	char serial[CERT_SERIAL_HEX + 1], err[512], hex[65];
	uint8_t pk[32], sk[64];
	struct tb_diag d;
	int64_t now = tb_cli_now_ms();
	int i, rc = TB_EXIT_INVALID;

	if (o->nkeys == 0 || o->request == NULL || o->out == NULL ||
	    o->days <= 0 || (o->issuer_cert == NULL) == (o->root == NULL)) {
		return usage("issue", "--key, --request, --days N > 0, --out "
		                      "and one of --issuer-cert or --root are "
		                      "required");
	}
	if ((req = tb_cli_json_file("cert", o->request)) == NULL ||
	    (issuer = tb_cli_json_file(
	         "cert", o->root ? o->root : o->issuer_cert)) == NULL ||
	    (o->prev_cert != NULL &&
	     (prev = tb_cli_json_file("cert", o->prev_cert)) == NULL)) {
		goto out;
	}
	tb_diag_init(&d);
	if (o->root != NULL ? trust_root_check(issuer, NULL, now, "$", &d) != 0
	                    : cert_check(issuer, "$", &d) != 0) {
		print_diag(o->root ? o->root : o->issuer_cert, &d);
		goto out;
	}
	if (cert_request_check(req, prev, "$", &d) != 0) {
		print_diag(o->request, &d);
		goto out;
	}
	random_serial(serial);
	a.serial = serial;
	a.role = o->role;
	if (a.role == NULL && !strcmp(spec_str(req, "kind"), "node")) {
		a.role = "member";
	}
	a.not_before_ms = now - CERT_SKEW_MS;
	a.not_after_ms = now + (int64_t)o->days * 86400000LL;
	if (cert_issue(req, issuer, &a, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban cert issue: %s\n", err);
		goto out;
	}
	for (i = 0; i < o->nkeys; i++) {
		bool allowed;
		if (tb_cli_load_key(o->keys[i], pk, sk) != 0) {
			goto out;
		}
		canon_hex(pk, 32, hex);
		if (o->root != NULL) {
			json_t *off = json_object_get(issuer, "officers"), *e;
			size_t j;
			allowed = false;
			json_array_foreach(off, j, e)
			{
				const char *k = spec_str(e, "key");
				allowed |= k != NULL && !strcmp(k, hex);
			}
		} else {
			allowed = !strcmp(hex, spec_str(issuer, "sign_key"));
		}
		if (!allowed || trust_sign(c, sk, err, sizeof(err)) != 0) {
			fprintf(stderr, "tongban cert issue: %s is not %s\n",
			        o->keys[i],
			        o->root ? "an officer of the root"
			                : "the key the issuer certificate "
			                  "names");
			sodium_memzero(sk, sizeof(sk));
			goto out;
		}
		sodium_memzero(sk, sizeof(sk));
	}
	if (tb_cli_write_json(o->out, c, 0644, false) != 0) {
		goto out;
	}
	printf("%s: cert %s for the %s key of %s%s%s%s%s, valid to %s\n",
	       o->out, serial, spec_str(c, "kind"), spec_str(c, "region"),
	       spec_str(c, "node_id") ? ", node " : "",
	       spec_str(c, "node_id") ? spec_str(c, "node_id") : "",
	       spec_str(c, "role") ? ", role " : "",
	       spec_str(c, "role") ? spec_str(c, "role") : "",
	       spec_str(c, "not_after"));
	if (o->root != NULL &&
	    trust_count_signers(c, json_object_get(issuer, "officers")) <
	        spec_int(issuer, "threshold", 1)) {
		printf(
		    "%s: signed by %d of the officers, %lld required: "
		    "tongban sign --key OFFICER.json %s\n",
		    o->out,
		    trust_count_signers(c, json_object_get(issuer, "officers")),
		    spec_int(issuer, "threshold", 1), o->out);
	}
	rc = TB_EXIT_OK;
out:
	json_decref(req);
	json_decref(issuer);
	json_decref(prev);
	json_decref(c);
	return rc;
}

/* append_docs appends the document of a file, or each element of an array
 * file, to arr. */
static int
append_docs(json_t *arr, const char *path)
{
	json_t *v = tb_cli_json_file("cert", path), *e;
	size_t i;

	if (v == NULL) {
		return -1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
		{
			json_array_append(arr, e);
		}
	} else {
		json_array_append(arr, v);
	}
	json_decref(v);
	return 0;
}

/* dir_crls loads the lists installed in DIR/certs into arr. */
static void
dir_crls(const char *dir, json_t *arr)
{
	char path[PATH_MAX], sub[PATH_MAX + 300];
	struct dirent *e;
	DIR *dp;

	dir_path(path, sizeof(path), dir, "certs");
	if ((dp = opendir(path)) == NULL) {
		return;
	}
	while ((e = readdir(dp)) != NULL) {
		if (strncmp(e->d_name, "crl-", 4) != 0) {
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		append_docs(arr, sub);
	}
	closedir(dp);
}

/* A chain to verify, with the lists and root that go with it. */
struct ctx {
	json_t *root;
	json_t *chain; /* array: leaf first */
	json_t *crls;  /* array */
	struct cert_expect e;
	char region[7];
	char node_id[CERT_NODE_ID_HEX + 1];
};

static void
ctx_fini(struct ctx *c)
{
	json_decref(c->root);
	json_decref(c->chain);
	json_decref(c->crls);
	memset(c, 0, sizeof(*c));
}

/* ctx_verify runs cert_verify_chain on the context. */
static int
ctx_verify(struct ctx *c, struct tb_diag *d)
{
	const json_t *chain[CERT_CHAIN_MAX + 1], *crls[64];
	size_t n = json_array_size(c->chain), ncrl = json_array_size(c->crls);
	size_t i;

	if (n > CERT_CHAIN_MAX) {
		n = CERT_CHAIN_MAX + 1;
	}
	if (ncrl > 64) {
		ncrl = 64;
	}
	for (i = 0; i < n; i++) {
		chain[i] = json_array_get(c->chain, i);
	}
	for (i = 0; i < ncrl; i++) {
		crls[i] = json_array_get(c->crls, i);
	}
	tb_diag_init(d);
	return cert_verify_chain(c->root, chain, n, crls, ncrl, &c->e,
	                         tb_cli_now_ms(), d);
}

/* ctx_dir loads a node directory's root, installed chain and lists, and
 * expects the node's own region and id. With chain_files, those are the
 * chain instead of the installed one. */
static int
ctx_dir(struct ctx *c, const char *dir, char **chain_files, int nfiles)
{
	char path[PATH_MAX], err[512];
	struct node_config cfg;
	int i;

	memset(c, 0, sizeof(*c));
	if (node_config_load(dir, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban cert: %s\n", err);
		return -1;
	}
	snprintf(c->region, sizeof(c->region), "%s", cfg.region);
	snprintf(c->node_id, sizeof(c->node_id), "%s", cfg.node_id);
	node_config_wipe(&cfg);
	c->e.kind = CERT_NODE;
	c->e.region = c->region;
	c->e.node_id = c->node_id;
	c->chain = json_array();
	c->crls = json_array();
	dir_path(path, sizeof(path), dir, "root.json");
	if ((c->root = tb_cli_json_file("cert", path)) == NULL) {
		fprintf(stderr,
		        "tongban cert: %s has no root metadata: init the node "
		        "with --root ROOT.json\n",
		        dir);
		return -1;
	}
	if (chain_files != NULL) {
		for (i = 0; i < nfiles; i++) {
			if (append_docs(c->chain, chain_files[i]) != 0) {
				return -1;
			}
		}
	} else {
		json_t *leaf, *rest;
		int rv = certstore_get(dir, "node", &leaf, err, sizeof(err));
		if (rv == TB_ENOTFOUND && certstore_legacy(dir) > 0) {
			fprintf(stderr,
			        "tongban cert: %s has certificates in "
			        "%s/certs/*.json that are not imported yet: "
			        "the node imports them into %s/%s when it "
			        "next starts\n",
			        dir, dir, dir, CERTSTORE_SUBDIR);
			return -1;
		}
		if (rv == TB_ENOTFOUND) {
			fprintf(stderr,
			        "tongban cert: %s has no certificate: tongban "
			        "cert install --dir %s CERT.json CHAIN...\n",
			        dir, dir);
			return -1;
		}
		if (rv != 0) {
			fprintf(stderr, "tongban cert: %s\n", err);
			return -1;
		}
		json_array_append_new(c->chain, leaf);
		rv = certstore_get(dir, "chain", &rest, err, sizeof(err));
		if (rv != 0 && rv != TB_ENOTFOUND) {
			fprintf(stderr, "tongban cert: %s\n", err);
			return -1;
		}
		if (json_is_array(rest)) {
			json_array_extend(c->chain, rest);
		}
		json_decref(rest);
	}
	dir_crls(dir, c->crls);
	return 0;
}

/* install_crl stores a verified list as DIR/certs/crl-REGION-KEY.json,
 * unless the one stored for that issuer is as new. */
static int
install_crl(const char *dir, const char *file)
{
	char path[PATH_MAX + 80], name[80];
	json_t *crl, *old = NULL, *root = NULL;
	const json_t *iss;
	struct tb_diag d;
	int rc = TB_EXIT_INVALID;

	if ((crl = tb_cli_json_file("cert", file)) == NULL) {
		return rc;
	}
	dir_path(path, sizeof(path), dir, "root.json");
	root = json_load_file(path, 0, NULL);
	tb_diag_init(&d);
	if (cert_crl_verify(crl, root, "$", &d) != 0) {
		print_diag(file, &d);
		goto out;
	}
	iss = json_object_get(crl, "issuer");
	snprintf(name, sizeof(name), "certs/crl-%s-%.16s.json",
	         spec_str(iss, "region"),
	         cert_issuer_is_root(crl) ? "root" : spec_str(iss, "key"));
	dir_path(path, sizeof(path), dir, "certs");
	mkdir(path, 0700);
	dir_path(path, sizeof(path), dir, name);
	if ((old = json_load_file(path, 0, NULL)) != NULL &&
	    spec_int(old, "version", 0) >= spec_int(crl, "version", 0)) {
		fprintf(stderr,
		        "tongban cert install: %s: version %lld is not newer "
		        "than the installed version %lld\n",
		        file, spec_int(crl, "version", 0),
		        spec_int(old, "version", 0));
		goto out;
	}
	if (tb_cli_write_json(path, crl, 0644, false) == 0) {
		printf("%s: installed the revocation list of %s version %lld "
		       "(%zu revoked)\n",
		       dir, spec_str(iss, "region"),
		       spec_int(crl, "version", 0),
		       json_array_size(json_object_get(crl, "revoked")));
		rc = TB_EXIT_OK;
	}
out:
	json_decref(crl);
	json_decref(old);
	json_decref(root);
	return rc;
}

static int
cert_install(struct opts *o)
{
	char err[PATH_MAX + 128], hex[65], kxh[65];
	const char *names[2];
	const json_t *docs[2];
	uint8_t pk[32], kx[32], lpk[32], lkx[32];
	struct tb_diag d;
	struct ctx c;
	json_t *leaf, *rest = NULL;
	size_t i;
	int rc = TB_EXIT_INVALID, rotated = 1;

	if (o->dir != NULL && o->xcert != NULL && o->nfiles == 0 &&
	    o->ncrls == 0) {
		return tb_cli_install_xcert(o->dir, o->xcert);
	}
	if (o->dir == NULL || o->xcert != NULL ||
	    ((o->nfiles == 0) == (o->ncrls == 0) && o->region_key == NULL)) {
		return usage("install", "--dir and certificate files, one "
		                        "--crl or one --xcert are required");
	}
	if (o->ncrls == 1) {
		return install_crl(o->dir, o->crls[0]);
	}
	if (o->region_key != NULL && o->nfiles == 0) {
		return tb_cli_install_region_key(o->dir, o->region_key);
	}
	if (ctx_dir(&c, o->dir, o->files, o->nfiles) != 0 ||
	    node_keys(o->dir, pk, kx) != 0) {
		goto out;
	}
	if (ctx_verify(&c, &d) != 0) {
		print_diag(o->files[0], &d);
		goto out;
	}
	leaf = json_array_get(c.chain, 0);
	canon_hex(pk, 32, hex);
	canon_hex(kx, 32, kxh);
	if ((strcmp(spec_str(leaf, "sign_key"), hex) != 0 ||
	     strcmp(spec_str(leaf, "kx_key"), kxh) != 0) &&
	    canon_unhex(spec_str(leaf, "sign_key"), lpk, 32) == 0 &&
	    canon_unhex(spec_str(leaf, "kx_key"), lkx, 32) == 0 &&
	    (rotated = tb_cli_rekey_promote(o->dir, lpk, lkx)) < 0) {
		goto out;
	}
	/* Unless it certifies the keys a rotation left pending (now the
	 * node's), it must certify the node's keys. */
	if (rotated != 0 && (strcmp(spec_str(leaf, "sign_key"), hex) != 0 ||
	                     strcmp(spec_str(leaf, "kx_key"), kxh) != 0)) {
		fprintf(stderr,
		        "%s: certifies other keys than this node's (%s): was "
		        "the request made from another directory?\n",
		        o->files[0], o->dir);
		goto out;
	}
	rest = json_array();
	for (i = 1; i < json_array_size(c.chain); i++) {
		json_array_append(rest, json_array_get(c.chain, i));
	}
	/* The chain and the certificate in one transaction of the
	 * node-local environment (certstore.h): a running node's next poll
	 * sees both or neither. */
	names[0] = "chain";
	names[1] = "node";
	docs[0] = rest;
	docs[1] = leaf;
	if (certstore_put_many(o->dir, names, docs, 2, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban cert install: %s\n", err);
		goto out;
	}
	if (rotated == 0) {
		tb_cli_rekey_done(o->dir);
	}
	printf("%s: installed cert %s of node %s (%s %s, role %s), valid to "
	       "%s, chain of %zu%s\n",
	       o->dir, spec_str(leaf, "serial"), c.node_id, c.region,
	       region_name(c.region), spec_str(leaf, "role"),
	       spec_str(leaf, "not_after"), json_array_size(c.chain),
	       rotated == 0 ? "; the node's keys rotated to the ones it "
	                      "certifies"
	                    : "");
	rc = TB_EXIT_OK;
out:
	json_decref(rest);
	ctx_fini(&c);
	return rc;
}

/* cert_revoke makes the next version of an issuer's list with one more
 * serial or API token id: a region key's list (--region or --crl), or a
 * root's list (--root, signed by each officer --key). */
static int
cert_revoke(struct opts *o)
{
	json_t *prev = NULL, *crl = NULL, *root = NULL, *chain = NULL;
	uint8_t pk[32], sk[64];
	char err[512], hex[65];
	const char *region = o->region, *ikey;
	struct tb_diag d;
	int i, rc = TB_EXIT_INVALID;

	if (o->nkeys == 0 || (o->serial == NULL) == (o->token == NULL) ||
	    (o->out == NULL && !o->commit) ||
	    (o->ncrls == 0 && region == NULL && o->root == NULL)) {
		return usage("revoke", "--key, --out or --commit, one of "
		                       "--serial or --token, and one of --crl, "
		                       "--region or --root are required");
	}
	if (o->chain != NULL &&
	    (chain = tb_cli_json_file("cert", o->chain)) == NULL) {
		goto out;
	}
	if (chain != NULL && !json_is_array(chain)) {
		json_t *one = json_pack("[o]", chain);
		chain = one;
	}
	if (o->root != NULL &&
	    (root = tb_cli_json_file("cert", o->root)) == NULL) {
		goto out;
	}
	if (o->ncrls > 0) {
		if ((prev = tb_cli_json_file("cert", o->crls[0])) == NULL) {
			goto out;
		}
		tb_diag_init(&d);
		if (cert_crl_verify(prev, root, "$", &d) != 0) {
			print_diag(o->crls[0], &d);
			goto out;
		}
		region = spec_str(json_object_get(prev, "issuer"), "region");
	} else if (root != NULL) {
		region = spec_str(root, "region");
	}
	if (tb_cli_load_key(o->keys[0], pk, sk) != 0) {
		goto out;
	}
	sodium_memzero(sk, sizeof(sk));
	canon_hex(pk, 32, hex);
	/* The list's issuer: the previous list's, else the root's officers
	 * (--root) or the key given. cert_crl_sign then refuses a key that
	 * is not the issuer's. */
	/* Committing without --crl: the next version of the list the
	 * node's group stores for this issuer, if any. */
	if (o->commit && prev == NULL) {
		prev = tb_cli_crl_stored(region, root != NULL ? NULL : hex);
	}
	ikey = hex;
	if (prev != NULL) {
		ikey = spec_str(json_object_get(prev, "issuer"), "key");
	} else if (root != NULL) {
		ikey = NULL;
	}
	if (cert_crl_build(region, ikey, prev, tb_cli_now_ms(), &crl, err,
	                   sizeof(err)) != 0 ||
	    (o->serial != NULL
	         ? cert_crl_revoke(crl, o->serial, o->reason, tb_cli_now_ms(),
	                           err, sizeof(err))
	         : cert_crl_revoke_token(crl, o->token, o->reason,
	                                 tb_cli_now_ms(), err, sizeof(err))) !=
	        0) {
		fprintf(stderr, "tongban cert revoke: %s\n", err);
		goto out;
	}
	for (i = 0; i < o->nkeys; i++) {
		if (tb_cli_load_key(o->keys[i], pk, sk) != 0) {
			goto out;
		}
		rc = cert_crl_sign(crl, sk, err, sizeof(err));
		sodium_memzero(sk, sizeof(sk));
		if (rc != 0) {
			fprintf(stderr, "tongban cert revoke: %s: %s\n",
			        o->keys[i], err);
			rc = TB_EXIT_INVALID;
			goto out;
		}
	}
	rc = TB_EXIT_INVALID;
	if (o->out != NULL &&
	    tb_cli_write_json(o->out, crl, 0644, false) == 0) {
		printf("%s: revocation list of %s version %lld: %zu revoked, "
		       "%zu tokens revoked\n",
		       o->out, region, spec_int(crl, "version", 0),
		       json_array_size(json_object_get(crl, "revoked")),
		       json_array_size(json_object_get(crl, "tokens")));
		rc = TB_EXIT_OK;
	}
	if (o->commit && (o->out == NULL || rc == TB_EXIT_OK)) {
		rc = tb_cli_crl_commit(crl, chain, o->json);
	}
out:
	json_decref(chain);
	json_decref(prev);
	json_decref(crl);
	json_decref(root);
	return rc;
}

/* cross_grants builds the grants of --grant-scope and --grant-role into
 * *g (NULL when neither is given). */
static int
cross_grants(const struct opts *o, json_t **g)
{
	json_t *roles;
	int i;

	*g = NULL;
	if (o->grant_scope == NULL && o->ngrant_roles == 0) {
		return 0;
	}
	if ((*g = json_object()) == NULL) {
		return -1;
	}
	if (o->grant_scope != NULL &&
	    json_object_set_new(*g, "scope", json_string(o->grant_scope))) {
		return -1;
	}
	if (o->ngrant_roles == 0) {
		return 0;
	}
	if ((roles = json_array()) == NULL ||
	    json_object_set_new(*g, "roles", roles) != 0) {
		return -1;
	}
	for (i = 0; i < o->ngrant_roles; i++) {
		if (json_array_append_new(
		        roles, json_string(o->grant_roles[i])) != 0) {
			return -1;
		}
	}
	return 0;
}

static int
cert_cross(struct opts *o)
{
	json_t *root = NULL, *other = NULL, *x = NULL, *grants = NULL;
	char serial[CERT_SERIAL_HEX + 1], err[512];
	uint8_t pk[32], sk[64];
	struct tb_diag d;
	int64_t now = tb_cli_now_ms();
	int i, rc = TB_EXIT_INVALID;

	if (o->root == NULL || o->subject_root == NULL || o->nkeys == 0 ||
	    o->days <= 0 || o->out == NULL) {
		return usage("cross", "--root, --subject-root, --key, --days "
		                      "and --out are required");
	}
	if ((root = tb_cli_json_file("cert", o->root)) == NULL ||
	    (other = tb_cli_json_file("cert", o->subject_root)) == NULL) {
		goto out;
	}
	tb_diag_init(&d);
	if (trust_root_check(root, NULL, now, "$", &d) != 0 ||
	    trust_root_check(other, NULL, now, "$", &d) != 0) {
		print_diag(o->subject_root, &d);
		goto out;
	}
	random_serial(serial);
	if (cross_grants(o, &grants) != 0) {
		fprintf(stderr, "tongban cert cross: out of memory\n");
		goto out;
	}
	if (cert_xcert_build(root, other, serial, now - CERT_SKEW_MS,
	                     now + (int64_t)o->days * 86400000LL, grants, &x,
	                     err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban cert cross: %s\n", err);
		goto out;
	}
	for (i = 0; i < o->nkeys; i++) {
		if (tb_cli_load_key(o->keys[i], pk, sk) != 0) {
			goto out;
		}
		trust_sign(x, sk, err, sizeof(err));
		sodium_memzero(sk, sizeof(sk));
	}
	if (tb_cli_write_json(o->out, x, 0644, false) == 0) {
		printf(
		    "%s: the %s root trusts the %s root's officers, signed "
		    "by %d of %lld required\n",
		    o->out, spec_str(root, "region"), spec_str(other, "region"),
		    trust_count_signers(x, json_object_get(root, "officers")),
		    spec_int(root, "threshold", 1));
		tb_cli_print_grants(x);
		rc = TB_EXIT_OK;
	}
out:
	json_decref(root);
	json_decref(other);
	json_decref(grants);
	json_decref(x);
	return rc;
}

/* status_of decides a single certificate's status against the clock and
 * the newest verifiable list of its issuer among crls. */
static const char *
status_of(const json_t *c, const json_t *crls, const json_t *root, char *reason,
          size_t len)
{
	const json_t *best = NULL, *l, *hit;
	int64_t nb = 0, na = 0, now = tb_cli_now_ms();
	size_t i;

	reason[0] = '\0';
	json_array_foreach(crls, i, l)
	{
		if (cert_same_issuer(l, c) &&
		    (best == NULL || spec_int(l, "version", 0) >
		                         spec_int(best, "version", 0))) {
			best = l;
		}
	}
	if (best != NULL && cert_crl_verify(best, root, "$", NULL) == 0 &&
	    (hit = cert_crl_find(best, spec_str(c, "serial"))) != NULL) {
		snprintf(
		    reason, len, "revoked by %s's list version %lld at %s%s%s",
		    spec_str(json_object_get(best, "issuer"), "region"),
		    spec_int(best, "version", 0), spec_str(hit, "revoked_at"),
		    spec_str(hit, "reason") ? ": " : "",
		    spec_str(hit, "reason") ? spec_str(hit, "reason") : "");
		return "revoked";
	}
	spec_time_parse(spec_str(c, "not_before"), &nb);
	spec_time_parse(spec_str(c, "not_after"), &na);
	if (now >= na) {
		snprintf(reason, len, "expired at %s",
		         spec_str(c, "not_after"));
		return "expired";
	}
	if (now < nb) {
		snprintf(reason, len, "not valid before %s",
		         spec_str(c, "not_before"));
		return "not_yet_valid";
	}
	snprintf(reason, len, "valid to %s (%lld days left)",
	         spec_str(c, "not_after"),
	         (long long)((na - now) / 86400000LL));
	return "valid";
}

/* describe prints one document for people. */
static void
describe(const json_t *doc, const char *status, const char *reason)
{
	const char *f = fmt_of(doc), *region = spec_str(doc, "region");
	const json_t *is = json_object_get(doc, "issuer"), *e;
	size_t i;

	if (!strcmp(f, CERT_FORMAT)) {
		printf("cert %s: %s key of %s %s", spec_str(doc, "serial"),
		       spec_str(doc, "kind"), region, region_name(region));
		if (spec_str(doc, "node_id") != NULL) {
			printf(", node %s", spec_str(doc, "node_id"));
		}
		if (spec_str(doc, "role") != NULL) {
			printf(", role %s", spec_str(doc, "role"));
		}
		printf("\n");
		if (spec_str(doc, "name") != NULL) {
			printf("  name      %s\n", spec_str(doc, "name"));
		}
		printf("  sign key  %s\n", spec_str(doc, "sign_key"));
		if (spec_str(doc, "kx_key") != NULL) {
			printf("  kx key    %s\n", spec_str(doc, "kx_key"));
		}
		printf("  valid     %s to %s\n", spec_str(doc, "not_before"),
		       spec_str(doc, "not_after"));
		if (cert_issuer_is_root(doc)) {
			printf("  issuer    the %s root's officers (signed by "
			       "%zu)\n",
			       spec_str(is, "region"),
			       json_array_size(
			           json_object_get(doc, "signatures")));
		} else {
			printf("  issuer    %s key %.16s..\n",
			       spec_str(is, "region"), spec_str(is, "key"));
		}
		printf("  status    %s%s\n",
		       !strcmp(status, "valid") ? "" : "NOT VALID: ", reason);
	} else if (!strcmp(f, CERT_CRL_FORMAT)) {
		printf("revocation list of %s (%s%.16s) version %lld, issued "
		       "%s: %zu revoked\n",
		       spec_str(is, "region"),
		       cert_issuer_is_root(doc) ? "root officers" : "key ",
		       cert_issuer_is_root(doc) ? "" : spec_str(is, "key"),
		       spec_int(doc, "version", 0), spec_str(doc, "issued_at"),
		       json_array_size(json_object_get(doc, "revoked")));
		json_array_foreach(json_object_get(doc, "revoked"), i, e)
		{
			printf("  %s revoked at %s%s%s\n",
			       spec_str(e, "serial"), spec_str(e, "revoked_at"),
			       spec_str(e, "reason") ? ": " : "",
			       spec_str(e, "reason") ? spec_str(e, "reason")
			                             : "");
		}
		json_array_foreach(json_object_get(doc, "tokens"), i, e)
		{
			printf("  token %s revoked at %s%s%s\n",
			       spec_str(e, "id"), spec_str(e, "revoked_at"),
			       spec_str(e, "reason") ? ": " : "",
			       spec_str(e, "reason") ? spec_str(e, "reason")
			                             : "");
		}
	} else if (!strcmp(f, CERT_REQ_FORMAT)) {
		printf("request for the %s key of %s %s%s%s\n  sign key  %s\n",
		       spec_str(doc, "kind"), region, region_name(region),
		       spec_str(doc, "node_id") ? ", node " : "",
		       spec_str(doc, "node_id") ? spec_str(doc, "node_id") : "",
		       spec_str(doc, "sign_key"));
	} else if (!strcmp(f, CERT_XCERT_FORMAT)) {
		const json_t *s = json_object_get(doc, "subject");
		printf("cross-certificate %s: the %s root trusts the %s root's "
		       "officers (%lld of %zu), %s to %s\n",
		       spec_str(doc, "serial"), spec_str(is, "region"),
		       spec_str(s, "region"), spec_int(s, "threshold", 0),
		       json_array_size(json_object_get(s, "officers")),
		       spec_str(doc, "not_before"), spec_str(doc, "not_after"));
		tb_cli_print_grants(doc);
	} else if (!strcmp(f, "tongban.root/1")) {
		printf("root metadata of %s %s version %lld: %lld of %zu "
		       "officers, expires %s\n",
		       region, region_name(region), spec_int(doc, "version", 0),
		       spec_int(doc, "threshold", 0),
		       json_array_size(json_object_get(doc, "officers")),
		       spec_str(doc, "expires"));
		json_array_foreach(json_object_get(doc, "officers"), i, e)
		{
			printf("  officer   %s %s\n", spec_str(e, "key"),
			       spec_str(e, "name") ? spec_str(e, "name") : "");
		}
	} else {
		printf("a %s document\n", f[0] ? f : "format-less");
	}
}

/* describe_doc describes a document without a verdict (a stored list). */
static void
describe_doc(const json_t *doc)
{
	describe(doc, "", "");
}

/* show_dir prints a node directory's chain and whether it verifies;
 * verify_only prints the verdict alone and exits 1 on a refusal. */
static int
show_dir(struct opts *o, bool verify_only)
{
	struct tb_diag d;
	struct ctx c;
	json_t *docs = NULL, *out = NULL, *l, *xcerts;
	char reason[512], where[PATH_MAX + 16];
	size_t i;
	int rv, rc = TB_EXIT_INVALID;

	if (ctx_dir(&c, o->dir, NULL, 0) != 0) {
		ctx_fini(&c);
		return TB_EXIT_INVALID;
	}
	rv = ctx_verify(&c, &d);
	certstore_path(o->dir, where, sizeof(where));
	xcerts = json_array();
	certstore_list(o->dir, "xcert-", xcerts);
	if (o->json) {
		docs = json_array();
		json_array_foreach(c.chain, i, l)
		{
			const char *st = status_of(l, c.crls, c.root, reason,
			                           sizeof(reason));
			json_array_append_new(
			    docs, json_pack("{s:O, s:s, s:s}", "document", l,
			                    "status", st, "reason", reason));
		}
		out = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:o, s:O, s:s, "
		                "s:O}",
		                "node_id", c.node_id, "region", c.region,
		                "valid", rv == 0, "code", tb_errname(rv),
		                "path", d.n ? d.e[0].path : "", "reason",
		                d.n ? d.e[0].msg : "", "chain", docs,
		                "revocation_lists", c.crls, "stored_in", where,
		                "cross_certificates", xcerts);
		if (out != NULL) {
			json_dumpf(out, stdout,
			           JSON_INDENT(2) | JSON_SORT_KEYS);
			printf("\n");
		}
		json_decref(out);
	} else if (!verify_only) {
		printf("node %s of %s %s (certificates stored in %s, "
		       "node-local LMDB)\n",
		       c.node_id, c.region, region_name(c.region), where);
		json_array_foreach(c.chain, i, l)
		{
			const char *st = status_of(l, c.crls, c.root, reason,
			                           sizeof(reason));
			describe(l, st, reason);
		}
		json_array_foreach(xcerts, i, l)
		{
			describe(l, "", "");
		}
	}
	if (!o->json) {
		if (rv == 0) {
			printf("%s: chain valid\n", o->dir);
		} else {
			printf("%s: chain refused (%s): %s: %s\n", o->dir,
			       tb_errname(rv), d.e[0].path, d.e[0].msg);
		}
	}
	/* show reports; verify decides. */
	rc = verify_only && rv != 0 ? TB_EXIT_INVALID : TB_EXIT_OK;
	json_decref(xcerts);
	ctx_fini(&c);
	return rc;
}

/* cert_export writes a record of the node's certificate store (the node
 * certificate by default) to a file or stdout: what --prev-cert, a peer's
 * operator or a backup needs now that there is no certs/node.json. */
static int
cert_export(struct opts *o)
{
	if (o->dir == NULL) {
		return usage("export", "--dir is required");
	}
	return tb_cli_cert_export(o->dir, o->kind != NULL ? o->kind : "node",
	                          o->out);
}

static int
cert_show(struct opts *o)
{
	json_t *crls, *root = NULL, *all;
	char reason[512];
	int i, rc = TB_EXIT_OK;

	if (o->stored) {
		return tb_cli_crl_show_stored(o->json, describe_doc);
	}
	if (o->dir != NULL) {
		return show_dir(o, false);
	}
	if (o->nfiles == 0) {
		return usage("show", "a file, --dir or --stored is required");
	}
	crls = json_array();
	all = json_array();
	for (i = 0; i < o->ncrls; i++) {
		append_docs(crls, o->crls[i]);
	}
	if (o->root != NULL) {
		root = tb_cli_json_file("cert", o->root);
	}
	for (i = 0; i < o->nfiles; i++) {
		json_t *docs = json_array(), *doc;
		size_t j;
		if (append_docs(docs, o->files[i]) != 0) {
			rc = TB_EXIT_INVALID;
			json_decref(docs);
			continue;
		}
		json_array_foreach(docs, j, doc)
		{
			const char *st = "";
			reason[0] = '\0';
			if (!strcmp(fmt_of(doc), CERT_FORMAT)) {
				st = status_of(doc, crls, root, reason,
				               sizeof(reason));
			}
			if (o->json) {
				json_array_append_new(
				    all,
				    json_pack("{s:s, s:O, s:s, s:s}", "file",
				              o->files[i], "document", doc,
				              "status", st, "reason", reason));
			} else {
				describe(doc, st, reason);
			}
		}
		json_decref(docs);
	}
	if (o->json) {
		json_dumpf(all, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	}
	json_decref(all);
	json_decref(crls);
	json_decref(root);
	return rc;
}

static int
cert_verify(struct opts *o)
{
	struct tb_diag d;
	struct ctx c;
	int i, rv;

	if (o->dir != NULL) {
		return show_dir(o, true);
	}
	if (o->root == NULL || o->nfiles == 0) {
		return usage("verify", "--dir, or --root and files, are "
		                       "required");
	}
	memset(&c, 0, sizeof(c));
	c.chain = json_array();
	c.crls = json_array();
	c.e.kind = CERT_ANY;
	c.e.region = o->region;
	c.e.node_id = o->node_id;
	c.e.role = o->role;
	if (o->kind != NULL && cert_kind_parse(o->kind, &c.e.kind) != 0) {
		ctx_fini(&c);
		return usage("verify", "--kind is region, node or client");
	}
	if ((c.root = tb_cli_json_file("cert", o->root)) == NULL) {
		ctx_fini(&c);
		return TB_EXIT_INVALID;
	}
	tb_diag_init(&d);
	if (trust_root_check(c.root, NULL, tb_cli_now_ms(), "$", &d) != 0) {
		print_diag(o->root, &d);
		ctx_fini(&c);
		return TB_EXIT_INVALID;
	}
	for (i = 0; i < o->nfiles; i++) {
		if (append_docs(c.chain, o->files[i]) != 0) {
			ctx_fini(&c);
			return TB_EXIT_INVALID;
		}
	}
	for (i = 0; i < o->ncrls; i++) {
		append_docs(c.crls, o->crls[i]);
	}
	rv = ctx_verify(&c, &d);
	if (rv == 0) {
		printf("%s: chain valid\n", o->files[0]);
	} else {
		printf("%s: chain refused (%s): %s: %s\n", o->files[0],
		       tb_errname(rv), d.e[0].path, d.e[0].msg);
	}
	ctx_fini(&c);
	return rv == 0 ? TB_EXIT_OK : TB_EXIT_INVALID;
}

int
tb_cli_cert(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct opts *);
	} subs[] = {
		{ "request", cert_request }, { "issue", cert_issue_cmd },
		{ "install", cert_install }, { "revoke", cert_revoke },
		{ "show", cert_show },       { "verify", cert_verify },
		{ "cross", cert_cross },     { "export", cert_export },
	};
	struct opts o;
	size_t i;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "help") ||
	    !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout, "%s", CERT_USAGE);
		return argc < 2 ? TB_EXIT_USAGE : TB_EXIT_OK;
	}
	if (!strcmp(argv[1], "incarnation")) {
		return sodium_init() < 0
		           ? TB_EXIT_INVALID
		           : tb_cli_cert_incarnation(argc - 1, argv + 1);
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) != 0) {
			continue;
		}
		if (sodium_init() < 0) {
			return TB_EXIT_INVALID;
		}
		rc = parse_opts(subs[i].name, argc - 1, argv + 1, &o);
		if (rc == TB_EXIT_OK) {
			rc = subs[i].fn(&o);
		}
		free(o.files);
		return rc;
	}
	return usage(argv[1], "unknown subcommand");
}
