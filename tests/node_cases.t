#!/usr/bin/env bash
# Cases through the HTTP API of a real 370000 node: idempotent retries
# (also eight at once), If-Match races, the whole lifecycle with its due
# date checked against the 2026 calendar on the real clock, the change
# feed, a bundle, and a restart that keeps tokens, catalog, materials,
# cases and the Raft state.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/node_api_lib.sh"
watchdog 120

setup_node c 370000
ok $? "a 370000 node with the standard layer and materials"
api c POST /v1/tokens -d '{"role":"clerk","name":"窗口 7"}'
CLERK=$(jq_get 'd["token"]')
CLERK_ID=$(jq_get 'd["id"]')
A=$API_c

total() {
  api c GET /v1/status
  jq_get 'd["cases"]["total"]'
}

echo "# -- Idempotency-Key"
n0=$(total)
api_as "$CLERK" c POST /v1/cases -H 'Idempotency-Key: win7-0001' --data-binary @"$T/food.json"
is "$code" 201 "a case with an Idempotency-Key"
ID1=$(jq_get 'd["case"]["id"]')
first=$body
api_as "$CLERK" c POST /v1/cases -H 'Idempotency-Key: win7-0001' --data-binary @"$T/food.json"
is "$code:$(jq_get 'd["case"]["id"]')" "201:$ID1" "the same key and body again: the same case"
same=$($PY -c '
import json, sys
print(json.loads(sys.argv[1]) == json.loads(sys.argv[2]))' "$first" "$body")
is "$same" True "  the same reply"
is "$(total)" $((n0 + 1)) "  and one case, not two"
# The same body written with \u escapes and its members in another order
# is parsed by jansson, not by the case fast path (node/api_case_fast.c):
# its command must carry the same body (receiver included), or the key
# would answer 409 (test_json_canon compares the bytes themselves).
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
json.dump(dict(reversed(list(d.items()))), open(sys.argv[2], "w"),
          ensure_ascii=True, indent=1)' "$T/food.json" "$T/food-esc.json"
api_as "$CLERK" c POST /v1/cases -H 'Idempotency-Key: win7-0001' --data-binary @"$T/food-esc.json"
is "$code:$(jq_get 'd["case"]["id"]')" "201:$ID1" \
  "the same body, escaped and reordered (the usual way): the same case"
variant "$T/food.json" "d['receiver'] = '$CLERK_ID'" "$T/food-rcv.json"
api_as "$CLERK" c POST /v1/cases -H 'Idempotency-Key: win7-0001' --data-binary @"$T/food-rcv.json"
is "$code:$(jq_get 'd["case"]["id"]')" "201:$ID1" \
  "the same body naming the clerk as its receiver: the same case"
is "$(total)" $((n0 + 1)) "  and still one case"
variant "$T/food.json" 'd["form"]["business_items"] = "冷食类食品制售"' "$T/food2.json"
TOKEN_OVERRIDE=$CLERK refused "the same key, another body" 409 conflict Idempotency-Key -- \
  c POST /v1/cases -H 'Idempotency-Key: win7-0001' --data-binary @"$T/food2.json"
refused "the same key and body from another token" 409 conflict Idempotency-Key -- \
  c POST /v1/cases -H 'Idempotency-Key: win7-0001' --data-binary @"$T/food.json"
api_as "$CLERK" c POST /v1/cases -H 'Idempotency-Key: win7-0002' --data-binary @"$T/food2.json"
is "$code" 201 "another key: a new case"
ID2=$(jq_get 'd["case"]["id"]')
ok "$([ "$ID2" != "$ID1" ]; echo $?)" "  with another id"

variant "$T/food.json" 'del d["channel"]' "$T/bad.json"
TOKEN_OVERRIDE=$CLERK refused "a refused case with a new key" 422 missing '$.channel' -- \
  c POST /v1/cases -H 'Idempotency-Key: win7-0003' --data-binary @"$T/bad.json"
api_as "$CLERK" c POST /v1/cases -H 'Idempotency-Key: win7-0003' --data-binary @"$T/food2.json"
is "$code" 201 "  the key is free for a corrected body (only successes are kept)"
n0=$(total)
pids=()
for i in 1 2 3 4 5 6 7 8; do
  curl -s -o "$T/dup.$i" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $CLERK" \
    -H 'Idempotency-Key: win7-burst' --data-binary @"$T/food.json" "$A/v1/cases" \
    >"$T/dup.$i.code" &
  pids+=($!)
done
wait "${pids[@]}"
codes=$(echo $(cat "$T"/dup.?.code | sort | uniq -c))
is "$codes" "8 201" "eight concurrent submissions with one key all succeed"
ids=$(for i in 1 2 3 4 5 6 7 8; do
  $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["case"]["id"])' "$T/dup.$i"
done | sort -u)
is "$(printf '%s\n' "$ids" | wc -l)" 1 "  with one case id ($ids)"
is "$(total)" $((n0 + 1)) "  and exactly one case more"

