#!/usr/bin/env bash
# The link between a city and its county cut and restored repeatedly, with
# real processes (one-voter groups): province 370000 → city 370100 →
# county 370102, the county dialling its parent through tests/link_proxy.c
# in `pass` mode (a relay of the links' frames, changing nothing). Killing
# the proxy cuts the TCP link itself (both nodes see it close); starting a
# new one on the same port restores it. While the link is cut 8 times,
# cases are received and moved through actions at the county (their
# summaries flow up) and the province publishes two releases (they flow
# down). After the last restore the event sequences are compared end to
# end: the city's and the province's area lists hold every case exactly
# once at the county's own latest state and version; the county is at the
# last release, with every release applied once, in order, and the
# province's hash; each stream's positions agree (sent = acknowledged =
# the receiver's cursor, no backlog) and the entries each receiver
# delivered equal the entries sent towards it: none twice, none missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
WAIT=15
CUTS=8
group_bound 60 P C K1
PXPID=""
_cut_exit() {
  [ -n "$PXPID" ] && kill -9 "$PXPID" 2>/dev/null
  _group_bound_exit
}
trap _cut_exit EXIT
C=$TB_SRC/ops/examples/catalog-370000.json

cc -std=gnu11 -O1 -o "$T/link_proxy" "$TB_SRC/tests/link_proxy.c" -lpthread
is "$?" 0 "the relay (tests/link_proxy.c) compiles"

# ---- the tree, the county's parent link through the relay's port ----
PX=$(free_port)
region_node P 370000 && region_node C 370100 P && CITY_LINK=$LINK_C &&
  LINK_C=$PX && region_node K1 370102 C && LINK_C=$CITY_LINK
is "$?" 0 "init and enrol 370000, 370100 and 370102 (its parent: the relay's port)"

# proxy_up: a relay on $PX towards the city's link, listening.
proxy_up() {
  local try
  for try in 1 2 3 4 5; do
    "$T/link_proxy" proxy "tcp://127.0.0.1:$PX" "tcp://127.0.0.1:$LINK_C" \
      pass >"$T/proxy.out" 2>&1 &
    PXPID=$!
    wait_for 3 file_has "$T/proxy.out" listening && return 0
    kill -9 "$PXPID" 2>/dev/null
    wait "$PXPID" 2>/dev/null
    PXPID=""
    sleep 0.2
  done
  return 1
}
proxy_down() {
  kill -9 "$PXPID" 2>/dev/null
  wait "$PXPID" 2>/dev/null
  PXPID=""
}
file_has() { grep -q "$2" "$1" 2>/dev/null; }
proxy_up
is "$?" 0 "the relay listens on the county's parent port"

for n in P C K1; do node_start "$n" || break; done
is "$?" 0 "three nodes start"
run "$TB" --api "$API_P" --token "$TOKEN_P" group features --set 2
is "$rc" 0 "the province raised to feature level 2"
streams() {
  api "$1" GET /v1/region
  [ "$(jq_get 'sorted(r["region"] for r in d["outboxes"] if r["stream"])')" = "$2" ]
}
wait_for 30 streams P "['370100']"
is "$?" 0 "the province has a stream to 370100"
wait_for 30 streams C "['370102']"
is "$?" 0 "370100 has a stream to 370102 (over the relay)"

# city_link UP: the city's row for 370102 says link_up UP (True/False).
city_link() {
  api C GET /v1/region
  [ "$(jq_get '[r["link_up"] for r in d["outboxes"] if r["region"] == "370102"]')" = "[$1]" ]
}

# release N+1: the example as a delta on the province's head.
next_release() {
  api P GET /v1/catalog
  $py - "$C" "$T/r$1.json" "$(jq_get 'd["standard"]["hash"]')" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(version=int(sys.argv[4]), snapshot=False, prev_hash=sys.argv[3])
d["matters"][0]["task_name"] = d["matters"][0]["task_name"] + " v" + sys.argv[4]
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
  api P POST /v1/catalog/releases --data-binary @"$T/r$1.json"
}
api P POST /v1/catalog/releases --data-binary @"$C"
is "$code" 201 "the province publishes release 1"
region_wait 30 K1 'd["standard"]["version"] == 1'
is "$?" 0 "release 1 reached 370102 (its matters are needed for cases)"
REL=1

