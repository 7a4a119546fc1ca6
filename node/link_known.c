/* The responder keys learned for IK, kept node-local across restarts.
 *
 * An outbound handshake that completes teaches the links the peer's static
 * X25519 key (link_key_put); the next dial to that node id opens with IK
 * instead of XX (a link that pins no node id finds the key by the URL it
 * dials). The keys are also written to DIR/peer_keys.json (a
 * temporary file renamed over it, only when a key is new or changed) and
 * read back at start, so the first handshake after a restart is IK too.
 * The file is node-local: never in the replicated state or a snapshot
 * (ARCHITECTURE.md, "What lives where"); it holds public keys only. It is
 * not fsynced: after a power loss an older or missing file only costs an
 * XX handshake. A peer whose key changed (rotation) refuses the IK attempt;
 * the dialer then forgets the key (link.c) and the next handshake is XX. */
#include "node/link_impl.h"
#include "node/log.h"
#include "schema/canon.h"
#include "schema/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PEER_KEYS_FORMAT "tongban.peer_keys/1"

/* save writes the learned keys to DIR/peer_keys.json. */
static void
save(struct links *ls)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 64], hex[65];
	json_t *doc, *arr = json_array();
	char *text = NULL;
	unsigned i;
	size_t len;
	int fd, ok = 0;

	for (i = 0; arr != NULL && i < ls->nkeys; i++) {
		canon_hex(ls->keys[i].kx, 32, hex);
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:s}", "node_id", ls->keys[i].node_id,
		              "url", ls->keys[i].url, "kx_key", hex));
	}
	doc = json_pack("{s:s, s:o*}", "format", PEER_KEYS_FORMAT, "keys", arr);
	if (doc != NULL) {
		text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	}
	json_decref(doc);
	if (text == NULL) {
		return;
	}
	snprintf(path, sizeof(path), "%s/peer_keys.json", ls->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	len = strlen(text);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0) {
		ok = write(fd, text, len) == (ssize_t)len;
		ok = close(fd) == 0 && ok;
		ok = ok && rename(tmp, path) == 0;
	}
	if (!ok) {
		tb_log(TB_LOG_WARN, "TB-LINK-PEER-KEYS",
		       "cannot write %s (%s): after a restart the first "
		       "handshakes are XX",
		       path, strerror(errno));
		unlink(tmp);
	}
	free(text);
}

void
link_known_load(struct links *ls)
{
	char path[PATH_MAX + 32];
	json_error_t je;
	json_t *doc, *k;
	uint8_t kx[32];
	size_t i;

	snprintf(path, sizeof(path), "%s/peer_keys.json", ls->dir);
	if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		return; /* none yet: every first handshake is XX */
	}
	if (spec_str(doc, "format") == NULL ||
	    strcmp(spec_str(doc, "format"), PEER_KEYS_FORMAT) != 0) {
		tb_log(TB_LOG_WARN, "TB-LINK-PEER-KEYS",
		       "%s is not a %s document, ignored", path,
		       PEER_KEYS_FORMAT);
		json_decref(doc);
		return;
	}
	json_array_foreach(json_object_get(doc, "keys"), i, k)
	{
		const char *id = spec_str(k, "node_id");
		if (ls->nkeys >= LINK_KEYS) {
			break;
		}
		if (id == NULL || strlen(id) != CERT_NODE_ID_HEX ||
		    canon_unhex(spec_str(k, "kx_key"), kx, 32) != 0) {
			continue; /* a damaged entry costs one XX */
		}
		snprintf(ls->keys[ls->nkeys].node_id,
		         sizeof(ls->keys[0].node_id), "%s", id);
		snprintf(ls->keys[ls->nkeys].url, sizeof(ls->keys[0].url), "%s",
		         spec_str(k, "url") ? spec_str(k, "url") : "");
		memcpy(ls->keys[ls->nkeys].kx, kx, 32);
		ls->nkeys++;
	}
	json_decref(doc);
}

/* find returns the index of the key of node_id, else of url; -1. */
static int
find(const struct links *ls, const char *node_id, const char *url)
{
	unsigned i;

	for (i = 0; node_id != NULL && node_id[0] && i < ls->nkeys; i++) {
		if (!strcmp(ls->keys[i].node_id, node_id)) {
			return (int)i;
		}
	}
	for (i = 0; url != NULL && url[0] && i < ls->nkeys; i++) {
		if (!strcmp(ls->keys[i].url, url)) {
			return (int)i;
		}
	}
	return -1;
}

bool
link_key_get(struct links *ls, const char *node_id, const char *url,
             uint8_t kx[32])
{
	int i = find(ls, node_id, url);

	if (i >= 0) {
		memcpy(kx, ls->keys[i].kx, 32);
	}
	return i >= 0;
}

/* drop removes the keys of node_id and of url; true if there was one. */
static bool
drop(struct links *ls, const char *node_id, const char *url)
{
	bool found = false;
	int i;

	while ((i = find(ls, node_id, url)) >= 0) {
		ls->keys[i] = ls->keys[--ls->nkeys];
		found = true;
	}
	return found;
}

void
link_key_forget(struct links *ls, const char *node_id, const char *url)
{
	if (drop(ls, node_id, url)) {
		save(ls);
	}
}

void
link_key_put(struct links *ls, const char *node_id, const char *url,
             const uint8_t kx[32])
{
	unsigned i;
	int k = find(ls, node_id, NULL);

	if (k >= 0 && !memcmp(ls->keys[k].kx, kx, 32) &&
	    !strcmp(ls->keys[k].url, url != NULL ? url : "")) {
		return; /* known already: nothing to write */
	}
	drop(ls, node_id, url);
	i = ls->nkeys < LINK_KEYS ? ls->nkeys++ : 0; /* full: replace one */
	snprintf(ls->keys[i].node_id, sizeof(ls->keys[i].node_id), "%s",
	         node_id);
	snprintf(ls->keys[i].url, sizeof(ls->keys[i].url), "%s",
	         url != NULL ? url : "");
	memcpy(ls->keys[i].kx, kx, 32);
	save(ls);
}
