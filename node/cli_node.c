/* The 'init' and 'run' verbs: create a node directory, run a node. */
#include "node/cli.h"

#include "node/config.h"
#include "node/node.h"

#include "schema/canon.h"
#include "schema/join.h"
#include "schema/cert.h"
#include "schema/region.h"

#include <jansson.h>
#include <sodium.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INIT_USAGE                                                         \
	"usage: tongban init --dir DIR --region CODE [--name NAME]\n"      \
	"                    [--api HOST:PORT] [--link HOST:PORT] "        \
	"[--root FILE]\n"                                                  \
	"                    [--tls-cert CERT.pem --tls-key KEY.pem] "     \
	"[--json]\n"                                                       \
	"                    [--join HOST:PORT [--index-key-from FILE]]"   \
	"\n                    [--join-token TOKEN]"                       \
	"\n                    [--parent CODE@tcp://HOST:PORT] "           \
	"[--peer CODE@tcp://HOST:PORT ...]\n"                              \
	"  --join: join a group (no bootstrap); --index-key-from: the "    \
	"group's\n  applicant index key, from tongban index-key export\n"  \
	"  --join-token: enrol over the first link to the token's issuer " \
	"(docs/TRUST.md)\n"                                                \
	"  --root: the province's root.json; a province's first node "     \
	"without it\n  makes one (DIR/root.json, its officer key "         \
	"DIR/keys/officer.json)\n"                                         \
	"  --parent: the region above (its table parent) and any one "     \
	"member's link;\n  raises a new group to feature level 2: raise "  \
	"it to the tree's level\n  (tongban group features --set N) or "   \
	"what needs more waits here\n"

/* join_addr_ok accepts HOST:PORT (or tcp://HOST:PORT) with a port. */
static bool
join_addr_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!strncmp(s, "tcp://", 6)) {
		s += 6;
	}
	if (colon == NULL || colon <= s || strlen(s) >= 120) {
		return false;
	}
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

/* join_links writes DIR/links.json so the new node dials the member at
 * addr: the link the group's leader then reaches it on. */
static int
join_links(const struct node_config *cfg, const char *addr)
{
	char path[PATH_MAX + 16], url[160];
	json_t *doc;
	int rv;

	snprintf(url, sizeof(url), "%s%s",
	         strncmp(addr, "tcp://", 6) ? "tcp://" : "", addr);
	snprintf(path, sizeof(path), "%s/links.json", cfg->dir);
	doc = json_pack("{s:s, s:[{s:s, s:s}]}", "format", "tongban.links/1",
	                "peers", "region", cfg->region, "url", url);
	rv = doc != NULL && json_dump_file(doc, path, JSON_INDENT(2)) == 0 ? 0
	                                                                   : -1;
	json_decref(doc);
	if (rv != 0) {
		fprintf(stderr, "tongban init: cannot write %s\n", path);
	}
	return rv;
}

/* read_index_key reads {"index_key": HEX} (an export, or a member's
 * keys/node.json) into out. */
static int
read_index_key(const char *path, uint8_t out[32])
{
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	const char *hex = json_string_value(json_object_get(doc, "index_key"));
	int rv = hex != NULL && strlen(hex) == 64 &&
	                 canon_unhex(hex, out, 32) == TB_OK
	             ? 0
	             : -1;

	if (rv != 0) {
		fprintf(stderr, "tongban init: --index-key-from %s: %s\n", path,
		        doc == NULL ? je.text
		                    : "no index_key of 64 hex digits in it");
	}
	json_decref(doc);
	return rv;
}

#define INDEX_KEY_USAGE                                                      \
	"usage: tongban index-key export --dir DIR --out FILE\n"             \
	"  writes the node's applicant index key (0600) for a node that "    \
	"joins its\n  group: tongban init ... --join ADDR --index-key-from " \
	"FILE (docs/GROUPS.md)\n"

/* hostport_ok accepts NULL (not given) or HOST:PORT: a host without '/'
 * (no URL) and a decimal port up to 65535, 0 only if zero_ok. */
static bool
hostport_ok(const char *s, bool zero_ok)
{
	const char *colon = s != NULL ? strrchr(s, ':') : NULL;
	char *end;
	long port;

	if (s == NULL) {
		return true;
	}
	if (colon == NULL || colon == s || strchr(s, '/') != NULL ||
	    colon[1] < '0' || colon[1] > '9') {
		return false;
	}
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port <= 65535 && (port > 0 || zero_ok);
}

