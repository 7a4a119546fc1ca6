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

/* path_put appends len bytes of s at *pos of out (size n), keeping room
 * for the NUL: the truncation snprintf would make, without its cost (the
 * validators build a path for every field they check). */
static void
path_put(char *out, size_t n, size_t *pos, const char *s, size_t len)
{
	size_t room = *pos + 1 < n ? n - 1 - *pos : 0;

	if (len > room) {
		len = room;
	}
	memmove(out + *pos, s, len);
	*pos += len;
}

void
tb_path_key(char *out, size_t n, const char *parent, const char *key)
{
	const char *p = parent != NULL ? parent : "$";
	const char *k = key != NULL ? key : "(null)"; /* as glibc prints it */
	size_t pos = 0;

	if (n == 0) {
		return;
	}
	path_put(out, n, &pos, p, strlen(p));
	path_put(out, n, &pos, ".", 1);
	path_put(out, n, &pos, k, strlen(k));
	out[pos] = '\0';
}

void
tb_path_idx(char *out, size_t n, const char *parent, size_t idx)
{
	const char *p = parent != NULL ? parent : "$";
	char num[24], *d = num + sizeof(num);
	size_t pos = 0;

	if (n == 0) {
		return;
	}
	*--d = ']';
	do {
		*--d = (char)('0' + idx % 10);
		idx /= 10;
	} while (idx != 0);
	*--d = '[';
	path_put(out, n, &pos, p, strlen(p));
	path_put(out, n, &pos, d, (size_t)(num + sizeof(num) - d));
	out[pos] = '\0';
}

int
tb_errf(char *errmsg, size_t errlen, int rv, const char *fmt, ...)
{
	va_list ap;

	if (errmsg != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errmsg, errlen, fmt, ap);
		va_end(ap);
	}
	return rv;
}
