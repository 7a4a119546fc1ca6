/* case.create: receiving an application for one matter, or for a bundle
 * (一件事) as one case per member matter linked by an application record. */
#include "node/fsm.h"

#include "schema/bundle.h"
#include "schema/canon_walk.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_LEN FSM_CASE_ID_LEN

/* The record is built member by member with jansson's nocheck calls: its
 * strings come from the decoded command, the stored catalog (both checked
 * when decoded) and ids made here, so json_pack's UTF-8 check and format
 * parsing of every one were pure cost (about 8% of a follower's CPU,
 * docs/BENCH.md). The stored bytes are the same (test_store checks the
 * digest): canon_encode sorts the keys. Each setter fails (non-zero) on a
 * NULL value, as json_pack's "s:s" and "s:O" did; set_opt stores a NULL
 * as null, as "s:s?" and "s:O?" did. */
static int
set_str(json_t *o, const char *k, const char *v)
{
	return v == NULL
	           ? -1
	           : json_object_set_new_nocheck(o, k, json_string_nocheck(v));
}

static int
set_opt(json_t *o, const char *k, const char *v)
{
	return v == NULL ? json_object_set_new_nocheck(o, k, json_null())
	                 : set_str(o, k, v);
}

static int
set_int(json_t *o, const char *k, json_int_t v)
{
	return json_object_set_new_nocheck(o, k, json_integer(v));
}

/* set_ref sets k to v (a new reference); v NULL fails. */
static int
set_ref(json_t *o, const char *k, json_t *v)
{
	return v == NULL ? -1 : json_object_set_nocheck(o, k, v);
}

/* limit_of pins the time limit: the effective promised limit if any, else
 * the statutory one. */
static json_t *
limit_of(const json_t *eff)
{
	bool promised = spec_str(eff, "promise_type") != NULL &&
	                json_object_get(eff, "promise_day") != NULL;
	json_t *l = json_object();

	if (l == NULL ||
	    set_int(l, "days",
	            (json_int_t)spec_int(
	                eff, promised ? "promise_day" : "anticipate_day", 0)) ||
	    set_str(
	        l, "unit",
	        spec_str(eff, promised ? "promise_type" : "anticipate_type")) ||
	    set_str(l, "kind", promised ? "promised" : "statutory")) {
		json_decref(l);
		return NULL;
	}
	return l;
}

/* new_case builds the record of a received case from the command's body
 * b; steals materials. With form and materials NULL it leaves out
 * applicant, form and materials, and b may be shallow (cmd_decode_shallow):
 * the record single_put makes the summaries from, whose readers
 * (fsm_sum_put, fsm_case_summary) read none of the three. */
static json_t *
new_case(struct fsm *f, const json_t *b, const char *id,
         const struct fsm_matter *m, const json_t *form, json_t *materials)
{
	const json_t *recv = json_object_get(b, "receiver");
	/* materials without a form fails, as a missing form always did. */
	json_t *c = form != NULL || materials == NULL ? json_object() : NULL;

	if (c == NULL) {
		json_decref(materials);
		return NULL;
	}
	if ((form != NULL &&
	     (json_object_set_new_nocheck(c, "materials", materials) ||
	      set_ref(c, "applicant", json_object_get(b, "applicant")) ||
	      set_ref(c, "form", (json_t *)form))) ||
	    set_str(c, "id", id) || set_str(c, "region", f->s->region) ||
	    set_str(c, "matter", m->key) ||
	    set_opt(c, "task_code", m->task_code[0] ? m->task_code : NULL) ||
	    set_opt(c, "impl_region", m->region[0] ? m->region : NULL) ||
	    set_opt(c, "matter_name", spec_str(m->eff, "task_name")) ||
	    set_opt(c, "dept_name", spec_str(m->eff, "dept_name")) ||
	    set_int(c, "release", (json_int_t)f->s->cat.std.version) ||
	    set_str(c, "matter_hash", m->hash) ||
	    set_str(c, "locked_hash", m->locked) ||
	    set_ref(c, "channel", json_object_get(b, "channel")) ||
	    json_object_set_nocheck(
	        c, "receiver", recv != NULL ? (json_t *)recv : json_null()) ||
	    set_str(c, "state", "received") || set_int(c, "version", 1) ||
	    set_int(c, "epoch", 1) || set_int(c, "last_event", 1) ||
	    set_int(c, "received_at", (json_int_t)f->at) ||
	    set_int(c, "updated_at", (json_int_t)f->at) ||
	    json_object_set_new_nocheck(c, "limit", limit_of(m->eff)) ||
	    json_object_set_new_nocheck(c, "due", json_null()) ||
	    json_object_set_new_nocheck(c, "due_provisional", json_false()) ||
	    json_object_set_new_nocheck(c, "warn_from", json_null()) ||
	    json_object_set_new_nocheck(c, "pauses", json_array())) {
		json_decref(c);
		return NULL;
	}
	return c;
}