int
tb_cli_index_key(int argc, char **argv)
{
	const char *dir = NULL, *out = NULL;
	struct node_config cfg;
	char err[512], hex[65];
	json_t *doc;
	int i, rc;

	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir")) {
			dir = argv[i + 1];
		} else if (!strcmp(argv[i], "--out")) {
			out = argv[i + 1];
		}
	}
	if (argc < 2 || strcmp(argv[1], "export") != 0 || dir == NULL ||
	    out == NULL) {
		fprintf(stderr, INDEX_KEY_USAGE);
		return TB_EXIT_USAGE;
	}
	if (node_config_load(dir, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban index-key: %s\n", err);
		return TB_EXIT_INVALID;
	}
	canon_hex(cfg.index_key, 32, hex);
	node_config_wipe(&cfg);
	doc = json_pack("{s:s, s:s}", "format", "tongban.index-key/1",
	                "index_key", hex);
	sodium_memzero(hex, sizeof(hex));
	rc = doc != NULL && tb_cli_write_json(out, doc, 0600, true) == 0
	         ? TB_EXIT_OK
	         : TB_EXIT_INVALID;
	json_decref(doc);
	if (rc == TB_EXIT_OK) {
		printf("%s: the applicant index key of %s's group (a secret, "
		       "0600: carry it like a key); on the new node: tongban "
		       "init ... --join ADDR --index-key-from %s\n",
		       out, dir, out);
	}
	return rc;
}

/* root_matches: with --root and a join token, the root the issuer sent
 * must be that file's (the operator pins the province's root too). */
static bool
root_matches(const char *path, const json_t *ans)
{
	json_t *mine = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	bool same =
	    mine != NULL && json_equal(mine, json_object_get(ans, "root"));

	if (!same) {
		fprintf(stderr,
		        "tongban init: --join-token: the root the issuer sent "
		        "is not %s%s: nothing is installed (the token is "
		        "spent)\n",
		        path, mine == NULL ? " (which cannot be read)" : "");
	}
	json_decref(mine);
	return same;
}

