/* schema/json_canon.c against jansson and canon_encode: on every input it
 * takes, jdoc_canon writes the bytes canon_encode writes for the value
 * json_loadb (JSON_REJECT_DUPLICATES) returns with the extra member set,
 * and cmd_encode_body the bytes of cmd_encode; it never takes an input
 * jansson refuses. Hand-written inputs, then seeded mutations of a case
 * body. */
#include "schema/command.h"
#include "schema/json_canon.h"
#include "tests/json_mutate.h"
#include "tests/sim_rng.h"
#include "tests/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long taken, given_up, refused, disagree, dups;

/* same_without_key: the command without an idempotency key is the same
 * both ways too. */
static int
same_without_key(const struct canon_buf *body, const json_t *v)
{
	struct canon_buf x = { 0 }, y = { 0 };
	char err[256];
	int same = cmd_encode_body(CMD_CASE_CREATE, -5, NULL, body->data,
	                           body->len, &x, err, sizeof(err)) == 0 &&
	           cmd_encode(CMD_CASE_CREATE, -5, NULL, v, &y, err,
	                      sizeof(err)) == 0 &&
	           x.len == y.len && memcmp(x.data, y.data, x.len) == 0;

	canon_buf_free(&x);
	canon_buf_free(&y);
	return same;
}

/* check compares the two ways on buf; returns 1 if jdoc took it. */
static int
check(const char *buf, size_t len)
{
	struct canon_buf a = { 0 }, b = { 0 }, ca = { 0 }, cb = { 0 };
	struct jdoc *d = malloc(sizeof(*d));
	json_error_t je;
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	char err[256];
	int took = 0, rv;

	if (v == NULL) {
		refused++;
	}
	if (d != NULL && jdoc_parse(d, buf, len) == 0) {
		rv = jdoc_canon(d, "receiver", "t0a1b2c", 7, &a);
		if (rv == TB_OK) {
			took = 1;
		} else if (v == NULL) {
			dups++; /* given up on, as a duplicate key must be */
		}
	}
	if (took) {
		taken++;
		if (v == NULL ||
		    json_object_set_new(v, "receiver",
		                        json_string("t0a1b2c")) ||
		    canon_encode(v, &b, err, sizeof(err)) != TB_OK ||
		    a.len != b.len || memcmp(a.data, b.data, a.len) != 0 ||
		    cmd_encode_body(CMD_CASE_CREATE, 1764460800123, "k-1",
		                    a.data, a.len, &ca, err, sizeof(err)) ||
		    cmd_encode(CMD_CASE_CREATE, 1764460800123, "k-1", v, &cb,
		               err, sizeof(err)) ||
		    ca.len != cb.len || memcmp(ca.data, cb.data, ca.len) != 0 ||
		    !same_without_key(&a, v)) {
			disagree++;
			printf("# disagree on %zu bytes: %.*s\n", len,
			       (int)(len > 200 ? 200 : len), buf);
		}
	} else {
		given_up++;
	}
	json_decref(v);
	canon_buf_free(&a);
	canon_buf_free(&b);
	canon_buf_free(&ca);
	canon_buf_free(&cb);
	free(d);
	return took;
}

static const char BODY[] =
    "{\"matter\":\"000117001000#01\",\"applicant\":{\"name\":\"张三\","
    "\"id_type\":\"resident_id\",\"id_number\":\"370102199001011231\","
    "\"phone\":\"13912345678\"},\"form\":{\"applicant_name\":\"张三\","
    "\"operator_name\":\"历下区张三餐馆\",\"area\":35,\"open\":true,"
    "\"note\":null,\"tags\":[\"a\",\"b\\n\\\"c\\\"\\/\",[],{}],\"neg\":-42,"
    "\"n2\":-200,\"n3\":-40000,\"n4\":-3000000000,\"p1\":200,\"p2\":70000,"
    "\"p3\":5000000000,\"big\":999999999999999999,\"off\":false},"
    "\"materials\":[{\"code\":\"M01\",\"hash\":\"0a1b\",\"size\":512},"
    "{\"code\":\"M03\",\"hash\":\"ffee\",\"size\":1536}],\"channel\":\"2\"}";