echo "# -- If-Match races"
api_as "$CLERK" c POST /v1/cases --data-binary @"$T/food.json"
RACE=$(jq_get 'd["case"]["id"]')
i=0 pids=()
for a in accept request_supplement suspend accept request_supplement suspend accept suspend; do
  i=$((i + 1))
  curl -s -o "$T/race.$i" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $CLERK" \
    -H 'If-Match: "1"' -d "{\"action\":\"$a\"}" "$A/v1/cases/$RACE/actions" \
    >"$T/race.$i.code" &
  pids+=($!)
done
wait "${pids[@]}"
is "$(echo $(cat "$T"/race.?.code | sort | uniq -c))" "1 201 7 409" \
  "eight actions with If-Match \"1\": one succeeds, seven are 409"
n=0
for i in 1 2 3 4 5 6 7 8; do
  grep -q '"code":"stale_version","message":"case version is 2, not 1","field":"If-Match"' \
    "$T/race.$i" && n=$((n + 1))
done
is "$n" 7 "  all seven as stale_version"
api c GET "/v1/cases/$RACE"
is "$(jq_get 'd["version"]')" 2 "  the case version went up by exactly one"
is "$(jq_get 'len(d["events"])')" 2 "  with one event"
refused "an If-Match that is not a version" 400 malformed If-Match "$RACE" -- \
  c POST "/v1/cases/$RACE/actions" -H 'If-Match: abc' -d '{"action":"accept"}'
like "$body" "If-Match must be the case's version as its ETag (a number" \
  "  saying what it must be (it used to say: the case's ETag (\"3\"))"
api c GET /v1/cases/garbage
is "$code $(jq_get 'd["error"]["code"]')" "404 not_found" "GET /v1/cases/garbage: 404"
like "$body" "case garbage: not a case id (a case id starts with its region's code" \
  "  naming the case id (it used to say: region: not a region code)"

echo "# -- the lifecycle through the API"
api_as "$CLERK" c POST /v1/cases --data-binary @"$T/food.json"
W=$(jq_get 'd["case"]["id"]')
day0=$(date -u -d '+8 hours' +%F)
like "$W" "370000-${day0//-/}-" "the case id carries today's date in UTC+8"
v=1
step() { # step ACTION [EXTRA JSON]: the next action with If-Match
  api_as "$CLERK" c POST "/v1/cases/$W/actions" -H "If-Match: \"$v\"" \
    -d "{\"action\":\"$1\"${2:+,$2}}"
  is "$code:$(jq_get 'd["case"]["version"]')" "201:$((v + 1))" "$1 (If-Match \"$v\")"
  v=$((v + 1))
}
step request_supplement '"opinion":"缺少食品安全管理制度"'
step supplement
step accept '"opinion":"材料齐全，予以受理"'
accepted_on=$(date -u -d '+8 hours' +%F)
step start_handling
step suspend '"pause_until":"2026-12-31","opinion":"现场核查"'
api c GET "/v1/cases/$W"
is "$(jq_get 'd["clock"]')" stopped "  suspended: the clock is stopped"
step resume
step submit_review '"opinion":"同意"'
step submit_decision
step approve '"opinion":"准予许可"'
api c GET "/v1/cases/$W" -D "$T/hdr"
is "$(jq_get 'd["state"]+" "+str(d["version"])+" "+str(d["completion_code"])+" "+d["clock"]')" \
  "approved 10 0 over" "GET: approved, version 10, completion code 0, the clock over"
like "$(tr -d '\r' <"$T/hdr")" 'ETag: "10"' "  the ETag is the version"
is "$(jq_get '" ".join(e["body"]["action"] for e in d["events"])')" \
  "receive request_supplement supplement accept start_handling suspend resume submit_review submit_decision approve" \
  "  ten events in order"
is "$(jq_get '[e["body"]["seq"] for e in d["events"]]')" "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" \
  "  numbered 1..10"
is "$(jq_get '" ".join(str(e["body"].get("step_code", "-")) for e in d["events"])')" \
  "- 5 - 4 - 6 - 1 1 1" "  with the national step codes"
is "$(jq_get 'set(e["body"]["actor"] for e in d["events"][1:]) == {"'"$CLERK_ID"'"}')" True \
  "  each by the clerk's token"
is "$(jq_get '[(p["kind"], p["stopped_on"], p.get("until")) for p in d["pauses"]]')" \
  "[('supplement', '$day0', None), ('special', '$day0', '2026-12-31')]" \
  "  two pauses: the supplement and the special procedure"
is "$(jq_get 'd["accepted_on"]')" "$accepted_on" "  accepted today (UTC+8)"
is "$(jq_get 'd["limit"]')" "{'days': 10, 'kind': 'promised', 'unit': 'G'}" \
  "  the province's promised limit, 10 working days"

# The due date: the node counts on the real clock; count the same days with
# `tongban deadline` on the 2026 calendar. Pauses that begin after they end
# (stopped and resumed the same day) cover no day.
due=$(jq_get 'd["due"]')
prov=$(jq_get 'd["due_provisional"]')
pauses=$(jq_get '" ".join("--pause %s:%s" % (p["from"], p["to"]) for p in d["pauses"] if p["from"] <= p["to"])')
# shellcheck disable=SC2086
if expect=$("$TB" deadline --calendar "$TB_SRC/ops/examples/calendar-2026.json" \
  --from "$accepted_on" --days 10 --unit G $pauses 2>"$T/dl.err"); then
  echo "# deadline branch: inside the 2026 calendar (accepted $accepted_on, due $expect)"
  is "$due" "$expect" "due date as tongban deadline counts it on the 2026 calendar"
  is "$prov" False "  not provisional"
  api c GET "/v1/cases/$W"
  wf=$(jq_get 'd["warn_from"]')
  ok "$([[ "$wf" < "$due" || "$wf" == "$due" ]] && [[ "$wf" > "$accepted_on" ]]; echo $?)" \
    "  the warning window starts before it ($wf)"
else
  echo "# deadline branch: beyond the 2026 calendar (accepted $accepted_on): $(cat "$T/dl.err")"
  is "$prov" True "due date marked provisional beyond the calendar"
  ok "$([[ "$due" > "$accepted_on" ]]; echo $?)" "  and after the acceptance day ($due)"
  ok 0 "  (warning window not checked)"
fi
is "$(jq_get 'd["late"]')" False "approved in time: not late"

echo "# -- the change feed"
api c GET /v1/status
nev=$(jq_get 'd["events"]')
after=0 pages=0 seqs=
while :; do
  api c GET "/v1/events?after=$after&limit=7"
  [ "$code" = 200 ] || break
  got=$(jq_get '" ".join(str(e["seq"]) for e in d["events"])')
  [ -z "$got" ] && break
  seqs="$seqs $got"
  after=$(jq_get 'd["next"]')
  pages=$((pages + 1))
  [ "$pages" -gt 50 ] && break
done
is "$(echo $seqs)" "$(seq -s ' ' 1 "$nev")" "paging with next visits events 1..$nev once, in order"
is "$pages" $(((nev + 6) / 7)) "  in pages of seven"
api c GET "/v1/events?after=$nev"
is "$code:$(jq_get 'len(d["events"])'):$(jq_get 'd["next"]')" "200:0:$nev" "after the last one: none, next stays"
api c GET "/v1/events?after=0&limit=1000"
is "$(jq_get '" ".join(e["body"]["action"] for e in d["events"] if e["body"]["case"] == "'"$W"'")')" \
  "receive request_supplement supplement accept start_handling suspend resume submit_review submit_decision approve" \
  "the feed has the case's events in order"

echo "# -- a bundle (新生儿出生一件事) and the case list"
api_as "$CLERK" c POST /v1/cases -H 'Idempotency-Key: birth-1' --data-binary @"$T/birth.json"
is "$code:$(jq_get 'len(d["bundle"]["cases"])')" "201:5" "a bundle application makes five member cases"
is "$(jq_get '" ".join(c["member"] for c in d["bundle"]["cases"])')" \
  "birth_cert vaccination hukou med_insurance ss_card" "  in the bundle's order"
HUKOU=$(jq_get '[c["id"] for c in d["bundle"]["cases"] if c["member"] == "hukou"][0]')
api c GET "/v1/cases/$HUKOU"
is "$(jq_get 'd["form"]["hukou_address"]')" "济南市历下区文化东路8号" "  the hukou case gets its shared fields"
all=0 cursor= pages=0
while :; do
  api c GET "/v1/cases?limit=4${cursor:+&after=$cursor}"
  all=$((all + $(jq_get 'len(d["cases"])')))
  cursor=$(jq_get 'd["next"] or ""')
  pages=$((pages + 1))
  [ -z "$cursor" ] || [ "$pages" -gt 20 ] && break
done
is "$all" "$(total)" "the case list pages through every case"
api c GET '/v1/cases?status=approved'
is "$(jq_get '[c["id"] for c in d["cases"]]')" "['$W']" "  status=approved: the walked case"
api c GET '/v1/cases?matter=000117001000%2301&status=open&limit=1000'
is "$(jq_get 'len(d["cases"])')" 5 "  open food licence cases: five (the sixth is approved)"

echo "# -- the summary index (feature level 2): the same lists, byte for byte"
# list_all PATH: every page of a list, one body a line.
list_all() {
  local cursor= pages=0 sep
  while :; do
    case "$1" in *\?*) sep='&' ;; *) sep='?' ;; esac
    api c GET "$1${cursor:+${sep}after=$cursor}"
    printf '%s %s\n' "$code" "$body"
    cursor=$(jq_get 'd.get("next") or ""' 2>/dev/null)
    pages=$((pages + 1))
    [ -z "$cursor" ] || [ "$pages" -gt 20 ] && break
  done
}
lists() {
  local q
  for q in '/v1/cases?limit=3' '/v1/cases?status=received&limit=2' \
    '/v1/cases?status=open&limit=4' '/v1/cases?status=final' \
    '/v1/cases?overdue=0&limit=5' '/v1/cases?overdue=1' \
    '/v1/cases?status=open&overdue=0&limit=2' \
    '/v1/cases?matter=000117001000%2301&status=open&limit=1000' \
    '/v1/cases?matter=000117001000%2301&limit=2'; do
    list_all "$q"
  done
}
lists >"$T/lists1"
api c POST /v1/group/features -d '{"level":2}'
is "$code:$(jq_get 'd["feature_level"], d["cases_indexed"]')" "201:2 $(total)" \
  "raising the level to 2 indexes every stored case"
