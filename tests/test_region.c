/* Tests for the GB/T 2260 region table: the real file, the built-in copy,
 * tree queries, code parsing and a table of broken inputs. */
#include "schema/error.h"
#include "schema/region.h"
#include "tests/tap.h"

#include <pthread.h>

#define HDR "# comment\ncode,name,level,parent\n"
#define BJ  "110000,北京市,province,\n"

/* A broken input, the error it must give and a piece of the message. */
struct bad_case {
	const char *csv;
	int rv;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "", TB_EMALFORMED, "no header line" },
	{ "# only a comment\n", TB_EMALFORMED, "no header line" },
	{ BJ, TB_EMALFORMED, "line 1: expected the header" },
	{ "code,name,level\n" BJ, TB_EMALFORMED,
	  "line 1: expected the header" },
	{ HDR, TB_EMALFORMED, "no regions after the header" },
	{ HDR "110000,北京市,province\n", TB_EMALFORMED,
	  "line 3: expected 4 columns, got 3" },
	{ HDR "110000,北京市,province,,\n", TB_EMALFORMED,
	  "line 3: expected 4 columns, got 5" },
	{ HDR "11000,北京市,province,\n", TB_ECODE,
	  "line 3: bad code '11000': must be 6 digits" },
	{ HDR "1100000,北京市,province,\n", TB_ECODE, "line 3: bad code" },
	{ HDR "11OOOO,北京市,province,\n", TB_ECODE, "only the digits" },
	{ HDR "000000,无,province,\n", TB_ECODE,
	  "no province has the code 00" },
	{ HDR "110000,北京市,town,\n", TB_EMALFORMED,
	  "line 3: unknown level 'town'" },
	{ HDR "110000,北京市,Province,\n", TB_EMALFORMED, "unknown level" },
	{ HDR "110000,,province,\n", TB_EMALFORMED,
	  "line 3: name of 110000 is empty" },
	{ HDR "110000,\xe5\x8c,province,\n", TB_EMALFORMED, "not valid UTF-8" },
	{ HDR "110000,a\tb,province,\n", TB_EMALFORMED, "not valid UTF-8" },
	{ HDR "110000,\"北京市\",province,\n", TB_EMALFORMED,
	  "line 3: quoted fields are not supported" },
	{ HDR "110100,北京市,province,\n", TB_ECODE,
	  "line 3: 110100 cannot be a province" },
	{ HDR BJ "110101,东城区,city,110000\n", TB_ECODE,
	  "line 4: 110101 cannot be a city" },
	{ HDR BJ "110100,市辖区,county,110000\n", TB_ECODE,
	  "line 4: 110100 cannot be a county" },
	{ HDR "110000,北京市,province,120000\n120000,天津市,province,\n",
	  TB_EMALFORMED, "line 3: province 110000 has a parent" },
	{ HDR BJ "110101,东城区,county,\n", TB_EMALFORMED,
	  "line 4: county 110101 has no parent" },
	{ HDR BJ "110101,东城区,county,11000\n", TB_ECODE,
	  "line 4: bad parent code '11000'" },
	/* Checks that need the whole table report the offending line. */
	{ HDR BJ "110101,东城区,county,110100\n", TB_EMALFORMED,
	  "line 4: parent 110100 of 110101 is not in the table" },
	{ HDR BJ "110101,东城区,county,110000\n\n# gap\n110101,东城,county,"
	         "110000\n",
	  TB_EDUP, "line 7: duplicate code 110101 (first on line 4)" },
	{ HDR BJ BJ BJ, TB_EDUP,
	  "line 4: duplicate code 110000 (first on line "
	  "3)" },
	{ HDR BJ "110101,东城区,county,110000\n110102,西城区,county,110101\n",
	  TB_EMALFORMED,
	  "line 5: county 110102 cannot have the county 110101" },
	{ HDR BJ "110100,市,city,110000\n110200,县,city,110100\n",
	  TB_EMALFORMED,
	  "line 5: city 110200 cannot have the city 110100 as parent" },
	{ HDR BJ "119000,直辖,group,110000\n119100,市,city,119000\n",
	  TB_EMALFORMED, "line 5: city 119100 cannot have the group 119000" },
	{ HDR BJ "110100,市,city,110000\n119000,直辖,group,110100\n",
	  TB_EMALFORMED, "line 5: group 119000 cannot have the city 110100" },
	{ HDR BJ "120000,天津市,province,\n120101,和平区,county,110000\n",
	  TB_EMALFORMED, "line 5: parent 110000 of 120101 is in another" },
};

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

static void *
builtin_thread(void *arg)
{
	(void)arg;
	return (void *)region_builtin();
}

static void
test_builtin_once(void)
{
	pthread_t th[8];
	void *got[8];
	int i, same = 1;

	/* These are the first calls in the process, so they race on the
	 * initialisation. */
	for (i = 0; i < 8; i++) {
		pthread_create(&th[i], NULL, builtin_thread, NULL);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], &got[i]);
		same &= got[i] != NULL && got[i] == got[0];
	}
	ok(same, "8 threads racing on region_builtin get one table");
	ok(region_builtin() == got[0], "later calls return it too");
}

