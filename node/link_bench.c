/* The link benchmark's switches (node/link_bench.h). */
#include "node/link_bench.h"
#include "node/link_impl.h"

#include <string.h>

void
links_bench_set(struct links *ls, const struct link_bench_opts *o)
{
	ls->bench.plaintext = o->plaintext;
	ls->bench.cold_cache = o->cold_cache;
	ls->bench.xx_only = o->xx_only;
	ls->bench.redial_ms = o->redial_ms;
}

int
links_bench_rehandshake(struct links *ls, const char *peer)
{
	struct link *l;

	for (l = ls->list; l != NULL; l = l->next) {
		if (l->dir == LINK_OUT && l->state == LS_UP &&
		    (!strcmp(l->node_id, peer) || !strcmp(l->region, peer))) {
			/* The link waits a random time below its
			 * reconnect time before it redials: 0-9 ms by
			 * default, as with nng's pair1 dialer before
			 * (1 ms made nng 1.5 wedge a socket now and
			 * then), so that the figures compare. */
			link_nng_backoff(l, ls->bench.redial_ms > 0
			                        ? ls->bench.redial_ms
			                        : 10);
			link_fail(l, LS_CONNECTING, "TB-LINK-CLOSED",
			          "closed by the benchmark for a new "
			          "handshake");
			return TB_OK;
		}
	}
	return TB_ENOTFOUND;
}

int64_t
links_bench_hs_started(struct links *ls, const char *peer)
{
	struct link *l;

	for (l = ls->list; l != NULL; l = l->next) {
		if (l->dir == LINK_OUT &&
		    (!strcmp(l->node_id, peer) || !strcmp(l->region, peer))) {
			return l->hs_start_us;
		}
	}
	return 0;
}
