/* The command-line verbs of the tongban binary. */
#ifndef TB_NODE_CLI_H
#define TB_NODE_CLI_H

#include <stddef.h>

/* Exit codes every verb uses: 0 valid/success, 1 invalid input or failed
 * operation, 2 usage error. */
#define TB_EXIT_OK      0
#define TB_EXIT_INVALID 1
#define TB_EXIT_USAGE   2

/* tb_cli_main dispatches argv[1] to a verb and returns the exit code. */
int tb_cli_main(int argc, char **argv);

/* Verbs: each receives argc/argv starting at the verb's own arguments
 * (argv[0] is the verb name, e.g. "check"), returns an exit code. */
int tb_cli_catalog(int argc, char **argv);
int tb_cli_overlay(int argc, char **argv);
int tb_cli_deadline(int argc, char **argv);
int tb_cli_lifecycle(int argc, char **argv);
int tb_cli_region(int argc, char **argv);

/* tb_cli_read_file reads path into a NUL-terminated malloc'd buffer
 * (caller frees) or returns NULL and prints "tongban: PATH: reason" to
 * stderr. Files over max bytes are refused. */
char *tb_cli_read_file(const char *path, size_t max, size_t *lenp);

#endif
