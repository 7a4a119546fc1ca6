/* `tongban catalog show`: GET /v1/catalog printed as JSON (stdout), and for
 * people a summary of the province's latest-version statement and of a
 * withheld release on stderr (node/region_latest.c). */
#include "node/cli.h"

#include "schema/spec.h"

#include <stdio.h>

int
tb_cli_catalog_show(const char *api, const char *token, bool json)
{
	json_t *v = NULL, *l, *w;
	const char *st, *msg;
	int status, rc;

	rc = tb_cli_request(api, token, json, "GET", "/v1/catalog", NULL, true,
	                    &status, &v);
	if (rc != TB_EXIT_OK || json || !json_is_object(v)) {
		json_decref(v);
		return rc;
	}
	l = json_object_get(v, "latest");
	w = json_object_get(v, "latest_watch");
	st = spec_str(w, "state");
	msg = spec_str(w, "message");
	fprintf(stderr, "standard layer: version %lld applied\n",
	        spec_int(json_object_get(v, "standard"), "version", 0));
	if (json_is_object(l)) {
		fprintf(stderr,
		        "latest (signed by %s node %s): version %lld, hash "
		        "%.16s.., expires %s%s\n",
		        spec_str(l, "region"), spec_str(l, "signer"),
		        spec_int(l, "version", 0),
		        spec_str(l, "hash") ? spec_str(l, "hash") : "(none)",
		        spec_str(l, "expires_at"),
		        spec_bool(l, "expired", false) ? " (expired)" : "");
	} else {
		fprintf(stderr,
		        "latest: no statement from the province held\n");
	}
	if (st != NULL) {
		fprintf(stderr, "watch: %s%s%s\n", st, msg ? ": " : "",
		        msg ? msg : "");
	}
	json_decref(v);
	return rc;
}
