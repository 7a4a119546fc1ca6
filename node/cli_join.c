/* Enrolment with a join token, the new node's side (tongban init
 * --join-token T), and the region key a node holds online to issue them
 * (tongban cert install --dir DIR --region-key KEY.json).
 *
 * The new node dials the issuer named in the token with the link's join
 * pattern (node/link.h): Noise XX, the envelope's pattern 3. It pins the
 * issuer: the handshake's remote static key must be the X25519 key the
 * token carries, or nothing is sent. Its third message carries its
 * certificate request(s) and the token's id and secret, encrypted to that
 * pinned key (the secret never travels in clear; Noise's AEAD binds it to
 * this handshake's transcript, so a captured message cannot be replayed
 * on another connection). The issuer answers with one LINK_T_JOIN message
 * on the session (node/cli_join_wire.c); the node then installs what it
 * got exactly as cert install does (the chain verified against the root
 * it received). */
#include "node/cli.h"

#include "node/certstore.h"
#include "node/config.h"
#include "node/join.h"
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/cert_issue.h"
#include "schema/join.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *
dir_file(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
	return out;
}

/* ---- the region key held online ----------------------------------------- */

int
tb_cli_install_region_key(const char *dir, const char *keyfile)
{
	char path[PATH_MAX + 64], pkh[65];
	uint8_t pk[32], sk[64];
	json_t *chain, *key;
	const char *want;
	int rc = TB_EXIT_INVALID;

	if (tb_cli_load_key(keyfile, pk, sk) != 0) {
		return rc;
	}
	sodium_memzero(sk, sizeof(sk));
	canon_hex(pk, 32, pkh);
	chain = certstore_load(dir, "chain");
	want = spec_str(json_array_get(chain, 0), "sign_key");
	if (want == NULL || strcmp(want, pkh) != 0) {
		fprintf(stderr,
		        "tongban cert install: %s: %s: install the node's "
		        "certificate first; the region key must be the key "
		        "of its region certificate "
		        "(the chain in %s/local, [0]%s%.16s)\n",
		        keyfile,
		        want == NULL ? "the node has no chain"
		                     : "not the key of the node's region "
		                       "certificate",
		        dir, want != NULL ? ", key " : "", want ? want : "");
		goto out;
	}
	key = json_load_file(keyfile, 0, NULL);
	rc = key != NULL && tb_cli_write_json(dir_file(path, sizeof(path), dir,
	                                               JOIN_REGION_KEY),
	                                      key, 0600, false) == 0
	         ? TB_EXIT_OK
	         : TB_EXIT_INVALID;
	json_decref(key);
	if (rc == TB_EXIT_OK) {
		printf("%s: holds the region key of %s (%.16s..) online: it "
		       "may issue join tokens (POST /v1/join-tokens)\n",
		       dir, spec_str(json_array_get(chain, 0), "region"), pkh);
	}
out:
	json_decref(chain);
	return rc;
}

/* ---- the new node ----------------------------------------------------------
 */

/* region_key_write writes the new region's key (seed) into
 * DIR/keys/region.json, owner-only. */
static int
region_key_write(const char *dir, const char *region, const uint8_t seed[32])
{
	char path[PATH_MAX + 64], pkh[65], seedh[65], name[40];
	uint8_t pk[32], sk[64];
	json_t *k;
	int rv;

	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));
	canon_hex(pk, 32, pkh);
	canon_hex(seed, 32, seedh);
	snprintf(name, sizeof(name), "region %s", region);
	k = json_pack("{s:s, s:s, s:s, s:s}", "format", "tongban.key/1", "name",
	              name, "public", pkh, "seed", seedh);
	sodium_memzero(seedh, sizeof(seedh));
	rv = k != NULL && tb_cli_write_json(dir_file(path, sizeof(path), dir,
	                                             JOIN_REGION_KEY),
	                                    k, 0600, true) == 0
	         ? 0
	         : -1;
	json_decref(k);
	return rv;
}

