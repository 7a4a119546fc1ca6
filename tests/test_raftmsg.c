/* Tests for the wire form of Raft messages: a round trip of every type,
 * every truncation, wrong types, oversized counts, trailing bytes, and
 * that a refusal leaves nothing allocated (ASan's leak check). */
#include "consensus/raftmsg.h"
#include "schema/error.h"
#include "tests/tap.h"

#include <msgpack.h>
#include <stdbool.h>

static char addr[RAFTMSG_ADDRESS_MAX + 1];
static char err[256];

/* msgs fills one message of every type. */
static unsigned
msgs(struct raft_message *m, struct raft_entry *ents, struct raft_server *srv)
{
	static char p0[] = "first command", p2[] = "third";
	static char a1[] = "127.0.0.1:7401", a2[] = "10.0.0.2:7401",
	            a3[] = "node-3.example:7401";
	static char snap[] = "tongban-marker applied=42";
	unsigned k = 0;

	memset(m, 0, 6 * sizeof(*m));
	m[k].type = RAFT_IO_REQUEST_VOTE;
	m[k].request_vote =
	    (struct raft_request_vote){ 7, 3, 100, 6, true, false };
	k++;
	m[k].type = RAFT_IO_REQUEST_VOTE_RESULT;
	m[k].request_vote_result.term = 7;
	m[k].request_vote_result.vote_granted = true;
	m[k].request_vote_result.pre_vote = raft_tribool_false;
	k++;
	ents[0] =
	    (struct raft_entry){ 5, RAFT_COMMAND, { p0, strlen(p0) }, NULL };
	ents[1] = (struct raft_entry){ 6, RAFT_BARRIER, { NULL, 0 }, NULL };
	ents[2] = (struct raft_entry){
		0xffffffffffull, RAFT_CHANGE, { p2, strlen(p2) }, NULL
	};
	m[k].type = RAFT_IO_APPEND_ENTRIES;
	m[k].append_entries.term = 1ull << 40;
	m[k].append_entries.prev_log_index = 99;
	m[k].append_entries.prev_log_term = 4;
	m[k].append_entries.leader_commit = 98;
	m[k].append_entries.entries = ents;
	m[k].append_entries.n_entries = 3;
	k++;
	m[k].type = RAFT_IO_APPEND_ENTRIES_RESULT;
	m[k].append_entries_result.term = 8;
	m[k].append_entries_result.rejected = 77;
	m[k].append_entries_result.last_log_index = 76;
	k++;
	srv[0] = (struct raft_server){ 0x4a68ff3afb317469ull, a1, RAFT_VOTER };
	srv[1] = (struct raft_server){ 2, a2, RAFT_STANDBY };
	srv[2] = (struct raft_server){ 3, a3, RAFT_SPARE };
	m[k].type = RAFT_IO_INSTALL_SNAPSHOT;
	m[k].install_snapshot.term = 9;
	m[k].install_snapshot.last_index = 42;
	m[k].install_snapshot.last_term = 8;
	m[k].install_snapshot.conf.servers = srv;
	m[k].install_snapshot.conf.n = 3;
	m[k].install_snapshot.conf_index = 40;
	m[k].install_snapshot.data.base = snap;
	m[k].install_snapshot.data.len = strlen(snap);
	k++;
	m[k].type = RAFT_IO_TIMEOUT_NOW;
	m[k].timeout_now = (struct raft_timeout_now){ 10, 200, 9 };
	return k + 1;
}

static bool
buf_eq(const struct raft_buffer *a, const struct raft_buffer *b)
{
	return a->len == b->len &&
	       (a->len == 0 || !memcmp(a->base, b->base, a->len));
}

