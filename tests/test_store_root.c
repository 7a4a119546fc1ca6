/* root.put applied to a real store of 370102 (node/fsm_root.c): the first
 * root, a rotation, and each refusal named by its field, leaving the
 * replicated state (its digest) as it was; crl.put then anchored at the
 * stored root, not the command's. Keys from fixed seeds. */
#include "node/store.h"
#include "schema/cert_crl.h"
#include "schema/trust.h"
#include "tests/ctoken_util.h"
#include "tests/tap.h"
#include "tests/store_util.h"

static struct key o1, o2, o3;
static struct store *S;
static uint64_t IDX;

/* apply applies type with body (taken) at time at; the refused field ("" when
 * applied) goes to field. */
static void
apply(enum cmd_type type, json_t *body, int64_t at, char *field, size_t n)
{
	struct canon_buf b = su_encode(type, at, NULL, body);
	json_t *res = NULL, *e;
	int rv = store_apply(S, ++IDX, b.data, b.len, &res);

	e = json_object_get(res, "error");
	snprintf(field, n, "%s",
	         rv != 0     ? "(apply failed)"
	         : e == NULL ? ""
	                     : json_string_value(json_object_get(e, "field")));
	if (e != NULL) {
		printf("#   refused: %s\n",
		       json_string_value(json_object_get(e, "message")));
	}
	json_decref(res);
	canon_buf_free(&b);
}

static void
put(const json_t *root, int64_t at, char *field, size_t n)
{
	apply(CMD_ROOT_PUT, json_pack("{s:O}", "root", root), at, field, n);
}

/* next is prev's next version with officers a (and b, when not NULL) at
 * threshold m, signed by each key of signers (NULL-terminated). */
static json_t *
next(const json_t *prev, struct key *a, struct key *b, int m,
     struct key **signers)
{
	json_t *r = json_deep_copy(prev);
	json_t *off = json_pack("[{s:s, s:s}]", "name", "a", "key", a->hex);
	char err[128];

	if (b != NULL) {
		json_array_append_new(
		    off, json_pack("{s:s, s:s}", "name", "b", "key", b->hex));
	}
	json_object_set_new(r, "officers", off);
	json_object_set_new(r, "threshold", json_integer(m));
	json_object_set_new(r, "version",
	                    json_integer(spec_int(prev, "version", 0) + 1));
	json_object_set_new(r, "signatures", json_array());
	for (; *signers != NULL; signers++) {
		trust_sign(r, (*signers)->sk, err, sizeof(err));
	}
	return r;
}

static long long
stored_version(void)
{
	json_t *r = NULL;
	long long v = -1;

	if (store_root(S, &r) == 0) {
		v = spec_int(r, "version", -1);
	}
	json_decref(r);
	return v;
}

static void
digest(uint8_t h[32])
{
	uint64_t at;

	store_digest(S, h, &at);
}

/* root_list is the root's list revoking serial, signed by s. */
static json_t *
root_list(const char *serial, const struct key *s)
{
	json_t *crl = NULL;
	char err[200];

	cert_crl_build("370000", NULL, NULL, NOW, &crl, err, sizeof(err));
	cert_crl_revoke(crl, serial, NULL, NOW, err, sizeof(err));
	trust_sign(crl, s->sk, err, sizeof(err));
	return crl;
}

