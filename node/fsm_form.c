/* Validation of what an applicant submits with a case: the form values
 * against the matter's form, the applicant, and material references. */
#include "node/fsm.h"

#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

bool
fsm_id_number_ok(const char *s)
{
	static const int w[17] = { 7, 9, 10, 5,  8, 4, 2, 1, 6,
		                   3, 7, 9,  10, 5, 8, 4, 2 };
	static const char check[] = "10X98765432";
	char date[11];
	int32_t day;
	int i, sum = 0;

	if (s == NULL || strlen(s) != 18) {
		return false;
	}
	for (i = 0; i < 17; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		sum += (s[i] - '0') * w[i];
	}
	/* Characters 7..14 are the date of birth, as YYYY-MM-DD. */
	memcpy(date, s + 6, 4);
	date[4] = '-';
	memcpy(date + 5, s + 10, 2);
	date[7] = '-';
	memcpy(date + 8, s + 12, 2);
	date[10] = '\0';
	return s[17] == check[sum % 11] && cal_date_parse(date, &day) == 0;
}

/* phone_ok accepts a mainland mobile number (optionally +86) or a landline
 * with its area code ("0531-86553156", "053186553156", with extension). */
static bool
phone_ok(const char *s)
{
	size_t n, i, digits = 0;

	if (!strncmp(s, "+86", 3)) {
		s += 3;
	}
	n = strlen(s);
	if (n == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' &&
	    spec_digits(s, 11)) {
		return true;
	}
	if (n < 10 || n > 20 || s[0] != '0') {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			digits++;
		} else if (s[i] != '-' || i == 0 || s[i - 1] == '-') {
			return false;
		}
	}
	return s[n - 1] != '-' && digits >= 10;
}

static bool
region_ok(const char *s)
{
	int32_t code;

	return region_code_parse(s, &code) == 0 &&
	       region_find(region_builtin(), code) != NULL;
}

/* at builds the path parent.name in out (TB_DIAG_PATH bytes). */
static const char *
at(char *out, const char *parent, const char *name)
{
	tb_path_key(out, TB_DIAG_PATH, parent, name);
	return out;
}

void
fsm_field_of(const json_t *f, const char *name, struct fsm_field *out)
{
	static const struct {
		const char *type;
		enum fsm_kind kind;
	} kinds[] = {
		{ "int", FSM_K_INT },     { "bool", FSM_K_BOOL },
		{ "date", FSM_K_DATE },   { "id_number", FSM_K_ID },
		{ "phone", FSM_K_PHONE }, { "region", FSM_K_REGION },
		{ "enum", FSM_K_ENUM },
	};
	const char *type = spec_str(f, "type");
	size_t i;

	out->name = name;
	out->label = spec_str(f, "label");
	out->options = json_object_get(f, "options");
	out->max = spec_int(f, "max_len", 0);
	out->required = spec_bool(f, "required", false);
	out->kind = FSM_K_STR;
	for (i = 0; type != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!strcmp(type, kinds[i].type)) {
			out->kind = kinds[i].kind;
		}
	}
}

int
fsm_value_check(const struct fsm_field *f, const json_t *v, const char *parent,
                struct tb_diag *d)
{
	return fsm_value_check_t(f, json_typeof(v), json_string_value(v),
	                         parent, d);
}

/* fsm_value_check_t: the path is built only for a diagnostic (this runs
 * for every field of every case). */
int
fsm_value_check_t(const struct fsm_field *f, json_type type, const char *s,
                  const char *parent, struct tb_diag *d)
{
	const char *name = f->name;
	char path[TB_DIAG_PATH];
	int32_t day;

	if (f->kind == FSM_K_INT || f->kind == FSM_K_BOOL) {
		bool good = f->kind == FSM_K_INT
		                ? type == JSON_INTEGER
		                : type == JSON_TRUE || type == JSON_FALSE;
		return good ? 0
		            : tb_diag_add(d, TB_ETYPE, at(path, parent, name),
		                          "%s must be %s", name,
		                          f->kind == FSM_K_INT
		                              ? "an integer"
		                              : "a boolean") != 0;
	}
	if (s == NULL) {
		return tb_diag_add(d, TB_ETYPE, at(path, parent, name),
		                   "%s must be a string", name) != 0;
	}
	if (f->required && s[0] == '\0') {
		return tb_diag_add(d, TB_EMISSING, at(path, parent, name),
		                   "required field %s (%s) is empty", name,
		                   f->label) != 0;
	}
	if (f->max > 0 && (long long)spec_utf8_chars(s) > f->max) {
		return tb_diag_add(d, TB_ERANGE, at(path, parent, name),
		                   "%s is longer than %lld characters", name,
		                   f->max) != 0;
	}
	if (f->kind == FSM_K_DATE && cal_date_parse(s, &day) != 0) {
		return tb_diag_add(d, TB_EMALFORMED, at(path, parent, name),
		                   "%s: \"%s\" %s", name, s,
		                   cal_date_why(s)) != 0;
	}
	if (f->kind == FSM_K_ID && !fsm_id_number_ok(s)) {
		return tb_diag_add(d, TB_ECODE, at(path, parent, name),
		                   "%s: \"%s\" is not a resident id number "
		                   "(18 characters, GB 11643 check character)",
		                   name, s) != 0;
	}
	if (f->kind == FSM_K_PHONE && !phone_ok(s)) {
		return tb_diag_add(d, TB_ECODE, at(path, parent, name),
		                   "%s: \"%s\" is not a mobile or landline "
		                   "number",
		                   name, s) != 0;
	}
	if (f->kind == FSM_K_REGION && !region_ok(s)) {
		return tb_diag_add(d, TB_ECODE, at(path, parent, name),
		                   "%s: \"%s\" is not a region code of the "
		                   "region table",
		                   name, s) != 0;
	}
	if (f->kind == FSM_K_ENUM) {
		json_t *o;
		size_t i;
		json_array_foreach(f->options, i, o)
		{
			if (!strcmp(json_string_value(o), s)) {
				return 0;
			}
		}
		return tb_diag_add(d, TB_ERANGE, at(path, parent, name),
		                   "%s: \"%s\" is not one of the options", name,
		                   s) != 0;
	}
	return 0;
}

