#!/usr/bin/env bash
# A handoff between two counties of one city, relayed by the city: 历下区
# (370102) and 市中区 (370103) under 济南市 (370100), one-voter groups made
# with init --parent (the province enrolled, not run). The counties run at
# the handoff feature level, the city below it: the city drops the frames,
# and says so once in its log (TB-HANDOFF-DROPPED naming the level to set;
# it used to drop them without a word, the handoff staying "offered" with
# nothing in any log); raised to the level, it relays them and the case is
# owned at 370103.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
. "$(dirname "$0")/handoff_lib.sh"
cd "$T"
HL=$(sed -n 's/^#define TB_HANDOFF_LEVEL \([0-9]*\)$/\1/p' "$TB_SRC/schema/command.h")
group_bound 90 C A B

region_node P 370000 && region_node C 370100 P && region_node A 370102 C &&
  region_node B 370103 C
is "$?" 0 "enrol 370100, and 370102 and 370103 with --parent 370100"
node_start C && node_start A && node_start B
is "$?" 0 "the city and both counties start"
for n in A B; do
  a="API_$n" t="TOKEN_$n"
  run "$TB" --api "${!a}" --token "${!t}" group features --set "$HL"
  is "$rc" 0 "tongban group features --set $HL at $n"
done
cp "$TB_SRC/ops/examples/catalog-370000.json" rel1.json &&
  "$TB" sign --key P/keys/node.json rel1.json >/dev/null
for n in A B; do
  api "$n" POST /v1/catalog/releases --data-binary @rel1.json
  is "$code" 201 "the example standard published at $n (the province is not run)"
done
CID=$(handoff_case 0)
ok "$([ -n "$CID" ]; echo $?)" "a case is received at 370102: $CID"
run "$TB" --api "$API_A" --token "$TOKEN_A" case handoff "$CID" --to 370103
is "$rc" 0 "tongban case handoff $CID --to 370103"
dropped() { grep -q '"id":"TB-HANDOFF-DROPPED"' C.log; }
wait_for 10 dropped
ok $? "the city, at level 2, logs TB-HANDOFF-DROPPED"
like "$(grep '"id":"TB-HANDOFF-DROPPED"' C.log)" \
  "handoff frames from 370102 dropped: this group runs at feature level 2 and handoffs (and relaying them) need $HL: tongban group features --set $HL" \
  "  naming the sender, the level and what to run"
sleep 2
is "$(grep -c '"id":"TB-HANDOFF-DROPPED"' C.log)" 1 "  once, while the source keeps resending"
api A GET "/v1/handoffs/$CID"
is "$(jq_get 'd["handoffs"][-1]["state"]')" offered "the handoff is still offered at 370102"
run "$TB" --api "$API_C" --token "$TOKEN_C" group features --set "$HL"
is "$rc" 0 "the city raised to level $HL"
wait_for 15 hstate B "$CID" 'd["handoffs"][-1]["state"] == "owned"'
ok $? "the city relays the frames: the case is owned at 370103"
wait_for 10 hstate A "$CID" 'd["handoffs"][-1]["state"] == "transferred"'
ok $? "  and transferred at 370102"
for n in C A B; do
  ! grep -qE 'ERROR: AddressSanitizer|runtime error' "$n.log"
  ok $? "no sanitizer report in $n's log"
done
_done=1
done_testing
