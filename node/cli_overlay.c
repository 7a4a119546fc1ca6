/* The 'overlay' verb. */
#include "node/cli.h"

#include <stdio.h>

int
tb_cli_overlay(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "tongban overlay: not implemented\n");
	return TB_EXIT_USAGE;
}
