/* Client verbs of handoffs: tongban case handoff ID --to CODE [--mode M]
 * [--reason R] [--wait SECS], tongban handoff list|show|abort|request|
 * refuse
 * (docs/API.md, "Handoffs"). */
#include "node/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USAGE                                                                    \
	"usage: tongban case handoff ID --to CODE [--mode M] [--reason R] "      \
	"[--wait SECS]\n"                                                        \
	"       tongban handoff list [--state S] [--side source|target] "        \
	"[--limit N] [--after C]\n"                                              \
	"       tongban handoff show ID | handoff abort ID\n"                    \
	"       tongban handoff request ID [--reason R] | handoff refuse ID "    \
	"--reason R\n"                                                           \
	"  --mode: 异地代收代办 (default), 多地联办 or 全程网办\n" \
	"  --wait: wait until the handoff is transferred, refused or "           \
	"aborted\n"

static const char *
opt(int argc, char **argv, const char *name)
{
	int i;

	for (i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], name)) {
			return argv[i + 1];
		}
	}
	return NULL;
}

/* sv is member k of o as a string, or dflt. */
static const char *
sv(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : dflt;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* wait_done polls the case's record of (epoch, attempt) until it is
 * decided or secs pass; prints it. */
static int
wait_done(const char *api, const char *token, bool json, const char *id,
          long long epoch, long long attempt, long secs)
{
	char uri[200];
	long waited;

	snprintf(uri, sizeof(uri), "/v1/handoffs/%s", id);
	for (waited = 0; waited <= secs * 1000; waited += 100) {
		json_t *v = NULL, *rec, *found = NULL;
		int st;
		size_t i;

		tb_cli_request(api, token, json, "GET", uri, NULL, false, &st,
		               &v);
		json_array_foreach(json_object_get(v, "handoffs"), i, rec)
		{
			if (json_integer_value(json_object_get(rec, "epoch")) ==
			        epoch &&
			    json_integer_value(
			        json_object_get(rec, "attempt")) == attempt &&
			    !strcmp(sv(rec, "side", ""), "source")) {
				found = rec;
			}
		}
		if (found != NULL) {
			const char *s =
			    json_string_value(json_object_get(found, "state"));
			if (s != NULL && strcmp(s, "offered") != 0) {
				int rc = !strcmp(s, "transferred")
				             ? TB_EXIT_OK
				             : TB_EXIT_INVALID;
				json_dumpf(found, stdout,
				           json ? JSON_COMPACT
				                : JSON_INDENT(2));
				printf("\n");
				if (rc == TB_EXIT_OK && !json) {
					fprintf(
					    stderr,
					    "the handoff of %s: transferred "
					    "to %s, the owner now at epoch "
					    "%lld (this region keeps a "
					    "tombstone; reads here are "
					    "answered by the owner)\n",
					    id, sv(found, "peer", "?"),
					    epoch + 1);
				}
				if (rc != TB_EXIT_OK) {
					const char *why = json_string_value(
					    json_object_get(found, "refusal"));
					fprintf(
					    stderr,
					    "tongban: the handoff of %s was "
					    "%s%s%s\n",
					    id, s, why ? ": " : "",
					    why ? why : "");
				}
				json_decref(v);
				return rc;
			}
		}
		json_decref(v);
		nap_ms(100);
	}
	fprintf(stderr,
	        "tongban: the handoff of %s is still offered after %ld s: "
	        "the target has not answered (is a node of it running and "
	        "linked, and every region on the way at feature level 3? "
	        "a region that cannot pass the frames on logs "
	        "TB-HANDOFF-UNROUTABLE or TB-HANDOFF-DROPPED; a target whose "
	        "catalog is behind the case's release TB-HANDOFF-BEHIND); "
	        "it goes on "
	        "by itself once it can; tongban handoff show %s, or "
	        "tongban handoff abort %s once the offer is older than "
	        "handoff_abort_after_ms (60 s by default)\n",
	        id, secs, id, id);
	return TB_EXIT_INVALID;
}

static int
offer(int argc, char **argv, const char *api, const char *token, bool json)
{
	const char *id = argv[2], *to = opt(argc, argv, "--to");
	const char *mode = opt(argc, argv, "--mode");
	const char *reason = opt(argc, argv, "--reason");
	const char *wait = opt(argc, argv, "--wait");
	json_t *b, *v = NULL;
	char uri[200], *text;
	long secs = wait != NULL ? strtol(wait, NULL, 10) : 0;
	int st, rc;

	if (to == NULL || (wait != NULL && (secs < 1 || secs > 3600))) {
		fprintf(stderr, USAGE);
		return TB_EXIT_USAGE;
	}
	b = json_pack("{s:s, s:s*, s:s*}", "to", to, "mode", mode, "reason",
	              reason);
	text = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (text == NULL) {
		return TB_EXIT_INVALID;
	}
	snprintf(uri, sizeof(uri), "/v1/cases/%s/handoff", id);
	rc = tb_cli_request(api, token, json, "POST", uri, text, wait == NULL,
	                    &st, &v);
	free(text);
	if (wait == NULL || st != 202) {
		if (wait != NULL) { /* not printed yet */
			json_t *e = json_object_get(v, "error");
			fprintf(stderr, "tongban: %d %s: %s\n", st,
			        sv(e, "code", "?"),
			        sv(e, "message", "no answer"));
			rc = TB_EXIT_INVALID;
		}
		json_decref(v);
		return rc;
	}
	rc = wait_done(api, token, json, id,
	               json_integer_value(json_object_get(
	                   json_object_get(v, "handoff"), "epoch")),
	               json_integer_value(json_object_get(
	                   json_object_get(v, "handoff"), "attempt")),
	               secs);
	json_decref(v);
	return rc;
}

int
tb_cli_handoff(int argc, char **argv, const char *api, const char *token,
               bool json)
{
	char uri[400];
	int st;

	if (!strcmp(argv[0], "case")) {
		return offer(argc, argv, api, token, json);
	}
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		const char *s = opt(argc, argv, "--state");
		const char *side = opt(argc, argv, "--side");
		const char *lim = opt(argc, argv, "--limit");
		const char *after = opt(argc, argv, "--after");
		snprintf(uri, sizeof(uri), "/v1/handoffs?limit=%s%s%s%s%s%s%s",
		         lim ? lim : "100", s ? "&state=" : "", s ? s : "",
		         side ? "&side=" : "", side ? side : "",
		         after ? "&after=" : "", after ? after : "");
		return tb_cli_get_shown(api, token, json, uri,
		                        tb_cli_show_handoffs);
	}
	if (argc >= 3 && !strcmp(argv[1], "show")) {
		/* The same records as a list: the same table for people. */
		snprintf(uri, sizeof(uri), "/v1/handoffs/%s", argv[2]);
		return tb_cli_get_shown(api, token, json, uri,
		                        tb_cli_show_handoffs);
	}
	if (argc >= 3 &&
	    (!strcmp(argv[1], "request") || !strcmp(argv[1], "refuse"))) {
		const char *reason = opt(argc, argv, "--reason");
		bool req = !strcmp(argv[1], "request");
		json_t *b;
		char *text;
		int rc;

		if (!req && reason == NULL) {
			fprintf(stderr, USAGE);
			return TB_EXIT_USAGE;
		}
		b = req ? json_pack("{s:s, s:s*}", "case", argv[2], "reason",
		                    reason)
		        : json_pack("{s:s}", "reason", reason);
		text = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
		json_decref(b);
		if (text == NULL) {
			return TB_EXIT_INVALID;
		}
		if (req) {
			snprintf(uri, sizeof(uri), "/v1/handoffs/request");
		} else {
			snprintf(uri, sizeof(uri), "/v1/handoffs/%s/refuse",
			         argv[2]);
		}
		rc = tb_cli_request(api, token, json, "POST", uri, text, true,
		                    &st, NULL);
		free(text);
		return rc;
	}
	if (argc >= 3 && !strcmp(argv[1], "abort")) {
		snprintf(uri, sizeof(uri), "/v1/handoffs/%s/abort", argv[2]);
		return tb_cli_request(api, token, json, "POST", uri, NULL, true,
		                      &st, NULL);
	}
	fprintf(stderr, USAGE);
	return TB_EXIT_USAGE;
}
