#!/usr/bin/env bash
# Results delivered back to the receiving region (异地代收代办, issue 7),
# with real processes: 历下区 (370102) receives a case and hands it to 市南区
# (370202), which handles it to approval; each write at the owner reaches
# 370102 as a NOTIFY (its tombstone's copy: state, version, events), the
# owner's record of the notify dropped once acknowledged; the owner down,
# GET at 370102 is 503 with the last known copy; written while 370102 is
# down, the result arrives once it is back; handed on to 市北区 (370203),
# the new owner names itself to 370102 directly. A target's request: 370202
# asks for a case, 370102 refuses it, 370202 asks again and 370102 offers
# it; a request for a case handed on follows the tombstones to its owner;
# bad input is refused precisely with nothing changed. 多地联办: a bundle
# (新生儿出生一件事) received at 370102, two of its member cases handed to
# 370202 and 370203, completes at 370102 when every member is final.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
. "$(dirname "$0")/handoff_lib.sh"
. "$(dirname "$0")/node_api_lib.sh"
cd "$T"
C=$TB_SRC/ops/examples/catalog-370000.json
py=/usr/bin/python3
HL=$(sed -n 's/^#define TB_HANDOFF_LEVEL \([0-9]*\)$/\1/p' "$TB_SRC/schema/command.h")

# ---- three counties linked sideways, each to each ----
region_node P 370000 && region_node C 370100 P && region_node C2 370200 P &&
  region_node A 370102 C noparent && region_node B 370202 C2 noparent &&
  region_node D 370203 C2 noparent
is "$?" 0 "enrol 370102, 370202 and 370203 (their cities enrolled, not run)"
node_start A && node_start B && node_start D
is "$?" 0 "the three nodes start"
for n in A B D; do
  a="API_$n" t="TOKEN_$n"
  "$TB" --api "${!a}" --token "${!t}" --json group features --set "$HL" >/dev/null
  is "$?" 0 "feature level $HL at $n"
done
peer() { # peer X Y: X adds Y as a sideways peer
  local a="API_$1" t="TOKEN_$1" c="CODE_$2" l="LINK_$2"
  "$TB" --api "${!a}" --token "${!t}" region add-peer "${!c}@tcp://127.0.0.1:${!l}" >/dev/null
}
peer A B && peer B A && peer A D && peer D A && peer B D && peer D B
is "$?" 0 "each county adds the two others as sideways peers"
cp "$C" "$T/rel1.json" && "$TB" sign --key "$T/P/keys/node.json" "$T/rel1.json"
for n in A B D; do
  api "$n" POST /v1/catalog/releases --data-binary @"$T/rel1.json"
  is "$code" 201 "the example standard published at $n"
done

new_case() { handoff_case 0; }
# local_is NODE CASE EXPR: NODE's own copy (?local=1) satisfies EXPR.
local_is() {
  api "$1" GET "/v1/cases/$2?local=1"
  [ "$code" = 200 ] && [ "$(jq_get "$3")" = True ]
}
evs() { jq_get '[(e["at"], e["body"]) for e in d["events"]]'; }

CID=$(new_case)
ok "$([ -n "$CID" ]; echo $?)" "a case is received at 370102: $CID"
api A POST "/v1/cases/$CID/handoff" -d '{"to":"370202","mode":"异地代收代办","reason":"经营地在市南区"}'
is "$code" 202 "370102 offers it to 370202"
wait_for 10 hstate B "$CID" 'd["handoffs"][-1]["state"] == "owned"'
is "$?" 0 "370202 owns it"
# The own step is a write at the owner: 370102 learns the owner directly.
wait_for 10 local_is A "$CID" 'd["owner"] == "370202" and d["epoch"] == 2'
is "$?" 0 "370102's copy learns the owner's record (epoch 2) by a NOTIFY"
wait_for 10 hstate B "$CID" '"notify_due" not in d'
is "$?" 0 "  acknowledged: 370202's notify record is dropped"

