#!/usr/bin/env bash
# Case creations answered before the store's commit (node/applier.h,
# APPLIER_DEFER_MS; docs/STORE.md "Replies before the commit"): under
# concurrent submissions the store commits far fewer times than it answers,
# and every request after a reply still sees that reply's write: 8 clients
# each create a case and read it back at once, then act on it with the
# version they were given, and list it; one client does the same alone
# (the read asks the writer to commit now). kill -9 with answers not yet
# committed in the store is node_crash.t's and node_powercut.t's part.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/powercut/workload.sh"
wl_seed

wl_setup a 100000
ok $? "a node with the standard layer and three materials"

metric() {
  curl -s "http://127.0.0.1:$PORT_a/metrics" | sed -n "s/^$1 //p"
}

# client C N: N rounds of create, read back, act, list; failures to
# $WL/bad.C, successes counted in $WL/good.C.
client() {
  local c=$1 n=$2 k out code id tpl url="http://127.0.0.1:$PORT_a"
  local auth="Authorization: Bearer $TOKEN_a"
  tpl=$(cat "$WL/body.json")
  for k in $(seq 1 "$n"); do
    out=$(curl -s --max-time 10 -w '\n%{http_code}' -X POST -H "$auth" \
      -H 'Content-Type: application/json' \
      --data-binary "${tpl//@@KEY@@/d$c-$k}" "$url/v1/cases")
    code=${out##*$'\n'}
    id=$(printf '%s' "$out" | sed -n 's/^{"case":{"id":"\([^"]*\)".*/\1/p')
    if [ "$code" != 201 ] || [ -z "$id" ]; then
      echo "create $c-$k: $code ${out%$'\n'*}" >>"$WL/bad.$c"
      continue
    fi
    code=$(curl -s -o "$WL/get.$c" -w '%{http_code}' -H "$auth" "$url/v1/cases/$id")
    if [ "$code" != 200 ] || ! grep -q "\"$id\"" "$WL/get.$c"; then
      echo "read back $id: $code $(head -c 300 "$WL/get.$c")" >>"$WL/bad.$c"
      continue
    fi
    code=$(curl -s -o "$WL/act.$c" -w '%{http_code}' -X POST -H "$auth" \
      -H 'Content-Type: application/json' -H 'If-Match: "1"' \
      --data-binary '{"action":"accept"}' "$url/v1/cases/$id/actions")
    if [ "$code" != 201 ] && [ "$code" != 200 ]; then
      echo "act on $id: $code $(head -c 300 "$WL/act.$c")" >>"$WL/bad.$c"
      continue
    fi
    echo "$id" >>"$WL/good.$c"
  done
}

commits0=$(metric tongban_store_commits_total)
early0=$(metric tongban_store_answered_early_total)
pids=()
for c in 1 2 3 4 5 6 7 8; do
  client "$c" 25 &
  pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p"; done
bad=$(cat "$WL"/bad.* 2>/dev/null | head -5)
is "$bad" "" "8 clients: every case read back and acted on at once after its 201"
is "$(cat "$WL"/good.* 2>/dev/null | wc -l)" 200 "  all 200 rounds"
commits=$(($(metric tongban_store_commits_total) - commits0))
early=$(($(metric tongban_store_answered_early_total) - early0))
echo "# $early writes answered before their commit, $commits store commits"
[ "$early" -ge 100 ]
ok $? "  creations were answered before their commit ($early of 200)"

rm -f "$WL"/bad.* "$WL"/good.*
client 9 20
is "$(cat "$WL"/bad.9 2>/dev/null | head -3)" "" "one client alone: each case read back and acted on at once"
is "$(cat "$WL"/good.9 2>/dev/null | wc -l)" 20 "  all 20 rounds"

api a GET "/v1/cases?limit=500"
is "$code" 200 "the list answers"
is "$(printf '%s' "$body" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["cases"]))')" 220 \
  "  with every case created"
node_kill a TERM
done_testing
