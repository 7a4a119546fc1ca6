#!/usr/bin/env bash
# A recovered group's stream up continues in its new incarnation, with real
# processes (docs/REPLICATION.md "Incarnations in the node"): province
# 370000 and city 370100 one-voter groups; county 370102 a group of three
# (K1, K2, K3) at feature level 5. Cases written at the county reach the
# city's area list as entries (1, 1), (1, 2). K1 and K2 are killed (-9):
# no quorum. K3, stopped, is recovered with an incarnation certificate of
# the city's key; started, its leader replicates incarnation 2
# (group.incarnation: writes wait for it) and its stream to the city moves
# into it. Cases written at K3 reach the city as (2, 1), (2, 2): the city's
# cursor of the county's stream goes from 1:2 to 2:2, nothing refused,
# every case listed once, and the city's link saw K3's incarnation 2.
# K3 was stopped (SIGTERM) while release 2 reached the county and the city
# dropped it as acknowledged: the recovered county's cursor of the city's
# stream is behind what the city holds. Release 3 makes the city send; K3
# answers with its old cursor from a node at incarnation 2, and the city's
# leader proposes outbox.rewind: the stream to 370102 is refilled from the
# stored catalog (releases 1, 2, 3). The SKIP that follows moves K3's
# cursor past the dropped positions; K3 takes release 1 again as held and
# applies 2 and 3 in order, with the province's hash.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
group_bound 100 P C K1 K2 K3
CAT=$TB_SRC/ops/examples/catalog-370000.json

region_node P 370000 && region_node C 370100 P && region_node K1 370102 C
is "$?" 0 "init and enrol 370000, 370100 and 370102's first node (K1)"
"$TB" index-key export --dir K1 --out akey.json >/dev/null
# county_member NAME: a node of 370102 made to join K1, enrolled.
county_member() {
  local name=$1 port out
  port=$(free_port)
  printf -v "LINK_$name" '%s' "$port"
  out=$("$TB" init --dir "$T/$name" --region 370102 --api 127.0.0.1:0 \
    --link "127.0.0.1:$port" --root "$T/P/root.json" \
    --join "127.0.0.1:$LINK_K1" --index-key-from "$T/akey.json" --json) ||
    return 1
  printf -v "ID_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')"
  printf -v "TOKEN_$name" '%s' "$TOKEN_K1"
  "$TB" cert request --dir "$T/$name" --out "$T/$name.req" >/dev/null &&
    "$TB" cert issue --key "$T/r370102.key" --issuer-cert "$T/c370102.json" \
      --request "$T/$name.req" --days 30 --role member \
      --out "$T/$name.cert" >/dev/null || return 1
  # shellcheck disable=SC2086
  "$TB" cert install --dir "$T/$name" "$T/$name.cert" ${_region_chain[370102]} >/dev/null
}
county_member K2 && county_member K3
is "$?" 0 "K2 and K3 made to join K1, enrolled"

for n in P C K1; do node_start "$n" || break; done
is "$?" 0 "P, C and K1 start"
start_joiner K2 && start_joiner K3
is "$?" 0 "K2 and K3 run, waiting to be added"
TOKEN_A=$TOKEN_K1
add_voter "$API_K1" "$ID_K2" "127.0.0.1:$LINK_K2" &&
  add_voter "$API_K1" "$ID_K3" "127.0.0.1:$LINK_K3"
is "$rc" 0 "K2 and K3 added: 370102 is a group of three"
wait_for 15 ready K2 && wait_for 15 ready K3
is "$?" 0 "  both ready"

run "$TB" --api "$API_P" --token "$TOKEN_P" group features --set 2
is "$rc" 0 "the province at feature level 2"
run "$TB" --api "$API_K1" --token "$TOKEN_K1" group features --set 5
is "$rc" 0 "the county at feature level 5 (group.incarnation)"
run "$TB" --api "$API_C" --token "$TOKEN_C" group features --set 5
is "$rc" 0 "the city at feature level 5 (its cursors record the sender's incarnation)"
api P POST /v1/catalog/releases --data-binary @"$CAT"
is "$code" 201 "the province publishes release 1"
region_wait 40 K1 'd["standard"]["version"] == 1'
is "$?" 0 "release 1 reached 370102 (its matters are needed for cases)"

