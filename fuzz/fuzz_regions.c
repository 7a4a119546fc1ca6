/* Fuzz the region table loader, and walk every table it accepts. */
#include "fuzz/fuzz_util.h"
#include "schema/error.h"
#include "schema/region.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
walk(const struct region_table *t)
{
	size_t i, n = region_table_size(t), total = 0, kids;
	const struct region *prev = NULL, *r, *out[4];
	int l;

	fuzz_check(n > 0, "an accepted table has rows");
	for (l = 0; l < REGION_NLEVELS; l++) {
		total += region_count(t, (enum region_level)l);
	}
	fuzz_check(total == n, "levels add up to the table");
	for (i = 0; i < n; i++) {
		r = region_at(t, i);
		fuzz_check(r != NULL && region_find(t, r->code) == r,
		           "every region is found by its code");
		fuzz_check(prev == NULL || prev->code < r->code,
		           "regions in code order");
		fuzz_check(r->name != NULL && region_tier(r) >= 2,
		           "a region has a name and a tier");
		if (r->parent != 0) {
			fuzz_check(region_is_ancestor(t, r->parent, r->code),
			           "the parent is an ancestor");
			fuzz_check(!region_is_ancestor(t, r->code, r->parent),
			           "the tree has no cycle");
		}
		kids = region_children(t, r->code, out, 4);
		fuzz_check(kids < n, "fewer children than regions");
		prev = r;
	}
	fuzz_check(region_at(t, n) == NULL, "nothing past the end");
	fuzz_check(region_children(t, 0, NULL, 0) ==
	               region_count(t, REGION_PROVINCE),
	           "the root's children are the provinces");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct region_table *t = NULL;
	char msg[256] = "", s[16];
	int32_t code = -1;
	int rv;

	rv = region_table_load((const char *)data, size, &t, msg, sizeof(msg));
	if (rv != TB_OK) {
		fuzz_check(t == NULL, "no table on failure");
		fuzz_check(msg[0] != '\0', "a refusal says why");
	} else {
		fuzz_check(t != NULL, "a table on success");
		walk(t);
		region_table_free(t);
	}
	if (size < sizeof(s)) {
		memcpy(s, data, size);
		s[size] = '\0';
		rv = region_code_parse_msg(s, &code, msg, sizeof(msg));
		fuzz_check(rv == TB_OK ? code > 0 && code <= 999999
		                       : code == -1 && rv == TB_ECODE,
		           "region_code_parse as documented");
	}
	return 0;
}
