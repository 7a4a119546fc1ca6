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
. "$(dirname "$0")/handoff_lib.sh"
cd "$T"
C=$TB_SRC/ops/examples/catalog-370000.json
py=/usr/bin/python3
# TB_HANDOFF_LEVEL (schema/command.h): the feature level of handoffs.
HL=$(sed -n 's/^#define TB_HANDOFF_LEVEL \([0-9]*\)$/\1/p' "$TB_SRC/schema/command.h")

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
  "below feature level $HL an offer is 409 feature_level"
like "$(jq_get 'd["error"]["message"]')" "needs feature level $HL" "  naming the level"
for n in A B; do
  a="API_$n" t="TOKEN_$n"
  run "$TB" --api "${!a}" --token "${!t}" group features --set "$HL"
  is "$rc" 0 "tongban group features --set $HL at $n"
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
# M01 is a 600 KiB scan: three chunks on the way to the target.
new_case() { handoff_case 614400; }
CID=$(new_case)
ok "$([ -n "$CID" ]; echo $?)" "a case is received at 370102: $CID"

# ---- the happy path over HTTP ----
api A POST "/v1/cases/$CID/handoff" -H 'Idempotency-Key: ho-1' \
  -d '{"to":"370202","mode":"异地代收代办","reason":"经营地在市南区"}'
is "$code $(jq_get 'd["handoff"]["state"], d["handoff"]["side"], d["handoff"]["epoch"]')" \
  "202 offered source 1" "POST /v1/cases/ID/handoff: 202 with the record (offered, epoch 1)"
api A POST "/v1/cases/$CID/handoff" -H 'Idempotency-Key: ho-1' \
  -d '{"to":"370202","mode":"异地代收代办","reason":"经营地在市南区"}'
is "$code $(jq_get 'd["handoff"]["attempt"]')" "202 1" \
  "the same offer again with its Idempotency-Key: the first answer, no second offer"
wait_for 10 hstate A "$CID" 'd["handoffs"][-1]["state"] == "transferred"'
is "$?" 0 "the source's record reaches transferred"
wait_for 10 hstate B "$CID" 'd["handoffs"][-1]["state"] == "owned"'
is "$?" 0 "the target's record reaches owned"
api B GET "/v1/cases/$CID"
is "$code $(jq_get 'd["epoch"], d["owner"], d.get("frozen", False), d["last_event"]')" \
  "200 2 370202 False 1" "at 370202 the case is owned at epoch 2, writable"
tomb2() {
  api A GET "/v1/cases/$CID?local=1"
  [ "$(jq_get 'd["owner"], d["epoch"], d.get("frozen", False)')" = "370202 2 False" ]
}
wait_for 10 tomb2
is "$?" 0 "at 370102 a tombstone naming the owner (?local=1), at epoch 2 once the owner's NOTIFY is in"
api A GET "/v1/cases/$CID"
is "$code $(jq_get 'd["served_by"]["region"], d["epoch"]')" "200 370202 2" \
  "GET /v1/cases/ID at the source is answered by the owner"
is "$(jq_get 'd.get("redacted", False), d["applicant"]["id_number"]')" "False 370102199001011231" \
  "  in full: 370102 is the case's receiving region (and handed it on)"
grep -q '"act":"case.read.remote".*"object":"'"$CID"'".*"region":"370102".*"personal_data":true' B/audit.log
is "$?" 0 "  the owner's audit log says personal data was sent to 370102"

evs() { jq_get '[(e["at"], e["body"]) for e in d["events"]]'; }
# The materials came with the case, in chunks, byte for byte.
api B GET "/v1/cases/$CID"
same=0
for h in $(jq_get '" ".join(m["hash"] for m in d["materials"])'); do
  curl -s -H "Authorization: Bearer $TOKEN_B" "$API_B/v1/blobs/$h" >got.bin
  curl -s -H "Authorization: Bearer $TOKEN_A" "$API_A/v1/blobs/$h" >want.bin
  [ -s got.bin ] && cmp -s got.bin want.bin && same=$((same + 1))
done
is "$same" 3 "the three materials are at 370202, identical (one of 600 KiB: three chunks)"
api A GET "/v1/cases/$CID?local=1"
ea=$(evs)
api B GET "/v1/cases/$CID"
is "$(evs)" "$ea" "the events at the owner are the source's, identical (time and body)"
api B GET /v1/handoffs
is "$(jq_get '[(h["case"], h["side"], h["state"], h["peer"], h["mode"], h["last_seq"]) for h in d["handoffs"]]')" \
  "[('$CID', 'target', 'owned', '370102', '异地代收代办', 1)]" \
  "GET /v1/handoffs at the target: the record, its peer, mode and last_seq"
