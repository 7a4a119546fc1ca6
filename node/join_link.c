/* Enrolment with a join token, the issuer's side: a joining node's
 * request over its first link (docs/TRUST.md, "Enrolment with a join
 * token"; node/join.c makes the tokens). The checks give a precise refusal
 * and change nothing; then join.use is committed through Raft, and only
 * then are the certificates signed and sent. */
#include "node/join.h"

#include "node/certstore.h"
#include "node/group.h"
#include "node/link.h"
#include "node/log.h"
#include "node/node.h"
#include "node/store.h"
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_issue.h"
#include "schema/join.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <dirent.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_CERT_DAYS 365
#define JOIN_SKEW_MS   (5 * 60 * 1000LL)
#define JOIN_LOG_BURST 20 /* TB-JOIN-REFUSED lines a second */

/* ---- a joining node's request over its first link ---------------------- */

struct jreq {
	struct node *n;
	struct link_reply_to to;
	json_t *req;
	char id[17];
	enum join_role role;
	char region[7];
	char node_id[17];
};

/* answer sends v (stolen) to the joiner. */
static void
answer(struct node *n, const struct link_reply_to *to, json_t *v)
{
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

	if (text != NULL) {
		link_join_answer(n->links, to, text, strlen(text));
		sodium_memzero(text, strlen(text));
		free(text);
	}
	json_decref(v);
}

/* refuse answers {"error": {code, message, field}} and logs it. */
static void refuse(struct node *n, const struct link_reply_to *to,
                   const char *id, int code, const char *field, const char *fmt,
                   ...) __attribute__((format(printf, 6, 7)));

static void
refuse(struct node *n, const struct link_reply_to *to, const char *id, int code,
       const char *field, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	static int64_t window;
	static unsigned lines, quiet;
	int64_t now = node_now_ms();

	n->m.joins_refused++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Anyone can dial: at most JOIN_LOG_BURST lines a second (loop
	 * thread only), then one line says how many were left out. */
	if (now - window >= 1000) {
		window = now;
		lines = 0;
	}
	if (lines++ < JOIN_LOG_BURST) {
		char more[48] = "";
		if (quiet > 0) {
			snprintf(more, sizeof(more),
			         " (%u lines left out before)", quiet);
		}
		tb_log(TB_LOG_WARN, "TB-JOIN-REFUSED",
		       "join token %s: %s (%s)%s",
		       id != NULL && strlen(id) == 16 ? id : "?", msg,
		       tb_errname(code), more);
		quiet = 0;
	} else {
		quiet++;
	}
	answer(n, to,
	       json_pack("{s:{s:s, s:s, s:s?}}", "error", "code",
	                 tb_errname(code), "message", msg, "field", field));
}

/* crls_of reads DIR/certs/crl-*.json into an array. */
static json_t *
crls_of(const char *dir)
{
	char path[PATH_MAX + 300];
	json_t *arr = json_array(), *v;
	struct dirent *e;
	DIR *dp;

	snprintf(path, sizeof(path), "%s/certs", dir);
	if (arr == NULL || (dp = opendir(path)) == NULL) {
		return arr;
	}
	while ((e = readdir(dp)) != NULL) {
		if (strncmp(e->d_name, "crl-", 4) != 0) {
			continue;
		}
		snprintf(path, sizeof(path), "certs/%s", e->d_name);
		if ((v = join_load_in(dir, path)) != NULL) {
			json_array_append_new(arr, v);
		}
	}
	closedir(dp);
	return arr;
}

/* signs_here: the issuer signs a member's or peer's node request, and a
 * child's region request (the child's node request is signed by the new
 * region key, on the new node). */
static bool
signs_here(enum join_role role, const json_t *req)
{
	const char *kind = spec_str(req, "kind");

	return kind != NULL &&
	       !strcmp(kind, role == JOIN_CHILD ? "region" : "node");
}

static const char *
role_of(enum join_role role, const json_t *req)
{
	if (strcmp(spec_str(req, "kind"), "node") != 0) {
		return NULL;
	}
	return role == JOIN_PEER ? "peer" : "member";
}

/* issue signs the certificate for one checked request with the region
 * key (sk NULL: only builds it, to find a refusal before the token is
 * spent). */
