/* A new case's id, and its record and first event written directly in
 * canonical form (schema/canon_write.h): the bytes canon_encode wrote for
 * the jansson trees fsm_create.c built, member by member, for every case
 * (the record's build, encode and free were about a fifth of a case's
 * apply, docs/BENCH.md). The parts that come from the command (applicant,
 * form, materials, channel, receiver) are copied from its bytes. */
#include "node/fsm.h"

#include "schema/canon_walk.h"
#include "schema/canon_write.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

/* format_id writes REGION-YYYYMMDD-PREFIX999999 to id, the same bytes as
 * snprintf(id, FSM_CASE_ID_LEN, "%s-%.4s%.2s%.2s-%s%06u", region, ds, ds + 5,
 * ds + 8, prefix, n) with n <= 999999, without vsnprintf (a case's apply
 * made one for every id). Longer parts than a region code and a prefix
 * letter are left to snprintf. */
static void
format_id(char *id, const char *region, const char ds[11], const char *prefix,
          unsigned n)
{
	size_t rl = strlen(region), pl = strlen(prefix), i;
	char *p;

	if (rl + pl + 17 >= FSM_CASE_ID_LEN || strlen(ds) < 10) {
		snprintf(id, FSM_CASE_ID_LEN, "%s-%.4s%.2s%.2s-%s%06u", region,
		         ds, ds + 5, ds + 8, prefix, n);
		return;
	}
	memcpy(id, region, rl);
	p = id + rl;
	*p++ = '-';
	memcpy(p, ds, 4);
	memcpy(p + 4, ds + 5, 2);
	memcpy(p + 6, ds + 8, 2);
	p += 8;
	*p++ = '-';
	memcpy(p, prefix, pl);
	p += pl;
	for (i = 6; i-- > 0; n /= 10) {
		p[i] = (char)('0' + n % 10);
	}
	p[6] = '\0';
}

/* fsm_case_next_id assigns the next serial of the day from the counter in meta
 * `name` (day << 32 | serial): since apply time is monotone, a new day
 * restarts the serial at 1. prefix "" for cases, "B" for applications. */
int
fsm_case_next_id(struct fsm *f, const char *name, const char *prefix, char *id)
{
	uint64_t v, day = (uint32_t)f->day, n;
	char ds[11];
	int rv;

	if ((rv = meta_get_u64(f->s, f->txn, name, &v)) != 0) {
		return rv;
	}
	n = (v >> 32) == day ? (v & 0xffffffffu) + 1 : 1;
	fsm_datestr(f->day, ds);
	if (n > 999999) {
		return fsm_refuse(f, TB_ERANGE, "$",
		                  "%s has received 999999 %s on %s, the most "
		                  "a serial can number",
		                  f->s->region, *prefix ? "bundles" : "cases",
		                  ds);
	}
	if ((rv = meta_put_u64(f->s, f->txn, name, day << 32 | n)) != 0) {
		return rv;
	}
	format_id(id, f->s->region, ds, prefix, (unsigned)n);
	return TB_OK;
}

_Static_assert(FSM_PARTS == CMD_CASE_PARTS,
               "cmd_decode_shallow notes the parts in fsm_case_parts' order");

