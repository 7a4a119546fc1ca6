/* What operators see of the province's latest-version statements
 * (node/region_latest.c): GET /v1/catalog's "latest" and "withheld", the
 * warnings of GET /healthz and the /metrics lines. Any thread: they read
 * the view the loop builds. */
#include "node/region_impl.h"

#include "node/node.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
region_latest_catalog(struct node *n, json_t *cat)
{
	json_t *v = region_latest_view(n);

	if (cat == NULL) {
		json_decref(v);
		return;
	}
	json_object_set(cat, "latest",
	                v ? json_object_get(v, "latest") : json_null());
	json_object_set_new(cat, "withheld",
	                    json_boolean(spec_bool(v, "withheld", false)));
	json_object_set_new(cat, "latest_stale",
	                    json_boolean(spec_bool(v, "stale", false)));
	if (v != NULL) {
		json_object_set(cat, "latest_watch",
		                json_object_get(v, "watch"));
		json_object_set(cat, "latest_counters",
		                json_object_get(v, "counters"));
		json_object_set(cat, "latest_last_refusal",
		                json_object_get(v, "last_refusal"));
	}
	json_decref(v);
}

void
region_latest_health(struct node *n, json_t *ok)
{
	json_t *v = region_latest_view(n), *w;
	const char *msg;

	if (v == NULL || (!spec_bool(v, "withheld", false) &&
	                  !spec_bool(v, "stale", false))) {
		json_decref(v);
		return;
	}
	if ((w = json_object_get(ok, "warnings")) == NULL) {
		json_object_set_new(ok, "warnings", w = json_array());
	}
	msg = spec_str(json_object_get(v, "watch"), "message");
	json_array_append_new(
	    w, json_sprintf("%s: %s (see GET /v1/catalog latest)",
	                    spec_bool(v, "withheld", false)
	                        ? "TB-CATALOG-WITHHELD"
	                        : "TB-CATALOG-LATEST-STALE",
	                    msg ? msg : ""));
	json_decref(v);
}

char *
region_latest_metrics(struct node *n)
{
	json_t *v = region_latest_view(n), *l, *c;
	const char *k;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (v == NULL || (m = open_memstream(&buf, &len)) == NULL) {
		json_decref(v);
		return NULL;
	}
	l = json_object_get(v, "latest");
	c = json_object_get(v, "counters");
	fprintf(m, "# HELP tongban_catalog_latest_version The version the "
	           "province's latest-version statement held names.\n"
	           "# TYPE tongban_catalog_latest_version gauge\n");
	if (json_is_object(l)) {
		fprintf(m,
		        "tongban_catalog_latest_version{layer=\"standard\"} "
		        "%lld\n",
		        spec_int(l, "version", 0));
	}
	fprintf(m,
	        "# HELP tongban_catalog_withheld 1 while a release the "
	        "province signed as latest is not applied here after the "
	        "grace period.\n# TYPE tongban_catalog_withheld gauge\n"
	        "tongban_catalog_withheld %d\n"
	        "# HELP tongban_catalog_latest_stale 1 while no unexpired "
	        "statement is held after the grace period.\n"
	        "# TYPE tongban_catalog_latest_stale gauge\n"
	        "tongban_catalog_latest_stale %d\n"
	        "# TYPE tongban_catalog_latest_statements_total counter\n",
	        spec_bool(v, "withheld", false), spec_bool(v, "stale", false));
	fprintf(m,
	        "tongban_catalog_latest_statements_total{result=\"received\"} "
	        "%lld\n"
	        "tongban_catalog_latest_statements_total{result=\"accepted\"} "
	        "%lld\n"
	        "tongban_catalog_latest_statements_total{result=\"relayed\"} "
	        "%lld\n"
	        "tongban_catalog_latest_statements_total{result=\"signed\"} "
	        "%lld\n"
	        "# TYPE tongban_catalog_latest_refused_total counter\n",
	        spec_int(c, "received", 0), spec_int(c, "accepted", 0),
	        spec_int(c, "relayed", 0), spec_int(c, "signed", 0));
	json_object_foreach(json_object_get(c, "refused"), k, l)
	{
		fprintf(m,
		        "tongban_catalog_latest_refused_total{reason=\"%s\"} "
		        "%lld\n",
		        k, (long long)json_integer_value(l));
	}
	fclose(m);
	json_decref(v);
	return buf;
}

/* region_latest_report: the watch's state, since and message for the
 * report up (docs/REPLICATION.md "Withheld releases"). */
json_t *
region_latest_report(struct node *n)
{
	json_t *v = region_latest_view(n), *w, *out;

	w = json_object_get(v, "watch");
	if (!json_is_object(w) || spec_str(w, "state") == NULL) {
		json_decref(v);
		return json_null();
	}
	out = json_pack("{s:s, s:O?, s:O?}", "state", spec_str(w, "state"),
	                "since", json_object_get(w, "since"), "message",
	                json_object_get(w, "message"));
	json_decref(v);
	return out != NULL ? out : json_null();
}

/* region_latest_row: a child's reported watch (a row's "watch"), checked: an
 * object with a string "state" (at most 32 bytes) and optional strings "since"
 * and "message" (at most 1024 bytes), else null. Reports come from
 * authenticated children, but are relayed up and shown as they came. */
json_t *
region_latest_row(const json_t *w)
{
	const json_t *since = json_object_get(w, "since");
	const json_t *msg = json_object_get(w, "message");
	const char *st = spec_str(w, "state");

	if (!json_is_object(w) || st == NULL || strlen(st) > 32 ||
	    (since != NULL && !json_is_null(since) &&
	     (!json_is_string(since) || json_string_length(since) > 64)) ||
	    (msg != NULL && !json_is_null(msg) &&
	     (!json_is_string(msg) || json_string_length(msg) > 1024))) {
		return json_null();
	}
	return json_pack("{s:s, s:O?, s:O?}", "state", st, "since",
	                 json_is_string(since) ? since : NULL, "message",
	                 json_is_string(msg) ? msg : NULL);
}