# region NAME EXPR: EXPR over NAME's GET /v1/region.
region() { api "$1" GET /v1/region; jq_get "$2"; }
# kid EXPR: EXPR over the city's row for 370102 (r).
kid() { region C "[$1 for r in d['outboxes'] if r['region'] == '370102']"; }
IDS=()
new_case() {
  local id
  api "$1" POST /v1/cases --data-binary @case.json
  id=$(printf '%s' "$body" | sed -n 's/.*"id":"\(370102-[0-9]*-[0-9]*\)".*/\1/p' | head -1)
  [ "$code" = 201 ] && [ -n "$id" ] && IDS+=("$id")
}
food_case_json K1
new_case K1 && new_case K1
is "$?" 0 "two cases received at 370102 (K1 leads)"
at_city() { [ "$(kid "(r['inbound']['inc'], r['inbound']['seq'])")" = "[$1]" ]; }
wait_for 20 at_city "(1, 2)"
is "$?" 0 "the city delivered the county's entries 1:1 and 1:2"
is "$(kid "r['inbound']['by']")" "[1]" "  sent by a node at incarnation 1"
acked() { [ "$(region "$1" "(d['up']['acked']['inc'], d['up']['acked']['seq'], d['up']['backlog'])")" = "$2" ]; }
wait_for 20 acked K1 "(1, 2, 0)"
is "$?" 0 "  and the county committed their acknowledgement (backlog 0)"
commit=$(field K1 'd["group"]["commit"]')
caught_up() { [ "$(field K3 'd["raft"]["applied"]')" -ge "$commit" ]; }
wait_for 10 caught_up
is "$?" 0 "K3, the member that will survive, applied them"

# ---- K3 misses release 2, which the county acknowledges ---------------
# release N+1: the example as a delta on the province's head.
next_release() {
  api P GET /v1/catalog
  $py - "$CAT" "$T/r$1.json" "$(jq_get 'd["standard"]["hash"]')" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(version=int(sys.argv[4]), snapshot=False, prev_hash=sys.argv[3])
d["matters"][0]["task_name"] = d["matters"][0]["task_name"] + " v" + sys.argv[4]
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
  api P POST /v1/catalog/releases --data-binary @"$T/r$1.json"
}
down_pos() { kid "(r['acked']['inc'], r['acked']['seq'], r['backlog'])"; }
settled_down() { [ "$(kid "r['backlog'] == 0 and r['next'] > 1")" = "[True]" ]; }
wait_for 20 settled_down
before=$(down_pos)
stop_node K3
next_release 2
is "$code" 201 "K3 stopped, the province publishes release 2"
region_wait 30 K1 'd["standard"]["version"] == 2'
is "$?" 0 "  it reaches the county (K1, K2)"
wait_for 20 settled_down
after=$(down_pos)
is "$(printf '%s %s' "$before" "$after" | $py -c 'import sys,ast; a,b=sys.stdin.read().split("] [");print(ast.literal_eval(a+"]")[0][1]+1 == ast.literal_eval("["+b)[0][1])')" True \
  "  and the city has it acknowledged ($before -> $after): dropped"
DOWN=$(printf '%s' "$after" | $py -c 'import sys,ast; print(ast.literal_eval(sys.stdin.read())[0][1])')

# ---- two of three die; the survivor is recovered ----------------------
node_kill K1 KILL
node_kill K2 KILL
start_joiner K3
ok $? "K3 starts again, alone of its group"
api K3 POST /v1/cases --data-binary @case.json -m 8
case "$code" in 503 | 504 | 000) r=0 ;; *) r=1 ;; esac
ok "$r" "K3 alone cannot write (got $code)"
stop_node K3
ok $? "K3 stops"
run "$TB" cert incarnation --key r370100.key --region 370102 \
  --incarnation 2 --member "$ID_K3" --out inc2.json
