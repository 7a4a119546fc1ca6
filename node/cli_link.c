/* The 'link' verb (a node's configured peers in DIR/links.json, edited
 * offline; a running node picks changes up within a second) and the table
 * that 'tongban links' prints. The region-tree commands of a later issue
 * will replace links.json with the replicated tree. */
#include "node/cli.h"

#include "schema/region.h"
#include "schema/spec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINK_USAGE                                                          \
	"usage: tongban link add --dir DIR --region CODE --url "            \
	"tcp://HOST:PORT [--node-id ID]\n"                                  \
	"       tongban link remove --dir DIR (--url URL | --region CODE "  \
	"[--node-id ID])\n"                                                 \
	"       tongban link list --dir DIR [--json]\n"                     \
	"  Peers this node dials (DIR/links.json); a running node applies " \
	"changes\n  within a second. It accepts links from any node whose " \
	"certificate\n  chain verifies against its root.\n"                 \
	"  A link is not a place in the tree: the region above is set "     \
	"with\n  tongban region set-parent CODE@tcp://HOST:PORT (or init "  \
	"--parent),\n  which adds its link here too; only then do the "     \
	"catalog and case\n  summaries flow (docs/REPLICATION.md).\n"

static int
usage(const char *why)
{
	fprintf(stderr, "tongban link: %s\n%s", why, LINK_USAGE);
	return TB_EXIT_USAGE;
}

static const char *
opt(int argc, char **argv, const char *name)
{
	int i;

	for (i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], name)) {
			return argv[i + 1];
		}
	}
	return NULL;
}

