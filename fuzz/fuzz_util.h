/* Helpers shared by the libFuzzer targets: example files and JSON input. */
#ifndef TB_FUZZ_UTIL_H
#define TB_FUZZ_UTIL_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* fuzz_src_path writes the path of rel inside the source tree to out:
 * under $TB_SRC when set (fuzz/run.sh sets it), else next to this header,
 * whose path CMake passes to the compiler as an absolute one. */
static inline void
fuzz_src_path(char *out, size_t n, const char *rel)
{
	const char *env = getenv("TB_SRC");
	const char *self = __FILE__;
	const char *cut = strstr(self, "/fuzz/fuzz_util.h");

	if (env != NULL && env[0] != '\0') {
		snprintf(out, n, "%s/%s", env, rel);
	} else if (cut != NULL) {
		snprintf(out, n, "%.*s/%s", (int)(cut - self), self, rel);
	} else {
		snprintf(out, n, "%s", rel);
	}
}

/* fuzz_load_example loads a JSON file of the source tree, or returns NULL
 * (and says so on stderr once). */
static inline json_t *
fuzz_load_example(const char *rel)
{
	char path[4096];
	json_error_t e;
	json_t *j;

	fuzz_src_path(path, sizeof(path), rel);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		fprintf(stderr, "fuzz: cannot load %s: %s\n", path, e.text);
	}
	return j;
}

/* fuzz_json parses the input the way the CLI parses files. */
static inline json_t *
fuzz_json(const uint8_t *data, size_t size)
{
	json_error_t e;

	return json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
}

/* fuzz_check aborts, naming the broken property, when cond is false:
 * libFuzzer then keeps the input as a crasher. */
#define fuzz_check(cond, what)                                                \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz: property broken: %s\n", what); \
			abort();                                              \
		}                                                             \
	} while (0)

/* A tiny deterministic generator seeded from the input, for parameters. */
static inline uint64_t
fuzz_seed(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < size; i++) {
		h = (h ^ data[i]) * 0x100000001b3ull;
	}
	return h;
}

static inline uint64_t
fuzz_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
