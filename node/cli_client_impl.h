/* Internals shared by node/cli_client*.c: the client verbs' usage, the
 * client and its replies, the HTTP helpers and the verbs that
 * tb_cli_client dispatches to. */
#ifndef TB_NODE_CLI_CLIENT_IMPL_H
#define TB_NODE_CLI_CLIENT_IMPL_H

#include "node/cli.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CLIENT_USAGE                                                           \
	"usage: tongban [--api URL] [--token T] [--json] VERB ...\n"           \
	"  status\n"                                                           \
	"  catalog publish RELEASE.json | catalog show | catalog matters | "   \
	"catalog matter CODE [--region R]\n"                                   \
	"  catalog rollout VERSION   who below applied a standard version\n"   \
	"  overlay publish OVERLAY.json\n"                                     \
	"  region status | region set-parent|add-peer CODE@tcp://HOST:PORT | " \
	"region remove-peer CODE\n"                                            \
	"  blob put FILE | blob get HASH [--out FILE]\n"                       \
	"  case submit CASE.json [--key IDEMPOTENCY-KEY]  (materials with\n"   \
	"      \"file\" are uploaded first and replaced by their hash)\n"      \
	"  case show ID | case list [--status S] [--overdue] [--limit N]\n"    \
	"  area cases [--state S] [--overdue] [--limit N] [--after ID]\n"      \
	"  case act ID ACTION [--if-match V] [--opinion TEXT] [--target S]\n"  \
	"  case handoff ID --to CODE [--mode M] [--reason R] [--wait SECS]\n"  \
	"  handoff list [--state S] [--side S] [--limit N] [--after C] | "     \
	"handoff show ID\n  handoff abort ID | handoff request ID [--reason "  \
	"R] | handoff refuse ID --reason R\n"                                  \
	"  events [--after N] [--limit N]\n"                                   \
	"  token create --role ROLE [--region CODE] [--name N] | token "       \
	"revoke ID\n"                                                          \
	"  token list   the node-local tokens of this region and below\n"      \
	"  cert join-token --region CODE --role member|peer|child [--ttl "     \
	"1h]\n"                                                                \
	"  links | links ping PEER [--payload TEXT] [--size N] "               \
	"[--timeout-ms N]\n"                                                   \
	"  group add NODE_ID HOST:PORT [--role voter|standby|spare] | group "  \
	"remove ID\n  group promote|demote ID [--role R] | group transfer "    \
	"[ID]\n  group features --set LEVEL   (at every region, province "     \
	"first:\n      2 starts the tree, 3 handoffs (every region on the "    \
	"way), 4 lists\n      and the root down the tree, 5 calendars; a "     \
	"child below its\n      parent's level refuses what needs more)\n"     \
	"environment: TONGBAN_API (default http://127.0.0.1:7400), "           \
	"TONGBAN_TOKEN\n"

struct cli_client {
	const char *api;
	const char *token;
	bool json;
};

struct cli_client_res {
	int status;
	char *body; /* NUL-terminated */
	size_t len;
};

/* cli_client_call performs one request; returns 0 with res filled
 * (caller frees res->body) or prints the transport error and returns
 * -1. */
int cli_client_call(const struct cli_client *cl, const char *method,
                    const char *uri, const char *ctype, const void *body,
                    size_t len, const char *extra_header,
                    const char *extra_value, struct cli_client_res *res);

/* cli_client_print shows a JSON reply: as is with --json, else readably;
 * an error reply prints "tongban: 409 illegal_transition: ..." to stderr.
 * Returns the exit code. */
int cli_client_print(const struct cli_client *cl,
                     const struct cli_client_res *r);

/* cli_client_simple sends the file (NULL: no body) as JSON with an
 * optional header and prints the reply; returns the exit code. */
int cli_client_simple(const struct cli_client *cl, const char *method,
                      const char *uri, const char *file, const char *hname,
                      const char *hval);

/* cli_client_usage says what is wrong with a client verb's arguments
 * (a missing argument or an unknown sub-verb) on one line, then prints the
 * usage; returns TB_EXIT_USAGE. */
int cli_client_usage(int argc, char **argv);

/* cli_client_opt_value returns the value after --name in argv, or NULL. */
const char *cli_client_opt_value(int argc, char **argv, const char *name);

/* cli_client_opt_flag tells whether argv holds name. */
bool cli_client_opt_flag(int argc, char **argv, const char *name);

/* cli_client_post_json sends body (stolen) as JSON with an optional
 * header and prints the reply; returns the exit code. */
int cli_client_post_json(const struct cli_client *cl, const char *uri,
                         json_t *body, const char *hname, const char *hval);

/* The verbs, each given argv from the verb's name; each returns an exit
 * code. node/cli_client_case.c: */
int cli_client_case(const struct cli_client *cl, int argc, char **argv);
/* node/cli_client_admin.c: */
int cli_client_token(const struct cli_client *cl, int argc, char **argv);
int cli_client_links(const struct cli_client *cl, int argc, char **argv);
int cli_client_group(const struct cli_client *cl, int argc, char **argv);
int cli_client_join_token(const struct cli_client *cl, int argc, char **argv);
int cli_client_region(const struct cli_client *cl, int argc, char **argv);

#endif
