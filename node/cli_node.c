/* The 'init' and 'run' verbs: create a node directory, run a node. */
#include "node/cli.h"

#include "node/config.h"
#include "node/node.h"

#include <stdio.h>
#include <string.h>

#define INIT_USAGE                                                     \
	"usage: tongban init --dir DIR --region CODE [--name NAME]\n"  \
	"                    [--api HOST:PORT] [--link HOST:PORT] "    \
	"[--root FILE]\n"                                              \
	"                    [--tls-cert CERT.pem --tls-key KEY.pem] " \
	"[--json]\n"

int
tb_cli_init(int argc, char **argv)
{
	struct node_init_args a = { 0 };
	struct node_config cfg;
	char token[80], err[512];
	bool json = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char **dst = NULL;
		if (!strcmp(o, "--json")) {
			json = true;
			continue;
		}
		if (!strcmp(o, "--help")) {
			printf(INIT_USAGE);
			return TB_EXIT_OK;
		}
		if (!strcmp(o, "--dir")) {
			dst = &a.dir;
		} else if (!strcmp(o, "--region")) {
			dst = &a.region;
		} else if (!strcmp(o, "--name")) {
			dst = &a.name;
		} else if (!strcmp(o, "--api")) {
			dst = &a.api;
		} else if (!strcmp(o, "--link")) {
			dst = &a.link;
		} else if (!strcmp(o, "--root")) {
			dst = &a.root;
		} else if (!strcmp(o, "--tls-cert")) {
			dst = &a.tls_cert;
		} else if (!strcmp(o, "--tls-key")) {
			dst = &a.tls_key;
		}
		if (dst == NULL || i + 1 >= argc) {
			fprintf(stderr, "tongban init: %s %s\n", o,
			        dst == NULL ? "is not an option"
			                    : "needs a value");
			fprintf(stderr, INIT_USAGE);
			return TB_EXIT_USAGE;
		}
		*dst = argv[++i];
	}
	if ((a.tls_cert == NULL) != (a.tls_key == NULL)) {
		fprintf(stderr, "tongban init: --tls-cert and --tls-key go "
		                "together\n" INIT_USAGE);
		return TB_EXIT_USAGE;
	}
	if (a.dir == NULL || a.region == NULL) {
		fprintf(stderr, "tongban init: --dir and --region are "
		                "required\n" INIT_USAGE);
		return TB_EXIT_USAGE;
	}
	if (node_config_init(&a, token, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban init: %s\n", err);
		return TB_EXIT_INVALID;
	}
	if (json) {
		printf("{\"node_id\":\"%s\",\"region\":\"%s\",\"dir\":\"%s\","
		       "\"admin_token\":\"%s\"}\n",
		       cfg.node_id, cfg.region, a.dir, token);
	} else {
		printf("node %s of region %s created in %s\n"
		       "admin token (shown once; only its hash is stored):\n"
		       "  %s\n"
		       "start it with: tongban run --dir %s\n",
		       cfg.node_id, cfg.region, a.dir, token, a.dir);
	}
	memset(token, 0, sizeof(token));
	node_config_wipe(&cfg);
	return TB_EXIT_OK;
}

int
tb_cli_run(int argc, char **argv)
{
	const char *dir = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			fprintf(stderr, "usage: tongban run --dir DIR\n");
			return TB_EXIT_USAGE;
		}
	}
	if (dir == NULL) {
		fprintf(stderr, "usage: tongban run --dir DIR\n");
		return TB_EXIT_USAGE;
	}
	return node_run(dir);
}