api A GET "/v1/handoffs?state=transferred&side=source"
is "$(jq_get 'len(d["handoffs"])')" 1 "GET /v1/handoffs?state=transferred&side=source at the source"
api A GET "/v1/handoffs?state=owned"
is "$(jq_get 'len(d["handoffs"])')" 0 "  and none owned there"
m=$(curl -s "$API_B/metrics" | grep '^tongban_handoffs{side="target",state="owned"}')
is "$m" 'tongban_handoffs{side="target",state="owned"} 1' "/metrics at the target: tongban_handoffs owned 1"
sent=$(curl -s "$API_A/metrics" | sed -n 's/^tongban_handoff_frames_total{dir="sent"} //p')
ok "$([ "${sent:-0}" -ge 2 ]; echo $?)" "/metrics at the source: frames sent ($sent: the offer and the commit at least)"

# Writes: at the owner, numbered after last_seq at epoch 2; elsewhere 409.
api B POST "/v1/cases/$CID/actions" -d '{"action":"accept","opinion":"材料齐全"}'
is "$code $(jq_get 'd["event"]["body"]["epoch"], d["event"]["body"]["seq"]')" "201 2 2" \
  "the owner accepts the case: event 2 at epoch 2"
api B POST "/v1/cases/$CID/actions" -d '{"action":"start","epoch":1}'
is "$code $(jq_get 'd["error"]["code"], d["error"]["field"]')" "409 stale_epoch $.epoch" \
  "an action carrying epoch 1 at the owner (epoch 2): 409 stale_epoch"
api A POST "/v1/cases/$CID/actions" -d '{"action":"start"}'
is "$code $(jq_get 'd["error"]["code"]')" "409 case_moved" "an action at the old owner: 409 case_moved"
like "$(jq_get 'd["error"]["message"]')" "handed to 370202" "  naming the owner"
api A POST "/v1/cases/$CID/handoff" -d '{"to":"370202"}'
is "$code $(jq_get 'd["error"]["code"]')" "409 case_moved" "a second offer at the old owner: 409 case_moved"
api A GET "/v1/cases/$CID"
is "$code $(jq_get 'd["served_by"]["region"], d["state"], d["last_event"]')" "200 370202 accepted 2" \
  "the applicant's query at 370102 follows the owner's changes"

# ---- over the CLI, and handed on again (epoch 3) ----
CID2=$(new_case)
run "$TB" --api "$API_A" --token "$TOKEN_A" case handoff "$CID2" --to 370202 \
  --mode 全程网办 --reason "申请人要求" --wait 10
is "$rc" 0 "tongban case handoff $CID2 --to 370202 --wait 10"
like "$out" '"state": "transferred"' "  prints the record, transferred"
run "$TB" --api "$API_B" --token "$TOKEN_B" handoff list --state owned
like "$out" "$CID2" "tongban handoff list --state owned at 370202 lists it"
run "$TB" --api "$API_B" --token "$TOKEN_B" case handoff "$CID" --to 370102 --wait 10
is "$rc" 0 "370202 hands $CID back to 370102 (tongban case handoff --wait)"
api A GET "/v1/cases/$CID"
is "$code $(jq_get 'd["epoch"], d["owner"], d.get("frozen", False), d["last_event"], d["state"]')" \
  "200 3 370102 False 2 accepted" "370102 owns it again at epoch 3, with the accept made at 370202"
api A GET "/v1/cases/$CID"
ea=$(evs)
api B GET "/v1/cases/$CID?local=1"
is "$(jq_get 'd["owner"]') $(evs)" "370102 $ea" "370202 keeps a tombstone naming 370102, with the same events"
api A GET "/v1/handoffs/$CID"
is "$(jq_get '[(h["side"], h["epoch"], h["state"]) for h in d["handoffs"]]')" \
  "[('source', 1, 'transferred'), ('target', 2, 'owned')]" \
  "GET /v1/handoffs/ID at 370102: its source record at epoch 1 and target record at epoch 2"

