/* Case records and their indexes, and the case event log (global feed and
 * per-case lists), written inside the apply transaction. */
#include "node/fsm.h"
#include "node/fsm_handoff.h"
#include "node/region_store.h"

#include "schema/lifecycle.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* Case ids are short ("370102-20260105-000001"); 64 bytes is ample. */
#define ID_MAX 64

size_t
fsm_state_key(int st, const char *id, uint8_t *out, size_t n)
{
	size_t len = strlen(id);

	if (len + 1 > n) {
		len = n - 1;
	}
	out[0] = (uint8_t)st;
	memcpy(out + 1, id, len);
	return len + 1;
}

static int
state_of(const json_t *c)
{
	enum lc_state st;

	return lc_state_parse(spec_str(c, "state"), &st) == 0 ? (int)st : -1;
}

/* count_key names the per-state counter in meta. */
static void
count_key(int st, char *out, size_t n)
{
	const char *name = lc_state_name((enum lc_state)st);
	size_t len = strlen(name);

	/* "n/%s", truncated to n - 1 bytes as snprintf does. */
	if (len + 3 > n) {
		len = n - 3;
	}
	memcpy(out, "n/", 2);
	memcpy(out + 2, name, len);
	out[2 + len] = '\0';
}

static int case_records(struct fsm *f, const json_t *c, const json_t *old);

/* new_entries writes a new case's matter and applicant index entries,
 * which never change, and counts it in n/total. */
static int
new_entries(struct fsm *f, const char *id, size_t idl, const char *mk,
            const char *id_number)
{
	const struct store *s = f->s;
	uint8_t k[MATTER_KEY_MAX + ID_MAX + 2];
	size_t n;
	int rv;

	/* The matter key, truncated as snprintf "%s" would (it never is). */
	n = mk != NULL ? strlen(mk) : 6;
	n = n < sizeof(k) ? n : sizeof(k) - 1;
	memcpy(k, mk != NULL ? mk : "(null)", n);
	k[n++] = 0;
	memcpy(k + n, id, idl);
	if ((rv = db_put(f->txn, s->dbi[DB_CASE_MATTER], k, n + idl, "", 0)) !=
	    0) {
		return rv;
	}
	db_applicant_hash(s, id_number, k);
	memcpy(k + 32, id, idl);
	if ((rv = db_put(f->txn, s->dbi[DB_APPLICANTS], k, 32 + idl, "", 0))) {
		return rv;
	}
	return meta_add(s, f->txn, "n/total", 1);
}

/* put_record stores case record c: as db_put_json does, with the members
 * of f->rec_raw copied from the command's bytes (fsm_create.c). */
static int
put_record(struct fsm *f, const char *id, size_t idl, const json_t *c)
{
	struct canon_buf b = { 0 };
	uint8_t sv = STORE_SV;
	char err[128];
	int rv;

	if (f->rec_nraw == 0) {
		return db_put_json(f->txn, f->s->dbi[DB_CASES], id, idl, c);
	}
	if ((rv = canon_buf_append(&b, &sv, 1)) == 0 &&
	    (rv = canon_encode_raw(c, f->rec_raw, f->rec_nraw, &b, err,
	                           sizeof(err))) == 0) {
		rv =
		    db_put(f->txn, f->s->dbi[DB_CASES], id, idl, b.data, b.len);
	}
	canon_buf_free(&b);
	f->rec_raw = NULL;
	f->rec_nraw = 0;
	return rv == TB_ENOMEM || rv == TB_EFULL || rv == TB_EIO ||
	               rv == TB_ECORRUPT || rv == TB_OK
	           ? rv
	           : TB_EIO;
}

int
fsm_case_put(struct fsm *f, const json_t *c, const json_t *old)
{
	json_t *sum;
	bool up;
	int rv;

	if ((rv = case_records(f, c, old)) != 0 ||
	    (rv = fsm_handoff_notify_due(f, c)) != 0) {
		return rv;
	}
	/* Up the tree: the supervising tiers' summary (level 2, a parent
	 * set; node/fsm_region.c), built only at a level that sends it. */
	if ((rv = fsm_sum_level(f->s, f->txn, &up)) != 0 || !up) {
		return rv;
	}
	if ((sum = fsm_case_summary(c)) == NULL) {
		return TB_ENOMEM;
	}
	rv = fsm_outbox_up(f, sum);
	json_decref(sum);
	return rv;
}

