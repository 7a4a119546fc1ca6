/* The standard layer: checking releases and folding them into a catalog. */
#include "schema/catalog.h"

#include "schema/bundle.h"
#include "schema/calendar.h"
#include "schema/canon_walk.h"
#include "schema/matter.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <stdio.h>
#include <string.h>

int
catalog_init(struct catalog *c)
{
	memset(c, 0, sizeof(*c));
	c->matters = json_object();
	c->bundles = json_object();
	if (c->matters == NULL || c->bundles == NULL) {
		catalog_fini(c);
		return TB_ENOMEM;
	}
	return TB_OK;
}

void
catalog_fini(struct catalog *c)
{
	json_decref(c->matters);
	json_decref(c->bundles);
	json_decref(c->calendar);
	cal_free(c->cal);
	memset(c, 0, sizeof(*c));
}

const json_t *
catalog_matter(const struct catalog *c, const char *key)
{
	return json_object_get(c->matters, key);
}

int
limit_le(const struct tb_calendar *cal, long long pd, const char *pt,
         long long ad, const char *at, char *why, size_t whylen)
{
	int32_t day, last, dp, da;
	char err[160], ds[11];

	if (!strcmp(pt, at) || (!strcmp(pt, "Z") && !strcmp(at, "G"))) {
		/* Same unit: compare the numbers. N calendar days end no
		 * later than N working days (the Z end moves only to the
		 * next working day, which the G end cannot precede). */
		if (pd <= ad) {
			return TB_OK;
		}
		snprintf(why, whylen, "%lld %s exceeds %lld %s", pd, pt, ad,
		         at);
		return TB_ERANGE;
	}
	if (cal == NULL) {
		snprintf(why, whylen,
		         "%lld G against %lld Z needs a calendar to compare",
		         pd, ad);
		return TB_ECALENDAR;
	}
	snprintf(ds, sizeof(ds), "%04d-01-01", cal_first_year(cal));
	cal_date_parse(ds, &day);
	snprintf(ds, sizeof(ds), "%04d-12-31", cal_last_year(cal));
	cal_date_parse(ds, &last);
	for (; day <= last; day++) {
		if (cal_due(cal, day, (int)pd, pt[0], NULL, 0, &dp, err,
		            sizeof(err)) != 0 ||
		    cal_due(cal, day, (int)ad, at[0], NULL, 0, &da, err,
		            sizeof(err)) != 0) {
			break; /* past the calendar: nothing more to compare */
		}
		if (dp > da) {
			char a[11], b[11];
			cal_date_format(day, ds);
			cal_date_format(dp, a);
			cal_date_format(da, b);
			snprintf(why, whylen,
			         "%lld %s from %s ends %s, after %lld %s "
			         "(%s)",
			         pd, pt, ds, a, ad, at, b);
			return TB_ERANGE;
		}
	}
	return TB_OK;
}

static int
hash_field_check(const json_t *r, const char *path, struct tb_diag *d)
{
	json_t *ph = json_object_get(r, "prev_hash");
	uint8_t h[CANON_HASH_LEN];
	char sub[TB_DIAG_PATH];

	tb_path_key(sub, sizeof(sub), path, "prev_hash");
	if (json_is_string(ph) &&
	    canon_unhex(json_string_value(ph), h, sizeof(h)) != 0) {
		tb_diag_add(d, TB_ECODE, sub,
		            "not a BLAKE2b-256 hash (64 lowercase hex digits)");
		return 1;
	}
	if (spec_int(r, "version", 0) == 1 && !json_is_null(ph)) {
		tb_diag_add(d, TB_ECHAIN, sub,
		            "version 1 has no previous release: use null");
		return 1;
	}
	if (spec_int(r, "version", 0) > 1 && json_is_null(ph)) {
		tb_diag_add(d, TB_ECHAIN, sub,
		            "version %lld needs the previous release's hash",
		            spec_int(r, "version", 0));
		return 1;
	}
	return 0;
}

