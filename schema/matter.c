/* Matters (事项): the ownership table, code structure, validation. */
#include "schema/matter.h"

#include "schema/region.h"

#include <stdio.h>
#include <string.h>

/* The ownership table. Reference fields (catalog_code, task_handle_item)
 * appear in entries and defaults to name the matter, not to change it. */
static const struct matter_field matter_table[] = {
	/* name, label, type, owner, in_std, std_req, in_entry, in_default */
	{ "catalog_code", "基本编码", SPEC_STRING, OWNER_STANDARD, true, true,
	  true, true },
	{ "task_handle_item", "业务办理项编码", SPEC_STRING, OWNER_STANDARD,
	  true, false, true, true },
	{ "task_name", "事项名称", SPEC_STRING, OWNER_STANDARD, true, true,
	  false, false },
	{ "task_type", "事项类型", SPEC_STRING, OWNER_STANDARD, true, true,
	  false, false },
	{ "competent_dept", "主管部门", SPEC_STRING, OWNER_STANDARD, true, true,
	  false, false },
	{ "by_law", "设定依据", SPEC_STRING, OWNER_STANDARD, true, true, false,
	  false },
	{ "use_level", "行使层级", SPEC_ARRAY, OWNER_STANDARD, true, true,
	  false, false },
	{ "anticipate_day", "法定办结时限", SPEC_INT, OWNER_STANDARD, true,
	  true, false, false },
	{ "anticipate_type", "法定办结时限单位", SPEC_STRING, OWNER_STANDARD,
	  true, true, false, false },
	{ "anticipate_explain", "法定办结时限说明", SPEC_STRING, OWNER_STANDARD,
	  true, false, false, false },
	{ "project_type", "办件类型", SPEC_STRING, OWNER_STANDARD, true, true,
	  false, false },
	{ "handle_scope", "通办范围", SPEC_STRING, OWNER_STANDARD, true, true,
	  false, false },
	{ "key_list", "重点事项", SPEC_BOOL, OWNER_STANDARD, true, false, false,
	  false },
	{ "form", "表单", SPEC_ARRAY, OWNER_STANDARD, true, true, false,
	  false },
	{ "charge", "收费", SPEC_OBJECT, OWNER_STANDARD, true, false, false,
	  false },
	{ "accept_condition", "受理条件", SPEC_STRING, OWNER_KEYLIST, true,
	  true, true, false },
	{ "process", "办理流程", SPEC_ARRAY, OWNER_KEYLIST, true, true, true,
	  false },
	{ "materials", "申请材料", SPEC_ARRAY, OWNER_KEYLIST, true, true, true,
	  false },
	{ "handle_type", "办理形式", SPEC_ARRAY, OWNER_LOCAL, true, true, true,
	  false },
	{ "promise_day", "承诺办结时限", SPEC_INT, OWNER_LOCAL, true, false,
	  true, true },
	{ "promise_type", "承诺办结时限单位", SPEC_STRING, OWNER_LOCAL, true,
	  false, true, true },
	{ "promise_explain", "承诺办结时限说明", SPEC_STRING, OWNER_LOCAL, true,
	  false, true, true },
	{ "task_code", "实施编码", SPEC_STRING, OWNER_LOCAL, false, false, true,
	  false },
	{ "dept_name", "实施主体", SPEC_STRING, OWNER_LOCAL, false, false, true,
	  false },
	{ "dept_code", "实施主体编码", SPEC_STRING, OWNER_LOCAL, false, false,
	  true, false },
	{ "dept_nature", "实施主体性质", SPEC_STRING, OWNER_LOCAL, false, false,
	  true, false },
	{ "transact_addr", "办理地点", SPEC_STRING, OWNER_LOCAL, false, false,
	  true, false },
	{ "transact_time", "办理时间", SPEC_STRING, OWNER_LOCAL, false, false,
	  true, true },
	{ "link_way", "咨询电话", SPEC_STRING, OWNER_LOCAL, false, false, true,
	  false },
	{ "supervise_way", "监督电话", SPEC_STRING, OWNER_LOCAL, false, false,
	  true, true },
	{ "charge_items", "收费项目", SPEC_ARRAY, OWNER_LOCAL, false, false,
	  true, false },
};

