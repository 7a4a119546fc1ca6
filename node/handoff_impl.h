/* Internals shared by node/handoff.c (the driver and sending) and
 * node/handoff_recv.c (frames received). */
#ifndef TB_NODE_HANDOFF_IMPL_H
#define TB_NODE_HANDOFF_IMPL_H

#include "node/handoff.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

struct handoff_node {
	struct node *n;
	/* The driver: "id/e/a" -> [due (loop ms), backoff, done, gen]. */
	json_t *open;
	unsigned long long gen;
	uint64_t last_run, term;
	uint64_t tseen; /* the last 'T' entry the driver read this term */
	/* Frames proposed and not yet applied: "id/e/a/frame" -> true. */
	json_t *inflight;
	/* Frames, for /metrics (read by other threads). */
	_Atomic unsigned long long sent, received, relayed, dropped;
	/* TB-HANDOFF-DROPPED was logged for a level below 3 (once a run:
	 * the sender resends every few seconds). Loop thread. */
	bool warned_level;
	/* TB-HANDOFF-UNROUTABLE, at most once a minute per region the
	 * frames could not be sent towards (a ring). Loop thread. */
	struct {
		int32_t to;
		uint64_t at;
	} unroutable[8];
	unsigned unroutable_next;
	/* TB-HANDOFF-BEHIND was last logged then (loop ms; once a minute). */
	uint64_t behind_logged;
};

/* handoff_of is n's handoff state (NULL before handoff_init). */
struct handoff_node *handoff_of(struct node *n);

/* handoff_send_to sends frames (stolen) one hop towards region to (hops
 * already travelled); dropped and counted if no link leads there. */
void handoff_send_to(struct handoff_node *h, const char *to, long long hops,
                     json_t *frames);

/* handoff_batch_add adds frame fr (stolen) to batch (region -> frames);
 * handoff_batch_send sends and releases the batch. */
void handoff_batch_add(json_t *batch, json_t *fr);
void handoff_batch_send(struct handoff_node *h, json_t *batch);

/* handoff_drv_key names a handoff in the driver's table ("ID/E/A"). */
void handoff_drv_key(char *out, size_t n, const char *id, uint32_t e,
                     uint32_t a);

/* handoff_on_frames is the link handler of REGION_T_HANDOFF
 * (handoff_recv.c); arg is the handoff_node. */
struct links;
struct link_msg;
void handoff_on_frames(struct links *ls, const struct link_msg *m, void *arg);

#endif
