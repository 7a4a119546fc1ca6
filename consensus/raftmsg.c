/* The wire form of libraft's messages: decoding with a strict reader of our
 * own that allocates only once every count it reads has been checked against
 * the bytes that remain (encoding is in raftmsg_encode.c).
 *
 * Happy path: raftmsg_encode packs the array, the transport sends it, the
 * peer's raftmsg_decode rebuilds a struct raft_message in libraft's memory
 * layout and raftio_recv hands it over. Failure modes: any byte that does
 * not fit the layout is refused with the field's name, and what was
 * allocated for a partial message is freed before returning. */
#include "consensus/raftmsg_impl.h"

#include "schema/error.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields after the 4-element header, by type (index = type). */
const unsigned raftmsg_n_fields[7] = { 0, 5, 3, 6, 3, 6, 3 };

const char *
raftmsg_type_name(unsigned type)
{
	static const char *const names[] = {
		"unknown",      "append_entries",      "append_entries_result",
		"request_vote", "request_vote_result", "install_snapshot",
		"timeout_now",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : names[0];
}

/* ---- decoding --------------------------------------------------------- */

static int
rd_bool(struct msgrd *r, const char *what, bool *v)
{
	int rv;

	if ((rv = msgrd_need(r, 1, what)) != TB_OK) {
		return rv;
	}
	if (r->p[0] != 0xc2 && r->p[0] != 0xc3) {
		return msgrd_wrong(r, what, "a boolean");
	}
	*v = r->p[0] == 0xc3;
	r->p++;
	return TB_OK;
}

static int
rd_address(struct msgrd *r, const char *what, char *out, size_t outlen)
{
	const uint8_t *p;
	size_t n;
	int rv;

	if ((rv = msgrd_raw(r, what, true, &p, &n)) != TB_OK) {
		return rv;
	}
	if (n == 0 || n > RAFTMSG_ADDRESS_MAX || n >= outlen ||
	    memchr(p, '\0', n) != NULL) {
		return tb_errf(
		    r->errmsg, r->errlen,
		    n == 0               ? TB_ERANGE
		    : memchr(p, '\0', n) ? TB_EMALFORMED
		                         : TB_ETOOBIG,
		    "raft message: %s: %zu bytes (1..%u without NUL)", what, n,
		    RAFTMSG_ADDRESS_MAX);
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return TB_OK;
}

static int
rd_id(struct msgrd *r, const char *what, uint64_t *v)
{
	int rv = msgrd_u64(r, what, v);

	if (rv == TB_OK && *v == 0) {
		return tb_errf(r->errmsg, r->errlen, TB_ERANGE,
		               "raft message: %s: a server id is never 0",
		               what);
	}
	return rv;
}

static int
rd_max(struct msgrd *r, const char *what, uint64_t max, uint64_t *v)
{
	int rv = msgrd_u64(r, what, v);

	if (rv == TB_OK && *v > max) {
		return tb_errf(r->errmsg, r->errlen, TB_ERANGE,
		               "raft message: %s: %llu, over %llu", what,
		               (unsigned long long)*v, (unsigned long long)max);
	}
	return rv;
}

/* check_entry reads one entry's header and payload; its errors name
 * names[0] (the entry), [1] (term), [2] (type) and [3] (payload). */
static int
check_entry(struct msgrd *r, const char *const names[4], size_t *len)
{
	const uint8_t *p;
	uint64_t k, term, type;
	int rv;

	if ((rv = msgrd_array(r, names[0], 0, 3, &k)) != TB_OK) {
		return rv;
	}
	if (k != 3) {
		return tb_errf(r->errmsg, r->errlen, TB_EMALFORMED,
		               "raft message: %s: %llu fields, 3 expected",
		               names[0], (unsigned long long)k);
	}
	if ((rv = msgrd_u64(r, names[1], &term)) != TB_OK ||
	    (rv = msgrd_u64(r, names[2], &type)) != TB_OK) {
		return rv;
	}
	if (type < RAFT_COMMAND || type > RAFT_CHANGE) {
		return tb_errf(r->errmsg, r->errlen, TB_ERANGE,
		               "raft message: %s: %llu is not an entry "
		               "type (1..3)",
		               names[2], (unsigned long long)type);
	}
	return msgrd_raw(r, names[3], false, &p, len);
}

static int
decode_entries(struct msgrd *r, struct raft_append_entries *ae)
{
	static const char *const quiet[4] = { "", "", "", "" };
	const uint8_t *start, *at, *p;
	uint64_t n, k, term, type;
	size_t total = 0, off = 0, len;
	char what[4][40];
	const char *names[4] = { what[0], what[1], what[2], what[3] };
	char *errmsg;
	uint8_t *batch;
	unsigned i;
	int rv;

	/* Each entry takes at least 4 bytes (array, term, type, bin): a
	 * count beyond what remains is refused before allocating. */
	if ((rv = msgrd_array(r, "entries", 0, RAFTMSG_MAX_ENTRIES, &n)) !=
	    TB_OK) {
		return rv;
	}
	if (n > msgrd_left(r) / 4) {
		return tb_errf(
		    r->errmsg, r->errlen, TB_ETRUNC,
		    "raft message: entries: %llu declared, %zu bytes "
		    "left",
		    (unsigned long long)n, msgrd_left(r));
	}
	/* First pass: check every entry and sum the payloads. The names an
	 * error gives ("entries[7].type") are formatted only for an entry
	 * that fails, which is read again with them (a snprintf per field
	 * was a follower's largest cost in decoding). */
	start = r->p;
	for (i = 0; i < n; i++) {
		at = r->p;
		errmsg = r->errmsg;
		r->errmsg = NULL;
		rv = check_entry(r, quiet, &len);
		r->errmsg = errmsg;
		if (rv != TB_OK) {
			snprintf(what[0], sizeof(what[0]), "entries[%u]", i);
			snprintf(what[1], sizeof(what[1]), "entries[%u].term",
			         i);
			snprintf(what[2], sizeof(what[2]), "entries[%u].type",
			         i);
			snprintf(what[3], sizeof(what[3]),
			         "entries[%u].payload", i);
			r->p = at;
			return check_entry(r, names, &len);
		}
		total += len;
	}
	if (n == 0) {
		return TB_OK;
	}
	/* Second pass, known good: one batch holds every payload. */
	ae->entries = raft_calloc((size_t)n, sizeof(*ae->entries));
	batch = raft_malloc(total > 0 ? total : 1);
	if (ae->entries == NULL || batch == NULL) {
		raft_free(ae->entries);
		raft_free(batch);
		ae->entries = NULL;
		return tb_errf(r->errmsg, r->errlen, TB_ENOMEM,
		               "raft message: out of memory for %llu entries",
		               (unsigned long long)n);
	}
	r->p = start;
	for (i = 0; i < n; i++) {
		msgrd_array(r, "", 0, 3, &k);
		msgrd_u64(r, "", &term);
		msgrd_u64(r, "", &type);
		msgrd_raw(r, "", false, &p, &len);
		ae->entries[i].term = term;
		ae->entries[i].type = (unsigned short)type;
		ae->entries[i].buf.base = batch + off;
		ae->entries[i].buf.len = len;
		ae->entries[i].batch = batch;
		if (len > 0) {
			memcpy(batch + off, p, len);
		}
		off += len;
	}
	ae->n_entries = (unsigned)n;
	return TB_OK;
}

static int
decode_conf(struct msgrd *r, struct raft_configuration *conf)
{
	char what[48], addr[RAFTMSG_ADDRESS_MAX + 1];
	uint64_t n, k, id, role;
	unsigned i;
	int rv;

	raft_configuration_init(conf);
	if ((rv = msgrd_array(r, "conf", 0, RAFTMSG_MAX_SERVERS, &n)) !=
	    TB_OK) {
		return rv;
	}
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "conf[%u]", i);
		if ((rv = msgrd_array(r, what, 0, 3, &k)) != TB_OK) {
			return rv;
		}
		if (k != 3) {
			return tb_errf(
			    r->errmsg, r->errlen, TB_EMALFORMED,
			    "raft message: %s: %llu fields, 3 expected", what,
			    (unsigned long long)k);
		}
		snprintf(what, sizeof(what), "conf[%u].id", i);
		if ((rv = rd_id(r, what, &id)) != TB_OK) {
			return rv;
		}
		snprintf(what, sizeof(what), "conf[%u].address", i);
		if ((rv = rd_address(r, what, addr, sizeof(addr))) != TB_OK) {
			return rv;
		}
		snprintf(what, sizeof(what), "conf[%u].role", i);
		if ((rv = rd_max(r, what, RAFT_SPARE, &role)) != TB_OK) {
			return rv;
		}
		rv = raft_configuration_add(conf, id, addr, (int)role);
		if (rv == RAFT_NOMEM) {
			return tb_errf(r->errmsg, r->errlen, TB_ENOMEM,
			               "raft message: out of memory");
		}
		if (rv != 0) {
			return tb_errf(r->errmsg, r->errlen, TB_EMALFORMED,
			               "raft message: conf[%u]: %s (id %llu, "
			               "address %s)",
			               i, raft_strerror(rv),
			               (unsigned long long)id, addr);
		}
	}
	return TB_OK;
}