static void
getters(void)
{
	struct jdoc *d = malloc(sizeof(*d));
	unsigned m, f, h;

	if (d == NULL || jdoc_parse(d, BODY, sizeof(BODY) - 1) != 0) {
		ok(0, "the case body scans");
		free(d);
		return;
	}
	m = jdoc_get(d, 0, "materials");
	ok(m != 0 && d->t[m].type == JT_ARRAY && d->t[m].n == 2,
	   "jdoc_get finds the materials, an array of 2");
	h = jdoc_get(d, d->t[m + 1].end, "hash");
	ok(h != 0 && d->t[h].len == 4 && !memcmp(d->t[h].u.s, "ffee", 4),
	   "and the second one's hash");
	f = jdoc_get(d, 0, "form");
	h = jdoc_get(d, f, "tags");
	ok(h != 0 && d->t[h].type == JT_ARRAY && d->t[h].n == 4 &&
	       d->t[h + 2].len == 6 && !memcmp(d->t[h + 2].u.s, "b\n\"c\"/", 6),
	   "an escaped string, unescaped");
	is_int(jdoc_get(d, 0, "receiver"), 0, "no receiver: 0");
	is_int(jdoc_get(d, m, "hash"), 0, "an array has no members");
	free(d);
}

int
main(void)
{
	static const char *const inputs[] = {
		"{}",
		"{\"receiver\":\"t0a1b2c\"}",
		"{\"receiver\":5,\"a\":1}",
		"{\"a\":1,\"a\":2}",
		"{\"x\":{\"b\":1,\"b\":1}}",
		"{\"rec\":1,\"receivers\":2,\"receive\":3}",
		"{\"a\":\"\\u0041\"}",
		"{\"a\":1.5}",
		"{\"a\":[1,]}",
		"{\"a\":\"é中\xf0\x9f\x98\x80\"}",
		"{\"a\":\"\xc0\xaf\"}",
		"{\"a\":12345678901234567890}",
		"{\"a\":-9223372036854775}",
		"{\"\":\"\",\"0\":[true,false,null]}",
	};
	char deep[300], *m;
	size_t i, n, len = sizeof(BODY) - 1;

	getters();
	{
		struct canon_buf x = { 0 }, y = { 0 };
		char e1[256], e2[256];
		json_t *o = json_object();
		int r1 = cmd_encode_body(CMD_CASE_CREATE, 1, "k\xc0\xaf",
		                         (const uint8_t *)"\x80", 1, &x, e1,
		                         sizeof(e1));
		int r2 = cmd_encode(CMD_CASE_CREATE, 1, "k\xc0\xaf", o, &y, e2,
		                    sizeof(e2));
		ok(r1 == r2 && r1 != 0 && !strcmp(e1, e2),
		   "a key that is not UTF-8: the same refusal (%d, %s)", r1,
		   e1);
		is_int(cmd_encode_body(CMD_CASE_CREATE, 1, NULL,
		                       (const uint8_t *)"\x91", 1, &x, e1,
		                       sizeof(e1)),
		       TB_EINVAL, "a body that is not a map is refused");
		json_decref(o);
		canon_buf_free(&x);
		canon_buf_free(&y);
	}
	ok(check(BODY, len), "the case body is taken");
	ok(check(inputs[1], strlen(inputs[1])),
	   "and one naming the same receiver");
	ok(check(inputs[2], strlen(inputs[2])),
	   "and one naming another (the member is replaced)");
	ok(!check(inputs[3], strlen(inputs[3])), "a duplicate key is not");
	ok(!check(inputs[4], strlen(inputs[4])), "nor one deeper down");
	for (i = 5; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		check(inputs[i], strlen(inputs[i]));
	}
	for (n = 0, i = 0; i < 40; i++) {
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s",
		                      i == 0 ? "{\"a\":" : "[");
	}
	for (i = 1; i < 40; i++) {
		deep[n++] = ']';
	}
	deep[n++] = '}';
	ok(!check(deep, n), "nesting deeper than 32 is given up on");
	/* Mutations: a byte replaced, inserted or removed, or the body cut
	 * short, a few at a time. */
	sim_seed(20261130);
	m = malloc(len + 64);
	for (i = 0; m != NULL && i < 20000; i++) {
		check(m, json_mutate(m, BODY, len));
	}
	free(m);
	is_int((long)disagree, 0,
	       "no input where the bytes differ from canon_encode's and "
	       "cmd_encode's, or jansson refuses it");
	ok(refused > 1000, "jansson refused %lu of the inputs", refused);
	ok(taken > 1000, "jdoc took %lu (gave up on %lu)", taken, given_up);
	ok(dups > 0, "%lu scanned with a duplicate key were given up on", dups);
	return done_testing();
}
