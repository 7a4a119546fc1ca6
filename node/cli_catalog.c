/* The 'catalog' verb. */
#include "node/cli.h"

#include <stdio.h>

int
tb_cli_catalog(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "tongban catalog: not implemented\n");
	return TB_EXIT_USAGE;
}
