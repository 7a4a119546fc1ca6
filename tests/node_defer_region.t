#!/usr/bin/env bash
# Region messages while case creations are answered before their store
# commit (docs/STORE.md, "Replies before the commit"): 370202 queries
# 370102's cases while four clients create cases at 370102 without pause
# (so a write answered and not yet committed is almost always pending
# there, and the link gate holds region messages for its commit). Every
# query is answered, within 5 s, and a case created at 370102 is found by
# a query from 370202 sent right after its 201. (node_region_flow.t and
# node_handoff_more.t are the cases that failed before the gate existed;
# this one checks that the gate never starves region traffic under load.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
. "$(dirname "$0")/handoff_lib.sh"
cd "$T"
C=$TB_SRC/ops/examples/catalog-370000.json

region_node P 370000 && region_node C 370100 P && region_node C2 370200 P &&
  region_node A 370102 C noparent && region_node B 370202 C2 noparent
is "$?" 0 "enrol 370102 and 370202"
node_start A && node_start B
is "$?" 0 "both nodes start"
# TB_HANDOFF_LEVEL (schema/command.h): peers and remote reads need it.
HL=$(sed -n 's/^#define TB_HANDOFF_LEVEL \([0-9]*\)$/\1/p' "$TB_SRC/schema/command.h")
for n in A B; do
  a="API_$n" t="TOKEN_$n"
  run "$TB" --api "${!a}" --token "${!t}" group features --set "$HL"
  is "$rc" 0 "tongban group features --set $HL at $n"
done
run "$TB" --api "$API_A" --token "$TOKEN_A" region add-peer "370202@tcp://127.0.0.1:$LINK_B"
is "$rc" 0 "370102 adds 370202 as a sideways peer"
run "$TB" --api "$API_B" --token "$TOKEN_B" region add-peer "370102@tcp://127.0.0.1:$LINK_A"
is "$rc" 0 "370202 adds 370102 as a sideways peer"
cp "$C" "$T/rel1.json" && "$TB" sign --key "$T/P/keys/node.json" "$T/rel1.json"
for n in A B; do
  api "$n" POST /v1/catalog/releases --data-binary @"$T/rel1.json"
  is "$code" 201 "the example standard published at $n"
done
CID=$(handoff_case)
ok "$([ -n "$CID" ]; echo $?)" "a case received at 370102: $CID"
asked() {
  api B GET "/v1/cases/$CID"
  [ "$code" = 200 ]
}
wait_for 20 asked
is "$?" 0 "370202 reads it from 370102 (the peers' links are up)"

# Four clients create cases at 370102 without pause.
url="http://127.0.0.1:$PORT_A"
touch "$T/go"
pids=()
for c in 1 2 3 4; do
  (k=0
   while [ -e "$T/go" ]; do
     k=$((k + 1))
     curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -X POST \
       -H "Authorization: Bearer $TOKEN_A" -H 'Content-Type: application/json' \
       --data-binary @case.json "$url/v1/cases" >>"$T/codes.$c"
   done) &
  pids+=("$!")
done
sleep 1
slow=0 bad=""
for i in $(seq 1 20); do
  t0=$(date +%s%N)
  api B GET "/v1/cases/$CID"
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$code" = 200 ] && [ "$(jq_get 'd["served_by"]["region"]')" = 370102 ] ||
    bad="$bad $i:$code"
  [ "$ms" -gt 5000 ] && slow=$((slow + 1))
  # A case created now, asked for at once from 370202.
  api A POST /v1/cases --data-binary @case.json
  id=$(jq_get 'd["case"]["id"]')
  api B GET "/v1/cases/$id"
  [ "$code" = 200 ] || bad="$bad new$i:$code"
done
rm -f "$T/go"
for p in "${pids[@]}"; do wait "$p"; done
is "$bad" "" "20 queries from 370202 while 370102 creates cases without pause: all answered, and each new case seen at once"
is "$slow" 0 "  none took over 5 s"
n201=$(cat "$T"/codes.* | grep -c '^201$')
others=$(cat "$T"/codes.* | grep -v '^201$' | sort | uniq -c | tr '\n' ' ')
echo "# $n201 cases created meanwhile; other answers: ${others:-none}"
[ "$n201" -ge 40 ]
ok $? "  with the creations going on ($n201 created)"
api A GET /metrics
early=$(printf '%s' "$body" | sed -n 's/^tongban_store_answered_early_total //p')
commits=$(printf '%s' "$body" | sed -n 's/^tongban_store_commits_total //p')
echo "# 370102: $early writes answered before their commit, $commits store commits"
[ "${early:-0}" -gt 0 ]
ok $? "  and answered before their commit"
node_kill A TERM
node_kill B TERM
done_testing