lists >"$T/lists2"
ok "$(cmp -s "$T/lists1" "$T/lists2"; echo $?)" \
  "at level 2 every list is byte for byte what it was ($(wc -l <"$T/lists2") pages)"

echo "# -- a restart keeps everything"
api c GET /v1/status
st0=$body
api c GET /v1/catalog
cat0=$body
api c GET /v1/catalog/matters/000117001000%2301
m0=$body
api c GET "/v1/cases/$W"
case0=$(jq_get 'json.dumps({k: v for k, v in d.items() if k not in ("today", "clock", "warn", "overdue")}, sort_keys=True)')
head -c 1048576 /dev/urandom >"$T/scan.bin"
api c PUT /v1/blobs --data-binary @"$T/scan.bin"
HB=$(jq_get 'd["hash"]')
node_stop c
is "$stop_rc" 0 "the node stops cleanly on SIGTERM"
node_start c
ok $? "and starts again"
api c GET /v1/status
$PY -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(b["applied_index"] >= a["applied_index"], b["raft"]["term"] >= a["raft"]["term"],
      b["raft"]["role"], a["cases"] == b["cases"], a["events"] == b["events"],
      a["catalog"] == b["catalog"])' "$st0" "$body" >"$T/x"
is "$(cat "$T/x")" "True True leader True True True" \
  "status: applied index and term not lower, leading, same cases, events, catalog"
