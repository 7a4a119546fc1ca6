/* Tests that canon_encode writes every msgpack form as msgpack-c's packer
 * does (the shortest one), at each boundary between forms, and that
 * canon_decode reads it back: the encoder no longer uses the packer. */
#include "schema/canon.h"
#include "schema/error.h"
#include "tests/tap.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* same compares canon_encode(v) with what the packer wrote into sb, and
 * decodes it back; steals v. */
static void
same(json_t *v, msgpack_sbuffer *sb, const char *what, long long n)
{
	struct canon_buf b = { 0 };
	char err[256];
	json_t *back = NULL;
	int rv = canon_encode(v, &b, err, sizeof(err));

	ok(rv == TB_OK && b.len == sb->size &&
	       memcmp(b.data, sb->data, b.len) == 0,
	   "%s %lld: %zu bytes as msgpack-c's %zu", what, n, b.len, sb->size);
	ok(canon_decode(b.data, b.len, NULL, &back, err, sizeof(err)) ==
	           TB_OK &&
	       json_equal(back, v),
	   "%s %lld decodes back", what, n);
	json_decref(back);
	json_decref(v);
	canon_buf_free(&b);
	msgpack_sbuffer_clear(sb);
}

int
main(void)
{
	static const long long ints[] = {
		0,
		1,
		31,
		32,
		127,
		128,
		255,
		256,
		65535,
		65536,
		4294967295LL,
		4294967296LL,
		INT64_MAX,
		-1,
		-31,
		-32,
		-33,
		-127,
		-128,
		-129,
		-32767,
		-32768,
		-32769,
		-2147483647LL,
		INT32_MIN,
		-2147483649LL,
		INT64_MIN,
	};
	static const size_t lens[] = { 0,  1,   15,  16,    31,
		                       32, 255, 256, 65535, 65536 };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *text = malloc(65537);
	size_t i, j;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (ints[i] >= 0) {
			msgpack_pack_uint64(&pk, (uint64_t)ints[i]);
		} else {
			msgpack_pack_int64(&pk, (int64_t)ints[i]);
		}
		same(json_integer(ints[i]), &sb, "integer", ints[i]);
	}
	msgpack_pack_nil(&pk);
	same(json_null(), &sb, "null", 0);
	msgpack_pack_true(&pk);
	same(json_true(), &sb, "true", 1);
	msgpack_pack_false(&pk);
	same(json_false(), &sb, "false", 0);
	memset(text, 'a', 65536);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		json_t *a = json_array(), *o = json_object();
		char key[16];

		msgpack_pack_str_with_body(&pk, text, lens[i]);
		same(json_stringn(text, lens[i]), &sb, "string of",
		     (long long)lens[i]);
		if (lens[i] > 256) {
			json_decref(a);
			json_decref(o);
			continue; /* containers this big are slow to build */
		}
		msgpack_pack_array(&pk, lens[i]);
		for (j = 0; j < lens[i]; j++) {
			msgpack_pack_nil(&pk);
			json_array_append_new(a, json_null());
		}
		same(a, &sb, "array of", (long long)lens[i]);
		/* Keys k000..k255 sort as their numbers. */
		msgpack_pack_map(&pk, lens[i]);
		for (j = 0; j < lens[i]; j++) {
			snprintf(key, sizeof(key), "k%03zu", j);
			msgpack_pack_str_with_body(&pk, key, 4);
			msgpack_pack_uint64(&pk, j);
			json_object_set_new(o, key,
			                    json_integer((json_int_t)j));
		}
		same(o, &sb, "map of", (long long)lens[i]);
	}
	msgpack_sbuffer_destroy(&sb);
	free(text);
	return done_testing();
}
