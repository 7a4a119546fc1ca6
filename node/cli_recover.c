/* Quorum-loss recovery, offline (docs/GROUPS.md, "Recovering a group that
 * lost its quorum"):
 *
 *   tongban cert incarnation --key PARENT.key --region CODE --incarnation N
 *       --member NODE_ID --out FILE          (the parent region's admin)
 *   tongban group recover --dir DIR --cert FILE   (on the stopped survivor)
 *
 * group recover checks the certificate (fields, region, the parent's key
 * from the node's own chain, or threshold officers of its root for a
 * province; this node the one member it keeps; an incarnation higher than
 * the node's), then, holding DIR/run.lock so that the node cannot be
 * running, appends a configuration of this node alone as the only voter to
 * its Raft log (raftio's recover: libraft's raft_recover does nothing
 * else) and stores the certificate as DIR/certs/incarnation.json. Any
 * refusal changes nothing. */
#include "node/cli.h"

#include "consensus/raftio.h"
#include "consensus/raftio_load.h"
#include "node/certstore.h"
#include "node/config.h"
#include "schema/canon.h"
#include "schema/cert.h"
#include "schema/incarnation.h"
#include "schema/spec.h"
#include "schema/trust.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INC_USAGE                                                              \
	"usage: tongban cert incarnation --key PARENT.key --region CODE "      \
	"--incarnation N\n"                                                    \
	"                                --member NODE_ID [--root ROOT.json] " \
	"--out FILE\n"                                                         \
	"       (a province: --key OFFICER.json... --root ROOT.json)\n"

#define RECOVER_USAGE "usage: tongban group recover --dir DIR --cert FILE\n"

static void
print_diag(const char *cmd, const char *file, const struct tb_diag *d)
{
	int i;

	for (i = 0; i < d->n; i++) {
		fprintf(stderr, "tongban %s: %s: %s: %s (%s)\n", cmd, file,
		        d->e[i].path, d->e[i].msg, tb_errname(d->e[i].code));
	}
}

