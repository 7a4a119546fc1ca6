/* Internals shared by consensus/raftmsg*.c. */
#ifndef TB_CONSENSUS_RAFTMSG_IMPL_H
#define TB_CONSENSUS_RAFTMSG_IMPL_H

#include "consensus/raftmsg.h"

#include <stddef.h>

/* The fields after the 4-element header, by message type (1..6). */
extern const unsigned raftmsg_n_fields[7];

/* raftmsg_fail writes the reason (printf) to errmsg (errlen bytes, may be
 * NULL) and returns rv. */
int raftmsg_fail(char *errmsg, size_t errlen, int rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