/* fsm_form_check keeps the names of a form of up to this many fields. */
#define FORM_NAMES 64

int
fsm_form_check(const json_t *def, const json_t *values, const char *what,
               const char *path, struct tb_diag *d)
{
	char sub[TB_DIAG_PATH];
	const char *k, *names[FORM_NAMES];
	size_t i, j, nf = json_array_size(def);
	json_t *f, *v;
	int n = 0;

	/* The fields' names, looked up once rather than once per value (as
	 * matter_form_find does; a larger form still uses it). */
	for (i = 0; i < nf && nf <= FORM_NAMES; i++) {
		names[i] = spec_str(json_array_get(def, i), "name");
	}
	json_object_foreach((json_t *)values, k, v)
	{
		for (j = 0; j < nf && nf <= FORM_NAMES; j++) {
			if (names[j] != NULL && !strcmp(names[j], k)) {
				break;
			}
		}
		if (nf <= FORM_NAMES ? j == nf
		                     : matter_form_find(def, k) == NULL) {
			tb_path_key(sub, sizeof(sub), path, k);
			tb_diag_add(d, TB_EUNKNOWN, sub,
			            "field '%s' is not in the form of %s", k,
			            what);
			n++;
		}
	}
	json_array_foreach(def, i, f)
	{
		const char *name =
		    nf <= FORM_NAMES ? names[i] : spec_str(f, "name");
		if ((v = json_object_get(values, name)) != NULL) {
			struct fsm_field ff;
			fsm_field_of(f, name, &ff);
			n += fsm_value_check(&ff, v, path, d);
		} else if (spec_bool(f, "required", false)) {
			tb_path_key(sub, sizeof(sub), path, name);
			tb_diag_add(d, TB_EMISSING, sub,
			            "required field %s (%s) of %s is missing",
			            name, spec_str(f, "label"), what);
			n++;
		}
	}
	return n;
}

int
fsm_applicant_check(const json_t *a, const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "name", SPEC_STRING, true },
		{ "id_type", SPEC_STRING, true },
		{ "id_number", SPEC_STRING, true },
		{ "phone", SPEC_STRING, false },
		{ "address", SPEC_STRING, false },
		{ "email", SPEC_STRING, false },
		{ "agent_name", SPEC_STRING, false },
		{ "agent_id_number", SPEC_STRING, false },
	};
	int n;

	if ((n = spec_object(a, f, sizeof(f) / sizeof(f[0]), path, d)) != 0) {
		return n;
	}
	return fsm_applicant_values(spec_str(a, "name"), spec_str(a, "id_type"),
	                            spec_str(a, "id_number"),
	                            spec_str(a, "phone"), path, d);
}

int
fsm_applicant_values(const char *name, const char *t, const char *id,
                     const char *phone, const char *path, struct tb_diag *d)
{
	static const char *const types[] = {
		"resident_id",
		"passport",
		"hk_macao_permit",
		"taiwan_permit",
		"foreign_perm_id",
		"credit_code",
		NULL,
	};
	char sub[TB_DIAG_PATH], why[160];
	int n = 0;

	if (spec_utf8_chars(name) == 0 || spec_utf8_chars(name) > 100) {
		n += tb_diag_add(d, TB_ERANGE, at(sub, path, "name"),
		                 "a name has 1 to 100 "
		                 "characters") != 0;
	}
	if (!spec_one_of(t, types)) {
		return n +
		       (tb_diag_add(d, TB_ECODE, at(sub, path, "id_type"),
		                    "\"%s\" is not an id type (resident_id, "
		                    "passport, hk_macao_permit, "
		                    "taiwan_permit, foreign_perm_id, "
		                    "credit_code)",
		                    t) != 0);
	}
	if (!strcmp(t, "resident_id") && !fsm_id_number_ok(id)) {
		n += tb_diag_add(d, TB_ECODE, at(sub, path, "id_number"),
		                 "\"%s\" is not a resident id number (18 "
		                 "characters, GB 11643 check character)",
		                 id) != 0;
	} else if (!strcmp(t, "credit_code") &&
	           matter_credit_code_check(id, why, sizeof(why)) != 0) {
		n += tb_diag_add(d, TB_ECODE, at(sub, path, "id_number"), "%s",
		                 why) != 0;
	} else if (id[0] == '\0' || strlen(id) > 64) {
		n += tb_diag_add(d, TB_ERANGE, at(sub, path, "id_number"),
		                 "an id number has 1 to 64 characters") != 0;
	}
	if (phone != NULL && !phone_ok(phone)) {
		n += tb_diag_add(d, TB_ECODE, at(sub, path, "phone"),
		                 "\"%s\" is not a mobile or landline number",
		                 phone) != 0;
	}
	return n;
}

