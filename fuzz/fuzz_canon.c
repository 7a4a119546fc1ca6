/* Fuzz canon_decode: refuse with a message, or decode to a value whose
 * canonical encoding is the input itself. */
#include "fuzz/fuzz_util.h"
#include "schema/canon.h"
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct canon_buf b = { 0 };
	uint8_t h1[CANON_HASH_LEN], h2[CANON_HASH_LEN];
	char msg[256] = "";
	json_t *v = NULL;
	int rv, trv;

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
	json_decref(v);
	return 0;
}
