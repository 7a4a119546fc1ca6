/* Bundles (一件事): members, their dependency graph, the shared form. */
#include "schema/bundle.h"

#include "schema/matter.h"
#include "schema/spec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE_MAX_MEMBERS 64

static long
member_index(const json_t *members, const char *id)
{
	json_t *m;
	size_t i;

	json_array_foreach(members, i, m)
	{
		const char *s = spec_str(m, "id");
		if (s != NULL && id != NULL && !strcmp(s, id)) {
			return (long)i;
		}
	}
	return -1;
}

int
bundle_order(const json_t *b, size_t *order, size_t n)
{
	const json_t *members = json_object_get(b, "members");
	size_t count = json_array_size(members), done = 0, i, j;
	bool placed[BUNDLE_MAX_MEMBERS] = { false };

	if (count > BUNDLE_MAX_MEMBERS || count > n) {
		return -1;
	}
	/* Kahn's algorithm, always taking the first ready member so the
	 * order is deterministic. */
	while (done < count) {
		for (i = 0; i < count; i++) {
			json_t *after, *a;
			bool ready = !placed[i];
			after = json_object_get(json_array_get(members, i),
			                        "after");
			json_array_foreach(after, j, a)
			{
				long k =
				    member_index(members, json_string_value(a));
				if (k < 0 || !placed[k]) {
					ready = false;
				}
			}
			if (ready) {
				placed[i] = true;
				order[done++] = i;
				break;
			}
		}
		if (i == count) {
			return -1;
		}
	}
	return (int)done;
}

static int
members_check(const json_t *b, const json_t *matters, const char *path,
              struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "id", SPEC_STRING, true },
		{ "catalog_code", SPEC_STRING, true },
		{ "task_handle_item", SPEC_STRING, false },
		{ "dept", SPEC_STRING, true },
		{ "after", SPEC_ARRAY, false },
	};
	const json_t *members = json_object_get(b, "members");
	char sub[TB_DIAG_PATH], mp[TB_DIAG_PATH], ap[TB_DIAG_PATH];
	char key[MATTER_KEY_MAX];
	size_t i, j, order[BUNDLE_MAX_MEMBERS];
	json_t *m, *a;
	int n = 0;

	tb_path_key(sub, sizeof(sub), path, "members");
	if (json_array_size(members) < 2) {
		tb_diag_add(d, TB_ERANGE, sub,
		            "a bundle needs at least two member matters");
		return 1;
	}
	if (json_array_size(members) > BUNDLE_MAX_MEMBERS) {
		tb_diag_add(d, TB_ERANGE, sub, "more than %d members",
		            BUNDLE_MAX_MEMBERS);
		return 1;
	}
	json_array_foreach(members, i, m)
	{
		tb_path_idx(mp, sizeof(mp), sub, i);
		if (spec_object(m, f, 5, mp, d) != 0) {
			n++;
			continue;
		}
		if (member_index(members, spec_str(m, "id")) != (long)i) {
			tb_path_key(ap, sizeof(ap), mp, "id");
			tb_diag_add(d, TB_EDUP, ap,
			            "member id \"%s\" used twice",
			            spec_str(m, "id"));
			n++;
		}
		matter_key(m, key, sizeof(key));
		if (json_object_get(matters, key) == NULL) {
			tb_path_key(ap, sizeof(ap), mp, "catalog_code");
			tb_diag_add(
			    d, TB_ENOTFOUND, ap,
			    "member \"%s\" names matter %s, which is not "
			    "in the catalog",
			    spec_str(m, "id"), key);
			n++;
		}
		tb_path_key(ap, sizeof(ap), mp, "after");
		json_array_foreach(json_object_get(m, "after"), j, a)
		{
			char el[TB_DIAG_PATH];
			tb_path_idx(el, sizeof(el), ap, j);
			if (!json_is_string(a)) {
				tb_diag_add(d, TB_ETYPE, el,
				            "must be a member id");
				n++;
			} else if (member_index(members, json_string_value(a)) <
			           0) {
				tb_diag_add(d, TB_ENOTFOUND, el,
				            "\"%s\" is not a member of this "
				            "bundle",
				            json_string_value(a));
				n++;
			} else if (!strcmp(json_string_value(a),
			                   spec_str(m, "id"))) {
				tb_diag_add(d, TB_ECYCLE, el,
				            "member \"%s\" waits for itself",
				            spec_str(m, "id"));
				n++;
			}
		}
	}
	if (n == 0 && bundle_order(b, order, BUNDLE_MAX_MEMBERS) < 0) {
		tb_diag_add(d, TB_ECYCLE, sub,
		            "the members' \"after\" order has a cycle");
		n++;
	}
	return n;
}

static const json_t *
member_form(const json_t *members, const json_t *matters, const char *id)
{
	char key[MATTER_KEY_MAX];
	long i = member_index(members, id);

	if (i < 0 || matter_key(json_array_get(members, (size_t)i), key,
	                        sizeof(key)) != 0) {
		return NULL;
	}
	return json_object_get(json_object_get(matters, key), "form");
}