static int
case_records(struct fsm *f, const json_t *c, const json_t *old)
{
	const struct store *s = f->s;
	const char *id = spec_str(c, "id");
	int st = state_of(c), ost = old != NULL ? state_of(old) : -1;
	uint8_t k[MATTER_KEY_MAX + ID_MAX + 2];
	char name[48];
	size_t n, idl = strlen(id);
	bool sum;
	int rv;

	if (st < 0 || idl >= ID_MAX || (old != NULL && ost < 0)) {
		return TB_ECORRUPT;
	}
	if ((rv = put_record(f, id, idl, c)) != 0 ||
	    (rv = fsm_sum_level(s, f->txn, &sum)) != 0) {
		return rv;
	}
	if (st == ost) {
		return sum ? fsm_sum_put(f, c, st) : TB_OK;
	}
	if (old != NULL) {
		n = fsm_state_key(ost, id, k, sizeof(k));
		count_key(ost, name, sizeof(name));
		if ((rv = db_del(f->txn, s->dbi[DB_CASE_STATE], k, n)) != 0 ||
		    (rv = meta_add(s, f->txn, name, -1)) != 0) {
			return rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
		}
	}
	n = fsm_state_key(st, id, k, sizeof(k));
	count_key(st, name, sizeof(name));
	if ((rv = db_put(f->txn, s->dbi[DB_CASE_STATE], k, n, "", 0)) != 0 ||
	    (rv = meta_add(s, f->txn, name, 1)) != 0 ||
	    (sum && (rv = fsm_sum_put(f, c, st)) != 0)) {
		return rv;
	}
	if (old != NULL) {
		return TB_OK;
	}
	return new_entries(
	    f, id, idl, spec_str(c, "matter"),
	    spec_str(json_object_get(c, "applicant"), "id_number"));
}

int
fsm_case_put_new(struct fsm *f, const char *id, const char *matter,
                 const char *id_number, const uint8_t *rec, size_t n,
                 const json_t *c)
{
	const struct store *s = f->s;
	uint8_t k[ID_MAX + 2];
	size_t kl, idl = strlen(id);
	enum lc_state st;
	char name[48];
	json_t *sum;
	bool on;
	int rv;

	/* What case_records and fsm_case_put write for a new case, in the
	 * same order; a new case has no owner, so fsm_handoff_notify_due
	 * has nothing to do. */
	if (idl >= ID_MAX || lc_state_parse("received", &st) != 0) {
		return TB_ECORRUPT;
	}
	if ((rv = db_put_last(f->txn, s->dbi[DB_CASES], id, idl, rec, n)) !=
	        0 ||
	    (rv = fsm_sum_level(s, f->txn, &on)) != 0) {
		return rv;
	}
	if (on && c == NULL) {
		return TB_EINVAL; /* the summaries are made from c */
	}
	kl = fsm_state_key((int)st, id, k, sizeof(k));
	count_key((int)st, name, sizeof(name));
	if ((rv = db_put(f->txn, s->dbi[DB_CASE_STATE], k, kl, "", 0)) != 0 ||
	    (rv = meta_add(s, f->txn, name, 1)) != 0 ||
	    (on && (rv = fsm_sum_put(f, c, (int)st)) != 0) ||
	    (rv = new_entries(f, id, idl, matter, id_number)) != 0 || !on) {
		return rv;
	}
	if ((sum = fsm_case_summary(c)) == NULL) {
		return TB_ENOMEM;
	}
	rv = fsm_outbox_up(f, sum);
	json_decref(sum);
	return rv;
}

int
fsm_event_json(uint64_t seq, const MDB_val *v, json_t **out)
{
	json_t *env, *e;
	int rv;

	*out = NULL;
	if ((rv = db_val_json(v, &env)) != 0) {
		return rv;
	}
	e = json_pack("{s:I, s:O, s:O, s:O}", "seq", (json_int_t)seq, "type",
	              json_object_get(env, "type"), "at",
	              json_object_get(env, "at"), "body",
	              json_object_get(env, "body"));
	json_decref(env);
	if (e == NULL) {
		return TB_ECORRUPT; /* a member was missing */
	}
	*out = e;
	return TB_OK;
}