# ---- cases at the county: receipts and actions, counted as sent ----
food_case_json K1
declare -A VER=()
IDS=()
WRITES=0 FAILED=0
new_case() {
  local id
  api K1 POST /v1/cases --data-binary @case.json
  id=$(printf '%s' "$body" | sed -n 's/.*"id":"\(370102-[0-9]*-[0-9]*\)".*/\1/p' | head -1)
  if [ "$code" != 201 ] || [ -z "$id" ]; then
    echo "# a case was not received: $code $body"
    FAILED=$((FAILED + 1))
    return 1
  fi
  IDS+=("$id")
  VER[$id]=1
  WRITES=$((WRITES + 1))
}
# act N ACTION [JSON-extra]: the action on the Nth case received.
act() {
  local id=${IDS[$1]} extra=${3:-}
  api K1 POST "/v1/cases/$id/actions" -H "If-Match: ${VER[$id]}" \
    -d '{"action":"'"$2"'"'"$extra"'}'
  if [ "$code" != 201 ]; then
    echo "# $2 on $id was refused: $code $body"
    FAILED=$((FAILED + 1))
    return 1
  fi
  VER[$id]=$((VER[$id] + 1))
  WRITES=$((WRITES + 1))
}
new_case && new_case
is "$?" 0 "two cases received at 370102 before the first cut"

