/* Field-set checks for JSON documents. */
#include "schema/spec.h"

#include <string.h>

const char *
spec_type_name(enum spec_type t)
{
	switch (t) {
	case SPEC_STRING:
		return "a string";
	case SPEC_INT:
		return "an integer";
	case SPEC_BOOL:
		return "a boolean";
	case SPEC_ARRAY:
		return "an array";
	case SPEC_OBJECT:
		return "an object";
	case SPEC_STRING_OR_NULL:
		return "a string or null";
	case SPEC_ANY:
	default:
		return "a value";
	}
}

static bool
spec_type_ok(const json_t *v, enum spec_type t)
{
	switch (t) {
	case SPEC_STRING:
		return json_is_string(v);
	case SPEC_INT:
		return json_is_integer(v);
	case SPEC_BOOL:
		return json_is_boolean(v);
	case SPEC_ARRAY:
		return json_is_array(v);
	case SPEC_OBJECT:
		return json_is_object(v);
	case SPEC_STRING_OR_NULL:
		return json_is_string(v) || json_is_null(v);
	case SPEC_ANY:
	default:
		return true;
	}
}

int
spec_object(const json_t *obj, const struct spec_field *fields, size_t nfields,
            const char *path, struct tb_diag *d)
{
	char sub[TB_DIAG_PATH];
	const char *key;
	json_t *v;
	size_t i;
	int n = 0;

	if (!json_is_object(obj)) {
		tb_diag_add(d, TB_ETYPE, path, "must be an object");
		return 1;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		/* The first byte first: a matter has some 40 fields. */
		for (i = 0; i < nfields; i++) {
			if (fields[i].name[0] == key[0] &&
			    !strcmp(fields[i].name, key)) {
				break;
			}
		}
		/* The path is built only for a diagnostic: this runs for
		 * every field of every command applied. */
		if (i == nfields) {
			tb_path_key(sub, sizeof(sub), path, key);
			tb_diag_add(d, TB_EUNKNOWN, sub, "unknown field '%s'",
			            key);
			n++;
		} else if (!spec_type_ok(v, fields[i].type)) {
			tb_path_key(sub, sizeof(sub), path, key);
			tb_diag_add(d, TB_ETYPE, sub, "must be %s",
			            spec_type_name(fields[i].type));
			n++;
		}
	}
	for (i = 0; i < nfields; i++) {
		if (fields[i].required &&
		    json_object_get(obj, fields[i].name) == NULL) {
			tb_path_key(sub, sizeof(sub), path, fields[i].name);
			tb_diag_add(d, TB_EMISSING, sub,
			            "required field '%s' is missing",
			            fields[i].name);
			n++;
		}
	}
	return n;
}

const char *
spec_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

long long
spec_int(const json_t *obj, const char *key, long long dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

bool
spec_bool(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

size_t
spec_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80) {
			n++;
		}
	}
	return n;
}

bool
spec_digits(const char *s, size_t n)
{
	size_t i;

	if (s == NULL || strlen(s) != n) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

bool
spec_hex(const char *s, size_t n)
{
	size_t i;

	if (s == NULL || strlen(s) != n) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

static int
num(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return -1;
		}
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* days_from_civil: days since 1970-01-01 of a proleptic Gregorian date
 * (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
spec_time_parse(const char *s, int64_t *unix_ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30,
		                     31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0, dim;
	size_t len;

	if (s == NULL || (len = strlen(s)) < 20) {
		return TB_EMALFORMED;
	}
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':') {
		return TB_EMALFORMED;
	}
	y = num(s, 4);
	mo = num(s + 5, 2);
	d = num(s + 8, 2);
	h = num(s + 11, 2);
	mi = num(s + 14, 2);
	se = num(s + 17, 2);
	if (len == 20 && s[19] == 'Z') {
		sign = 0;
	} else if (len == 25 && (s[19] == '+' || s[19] == '-') &&
	           s[22] == ':') {
		sign = s[19] == '+' ? 1 : -1;
		oh = num(s + 20, 2);
		om = num(s + 23, 2);
	} else {
		return TB_EMALFORMED;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || se < 0 || se > 59 || oh < 0 || oh > 14 ||
	    om < 0 || om > 59) {
		return TB_EMALFORMED;
	}
	dim = mdays[mo - 1] +
	      (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	if (d > dim) {
		return TB_EMALFORMED;
	}
	*unix_ms =
	    ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) -
	     (int64_t)sign * (oh * 3600 + om * 60)) *
	    1000;
	return TB_OK;
}

bool
spec_one_of(const char *s, const char *const *options)
{
	for (; s != NULL && *options != NULL; options++) {
		if (!strcmp(s, *options)) {
			return true;
		}
	}
	return false;
}

int
spec_string_set(const json_t *obj, const char *key, const char *const *options,
                bool nonempty, const char *path, struct tb_diag *d)
{
	json_t *arr = json_object_get(obj, key), *v;
	char sub[TB_DIAG_PATH], el[TB_DIAG_PATH];
	size_t i, j;
	int n = 0;

	if (arr == NULL) {
		return 0;
	}
	tb_path_key(sub, sizeof(sub), path, key);
	if (!json_is_array(arr)) {
		tb_diag_add(d, TB_ETYPE, sub, "must be an array of strings");
		return 1;
	}
	if (nonempty && json_array_size(arr) == 0) {
		tb_diag_add(d, TB_ERANGE, sub, "must not be empty");
		n++;
	}
	json_array_foreach(arr, i, v)
	{
		tb_path_idx(el, sizeof(el), sub, i);
		if (!json_is_string(v)) {
			tb_diag_add(d, TB_ETYPE, el, "must be a string");
			n++;
			continue;
		}
		if (options != NULL &&
		    !spec_one_of(json_string_value(v), options)) {
			tb_diag_add(d, TB_ECODE, el, "'%s' is not a valid %s",
			            json_string_value(v), key);
			n++;
		}
		for (j = 0; j < i; j++) {
			if (json_equal(v, json_array_get(arr, j))) {
				tb_diag_add(d, TB_EDUP, el,
				            "'%s' is listed twice",
				            json_string_value(v));
				n++;
				break;
			}
		}
	}
	return n;
}
