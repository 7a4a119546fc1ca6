/* Matters (事项): codes, the field ownership table, validation. */
#ifndef TB_SCHEMA_MATTER_H
#define TB_SCHEMA_MATTER_H

#include "schema/error.h"
#include "schema/spec.h"

#include <jansson.h>
#include <stdbool.h>

/* Who may set a field of a matter (ARCHITECTURE.md, "Catalog"). */
enum matter_owner {
	/* The province's standard layer, always (四级四同: name, code, type,
	 * legal basis, and what makes matters comparable across regions). */
	OWNER_STANDARD,
	/* The standard layer for key-list matters (四统一: materials,
	 * conditions, process); the local tiers otherwise. */
	OWNER_KEYLIST,
	/* The implementing region (实施清单), within the standard's bounds. */
	OWNER_LOCAL,
};

/* One row of the ownership table. */
struct matter_field {
	const char *name;    /* exchange-table name */
	const char *label;   /* Chinese label, for messages and docs */
	enum spec_type type; /* JSON type */
	enum matter_owner owner;
	bool in_standard;  /* may appear in a standard-layer matter */
	bool std_required; /* required there */
	bool in_entry;     /* may appear in an implementation entry */
	bool in_default;   /* may appear in a region-wide default */
};

/* matter_fields returns the ownership table and its length through *n.
 * It is the one place that says which tier owns which field. */
const struct matter_field *matter_fields(size_t *n);

/* matter_field_find returns the row for name, or NULL. */
const struct matter_field *matter_field_find(const char *name);

/* matter_field_locked is true if the field is locked for a matter with
 * the given key-list flag (owned by the standard layer). */
bool matter_field_locked(const struct matter_field *f, bool key_list);

/* matter_owner_name: "standard", "standard if key-list", "local". */
const char *matter_owner_name(enum matter_owner o);

/* Code checks: each returns TB_OK, or TB_ECODE with a reason in errmsg. */
int matter_catalog_code_check(const char *code, const char *task_type,
                              char *errmsg, size_t errlen);
int matter_credit_code_check(const char *code, char *errmsg, size_t errlen);
int matter_task_code_check(const char *code, char *errmsg, size_t errlen);

/* matter_credit_check_char computes the GB 32100-2015 check character of
 * the first 17 characters of a credit code, or 0 if one is not allowed. */
char matter_credit_check_char(const char *code17);

#define MATTER_KEY_MAX 96

/* matter_key writes a standard matter's key, "catalog_code" or
 * "catalog_code#task_handle_item", from the two fields of obj. Returns
 * TB_ECODE if catalog_code is absent. */
int matter_key(const json_t *obj, char *out, size_t n);

/* matter_check validates one standard-layer matter at path: field set,
 * types, codes, limits, process, materials, form, charge. Problems go to
 * d; returns their number. */
int matter_check(const json_t *m, const char *path, struct tb_diag *d);

/* matter_form_check validates a form (array of field objects) at path.
 * With shared set, fields may carry "maps" (bundle forms). */
int matter_form_check(const json_t *form, bool shared, const char *path,
                      struct tb_diag *d);

/* matter_form_find returns the field named name in a form, or NULL. */
const json_t *matter_form_find(const json_t *form, const char *name);

/* matter_materials_check, matter_process_check: the shapes that overlays
 * may also set for non-key-list matters. */
int matter_materials_check(const json_t *materials, const char *path,
                           struct tb_diag *d);
int matter_process_check(const json_t *process, const char *path,
                         struct tb_diag *d);

#endif