/* receive writes case c and its first event; steals c. */
static int
receive(struct fsm *f, json_t *c)
{
	struct fsm_case_parts cp;
	int rv;

	if (c == NULL) {
		return TB_ENOMEM;
	}
	rv = fsm_case_put(f, c, NULL);
	if (rv == 0) {
		rv = fsm_case_parts(f, &cp);
	}
	if (rv == 0) {
		rv = fsm_case_first_event(f, spec_str(c, "id"), &cp);
	}
	json_decref(c);
	return rv;
}

/* raw_parts finds in the command's bytes those of the body's applicant,
 * form and materials, which a single case's record holds as they are:
 * its encoding copies them instead of encoding them again (about a third
 * of the apply's encoding). Parts not found are left out (encoded as
 * usual); canon_encode_raw uses a part only for the member holding the
 * very value that was decoded from it. */
static void
raw_parts(const struct fsm *f, const json_t *b, struct canon_raw *raw,
          size_t *n)
{
	static const char *const keys[] = { "applicant", "form", "materials" };
	const uint8_t *body, *p;
	size_t blen, plen, i;

	*n = 0;
	if (f->raw == NULL ||
	    canon_map_get(f->raw, f->raw_len, "body", &body, &blen) != 0) {
		return;
	}
	for (i = 0; i < 3; i++) {
		if (canon_map_get(body, blen, keys[i], &p, &plen) == 0) {
			raw[*n].key = keys[i];
			raw[*n].v = json_object_get(b, keys[i]);
			raw[*n].p = p;
			raw[(*n)++].n = plen;
		}
	}
}

/* channel_check: the channel is one the effective matter offers. */
static int
channel_check(const json_t *eff, const char *ch, const char *key,
              struct tb_diag *d)
{
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(eff, "handle_type"), i, x)
	{
		if (!strcmp(json_string_value(x), ch)) {
			return 0;
		}
	}
	return tb_diag_add(d, TB_ERANGE, "$.body.channel",
	                   "%s is not offered through channel %s", key,
	                   ch) != 0;
}

/* id_number is the applicant's id number: from its bytes (into buf), or
 * from the whole body; NULL if there is none, as spec_str gives. */
static int
id_number(struct fsm *f, const struct fsm_case_parts *cp, char *buf,
          size_t size, const char **out)
{
	const json_t *b;
	int rv;

	*out = buf;
	if (f->cmd->has_parts &&
	    fsm_raw_str(cp->p[FSM_PART_APPLICANT], cp->n[FSM_PART_APPLICANT],
	                "id_number", buf, size)) {
		return TB_OK;
	}
	rv = fsm_body(f, &b);
	*out = spec_str(json_object_get(b, "applicant"), "id_number");
	return rv;
}

/* single_put writes new single case id of matter m and its first event:
 * the record written directly (fsm_create_rec.c) from the body's parts
 * cp (NULL if they were not found), and built as JSON only for the
 * summaries (from FSM_SUM_LEVEL) or when the direct writer leaves it to
 * new_case. */