# ---- the owner handles the case; each write comes back to 370102 ----
v=$(curl -s -H "Authorization: Bearer $TOKEN_B" "$API_B/v1/cases/$CID" |
  $py -c 'import json,sys; print(json.load(sys.stdin)["version"])')
for a in 'accept","opinion":"材料齐全' start_handling 'submit_review","opinion":"同意' \
  submit_decision 'approve","opinion":"准予许可'; do
  api B POST "/v1/cases/$CID/actions" -H "If-Match: \"$v\"" -d "{\"action\":\"$a\"}"
  is "$code" 201 "at 370202: ${a%%\"*}"
  v=$((v + 1))
done
wait_for 10 local_is A "$CID" "d['state'] == 'approved' and d['version'] == $v"
is "$?" 0 "GET ?local=1 at 370102: approved, version $v (the result delivered back)"
api A GET "/v1/cases/$CID?local=1"
ea=$(evs)
ca=$(jq_get 'd["state"], d["version"], d["last_event"], d["owner"]')
is "$(jq_get '[e["body"]["seq"] for e in d["events"]]')" "[1, 2, 3, 4, 5, 6]" \
  "  its events: seq 1 (received at 370102) and 2..6 (written at 370202), in order"
api B GET "/v1/cases/$CID"
is "$(evs)" "$ea" "  the events are the owner's, identical (time and body)"
is "$ca" "$(jq_get 'd["state"], d["version"], d["last_event"], d["owner"]')" \
  "  and so are its state, version, last_event and owner"
wait_for 10 hstate B "$CID" '"notify_due" not in d'
is "$?" 0 "  acknowledged: nothing left to notify at 370202"
api A POST "/v1/cases/$CID/actions" -d '{"action":"void"}'
is "$code $(jq_get 'd["error"]["code"]')" "409 case_moved" "the copy at 370102 stays read-only: 409 case_moved"

# ---- the owner down: 503 with the last known copy ----
node_kill B TERM
api A GET "/v1/cases/$CID"
is "$code $(jq_get 'd["error"]["code"], d["last_known"]["state"], d["last_known"]["owner"]')" \
  "503 unavailable approved 370202" \
  "370202 down: GET at 370102 is 503 with the last known copy (approved, owner 370202)"
node_start B
is "$?" 0 "370202 restarts"

# ---- the receiving region down while the owner writes ----
CID2=$(new_case)
api A POST "/v1/cases/$CID2/handoff" -d '{"to":"370202","reason":"经营地在市南区"}'
wait_for 10 hstate B "$CID2" 'd["handoffs"][-1]["state"] == "owned"'
is "$?" 0 "a second case is handed to 370202"
wait_for 10 hstate B "$CID2" '"notify_due" not in d'
is "$?" 0 "  its own step acknowledged by 370102"
node_kill A TERM
api B GET "/v1/cases/$CID2"
v2=$(jq_get 'd["version"]')
api B POST "/v1/cases/$CID2/actions" -H "If-Match: \"$v2\"" -d '{"action":"accept","opinion":"受理"}'
is "$code" 201 "370102 down: 370202 accepts the case"
api B GET "/v1/handoffs/$CID2"
is "$(jq_get 'd["notify_due"]["to"], d["notify_due"]["version"]')" "370102 $((v2 + 1))" \
  "  the notify is due at 370202 (to 370102, version $((v2 + 1))), resent with backoff"
node_start A
is "$?" 0 "370102 restarts"
wait_for 15 local_is A "$CID2" "d['state'] == 'accepted' and d['version'] == $((v2 + 1))"
is "$?" 0 "  and learns the acceptance"
wait_for 10 hstate B "$CID2" '"notify_due" not in d'
is "$?" 0 "  the notify acknowledged and dropped"

# ---- a chain: 370202 hands the second case on to 370203 ----
run "$TB" --api "$API_B" --token "$TOKEN_B" case handoff "$CID2" --to 370203 --reason "复核" --wait 10
is "$rc" 0 "370202 hands $CID2 on to 370203"
wait_for 10 local_is A "$CID2" 'd["owner"] == "370203" and d["epoch"] == 3'
is "$?" 0 "370102 learns the new owner 370203 (epoch 3) from 370203 itself"
api B GET "/v1/cases/$CID2?local=1"
is "$(jq_get 'd["owner"]')" 370203 "370202 keeps a tombstone naming 370203"
api A GET "/v1/cases/$CID2"
is "$code $(jq_get 'd["served_by"]["region"], d["state"], d["epoch"]')" "200 370203 accepted 3" \
  "GET at 370102 is answered by 370203"
