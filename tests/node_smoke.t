#!/usr/bin/env bash
# A node starts, serves, publishes the example catalog, takes a case, and
# keeps it across a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
node_init a 370000
is "$?" 0 "init"
ok "$([ "$(stat -c %a "$T/a/keys/node.json")" = 600 ]; echo $?)" "keys are owner-only"
node_start a
is "$?" 0 "the node becomes ready"
api a GET /v1/status
is "$code" 200 "status"
like "$body" '"role":"leader"' "a one-voter group leads"
api a POST /v1/catalog/releases --data-binary @"$TB_SRC/ops/examples/catalog-370000.json"
is "$code" 201 "publish the standard layer"
like "$body" '"version":1' "at version 1"
api a POST /v1/catalog/releases --data-binary @"$TB_SRC/ops/examples/catalog-370000.json"
is "$code" 409 "publishing version 1 again is refused"
like "$body" '"code":"bad_chain"' "as a chain error"
api a GET /v1/catalog/matters/000117001000%2301
is "$code" 200 "an effective matter by basic key"
like "$body" '食品经营许可' "its name"
node_kill a TERM
node_start a
is "$?" 0 "restarts"
api a GET /v1/catalog
is "$code" 200 "catalog after restart"
like "$body" '"version":1' "still at version 1"
TOKEN_OVERRIDE=tb_000000 api a GET /v1/status
is "$code" 401 "a wrong token is refused"
done_testing
