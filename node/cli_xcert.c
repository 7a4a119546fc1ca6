/* Cross-certificates at a node: `tongban cert install --dir D --xcert X`
 * checks one against the node's root and stores it as record
 * xcert-REGION of the node-local DIR/local (certstore.h), where links and
 * chain tokens find it. */
#include "node/cli.h"

#include "node/certstore.h"
#include "schema/cert.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void
tb_cli_print_grants(const json_t *x)
{
	const json_t *g = json_object_get(x, "grants"), *r;
	const char *sr = spec_str(json_object_get(x, "subject"), "region");
	size_t i;

	if (spec_str(g, "scope") == NULL) {
		printf("  grants    no API tokens of %s (no grants.scope)\n",
		       sr != NULL ? sr : "?");
		return;
	}
	printf("  grants    API tokens of %s scoped within %s, roles:",
	       sr != NULL ? sr : "?", spec_str(g, "scope"));
	json_array_foreach(json_object_get(g, "roles"), i, r)
	{
		printf(" %s", json_string_value(r));
	}
	printf("%s\n", json_array_size(json_object_get(g, "roles")) == 0
	                   ? " none"
	                   : "");
}

/* xcert_check checks x against our root at now: its fields, issued by our
 * root's threshold officers, for another province, valid now. Prints the
 * first problem. */
static int
xcert_check(const json_t *root, const json_t *x, const char *file, int64_t now)
{
	const char *ours = spec_str(root, "region");
	const char *ir = spec_str(json_object_get(x, "issuer"), "region");
	const char *sr = spec_str(json_object_get(x, "subject"), "region");
	long long m = spec_int(root, "threshold", 1), have;
	struct tb_diag d;
	int64_t nb = 0, na = 0;

	tb_diag_init(&d);
	if (cert_xcert_check(x, "$", &d) != 0) {
		fprintf(stderr, "%s: %s: %s\n", file, d.e[0].path, d.e[0].msg);
		return -1;
	}
	if (ours == NULL || strcmp(ir, ours) != 0 || !strcmp(sr, ours)) {
		fprintf(stderr,
		        "%s: $.issuer: a cross-certificate of the %s root "
		        "for %s, not one of this node's root (%s) for "
		        "another province\n",
		        file, ir, sr, ours != NULL ? ours : "?");
		return -1;
	}
	have = trust_count_signers(x, json_object_get(root, "officers"));
	if (have < m) {
		fprintf(stderr,
		        "%s: $.signatures: signed by %lld of the %s root's "
		        "officers, %lld required (or changed after signing)\n",
		        file, have, ours, m);
		return -1;
	}
	spec_time_parse(spec_str(x, "not_before"), &nb);
	spec_time_parse(spec_str(x, "not_after"), &na);
	if (now >= na) {
		fprintf(stderr, "%s: $.not_after: expired at %s\n", file,
		        spec_str(x, "not_after"));
		return -1;
	}
	return 0;
}

int
tb_cli_install_xcert(const char *dir, const char *file)
{
	char path[PATH_MAX], name[64], err[PATH_MAX + 128];
	json_t *root = NULL, *x = NULL, *old = NULL;
	struct tb_diag d;
	struct timespec ts;
	int64_t now;
	int rc = TB_EXIT_INVALID;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	snprintf(path, sizeof(path), "%s/root.json", dir);
	if ((root = tb_cli_json_file("cert install", path)) == NULL ||
	    (x = tb_cli_json_file("cert install", file)) == NULL) {
		goto out;
	}
	tb_diag_init(&d);
	if (trust_root_check(root, NULL, now, "$", &d) != 0) {
		fprintf(stderr, "%s: %s: %s\n", path, d.e[0].path, d.e[0].msg);
		goto out;
	}
	if (xcert_check(root, x, file, now) != 0) {
		goto out;
	}
	snprintf(name, sizeof(name), "xcert-%s",
	         spec_str(json_object_get(x, "subject"), "region"));
	old = certstore_load(dir, name);
	if (certstore_put(dir, name, x, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban cert install: %s\n", err);
		goto out;
	}
	printf("%s: installed cross-certificate %s for the %s root, valid to "
	       "%s%s%s\n",
	       dir, spec_str(x, "serial"),
	       spec_str(json_object_get(x, "subject"), "region"),
	       spec_str(x, "not_after"), old != NULL ? ", replacing " : "",
	       old != NULL && spec_str(old, "serial") != NULL
	           ? spec_str(old, "serial")
	           : "");
	tb_cli_print_grants(x);
	rc = TB_EXIT_OK;
out:
	json_decref(root);
	json_decref(x);
	json_decref(old);
	return rc;
}

int
tb_cli_cert_export(const char *dir, const char *name, const char *out)
{
	char err[PATH_MAX + 128];
	json_t *doc;
	int rv;

	rv = certstore_get(dir, name, &doc, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "tongban cert export: %s\n", err);
		return TB_EXIT_INVALID;
	}
	if (out != NULL) {
		rv = tb_cli_write_json(out, doc, 0644, false);
	} else {
		rv = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	}
	json_decref(doc);
	return rv == 0 ? TB_EXIT_OK : TB_EXIT_INVALID;
}