# ---- 8 cuts: work on both sides while the link is down, and just after
# it is back (entries in flight when the next cut comes) ----
CUT_OK=0 BACK_OK=0 HELD=0
held() { [ "$(pos K1 'd["up"]["backlog"] > 0')" = True ]; }
# pos NAME EXPR: EXPR over NAME's GET /v1/region.
pos() { api "$1" GET /v1/region; jq_get "$2"; }
for i in $(seq 1 "$CUTS"); do
  proxy_down
  wait_for "$WAIT" city_link False && CUT_OK=$((CUT_OK + 1))
  new_case
  act $((${#IDS[@]} - 2)) accept ',"opinion":"材料齐全"'
  if [ "$i" = 3 ] || [ "$i" = 6 ]; then
    REL=$((REL + 1))
    next_release "$REL"
    [ "$code" = 201 ] || { echo "# release $REL: $code $body"; FAILED=$((FAILED + 1)); }
  fi
  # The county holds what it wrote while cut off (its drivers try, and
  # fail, to send).
  wait_for 5 held && HELD=$((HELD + 1))
  proxy_up || { echo "# the relay did not listen again"; break; }
  [ "$i" -le 4 ] && act "$i" start_handling # accepted at cut i
  wait_for "$WAIT" city_link True && BACK_OK=$((BACK_OK + 1))
done
is "$CUT_OK $BACK_OK" "$CUTS $CUTS" \
  "the link went down at each of the $CUTS cuts and came back after each"
is "$HELD" "$CUTS" "at each cut the county held a backlog towards 370100"
is "$FAILED" 0 "every receipt, action and release during the cuts was taken"
is "${#IDS[@]} $REL" "10 3" "10 cases received and 3 releases published in all"
echo "# $WRITES case writes at 370102 (receipts and actions)"

# ---- after the last restore: compared end to end ----
region_wait 30 K1 'd["standard"]["version"] == '"$REL"' and d["releases"] == list(range(1, '"$REL"' + 1))'
is "$?" 0 "370102 reaches release $REL, releases 1..$REL each applied once, in order"
api K1 GET /v1/catalog
hk=$(jq_get 'd["standard"]["hash"]')
api P GET /v1/catalog
is "$hk" "$(jq_get 'd["standard"]["hash"]')" "with the province's hash"

# The county's own truth: each case's version and state.
exp=""
for id in "${IDS[@]}"; do
  api K1 GET "/v1/cases/$id"
  exp+="$id ${VER[$id]} $(jq_get 'd["version"], d["state"]')"$'\n'
done
is "$(printf '%s' "$exp" | awk '$2 != $3' | wc -l)" 0 \
  "the county's cases are at the versions its actions gave them"
exp=$(printf '%s' "$exp" | awk '{print $1, $3, $4}' | sort)
# area_list NAME: "id version state" per listed case, sorted (not unique).
area_list() {
  api "$1" GET "/v1/area/cases?limit=1000"
  [ "$code" = 200 ] || return 1
  jq_get '"\n".join("%s %s %s" % (c["id"], c["version"], c["state"]) for c in d["cases"])' | sort
}
area_is() { [ "$(area_list "$1")" = "$exp" ]; }
for n in C P; do
  wait_for 20 area_is "$n"
  is "$?" 0 "$n's area lists every case once, at the county's latest version and state"
  got=$(area_list "$n")
  is "$(printf '%s\n' "$got" | awk '{print $1}' | uniq -d | wc -l) $(printf '%s\n' "$got" | grep -c .)" \
    "0 ${#IDS[@]}" "  $n: no case listed twice, ${#IDS[@]} listed"
done

# Positions: what each origin numbered (next - 1), what it has had
# acknowledged, the receiver's cursor and what it delivered.
settled() {
  [ "$(pos K1 'd["up"]["next"] - 1, d["up"]["acked"]["seq"], d["up"]["backlog"]')" = "$WRITES $WRITES 0" ] &&
    [ "$(pos C '[(r["next"] - 1, r["acked"]["seq"], r["backlog"]) for r in d["outboxes"] if r["region"] == "370102"], d["up"]["next"] - 1, d["up"]["acked"]["seq"], d["up"]["backlog"]')" = "[($REL, $REL, 0)] $WRITES $WRITES 0" ] &&
    [ "$(pos P '[(r["next"] - 1, r["acked"]["seq"], r["backlog"]) for r in d["outboxes"] if r["region"] == "370100"]')" = "[($REL, $REL, 0)]" ]
}
wait_for 20 settled
is "$?" 0 "every stream settled: sent = acknowledged, no backlog"
is "$(pos K1 'd["up"]["next"] - 1, d["up"]["acked"]["seq"], d["up"]["backlog"]')" \
  "$WRITES $WRITES 0" "370102 → 370100: $WRITES summaries numbered, all acknowledged"
is "$(pos C 'd["up"]["next"] - 1, d["up"]["acked"]["seq"], d["up"]["backlog"]')" \
  "$WRITES $WRITES 0" "370100 → 370000: the same $WRITES summaries passed on, all acknowledged"
is "$(pos C '[(r["next"] - 1, r["acked"]["seq"], r["backlog"]) for r in d["outboxes"] if r["region"] == "370102"]')" \
  "[($REL, $REL, 0)]" "370100 → 370102: $REL releases, all acknowledged"
is "$(pos K1 'd["inbound"]["origin"], d["inbound"]["cursor"]["seq"]')" \
  "370100 $REL" "370102's cursor from 370100: entry $REL"
is "$(pos C 'd["inbound"]["cursor"]["seq"]')" "$REL" "370100's cursor from 370000: entry $REL"
# delivered: entries each leader's proposals applied with the verdict
# accept (a duplicate's verdict is dup and is not counted).
counts() {
  [ "$(pos K1 'd["counters"]["delivered"], d["counters"]["refused"]')" = "$REL 0" ] &&
    [ "$(pos C 'd["counters"]["delivered"], d["counters"]["refused"]')" = "$((REL + WRITES)) 0" ] &&
    [ "$(pos P 'd["counters"]["delivered"], d["counters"]["refused"]')" = "$WRITES 0" ]
}
wait_for 10 counts
is "$?" 0 "delivered = sent at each receiver, nothing refused"
is "$(pos K1 'd["counters"]["delivered"]') $(pos C 'd["counters"]["delivered"]') $(pos P 'd["counters"]["delivered"]')" \
  "$REL $((REL + WRITES)) $WRITES" \
  "  370102: $REL releases; 370100: $REL releases + $WRITES summaries; 370000: $WRITES summaries"
m=$(curl -s "$API_C/metrics")
is "$(printf '%s\n' "$m" | sed -n 's/^tongban_outbox_delivered_total //p') $(printf '%s\n' "$m" | sed -n 's/^tongban_outbox_backlog{dest="370102"} //p')" \
  "$((REL + WRITES)) 0" "370100's /metrics: delivered $((REL + WRITES)), backlog towards 370102 0"

proxy_down
for n in P C K1; do node_kill "$n" TERM; done
is "$(grep -l 'Sanitizer\|runtime error' "$T"/*.log)" "" \
  "the three nodes stop with no sanitizer report in their logs"
_done=1
done_testing
