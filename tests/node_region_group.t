#!/usr/bin/env bash
# The tree of regions with a province served by a group of three, real
# processes: 370000 (P, P2, P3) → 370100 (C) → 370102 (K), C and K
# one-voter groups. C is made with `--parent 370000@` P2's link, a
# follower's: P2 drops what C sends it and answers with its group's
# members and leader (REGION_T_MEMBERS), so C dials every member and sends
# to the leader. A release published at the province reaches the county
# with the province's hash; a case received at the county shows in the
# area lists of the city and of all three province members. Then the
# province's leader is killed (SIGKILL): a survivor is elected, a second
# release published at a survivor reaches the county, a case written at
# the county after the kill reaches the province, and the rollout of
# version 2 at either survivor lists the county (the city reports to
# every member it has a link to); the city, restarted, finds the leader
# again and passes a third case on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
group_bound 60 P P2 P3 C K
CAT=$TB_SRC/ops/examples/catalog-370000.json

# ---- the province's three members, the city dialing a follower ----
region_node P 370000
is "$?" 0 "init and enrol 370000's first member P"
for m in P2 P3; do
  region_member "$m" 370000 P
  is "$?" 0 "$m made to join 370000's group"
done
P_LINK=$LINK_P
LINK_P=$LINK_P2 region_node C 370100 P && LINK_P=$P_LINK && region_node K 370102 C
is "$?" 0 "init and enrol 370100 (--parent: P2's link) and 370102 (--parent: 370100)"
like "$(cat "$T/C/tongban.json")" "tcp://127.0.0.1:$LINK_P2" \
  "  the city's only configured link to 370000 is P2's"

node_start P
is "$?" 0 "P starts"
run "$TB" --api "$API_P" --token "$TOKEN_P" group features --set 2
is "$rc" 0 "the province at feature level 2"
TOKEN_A=$TOKEN_P # add_voter's token
for m in P2 P3; do
  start_joiner "$m"
  l="LINK_$m" i="ID_$m"
  add_voter "$API_P" "${!i}" "127.0.0.1:${!l}"
  is "$rc" 0 "$m added as a voter"
  printf -v "TOKEN_$m" '%s' "$TOKEN_P"
  wait_for 20 ready "$m"
  is "$?" 0 "$m ready"
done
state() { api "$1" GET /v1/status; jq_get 'd["raft"]["role"]'; }
is "$(state P) $(state P2) $(state P3)" "leader follower follower" \
  "P leads the province's group; P2 (the city's URL) follows"

T0=$(now_ms)
node_start C && node_start K
is "$?" 0 "the city and the county start"
streams() {
  api "$1" GET /v1/region
  [ "$(jq_get 'sorted(r["region"] for r in d["outboxes"] if r["stream"])')" = "$2" ]
}
wait_for 30 streams P "['370100']"
is "$?" 0 "the province's leader opened a stream to 370100"
echo "# $(($(now_ms) - T0)) ms from the city's start"
api P2 GET /v1/region
is "$(jq_get 'd["counters"]["not_leader"] > 0, d["counters"]["redirects"] > 0')" "True True" \
  "P2 dropped what the city sent it (not_leader $(jq_get 'd["counters"]["not_leader"]')) and redirected it ($(jq_get 'd["counters"]["redirects"]'))"
knows() {
  api C GET /v1/region
  [ "$(jq_get 'd["parent_group"]["leader"], sorted(m["node_id"] for m in d["parent_group"]["members"]), all(m["link_up"] for m in d["parent_group"]["members"])')" = "$1" ]
}
members=$($py -c 'import sys; print(sorted(sys.argv[1:]))' "$ID_P" "$ID_P2" "$ID_P3")
wait_for 10 knows "$ID_P $members True"
is "$?" 0 "the city knows the province's three members, P leading, and has a link up to each"
api C GET /v1/region
echo "# the city's parent_group: $(jq_get 'json.dumps(d["parent_group"])')"
is "$($py -c 'import json,sys; print(sorted(p["node_id"] for p in json.load(open(sys.argv[1]))["peers"] if p.get("by") == "region-member"))' "$T/C/links.json")" \
  "$($py -c 'import sys; print(sorted(sys.argv[1:]))' "$ID_P" "$ID_P3")" \
  "  its links.json dials P and P3 (\"by\": \"region-member\"); P2 only at the configured URL"
wait_for 30 streams C "['370102']"
is "$?" 0 "the city opened a stream to 370102"

