#!/usr/bin/env bash
# The tree of regions with a child served by a group of three, real
# processes: 370000 (P) → 370100 (C) → 370102 (K, K2, K3), P and C
# one-voter groups. Every county member dials the city (the replicated
# topology); the city sends to the county's leader, which its members'
# messages, its reports and its followers' redirects name. The county's
# leadership moved off K, the member that made contact first: a release
# reaches all three county members and a case received at follower K (the
# write forwarded) reaches the province. Then the county's leader is
# killed (SIGKILL): a survivor leads, the city follows it, release 2
# reaches the survivors and a case received after the kill reaches the
# province.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
group_bound 60 P C K K2 K3
CAT=$TB_SRC/ops/examples/catalog-370000.json

region_node P 370000 && region_node C 370100 P && region_node K 370102 C
is "$?" 0 "init and enrol 370000, 370100 and 370102's first member K"
for m in K2 K3; do
  region_member "$m" 370102 K
  is "$?" 0 "$m made to join 370102's group"
done
node_start P && node_start C && node_start K
is "$?" 0 "P, C and K start"
run "$TB" --api "$API_P" --token "$TOKEN_P" group features --set 2
is "$rc" 0 "the province at feature level 2"
TOKEN_A=$TOKEN_K # add_voter's token
for m in K2 K3; do
  start_joiner "$m"
  l="LINK_$m" i="ID_$m"
  add_voter "$API_K" "${!i}" "127.0.0.1:${!l}"
  is "$rc" 0 "$m added as a voter"
  printf -v "TOKEN_$m" '%s' "$TOKEN_K"
  wait_for 20 ready "$m"
  is "$?" 0 "$m ready"
done
state() { api "$1" GET /v1/status; jq_get 'd["raft"]["role"]'; }
streams() {
  api "$1" GET /v1/region
  [ "$(jq_get 'sorted(r["region"] for r in d["outboxes"] if r["stream"])')" = "$2" ]
}
wait_for 30 streams C "['370102']"
is "$?" 0 "the city opened a stream to 370102"
# The city's view of the county: whom it sends to.
kid_leader() {
  api C GET /v1/region
  [ "$(jq_get '[r["leader"] for r in d["outboxes"] if r["region"] == "370102"]')" = "['$1']" ]
}
wait_for 10 kid_leader "$ID_K"
is "$?" 0 "the city sends to K, the county's leader"

run "$TB" --api "$API_K" --token "$TOKEN_K" group transfer "$ID_K2"
is "$rc" 0 "the county's leadership moves from K to K2"
wait_for 10 kid_leader "$ID_K2"
is "$?" 0 "the city follows it to K2"
is "$(state K) $(state K2) $(state K3)" "follower leader follower" "  K2 leads; K and K3 follow"

api P POST /v1/catalog/releases --data-binary @"$CAT"
is "$code" 201 "the province publishes release 1"
for m in K K2 K3; do
  region_wait 30 "$m" 'd["standard"]["version"] == 1'
  is "$?" 0 "release 1 at $m"
done
api K GET /v1/catalog
hk=$(jq_get 'd["standard"]["hash"]')
api P GET /v1/catalog
is "$hk" "$(jq_get 'd["standard"]["hash"]')" "  with the province's hash"

food_case_json K
api K POST /v1/cases --data-binary @case.json
is "$code" 201 "a case received at K (a follower: forwarded to K2)"
ID1=$(jq_get 'd["case"]["id"]')
listed() {
  api "$1" GET "/v1/area/cases?limit=1000"
  [ "$code" = 200 ] && [ "$(jq_get '"'"$2"'" in [c["id"] for c in d["cases"]]')" = True ]
}
for n in C P; do
  wait_for 20 listed "$n" "$ID1"
  is "$?" 0 "$ID1 in $n's area list"
done

node_kill K2 KILL
T1=$(now_ms)
NEWL=""
new_leader() {
  local m
  for m in K K3; do
    [ "$(state "$m")" = leader ] && NEWL=$m && return 0
  done
  return 1
}
wait_for 20 new_leader
is "$?" 0 "K2 killed (SIGKILL): a survivor leads ($NEWL)"
NEWL_ID="ID_$NEWL"
wait_for 10 kid_leader "${!NEWL_ID}"
is "$?" 0 "the city sends to $NEWL"
echo "# the city sends to $NEWL $(($(now_ms) - T1)) ms after the kill"

api P GET /v1/catalog
$py - "$CAT" "$T/r2.json" "$(jq_get 'd["standard"]["hash"]')" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(version=2, snapshot=False, prev_hash=sys.argv[3])
d["matters"][0]["task_name"] = d["matters"][0]["task_name"] + " v2"
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
api P POST /v1/catalog/releases --data-binary @"$T/r2.json"
is "$code" 201 "the province publishes release 2"
for m in K K3; do
  region_wait 30 "$m" 'd["standard"]["version"] == 2 and d["releases"] == [1, 2]'
  is "$?" 0 "release 2 at $m, after release 1"
done
api K3 POST /v1/cases --data-binary @case.json
is "$code" 201 "a case received at K3 after the kill"
ID2=$(jq_get 'd["case"]["id"]')
for n in C P; do
  wait_for 20 listed "$n" "$ID2"
  is "$?" 0 "$ID2 in $n's area list"
done

api K GET /v1/region
r1=$(jq_get 'd["counters"]["redirects"]')
api K3 GET /v1/region
echo "# redirects sent by the county's followers: K $r1, K3 $(jq_get 'd["counters"]["redirects"]')"

for n in P C K K3; do node_kill "$n" TERM; done
is "$(grep -l 'Sanitizer\|runtime error' "$T"/*.log)" "" \
  "no sanitizer report in any node's log"
_done=1
done_testing
