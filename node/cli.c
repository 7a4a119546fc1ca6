/* Subcommand dispatch and helpers shared by the CLI verbs. */
#include "node/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cli_verb {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
};

static const struct cli_verb cli_verbs[] = {
	{ "init", tb_cli_init,
	  "init --dir DIR --region CODE [--name N] [--api HOST:PORT] "
	  "[--link HOST:PORT] [--root FILE] [--json]\n"
	  "               [--parent CODE@tcp://HOST:PORT] [--join HOST:PORT] "
	  "[--join-token T]   (tongban init --help)" },
	{ "run", tb_cli_run, "run --dir DIR   run the node in the foreground" },
	{ "index-key", tb_cli_index_key,
	  "index-key export --dir DIR --out FILE   the applicant index key "
	  "for a node joining the group" },

	{ "catalog", tb_cli_catalog,
	  "catalog check FILE... [--root ROOT] [--json]" },
	{ "overlay", tb_cli_overlay,
	  "overlay check --catalog FILE [--overlay FILE]... [--json]" },
	{ "deadline", tb_cli_deadline,
	  "deadline --calendar FILE --from YYYY-MM-DD --days N --unit G|Z "
	  "[--pause FROM:TO]... [--json]" },
	{ "calendar", tb_cli_calendar,
	  "[--api URL --token T] calendar publish FILE | show [--json]\n"
	  "                a province's signed calendar, without a release "
	  "(docs/CALENDAR.md)" },
	{ "lifecycle", tb_cli_lifecycle,
	  "lifecycle [--json | --markdown]   the case state/action table" },
	{ "region", tb_cli_region,
	  "region CODE [--json] [--children]   look up a region\n"
	  "  tongban region set-parent|add-peer CODE@tcp://HOST:PORT | "
	  "remove-peer CODE | status\n"
	  "                                      the node's place in the "
	  "tree" },
	{ "keygen", tb_cli_keygen,
	  "keygen --out KEY.json [--name NAME]   a new Ed25519 key" },
	{ "root", tb_cli_root,
	  "root init --region CODE --expires TIME [--threshold M] "
	  "--officer KEY... --release-key KEY... --out ROOT.json\n"
	  "  tongban root sign --key OFFICER.json [--prev OLD.json] ROOT.json\n"
	  "  tongban root rotate --root OLD.json [--officer KEY...] "
	  "[--threshold M] --out NEW.json\n"
	  "  tongban root check ROOT.json [--prev OLD.json]\n"
	  "  tongban [--api URL --token T] root install ROOT.json --commit" },
	{ "sign", tb_cli_sign,
	  "sign --key KEY.json FILE.json   sign a release, overlay or root" },
	{ "cert", tb_cli_cert,
	  "cert request|issue|install|revoke|show|verify|cross|export|"
	  "incarnation   node and\n"
	  "                region certificates, a recovered group's "
	  "incarnation (tongban cert help)" },
	{ "token", tb_cli_token,
	  "token sign --key CLIENT.key --chain FILE... --role R --scope CODE "
	  "[--ttl 8h] [--id ID]\n"
	  "  tongban token verify (--dir DIR | --root ROOT.json --region CODE) "
	  "TOKEN\n"
	  "                chain tokens (tbc1.), offline (tongban token "
	  "help)" },
	{ "link", tb_cli_link,
	  "link add|remove|list --dir DIR ...   the peers this node dials "
	  "(tongban link help)" },
};

#define CLI_NVERBS (sizeof(cli_verbs) / sizeof(cli_verbs[0]))

