/* Error names and texts, and the diagnostics collector. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const err_names[] = {
#define TB_ERR_NAME(id, name, text) name,
	TB_ERRORS(TB_ERR_NAME)
#undef TB_ERR_NAME
};

static const char *const err_texts[] = {
#define TB_ERR_TEXT(id, name, text) text,
	TB_ERRORS(TB_ERR_TEXT)
#undef TB_ERR_TEXT
};

const char *
tb_strerror(int rv)
{
	if (rv < 0 || rv >= TB_ERR_COUNT) {
		return "unknown error";
	}
	return err_texts[rv];
}

const char *
tb_errname(int rv)
{
	if (rv < 0 || rv >= TB_ERR_COUNT) {
		return "unknown";
	}
	return err_names[rv];
}

void
tb_diag_init(struct tb_diag *d)
{
	d->n = 0;
	d->dropped = 0;
}

int
tb_diag_add(struct tb_diag *d, int code, const char *path, const char *fmt, ...)
{
	struct tb_diag_entry *e;
	va_list ap;

	if (d == NULL) {
		return code;
	}
	if (d->n >= TB_DIAG_MAX) {
		d->dropped++;
		return code;
	}
	e = &d->e[d->n++];
	e->code = code;
	snprintf(e->path, sizeof(e->path), "%s", path != NULL ? path : "$");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
tb_diag_first(const struct tb_diag *d)
{
	return d->n > 0 ? d->e[0].code : TB_OK;
}

void
tb_path_key(char *out, size_t n, const char *parent, const char *key)
{
	snprintf(out, n, "%s.%s", parent != NULL ? parent : "$", key);
}

void
tb_path_idx(char *out, size_t n, const char *parent, size_t idx)
{
	snprintf(out, n, "%s[%zu]", parent != NULL ? parent : "$", idx);
}