#define MATTER_NFIELDS (sizeof(matter_table) / sizeof(matter_table[0]))

const struct matter_field *
matter_fields(size_t *n)
{
	*n = MATTER_NFIELDS;
	return matter_table;
}

const struct matter_field *
matter_field_find(const char *name)
{
	size_t i;

	for (i = 0; i < MATTER_NFIELDS; i++) {
		if (matter_table[i].name[0] == name[0] &&
		    !strcmp(matter_table[i].name, name)) {
			return &matter_table[i];
		}
	}
	return NULL;
}

bool
matter_field_locked(const struct matter_field *f, bool key_list)
{
	return f->owner == OWNER_STANDARD ||
	       (f->owner == OWNER_KEYLIST && key_list);
}

const char *
matter_owner_name(enum matter_owner o)
{
	switch (o) {
	case OWNER_STANDARD:
		return "standard";
	case OWNER_KEYLIST:
		return "standard if key-list";
	case OWNER_LOCAL:
	default:
		return "local";
	}
}

/* ---- codes ------------------------------------------------------------- */

static const char credit_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const int credit_weights[17] = { 1,  3,  9,  27, 19, 26, 16, 17, 20,
	                                29, 25, 13, 8,  24, 10, 30, 28 };

static int
credit_value(char c)
{
	const char *p = c != '\0' ? strchr(credit_alphabet, c) : NULL;

	return p != NULL ? (int)(p - credit_alphabet) : -1;
}

char
matter_credit_check_char(const char *code17)
{
	int sum = 0, i, v, c;

	for (i = 0; i < 17; i++) {
		if ((v = credit_value(code17[i])) < 0) {
			return 0;
		}
		sum += v * credit_weights[i];
	}
	c = 31 - sum % 31;
	return credit_alphabet[c == 31 ? 0 : c];
}

int
matter_credit_code_check(const char *code, char *errmsg, size_t errlen)
{
	char want;
	size_t i;

	if (strlen(code) != 18) {
		snprintf(errmsg, errlen,
		         "credit code \"%s\" must be 18 characters, not %zu",
		         code, strlen(code));
		return TB_ECODE;
	}
	for (i = 0; i < 18; i++) {
		if (credit_value(code[i]) < 0) {
			snprintf(
			    errmsg, errlen,
			    "credit code \"%s\": character %zu '%c' is not "
			    "allowed (0-9, A-Z without I O S V Z)",
			    code, i + 1, code[i]);
			return TB_ECODE;
		}
	}
	if (!spec_digits((char[7]){ code[2], code[3], code[4], code[5], code[6],
	                            code[7], 0 },
	                 6)) {
		snprintf(errmsg, errlen,
		         "credit code \"%s\": characters 3-8 must be a region "
		         "code",
		         code);
		return TB_ECODE;
	}
	want = matter_credit_check_char(code);
	if (code[17] != want) {
		snprintf(errmsg, errlen,
		         "credit code \"%s\": check character is '%c', "
		         "expected '%c' (GB 32100-2015)",
		         code, code[17], want);
		return TB_ECODE;
	}
	return TB_OK;
}

int
matter_catalog_code_check(const char *code, const char *task_type, char *errmsg,
                          size_t errlen)
{
	const struct region_table *t = region_builtin();
	int32_t prov;

	if (strlen(code) != 12) {
		snprintf(errmsg, errlen,
		         "basic code \"%s\" must be 12 characters, not %zu",
		         code, strlen(code));
		return TB_ECODE;
	}
	if (!spec_digits(code, 12)) {
		snprintf(errmsg, errlen, "basic code \"%s\" must be digits",
		         code);
		return TB_ECODE;
	}
	prov = (code[0] - '0') * 100000 + (code[1] - '0') * 10000;
	if (prov != 0) {
		const struct region *r = t ? region_find(t, prov) : NULL;
		if (r == NULL || r->level != REGION_PROVINCE) {
			snprintf(
			    errmsg, errlen,
			    "basic code \"%s\": source \"%.2s\" is neither "
			    "00 (national) nor a province prefix",
			    code, code);
			return TB_ECODE;
		}
	}
	if (task_type != NULL && strncmp(code + 2, task_type, 2) != 0) {
		snprintf(errmsg, errlen,
		         "basic code \"%s\": type digits \"%.2s\" differ from "
		         "task_type \"%s\"",
		         code, code + 2, task_type);
		return TB_ECODE;
	}
	return TB_OK;
}