int
tb_cli_cert_incarnation(int argc, char **argv)
{
	const char *keys[16], *members[INC_MEMBERS_MAX + 1];
	const char *region = NULL, *out = NULL, *rootf = NULL, *incs = NULL;
	int nkeys = 0, nmembers = 0, i, rc = TB_EXIT_INVALID;
	char parent[7], hex[65], err[256], *end;
	json_t *doc = NULL, *root = NULL;
	uint8_t pk[32], sk[64];
	struct tb_diag d;
	unsigned long long inc;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc) {
			fprintf(stderr,
			        "tongban cert incarnation: %s lacks "
			        "its value\n" INC_USAGE,
			        argv[i]);
			return TB_EXIT_USAGE;
		}
		if (!strcmp(argv[i], "--key") && nkeys < 16) {
			keys[nkeys++] = argv[++i];
		} else if (!strcmp(argv[i], "--member") &&
		           nmembers <= INC_MEMBERS_MAX) {
			members[nmembers++] = argv[++i];
		} else if (!strcmp(argv[i], "--region")) {
			region = argv[++i];
		} else if (!strcmp(argv[i], "--incarnation")) {
			incs = argv[++i];
		} else if (!strcmp(argv[i], "--root")) {
			rootf = argv[++i];
		} else if (!strcmp(argv[i], "--out")) {
			out = argv[++i];
		} else {
			fprintf(stderr,
			        "tongban cert incarnation: unknown option "
			        "%s\n" INC_USAGE,
			        argv[i]);
			return TB_EXIT_USAGE;
		}
	}
	if (nkeys == 0 || region == NULL || incs == NULL || out == NULL ||
	    nmembers == 0) {
		fprintf(stderr, "tongban cert incarnation: --key, --region, "
		                "--incarnation, --member and --out are "
		                "required\n" INC_USAGE);
		return TB_EXIT_USAGE;
	}
	errno = 0;
	inc = strtoull(incs, &end, 10);
	if (errno != 0 || *end != '\0' || incs[0] == '-') {
		fprintf(stderr,
		        "tongban cert incarnation: --incarnation %s: not a "
		        "number\n",
		        incs);
		return TB_EXIT_USAGE;
	}
	if (cert_region_parent(region, parent) != TB_OK) {
		fprintf(stderr,
		        "tongban cert incarnation: --region %s: not a region "
		        "code\n",
		        region);
		return TB_EXIT_INVALID;
	}
	if (parent[0] != '\0' && nkeys != 1) {
		fprintf(stderr,
		        "tongban cert incarnation: %s's incarnation is "
		        "signed by one key, %s's region key\n",
		        region, parent);
		return TB_EXIT_USAGE;
	}
	if (tb_cli_load_key(keys[0], pk, sk) != 0) {
		return TB_EXIT_INVALID;
	}
	sodium_memzero(sk, sizeof(sk));
	canon_hex(pk, 32, hex);
	if (inc_build(region, inc, members, (size_t)nmembers, tb_cli_now_ms(),
	              parent[0] ? parent : region, parent[0] ? hex : NULL,
	              &doc) != TB_OK) {
		fprintf(stderr, "tongban cert incarnation: out of memory\n");
		return TB_EXIT_INVALID;
	}
	tb_diag_init(&d);
	if (inc_check(doc, "$", &d) != 0) {
		print_diag("cert incarnation", out, &d);
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		if (tb_cli_load_key(keys[i], pk, sk) != 0) {
			goto out;
		}
		rc = trust_sign(doc, sk, err, sizeof(err));
		sodium_memzero(sk, sizeof(sk));
		if (rc != TB_OK) {
			fprintf(stderr, "tongban cert incarnation: %s: %s\n",
			        keys[i], err);
			rc = TB_EXIT_INVALID;
			goto out;
		}
	}
	rc = TB_EXIT_INVALID;
	if (rootf != NULL) {
		/* Check it the way a node will (a province's threshold). */
		if ((root = tb_cli_json_file("group recover", rootf)) == NULL) {
			goto out;
		}
		tb_diag_init(&d);
		if (parent[0] == '\0' &&
		    inc_verify(doc, region, root, NULL, "$", &d) != TB_OK) {
			print_diag("cert incarnation", out, &d);
			goto out;
		}
	}
	if (tb_cli_write_json(out, doc, 0644, false) == 0) {
		printf("%s: incarnation %llu of %s, keeping %s%s, signed by %s "
		       "%s%.16s%s\n",
		       out, inc, region, members[0],
		       nmembers > 1 ? " and others" : "",
		       parent[0] ? parent : region,
		       parent[0] ? "key " : "root officers",
		       parent[0] ? hex : "", parent[0] ? ".." : "");
		rc = TB_EXIT_OK;
	}
out:
	json_decref(doc);
	json_decref(root);
	return rc;
}

/* ---- group recover ----------------------------------------------------- */

static void
closed_cb(struct raft_io *io)
{
	*(int *)io->data = 1;
}

/* free_loaded frees what io->load returned, as libraft would. */
static void
free_loaded(struct raft_snapshot *snap, struct raft_entry *entries, size_t n)
{
	if (entries != NULL && n > 0) {
		raft_free(entries[0].batch);
	}
	raft_free(entries);
	raftio_snapshot_free(snap);
}

/* recover_raft appends a configuration of this node alone, as the only
 * voter, to its Raft log; *at is that entry's index. */