static int
decode_body(struct msgrd *r, struct raft_message *m)
{
	struct raft_install_snapshot *is = &m->install_snapshot;
	const uint8_t *p;
	uint64_t v[4];
	bool b[2];
	size_t n;
	int rv;

	switch (m->type) {
	case RAFT_IO_REQUEST_VOTE:
		if ((rv = msgrd_u64(r, "term", &v[0])) != TB_OK ||
		    (rv = rd_id(r, "candidate_id", &v[1])) != TB_OK ||
		    (rv = msgrd_u64(r, "last_log_index", &v[2])) != TB_OK ||
		    (rv = msgrd_u64(r, "last_log_term", &v[3])) != TB_OK ||
		    (rv = rd_bool(r, "disrupt_leader", &b[0])) != TB_OK ||
		    (rv = rd_bool(r, "pre_vote", &b[1])) != TB_OK) {
			return rv;
		}
		m->request_vote.term = v[0];
		m->request_vote.candidate_id = v[1];
		m->request_vote.last_log_index = v[2];
		m->request_vote.last_log_term = v[3];
		m->request_vote.disrupt_leader = b[0];
		m->request_vote.pre_vote = b[1];
		return TB_OK;
	case RAFT_IO_REQUEST_VOTE_RESULT:
		if ((rv = msgrd_u64(r, "term", &v[0])) != TB_OK ||
		    (rv = rd_bool(r, "vote_granted", &b[0])) != TB_OK ||
		    (rv = rd_max(r, "pre_vote", raft_tribool_false, &v[1])) !=
		        TB_OK) {
			return rv;
		}
		m->request_vote_result.term = v[0];
		m->request_vote_result.vote_granted = b[0];
		m->request_vote_result.pre_vote = (raft_tribool)v[1];
		return TB_OK;
	case RAFT_IO_APPEND_ENTRIES:
		if ((rv = msgrd_u64(r, "term", &v[0])) != TB_OK ||
		    (rv = msgrd_u64(r, "prev_log_index", &v[1])) != TB_OK ||
		    (rv = msgrd_u64(r, "prev_log_term", &v[2])) != TB_OK ||
		    (rv = msgrd_u64(r, "leader_commit", &v[3])) != TB_OK) {
			return rv;
		}
		m->append_entries.term = v[0];
		m->append_entries.prev_log_index = v[1];
		m->append_entries.prev_log_term = v[2];
		m->append_entries.leader_commit = v[3];
		return decode_entries(r, &m->append_entries);
	case RAFT_IO_APPEND_ENTRIES_RESULT:
		if ((rv = msgrd_u64(r, "term", &v[0])) != TB_OK ||
		    (rv = msgrd_u64(r, "rejected", &v[1])) != TB_OK ||
		    (rv = msgrd_u64(r, "last_log_index", &v[2])) != TB_OK) {
			return rv;
		}
		m->append_entries_result.term = v[0];
		m->append_entries_result.rejected = v[1];
		m->append_entries_result.last_log_index = v[2];
		return TB_OK;
	case RAFT_IO_INSTALL_SNAPSHOT:
		raft_configuration_init(&is->conf);
		if ((rv = msgrd_u64(r, "term", &v[0])) != TB_OK ||
		    (rv = msgrd_u64(r, "last_index", &v[1])) != TB_OK ||
		    (rv = msgrd_u64(r, "last_term", &v[2])) != TB_OK ||
		    (rv = msgrd_u64(r, "conf_index", &v[3])) != TB_OK ||
		    (rv = decode_conf(r, &is->conf)) != TB_OK ||
		    (rv = msgrd_raw(r, "data", false, &p, &n)) != TB_OK) {
			return rv;
		}
		is->term = v[0];
		is->last_index = v[1];
		is->last_term = v[2];
		is->conf_index = v[3];
		is->data.len = n;
		if ((is->data.base = raft_malloc(n > 0 ? n : 1)) == NULL) {
			return tb_errf(r->errmsg, r->errlen, TB_ENOMEM,
			               "raft message: out of memory for %zu "
			               "bytes of snapshot",
			               n);
		}
		if (n > 0) {
			memcpy(is->data.base, p, n);
		}
		return TB_OK;
	default: /* TIMEOUT_NOW: the type was checked */
		if ((rv = msgrd_u64(r, "term", &v[0])) != TB_OK ||
		    (rv = msgrd_u64(r, "last_log_index", &v[1])) != TB_OK ||
		    (rv = msgrd_u64(r, "last_log_term", &v[2])) != TB_OK) {
			return rv;
		}
		m->timeout_now.term = v[0];
		m->timeout_now.last_log_index = v[1];
		m->timeout_now.last_log_term = v[2];
		return TB_OK;
	}
}

