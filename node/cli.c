/* Subcommand dispatch and helpers shared by the CLI verbs. */
#include "node/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli_verb {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
};

static const struct cli_verb cli_verbs[] = {
	{ "catalog", tb_cli_catalog,
	  "catalog check FILE... [--root ROOT] [--json]" },
	{ "overlay", tb_cli_overlay,
	  "overlay check --catalog FILE [--overlay FILE]... [--json]" },
	{ "deadline", tb_cli_deadline,
	  "deadline --calendar FILE --from YYYY-MM-DD --days N --unit G|Z "
	  "[--pause FROM:TO]... [--json]" },
	{ "lifecycle", tb_cli_lifecycle,
	  "lifecycle [--json | --markdown]   the case state/action table" },
	{ "region", tb_cli_region,
	  "region CODE [--json] [--children]   look up a region" },
	{ "keygen", tb_cli_keygen,
	  "keygen --out KEY.json [--name NAME]   a new Ed25519 key" },
	{ "root", tb_cli_root,
	  "root init --region CODE --expires TIME [--threshold M] "
	  "--officer KEY... --release-key KEY... --out ROOT.json" },
	{ "sign", tb_cli_sign,
	  "sign --key KEY.json FILE.json   sign a release, overlay or root" },
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
}

int
tb_cli_main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		cli_usage(stderr);
		return TB_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		cli_usage(stdout);
		return TB_EXIT_OK;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("tongban 0.1.0\n");
		return TB_EXIT_OK;
	}
	for (i = 0; i < CLI_NVERBS; i++) {
		if (!strcmp(argv[1], cli_verbs[i].name)) {
			return cli_verbs[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "tongban: unknown verb '%s'\n", argv[1]);
	cli_usage(stderr);
	return TB_EXIT_USAGE;
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
