/* Fuzz raftmsg_decode: refuse with a reason and nothing allocated, or
 * decode to a message that re-encodes and decodes to the same bytes. */
#include "consensus/raftmsg.h"
#include "fuzz/fuzz_util.h"
#include "schema/error.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char addr[RAFTMSG_ADDRESS_MAX + 1], addr2[RAFTMSG_ADDRESS_MAX + 1];
	char msg[256] = "";
	struct raft_message m, m2;
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t len = 0, len2 = 0;
	int rv;

	rv = raftmsg_decode(data, size, &m, addr, sizeof(addr), msg,
	                    sizeof(msg));
	if (rv != TB_OK) {
		fuzz_check(rv != TB_ENOMEM, "checked input never runs out");
		fuzz_check(strncmp(msg, "raft message: ", 14) == 0,
		           "a refusal gives a reason");
		return 0;
	}
	fuzz_check(m.server_id != 0 && m.server_address == addr,
	           "a decoded message names its sender");
	/* The input may use wider integers than needed: its re-encoding is
	 * the canonical form, which must be a fixed point. */
	rv =
	    raftmsg_encode(&m, m.server_id, addr, &enc, &len, msg, sizeof(msg));
	fuzz_check(rv == TB_OK, "a decoded message encodes");
	fuzz_check(len <= size, "re-encoding never grows a message");
	rv = raftmsg_decode(enc, len, &m2, addr2, sizeof(addr2), msg,
	                    sizeof(msg));
	fuzz_check(rv == TB_OK, "its encoding decodes");
	rv = raftmsg_encode(&m2, m2.server_id, addr2, &enc2, &len2, msg,
	                    sizeof(msg));
	fuzz_check(rv == TB_OK && len2 == len && memcmp(enc, enc2, len) == 0,
	           "encoding is a fixed point");
	raftmsg_release(&m);
	raftmsg_release(&m2);
	free(enc);
	free(enc2);
	return 0;
}