api D GET "/v1/cases/$CID2"
v3=$(jq_get 'd["version"]')
api D POST "/v1/cases/$CID2/actions" -H "If-Match: \"$v3\"" -d '{"action":"start_handling"}'
is "$code $(jq_get 'd["event"]["body"]["epoch"], d["event"]["body"]["seq"]')" "201 3 3" \
  "370203 starts handling: event 3 at epoch 3"
wait_for 10 local_is A "$CID2" "d['state'] == 'handling' and d['version'] == $((v3 + 1))"
is "$?" 0 "  370102 learns it from 370203"
api A GET "/v1/cases/$CID2?local=1"
ea=$(evs)
api D GET "/v1/cases/$CID2"
is "$(jq_get 'len(d["events"])') $(evs)" "3 $ea" "the three events at 370102 and at 370203 are identical"
api B GET "/v1/cases/$CID2?local=1"
is "$(jq_get 'd["state"], d["owner"]')" "accepted 370203" \
  "370202's tombstone is not notified (only the receiving region is): accepted, naming 370203"

# ---- a target's request ----
CID3=$(new_case)
api B POST /v1/handoffs/request -d "{\"case\":\"$CID3\",\"reason\":\"经营地在市南区\"}"
is "$code $(jq_get 'd["handoff"]["state"], d["handoff"]["side"], d["handoff"]["peer"], d["handoff"]["request"]')" \
  "202 requested target 370102 1" "POST /v1/handoffs/request at 370202: 202, requested of 370102"
reqd() { # reqd NODE STATE: NODE lists CID3 in state STATE
  api "$1" GET "/v1/handoffs?state=$2"
  [ "$(jq_get "'$CID3' in [h['case'] for h in d['handoffs']]")" = True ]
}
wait_for 10 reqd A requested
is "$?" 0 "the owner 370102 lists it: GET /v1/handoffs?state=requested"
api A GET "/v1/handoffs/$CID3"
is "$(jq_get '[(h["side"], h["state"], h["peer"], h["reason"]) for h in d["handoffs"]]')" \
  "[('source', 'requested', '370202', '经营地在市南区')]" "  side source, the requester and its reason"
api B POST /v1/handoffs/request -d "{\"case\":\"$CID3\",\"reason\":\"again\"}"
is "$code $(jq_get 'd["error"]["code"]')" "409 conflict" "a second request while the first is open: 409"
api A POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
CLERK=$(jq_get 'd["token"]')
TOKEN_OVERRIDE=$CLERK api A POST "/v1/handoffs/$CID3/refuse" -d '{"reason":"x"}'
is "$code" 403 "a clerk may not refuse a request"
api A POST "/v1/handoffs/$CID3/refuse" -d '{}'
is "$code $(jq_get 'd["error"]["code"], d["error"]["field"]')" "422 missing reason" "a refusal without a reason: 422 at reason"
run "$TB" --api "$API_A" --token "$TOKEN_A" handoff refuse "$CID3" --reason "申请人要求本地办理"
is "$rc" 0 "tongban handoff refuse $CID3 --reason ... at 370102"
like "$out" '"state": "request_refused"' "  the owner's record: request_refused"
wait_for 10 reqd B request_refused
is "$?" 0 "370202's record becomes request_refused (REQUEST_REFUSED sent back)"
api B GET "/v1/handoffs/$CID3"
is "$(jq_get 'd["handoffs"][0]["refusal"]')" "申请人要求本地办理" "  with the owner's reason"
api A POST "/v1/handoffs/$CID3/refuse" -d '{"reason":"again"}'
is "$code $(jq_get 'd["error"]["code"]')" "409 conflict" "refusing it again: 409"
run "$TB" --api "$API_B" --token "$TOKEN_B" handoff request "$CID3" --reason "补充申请"
is "$rc" 0 "tongban handoff request $CID3 at 370202: asked again"
like "$out" '"request": 2' "  the second request"
wait_for 10 reqd A requested
is "$?" 0 "370102 has it as requested again"
api A POST "/v1/cases/$CID3/handoff" -d '{"to":"370202","reason":"应申请移交"}'
is "$code" 202 "370102 offers it to the requester (the normal handoff)"
wait_for 10 hstate B "$CID3" 'any(h["state"] == "owned" for h in d["handoffs"])'
is "$?" 0 "  370202 owns it"
api B GET "/v1/handoffs/$CID3"
is "$(jq_get '[h["state"] for h in d["handoffs"] if h["epoch"] == 0]')" "['request_offered']" \
  "  370202's request: request_offered"