# ---- release 1 down, a case up ----
api P POST /v1/catalog/releases --data-binary @"$CAT"
is "$code" 201 "the province publishes release 1"
region_wait 30 K 'd["standard"]["version"] == 1'
is "$?" 0 "release 1 reached 370102"
api K GET /v1/catalog
hk=$(jq_get 'd["standard"]["hash"]')
api P GET /v1/catalog
is "$hk" "$(jq_get 'd["standard"]["hash"]')" "  with the province's hash"

food_case_json K
api K POST /v1/cases --data-binary @case.json
is "$code" 201 "a case received at 370102"
ID1=$(jq_get 'd["case"]["id"]')
listed() {
  api "$1" GET "/v1/area/cases?limit=1000"
  [ "$code" = 200 ] && [ "$(jq_get '"'"$2"'" in [c["id"] for c in d["cases"]]')" = True ]
}
for n in C P P2 P3; do
  wait_for 20 listed "$n" "$ID1"
  is "$?" 0 "$ID1 in $n's area list"
done

# ---- the province's leader killed ----
node_kill P KILL
T1=$(now_ms)
NEWL=""
new_leader() {
  local m
  for m in P2 P3; do
    [ "$(state "$m")" = leader ] && NEWL=$m && return 0
  done
  return 1
}
wait_for 20 new_leader
is "$?" 0 "P killed (SIGKILL): a survivor leads ($NEWL)"
echo "# $NEWL leads $(($(now_ms) - T1)) ms after the kill"
OTHER=P2
[ "$NEWL" = P2 ] && OTHER=P3

api "$OTHER" GET /v1/catalog
$py - "$CAT" "$T/r2.json" "$(jq_get 'd["standard"]["hash"]')" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(version=2, snapshot=False, prev_hash=sys.argv[3])
d["matters"][0]["task_name"] = d["matters"][0]["task_name"] + " v2"
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
# Signed with the province's release key (P's; a survivor holds none).
"$TB" sign --key "$T/P/keys/node.json" "$T/r2.json" >/dev/null
api "$OTHER" POST /v1/catalog/releases --data-binary @"$T/r2.json"
is "$code" 201 "release 2 published at $OTHER (a survivor that follows)" ||
  echo "# $body"
region_wait 30 K 'd["standard"]["version"] == 2 and d["releases"] == [1, 2]'
is "$?" 0 "release 2 reached 370102, after release 1"
echo "# release 2 at the county $(($(now_ms) - T1)) ms after the kill"
api K GET /v1/catalog
hk=$(jq_get 'd["standard"]["hash"]')
api "$NEWL" GET /v1/catalog
is "$hk" "$(jq_get 'd["standard"]["hash"]')" "  with the province's hash"
NEWL_ID="ID_$NEWL"
c_leader() {
  api C GET /v1/region
  [ "$(jq_get 'd["parent_group"]["leader"]')" = "$1" ]
}
wait_for 10 c_leader "${!NEWL_ID}"
is "$?" 0 "the city sends to the new leader $NEWL"

api K POST /v1/cases --data-binary @case.json
is "$code" 201 "a case received at 370102 after the kill"
ID2=$(jq_get 'd["case"]["id"]')
for n in C "$NEWL" "$OTHER"; do
  wait_for 20 listed "$n" "$ID2"
  is "$?" 0 "$ID2 in $n's area list"
done

in_rollout() {
  api "$1" GET "/v1/catalog/rollout?version=2"
  [ "$code" = 200 ] &&
    [ "$(jq_get 'sorted(r["region"] for r in d["applied"])')" = "['370100', '370102']" ]
}
for n in "$NEWL" "$OTHER"; do
  wait_for 10 in_rollout "$n"
  is "$?" 0 "the rollout of version 2 at $n lists 370100 and 370102 as applied"
  api "$n" GET "/v1/catalog/rollout?version=2"
  is "$(jq_get '[r["via"] for r in d["applied"] if r["region"] == "370102"]')" "['370100']" \
    "  370102 via 370100"
done

# ---- the city restarted: it starts from links.json (the members it
# learned stay dialed), finds the leader again and passes a case on ----
node_kill C TERM
node_start C
is "$?" 0 "the city restarted"
wait_for 10 c_leader "${!NEWL_ID}"
is "$?" 0 "  it sends to $NEWL again"
api K POST /v1/cases --data-binary @case.json
is "$code" 201 "a third case received at 370102"
ID3=$(jq_get 'd["case"]["id"]')
wait_for 20 listed "$NEWL" "$ID3"
is "$?" 0 "$ID3 in $NEWL's area list"

for n in C K P2 P3; do node_kill "$n" TERM; done
is "$(grep -l 'Sanitizer\|runtime error' "$T"/*.log)" "" \
  "no sanitizer report in any node's log"
_done=1
done_testing
