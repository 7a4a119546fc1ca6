/* Overlays: local layers checked against the layers above, and merged. */
#include "schema/overlay.h"

#include "schema/matter.h"
#include "schema/region.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ov_ctx carries what every entry check needs. */
struct ov_ctx {
	const struct catalog *std;
	const json_t *const *above;
	size_t nabove;
	const char *region; /* the overlay's region */
	int32_t code;
	int tier; /* 3 city, 4 county */
	struct tb_diag *d;
};

static const json_t *
find_keyed(const json_t *arr, const char *key)
{
	char k[MATTER_KEY_MAX];
	json_t *x;
	size_t i;

	json_array_foreach(arr, i, x)
	{
		if (matter_key(x, k, sizeof(k)) == 0 && !strcmp(k, key)) {
			return x;
		}
	}
	return NULL;
}

/* promise_caps checks (pd, pt) against the matter's statutory limit and
 * every ancestor default for key. */
static int
promise_caps(const struct ov_ctx *c, const json_t *m, const char *key,
             long long pd, const char *pt, const char *path)
{
	char why[200];
	size_t i;
	int n = 0;

	if (limit_le(c->std->cal, pd, pt, spec_int(m, "anticipate_day", 0),
	             spec_str(m, "anticipate_type"), why, sizeof(why))) {
		tb_diag_add(c->d, TB_ERANGE, path,
		            "%s at %s: promised limit later than the statutory "
		            "one set by %s: %s",
		            key, c->region, c->std->region, why);
		n++;
	}
	if (spec_str(m, "promise_type") != NULL &&
	    limit_le(c->std->cal, pd, pt, spec_int(m, "promise_day", 0),
	             spec_str(m, "promise_type"), why, sizeof(why))) {
		tb_diag_add(c->d, TB_ERANGE, path,
		            "%s at %s: promised limit later than the cap set "
		            "by %s: %s",
		            key, c->region, c->std->region, why);
		n++;
	}
	for (i = 0; i < c->nabove; i++) {
		const json_t *df =
		    find_keyed(json_object_get(c->above[i], "defaults"), key);
		const char *dt = spec_str(df, "promise_type");
		if (dt == NULL) {
			continue;
		}
		if (limit_le(c->std->cal, pd, pt,
		             spec_int(df, "promise_day", 0), dt, why,
		             sizeof(why))) {
			tb_diag_add(c->d, TB_ERANGE, path,
			            "%s at %s: promised limit later than the "
			            "cap set by %s: %s",
			            key, c->region,
			            spec_str(c->above[i], "region"), why);
			n++;
		}
	}
	return n;
}

/* owned_fields refuses fields the region does not own for this matter. */
static int
owned_fields(const struct ov_ctx *c, const json_t *e, const json_t *m,
             const char *key, bool is_default, const char *path)
{
	const char *k, *owner;
	char sub[TB_DIAG_PATH];
	bool key_list = spec_bool(m, "key_list", false);
	json_t *v;
	int n = 0;

	json_object_foreach((json_t *)e, k, v)
	{
		const struct matter_field *f = matter_field_find(k);
		bool allowed =
		    f != NULL && (is_default ? f->in_default : f->in_entry);
		(void)v;
		tb_path_key(sub, sizeof(sub), path, k);
		if (f == NULL) {
			tb_diag_add(c->d, TB_EUNKNOWN, sub,
			            "unknown field '%s'", k);
			n++;
		} else if (!strcmp(k, "catalog_code") ||
		           !strcmp(k, "task_handle_item")) {
			continue; /* names the matter */
		} else if (matter_field_locked(f, key_list)) {
			owner = f->owner == OWNER_KEYLIST
			            ? "四统一 key-list matter"
			            : "四级四同";
			tb_diag_add(c->d, TB_EOWNER, sub,
			            "field %s (%s) of %s is owned by %s (%s) "
			            "and cannot be changed by %s",
			            k, f->label, key, c->std->region, owner,
			            c->region);
			n++;
		} else if (!allowed) {
			tb_diag_add(c->d, TB_EUNKNOWN, sub,
			            "field %s (%s) cannot be set in a %s", k,
			            f->label,
			            is_default ? "region-wide default"
			                       : "implementation entry");
			n++;
		} else if (json_typeof(v) !=
		           (f->type == SPEC_STRING  ? JSON_STRING
		            : f->type == SPEC_ARRAY ? JSON_ARRAY
		                                    : JSON_INTEGER)) {
			tb_diag_add(c->d, TB_ETYPE, sub, "must be %s",
			            spec_type_name(f->type));
			n++;
		}
	}
	return n;
}