/* request_doc builds the join request: the token's id and secret, and the
 * signed certificate request(s). */
static json_t *
request_doc(const struct tb_join_keys *k, const char *name,
            const struct join_token *t, const uint8_t *rpk, const uint8_t *rsk,
            json_t **node_req)
{
	char err[200], sec[2 * JOIN_SECRET + 1];
	json_t *doc, *reqs = json_array(), *r = NULL;

	*node_req = NULL;
	if (cert_request_build(CERT_NODE, t->region, k->node_id, k->sign_pk,
	                       k->kx_pk, name, &r) != TB_OK ||
	    trust_sign(r, k->sign_sk, err, sizeof(err)) != TB_OK) {
		json_decref(r);
		json_decref(reqs);
		return NULL;
	}
	*node_req = json_incref(r);
	json_array_append_new(reqs, r);
	if (rpk != NULL) {
		r = NULL;
		if (cert_request_build(CERT_REGION, t->region, NULL, rpk, NULL,
		                       NULL, &r) != TB_OK ||
		    trust_sign(r, rsk, err, sizeof(err)) != TB_OK) {
			json_decref(r);
			json_decref(reqs);
			return NULL;
		}
		json_array_append_new(reqs, r);
	}
	canon_hex(t->secret, JOIN_SECRET, sec);
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "format",
	                "tongban.joinreq/1", "id", t->id, "secret", sec,
	                "region", t->region, "role", join_role_name(t->role),
	                "requests", reqs);
	sodium_memzero(sec, sizeof(sec));
	return doc;
}

/* install_all writes the root and lists and installs leaf with chain
 * through cert install (which verifies them against the root). */
static int
install_all(const char *dir, const json_t *ans, json_t *leaf, json_t *chain)
{
	char path[PATH_MAX + 64], lp[PATH_MAX + 64], cp[PATH_MAX + 64];
	char name[80];
	const json_t *crl;
	char *argv[6];
	size_t i;
	int rc, saved, null;

	if (tb_cli_write_json(dir_file(path, sizeof(path), dir, "root.json"),
	                      json_object_get(ans, "root"), 0644, false) != 0) {
		return TB_EXIT_INVALID;
	}
	mkdir(dir_file(path, sizeof(path), dir, "certs"), 0700);
	json_array_foreach(json_object_get(ans, "crls"), i, crl)
	{
		const json_t *iss = json_object_get(crl, "issuer");
		snprintf(
		    name, sizeof(name), "certs/crl-%s-%.16s.json",
		    spec_str(iss, "region") ? spec_str(iss, "region") : "x",
		    cert_issuer_is_root(crl) ? "root" : spec_str(iss, "key"));
		if (tb_cli_write_json(dir_file(path, sizeof(path), dir, name),
		                      crl, 0644, false) != 0) {
			return TB_EXIT_INVALID;
		}
	}
	if (tb_cli_write_json(dir_file(lp, sizeof(lp), dir, "join-cert.json"),
	                      leaf, 0644, false) != 0 ||
	    tb_cli_write_json(dir_file(cp, sizeof(cp), dir, "join-chain.json"),
	                      chain, 0644, false) != 0) {
		return TB_EXIT_INVALID;
	}
	argv[0] = "cert";
	argv[1] = "install";
	argv[2] = "--dir";
	argv[3] = (char *)dir;
	argv[4] = lp;
	argv[5] = cp;
	/* cert install's own line would break init's --json output: its
	 * stdout goes nowhere (refusals are on stderr), init says what it
	 * installed. */
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	null = open("/dev/null", O_WRONLY);
	if (saved >= 0 && null >= 0) {
		dup2(null, STDOUT_FILENO);
	}
	rc = tb_cli_cert(6, argv);
	fflush(stdout);
	if (saved >= 0 && null >= 0) {
		dup2(saved, STDOUT_FILENO);
	}
	if (saved >= 0) {
		close(saved);
	}
	if (null >= 0) {
		close(null);
	}
	unlink(lp);
	unlink(cp);
	return rc;
}

