/* The 'deadline' verb. */
#include "node/cli.h"

#include <stdio.h>

int
tb_cli_deadline(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "tongban deadline: not implemented\n");
	return TB_EXIT_USAGE;
}
