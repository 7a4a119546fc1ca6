/* JSON-lines logging with stable message ids. */
#include "node/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum tb_log_level log_min = TB_LOG_INFO;

void
tb_log_set_level(enum tb_log_level level)
{
	log_min = level;
}

static void
log_line(enum tb_log_level level, const char *id, const json_t *fields,
         const char *msg)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	char ts[40], *line;
	struct timespec now;
	struct tm tm;
	const char *k;
	json_t *o, *v;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03ldZ",
	         now.tv_nsec / 1000000);
	o = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", names[level],
	              "id", id, "msg", msg);
	json_object_foreach((json_t *)fields, k, v)
	{
		if (o != NULL && json_object_get(o, k) == NULL) {
			json_object_set(o, k, v);
		}
	}
	if (o == NULL || (line = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return;
	}
	json_decref(o);
	{
		size_t n = strlen(line);
		line[n] = '\n';
		/* One write per line so concurrent threads do not interleave
		 * within a line. */
		if (write(STDERR_FILENO, line, n + 1) < 0) {
			/* Nothing useful to do if stderr is gone. */
		}
		line[n] = '\0';
	}
	free(line);
}

void
tb_log(enum tb_log_level level, const char *id, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level < log_min) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(level, id, NULL, msg);
}

void
tb_log_fields(enum tb_log_level level, const char *id,
              const struct json_t *fields, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level < log_min) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(level, id, fields, msg);
}