/* ref_check checks the shape of one material reference. */
static int
ref_check(const json_t *x, bool bundle, const json_t *def, const char *key,
          const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "code", SPEC_STRING, true },
		{ "hash", SPEC_STRING, true },
		{ "size", SPEC_INT, true },
		{ "member", SPEC_STRING, true },
	};
	uint8_t h[32];
	char sub[TB_DIAG_PATH];
	const char *xc;
	const json_t *m;
	size_t i;
	int n;

	if ((n = spec_object(x, f, bundle ? 4 : 3, path, d)) != 0) {
		return n;
	}
	/* The code looked up once; paths are built only for a diagnostic. */
	xc = spec_str(x, "code");
	json_array_foreach(def, i, m)
	{
		if (!strcmp(spec_str(m, "code"), xc)) {
			break;
		}
	}
	if (i == json_array_size(def)) {
		n += tb_diag_add(d, TB_EUNKNOWN, at(sub, path, "code"),
		                 "%s lists no material %s", key, xc) != 0;
	}
	if (canon_unhex(spec_str(x, "hash"), h, sizeof(h)) != 0) {
		n += tb_diag_add(d, TB_ECODE, at(sub, path, "hash"),
		                 "a material is referenced by its BLAKE2b-256 "
		                 "hash (64 lowercase hex digits)") != 0;
	}
	if (spec_int(x, "size", -1) < 0) {
		n += tb_diag_add(d, TB_ERANGE, at(sub, path, "size"),
		                 "size must be >= 0") != 0;
	}
	return n;
}

/* fsm_materials_check keeps the codes of up to this many given
 * materials. */
#define MATERIALS_KEPT 32

int
fsm_materials_check(const json_t *def, const json_t *given, const char *member,
                    const char *key, const char *path, struct tb_diag *d)
{
	char sub[TB_DIAG_PATH];
	const char *gc[MATERIALS_KEPT], *gm[MATERIALS_KEPT];
	const json_t *x, *y, *m;
	size_t i, j, ng = json_array_size(given);
	int n = 0;

	/* The given materials' codes and members, looked up once rather than
	 * once per required material (the first MATERIALS_KEPT). */
	for (j = 0; j < ng && j < MATERIALS_KEPT; j++) {
		x = json_array_get(given, j);
		gc[j] = spec_str(x, "code");
		gm[j] = member != NULL ? spec_str(x, "member") : NULL;
	}
	json_array_foreach(given, i, x)
	{
		if (member != NULL &&
		    strcmp(member, spec_str(x, "member") ? spec_str(x, "member")
		                                         : "") != 0) {
			continue;
		}
		tb_path_idx(sub, sizeof(sub), path, i);
		if (ref_check(x, member != NULL, def, key, sub, d) != 0) {
			n++;
			continue;
		}
		for (j = 0; j < i; j++) {
			y = json_array_get(given, j);
			if (json_equal(json_object_get(x, "code"),
			               json_object_get(y, "code")) &&
			    json_equal(json_object_get(x, "member"),
			               json_object_get(y, "member"))) {
				tb_diag_add(d, TB_EDUP, sub,
				            "material %s of %s is listed twice",
				            spec_str(x, "code"), key);
				n++;
				break;
			}
		}
	}
	/* Materials the departments share (source "shared") or issue
	 * themselves are not collected again from the applicant (一表通:
	 * data shared rather than re-collected). */
	json_array_foreach(def, i, m)
	{
		const char *src = spec_str(m, "source"), *code, *xc, *xm;
		bool found = false;
		if (!spec_bool(m, "required", false) ||
		    (src != NULL && strcmp(src, "applicant") != 0)) {
			continue;
		}
		code = spec_str(m, "code");
		json_array_foreach(given, j, x)
		{
			xc = j < MATERIALS_KEPT ? gc[j] : spec_str(x, "code");
			xm = member == NULL       ? NULL
			     : j < MATERIALS_KEPT ? gm[j]
			                          : spec_str(x, "member");
			if (!strcmp(code, xc ? xc : "") &&
			    (member == NULL || !strcmp(member, xm ? xm : ""))) {
				found = true;
				break;
			}
		}
		if (!found) {
			tb_diag_add(
			    d, TB_EMISSING, path,
			    "required material %s (%s) of %s is missing",
			    spec_str(m, "code"), spec_str(m, "name"), key);
			n++;
		}
	}
	return n;
}
