/* Fuzz the wire form of batched forwarded writes (consensus/fwdmsg.h): a
 * request or an answer is refused with a reason, or it decodes to commands
 * or entries whose encoding decodes to the same ones. */
#include "consensus/fwdmsg.h"
#include "fuzz/fuzz_util.h"
#include "schema/error.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static struct fwdmsg_cmd cmds[FWDMSG_MAX], cmds2[FWDMSG_MAX];
static struct fwdmsg_ans ans[FWDMSG_MAX], ans2[FWDMSG_MAX];

static void
request(const uint8_t *data, size_t size)
{
	char msg[256] = "";
	unsigned n = 0, n2 = 0, i;
	void *enc = NULL;
	size_t len = 0;
	int rv;

	rv = fwdmsg_req_decode(data, size, cmds, FWDMSG_MAX, &n, msg,
	                       sizeof(msg));
	if (rv != TB_OK) {
		fuzz_check(strncmp(msg, "forwarded batch: ", 17) == 0,
		           "a refused request gives a reason");
		return;
	}
	fuzz_check(n >= 1 && n <= FWDMSG_MAX,
	           "a request has 1 to max commands");
	for (i = 0; i < n; i++) {
		fuzz_check(cmds[i].p >= data &&
		               cmds[i].p + cmds[i].n <= data + size,
		           "a command points into the input");
	}
	fuzz_check(fwdmsg_req_encode(cmds, n, &enc, &len) == TB_OK,
	           "decoded commands encode");
	fuzz_check(len <= size, "re-encoding never grows a request");
	rv = fwdmsg_req_decode(enc, len, cmds2, FWDMSG_MAX, &n2, msg,
	                       sizeof(msg));
	fuzz_check(rv == TB_OK && n2 == n, "its encoding decodes");
	for (i = 0; i < n; i++) {
		fuzz_check(cmds2[i].n == cmds[i].n &&
		               memcmp(cmds2[i].p, cmds[i].p, cmds[i].n) == 0,
		           "to the same commands");
	}
	free(enc);
}

static void
answer(const uint8_t *data, size_t size, unsigned want)
{
	char msg[256] = "", why[64][FWDMSG_WHY_MAX + 1];
	uint64_t term = 0, term2 = 0;
	void *enc = NULL;
	size_t len = 0;
	unsigned i;
	int rv;

	rv = fwdmsg_ans_decode(data, size, &term, ans, want, msg, sizeof(msg));
	if (rv != TB_OK) {
		fuzz_check(strncmp(msg, "forwarded batch: ", 17) == 0,
		           "a refused answer gives a reason");
		return;
	}
	for (i = 0; i < want; i++) {
		fuzz_check(ans[i].code != 0 || ans[i].index != 0,
		           "an entry is an index or a refusal");
		if (ans[i].code != 0) {
			/* NUL-terminated for the encoder; a reason with a
			 * NUL in it is cut there. */
			memcpy(why[i], ans[i].why, ans[i].why_len);
			why[i][ans[i].why_len] = '\0';
			ans[i].why = why[i];
		}
	}
	fuzz_check(fwdmsg_ans_encode(term, ans, want, &enc, &len) == TB_OK,
	           "a decoded answer encodes");
	rv = fwdmsg_ans_decode(enc, len, &term2, ans2, want, msg, sizeof(msg));
	fuzz_check(rv == TB_OK && term2 == term, "its encoding decodes");
	for (i = 0; i < want; i++) {
		fuzz_check(ans2[i].code == ans[i].code &&
		               ans2[i].index == ans[i].index,
		           "to the same entries");
	}
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0) {
		return 0;
	}
	/* The first byte picks: a request, or an answer of 1 to 64 entries. */
	if (data[0] == 0) {
		request(data + 1, size - 1);
	} else {
		answer(data + 1, size - 1, 1u + (data[0] - 1u) % 64u);
	}
	return 0;
}
