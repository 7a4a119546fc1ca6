#!/usr/bin/env bash
# The calendar feed (docs/CALENDAR.md "The calendar feed"), with real
# processes of real regions, one-voter groups at feature level 5: province
# 370000, city 370100, county 370102. The province publishes a 2027
# calendar (ops/examples/calendar-2027.json, an invented example) with
# `tongban calendar publish`, without a new release; it flows down the
# outboxes as the signed document and the county stores it with the
# province's hash. A case of a 30 working-day matter accepted at the county
# then counts its due date on 2026 (the release's calendar) and 2027 (the
# published one), as `tongban deadline` does on the two together. A
# calendar signed by a key that is not a release key, and an older
# version, are refused with the field named and nothing stored.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
group_bound 90 P C K

region_node P 370000 && region_node C 370100 P && region_node K 370102 C
is "$?" 0 "init and enrol 370000, 370100 and 370102"
for n in P C K; do node_start "$n" || break; done
is "$?" 0 "three nodes start"
run "$TB" --api "$API_P" --token "$TOKEN_P" calendar publish "$TB_SRC/ops/examples/calendar-2027.json"
is "$rc" 1 "calendar publish below feature level 5 is refused"
like "$err" "409 feature_level" "  409 feature_level (calendar.put needs level 5)"
for n in P C K; do
  a="API_$n" t="TOKEN_$n"
  run "$TB" --api "${!a}" --token "${!t}" group features --set 5
  is "$rc" 0 "$n is raised to feature level 5"
done
streams() {
  api "$1" GET /v1/region
  [ "$(jq_get 'sorted(r["region"] for r in d["outboxes"] if r["stream"])')" = "$2" ]
}
wait_for 30 streams P "['370100']" && wait_for 30 streams C "['370102']"
ok $? "streams 370000 -> 370100 -> 370102 open"
api P POST /v1/catalog/releases --data-binary @"$TB_SRC/ops/examples/catalog-370000.json"
is "$code" 201 "the province publishes release 1 (calendar 2026)"
region_wait 30 K 'd["standard"]["version"] == 1'
ok $? "  it reaches the county"

# ---- refusals at the province: nothing stored ----
cp "$TB_SRC/ops/examples/calendar-2027.json" cal.json
"$TB" keygen --out other.key >/dev/null && cp cal.json bad.json &&
  "$TB" sign --key other.key bad.json >/dev/null
run "$TB" --api "$API_P" --token "$TOKEN_P" calendar publish bad.json
is "$rc" 1 "a calendar signed by a key that is not a release key is refused"
like "$err" "at \$.signatures" "  naming \$.signatures"
$py -c 'import json; d = json.load(open("cal.json")); d["workdays"][0]["date"] = "2027-02-15"; json.dump(d, open("mon.json", "w"), ensure_ascii=False)'
run "$TB" --api "$API_P" --token "$TOKEN_P" calendar publish mon.json
is "$rc" 1 "a make-up day on a Monday is refused"
like "$err" "at \$.workdays[0].date" "  naming \$.workdays[0].date"
api P GET /v1/calendars
is "$(jq_get 'len(d["calendars"])')" 0 "  the province stores no calendar"

# ---- the 2027 calendar, published at the province, reaches the county ----
run "$TB" --api "$API_P" --token "$TOKEN_P" calendar publish cal.json
is "$rc" 0 "tongban calendar publish at the province (signed by its release key)"
echo "# $err"
api P GET /v1/calendars
H=$(jq_get 'd["calendars"][0]["hash"] if d["calendars"] else "none"')
is "${#H}" 64 "  the province stores it"
like "$err" "hash $H" "  the hash it printed is the stored one"
is "$(printf '%s' "$out" | $py -c 'import json,sys; print(json.load(sys.stdin)["hash"])')" "$H" \
  "  and its JSON on stdout carries it too"
cal_at() {
  api "$1" GET /v1/calendars
  [ "$(jq_get 'd["calendars"][0]["hash"] if d["calendars"] else ""')" = "$H" ]
}
t0=$(now_ms)
wait_for 20 cal_at C && wait_for 20 cal_at K
ok $? "the city and the county store it with the province's hash"
echo "# calendar at the county in $(($(now_ms) - t0)) ms"
api K GET /v1/calendars
is "$(jq_get 'd["calendars"][0]["name"], d["effective_years"]')" \
  "2027年节假日安排(示例) [2026, 2027]" "  the county counts on 2026-2027"
run "$TB" --api "$API_K" --token "$TOKEN_K" calendar show
like "$err" "published: 370000 version 1, 2027" "tongban calendar show at the county"
is "$(printf '%s' "$out" | $py -c 'import json,sys; print(json.load(sys.stdin)["effective_years"])')" \
  "[2026, 2027]" "  stdout is the node's JSON"

run "$TB" --api "$API_P" --token "$TOKEN_P" calendar publish cal.json
is "$rc" 1 "the same version again is refused"
like "$err" "at \$.version" "  naming \$.version"

# ---- a 30 working-day case at the county counts on the calendar ----
for m in M01 M02; do
  printf 'material %s, %s\n' "$m" "$(date +%s%N)" >"$m.txt"
  api K PUT /v1/blobs --data-binary @"$m.txt"
  printf -v "H_$m" '%s' "$(jq_get 'd["hash"]')"
done
cat >case.json <<JSON
{"matter": "002014003000",
 "applicant": {"name": "张三", "id_type": "resident_id", "id_number": "370102199001011231", "phone": "13912345678"},
 "form": {"applicant_name": "张三", "id_number": "370102199001011231", "phone": "13912345678",
          "from_region": "370200", "to_region": "370102"},
 "materials": [{"code": "M01", "hash": "$H_M01", "size": 1}, {"code": "M02", "hash": "$H_M02", "size": 1}],
 "channel": "1"}
JSON
api K POST /v1/cases --data-binary @case.json
is "$code" 201 "a case of 002014003000 (30 working days) at the county"
[ "$code" = 201 ] || echo "# $body"
CID=$(printf '%s' "$body" | sed -n 's/.*"id":"\(370102-[0-9]*-[0-9]*\)".*/\1/p' | head -1)
api K POST "/v1/cases/$CID/actions" -H 'If-Match: 1' -d '{"action":"accept"}'
is "$code" 201 "  accepted"
[ "$code" = 201 ] || echo "# $body"
api K GET "/v1/cases/$CID"
FROM=$(jq_get 'd.get("accepted_on", "none")')
DUE=$(jq_get 'd.get("due", "none")')
PROV=$(jq_get 'd.get("due_provisional", False)')
$py - "$TB_SRC/ops/examples/catalog-370000.json" cal.json <<'PYEOF' >both.json
import json, sys
a = json.load(open(sys.argv[1]))["calendar"]
b = json.load(open(sys.argv[2]))
print(json.dumps({"format": a["format"], "years": a["years"] + b["years"],
                  "days_off": a["days_off"] + b["days_off"],
                  "workdays": a["workdays"] + b["workdays"]}))
PYEOF
want=$("$TB" deadline --calendar both.json --from "$FROM" --days 30 --unit G)
is "$DUE $PROV" "$want False" "  due $DUE (from $FROM), as tongban deadline on 2026+2027, not provisional"
done_testing
