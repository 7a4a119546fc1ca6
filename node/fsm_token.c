/* token.create and token.revoke: API tokens known by the hash of their
 * secret (the secret itself never reaches the store). */
#include "node/fsm.h"

#include "schema/region.h"
#include "schema/spec.h"

#include <string.h>

/* word_ok: 1..max characters from the class a token id or role uses. */
static bool
word_ok(const char *s, size_t max, bool id)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max) {
		return false;
	}
	for (i = 0; i < n; i++) {
		char ch = s[i];
		bool ok = (ch >= 'a' && ch <= 'z') || ch == '_' ||
		          (id && ((ch >= 'A' && ch <= 'Z') ||
		                  (ch >= '0' && ch <= '9') || ch == '-' ||
		                  ch == '.'));
		if (!ok) {
			return false;
		}
	}
	return true;
}

int
fsm_token_create(struct fsm *f)
{
	const json_t *b = f->cmd->body;
	const char *id = spec_str(b, "id"), *region = spec_str(b, "region");
	uint8_t h[32];
	MDB_val v;
	int32_t code;
	json_t *rec;
	int rv;

	if (!word_ok(id, 64, true)) {
		return fsm_refuse(f, TB_ECODE, "$.body.id",
		                  "a token id has 1 to 64 characters from "
		                  "A-Z a-z 0-9 - . _");
	}
	if (canon_unhex(spec_str(b, "hash"), h, sizeof(h)) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.hash",
		                  "the hash of a token's secret is 64 "
		                  "lowercase hex digits (BLAKE2b-256)");
	}
	if (!word_ok(spec_str(b, "role"), 32, false)) {
		return fsm_refuse(f, TB_ECODE, "$.body.role",
		                  "a role has 1 to 32 characters from a-z _");
	}
	if (region_code_parse(region, &code) != 0 ||
	    region_find(region_builtin(), code) == NULL) {
		return fsm_refuse(f, TB_ECODE, "$.body.region",
		                  "\"%s\" is not a region of the region table",
		                  region);
	}
	if (json_object_get(b, "expires") != NULL &&
	    spec_int(b, "expires", 0) <= f->at) {
		return fsm_refuse(f, TB_ERANGE, "$.body.expires",
		                  "the token would be expired when created");
	}
	rv = db_get(f->txn, f->s->dbi[DB_TOKENS], id, strlen(id), &v);
	if (rv == 0) {
		return fsm_refuse(f, TB_EDUP, "$.body.id",
		                  "token %s exists already", id);
	}
	if (rv != TB_ENOTFOUND) {
		return rv;
	}
	rv = db_get(f->txn, f->s->dbi[DB_TOKEN_HASH], h, 32, &v);
	if (rv == 0) {
		return fsm_refuse(f, TB_EDUP, "$.body.hash",
		                  "another token has the same secret");
	}
	if (rv != TB_ENOTFOUND) {
		return rv;
	}
	rec = json_pack(
	    "{s:s, s:O, s:O, s:O, s:O?, s:O?, s:I}", "id", id, "hash",
	    json_object_get(b, "hash"), "role", json_object_get(b, "role"),
	    "region", json_object_get(b, "region"), "expires",
	    json_object_get(b, "expires"), "name", json_object_get(b, "name"),
	    "created_at", (json_int_t)f->at);
	if (rec == NULL) {
		return TB_ENOMEM;
	}
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_TOKENS], id, strlen(id),
	                      rec)) != 0 ||
	    (rv = db_put(f->txn, f->s->dbi[DB_TOKEN_HASH], h, 32, id,
	                 strlen(id))) != 0) {
		json_decref(rec);
		return rv;
	}
	json_object_del(rec, "hash");
	f->result = json_pack("{s:o}", "token", rec);
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

int
fsm_token_revoke(struct fsm *f)
{
	const char *id = spec_str(f->cmd->body, "id");
	uint8_t h[32];
	json_t *rec;
	int rv;

	rv = db_get_json(f->txn, f->s->dbi[DB_TOKENS], id, strlen(id), &rec);
	if (rv == TB_ENOTFOUND) {
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.id", "no token %s",
		                  id);
	}
	if (rv != 0) {
		return rv;
	}
	if (json_object_get(rec, "revoked_at") != NULL) {
		json_decref(rec);
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.id",
		                  "token %s is revoked already", id);
	}
	if (canon_unhex(spec_str(rec, "hash"), h, sizeof(h)) != 0) {
		json_decref(rec);
		return TB_ECORRUPT;
	}
	if (json_object_set_new(rec, "revoked_at", json_integer(f->at))) {
		json_decref(rec);
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_TOKENS], id, strlen(id), rec);
	if (rv == 0) {
		rv = db_del(f->txn, f->s->dbi[DB_TOKEN_HASH], h, 32);
		rv = rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
	}
	json_object_del(rec, "hash");
	if (rv == 0 && (f->result = json_pack("{s:o}", "token", rec)) == NULL) {
		return TB_ENOMEM;
	}
	if (rv != 0) {
		json_decref(rec);
	}
	return rv;
}