static void
test_real_file(const struct region_table *t)
{
	const struct region_table *b = region_builtin();
	size_t i, same = 1, odd_parents = 0;

	is_int(region_count(t, REGION_PROVINCE), 34, "34 provinces");
	is_int(region_count(t, REGION_CITY), 333, "333 cities");
	is_int(region_count(t, REGION_GROUP), 4, "4 groups");
	is_int(region_count(t, REGION_COUNTY), 2846, "2846 counties");
	is_int(region_count(t, (enum region_level)7), 0, "bad level counts 0");
	is_int(region_table_size(t), 3217, "3217 regions in all");
	ok(region_at(t, 3217) == NULL, "region_at past the end is NULL");
	for (i = 1; i < region_table_size(t); i++) {
		same &= region_at(t, i - 1)->code < region_at(t, i)->code;
	}
	ok(same, "region_at walks codes in ascending order");

	is_int(region_table_size(b), region_table_size(t), "built-in size");
	for (i = 0; i < region_table_size(t); i++) {
		const struct region *x = region_at(t, i), *y = region_at(b, i);
		same &= y != NULL && x->code == y->code &&
		        x->parent == y->parent && x->level == y->level &&
		        !strcmp(x->name, y->name);
		if (x->level == REGION_COUNTY &&
		    x->parent != x->code / 100 * 100) {
			odd_parents++;
		}
	}
	ok(same, "the built-in table equals data/regions.csv row by row");
	is_int(odd_parents, 86, "86 counties have a parent not from digits");
}

static void
test_tree(const struct region_table *t)
{
	const struct region *r, *kids[4];

	r = region_find(t, 110101);
	ok(r != NULL && r->parent == 110000, "110101's parent is 110000");
	is_str(r ? r->name : NULL, "东城区", "110101 is 东城区");
	r = region_find(t, 419001);
	ok(r != NULL && r->parent == 419000, "419001's parent is 419000");
	r = region_find(t, 419000);
	ok(r != NULL && r->level == REGION_GROUP && r->parent == 410000,
	   "419000 is a group under 410000");
	r = region_find(t, 370000);
	ok(r != NULL && r->parent == 0, "a province has parent 0");
	ok(region_find(t, 999999) == NULL, "999999 is unknown");
	ok(region_find(t, 0) == NULL, "0 is no region");
	ok(region_find(NULL, 110000) == NULL, "NULL table finds nothing");

	ok(region_is_ancestor(t, 370100, 370102), "370100 above 370102");
	ok(region_is_ancestor(t, 370000, 370102), "370000 above 370102");
	ok(region_is_ancestor(t, 370000, 370100), "370000 above 370100");
	ok(region_is_ancestor(t, 410000, 419001), "410000 above 419001");
	ok(!region_is_ancestor(t, 370102, 370100), "not upside down");
	ok(!region_is_ancestor(t, 370102, 370000), "not upside down (2)");
	ok(!region_is_ancestor(t, 440000, 370102), "370102 not under 440000");
	ok(!region_is_ancestor(t, 370102, 370102), "not its own ancestor");
	ok(!region_is_ancestor(t, 370000, 370000), "province: not its own");
	ok(!region_is_ancestor(t, 419000, 410000), "group not above province");
	ok(!region_is_ancestor(t, 370000, 999999), "unknown code: false");
	ok(!region_is_ancestor(t, 0, 370102), "0 is no ancestor");

	is_int(region_children(t, 370100, NULL, 0), 12, "370100: 12 children");
	is_int(region_children(t, 370000, NULL, 0), 16, "370000: 16 children");
	is_int(region_children(t, 0, NULL, 0), 34, "the root: 34 provinces");
	is_int(region_children(t, 370102, NULL, 0), 0, "a county has none");
	is_int(region_children(t, 999999, NULL, 0), 0, "unknown has none");
	is_int(region_children(t, 419000, kids, 4), 1, "419000: 1 child");
	ok(kids[0]->code == 419001, "and it is 419001");
	kids[2] = NULL;
	is_int(region_children(t, 370100, kids, 2), 12, "truncated: total");
	ok(kids[0]->code == 370102 && kids[1]->code < 370199 &&
	       kids[0]->code < kids[1]->code && kids[2] == NULL,
	   "truncated: the first two in code order, no overrun");

	is_int(region_tier(region_find(t, 370000)), 2, "province tier 2");
	is_int(region_tier(region_find(t, 370100)), 3, "city tier 3");
	is_int(region_tier(region_find(t, 419000)), 3, "group tier 3");
	is_int(region_tier(region_find(t, 370102)), 4, "county tier 4");
	is_int(region_tier(NULL), 0, "NULL tier 0");
	is_str(region_level_name(REGION_GROUP), "group", "level name");
	is_str(region_level_name((enum region_level)9), "unknown", "bad level");
}