/* own_node_cert: a child token gave the region certificate; the node's
 * own certificate is signed here with the new region key. */
static json_t *
own_node_cert(const json_t *req, const json_t *rcert, const uint8_t rsk[64])
{
	struct cert_issue_args a;
	char serial[CERT_SERIAL_HEX + 1], err[300];
	uint8_t b[CERT_SERIAL_HEX / 2];
	int64_t now = (int64_t)time(NULL) * 1000;
	json_t *c = NULL;

	randombytes_buf(b, sizeof(b));
	canon_hex(b, sizeof(b), serial);
	a.serial = serial;
	a.role = "member";
	a.not_before_ms = now - 5 * 60 * 1000LL;
	a.not_after_ms = now + 365 * 86400000LL;
	if (cert_issue(req, rcert, &a, &c, err, sizeof(err)) != TB_OK ||
	    trust_sign(c, rsk, err, sizeof(err)) != TB_OK) {
		fprintf(stderr,
		        "tongban init: the node's own certificate: %s\n", err);
		json_decref(c);
		return NULL;
	}
	return c;
}

/* set_index_key writes the group's applicant index key into keys/node.json
 * (before the node's first run). */
static int
set_index_key(const char *dir, const char *hex)
{
	char path[PATH_MAX + 64];
	json_t *k;
	int rv;

	k = json_load_file(dir_file(path, sizeof(path), dir, "keys/node.json"),
	                   0, NULL);
	if (k == NULL || hex == NULL || strlen(hex) != 64 ||
	    json_object_set_new(k, "index_key", json_string(hex)) != 0) {
		json_decref(k);
		return -1;
	}
	rv = tb_cli_write_json(path, k, 0600, false);
	json_decref(k);
	return rv;
}

/* write_links names the issuer (and the --join member) in links.json. */
static int
write_links(const struct node_config *cfg, const struct join_token *t,
            const json_t *ans, const char *join)
{
	char path[PATH_MAX + 64], url[160], jurl[160];
	const json_t *iss = json_object_get(ans, "issuer");
	json_t *doc;
	int rv;

	snprintf(url, sizeof(url), "tcp://%s", t->addr);
	doc = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "format",
	                "tongban.links/1", "peers", "region",
	                spec_str(iss, "region") ? spec_str(iss, "region")
	                                        : cfg->region,
	                "url", url, "node_id", t->issuer_node);
	if (doc != NULL && join != NULL) {
		snprintf(jurl, sizeof(jurl), "%s%s",
		         strncmp(join, "tcp://", 6) ? "tcp://" : "", join);
		if (strcmp(jurl, url) != 0) {
			json_array_append_new(json_object_get(doc, "peers"),
			                      json_pack("{s:s, s:s}", "region",
			                                cfg->region, "url",
			                                jurl));
		}
	}
	rv = doc != NULL ? tb_cli_write_json(dir_file(path, sizeof(path),
	                                              cfg->dir, "links.json"),
	                                     doc, 0644, false)
	                 : -1;
	json_decref(doc);
	return rv;
}

int
tb_cli_join_fetch(const struct join_token *t, const char *name,
                  struct tb_join_keys *k, json_t **ans, json_t **node_req)
{
	uint8_t rpk[32], rsk[64];
	bool child = t->role == JOIN_CHILD;
	json_t *doc;
	const json_t *e;
	char err[512];
	int rv;

