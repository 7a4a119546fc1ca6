/* Deterministic test of a follower's batched forwards (node/group_fwdb.c):
 * the link to the leader is a recorder (the test reads each request and
 * gives the leader's answer, or a failure, when it wants), Raft's state is
 * set by hand in struct raft (term, commit, applied), and HTTP answers are
 * recorded. Checked:
 *  - writes queued in one wake-up go as one request of their encoded
 *    commands; writes that come while it is unanswered or uncommitted are
 *    held, and go once the commit is known;
 *  - the answer's indexes: a write is handed to the applier when this
 *    member applies its index in the same term, and answered 503 (never
 *    with another write's result) when the term changed first; a refused
 *    command is answered 409 feature_level;
 *  - an entry applied before the answer naming it arrived keeps its result
 *    (the stash), and the answer then gets it;
 *  - the leader refusing the batch (not the leader any more) is 503
 *    not_leader with the reason, a timeout 504; a leader without the batch
 *    handler gets the writes one by one; a stop answers 503 closed;
 *  - every write is answered exactly once. */
#define http_reply_error test_reply_error
#define http_reply_json  test_reply_json
#define link_request     test_link_request
/* group_fwd.c too (the one-by-one way), so that its answers are recorded;
 * its own leader check stays (no links here: no leader). */
#define group_fwd_target real_fwd_target
#include "node/group_fwd.c"
#undef group_fwd_target
bool test_fwd_target(struct group *g, char leader[17], char *why, size_t len);
#define group_fwd_target test_fwd_target
#include "node/group_fwdb.c"
#undef http_reply_error
#undef http_reply_json
#undef link_request
#undef group_fwd_target

#include "tests/tap.h"

#include <stdarg.h>

#define MAXCALLS 32
#include "tests/reply_rec.h"

static struct node N;
static struct group *G;

void
test_reply_json(struct http_call *c, uint16_t status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	record(c, status, "", text != NULL ? text : "");
	free(text);
	json_decref(body);
}

bool
test_fwd_target(struct group *g, char leader[17], char *why, size_t len)
{
	(void)g;
	(void)why;
	(void)len;
	snprintf(leader, 17, "00000000000000aa");
	return true;
}

/* The link: requests sent, in order, each answered once by the test. */
static struct {
	link_response_fn cb;
	void *arg;
	uint8_t body[4096];
	size_t len;
} REQ[8];
static unsigned NREQ;

int
test_link_request(struct links *ls, const char *peer, uint32_t type,
                  const void *msg, size_t len, unsigned timeout_ms,
                  link_response_fn cb, void *arg)
{
	(void)ls;
	(void)peer;
	(void)timeout_ms;
	if (type != GROUP_T_FWDB || len > sizeof(REQ[0].body)) {
		return TB_EINVAL;
	}
	REQ[NREQ].cb = cb;
	REQ[NREQ].arg = arg;
	memcpy(REQ[NREQ].body, msg, len);
	REQ[NREQ].len = len;
	NREQ++;
	return TB_OK;
}

/* answer gives request i the leader's answer: term, and per command an
 * index (> 0) or a refusal (0: TB_EFEATURE). */
static void
answer(unsigned i, uint64_t term, const uint64_t *idx, unsigned n)
{
	struct fwdmsg_ans ans[8];
	struct link_msg m;
	unsigned k;
	void *out;
	size_t len;

	for (k = 0; k < n; k++) {
		memset(&ans[k], 0, sizeof(ans[k]));
		ans[k].index = idx[k];
		if (idx[k] == 0) {
			ans[k].code = TB_EFEATURE;
			ans[k].why = "handoff.offer needs feature level 3";
		}
	}
	fwdmsg_ans_encode(term, ans, n, &out, &len);
	memset(&m, 0, sizeof(m));
	m.body = out;
	m.len = len;
	REQ[i].cb(REQ[i].arg, TB_OK, &m);
	free(out);
}

static void
fail(unsigned i, int status, const char *why)
{
	struct link_msg m;

	memset(&m, 0, sizeof(m));
	m.body = (const uint8_t *)why;
	m.len = why != NULL ? strlen(why) : 0;
	REQ[i].cb(REQ[i].arg, status, why != NULL ? &m : NULL);
}

static unsigned
commands_in(unsigned i)
{
	struct fwdmsg_cmd cmds[FWDMSG_MAX];
	unsigned n = 0;
	char err[128];

	if (fwdmsg_req_decode(REQ[i].body, REQ[i].len, cmds, FWDMSG_MAX, &n,
	                      err, sizeof(err)) != TB_OK) {
		return 0;
	}
	return n;
}

static void
queue(int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		struct http_call *c = calloc(1, sizeof(*c));
		snprintf(c->path, sizeof(c->path), "%d", i);
		snprintf(c->method, sizeof(c->method), "POST");
		c->cmd.len = 8;
		c->cmd.base = raft_malloc(8);
		memset(c->cmd.base, i, 8);
		c->start_ns = http_now_ns();
		group_fwd_queue(&N, c);
	}
	group_fwd_release(&N); /* before the loop waits */
}

/* apply is node_fsm_apply's part: the entry at index is applied here; a
 * call handed over is acknowledged as the applier would (201). */