/* same compares a decoded message with what was encoded. */
static bool
same(const struct raft_message *a, const struct raft_message *b)
{
	unsigned i;

	if (a->type != b->type) {
		return false;
	}
	switch (a->type) {
	case RAFT_IO_REQUEST_VOTE:
		return !memcmp(&a->request_vote, &b->request_vote,
		               offsetof(struct raft_request_vote,
		                        disrupt_leader)) &&
		       a->request_vote.disrupt_leader ==
		           b->request_vote.disrupt_leader &&
		       a->request_vote.pre_vote == b->request_vote.pre_vote;
	case RAFT_IO_REQUEST_VOTE_RESULT:
		return a->request_vote_result.term ==
		           b->request_vote_result.term &&
		       a->request_vote_result.vote_granted ==
		           b->request_vote_result.vote_granted &&
		       a->request_vote_result.pre_vote ==
		           b->request_vote_result.pre_vote;
	case RAFT_IO_APPEND_ENTRIES:
		if (a->append_entries.term != b->append_entries.term ||
		    a->append_entries.prev_log_index !=
		        b->append_entries.prev_log_index ||
		    a->append_entries.prev_log_term !=
		        b->append_entries.prev_log_term ||
		    a->append_entries.leader_commit !=
		        b->append_entries.leader_commit ||
		    a->append_entries.n_entries !=
		        b->append_entries.n_entries) {
			return false;
		}
		for (i = 0; i < a->append_entries.n_entries; i++) {
			const struct raft_entry
			    *x = &a->append_entries.entries[i],
			    *y = &b->append_entries.entries[i];
			if (x->term != y->term || x->type != y->type ||
			    !buf_eq(&x->buf, &y->buf)) {
				return false;
			}
		}
		return true;
	case RAFT_IO_APPEND_ENTRIES_RESULT:
		return !memcmp(&a->append_entries_result,
		               &b->append_entries_result,
		               sizeof(a->append_entries_result));
	case RAFT_IO_INSTALL_SNAPSHOT: {
		const struct raft_install_snapshot *x = &a->install_snapshot,
		                                   *y = &b->install_snapshot;
		if (x->term != y->term || x->last_index != y->last_index ||
		    x->last_term != y->last_term ||
		    x->conf_index != y->conf_index || x->conf.n != y->conf.n ||
		    !buf_eq(&x->data, &y->data)) {
			return false;
		}
		for (i = 0; i < x->conf.n; i++) {
			if (x->conf.servers[i].id != y->conf.servers[i].id ||
			    x->conf.servers[i].role !=
			        y->conf.servers[i].role ||
			    strcmp(x->conf.servers[i].address,
			           y->conf.servers[i].address)) {
				return false;
			}
		}
		return true;
	}
	default:
		return !memcmp(&a->timeout_now, &b->timeout_now,
		               sizeof(a->timeout_now));
	}
}

static void
test_round_trips(void)
{
	struct raft_message m[6], d;
	struct raft_entry ents[3];
	struct raft_server srv[3];
	unsigned k = msgs(m, ents, srv), i;
	uint8_t *buf;
	size_t len, cut;
	int rv;

	for (i = 0; i < k; i++) {
		const char *name = raftmsg_type_name(m[i].type);
		rv = raftmsg_encode(&m[i], 0x1234, "127.0.0.1:9", &buf, &len,
		                    err, sizeof(err));
		is_int(rv, TB_OK, "%s encodes (%s)", name, rv ? err : "");
		if (rv != TB_OK) {
			continue;
		}
		rv = raftmsg_decode(buf, len, &d, addr, sizeof(addr), err,
		                    sizeof(err));
		is_int(rv, TB_OK, "%s decodes (%s)", name, rv ? err : "");
		ok(rv == TB_OK && same(&m[i], &d), "%s round-trips", name);
		is_int(d.server_id, 0x1234, "%s: the sender's id", name);
		is_str(d.server_address, "127.0.0.1:9",
		       "%s: the sender's address", name);
		if (m[i].type == RAFT_IO_APPEND_ENTRIES) {
			ok(d.append_entries.entries[0].batch ==
			           d.append_entries.entries[2].batch &&
			       d.append_entries.entries[0].batch != NULL,
			   "entries share one batch (libraft frees it once)");
		}
		raftmsg_release(&d);
		/* Every proper prefix is refused, with a reason and nothing
		 * left allocated. */
		for (cut = 0; cut < len; cut++) {
			err[0] = '\0';
			rv = raftmsg_decode(buf, cut, &d, addr, sizeof(addr),
			                    err, sizeof(err));
			if (rv == TB_OK || err[0] == '\0') {
				break;
			}
		}
		is_int(cut, len, "%s: all %zu truncations are refused", name,
		       len);
		/* A byte more is refused too. */
		{
			uint8_t *more = malloc(len + 1);
			memcpy(more, buf, len);
			more[len] = 0;
			rv = raftmsg_decode(more, len + 1, &d, addr,
			                    sizeof(addr), err, sizeof(err));
			is_int(rv, TB_EMALFORMED, "%s: a trailing byte: %s",
			       name, err);
			free(more);
		}
		free(buf);
	}
}

