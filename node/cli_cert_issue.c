/* 'cert request', 'cert issue', 'cert revoke' and 'cert cross': the verbs
 * that make a new signed document (request, certificate, list, cross
 * certificate). */
#include "node/cli_cert_impl.h"

#include "node/config.h"
#include "schema/canon.h"
#include "schema/cert_crl.h"
#include "schema/cert_issue.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Certificates start 5 minutes in the past, so a peer whose clock is a
 * little behind the issuer's accepts them at once. */
#define CERT_SKEW_MS (5 * 60 * 1000LL)

int
cli_cert_request(struct cli_cert_opts *o)
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
		return cli_cert_usage("request",
		                      "--out and either --dir or a key with "
		                      "--region are required");
	}
	if (o->rotate && (o->dir == NULL || o->prev_key != NULL)) {
		return cli_cert_usage("request",
		                      "--rotate needs --dir (the current "
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
		if (!o->rotate && cli_cert_node_keys(o->dir, pk, kx) != 0) {
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
		cli_cert_print_diag(o->out, &d);
		goto out;
	}
	if (tb_cli_write_json(o->out, req, 0644, false) == 0) {
		printf("%s: request for the %s key of %s %s%s%s\n", o->out,
		       cert_kind_name(kind), region,
		       cli_cert_region_name(region),
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

int
cli_cert_issue(struct cli_cert_opts *o)
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
		return cli_cert_usage("issue",
		                      "--key, --request, --days N > 0, --out "
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
		cli_cert_print_diag(o->root ? o->root : o->issuer_cert, &d);
		goto out;
	}
	if (cert_request_check(req, prev, "$", &d) != 0) {
		cli_cert_print_diag(o->request, &d);
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

/* cli_cert_revoke makes the next version of an issuer's list with one more
 * serial or API token id: a region key's list (--region or --crl), or a
 * root's list (--root, signed by each officer --key). */
int
cli_cert_revoke(struct cli_cert_opts *o)
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
		return cli_cert_usage("revoke",
		                      "--key, --out or --commit, one of "
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
			cli_cert_print_diag(o->crls[0], &d);
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
cross_grants(const struct cli_cert_opts *o, json_t **g)
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

int
cli_cert_cross(struct cli_cert_opts *o)
{
	json_t *root = NULL, *other = NULL, *x = NULL, *grants = NULL;
	char serial[CERT_SERIAL_HEX + 1], err[512];
	uint8_t pk[32], sk[64];
	struct tb_diag d;
	int64_t now = tb_cli_now_ms();
	int i, rc = TB_EXIT_INVALID;

	if (o->root == NULL || o->subject_root == NULL || o->nkeys == 0 ||
	    o->days <= 0 || o->out == NULL) {
		return cli_cert_usage("cross",
		                      "--root, --subject-root, --key, --days "
		                      "and --out are required");
	}
	if ((root = tb_cli_json_file("cert", o->root)) == NULL ||
	    (other = tb_cli_json_file("cert", o->subject_root)) == NULL) {
		goto out;
	}
	tb_diag_init(&d);
	if (trust_root_check(root, NULL, now, "$", &d) != 0 ||
	    trust_root_check(other, NULL, now, "$", &d) != 0) {
		cli_cert_print_diag(o->subject_root, &d);
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
