/* join.create and join.use: one-time join tokens, kept by the hash of
 * their secret in meta "join/ID" (docs/TRUST.md, "Enrolment with a join
 * token"). Apply decides whether a token may still be used, so two
 * members that both hold the region key cannot honour one token twice. */
#include "node/fsm.h"

#include "schema/join.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Tokens live at most this long (docs/TRUST.md). */
#define JOIN_TTL_MAX_MS (7LL * 86400 * 1000)

static bool
hex_ok(const char *s, size_t n)
{
	uint8_t b[32];

	return s != NULL && strlen(s) == 2 * n && n <= sizeof(b) &&
	       canon_unhex(s, b, n) == TB_OK;
}

static int
key_of(const char *id, char out[24])
{
	return snprintf(out, 24, "join/%s", id);
}

static int
check_fields(struct fsm *f, const json_t *b)
{
	const char *region = spec_str(b, "region");
	enum join_role role;
	int32_t code;

	if (!hex_ok(spec_str(b, "id"), 8)) {
		return fsm_refuse(f, TB_ECODE, "$.body.id",
		                  "a join token id is 16 lowercase hex digits");
	}
	if (!hex_ok(spec_str(b, "hash"), 32)) {
		return fsm_refuse(f, TB_ECODE, "$.body.hash",
		                  "the hash of a join token's secret is 64 "
		                  "lowercase hex digits (BLAKE2b-256)");
	}
	if (region_code_parse(region, &code) != 0 ||
	    region_find(region_builtin(), code) == NULL) {
		return fsm_refuse(f, TB_ECODE, "$.body.region",
		                  "\"%s\" is not a region of the region table",
		                  region);
	}
	if (join_role_parse(spec_str(b, "role"), &role) != TB_OK) {
		return fsm_refuse(f, TB_ECODE, "$.body.role",
		                  "a join token's role is member, peer or "
		                  "child");
	}
	return TB_OK;
}

int
fsm_join_create(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *id = spec_str(b, "id");
	long long exp = spec_int(b, "expires", 0);
	char key[24];
	MDB_val v;
	json_t *rec;
	int rv;

	if ((rv = check_fields(f, b)) != TB_OK) {
		return rv;
	}
	if (!hex_ok(spec_str(b, "issuer"), 8)) {
		return fsm_refuse(f, TB_ECODE, "$.body.issuer",
		                  "the issuer is a node id (16 hex digits)");
	}
	if (exp <= f->at || exp > f->at + JOIN_TTL_MAX_MS) {
		return fsm_refuse(f, TB_ERANGE, "$.body.expires",
		                  "a join token expires after it is created "
		                  "and within 7 days");
	}
	key_of(id, key);
	rv = db_get(f->txn, f->s->dbi[DB_META], key, strlen(key), &v);
	if (rv == 0) {
		return fsm_refuse(f, TB_EDUP, "$.body.id",
		                  "join token %s exists already", id);
	}
	if (rv != TB_ENOTFOUND) {
		return rv;
	}
	rec = json_deep_copy(b);
	if (rec == NULL ||
	    json_object_set_new(rec, "created_at", json_integer(f->at))) {
		json_decref(rec);
		return TB_ENOMEM;
	}
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_META], key, strlen(key),
	                      rec)) != 0) {
		json_decref(rec);
		return rv;
	}
	json_object_del(rec, "hash");
	f->result = json_pack("{s:o}", "join_token", rec);
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

int
fsm_join_use(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *id = spec_str(b, "id");
	char key[24];
	uint8_t h1[32], h2[32];
	json_t *rec;
	int rv;

	if ((rv = check_fields(f, b)) != TB_OK) {
		return rv;
	}
	if (!hex_ok(spec_str(b, "node_id"), 8)) {
		return fsm_refuse(f, TB_ECODE, "$.body.node_id",
		                  "a node id is 16 lowercase hex digits");
	}
	key_of(id, key);
	rv = db_get_json(f->txn, f->s->dbi[DB_META], key, strlen(key), &rec);
	if (rv == TB_ENOTFOUND) {
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.id",
		                  "no join token %s in this region's group",
		                  id);
	}
	if (rv != 0) {
		return rv;
	}
	canon_unhex(spec_str(rec, "hash"), h1, 32);
	canon_unhex(spec_str(b, "hash"), h2, 32);
	if (sodium_memcmp(h1, h2, 32) != 0) {
		rv = fsm_refuse(f, TB_ESIG, "$.body.hash",
		                "join token %s: the secret does not match "
		                "(a wrong token)",
		                id);
	} else if (json_object_get(rec, "used_at") != NULL) {
		rv = fsm_refuse(f, TB_ECONFLICT, "$.body.id",
		                "join token %s was used already (by node %s)",
		                id, spec_str(rec, "used_by"));
	} else if (f->at >= spec_int(rec, "expires", 0)) {
		rv = fsm_refuse(f, TB_ERANGE, "$.body.id",
		                "join token %s expired", id);
	} else if (strcmp(spec_str(rec, "region"), spec_str(b, "region")) !=
	           0) {
		rv = fsm_refuse(f, TB_EFORBIDDEN, "$.body.region",
		                "join token %s is for region %s, not %s", id,
		                spec_str(rec, "region"), spec_str(b, "region"));
	} else if (strcmp(spec_str(rec, "role"), spec_str(b, "role")) != 0) {
		rv = fsm_refuse(f, TB_EFORBIDDEN, "$.body.role",
		                "join token %s grants role %s, not %s", id,
		                spec_str(rec, "role"), spec_str(b, "role"));
	}
	if (rv != 0) {
		json_decref(rec);
		return rv;
	}
	if (json_object_set_new(rec, "used_at", json_integer(f->at)) ||
	    json_object_set(rec, "used_by", json_object_get(b, "node_id"))) {
		json_decref(rec);
		return TB_ENOMEM;
	}
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_META], key, strlen(key),
	                      rec)) != 0) {
		json_decref(rec);
		return rv;
	}
	json_object_del(rec, "hash");
	f->result = json_pack("{s:o}", "join_token", rec);
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}
