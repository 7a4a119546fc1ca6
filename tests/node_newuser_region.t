#!/usr/bin/env bash
# The multi-region side of tongban as its new users meet it (README,
# docs/REPLICATION.md, CALENDAR.md, HANDOFF.md): a provincial admin of
# 370000 who publishes the calendar and the catalog down to 370100 and
# 370200; a county (370102) left at the level `init --parent` gives it
# (2) under a tree at 5, told what to do and served at once when it does;
# a city admin who sees which child applied its overlay; a case received at
# 370102 handed to 370202 in another city, whose owner a supervising city
# sees; an offer to a target whose catalog is behind (370200 withholds
# release 2: test fault), which the target logs, going through once the
# release arrives; an offer to a region no node serves (370203), which the
# region between logs and the CLI explains. Real processes, one-voter
# groups, about 20 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
group_bound 120 P C K Q S

# ---- a province's first node says it made the root and its officer key ----
run "$TB" init --dir "$T/X" --region 370000 --api 127.0.0.1:0
like "$out" "root metadata of 370000 made in $T/X/root.json" \
  "init of a province without --root says it made the root"
like "$out" "officer key $T/X/keys/officer.json" "  and names the officer key to keep offline"
run "$TB" init --dir "$T/Y" --region 370102 --api 127.0.0.1:0 --parent 370100@tcp://127.0.0.1:9
like "$out" "its group starts at feature level 2 once it runs: raise it to the tree's level" \
  "init --parent says the new group starts at level 2"
run "$TB" init --help
like "$out" "raise it to the tree's level" "init --help: --parent raises to 2 only, says to raise further"

region_node P 370000 && region_node C 370100 P && region_node K 370102 C &&
  region_node Q 370200 P && region_node S 370202 Q
is "$?" 0 "init and enrol 370000, 370100, 370102, 370200 and 370202"
for n in P C K Q S; do node_start "$n" || break; done
is "$?" 0 "five nodes start"
cli() { local a="API_$1" t="TOKEN_$1"; shift; run "$TB" --api "${!a}" --token "${!t}" "$@"; }

# ---- the calendar verbs follow the client rule: JSON out, summary err ----
for n in P C Q S; do
  cli "$n" group features --set 5
  [ "$rc" = 0 ] || break
done
is "$rc" 0 "370000, 370100, 370200 and 370202 raised to level 5 (370102 stays at 2)"
is "$err" "the group runs at feature level 5" "  group features --set says the level"
cli P calendar publish "$TB_SRC/ops/examples/calendar-2027.json"
is "$rc" 0 "calendar publish at the province"
like "$err" "committed: calendar of 370000 version 1 for 2027" "  its summary on stderr"
H=$(printf '%s' "$out" | $py -c 'import json,sys; print(json.load(sys.stdin)["hash"])' 2>/dev/null)
is "${#H}" 64 "  the node's JSON with the hash on stdout"
run "$TB" --api "$API_P" --token "$TOKEN_P" --json calendar show
is "$(printf '%s' "$out" | $py -c 'import json,sys; d=json.load(sys.stdin); print([c["hash"] for c in d["calendars"]] == [sys.argv[1]], d["effective_years"])' "$H" 2>/dev/null)" \
  "True [2027]" "tongban --json calendar show (global --json): the JSON (2027 only: no release yet)"
is "$err" "" "  and no summary"
cli P calendar show
like "$err" "published: 370000 version 1, 2027" "calendar show: the summary on stderr"

# ---- a county at level 2 under a tree at 5: told, and served once raised ----
cli P catalog publish "$TB_SRC/ops/examples/catalog-370000.json"
is "$rc" 0 "the province publishes release 1"
like "$err" "committed: release 1 of 370000 (42 matters, 2 bundles)" "  and says what it committed"
region_wait 20 S 'd["standard"]["version"] == 1'
ok $? "  it reaches 370202 (through 370200)"
cli P catalog rollout 1
like "$err" " lag, 14 never connected" \
  "catalog rollout counts the table's cities without a node apart from the regions that lag"
k_refused() {
  api C GET /v1/region
  [ "$(jq_get '[r for r in d["outboxes"] if r["region"] == "370102"][0]["refused"] is not None')" = True ]
}
wait_for 20 k_refused
ok $? "370102 (level 2) refuses the city's first entry"
cli C region status
like "$err" 'a "calendar" entry needs feature level 5 and this group runs at 2: raise it here (tongban group features --set 5' \
  "  the city's region status names the level the county needs and its own"
api K GET /v1/region
like "$(jq_get 'd["inbound"]["refused"]["reason"]')" '$.body.entry.kind: a "calendar" entry needs feature level 5' \
  "  so does the county's own GET /v1/region"
