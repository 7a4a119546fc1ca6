/* Revocation lists and the root down the tree, on real stores
 * (docs/REPLICATION.md "Trust down the tree"): a city (370100) and a county
 * (370102) at feature level 4. The city's crl.put and root.put append
 * "crl" and "root" entries to its stream towards the county; the county
 * applies them with crl.put's and root.put's checks (a tampered list is
 * refused naming its field, the cursor stays); a document it already holds
 * is accepted without a change; a late child's stream starts with the
 * root and the lists; a county at level 3 refuses the kinds. */
#include "node/region_store.h"
#include "node/store.h"
#include "schema/cert.h"
#include "schema/cert_crl.h"
#include "schema/cert_issue.h"
#include "schema/trust.h"
#include "tests/ctoken_util.h"
#include "tests/tap.h"
#include "tests/store_util.h"

static struct key off1, k0, k1, k2;
static json_t *root, *c0, *c1, *c2;
static struct store *A, *B, *L; /* 370100, 370102 (level 4), 370103 (3) */
static uint64_t IDX_A, IDX_B, IDX_L;

static json_t *
issue(const char *region, const struct key *k, const json_t *issuer,
      const struct key *s, const char *serial)
{
	struct cert_issue_args a = { serial, NULL, NOW - DAY, NOW + YEAR };
	json_t *req = NULL, *c = NULL;
	char err[200];

	cert_request_build(CERT_REGION, region, NULL, k->pk, NULL, NULL, &req);
	trust_sign(req, k->sk, err, sizeof(err));
	if (cert_issue(req, issuer, &a, &c, err, sizeof(err)) != 0) {
		printf("# cert_issue: %s\n", err);
	}
	json_decref(req);
	if (c != NULL) {
		trust_sign(c, s->sk, err, sizeof(err));
	}
	return c;
}

/* apply applies (type, body stolen) at s at NOW; returns the result. */
static json_t *
apply(struct store *s, uint64_t *idx, enum cmd_type t, json_t *body)
{
	struct canon_buf b = su_encode(t, NOW, NULL, body);
	json_t *res = NULL;
	int rv = store_apply(s, ++*idx, b.data, b.len, &res);

	canon_buf_free(&b);
	if (rv != 0) {
		printf("# store_apply: %s\n", tb_strerror(rv));
	}
	return res;
}

static const char *
err_field(const json_t *res)
{
	const char *f = spec_str(json_object_get(res, "error"), "field");
	return f != NULL ? f : "";
}

/* entry reads entry seq of s's stream to dest, decoded (NULL if none). */
static json_t *
entry(struct store *s, uint32_t dest, uint64_t seq)
{
	json_t *e = NULL;
	uint8_t *p = NULL;
	size_t len = 0;
	char err[128];

	if (region_store_entry(s, dest, (struct outbox_pos){ 1, seq }, &p,
	                       &len) == TB_OK) {
		canon_decode(p, len, &canon_default_limits, &e, err,
		             sizeof(err));
	}
	free(p);
	return e;
}

/* deliver applies outbox.deliver of e (borrowed) at seq at the county. */
static json_t *
deliver(struct store *s, uint64_t *idx, uint64_t seq, const json_t *e)
{
	return apply(s, idx, CMD_OUTBOX_DELIVER,
	             json_pack("{s:s, s:i, s:I, s:O}", "origin", "370100",
	                       "inc", 1, "seq", (json_int_t)seq, "entry", e));
}

static uint64_t
cursor(struct store *s)
{
	struct outbox_in in = { 0 };

	region_store_in(s, 370100, &in);
	return in.cursor.seq;
}

static long long
crl_version(struct store *s)
{
	json_t *arr = NULL;
	long long v = -1;

	if (store_crls(s, &arr) == 0 && json_array_size(arr) > 0) {
		v = spec_int(json_array_get(arr, 0), "version", -1);
	}
	json_decref(arr);
	return v;
}

static void
level(struct store *s, uint64_t *idx, int to)
{
	json_decref(
	    apply(s, idx, CMD_GROUP_FEATURE, json_pack("{s:i}", "level", to)));
}

