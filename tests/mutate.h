/* Test helper: load a JSON example and change one place in it. */
#ifndef TB_TESTS_MUTATE_H
#define TB_TESTS_MUTATE_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* mut_load parses an example file under the source tree, or NULL. */
static inline json_t *
mut_load(const char *rel)
{
	char path[512];
	json_error_t e;

	snprintf(path, sizeof(path), "%s/%s", TB_SOURCE_DIR, rel);
	return json_load_file(path, JSON_REJECT_DUPLICATES, &e);
}

/* mut_set walks "a/0/b" (numbers index arrays) in doc and sets the last
 * step to the JSON text value, or deletes it when value is NULL. A last
 * step of "+" appends to an array; a value of "@a/1/b" copies that place
 * of doc. Returns 0 on success. */
static inline int
mut_set(json_t *doc, const char *path, const char *value)
{
	char buf[256], *step, *next, *save = NULL;
	json_t *cur = doc, *v = NULL;

	if (value != NULL && value[0] == '@') {
		char *end;
		json_t *src = doc;
		snprintf(buf, sizeof(buf), "%s", value + 1);
		for (step = strtok_r(buf, "/", &save); step != NULL;
		     step = strtok_r(NULL, "/", &save)) {
			long i = strtol(step, &end, 10);
			src = json_is_array(src) && *end == '\0'
			          ? json_array_get(src, (size_t)i)
			          : json_object_get(src, step);
		}
		if (src == NULL || (v = json_deep_copy(src)) == NULL) {
			return -1;
		}
	} else if (value != NULL) {
		json_error_t e;
		if ((v = json_loads(value, JSON_DECODE_ANY, &e)) == NULL) {
			return -1;
		}
	}
	snprintf(buf, sizeof(buf), "%s", path);
	save = NULL;
	step = strtok_r(buf, "/", &save);
	while (step != NULL) {
		char *end;
		long i;
		next = strtok_r(NULL, "/", &save);
		i = strtol(step, &end, 10);
		if (next == NULL) {
			int rv;
			if (json_is_array(cur) && !strcmp(step, "+")) {
				rv = json_array_append_new(cur, v);
			} else if (json_is_array(cur) && *end == '\0') {
				rv = v ? json_array_set_new(cur, (size_t)i, v)
				       : json_array_remove(cur, (size_t)i);
			} else {
				rv = v ? json_object_set_new(cur, step, v)
				       : json_object_del(cur, step);
			}
			return rv;
		}
		cur = json_is_array(cur) && *end == '\0'
		          ? json_array_get(cur, (size_t)i)
		          : json_object_get(cur, step);
		if (cur == NULL) {
			json_decref(v);
			return -1;
		}
		step = next;
	}
	json_decref(v);
	return -1;
}

#endif