static int
single_put(struct fsm *f, const char *id, const struct fsm_matter *m,
           const struct fsm_case_parts *cp)
{
	struct canon_buf rb = { 0 };
	struct canon_raw raw[3];
	const char *idn = NULL;
	const json_t *b;
	json_t *rec = NULL;
	bool sum = false;
	char idbuf[80];
	int rv = cp != NULL ? TB_OK : TB_ECORRUPT;

	if (rv == TB_OK) {
		rv = fsm_case_rec_bytes(f, id, m, cp, &rb);
	}
	if (rv == TB_OK && (rv = rb.err) == TB_OK &&
	    (rv = fsm_sum_level(f->s, f->txn, &sum)) == TB_OK &&
	    (rv = id_number(f, cp, idbuf, sizeof(idbuf), &idn)) == TB_OK) {
		if (sum && (rec = new_case(f, f->cmd->body, id, m, NULL,
		                           NULL)) == NULL) {
			rv = TB_ENOMEM;
		} else {
			rv = fsm_case_put_new(f, id, m->key, idn, rb.data,
			                      rb.len, rec);
		}
		if (rv == TB_OK) {
			rv = fsm_case_first_event(f, id, cp);
		}
		json_decref(rec);
	}
	canon_buf_free(&rb);
	if (rv != FSM_NOT_DIRECT) {
		return rv;
	}
	if ((rv = fsm_body(f, &b)) != 0) {
		return rv;
	}
	rec = new_case(f, b, id, m, json_object_get(b, "form"),
	               json_incref(json_object_get(b, "materials")));
	raw_parts(f, b, raw, &f->rec_nraw);
	f->rec_raw = raw;
	rv = receive(f, rec);
	f->rec_raw = NULL;
	f->rec_nraw = 0;
	return rv;
}

/* create_single: cp are the body's parts (NULL if not found). */
static int
create_single(struct fsm *f, struct fsm_catalog *c, const char *code,
              const struct fsm_case_parts *cp)
{
	const json_t *b = f->cmd->body;
	struct fsm_matter m;
	char id[ID_LEN];
	json_t *res;
	int rv;

	if ((rv = fsm_resolve(f->s, c, code, &m)) != 0) {
		return rv != TB_ENOTFOUND
		           ? rv
		           : fsm_refuse(f, TB_ENOTFOUND, "$.body.matter",
		                        "matter %s is not in the catalog of %s "
		                        "(standard version %lld)",
		                        code, f->s->region, c->std.version);
	}
	channel_check(m.eff, spec_str(b, "channel"), m.key, &f->d);
	if ((rv = fsm_single_checks(f, fsm_checks_get(c, m.eff), m.eff, m.key,
	                            cp)) != 0) {
		fsm_matter_fini(&m);
		return rv;
	}
	if (f->d.n != 0) {
		fsm_matter_fini(&m);
		return FSM_REFUSED;
	}
	if ((rv = fsm_case_next_id(f, "case_serial", "", id)) != 0) {
		fsm_matter_fini(&m);
		return rv;
	}
	res = json_object();
	if (res == NULL || set_str(res, "id", id) ||
	    set_str(res, "matter", m.key) ||
	    set_opt(res, "task_code", m.task_code[0] ? m.task_code : NULL) ||
	    set_str(res, "matter_name", spec_str(m.eff, "task_name")) ||
	    set_str(res, "state", "received") || set_int(res, "version", 1) ||
	    set_int(res, "release", (json_int_t)c->std.version) ||
	    set_str(res, "matter_hash", m.hash) ||
	    set_int(res, "received_at", (json_int_t)f->at)) {
		json_decref(res);
	} else if ((f->result = json_object()) == NULL) {
		json_decref(res);
	} else if (json_object_set_new_nocheck(f->result, "case", res)) {
		json_decref(f->result); /* res went with the failed set */
		f->result = NULL;
	}
	rv = f->result != NULL ? single_put(f, id, &m, cp) : TB_ENOMEM;
	fsm_matter_fini(&m);
	return rv;
}

/* member_form maps the shared form's values onto member mid's fields. */
static json_t *
member_form(const json_t *bundle, const json_t *values, const char *mid)
{
	json_t *out = json_object(), *fd, *mp, *v;
	size_t i, j;

	json_array_foreach(json_object_get(bundle, "form"), i, fd)
	{
		v = json_object_get(values, spec_str(fd, "name"));
		json_array_foreach(json_object_get(fd, "maps"), j, mp)
		{
			if (v != NULL && out != NULL &&
			    !strcmp(spec_str(mp, "member"), mid) &&
			    json_object_set(out, spec_str(mp, "field"), v)) {
				json_decref(out);
				out = NULL;
			}
		}
	}
	return out;
}

/* member_materials picks the materials given for member mid. */
static json_t *
member_materials(const json_t *given, const char *mid)
{
	json_t *out = json_array(), *x, *y;
	size_t i;

	json_array_foreach(given, i, x)
	{
		if (out == NULL || strcmp(spec_str(x, "member"), mid) != 0) {
			continue;
		}
		if ((y = json_copy(x)) == NULL ||
		    json_object_del(y, "member") ||
		    json_array_append_new(out, y) != 0) {
			json_decref(out);
			out = NULL;
		}
	}
	return out;
}