api A GET "/v1/handoffs/$CID3"
is "$(jq_get '[h["state"] for h in d["handoffs"] if h["epoch"] == 0]')" "['request_offered']" \
  "  370102's: request_offered"

# Following the tombstones: $CID2 is owned by 370203 (received at 370102).
api B POST /v1/handoffs/request -d "{\"case\":\"$CID2\",\"reason\":\"回收\"}"
is "$code" 202 "370202 requests $CID2 (its id names 370102, owned by 370203)"
reqd2() {
  api D GET "/v1/handoffs/$CID2"
  [ "$(jq_get '[h["state"] for h in d["handoffs"] if h["epoch"] == 0]')" = "['requested']" ]
}
wait_for 10 reqd2
is "$?" 0 "  the REQUEST reaches the owner 370203 through 370102's tombstone"
api D POST "/v1/handoffs/$CID2/refuse" -d '{"reason":"正在办理"}'
is "$code $(jq_get 'd["handoff"]["state"]')" "201 request_refused" "370203 refuses it: 201"
refused2() {
  api B GET "/v1/handoffs/$CID2"
  [ "$(jq_get '[(h["state"], h.get("refusal")) for h in d["handoffs"] if h["epoch"] == 0]')" = \
    "[('request_refused', '正在办理')]" ]
}
wait_for 10 refused2
is "$?" 0 "  370202 learns the refusal and its reason"

# Bad input, nothing changed.
api B POST /v1/handoffs/request -d '{"reason":"x"}'
is "$code $(jq_get 'd["error"]["code"], d["error"]["field"]')" "422 missing case" "a request without a case: 422 at case"
api B POST /v1/handoffs/request -d "{\"case\":\"$CID2\",\"colour\":1}"
is "$code $(jq_get 'd["error"]["code"], d["error"]["field"]')" "422 unknown_field colour" "an unknown field: 422 naming it"
api B POST /v1/handoffs/request -d '{"case":'
is "$code" 400 "malformed JSON: 400"
api B POST /v1/handoffs/request -d '{"case":"not-a-case","reason":"x"}'
is "$code $(jq_get 'd["error"]["field"]')" "422 case" "a case id that names no region: 422 at case"
api A POST /v1/handoffs/request -d "{\"case\":\"$(new_case)\"}"
like "$code $(jq_get 'd["error"]["message"]')" "422 370102 owns case" "a request for a case this region owns: 422"
api B GET "/v1/handoffs/$CID2"
is "$(jq_get '[h["request"] for h in d["handoffs"] if h["epoch"] == 0]')" "[1]" \
  "  after the bad requests 370202's record is unchanged"
# ---- 多地联办: a bundle whose members are handled in three regions ----
for f in m01 m03 m04 mss; do
  printf 'material %s of a bundle, %s\n' "$f" "$(date +%s%N)" >"$T/$f.txt"
  api A PUT /v1/blobs --data-binary @"$T/$f.txt"
