/* The catalog in the store: applying releases and overlays, and the
 * writer's cache of the layers. */
#include "node/fsm.h"
#include "node/log.h"
#include "node/region_store.h"

#include "schema/canon_walk.h"
#include "schema/overlay.h"
#include "schema/spec.h"

#include <stdio.h>
#include <string.h>

void
fsm_catalog_fini(struct fsm_catalog *c)
{
	int i;

	catalog_fini(&c->std);
	fsm_checks_fini(c);
	json_decref(c->resolved);
	for (i = 0; i < STORE_CHAIN_MAX; i++) {
		json_decref(c->ov[i]);
	}
	memset(c, 0, sizeof(*c));
}

/* load_object fills obj with every key -> value of database dbi. */
static int
load_object(MDB_txn *txn, MDB_dbi dbi, json_t *obj)
{
	char key[MATTER_KEY_MAX + 64];
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *x;
	int rv, op = MDB_FIRST;

	if ((rv = db_err(mdb_cursor_open(txn, dbi, &cur))) != 0) {
		return rv;
	}
	while ((rv = db_err(mdb_cursor_get(cur, &k, &v, op))) == 0) {
		op = MDB_NEXT;
		if (k.mv_size >= sizeof(key)) {
			rv = TB_ECORRUPT;
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if ((rv = db_val_json(&v, &x)) != 0) {
			break;
		}
		if (json_object_set_new(obj, key, x) != 0) {
			rv = TB_ENOMEM;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rv == TB_ENOTFOUND ? TB_OK : rv;
}

int
fsm_overlay_current(const struct store *s, MDB_txn *txn, const char *region,
                    json_t **out)
{
	uint8_t kb[14];
	MDB_cursor *cur;
	MDB_val k = { sizeof(kb), kb }, v;
	int rv;

	*out = NULL;
	memcpy(kb, region, 6);
	memset(kb + 6, 0xff, 8);
	if ((rv = db_err(mdb_cursor_open(txn, s->dbi[DB_OVERLAYS], &cur)))) {
		return rv;
	}
	rv = db_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
	rv = db_err(mdb_cursor_get(cur, &k, &v,
	                           rv == TB_ENOTFOUND ? MDB_LAST : MDB_PREV));
	if (rv == 0 && k.mv_size == 14 && !memcmp(k.mv_data, region, 6)) {
		rv = db_val_json(&v, out);
	} else if (rv == 0 || rv == TB_ENOTFOUND) {
		rv = TB_OK;
	}
	mdb_cursor_close(cur);
	return rv;
}

/* load_calendar sets std's calendar to the effective one: the release's
 * (meta["calendar"]) with, per year, the newest published calendar
 * (meta["calendars"], calendar.put) over it (fsm_calendar_effective). */
static int
load_calendar(const struct store *s, MDB_txn *txn, struct catalog *std)
{
	json_t *rel = NULL, *pubs = NULL, *eff = NULL;
	int rv = db_get_json(txn, s->dbi[DB_META], "calendar", 8, &rel);

	if (rv == TB_ENOTFOUND) {
		rv = TB_OK;
	}
	if (rv == TB_OK) {
		rv = db_get_json(txn, s->dbi[DB_META], "calendars", 9, &pubs);
		rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	if (rv == TB_OK && pubs != NULL) {
		rv = fsm_calendar_effective(rel, pubs, &eff);
		json_decref(rel);
		rel = eff;
	}
	json_decref(pubs);
	if (rv == TB_OK && rel != NULL) {
		std->calendar = rel;
		if (cal_from_json(rel, NULL, &std->cal, NULL) != 0) {
			rv = TB_ECORRUPT;
		}
		return rv;
	}
	json_decref(rel);
	return rv;
}

int
fsm_catalog_load(const struct store *s, MDB_txn *txn, struct fsm_catalog *c)
{
	json_t *head = NULL;
	int rv, i;

	memset(c, 0, sizeof(*c));
	if ((rv = catalog_init(&c->std)) != 0) {
		return rv;
	}
	if ((c->resolved = json_object()) == NULL) {
		fsm_catalog_fini(c);
		return TB_ENOMEM;
	}
	rv = db_get_json(txn, s->dbi[DB_META], "std", 3, &head);
	if (rv == TB_OK) {
		snprintf(c->std.region, sizeof(c->std.region), "%s",
		         spec_str(head, "region"));
		c->std.version = spec_int(head, "version", 0);
		if (canon_unhex(spec_str(head, "hash"), c->std.hash,
		                CANON_HASH_LEN) != 0) {
			rv = TB_ECORRUPT;
		}
		json_decref(head);
	} else if (rv == TB_ENOTFOUND) {
		rv = TB_OK;
	}
	if (rv == 0) {
		rv = load_object(txn, s->dbi[DB_MATTERS], c->std.matters);
	}
	if (rv == 0) {
		rv = load_object(txn, s->dbi[DB_BUNDLES], c->std.bundles);
	}
	if (rv == 0) {
		rv = load_calendar(s, txn, &c->std);
	}
	for (i = 0; rv == 0 && i < s->nchain; i++) {
		rv = fsm_overlay_current(s, txn, s->chain[i], &c->ov[i]);
	}
	if (rv == 0) {
		uint64_t level = 0;
		rv = meta_get_u64(s, txn, "feature_level", &level);
		c->cap = rv == 0 && level >= FSM_CAP_LEVEL;
		rv = rv == TB_ENOTFOUND ? TB_OK : rv;
	}
	if (rv != 0) {
		fsm_catalog_fini(c);
		return rv;
	}
	c->valid = true;
	return TB_OK;
}

int
fsm_catalog_get(struct fsm *f, struct fsm_catalog **c)
{
	int rv;

	if (!f->s->cat.valid) {
		fsm_catalog_fini(&f->s->cat);
		if ((rv = fsm_catalog_load(f->s, f->txn, &f->s->cat)) != 0) {
			return rv;
		}
	}
	*c = &f->s->cat;
	return TB_OK;
}

/* put_keyed writes every member of obj into dbi under its key. */
static int
put_keyed(struct fsm *f, MDB_dbi dbi, const json_t *obj)
{
	const char *k;
	json_t *v;
	int rv;

	json_object_foreach((json_t *)obj, k, v)
	{
		if ((rv = db_put_json(f->txn, dbi, k, strlen(k), v)) != 0) {
			return rv;
		}
	}
	return TB_OK;
}

/* put_matters writes the matters of release r under their keys: each as
 * the bytes it came in when r's canonical bytes are known (doc, n), else
 * encoded. A first full release is 3,000 matters. */
static int
put_matters(struct fsm *f, MDB_dbi dm, const json_t *r, const uint8_t *doc,
            size_t n)
{
	const json_t *arr = json_object_get(r, "matters");
	const uint8_t *mb = NULL;
	char k[MATTER_KEY_MAX];
	size_t mn = 0, off = 0, len, i;
	uint64_t count = 0;
	json_t *x;
	int rv;

	if (doc == NULL || canon_map_find(doc, n, "matters", &off) != 0) {
		mb = NULL; /* no bytes to use: encode each matter */
	} else {
		/* Bounded by the document's end: each matter is walked
		 * once, as it is written. */
		mb = doc + off;
		mn = n - off;
		if (canon_array_head(mb, mn, &count, &off) != 0 ||
		    count != json_array_size(arr)) {
			mb = NULL;
		}
	}
	json_array_foreach(arr, i, x)
	{
		matter_key(x, k, sizeof(k));
		if (mb == NULL) {
			rv = db_put_json(f->txn, dm, k, strlen(k), x);
		} else if ((len = canon_skip(mb + off, mn - off, 1)) == 0) {
			rv = TB_ECORRUPT;
		} else {
			rv = db_put_canon(f->txn, dm, k, strlen(k), mb + off,
			                  len);
			off += len;
		}
		if (rv != 0) {
			return rv;
		}
	}
	return TB_OK;
}

/* persist_layer writes what release r (its canonical bytes doc, n, or
 * NULL) changed in the standard layer, now folded into std. */
static int
persist_layer(struct fsm *f, const json_t *r, const uint8_t *doc, size_t n,
              const struct catalog *std)
{
	MDB_dbi dm = f->s->dbi[DB_MATTERS], db = f->s->dbi[DB_BUNDLES];
	char hex[2 * CANON_HASH_LEN + 1];
	uint8_t vk[8];
	json_t *head, *x;
	size_t i;
	int rv;

	if (spec_bool(r, "snapshot", false)) {
		/* A snapshot is the whole layer: empty the databases and
		 * write it out again. Its matters are the layer's (a key
		 * listed twice is refused), in the same order. */
		if ((rv = db_err(mdb_drop(f->txn, dm, 0))) != 0 ||
		    (rv = db_err(mdb_drop(f->txn, db, 0))) != 0 ||
		    (rv = put_matters(f, dm, r, doc, n)) != 0 ||
		    (rv = put_keyed(f, db, std->bundles)) != 0) {
			return rv;
		}
	} else {
		json_array_foreach(json_object_get(r, "removed"), i, x)
		{
			const char *k = json_string_value(x);
			if ((rv = db_del(f->txn, dm, k, strlen(k))) != 0) {
				return rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
			}
		}
		json_array_foreach(json_object_get(r, "removed_bundles"), i, x)
		{
			const char *k = json_string_value(x);
			if ((rv = db_del(f->txn, db, k, strlen(k))) != 0) {
				return rv == TB_ENOTFOUND ? TB_ECORRUPT : rv;
			}
		}
		if ((rv = put_matters(f, dm, r, doc, n)) != 0) {
			return rv;
		}
		json_array_foreach(json_object_get(r, "bundles"), i, x)
		{
			const char *k = spec_str(x, "code");
			if ((rv = db_put_json(f->txn, db, k, strlen(k), x))) {
				return rv;
			}
		}
	}
	if ((x = json_object_get(r, "calendar")) != NULL &&
	    (rv = db_put_json(f->txn, f->s->dbi[DB_META], "calendar", 8, x))) {
		return rv;
	}
	canon_hex(std->hash, CANON_HASH_LEN, hex);
	head = json_pack("{s:s, s:I, s:s, s:s}", "region", std->region,
	                 "version", (json_int_t)std->version, "hash", hex,
	                 "effective_at", spec_str(r, "effective_at"));
	if (head == NULL) {
		return TB_ENOMEM;
	}
	rv = db_put_json(f->txn, f->s->dbi[DB_META], "std", 3, head);
	json_decref(head);
	db_be64(vk, (uint64_t)std->version);
	if (rv != 0) {
		return rv;
	}
	return doc != NULL
	           ? db_put_canon(f->txn, f->s->dbi[DB_RELEASES], vk, 8, doc, n)
	           : db_put_json(f->txn, f->s->dbi[DB_RELEASES], vk, 8, r);
}

/* release_bytes finds the canonical bytes of the release being applied:
 * those deliver_entry found (f->doc), or the command's body.release; NULL
 * when neither is at hand. */
static void
release_bytes(const struct fsm *f, const uint8_t **p, size_t *n)
{
	size_t b;

	*p = f->doc;
	*n = f->doclen;
	if (*p != NULL || f->cmd->type != CMD_CATALOG_RELEASE ||
	    f->cmd->raw == NULL) {
		return;
	}
	/* The body's start, then the release within it, walked once. */
	if (canon_map_find(f->cmd->raw, f->cmd->rawlen, "body", &b) != 0 ||
	    canon_map_get(f->cmd->raw + b, f->cmd->rawlen - b, "release", p,
	                  n) != 0) {
		*p = NULL;
		*n = 0;
	}
}

/* log_conflicts logs each problem the region's own overlay now has against
 * the layers above (after a release or an overlay above it applied): a
 * lowered cap is served at the cap (overlay_cap, FSM_CAP_LEVEL) and the
 * region's admin should publish a corrected overlay. Logs only. */
static void
log_conflicts(struct fsm *f, struct fsm_catalog *c)
{
	const json_t *above[STORE_CHAIN_MAX];
	int own = f->s->nchain - 1, k;
	struct tb_diag d;

	if (own < 0 || c->ov[own] == NULL ||
	    strcmp(f->s->chain[own], f->s->region) != 0) {
		return;
	}
	tb_diag_init(&d);
	overlay_check(&c->std, above, fsm_above(c, own, above), c->ov[own], "$",
	              &d);
	for (k = 0; k < d.n; k++) {
		tb_log(TB_LOG_WARN, "TB-CATALOG-OVERLAY-CONFLICT",
		       "overlay of %s version %lld, %s: %s (%s; publish a "
		       "corrected overlay)",
		       f->s->region, spec_int(c->ov[own], "version", 0),
		       d.e[k].path, d.e[k].msg,
		       c->cap ? "a promise beyond a cap above is served at the "
		                "cap"
		              : "served as published below feature level 5");
	}
}

int
fsm_release(struct fsm *f)
{
	const json_t *r = json_object_get(f->cmd->body, "release");
	const char *reg = spec_str(r, "region");
	char hex[2 * CANON_HASH_LEN + 1];
	struct fsm_catalog *c;
	const uint8_t *doc;
	struct tb_diag d;
	json_t *root = NULL;
	size_t n;
	int rv;

	if ((rv = fsm_catalog_get(f, &c)) != 0) {
		return rv;
	}
	if (reg != NULL && strcmp(reg, f->s->province) != 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.release.region",
		                  "a release of %s cannot apply at %s, whose "
		                  "province is %s",
		                  reg, f->s->region, f->s->province);
	}
	/* Trust roots arrive with a later command; until one is stored,
	 * releases are accepted unsigned (their chain is still checked). */
	rv = db_get_json(f->txn, f->s->dbi[DB_META], "root", 4, &root);
	if (rv != TB_OK && rv != TB_ENOTFOUND) {
		return rv;
	}
	/* The release's own bytes, when at hand, are hashed, stored and
	 * passed on as they came: the same bytes an encoding of r gives
	 * (the command was checked canonical), without making them again. */
	release_bytes(f, &doc, &n);
	tb_diag_init(&d);
	rv = catalog_apply_doc(&c->std, r, doc, n, root, &d);
	json_decref(root);
	if (rv == TB_ENOMEM) {
		return rv;
	}
	if (rv != 0) {
		return fsm_refused(f, &d, "$.body.release");
	}
	/* c->std is now the new layer; store_apply drops the cache if the
	 * transaction does not commit. */
	json_object_clear(c->resolved);
	if ((rv = persist_layer(f, r, doc, n, &c->std)) != 0 ||
	    (rv = fsm_outbox_fanout_doc(f, "release", r, doc, n)) != 0) {
		return rv;
	}
	log_conflicts(f, c);
	/* catalog_apply set the cache's calendar to the release's alone;
	 * the effective one (published calendars over it, load_calendar)
	 * is what every member loads: reload the calendar alone (dropping
	 * the whole cache made the next command load every matter again,
	 * ~0.1 s a hop after a full release). */
	if (json_object_get(r, "calendar") != NULL) {
		json_decref(c->std.calendar);
		cal_free(c->std.cal);
		c->std.calendar = NULL;
		c->std.cal = NULL;
		if ((rv = load_calendar(f->s, f->txn, &c->std)) != 0) {
			return rv;
		}
	}
	canon_hex(c->std.hash, CANON_HASH_LEN, hex);
	f->result =
	    json_pack("{s:{s:{s:s, s:I, s:s, s:I, s:I}}}", "catalog",
	              "standard", "region", c->std.region, "version",
	              (json_int_t)c->std.version, "hash", hex, "matters",
	              (json_int_t)json_object_size(c->std.matters), "bundles",
	              (json_int_t)json_object_size(c->std.bundles));
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}

/* chain_index returns the position of region in s's overlay chain, or
 * -1. */
static int
chain_index(const struct store *s, const char *region)
{
	int i;

	for (i = 0; region != NULL && i < s->nchain; i++) {
		if (!strcmp(s->chain[i], region)) {
			return i;
		}
	}
	return -1;
}

size_t
fsm_above(const struct fsm_catalog *c, int i, const json_t **above)
{
	size_t n = 0;
	int j;

	for (j = 0; j < i; j++) {
		if (c->ov[j] != NULL) {
			above[n++] = c->ov[j];
		}
	}
	return n;
}

int
fsm_overlay(struct fsm *f)
{
	const json_t *ov = json_object_get(f->cmd->body, "overlay");
	const char *reg = spec_str(ov, "region"), *ph;
	char hex[2 * CANON_HASH_LEN + 1];
	uint8_t h[CANON_HASH_LEN], kb[14];
	const json_t *above[STORE_CHAIN_MAX];
	struct fsm_catalog *c;
	struct tb_diag d;
	long long want;
	size_t na;
	int rv, i;

	if ((rv = fsm_catalog_get(f, &c)) != 0) {
		return rv;
	}
	if (c->std.version == 0) {
		return fsm_refuse(f, TB_ECHAIN, "$.body.overlay.base_version",
		                  "made against standard version %lld, but "
		                  "%s has no standard release yet (catalog "
		                  "behind)",
		                  spec_int(ov, "base_version", 0),
		                  f->s->province);
	}
	if ((i = chain_index(f->s, reg)) < 0) {
		return fsm_refuse(f, TB_ECODE, "$.body.overlay.region",
		                  "%s's catalog takes the overlays of %s and "
		                  "the cities above it, not of %s",
		                  f->s->region, f->s->region, reg ? reg : "?");
	}
	/* The chain first: overlays are hash-chained like releases. */
	want = c->ov[i] != NULL ? spec_int(c->ov[i], "version", 0) + 1 : 1;
	if (spec_int(ov, "version", 0) != want) {
		return fsm_refuse(f, TB_ECHAIN, "$.body.overlay.version",
		                  "overlay of %s version %lld, expected %lld "
		                  "(%s)",
		                  reg, spec_int(ov, "version", 0), want,
		                  spec_int(ov, "version", 0) == want - 1
		                      ? "that version is applied already: a "
		                        "retry finds it there, GET /v1/catalog "
		                        "shows its hash"
		                  : spec_int(ov, "version", 0) < want
		                      ? "rollback refused"
		                      : "gap");
	}
	ph = spec_str(ov, "prev_hash");
	if (c->ov[i] != NULL) {
		if ((rv = canon_hash_value(c->ov[i], "signatures", h, hex,
		                           sizeof(hex))) != 0) {
			return rv == TB_ENOMEM ? rv : TB_ECORRUPT;
		}
		canon_hex(h, CANON_HASH_LEN, hex);
	}
	if (c->ov[i] != NULL
	        ? ph == NULL || strcmp(ph, hex) != 0
	        : !json_is_null(json_object_get(ov, "prev_hash"))) {
		return fsm_refuse(f, TB_ECHAIN, "$.body.overlay.prev_hash",
		                  "prev_hash is not the hash of %s's overlay "
		                  "version %lld: a fork",
		                  reg, want - 1);
	}
	tb_diag_init(&d);
	na = fsm_above(c, i, above);
	if (overlay_check(&c->std, above, na, ov, "$.body.overlay", &d)) {
		return tb_diag_first(&d) == TB_ENOMEM
		           ? TB_ENOMEM
		           : fsm_refused(f, &d, NULL);
	}
	memcpy(kb, reg, 6);
	db_be64(kb + 6, (uint64_t)want);
	if ((rv = db_put_json(f->txn, f->s->dbi[DB_OVERLAYS], kb, 14, ov)) ||
	    (rv = fsm_outbox_fanout(f, "overlay", ov))) {
		return rv;
	}
	json_decref(c->ov[i]);
	c->ov[i] = json_incref((json_t *)ov);
	json_object_clear(c->resolved); /* effective matters changed */
	if (i < f->s->nchain - 1) {
		log_conflicts(f, c);
	}
	if (canon_hash_value(ov, "signatures", h, hex, sizeof(hex)) != 0) {
		return TB_ENOMEM;
	}
	canon_hex(h, CANON_HASH_LEN, hex);
	f->result = json_pack(
	    "{s:{s:{s:s, s:I, s:s, s:I}}}", "catalog", "overlay", "region", reg,
	    "version", (json_int_t)want, "hash", hex, "entries",
	    (json_int_t)json_array_size(json_object_get(ov, "entries")));
	return f->result != NULL ? TB_OK : TB_ENOMEM;
}
