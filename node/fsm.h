/* The region state machine: one handler per command type, run inside the
 * apply transaction that store_apply opened. */
#ifndef TB_NODE_FSM_H
#define TB_NODE_FSM_H

#include "node/store_db.h"
#include "schema/calendar.h"
#include "schema/command.h"
#include "schema/lifecycle.h"
#include "schema/matter.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A handler's return: TB_OK (changes written, f->result set), FSM_REFUSED
 * (a refusal, the reason in f->d; store_apply aborts whatever was
 * written), or a real failure (TB_EFULL, TB_EIO, TB_ECORRUPT, TB_ENOMEM). */
#define FSM_REFUSED (-1)

/* The apply of one command. */
struct fsm {
	struct store *s;
	MDB_txn *txn;
	const struct cmd *cmd;
	int64_t at;         /* the command's time clamped monotone (Unix ms) */
	int32_t day;        /* the day of `at` in UTC+8 (China Standard Time) */
	json_t *result;     /* success payload, owned by f */
	bool fault;         /* entered the TB_FAULT_HANDOFF_EXIT step (kept in
	                       the store's fault_exit only if the apply commits) */
	const uint8_t *raw; /* the command's canonical bytes */
	size_t raw_len;
	/* For the next fsm_case_put of a new case: members of the record
	 * whose bytes are parts of raw (canon_encode_raw), or none. */
	const struct canon_raw *rec_raw;
	size_t rec_nraw;
	const uint8_t *doc; /* a delivered release's canonical bytes within
	                       cmd->raw (doclen), or NULL: fsm_release */
	size_t doclen;
	json_t *body; /* the whole body of a shallow cmd, once fsm_body
	                 decoded it (store_apply releases it) */
	/* Last: store_apply zeroes the members above and empties d with
	 * tb_diag_init, rather than zeroing its 27 KiB of entries for every
	 * apply (11% of a case's instructions). */
	struct tb_diag d;
};

/* fsm_refuse records the refusal (code, path, message) and returns
 * FSM_REFUSED, so a handler can `return fsm_refuse(...)`. */
