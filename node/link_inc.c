/* The group's incarnation at the link handshake (docs/GROUPS.md,
 * "Recovering a group that lost its quorum").
 *
 * Every handshake payload carries {"chain", "incarnation", "joining"} and,
 * after a recovery, "incarnation_cert" (the parent's certificate). A member
 * of our own region (certificate role member) is checked:
 *
 *   - at our incarnation: linked as before;
 *   - lower, not joining: an old member of a group that was recovered
 *     without it. Refused (TB-LINK-INCARNATION, counted), after our own
 *     next handshake message went out so that it learns why;
 *   - lower, joining (made with --join, empty Raft log): a new node about
 *     to be added; linked;
 *   - higher: its certificate must verify (the parent's key from our own
 *     chain, or our province root's officers). While this node waits to
 *     join, the certificate becomes its own (DIR/certs/incarnation.json,
 *     TB-LINK-INCARNATION-ADOPTED). Otherwise this node is the old member:
 *     it is fenced (DIR/incarnation-fenced.json, kept across restarts;
 *     TB-GROUP-FENCED): it sends and takes no Raft message and refuses
 *     writes, and the link is refused. A certificate that does not verify
 *     refuses the link and fences nothing.
 *
 * Peers of other regions and `peer` certificates are not refused for their
 * incarnation: it is recorded (l->peer_inc) when its certificate verifies
 * against the peer's own chain (its parent's key) or the root, and the
 * outboxes check their frames against it (docs/REPLICATION.md). */
#include "node/cli.h"
#include "node/link_impl.h"
#include "node/log.h"
#include "schema/canon.h"
#include "schema/incarnation.h"
#include "schema/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static json_t *
load_doc(const char *path)
{
	json_error_t je;

	return json_load_file(path, JSON_REJECT_DUPLICATES, &je);
}

/* verified_for checks doc as region's certificate against our root and
 * chain; why gets the reason. verified: for our own region. */
static bool
verified_for(const json_t *root, const char *region, const json_t *chain,
             const json_t *doc, char *why, size_t n)
{
	struct tb_diag *d = malloc(sizeof(*d));
	bool ok;

	if (d == NULL) {
		snprintf(why, n, "out of memory");
		return false;
	}
	tb_diag_init(d);
	ok = inc_verify(doc, region, root, chain, "$", d) == TB_OK;
	if (!ok) {
		snprintf(why, n, "%s: %s", d->n > 0 ? d->e[0].path : "$",
		         d->n > 0 ? d->e[0].msg : "invalid");
	}
	free(d);
	return ok;
}

static bool
verified(struct links *ls, const json_t *root, const json_t *chain,
         const json_t *doc, char *why, size_t n)
{
	return verified_for(root, ls->region, chain, doc, why, n);
}

void
link_inc_load(struct links *ls, const json_t *root, const json_t *chain)
{
	char path[PATH_MAX + 32], why[400];
	json_t *cur, *fen;
	uint64_t inc = 1, fby = 0;

	snprintf(path, sizeof(path), "%s/certs/incarnation.json", ls->dir);
	if ((cur = load_doc(path)) != NULL) {
		if (!verified(ls, root, chain, cur, why, sizeof(why))) {
			/* It was verified when it was installed: announce it
			 * anyway (peers check it too) and say so. */
			tb_log(TB_LOG_ERROR, "TB-LINK-INCARNATION",
			       "%s no longer verifies (%s); this node still "
			       "announces incarnation %llu",
			       path, why, (unsigned long long)inc_number(cur));
		}
		inc = inc_number(cur);
	}
	snprintf(path, sizeof(path), "%s/incarnation-fenced.json", ls->dir);
	if ((fen = load_doc(path)) != NULL) {
		if (verified(ls, root, chain, fen, why, sizeof(why)) &&
		    inc_number(fen) > inc) {
			fby = inc_number(fen);
		} else {
			json_decref(fen);
			fen = NULL;
		}
	}
	pthread_mutex_lock(&ls->view_mu);
	json_decref(ls->inc_cert);
	json_decref(ls->fenced_cert);
	ls->inc_cert = cur;
	ls->inc = inc;
	ls->fenced_cert = fen;
	ls->fenced_by = fby;
	pthread_mutex_unlock(&ls->view_mu);
	if (fby > 0) {
		tb_log(TB_LOG_ERROR, "TB-GROUP-FENCED",
		       "this node is an old member of %s's group: its group "
		       "was recovered at incarnation %llu (this node has "
		       "%llu); it takes no part in Raft and refuses writes "
		       "(docs/GROUPS.md, \"Recovering a group that lost its "
		       "quorum\")",
		       ls->region, (unsigned long long)fby,
		       (unsigned long long)inc);
	}
}