/* keyed_unique adds a problem for each array element whose key repeats,
 * naming the first index that holds it. A first full release has
 * thousands of matters: the keys seen go into an object (a hash table),
 * not a comparison with every earlier element. */
static int
keyed_unique(const json_t *arr, const char *field, const char *path,
             struct tb_diag *d)
{
	char key[MATTER_KEY_MAX], sub[TB_DIAG_PATH];
	json_t *x, *seen = json_object(), *at;
	size_t i;
	int n = 0;

	if (seen == NULL) {
		tb_diag_add(d, TB_ENOMEM, path, "out of memory");
		return 1;
	}
	json_array_foreach(arr, i, x)
	{
		if (field == NULL ? matter_key(x, key, sizeof(key)) != 0
		                  : spec_str(x, field) == NULL) {
			continue;
		}
		if (field != NULL) {
			snprintf(key, sizeof(key), "%s", spec_str(x, field));
		}
		if ((at = json_object_get(seen, key)) != NULL) {
			tb_path_idx(sub, sizeof(sub), path, i);
			tb_diag_add(d, TB_EDUP, sub,
			            "%s is listed twice (also at index %zu)",
			            key, (size_t)json_integer_value(at));
			n++;
		} else if (json_object_set_new(seen, key,
		                               json_integer((json_int_t)i))) {
			tb_diag_add(d, TB_ENOMEM, path, "out of memory");
			n++;
			break;
		}
	}
	json_decref(seen);
	return n;
}

int
release_check(const json_t *r, const char *path, struct tb_diag *d)
{
	static const struct spec_field f[] = {
		{ "format", SPEC_STRING, true },
		{ "region", SPEC_STRING, true },
		{ "version", SPEC_INT, true },
		{ "prev_hash", SPEC_STRING_OR_NULL, true },
		{ "effective_at", SPEC_STRING, true },
		{ "snapshot", SPEC_BOOL, true },
		{ "matters", SPEC_ARRAY, true },
		{ "removed", SPEC_ARRAY, false },
		{ "bundles", SPEC_ARRAY, false },
		{ "removed_bundles", SPEC_ARRAY, false },
		{ "calendar", SPEC_OBJECT, false },
		{ "signatures", SPEC_ARRAY, false },
		{ "note", SPEC_STRING, false },
	};
	char sub[TB_DIAG_PATH];
	const char *s;
	int64_t t;
	json_t *m;
	size_t i;
	int n;

	if ((n = spec_object(r, f, sizeof(f) / sizeof(f[0]), path, d)) != 0) {
		return n;
	}
	if (strcmp(spec_str(r, "format"), "tongban.release/1") != 0) {
		tb_path_key(sub, sizeof(sub), path, "format");
		tb_diag_add(d, TB_ECODE, sub, "\"%s\" is not tongban.release/1",
		            spec_str(r, "format"));
		n++;
	}
	s = spec_str(r, "region");
	if (!spec_digits(s, 6) || strcmp(s + 2, "0000") != 0 ||
	    !strcmp(s, "000000")) {
		tb_path_key(sub, sizeof(sub), path, "region");
		tb_diag_add(d, TB_ECODE, sub,
		            "\"%s\" is not a province code (standard layers "
		            "are published by provinces)",
		            s);
		n++;
	}
	if (spec_int(r, "version", 0) < 1) {
		tb_path_key(sub, sizeof(sub), path, "version");
		tb_diag_add(d, TB_ERANGE, sub, "versions start at 1");
		n++;
	}
	n += hash_field_check(r, path, d);
	if (spec_time_parse(spec_str(r, "effective_at"), &t) != 0) {
		tb_path_key(sub, sizeof(sub), path, "effective_at");
		tb_diag_add(d, TB_EMALFORMED, sub,
		            "\"%s\" is not an RFC 3339 time with offset",
		            spec_str(r, "effective_at"));
		n++;
	}
	if (spec_bool(r, "snapshot", false) &&
	    (json_array_size(json_object_get(r, "removed")) ||
	     json_array_size(json_object_get(r, "removed_bundles")))) {
		tb_path_key(sub, sizeof(sub), path, "removed");
		tb_diag_add(d, TB_ERANGE, sub,
		            "a snapshot lists the whole layer; it removes "
		            "nothing");
		n++;
	}
	tb_path_key(sub, sizeof(sub), path, "matters");
	json_array_foreach(json_object_get(r, "matters"), i, m)
	{
		char mp[TB_DIAG_PATH];
		tb_path_idx(mp, sizeof(mp), sub, i);
		n += matter_check(m, mp, d);
	}
	n += keyed_unique(json_object_get(r, "matters"), NULL, sub, d);
	tb_path_key(sub, sizeof(sub), path, "bundles");
	n += keyed_unique(json_object_get(r, "bundles"), "code", sub, d);
	n += spec_string_set(r, "removed", NULL, false, path, d);
	n += spec_string_set(r, "removed_bundles", NULL, false, path, d);
	if ((m = json_object_get(r, "calendar")) != NULL) {
		struct tb_calendar *cal = NULL;
		int before = d->n + d->dropped;
		tb_path_key(sub, sizeof(sub), path, "calendar");
		cal_from_json(m, sub, &cal, d);
		n += d->n + d->dropped - before;
		cal_free(cal);
	}
	return n;
}