int
fsm_case_parts(const struct fsm *f, struct fsm_case_parts *cp)
{
	static const char *const keys[FSM_PARTS] = {
		[FSM_PART_APPLICANT] = "applicant",
		[FSM_PART_FORM] = "form",
		[FSM_PART_MATERIALS] = "materials",
		[FSM_PART_CHANNEL] = "channel",
		[FSM_PART_RECEIVER] = "receiver",
	};
	const uint8_t *body;
	size_t blen;
	int i;

	if (f->cmd->has_parts) {
		/* Noted by cmd_decode_shallow: no walk of the body. */
		for (i = 0; i < FSM_PARTS; i++) {
			cp->p[i] = f->cmd->part[i].p;
			cp->n[i] = f->cmd->part[i].n;
		}
		return TB_OK;
	}
	if (f->raw == NULL ||
	    canon_map_get(f->raw, f->raw_len, "body", &body, &blen) != 0 ||
	    canon_map_members(body, blen, keys, FSM_PARTS, cp->p, cp->n) != 0) {
		return TB_ECORRUPT;
	}
	return TB_OK;
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
                   const struct fsm_case_parts *cp, struct canon_buf *out)
{
	const json_t *eff = m->eff;
	const char *name, *dept, *unit;
	uint8_t sv = STORE_SV;
	bool promised;
	int i;

	/* The limit, as limit_of (fsm_create.c) pins it. */
	promised = spec_str(eff, "promise_type") != NULL &&
	           json_object_get(eff, "promise_day") != NULL;
	if (!a_str(eff, "task_name", &name) ||
	    !a_str(eff, "dept_name", &dept) ||
	    !a_str(eff, promised ? "promise_type" : "anticipate_type", &unit) ||
	    unit == NULL) {
		return FSM_NOT_DIRECT; /* new_case's JSON decides */
	}
	for (i = 0; i < FSM_PART_RECEIVER; i++) {
		if (cp->p[i] == NULL) {
			return FSM_NOT_DIRECT;
		}
	}
	/* The parts, and about 600 bytes of the rest. */
	canon_buf_reserve(out, cp->n[FSM_PART_APPLICANT] +
	                           cp->n[FSM_PART_FORM] +
	                           cp->n[FSM_PART_MATERIALS] + 1024);
	canon_put_raw(out, &sv, 1);
	/* new_case's 26 members, in canonical (bytewise) order. */
	canon_put_map(out, 26);
	put_key(out, "applicant");
	canon_put_raw(out, cp->p[FSM_PART_APPLICANT],
	              cp->n[FSM_PART_APPLICANT]);
	put_key(out, "channel");
	canon_put_raw(out, cp->p[FSM_PART_CHANNEL], cp->n[FSM_PART_CHANNEL]);
	put_key(out, "dept_name");
	put_opt(out, dept);
	put_key(out, "due");
	canon_put_nil(out);
	put_key(out, "due_provisional");
	canon_put_bool(out, false);
	put_key(out, "epoch");
	canon_put_int(out, 1);
	put_key(out, "form");
	canon_put_raw(out, cp->p[FSM_PART_FORM], cp->n[FSM_PART_FORM]);
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
	canon_put_raw(out, cp->p[FSM_PART_MATERIALS],
	              cp->n[FSM_PART_MATERIALS]);
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
	if (cp->p[FSM_PART_RECEIVER] != NULL) {
		canon_put_raw(out, cp->p[FSM_PART_RECEIVER],
		              cp->n[FSM_PART_RECEIVER]);
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
fsm_case_first_event(struct fsm *f, const char *id,
                     const struct fsm_case_parts *cp)
{
	struct canon_buf ev = { 0 }, b = { 0 };
	const uint8_t *actor = cp->p[FSM_PART_RECEIVER];
	uint8_t sv = STORE_SV;
	char err[64];
	int rv;

	/* The keys in canonical order. */
	canon_put_map(&ev, actor != NULL ? 7 : 6);
	put_key(&ev, "action");
	canon_put_str(&ev, "receive", 7);
	if (actor != NULL) {
		put_key(&ev, "actor");
		canon_put_raw(&ev, actor, cp->n[FSM_PART_RECEIVER]);
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
	canon_buf_reserve(&b, ev.len + 40);
	canon_put_raw(&b, &sv, 1);
	if ((rv = ev.err) == 0 &&
	    (rv = cmd_encode_body(CMD_EVENT_CASE, f->at, NULL, ev.data, ev.len,
	                          &b, err, sizeof(err))) == 0) {
		rv = fsm_event_put(f, id, 1, b.data, b.len);
	}
	canon_buf_free(&ev);
	canon_buf_free(&b);
	return rv;
}
