/* `tongban catalog show`: GET /v1/catalog printed as JSON (stdout), and for
 * people a summary of the province's latest-version statement and of a
 * withheld release on stderr (node/region_latest.c); `tongban catalog
 * rollout VERSION` the same way. */
#include "node/cli.h"

#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

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
	fprintf(stderr, "standard layer: version %lld applied",
	        spec_int(json_object_get(v, "standard"), "version", 0));
	{ /* and the overlays above and of this region (实施清单) */
		const json_t *o;
		size_t i;

		json_array_foreach(json_object_get(v, "overlays"), i, o)
		{
			fprintf(
			    stderr, "%s %s v%lld", i == 0 ? "; overlays" : ",",
			    spec_str(o, "region") ? spec_str(o, "region") : "?",
			    spec_int(o, "version", 0));
		}
		fprintf(stderr, "\n");
	}
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

/* rollout_watch_line: the region's own alert, as it reported it (a state
 * other than ok or off), under its line. */
static void
rollout_watch_line(const json_t *row)
{
	const json_t *w = json_object_get(row, "watch");
	const char *st = spec_str(w, "state"), *msg = spec_str(w, "message");

	if (st == NULL || !strcmp(st, "ok") || !strcmp(st, "off")) {
		return;
	}
	fprintf(stderr, "           %s reports %s%s%s\n",
	        spec_str(row, "region"), st, msg ? ": " : "", msg ? msg : "");
}

/* level_of: " [feature level N]" for a row whose region reported its
 * feature level (a static buffer: one use per printf). */
static const char *
level_of(const json_t *row)
{
	static char b[32];

	if (!json_is_integer(json_object_get(row, "level"))) {
		return "";
	}
	snprintf(b, sizeof(b), " [feature level %lld]",
	         spec_int(row, "level", 0));
	return b;
}

/* tb_cli_catalog_rollout: tongban catalog rollout VERSION: the JSON on
 * stdout, and for people one line per region below on stderr (the regions
 * that never connected on one line: a province lists every city of the
 * table). */
int
tb_cli_catalog_rollout(const char *api, const char *token, bool json,
                       const char *version)
{
	json_t *v = NULL, *a, *l, *row;
	char uri[200];
	const char *why;
	size_t i, never = 0;
	int status, rc;

	snprintf(uri, sizeof(uri), "/v1/catalog/rollout?version=%s", version);
	rc = tb_cli_request(api, token, json, "GET", uri, NULL, true, &status,
	                    &v);
	if (rc != TB_EXIT_OK || json || !json_is_object(v)) {
		json_decref(v);
		return rc;
	}
	a = json_object_get(v, "applied");
	l = json_object_get(v, "lagging");
	json_array_foreach(l, i, row)
	{
		why = spec_str(row, "reason") ? spec_str(row, "reason") : "";
		never += !strncmp(why, "never connected", 15) ? 1 : 0;
	}
	/* Regions of the table no node ever reported from are counted
	 * apart: "16 lag" with 15 cities that have no node yet read as an
	 * alarm. */
	fprintf(stderr,
	        "standard version %lld at %s: %s here; %zu region(s) below "
	        "applied it, %zu lag, %zu never connected\n",
	        spec_int(v, "version", 0), spec_str(v, "region"),
	        spec_bool(v, "self_applied", false) ? "applied" : "NOT applied",
	        json_array_size(a), json_array_size(l) - never, never);
	never = 0;
	json_array_foreach(a, i, row)
	{
		fprintf(stderr, "  applied  %s (via %s)%s\n",
		        spec_str(row, "region"), spec_str(row, "via"),
		        level_of(row));
		rollout_watch_line(row);
	}
	json_array_foreach(l, i, row)
	{
		why = spec_str(row, "reason") ? spec_str(row, "reason") : "";
		if (!strncmp(why, "never connected", 15)) {
			never++;
			continue;
		}
		if (json_is_integer(json_object_get(row, "applied_version"))) {
			fprintf(
			    stderr,
			    "  lagging  %s at version %lld (via %s): %s%s\n",
			    spec_str(row, "region"),
			    spec_int(row, "applied_version", 0),
			    spec_str(row, "via"), why, level_of(row));
		} else {
			fprintf(stderr, "  lagging  %s (via %s): %s%s\n",
			        spec_str(row, "region"), spec_str(row, "via"),
			        why, level_of(row));
		}
		rollout_watch_line(row);
	}
	if (never > 0) {
		size_t k = 0;
		fprintf(stderr, "  never connected (%zu):", never);
		json_array_foreach(l, i, row)
		{
			why = spec_str(row, "reason") ? spec_str(row, "reason")
			                              : "";
			if (!strncmp(why, "never connected", 15)) {
				fprintf(stderr, "%s %s", k++ ? "," : "",
				        spec_str(row, "region"));
			}
		}
		fprintf(stderr, "\n");
	}
	json_decref(v);
	return rc;
}
