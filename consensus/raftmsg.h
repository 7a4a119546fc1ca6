/* The wire form of libraft's messages between the members of a group: a
 * strict msgpack codec for every struct raft_message type of libraft 0.15. */
#ifndef TB_CONSENSUS_RAFTMSG_H
#define TB_CONSENSUS_RAFTMSG_H

#include <raft.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One message is one msgpack array (docs/GROUPS.md has the table):
 *
 *   [1, type, from_id, from_address, ...the fields of type]
 *
 *   request vote         term, candidate_id, last_log_index, last_log_term,
 *                        disrupt_leader (bool), pre_vote (bool)
 *   request vote result  term, vote_granted (bool), pre_vote (0 unknown,
 *                        1 true, 2 false: raft_tribool)
 *   append entries       term, prev_log_index, prev_log_term, leader_commit,
 *                        [[term, type, payload (bin)], ...]
 *   append entries res.  term, rejected, last_log_index
 *   install snapshot     term, last_index, last_term, conf_index,
 *                        [[id, address, role], ...], data (bin)
 *   timeout now          term, last_log_index, last_log_term
 *
 * Numbers are msgpack unsigned integers in any width; booleans are msgpack
 * booleans; nothing may follow the array. The sender's id and address
 * travel in the message because libraft's struct raft_message names the
 * destination when sent and the sender when received.
 */

#define RAFTMSG_VERSION 1
/* The largest encoded message (the link layer's own limit). */
#define RAFTMSG_MAX (64u << 20)
/* At most this many entries in one append entries. */
#define RAFTMSG_MAX_ENTRIES 65536u
/* At most this many servers in a snapshot's configuration. */
#define RAFTMSG_MAX_SERVERS 64u
/* The longest server address, in bytes without the NUL. */
#define RAFTMSG_ADDRESS_MAX 255u

/* raftmsg_encode encodes msg as sent by server from_id at from_address
 * (msg->server_id and server_address, the destination, are not encoded).
 * msg and its memory stay the caller's. On success *out is a malloc'd
 * buffer of *outlen bytes (the caller frees it with free()).
 *
 * Returns TB_OK; TB_EINVAL (an unknown type, an id of 0, an address empty
 * or too long, an unknown entry type or role); TB_ETOOBIG (over
 * RAFTMSG_MAX, RAFTMSG_MAX_ENTRIES or RAFTMSG_MAX_SERVERS); TB_ENOMEM. The
 * reason is written to errmsg (errlen bytes, may be NULL). */
int raftmsg_encode(const struct raft_message *msg, raft_id from_id,
                   const char *from_address, uint8_t **out, size_t *outlen,
                   char *errmsg, size_t errlen);

/* raftmsg_decode decodes len bytes into msg. msg->server_id is the
 * sender's id and msg->server_address points into addr (addrlen bytes,
 * at least RAFTMSG_ADDRESS_MAX + 1), which the caller keeps while msg is
 * used. On success the dynamic memory msg holds is allocated with
 * raft_malloc in libraft's layout: append entries have a raft_malloc'd
 * entries array (NULL when there are none) whose entries all share one
 * raft_malloc'd batch; install snapshot has its configuration (servers
 * and addresses) and its data. raftio_recv hands all of it to libraft;
 * if it refuses, raftmsg_release frees it.
 *
 * Returns TB_OK; TB_ETRUNC (input ends early); TB_EMALFORMED (not msgpack
 * of this layout, trailing bytes, a wrong version); TB_ETYPE (a field of
 * the wrong msgpack type); TB_ERANGE (a zero id, an unknown message or
 * entry type or role, a tribool beyond 2); TB_ETOOBIG (over the limits
 * above, refused before anything is allocated); TB_ENOMEM. On failure
 * nothing is left allocated and errmsg says which field and why. */
int raftmsg_decode(const uint8_t *buf, size_t len, struct raft_message *msg,
                   char *addr, size_t addrlen, char *errmsg, size_t errlen);

/* raftmsg_release frees what a successful raftmsg_decode allocated in msg
 * (when libraft did not take it). Safe on any decoded message type. */
void raftmsg_release(struct raft_message *msg);

/* raftmsg_type_name returns "append_entries", "request_vote", ... or
 * "unknown". */
const char *raftmsg_type_name(unsigned type);

#endif
