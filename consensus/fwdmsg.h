/* The wire form of writes a follower forwards to its leader in batches
 * (link message type GROUP_T_FWDB, node/group_fwdb.c), and the leader's
 * stamp on a forwarded command. Pure: no I/O, no clock. */
#ifndef TB_CONSENSUS_FWDMSG_H
#define TB_CONSENSUS_FWDMSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Request, one msgpack array:  [1, [cmd, ...]]
 *   each cmd a bin: a command's canonical bytes (schema/command.h), as the
 *   follower encoded and stamped it; 1 to FWDMSG_MAX of them.
 * Answer, one msgpack array:   [1, term, [entry, ...]]
 *   one entry per command, in order: the unsigned index of the log entry
 *   the leader appended for it in term, or [code, reason] (a TB_* code as
 *   an unsigned integer, a string of at most FWDMSG_WHY_MAX bytes) when the
 *   leader refused it before proposing.
 * Decoding is strict: the version 1, unsigned integers and bins only where
 * expected, counts checked against the bytes left, no trailing bytes.
 */

#define FWDMSG_MAX     1024
#define FWDMSG_WHY_MAX 255

/* One forwarded command (borrowed bytes). */
struct fwdmsg_cmd {
	const uint8_t *p;
	size_t n;
};

/* One entry of an answer: code 0 with index, or a refusal (why borrowed,
 * why_len bytes, not NUL-terminated once decoded). */
struct fwdmsg_ans {
	uint64_t index;
	int code;
	const char *why;
	size_t why_len;
};

/* fwdmsg_req_encode encodes n (1..FWDMSG_MAX) commands into *out (malloc'd,
 * *len bytes). TB_OK, TB_EINVAL (n out of range), TB_ENOMEM. */
int fwdmsg_req_encode(const struct fwdmsg_cmd *cmds, unsigned n, void **out,
                      size_t *len);

/* fwdmsg_req_decode points cmds[0..*n) into p[0..len) (at most max). TB_OK,
 * or TB_ETRUNC / TB_ETYPE / TB_ETOOBIG / TB_EMALFORMED with the reason in
 * errmsg. */
int fwdmsg_req_decode(const uint8_t *p, size_t len, struct fwdmsg_cmd *cmds,
                      unsigned max, unsigned *n, char *errmsg, size_t errlen);

/* fwdmsg_ans_encode encodes an answer of n entries (why is NUL-terminated
 * here, cut at FWDMSG_WHY_MAX bytes). */
int fwdmsg_ans_encode(uint64_t term, const struct fwdmsg_ans *ans, unsigned n,
                      void **out, size_t *len);

/* fwdmsg_ans_decode reads an answer of exactly want entries into ans. */
int fwdmsg_ans_decode(const uint8_t *p, size_t len, uint64_t *term,
                      struct fwdmsg_ans *ans, unsigned want, char *errmsg,
                      size_t errlen);

/* fwdmsg_restamp replaces the "at" of a command's canonical bytes with at
 * in place. Canonical maps sort their keys, so an envelope's "at" is its
 * first member; a stamp of Unix milliseconds is a uint64 (0xcf and 8 bytes,
 * from 2^32 on) at the follower and at the leader, so the bytes keep their
 * length. TB_OK, or TB_EMALFORMED (not a map whose first member is "at"
 * with a uint64; at under 2^32). */
int fwdmsg_restamp(uint8_t *p, size_t n, int64_t at);

#endif
