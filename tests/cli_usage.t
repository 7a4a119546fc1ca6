#!/usr/bin/env bash
# The tongban binary's dispatch: usage errors exit 2, help exits 0.
. "$(dirname "$0")/lib.sh"
tb=$TB_BUILD/tongban
run "$tb"
is "$rc" 2 "no verb is a usage error"
run "$tb" help
is "$rc" 0 "help exits 0"
like "$out" "catalog check" "help lists catalog check"
like "$out" "token sign --key CLIENT.key" "help lists token sign"
run "$tb" token help
is "$rc" 0 "token help exits 0 (offline, no node needed)"
like "$out" "--chain: the client certificate" "  and explains --chain"
run "$tb" token sign --key k.json
is "$rc" 2 "token sign without --chain, --role, --scope is a usage error"
like "$err" "--key, --chain, --role and --scope are required" "  named"
run "$tb" frobnicate
is "$rc" 2 "unknown verb exits 2"
like "$err" "unknown verb 'frobnicate'" "and names it"
run "$tb" status --help
is "$rc" 0 "status --help prints the client verbs (it used to print the status)"
like "$out" "catalog rollout VERSION" "  which list catalog rollout"
like "$out" "region set-parent" "  and the region verbs"
run "$tb" status bogus
is "$rc" 2 "status with an unknown argument is a usage error"
like "$err" "tongban status: takes no arguments" "  named"
run "$tb" help
like "$out" "--parent CODE@tcp://HOST:PORT" "help shows init --parent"
done_testing
