/* The command-line verbs of the tongban binary. */
#ifndef TB_NODE_CLI_H
#define TB_NODE_CLI_H

#include "schema/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes every verb uses: 0 valid/success, 1 invalid input or failed
 * operation, 2 usage error. */
#define TB_EXIT_OK      0
#define TB_EXIT_INVALID 1
#define TB_EXIT_USAGE   2

/* tb_cli_main dispatches argv[1] to a verb and returns the exit code. */
int tb_cli_main(int argc, char **argv);

/* Verbs: each receives argc/argv starting at the verb's own arguments
 * (argv[0] is the verb name, e.g. "check"), returns an exit code. */
int tb_cli_catalog(int argc, char **argv);
int tb_cli_overlay(int argc, char **argv);
int tb_cli_deadline(int argc, char **argv);
/* node/cli_calendar.c: calendar publish | show through a node. */
int tb_cli_calendar(int argc, char **argv);
/* tb_cli_calendar_json: the same, with the global --json given before
 * the verb (tongban --json calendar show). */
int tb_cli_calendar_json(int argc, char **argv, bool json);
int tb_cli_lifecycle(int argc, char **argv);
int tb_cli_region(int argc, char **argv);
int tb_cli_keygen(int argc, char **argv);
int tb_cli_init(int argc, char **argv);
int tb_cli_run(int argc, char **argv);
int tb_cli_index_key(int argc, char **argv);

/* tb_cli_parse_ttl reads "90s", "30m", "8h", "7d" into seconds; -1 if
 * bad. */
long long tb_cli_parse_ttl(const char *s);

/* tb_cli_install_region_key stores the region key of the node's region
 * certificate in DIR/keys/region.json (0600), so that the node issues
 * certificates for join tokens (node/cli_join.c). Returns an exit code. */
int tb_cli_install_region_key(const char *dir, const char *keyfile);

/* Enrolment with a join token (node/cli_join.c), in two steps so that a
 * refusal leaves nothing behind: tb_cli_join_fetch makes the node's keys
 * (and for a child token the new region's) in k, dials the issuer and
 * returns its answer (*ans) and the node's request (*node_req); then
 * init makes the directory with those keys and tb_cli_join_install
 * installs what came. Both print the reason and return an exit code. */
struct node_config;
struct join_token;
struct tb_join_keys {
	uint8_t seed[32], sign_pk[32], sign_sk[64];
	uint8_t kx_sk[32], kx_pk[32];
	uint8_t region_seed[32];
	char node_id[17];
};
int tb_cli_join_fetch(const struct join_token *t, const char *name,
                      struct tb_join_keys *k, json_t **ans, json_t **node_req);
int tb_cli_join_install(const struct node_config *cfg,
                        const struct join_token *t,
                        const struct tb_join_keys *k, const json_t *ans,
                        const json_t *node_req, const char *join,
                        bool keep_index_key);
void tb_join_keys_wipe(struct tb_join_keys *k);
/* tb_cli_join_exchange dials the token's issuer, pins its key, sends doc
 * (the join request) in the third handshake message and returns the
 * answer (*ans, {"error": ...} for a refusal); on failure err says why
 * (node/cli_join_wire.c). */
int tb_cli_join_exchange(const struct join_token *t, const uint8_t kx_sk[32],
                         const json_t *doc, json_t **ans, char *err,
                         size_t errlen);

/* tb_cli_request performs one HTTP request (body NULL or JSON text):
 * prints the reply as the client verbs do when print, sets *status (0 if
 * there was no answer) and *out (may be NULL: the parsed reply, or NULL).
 * Returns an exit code. */
int tb_cli_request(const char *api, const char *token, bool json,
                   const char *method, const char *uri, const char *body,
                   bool print, int *status, json_t **out);

/* tb_cli_catalog_show: tongban catalog show (node/cli_latest.c). */
int tb_cli_catalog_show(const char *api, const char *token, bool json);

/* tb_cli_catalog_rollout: tongban catalog rollout VERSION: the JSON on
 * stdout, a line per region below on stderr (node/cli_latest.c). */
int tb_cli_catalog_rollout(const char *api, const char *token, bool json,
                           const char *version);

/* tb_cli_status_show: tongban status: the JSON on stdout and a summary for
 * people on stderr (node/cli_status.c). */
int tb_cli_status_show(const char *api, const char *token, bool json);

/* node/cli_show.c: summaries for people on stderr of the verbs whose
 * stdout is the node's JSON (kept as is for scripts); --json: none. */

/* tb_cli_get_shown GETs uri, prints the reply as the client verbs do and,
 * unless json, show(reply) on stderr. Returns the exit code. */
