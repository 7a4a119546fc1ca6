/* Key rotation on a live node: when certs/ is reloaded with a certificate
 * for the keys that 'tongban cert install' has just moved into
 * DIR/keys/node.json, the links take the new X25519 key and start a new
 * handshake on every link, so that peers see the new certificate at once
 * (signed by the same region key, for the same node id). A peer that
 * dials with IK and the old key fails once, forgets that key, and the next
 * handshake is XX (link.c).
 *
 * A periodic new handshake (link_rehandshake_seconds): a link up longer
 * than that is closed and made again with a full handshake, so its
 * ephemeral keys are fresh and both certificates are exchanged and checked
 * again, even on a link that never sees a traffic error. Frames queued for
 * the old pipe are dropped as for any closed connection; the layers above
 * re-send them. */
#include "node/link_impl.h"
#include "node/log.h"
#include "schema/canon.h"
#include "schema/spec.h"

#include <sodium.h>

/* How much longer an inbound link waits than the dialer. */
#define LINK_REHANDSHAKE_GRACE_MS (30 * 1000LL)
#include <stdio.h>
#include <string.h>

bool
link_keys_reload(struct links *ls, const json_t *leaf)
{
	char path[PATH_MAX + 32], old[17];
	uint8_t kx[32], sk[32], pk[32];
	json_error_t je;
	json_t *k;
	bool done = false;

	if (canon_unhex(spec_str(leaf, "kx_key"), kx, 32) != 0 ||
	    sodium_memcmp(kx, ls->kx_pk, 32) == 0) {
		return false; /* the same key (or a certificate own_check
		                 reports) */
	}
	snprintf(path, sizeof(path), "%s/keys/node.json", ls->dir);
	if ((k = json_load_file(path, 0, &je)) == NULL) {
		return false;
	}
	if (canon_unhex(spec_str(k, "kx_secret"), sk, 32) == 0) {
		crypto_scalarmult_base(pk, sk);
		if (sodium_memcmp(pk, kx, 32) == 0) {
			canon_hex(ls->kx_pk, 8, old);
			memcpy(ls->kx_sk, sk, 32);
			memcpy(ls->kx_pk, pk, 32);
			tb_log(
			    TB_LOG_INFO, "TB-LINK-KEYS-ROTATED",
			    "this node's key-exchange key rotated "
			    "(%.16s.. to %.16s..) with certificate %s: every "
			    "link starts a new handshake",
			    old, spec_str(leaf, "kx_key"),
			    spec_str(leaf, "serial"));
			done = true;
		}
	}
	sodium_memzero(sk, sizeof(sk));
	json_decref(k);
	return done;
}

void
link_keys_rehandshake(struct links *ls)
{
	struct link *l;

	for (l = ls->list; l != NULL; l = l->next) {
		if (l->pipe == 0 || l->removed) {
			continue;
		}
		link_fail(l, l->dir == LINK_OUT ? LS_CONNECTING : LS_CLOSED,
		          "TB-LINK-CLOSED",
		          "this node's keys rotated: a new handshake follows");
	}
}

void
link_keys_age(struct links *ls)
{
	int64_t now = link_now_ms();
	struct link *l;

	if (ls->rehandshake_ms <= 0) {
		return;
	}
	for (l = ls->list; l != NULL; l = l->next) {
		/* The dialer makes the new handshake; an inbound link
		 * waits a little longer, so that one close, not two, renews
		 * a link whose ends have the same setting, and still
		 * renews it when the dialer's setting is off. */
		int64_t age =
		    ls->rehandshake_ms +
		    (l->dir == LINK_IN ? LINK_REHANDSHAKE_GRACE_MS : 0);
		if (l->pipe == 0 || l->removed || l->state != LS_UP ||
		    now - l->since_ms < age) {
			continue;
		}
		l->rehandshakes++;
		ls->rehandshakes++;
		link_fail(l, l->dir == LINK_OUT ? LS_CONNECTING : LS_CLOSED,
		          "TB-LINK-REHANDSHAKE",
		          "up for %lld s (link_rehandshake_seconds %lld): a "
		          "new full handshake follows",
		          (long long)((now - l->since_ms) / 1000),
		          (long long)(ls->rehandshake_ms / 1000));
	}
}