/* bundle_refs checks that each material names a member of bundle bd. */
static int
bundle_refs(struct fsm *f, const json_t *bd, const json_t *given)
{
	char path[TB_DIAG_PATH];
	json_t *x, *mem;
	size_t i, j;

	json_array_foreach(given, i, x)
	{
		const char *mid = spec_str(x, "member");
		bool found = false;
		json_array_foreach(json_object_get(bd, "members"), j, mem)
		{
			found =
			    found || (mid && !strcmp(mid, spec_str(mem, "id")));
		}
		if (!found) {
			snprintf(path, sizeof(path), "$.body.materials[%zu]",
			         i);
			return fsm_refuse(f, mid ? TB_EUNKNOWN : TB_EMISSING,
			                  path,
			                  "a bundle's material names its "
			                  "member (one of %s's members)",
			                  spec_str(bd, "code"));
		}
	}
	return TB_OK;
}

/* The members of one bundle application, in the bundle's order. */
struct members {
	size_t n;
	size_t order[64];
	struct fsm_matter m[64];
	json_t *form[64];
};

static void
members_fini(struct members *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++) {
		fsm_matter_fini(&ms->m[i]);
		json_decref(ms->form[i]);
	}
}

/* members_check resolves and validates every member; FSM_REFUSED on the
 * first member that fails. */
static int
members_check(struct fsm *f, struct fsm_catalog *c, const json_t *b,
              const json_t *bd, struct members *ms)
{
	char key[MATTER_KEY_MAX], what[200];
	const json_t *mem;
	size_t i;
	int rv;

	for (i = 0; i < ms->n; i++) {
		mem = json_array_get(json_object_get(bd, "members"),
		                     ms->order[i]);
		matter_key(mem, key, sizeof(key));
		if ((rv = fsm_resolve(f->s, c, key, &ms->m[i])) != 0) {
			return rv != TB_ENOTFOUND
			           ? rv
			           : fsm_refuse(f, TB_ENOTFOUND,
			                        "$.body.bundle",
			                        "member %s's matter %s is not "
			                        "in the catalog of %s",
			                        spec_str(mem, "id"), key,
			                        f->s->region);
		}
		ms->form[i] = member_form(bd, json_object_get(b, "form"),
		                          spec_str(mem, "id"));
		if (ms->form[i] == NULL) {
			return TB_ENOMEM;
		}
		snprintf(what, sizeof(what), "member %s (%s)",
		         spec_str(mem, "id"), key);
		channel_check(ms->m[i].eff, spec_str(b, "channel"), key, &f->d);
		fsm_form_check(json_object_get(ms->m[i].eff, "form"),
		               ms->form[i], what, "$.body.form", &f->d);
		fsm_materials_check(json_object_get(ms->m[i].eff, "materials"),
		                    json_object_get(b, "materials"),
		                    spec_str(mem, "id"), key,
		                    "$.body.materials", &f->d);
		if (f->d.n != 0) {
			return FSM_REFUSED;
		}
	}
	return TB_OK;
}

/* create_members writes one case per member, linked to application app
 * and to the cases of the members it comes after; fills cases. */
static int
create_members(struct fsm *f, const json_t *b, const json_t *bd,
               struct members *ms, const char *app, json_t *cases)
{
	const json_t *given = json_object_get(b, "materials");
	char ids[64][ID_LEN];
	json_t *rec, *after, *x;
	size_t i, j, k;
	int rv;

	for (i = 0; i < ms->n; i++) {
		const json_t *mem = json_array_get(
		    json_object_get(bd, "members"), ms->order[i]);
		if ((rv = fsm_case_next_id(f, "case_serial", "", ids[i])) !=
		    0) {
			return rv;
		}
		after = json_array();
		json_array_foreach(json_object_get(mem, "after"), j, x)
		{
			for (k = 0; k < i; k++) {
				const json_t *o = json_array_get(
				    json_object_get(bd, "members"),
				    ms->order[k]);
				if (json_equal(x, json_object_get(o, "id"))) {
					json_array_append_new(
					    after, json_string(ids[k]));
				}
			}
		}
		rec = new_case(f, b, ids[i], &ms->m[i], ms->form[i],
		               member_materials(given, spec_str(mem, "id")));
		if (rec == NULL || after == NULL ||
		    json_object_set_new(rec, "bundle", json_string(app)) ||
		    json_object_set(rec, "member",
		                    json_object_get(mem, "id")) ||
		    json_object_set_new(rec, "after", after) ||
		    json_array_append_new(
		        cases, json_pack("{s:s, s:O, s:s}", "id", ids[i],
		                         "member", json_object_get(mem, "id"),
		                         "matter", ms->m[i].key))) {
			json_decref(rec);
			return TB_ENOMEM;
		}
		if ((rv = receive(f, rec)) != 0) {
			return rv;
		}
	}
	return TB_OK;
}

