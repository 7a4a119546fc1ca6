/* A strict msgpack reader for consensus/'s wire forms (raftmsg.c's libraft
 * messages, fwdmsg.c's forwarded batches): every read first checks the bytes
 * that remain, and an error names the message kind and the field. */
#ifndef TB_CONSENSUS_MSGRD_H
#define TB_CONSENSUS_MSGRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msgrd {
	const uint8_t *p, *end;
	char *errmsg; /* the reason of a refusal; may be NULL */
	size_t errlen;
	const char *kind; /* leads each reason: "raft message", ... */
};

/* msgrd_left: the bytes not read yet. */
size_t msgrd_left(const struct msgrd *r);

/* msgrd_need: n more bytes are there, or TB_ETRUNC naming what. */
int msgrd_need(struct msgrd *r, size_t n, const char *what);

/* msgrd_wrong: TB_ETYPE, want expected at what. */
int msgrd_wrong(struct msgrd *r, const char *what, const char *want);

/* msgrd_u64 reads an unsigned integer (any width). */
int msgrd_u64(struct msgrd *r, const char *what, uint64_t *v);

/* msgrd_array reads an array header of min..max elements (TB_ETOOBIG
 * outside). */
int msgrd_array(struct msgrd *r, const char *what, uint64_t min, uint64_t max,
                uint64_t *n);

/* msgrd_raw reads a bin (str false) or str (str true) and points at its
 * bytes, which stay in the input. */
int msgrd_raw(struct msgrd *r, const char *what, bool str, const uint8_t **p,
              size_t *n);

#endif