static int
channels_fees(const struct ov_ctx *c, const json_t *e, const json_t *m,
              const char *key, const char *path)
{
	static const struct spec_field fi[] = {
		{ "name", SPEC_STRING, true },
		{ "amount_fen", SPEC_INT, true },
	};
	const json_t *std_items =
	    json_object_get(json_object_get(m, "charge"), "items");
	char sub[TB_DIAG_PATH], el[TB_DIAG_PATH];
	json_t *x, *y;
	size_t i, j;
	int n = 0;

	tb_path_key(sub, sizeof(sub), path, "handle_type");
	json_array_foreach(json_object_get(e, "handle_type"), i, x)
	{
		bool found = false;
		json_array_foreach(json_object_get(m, "handle_type"), j, y)
		{
			found = found || json_equal(x, y);
		}
		if (!found) {
			tb_path_idx(el, sizeof(el), sub, i);
			tb_diag_add(
			    c->d, TB_ERANGE, el,
			    "%s: channel %s is not one the standard "
			    "layer (%s) offers",
			    key, json_is_string(x) ? json_string_value(x) : "?",
			    c->std->region);
			n++;
		}
	}
	if (json_object_get(e, "handle_type") != NULL &&
	    json_array_size(json_object_get(e, "handle_type")) == 0) {
		tb_diag_add(c->d, TB_ERANGE, sub, "must not be empty");
		n++;
	}
	tb_path_key(sub, sizeof(sub), path, "charge_items");
	json_array_foreach(json_object_get(e, "charge_items"), i, x)
	{
		const json_t *si = NULL;
		tb_path_idx(el, sizeof(el), sub, i);
		if (spec_object(x, fi, 2, el, c->d) != 0) {
			n++;
			continue;
		}
		json_array_foreach(std_items, j, y)
		{
			if (json_equal(json_object_get(x, "name"),
			               json_object_get(y, "name"))) {
				si = y;
			}
		}
		if (si == NULL) {
			tb_diag_add(c->d, TB_ERANGE, el,
			            "%s: fee \"%s\" is not in the standard "
			            "layer's basis",
			            key, spec_str(x, "name"));
			n++;
		} else if (spec_int(x, "amount_fen", 0) < 0 ||
		           spec_int(x, "amount_fen", 0) >
		               spec_int(si, "max_fen", 0)) {
			tb_diag_add(c->d, TB_ERANGE, el,
			            "%s: fee \"%s\" of %lld fen is outside "
			            "0..%lld set by %s",
			            key, spec_str(x, "name"),
			            spec_int(x, "amount_fen", 0),
			            spec_int(si, "max_fen", 0), c->std->region);
			n++;
		}
	}
	return n;
}

/* entry_codes checks task_code, its parts, and the named matter. */
static const json_t *
entry_matter(const struct ov_ctx *c, const json_t *e, const char *path,
             char *key, int *n)
{
	const struct region_table *t = region_builtin();
	const char *tc = spec_str(e, "task_code");
	const char *cc = spec_str(e, "catalog_code");
	const char *dc = spec_str(e, "dept_code");
	char sub[TB_DIAG_PATH], err[200], lvl[2];
	const json_t *m;
	int32_t reg;

	tb_path_key(sub, sizeof(sub), path, "task_code");
	if (tc == NULL) {
		tb_diag_add(c->d, TB_EMISSING, sub,
		            "required field 'task_code' is missing");
		(*n)++;
		return NULL;
	}
	if (matter_task_code_check(tc, err, sizeof(err)) != 0) {
		tb_diag_add(c->d, TB_ECODE, sub, "%s", err);
		(*n)++;
		return NULL;
	}
	reg = atoi((char[7]){ tc[2], tc[3], tc[4], tc[5], tc[6], tc[7], 0 });
	if (reg != c->code && !region_is_ancestor(t, c->code, reg)) {
		tb_diag_add(c->d, TB_ECODE, sub,
		            "implementing body's credit code is registered in "
		            "%06d, not in %s",
		            (int)reg, c->region);
		(*n)++;
	}
	if (tc[18] - '0' != c->tier) {
		tb_diag_add(c->d, TB_ECODE, sub,
		            "level digit %c: entries of %s are level %d",
		            tc[18], c->region, c->tier);
		(*n)++;
	}
	if (cc != NULL && strcmp(cc, tc + 19) != 0) {
		tb_path_key(sub, sizeof(sub), path, "catalog_code");
		tb_diag_add(c->d, TB_ECODE, sub,
		            "\"%s\" differs from the basic code in task_code "
		            "(%s)",
		            cc, tc + 19);
		(*n)++;
	}
	if (dc != NULL && (strlen(dc) != 18 || strncmp(dc, tc, 18) != 0)) {
		tb_path_key(sub, sizeof(sub), path, "dept_code");
		tb_diag_add(c->d, TB_ECODE, sub,
		            "\"%s\" differs from the credit code in task_code",
		            dc);
		(*n)++;
	}
	if (spec_str(e, "task_handle_item") != NULL &&
	    spec_str(e, "task_handle_item")[0] != '\0') {
		snprintf(key, MATTER_KEY_MAX, "%s#%s", tc + 19,
		         spec_str(e, "task_handle_item"));
	} else {
		snprintf(key, MATTER_KEY_MAX, "%s", tc + 19);
	}
	if ((m = catalog_matter(c->std, key)) == NULL) {
		tb_diag_add(c->d, TB_ENOTFOUND, sub,
		            "matter %s is not in the %s standard layer "
		            "(version %lld)",
		            key, c->std->region, c->std->version);
		(*n)++;
		return NULL;
	}
	lvl[0] = tc[18];
	lvl[1] = '\0';
	if (!json_array_size(json_object_get(m, "use_level")) ||
	    !spec_one_of(lvl, (const char *const[]){ "", NULL })) {
		json_t *x;
		size_t i;
		bool ok = false;
		json_array_foreach(json_object_get(m, "use_level"), i, x)
		{
			ok = ok || !strcmp(json_string_value(x), lvl);
		}
		if (!ok) {
			tb_diag_add(
			    c->d, TB_ERANGE, sub,
			    "%s is not exercised at level %s (use_level "
			    "of %s)",
			    key, lvl, c->std->region);
			(*n)++;
		}
	}
	return m;
}