int
matter_task_code_check(const char *code, char *errmsg, size_t errlen)
{
	char credit[19];
	int rv;

	if (strlen(code) != 31) {
		snprintf(errmsg, errlen,
		         "implementation code \"%s\" must be 31 characters "
		         "(credit code 18 + level 1 + basic code 12), not %zu",
		         code, strlen(code));
		return TB_ECODE;
	}
	memcpy(credit, code, 18);
	credit[18] = '\0';
	if ((rv = matter_credit_code_check(credit, errmsg, errlen)) != 0) {
		return rv;
	}
	if (code[18] < '1' || code[18] > '7') {
		snprintf(errmsg, errlen,
		         "implementation code \"%s\": level digit '%c' must "
		         "be 1-7",
		         code, code[18]);
		return TB_ECODE;
	}
	return matter_catalog_code_check(code + 19, NULL, errmsg, errlen);
}

int
matter_key(const json_t *obj, char *out, size_t n)
{
	const char *cc = spec_str(obj, "catalog_code");
	const char *hi = spec_str(obj, "task_handle_item");

	if (cc == NULL) {
		return TB_ECODE;
	}
	if (hi != NULL && hi[0] != '\0') {
		snprintf(out, n, "%s#%s", cc, hi);
	} else {
		snprintf(out, n, "%s", cc);
	}
	return TB_OK;
}

/* ---- parts ------------------------------------------------------------- */

static const char *const task_types[] = { "01", "02", "03", "04", "05", "06",
	                                  "07", "08", "09", "10", "20", NULL };
static const char *const levels[] = { "1", "2", "3", "4", "5", "6", "7", NULL };
static const char *const units[] = { "G", "Z", NULL };
static const char *const project_types[] = { "1", "2", "3", "4", NULL };
static const char *const scopes[] = { "national",   "cross_province",
	                              "cross_city", "cross_county",
	                              "local",      NULL };
static const char *const channels[] = { "1", "2", "3", "4", NULL };
static const char *const form_types[] = { "string", "text",   "int",
	                                  "bool",   "date",   "id_number",
	                                  "phone",  "region", "enum",
	                                  NULL };

static bool
task_type_ok(const char *t)
{
	/* 11-19 and 21-29 are local extensions of the national list. */
	return spec_one_of(t, task_types) ||
	       (spec_digits(t, 2) && (t[0] == '1' || t[0] == '2') &&
	        t[1] != '0');
}

static bool
ident_ok(const char *s)
{
	if (s == NULL || s[0] < 'a' || s[0] > 'z' || strlen(s) > 64) {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_')) {
			return false;
		}
	}
	return true;
}

/* nonempty_str adds a problem if obj[key] is present but empty. */
static int
nonempty_str(const json_t *obj, const char *key, size_t max_chars,
             const char *path, struct tb_diag *d)
{
	const char *s = spec_str(obj, key);
	char sub[TB_DIAG_PATH];
	size_t n;

	if (s == NULL) {
		return 0;
	}
	tb_path_key(sub, sizeof(sub), path, key);
	n = spec_utf8_chars(s);
	if (n == 0) {
		tb_diag_add(d, TB_ERANGE, sub, "must not be empty");
		return 1;
	}
	if (max_chars > 0 && n > max_chars) {
		tb_diag_add(d, TB_ERANGE, sub,
		            "has %zu characters, at most %zu allowed", n,
		            max_chars);
		return 1;
	}
	return 0;
}

static int
one_of(const json_t *obj, const char *key, const char *const *options,
       const char *what, const char *path, struct tb_diag *d)
{
	const char *s = spec_str(obj, key);
	char sub[TB_DIAG_PATH];

	if (s == NULL || spec_one_of(s, options)) {
		return 0;
	}
	tb_path_key(sub, sizeof(sub), path, key);
	tb_diag_add(d, TB_ECODE, sub, "\"%s\" is not a valid %s", s, what);
	return 1;
}