/* event_put writes the stored event value v[0..n) to the global feed
 * (its sequence number to *gseq) and as event seq of case id. */
static int
event_put(struct fsm *f, const char *id, uint32_t seq, const uint8_t *v,
          size_t n, uint64_t *gseq)
{
	const struct store *s = f->s;
	uint8_t k[ID_MAX + 5], gk[8];
	size_t idl = strlen(id);
	int rv;

	if (idl >= ID_MAX) {
		return TB_ECORRUPT;
	}
	if ((rv = meta_get_u64(s, f->txn, "event_seq", gseq)) != 0 ||
	    (rv = meta_put_u64(s, f->txn, "event_seq", ++*gseq)) != 0) {
		return rv;
	}
	db_be64(gk, *gseq);
	if ((rv = db_put_last(f->txn, s->dbi[DB_EVENTS], gk, 8, v, n)) != 0) {
		return rv == TB_ENOMEM || rv == TB_EFULL ? rv : TB_EIO;
	}
	memcpy(k, id, idl);
	k[idl] = 0;
	db_be32(k + idl + 1, seq);
	/* A new case's first event is most likely the last key. */
	return seq == 1
	           ? db_put_last(f->txn, s->dbi[DB_CASE_EVENTS], k, idl + 5, gk,
	                         8)
	           : db_put(f->txn, s->dbi[DB_CASE_EVENTS], k, idl + 5, gk, 8);
}

int
fsm_event_put(struct fsm *f, const char *id, uint32_t seq, const uint8_t *v,
              size_t n)
{
	uint64_t gseq;

	return event_put(f, id, seq, v, n, &gseq);
}

/* event_store writes a case.event envelope (body, stolen) at time `at` to
 * the global feed and as event seq of case id. */
static int
event_store(struct fsm *f, const char *id, uint32_t seq, int64_t at,
            json_t *body, json_t **event)
{
	struct canon_buf b = { 0 };
	uint8_t sv = STORE_SV;
	uint64_t gseq = 0;
	char err[128];
	MDB_val v;
	int rv;

	if (event != NULL) {
		*event = NULL;
	}
	if (strlen(id) >= ID_MAX) {
		json_decref(body);
		return TB_ECORRUPT;
	}
	rv = canon_buf_append(&b, &sv, 1);
	if (rv == 0) {
		rv = cmd_encode(CMD_EVENT_CASE, at, NULL, body, &b, err,
		                sizeof(err));
	}
	json_decref(body);
	if (rv != 0) {
		canon_buf_free(&b);
		return rv == TB_ENOMEM ? rv : TB_EIO;
	}
	rv = event_put(f, id, seq, b.data, b.len, &gseq);
	if (rv == 0 && event != NULL) {
		v.mv_size = b.len;
		v.mv_data = b.data;
		if ((rv = fsm_event_json(gseq, &v, event)) != 0 &&
		    rv != TB_ENOMEM) {
			rv = TB_EIO;
		}
	}
	canon_buf_free(&b);
	return rv;
}

int
fsm_event_append(struct fsm *f, const json_t *c, json_t *body, json_t **event)
{
	if (json_object_set(body, "case", json_object_get(c, "id")) != 0 ||
	    json_object_set(body, "epoch", json_object_get(c, "epoch")) != 0 ||
	    json_object_set(body, "seq", json_object_get(c, "last_event")) !=
	        0) {
		json_decref(body);
		return TB_ENOMEM;
	}
	return event_store(f, spec_str(c, "id"),
	                   (uint32_t)spec_int(c, "last_event", 0), f->at, body,
	                   event);
}

int
fsm_event_import(struct fsm *f, const char *id, int64_t at, const json_t *body)
{
	return event_store(f, id, (uint32_t)spec_int(body, "seq", 0), at,
	                   json_deep_copy(body), NULL);
}