static int
entry_check(const struct ov_ctx *c, const json_t *e, const char *path)
{
	static const char *const natures[] = { "1", "2", "3", "9", NULL };
	char key[MATTER_KEY_MAX], sub[TB_DIAG_PATH];
	const json_t *m;
	const char *s;
	int n = 0;

	if (!json_is_object(e)) {
		tb_diag_add(c->d, TB_ETYPE, path, "must be an object");
		return 1;
	}
	if ((m = entry_matter(c, e, path, key, &n)) == NULL) {
		return n;
	}
	n += owned_fields(c, e, m, key, false, path);
	if (spec_str(e, "dept_name") == NULL) {
		tb_path_key(sub, sizeof(sub), path, "dept_name");
		tb_diag_add(c->d, TB_EMISSING, sub,
		            "required field 'dept_name' (实施主体) is missing");
		n++;
	}
	if ((s = spec_str(e, "dept_nature")) != NULL &&
	    !spec_one_of(s, natures)) {
		tb_path_key(sub, sizeof(sub), path, "dept_nature");
		tb_diag_add(c->d, TB_ECODE, sub, "\"%s\" is not 1, 2, 3 or 9",
		            s);
		n++;
	}
	if (n != 0) {
		return n;
	}
	tb_path_key(sub, sizeof(sub), path, "promise_day");
	if ((json_object_get(e, "promise_day") == NULL) !=
	    (json_object_get(e, "promise_type") == NULL)) {
		tb_diag_add(c->d, TB_EMISSING, sub,
		            "promise_day and promise_type go together");
		n++;
	} else if ((s = spec_str(e, "promise_type")) != NULL) {
		if (strcmp(s, "G") != 0 && strcmp(s, "Z") != 0) {
			tb_diag_add(c->d, TB_ECODE, sub,
			            "promise_type \"%s\" is not G or Z", s);
			n++;
		} else {
			n += promise_caps(
			    c, m, key, spec_int(e, "promise_day", 0), s, sub);
		}
	}
	n += channels_fees(c, e, m, key, path);
	tb_path_key(sub, sizeof(sub), path, "materials");
	n += matter_materials_check(json_object_get(e, "materials"), sub, c->d);
	tb_path_key(sub, sizeof(sub), path, "process");
	n += matter_process_check(json_object_get(e, "process"), sub, c->d);
	return n;
}