int
main(void)
{
	char dir[] = "/tmp/tongban-root.XXXXXX", f[128];
	json_t *r1, *r2, *bad, *other;
	struct key *s1[] = { &o1, NULL }, *s3[] = { &o3, NULL };
	struct key *s12[] = { &o1, &o2, NULL };
	uint8_t h0[32], h1[32];

	if (sodium_init() < 0 || mkdtemp(dir) == NULL) {
		return 1;
	}
	key_make(&o1, 1);
	key_make(&o2, 2);
	key_make(&o3, 3);
	r1 = make_root("370000", &o1);
	S = su_open(dir, "370102");
	ok(S != NULL, "a store of 370102");
	is_int(stored_version(), -1, "no root is stored at first");
	digest(h0);

	/* Refusals of a first root. */
	bad = json_deep_copy(r1);
	json_object_set_new(bad, "expires",
	                    json_string("2031-01-01T00:00:00Z"));
	put(bad, NOW, f, sizeof(f));
	is_str(f, "$.body.root.signatures",
	       "a root changed after signing is refused");
	json_decref(bad);
	bad = next(r1, &o1, &o2, 2, s1);
	json_object_set_new(bad, "version", json_integer(1));
	json_object_set_new(bad, "signatures", json_array());
	trust_sign(bad, o1.sk, f, sizeof(f));
	put(bad, NOW, f, sizeof(f));
	is_str(f, "$.body.root.signatures",
	       "a 2-of-2 root signed by one officer is refused");
	json_decref(bad);
	other = make_root("110000", &o1);
	put(other, NOW, f, sizeof(f));
	is_str(f, "$.body.root.region", "another province's root is refused");
	json_decref(other);
	put(r1, NOW + 5 * YEAR, f, sizeof(f));
	is_str(f, "$.body.root.expires",
	       "a root expired at the command's time is refused");
	digest(h1);
	is_int(memcmp(h0, h1, 32), 0, "no refusal changed the state");
	is_int(stored_version(), -1, "and nothing is stored");

	/* The first root, and crl.put anchored at it. */
	put(r1, NOW, f, sizeof(f));
	is_str(f, "", "version 1 is applied");
	is_int(stored_version(), 1, "and stored");
	r2 = next(r1, &o1, &o2, 1, s1);
	apply(CMD_CRL_PUT,
	      json_pack("{s:o, s:O}", "crl", root_list("00000000000000aa", &o2),
	                "root", r2),
	      NOW, f, sizeof(f));
	is_str(f, "$.body.crl.signatures",
	       "crl.put checks against the stored root, not the command's");
	digest(h0);

	/* Refused replacements. */
	put(r1, NOW, f, sizeof(f));
	is_str(f, "$.body.root.version", "version 1 again is refused");
	bad = next(r1, &o3, NULL, 1, s3);
	put(bad, NOW, f, sizeof(f));
	is_str(f, "$.body.root.signatures",
	       "version 2 not signed by the stored root's officers is refused");
	json_decref(bad);
	other = next(r1, &o1, NULL, 1, s1);
	bad = next(other, &o1, NULL, 1, s1);
	json_decref(other);
	put(bad, NOW, f, sizeof(f));
	is_str(f, "$.body.root.version", "version 3 over version 1 is refused");
	json_decref(bad);
	bad = next(r1, &o1, &o2, 2, s1);
	put(bad, NOW, f, sizeof(f));
	is_str(f, "$.body.root.signatures",
	       "a 2-of-2 version 2 with one signature is refused");
	json_decref(bad);
	digest(h1);
	is_int(memcmp(h0, h1, 32), 0, "no refusal changed the state");

	/* The rotation. */
	put(r2, NOW + DAY, f, sizeof(f));
	is_str(f, "", "version 2 signed by the stored root's officer applies");
	is_int(stored_version(), 2, "and replaces version 1");
	apply(CMD_CRL_PUT,
	      json_pack("{s:o, s:O}", "crl", root_list("00000000000000aa", &o2),
	                "root", r1),
	      NOW + DAY, f, sizeof(f));
	is_str(f, "", "a list signed by version 2's new officer applies");
	bad = next(r2, &o1, &o2, 2, s12);
	json_object_set_new(bad, "region", json_string("370100"));
	json_object_set_new(bad, "signatures", json_array());
	trust_sign(bad, o1.sk, f, sizeof(f));
	trust_sign(bad, o2.sk, f, sizeof(f));
	put(bad, NOW + DAY, f, sizeof(f));
	is_str(f, "$.body.root.region", "a root of a city is refused");
	json_decref(bad);

	/* After a restart the root is in the store. */
	store_close(S);
	S = su_open(dir, "370102");
	is_int(stored_version(), 2, "after reopening, version 2 is stored");
	store_close(S);
	json_decref(r1);
	json_decref(r2);
	tu_rmtree(dir);
	return done_testing();
}
