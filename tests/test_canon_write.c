/* Unit tests of schema/canon_write.h: every form it writes is the one
 * canon_encode writes for the same value, at each boundary of the
 * shortest forms. */
#include "schema/canon_write.h"
#include "schema/error.h"
#include "tests/tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* same: the bytes of got are canon_encode's of v (stolen). */
static void
same(struct canon_buf *got, json_t *v, const char *what)
{
	struct canon_buf want = { 0 };
	char err[128];

	ok(v != NULL && got->err == 0 &&
	       canon_encode(v, &want, err, sizeof(err)) == 0 &&
	       got->len == want.len && !memcmp(got->data, want.data, got->len),
	   "%s: the bytes canon_encode writes", what);
	canon_buf_free(&want);
	canon_buf_free(got);
	json_decref(v);
}

static void
test_ints(void)
{
	static const int64_t xs[] = {
		0,
		1,
		0x7f,
		0x80,
		0xff,
		0x100,
		0xffff,
		0x10000,
		0xffffffffLL,
		0x100000000LL,
		INT64_MAX,
		-1,
		-32,
		-33,
		-128,
		-129,
		-32768,
		-32769,
		INT32_MIN,
		(int64_t)INT32_MIN - 1,
		INT64_MIN,
	};
	struct canon_buf b = { 0 };
	char what[64];
	size_t i;

	for (i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		canon_put_int(&b, xs[i]);
		snprintf(what, sizeof(what), "integer %lld", (long long)xs[i]);
		same(&b, json_integer(xs[i]), what);
	}
}

static void
test_strings(void)
{
	static const size_t ns[] = { 0, 1, 31, 32, 255, 256, 65535, 65536 };
	struct canon_buf b = { 0 };
	char what[64], *s;
	size_t i;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		if ((s = malloc(ns[i] + 1)) == NULL) {
			ok(0, "memory");
			return;
		}
		memset(s, 'x', ns[i]);
		s[ns[i]] = '\0';
		canon_put_cstr(&b, s);
		snprintf(what, sizeof(what), "a string of %zu bytes", ns[i]);
		same(&b, json_string(s), what);
		free(s);
	}
	canon_put_str(&b, "通办", strlen("通办"));
	same(&b, json_string("通办"), "a UTF-8 string");
}

/* test_containers: headers of maps and arrays of each form's size. */
static void
test_containers(void)
{
	static const size_t ns[] = { 0, 15, 16, 65535, 65536 };
	struct canon_buf b = { 0 };
	json_t *a, *m;
	char what[64], k[16];
	size_t i, j;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		a = json_array();
		canon_put_array(&b, ns[i]);
		for (j = 0; j < ns[i]; j++) {
			json_array_append_new(a, json_null());
			canon_put_nil(&b);
		}
		snprintf(what, sizeof(what), "an array of %zu", ns[i]);
		same(&b, a, what);
	}
	for (i = 0; i < 3; i++) {
		m = json_object();
		canon_put_map(&b, ns[i]);
		for (j = 0; j < ns[i]; j++) {
			snprintf(k, sizeof(k), "k%02zu",
			         j); /* in sorted order */
			json_object_set_new(m, k, json_boolean(j % 2));
			canon_put_cstr(&b, k);
			canon_put_bool(&b, j % 2);
		}
		snprintf(what, sizeof(what), "a map of %zu", ns[i]);
		same(&b, m, what);
	}
}

int
main(void)
{
	test_ints();
	test_strings();
	test_containers();
	return done_testing();
}