static int
default_check(const struct ov_ctx *c, const json_t *df, const char *path)
{
	char key[MATTER_KEY_MAX], sub[TB_DIAG_PATH];
	const json_t *m;
	const char *pt;
	int n;

	if (!json_is_object(df) || matter_key(df, key, sizeof(key)) != 0) {
		tb_path_key(sub, sizeof(sub), path, "catalog_code");
		return tb_diag_add(c->d, TB_EMISSING, sub,
		                   "a default names its matter by "
		                   "catalog_code") != 0;
	}
	if ((m = catalog_matter(c->std, key)) == NULL) {
		tb_path_key(sub, sizeof(sub), path, "catalog_code");
		tb_diag_add(c->d, TB_ENOTFOUND, sub,
		            "matter %s is not in the %s standard layer "
		            "(version %lld)",
		            key, c->std->region, c->std->version);
		return 1;
	}
	if ((n = owned_fields(c, df, m, key, true, path)) != 0) {
		return n;
	}
	tb_path_key(sub, sizeof(sub), path, "promise_day");
	if ((pt = spec_str(df, "promise_type")) != NULL &&
	    json_object_get(df, "promise_day") != NULL) {
		n += promise_caps(c, m, key, spec_int(df, "promise_day", 0), pt,
		                  sub);
	} else if (pt != NULL || json_object_get(df, "promise_day")) {
		tb_diag_add(c->d, TB_EMISSING, sub,
		            "promise_day and promise_type go together");
		n++;
	}
	return n;
}

static int
header_check(struct ov_ctx *c, const json_t *ov, const char *path)
{
	static const struct spec_field f[] = {
		{ "format", SPEC_STRING, true },
		{ "region", SPEC_STRING, true },
		{ "version", SPEC_INT, true },
		{ "prev_hash", SPEC_STRING_OR_NULL, true },
		{ "effective_at", SPEC_STRING, true },
		{ "base_version", SPEC_INT, true },
		{ "defaults", SPEC_ARRAY, false },
		{ "entries", SPEC_ARRAY, true },
		{ "removed", SPEC_ARRAY, false },
		{ "signatures", SPEC_ARRAY, false },
		{ "note", SPEC_STRING, false },
	};
	const struct region_table *t = region_builtin();
	const struct region *r;
	char sub[TB_DIAG_PATH], err[160];
	int64_t ms;
	size_t i;
	int n;

	if ((n = spec_object(ov, f, sizeof(f) / sizeof(f[0]), path, c->d))) {
		return n;
	}
	c->region = spec_str(ov, "region");
	tb_path_key(sub, sizeof(sub), path, "format");
	if (strcmp(spec_str(ov, "format"), "tongban.overlay/1") != 0) {
		tb_diag_add(c->d, TB_ECODE, sub,
		            "\"%s\" is not tongban.overlay/1",
		            spec_str(ov, "format"));
		n++;
	}
	tb_path_key(sub, sizeof(sub), path, "region");
	if (region_code_parse_msg(c->region, &c->code, err, sizeof(err))) {
		return n + (tb_diag_add(c->d, TB_ECODE, sub, "%s", err) != 0);
	}
	if ((r = region_find(t, c->code)) == NULL ||
	    r->level == REGION_PROVINCE) {
		return n + (tb_diag_add(c->d, TB_ECODE, sub,
		                        "%s is not a city or county of the "
		                        "region table",
		                        c->region) != 0);
	}
	c->tier = region_tier(r);
	if (!region_is_ancestor(t, atoi(c->std->region), c->code)) {
		tb_diag_add(c->d, TB_ECODE, sub,
		            "%s is not in province %s, whose standard layer "
		            "was given",
		            c->region, c->std->region);
		n++;
	}
	for (i = 0; i < c->nabove; i++) {
		const char *ar = spec_str(c->above[i], "region");
		if (ar == NULL || !region_is_ancestor(t, atoi(ar), c->code)) {
			tb_diag_add(c->d, TB_ECODE, sub,
			            "the overlay of %s given above is not of "
			            "an ancestor of %s",
			            ar ? ar : "?", c->region);
			n++;
		}
	}
	tb_path_key(sub, sizeof(sub), path, "version");
	if (spec_int(ov, "version", 0) < 1) {
		tb_diag_add(c->d, TB_ERANGE, sub, "versions start at 1");
		n++;
	}
	tb_path_key(sub, sizeof(sub), path, "base_version");
	if (spec_int(ov, "base_version", 0) < 1 ||
	    spec_int(ov, "base_version", 0) > c->std->version) {
		tb_diag_add(c->d, TB_ECHAIN, sub,
		            "made against standard version %lld, but %s's "
		            "layer is at version %lld (catalog behind)",
		            spec_int(ov, "base_version", 0), c->std->region,
		            c->std->version);
		n++;
	}
	tb_path_key(sub, sizeof(sub), path, "effective_at");
	if (spec_time_parse(spec_str(ov, "effective_at"), &ms) != 0) {
		tb_diag_add(c->d, TB_EMALFORMED, sub,
		            "not an RFC 3339 time with offset");
		n++;
	}
	return n + spec_string_set(ov, "removed", NULL, false, path, c->d);
}