int
main(void)
{
	char da[64], db[64], dl[64], err[200];
	json_t *r, *e, *bad, *v1 = NULL;

	if (sodium_init() < 0) {
		return 1;
	}
	key_make(&off1, 1);
	key_make(&k0, 10);
	key_make(&k1, 11);
	key_make(&k2, 12);
	root = make_root("370000", &off1);
	c0 = issue("370000", &k0, root, &off1, "00000000000000c0");
	c1 = issue("370100", &k1, c0, &k0, "00000000000000c1");
	c2 = issue("370102", &k2, c1, &k1, "00000000000000c2");
	snprintf(da, sizeof(da), "/tmp/tb-feed-a-%d", (int)getpid());
	snprintf(db, sizeof(db), "/tmp/tb-feed-b-%d", (int)getpid());
	snprintf(dl, sizeof(dl), "/tmp/tb-feed-l-%d", (int)getpid());
	tu_rmtree(da);
	tu_rmtree(db);
	tu_rmtree(dl);
	A = su_open(da, "370100");
	B = su_open(db, "370102");
	L = su_open(dl, "370103");
	ok(A && B && L && c0 && c1 && c2, "three stores and a chain");
	level(A, &IDX_A, 4);
	level(B, &IDX_B, 4);
	level(L, &IDX_L, 3);
	json_decref(apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	                  json_pack("{s:s}", "region", "370102")));

	/* The city's list of 370102's key flows into the stream. */
	cert_crl_build("370102", k2.hex, NULL, NOW, &v1, err, sizeof(err));
	cert_crl_revoke(v1, "7f3a09c1d2e4b5a6", NULL, NOW, err, sizeof(err));
	trust_sign(v1, k2.sk, err, sizeof(err));
	r = apply(A, &IDX_A, CMD_CRL_PUT,
	          json_pack("{s:O, s:O, s:[O, O, O]}", "crl", v1, "root", root,
	                    "chain", c2, c1, c0));
	is_str(err_field(r), "", "crl.put at the city");
	json_decref(r);
	e = entry(A, 370102, 1);
	is_str(spec_str(e, "kind"), "crl", "  entry 1.1 of its stream: a crl");
	ok(json_equal(json_object_get(json_object_get(e, "doc"), "crl"), v1) &&
	       json_array_size(
	           json_object_get(json_object_get(e, "doc"), "chain")) == 3,
	   "  the list as signed, with its chain");

	/* Refused at the county when tampered: the cursor stays. */
	bad = json_deep_copy(e);
	json_object_set_new(json_object_get(json_object_get(bad, "doc"), "crl"),
	                    "version", json_integer(5));
	r = deliver(B, &IDX_B, 1, bad);
	like(err_field(r), "$.body.crl",
	     "a tampered list is refused by the county's crl.put checks");
	printf("#   %s\n", spec_str(json_object_get(r, "error"), "message"));
	json_decref(r);
	json_decref(bad);
	ok(cursor(B) == 0 && crl_version(B) == -1,
	   "  the cursor stays, nothing stored");
	r = deliver(L, &IDX_L, 1, e);
	is_str(err_field(r), "$.body.entry.kind",
	       "a county at level 3 refuses a crl entry");
	like(spec_str(json_object_get(r, "error"), "message"),
	     "a \"crl\" entry needs feature level 4 and this group runs at 3",
	     "  naming the level it needs and its own");
	json_decref(r);

	r = deliver(B, &IDX_B, 1, e);
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "accept",
	       "the list is delivered at the county");
	json_decref(r);
	ok(cursor(B) == 1 && crl_version(B) == 1, "  stored, cursor 1");
	r = deliver(B, &IDX_B, 2, e);
	ok(!strcmp(err_field(r), "") &&
	       !strcmp(
	           spec_str(json_object_get(
	                        json_object_get(json_object_get(r, "outbox"),
	                                        "applied"),
	                        "crl"),
	                    "held"),
	           "already stored"),
	   "the same list again (at seq 2) is accepted as already held");
	json_decref(r);
	is_int((long long)cursor(B), 2, "  cursor 2");
	json_decref(e);

	/* The root flows too; a late child's stream starts with the root,
	 * then the list. */
	r = apply(A, &IDX_A, CMD_ROOT_PUT, json_pack("{s:O}", "root", root));
	is_str(err_field(r), "", "root.put at the city");
	json_decref(r);
	e = entry(A, 370102, 2);
	is_str(spec_str(e, "kind"), "root", "  entry 1.2: the root");
	r = deliver(B, &IDX_B, 3, e);
	is_str(spec_str(json_object_get(r, "outbox"), "verdict"), "accept",
	       "the root is delivered at the county");
	json_decref(r);
	json_decref(e);
	json_decref(apply(A, &IDX_A, CMD_OUTBOX_CHILD,
	                  json_pack("{s:s}", "region", "370103")));
	e = entry(A, 370103, 1);
	is_str(spec_str(e, "kind"), "root", "a late child's entry 1: the root");
	json_decref(e);
	e = entry(A, 370103, 2);
	is_str(spec_str(e, "kind"), "crl", "  entry 2: the list");
	json_decref(e);

	store_close(A);
	store_close(B);
	store_close(L);
	tu_rmtree(da);
	tu_rmtree(db);
	tu_rmtree(dl);
	json_decref(v1);
	json_decref(root);
	json_decref(c0);
	json_decref(c1);
	json_decref(c2);
	return done_testing();
}