int fsm_refuse(struct fsm *f, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* fsm_refused turns the first diagnostic of d (if any) into f's refusal,
 * prefixing its path with prefix when the path starts with "$" (a
 * validator's path within a sub-document). Returns FSM_REFUSED. */
int fsm_refused(struct fsm *f, const struct tb_diag *d, const char *prefix);

/* fsm_with_diag runs fn(f, d) with a diagnostics buffer of its own on the
 * heap (struct tb_diag is large): TB_ENOMEM if it cannot be had, else what
 * fn returns. */
int fsm_with_diag(struct fsm *f, int (*fn)(struct fsm *, struct tb_diag *));

/* fsm_body sets *b to the command's whole body: cmd->body, or for a
 * shallow one (cmd_decode_shallow) the body decoded from the command's
 * bytes on the first call (kept in f->body). TB_OK or TB_ENOMEM. */
int fsm_body(struct fsm *f, const json_t **b);

/* fsm_day is the UTC+8 day number (days since 1970-01-01) of Unix ms. */
int32_t fsm_day(int64_t ms);

/* fsm_datestr writes a day as "YYYY-MM-DD". */
void fsm_datestr(int32_t day, char out[11]);

/* Handlers, one per command type. */
int fsm_release(struct fsm *f);
int fsm_overlay(struct fsm *f);
int fsm_case_create(struct fsm *f);
int fsm_case_action(struct fsm *f);
int fsm_token_create(struct fsm *f);
int fsm_token_revoke(struct fsm *f);
/* join.create and join.use (fsm_join.c, feature level 2). */
int fsm_join_create(struct fsm *f);
int fsm_join_use(struct fsm *f);
/* crl.put (fsm_crl.c, feature level 3). */
int fsm_crl_put(struct fsm *f);
/* root.put (fsm_root.c, feature level 3). */
int fsm_root_put(struct fsm *f);
/* fsm_root_get sets *out to the stored root metadata (meta["root"], a new
 * reference) or NULL when none is stored; returns TB_OK or an LMDB
 * error. */
int fsm_root_get(struct fsm *f, json_t **out);
/* fsm_crl_delivered and fsm_root_delivered apply a "crl" or "root" entry
 * delivered from the parent (f->cmd: the crl.put or root.put it carries):
 * one this group already holds (the same document, or an older version
 * than the stored one) changes nothing and is accepted; any other goes
 * through fsm_crl_put / fsm_root_put, whose checks and refusals it gets. */
int fsm_crl_delivered(struct fsm *f);
int fsm_root_delivered(struct fsm *f);
/* FSM_FEED_LEVEL: the feature level from which revocation lists and the
 * root flow down the tree (fsm_feed_level sets *on when f's group runs at
 * it). */
#define FSM_FEED_LEVEL 4
int fsm_feed_level(struct fsm *f, bool *on);
/* calendar.put (fsm_calfeed.c, feature level 5; docs/CALENDAR.md "The
 * calendar feed"): a province's signed tongban.calendar/1 stored as
 * meta["calendars"] and passed down; fsm_calendar_delivered applies a
 * delivered "calendar" entry (held when not newer than what is stored). */
#define FSM_CALFEED_LEVEL 5
int fsm_calendar_put(struct fsm *f);
int fsm_calendar_delivered(struct fsm *f);
/* fsm_calendar_effective merges the release's calendar rel (may be NULL)
 * with the published calendars pubs (the meta["calendars"] array of
 * {calendar, root}, version ascending; may be NULL): per year the
 * highest-version published calendar covering it wins, else the
 * release's; the contiguous run of years holding the release's last year
 * (else the highest covered year) is kept. *out is a tongban.calendar/1
 * document, or NULL when neither covers a year. */
int fsm_calendar_effective(const json_t *rel, const json_t *pubs, json_t **out);
/* FSM_INC_LEVEL: the feature level from which a recovered group's
 * incarnation is replicated (group.incarnation) and numbers its streams. */
#define FSM_INC_LEVEL 5
/* FSM_CAP_LEVEL: the feature level from which an effective matter's promised
 * limit is held to the caps above it (overlay_cap): a city default lowered
 * below a county's earlier promise wins at the county (docs/API.md). */
#define FSM_CAP_LEVEL 5
/* FSM_REF_LEVEL: the feature level from which a release's outbox entry is
 * stored as a reference to the stored release, {"kind": "release", "ref":
 * version}, resolved to the release's bytes when the entry is sent
 * (region_store_entry): an apply writes the release once instead of once
 * more per child. Below it, the copy {"kind", "doc"} as before; both are
 * sent as the same bytes. fsm_ref_level sets *on at it. */
#define FSM_REF_LEVEL 5
int fsm_ref_level(struct fsm *f, bool *on);

/* handoff.offer, handoff.abort and handoff.frame (fsm_handoff*.c, feature
 * level 3). */
int fsm_handoff_offer(struct fsm *f);
int fsm_handoff_abort(struct fsm *f);
int fsm_handoff_frame(struct fsm *f);
/* handoff.request (at the requester) and handoff.refuse (at the owner):
 * a target's request for a case (fsm_handoff_request.c). */
int fsm_handoff_request(struct fsm *f);
int fsm_handoff_refuse(struct fsm *f);

/* fsm_case_writable refuses (FSM_REFUSED, case_moved) a case whose owner is
 * another region, and (case_frozen) one a handoff froze unless
 * frozen_ok. */
int fsm_case_writable(struct fsm *f, const json_t *c, bool frozen_ok);

/* ---- the group's feature level (fsm_feature.c) ---- */

/* fsm_group_feature raises the replicated feature level: a level at or
 * below the current one is refused (levels only rise); one above
 * TB_FEATURE_LEVEL is TB_ENOTSUP, an apply failure: this member cannot
 * follow a group that runs beyond its build, and stops loudly rather than
 * diverge. */
int fsm_group_feature(struct fsm *f);

/* ---- catalog (fsm_catalog.c) ---- */

/* fsm_catalog_load builds c from the committed catalog databases seen by
 * txn (the writer's cache or a reader's private copy). */
int fsm_catalog_load(const struct store *s, MDB_txn *txn,
                     struct fsm_catalog *c);

/* fsm_overlay_current reads the newest overlay of region (the greatest key
 * with the region's six bytes as prefix) into *out, a new reference; *out
 * is NULL if there is none. */
int fsm_overlay_current(const struct store *s, MDB_txn *txn, const char *region,
                        json_t **out);

/* fsm_catalog_fini releases c; safe on a zeroed c. */
void fsm_catalog_fini(struct fsm_catalog *c);

/* fsm_catalog_get returns the writer's cache, loading it if stale. */
int fsm_catalog_get(struct fsm *f, struct fsm_catalog **c);

/* fsm_above collects into above the stored overlays above chain position i
 * (top down) and returns how many there are. */
size_t fsm_above(const struct fsm_catalog *c, int i, const json_t **above);

/* ---- matters (fsm_matter.c) ---- */

/* The result of resolving a matter key to what a case pins. */
struct fsm_matter {
	json_t *eff;                         /* effective matter (owned) */
	char key[MATTER_KEY_MAX];            /* basic key "000117001000#01" */
	char task_code[MATTER_KEY_MAX];      /* implementation key, or "" */
	char region[7];                      /* region of the entry, or "" */
	char hash[2 * CANON_HASH_LEN + 1];   /* of the effective matter */
	char locked[2 * CANON_HASH_LEN + 1]; /* of its locked fields */
};

/* fsm_resolve resolves code, a basic key or an implementation key: an
 * implementation key names an entry of this region's overlay or an
 * ancestor's; a basic key takes the nearest region's implementation entry
 * for it, else the standard matter with the ancestors' defaults. The
 * answer is remembered in c. TB_OK (release m with fsm_matter_fini; m->eff
 * is shared with c and must not be modified), TB_ENOTFOUND or
 * TB_ENOMEM. */
int fsm_resolve(const struct store *s, struct fsm_catalog *c, const char *code,
                struct fsm_matter *m);

/* fsm_matter_fini releases m->eff. */
void fsm_matter_fini(struct fsm_matter *m);

/* ---- validation of what an applicant submits (fsm_form.c) ---- */

/* fsm_form_check checks values (an object) against the form definition
 * def (an array of fields): no unknown field, every required one present,
 * each of its type. what names the form in messages ("matter X").
 * Problems go to d at path.<field>; returns their number. */
int fsm_form_check(const json_t *def, const json_t *values, const char *what,
                   const char *path, struct tb_diag *d);

/* fsm_applicant_check checks the applicant object at path. */
int fsm_applicant_check(const json_t *a, const char *path, struct tb_diag *d);

/* fsm_applicant_values is fsm_applicant_check's check of the values, once
 * the object has the right members (name, id_type and id_number strings;
 * phone a string or NULL). */
int fsm_applicant_values(const char *name, const char *id_type,
                         const char *id_number, const char *phone,
                         const char *path, struct tb_diag *d);

/* fsm_materials_check checks the references in given (array) at path that
 * belong to member (NULL for a single case, where no "member" field is
 * allowed) against the matter's material list def: known, unique codes, a
 * 64-hex hash and a size, and every required material the applicant
 * supplies (source "applicant") present. key names the matter. */
int fsm_materials_check(const json_t *def, const json_t *given,
                        const char *member, const char *key, const char *path,
                        struct tb_diag *d);

/* One form field as fsm_value_check reads it: the strings point into the
 * matter's JSON. kind is the type ("int", "bool", "date", "id_number",
 * "phone", "region", "enum"; any other is a plain string). */
enum fsm_kind {
	FSM_K_STR,
	FSM_K_INT,
	FSM_K_BOOL,
	FSM_K_DATE,
	FSM_K_ID,
	FSM_K_PHONE,
	FSM_K_REGION,
	FSM_K_ENUM,
};
struct fsm_field {
	const char *name, *label;
	const json_t *options;
	long long max; /* max_len, 0 for none */
	enum fsm_kind kind;
	bool required;
};

/* fsm_field_of reads field definition f (named name). */
void fsm_field_of(const json_t *f, const char *name, struct fsm_field *out);

/* fsm_value_check checks the present value v of field f at parent.name;
 * 1 (and a diagnostic) if it does not pass, else 0. */
int fsm_value_check(const struct fsm_field *f, const json_t *v,
                    const char *parent, struct tb_diag *d);

/* fsm_value_check_t is fsm_value_check of a value of JSON type `type`
 * (JSON_TRUE and JSON_FALSE both booleans), s its text if a string (else
 * NULL). A NULL d checks without a diagnostic (the result alone). */
int fsm_value_check_t(const struct fsm_field *f, json_type type, const char *s,
                      const char *parent, struct tb_diag *d);

/* ---- the checks of a matter compiled once (fsm_checks.c) ---- */

#define FSM_CHECK_FIELDS    64
#define FSM_CHECK_MATERIALS 64

/* A matter's form and material list read once into tables, for the checks
 * of every case of it (looking them up in its JSON was about a fifth of a
 * case's apply, docs/BENCH.md). eff is held (a reference); a part that
 * does not fit (more entries, a missing name or code, a repeated name) is
 * marked so and checked from the JSON as before. */
struct fsm_checks {
	json_t *eff;
	bool form_ok, mat_ok;
	size_t nf, nm;
	struct fsm_field f[FSM_CHECK_FIELDS];
	struct {
		const char *code;
		bool needed; /* required and given by the applicant */
	} m[FSM_CHECK_MATERIALS];
};

/* fsm_checks_get returns the compiled checks of effective matter eff,
 * compiling and remembering them in c; NULL if memory is short (the
 * caller then checks from the JSON). */
const struct fsm_checks *fsm_checks_get(struct fsm_catalog *c,
                                        const json_t *eff);

/* fsm_checks_fini releases what c remembers. */
void fsm_checks_fini(struct fsm_catalog *c);

/* fsm_form_check_c and fsm_materials_check_c are fsm_form_check and
 * fsm_materials_check (a single case: no member) of matter k, with the
 * same diagnostics in the same order. */
int fsm_form_check_c(const struct fsm_checks *k, const json_t *values,
                     const char *what, const char *path, struct tb_diag *d);
int fsm_materials_check_c(const struct fsm_checks *k, const json_t *given,
                          const char *key, const char *path, struct tb_diag *d);

/* fsm_codes_ok: the codes gc[0..ng) of a single case's references (each
 * of the right shape) are each one that k lists, and every material the
 * applicant must give is among them (k->mat_ok). */
bool fsm_codes_ok(const struct fsm_checks *k, const char *const *gc, size_t ng);

/* ---- the same checks on the command's bytes (fsm_checks_raw.c) ---- */

/* Each is true only when its JSON check finds nothing wrong with the part
 * (the canonical bytes p[0..n) of a checked command's body member; NULL
 * for none): fsm_applicant_check, fsm_form_check_c and
 * fsm_materials_check_c. false means "not vouched for": the JSON check
 * decides (and names what is wrong), as it always did. A case's apply
 * then builds no JSON of these parts (tests/test_create_raw.c compares). */
bool fsm_applicant_ok_raw(const uint8_t *p, size_t n);
bool fsm_form_ok_raw(const struct fsm_checks *k, const uint8_t *p, size_t n);
bool fsm_materials_ok_raw(const struct fsm_checks *k, const uint8_t *p,
                          size_t n);

struct fsm_case_parts; /* below */

/* fsm_applicant_checks checks a case.create's applicant: on its bytes
 * (cp, the body's parts, NULL if not found) when the command was decoded
 * shallow, else (or when those do not vouch for it) as JSON with
 * fsm_applicant_check. TB_OK, FSM_REFUSED (f->d says why) or an error. */
int fsm_applicant_checks(struct fsm *f, const struct fsm_case_parts *cp);

/* fsm_single_checks checks a single case's form and materials against the
 * effective matter eff (key its key; k its compiled checks, or NULL) the
 * same way: problems go to f->d, as fsm_form_check_c and
 * fsm_materials_check_c (or, without k, fsm_form_check and
 * fsm_materials_check) add them. TB_OK or an error (TB_ENOMEM). */
int fsm_single_checks(struct fsm *f, const struct fsm_checks *k,
                      const json_t *eff, const char *key,
                      const struct fsm_case_parts *cp);

/* fsm_raw_str copies the string member key of the map p[0..n) to
 * out[0..size) with a NUL: false if there is none, it is not a string or
 * it does not fit. */
bool fsm_raw_str(const uint8_t *p, size_t n, const char *key, char *out,
                 size_t size);

/* fsm_id_number_ok is true for an 18-character resident id number with a
 * valid GB 11643-1999 (ISO 7064 MOD 11-2) check character. */
bool fsm_id_number_ok(const char *s);

/* ---- due dates (fsm_due.c) ---- */

struct fsm_due {
	int32_t due;       /* the due date */
	int32_t warn_from; /* first day of the warning window */
	bool provisional;  /* counted past the calendar's last year */
};

/* The warning window: the last this many working days up to the due date. */
#define FSM_WARN_WORKDAYS 3

/* fsm_due_compute counts n days of unit ('G' or 'Z') from day `from` (not
 * counted) on cal (may be NULL), skipping the paused days: cal_due where
 * the calendar covers the count; otherwise the same rules with Monday to
 * Friday as working days, and the result marked provisional. n = 0 (an
 * immediate matter, 即办件) is due on `from`. TB_OK or TB_EINVAL. */
int fsm_due_compute(const struct tb_calendar *cal, int32_t from, int n,
                    char unit, const struct cal_pause *p, size_t np,
                    struct fsm_due *out);

/* What the clock of a case reads (fsm_clock): its state, due date, warning
 * day and whether its last pause is open (and from which day). A date that
 * is absent or not a "YYYY-MM-DD" string counts as absent. */
struct fsm_clock_in {
	enum lc_state state; /* LC_STATE_RECEIVED if unreadable */
	bool has_due, has_warn_from, paused, has_pause_from;
	int32_t due, warn_from, pause_from;
};

/* fsm_clock returns the clock ("not_started", "running", "stopped" or
 * "over") on day today and sets *warn and *overdue: the rules of
 * docs/STORE.md, "Due dates", for fsm_case_clock and the list's text path. */
const char *fsm_clock(const struct fsm_clock_in *in, int32_t today, bool *warn,
                      bool *overdue);

/* fsm_case_clock adds the read-time fields to a case (JSON object) for the
 * day `today`: "clock", "warn", "overdue". */
int fsm_case_clock(json_t *c, int32_t today);

/* fsm_case_overdue is the "overdue" fsm_case_clock would set. */
bool fsm_case_overdue(const json_t *c, int32_t today);

/* ---- the summary index (fsm_sum.c) ---- */

/* The feature level from which apply keeps the summary index. */
#define FSM_SUM_LEVEL 2

/* The members of a case record that a list reads (the summary's, and those
 * the filters and the clock use), in the order canon_decode_fields takes. */
/* clang-format off */
#define FSM_SUM_KEYS(X)                                                  \
	X(id) X(matter) X(task_code) X(matter_name) X(state) X(version)  \
	X(received_at) X(due) X(bundle) X(warn_from) X(due_provisional) \
	X(pauses)
/* clang-format on */
#define FSM_SUM_NKEYS 12
extern const char *const fsm_sum_keys[FSM_SUM_NKEYS];
extern const size_t fsm_sum_key_lens[FSM_SUM_NKEYS];

/* fsm_sum_level sets *on when the group's feature level keeps the summary
 * index (read in txn). */
int fsm_sum_level(const struct store *s, MDB_txn *txn, bool *on);

/* fsm_sum_encode appends the summary value of case c (a record, or its
 * fsm_sum_keys members) to b: the version byte, then the canonical msgpack
 * of c's fsm_sum_keys members, "pauses" reduced to the open pause (the only
 * one the clock reads) or left out when none is open. */
int fsm_sum_encode(const json_t *c, struct canon_buf *b);

/* fsm_sum_put writes c's summary to case_sum and as the value of its
 * case_state entry (state st), which fsm_case_put has written. */
int fsm_sum_put(struct fsm *f, const json_t *c, int st);

/* fsm_sum_backfill builds the summary index for every stored case (the
 * raise to FSM_SUM_LEVEL); *count receives the number of cases. */
int fsm_sum_backfill(struct fsm *f, uint64_t *count);

/* ---- case records (fsm_record.c) ---- */

/* fsm_case_put writes case c (its "id") with its state and matter index
 * entries; old is the previous record (NULL for a new case), whose index
 * entries and counters are moved. */
int fsm_case_put(struct fsm *f, const json_t *c, const json_t *old);

/* fsm_event_append appends a case.event whose body is body (stolen, also
 * on failure) to the global feed and to case c's own event list, after
 * setting its "case", "epoch" and "seq" (c's "last_event" counter, which the
 * caller has already advanced). If event is not NULL it receives the feed
 * entry as store_events shows it (a new reference). */
int fsm_event_append(struct fsm *f, const json_t *c, json_t *body,
                     json_t **event);

/* fsm_case_put_new writes a new case (fsm_case_put with old NULL) whose
 * record the caller has encoded: rec[0..n) is its stored value, id its id,
 * matter its "matter" and id_number its applicant's id number. c is the
 * record as JSON, needed only from FSM_SUM_LEVEL on (the summaries), else
 * NULL. */
int fsm_case_put_new(struct fsm *f, const char *id, const char *matter,
                     const char *id_number, const uint8_t *rec, size_t n,
                     const json_t *c);

/* ---- a new case's record and first event, written directly
 * (fsm_create_rec.c) ---- */

/* FSM_NOT_DIRECT: fsm_case_rec_bytes leaves this record to new_case's JSON
 * and canon_encode (an effective matter without a limit's unit, or a
 * string canon_encode would refuse). */
#define FSM_NOT_DIRECT (-3)

/* FSM_CASE_ID_LEN holds a case or bundle application id
 * (REGION-YYYYMMDD-PREFIX999999) and its NUL. */
#define FSM_CASE_ID_LEN 32

/* fsm_case_next_id writes to id (FSM_CASE_ID_LEN bytes) the next id of
 * the apply's day from the serial counter in meta `name` (day << 32 |
 * serial; a new day restarts it at 1); prefix "" for cases, "B" for
 * bundle applications. Refused past 999999 a day. */
int fsm_case_next_id(struct fsm *f, const char *name, const char *prefix,
                     char *id);

/* The parts of a case.create's body that a new case's record and first
 * event hold as they are: the bytes of each member's value within the
 * command (p[i] NULL if the body has none). */
enum {
	FSM_PART_APPLICANT,
	FSM_PART_FORM,
	FSM_PART_MATERIALS,
	FSM_PART_CHANNEL,
	FSM_PART_RECEIVER,
	FSM_PARTS
};
struct fsm_case_parts {
	const uint8_t *p[FSM_PARTS];
	size_t n[FSM_PARTS];
};

/* fsm_case_parts finds them in f's command bytes, in one walk of its
 * body: TB_OK or TB_ECORRUPT (the command was decoded from them). */
int fsm_case_parts(const struct fsm *f, struct fsm_case_parts *cp);

/* fsm_case_rec_bytes appends to out the stored value (schema-version byte
 * and canonical record) of new single case id for resolved matter m, as
 * fsm_create.c's new_case builds it for the command being applied (whose
 * parts cp are): TB_OK, FSM_NOT_DIRECT or TB_ENOMEM. */
int fsm_case_rec_bytes(struct fsm *f, const char *id,
                       const struct fsm_matter *m,
                       const struct fsm_case_parts *cp, struct canon_buf *out);

/* fsm_case_first_event writes the first event of new case id ("receive",
 * actor the command's receiver if it has one), as fsm_event_append would
 * for the JSON body receive built. */
int fsm_case_first_event(struct fsm *f, const char *id,
                         const struct fsm_case_parts *cp);

/* fsm_event_put stores a case.event already encoded: v[0..n) is the
 * stored value (the schema-version byte and the envelope's canonical
 * bytes) of event seq of case id, written as fsm_event_append writes its
 * own (the global feed and the case's list). */
int fsm_event_put(struct fsm *f, const char *id, uint32_t seq, const uint8_t *v,
                  size_t n);

/* fsm_event_import stores a case.event that another region wrote (body
 * borrowed, its "seq" the event's place in case id's list; at its time):
 * a handed-over case's history (fsm_handoff_frame.c). */
int fsm_event_import(struct fsm *f, const char *id, int64_t at,
                     const json_t *body);

/* fsm_state_key writes the state index key of case id in state st into out
 * (n bytes) and returns its length. */
size_t fsm_state_key(int st, const char *id, uint8_t *out, size_t n);

/* fsm_event_json builds the feed entry {"seq", "type", "at", "body"} from a
 * stored event value (sv + canonical envelope) at seq. */
int fsm_event_json(uint64_t seq, const MDB_val *v, json_t **out);

#endif
