#!/usr/bin/env bash
# The client verbs for people against a real 370000 node: case show, case
# list, events, handoff list, region status and the new area cases print a
# summary on stderr while stdout stays the node's JSON (identical content
# with and without --json; --json prints nothing on stderr); case submit
# with a matter not in the catalog refuses before uploading any material.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/node_api_lib.sh"
watchdog 60

setup_node c 370000
ok $? "a 370000 node with the standard layer and materials"
api c POST /v1/tokens -d '{"role":"clerk","name":"窗口 3"}'
CLERK=$(jq_get 'd["token"]')
tbc() { run "$TB" --api "$API_c" --token "$CLERK" "$@"; }
tba() { run "$TB" --api "$API_c" --token "$TOKEN_c" "$@"; }
same_json() { # same_json A B: the two texts parse to the same JSON
  $PY -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != json.loads(sys.argv[2]))' "$1" "$2"
}

tbc --json case submit "$T/food.json"
is "$rc" 0 "case submit (--json)"
ID=$($PY -c 'import json, sys; print(json.loads(sys.argv[1])["case"]["id"])' "$out")

# ---- case show: JSON on stdout as before, a summary on stderr ----
tbc --json case show "$ID"
js=$out
is "$rc:$err" "0:" "case show --json: the JSON, nothing on stderr"
tbc case show "$ID"
is "$rc" 0 "case show"
same_json "$js" "$out"
ok $? "  stdout is the same JSON as with --json"
like "$err" "case $ID: 000117001000#01 (" "  stderr names the case and its matter"
like "$err" "state received, version 1" "  its state and version"
like "$err" "  due " "  and its due date"

# ---- case list: a table on stderr ----
tbc --json case list
js=$out
tbc case list
same_json "$js" "$out"
ok $? "case list: stdout is the same JSON as with --json"
like "$err" "1 case(s)" "  stderr counts the cases"
like "$err" "ID                       MATTER" "  with a header"
printf '%s\n' "$err" | grep -Eq "^$ID +000117001000#01 +received +- +no +食品经营许可"
ok $? "  and a row per case: id, matter, state, due (none before acceptance), overdue, name"

# ---- events ----
tbc events
is "$rc" 0 "events"
like "$err" "event(s); next: --after " "  stderr: the count and how to go on"
printf '%s\n' "$err" | grep -Eq "^  1 +case.event +20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  case $ID\$"
ok $? "  a row: seq, type, time in UTC, the case"
tbc --json events
is "$err" "" "events --json: nothing on stderr"

# ---- handoff list, region status ----
tba handoff list
is "$rc" 0 "handoff list"
like "$err" "0 handoff record(s)" "  stderr: none here"
js=$out
tba --json handoff list
same_json "$js" "$out"
ok $? "  stdout: the same JSON as with --json"
tba region status
is "$rc" 0 "region status"
like "$err" "tree: no parent" "  stderr: the node's place in the tree"

# ---- area cases (GET /v1/area/cases) ----
tba area cases
is "$rc" 0 "area cases"
like "$err" "the area of 370000: 0 case(s)" "  stderr: the area and its count (none below)"
like "$out" '"region": "370000"' "  stdout: the JSON"
tba area cases --state received --overdue --limit 5 --after 370102-20260101-000001
is "$rc" 0 "area cases with every option"
tba area cases --state nonsense
is "$rc" 1 "area cases --state nonsense fails"
like "$err" "400 bad_code at state" "  naming the parameter"
tba area cases --limit 0
like "$err" "400 out_of_range at limit" "area cases --limit 0: names limit"
tba area cases --bogus
is "$rc" 2 "area cases --bogus: a usage error"
like "$err" "unknown argument '--bogus'" "  naming it"
tba area
is "$rc" 2 "area alone: usage"

# ---- case submit: the matter is checked before any upload ----
printf 'a material of a refused case %s\n' "$(date +%s%N)" >"$T/mx.txt"
printf '{"matter":"999999999999#01","applicant":{},"materials":[{"code":"M01","file":"mx.txt"}]}' \
  >"$T/bad.json"
tbc case submit "$T/bad.json"
is "$rc" 1 "case submit with a matter not in the catalog fails"
is "$err" "tongban case submit: $T/bad.json: \$.matter: \"999999999999#01\" is not a matter of the node's catalog (nothing was uploaded; tongban catalog matters lists them)" \
  "  naming \$.matter, before uploading"
api c GET "/v1/blobs/$(b2 "$T/mx.txt")"
is "$code" 404 "  and the material is not stored"
printf '{"matter":"000117001000#01","channel":"9","materials":[{"code":"M01","file":"mx.txt"}]}' \
  >"$T/known.json"
tbc case submit "$T/known.json"
like "$err" "uploaded mx.txt as " "a known matter goes on to the upload (the node then judges the case)"
done_testing
