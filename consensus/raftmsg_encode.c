/* The wire form of libraft's messages: encoding, with msgpack-c's packer
 * (consensus/raftmsg.h has the layout). */
#include "consensus/raftmsg_impl.h"

#include "schema/error.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
check_address(const char *a, const char *what, char *errmsg, size_t errlen)
{
	size_t n = a != NULL ? strlen(a) : 0;

	if (n == 0 || n > RAFTMSG_ADDRESS_MAX) {
		return tb_errf(
		    errmsg, errlen, TB_EINVAL,
		    "raft message: %s is empty or longer than %u bytes", what,
		    RAFTMSG_ADDRESS_MAX);
	}
	return TB_OK;
}

static int
pack_u64(msgpack_packer *pk, uint64_t v)
{
	return msgpack_pack_uint64(pk, v);
}

static int
pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	return msgpack_pack_bin(pk, n) != 0 ||
	       (n > 0 && msgpack_pack_bin_body(pk, p, n) != 0);
}

static int
pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	return msgpack_pack_str(pk, n) != 0 ||
	       msgpack_pack_str_body(pk, s, n) != 0;
}

static int
pack_bool(msgpack_packer *pk, bool b)
{
	return b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

/* encode_body packs the fields of msg's type; returns TB_EINVAL with a
 * reason for values libraft should never produce. */
static int
encode_body(msgpack_packer *pk, const struct raft_message *m, char *errmsg,
            size_t errlen)
{
	const struct raft_append_entries *ae = &m->append_entries;
	const struct raft_install_snapshot *is = &m->install_snapshot;
	int e = 0, rv;
	unsigned i;

	switch (m->type) {
	case RAFT_IO_REQUEST_VOTE:
		e |= pack_u64(pk, m->request_vote.term);
		e |= pack_u64(pk, m->request_vote.candidate_id);
		e |= pack_u64(pk, m->request_vote.last_log_index);
		e |= pack_u64(pk, m->request_vote.last_log_term);
		e |= pack_bool(pk, m->request_vote.disrupt_leader);
		e |= pack_bool(pk, m->request_vote.pre_vote);
		break;
	case RAFT_IO_REQUEST_VOTE_RESULT:
		e |= pack_u64(pk, m->request_vote_result.term);
		e |= pack_bool(pk, m->request_vote_result.vote_granted);
		e |= pack_u64(pk, (uint64_t)m->request_vote_result.pre_vote);
		break;
	case RAFT_IO_APPEND_ENTRIES:
		if (ae->n_entries > RAFTMSG_MAX_ENTRIES) {
			return tb_errf(errmsg, errlen, TB_ETOOBIG,
			               "raft message: %u entries, over %u",
			               ae->n_entries, RAFTMSG_MAX_ENTRIES);
		}
		e |= pack_u64(pk, ae->term);
		e |= pack_u64(pk, ae->prev_log_index);
		e |= pack_u64(pk, ae->prev_log_term);
		e |= pack_u64(pk, ae->leader_commit);
		e |= msgpack_pack_array(pk, ae->n_entries);
		for (i = 0; i < ae->n_entries; i++) {
			const struct raft_entry *en = &ae->entries[i];
			if (en->type < RAFT_COMMAND || en->type > RAFT_CHANGE) {
				return tb_errf(errmsg, errlen, TB_EINVAL,
				               "raft message: entries[%u] has "
				               "type %u",
				               i, en->type);
			}
			e |= msgpack_pack_array(pk, 3);
			e |= pack_u64(pk, en->term);
			e |= pack_u64(pk, en->type);
			e |= pack_bin(pk, en->buf.base, en->buf.len);
		}
		break;
	case RAFT_IO_APPEND_ENTRIES_RESULT:
		e |= pack_u64(pk, m->append_entries_result.term);
		e |= pack_u64(pk, m->append_entries_result.rejected);
		e |= pack_u64(pk, m->append_entries_result.last_log_index);
		break;
	case RAFT_IO_INSTALL_SNAPSHOT:
		if (is->conf.n > RAFTMSG_MAX_SERVERS) {
			return tb_errf(errmsg, errlen, TB_ETOOBIG,
			               "raft message: a configuration of %u "
			               "servers, over %u",
			               is->conf.n, RAFTMSG_MAX_SERVERS);
		}
		e |= pack_u64(pk, is->term);
		e |= pack_u64(pk, is->last_index);
		e |= pack_u64(pk, is->last_term);
		e |= pack_u64(pk, is->conf_index);
		e |= msgpack_pack_array(pk, is->conf.n);
		for (i = 0; i < is->conf.n; i++) {
			const struct raft_server *s = &is->conf.servers[i];
			char what[48];
			snprintf(what, sizeof(what), "conf.servers[%u].address",
			         i);
			if ((rv = check_address(s->address, what, errmsg,
			                        errlen)) != TB_OK) {
				return rv;
			}
			if (s->id == 0 || s->role < RAFT_STANDBY ||
			    s->role > RAFT_SPARE) {
				return tb_errf(errmsg, errlen, TB_EINVAL,
				               "raft message: conf.servers[%u] "
				               "has id %llu role %d",
				               i, (unsigned long long)s->id,
				               s->role);
			}
			e |= msgpack_pack_array(pk, 3);
			e |= pack_u64(pk, s->id);
			e |= pack_str(pk, s->address);
			e |= pack_u64(pk, (uint64_t)s->role);
		}
		e |= pack_bin(pk, is->data.base, is->data.len);
		break;
	case RAFT_IO_TIMEOUT_NOW:
		e |= pack_u64(pk, m->timeout_now.term);
		e |= pack_u64(pk, m->timeout_now.last_log_index);
		e |= pack_u64(pk, m->timeout_now.last_log_term);
		break;
	default:
		return tb_errf(errmsg, errlen, TB_EINVAL,
		               "raft message: unknown type %u", m->type);
	}
	return e != 0 ? tb_errf(errmsg, errlen, TB_ENOMEM,
	                        "raft message: out of memory")
	              : TB_OK;
}

/* presize gives sb, for an AppendEntries, room for the whole message at
 * once: growing from 8 KiB by doubling copied a batch of entries two or
 * three times into fresh memory (a page fault per 4 KiB). The bound: the
 * header and fixed fields take at most 74 bytes besides the address (80
 * here), each entry at most 24 besides its payload (array, two uint64,
 * bin32 head). */
static int
presize(msgpack_sbuffer *sb, const struct raft_message *m,
        const char *from_address, char *errmsg, size_t errlen)
{
	size_t n = 80 + strlen(from_address);
	unsigned i;

	if (m->type != RAFT_IO_APPEND_ENTRIES ||
	    m->append_entries.n_entries > RAFTMSG_MAX_ENTRIES) {
		return TB_OK; /* the checks in encode_body refuse the latter */
	}
	for (i = 0; i < m->append_entries.n_entries; i++) {
		n += 24 + m->append_entries.entries[i].buf.len;
		if (n > RAFTMSG_MAX) {
			return TB_OK; /* refused after encoding, with its size
			               */
		}
	}
	if (n <= MSGPACK_SBUFFER_INIT_SIZE) {
		return TB_OK;
	}
	if ((sb->data = malloc(n)) == NULL) {
		return tb_errf(errmsg, errlen, TB_ENOMEM,
		               "raft message: out of memory");
	}
	sb->alloc = n;
	return TB_OK;
}

int
raftmsg_encode(const struct raft_message *msg, raft_id from_id,
               const char *from_address, uint8_t **out, size_t *outlen,
               char *errmsg, size_t errlen)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rv;

	*out = NULL;
	*outlen = 0;
	if (msg->type < RAFT_IO_APPEND_ENTRIES ||
	    msg->type > RAFT_IO_TIMEOUT_NOW) {
		return tb_errf(errmsg, errlen, TB_EINVAL,
		               "raft message: unknown type %u", msg->type);
	}
	if (from_id == 0) {
		return tb_errf(errmsg, errlen, TB_EINVAL,
		               "raft message: the sender's id is 0");
	}
	if ((rv = check_address(from_address, "the sender's address", errmsg,
	                        errlen)) != TB_OK) {
		return rv;
	}
	msgpack_sbuffer_init(&sb);
	if ((rv = presize(&sb, msg, from_address, errmsg, errlen)) != TB_OK) {
		return rv;
	}
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rv = msgpack_pack_array(&pk, 4 + raftmsg_n_fields[msg->type]) != 0 ||
	     pack_u64(&pk, RAFTMSG_VERSION) != 0 ||
	     pack_u64(&pk, msg->type) != 0 || pack_u64(&pk, from_id) != 0 ||
	     pack_str(&pk, from_address) != 0;
	if (rv != 0) {
		msgpack_sbuffer_destroy(&sb);
		return tb_errf(errmsg, errlen, TB_ENOMEM,
		               "raft message: out of memory");
	}
	if ((rv = encode_body(&pk, msg, errmsg, errlen)) != TB_OK) {
		msgpack_sbuffer_destroy(&sb);
		return rv;
	}
	if (sb.size > RAFTMSG_MAX) {
		size_t n = sb.size;
		msgpack_sbuffer_destroy(&sb);
		return tb_errf(errmsg, errlen, TB_ETOOBIG,
		               "raft message: %s of %zu bytes, over %u",
		               raftmsg_type_name(msg->type), n, RAFTMSG_MAX);
	}
	*out = (uint8_t *)sb.data;
	*outlen = sb.size;
	return TB_OK;
}
