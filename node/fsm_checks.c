/* A matter's form and material list compiled once into tables, and the
 * checks of a single case's form and materials against them: the same
 * diagnostics as fsm_form_check and fsm_materials_check (fsm_form.c),
 * which still decide whenever something does not pass, without looking
 * each field's type, length and flags up in the matter's JSON for every
 * case. */
#include "node/fsm.h"

#include "schema/canon.h"
#include "schema/spec.h"

#include <stdlib.h>
#include <string.h>

/* compile_form fills k's field table from the form definition def. */
static void
compile_form(struct fsm_checks *k, const json_t *def)
{
	const char *name;
	size_t i, j;

	k->nf = json_array_size(def);
	k->form_ok = json_is_array(def) && k->nf <= FSM_CHECK_FIELDS;
	for (i = 0; k->form_ok && i < k->nf; i++) {
		name = spec_str(json_array_get(def, i), "name");
		/* A repeated name would make the count of known values
		 * (fsm_form_check_c) wrong. */
		for (j = 0; name != NULL && j < i; j++) {
			if (!strcmp(k->f[j].name, name)) {
				name = NULL;
			}
		}
		if (name == NULL) {
			k->form_ok = false;
			break;
		}
		fsm_field_of(json_array_get(def, i), name, &k->f[i]);
	}
}

/* compile_materials fills k's material table from the list def. */
static void
compile_materials(struct fsm_checks *k, const json_t *def)
{
	const json_t *m;
	const char *src;
	size_t i;

	k->nm = json_array_size(def);
	k->mat_ok = json_is_array(def) && k->nm <= FSM_CHECK_MATERIALS;
	for (i = 0; k->mat_ok && i < k->nm; i++) {
		m = json_array_get(def, i);
		src = spec_str(m, "source");
		k->m[i].code = spec_str(m, "code");
		k->m[i].needed = spec_bool(m, "required", false) &&
		                 (src == NULL || !strcmp(src, "applicant"));
		k->mat_ok = k->m[i].code != NULL;
	}
}

static void
checks_free(struct fsm_checks *k)
{
	if (k != NULL) {
		json_decref(k->eff);
		free(k);
	}
}

const struct fsm_checks *
fsm_checks_get(struct fsm_catalog *c, const json_t *eff)
{
	struct fsm_checks *k;
	unsigned i;

	for (i = 0; i < FSM_CHECKS_CACHE; i++) {
		/* eff is held by the entry: no other matter has its
		 * address while the entry lives. */
		if (c->chk[i] != NULL && c->chk[i]->eff == eff) {
			return c->chk[i];
		}
	}
	if (eff == NULL || (k = malloc(sizeof(*k))) == NULL) {
		return NULL;
	}
	k->eff = json_incref((json_t *)eff);
	compile_form(k, json_object_get(eff, "form"));
	compile_materials(k, json_object_get(eff, "materials"));
	i = c->chk_next++ % FSM_CHECKS_CACHE;
	checks_free(c->chk[i]);
	c->chk[i] = k;
	return k;
}

void
fsm_checks_fini(struct fsm_catalog *c)
{
	unsigned i;

	for (i = 0; i < FSM_CHECKS_CACHE; i++) {
		checks_free(c->chk[i]);
		c->chk[i] = NULL;
	}
	c->chk_next = 0;
}

int
fsm_form_check_c(const struct fsm_checks *k, const json_t *values,
                 const char *what, const char *path, struct tb_diag *d)
{
	const json_t *def = json_object_get(k->eff, "form");
	const json_t *v[FSM_CHECK_FIELDS];
	char sub[TB_DIAG_PATH];
	size_t i, seen = 0;
	int n = 0;

	if (!k->form_ok) {
		return fsm_form_check(def, values, what, path, d);
	}
	for (i = 0; i < k->nf; i++) {
		v[i] = json_object_get(values, k->f[i].name);
		seen += v[i] != NULL;
	}
	/* The names are distinct: a value not counted is unknown, which
	 * fsm_form_check reports first. */
	if (seen != json_object_size(values)) {
		return fsm_form_check(def, values, what, path, d);
	}
	for (i = 0; i < k->nf; i++) {
		if (v[i] != NULL) {
			n += fsm_value_check(&k->f[i], v[i], path, d);
		} else if (k->f[i].required) {
			tb_path_key(sub, sizeof(sub), path, k->f[i].name);
			tb_diag_add(d, TB_EMISSING, sub,
			            "required field %s (%s) of %s is missing",
			            k->f[i].name, k->f[i].label, what);
			n++;
		}
	}
	return n;
}

/* ref_members sets a reference's code, hash and size by walking its
 * members once (no lookup of each by name); false if a member is none of
 * them. With the object's three members distinct, all three are then set:
 * what json_object_get of each would return. */
static bool
ref_members(const json_t *x, const json_t **code, const json_t **hash,
            const json_t **size)
{
	const char *name;
	json_t *v;

	*code = *hash = *size = NULL;
	json_object_foreach((json_t *)x, name, v)
	{
		if (!strcmp(name, "code")) {
			*code = v;
		} else if (!strcmp(name, "hash")) {
			*hash = v;
		} else if (!strcmp(name, "size")) {
			*size = v;
		} else {
			return false;
		}
	}
	return true;
}

/* given_ok is true only if fsm_materials_check would find nothing wrong
 * with given (a single case's references): each an object of exactly a
 * string code the matter lists, a string hash of 64 hex digits and a size
 * >= 0 (a single case's references are never reported as repeated: there
 * is no member to compare), and every needed material given. */
static bool
given_ok(const struct fsm_checks *k, const json_t *given)
{
	const char *gc[FSM_CHECK_MATERIALS];
	const json_t *x, *code, *hash, *size;
	size_t i, ng = json_array_size(given);
	uint8_t h[32];

	if (!json_is_array(given) || ng > FSM_CHECK_MATERIALS) {
		return false;
	}
	for (i = 0; i < ng; i++) {
		x = json_array_get(given, i);
		if (!json_is_object(x) || json_object_size(x) != 3 ||
		    !ref_members(x, &code, &hash, &size) ||
		    !json_is_string(code) || !json_is_string(hash) ||
		    !json_is_integer(size) || json_integer_value(size) < 0 ||
		    canon_unhex(json_string_value(hash), h, sizeof(h)) != 0) {
			return false;
		}
		gc[i] = json_string_value(code);
	}
	return fsm_codes_ok(k, gc, ng);
}

bool
fsm_codes_ok(const struct fsm_checks *k, const char *const *gc, size_t ng)
{
	size_t i, j;

	for (i = 0; i < ng; i++) {
		for (j = 0; j < k->nm && strcmp(k->m[j].code, gc[i]); j++) {
		}
		if (j == k->nm) {
			return false;
		}
	}
	for (j = 0; j < k->nm; j++) {
		for (i = 0; k->m[j].needed && i < ng; i++) {
			if (!strcmp(k->m[j].code, gc[i])) {
				break;
			}
		}
		if (k->m[j].needed && i == ng) {
			return false;
		}
	}
	return true;
}

int
fsm_materials_check_c(const struct fsm_checks *k, const json_t *given,
                      const char *key, const char *path, struct tb_diag *d)
{
	if (k->mat_ok && given_ok(k, given)) {
		return 0;
	}
	return fsm_materials_check(json_object_get(k->eff, "materials"), given,
	                           NULL, key, path, d);
}
