#!/usr/bin/env bash
# The tongban binary's dispatch: usage errors exit 2, help exits 0.
. "$(dirname "$0")/lib.sh"
tb=$TB_BUILD/tongban
run "$tb"
is "$rc" 2 "no verb is a usage error"
run "$tb" help
is "$rc" 0 "help exits 0"
like "$out" "catalog check" "help lists catalog check"
run "$tb" frobnicate
is "$rc" 2 "unknown verb exits 2"
like "$err" "unknown verb 'frobnicate'" "and names it"
done_testing
