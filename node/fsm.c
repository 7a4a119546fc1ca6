/* Shared pieces of the state machine's handlers: refusals and days. */
#include "node/fsm.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int
fsm_refuse(struct fsm *f, int code, const char *path, const char *fmt, ...)
{
	char msg[TB_DIAG_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tb_diag_add(&f->d, code, path, "%s", msg);
	return FSM_REFUSED;
}

int
fsm_refused(struct fsm *f, const struct tb_diag *d, const char *prefix)
{
	char path[TB_DIAG_PATH];

	if (d->n == 0) {
		return fsm_refuse(f, TB_EINVAL, NULL, "refused");
	}
	if (prefix != NULL && d->e[0].path[0] == '$') {
		snprintf(path, sizeof(path), "%s%s", prefix, d->e[0].path + 1);
	} else {
		snprintf(path, sizeof(path), "%s", d->e[0].path);
	}
	return fsm_refuse(f, d->e[0].code, path, "%s", d->e[0].msg);
}

int
fsm_body(struct fsm *f, const json_t **b)
{
	int rv;

	*b = f->cmd->body;
	if (!f->cmd->shallow) {
		return TB_OK;
	}
	if (f->body == NULL && (rv = cmd_body_decode(f->cmd, &f->body)) != 0) {
		return rv;
	}
	*b = f->body;
	return TB_OK;
}

int32_t
fsm_day(int64_t ms)
{
	/* China Standard Time is UTC+8 all year (no daylight saving). */
	int64_t t = ms + 8 * 3600 * 1000LL;
	int64_t day = t / 86400000LL;

	if (t % 86400000LL < 0) {
		day--;
	}
	return (int32_t)day;
}

void
fsm_datestr(int32_t day, char out[11])
{
	cal_date_format(day, out);
}

int
fsm_with_diag(struct fsm *f, int (*fn)(struct fsm *, struct tb_diag *))
{
	struct tb_diag *d = malloc(sizeof(*d));
	int rv;

	if (d == NULL) {
		return TB_ENOMEM;
	}
	rv = fn(f, d);
	free(d);
	return rv;
}