/* remember keeps in undo (if not NULL) what key held in m before its
 * first change: its value, or JSON null if absent (a matter is an
 * object, never null). */
static int
remember(json_t *undo, const json_t *m, const char *key)
{
	json_t *old;

	if (undo == NULL || json_object_get(undo, key) != NULL) {
		return 0;
	}
	old = json_object_get(m, key);
	return json_object_set(undo, key, old != NULL ? old : json_null());
}

/* apply_changes folds r's matters and bundles into m and b, keeping in
 * undo (if not NULL) the matters it changed as they were. */
static int
apply_changes(const json_t *r, json_t *m, json_t *b, json_t *undo,
              const char *path, struct tb_diag *d)
{
	char key[MATTER_KEY_MAX], sub[TB_DIAG_PATH], el[TB_DIAG_PATH];
	json_t *x;
	size_t i;
	int n = 0;

	tb_path_key(sub, sizeof(sub), path, "removed");
	json_array_foreach(json_object_get(r, "removed"), i, x)
	{
		if (remember(undo, m, json_string_value(x)) != 0) {
			return tb_diag_add(d, TB_ENOMEM, path, "out of memory");
		}
		if (json_object_del(m, json_string_value(x)) != 0) {
			tb_path_idx(el, sizeof(el), sub, i);
			tb_diag_add(d, TB_ENOTFOUND, el,
			            "matter %s is not in the layer",
			            json_string_value(x));
			n++;
		}
	}
	tb_path_key(sub, sizeof(sub), path, "removed_bundles");
	json_array_foreach(json_object_get(r, "removed_bundles"), i, x)
	{
		if (json_object_del(b, json_string_value(x)) != 0) {
			tb_path_idx(el, sizeof(el), sub, i);
			tb_diag_add(d, TB_ENOTFOUND, el,
			            "bundle %s is not in the layer",
			            json_string_value(x));
			n++;
		}
	}
	json_array_foreach(json_object_get(r, "matters"), i, x)
	{
		matter_key(x, key, sizeof(key));
		if (remember(undo, m, key) != 0 ||
		    json_object_set(m, key, x) != 0) {
			return tb_diag_add(d, TB_ENOMEM, path, "out of memory");
		}
	}
	json_array_foreach(json_object_get(r, "bundles"), i, x)
	{
		if (json_object_set(b, spec_str(x, "code"), x) != 0) {
			return tb_diag_add(d, TB_ENOMEM, path, "out of memory");
		}
	}
	return n;
}

/* undo_changes puts back into m what undo kept (apply_changes). */
static void
undo_changes(json_t *m, json_t *undo)
{
	const char *key;
	json_t *old;

	json_object_foreach(undo, key, old)
	{
		if (json_is_null(old)) {
			json_object_del(m, key);
		} else {
			json_object_set(m, key, old);
		}
	}
}

