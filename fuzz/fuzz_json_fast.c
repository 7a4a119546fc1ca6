/* Fuzz schema/json_fast.c and schema/json_canon.c against jansson: on any
 * bytes the fast parser either gives up (NULL) or returns a value equal to
 * what json_loadb with JSON_REJECT_DUPLICATES returns, and never a value
 * for bytes jansson refuses; json_fast_dump of jansson's value writes
 * json_dumps's bytes or gives up; and jdoc_canon either gives up or
 * writes canon_encode's bytes of jansson's value with the receiver set,
 * never for bytes jansson refuses. */
#include "fuzz/fuzz_util.h"
#include "schema/json_canon.h"
#include "schema/json_fast.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int
out_cb(const char *buf, size_t size, void *data)
{
	struct canon_buf *o = data;

	return canon_buf_append(o, buf, size) == 0 ? 0 : -1;
}

/* check_dump: the fast dump of v is jansson's, or it gives up. */
static void
check_dump(const json_t *v)
{
	struct canon_buf o = { 0 };
	char *want = json_dumps(v, JSON_COMPACT);
	int rv = json_fast_dump(v, out_cb, &o);

	fuzz_check(rv != -1, "the fast dump's writes do not fail here");
	if (rv == 0) {
		fuzz_check(want != NULL && strlen(want) == o.len &&
		               memcmp(want, o.data, o.len) == 0,
		           "the fast dump writes jansson's bytes");
	}
	free(want);
	canon_buf_free(&o);
}

/* check_canon: jdoc's canonical bytes of data are canon_encode's of v
 * (jansson's value, NULL if refused) with the receiver set. */
static void
check_canon(const uint8_t *data, size_t size, json_t *v)
{
	struct jdoc *d = malloc(sizeof(*d));
	struct canon_buf a = { 0 }, b = { 0 };
	char err[256];

	if (d != NULL && jdoc_parse(d, (const char *)data, size) == 0 &&
	    jdoc_canon(d, "receiver", "t0a1b2c", 7, &a) == TB_OK) {
		fuzz_check(v != NULL, "jdoc never takes what jansson refuses");
		fuzz_check(json_object_set_new(v, "receiver",
		                               json_string("t0a1b2c")) == 0 &&
		               canon_encode(v, &b, err, sizeof(err)) == TB_OK &&
		               a.len == b.len &&
		               memcmp(a.data, b.data, a.len) == 0,
		           "jdoc's bytes are canon_encode's");
	}
	canon_buf_free(&a);
	canon_buf_free(&b);
	free(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *a = json_fast_object((const char *)data, size), *b;
	json_error_t je;

	b = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	if (a != NULL) {
		fuzz_check(b != NULL,
		           "the fast path never takes what jansson refuses");
		fuzz_check(json_equal(a, b),
		           "the fast path's value is jansson's");
	}
	if (b != NULL) {
		check_dump(b);
	}
	check_canon(data, size, b);
	json_decref(a);
	json_decref(b);
	return 0;
}
