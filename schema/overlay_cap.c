/* Holding an effective matter's promised limit to the caps above it. */
#include "schema/overlay.h"

#include "schema/matter.h"
#include "schema/spec.h"

#include <string.h>

/* CAP_PASSES bounds the passes over the caps (one is enough unless the
 * caps mix working and natural days). */
#define CAP_PASSES 16

struct cap {
	long long day;
	const char *type;
};

/* default_for returns the default for key in overlay ov, or NULL. */
static const json_t *
default_for(const json_t *ov, const char *key)
{
	char k[MATTER_KEY_MAX];
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(ov, "defaults"), i, x)
	{
		if (matter_key(x, k, sizeof(k)) == 0 && !strcmp(k, key)) {
			return x;
		}
	}
	return NULL;
}

/* later tells whether (day, type) may end after the cap: limit_le's answer,
 * where a comparison it cannot make counts as later (the cap wins). */
static bool
later(const struct catalog *std, long long day, const char *type,
      const struct cap *cap)
{
	char why[200];

	return limit_le(std->cal, day, type, cap->day, cap->type, why,
	                sizeof(why)) != 0;
}

int
overlay_cap(const struct catalog *std, const json_t *const *above,
            size_t nabove, const char *key, json_t *eff, bool *capped)
{
	const json_t *m = catalog_matter(std, key);
	struct cap caps[2 + 64];
	const char *type = spec_str(eff, "promise_type");
	long long day = spec_int(eff, "promise_day", 0);
	size_t n = 0, i;
	int pass;
	bool moved = true;

	*capped = false;
	if (m == NULL || type == NULL ||
	    json_object_get(eff, "promise_day") == NULL) {
		return TB_OK; /* nothing promised, or nothing to hold it to */
	}
	if (spec_str(m, "anticipate_type") != NULL) {
		caps[n++] = (struct cap){ spec_int(m, "anticipate_day", 0),
			                  spec_str(m, "anticipate_type") };
	}
	if (spec_str(m, "promise_type") != NULL) {
		caps[n++] = (struct cap){ spec_int(m, "promise_day", 0),
			                  spec_str(m, "promise_type") };
	}
	for (i = 0; i < nabove && n < sizeof(caps) / sizeof(caps[0]); i++) {
		const json_t *df = default_for(above[i], key);
		if (df != NULL && spec_str(df, "promise_type") != NULL &&
		    json_object_get(df, "promise_day") != NULL) {
			caps[n++] =
			    (struct cap){ spec_int(df, "promise_day", 0),
				          spec_str(df, "promise_type") };
		}
	}
	/* Until no cap lowers it (caps of mixed units may need a second
	 * pass); bounded, and the same on every member. */
	for (pass = 0; moved && pass < CAP_PASSES; pass++) {
		moved = false;
		for (i = 0; i < n; i++) {
			if (later(std, day, type, &caps[i])) {
				day = caps[i].day;
				type = caps[i].type;
				moved = true;
				*capped = true;
			}
		}
	}
	if (!*capped) {
		return TB_OK;
	}
	if (json_object_set_new(eff, "promise_day", json_integer(day)) != 0 ||
	    json_object_set_new(eff, "promise_type", json_string(type)) != 0) {
		return TB_ENOMEM;
	}
	return TB_OK;
}