static json_t *
issue(const json_t *req, const json_t *issuer, const char *role,
      const uint8_t sk[64], char *err, size_t n)
{
	struct cert_issue_args a;
	char serial[CERT_SERIAL_HEX + 1];
	uint8_t b[CERT_SERIAL_HEX / 2];
	int64_t now = node_now_ms();
	json_t *c = NULL;

	randombytes_buf(b, sizeof(b));
	canon_hex(b, sizeof(b), serial);
	a.serial = serial;
	a.role = role;
	a.not_before_ms = now - JOIN_SKEW_MS;
	a.not_after_ms = now + JOIN_CERT_DAYS * 86400000LL;
	if (cert_issue(req, issuer, &a, &c, err, n) != TB_OK ||
	    (sk != NULL && trust_sign(c, sk, err, n) != TB_OK)) {
		json_decref(c);
		return NULL;
	}
	return c;
}

/* code_of maps an error's machine name back to its code. */
static int
code_of(const char *name)
{
	int i;

	for (i = 1; name != NULL && i < TB_ERR_COUNT; i++) {
		if (!strcmp(tb_errname(i), name)) {
			return i;
		}
	}
	return TB_ECONFLICT;
}

/* used: join.use was committed (or refused): issue and answer. */
static void
used(void *arg, int rv, json_t *res)
{
	struct jreq *j = arg;
	struct node *n = j->n;
	const json_t *e = json_object_get(res, "error"), *r;
	json_t *issuer = NULL, *certs = NULL, *ans, *c, *root = NULL;
	char err[300], idx[65];
	uint8_t sk[64];
	size_t i;

	if (rv != TB_OK || res == NULL) {
		/* Not proposed (feature level, no leader), or no answer: a
		 * timed-out forward may still have been committed. */
		refuse(n, &j->to, j->id,
		       rv == TB_EFEATURE || rv == TB_ETIMEOUT ? rv
		                                              : TB_ECONFLICT,
		       NULL,
		       "the token's use was not confirmed: %s (retry; if it "
		       "was committed after all, the token is spent and the "
		       "admin makes a new one)",
		       tb_strerror(rv != TB_OK ? rv : TB_ECONFLICT));
		goto out;
	}
	if (e != NULL) {
		refuse(n, &j->to, j->id, code_of(spec_str(e, "code")),
		       spec_str(e, "field"), "%s", spec_str(e, "message"));
		goto out;
	}
	/* The token is used now: whatever happens next, it is spent. */
	if (join_issuer_load(n->cfg.dir, sk, &issuer, err, sizeof(err)) !=
	    TB_OK) {
		refuse(n, &j->to, j->id, TB_ENOTFOUND, NULL,
		       "the token is spent but this node lost its region key: "
		       "%s",
		       err);
		goto out;
	}
	certs = json_array();
	c = NULL;
	json_array_foreach(json_object_get(j->req, "requests"), i, r)
	{
		if (!signs_here(j->role, r)) {
			continue;
		}
		c = issue(r, issuer, role_of(j->role, r), sk, err, sizeof(err));
		if (c == NULL) {
			break;
		}
		json_array_append_new(certs, c);
	}
	sodium_memzero(sk, sizeof(sk));
	if (c == NULL) {
		refuse(n, &j->to, j->id, TB_EFORBIDDEN, "$.requests",
		       "the token is spent, but the certificate cannot be "
		       "issued: %s",
		       err);
		goto out;
	}
	/* The group's stored root (root.put) is the anchor its members
	 * use; root.json only while it stores none. */
	if (n->store == NULL || store_root(n->store, &root) != TB_OK) {
		root = join_load_in(n->cfg.dir, "root.json");
	}
	ans = json_pack("{s:s, s:O, s:o, s:o, s:o, s:{s:s, s:s}}", "format",
	                "tongban.joinres/1", "certs", certs, "chain",
	                certstore_load(n->cfg.dir, "chain"), "root", root,
	                "crls", crls_of(n->cfg.dir), "issuer", "node_id",
	                n->cfg.node_id, "region", n->cfg.region);
	if (ans == NULL) {
		refuse(n, &j->to, j->id, TB_EIO, NULL,
		       "the token is spent, but this node cannot read its "
		       "chain (DIR/local) or root.json to send");
		goto out;
	}
	if (j->role == JOIN_MEMBER) {
		/* A member applies the group's cases: it needs the group's
		 * applicant index key (docs/GROUPS.md). The link is
		 * encrypted to a node that proved the token. */
		canon_hex(n->cfg.index_key, 32, idx);
		json_object_set_new(ans, "index_key", json_string(idx));
		sodium_memzero(idx, sizeof(idx));
	}
	n->m.joins_ok++;
	tb_log(TB_LOG_INFO, "TB-JOIN-ENROLLED",
	       "join token %s: node %s enrolled as %s of %s (%zu "
	       "certificate%s)",
	       j->id, j->node_id, join_role_name(j->role), j->region,
	       json_array_size(certs), json_array_size(certs) == 1 ? "" : "s");
	answer(n, &j->to, ans);
out:
	json_decref(certs);
	json_decref(issuer);
	json_decref(res);
	json_decref(j->req);
	free(j);
}