# ---- bad input: each a precise error, nothing changed ----
CID3=$(new_case)
bad() { # bad BODY CODE ERROR FIELD WHAT
  api A POST "/v1/cases/$CID3/handoff" -d "$1"
  is "$code $(jq_get 'd["error"]["code"], d["error"].get("field")')" "$2 $3 $4" "$5"
}
bad '{"to":' 400 malformed None "malformed JSON: 400"
bad '{"to":"999999"}' 422 bad_code to "an unknown region: 422 at to"
bad '{"to":"370102"}' 422 invalid to "to = this region: 422 at to"
bad '{"to":"370202","mode":"随便"}' 422 bad_code mode "an unknown mode: 422 at mode"
bad '{"to":"370202","colour":"red"}' 422 unknown_field colour "an unknown field: 422 naming it"
bad '{"to":"370202","reason":""}' 422 out_of_range reason "an empty reason: 422 at reason"
api A POST "/v1/cases/370102-20200101-999999/handoff" -d '{"to":"370202"}'
is "$code $(jq_get 'd["error"]["code"]')" "404 not_found" "a case not held: 404"
api A GET "/v1/handoffs/$CID3"
is "$code" 404 "after the bad offers $CID3 has no handoff record"
api A GET "/v1/cases/$CID3"
is "$(jq_get 'd.get("frozen", False), d.get("owner")')" "False None" "  and is neither frozen nor moved"
api A GET "/v1/handoffs?state=nonsense"
is "$code $(jq_get 'd["error"]["field"]')" "400 state" "GET /v1/handoffs?state=nonsense: 400 at state"
api A POST "/v1/handoffs/$CID3/abort"
is "$code $(jq_get 'd["error"]["code"]')" "404 not_found" "abort of a case never offered: 404"
api A POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
CLERK=$(jq_get 'd["token"]')
TOKEN_OVERRIDE=$CLERK api A POST "/v1/handoffs/$CID3/abort"
is "$code $(jq_get 'd["error"]["code"]')" "403 forbidden" "a clerk may not abort a handoff"
TOKEN_OVERRIDE=$CLERK api A POST "/v1/cases/$CID3/handoff" -d '{"to":"370202"}'
is "$code $(jq_get 'd["handoff"]["state"]')" "202 offered" "a clerk of 370102 may hand its case on"
wait_for 10 hstate A "$CID3" 'd["handoffs"][-1]["state"] == "transferred"'
is "$?" 0 "  and it is transferred"

# ---- a kill right after a step commits (TB_FAULT_HANDOFF_EXIT) ----
# fault STEP NODE: NODE restarted with the hook, a new case offered, NODE
# exits 9 once STEP commits; restarted without it, the handoff completes
# with exactly one owner.
fault() {
  local step=$1 node=$2 pv="PID_$2" id st
  node_kill "$node" TERM
  export TB_FAULT_HANDOFF_EXIT=$step
  node_start "$node"
  unset TB_FAULT_HANDOFF_EXIT
  id=$(new_case)
  api A POST "/v1/cases/$id/handoff" -d '{"to":"370202","reason":"kill -9 test"}'
  gone() { ! kill -0 "${!pv}" 2>/dev/null; }
  wait_for 10 gone
  is "$?" 0 "$step: $node exits once that step commits"
  wait "${!pv}"
  st=$?
  is "$st" 9 "  with status 9 (_exit(9), before any frame or reply leaves)"
  if [ "$step" = transfer ]; then
    api B GET "/v1/handoffs/$id"
    is "$(jq_get 'd["handoffs"][0]["state"]')" prepared "  370202 is left prepared (no COMMIT came)"
    api B POST "/v1/cases/$id/actions" -d '{"action":"accept"}'
    is "$code $(jq_get 'd["error"]["code"]')" "409 case_frozen" \
      "  where the prepared case is not writable: 409 case_frozen"
  fi
  node_start "$node"
  is "$?" 0 "  $node restarts"
  wait_for 15 hstate B "$id" 'd["handoffs"][0]["state"] == "owned"'
  is "$?" 0 "  the handoff completes: 370202 owns it"
  wait_for 10 hstate A "$id" 'd["handoffs"][0]["state"] == "transferred"'
  is "$?" 0 "  370102's record: transferred"
  api A GET "/v1/cases/$id?local=1"
  a_owner=$(jq_get 'd["owner"], d.get("frozen", False)')
  api B GET "/v1/cases/$id"
  is "$a_owner / $(jq_get 'd["owner"], d.get("frozen", False), d["epoch"]')" \
    "370202 False / 370202 False 2" "  exactly one owner: a tombstone at 370102, 370202's at epoch 2"
}
fault transfer A
fault offer A
fault prepare B
fault own B

