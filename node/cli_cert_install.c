/* 'cert install': a certificate chain, a list, a cross certificate or a
 * region key into a node directory. */
#include "node/cli_cert_impl.h"
#include "node/certstore.h"
#include "node/config.h"

#include "schema/canon.h"
#include "schema/cert_crl.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	cli_cert_dir_path(path, sizeof(path), dir, "root.json");
	root = json_load_file(path, 0, NULL);
	tb_diag_init(&d);
	if (cert_crl_verify(crl, root, "$", &d) != 0) {
		cli_cert_print_diag(file, &d);
		goto out;
	}
	iss = json_object_get(crl, "issuer");
	snprintf(name, sizeof(name), "certs/crl-%s-%.16s.json",
	         spec_str(iss, "region"),
	         cert_issuer_is_root(crl) ? "root" : spec_str(iss, "key"));
	cli_cert_dir_path(path, sizeof(path), dir, "certs");
	mkdir(path, 0700);
	cli_cert_dir_path(path, sizeof(path), dir, name);
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

/* install_root_load reads --root for a certificate's install: a valid root
 * (its officers' threshold, unexpired), and if DIR holds root metadata
 * already, the same document (another root is rotated in with tongban root
 * install --commit, not here). Prints the reason and returns NULL. */
static json_t *
install_root_load(const struct cli_cert_opts *o)
{
	char path[PATH_MAX + 16];
	json_t *root, *have;
	struct tb_diag d;

	if ((root = tb_cli_json_file("cert install", o->root)) == NULL) {
		return NULL;
	}
	tb_diag_init(&d);
	if (trust_root_check(root, NULL, tb_cli_now_ms(), "$", &d) != 0) {
		cli_cert_print_diag(o->root, &d);
		json_decref(root);
		return NULL;
	}
	cli_cert_dir_path(path, sizeof(path), o->dir, "root.json");
	if (access(path, F_OK) == 0) {
		json_error_t jerr;

		if ((have = json_load_file(path, 0, &jerr)) == NULL) {
			fprintf(stderr,
			        "tongban cert install: %s: cannot read: %s\n",
			        path, jerr.text);
			json_decref(root);
			return NULL;
		}
		if (!json_equal(have, root)) {
			fprintf(stderr,
			        "tongban cert install: %s: %s holds other root "
			        "metadata (%s version %lld): a node's root is "
			        "replaced by a rotation (tongban root install "
			        "--commit), not by cert install\n",
			        o->root, path,
			        spec_str(have, "region")
			            ? spec_str(have, "region")
			            : "no region",
			        spec_int(have, "version", 0));
			json_decref(have);
			json_decref(root);
			return NULL;
		}
		json_decref(have);
	}
	return root;
}

int
cli_cert_install(struct cli_cert_opts *o)
{
	char err[PATH_MAX + 128], hex[65], kxh[65];
	const char *names[2];
	const json_t *docs[2];
	uint8_t pk[32], kx[32], lpk[32], lkx[32];
	struct tb_diag d;
	struct cli_cert_ctx c;
	json_t *leaf, *rest = NULL, *root = NULL, *have = NULL;
	char rpath[PATH_MAX + 16];
	bool first = false;
	size_t i;
	int rc = TB_EXIT_INVALID, rotated = 1, lock = -1;

	if (o->dir != NULL && o->xcert != NULL && o->nfiles == 0 &&
	    o->ncrls == 0) {
		return tb_cli_install_xcert(o->dir, o->xcert);
	}
	if (o->dir == NULL || o->xcert != NULL ||
	    ((o->nfiles == 0) == (o->ncrls == 0) && o->region_key == NULL)) {
		return cli_cert_usage("install",
		                      "--dir and certificate files, one "
		                      "--crl or one --xcert are required");
	}
	if (o->ncrls == 1) {
		return install_crl(o->dir, o->crls[0]);
	}
	if (o->region_key != NULL && o->nfiles == 0) {
		return tb_cli_install_region_key(o->dir, o->region_key);
	}
	if (o->root != NULL && (root = install_root_load(o)) == NULL) {
		return rc;
	}
	if (cli_cert_ctx_dir_root(&c, o->dir, o->files, o->nfiles, root) != 0 ||
	    cli_cert_node_keys(o->dir, pk, kx) != 0) {
		goto out;
	}
	if (cli_cert_ctx_verify(&c, &d) != 0) {
		cli_cert_print_diag(o->files[0], &d);
		goto out;
	}
	/* The chain verifies against the root given: keep it as the node's
	 * (before the certificate, so that a node never holds a certificate
	 * without the root it verifies against). */
	cli_cert_dir_path(rpath, sizeof(rpath), o->dir, "root.json");
	if (root != NULL && access(rpath, F_OK) != 0) {
		if (tb_cli_write_json(rpath, root, 0644, true) != 0) {
			goto out;
		}
		printf("%s: installed the root metadata of %s version %lld "
		       "(%s)\n",
		       o->dir, spec_str(root, "region"),
		       spec_int(root, "version", 0), o->root);
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
	/* A node that started without a certificate runs without links: its
	 * first certificate takes effect at its next start (a later one, a
	 * rotation, is picked up by the running node's links). */
	if (certstore_get(o->dir, "node", &have, err, sizeof(err)) ==
	        TB_ENOTFOUND &&
	    certstore_legacy(o->dir) == 0) {
		first = true;
	}
	json_decref(have);
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
	       cli_cert_region_name(c.region), spec_str(leaf, "role"),
	       spec_str(leaf, "not_after"), json_array_size(c.chain),
	       rotated == 0 ? "; the node's keys rotated to the ones it "
	                      "certifies"
	                    : "");
	if (first && (lock = node_dir_lock(o->dir, err, sizeof(err))) < 0) {
		printf("%s: the node in %s runs without links (it started "
		       "without a certificate): restart it to start them\n",
		       o->dir, o->dir);
	} else if (lock >= 0) {
		close(lock);
	}
	rc = TB_EXIT_OK;
out:
	json_decref(rest);
	json_decref(root);
	cli_cert_ctx_fini(&c);
	return rc;
}
