#!/usr/bin/env bash
# The catalog flows down the tree, with real processes of real regions
# (data/regions.csv), one-voter groups: province 370000, city 370100 with
# counties 370102 and 370103, city 370200 with county 370202. Each child is
# made with `tongban init --parent` (or given its parent later with
# `tongban region set-parent`). A release published at the province
# reaches every county; a city overlay reaches its counties; a county
# overlay that touches a standard field is refused naming the field and
# its owner; the city stopped (SIGSTOP) while the province publishes
# twice, then resumed: its counties catch up, in order; a city restarted
# (a new leader) resumes from its durable cursor; the rollout view names
# who lags and why; a case received at one county is answered at any
# node, the question routed hop by hop by region code; its summary (no
# personal data) flows up to the city and the province as it changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
# On a failure: the end of each node's log (TB_KEEP=DIR keeps everything).
_region_exit() {
  local f
  if [ "$_tap_fail" -gt 0 ]; then
    for f in "$T"/*.log; do
      echo "# the end of $(basename "$f"):"
      tail -n 15 "$f" | cut -c1-300 | sed 's/^/#   /'
    done
    [ -n "${TB_KEEP:-}" ] && cp -r "$T" "$TB_KEEP"
  fi
  _node_cleanup
}
trap _region_exit EXIT
C=$TB_SRC/ops/examples/catalog-370000.json

# ---- the tree: enrolment and init --parent ----
region_node P 370000 && region_node C 370100 P && region_node K1 370102 C &&
  region_node C2 370200 P && region_node K3 370202 C2
is "$?" 0 "init and enrol 370000, 370100, 370102, 370200, 370202 (init --parent)"
# 370103 is made without --parent: its place is set later, by the CLI.
region_node K2 370103 C noparent
is "$?" 0 "init and enrol 370103 without --parent"
"$TB" init --dir "$T/K2x" --region 370103 --api 127.0.0.1:0 \
  --parent "370100@http://x" >/dev/null 2>&1
is "$?" 2 "init --parent refuses an address that is not tcp://HOST:PORT"
run "$TB" init --dir "$T/K2y" --region 370103 --api 127.0.0.1:0 \
  --parent "370000@tcp://127.0.0.1:1"
is "$rc $err" "2 tongban init: --parent 370000@tcp://127.0.0.1:1: 370103's parent in the GB/T 2260 table is 370100" \
  "init --parent refuses a region that is not the table's parent"

for n in P C K1 K2 C2 K3; do node_start "$n" || break; done
is "$?" 0 "six nodes start"

# The province (no --parent) and 370103 run at feature level 1 until
# raised; nodes made with --parent raised it themselves.
api P GET /v1/status
like "$(jq_get 'd["tree"]["driver"]')" "off: feature level 1" \
  "the province's driver is off at feature level 1, and says how to raise it"
for n in P K2; do
  a="API_$n" t="TOKEN_$n"
  run "$TB" --api "${!a}" --token "${!t}" group features --set 2
  is "$rc" 0 "tongban group features --set 2 at $n"
done
run "$TB" --api "$API_K2" --token "$TOKEN_K2" region set-parent \
  "370000@tcp://127.0.0.1:$LINK_P"
like "$out$err" "parent in the GB/T 2260 table is 370100, not 370000" \
  "set-parent refuses a region that is not the table's parent"
run "$TB" --api "$API_K2" --token "$TOKEN_K2" region set-parent \
  "370100@tcp://127.0.0.1:$LINK_C"
is "$rc" 0 "tongban region set-parent 370100@tcp://... at 370103"
api K2 POST /v1/region/peers -d '{"code":"999999","url":"tcp://127.0.0.1:1"}'
is "$code $(jq_get 'd["error"]["field"]')" "422 \$.code" \
  "a peer outside the table is refused naming \$.code"
api K2 POST /v1/region/peers -d '{"code":"370102","url":"tcp://127.0.0.1:1","x":1}'
is "$code $(jq_get 'd["error"]["field"]')" "422 x" "an unknown field is refused"
api K2 DELETE /v1/region/peers/370104
is "$code" 404 "removing a peer that is not one is 404"
run "$TB" --api "$API_K2" --token "$TOKEN_K2" region add-peer \
  "370104@tcp://127.0.0.1:1"
is "$rc" 0 "tongban region add-peer 370104@tcp://... (stored; no traffic yet)"
run "$TB" --api "$API_K2" --token "$TOKEN_K2" region remove-peer 370104
is "$rc" 0 "tongban region remove-peer 370104"

has_parent() {
  api C GET /v1/status
  [ "$(jq_get 'd["tree"]["topology"]["parent"]["code"], d["tree"]["topology"]["peers"]')" = "370000 []" ]
}
wait_for 20 has_parent
is "$?" 0 "370100's status shows the parent init --parent set, replicated"
# GET /v1/region answers from the view the loop rebuilds every 50 ms tick,
# so a read right after the write may predate it.
k2_topo() {
  api K2 GET /v1/region
  [ "$(jq_get 'd["topology"]["parent"]["code"], d["topology"]["peers"]')" = "370100 []" ]
}
wait_for 5 k2_topo
is "$?" 0 "GET /v1/region at 370103: the parent set by the CLI, the peer gone"

# Every parent opens a stream to each child that reports.
streams() {
  api "$1" GET /v1/region
  [ "$(jq_get 'sorted(r["region"] for r in d["outboxes"] if r["stream"])')" = "$2" ]
}
wait_for 30 streams P "['370100', '370200']"
is "$?" 0 "the province has streams to 370100 and 370200"
wait_for 30 streams C "['370102', '370103']"
is "$?" 0 "370100 has streams to 370102 and 370103"
wait_for 30 streams C2 "['370202']"
is "$?" 0 "370200 has a stream to 370202"

# ---- a release published at the province reaches every county ----
t0=$(now_ms)
api P POST /v1/catalog/releases --data-binary @"$C"
is "$code" 201 "the province publishes release 1"
for n in K1 K2 K3; do
  region_wait 30 "$n" 'd["standard"]["version"] == 1'
  is "$?" 0 "release 1 reached county $n"
done
echo "# release 1 (42 matters) at all three counties in $(($(now_ms) - t0)) ms"
api K1 GET /v1/catalog
h1=$(jq_get 'd["standard"]["hash"]')
api P GET /v1/catalog
is "$(jq_get 'd["standard"]["hash"]')" "$h1" "with the same hash as at the province"

api P GET "/v1/catalog/rollout?version=1"
wait_rollout() {
  api P GET "/v1/catalog/rollout?version=$1"
  [ "$(jq_get 'sorted(r["region"] for r in d["applied"])')" = "$2" ]
}
wait_for 10 wait_rollout 1 "['370100', '370102', '370103', '370200', '370202']"
is "$?" 0 "rollout of version 1 at the province: both cities and all counties applied"
is "$(jq_get 'any(r["region"] == "370300" and "never connected" in r["reason"] for r in d["lagging"])')" \
  True "cities that never connected are listed as lagging, with the reason"
api P GET "/v1/catalog/rollout?version=x"
is "$code" 400 "rollout with a version that is not a number is 400"
api P GET "/v1/catalog/rollout?version=99"
is "$code $(jq_get 'sorted(set(r["reason"] for r in d["lagging"] if r["region"] in ("370100", "370102", "370103", "370200", "370202")))')" \
  "200 ['no release 99 at 370000 (its standard version is 1)']" \
  "a version never published: every connected region is behind 'no release 99 at 370000' (it said 'waiting for 370000')"
run "$TB" --api "$API_P" --token "$TOKEN_P" catalog rollout 99
like "$err" "lagging  370102 at version 1 (via 370100): no release 99 at 370000" \
  "  and tongban catalog rollout 99 says so per region"

# ---- overlays: the city's reaches its counties; a county's is checked ----
api C POST /v1/catalog/overlays \
  --data-binary @"$TB_SRC/ops/examples/overlay-370100.json"
is "$code" 201 "370100 publishes its overlay"
for n in K1 K2; do
  region_wait 30 "$n" 'any(o["region"] == "370100" and o["version"] == 1 for o in d["overlays"])'
  is "$?" 0 "the city's overlay reached $n"
done
api K3 GET /v1/catalog
is "$(jq_get 'len(d["overlays"])')" 0 "and not 370202, a county of another city"
$py - "$TB_SRC/ops/examples/overlay-370102.json" "$T/bad-ov.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["entries"][0]["task_name"] = "改个名字"
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
api K1 POST /v1/catalog/overlays --data-binary @"$T/bad-ov.json"
is "$code $(jq_get 'd["error"]["field"]')" '422 $.entries[0].task_name' \
  "a county overlay touching a standard field is refused, naming the field"
like "$(jq_get 'd["error"]["message"]')" "is owned by 370000 (四级四同) and cannot be changed by 370102" \
  "and its owner, against the standard that flowed down"
api K1 POST /v1/catalog/overlays \
  --data-binary @"$TB_SRC/ops/examples/overlay-370102.json"
is "$code" 201 "the county's own overlay applies on the flowed catalog"
# A layer above the node is not published by hand where it has a parent:
# it comes down the stream (an unsigned copy here would differ from the
# city's and stop the stream); refused before anything is proposed.
api K1 POST /v1/catalog/overlays \
  --data-binary @"$TB_SRC/ops/examples/overlay-370100.json"
is "$code $(jq_get 'd["error"]["code"]') $(jq_get 'd["error"]["field"]')" \
  '422 from_parent $.region' "the city's overlay published at the county is refused (from_parent)"
is "$(jq_get 'd["error"]["message"]')" \
  "overlays of 370100 reach 370102 from its parent; publish it at 370100" \
  "  saying where to publish it"

# ---- the city stopped while the province publishes twice ----
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
# 370100 runs at feature level 3 (a run of several entries it receives is
# one outbox.deliver_run; here each release arrives alone, a run of one,
# proposed as a single DELIVER); 370102 stays at level 2 (one DELIVER per
# entry, whatever it receives). Runs of many: tests/test_store_region.c,
# tests/test_outbox*.c and ops/bench --region (catching up).
run "$TB" --api "$API_C" --token "$TOKEN_C" group features --set 3
is "$rc" 0 "tongban group features --set 3 at 370100"
kill -STOP "$PID_C"
next_release 2
is "$code" 201 "with 370100 stopped (SIGSTOP), the province publishes release 2"
next_release 3
is "$code" 201 "and release 3"
lagging_city() {
  api P GET "/v1/catalog/rollout?version=3"
  [ "$(jq_get '[r["reason"].split(":")[0] for r in d["lagging"] if r["region"] == "370100"]')" = "['unreachable']" ]
}
wait_for 15 lagging_city
is "$?" 0 "the rollout of version 3 names 370100 as unreachable"
like "$(jq_get '[r for r in d["lagging"] if r["region"] == "370102"]')" "370100" \
  "and lists its counties as lagging behind it"
wait_for 10 wait_rollout 3 "['370200', '370202']"
is "$?" 0 "while 370200 and 370202 applied version 3"
backlog=$(curl -s "$API_P/metrics" | sed -n 's/^tongban_outbox_backlog{dest="370100"} //p')
is "$backlog" 2 "/metrics: the province's backlog towards 370100 is 2"
api P GET /v1/status
is "$(jq_get '[(r["backlog"], r["lag_ms"] > 0) for r in d["tree"]["outboxes"] if r["region"] == "370100"]')" \
  "[(2, True)]" "/v1/status: backlog 2 and a lag towards 370100"
api K1 GET /v1/catalog
is "$(jq_get 'd["standard"]["version"]')" 1 "370102 is still at version 1"

kill -CONT "$PID_C"
for n in K1 K2; do
  region_wait 30 "$n" 'd["standard"]["version"] == 3'
  is "$?" 0 "370100 resumed (SIGCONT): $n catches up to version 3"
  api "$n" GET /v1/catalog
  is "$(jq_get 'd["releases"]')" "[1, 2, 3]" "$n applied releases 1, 2, 3 in order"
done
api K1 GET /v1/region
is "$(jq_get 'd["inbound"]["origin"], d["inbound"]["cursor"]')" \
  "370100 {'inc': 1, 'seq': 4}" \
  "370102's cursor: incarnation 1, entry 4 (three releases and the city's overlay)"
api K1 GET /v1/region
is "$(jq_get 'd["counters"]["runs_proposed"], d["counters"]["delivered"] >= 4')" \
  "0 True" "370102 (level 2) delivered each entry with a DELIVER of its own"
api P GET /v1/region
is "$(jq_get 'd["counters"]["runs_sent"] >= 1')" True \
  "the province sent DATA_RUN frames (370100 said it takes them)"
wait_for 10 wait_rollout 3 "['370100', '370102', '370103', '370200', '370202']"
is "$?" 0 "the rollout of version 3: every region applied it"
wait_backlog0() {
  [ "$(curl -s "$API_P/metrics" | sed -n 's/^tongban_outbox_backlog{dest="370100"} //p')" = 0 ]
}
wait_for 10 wait_backlog0
is "$?" 0 "the province's backlog towards 370100 drains to 0"

# ---- a restarted city (a new leader) resumes from its durable cursor ----
node_kill C TERM
next_release 4
is "$code" 201 "with 370100 down, the province publishes release 4"
node_start C
is "$?" 0 "370100 starts again"
for n in K1 K2; do
  region_wait 30 "$n" 'd["standard"]["version"] == 4 and d["releases"] == [1, 2, 3, 4]'
  is "$?" 0 "$n reaches release 4, each release applied once"
done
api C GET /v1/region
is "$(jq_get 'd["inbound"]["cursor"]["seq"], d["counters"]["refused"]')" "4 0" \
  "370100's cursor from the province: entry 4 (four releases), nothing refused"

# ---- an origin restarted with a backlog resumes from its durable outbox ----
kill -STOP "$PID_K1"
next_release 5
is "$code" 201 "with 370102 stopped, the province publishes release 5"
backlog_c() {
  [ "$(curl -s "$API_C/metrics" | sed -n 's/^tongban_outbox_backlog{dest="370102"} //p')" = 1 ]
}
wait_for 30 backlog_c
is "$?" 0 "370100 applied it and holds it for 370102 (backlog 1)"
node_kill C TERM
node_start C
is "$?" 0 "370100 restarts (a new leader, a new driver)"
kill -CONT "$PID_K1"
region_wait 30 K1 'd["standard"]["version"] == 5 and d["releases"] == [1, 2, 3, 4, 5]'
is "$?" 0 "370102 resumed: release 5 comes from 370100's stored outbox"

# ---- any node answers for any case, routed by region code ----
# A case received at 370102 (materials uploaded there, the standard that
# flowed down), then asked at other regions' nodes.
food_case_json K1
api K1 POST /v1/cases --data-binary @case.json
is "$code" 201 "a case is received at 370102"
CID=$(printf '%s' "$body" | sed -n 's/.*"id":"\(370102-[0-9]*-[0-9]*\)".*/\1/p' | head -1)
api P GET "/v1/cases/$CID"
is "$code $(jq_get 'd["id"], d["served_by"]["region"]')" "200 $CID 370102" \
  "asked at the province: answered by 370102 (two hops down), served_by says so"
ok "$(jq_get '1 if d["as_of"]["applied"] > 0 and d["as_of"]["at"] > 0 else 0' | grep -qx 1; echo $?)" \
  "  with as_of (the answering store's applied index and time)"
t0=$(now_ms)
api K3 GET "/v1/cases/$CID"
is "$code $(jq_get 'd["served_by"]["region"], d["id"], d["matter"], d["redacted"]')" \
  "200 370102 $CID 000117001000#01 True" \
  "asked at 370202: four hops (370202 → 370200 → 370000 → 370100 → 370102), redacted"
echo "# one query over four hops: $(($(now_ms) - t0)) ms (curl, sanitizer build)"
ok "$(printf '%s' "$body" | grep -q '370102199001011231\|13912345678\|张三'; [ $? = 1 ]; echo $?)" \
  "  370202 handles nothing of the case: no ID number, phone or name in the answer"
is "$(jq_get 'sorted(d.keys() & {"applicant", "form", "materials", "events"})')" "[]" \
  "  the summary only: no applicant, form, materials or events"
like "$(jq_get 'd["reason"]')" "370202 is not the receiving region (370102), the owner (370102)" \
  "  and the reason says why"
grep -q '"act":"case.read.remote".*"object":"'"$CID"'".*"region":"370202".*"personal_data":false' K1/audit.log
is "$?" 0 "370102's audit log records the remote read, who asked (370202), and no personal data sent"
api C GET "/v1/cases/$CID"
is "$code $(jq_get 'd["redacted"], d["state"], "applicant" in d')" "200 True received False" \
  "the supervising city (370100) gets the summary too"
api K1 GET "/v1/cases/$CID"
is "$code $(jq_get 'd.get("redacted", False), d["applicant"]["id_number"]')" "200 False 370102199001011231" \
  "the receiving region itself reads the full case"
api K3 GET "/v1/cases/370103-20260101-000001"
is "$code $(jq_get 'd["error"]["code"]')" "404 not_found" \
  "a case 370103 does not hold: 404 from 370103, relayed back"
like "$(jq_get 'd["error"]["message"]')" "not held at 370103" "  the reason names where it was asked"
api K3 GET "/v1/cases/990101-20260101-000001"
is "$code $(jq_get 'd["error"]["code"]')" "404 not_found" "a region in no table: 404"
like "$(jq_get 'd["error"]["message"]')" "not in the region table" "  saying so"
api K3 GET "/v1/cases/110101-20260101-000001"
is "$code $(jq_get 'd["error"]["code"]')" "503 unavailable" \
  "a region no link leads to (another province, no peer): 503"
like "$(jq_get 'd["error"]["message"]')" "no parent and no peer" "  with the reason, from the province"
api K1 GET "/v1/catalog/matters/000117001000%2301?region=370103"
is "$code $(jq_get 'd["served_by"]["region"]')" "200 370103" \
  "another region's effective matter (370103's, asked at 370102, via 370100)"
# ---- case summaries flow up: the city and the province see their area ----
area_has() { # area_has NAME STATE: NAME's area lists $CID in STATE
  api "$1" GET "/v1/area/cases?state=$2"
  [ "$code" = 200 ] && [ "$(jq_get 'any(c["id"] == "'"$CID"'" for c in d["cases"])')" = True ]
}
wait_for 20 area_has C received
is "$?" 0 "370100's area lists the case received at 370102"
wait_for 20 area_has P received
is "$?" 0 "and so does the province's, relayed by 370100"
is "$(jq_get '[c for c in d["cases"] if c["id"] == "'"$CID"'"][0].get("applicant", "none")')" none \
  "a supervising tier's summary carries no applicant"
is "$(jq_get '[c for c in d["cases"] if c["id"] == "'"$CID"'"][0]["matter"]')" "000117001000#01" \
  "  but the matter, the state and the dates"
# At feature level 3 the handling authority numbers the case at acceptance:
# the national 办件编号, its implementation code (370102's overlay) + the day
# (UTC+8) + a 4-digit serial.
api K1 POST /v1/group/features -d '{"level":3}'
is "$code" 201 "370102 raised to feature level 3"
api K1 POST "/v1/cases/$CID/actions" -H 'If-Match: 1' \
  -d '{"action":"accept","opinion":"材料齐全"}'
is "$code" 201 "the case is accepted at 370102"
is "$(jq_get 'd["event"]["body"]["national_no"] == "11370102MB152906114000117001000" + __import__("datetime").datetime.fromtimestamp(d["event"]["at"] / 1000, __import__("datetime").timezone(__import__("datetime").timedelta(hours=8))).strftime("%Y%m%d") + "0001"')" True \
  "  with the national 办件编号: implementation code, day (UTC+8), serial 0001"
api K1 GET "/v1/cases/$CID"
is "$(jq_get 'len(d["national_no"])')" 43 "  kept on the case (43 characters)"
wait_for 20 area_has P accepted
is "$?" 0 "the province's area list follows it to accepted"
api P GET "/v1/area/cases?state=received"
is "$(jq_get 'any(c["id"] == "'"$CID"'" for c in d["cases"])')" False \
  "  and no longer lists it as received"
api P GET "/v1/area/cases?overdue=0"
is "$(jq_get '[(c["overdue"], "due" in c) for c in d["cases"] if c["id"] == "'"$CID"'"]')" "[(False, True)]" \
  "with overdue=0 it is listed, not overdue, with its due date"
api P GET "/v1/area/cases?overdue=1"
is "$(jq_get 'any(c["id"] == "'"$CID"'" for c in d["cases"])')" False \
  "  and overdue=1 leaves it out"
run "$TB" --api "$API_P" --token "$TOKEN_P" area cases --state accepted
is "$rc" 0 "tongban area cases --state accepted at the province"
like "$out" "\"id\": \"$CID\"" "  stdout: the JSON, listing the case"
printf '%s\n' "$err" | grep -Eq "^$CID +000117001000#01 +accepted +[0-9]{4}-[0-9]{2}-[0-9]{2} +no "
ok $? "  stderr: its row (id, matter, state, due date, not overdue)"
like "$err" "the area of 370000: " "  under the area's name"
api P GET "/v1/area/cases?overdue=maybe"
is "$code $(jq_get 'd["error"]["field"]')" "400 overdue" "overdue must be 0 or 1"
api P GET "/v1/area/cases?state=nonsense"
is "$code $(jq_get 'd["error"]["field"]')" "400 state" "an unknown state is 400 naming the field"

node_kill K2 KILL
api K3 GET "/v1/cases/370103-20260101-000001"
is "$code $(jq_get 'd["error"]["code"]')" "503 unavailable" \
  "the owner's node down: 503 (no copy is kept along the way)"
node_start K2
# The county that holds the case stopped: its city and the province hold
# its summary (case summaries up the tree) and answer with it.
node_kill K1 TERM
api C GET "/v1/cases/$CID"
is "$code $(jq_get 'd["error"]["code"], d["last_known"]["id"], d["last_known"]["state"], "applicant" in d["last_known"]')" \
  "503 unavailable $CID accepted False" \
  "370102 down, asked at 370100: 503 with the last known summary (accepted, no applicant)"
is "$(jq_get 'd["last_known_as_of"]["source"], d["last_known_as_of"]["version"] == d["last_known"]["version"] > 1')" \
  "area summary True" "  and its as_of: the summary's version"
api P GET "/v1/cases/$CID"
is "$code $(jq_get 'd["error"]["code"], d["last_known"]["state"]')" "503 unavailable accepted" \
  "asked at the province (370100 relays the failure): its own summary"
api K3 GET "/v1/cases/$CID"
is "$code $(jq_get 'd["error"]["code"], "last_known" in d')" "503 unavailable False" \
  "asked at 370202, which holds no summary of it: 503 without a last known copy"
node_start K1
is "$?" 0 "370102 restarts"
api P GET /v1/cases/370000-20260101-000001
is "$code" 404 "a case of this region that does not exist is still 404"

# ---- a cap lowered at the city below the county's promise ----
# The city's overlay 2 lowers its default for 000117001000#01 to 2 G; the
# county's own overlay promises 3 G. The county applies the city's layer,
# serves the cap from feature level 5, and says its overlay conflicts, in
# the words of the offline check.
api C GET /v1/catalog
$py - "$TB_SRC/ops/examples/overlay-370100.json" "$T/ov100-v2.json" \
  "$(jq_get '[o["hash"] for o in d["overlays"] if o["region"] == "370100"][0]')" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(version=2, prev_hash=sys.argv[3])
d["defaults"][0]["promise_day"] = 2
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
capmsg="000117001000#01 at 370102: promised limit later than the cap set by 370100: 3 G exceeds 2 G"
run "$TB" overlay check --catalog "$C" --overlay "$T/ov100-v2.json" \
  --overlay "$TB_SRC/ops/examples/overlay-370102.json"
like "$out$err" "$capmsg" "tongban overlay check: the county's 3 G exceeds the city's new cap"
api C POST /v1/catalog/overlays --data-binary @"$T/ov100-v2.json"
is "$code" 201 "370100 publishes overlay 2 (default 2 G)"
region_wait 30 K1 'any(o["region"] == "370100" and o["version"] == 2 for o in d["overlays"])'
is "$?" 0 "it reaches 370102, which cannot refuse its city's layer"
api K1 GET /v1/catalog
is "$(jq_get '[c["message"] for c in d["overlay_conflicts"]]')" "['$capmsg']" \
  "GET /v1/catalog at 370102: overlay_conflicts, as the offline check says it"
like "$(curl -s "$API_K1/healthz")" \
  'TB-CATALOG-OVERLAY-CONFLICT: overlay of 370102 version 1, $.entries[0].promise_day: '"$capmsg" \
  "/healthz at 370102 warns, naming the overlay and the field"
like "$(grep TB-CATALOG-OVERLAY-CONFLICT "$T/K1.log" | head -1)" "3 G exceeds 2 G" \
  "370102 logs the conflict when the city's overlay applies"
api K1 GET "/v1/catalog/matters/000117001000%2301"
is "$(jq_get 'd["matter"]["promise_day"]')" 3 "below feature level 5 the county's 3 days are served as before"
api K1 POST /v1/group/features -d '{"level":5}'
is "$code" 201 "370102 raised to feature level 5"
api K1 GET "/v1/catalog/matters/000117001000%2301"
is "$(jq_get '(d["matter"]["promise_day"], d["matter"]["promise_type"])')" "(2, 'G')" \
  "at level 5 the effective matter takes the city's cap: 2 G"
api K1 GET /v1/catalog
$py - "$TB_SRC/ops/examples/overlay-370102.json" "$T/ov102-v2.json" \
  "$(jq_get '[o["hash"] for o in d["overlays"] if o["region"] == "370102"][0]')" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(version=2, prev_hash=sys.argv[3])
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
api K1 POST /v1/catalog/overlays --data-binary @"$T/ov102-v2.json"
is "$code $(jq_get 'd["error"]["message"]')" "422 $capmsg" \
  "the county's next overlay still promising 3 G is refused at its API"

# A node that names another region as the asker (TB_FAULT_QUERY_ASKED_BY,
# a test fault): its first hop, whose link authenticated it, refuses.
node_kill K3 TERM
TB_FAULT_QUERY_ASKED_BY=370102 node_start K3
asked() { api K3 GET "/v1/cases/$CID"; [ "$code" != 503 ]; } # its link up
wait_for 10 asked
is "$code $(jq_get 'd["error"]["code"]')" "403 forbidden" \
  "370202 claiming to ask as 370102: 403 from its first hop"
like "$(jq_get 'd["error"]["message"]')" "\$.asked_by.region: 370102 is not the asking node's region 370202" \
  "  naming the field and the certificate's region"
for n in P C K1 K2 C2 K3; do node_kill "$n" TERM; done
is "$(grep -l 'Sanitizer\|runtime error' "$T"/*.log)" "" \
  "the six nodes stop with no sanitizer report in their logs"

done_testing