# ---- refused: the target's catalog no longer offers the matter ----
api B GET /v1/catalog
$py - "$C" "$T/rel2.json" "$(jq_get 'd["standard"]["hash"]')" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(version=2, snapshot=False, prev_hash=sys.argv[3], matters=[],
         removed=["000117001000#01"], removed_bundles=["370000YJS002"])
d.pop("bundles", None)
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
"$TB" sign --key "$T/P/keys/node.json" "$T/rel2.json"
api B POST /v1/catalog/releases --data-binary @"$T/rel2.json"
is "$code" 201 "370202 applies release 2, which removes the food licence matter (and its bundle)"
CID5=$(new_case)
run "$TB" --api "$API_A" --token "$TOKEN_A" case handoff "$CID5" --to 370202 --wait 10
is "$rc" 1 "tongban case handoff --wait: the offer is refused (exit 1)"
like "$err" "refused: 370202 does not offer matter 000117001000#01" "  with the target's reason"
api A GET "/v1/cases/$CID5"
is "$code $(jq_get 'd.get("frozen", False), d.get("owner"), d["epoch"]')" "200 False None 1" \
  "the source owns the case again at epoch 1, unfrozen"
api B GET "/v1/handoffs/$CID5"
is "$(jq_get 'd["handoffs"][0]["state"]')" declined "the target's record: declined"
api B GET "/v1/cases/$CID5?local=1"
is "$code" 404 "and the target wrote no copy of the case"

# ---- an offer to a target that is down, aborted after the timeout ----
node_kill B TERM
api A GET "/v1/cases/$CID2"
is "$code $(jq_get 'd["error"]["code"], d["last_known"]["owner"]')" "503 unavailable 370202" \
  "with the owner down, a query at 370102 for a case it handed on: 503 with the last known copy"
CID6=$(new_case)
api A POST "/v1/cases/$CID6/handoff" -d '{"to":"370202"}'
is "$code" 202 "with 370202 down, $CID6 is offered"
api A POST "/v1/cases/$CID6/actions" -d '{"action":"accept"}'
is "$code $(jq_get 'd["error"]["code"]')" "409 case_frozen" "the offered case is frozen: 409 case_frozen"
api A POST "/v1/handoffs/$CID6/abort"
is "$code $(jq_get 'd["error"]["code"]')" "409 conflict" "an abort before handoff_abort_after_ms: 409"
like "$(jq_get 'd["error"]["message"]')" "allowed after 1500 ms" "  saying when it is allowed"
sleep 1.6
run "$TB" --api "$API_A" --token "$TOKEN_A" handoff abort "$CID6"
is "$rc" 0 "tongban handoff abort after the timeout"
like "$out" '"state": "aborted"' "  the record is aborted"
api A POST "/v1/cases/$CID6/actions" -d '{"action":"accept"}'
is "$code $(jq_get 'd["event"]["body"]["epoch"]')" "201 1" "the case is writable again at 370102, epoch 1"
api A POST "/v1/handoffs/$CID6/abort"
is "$code $(jq_get 'd["error"]["code"]')" "409 conflict" "a second abort: 409 (no offer is open)"
node_start B
is "$?" 0 "370202 starts again"
# The offer may still reach it (a link queues what it sends while it
# connects): then it declines it (its catalog no longer offers the
# matter), or it prepares, its ACCEPT is answered ABORT, and it cancels.
# Either way it never owns the case.
quiet6() {
  api B GET "/v1/handoffs/$CID6"
  [ "$code" = 404 ] ||
    [ "$(jq_get 'd["handoffs"][0]["state"] in ("cancelled", "declined")')" = True ]
}
sleep 0.5
wait_for 10 quiet6
is "$?" 0 "370202 never heard of the aborted offer, or declined or cancelled it"
api B GET "/v1/cases/$CID6?local=1"
ok "$([ "$code" = 404 ] || [ "$(jq_get 'd["owner"]')" = 370102 ]; echo $?)" \
  "  and holds no writable copy (none, or a tombstone naming 370102)"
api B GET "/v1/cases/$CID6"
is "$code $(jq_get 'd["served_by"]["region"], d.get("redacted", False), d["applicant"]["phone"]')" \
  "200 370102 False 13912345678" \
  "370202, to which $CID6 was offered (a handoff record names it), reads it in full from 370102"
api A GET /v1/handoffs
is "$(jq_get 'sorted(set(h["state"] for h in d["handoffs"]))')" \
  "['aborted', 'owned', 'refused', 'transferred']" "the states at 370102 once quiet: no offer left open"

done_testing