static int
chain_check(const struct catalog *c, const json_t *r, const char *path,
            struct tb_diag *d)
{
	long long v = spec_int(r, "version", 0);
	char sub[TB_DIAG_PATH], hex[2 * CANON_HASH_LEN + 1];
	const char *ph = spec_str(r, "prev_hash");

	if (c->version > 0 && strcmp(c->region, spec_str(r, "region"))) {
		tb_path_key(sub, sizeof(sub), path, "region");
		return tb_diag_add(d, TB_ECHAIN, sub,
		                   "release of %s cannot follow the %s layer",
		                   spec_str(r, "region"), c->region);
	}
	tb_path_key(sub, sizeof(sub), path, "version");
	if (v <= c->version) {
		/* The same version again is most often a retry of a publish
		 * whose reply was lost (503 closed): "rollback refused" sent
		 * users looking for a rollback that nobody made. */
		if (v == c->version) {
			return tb_diag_add(
			    d, TB_ECHAIN, sub,
			    "version %lld is not newer than the applied "
			    "version %lld (applied already: a retry finds it "
			    "there, GET /v1/catalog shows its hash; a new "
			    "release takes version %lld)",
			    v, c->version, c->version + 1);
		}
		return tb_diag_add(d, TB_ECHAIN, sub,
		                   "version %lld is not newer than the applied "
		                   "version %lld (rollback refused)",
		                   v, c->version);
	}
	if (v > c->version + 1) {
		return tb_diag_add(d, TB_ECHAIN, sub,
		                   "version %lld skips versions after %lld "
		                   "(gap)",
		                   v, c->version);
	}
	canon_hex(c->hash, CANON_HASH_LEN, hex);
	if (c->version > 0 && (ph == NULL || strcmp(ph, hex) != 0)) {
		tb_path_key(sub, sizeof(sub), path, "prev_hash");
		return tb_diag_add(d, TB_ECHAIN, sub,
		                   "prev_hash %.16s... is not the hash of "
		                   "version %lld (%.16s...): a fork",
		                   ph ? ph : "null", c->version, hex);
	}
	return TB_OK;
}

/* promises_check: the province's own promised limits fit the statutory;
 * of the matters in only when only is not NULL (a release without a new
 * calendar changes no other matter's verdict: each was checked under
 * the same calendar when it came). */
static int
promises_check(const json_t *matters, const json_t *only,
               const struct tb_calendar *cal, const char *path,
               struct tb_diag *d)
{
	const char *key, *pt, *at;
	char why[200], sub[TB_DIAG_PATH];
	json_t *m, *x;
	void *it;
	int n = 0;

	/* Walks only's keys (those present) or every matter. */
	for (it = json_object_iter((json_t *)(only != NULL ? only : matters));
	     it != NULL; it = json_object_iter_next(
	                     (json_t *)(only != NULL ? only : matters), it)) {
		key = json_object_iter_key(it);
		x = json_object_iter_value(it);
		m = only != NULL ? json_object_get(matters, key) : x;
		pt = spec_str(m, "promise_type");
		at = spec_str(m, "anticipate_type");
		if (m == NULL || pt == NULL || at == NULL) {
			continue;
		}
		if (limit_le(cal, spec_int(m, "promise_day", 0), pt,
		             spec_int(m, "anticipate_day", 0), at, why,
		             sizeof(why)) != 0) {
			snprintf(sub, sizeof(sub), "%s.matters[%s].promise_day",
			         path, key);
			tb_diag_add(d, TB_ERANGE, sub,
			            "promised limit of %s is later than the "
			            "statutory one: %s",
			            key, why);
			n++;
		}
	}
	return n;
}

int
catalog_apply(struct catalog *c, const json_t *r, const json_t *root,
              struct tb_diag *d)
{
	return catalog_apply_doc(c, r, NULL, 0, root, d);
}

/* signed_bytes sets msg to r's canonical bytes without "signatures": cut
 * from doc (r's own canonical bytes, n) when the caller has them, else
 * encoded from r. TB_OK, TB_ENOMEM or another code of the encoder. */