int
link_inc_payload(struct links *ls, char *errmsg, size_t errlen)
{
	struct canon_buf b = { 0 };
	char err[256] = "";
	json_t *doc;

	if (ls->own_chain == NULL) {
		snprintf(errmsg, errlen, "local/: no chain");
		return TB_EINVAL;
	}
	doc =
	    json_pack("{s:O, s:I, s:b}", "chain", ls->own_chain, "incarnation",
	              (json_int_t)ls->inc, "joining", ls->joining);
	if (doc != NULL && ls->inc_cert != NULL) {
		json_object_set(doc, "incarnation_cert", ls->inc_cert);
	}
	if (doc == NULL || canon_encode(doc, &b, err, sizeof(err)) != TB_OK ||
	    b.len > NOISE_MAX_MSG - 2 * NOISE_DHLEN - 3 * NOISE_TAGLEN) {
		snprintf(errmsg, errlen, "local/: the chain cannot be sent: %s",
		         b.len > 0 ? "too large" : err);
		json_decref(doc);
		canon_buf_free(&b);
		return TB_EINVAL;
	}
	json_decref(doc);
	free(ls->own_payload);
	ls->own_payload = b.data; /* the buffer is handed over */
	ls->own_len = b.len;
	return TB_OK;
}

/* save writes doc to DIR/name atomically. */
static bool
save(struct links *ls, const char *name, const json_t *doc)
{
	char path[PATH_MAX + 32];

	/* certs/ may not exist: the node's certificates are in DIR/local. */
	snprintf(path, sizeof(path), "%s/certs", ls->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s", ls->dir, name);
	return tb_cli_write_json(path, doc, 0644, false) == 0;
}

/* higher handles a peer of our group at a higher incarnation. */
static void
higher(struct link *l, uint64_t peer, const json_t *cert)
{
	struct links *ls = l->ls;
	char why[400], err[256];

	if (cert == NULL || inc_number(cert) != peer ||
	    !verified(ls, ls->root, ls->own_chain, cert, why, sizeof(why))) {
		if (cert == NULL || inc_number(cert) != peer) {
			snprintf(why, sizeof(why),
			         "no certificate of that incarnation");
		}
		l->inc_refused = true;
		snprintf(l->inc_why, sizeof(l->inc_why),
		         "node %s of %s announces incarnation %llu (this "
		         "node: %llu) without a certificate that verifies: %s",
		         l->node_id, l->region, (unsigned long long)peer,
		         (unsigned long long)ls->inc, why);
		return;
	}
	if (ls->joining) {
		if (!save(ls, "certs/incarnation.json", cert)) {
			l->inc_refused = true;
			snprintf(l->inc_why, sizeof(l->inc_why),
			         "cannot store incarnation %llu's certificate",
			         (unsigned long long)peer);
			return;
		}
		pthread_mutex_lock(&ls->view_mu);
		json_decref(ls->inc_cert);
		ls->inc_cert = json_deep_copy(cert);
		ls->inc = peer;
		pthread_mutex_unlock(&ls->view_mu);
		if (link_inc_payload(ls, err, sizeof(err)) != TB_OK) {
			tb_log(TB_LOG_ERROR, "TB-LINK-INCARNATION", "%s", err);
		}
		tb_log(TB_LOG_INFO, "TB-LINK-INCARNATION-ADOPTED",
		       "this node waits to join %s's group and node %s is at "
		       "incarnation %llu: this node takes it (certs/"
		       "incarnation.json)",
		       ls->region, l->node_id, (unsigned long long)peer);
		return;
	}
	if (ls->fenced_by < peer) {
		save(ls, "incarnation-fenced.json", cert);
		pthread_mutex_lock(&ls->view_mu);
		json_decref(ls->fenced_cert);
		ls->fenced_cert = json_deep_copy(cert);
		ls->fenced_by = peer;
		pthread_mutex_unlock(&ls->view_mu);
		tb_log(TB_LOG_ERROR, "TB-GROUP-FENCED",
		       "node %s of %s is at incarnation %llu, this node at "
		       "%llu: %s's group was recovered without this node, "
		       "which is an old member. It takes no part in Raft and "
		       "refuses writes from now on (also after a restart; "
		       "docs/GROUPS.md, \"Recovering a group that lost its "
		       "quorum\")",
		       l->node_id, l->region, (unsigned long long)peer,
		       (unsigned long long)ls->inc, ls->region);
	}
	l->inc_refused = true;
	snprintf(l->inc_why, sizeof(l->inc_why),
	         "node %s of %s is at incarnation %llu, this node at %llu: "
	         "this node is an old member (fenced)",
	         l->node_id, l->region, (unsigned long long)peer,
	         (unsigned long long)ls->inc);
}

/* other_region records the incarnation of a node of another region (or a
 * peer certificate): its certificate must verify with the parent's key in
 * the node's own chain, which the link verified (a province's: with our
 * root's officers). Otherwise it counts as 1, and the link stays up. */
static void
other_region(struct link *l, json_int_t v, const json_t *cert)
{
	struct links *ls = l->ls;
	char why[400];

	if (v <= 1 || (uint64_t)v >= INC_MAX) {
		return;
	}
	if (cert == NULL || inc_number(cert) != (uint64_t)v ||
	    !verified_for(ls->root, l->region, l->peer_chain, cert, why,
	                  sizeof(why))) {
		tb_log(TB_LOG_WARN, "TB-LINK-INCARNATION",
		       "node %s of %s announces incarnation %lld without a "
		       "certificate that verifies (%s): taken as 1",
		       l->node_id, l->region, (long long)v,
		       cert == NULL ? "none" : why);
		return;
	}
	l->peer_inc = (uint64_t)v < UINT32_MAX ? (uint32_t)v : UINT32_MAX;
}

void
link_inc_check(struct link *l, const json_t *doc)
{
	struct links *ls = l->ls;
	const json_t *pi = json_object_get(doc, "incarnation");
	const json_t *cert = json_object_get(doc, "incarnation_cert");
	char h1[65], h2[65];
	json_int_t v = 1;

	l->inc_refused = false;
	l->peer_inc = 1;
	if (pi != NULL) {
		v = json_is_integer(pi) ? json_integer_value(pi) : 0;
	}
	if (strcmp(l->region, ls->region) != 0 || strcmp(l->role, "member")) {
		other_region(l, v, cert);
		return;
	}
	if (v < 1 || (uint64_t)v >= INC_MAX ||
	    (cert != NULL && !json_is_object(cert))) {
		l->inc_refused = true;
		snprintf(l->inc_why, sizeof(l->inc_why),
		         "node %s: the payload's incarnation is malformed",
		         l->node_id);
		return;
	}
	l->peer_inc = (uint64_t)v < UINT32_MAX ? (uint32_t)v : UINT32_MAX;
	if ((uint64_t)v == ls->inc) {
		/* Two recoveries to the same number (two survivors each
		 * recovered) are two groups: refuse between them. */
		inc_hash(cert, h1);
		inc_hash(ls->inc_cert, h2);
		if (strcmp(h1, h2) != 0) {
			l->inc_refused = true;
			snprintf(
			    l->inc_why, sizeof(l->inc_why),
			    "node %s of %s holds another certificate of "
			    "incarnation %llu (%.16s.., this node %.16s..): "
			    "two recoveries of one group",
			    l->node_id, l->region, (unsigned long long)v,
			    h1[0] ? h1 : "none", h2[0] ? h2 : "none");
		}
		return;
	}
	if ((uint64_t)v > ls->inc) {
		higher(l, (uint64_t)v, cert);
		return;
	}
	if (json_is_true(json_object_get(doc, "joining"))) {
		return; /* a new node waiting to be added */
	}
	l->inc_refused = true;
	snprintf(l->inc_why, sizeof(l->inc_why),
	         "node %s of %s is at incarnation %llu, this group at %llu: "
	         "it is an old member of a group recovered without it (wipe "
	         "it and add it again with tongban init --join)",
	         l->node_id, l->region, (unsigned long long)v,
	         (unsigned long long)ls->inc);
}

void
link_inc_refuse(struct link *l)
{
	char why[sizeof(l->inc_why)];

	l->inc_refused = false;
	memcpy(why, l->inc_why, sizeof(why));
	l->ls->hs_incarnation++;
	link_fail(l, LS_REFUSED, "TB-LINK-INCARNATION",
	          "handshake refused (%s): %s",
	          l->pattern == NOISE_IK ? "IK" : "XX", why);
}

void
link_incarnation(struct links *ls, struct link_incarnation *out)
{
	memset(out, 0, sizeof(*out));
	out->current = 1;
	if (ls == NULL) {
		return;
	}
	pthread_mutex_lock(&ls->view_mu);
	out->current = ls->inc;
	out->cert = json_incref(ls->inc_cert);
	out->fenced_by = ls->fenced_by;
	out->fenced_cert = json_incref(ls->fenced_cert);
	out->joining = ls->joining;
	pthread_mutex_unlock(&ls->view_mu);
	out->refused = ls->hs_incarnation;
}

void
link_incarnation_free(struct link_incarnation *inc)
{
	json_decref(inc->cert);
	json_decref(inc->fenced_cert);
	inc->cert = inc->fenced_cert = NULL;
}

bool
link_fenced(struct links *ls)
{
	bool f;

	if (ls == NULL) {
		return false;
	}
	pthread_mutex_lock(&ls->view_mu);
	f = ls->fenced_by > 0;
	pthread_mutex_unlock(&ls->view_mu);
	return f;
}

void
link_set_joining(struct links *ls, bool joining)
{
	char err[256];

	if (ls == NULL || ls->joining == joining) {
		return;
	}
	pthread_mutex_lock(&ls->view_mu);
	ls->joining = joining;
	pthread_mutex_unlock(&ls->view_mu);
	if (ls->own_chain != NULL &&
	    link_inc_payload(ls, err, sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_ERROR, "TB-LINK-INCARNATION", "%s", err);
	}
}
