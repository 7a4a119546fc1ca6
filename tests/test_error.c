/* Tests for the error table and the diagnostics collector. */
#include "schema/error.h"
#include "tests/tap.h"

#include <stdio.h>
#include <string.h>

int
main(void)
{
	struct tb_diag d;
	char p[64];
	int i;

	is_str(tb_errname(TB_OK), "ok", "TB_OK is named ok");
	is_str(tb_errname(TB_ECANON), "non_canonical", "stable name");
	is_str(tb_strerror(-1), "unknown error", "negative code");
	is_str(tb_strerror(TB_ERR_COUNT), "unknown error", "past the end");
	for (i = 0; i < TB_ERR_COUNT; i++) {
		ok(tb_errname(i)[0] != '\0' && tb_strerror(i)[0] != '\0',
		   "code %d has a name and a text", i);
	}
	tb_diag_init(&d);
	is_int(tb_diag_first(&d), TB_OK, "empty diag is ok");
	is_int(tb_diag_add(&d, TB_ECODE, "$.a", "bad %s", "code"), TB_ECODE,
	       "add returns its code");
	is_str(d.e[0].msg, "bad code", "message formatted");
	for (i = 0; i < TB_DIAG_MAX + 5; i++) {
		tb_diag_add(&d, TB_EINVAL, NULL, "x");
	}
	is_int(d.n, TB_DIAG_MAX, "diag caps its entries");
	is_int(d.dropped, 6, "and counts the dropped ones");
	is_str(d.e[1].path, "$", "NULL path is $");
	tb_path_key(p, sizeof(p), "$.a", "b");
	is_str(p, "$.a.b", "key path");
	tb_path_idx(p, sizeof(p), "$.a", 3);
	is_str(p, "$.a[3]", "index path");
	tb_path_idx(p, sizeof(p), NULL, 0);
	is_str(p, "$[0]", "index 0 of the root");
	tb_path_key(p, sizeof(p), NULL, NULL);
	is_str(p, "$.(null)", "a NULL key as printf prints it");
	/* Truncation is snprintf's: a prefix of n - 1 bytes, at every n. */
	for (i = 0; i <= 12; i++) {
		char want[16], got[16];
		memset(got, 'x', sizeof(got));
		snprintf(want, (size_t)i, "%s.%s", "$.abc", "defg");
		tb_path_key(got, (size_t)i, "$.abc", "defg");
		ok(i == 0 ? got[0] == 'x' : !strcmp(got, want),
		   "key path truncated at %d", i);
		memset(got, 'x', sizeof(got));
		snprintf(want, (size_t)i, "%s[%zu]", "$.ab", (size_t)4096);
		tb_path_idx(got, (size_t)i, "$.ab", 4096);
		ok(i == 0 ? got[0] == 'x' : !strcmp(got, want),
		   "index path truncated at %d", i);
	}
	return done_testing();
}