int
overlay_check(const struct catalog *std, const json_t *const *above,
              size_t nabove, const json_t *ov, const char *path,
              struct tb_diag *d)
{
	struct ov_ctx c = { std, above, nabove, NULL, 0, 0, d };
	char sub[TB_DIAG_PATH], el[TB_DIAG_PATH];
	json_t *x;
	size_t i, j;
	int n;

	if ((n = header_check(&c, ov, path)) != 0) {
		return n;
	}
	tb_path_key(sub, sizeof(sub), path, "defaults");
	json_array_foreach(json_object_get(ov, "defaults"), i, x)
	{
		tb_path_idx(el, sizeof(el), sub, i);
		n += default_check(&c, x, el);
	}
	tb_path_key(sub, sizeof(sub), path, "entries");
	json_array_foreach(json_object_get(ov, "entries"), i, x)
	{
		tb_path_idx(el, sizeof(el), sub, i);
		n += entry_check(&c, x, el);
		for (j = 0; j < i; j++) {
			json_t *y =
			    json_array_get(json_object_get(ov, "entries"), j);
			char kx[MATTER_KEY_MAX], ky[MATTER_KEY_MAX];
			if (overlay_entry_key(x, kx, sizeof(kx)) == 0 &&
			    overlay_entry_key(y, ky, sizeof(ky)) == 0 &&
			    !strcmp(kx, ky)) {
				tb_diag_add(d, TB_EDUP, el,
				            "entry %s is listed twice", kx);
				n++;
			}
		}
	}
	return n;
}

int
overlay_entry_key(const json_t *entry, char *out, size_t n)
{
	const char *tc = spec_str(entry, "task_code");
	const char *hi = spec_str(entry, "task_handle_item");

	if (tc == NULL || strlen(tc) != 31) {
		return TB_ECODE;
	}
	if (hi != NULL && hi[0] != '\0') {
		snprintf(out, n, "%s#%s", tc, hi);
	} else {
		snprintf(out, n, "%s", tc);
	}
	return TB_OK;
}

/* merge_into copies every field of src but the reference fields. */
static int
merge_into(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)src, k, v)
	{
		if (json_object_set(dst, k, v) != 0) {
			return TB_ENOMEM;
		}
	}
	return TB_OK;
}

int
overlay_effective(const struct catalog *std, const json_t *const *above,
                  size_t nabove, const json_t *ov, const char *task_code,
                  json_t **out)
{
	char key[MATTER_KEY_MAX];
	const json_t *e = NULL, *m, *df;
	json_t *x, *eff;
	size_t i;

	*out = NULL;
	json_array_foreach(json_object_get(ov, "entries"), i, x)
	{
		if (overlay_entry_key(x, key, sizeof(key)) == 0 &&
		    !strcmp(key, task_code)) {
			e = x;
		}
	}
	if (e == NULL) {
		return TB_ENOTFOUND;
	}
	/* The matter's key is the entry key less the credit code and
	 * level: basic code [# handling item]. */
	snprintf(key, sizeof(key), "%s", task_code + 19);
	if ((m = catalog_matter(std, key)) == NULL) {
		return TB_ENOTFOUND;
	}
	if ((eff = json_copy((json_t *)m)) == NULL) {
		return TB_ENOMEM;
	}
	for (i = 0; i < nabove; i++) {
		df = find_keyed(json_object_get(above[i], "defaults"), key);
		if (df != NULL && merge_into(eff, df) != 0) {
			json_decref(eff);
			return TB_ENOMEM;
		}
	}
	if (merge_into(eff, e) != 0) {
		json_decref(eff);
		return TB_ENOMEM;
	}
	*out = eff;
	return TB_OK;
}

int
overlay_hashes(const json_t *effective, uint8_t all[CANON_HASH_LEN],
               uint8_t locked[CANON_HASH_LEN])
{
	bool key_list = spec_bool(effective, "key_list", false);
	json_t *lk = json_object(), *v;
	const char *k;
	char err[160];
	int rv;

	if (lk == NULL) {
		return TB_ENOMEM;
	}
	json_object_foreach((json_t *)effective, k, v)
	{
		const struct matter_field *f = matter_field_find(k);
		if (f != NULL && matter_field_locked(f, key_list) &&
		    json_object_set(lk, k, v) != 0) {
			json_decref(lk);
			return TB_ENOMEM;
		}
	}
	rv = canon_hash_value(effective, NULL, all, err, sizeof(err));
	if (rv == 0) {
		rv = canon_hash_value(lk, NULL, locked, err, sizeof(err));
	}
	json_decref(lk);
	return rv;
}