static int
recover_raft(const struct node_config *cfg, raft_index *at, char *err,
             size_t errlen)
{
	struct raftio_options ro = { 0 };
	struct raft_configuration conf;
	struct raft_snapshot *snap = NULL;
	struct raft_entry *entries = NULL;
	char path[PATH_MAX + 16];
	raft_index start = 0;
	raft_term term = 0;
	raft_id vote = 0;
	size_t n = 0;
	uv_loop_t loop;
	struct raft_io io;
	int closed = 0, rv;

	snprintf(path, sizeof(path), "%s/raft", cfg->dir);
	ro.map_size = cfg->raft_map_size;
	memset(&io, 0, sizeof(io));
	if (uv_loop_init(&loop) != 0) {
		snprintf(err, errlen, "cannot make an event loop");
		return -1;
	}
	if ((rv = raftio_init(&io, &loop, path, &ro, err, errlen)) != 0) {
		uv_loop_close(&loop);
		return -1;
	}
	io.data = &closed;
	rv = io.init(&io, cfg->raft_id, cfg->link);
	if (rv == 0) {
		rv = io.load(&io, &term, &vote, &snap, &start, &entries, &n);
	}
	if (rv == 0 && n == 0 && snap == NULL) {
		snprintf(err, errlen,
		         "%s holds no Raft log: this node never was a member "
		         "of a group, there is nothing to recover",
		         path);
		rv = -1;
	} else if (rv != 0) {
		snprintf(err, errlen, "%s: %s", path, io.errmsg);
	}
	free_loaded(snap, entries, n);
	if (rv == 0) {
		raft_configuration_init(&conf);
		rv = raft_configuration_add(&conf, cfg->raft_id, cfg->link,
		                            RAFT_VOTER);
		if (rv == 0 && (rv = io.recover(&io, &conf)) != 0) {
			snprintf(err, errlen, "%s: %s", path, io.errmsg);
		}
		raft_configuration_close(&conf);
		*at = start + n;
	}
	io.close(&io, closed_cb);
	while (!closed) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	raftio_close(&io);
	uv_loop_close(&loop);
	return rv == 0 ? 0 : -1;
}

/* node_chain loads DIR's certificate followed by its chain (DIR/local). */
static json_t *
node_chain(const char *dir)
{
	json_t *chain, *leaf, *rest;

	if ((leaf = certstore_load(dir, "node")) == NULL) {
		fprintf(stderr,
		        "tongban group recover: %s holds no node certificate: "
		        "its links are off, so it was never a member of a "
		        "group of more than one\n",
		        dir);
		return NULL;
	}
	chain = json_array();
	json_array_append_new(chain, leaf);
	if ((rest = certstore_load(dir, "chain")) != NULL &&
	    json_is_array(rest)) {
		json_array_extend(chain, rest);
	}
	json_decref(rest);
	return chain;
}

