/* schema/json_fast.c against jansson: on every input the fast path either
 * gives up (NULL) or returns a value equal to json_loadb's with
 * JSON_REJECT_DUPLICATES, and it gives up on everything jansson refuses;
 * json_fast_dump writes what json_dumps writes, or gives up. Hand-written
 * inputs and values, then seeded mutations of a case body. */
#include "schema/json_fast.h"
#include "tests/json_mutate.h"
#include "tests/sim_rng.h"
#include "tests/tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long taken, given_up, refused, disagree;
static unsigned long dumped, dump_gave_up, dump_disagree;

struct out {
	char buf[8192];
	size_t n;
};

static int
out_cb(const char *b, size_t size, void *data)
{
	struct out *o = data;

	if (size > sizeof(o->buf) - o->n) {
		return -1;
	}
	memcpy(o->buf + o->n, b, size);
	o->n += size;
	return 0;
}

/* dump_check compares json_fast_dump with json_dumps(JSON_COMPACT) on v:
 * the same bytes, or the fast path gives up (1). Returns its answer. */
static int
dump_check(const json_t *v)
{
	struct out o = { .n = 0 };
	char *want = json_dumps(v, JSON_COMPACT);
	int rv = json_fast_dump(v, out_cb, &o);

	if (rv == 0) {
		dumped++;
		if (want == NULL || strlen(want) != o.n ||
		    memcmp(want, o.buf, o.n) != 0) {
			dump_disagree++;
			printf("# dump disagrees: %.*s against %s\n",
			       (int)(o.n > 200 ? 200 : o.n), o.buf,
			       want != NULL ? want : "(jansson failed)");
		}
	} else if (rv == 1) {
		dump_gave_up++;
	} else {
		dump_disagree++;
		printf("# dump failed (%d) where jansson wrote %s\n", rv,
		       want != NULL ? want : "(nothing)");
	}
	free(want);
	return rv;
}

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
	} else {
		dump_check(b);
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

/* dump_values: values the parser never makes (control characters, NUL,
 * invalid UTF-8 through the nocheck setters, the integer extremes, reals,
 * deep nesting), each dumped both ways. */
static void
dump_values(void)
{
	json_t *o = json_object(), *a = json_array(), *d, *v;
	char ctl[40];
	int i;

	for (i = 0; i < 32; i++) {
		ctl[i] = (char)(i + 1 == 32 ? 0x7f : i + 1);
	}
	json_object_set_new(o, "ctl", json_stringn(ctl, 32));
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	json_object_set_new(o, "q\"\\/\n", json_string("\"\\/é中😀"));
	json_object_set_new(o, "min", json_integer(INT64_MIN));
	json_object_set_new(o, "max", json_integer(INT64_MAX));
	json_object_set_new(o, "zero", json_integer(0));
	json_object_set_new(o, "e", json_object());
	json_object_set_new(o, "ea", json_array());
	json_array_append_new(a, json_true());
	json_array_append_new(a, json_false());
	json_array_append_new(a, json_null());
	json_array_append(a, o);
	is_int(dump_check(a), 0, "the fast dump takes an array of every kind");
	is_int(dump_check(o), 0, "and an object of every kind");
	json_object_set_new(o, "real", json_real(1.5));
	is_int(dump_check(o), 1, "it leaves a real to jansson");
	json_object_del(o, "real");
	json_object_set_new(o, "bad", json_stringn_nocheck("\xc0\xaf", 2));
	is_int(dump_check(o), 1, "and invalid UTF-8 (jansson fails)");
	json_object_del(o, "bad");
	json_object_set_new_nocheck(o, "\xed\xa0\x80", json_null());
	is_int(dump_check(o), 1, "and a key that is not UTF-8");
	is_int(dump_check(json_object_get(o, "min")), 1,
	       "and a value that is neither an object nor an array");
	d = json_array();
	for (i = 0, v = d; i < 70; i++) {
		json_t *n = json_array();
		json_array_append_new(v, n);
		v = n;
	}
	is_int(dump_check(d), 1, "and nesting deeper than 64");
	json_decref(d);
	json_decref(a);
	json_decref(o);
}

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
	size_t i, n, len = sizeof(BODY) - 1;
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
		check(m, json_mutate(m, BODY, len));
	}
	free(m);
	dump_values();
	is_int((long)dump_disagree, 0,
	       "json_fast_dump writes what json_dumps writes, or gives up");
	ok(dumped > 1000, "it wrote %lu values (gave up on %lu)", dumped,
	   dump_gave_up);
	is_int((long)disagree, 0,
	       "no input where the fast path's value differs from jansson's or "
	       "jansson refuses it");
	ok(refused > 1000, "jansson refused %lu of the inputs", refused);
	ok(taken > 1000, "the fast path took %lu (gave up on %lu)", taken,
	   given_up);
	return done_testing();
}