static int
int_range(const json_t *obj, const char *key, long long lo, long long hi,
          const char *path, struct tb_diag *d)
{
	json_t *v = json_object_get(obj, key);
	char sub[TB_DIAG_PATH];
	long long x;

	if (!json_is_integer(v)) {
		return 0;
	}
	x = json_integer_value(v);
	if (x < lo || x > hi) {
		tb_path_key(sub, sizeof(sub), path, key);
		tb_diag_add(d, TB_ERANGE, sub, "%lld is outside %lld..%lld", x,
		            lo, hi);
		return 1;
	}
	return 0;
}

int
matter_process_check(const json_t *process, const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "step", SPEC_INT, true },
		{ "name", SPEC_STRING, true },
		{ "role", SPEC_STRING, false },
		{ "time_limit", SPEC_INT, false },
	};
	char sub[TB_DIAG_PATH], fp[TB_DIAG_PATH];
	json_t *s;
	size_t i;
	int n = 0;

	if (!json_is_array(process)) {
		return 0;
	}
	if (json_array_size(process) == 0) {
		tb_diag_add(d, TB_ERANGE, path, "needs at least one step");
		return 1;
	}
	json_array_foreach(process, i, s)
	{
		tb_path_idx(sub, sizeof(sub), path, i);
		if (spec_object(s, f, 4, sub, d) != 0) {
			n++;
			continue;
		}
		if (spec_int(s, "step", 0) != (long long)i + 1) {
			tb_path_key(fp, sizeof(fp), sub, "step");
			tb_diag_add(d, TB_ERANGE, fp,
			            "step %lld out of order: expected %zu",
			            spec_int(s, "step", 0), i + 1);
			n++;
		}
		n += nonempty_str(s, "name", 100, sub, d);
		n += int_range(s, "time_limit", 0, 3660, sub, d);
	}
	return n;
}

int
matter_materials_check(const json_t *materials, const char *path,
                       struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "code", SPEC_STRING, true },
		{ "name", SPEC_STRING, true },
		{ "issuing_body", SPEC_STRING, false },
		{ "original_count", SPEC_INT, false },
		{ "copy_count", SPEC_INT, false },
		{ "required", SPEC_BOOL, true },
		{ "format", SPEC_STRING, false },
		{ "source", SPEC_STRING, false },
		{ "note", SPEC_STRING, false },
	};
	static const char *const formats[] = { "paper", "electronic", "either",
		                               NULL };
	static const char *const sources[] = { "applicant", "shared",
		                               "issuing_body", NULL };
	char sub[TB_DIAG_PATH], fp[TB_DIAG_PATH];
	json_t *m;
	size_t i, j;
	int n = 0;

	if (!json_is_array(materials)) {
		return 0;
	}
	json_array_foreach(materials, i, m)
	{
		tb_path_idx(sub, sizeof(sub), path, i);
		if (spec_object(m, f, sizeof(f) / sizeof(f[0]), sub, d) != 0) {
			n++;
			continue;
		}
		n += nonempty_str(m, "code", 32, sub, d);
		n += nonempty_str(m, "name", 200, sub, d);
		n += int_range(m, "original_count", 0, 99, sub, d);
		n += int_range(m, "copy_count", 0, 99, sub, d);
		n += one_of(m, "format", formats, "material format", sub, d);
		n += one_of(m, "source", sources, "material source", sub, d);
		for (j = 0; j < i; j++) {
			if (json_equal(
			        json_object_get(m, "code"),
			        json_object_get(json_array_get(materials, j),
			                        "code"))) {
				tb_path_key(fp, sizeof(fp), sub, "code");
				tb_diag_add(
				    d, TB_EDUP, fp,
				    "material code \"%s\" is used twice",
				    spec_str(m, "code"));
				n++;
				break;
			}
		}
	}
	return n;
}

const json_t *
matter_form_find(const json_t *form, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(form, i, f)
	{
		const char *s = spec_str(f, "name");
		if (s != NULL && !strcmp(s, name)) {
			return f;
		}
	}
	return NULL;
}

