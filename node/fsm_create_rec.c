/* The record and the first event of a new case, written directly in
 * canonical form (schema/canon_write.h): the bytes canon_encode wrote for
 * the jansson trees fsm_create.c built, member by member, for every case
 * (the record's build, encode and free were about a fifth of a case's
 * apply, docs/BENCH.md). The parts that come from the command (applicant,
 * form, materials, channel, receiver) are copied from its bytes. */
#include "node/fsm.h"

#include "schema/canon_walk.h"
#include "schema/canon_write.h"
#include "schema/spec.h"

#include <string.h>

/* body_part finds the value of key in the command's body: TB_OK,
 * TB_ENOTFOUND, or TB_ECORRUPT (the command was decoded from these bytes,
 * so they hold a body). */
static int
body_part(const struct fsm *f, const char *key, const uint8_t **p, size_t *n)
{
	const uint8_t *body;
	size_t blen;
	int rv;

	if (f->raw == NULL ||
	    canon_map_get(f->raw, f->raw_len, "body", &body, &blen) != 0) {
		return TB_ECORRUPT;
	}
	rv = canon_map_get(body, blen, key, p, n);
	return rv == TB_OK || rv == TB_ENOTFOUND ? rv : TB_ECORRUPT;
}

/* put_opt writes s, or nil for NULL. */
static void
put_opt(struct canon_buf *b, const char *s)
{
	if (s != NULL) {
		canon_put_cstr(b, s);
	} else {
		canon_put_nil(b);
	}
}

/* put_key writes a map key (a literal). */
#define put_key(b, k) canon_put_str((b), (k), sizeof(k) - 1)

/* a_str: an effective matter's string member, and whether the direct
 * writer can write it (a string the catalog's decode vouched for holds no
 * NUL; canon_encode would refuse one, so such a record is left to it). */
static bool
a_str(const json_t *eff, const char *k, const char **out)
{
	const json_t *v = json_object_get(eff, k);

	*out = json_string_value(v);
	return *out == NULL || memchr(*out, 0, json_string_length(v)) == NULL;
}

int
fsm_case_rec_bytes(struct fsm *f, const char *id, const struct fsm_matter *m,
                   struct canon_buf *out)
{
	const json_t *eff = m->eff;
	const uint8_t *ap, *fp, *mp, *cp, *rp;
	size_t an, fn, mn, cn, rn = 0;
	const char *name, *dept, *unit;
	bool promised;
	int rv, rrv;
	uint8_t sv = STORE_SV;

	/* The limit, as limit_of (fsm_create.c) pins it. */
	promised = spec_str(eff, "promise_type") != NULL &&
	           json_object_get(eff, "promise_day") != NULL;
	if (!a_str(eff, "task_name", &name) ||
	    !a_str(eff, "dept_name", &dept) ||
	    !a_str(eff, promised ? "promise_type" : "anticipate_type", &unit) ||
	    unit == NULL) {
		return FSM_NOT_DIRECT; /* new_case's JSON decides */
	}
	if ((rv = body_part(f, "applicant", &ap, &an)) != 0 ||
	    (rv = body_part(f, "form", &fp, &fn)) != 0 ||
	    (rv = body_part(f, "materials", &mp, &mn)) != 0 ||
	    (rv = body_part(f, "channel", &cp, &cn)) != 0) {
		return rv == TB_ENOTFOUND ? FSM_NOT_DIRECT : rv;
	}
	if ((rrv = body_part(f, "receiver", &rp, &rn)) == TB_ECORRUPT) {
		return rrv;
	}
	canon_buf_append(out, &sv, 1);
	/* new_case's 26 members, in canonical (bytewise) order. */
	canon_put_map(out, 26);
	put_key(out, "applicant");
	canon_buf_append(out, ap, an);
	put_key(out, "channel");
	canon_buf_append(out, cp, cn);
	put_key(out, "dept_name");
	put_opt(out, dept);
	put_key(out, "due");
	canon_put_nil(out);
	put_key(out, "due_provisional");
	canon_put_bool(out, false);
	put_key(out, "epoch");
	canon_put_int(out, 1);
	put_key(out, "form");
	canon_buf_append(out, fp, fn);
	put_key(out, "id");
	canon_put_cstr(out, id);
	put_key(out, "impl_region");
	put_opt(out, m->region[0] ? m->region : NULL);
	put_key(out, "last_event");
	canon_put_int(out, 1);
	put_key(out, "limit");
	canon_put_map(out, 3);
	put_key(out, "days");
	canon_put_int(
	    out, spec_int(eff, promised ? "promise_day" : "anticipate_day", 0));
	put_key(out, "kind");
	canon_put_cstr(out, promised ? "promised" : "statutory");
	put_key(out, "unit");
	canon_put_cstr(out, unit);
	put_key(out, "locked_hash");
	canon_put_cstr(out, m->locked);
	put_key(out, "materials");
	canon_buf_append(out, mp, mn);
	put_key(out, "matter");
	canon_put_cstr(out, m->key);
	put_key(out, "matter_hash");
	canon_put_cstr(out, m->hash);
	put_key(out, "matter_name");
	put_opt(out, name);
	put_key(out, "pauses");
	canon_put_array(out, 0);
	put_key(out, "received_at");
	canon_put_int(out, f->at);
	put_key(out, "receiver");
	if (rrv == TB_OK) {
		canon_buf_append(out, rp, rn);
	} else {
		canon_put_nil(out);
	}
	put_key(out, "region");
	canon_put_cstr(out, f->s->region);
	put_key(out, "release");
	canon_put_int(out, (int64_t)f->s->cat.std.version);
	put_key(out, "state");
	canon_put_str(out, "received", 8);
	put_key(out, "task_code");
	put_opt(out, m->task_code[0] ? m->task_code : NULL);
	put_key(out, "updated_at");
	canon_put_int(out, f->at);
	put_key(out, "version");
	canon_put_int(out, 1);
	put_key(out, "warn_from");
	return canon_put_nil(out);
}

int
fsm_case_first_event(struct fsm *f, const char *id)
{
	struct canon_buf ev = { 0 }, b = { 0 };
	const uint8_t *actor = NULL;
	size_t alen = 0;
	uint8_t sv = STORE_SV;
	int rv;

	rv = body_part(f, "receiver", &actor, &alen);
	if (rv == TB_ECORRUPT) {
		return rv;
	}
	/* The keys in canonical order. */
	canon_put_map(&ev, rv == TB_OK ? 7 : 6);
	put_key(&ev, "action");
	canon_put_str(&ev, "receive", 7);
	if (rv == TB_OK) {
		put_key(&ev, "actor");
		canon_buf_append(&ev, actor, alen);
	}
	put_key(&ev, "case");
	canon_put_cstr(&ev, id);
	put_key(&ev, "epoch");
	canon_put_int(&ev, 1);
	put_key(&ev, "from");
	canon_put_str(&ev, "", 0);
	put_key(&ev, "seq");
	canon_put_int(&ev, 1);
	put_key(&ev, "to");
	canon_put_str(&ev, "received", 8);
	canon_buf_append(&b, &sv, 1);
	if ((rv = ev.err) == 0 &&
	    (rv = cmd_encode_bytes(CMD_EVENT_CASE, f->at, ev.data, ev.len,
	                           &b)) == 0) {
		rv = fsm_event_put(f, id, 1, b.data, b.len);
	}
	canon_buf_free(&ev);
	canon_buf_free(&b);
	return rv;
}