int
raftmsg_decode(const uint8_t *buf, size_t len, struct raft_message *msg,
               char *addr, size_t addrlen, char *errmsg, size_t errlen)
{
	struct msgrd r = { buf, buf + len, errmsg, errlen, "raft message" };
	uint64_t n, version, type, from;
	int rv;

	memset(msg, 0, sizeof(*msg));
	if (len > RAFTMSG_MAX) {
		return tb_errf(errmsg, errlen, TB_ETOOBIG,
		               "raft message: %zu bytes, over %u", len,
		               RAFTMSG_MAX);
	}
	if ((rv = msgrd_array(&r, "message", 0, 16, &n)) != TB_OK ||
	    (rv = msgrd_u64(&r, "version", &version)) != TB_OK) {
		return rv;
	}
	if (version != RAFTMSG_VERSION) {
		return tb_errf(
		    errmsg, errlen, TB_EMALFORMED,
		    "raft message: version %llu (this node speaks %u)",
		    (unsigned long long)version, RAFTMSG_VERSION);
	}
	if ((rv = msgrd_u64(&r, "type", &type)) != TB_OK) {
		return rv;
	}
	if (type < RAFT_IO_APPEND_ENTRIES || type > RAFT_IO_TIMEOUT_NOW) {
		return tb_errf(errmsg, errlen, TB_ERANGE,
		               "raft message: type %llu is not a message type "
		               "(1..6)",
		               (unsigned long long)type);
	}
	if (n != 4 + raftmsg_n_fields[type]) {
		return tb_errf(
		    errmsg, errlen, TB_EMALFORMED,
		    "raft message: %s has %llu elements, %u expected",
		    raftmsg_type_name((unsigned)type), (unsigned long long)n,
		    4 + raftmsg_n_fields[type]);
	}
	msg->type = (unsigned short)type;
	if ((rv = rd_id(&r, "from_id", &from)) != TB_OK ||
	    (rv = rd_address(&r, "from_address", addr, addrlen)) != TB_OK ||
	    (rv = decode_body(&r, msg)) != TB_OK) {
		goto err;
	}
	if (r.p != r.end) {
		rv = tb_errf(errmsg, errlen, TB_EMALFORMED,
		             "raft message: %zu bytes after the %s",
		             msgrd_left(&r), raftmsg_type_name(msg->type));
		goto err;
	}
	msg->server_id = from;
	msg->server_address = addr;
	return TB_OK;
err:
	raftmsg_release(msg);
	memset(msg, 0, sizeof(*msg));
	return rv;
}

void
raftmsg_release(struct raft_message *msg)
{
	switch (msg->type) {
	case RAFT_IO_APPEND_ENTRIES:
		if (msg->append_entries.entries != NULL) {
			raft_free(msg->append_entries.entries[0].batch);
			raft_free(msg->append_entries.entries);
		}
		msg->append_entries.entries = NULL;
		msg->append_entries.n_entries = 0;
		break;
	case RAFT_IO_INSTALL_SNAPSHOT:
		raft_configuration_close(&msg->install_snapshot.conf);
		raft_free(msg->install_snapshot.data.base);
		msg->install_snapshot.data.base = NULL;
		break;
	default:
		break;
	}
}
