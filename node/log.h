/* JSON-lines logging with stable message ids, on stderr. */
#ifndef TB_NODE_LOG_H
#define TB_NODE_LOG_H

enum tb_log_level { TB_LOG_DEBUG, TB_LOG_INFO, TB_LOG_WARN, TB_LOG_ERROR };

/* tb_log writes one JSON object per line to stderr:
 * {"ts":"2026-11-29T19:10:00.123Z","level":"warn","id":"TB-STORE-FULL",
 *  "msg":"..."}. Operators alert on `id`, never on the text. Safe to call
 * from any thread (one write(2) per line). */
void tb_log(enum tb_log_level level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tb_log_fields is tb_log with the members of fields (borrowed, may be
 * NULL) added to the line beside ts, level, id and msg (which they do not
 * replace), for alerts that name values: {"id": "TB-CATALOG-WITHHELD",
 * "version": 2, ...}. */
struct json_t;
void tb_log_fields(enum tb_log_level level, const char *id,
                   const struct json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* tb_log_set_level drops lines below level (default info). */
void tb_log_set_level(enum tb_log_level level);

#endif