int tb_cli_get_shown(const char *api, const char *token, bool json,
                     const char *uri, void (*show)(const json_t *v));
/* tb_cli_str: obj's string member key for a printf %s, "?" if it has none
 * (a summary line of a reply from another build may lack one). */
const char *tb_cli_str(const json_t *obj, const char *key);
void tb_cli_show_case(const json_t *c);
void tb_cli_show_cases(const json_t *v);
void tb_cli_show_events(const json_t *v);
void tb_cli_show_handoffs(const json_t *v);
/* tb_cli_status_tree prints GET /v1/region's view (node/cli_status.c). */
void tb_cli_status_tree(const json_t *tree);

/* tb_cli_case_precheck: before `case submit` uploads materials, its
 * matter (case c, read from file) must be in the node's catalog (GET
 * /v1/catalog/matters/CODE, 404: refused naming $.matter). Returns 0 to
 * go on, -1 after printing why not (node/cli_case.c). */
int tb_cli_case_precheck(const char *api, const char *token, const json_t *c,
                         const char *file);

/* tb_cli_area: tongban area cases [--state S] [--overdue] [--limit N]
 * [--after ID] (GET /v1/area/cases). */
int tb_cli_area(int argc, char **argv, const char *api, const char *token,
                bool json);

/* tb_cli_handoff: tongban case handoff ID ..., tongban handoff list|show|
 * abort (node/cli_handoff.c). */
int tb_cli_handoff(int argc, char **argv, const char *api, const char *token,
                   bool json);

/* tb_cli_client runs a client verb against a node's HTTP API. */
int tb_cli_client(int argc, char **argv, const char *api, const char *token,
                  bool json);
/* tb_cli_client_set keeps the global --api and --token (NULL: absent) for
 * the verbs that call a node from inside an offline one (tb_cli_http). */
void tb_cli_client_set(const char *api, const char *token);
/* tb_cli_client_usage prints the client verbs' usage to f. */
void tb_cli_client_usage(FILE *f);

/* tb_cli_http sends body (JSON, may be NULL; only read) to the node's API
 * (--api and --token, else TONGBAN_API and TONGBAN_TOKEN) and sets *status
 * and *reply (the parsed answer, NULL if it is not JSON; caller decrefs).
 * Returns 0, or -1 after printing the transport error. */
int tb_cli_http(const char *method, const char *uri, const json_t *body,
                int *status, json_t **reply);

/* node/cli_crl.c: revocation lists committed through a node's group. */

/* tb_cli_crl_stored returns the stored list of the issuer (region, and key
 * hex, or NULL for the root's officers) from GET /v1/crls, a new
 * reference, or NULL when the node stores none (or cannot be asked). */
json_t *tb_cli_crl_stored(const char *region, const char *key_hex);

/* tb_cli_crl_commit POSTs crl (with chain, an array, when not NULL) to
 * /v1/crls and prints the outcome; returns the exit code. */
int tb_cli_crl_commit(const json_t *crl, const json_t *chain, bool json);

/* tb_cli_crl_show_stored prints the lists a node stores (GET /v1/crls),
 * each through describe; returns the exit code. */
int tb_cli_crl_show_stored(bool json, void (*describe)(const json_t *doc));

/* tb_cli_root_commit POSTs root (a tongban.root/1) to /v1/root and prints
 * the outcome; returns the exit code. */
int tb_cli_root_commit(const json_t *root, bool json);

/* tb_cli_root_install runs `tongban root install ROOT.json --commit
 * [--json]` (argv[0] is "install"); returns the exit code. */
int tb_cli_root_install(int argc, char **argv);

int tb_cli_root(int argc, char **argv);
int tb_cli_sign(int argc, char **argv);
int tb_cli_cert(int argc, char **argv);
int tb_cli_link(int argc, char **argv);
int tb_cli_token(int argc, char **argv);

/* node/cli_recover.c: tongban cert incarnation (argv[0] "incarnation")
 * and tongban group recover (argv[0] "group", argv[1] "recover"). */
int tb_cli_cert_incarnation(int argc, char **argv);
int tb_cli_group_recover(int argc, char **argv);

/* tb_cli_install_xcert checks the cross-certificate in file against the
 * node's root in dir (fields, threshold officers, validity, another
 * province) and stores it as record xcert-REGION of dir/local
 * (node/certstore.h). Returns an exit code (TB_EXIT_OK, TB_EXIT_INVALID
 * with the reason on stderr). */
int tb_cli_install_xcert(const char *dir, const char *file);