/* pack builds test input with msgpack-c. */
struct pk {
	msgpack_sbuffer sb;
	msgpack_packer p;
};

static void
pk_init(struct pk *k)
{
	msgpack_sbuffer_init(&k->sb);
	msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
}

static void
pk_head(struct pk *k, unsigned n, unsigned type)
{
	msgpack_pack_array(&k->p, n);
	msgpack_pack_uint64(&k->p, 1);
	msgpack_pack_uint64(&k->p, type);
	msgpack_pack_uint64(&k->p, 5);
	msgpack_pack_str_with_body(&k->p, "a:1", 3);
}

static int
pk_decode(struct pk *k, struct raft_message *d)
{
	int rv = raftmsg_decode((uint8_t *)k->sb.data, k->sb.size, d, addr,
	                        sizeof(addr), err, sizeof(err));
	if (rv == TB_OK) {
		raftmsg_release(d);
	}
	msgpack_sbuffer_destroy(&k->sb);
	return rv;
}

static void
test_refusals(void)
{
	struct raft_message d, m;
	struct pk k;
	uint8_t *buf;
	size_t len;
	int rv;
	unsigned i;

	/* Wrong version, type, element count. */
	pk_init(&k);
	msgpack_pack_array(&k.p, 7);
	msgpack_pack_uint64(&k.p, 2);
	is_int(pk_decode(&k, &d), TB_EMALFORMED, "version 2: %s", err);
	pk_init(&k);
	pk_head(&k, 7, 9);
	is_int(pk_decode(&k, &d), TB_ERANGE, "type 9: %s", err);
	pk_init(&k);
	pk_head(&k, 6, RAFT_IO_TIMEOUT_NOW);
	is_int(pk_decode(&k, &d), TB_EMALFORMED, "6 elements: %s", err);
	/* Wrong msgpack types. */
	pk_init(&k);
	pk_head(&k, 7, RAFT_IO_TIMEOUT_NOW);
	msgpack_pack_int64(&k.p, -1);
	is_int(pk_decode(&k, &d), TB_ETYPE, "a negative term: %s", err);
	ok(strstr(err, "term") != NULL, "the reason names term");
	pk_init(&k);
	pk_head(&k, 10, RAFT_IO_REQUEST_VOTE);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_uint64(&k.p, 1); /* disrupt_leader as 1 */
	msgpack_pack_false(&k.p);
	is_int(pk_decode(&k, &d), TB_ETYPE, "an integer for a bool: %s", err);
	pk_init(&k);
	pk_head(&k, 10, RAFT_IO_REQUEST_VOTE);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_uint64(&k.p, 0); /* candidate 0 */
	is_int(pk_decode(&k, &d), TB_ERANGE, "candidate id 0: %s", err);
	pk_init(&k);
	pk_head(&k, 7, RAFT_IO_REQUEST_VOTE_RESULT);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_true(&k.p);
	msgpack_pack_uint64(&k.p, 3);
	is_int(pk_decode(&k, &d), TB_ERANGE, "pre_vote tribool 3: %s", err);
	/* Append entries: an entry type, a string payload, counts. */
	pk_init(&k);
	pk_head(&k, 9, RAFT_IO_APPEND_ENTRIES);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_array(&k.p, 3);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_uint64(&k.p, 4);
	msgpack_pack_bin_with_body(&k.p, "x", 1);
	is_int(pk_decode(&k, &d), TB_ERANGE, "entry type 4: %s", err);
	ok(strstr(err, "entries[0].type") != NULL, "names entries[0].type");
	pk_init(&k);
	pk_head(&k, 9, RAFT_IO_APPEND_ENTRIES);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, 2);
	msgpack_pack_array(&k.p, 3);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_bin_with_body(&k.p, "x", 1);
	msgpack_pack_array(&k.p, 3);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_str_with_body(&k.p, "x", 1);
	is_int(pk_decode(&k, &d), TB_ETYPE, "a string payload: %s", err);
	/* The second entry fails: its names are formatted for it alone. */
	is_str(err,
	       "raft message: entries[1].payload: binary data expected, "
	       "found msgpack 0xa1",
	       "names entries[1].payload");
	pk_init(&k);
	pk_head(&k, 9, RAFT_IO_APPEND_ENTRIES);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, RAFTMSG_MAX_ENTRIES + 1);
	is_int(pk_decode(&k, &d), TB_ETOOBIG, "%u entries: %s",
	       RAFTMSG_MAX_ENTRIES + 1, err);
	pk_init(&k);
	pk_head(&k, 9, RAFT_IO_APPEND_ENTRIES);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, 60000);
	is_int(pk_decode(&k, &d), TB_ETRUNC,
	       "60000 entries declared in a few bytes: %s", err);
	/* A bin declaring more than there is. */
	pk_init(&k);
	pk_head(&k, 10, RAFT_IO_INSTALL_SNAPSHOT);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, 0);
	msgpack_pack_bin(&k.p, 1u << 30);
	is_int(pk_decode(&k, &d), TB_ETRUNC, "a 1 GiB snapshot declared: %s",
	       err);
	/* Configurations: too many, duplicate ids, a role, an address. */
	pk_init(&k);
	pk_head(&k, 10, RAFT_IO_INSTALL_SNAPSHOT);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, RAFTMSG_MAX_SERVERS + 1);
	is_int(pk_decode(&k, &d), TB_ETOOBIG, "%u servers: %s",
	       RAFTMSG_MAX_SERVERS + 1, err);
	pk_init(&k);
	pk_head(&k, 10, RAFT_IO_INSTALL_SNAPSHOT);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, 2);
	for (i = 0; i < 2; i++) {
		msgpack_pack_array(&k.p, 3);
		msgpack_pack_uint64(&k.p, 7);
		msgpack_pack_str_with_body(&k.p, i ? "b:1" : "a:1", 3);
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_bin_with_body(&k.p, "s", 1);
	is_int(pk_decode(&k, &d), TB_EMALFORMED, "a duplicate id: %s", err);
	pk_init(&k);
	pk_head(&k, 10, RAFT_IO_INSTALL_SNAPSHOT);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, 2);
	msgpack_pack_array(&k.p, 3);
	msgpack_pack_uint64(&k.p, 7);
	msgpack_pack_str_with_body(&k.p, "a:1", 3);
	msgpack_pack_uint64(&k.p, 1);
	msgpack_pack_array(&k.p, 3);
	msgpack_pack_uint64(&k.p, 8);
	msgpack_pack_str_with_body(&k.p, "b:1", 3);
	msgpack_pack_uint64(&k.p, 3);
	is_int(pk_decode(&k, &d), TB_ERANGE, "role 3: %s", err);
	ok(strstr(err, "conf[1].role") != NULL, "names conf[1].role");
	pk_init(&k);
	pk_head(&k, 10, RAFT_IO_INSTALL_SNAPSHOT);
	for (i = 0; i < 4; i++) {
		msgpack_pack_uint64(&k.p, 1);
	}
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_array(&k.p, 3);
	msgpack_pack_uint64(&k.p, 7);
	msgpack_pack_str_with_body(&k.p, "a\0b", 3);
	is_int(pk_decode(&k, &d), TB_EMALFORMED, "an address with a NUL: %s",
	       err);
	/* The encoder refuses what libraft never makes. */
	memset(&m, 0, sizeof(m));
	m.type = 7;
	rv = raftmsg_encode(&m, 1, "a:1", &buf, &len, err, sizeof(err));
	is_int(rv, TB_EINVAL, "encode: type 7: %s", err);
	m.type = RAFT_IO_TIMEOUT_NOW;
	rv = raftmsg_encode(&m, 0, "a:1", &buf, &len, err, sizeof(err));
	is_int(rv, TB_EINVAL, "encode: sender id 0: %s", err);
	rv = raftmsg_encode(&m, 1, "", &buf, &len, err, sizeof(err));
	is_int(rv, TB_EINVAL, "encode: an empty address: %s", err);
	m.type = RAFT_IO_APPEND_ENTRIES;
	m.append_entries.n_entries = RAFTMSG_MAX_ENTRIES + 1;
	rv = raftmsg_encode(&m, 1, "a:1", &buf, &len, err, sizeof(err));
	is_int(rv, TB_ETOOBIG, "encode: too many entries: %s", err);
}