lvl_at_p() {
  api P GET "/v1/catalog/rollout?version=1"
  [ "$(jq_get '[(r.get("level"), r["reason"][:13]) for r in d["lagging"] if r["region"] == "370102"]')" = "[(2, 'refused entry')]" ]
}
wait_for 10 lvl_at_p
ok $? "the province's rollout shows the county's refusal and its reported feature level (2), relayed by the city"
cli P catalog rollout 1
like "$err" "lagging  370102 at version 0 (via 370100): refused entry 1: " "  tongban catalog rollout 1 names the refusal"
like "$err" "this group runs at 2: raise it here (tongban group features --set 5, or to the tree's level, 5 for calendars, once every member runs a build with it); the stream waits here until then [feature level 2]" \
  "  and the county's level"
cli C region status
like "$err" "child 370102: link up, stream open, backlog 2, standard version 0, feature level 2, refused entry 1" \
  "  so does the city's region status"
t0=$(now_ms)
cli K group features --set 5
is "$rc" 0 "the county raises its level right after the refusal"
region_wait 20 K 'd["standard"]["version"] == 1'
ok $? "  and takes the calendar and release 1"
dt=$(($(now_ms) - t0))
echo "# release 1 at the county $dt ms after its raise"
[ "$dt" -lt 15000 ]
ok $? "  without waiting out the 30 s retry of a refused entry ($dt ms)"

# ---- the city's overlay: which child applied it ----
cli C overlay publish "$TB_SRC/ops/examples/overlay-370100.json"
is "$rc" 0 "the city publishes its overlay"
like "$err" "committed: overlay of 370100 version 1 (15 entries)" "  and says what it committed"
region_wait 20 K '[o["version"] for o in d["overlays"] if o["region"] == "370100"] == [1]'
ok $? "  it reaches 370102"
child_ov() {
  api C GET /v1/region
  [ "$(jq_get '[r["catalog"]["overlays"] for r in d["outboxes"] if r["region"] == "370102"]')" = "[{'370100': 1}]" ]
}
wait_for 10 child_ov
cli C region status
like "$err" "child 370102: link up, stream open, backlog 0, standard version 1, overlays 370100 v1" \
  "tongban region status at the city shows the overlay each child applied"
cli K catalog show
like "$err" "standard layer: version 1 applied; overlays 370100 v1" \
  "tongban catalog show at the county names the overlays it applied"
cli K region status
like "$err" "tree: parent 370100 at tcp://127.0.0.1:$LINK_C, link up (1 of 1 member(s))" \
  "tongban region status at the county says whether its parent is linked"
unlike "$err" "committed:" "  (and no publish summary for a read of the same shape)"

# ---- 跨域通办: 370102 hands a case to 370202 (another city) ----
run "$TB" --api "$API_K" --token "$TOKEN_K" --json catalog matter '000117001000#01' --region 370202
is "$(printf '%s' "$out" | $py -c 'import json,sys; d=json.load(sys.stdin); print(d["key"], d["served_by"]["region"])' 2>/dev/null)" \
  "000117001000#01 370202" "catalog matter CODE --region 370202: the other county's effective matter, over the links"
food_case_json K
api K POST /v1/cases --data-binary @case.json
ID=$(jq_get 'd["case"]["id"]')
is "$code" 201 "a food-licence case received at 370102 ($ID)"
cli K case handoff "$ID" --to 370202 --wait 20
is "$rc" 0 "case handoff --to 370202 --wait: transferred (4 hops: 370100, 370000, 370200)"
like "$err" "transferred to 370202, the owner now at epoch 2" "  and says so on stderr"
cli K case show "$ID"
like "$err" "owner 370202 (epoch 2), served by 370202" "the receiving region reads it from its new owner"
api Q GET "/v1/cases/$ID"
is "$(jq_get 'd.get("redacted"), d.get("owner"), "applicant" in d')" "True 370202 False" \
  "370200 (a city the case never went through) gets the summary, naming the owner"
cli Q case show "$ID"
like "$err" "owner 370202 (epoch 2), served by 370202; redacted: 370200 is not the receiving region (370102)" \
  "  tongban case show there says it is the redacted summary (not \"0 event(s)\")"

# ---- a target whose catalog is behind the case's: it says so ----
node_kill Q
TB_FAULT_REGION_WITHHOLD=1 node_start Q
ok $? "370200 restarted withholding releases from its counties (test fault)"
api P GET /v1/catalog
$py - "$(jq_get 'd["standard"]["hash"]')" "$TB_SRC/ops/examples/catalog-370000.json" >rel2.json <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[2]))
m = [x for x in d["matters"] if x["catalog_code"] == "000117001000"][0]
print(json.dumps({"format": "tongban.release/1", "region": "370000", "version": 2,
  "prev_hash": sys.argv[1], "effective_at": "2026-12-01T00:00:00+08:00", "snapshot": False,
  "matters": [m], "removed": [], "bundles": [], "removed_bundles": []}, ensure_ascii=False))