static void
cli_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: tongban VERB [ARGS]\n\nverbs:\n");
	for (i = 0; i < CLI_NVERBS; i++) {
		fprintf(f, "  tongban %s\n", cli_verbs[i].help);
	}
	fprintf(f,
	        "\nclient verbs (talk to a node; --api URL --token T before "
	        "the verb,\nor TONGBAN_API / TONGBAN_TOKEN):\n"
	        "  tongban status | events [--after N]\n"
	        "  tongban catalog publish|show|matters|matter CODE | overlay "
	        "publish FILE\n"
	        "  tongban catalog rollout VERSION   who below applied a "
	        "standard version\n"
	        "  tongban blob put FILE | blob get HASH [--out FILE]\n"
	        "  tongban case submit FILE [--key K] | case show ID | case "
	        "list [--status S]\n"
	        "  tongban area cases [--state S] [--overdue] [--limit N] "
	        "[--after ID]\n"
	        "  tongban case act ID ACTION [--if-match V] [--opinion T] "
	        "[--target S]\n"
	        "  tongban case handoff ID --to CODE [--mode M] [--reason R] "
	        "[--wait SECS]\n"
	        "  tongban handoff list [--state S] [--side S] | handoff show "
	        "ID | handoff abort ID\n"
	        "  tongban handoff request ID [--reason R] | handoff refuse ID "
	        "--reason R\n"
	        "  tongban token create --role R [--region C] | token revoke "
	        "ID | token list\n"
	        "  tongban cert join-token --region C --role "
	        "member|peer|child [--ttl 1h]\n"
	        "  tongban links | links ping PEER [--payload TEXT] [--size "
	        "N]\n"
	        "  tongban group add ID HOST:PORT [--role R] | remove ID | "
	        "promote|demote ID | transfer [ID]\n"
	        "  tongban group features [--set LEVEL]   the feature level "
	        "(docs/GROUPS.md)\n"
	        "\noffline, on a stopped member whose group lost its quorum:\n"
	        "  tongban group recover --dir DIR --cert INCARNATION.json\n");
}

static bool
is_client_verb(int argc, char **argv)
{
	static const char *const client[] = { "status", "events",  "blob",
		                              "case",   "token",   "links",
		                              "group",  "handoff", "area",
		                              NULL };
	const char *const *v;

	/* token: "sign" is offline, create and revoke talk to a node. */
	if (!strcmp(argv[0], "token")) {
		return argc < 2 || (strcmp(argv[1], "sign") != 0 &&
		                    strcmp(argv[1], "verify") != 0 &&
		                    strcmp(argv[1], "help") != 0 &&
		                    strcmp(argv[1], "--help") != 0);
	}
	for (v = client; *v != NULL; v++) {
		if (!strcmp(argv[0], *v)) {
			return true;
		}
	}
	/* cert: only join-token talks to a node. */
	if (!strcmp(argv[0], "cert")) {
		return argc >= 2 && !strcmp(argv[1], "join-token");
	}
	/* region CODE is the offline table; its subverbs talk to a node. */
	if (!strcmp(argv[0], "region")) {
		return argc >= 2 && (!strcmp(argv[1], "set-parent") ||
		                     !strcmp(argv[1], "add-peer") ||
		                     !strcmp(argv[1], "remove-peer") ||
		                     !strcmp(argv[1], "status"));
	}
	/* catalog and overlay: "check" is offline, the rest talk to a node. */
	return argc >= 2 &&
	       (!strcmp(argv[0], "catalog") || !strcmp(argv[0], "overlay")) &&
	       strcmp(argv[1], "check") != 0 && strcmp(argv[1], "--help") &&
	       strcmp(argv[1], "help") != 0;
}

/* verb_help answers --help (or -h) anywhere after a verb whose own
 * parser does not: cert, token and link print their usage; a client verb
 * the client usage (it used to call the node with "--help" as an
 * argument); another verb its line of the usage. All on stdout, exit 0.
 * Returns -1 when the verb answers --help itself. */