int
tb_cli_init(int argc, char **argv)
{
	struct node_init_args a = { 0 };
	struct node_config cfg;
	char token[80], err[512];
	const char *keyfile = NULL, *jtok = NULL;
	struct join_token jt;
	struct tb_join_keys jk;
	json_t *jans = NULL, *jreq = NULL;
	uint8_t idx[32];
	int rc;
	bool json = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char **dst = NULL;
		if (!strcmp(o, "--json")) {
			json = true;
			continue;
		}
		if (!strcmp(o, "--help")) {
			printf(INIT_USAGE);
			return TB_EXIT_OK;
		}
		if (!strcmp(o, "--dir")) {
			dst = &a.dir;
		} else if (!strcmp(o, "--region")) {
			dst = &a.region;
		} else if (!strcmp(o, "--name")) {
			dst = &a.name;
		} else if (!strcmp(o, "--api")) {
			dst = &a.api;
		} else if (!strcmp(o, "--link")) {
			dst = &a.link;
		} else if (!strcmp(o, "--root")) {
			dst = &a.root;
		} else if (!strcmp(o, "--tls-cert")) {
			dst = &a.tls_cert;
		} else if (!strcmp(o, "--tls-key")) {
			dst = &a.tls_key;
		} else if (!strcmp(o, "--join")) {
			dst = &a.join;
		} else if (!strcmp(o, "--index-key-from")) {
			dst = &keyfile;
		} else if (!strcmp(o, "--parent")) {
			dst = &a.parent;
		} else if (!strcmp(o, "--peer")) {
			if (a.npeers >= 16) {
				fprintf(stderr, "tongban init: at most 16 "
				                "--peer\n");
				return TB_EXIT_USAGE;
			}
			dst = &a.peers[a.npeers++];
		} else if (!strcmp(o, "--join-token")) {
			dst = &jtok;
		}
		if (dst == NULL || i + 1 >= argc) {
			fprintf(stderr, "tongban init: %s %s\n", o,
			        dst == NULL ? "is not an option"
			                    : "needs a value");
			fprintf(stderr, INIT_USAGE);
			return TB_EXIT_USAGE;
		}
		if (*dst != NULL) {
			/* The last one used to win silently: a second
			 * --parent replaced the first without a word. */
			fprintf(stderr,
			        "tongban init: %s given twice (%s, then %s)\n",
			        o, *dst, argv[i + 1]);
			return TB_EXIT_USAGE;
		}
		*dst = argv[++i];
	}
	if ((a.tls_cert == NULL) != (a.tls_key == NULL)) {
		fprintf(stderr, "tongban init: --tls-cert and --tls-key go "
		                "together\n" INIT_USAGE);
		return TB_EXIT_USAGE;
	}
	if (a.dir == NULL || a.region == NULL) {
		fprintf(stderr, "tongban init: --dir and --region are "
		                "required\n" INIT_USAGE);
		return TB_EXIT_USAGE;
	}
	/* A bad address used to be stored as given: --api 127.0.0.1
	 * listened on port 80, and a --link without a port went into the
	 * group's configuration at the first run, for good. */
	if (!hostport_ok(a.api, true) || !hostport_ok(a.link, true) ||
	    !hostport_ok(a.join, false)) {
		const char *o = !hostport_ok(a.api, true)    ? "--api"
		                : !hostport_ok(a.link, true) ? "--link"
		                                             : "--join";
		fprintf(stderr,
		        "tongban init: %s %s: HOST:PORT expected, port %s to "
		        "65535\n",
		        o,
		        !strcmp(o, "--api")    ? a.api
		        : !strcmp(o, "--link") ? a.link
		                               : a.join,
		        !strcmp(o, "--join") ? "1" : "0 (a free one)");
		return TB_EXIT_INVALID;
	}
	for (i = -1; i < a.npeers; i++) {
		const char *spec = i < 0 ? a.parent : a.peers[i];
		int32_t code;
		char c6[7];
		if (spec == NULL) {
			continue;
		}
		snprintf(c6, sizeof(c6), "%s", spec);
		if (strlen(spec) < 8 || spec[6] != '@' ||
		    region_code_parse(c6, &code) != 0 ||
		    region_find(region_builtin(), code) == NULL ||
		    strncmp(spec + 7, "tcp://", 6) != 0 ||
		    !join_addr_ok(spec + 13)) {
			fprintf(stderr,
			        "tongban init: %s %s: CODE@tcp://HOST:PORT "
			        "expected, CODE a region of the GB/T 2260 "
			        "table\n",
			        i < 0 ? "--parent" : "--peer", spec);
			return TB_EXIT_USAGE;
		}
	}
	for (i = 0; a.region != NULL && i < a.npeers; i++) {
		char tp[7] = "";
		cert_region_parent(a.region, tp);
		if (!strncmp(a.peers[i], a.region, 6) ||
		    (tp[0] && !strncmp(a.peers[i], tp, 6))) {
			fprintf(
			    stderr,
			    "tongban init: --peer %s: a peer is neither the "
			    "region itself nor its parent\n",
			    a.peers[i]);
			return TB_EXIT_USAGE;
		}
	}
	if (a.parent != NULL && a.region != NULL) {
		char tp[7] = "";
		if (cert_region_parent(a.region, tp) != 0 || tp[0] == '\0' ||
		    strncmp(a.parent, tp, 6) != 0) {
			fprintf(stderr,
			        "tongban init: --parent %s: %s's parent in the "
			        "GB/T 2260 table is %s\n",
			        a.parent, a.region,
			        tp[0] ? tp : "none (a province)");
			return TB_EXIT_USAGE;
		}
	}
	if (a.join != NULL && !join_addr_ok(a.join)) {
		fprintf(stderr,
		        "tongban init: --join %s: HOST:PORT of a "
		        "member's link expected\n",
		        a.join);
		return TB_EXIT_USAGE;
	}
	if (jtok != NULL) {
		/* Checked before anything is made: a mistyped or edited token,
		 * or one for another region, changes nothing. */
		if (join_decode(jtok, &jt, err, sizeof(err)) != TB_OK) {
			fprintf(stderr, "tongban init: --join-token: %s\n",
			        err);
			return TB_EXIT_INVALID;
		}
		if (strcmp(jt.region, a.region) != 0) {
			fprintf(stderr,
			        "tongban init: --join-token: the token is for "
			        "region %s, not %s\n",
			        jt.region, a.region);
			join_token_wipe(&jt);
			return TB_EXIT_INVALID;
		}
		if (jt.role == JOIN_CHILD && a.join != NULL) {
			fprintf(
			    stderr,
			    "tongban init: --join-token: a child token makes "
			    "the first node of region %s, which has no group "
			    "to join: drop --join\n",
			    jt.region);
			join_token_wipe(&jt);
			return TB_EXIT_INVALID;
		}
	}
	if (keyfile != NULL) {
		if (read_index_key(keyfile, idx) != 0) {
			return TB_EXIT_INVALID;
		}
		a.index_key = idx;
	}
	if (jtok != NULL) {
		/* The exchange comes before the directory: a refusal leaves
		 * nothing behind. A directory that already holds a node
		 * would fail after the token is spent: refuse it first. */
		char cfgpath[PATH_MAX + 16];
		snprintf(cfgpath, sizeof(cfgpath), "%s/tongban.json", a.dir);
		if (access(cfgpath, F_OK) == 0) {
			fprintf(stderr,
			        "tongban init: %s exists: this directory "
			        "already holds a node\n",
			        cfgpath);
			join_token_wipe(&jt);
			return TB_EXIT_INVALID;
		}
		rc = tb_cli_join_fetch(&jt, a.name, &jk, &jans, &jreq);
		if (rc != TB_EXIT_OK) {
			join_token_wipe(&jt);
			tb_join_keys_wipe(&jk);
			return rc;
		}
		a.sign_seed = jk.seed;
		a.kx_secret = jk.kx_sk;
		if (a.root != NULL && !root_matches(a.root, jans)) {
			join_token_wipe(&jt);
			tb_join_keys_wipe(&jk);
			json_decref(jans);
			json_decref(jreq);
			return TB_EXIT_INVALID;
		}
	}
	i = node_config_init(&a, token, &cfg, err, sizeof(err));
	sodium_memzero(idx, sizeof(idx));
	if (i != 0) {
		fprintf(stderr, "tongban init: %s\n", err);
		if (jtok != NULL) {
			fprintf(stderr,
			        "tongban init: the join token is spent "
			        "(the issuer signed): ask for a new one\n");
			join_token_wipe(&jt);
			tb_join_keys_wipe(&jk);
			json_decref(jans);
			json_decref(jreq);
		}
		return TB_EXIT_INVALID;
	}
	if (jtok != NULL) {
		rc = tb_cli_join_install(&cfg, &jt, &jk, jans, jreq, a.join,
		                         keyfile != NULL);
		join_token_wipe(&jt);
		tb_join_keys_wipe(&jk);
		json_decref(jans);
		json_decref(jreq);
		if (rc != TB_EXIT_OK) {
			fprintf(stderr,
			        "tongban init: %s was made but is not enrolled "
			        "(the token is spent: the issuer signed)\n",
			        a.dir);
			memset(token, 0, sizeof(token));
			node_config_wipe(&cfg);
			return rc;
		}
	} else if (a.join != NULL && join_links(&cfg, a.join) != 0) {
		node_config_wipe(&cfg);
		return TB_EXIT_INVALID;
	}
	if (a.join != NULL) {
		if (json) {
			printf("{\"node_id\":\"%s\",\"region\":\"%s\","
			       "\"dir\":\"%s\",\"join\":\"%s\"}\n",
			       cfg.node_id, cfg.region, a.dir, a.join);
		} else {
			/* Run first: an add answers once the new voter
			 * caught up, which a node not running never does. */
			printf("node %s of region %s created in %s to join the "
			       "group at %s\n"
			       "no admin token: use the group's.\n"
			       "start it first: tongban run --dir %s (not "
			       "ready until it is added)\n"
			       "then on a member: tongban group add %s %s\n",
			       cfg.node_id, cfg.region, a.dir, a.join, a.dir,
			       cfg.node_id, cfg.link);
		}
		node_config_wipe(&cfg);
		return TB_EXIT_OK;
	}
	if (json) {
		printf("{\"node_id\":\"%s\",\"region\":\"%s\",\"dir\":\"%s\","
		       "\"admin_token\":\"%s\"}\n",
		       cfg.node_id, cfg.region, a.dir, token);
	} else {
		printf("node %s of region %s created in %s\n"
		       "admin token (shown once; only its hash is stored):\n"
		       "  %s\n"
		       "start it with: tongban run --dir %s\n",
		       cfg.node_id, cfg.region, a.dir, token, a.dir);
		if (a.parent != NULL) {
			/* node.c raises a new group to level 2 only: what
			 * needs more (a list, the root, a calendar, a
			 * handoff) would wait at the first entry. */
			printf("its group starts at feature level 2 once it "
			       "runs: raise it to the tree's level (tongban "
			       "group features --set N; 5 when the province "
			       "publishes calendars)\n");
		}
		if (a.root == NULL && jtok == NULL && strlen(cfg.region) == 6 &&
		    !strcmp(cfg.region + 2, "0000")) {
			/* config.c made the province's root: say so, and
			 * which file is the secret (docs/TRUST.md). */
			printf("root metadata of %s made in %s/root.json: a "
			       "1-of-1 root whose officer key %s/keys/"
			       "officer.json certifies the province's region "
			       "key (keep it offline); this node's key signs "
			       "releases\n",
			       cfg.region, a.dir, a.dir);
		}
		if (a.link == NULL) {
			/* Its first run records the address in the group's
			 * configuration for good (docs/GROUPS.md). */
			printf("link address %s (the default): to grow this "
			       "node into a group later, init it with --link "
			       "HOST:PORT that the other members can dial\n",
			       cfg.link);
		}
	}
	memset(token, 0, sizeof(token));
	node_config_wipe(&cfg);
	return TB_EXIT_OK;
}

int
tb_cli_run(int argc, char **argv)
{
	const char *dir = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			fprintf(stderr, "usage: tongban run --dir DIR\n");
			return TB_EXIT_USAGE;
		}
	}
	if (dir == NULL) {
		fprintf(stderr, "usage: tongban run --dir DIR\n");
		return TB_EXIT_USAGE;
	}
	return node_run(dir);
}