static int
signed_bytes(const json_t *r, const uint8_t *doc, size_t n,
             struct canon_buf *msg, char *err, size_t errlen)
{
	int rv;

	if (doc != NULL) {
		rv = canon_bytes_without(doc, n, "signatures", msg);
		if (rv != TB_EMALFORMED) {
			return rv;
		}
		/* Not the bytes of a map: encode r instead, as without. */
		canon_buf_free(msg);
	}
	return canon_encode_without(r, "signatures", msg, err, errlen);
}

int
catalog_apply_doc(struct catalog *c, const json_t *r, const uint8_t *doc,
                  size_t doclen, const json_t *root, struct tb_diag *d)
{
	struct tb_calendar *cal = NULL;
	struct canon_buf msg = { 0 };
	json_t *m = NULL, *b = NULL, *undo = NULL, *x;
	char sub[TB_DIAG_PATH];
	const char *key;
	int n, before = d->n + d->dropped;

	if (release_check(r, "$", d) != 0 || chain_check(c, r, "$", d) != 0) {
		return tb_diag_first(d);
	}
	/* One cut (or encoding) of the signed bytes serves the signature
	 * and the release's hash: for a full release, 5.8 MiB. */
	if ((n = signed_bytes(r, doc, doclen, &msg, sub, sizeof(sub))) != 0) {
		canon_buf_free(&msg);
		return n == TB_ENOMEM ? tb_diag_add(d, TB_ENOMEM, "$", "%s",
		                                    "out of memory")
		                      : tb_diag_add(d, n, "$", "%s", sub);
	}
	if (root != NULL) {
		if (strcmp(spec_str(root, "region"), spec_str(r, "region"))) {
			canon_buf_free(&msg);
			return tb_diag_add(d, TB_ESIG, "$.region",
			                   "the root is %s's, the release %s's",
			                   spec_str(root, "region"),
			                   spec_str(r, "region"));
		}
		if (trust_verify_release_msg(root, msg.data, msg.len,
		                             json_object_get(r, "signatures"),
		                             "$", d) != 0) {
			canon_buf_free(&msg);
			return TB_ESIG;
		}
	}
	if (spec_bool(r, "snapshot", false)) {
		m = json_object();
		b = json_object();
	} else {
		/* A delta changes tens of matters of thousands: they are
		 * changed in the layer itself, and put back on a problem. */
		m = json_incref(c->matters);
		b = json_copy(c->bundles);
		undo = json_object();
	}
	if (m == NULL || b == NULL || (undo == NULL && m == c->matters)) {
		n = tb_diag_add(d, TB_ENOMEM, "$", "out of memory");
		goto out;
	}
	apply_changes(r, m, b, undo, "$", d);
	json_object_foreach(b, key, x)
	{
		snprintf(sub, sizeof(sub), "$.bundles[%s]", key);
		bundle_check(x, m, sub, d);
	}
	if ((x = json_object_get(r, "calendar")) != NULL &&
	    cal_from_json(x, "$.calendar", &cal, NULL) != 0) {
		cal = NULL;
	}
	promises_check(m, cal != NULL ? NULL : undo, cal != NULL ? cal : c->cal,
	               "$", d);
	if (d->n + d->dropped != before) {
		n = tb_diag_first(d);
		goto out;
	}
	canon_hash(msg.data, msg.len, c->hash);
	canon_buf_free(&msg);
	json_decref(undo);
	snprintf(c->region, sizeof(c->region), "%s", spec_str(r, "region"));
	c->version = spec_int(r, "version", 0);
	json_decref(c->matters);
	json_decref(c->bundles);
	c->matters = m;
	c->bundles = b;
	if (cal != NULL) {
		json_decref(c->calendar);
		cal_free(c->cal);
		c->calendar = json_incref(x);
		c->cal = cal;
	}
	return TB_OK;
out:
	if (undo != NULL) {
		undo_changes(c->matters, undo); /* c stays as it was */
		json_decref(undo);
	}
	canon_buf_free(&msg);
	json_decref(m);
	json_decref(b);
	cal_free(cal);
	return n;
}