/* find_req returns the request of kind in the list, or NULL. */
static const json_t *
find_req(const json_t *reqs, const char *kind)
{
	const json_t *r;
	size_t i;

	json_array_foreach(reqs, i, r)
	{
		if (spec_str(r, "kind") && !strcmp(spec_str(r, "kind"), kind)) {
			return r;
		}
	}
	return NULL;
}

/* dry_run builds (without signing) what the token's use will sign, so
 * that a certificate the region key may not issue is refused before the
 * token is spent. */
static bool
dry_run(struct node *n, struct jreq *j)
{
	json_t *issuer = NULL, *c;
	const json_t *r;
	char err[300];
	uint8_t sk[64];
	size_t i;
	int rv;

	if ((rv = join_issuer_load(n->cfg.dir, sk, &issuer, err,
	                           sizeof(err))) != TB_OK) {
		refuse(n, &j->to, j->id, rv, NULL, "%s", err);
		return false;
	}
	sodium_memzero(sk, sizeof(sk));
	json_array_foreach(json_object_get(j->req, "requests"), i, r)
	{
		if (!signs_here(j->role, r)) {
			continue;
		}
		if ((c = issue(r, issuer, role_of(j->role, r), NULL, err,
		               sizeof(err))) == NULL) {
			refuse(n, &j->to, j->id, TB_EFORBIDDEN, "$.requests",
			       "%s", err);
			json_decref(issuer);
			return false;
		}
		json_decref(c);
	}
	json_decref(issuer);
	return true;
}

/* check_requests: a node request for the token's region whose kx_key is
 * the handshake's key, and for a child token a region request too. */
static bool
check_requests(struct node *n, struct jreq *j, const uint8_t kx[32])
{
	const json_t *reqs = json_object_get(j->req, "requests"), *r, *nr;
	size_t want = j->role == JOIN_CHILD ? 2 : 1, i;
	struct tb_diag d;
	uint8_t k[32];
	char path[32];

	if (!json_is_array(reqs) || json_array_size(reqs) != want) {
		refuse(n, &j->to, j->id, TB_EMALFORMED, "$.requests",
		       "a %s token takes %zu certificate request%s",
		       join_role_name(j->role), want, want == 1 ? "" : "s");
		return false;
	}
	json_array_foreach(reqs, i, r)
	{
		snprintf(path, sizeof(path), "$.requests[%zu]", i);
		tb_diag_init(&d);
		if (cert_request_check(r, NULL, path, &d) != 0) {
			refuse(n, &j->to, j->id, d.e[0].code, d.e[0].path, "%s",
			       d.e[0].msg);
			return false;
		}
		if (strcmp(spec_str(r, "region"), j->region) != 0) {
			refuse(n, &j->to, j->id, TB_EFORBIDDEN, path,
			       "a request for %s with a token for %s",
			       spec_str(r, "region"), j->region);
			return false;
		}
	}
	nr = find_req(reqs, "node");
	if (nr == NULL ||
	    (j->role == JOIN_CHILD && find_req(reqs, "region") == NULL)) {
		refuse(n, &j->to, j->id, TB_EMISSING, "$.requests",
		       "a %s token takes a node request%s",
		       join_role_name(j->role),
		       j->role == JOIN_CHILD ? " and a region request" : "");
		return false;
	}
	if (canon_unhex(spec_str(nr, "kx_key"), k, 32) != TB_OK ||
	    sodium_memcmp(k, kx, 32) != 0) {
		refuse(n, &j->to, j->id, TB_EFORBIDDEN, "$.requests",
		       "the node request's kx_key is not the key the "
		       "handshake was made with");
		return false;
	}
	snprintf(j->node_id, sizeof(j->node_id), "%s", spec_str(nr, "node_id"));
	return dry_run(n, j);
}