int
tb_cli_group_recover(int argc, char **argv)
{
	const char *dir = NULL, *file = NULL;
	char path[PATH_MAX + 48], err[512];
	json_t *doc = NULL, *root = NULL, *chain = NULL, *cur = NULL;
	json_t *fen = NULL, *members;
	struct node_config *cfg = NULL;
	uint64_t inc, was;
	raft_index at = 0;
	struct tb_diag d;
	int i, lock = -1, rc = TB_EXIT_INVALID;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--cert") && i + 1 < argc) {
			file = argv[++i];
		} else if (!strcmp(argv[i], "--help") ||
		           !strcmp(argv[i], "help")) {
			printf(RECOVER_USAGE
			       "  on a stopped survivor of a "
			       "group that lost its quorum, with "
			       "an incarnation certificate of the "
			       "parent (tongban cert incarnation; "
			       "docs/GROUPS.md)\n");
			return TB_EXIT_OK;
		} else {
			fprintf(stderr, RECOVER_USAGE);
			return TB_EXIT_USAGE;
		}
	}
	if (dir == NULL || file == NULL) {
		fprintf(stderr, RECOVER_USAGE);
		return TB_EXIT_USAGE;
	}
	if (sodium_init() < 0 || (cfg = calloc(1, sizeof(*cfg))) == NULL) {
		return TB_EXIT_INVALID;
	}
	if (node_config_load(dir, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban group recover: %s\n", err);
		goto out;
	}
	if ((lock = node_dir_lock(dir, err, sizeof(err))) < 0) {
		fprintf(stderr,
		        "tongban group recover: %s: stop the node first\n",
		        err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/root.json", dir);
	if ((doc = tb_cli_json_file("group recover", file)) == NULL ||
	    (root = tb_cli_json_file("group recover", path)) == NULL ||
	    (chain = node_chain(dir)) == NULL) {
		goto out;
	}
	tb_diag_init(&d);
	if (inc_verify(doc, cfg->region, root, chain, "$", &d) != TB_OK) {
		print_diag("group recover", file, &d);
		goto out;
	}
	members = json_object_get(doc, "members");
	if (strcmp(json_string_value(json_array_get(members, 0)),
	           cfg->node_id) != 0 ||
	    json_array_size(members) != 1) {
		fprintf(
		    stderr,
		    "tongban group recover: %s: $.members: %s: the "
		    "certificate must keep this node (%s) alone (recovering "
		    "with more than one survivor is not built: add the "
		    "others back with tongban group add)\n",
		    file,
		    json_array_size(members) != 1 ? "more than one member"
		                                  : "another node",
		    cfg->node_id);
		goto out;
	}
	inc = inc_number(doc);
	snprintf(path, sizeof(path), "%s/certs/incarnation.json", dir);
	if (access(path, F_OK) == 0 &&
	    (cur = tb_cli_json_file("group recover", path)) == NULL) {
		goto out;
	}
	was = inc_number(cur);
	if (inc <= was) {
		fprintf(stderr,
		        "tongban group recover: %s: $.incarnation: %llu is not "
		        "higher than the group's current incarnation %llu "
		        "(%s)\n",
		        file, (unsigned long long)inc, (unsigned long long)was,
		        cur != NULL ? "certs/incarnation.json"
		                    : "it never recovered");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/incarnation-fenced.json", dir);
	if (access(path, F_OK) == 0 &&
	    (fen = tb_cli_json_file("group recover", path)) != NULL &&
	    inc_number(fen) >= inc) {
		fprintf(stderr,
		        "tongban group recover: %s: $.incarnation: this node "
		        "is an old member fenced by incarnation %llu of its "
		        "group, which runs without it: recover a member of "
		        "that group, with an incarnation above %llu\n",
		        file, (unsigned long long)inc_number(fen),
		        (unsigned long long)inc_number(fen));
		goto out;
	}
	if (recover_raft(cfg, &at, err, sizeof(err)) != 0) {
		fprintf(stderr, "tongban group recover: %s (nothing changed)\n",
		        err);
		goto out;
	}
	/* certs/ holds no certificate of the node's any more (DIR/local,
	 * certstore.h), so it may not exist yet. */
	snprintf(path, sizeof(path), "%s/certs", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/certs/incarnation.json", dir);
	if (tb_cli_write_json(path, doc, 0644, false) != 0) {
		fprintf(stderr,
		        "tongban group recover: the Raft configuration is "
		        "recovered but %s could not be written: run the same "
		        "command again\n",
		        path);
		goto out;
	}
	if (fen != NULL) {
		snprintf(path, sizeof(path), "%s/incarnation-fenced.json", dir);
		unlink(path);
	}
	printf("node %s of %s: incarnation %llu (was %llu); its Raft "
	       "configuration is this node alone, as the only voter (log "
	       "entry %llu).\nStart it (tongban run --dir %s): it serves "
	       "writes alone; members of incarnation %llu are refused at the "
	       "link. Grow it again with tongban init --join and tongban group "
	       "add.\n",
	       cfg->node_id, cfg->region, (unsigned long long)inc,
	       (unsigned long long)was, (unsigned long long)at, dir,
	       (unsigned long long)was);
	rc = TB_EXIT_OK;
out:
	if (lock >= 0) {
		close(lock);
	}
	if (cfg != NULL) {
		node_config_wipe(cfg);
		free(cfg);
	}
	json_decref(doc);
	json_decref(root);
	json_decref(chain);
	json_decref(cur);
	json_decref(fen);
	return rc;
}