int
matter_form_check(const json_t *form, bool shared, const char *path,
                  struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "name", SPEC_STRING, true },
		{ "label", SPEC_STRING, true },
		{ "type", SPEC_STRING, true },
		{ "required", SPEC_BOOL, false },
		{ "options", SPEC_ARRAY, false },
		{ "max_len", SPEC_INT, false },
		{ "maps", SPEC_ARRAY, true },
	};
	char sub[TB_DIAG_PATH], fp[TB_DIAG_PATH];
	json_t *x;
	size_t i, j;
	int n = 0;

	if (!json_is_array(form)) {
		return 0;
	}
	json_array_foreach(form, i, x)
	{
		const char *name, *type;
		tb_path_idx(sub, sizeof(sub), path, i);
		if (spec_object(x, f, shared ? 7 : 6, sub, d) != 0) {
			n++;
			continue;
		}
		name = spec_str(x, "name");
		type = spec_str(x, "type");
		tb_path_key(fp, sizeof(fp), sub, "name");
		if (!ident_ok(name)) {
			tb_diag_add(d, TB_ECODE, fp,
			            "\"%s\" is not a field name "
			            "([a-z][a-z0-9_]*, at most 64)",
			            name);
			n++;
		}
		for (j = 0; j < i; j++) {
			const char *o =
			    spec_str(json_array_get(form, j), "name");
			if (o != NULL && !strcmp(o, name)) {
				tb_diag_add(d, TB_EDUP, fp,
				            "field \"%s\" is defined twice",
				            name);
				n++;
				break;
			}
		}
		n += nonempty_str(x, "label", 100, sub, d);
		n += one_of(x, "type", form_types, "form field type", sub, d);
		n += int_range(x, "max_len", 1, 10000, sub, d);
		if (type != NULL && !strcmp(type, "enum")) {
			tb_path_key(fp, sizeof(fp), sub, "options");
			if (json_array_size(json_object_get(x, "options")) ==
			    0) {
				tb_diag_add(d, TB_EMISSING, fp,
				            "an enum field needs options");
				n++;
			} else {
				n += spec_string_set(x, "options", NULL, true,
				                     sub, d);
			}
		} else if (json_object_get(x, "options") != NULL) {
			tb_path_key(fp, sizeof(fp), sub, "options");
			tb_diag_add(d, TB_EUNKNOWN, fp,
			            "options apply to enum fields only");
			n++;
		}
	}
	return n;
}

static int
charge_check(const json_t *c, const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "is_charge", SPEC_BOOL, true },
		{ "basis", SPEC_STRING, false },
		{ "items", SPEC_ARRAY, false },
	};
	static const struct spec_field fi[] = {
		{ "name", SPEC_STRING, true },
		{ "max_fen", SPEC_INT, true },
	};
	char sub[TB_DIAG_PATH], ip[TB_DIAG_PATH];
	json_t *items, *it;
	size_t i;
	int n;

	if (c == NULL) {
		return 0;
	}
	if ((n = spec_object(c, f, 3, path, d)) != 0) {
		return n;
	}
	items = json_object_get(c, "items");
	if (spec_bool(c, "is_charge", false)) {
		if (spec_str(c, "basis") == NULL) {
			tb_path_key(sub, sizeof(sub), path, "basis");
			tb_diag_add(d, TB_EMISSING, sub,
			            "a fee needs its legal basis");
			n++;
		}
		if (json_array_size(items) == 0) {
			tb_path_key(sub, sizeof(sub), path, "items");
			tb_diag_add(d, TB_EMISSING, sub,
			            "a fee needs at least one item");
			n++;
		}
	} else if (json_array_size(items) > 0) {
		tb_path_key(sub, sizeof(sub), path, "items");
		tb_diag_add(d, TB_ERANGE, sub,
		            "fee items given but is_charge is false");
		n++;
	}
	tb_path_key(sub, sizeof(sub), path, "items");
	json_array_foreach(items, i, it)
	{
		tb_path_idx(ip, sizeof(ip), sub, i);
		if (spec_object(it, fi, 2, ip, d) != 0) {
			n++;
			continue;
		}
		n += nonempty_str(it, "name", 100, ip, d);
		n += int_range(it, "max_fen", 0, 100000000, ip, d);
	}
	return n;
}

