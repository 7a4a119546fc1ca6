/* Error codes shared by every module, and a collector of diagnostics. */
#ifndef TB_SCHEMA_ERROR_H
#define TB_SCHEMA_ERROR_H

#include <stddef.h>

/* One error enum for the whole project; 0 is success. Modules map LMDB,
 * nng, libuv and libsodium failures onto these at their edge. The second
 * column is the stable machine name used in JSON output and logs. */
#define TB_ERRORS(X)                                                      \
	X(TB_OK, "ok", "success")                                         \
	X(TB_ENOMEM, "nomem", "out of memory")                            \
	X(TB_EINVAL, "invalid", "invalid argument")                       \
	X(TB_EMALFORMED, "malformed", "malformed input")                  \
	X(TB_ETRUNC, "truncated", "input truncated")                      \
	X(TB_ETOOBIG, "too_big", "input too large")                       \
	X(TB_EDEPTH, "too_deep", "input nested too deeply")               \
	X(TB_ECANON, "non_canonical", "encoding is not canonical")        \
	X(TB_ETYPE, "wrong_type", "value has the wrong type")             \
	X(TB_EUNKNOWN, "unknown_field", "unknown field")                  \
	X(TB_EDUP, "duplicate", "duplicate key")                          \
	X(TB_EMISSING, "missing", "required field missing")               \
	X(TB_ECODE, "bad_code", "invalid code")                           \
	X(TB_ERANGE, "out_of_range", "value out of range")                \
	X(TB_ENOTFOUND, "not_found", "not found")                         \
	X(TB_EOWNER, "not_owner", "field owned by another tier")          \
	X(TB_ETRANSITION, "illegal_transition", "illegal transition")     \
	X(TB_ESIG, "bad_signature", "bad or missing signature")           \
	X(TB_ECHAIN, "bad_chain", "release chain gap, fork or rollback")  \
	X(TB_ECYCLE, "cycle", "dependency cycle")                         \
	X(TB_ECALENDAR, "beyond_calendar", "date beyond the calendar")    \
	X(TB_EIO, "io", "input/output error")                             \
	X(TB_EFULL, "store_full", "the store's map is full")              \
	X(TB_ESTALE, "stale_version", "stale version (If-Match)")         \
	X(TB_ECONFLICT, "conflict", "conflicts with the current state")   \
	X(TB_EUNAUTH, "unauthorized", "missing or bad token")             \
	X(TB_EFORBIDDEN, "forbidden", "role or region not allowed")       \
	X(TB_ECLOSED, "closed", "closed or shutting down")                \
	X(TB_ECORRUPT, "corrupt", "stored data is corrupt")               \
	X(TB_EREVOKED, "revoked", "certificate or token revoked")         \
	X(TB_ENOTIMPL, "not_implemented", "not implemented")              \
	X(TB_ETIMEOUT, "timeout", "timed out")                            \
	X(TB_EFEATURE, "feature_level", "needs a higher feature level")   \
	X(TB_EFROZEN, "case_frozen", "the case is frozen by a handoff")   \
	X(TB_EMOVED, "case_moved", "the case is owned by another region") \
	X(TB_EEPOCH, "stale_epoch", "stale case epoch")

enum tb_err {
#define TB_ERR_ENUM(id, name, text) id,
	TB_ERRORS(TB_ERR_ENUM)
#undef TB_ERR_ENUM
	    TB_ERR_COUNT
};

/* tb_strerror returns a static human text for rv ("unknown error" for an
 * out-of-range code). */
/* tb_errf writes the reason (printf) to errmsg (errlen bytes; errmsg may be
 * NULL) and returns rv: the refusal of a function that reports into a
 * caller's buffer. */
int tb_errf(char *errmsg, size_t errlen, int rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

const char *tb_strerror(int rv);

/* tb_errname returns the stable machine name of rv ("ok", "bad_code"...). */
const char *tb_errname(int rv);

/* A diagnostics collector: validators add one entry per problem, each with
 * the JSON path it concerns ("$.matters[3].catalog_code") and a reason.
 * Entries beyond TB_DIAG_MAX are counted in `dropped` only. */
#define TB_DIAG_MAX  64
#define TB_DIAG_PATH 160
#define TB_DIAG_MSG  256

struct tb_diag_entry {
	int code;
	char path[TB_DIAG_PATH];
	char msg[TB_DIAG_MSG];
};

struct tb_diag {
	int n;
	int dropped;
	struct tb_diag_entry e[TB_DIAG_MAX];
};

/* tb_diag_init empties d. */
void tb_diag_init(struct tb_diag *d);

/* tb_diag_add records a problem at path (may be NULL for "$") and returns
 * code, so validators can `return tb_diag_add(...)`. */
int tb_diag_add(struct tb_diag *d, int code, const char *path, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

/* tb_diag_first returns the code of the first entry, or TB_OK if empty. */
int tb_diag_first(const struct tb_diag *d);

/* tb_path_key / tb_path_idx build a child JSON path into out (size n):
 * "$.a" + "b" -> "$.a.b"; "$.a" + 3 -> "$.a[3]". Truncates safely. */
void tb_path_key(char *out, size_t n, const char *parent, const char *key);
void tb_path_idx(char *out, size_t n, const char *parent, size_t idx);

#endif