static int
verb_help(int argc, char **argv)
{
	static const char *const own[] = { "init",     "catalog",   "overlay",
		                           "deadline", "lifecycle", NULL };
	const char *const *o;
	bool asked = false;
	size_t i;
	int k;

	for (k = 1; k < argc; k++) {
		asked = asked || !strcmp(argv[k], "--help") ||
		        !strcmp(argv[k], "-h");
	}
	if (!asked) {
		return -1;
	}
	if (!strcmp(argv[0], "group") && argc >= 2 &&
	    !strcmp(argv[1], "recover")) {
		return -1; /* offline, with its own usage */
	}
	if (is_client_verb(argc, argv)) {
		tb_cli_client_usage(stdout);
		return TB_EXIT_OK;
	}
	for (o = own; *o != NULL; o++) {
		if (!strcmp(argv[0], *o)) {
			return -1;
		}
	}
	if (!strcmp(argv[0], "region")) {
		return -1;
	}
	for (i = 0; i < CLI_NVERBS; i++) {
		if (strcmp(argv[0], cli_verbs[i].name) != 0) {
			continue;
		}
		if (!strcmp(argv[0], "cert") || !strcmp(argv[0], "token") ||
		    !strcmp(argv[0], "link")) {
			static char help[] = "help";
			char *h[] = { argv[0], help, NULL };
			return cli_verbs[i].fn(2, h);
		}
		printf("usage: tongban %s\n", cli_verbs[i].help);
		return TB_EXIT_OK;
	}
	return -1;
}

int
tb_cli_main(int argc, char **argv)
{
	const char *api = NULL, *token = NULL;
	bool json = false;
	size_t i;
	int a = 1, help;

	/* Global options of the client verbs come before the verb. */
	while (a < argc && argv[a][0] == '-' && argv[a][1] == '-') {
		if (!strcmp(argv[a], "--api") && a + 1 < argc) {
			api = argv[a + 1];
			a += 2;
		} else if (!strcmp(argv[a], "--token") && a + 1 < argc) {
			token = argv[a + 1];
			a += 2;
		} else if (!strcmp(argv[a], "--json")) {
			json = true;
			a++;
		} else {
			break;
		}
	}
	if (a >= argc) {
		cli_usage(stderr);
		return TB_EXIT_USAGE;
	}
	tb_cli_client_set(api, token);
	if (!strcmp(argv[a], "help") || !strcmp(argv[a], "--help") ||
	    !strcmp(argv[a], "-h")) {
		cli_usage(stdout);
		return TB_EXIT_OK;
	}
	if (!strcmp(argv[a], "version") || !strcmp(argv[a], "--version")) {
		printf("tongban 0.1.0\n");
		return TB_EXIT_OK;
	}
	for (i = a + 1; (int)i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		}
	}
	if ((help = verb_help(argc - a, argv + a)) >= 0) {
		return help;
	}
	/* group recover works on a stopped node's directory. */
	if (!strcmp(argv[a], "group") && a + 1 < argc &&
	    !strcmp(argv[a + 1], "recover")) {
		return tb_cli_group_recover(argc - a, argv + a);
	}
	if (!strcmp(argv[a], "calendar")) { /* sees the global --json */
		return tb_cli_calendar_json(argc - a, argv + a, json);
	}
	if (is_client_verb(argc - a, argv + a)) {
		return tb_cli_client(argc - a, argv + a, api, token, json);
	}
	for (i = 0; i < CLI_NVERBS; i++) {
		if (!strcmp(argv[a], cli_verbs[i].name)) {
			return cli_verbs[i].fn(argc - a, argv + a);
		}
	}
	fprintf(stderr, "tongban: unknown verb '%s'\n", argv[a]);
	cli_usage(stderr);
	return TB_EXIT_USAGE;
}

json_t *
tb_cli_json_file(const char *cmd, const char *path)
{
	json_error_t e;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &e);

	if (v == NULL && e.line < 0) {
		/* Not read at all: jansson's text names the file and why. */
		fprintf(stderr, "tongban %s: %s\n", cmd, e.text);
	} else if (v == NULL) {
		fprintf(stderr, "tongban %s: %s: line %d column %d: %s\n", cmd,
		        path, e.line, e.column, e.text);
	}
	return v;
}

