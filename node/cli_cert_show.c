/* 'cert show', 'cert export' and 'cert verify': certificates and lists for
 * people and scripts, with their status against the clock and lists. */
#include "node/cli_cert_impl.h"
#include "node/certstore.h"

#include "schema/cert_crl.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
fmt_of(const json_t *doc)
{
	const char *f = spec_str(doc, "format");

	return f != NULL ? f : "";
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
		       spec_str(doc, "kind"), region,
		       cli_cert_region_name(region));
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
		       spec_str(doc, "kind"), region,
		       cli_cert_region_name(region),
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
		       region, cli_cert_region_name(region),
		       spec_int(doc, "version", 0),
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
show_dir(struct cli_cert_opts *o, bool verify_only)
{
	struct tb_diag d;
	struct cli_cert_ctx c;
	json_t *docs = NULL, *out = NULL, *l, *xcerts;
	char reason[512], where[PATH_MAX + 16];
	size_t i;
	int rv, rc = TB_EXIT_INVALID;

	if (cli_cert_ctx_dir(&c, o->dir, NULL, 0) != 0) {
		cli_cert_ctx_fini(&c);
		return TB_EXIT_INVALID;
	}
	rv = cli_cert_ctx_verify(&c, &d);
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
		       c.node_id, c.region, cli_cert_region_name(c.region),
		       where);
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
	cli_cert_ctx_fini(&c);
	return rc;
}

/* cli_cert_export writes a record of the node's certificate store (the node
 * certificate by default) to a file or stdout: what --prev-cert, a peer's
 * operator or a backup needs now that there is no certs/node.json. */
int
cli_cert_export(struct cli_cert_opts *o)
{
	if (o->dir == NULL) {
		return cli_cert_usage("export", "--dir is required");
	}
	return tb_cli_cert_export(o->dir, o->kind != NULL ? o->kind : "node",
	                          o->out);
}

int
cli_cert_show(struct cli_cert_opts *o)
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
		return cli_cert_usage("show",
		                      "a file, --dir or --stored is required");
	}
	crls = json_array();
	all = json_array();
	for (i = 0; i < o->ncrls; i++) {
		cli_cert_append_docs(crls, o->crls[i]);
	}
	if (o->root != NULL) {
		root = tb_cli_json_file("cert", o->root);
	}
	for (i = 0; i < o->nfiles; i++) {
		json_t *docs = json_array(), *doc;
		size_t j;
		if (cli_cert_append_docs(docs, o->files[i]) != 0) {
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

int
cli_cert_verify(struct cli_cert_opts *o)
{
	struct tb_diag d;
	struct cli_cert_ctx c;
	int i, rv;

	if (o->dir != NULL) {
		return show_dir(o, true);
	}
	if (o->root == NULL || o->nfiles == 0) {
		return cli_cert_usage("verify",
		                      "--dir, or --root and files, are "
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
		cli_cert_ctx_fini(&c);
		return cli_cert_usage("verify",
		                      "--kind is region, node or client");
	}
	if ((c.root = tb_cli_json_file("cert", o->root)) == NULL) {
		cli_cert_ctx_fini(&c);
		return TB_EXIT_INVALID;
	}
	tb_diag_init(&d);
	if (trust_root_check(c.root, NULL, tb_cli_now_ms(), "$", &d) != 0) {
		cli_cert_print_diag(o->root, &d);
		cli_cert_ctx_fini(&c);
		return TB_EXIT_INVALID;
	}
	for (i = 0; i < o->nfiles; i++) {
		if (cli_cert_append_docs(c.chain, o->files[i]) != 0) {
			cli_cert_ctx_fini(&c);
			return TB_EXIT_INVALID;
		}
	}
	for (i = 0; i < o->ncrls; i++) {
		cli_cert_append_docs(c.crls, o->crls[i]);
	}
	rv = cli_cert_ctx_verify(&c, &d);
	if (rv == 0) {
		printf("%s: chain valid\n", o->files[0]);
	} else {
		printf("%s: chain refused (%s): %s: %s\n", o->files[0],
		       tb_errname(rv), d.e[0].path, d.e[0].msg);
	}
	cli_cert_ctx_fini(&c);
	return rv == 0 ? TB_EXIT_OK : TB_EXIT_INVALID;
}
