/* The 'lifecycle' verb. */
#include "node/cli.h"

#include <stdio.h>

int
tb_cli_lifecycle(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "tongban lifecycle: not implemented\n");
	return TB_EXIT_USAGE;
}