int64_t
tb_cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
tb_cli_read_file(const char *path, size_t max, size_t *lenp)
{
	FILE *f;
	char *buf;
	size_t len = 0, cap = 65536, r;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "tongban: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(cap)) == NULL) {
		fclose(f);
		fprintf(stderr, "tongban: %s: out of memory\n", path);
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			char *nb;
			if (cap > max) {
				fprintf(stderr,
				        "tongban: %s: larger than %zu bytes\n",
				        path, max);
				goto fail;
			}
			cap *= 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "tongban: %s: out of memory\n",
				        path);
				goto fail;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len - 1, f);
		if (r == 0) {
			if (ferror(f)) {
				fprintf(stderr, "tongban: %s: read error\n",
				        path);
				goto fail;
			}
			break;
		}
		len += r;
	}
	if (len > max) {
		fprintf(stderr, "tongban: %s: larger than %zu bytes\n", path,
		        max);
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL) {
		*lenp = len;
	}
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

int
tb_report_init(struct tb_report *r, bool json)
{
	r->json = json;
	r->nerr = 0;
	r->errors = json_array();
	r->files = json_array();
	if (r->errors == NULL || r->files == NULL) {
		json_decref(r->errors);
		json_decref(r->files);
		return TB_ENOMEM;
	}
	return TB_OK;
}

static void
report_add(struct tb_report *r, const char *file, const char *path, int code,
           const char *reason)
{
	r->nerr++;
	if (!r->json) {
		printf("%s: %s: %s\n", file, path, reason);
		return;
	}
	json_array_append_new(r->errors,
	                      json_pack("{s:s, s:s, s:s, s:s}", "file", file,
	                                "path", path, "code", tb_errname(code),
	                                "reason", reason));
}

void
tb_report_diag(struct tb_report *r, const char *file, const struct tb_diag *d)
{
	char more[64];
	int i;

	for (i = 0; i < d->n; i++) {
		report_add(r, file, d->e[i].path, d->e[i].code, d->e[i].msg);
	}
	if (d->dropped > 0) {
		snprintf(more, sizeof(more), "%d more errors not shown",
		         d->dropped);
		report_add(r, file, "$", TB_EINVAL, more);
	}
}

void
tb_report_error(struct tb_report *r, const char *file, const char *path,
                int code, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	report_add(r, file, path, code, reason);
}

void
tb_report_file(struct tb_report *r, const char *file, json_t *summary)
{
	if (summary == NULL) {
		return;
	}
	json_object_set_new(summary, "file", json_string(file));
	if (!r->json) {
		const char *s =
		    json_string_value(json_object_get(summary, "summary"));
		printf("%s: %s\n", file, s != NULL ? s : "ok");
	}
	json_array_append_new(r->files, summary);
}

int
tb_report_finish(struct tb_report *r)
{
	int rc = r->nerr == 0 ? TB_EXIT_OK : TB_EXIT_INVALID;

	if (r->json) {
		json_t *o = json_pack("{s:b, s:O, s:O}", "valid", r->nerr == 0,
		                      "files", r->files, "errors", r->errors);
		if (o != NULL) {
			json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			printf("\n");
			json_decref(o);
		}
	}
	json_decref(r->errors);
	json_decref(r->files);
	r->errors = r->files = NULL;
	return rc;
}

json_t *
tb_cli_load_json(struct tb_report *r, const char *path)
{
	json_error_t jerr;
	json_t *v;
	char *buf;
	size_t len;

	if ((buf = tb_cli_read_file(path, 64u << 20, &len)) == NULL) {
		tb_report_error(r, path, "$", TB_EIO, "cannot read the file");
		return NULL;
	}
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (v == NULL) {
		char where[64];
		snprintf(where, sizeof(where), "line %d column %d", jerr.line,
		         jerr.column);
		tb_report_error(r, path, where, TB_EMALFORMED, "%s", jerr.text);
	}
	return v;
}