api c GET /v1/catalog
is "$body" "$cat0" "the catalog is the same (release 1)"
api c GET /v1/catalog/matters/000117001000%2301
is "$body" "$m0" "  the effective matter and its hashes too"
api c GET "/v1/cases/$W"
is "$(jq_get 'json.dumps({k: v for k, v in d.items() if k not in ("today", "clock", "warn", "overdue")}, sort_keys=True)')" \
  "$case0" "the case is the same"
curl -s -H "Authorization: Bearer $CLERK" -o "$T/back.bin" "$API_c/v1/blobs/$HB"
ok "$(cmp -s "$T/scan.bin" "$T/back.bin"; echo $?)" "a material is byte-identical after the restart"
api_as "$CLERK" c POST /v1/cases -H 'Idempotency-Key: win7-0001' --data-binary @"$T/food.json"
is "$code:$(jq_get 'd["case"]["id"]')" "201:$ID1" "an idempotent retry after the restart: the first case"
api_as "$CLERK" c POST "/v1/cases/$ID2/actions" -H 'If-Match: "1"' -d '{"action":"withdraw"}'
is "$code:$(jq_get 'd["case"]["state"]')" "201:withdrawn" "the clerk's token works and the node takes writes"
node_stop c
is "$stop_rc" 0 "the node stops cleanly again"
echo "# -- due dates on fixed days: a node whose clock an LD_PRELOAD shim moves"
CAL=$TB_SRC/ops/examples/calendar-2026.json
if clock_shim; then
  export LD_PRELOAD=$T/skew.so
  TB_TEST_CLOCK_SKEW=$(skew_to '2026-02-13 10:00 +0800') setup_node p 370000
  ok $? "a node on Friday 2026-02-13 (before 春节)"
  api p POST /v1/cases --data-binary @"$T/food.json"
  P1=$(jq_get 'd["case"]["id"]')
  is "$P1" "370000-20260213-000001" "the case id carries the node's day"
  api p POST "/v1/cases/$P1/actions" -H 'If-Match: "1"' -d '{"action":"accept"}'
  want=$("$TB" deadline --calendar "$CAL" --from 2026-02-13 --days 10 --unit G)
  is "$(jq_get 'd["case"]["due"]+" "+str(d["case"]["due_provisional"])')" "$want False" \
    "accepted on 02-13: due $want, as tongban deadline counts over 春节 and the make-up days"
  is "$want" 2026-03-05 "  (02-14 and 02-28 are make-up working days, 02-15..23 are off)"
  api p POST "/v1/cases/$P1/actions" -H 'If-Match: "2"' -d '{"action":"start_handling"}'
  api p POST "/v1/cases/$P1/actions" -H 'If-Match: "3"' -d '{"action":"suspend","pause_until":"2026-02-24"}'
  is "$code:$(jq_get 'd["case"]["state"]')" "201:suspended" "suspended on 02-13 (特别程序)"
  node_stop p
  is "$stop_rc" 0 "the node stops"
  TB_TEST_CLOCK_SKEW=$(skew_to '2026-02-24 10:00 +0800') node_start p
  ok $? "and starts on 2026-02-24"
  api p GET "/v1/cases/$P1"
  is "$(jq_get 'd["today"]+" "+d["clock"]+" "+str(d["overdue"])')" "2026-02-24 stopped False" \
    "  the case is paused, not overdue"
  api p POST "/v1/cases/$P1/actions" -H 'If-Match: "4"' -d '{"action":"resume"}'
  want=$("$TB" deadline --calendar "$CAL" --from 2026-02-13 --days 10 --unit G --pause 2026-02-14:2026-02-24)
  is "$(jq_get 'd["case"]["due"]+" "+d["case"]["state"]')" "$want handling" \
    "resumed on 02-24: due $want, the pause 02-14..02-24 not counted"
  api p GET "/v1/cases/$P1"
  is "$(jq_get '[(p["from"], p["to"]) for p in d["pauses"]]')" "[('2026-02-14', '2026-02-24')]" \
    "  the pause runs from the day after the suspension to the resumption"
  node_stop p
  TB_TEST_CLOCK_SKEW=$(skew_to '2027-01-11 10:00 +0800') node_start p
  ok $? "the node starts on 2027-01-11, beyond the 2026 calendar"
  api p GET "/v1/cases/$P1"
  is "$(jq_get 'd["clock"]+" "+str(d["overdue"])+" "+str(d["warn"])')" "running True False" \
    "  the handling case is overdue"
  api p GET '/v1/cases?overdue=1'
  is "$(jq_get '[c["id"] for c in d["cases"]]')" "['$P1']" "  and listed by overdue=1"
  api p POST /v1/cases --data-binary @"$T/food.json"
  P2=$(jq_get 'd["case"]["id"]')
  api p POST "/v1/cases/$P2/actions" -H 'If-Match: "1"' -d '{"action":"accept"}'
  is "$(jq_get 'd["case"]["due"]+" "+str(d["case"]["due_provisional"])')" "2027-01-25 True" \
    "accepted on 2027-01-11: due 2027-01-25 counting Monday-Friday, marked provisional"
  "$TB" deadline --calendar "$CAL" --from 2027-01-11 --days 10 --unit G >/dev/null 2>&1
  ok "$([ $? -ne 0 ]; echo $?)" "  where tongban deadline refuses to count (beyond the calendar)"
  node_stop p
  is "$stop_rc" 0 "the node stops cleanly"
  unset LD_PRELOAD
else
  echo "# SKIP fixed days: cannot build the clock shim: $(head -3 "$T/cc.err")"
  ok 0 "# SKIP no C compiler for the clock shim"
fi
done_testing
