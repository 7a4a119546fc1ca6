/* The 'cert' verb: offline enrolment of nodes and region keys (request,
 * issue, install), revocation, cross-certification, show and verify. This
 * file holds its usage, options and dispatch and the helpers the
 * subcommands share; the subcommands live in node/cli_cert_issue.c,
 * node/cli_cert_install.c and node/cli_cert_show.c. */
#include "node/cli_cert_impl.h"
#include "node/certstore.h"

#include "node/config.h"
#include "schema/canon.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <dirent.h>
#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	"       tongban cert install --dir NODE_DIR [--root ROOT.json] "       \
	"CERT.json [CHAIN.json...]\n"                                          \
	"                           (--root: a node made without one keeps "   \
	"it)\n"                                                                \
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

int
cli_cert_usage(const char *sub, const char *what)
{
	fprintf(stderr, "tongban cert %s: %s\n%s", sub, what, CERT_USAGE);
	return TB_EXIT_USAGE;
}

static int
parse_opts(const char *sub, int argc, char **argv, struct cli_cert_opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} str_opts[] = {
#define O(n, f) { n, offsetof(struct cli_cert_opts, f) }
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
			return cli_cert_usage(sub, "an option lacks its value");
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

const char *
cli_cert_region_name(const char *code)
{
	const struct region *r;
	int32_t c;

	if (code == NULL || region_code_parse(code, &c) != 0 ||
	    (r = region_find(region_builtin(), c)) == NULL) {
		return "?";
	}
	return r->name;
}

/* cli_cert_print_diag prints each problem as "FILE: PATH: reason". */
void
cli_cert_print_diag(const char *file, const struct tb_diag *d)
{
	int i;

	for (i = 0; i < d->n; i++) {
		fprintf(stderr, "%s: %s: %s\n", file, d->e[i].path,
		        d->e[i].msg);
	}
}

/* cli_cert_dir_path writes DIR/name into out. */
void
cli_cert_dir_path(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* cli_cert_node_keys reads the node's public keys from DIR/keys/node.json. */
int
cli_cert_node_keys(const char *dir, uint8_t pk[32], uint8_t kx[32])
{
	char path[PATH_MAX];
	json_t *k;
	int rv;

	cli_cert_dir_path(path, sizeof(path), dir, "keys/node.json");
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

/* cli_cert_append_docs appends the document of a file, or each element of an
 * array file, to arr. */
int
cli_cert_append_docs(json_t *arr, const char *path)
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

	cli_cert_dir_path(path, sizeof(path), dir, "certs");
	if ((dp = opendir(path)) == NULL) {
		return;
	}
	while ((e = readdir(dp)) != NULL) {
		if (strncmp(e->d_name, "crl-", 4) != 0) {
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		cli_cert_append_docs(arr, sub);
	}
	closedir(dp);
}

void
cli_cert_ctx_fini(struct cli_cert_ctx *c)
{
	json_decref(c->root);
	json_decref(c->chain);
	json_decref(c->crls);
	memset(c, 0, sizeof(*c));
}

/* cli_cert_ctx_verify runs cert_verify_chain on the context. */
int
cli_cert_ctx_verify(struct cli_cert_ctx *c, struct tb_diag *d)
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

/* cli_cert_ctx_dir loads a node directory's root, installed chain and lists,
 * and expects the node's own region and id. With chain_files, those are the
 * chain instead of the installed one. */
int
cli_cert_ctx_dir(struct cli_cert_ctx *c, const char *dir, char **chain_files,
                 int nfiles)
{
	return cli_cert_ctx_dir_root(c, dir, chain_files, nfiles, NULL);
}

int
cli_cert_ctx_dir_root(struct cli_cert_ctx *c, const char *dir,
                      char **chain_files, int nfiles, json_t *root)
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
	cli_cert_dir_path(path, sizeof(path), dir, "root.json");
	if (root != NULL) {
		c->root = json_incref(root);
	} else if (access(path, F_OK) != 0) {
		/* A node made without --root (not a province): give the root
		 * here, and cert install keeps it (its data stays). */
		fprintf(stderr,
		        "tongban cert: %s has no root metadata (%s): give the "
		        "province's root with --root ROOT.json (tongban cert "
		        "install --dir %s --root ROOT.json CERT.json "
		        "CHAIN...)\n",
		        dir, path, dir);
		return -1;
	} else if ((c->root = tb_cli_json_file("cert", path)) == NULL) {
		return -1;
	}
	if (chain_files != NULL) {
		for (i = 0; i < nfiles; i++) {
			if (cli_cert_append_docs(c->chain, chain_files[i]) !=
			    0) {
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

int
tb_cli_cert(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli_cert_opts *);
	} subs[] = {
		{ "request", cli_cert_request }, { "issue", cli_cert_issue },
		{ "install", cli_cert_install }, { "revoke", cli_cert_revoke },
		{ "show", cli_cert_show },       { "verify", cli_cert_verify },
		{ "cross", cli_cert_cross },     { "export", cli_cert_export },
	};
	struct cli_cert_opts o;
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
	return cli_cert_usage(argv[1], "unknown subcommand");
}
