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
like "$out" "tongban group features [--set LEVEL]" "help shows group features (a group needs level 2 to issue join tokens)"
like "$out" "tongban catalog rollout VERSION" "help shows catalog rollout"
like "$out" "cert request|issue|install|revoke|show|verify|cross|export|incarnation" \
  "help lists cert incarnation (a quorum-loss recovery starts with it)"
run "$tb" init --dir "$T/ap" --region 370102 --api 127.0.0.1
is "$rc $err" "1 tongban init: --api 127.0.0.1: HOST:PORT expected, port 0 (a free one) to 65535" \
  "init --api without a port is refused (it listened on port 80)"
ok "$([ ! -e "$T/ap" ]; echo $?)" "  and makes nothing"
run "$tb" init --dir "$T/ap" --region 370102 --link tcp://10.0.0.1:7401
like "$rc $err" "1 tongban init: --link tcp://10.0.0.1:7401: HOST:PORT expected" \
  "init --link with a URL is refused (the group would record it)"
run "$tb" init --dir "$T/ap" --region 370102 --link 127.0.0.1:7401 --join 10.0.0.1
like "$rc $err" "1 tongban init: --join 10.0.0.1: HOST:PORT expected, port 1 to 65535" \
  "init --join without a port is refused"
run "$tb" group recover --help
is "$rc" 0 "group recover --help exits 0"
like "$out" "usage: tongban group recover --dir DIR --cert FILE" "  with its usage on stdout"
# A client verb without --api or TONGBAN_API talks to the default address;
# when nothing listens there (port 7400 is not ours to bind), it says so.
if ! curl -s -o /dev/null -m 2 http://127.0.0.1:7400/healthz; then
  run env -u TONGBAN_API "$tb" status
  like "$err" "Connection refused (the default address: no --api URL before the verb and no TONGBAN_API" \
    "a refused connection to the default address says it was the default"
  run env -u TONGBAN_API "$tb" --api http://127.0.0.1:7400 status
  unlike "$err" "the default address" "  not when --api named it"
else
  ok 0 "# skip: something listens on 127.0.0.1:7400"
  ok 0 "# skip"
fi
run "$tb" init --dir "$T/i1" --region 37010
is "$rc $err" "1 tongban init: --region 37010: must be 6 digits, or 12 ending in 000000" \
  "init names --region and the value of a malformed code"
run "$tb" init --dir "$T/i1" --region 999999
is "$rc $err" "1 tongban init: --region 999999: no such region in GB/T 2260" \
  "  and of a code not in the table"
run "$tb" init --dir "$T/i2" --region 370102 --api 127.0.0.1:0 \
  --parent 370100@tcp://127.0.0.1:7401 --parent 370100@tcp://127.0.0.1:7402
is "$rc $err" "2 tongban init: --parent given twice (370100@tcp://127.0.0.1:7401, then 370100@tcp://127.0.0.1:7402)" \
  "a second --parent is refused (the last one used to win silently)"
[ ! -e "$T/i1" ] && [ ! -e "$T/i2" ]
ok $? "  and nothing was made"
mkdir "$T/empty"
run "$tb" run --dir "$T/empty"
is "$rc" 1 "run on a directory without a node fails"
like "$err" '"id":"TB-CONFIG","msg":"'"$T"'/empty: no node in this directory (no tongban.json): tongban init --dir' \
  "  saying there is no node (it used to log TB-NODE-LOCKED: run.lock: No such file ...)"
[ -z "$(ls -A "$T/empty")" ]
ok $? "  and leaves the directory empty (no run.lock)"
run "$tb" run --dir "$T/none"
like "$err" "$T/none: no node in this directory" "  the same for a directory that does not exist"
mkdir -p "$T/case/m" && echo a >"$T/case/m/a.txt"
printf '{"matter":"000117001000#01","materials":[{"code":"M01","file":"m/a.txt"},{"code":"M03","file":"m/nope.txt"}]}' \
  >"$T/case/c.json"
run "$tb" --api http://127.0.0.1:1 --token tb_x case submit "$T/case/c.json"
is "$rc" 1 "case submit with a material file missing fails"
is "$err" "tongban case submit: $T/case/c.json: \$.materials[1].file: $T/case/m/nope.txt: No such file or directory (nothing was uploaded)" \
  "  naming the field and the path, before any upload (no node is asked: port 1)"
"$tb" init --dir "$T/nc" --region 370102 --api 127.0.0.1:0 --link 127.0.0.1:0 \
  --parent 370100@tcp://127.0.0.1:1 >/dev/null 2>&1
timeout -s TERM 3 "$tb" run --dir "$T/nc" >"$T/nc.log" 2>&1
like "$(grep '"TB-LINK-OFF"' "$T/nc.log")" '"level":"warn","id":"TB-LINK-OFF","msg":"links are off: '"$T"'/nc has no certificate' \
  "a node with a parent but no certificate warns that its links are off (it was an info line)"
like "$(grep '"TB-LINK-OFF"' "$T/nc.log")" "its parent and peers in the tree of regions cannot be reached until then" \
  "  and says what that means"
done_testing