done
mkbodies "$T" "$(b2 "$T/m01.txt")" "$(b2 "$T/m03.txt")" "$(b2 "$T/m04.txt")" "$(b2 "$T/mss.txt")"
api A POST /v1/cases --data-binary @"$T/birth.json"
is "$code $(jq_get 'len(d["bundle"]["cases"])')" "201 5" "a bundle (新生儿出生一件事) received at 370102: five member cases"
APP=$(jq_get 'd["bundle"]["id"]')
member() { jq_get "[c['id'] for c in d['bundle']['cases'] if c['member'] == '$1'][0]"; }
HUKOU=$(member hukou) MED=$(member med_insurance)
OTHERS=$(jq_get '" ".join(c["id"] for c in d["bundle"]["cases"] if c["member"] not in ("hukou", "med_insurance"))')
api A POST "/v1/cases/$HUKOU/handoff" -d '{"to":"370202","mode":"多地联办","reason":"户籍在市南区"}'
is "$code" 202 "its hukou member is offered to 370202 (mode 多地联办)"
api A POST "/v1/cases/$MED/handoff" -d '{"to":"370203","mode":"多地联办","reason":"参保地在市北区"}'
is "$code" 202 "its med_insurance member to 370203"
wait_for 10 hstate B "$HUKOU" 'd["handoffs"][-1]["state"] == "owned"'
is "$?" 0 "  370202 owns the hukou case"
wait_for 10 hstate D "$MED" 'd["handoffs"][-1]["state"] == "owned"'
is "$?" 0 "  370203 owns the med_insurance case"
api A GET "/v1/applications/$APP"
is "$code $(jq_get 'd["bundle"]["status"], d["bundle"]["members_final"]')" "200 in_progress 0" \
  "GET /v1/applications/$APP at 370102: in_progress, no member final"
for id in $OTHERS; do
  api A POST "/v1/cases/$id/actions" -d '{"action":"not_accept","opinion":"不符合条件"}'
  [ "$code" = 201 ] || echo "# not_accept $id: $code $body"
done
api B POST "/v1/cases/$HUKOU/actions" -d '{"action":"not_accept","opinion":"户籍不符"}'
is "$code" 201 "370202 decides its member (not_accept)"
app_is() {
  api A GET "/v1/applications/$APP"
  [ "$code" = 200 ] && [ "$(jq_get "$1")" = True ]
}
wait_for 10 app_is 'd["bundle"]["members_final"] == 4'
is "$?" 0 "four members final at 370102 (three decided there, one at 370202, delivered back)"
api A GET "/v1/applications/$APP"
is "$(jq_get 'd["bundle"]["status"]') $(jq_get "[(c['state'], c.get('owner')) for c in d['bundle']['cases'] if c['id'] in ('$HUKOU', '$MED')]")" \
  "in_progress [('not_accepted', '370202'), ('received', '370203')]" \
  "  still in_progress: the members owned elsewhere, with their owners and states"
for a in accept start_handling submit_review submit_decision approve; do
  api D POST "/v1/cases/$MED/actions" -d "{\"action\":\"$a\",\"opinion\":\"同意\"}"
  [ "$code" = 201 ] || echo "# $a: $code $body"
done
api D GET "/v1/cases/$MED"
is "$(jq_get 'd["state"]')" approved "370203 handles its member to approved"
wait_for 10 app_is 'd["bundle"]["status"] == "complete"'
is "$?" 0 "the bundle at 370102 completes once every member is final"
api A GET "/v1/applications/$APP"
is "$(jq_get 'd["bundle"]["members_final"], [c["state"] for c in d["bundle"]["cases"] if c["id"] == "'"$MED"'"][0]')" \
  "5 approved" "  five final members, the approval made at 370203 among them"
api A GET /v1/applications/370102-B20200101-999999
is "$code" 404 "GET of an unknown application: 404"

# A matter 370202's own catalog does not offer: refused there, when its
# copy names the matter.
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
is "$code" 201 "370202 applies a release without the food licence matter"
api B POST /v1/handoffs/request -d "{\"case\":\"$CID2\",\"reason\":\"x\"}"
like "$code $(jq_get 'd["error"]["message"]')" "422 370202 does not offer matter 000117001000#01" \
  "a request for a case whose matter 370202 does not offer: 422 naming why, nothing sent"

done_testing