int
matter_check(const json_t *m, const char *path, struct tb_diag *d)
{
	struct spec_field f[MATTER_NFIELDS];
	char sub[TB_DIAG_PATH], err[200];
	const char *s, *key;
	size_t i, nf = 0;
	json_t *v;
	int n = 0;

	if (!json_is_object(m)) {
		tb_diag_add(d, TB_ETYPE, path, "a matter must be an object");
		return 1;
	}
	/* Local fields get a more useful message than "unknown field". */
	json_object_foreach((json_t *)m, key, v)
	{
		const struct matter_field *mf = matter_field_find(key);
		(void)v;
		if (mf != NULL && !mf->in_standard) {
			tb_path_key(sub, sizeof(sub), path, key);
			tb_diag_add(
			    d, TB_EOWNER, sub,
			    "field %s (%s) is local: set it in a city or "
			    "county overlay, not in the standard layer",
			    key, mf->label);
			n++;
		}
	}
	for (i = 0; i < MATTER_NFIELDS; i++) {
		if (matter_table[i].in_standard) {
			f[nf].name = matter_table[i].name;
			f[nf].type = matter_table[i].type;
			f[nf].required = matter_table[i].std_required;
			nf++;
		} else if (json_object_get(m, matter_table[i].name)) {
			f[nf].name = matter_table[i].name;
			f[nf].type = SPEC_ANY;
			f[nf].required = false;
			nf++;
		}
	}
	n += spec_object(m, f, nf, path, d);

	if ((s = spec_str(m, "task_type")) != NULL && !task_type_ok(s)) {
		tb_path_key(sub, sizeof(sub), path, "task_type");
		tb_diag_add(d, TB_ECODE, sub,
		            "\"%s\" is not a matter type (01-10, 20, or a "
		            "local 11-19, 21-29)",
		            s);
		n++;
		s = NULL;
	}
	if (spec_str(m, "catalog_code") != NULL &&
	    matter_catalog_code_check(spec_str(m, "catalog_code"), s, err,
	                              sizeof(err)) != 0) {
		tb_path_key(sub, sizeof(sub), path, "catalog_code");
		tb_diag_add(d, TB_ECODE, sub, "%s", err);
		n++;
	}
	if ((s = spec_str(m, "task_handle_item")) != NULL && strlen(s) > 64) {
		tb_path_key(sub, sizeof(sub), path, "task_handle_item");
		tb_diag_add(d, TB_ERANGE, sub, "longer than 64 bytes");
		n++;
	}
	n += nonempty_str(m, "task_name", 200, path, d);
	n += nonempty_str(m, "competent_dept", 100, path, d);
	n += nonempty_str(m, "by_law", 0, path, d);
	n += nonempty_str(m, "accept_condition", 0, path, d);
	n += spec_string_set(m, "use_level", levels, true, path, d);
	n += spec_string_set(m, "handle_type", channels, true, path, d);
	n += one_of(m, "anticipate_type", units, "time unit (G or Z)", path, d);
	n += one_of(m, "promise_type", units, "time unit (G or Z)", path, d);
	n += one_of(m, "project_type", project_types, "case kind (1-4)", path,
	            d);
	n += one_of(m, "handle_scope", scopes, "handling scope", path, d);
	n += int_range(m, "anticipate_day", 0, 3660, path, d);
	n += int_range(m, "promise_day", 0, 3660, path, d);
	if (spec_int(m, "anticipate_day", 1) == 0 &&
	    (s = spec_str(m, "project_type")) != NULL && strcmp(s, "1") != 0) {
		tb_path_key(sub, sizeof(sub), path, "anticipate_day");
		tb_diag_add(d, TB_ERANGE, sub,
		            "0 days is only for immediate cases "
		            "(project_type 1)");
		n++;
	}
	if ((json_object_get(m, "promise_day") == NULL) !=
	    (json_object_get(m, "promise_type") == NULL)) {
		tb_path_key(sub, sizeof(sub), path, "promise_type");
		tb_diag_add(d, TB_EMISSING, sub,
		            "promise_day and promise_type go together");
		n++;
	}
	tb_path_key(sub, sizeof(sub), path, "process");
	n += matter_process_check(json_object_get(m, "process"), sub, d);
	tb_path_key(sub, sizeof(sub), path, "materials");
	n += matter_materials_check(json_object_get(m, "materials"), sub, d);
	tb_path_key(sub, sizeof(sub), path, "form");
	n += matter_form_check(json_object_get(m, "form"), false, sub, d);
	tb_path_key(sub, sizeof(sub), path, "charge");
	n += charge_check(json_object_get(m, "charge"), sub, d);
	return n;
}
