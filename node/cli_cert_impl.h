/* Internals shared by node/cli_cert*.c: the options of the 'cert' verb, a
 * chain to verify, the helpers the subcommands share and the subcommands
 * that node/cli_cert.c dispatches to. */
#ifndef TB_NODE_CLI_CERT_IMPL_H
#define TB_NODE_CLI_CERT_IMPL_H

#include "node/cli.h"
#include "schema/cert.h"
#include "schema/cert_chain.h"
#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Options of all subcommands; each takes what it needs. */
struct cli_cert_opts {
	const char *dir, *region, *out, *name, *prev_key, *region_key;
	const char *client_key, *issuer_cert, *root, *request, *role;
	const char *prev_cert, *serial, *reason, *node_id, *subject_root;
	const char *kind, *token, *grant_scope, *xcert, *chain;
	long days;
	bool json, rotate, commit, stored;
	const char *keys[16];
	int nkeys;
	const char *crls[64];
	int ncrls;
	const char *grant_roles[8];
	int ngrant_roles;
	char **files;
	int nfiles;
};

/* A chain to verify, with the lists and root that go with it. */
struct cli_cert_ctx {
	json_t *root;
	json_t *chain; /* array: leaf first */
	json_t *crls;  /* array */
	struct cert_expect e;
	char region[7];
	char node_id[CERT_NODE_ID_HEX + 1];
};

/* cli_cert_usage prints "tongban cert SUB: WHAT" and the usage text to
 * stderr; returns TB_EXIT_USAGE. */
int cli_cert_usage(const char *sub, const char *what);

/* cli_cert_region_name returns the built-in name of a region code, or
 * "?". */
const char *cli_cert_region_name(const char *code);

/* cli_cert_print_diag prints each problem as "FILE: PATH: reason". */
void cli_cert_print_diag(const char *file, const struct tb_diag *d);

/* cli_cert_dir_path writes DIR/name into out. */
void cli_cert_dir_path(char *out, size_t n, const char *dir, const char *name);

/* cli_cert_node_keys reads the node's public keys from
 * DIR/keys/node.json. */
int cli_cert_node_keys(const char *dir, uint8_t pk[32], uint8_t kx[32]);

/* cli_cert_append_docs appends the document of a file, or each element of
 * an array file, to arr (which takes its own references). */
int cli_cert_append_docs(json_t *arr, const char *path);

/* cli_cert_ctx_fini releases what the context holds and zeroes it. */
void cli_cert_ctx_fini(struct cli_cert_ctx *c);

/* cli_cert_ctx_verify runs cert_verify_chain on the context. */
int cli_cert_ctx_verify(struct cli_cert_ctx *c, struct tb_diag *d);

/* cli_cert_ctx_dir loads a node directory's root, installed chain and
 * lists, and expects the node's own region and id. With chain_files,
 * those are the chain instead of the installed one. */
int cli_cert_ctx_dir(struct cli_cert_ctx *c, const char *dir,
                     char **chain_files, int nfiles);

/* cli_cert_ctx_dir_root is cli_cert_ctx_dir with root (not NULL: the context
 * takes a reference) instead of DIR/root.json. */
int cli_cert_ctx_dir_root(struct cli_cert_ctx *c, const char *dir,
                          char **chain_files, int nfiles, json_t *root);

/* The subcommands: each returns an exit code (TB_EXIT_*). */
/* node/cli_cert_issue.c */
int cli_cert_request(struct cli_cert_opts *o);
int cli_cert_issue(struct cli_cert_opts *o);
int cli_cert_revoke(struct cli_cert_opts *o);
int cli_cert_cross(struct cli_cert_opts *o);
/* node/cli_cert_install.c */
int cli_cert_install(struct cli_cert_opts *o);
/* node/cli_cert_show.c */
int cli_cert_show(struct cli_cert_opts *o);
int cli_cert_export(struct cli_cert_opts *o);
int cli_cert_verify(struct cli_cert_opts *o);

#endif