static void
test_code_parse(void)
{
	static const struct {
		const char *s, *why;
	} bad[] = {
		{ "37010", "must be 6 digits" },
		{ "3701020", "must be 6 digits" },
		{ "37a102", "only the digits" },
		{ " 370102", "only the digits" },
		{ "+37010", "only the digits" },
		{ "-370102", "only the digits" },
		{ "000000", "no province has the code 00" },
		{ "001234", "no province has the code 00" },
		{ "370102001001", "township or village" },
		{ "370102000", "must be 6 digits" },
		{ "", "empty code" },
		{ NULL, "empty code" },
	};
	char why[128];
	int32_t code = 0;
	size_t i;

	is_int(region_code_parse("370102", &code), TB_OK, "370102 parses");
	is_int(code, 370102, "to 370102");
	code = 0;
	is_int(region_code_parse("370102000000", &code), TB_OK, "12 digits");
	is_int(code, 370102, "normalised to 370102");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		code = 42;
		why[0] = '\0';
		is_int(region_code_parse_msg(bad[i].s, &code, why, sizeof(why)),
		       TB_ECODE, "'%s' refused", bad[i].s ? bad[i].s : "NULL");
		like(why, bad[i].why, "with the reason");
		is_int(code, 42, "and *code untouched");
	}
}

static void
test_bad_inputs(void)
{
	static const char bogus[] = HDR "110000,x,bogus,\n";
	static char dummy;
	struct region_table *t, *sentinel = (struct region_table *)&dummy;
	char err[256];
	size_t i;
	int rv;

	for (i = 0; i < NBAD; i++) {
		t = sentinel;
		err[0] = '\0';
		rv = region_table_load(bad_cases[i].csv,
		                       strlen(bad_cases[i].csv), &t, err,
		                       sizeof(err));
		is_int(rv, bad_cases[i].rv, "bad case %zu: %s", i,
		       tb_errname(bad_cases[i].rv));
		like(err, bad_cases[i].msg, "bad case %zu: message", i);
		ok(t == sentinel, "bad case %zu: *out untouched", i);
		if (rv == TB_OK && t != sentinel) {
			region_table_free(t); /* a wrongly accepted case */
		}
	}
	/* A NUL inside the buffer, which only an explicit length shows. */
	rv = region_table_load(HDR "110000,北\0京,province,\n",
	                       sizeof(HDR "110000,北\0京,province,\n") - 1, &t,
	                       err, sizeof(err));
	is_int(rv, TB_EMALFORMED, "NUL byte refused");
	like(err, "line 3: NUL byte", "at its line");
	rv = region_table_load(bogus, sizeof(bogus) - 1, &t, NULL, 0);
	is_int(rv, TB_EMALFORMED, "errmsg may be NULL");
	rv = region_table_load(bogus, sizeof(bogus) - 1, &t, err, 8);
	is_int(strlen(err), 7, "a short errmsg is truncated, not overrun");
	is_int(region_table_load(NULL, 5, &t, err, sizeof(err)), TB_EINVAL,
	       "NULL with a length is invalid");
}

static void
test_good_inputs(void)
{
	/* A child before its parent, CRLF, a BOM, blank lines, comments in
	 * the middle and no final newline are all fine. */
	static const char csv[] =
	    "\xef\xbb\xbf# t\r\ncode,name,level,parent\r\n"
	    "110101,东城区,county,110000\r\n\r\n"
	    "# mid\n110000,北京市,province,";
	struct region_table *t = NULL;
	const struct region *r;
	char err[256] = "", *copy;

	copy = malloc(sizeof(csv));
	memcpy(copy, csv, sizeof(csv));
	is_int(region_table_load(copy, sizeof(csv) - 1, &t, err, sizeof(err)),
	       TB_OK, "a small table with CRLF, BOM and a late parent loads");
	is_str(err, "", "no message on success");
	memset(copy, 'x', sizeof(csv));
	free(copy);
	r = region_find(t, 110000);
	is_str(r ? r->name : NULL, "北京市", "names survive the input buffer");
	r = region_find(t, 110101);
	is_str(r ? r->name : NULL, "东城区", "CR is not part of the name");
	ok(r != NULL && r->parent == 110000, "the late parent is linked");
	region_table_free(t);
	region_table_free(NULL);
	ok(1, "region_table_free(NULL) is a no-op");
}

int
main(void)
{
	struct region_table *t = NULL;
	char err[256] = "", *csv;
	size_t len = 0;
	int rv;

	test_builtin_once();
	csv = tap_slurp(TB_SOURCE_DIR "/data/regions.csv", &len);
	ok(csv != NULL, "read data/regions.csv");
	if (csv == NULL) {
		return done_testing();
	}
	rv = region_table_load(csv, len, &t, err, sizeof(err));
	is_int(rv, TB_OK, "data/regions.csv loads");
	is_str(err, "", "without a message");
	free(csv);
	if (rv == TB_OK) {
		test_real_file(t);
		test_tree(t);
		test_tree(region_builtin());
		region_table_free(t);
	}
	test_code_parse();
	test_bad_inputs();
	test_good_inputs();
	return done_testing();
}