/* create_bundle: b is the whole body. */
static int
create_bundle(struct fsm *f, struct fsm_catalog *c, const json_t *b,
              const char *code)
{
	const json_t *bd = json_object_get(c->std.bundles, code);
	struct members *ms;
	char app[ID_LEN];
	json_t *rec, *cases;
	int rv;

	if (bd == NULL) {
		return fsm_refuse(f, TB_ENOTFOUND, "$.body.bundle",
		                  "bundle %s is not in the catalog of %s", code,
		                  f->s->region);
	}
	if (fsm_form_check(json_object_get(bd, "form"),
	                   json_object_get(b, "form"), code, "$.body.form",
	                   &f->d) != 0 ||
	    (rv = bundle_refs(f, bd, json_object_get(b, "materials"))) != 0) {
		return FSM_REFUSED;
	}
	if ((ms = calloc(1, sizeof(*ms))) == NULL) {
		return TB_ENOMEM;
	}
	rv = bundle_order(bd, ms->order, 64);
	if (rv <= 0) {
		free(ms);
		return TB_ECORRUPT; /* a stored bundle passed bundle_check */
	}
	ms->n = (size_t)rv;
	cases = json_array();
	if ((rv = members_check(f, c, b, bd, ms)) == 0 &&
	    (rv = fsm_case_next_id(f, "bundle_serial", "B", app)) == 0) {
		rv = cases != NULL ? create_members(f, b, bd, ms, app, cases)
		                   : TB_ENOMEM;
	}
	members_fini(ms);
	free(ms);
	if (rv != 0) {
		json_decref(cases);
		return rv;
	}
	rec = json_pack("{s:s, s:s, s:O, s:I, s:o}", "id", app, "code", code,
	                "name", json_object_get(bd, "name"), "received_at",
	                (json_int_t)f->at, "cases", cases);
	if (rec == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_APPLICATIONS], app, strlen(app),
	                 rec);
	if (rv == 0 &&
	    (f->result = json_pack("{s:o}", "bundle", rec)) == NULL) {
		rv = TB_ENOMEM;
	} else if (rv != 0) {
		json_decref(rec);
	}
	return rv;
}

int
fsm_case_create(struct fsm *f)
{
	static const char *const channels[] = { "1", "2", "3", "4", NULL };
	const json_t *b = f->cmd->body, *w;
	const char *matter = spec_str(b, "matter");
	const char *bundle = spec_str(b, "bundle");
	struct fsm_case_parts cp;
	bool parts = fsm_case_parts(f, &cp) == TB_OK;
	struct fsm_catalog *c;
	int rv;

	/* b may be shallow (cmd_decode_shallow): its applicant, form and
	 * materials are read from their bytes, and from the whole body
	 * (fsm_body) where the checks of the bytes do not vouch for them,
	 * and for a bundle. */
	if ((matter == NULL) == (bundle == NULL)) {
		return fsm_refuse(f, matter ? TB_EINVAL : TB_EMISSING,
		                  "$.body.matter",
		                  "a case names either a matter or a bundle");
	}
	if ((rv = fsm_applicant_checks(f, parts ? &cp : NULL)) != 0) {
		return rv;
	}
	if (!spec_one_of(spec_str(b, "channel"), channels)) {
		return fsm_refuse(f, TB_ECODE, "$.body.channel",
		                  "\"%s\" is not a channel (1 window, 2 web, "
		                  "3 mobile, 4 post)",
		                  spec_str(b, "channel"));
	}
	if ((rv = fsm_catalog_get(f, &c)) != 0) {
		return rv;
	}
	if (matter != NULL) {
		return create_single(f, c, matter, parts ? &cp : NULL);
	}
	if ((rv = fsm_body(f, &w)) != 0) {
		return rv;
	}
	return create_bundle(f, c, w, bundle);
}
