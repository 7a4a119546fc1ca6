/* Subcommand dispatch and helpers shared by the CLI verbs. */
#include "node/cli.h"

#include <errno.h>
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
	  "lifecycle [--json]   print the case state/action table" },
	{ "region", tb_cli_region, "region CODE [--json]   look up a region" },
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
