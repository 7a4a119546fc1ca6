/* Fuzz release documents: release_check, and catalog_apply onto an empty
 * catalog and, for a version 2 delta, onto the example release 1. */
#include "fuzz/fuzz_util.h"
#include "schema/catalog.h"
#include "schema/error.h"

/* The example layer's release 1 and the catalog it folds to. A refused
 * release leaves a catalog unchanged (which apply() checks), so the fold is
 * redone only after a delta was accepted. */
static json_t *base;
static struct catalog base_cat;

static void
fold_base(void)
{
	struct tb_diag d;

	catalog_fini(&base_cat);
	if (base == NULL || catalog_init(&base_cat) != TB_OK) {
		return;
	}
	tb_diag_init(&d);
	if (catalog_apply(&base_cat, base, NULL, &d) != TB_OK) {
		fprintf(stderr, "fuzz: example release refused: %s: %s\n",
		        d.n ? d.e[0].path : "", d.n ? d.e[0].msg : "");
		catalog_fini(&base_cat);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	base = fuzz_load_example("ops/examples/catalog-370000.json");
	fold_base();
	return 0;
}

/* apply folds r into c and checks the documented contract. */
static int
apply(struct catalog *c, const json_t *r)
{
	long long before = c->version;
	size_t nmatters = json_object_size(c->matters);
	size_t nbundles = json_object_size(c->bundles);
	uint8_t hash[CANON_HASH_LEN];
	struct tb_diag d;
	int rv;

	/* A delta is folded into the layer itself and put back when it is
	 * refused: compare the matters, not only their count. */
	json_t *snap = json_deep_copy(c->matters);

	memcpy(hash, c->hash, sizeof(hash));
	tb_diag_init(&d);
	rv = catalog_apply(c, r, NULL, &d);
	if (rv != TB_OK) {
		fuzz_check(d.n > 0 && d.e[0].code == rv,
		           "a refused release says why");
		fuzz_check(c->version == before &&
		               !memcmp(hash, c->hash, sizeof(hash)) &&
		               json_object_size(c->matters) == nmatters &&
		               json_object_size(c->bundles) == nbundles &&
		               (snap == NULL || json_equal(snap, c->matters)),
		           "a refused release changes nothing");
		json_decref(snap);
		return rv;
	}
	json_decref(snap);
	fuzz_check(d.n == 0, "an applied release has no problems");
	fuzz_check(c->version == before + 1, "an applied release is next");
	/* Applying the same release again is a rollback. */
	tb_diag_init(&d);
	fuzz_check(catalog_apply(c, r, NULL, &d) != TB_OK && d.n > 0,
	           "a release cannot be applied twice");
	return rv;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog c;
	struct tb_diag d;
	json_t *j = fuzz_json(data, size);
	json_t *ver;
	int n;

	if (j == NULL) {
		return 0;
	}
	tb_diag_init(&d);
	n = release_check(j, "$", &d);
	fuzz_check(n >= 0 && (n == 0) == (d.n == 0),
	           "release_check counts what it reports");
	if (catalog_init(&c) == TB_OK) {
		(void)apply(&c, j);
		catalog_fini(&c);
	}
	ver = json_object_get(j, "version");
	if (base_cat.version == 1 && json_is_integer(ver) &&
	    json_integer_value(ver) == 2) {
		if (apply(&base_cat, j) == TB_OK) {
			fold_base();
		}
	}
	json_decref(j);
	return 0;
}
