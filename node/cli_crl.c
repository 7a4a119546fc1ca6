/* Revocation lists and root metadata and a node's group: `tongban cert
 * revoke --commit` commits a signed list through the region's group (POST
 * /v1/crls), taking the stored list of the same issuer as the previous
 * version; `tongban root install --commit` commits the province's root
 * (POST /v1/root); `tongban cert show --stored` prints the root and the
 * lists a node stores (GET /v1/root, GET /v1/crls). */
#include "node/cli.h"

#include "schema/cert.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* print_error prints a node's error answer. */
static void
print_error(int status, const json_t *v)
{
	const json_t *e = json_object_get(v, "error");
	const char *field = spec_str(e, "field");

	fprintf(stderr, "tongban: %d %s%s%s: %s\n", status,
	        spec_str(e, "code") ? spec_str(e, "code") : "?",
	        field ? " at " : "", field ? field : "",
	        spec_str(e, "message") ? spec_str(e, "message")
	                               : "(no message)");
}

json_t *
tb_cli_crl_stored(const char *region, const char *key_hex)
{
	json_t *v = NULL, *l, *out = NULL;
	int status = 0;
	size_t i;

	if (tb_cli_http("GET", "/v1/crls", NULL, &status, &v) != 0 ||
	    status != 200) {
		json_decref(v);
		return NULL;
	}
	json_array_foreach(json_object_get(v, "crls"), i, l)
	{
		const json_t *iss = json_object_get(l, "issuer");
		const char *r = spec_str(iss, "region");
		const char *k = spec_str(iss, "key");

		if (r == NULL || strcmp(r, region) != 0) {
			continue;
		}
		if (key_hex == NULL ? cert_issuer_is_root(l)
		                    : k != NULL && !strcmp(k, key_hex)) {
			out = json_incref(l);
			break;
		}
	}
	json_decref(v);
	return out;
}

int
tb_cli_crl_commit(const json_t *crl, const json_t *chain, bool json)
{
	json_t *body, *v = NULL;
	const json_t *r;
	int status = 0, rc;

	body = chain != NULL
	           ? json_pack("{s:O, s:O}", "crl", crl, "chain", chain)
	           : json_incref((json_t *)crl);
	if (body == NULL) {
		return TB_EXIT_INVALID;
	}
	rc = tb_cli_http("POST", "/v1/crls", body, &status, &v);
	json_decref(body);
	if (rc != 0) {
		return TB_EXIT_INVALID;
	}
	if (status >= 300) {
		print_error(status, v);
		json_decref(v);
		return TB_EXIT_INVALID;
	}
	if (json) {
		json_dumpf(v, stdout, JSON_COMPACT);
		printf("\n");
	} else {
		r = json_object_get(v, "crl");
		printf("committed: revocation list of %s version %lld through "
		       "the node's group (%lld revoked, %lld tokens)\n",
		       spec_str(r, "region"), spec_int(r, "version", 0),
		       spec_int(r, "revoked", 0), spec_int(r, "tokens", 0));
	}
	json_decref(v);
	return TB_EXIT_OK;
}

int
tb_cli_crl_show_stored(bool json, void (*describe)(const json_t *doc))
{
	json_t *v = NULL, *r = NULL, *l;
	int status = 0;
	size_t i;

	if (tb_cli_http("GET", "/v1/root", NULL, &status, &r) != 0) {
		return TB_EXIT_INVALID;
	}
	if (status != 200 && status != 404) {
		print_error(status, r);
		json_decref(r);
		return TB_EXIT_INVALID;
	}
	if (tb_cli_http("GET", "/v1/crls", NULL, &status, &v) != 0) {
		json_decref(r);
		return TB_EXIT_INVALID;
	}
	if (status != 200) {
		print_error(status, v);
		json_decref(v);
		json_decref(r);
		return TB_EXIT_INVALID;
	}
	json_object_set(v, "root",
	                json_object_get(r, "root") != NULL
	                    ? json_object_get(r, "root")
	                    : json_null());
	if (!json) {
		if (json_object_get(r, "root") != NULL) {
			describe(json_object_get(r, "root"));
		} else {
			printf("the node stores no root metadata\n");
		}
	}
	json_decref(r);
	if (json) {
		json_dumpf(v, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	} else if (json_array_size(json_object_get(v, "crls")) == 0) {
		printf("the node stores no revocation list\n");
	} else {
		json_array_foreach(json_object_get(v, "crls"), i, l)
		{
			describe(l);
		}
	}
	json_decref(v);
	return TB_EXIT_OK;
}

int
tb_cli_root_commit(const json_t *root, bool json)
{
	json_t *v = NULL, *r;
	int status = 0;

	if (tb_cli_http("POST", "/v1/root", root, &status, &v) != 0) {
		return TB_EXIT_INVALID;
	}
	if (status != 200 && status != 201) {
		print_error(status, v);
		json_decref(v);
		return TB_EXIT_INVALID;
	}
	if (json) {
		json_dumpf(v, stdout, JSON_COMPACT);
		printf("\n");
	} else {
		r = json_object_get(v, "root");
		printf("committed: root metadata of %s version %lld through "
		       "the node's group (%lld of %lld officers, expires "
		       "%s)\n",
		       spec_str(r, "region"), spec_int(r, "version", 0),
		       spec_int(r, "threshold", 0), spec_int(r, "officers", 0),
		       spec_str(r, "expires"));
	}
	json_decref(v);
	return TB_EXIT_OK;
}

int
tb_cli_root_install(int argc, char **argv)
{
	const char *file = NULL;
	bool commit = false, json = false;
	json_t *root;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--commit")) {
			commit = true;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] != '-' && file == NULL) {
			file = argv[i];
		} else {
			file = NULL;
			break;
		}
	}
	if (file == NULL || !commit) {
		fprintf(stderr,
		        "tongban root install: ROOT.json --commit is required "
		        "(the root is committed through the node's group; a "
		        "node's own root.json comes from init --root)\n"
		        "usage: tongban [--api URL --token T] root install "
		        "ROOT.json --commit [--json]\n");
		return TB_EXIT_USAGE;
	}
	if ((root = tb_cli_json_file("root install", file)) == NULL) {
		return TB_EXIT_INVALID;
	}
	rc = tb_cli_root_commit(root, json);
	json_decref(root);
	return rc;
}