PYEOF
cli P catalog publish rel2.json
is "$rc" 0 "the province publishes release 2"
region_wait 20 K 'd["standard"]["version"] == 2'
ok $? "  370102 applies it (370202 does not: 370200 withholds it)"
food_case_json K
api K POST /v1/cases --data-binary @case.json
ID3=$(jq_get 'd["case"]["id"]')
cli K case handoff "$ID3" --to 370202 --wait 3
is "$rc" 1 "a case of release 2 offered to 370202 (at release 1) is still offered after 3 s"
like "$err" "TB-HANDOFF-BEHIND" "  the CLI names the log line of a target whose catalog is behind"
behind() { grep -q "TB-HANDOFF-BEHIND.*an offer from 370102 waits for this region's catalog.*370202 has standard release 1, the case release 2" "$T/S.log"; }
wait_for 10 behind
ok $? "370202 logs TB-HANDOFF-BEHIND with both releases"
node_kill Q
node_start Q
ok $? "370200 restarted without the fault"
transferred() { api K GET "/v1/handoffs/$ID3"; [ "$(jq_get 'd["handoffs"][-1]["state"]')" = transferred ]; }
wait_for 20 transferred
ok $? "  release 2 reaches 370202 and the offer goes through by itself"

# ---- an offer to a region no node serves: the region between says so ----
food_case_json K
api K POST /v1/cases --data-binary @case.json
ID2=$(jq_get 'd["case"]["id"]')
cli K case handoff "$ID2" --to 370203 --wait 2
is "$rc" 1 "an offer to 370203 (no node) is still offered after 2 s"
like "$err" "the target has not answered" "  the CLI says the target has not answered"
like "$err" "TB-HANDOFF-UNROUTABLE" "  and where to look"
cli K handoff show "$ID2"
like "$err" "$ID2   source 370203   offered" "handoff show: the record as a table on stderr, as handoff list"
unroutable() { grep -q 'TB-HANDOFF-UNROUTABLE.*towards 370203 dropped at 370200' "$T/Q.log"; }
wait_for 10 unroutable
ok $? "370200 logs TB-HANDOFF-UNROUTABLE for frames towards 370203"
is "$(grep -c 'TB-HANDOFF-UNROUTABLE' "$T/Q.log")" 1 "  once (the sender resends; the line is rate-limited)"

# ---- a request for a case that does not exist is refused, not resent ----
cli S handoff request 370102-20261130-000099 --reason 申请人在市南区
is "$rc" 0 "370202 requests 370102-20261130-000099 (no such case)"
req_refused() {
  api S GET /v1/handoffs/370102-20261130-000099
  [ "$(jq_get '[(r["state"], r.get("refusal")) for r in d["handoffs"]]')" = \
    "[('request_refused', '370102 holds no case 370102-20261130-000099 (no such case)')]" ]
}
wait_for 15 req_refused
ok $? "  370102 answers request_refused, naming why (it used to ask every 5 s forever)"

# ---- a county made without --parent is told where it belongs ----
node_init Z 370103
node_start Z
run "$TB" --api "$API_Z" --token "$TOKEN_Z" status
like "$err" "tree: no parent (its table parent is 370100: tongban region set-parent 370100@tcp://HOST:PORT, or nothing flows)" \
  "status of a county with no parent names its table parent and the verb"
run "$TB" link help
like "$out" "A link is not a place in the tree" "link help: a link is not the parent (region set-parent is)"

# ---- a county clerk's token made at the province works nowhere: said ----
cli P token create --role clerk --region 370102
is "$rc" 0 "token create --region 370102 at the province (as before)"
like "$err" "tongban: warning: this token is kept and checked at the nodes of 370000 only, where a token of 370102 (below it) may do nothing: make it at a node of 370102, or sign a chain token (tongban token sign --scope 370102)" \
  "  warns that it works at no node, and what to do instead"
cli P token create --role clerk
unlike "$err" "warning" "  no warning for a token of the node's own region"

# ---- usage errors name what is missing ----
cli P catalog rollout
is "$rc" 2 "catalog rollout without a version is a usage error"
like "$err" "tongban catalog rollout: an argument is missing" "  saying so first"
cli P case handoff
like "$err" "tongban case handoff: an argument is missing" "case handoff without an id too"
run "$TB" --api http://127.0.0.1:9 handoff list --help
is "$rc" 0 "handoff list --help: the usage, without calling a node"
like "$out" "handoff list [--state S]" "  on stdout"
for v in "root init" "cert cross" "keygen" "token sign" "index-key export"; do
  # shellcheck disable=SC2086 # the verb and its sub-verb
  run "$TB" $v --help
  [ "$rc" = 0 ] && [ -n "$out" ] || break
done
is "$rc $err" "0 " "--help after root init, cert cross, keygen, token sign, index-key export: usage, exit 0"

node_kill C KILL
parent_down() { run "$TB" --api "$API_K" --token "$TOKEN_K" region status; case "$err" in *"link DOWN (0 of 1"*) ;; *) return 1 ;; esac; }
wait_for 10 parent_down
ok $? "the city killed: the county's region status says its parent's link is DOWN"

for n in P C K Q S; do
  if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$T/$n.log"; then
    ok 1 "no sanitizer report in $n's log"
  fi
done
_done=1
done_testing
