/* Fuzz schema/json_fast.c against jansson: on any bytes the fast path
 * either gives up (NULL) or returns a value equal to what json_loadb with
 * JSON_REJECT_DUPLICATES returns, and it never returns a value for bytes
 * jansson refuses. */
#include "fuzz/fuzz_util.h"
#include "schema/json_fast.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *a = json_fast_object((const char *)data, size), *b;
	json_error_t je;

	if (a == NULL) {
		return 0;
	}
	b = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	fuzz_check(b != NULL, "the fast path never takes what jansson refuses");
	fuzz_check(json_equal(a, b), "the fast path's value is jansson's");
	json_decref(a);
	json_decref(b);
	return 0;
}
