/* Fuzz canon_decode: refuse with a message, or decode to a value whose
 * canonical encoding is the input itself; and cmd_decode_shallow against
 * cmd_decode on the same bytes. And schema/canon_walk.h on the
 * same bytes: never read out of bounds; on canonical input, a map's bytes
 * without a key are canon_encode_without's. */
#include "fuzz/fuzz_util.h"
#include "schema/canon.h"
#include "schema/canon_walk.h"
#include "schema/command.h"
#include "schema/error.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Tight limits: whatever passes them passes the defaults too. */
static const struct canon_limits tight = {
	.max_bytes = 512,
	.max_depth = 4,
	.max_str = 16,
	.max_items = 32,
};

/* shallow_same: cmd_decode_shallow refuses as cmd_decode does (the same
 * code and message) and, for a command it decodes, gives the same body
 * (whole, through cmd_body_decode) and the parts' bytes as in the input. */
static void
shallow_same(const uint8_t *data, size_t size)
{
	static const char *const parts[CMD_CASE_PARTS] = {
		"applicant", "form", "materials", "channel", "receiver",
	};
	char m1[256] = "", m2[256] = "";
	const uint8_t *body, *pv;
	size_t blen, pl, i;
	struct cmd c1, c2;
	json_t *whole = NULL;
	int r1 = cmd_decode(data, size, &c1, m1, sizeof(m1));
	int r2 = cmd_decode_shallow(data, size, &c2, m2, sizeof(m2));

	fuzz_check(r1 == r2 && strcmp(m1, m2) == 0,
	           "cmd_decode_shallow refuses as cmd_decode does");
	if (r1 != TB_OK || r2 != TB_OK) {
		if (r1 == TB_OK) {
			cmd_free(&c1);
		}
		if (r2 == TB_OK) {
			cmd_free(&c2);
		}
		return;
	}
	fuzz_check(c1.type == c2.type && c1.at == c2.at,
	           "the same type and time");
	fuzz_check(!c2.shallow || c2.type == CMD_CASE_CREATE,
	           "only a case.create is shallow");
	if (c2.shallow) {
		fuzz_check(cmd_body_decode(&c2, &whole) == TB_OK &&
		               json_equal(whole, (json_t *)c1.body),
		           "the whole body decodes as cmd_decode's");
	} else {
		fuzz_check(json_equal((json_t *)c2.body, (json_t *)c1.body),
		           "a body not shallow is cmd_decode's");
	}
	if (c2.has_parts &&
	    canon_map_get(data, size, "body", &body, &blen) == TB_OK) {
		for (i = 0; i < CMD_CASE_PARTS; i++) {
			bool found = canon_map_get(body, blen, parts[i], &pv,
			                           &pl) == TB_OK;
			fuzz_check(found ? c2.part[i].p == pv &&
			                       c2.part[i].n == pl
			                 : c2.part[i].p == NULL,
			           "a part's bytes are its value's");
		}
	}
	json_decref(whole);
	cmd_free(&c1);
	cmd_free(&c2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct canon_buf b = { 0 };
	uint8_t h1[CANON_HASH_LEN], h2[CANON_HASH_LEN];
	char msg[256] = "";
	json_t *v = NULL;
	int rv, trv;

	const uint8_t *gv;
	size_t gl, sk;

	/* Whatever the bytes: the walker stays within them. */
	sk = canon_skip(data, size, 0);
	fuzz_check(sk <= size, "a skipped value lies within the input");
	if (canon_map_get(data, size, "a", &gv, &gl) == TB_OK) {
		fuzz_check(gv >= data && gl <= size - (size_t)(gv - data),
		           "a map member's value lies within the input");
	}
	{
		size_t at = 0, hl = 0;
		uint64_t count = 0;

		if (canon_map_find(data, size, "a", &at) == TB_OK) {
			fuzz_check(at < size, "a found value starts within");
		}
		if (canon_array_head(data, size, &count, &hl) == TB_OK &&
		    canon_array_get(data, size, count > 0 ? count - 1 : 0, &gv,
		                    &gl) == TB_OK) {
			fuzz_check(gv >= data &&
			               gl <= size - (size_t)(gv - data),
			           "an array element lies within the input");
		}
	}
	rv = canon_bytes_without(data, size, "a", &b);
	canon_buf_free(&b);
	shallow_same(data, size);
	rv = canon_decode(data, size, NULL, &v, msg, sizeof(msg));
	trv = canon_check(data, size, &tight, NULL, 0);
	fuzz_check(trv != TB_OK || rv == TB_OK,
	           "input within tight limits is accepted by the defaults");
	if (rv != TB_OK) {
		fuzz_check(v == NULL, "no value on failure");
		fuzz_check(rv != TB_ENOMEM, "checked input decodes");
		fuzz_check(strncmp(msg, "at byte ", 8) == 0,
		           "a refusal says where");
		return 0;
	}
	fuzz_check(v != NULL, "a value on success");
	rv = canon_encode(v, &b, msg, sizeof(msg));
	fuzz_check(rv == TB_OK, "a decoded value encodes");
	fuzz_check(b.len == size && memcmp(b.data, data, size) == 0,
	           "canonical input re-encodes to the same bytes");
	canon_hash(data, size, h1);
	fuzz_check(canon_hash_value(v, NULL, h2, msg, sizeof(msg)) == TB_OK &&
	               memcmp(h1, h2, sizeof(h1)) == 0,
	           "hash_value hashes the canonical bytes");
	canon_buf_free(&b);
	if (json_is_object(v)) {
		struct canon_buf w1 = { 0 }, w2 = { 0 };

		fuzz_check(sk == size, "canonical input is skipped whole");
		fuzz_check(canon_bytes_without(data, size, "a", &w1) == TB_OK &&
		               canon_encode_without(v, "a", &w2, msg,
		                                    sizeof(msg)) == TB_OK &&
		               w1.len == w2.len &&
		               memcmp(w1.data, w2.data, w1.len) == 0,
		           "a map's bytes without a key are the encoder's");
		canon_buf_free(&w1);
		canon_buf_free(&w2);
		/* Putting "a" back gives the input again. */
		if (canon_map_get(data, size, "a", &gv, &gl) == TB_OK) {
			fuzz_check(
			    canon_bytes_without(data, size, "a", &w1) ==
			            TB_OK &&
			        canon_bytes_with(w1.data, w1.len, "a", gv, gl,
			                         &w2) == TB_OK &&
			        w2.len == size && !memcmp(w2.data, data, size),
			    "a map's bytes with a key put back are the input");
			canon_buf_free(&w1);
			canon_buf_free(&w2);
		}
	}
	json_decref(v);
	return 0;
}
