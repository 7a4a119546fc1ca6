/* Internals shared by consensus/raftmsg*.c. */
#ifndef TB_CONSENSUS_RAFTMSG_IMPL_H
#define TB_CONSENSUS_RAFTMSG_IMPL_H

#include "consensus/msgrd.h"
#include "consensus/raftmsg.h"

#include <stddef.h>

/* The fields after the 4-element header, by message type (1..6). */
extern const unsigned raftmsg_n_fields[7];

#endif