static void
apply(raft_index index, json_t *result)
{
	struct http_call *c = group_take_call(&N, index);
	void *p = c == NULL ? group_take_prop(&N, index) : NULL;

	N.raft.last_applied = index;
	if (c != NULL) {
		json_decref(result);
		record(c, 201, "", "applied here");
	} else if (p != NULL) {
		group_prop_done(p, TB_OK, result); /* after the commit */
	} else {
		json_decref(result);
	}
}

static int
answered(int from, int to)
{
	int i, k = 0;

	for (i = from; i < to; i++) {
		k += R[i].answers;
	}
	return k;
}

int
main(void)
{
	uint64_t idx[8];

	uv_loop_init(&N.loop);
	G = calloc(1, sizeof(*G));
	G->n = &N;
	N.group = G;
	N.raft.state = RAFT_FOLLOWER;
	N.raft.current_term = 5;
	N.raft.commit_index = 9;
	N.raft.last_applied = 9;

	/* One wake-up: one request. */
	queue(1, 4);
	is_int(NREQ, 1, "three writes queued in one wake-up go as one request");
	is_int(commands_in(0), 3, "  of three commands");
	queue(4, 6);
	is_int(NREQ, 1, "two more wait while it is unanswered");
	idx[0] = 10, idx[1] = 11, idx[2] = 0;
	answer(0, 5, idx, 3);
	is_int(R[3].answers == 1 && R[3].status == 409 &&
	           !strcmp(R[3].code, "feature_level"),
	       1, "a command the leader refused is answered 409 (%s)",
	       R[3].msg);
	group_fwd_release(&N);
	is_int(NREQ, 1, "  and still wait while its entries are not committed");
	N.raft.commit_index = 11;
	group_fwd_release(&N);
	is_int(NREQ, 2, "they go once the commit is known here");
	is_int(commands_in(1), 2, "  as one request of two");

	apply(10, json_pack("{s:s}", "id", "w1"));
	is_int(
	    R[1].answers == 1 && R[1].status == 201, 1,
	    "entry 10 applied in the leader's term: write 1 is handed to the "
	    "applier and acknowledged");
	N.raft.current_term = 6; /* a new leader before entry 11 applied */
	apply(11, json_pack("{s:s}", "id", "someone else's"));
	is_int(
	    R[2].answers == 1 && R[2].status == 503 &&
	        strstr(R[2].msg, "leader changed") != NULL,
	    1,
	    "entry 11 applied after the term changed: 503, not its result (%s)",
	    R[2].msg);

	/* The second batch: the answer comes after this member applied the
	 * first entry (another link): its result was kept. */
	apply(12, json_pack("{s:s}", "id", "w4"));
	idx[0] = 12, idx[1] = 13;
	answer(1, 6, idx, 2);
	is_int(R[4].answers == 1 && R[4].status == 201 &&
	           strstr(R[4].msg, "w4") != NULL,
	       1,
	       "an entry applied before the answer: answered with its kept "
	       "result (%s)",
	       R[4].msg);
	is_int(R[5].answers, 0, "  the other waits for entry 13");
	apply(13, json_pack("{s:s}", "id", "w5"));
	is_int(R[5].answers == 1 && R[5].status == 201, 1,
	       "  and is acknowledged when it applies");
	ok(G->stash == NULL && G->fcalls == NULL,
	   "nothing is kept once answered");

	/* The leader refuses a batch (lost leadership) or does not answer. */
	N.raft.commit_index = 13;
	queue(6, 8);
	fail(2, TB_ECONFLICT, "not the leader (any more)");
	is_int(
	    R[6].status == 503 && !strcmp(R[6].code, "not_leader") &&
	        strstr(R[6].msg, "not the leader") != NULL &&
	        R[7].status == 503,
	    1,
	    "a batch the leader refuses: 503 not_leader with its reason (%s)",
	    R[6].msg);
	queue(8, 9);
	fail(3, TB_ETIMEOUT, NULL);
	is_int(R[8].status, 504, "no answer in time: 504 (%s)", R[8].msg);

	/* A leader whose build has no batch handler: the writes go one by
	 * one as JSON requests (group_forward_cmd; these test commands are
	 * not real ones, so that path refuses them: 500), and so do later
	 * ones while it leads. */
	queue(12, 13);
	fail(4, TB_ENOTIMPL, "no handler");
	is_str(G->fwdb_off, "00000000000000aa",
	       "a leader without the batch handler is remembered");
	ok(R[12].answers == 1 && R[12].status == 500 &&
	       strstr(R[12].msg, "does not decode") != NULL,
	   "  its writes went the one-by-one way (%s)", R[12].msg);
	queue(13, 14);
	is_int(NREQ, 5, "  and so do later ones: no batch request");
	is_int(R[13].answers, 1, "  (answered by that way)");
	memset(G->fwdb_off, 0, sizeof(G->fwdb_off));

	/* Stopping: queued and waiting writes are answered 503 closed. */
	queue(9, 10);
	idx[0] = 20;
	answer(5, 6, idx, 1);
	queue(10, 12); /* held behind entry 20 */
	N.stopping = true;
	group_fwdb_stop(G);
	is_int(R[9].status == 503 && R[10].status == 503 &&
	           R[11].status == 503 && !strcmp(R[9].code, "closed") &&
	           !strcmp(R[10].code, "closed"),
	       1, "a stop answers the waiting and the held writes 503 closed");
	is_int(answered(1, 14), 13,
	       "each of the thirteen writes is answered exactly once");
	group_fwdb_free(G);
	free(G);
	uv_loop_close(&N.loop);
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
