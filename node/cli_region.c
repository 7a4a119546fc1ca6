/* The 'region' verb. */
#include "node/cli.h"

#include <stdio.h>

int
tb_cli_region(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "tongban region: not implemented\n");
	return TB_EXIT_USAGE;
}
