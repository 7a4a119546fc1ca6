/* schema/json_fast.c against jansson: on every input the fast path either
 * gives up (NULL) or returns a value equal to json_loadb's with
 * JSON_REJECT_DUPLICATES, and it gives up on everything jansson refuses.
 * Hand-written inputs, then seeded mutations of a case body. */
#include "schema/json_fast.h"
#include "tests/sim_rng.h"
#include "tests/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long taken, given_up, refused, disagree;

/* check compares the two parsers on buf; returns 1 if the fast path took
 * it. */
static int
check(const char *buf, size_t len)
{
	json_t *a = json_fast_object(buf, len), *b;
	json_error_t je;
	int took = a != NULL;

	b = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (b == NULL) {
		refused++;
	}
	if (a != NULL && (b == NULL || !json_equal(a, b))) {
		disagree++;
		printf("# disagree on %zu bytes: %.*s\n", len,
		       (int)(len > 200 ? 200 : len), buf);
	}
	if (a != NULL) {
		taken++;
	} else {
		given_up++;
	}
	json_decref(a);
	json_decref(b);
	return took;
}

static const char BODY[] =
    "{\"matter\": \"000117001000#01\", \"channel\": \"1\",\n"
    " \"applicant\": {\"kind\": \"person\", \"name\": \"张三\",\n"
    "   \"id_number\": \"370102198808085675\", \"phone\": \"13800000000\"},\n"
    " \"form\": {\"shop_name\": \"历下小吃\", \"area\": 35, \"open\": true,\n"
    "   \"note\": null, \"tags\": [\"a\", \"b\\n\\\"c\\\"\\/\", [], {}],"
    " \"neg\": -42, \"zero\": 0, \"big\": 999999999999999999},\n"
    " \"materials\": [{\"code\": \"M1\", \"hash\": \"ab\", \"size\": 1}]}\n";

int
main(void)
{
	static const char *const valid[] = {
		"{}",
		" {} ",
		"{\"a\":1}",
		"{\"a\":[1,2,{\"b\":null}]}",
		"{\"\":\"\"}",
		"{\"a\":\"é中\xf0\x9f\x98\x80\"}",
		"{\"a\":-0}",
		"{\"a\":true,\"b\":false}",
		"\t{\"x\" : \"y\"}\r\n",
	};
	static const char *const other[] = {
		"",
		"[]",
		"1",
		"\"s\"",
		"{",
		"}",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"{\"a\":1 \"b\":2}",
		"{\"a\":1}x",
		"{\"a\":1}{}",
		"{\"a\":1,\"a\":2}",
		"{\"a\":01}",
		"{\"a\":1.5}",
		"{\"a\":1e3}",
		"{\"a\":-}",
		"{\"a\":tru}",
		"{\"a\":nulls}",
		"{\"a\":\"\\u0041\"}",
		"{\"a\":\"\\u0000\"}",
		"{\"a\":\"\\x\"}",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xe2\x82\"}",
		"{\"a\":12345678901234567890}",
		"{\"a\":9223372036854775807}",
		"{\"a\":[1,]}",
		"{\"a\":[,1]}",
		"\xef\xbb\xbf{}",
		"{'a':1}",
		"{\"a\":\"x\"\x00}",
	};
	char deep[300], *m;
	size_t i, j, n, len = sizeof(BODY) - 1;
	int took;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		ok(check(valid[i], strlen(valid[i])), "the fast path takes %s",
		   valid[i]);
	}
	took = check(BODY, len);
	ok(took, "and a case body (strings, escapes, nesting, integers)");
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		check(other[i], strlen(other[i]) + (i == 33));
	}
	n = 0;
	for (i = 0; i < 100; i++) {
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s",
		                      i == 0 ? "{\"a\":" : "[");
	}
	for (i = 1; i < 100; i++) {
		deep[n++] = ']';
	}
	deep[n++] = '}';
	check(deep, n);
	/* Mutations: a byte replaced, inserted or removed, or the body cut
	 * short, a few at a time. */
	sim_seed(20261130);
	m = malloc(len + 64);
	for (i = 0; m != NULL && i < 20000; i++) {
		size_t ml = len, k = sim_between(1, 3);
		memcpy(m, BODY, len);
		for (j = 0; j < k; j++) {
			size_t at = (size_t)sim_between(0, ml - 1);
			unsigned char b = (unsigned char)sim_between(0, 255);
			static const char picks[] = "{}[]\",:\\ 0-.eu\x80\xff";
			if (sim_between(0, 1)) {
				b = (unsigned char)
				    picks[sim_between(0, sizeof(picks) - 2)];
			}
			switch (sim_between(0, 3)) {
			case 0:
				m[at] = (char)b;
				break;
			case 1:
				memmove(m + at + 1, m + at, ml - at);
				m[at] = (char)b;
				ml++;
				break;
			case 2:
				memmove(m + at, m + at + 1, ml - at - 1);
				ml--;
				break;
			default:
				ml = at + 1;
				break;
			}
		}
		check(m, ml);
	}
	free(m);
	is_int((long)disagree, 0,
	       "no input where the fast path's value differs from jansson's or "
	       "jansson refuses it");
	ok(refused > 1000, "jansson refused %lu of the inputs", refused);
	ok(taken > 1000, "the fast path took %lu (gave up on %lu)", taken,
	   given_up);
	return done_testing();
}
