/* json_mutate: a JSON text with a few bytes replaced, inserted or removed,
 * or cut short, drawn from tests/sim_rng.h (seed it first). Shared by the
 * tests that run a fast JSON path against jansson on mutated inputs. */
#ifndef TB_TESTS_JSON_MUTATE_H
#define TB_TESTS_JSON_MUTATE_H

#include "tests/sim_rng.h"

#include <stddef.h>
#include <string.h>

/* json_mutate writes body[0..len) with one to three mutations to m, which
 * has room for len + 3 bytes, and returns the length written. */
static inline size_t
json_mutate(char *m, const char *body, size_t len)
{
	static const char picks[] = "{}[]\",:\\ 0-.eu\x80\xff";
	size_t ml = len, k = sim_between(1, 3), j;

	memcpy(m, body, len);
	for (j = 0; j < k && ml > 1; j++) {
		size_t at = (size_t)sim_between(0, ml - 1);
		unsigned char b = (unsigned char)sim_between(0, 255);
		if (sim_between(0, 1)) {
			b = (unsigned char)
			    picks[sim_between(0, sizeof(picks) - 2)];
		}
		switch (sim_between(0, 3)) {
		case 0:
			m[at] = (char)b;
			break;
		case 1:
			memmove(m + at + 1, m + at, ml - at);
			m[at] = (char)b;
			ml++;
			break;
		case 2:
			memmove(m + at, m + at + 1, ml - at - 1);
			ml--;
			break;
		default:
			ml = at + 1;
			break;
		}
	}
	return ml;
}

#endif