	*ans = *node_req = NULL;
	randombytes_buf(k->seed, sizeof(k->seed));
	crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, k->seed);
	crypto_box_keypair(k->kx_pk, k->kx_sk);
	cert_node_id(k->sign_pk, k->node_id);
	if (child) {
		randombytes_buf(k->region_seed, sizeof(k->region_seed));
		crypto_sign_seed_keypair(rpk, rsk, k->region_seed);
	}
	doc = request_doc(k, name, t, child ? rpk : NULL, child ? rsk : NULL,
	                  node_req);
	sodium_memzero(rsk, sizeof(rsk));
	if (doc == NULL) {
		fprintf(stderr, "tongban init: cannot build the request\n");
		return TB_EXIT_INVALID;
	}
	rv = tb_cli_join_exchange(t, k->kx_sk, doc, ans, err, sizeof(err));
	json_decref(doc);
	if (rv != TB_OK) {
		fprintf(stderr, "tongban init: --join-token: %s\n", err);
		json_decref(*node_req);
		*node_req = NULL;
		return TB_EXIT_INVALID;
	}
	if ((e = json_object_get(*ans, "error")) != NULL) {
		fprintf(stderr,
		        "tongban init: --join-token: the issuer %s refused "
		        "token %s: %s (%s%s%s)\n",
		        t->issuer_node, t->id, spec_str(e, "message"),
		        spec_str(e, "code"), spec_str(e, "field") ? " at " : "",
		        spec_str(e, "field") ? spec_str(e, "field") : "");
		json_decref(*ans);
		json_decref(*node_req);
		*ans = *node_req = NULL;
		return TB_EXIT_INVALID;
	}
	return TB_EXIT_OK;
}

int
tb_cli_join_install(const struct node_config *cfg, const struct join_token *t,
                    const struct tb_join_keys *k, const json_t *ans,
                    const json_t *nreq, const char *join, bool keep_index_key)
{
	uint8_t rpk[32], rsk[64];
	bool child = t->role == JOIN_CHILD;
	json_t *leaf, *chain;
	int rc = TB_EXIT_INVALID;

	leaf = json_incref(json_array_get(json_object_get(ans, "certs"), 0));
	chain = json_deep_copy(json_object_get(ans, "chain"));
	if (leaf == NULL || !json_is_array(chain) ||
	    !json_is_object(json_object_get(ans, "root"))) {
		fprintf(stderr, "tongban init: --join-token: the issuer's "
		                "answer has no certificate, chain or root\n");
		goto out;
	}
	if (child) {
		/* leaf is the new region's certificate: it heads the chain,
		 * and the node's own certificate is signed with its key. */
		crypto_sign_seed_keypair(rpk, rsk, k->region_seed);
		json_array_insert(chain, 0, leaf);
		json_decref(leaf);
		leaf = own_node_cert(nreq, json_array_get(chain, 0), rsk);
		sodium_memzero(rsk, sizeof(rsk));
		if (leaf == NULL || region_key_write(cfg->dir, t->region,
		                                     k->region_seed) != 0) {
			goto out;
		}
	}
	if (install_all(cfg->dir, ans, leaf, chain) != TB_EXIT_OK) {
		fprintf(stderr, "tongban init: --join-token: the issued "
		                "certificate does not install (above)\n");
		goto out;
	}
	if (!keep_index_key && json_object_get(ans, "index_key") != NULL &&
	    set_index_key(cfg->dir, spec_str(ans, "index_key")) != 0) {
		goto out;
	}
	if (write_links(cfg, t, ans, join) != 0) {
		goto out;
	}
	fprintf(stderr,
	        "%s: enrolled over the link to %s (%s): cert %s, role %s, "
	        "valid to %s, chain of %zu%s\n",
	        cfg->dir, t->issuer_node, t->addr, spec_str(leaf, "serial"),
	        spec_str(leaf, "role"), spec_str(leaf, "not_after"),
	        json_array_size(chain) + 1,
	        child ? "; the region key of the new region is in "
	                "keys/region.json"
	              : "");
	rc = TB_EXIT_OK;
out:
	json_decref(leaf);
	json_decref(chain);
	return rc;
}

void
tb_join_keys_wipe(struct tb_join_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}