is "$rc" 0 "the city's admin certifies incarnation 2 of 370102"
run "$TB" group recover --dir K3 --cert inc2.json
is "$rc" 0 "tongban group recover K3"
node_start K3
is "$?" 0 "K3 starts, the only voter of incarnation 2"
inc_now() { [ "$(region K3 "(d['incarnation'], d['up']['inc'], d['up']['next'])")" = "(2, 2, 1)" ]; }
wait_for 20 inc_now
is "$?" 0 "its leader replicated incarnation 2: the stream up numbers from 2:1"
grep -q TB-REGION-INCARNATION K3.log
is "$?" 0 "  (logged TB-REGION-INCARNATION)"
is "$(region K3 "(d['inbound']['cursor']['seq'], d['catalog']['standard'])")" "($((DOWN - 1)), 1)" \
  "K3's cursor of the city's stream is 1:$((DOWN - 1)), release 1: it lost release 2 (1:$DOWN)"

new_case K3 && new_case K3
is "$?" 0 "two cases received at K3 after the recovery"
wait_for 30 at_city "(2, 2)"
is "$?" 0 "the city's cursor of 370102's stream moved from 1:2 to 2:2"
wait_for 20 acked K3 "(2, 2, 0)"
is "$?" 0 "  acknowledged at K3: acked 2:2, backlog 0"
is "$(kid "r['inbound']['by']")" "[2]" \
  "  the city's cursor record says a node at incarnation 2 sent them"
listed() {
  api C GET "/v1/area/cases?limit=100"
  [ "$(jq_get 'sorted(c["id"] for c in d["cases"])')" = "$(printf '%s\n' "${IDS[@]}" |
    $py -c 'import sys; print(sorted(l.strip() for l in sys.stdin))')" ]
}
wait_for 10 listed
is "$?" 0 "the city's area lists the four cases, each once"
is "$(region C "(d['counters']['refused'], d['counters']['unauth'])")" "(0, 0)" \
  "the city refused no entry and dropped no frame for its sender's incarnation"
grep -q "announces incarnation 2 without" C.log
is "$?" 1 "the city took K3's incarnation 2 (its certificate verified)"

# ---- the city's stream down, behind at K3: refilled, then SKIP -------
next_release 3
is "$code" 201 "the province publishes release 3"
region_wait 40 K3 'd["standard"]["version"] == 3 and d["releases"] == [1, 2, 3]'
is "$?" 0 "K3 applies the release it lost (2), then 3, in order: releases [1, 2, 3]"
api P GET /v1/catalog
hp=$(jq_get 'd["standard"]["hash"]')
api K3 GET /v1/catalog
is "$(jq_get 'd["standard"]["hash"]')" "$hp" "  with the province's hash"
grep -q TB-REGION-REWIND C.log
is "$?" 0 "the city took K3's stale acknowledgement for a loss: TB-REGION-REWIND"
is "$(region C "d['counters']['rewinds_proposed'] >= 1")" True \
  "  (rewinds_proposed $(region C "d['counters']['rewinds_proposed']"))"
grep -q TB-REGION-SKIP K3.log
is "$?" 0 "K3's cursor moved past the dropped positions (outbox.skip)"
is "$(region K3 "d['inbound']['refused']")" None "K3 refused nothing"
grep -q "TB-REGION-REFUSED" K3.log
is "$?" 1 "  (no TB-REGION-REFUSED in its log: release 1 again was held, not refused)"
refilled() { [ "$(kid "(r['backlog'], r['acked']['seq'] >= r['next'] - 1)")" = "[(0, True)]" ]; }
wait_for 20 refilled
is "$?" 0 "the city's refilled stream to 370102 is acknowledged to its end (backlog 0)"
grep -q "ERROR: AddressSanitizer\|runtime error" C.log K3.log
is "$?" 1 "no sanitizer report"
_done=1
done_testing