/* fed is true if some shared field maps onto member id's field name. */
static bool
fed(const json_t *form, const char *id, const char *name)
{
	json_t *f, *mp;
	size_t i, j;

	json_array_foreach(form, i, f)
	{
		json_array_foreach(json_object_get(f, "maps"), j, mp)
		{
			const char *m = spec_str(mp, "member");
			const char *x = spec_str(mp, "field");
			if (m && x && !strcmp(m, id) && !strcmp(x, name)) {
				return true;
			}
		}
	}
	return false;
}

static int
form_check(const json_t *b, const json_t *matters, const char *path,
           struct tb_diag *d)
{
	static const struct spec_field mf[] = {
		{ "member", SPEC_STRING, true },
		{ "field", SPEC_STRING, true },
	};
	const json_t *members = json_object_get(b, "members");
	const json_t *form = json_object_get(b, "form");
	char sub[TB_DIAG_PATH], fp[TB_DIAG_PATH], mp[TB_DIAG_PATH];
	json_t *f, *m, *x;
	size_t i, j;
	int n;

	tb_path_key(sub, sizeof(sub), path, "form");
	if ((n = matter_form_check(form, true, sub, d)) != 0) {
		return n;
	}
	json_array_foreach(form, i, f)
	{
		tb_path_idx(fp, sizeof(fp), sub, i);
		json_array_foreach(json_object_get(f, "maps"), j, m)
		{
			const json_t *target, *tf;
			char maps[TB_DIAG_PATH];
			tb_path_key(maps, sizeof(maps), fp, "maps");
			tb_path_idx(mp, sizeof(mp), maps, j);
			if (spec_object(m, mf, 2, mp, d) != 0) {
				n++;
				continue;
			}
			target = member_form(members, matters,
			                     spec_str(m, "member"));
			if (member_index(members, spec_str(m, "member")) < 0) {
				tb_diag_add(d, TB_ENOTFOUND, mp,
				            "\"%s\" is not a member of this "
				            "bundle",
				            spec_str(m, "member"));
				n++;
				continue;
			}
			if (target == NULL) {
				continue; /* the member's matter is missing */
			}
			tf = matter_form_find(target, spec_str(m, "field"));
			if (tf == NULL) {
				tb_diag_add(d, TB_ENOTFOUND, mp,
				            "member \"%s\" has no form field "
				            "\"%s\"",
				            spec_str(m, "member"),
				            spec_str(m, "field"));
				n++;
			} else if (!json_equal(json_object_get(tf, "type"),
			                       json_object_get(f, "type"))) {
				tb_diag_add(
				    d, TB_ETYPE, mp,
				    "maps a %s field onto %s.%s, a %s "
				    "field",
				    spec_str(f, "type"), spec_str(m, "member"),
				    spec_str(m, "field"), spec_str(tf, "type"));
				n++;
			}
		}
	}
	/* One form must be enough: every required member field is fed. */
	json_array_foreach(members, i, m)
	{
		const char *id = spec_str(m, "id");
		const json_t *target = member_form(members, matters, id);
		json_array_foreach(target, j, x)
		{
			if (spec_bool(x, "required", false) &&
			    !fed(form, id, spec_str(x, "name"))) {
				tb_diag_add(d, TB_EMISSING, sub,
				            "required field \"%s\" of member "
				            "\"%s\" is fed by no shared field",
				            spec_str(x, "name"), id);
				n++;
			}
		}
	}
	return n;
}

int
bundle_check(const json_t *b, const json_t *matters, const char *path,
             struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "code", SPEC_STRING, true },
		{ "name", SPEC_STRING, true },
		{ "lead_dept", SPEC_STRING, true },
		{ "coop_depts", SPEC_ARRAY, true },
		{ "members", SPEC_ARRAY, true },
		{ "form", SPEC_ARRAY, true },
		{ "description", SPEC_STRING, false },
	};
	const char *code, *lead;
	char sub[TB_DIAG_PATH];
	json_t *c;
	size_t i;
	int n;

	if ((n = spec_object(b, f, sizeof(f) / sizeof(f[0]), path, d)) != 0) {
		return n;
	}
	code = spec_str(b, "code");
	if (strlen(code) < 4 || strlen(code) > 32 ||
	    strspn(code, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
	        strlen(code)) {
		tb_path_key(sub, sizeof(sub), path, "code");
		tb_diag_add(d, TB_ECODE, sub,
		            "bundle code \"%s\" must be 4-32 of [0-9A-Z]",
		            code);
		n++;
	}
	n += spec_string_set(b, "coop_depts", NULL, false, path, d);
	lead = spec_str(b, "lead_dept");
	json_array_foreach(json_object_get(b, "coop_depts"), i, c)
	{
		if (json_is_string(c) && !strcmp(json_string_value(c), lead)) {
			char cp[TB_DIAG_PATH];
			tb_path_key(cp, sizeof(cp), path, "coop_depts");
			tb_path_idx(sub, sizeof(sub), cp, i);
			tb_diag_add(d, TB_EDUP, sub,
			            "the lead department \"%s\" is not also a "
			            "cooperating one",
			            lead);
			n++;
		}
	}
	n += members_check(b, matters, path, d);
	if (n == 0) {
		n += form_check(b, matters, path, d);
	}
	return n;
}
