/* A tiny TAP producer for tongban's test programs (run by `prove`). */
#ifndef TB_TESTS_TAP_H
#define TB_TESTS_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n;
static int tap_failed;

static inline void tap_ok_(int cond, const char *file, int line,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>

static inline void
tap_ok_(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
}

/* ok(cond, fmt, ...): one test point. */
#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* is_int(got, want, name): integers, printing both operands on failure. */
#define is_int(got, want, ...)                                                 \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		ok(g_ == w_, __VA_ARGS__);                                     \
		if (g_ != w_)                                                  \
			printf("#   got: %lld\n#   expected: %lld\n", g_, w_); \
	} while (0)

/* is_str(got, want, name): strings (NULL-safe), printing both. */
#define is_str(got, want, ...)                                             \
	do {                                                               \
		const char *g_ = (got), *w_ = (want);                      \
		int same_ = (g_ == NULL && w_ == NULL) ||                  \
		            (g_ != NULL && w_ != NULL && !strcmp(g_, w_)); \
		ok(same_, __VA_ARGS__);                                    \
		if (!same_)                                                \
			printf("#   got: '%s'\n#   expected: '%s'\n",      \
			       g_ ? g_ : "(null)", w_ ? w_ : "(null)");    \
	} while (0)

/* like(got, substring, name): got contains substring. */
#define like(got, sub, ...)                                               \
	do {                                                              \
		const char *g_ = (got), *s_ = (sub);                      \
		int has_ = g_ != NULL && strstr(g_, s_) != NULL;          \
		ok(has_, __VA_ARGS__);                                    \
		if (!has_)                                                \
			printf("#   got: '%s'\n#   expected to contain: " \
			       "'%s'\n",                                  \
			       g_ ? g_ : "(null)", s_);                   \
	} while (0)

/* done_testing(): prints the plan and returns the exit status. */
static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed) {
		printf("# failed %d of %d\n", tap_failed, tap_n);
	}
	return tap_failed ? 1 : 0;
}

/* TB_SOURCE_DIR is set by CMake so tests can read repository files. */
#ifndef TB_SOURCE_DIR
#define TB_SOURCE_DIR "."
#endif

/* tap_slurp reads a whole file into a NUL-terminated malloc'd buffer. */
static inline char *
tap_slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0, r;

	if (f == NULL) {
		return NULL;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb;
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0) {
			break;
		}
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL) {
		*lenp = len;
	}
	return buf;
}

#endif