/* An append entries without entries decodes with entries NULL, which
 * libraft's recv path accepts and frees nothing for. */
static void
test_heartbeat(void)
{
	struct raft_message m = { 0 }, d;
	uint8_t *buf;
	size_t len;

	m.type = RAFT_IO_APPEND_ENTRIES;
	m.append_entries.term = 3;
	raftmsg_encode(&m, 2, "h:2", &buf, &len, err, sizeof(err));
	is_int(
	    raftmsg_decode(buf, len, &d, addr, sizeof(addr), err, sizeof(err)),
	    TB_OK, "a heartbeat decodes");
	ok(d.append_entries.entries == NULL && d.append_entries.n_entries == 0,
	   "with no entries array");
	ok(len < 32, "a heartbeat is small (%zu bytes)", len);
	raftmsg_release(&d);
	free(buf);
}

/* A large AppendEntries (encoded into a buffer sized once, raftmsg_encode.c
 * presize): the bytes are msgpack-c's own packing of the layout, with every
 * field at its widest, and the message decodes back to the same entries. */
static void
test_large_append(void)
{
	enum { N = 64, LEN = 1500 };
	static struct raft_entry ents[N];
	static uint8_t pay[N][LEN];
	char from[RAFTMSG_ADDRESS_MAX + 1];
	struct raft_message m = { 0 }, d;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t *buf;
	size_t len;
	unsigned i;

	memset(from, 'a', RAFTMSG_ADDRESS_MAX);
	from[RAFTMSG_ADDRESS_MAX] = '\0';
	for (i = 0; i < N; i++) {
		memset(pay[i], (int)(i * 7 + 1), LEN);
		ents[i] = (struct raft_entry){
			~0ull - i, RAFT_COMMAND, { pay[i], LEN - i }, NULL
		};
	}
	m.type = RAFT_IO_APPEND_ENTRIES;
	m.append_entries =
	    (struct raft_append_entries){ ~0ull,     ~0ull - 1, ~0ull - 2,
		                          ~0ull - 3, ents,      N };
	is_int(raftmsg_encode(&m, ~0ull, from, &buf, &len, err, sizeof(err)),
	       TB_OK, "a %u-entry append of ~%u KiB encodes", N,
	       N * LEN / 1024);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint64(&pk, RAFTMSG_VERSION);
	msgpack_pack_uint64(&pk, RAFT_IO_APPEND_ENTRIES);
	msgpack_pack_uint64(&pk, ~0ull);
	msgpack_pack_str(&pk, strlen(from));
	msgpack_pack_str_body(&pk, from, strlen(from));
	msgpack_pack_uint64(&pk, ~0ull);
	msgpack_pack_uint64(&pk, ~0ull - 1);
	msgpack_pack_uint64(&pk, ~0ull - 2);
	msgpack_pack_uint64(&pk, ~0ull - 3);
	msgpack_pack_array(&pk, N);
	for (i = 0; i < N; i++) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint64(&pk, ents[i].term);
		msgpack_pack_uint64(&pk, RAFT_COMMAND);
		msgpack_pack_bin(&pk, ents[i].buf.len);
		msgpack_pack_bin_body(&pk, ents[i].buf.base, ents[i].buf.len);
	}
	ok(len == sb.size && !memcmp(buf, sb.data, len),
	   "its bytes are msgpack-c's packing of the layout (%zu bytes)", len);
	msgpack_sbuffer_destroy(&sb);
	is_int(
	    raftmsg_decode(buf, len, &d, addr, sizeof(addr), err, sizeof(err)),
	    TB_OK, "it decodes");
	ok(same(&m, &d) && !strcmp(addr, from), "to the same message");
	raftmsg_release(&d);
	free(buf);
}

int
main(void)
{
	test_round_trips();
	test_refusals();
	test_heartbeat();
	test_large_append();
	return done_testing();
}