static void
on_join(struct links *ls, const json_t *req, const uint8_t kx[32],
        const struct link_reply_to *to, void *arg)
{
	struct node *n = arg;
	const char *id = spec_str(req, "id"), *secret = spec_str(req, "secret");
	uint8_t sec[JOIN_SECRET], h1[32], h2[32];
	char hash[65], why[300];
	json_t *rec = NULL, *body;
	struct jreq *j;
	int rv;

	(void)ls;
	if (id == NULL || strlen(id) != 16 || secret == NULL ||
	    canon_unhex(secret, sec, sizeof(sec)) != TB_OK ||
	    spec_str(req, "region") == NULL || spec_str(req, "role") == NULL) {
		refuse(n, to, id, TB_EMALFORMED, "$",
		       "a join request has id, secret (64 hex digits), "
		       "region, role and requests");
		return;
	}
	join_secret_hash(sec, hash);
	sodium_memzero(sec, sizeof(sec));
	rv = store_join_get(n->store, id, &rec);
	if (rv != TB_OK) {
		refuse(n, to, id, rv == TB_ENOTFOUND ? TB_ENOTFOUND : rv,
		       "$.id",
		       rv == TB_ENOTFOUND ? "no such join token in this "
		                            "region's group (a wrong token, "
		                            "or one of another group)"
		                          : "the token cannot be read: %s",
		       tb_strerror(rv));
		return;
	}
	canon_unhex(spec_str(rec, "hash"), h1, 32);
	canon_unhex(hash, h2, 32);
	why[0] = '\0';
	if (sodium_memcmp(h1, h2, 32) != 0) {
		refuse(n, to, id, TB_ESIG, "$.secret",
		       "a wrong token: its secret does not match");
	} else if (json_object_get(rec, "used_at") != NULL) {
		refuse(n, to, id, TB_ECONFLICT, "$.id",
		       "the token was used already (by node %s)",
		       spec_str(rec, "used_by"));
	} else if (node_now_ms() >= spec_int(rec, "expires", 0)) {
		refuse(n, to, id, TB_ERANGE, "$.id",
		       "the token expired (%lld s ago)",
		       (node_now_ms() - spec_int(rec, "expires", 0)) / 1000);
	} else if (strcmp(spec_str(rec, "region"), spec_str(req, "region"))) {
		refuse(n, to, id, TB_EFORBIDDEN, "$.region",
		       "the token is for region %s, the node asks for %s",
		       spec_str(rec, "region"), spec_str(req, "region"));
	} else if (strcmp(spec_str(rec, "role"), spec_str(req, "role"))) {
		refuse(n, to, id, TB_EFORBIDDEN, "$.role",
		       "the token grants role %s, the node asks for %s",
		       spec_str(rec, "role"), spec_str(req, "role"));
	} else {
		snprintf(why, sizeof(why), "ok");
	}
	if (why[0] == '\0' || (j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(rec);
		return;
	}
	j->n = n;
	j->to = *to;
	j->req = json_incref((json_t *)req);
	json_object_del(j->req, "secret"); /* only its hash is needed now */
	snprintf(j->id, sizeof(j->id), "%s", id);
	snprintf(j->region, sizeof(j->region), "%s", spec_str(rec, "region"));
	join_role_parse(spec_str(rec, "role"), &j->role);
	json_decref(rec);
	if (!check_requests(n, j, kx)) {
		json_decref(j->req);
		free(j);
		return;
	}
	body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "hash", hash,
	                 "region", j->region, "role", join_role_name(j->role),
	                 "node_id", j->node_id);
	if (body == NULL) {
		json_decref(j->req);
		free(j);
		return;
	}
	group_propose(n, CMD_JOIN_USE, body, used, j);
	json_decref(body);
}

void
join_start(struct node *n)
{
	if (n->links != NULL) {
		link_on_join(n->links, on_join, n);
	}
}
