/* Fuzz the join token string parser (schema/join.h).
 *
 * Input: byte 0 picks a mode, the rest is data.
 *
 *   0  the data is the string as a new node's operator pastes it;
 *   1  the data is a body: it is wrapped as tbj1.<base64url> with a correct
 *      check, so the field checks behind the check see arbitrary bodies.
 *
 * Properties beyond "no crash, leak or UB": a refusal says why; an
 * accepted string re-encodes to exactly the same string (nothing is read
 * that is not in it, nothing in it is ignored). */
#include "fuzz/fuzz_util.h"
#include "schema/join.h"

#include <sodium.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return sodium_init() < 0 ? 1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[2 * JOIN_STRING_MAX], again[JOIN_STRING_MAX], err[256];
	uint8_t body[JOIN_STRING_MAX], sum[32];
	struct join_token t;
	size_t n;
	int rv;

	if (size < 1 || size > JOIN_STRING_MAX) {
		return 0;
	}
	if (data[0] == 0) {
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
	} else {
		n = size - 1;
		if (n + 4 > sizeof(body)) {
			return 0;
		}
		memcpy(body, data + 1, n);
		crypto_generichash(sum, sizeof(sum), body, n, NULL, 0);
		memcpy(body + n, sum, 4);
		memcpy(s, JOIN_PREFIX, strlen(JOIN_PREFIX));
		sodium_bin2base64(s + strlen(JOIN_PREFIX),
		                  sizeof(s) - strlen(JOIN_PREFIX), body, n + 4,
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	}
	err[0] = '\0';
	rv = join_decode(s, &t, err, sizeof(err));
	if (rv != TB_OK) {
		fuzz_check(rv == TB_EMALFORMED && err[0] != '\0',
		           "a refusal is malformed and says why");
		return 0;
	}
	fuzz_check(join_encode(&t, again, sizeof(again)) == TB_OK,
	           "an accepted token encodes");
	fuzz_check(strcmp(again, s) == 0,
	           "an accepted token re-encodes to the same string");
	join_token_wipe(&t);
	return 0;
}