static bool
node_id_ok(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

/* url_ok accepts tcp://HOST:PORT with a port of 1..65535. */
static bool
url_ok(const char *url)
{
	const char *colon = strrchr(url, ':');
	char *end;
	long port;

	if (strncmp(url, "tcp://", 6) != 0 || strlen(url) >= 256 ||
	    colon == NULL || colon <= url + 6) {
		return false;
	}
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

static json_t *
load_links(const char *path)
{
	json_error_t je;
	json_t *doc;

	if (access(path, F_OK) != 0) {
		return json_pack("{s:s, s:[]}", "format", "tongban.links/1",
		                 "peers");
	}
	if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		fprintf(stderr, "tongban link: %s: line %d: %s\n", path,
		        je.line, je.text);
		return NULL;
	}
	if (!json_is_array(json_object_get(doc, "peers"))) {
		fprintf(stderr, "tongban link: %s: no peers array\n", path);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int
link_add(const char *path, const char *region, const char *url, const char *id)
{
	json_t *doc, *peers, *p, *e;
	int32_t code;
	size_t i;
	int rc;

	if (region == NULL || url == NULL) {
		return usage("add needs --region and --url");
	}
	if (region_code_parse(region, &code) != TB_OK ||
	    region_find(region_builtin(), code) == NULL) {
		fprintf(stderr, "tongban link: %s: not a region of GB/T 2260\n",
		        region);
		return TB_EXIT_INVALID;
	}
	if (!url_ok(url)) {
		fprintf(stderr, "tongban link: %s: tcp://HOST:PORT expected\n",
		        url);
		return TB_EXIT_INVALID;
	}
	if (id != NULL && !node_id_ok(id)) {
		fprintf(stderr,
		        "tongban link: %s: a node id is 16 lowercase "
		        "hex digits\n",
		        id);
		return TB_EXIT_INVALID;
	}
	if ((doc = load_links(path)) == NULL) {
		return TB_EXIT_INVALID;
	}
	peers = json_object_get(doc, "peers");
	e = json_pack("{s:s, s:s}", "region", region, "url", url);
	if (id != NULL) {
		json_object_set_new(e, "node_id", json_string(id));
	}
	/* One entry per URL: adding it again replaces it. */
	for (i = 0; i < json_array_size(peers); i++) {
		p = json_array_get(peers, i);
		if (spec_str(p, "url") != NULL &&
		    !strcmp(spec_str(p, "url"), url)) {
			json_array_remove(peers, i);
			break;
		}
	}
	json_array_append_new(peers, e);
	rc = tb_cli_write_json(path, doc, 0644, false) == 0 ? TB_EXIT_OK
	                                                    : TB_EXIT_INVALID;
	if (rc == TB_EXIT_OK) {
		printf("%s: link to %s at %s%s%s (%zu peers)\n", path, region,
		       url, id ? " node " : "", id ? id : "",
		       json_array_size(peers));
	}
	json_decref(doc);
	return rc;
}

static int
link_remove(const char *path, const char *region, const char *url,
            const char *id)
{
	json_t *doc, *peers, *p;
	size_t i, removed = 0;
	int rc;

	if (url == NULL && region == NULL) {
		return usage("remove needs --url or --region");
	}
	if ((doc = load_links(path)) == NULL) {
		return TB_EXIT_INVALID;
	}
	peers = json_object_get(doc, "peers");
	for (i = 0; i < json_array_size(peers);) {
		const char *pu, *pr, *pi;
		p = json_array_get(peers, i);
		pu = spec_str(p, "url");
		pr = spec_str(p, "region");
		pi = spec_str(p, "node_id");
		if ((url == NULL || (pu && !strcmp(pu, url))) &&
		    (region == NULL || (pr && !strcmp(pr, region))) &&
		    (id == NULL || (pi && !strcmp(pi, id)))) {
			json_array_remove(peers, i);
			removed++;
		} else {
			i++;
		}
	}
	if (removed == 0) {
		fprintf(stderr, "tongban link: %s: no such peer\n", path);
		json_decref(doc);
		return TB_EXIT_INVALID;
	}
	rc = tb_cli_write_json(path, doc, 0644, false) == 0 ? TB_EXIT_OK
	                                                    : TB_EXIT_INVALID;
	if (rc == TB_EXIT_OK) {
		printf("%s: removed %zu peer%s (%zu left)\n", path, removed,
		       removed == 1 ? "" : "s", json_array_size(peers));
	}
	json_decref(doc);
	return rc;
}

static int
link_list(const char *path, bool json)
{
	json_t *doc, *p;
	size_t i;

	if ((doc = load_links(path)) == NULL) {
		return TB_EXIT_INVALID;
	}
	if (json) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		json_array_foreach(json_object_get(doc, "peers"), i, p)
		{
			printf("%s %s%s%s\n", spec_str(p, "region"),
			       spec_str(p, "url"),
			       spec_str(p, "node_id") ? " node " : "",
			       spec_str(p, "node_id") ? spec_str(p, "node_id")
			                              : "");
		}
	}
	json_decref(doc);
	return TB_EXIT_OK;
}

int
tb_cli_link(int argc, char **argv)
{
	const char *dir = opt(argc, argv, "--dir");
	char path[PATH_MAX + 32], cfg[PATH_MAX + 32];
	bool json = false;
	int i;

	for (i = 1; i < argc; i++) {
		json = json || !strcmp(argv[i], "--json");
	}
	if (argc < 2 || !strcmp(argv[1], "help") ||
	    !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout, "%s", LINK_USAGE);
		return argc < 2 ? TB_EXIT_USAGE : TB_EXIT_OK;
	}
	if (dir == NULL) {
		return usage("--dir is required");
	}
	snprintf(cfg, sizeof(cfg), "%s/tongban.json", dir);
	if (access(cfg, F_OK) != 0) {
		fprintf(stderr,
		        "tongban link: %s holds no node (tongban init "
		        "first)\n",
		        dir);
		return TB_EXIT_INVALID;
	}
	snprintf(path, sizeof(path), "%s/links.json", dir);
	if (!strcmp(argv[1], "add")) {
		return link_add(path, opt(argc, argv, "--region"),
		                opt(argc, argv, "--url"),
		                opt(argc, argv, "--node-id"));
	}
	if (!strcmp(argv[1], "remove")) {
		return link_remove(path, opt(argc, argv, "--region"),
		                   opt(argc, argv, "--url"),
		                   opt(argc, argv, "--node-id"));
	}
	if (!strcmp(argv[1], "list")) {
		return link_list(path, json);
	}
	return usage("unknown subcommand");
}

static const char *
str_of(const json_t *o, const char *key, const char *dflt)
{
	const char *s = spec_str(o, key);

	return s != NULL ? s : dflt;
}

int
tb_cli_links_table(const char *body, size_t len)
{
	json_error_t je;
	json_t *v = json_loadb(body, len, 0, &je), *l;
	char rtt[32], frames[48], bytes[48], rekeys[48];
	size_t i;

	if (v == NULL) {
		fprintf(stderr,
		        "tongban links: the node's answer is not JSON\n");
		return TB_EXIT_INVALID;
	}
	if (!json_is_true(json_object_get(v, "enabled"))) {
		printf("links are off on node %s of %s (no certificate "
		       "installed)\n",
		       str_of(v, "node_id", "?"), str_of(v, "region", "?"));
		json_decref(v);
		return TB_EXIT_OK;
	}
	printf("node %s of %s, listening on %s\n", str_of(v, "node_id", "?"),
	       str_of(v, "region", "?"), str_of(v, "listen", "?"));
	if (json_object_get(v, "trust_root") != NULL) {
		const json_t *tr = json_object_get(v, "trust_root");
		printf("trust root: version %lld from %s; %lld periodic new "
		       "handshakes\n",
		       spec_int(tr, "version", 0),
		       !strcmp(str_of(tr, "source", ""), "stored")
		           ? "the group's stored root"
		           : "root.json",
		       spec_int(v, "rehandshakes", 0));
	}
	printf("%-16s %-6s %-3s %-11s %-3s %9s %15s %21s %11s %-20s %s\n",
	       "PEER", "REGION", "DIR", "STATE", "HS", "RTT", "FRAMES TX/RX",
	       "BYTES TX/RX", "REKEYS", "CERT EXPIRES", "LAST ERROR");
	json_array_foreach(json_object_get(v, "links"), i, l)
	{
		json_t *r = json_object_get(l, "rtt_ms");
		if (json_is_number(r)) {
			snprintf(rtt, sizeof(rtt), "%.2fms",
			         json_number_value(r));
		} else {
			snprintf(rtt, sizeof(rtt), "-");
		}
		snprintf(frames, sizeof(frames), "%lld/%lld",
		         spec_int(l, "frames_tx", 0),
		         spec_int(l, "frames_rx", 0));
		snprintf(bytes, sizeof(bytes), "%lld/%lld",
		         spec_int(l, "bytes_tx", 0),
		         spec_int(l, "bytes_rx", 0));
		snprintf(rekeys, sizeof(rekeys), "%lld/%lld",
		         spec_int(l, "rekeys_tx", 0),
		         spec_int(l, "rekeys_rx", 0));
		printf("%-16s %-6s %-3s %-11s %-3s %9s %15s %21s %11s %-20s "
		       "%s\n",
		       str_of(l, "peer_node_id", "?"),
		       str_of(l, "peer_region", "?"),
		       str_of(l, "direction", "?"), str_of(l, "state", "?"),
		       str_of(l, "pattern", "-"), rtt, frames, bytes, rekeys,
		       str_of(l, "cert_not_after", "-"),
		       str_of(l, "last_error", ""));
	}
	json_decref(v);
	return TB_EXIT_OK;
}