/* tb_cli_cert_export writes record name (node, chain, xcert-REGION) of
 * dir/local as JSON to out (stdout when NULL): tongban cert export. */
int tb_cli_cert_export(const char *dir, const char *name, const char *out);

/* tb_cli_print_grants prints what the cross-certificate x grants the
 * other province's API tokens (one indented line). */
void tb_cli_print_grants(const json_t *x);

/* tb_cli_links_table prints GET /v1/links's answer as a table. */
int tb_cli_links_table(const char *body, size_t len);

/* tb_cli_write_json writes v to path atomically (temporary file, fsync,
 * rename) with the given mode; excl refuses to replace an existing file.
 * Prints the reason and returns -1 on failure, else 0. */
int tb_cli_write_json(const char *path, const json_t *v, unsigned mode,
                      bool excl);

/* tb_cli_load_key reads a tongban.key/1 file (keygen's, or a node's
 * keys/node.json) into pk and, if sk is not NULL, the secret key made from
 * its seed. Prints the reason and returns -1 on failure, else 0. */
int tb_cli_load_key(const char *path, unsigned char pk[32],
                    unsigned char sk[64]);

/* tb_cli_rekey_next gives the node's next keys for a rotation
 * (node/cli_rekey.c): those pending in DIR/keys/node.next.json, or new ones
 * written there (mode 0600). Prints the reason and returns -1 on failure,
 * else 0; sk must be wiped by the caller. */
int tb_cli_rekey_next(const char *dir, unsigned char pk[32],
                      unsigned char sk[64], unsigned char kx[32]);

/* tb_cli_rekey_promote moves the pending keys into DIR/keys/node.json
 * (atomically; the node id and the index key stay) if they are pk and kx.
 * Returns 0 when it did, 1 when no such keys are pending, -1 on failure
 * (reason printed). */
int tb_cli_rekey_promote(const char *dir, const unsigned char pk[32],
                         const unsigned char kx[32]);

/* tb_cli_rekey_done removes the pending keys once installed. */
void tb_cli_rekey_done(const char *dir);

/* tb_cli_read_file reads path into a NUL-terminated malloc'd buffer
 * (caller frees) or returns NULL and prints "tongban: PATH: reason" to
 * stderr. Files over max bytes are refused. */
char *tb_cli_read_file(const char *path, size_t max, size_t *lenp);

/* tb_cli_json_file loads a JSON file (duplicate keys refused) or returns
 * NULL and prints "tongban CMD: PATH: line L column C: reason". */
json_t *tb_cli_json_file(const char *cmd, const char *path);

/* tb_cli_now_ms is the wall clock in milliseconds since the epoch. */
int64_t tb_cli_now_ms(void);

/* A report of validation results: lines "FILE: PATH: reason" on stdout,
 * or with json set one JSON object {"valid", "files", "errors"} printed by
 * tb_report_finish. */
struct tb_report {
	bool json;
	int nerr;
	json_t *errors; /* array of {file, path, code, reason} */
	json_t *files;  /* array of per-file summaries */
};

/* tb_report_init prepares r; returns TB_OK or TB_ENOMEM. */
int tb_report_init(struct tb_report *r, bool json);

/* tb_report_diag adds every entry of d (and a line for dropped ones). */
void tb_report_diag(struct tb_report *r, const char *file,
                    const struct tb_diag *d);

/* tb_report_error adds one error. */
void tb_report_error(struct tb_report *r, const char *file, const char *path,
                     int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* tb_report_file records a per-file summary object (reference stolen);
 * in text mode prints its "summary" string. */
void tb_report_file(struct tb_report *r, const char *file, json_t *summary);

/* tb_report_finish prints the JSON object in json mode, frees r and
 * returns TB_EXIT_OK if no errors were reported, else TB_EXIT_INVALID. */
int tb_report_finish(struct tb_report *r);

/* tb_cli_load_json reads and parses a JSON file (duplicate keys refused,
 * at most 64 MiB). On failure reports "FILE: line L column C: reason" to
 * r and returns NULL. */
json_t *tb_cli_load_json(struct tb_report *r, const char *path);

struct catalog;

/* tb_cli_load_root loads and verifies a root metadata file (m-of-n
 * signatures, expiry against the clock); NULL after reporting. */
json_t *tb_cli_load_root(struct tb_report *r, const char *path);

/* tb_cli_fold_catalog applies release files in order to cat, reporting a
 * summary per file, or the problems of the first file that fails (and
 * then returns TB_EINVAL). root may be NULL (signatures not checked). */
int tb_cli_fold_catalog(struct tb_report *r, char **files, size_t n,
                        const json_t *root, struct catalog *cat);

#endif
