/* Helpers for tests that drive a real store with real commands: temporary
 * directories, the county's catalog, case bodies and the encoder the API
 * uses (cmd_encode). Included after tap.h. */
#ifndef TB_TESTS_STORE_UTIL_H
#define TB_TESTS_STORE_UTIL_H

#include "node/store.h"
#include "schema/command.h"
#include "schema/spec.h"
#include "tests/fs_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline bool
su_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static inline struct store *
su_open(const char *dir, const char *region)
{
	struct store_options o = { 0, NULL, region };
	struct store *s = NULL;
	char err[256];

	if (store_open(dir, &o, &s, err, sizeof(err)) != 0) {
		printf("# store_open %s: %s\n", dir, err);
	}
	return s;
}

static inline json_t *
su_load(const char *rel)
{
	char path[512];
	json_error_t e;

	snprintf(path, sizeof(path), "%s/%s", TB_SOURCE_DIR, rel);
	return json_load_file(path, 0, &e);
}

/* su_encode builds a command's canonical bytes (body stolen); at is Unix
 * ms. A failure leaves b empty and says why. */
static inline struct canon_buf
su_encode(enum cmd_type t, int64_t at, const char *key, json_t *body)
{
	struct canon_buf b = { 0 };
	char err[128];

	if (body == NULL ||
	    cmd_encode(t, at, key, body, &b, err, sizeof(err)) != 0) {
		printf("# encode: %s\n", body == NULL ? "no body" : err);
	}
	json_decref(body);
	return b;
}

/* su_catalog returns the bodies of the three catalog commands a county
 * store needs before it takes cases: the province's release, the city's
 * and the county's overlays (catalog.release, catalog.overlay x2). */
static inline json_t *
su_catalog(int i)
{
	static const char *const files[3] = {
		"ops/examples/catalog-370000.json",
		"ops/examples/overlay-370100.json",
		"ops/examples/overlay-370102.json",
	};
	json_t *doc = su_load(files[i]);

	if (doc == NULL) {
		return NULL;
	}
	return json_pack("{s:o}", i == 0 ? "release" : "overlay", doc);
}

static const char *SU_HASH =
    "0f3c5a9d2b7e41c8a6d09e1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e";

/* su_food builds a case.create for 食品经营许可（新办） with id number id
 * (18 characters). */
static inline json_t *
su_food(const char *id)
{
	return json_pack(
	    "{s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s}, s:[{s:s, s:s, s:i}, {s:s, s:s, s:i}, {s:s, s:s, "
	    "s:i}], s:s}",
	    "matter", "000117001000#01", "applicant", "name", "张三", "id_type",
	    "resident_id", "id_number", id, "phone", "13912345678", "form",
	    "applicant_name", "张三", "id_number", id, "phone", "13912345678",
	    "operator_name", "历下区张三餐馆", "operating_address",
	    "济南市历下区泉城路1号", "main_format", "餐饮服务经营者",
	    "business_items", "热食类食品制售", "food_safety_manager", "李四",
	    "materials", "code", "M01", "hash", SU_HASH, "size", 1024, "code",
	    "M03", "hash", SU_HASH, "size", 2048, "code", "M04", "hash",
	    SU_HASH, "size", 512, "channel", "2");
}

/* su_applicant is the applicant 张三 with id number id. */
static inline json_t *
su_applicant(const char *id)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "name", "张三", "id_type",
	                 "resident_id", "id_number", id, "phone",
	                 "13912345678");
}

/* su_card builds a case.create for 社会保障卡申领 (no implementation entry
 * at the county). */
static inline json_t *
su_card(const char *id)
{
	return json_pack(
	    "{s:s, s:o, s:{s:s, s:s, s:s, s:s, s:s}, s:[{s:s, s:s, s:i}], "
	    "s:s}",
	    "matter", "002014001000", "applicant", su_applicant(id), "form",
	    "applicant_name", "张三", "id_number", id, "phone", "13912345678",
	    "child_name", "张小宝", "card_delivery", "窗口领取", "materials",
	    "code", "M02", "hash", SU_HASH, "size", 4096, "channel", "4");
}

/* su_birth builds a case.create of the bundle 新生儿出生一件事. */
static inline json_t *
su_birth(void)
{
	return json_pack(
	    "{s:s, s:o, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	    " s:s, s:s, s:s, s:s, s:s, s:s}, s:[{s:s, s:s, s:s, s:i}], s:s}",
	    "bundle", "370000YJS001", "applicant",
	    su_applicant("370102199001011231"), "form", "guardian_name", "张三",
	    "guardian_id_number", "370102199001011231", "guardian_phone",
	    "13912345678", "guardian_relation", "父亲", "child_name", "张小宝",
	    "child_gender", "男", "birth_date", "2026-01-28", "birth_hospital",
	    "山东省立医院", "mother_name", "王芳", "mother_id_number",
	    "370102199203154329", "home_address", "济南市历下区文化东路8号",
	    "hukou_address", "济南市历下区文化东路8号", "hukou_holder_name",
	    "张三", "insured_region", "370102", "insured_type", "新生儿",
	    "card_delivery", "窗口领取", "materials", "member", "ss_card",
	    "code", "M02", "hash", SU_HASH, "size", 4096, "channel", "1");
}

/* su_id writes the n-th distinct valid resident id number (GB 11643, with
 * its check character; n < 336,000) to out. */
static inline void
su_id(size_t n, char out[19])
{
	static const int w[17] = { 7, 9, 10, 5,  8, 4, 2, 1, 6,
		                   3, 7, 9,  10, 5, 8, 4, 2 };
	int i, sum = 0;

	snprintf(out, 19, "3701021990%02zu%02zu%03zu", 1 + n / 28000 % 12,
	         1 + n / 1000 % 28, n % 1000);
	for (i = 0; i < 17; i++) {
		sum += (out[i] - '0') * w[i];
	}
	out[17] = "10X98765432"[sum % 11];
	out[18] = '\0';
}

/* su_act builds a case.action body. */
static inline json_t *
su_act(const char *id, const char *action, int version)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "case", id, "action", action,
	                 "version", version, "actor", "clerk-7");
}

/* su_apply applies one command at index in its own transaction; returns
 * the store's code and, through *refused, whether it was a refusal. */
static inline int
su_apply(struct store *s, uint64_t index, const struct canon_buf *b,
         bool *refused)
{
	json_t *res = NULL;
	int rv = store_apply(s, index, b->data, b->len, &res);

	if (refused != NULL) {
		*refused = json_object_get(res, "error") != NULL;
	}
	if (getenv("TB_SU_DEBUG") && json_object_get(res, "error")) {
		char *t = json_dumps(res, JSON_COMPACT);
		printf("# refused at %llu: %s\n", (unsigned long long)index, t);
		free(t);
	}
	json_decref(res);
	return rv;
}

/* SU_T0 is 2026-02-10 10:00 +08:00 in Unix ms: a working day. */
#define SU_T0 1770688800000LL

#endif
