#!/usr/bin/env bash
# Trust down the tree (docs/REPLICATION.md "Trust down the tree"), with real
# processes of real regions, one-voter groups: province 370000, city
# 370100, county 370102, and D, a peer node of 370102 linked to the county.
# At feature level 4 the province's `tongban root install --commit` and
# `tongban cert revoke --commit` flow through the outboxes to the city and
# on to the county, where each hop applies them with crl.put's and
# root.put's own checks. The county at level 3 refuses the root entry (as
# a build without the feed would), the stream waits at it; raised to 4 it
# takes it at the next retry. The county's links then refuse D, whose
# certificate the province's list revokes, and its links anchor at the
# rotated root that flowed down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
group_bound 150 P C K D

region_node P 370000 && region_node C 370100 P && region_node K 370102 C
is "$?" 0 "init and enrol 370000, 370100 and 370102 (init --parent)"
LD=$(free_port)
out=$("$TB" init --dir D --region 370102 --api 127.0.0.1:0 \
  --link "127.0.0.1:$LD" --root P/root.json --json) &&
  "$TB" cert request --dir D --out D.req >/dev/null &&
  "$TB" cert issue --key r370102.key --issuer-cert c370102.json \
    --request D.req --days 30 --role peer --out D.cert >/dev/null &&
  "$TB" cert install --dir D D.cert c370102.json c370100.json c370000.json \
    >/dev/null
is "$?" 0 "D: a peer node of 370102 with a certificate of 370102's key"
TOKEN_D=$(printf '%s' "$out" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')
ID_D=$(printf '%s' "$out" | sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')
SERIAL_D=$($py -c 'import json; print(json.load(open("D.cert"))["serial"])')
"$TB" link add --dir D --region 370102 --url "tcp://127.0.0.1:$LINK_K" \
  --node-id "$ID_K" >/dev/null
ok $? "D dials the county"

for n in P C K D; do node_start "$n" || break; done
is "$?" 0 "four nodes start"
run "$TB" --api "$API_P" --token "$TOKEN_P" group features --set 4
is "$rc" 0 "the province is raised to feature level 4"
run "$TB" --api "$API_C" --token "$TOKEN_C" group features --set 4
is "$rc" 0 "the city is raised to feature level 4"
run "$TB" --api "$API_K" --token "$TOKEN_K" group features --set 3
is "$rc" 0 "the county stays at level 3 for now"

streams() {
  api "$1" GET /v1/region
  [ "$(jq_get 'sorted(r["region"] for r in d["outboxes"] if r["stream"])')" = "$2" ]
}
wait_for 30 streams P "['370100']" && wait_for 30 streams C "['370102']"
ok $? "streams 370000 -> 370100 -> 370102 open"
up_from_d() {
  api K GET /v1/links
  [ "$(jq_get 'any(l["peer_node_id"] == "'"$ID_D"'" and l["state"] == "up" for l in d["links"])')" = True ]
}
wait_for 20 up_from_d
ok $? "the county has an up link with D"

# ---- the root, installed at the province, reaches the city ----
run "$TB" --api "$API_P" --token "$TOKEN_P" root install P/root.json --commit
is "$rc" 0 "root install --commit at the province"
root_v() { api "$1" GET /v1/root; [ "$(jq_get 'd["root"]["version"]')" = "$2" ]; }
anchor_v() { api "$1" GET /v1/links; [ "$(jq_get 'd["trust_root"]["source"], d["trust_root"]["version"]')" = "stored $2" ]; }
wait_for 15 root_v C 1 && wait_for 15 anchor_v C 1
ok $? "the city stores root version 1 and its links anchor at it"

# ---- refused at a county below level 4: the stream waits at it ----
k_refused() {
  api K GET /v1/region
  [ "$(jq_get '"needs feature level 4" in (d["inbound"]["refused"] or {}).get("reason", "")')" = True ]
}
wait_for 15 k_refused
ok $? "the county (level 3) refuses the root entry, naming feature level 4"
api K GET /v1/region
echo "# refused: $(jq_get 'd["inbound"]["refused"]')"
api K GET /v1/root
is "$code" 404 "  and stores no root"
api C GET /v1/region
is "$(jq_get '[r["backlog"] for r in d["outboxes"] if r["region"] == "370102"][0]')" 1 \
  "  the city's stream to it holds the entry (backlog 1)"
run "$TB" --api "$API_K" --token "$TOKEN_K" group features --set 4
is "$rc" 0 "the county is raised to level 4"
wait_for 45 root_v K 1 && wait_for 15 anchor_v K 1
ok $? "at the next retry the county stores root version 1; its links anchor at it"
backlog0() {
  api C GET /v1/region
  [ "$(jq_get '[r["backlog"] for r in d["outboxes"] if r["region"] == "370102"][0]')" = 0 ]
}
wait_for 10 backlog0
ok $? "  the city's stream to it is acknowledged (backlog 0)"

# ---- a revocation list committed at the province reaches the county ----
$py -c 'import json; json.dump([json.load(open(f)) for f in ("c370102.json", "c370100.json", "c370000.json")], open("chain.json", "w"))'
run "$TB" --api "$API_P" --token "$TOKEN_P" cert revoke --key r370102.key \
  --region 370102 --serial "$SERIAL_D" --reason "key compromise" \
  --chain chain.json --commit
is "$rc" 0 "cert revoke --commit at the province (a list of 370102's key)"
crl_has() {
  api "$1" GET /v1/crls
  [ "$(jq_get 'any(e["serial"] == "'"$SERIAL_D"'" for l in d["crls"] for e in l["revoked"])')" = True ]
}
wait_for 15 crl_has C && wait_for 15 crl_has K
ok $? "the city and the county store the list naming D's serial"
down_from_d() { ! up_from_d; }
wait_for 15 down_from_d
ok $? "the county closed its link with D"
revoked_hs() {
  curl -s -m 5 -H "Authorization: Bearer $TOKEN_K" "$API_K/metrics" |
    grep -q 'tongban_link_handshakes_total{result="revoked"} [1-9]'
}
wait_for 20 revoked_hs
ok $? "the county refuses D's next handshake as revoked"

# ---- a rotated root flows down too ----
"$TB" keygen --out o2.key >/dev/null &&
  "$TB" root rotate --root P/root.json --officer P/keys/officer.json \
    --officer o2.key --threshold 1 --out r2.json >/dev/null &&
  "$TB" root sign --key P/keys/officer.json --prev P/root.json r2.json \
    >/dev/null
ok $? "root version 2, signed by version 1's officer"
run "$TB" --api "$API_P" --token "$TOKEN_P" root install r2.json --commit
is "$rc" 0 "root install --commit of version 2 at the province"
wait_for 15 root_v K 2 && wait_for 15 anchor_v K 2
ok $? "the county stores version 2 and its links anchor at it"
api K GET /v1/crls
is "$(jq_get 'd["crls"][0]["version"]')" 1 "  the list stays (version 1)"

# ---- a document the child already holds is not a conflict ----
# The city installs version 3 itself first (it flows on to the county from
# there); the province's copy of the same document, delivered later, is
# accepted at the city without a change (fsm_root_delivered), so the
# stream does not wait at it.
"$TB" root rotate --root r2.json --officer P/keys/officer.json \
  --threshold 1 --out r3.json >/dev/null &&
  "$TB" root sign --key P/keys/officer.json --prev r2.json r3.json >/dev/null
ok $? "root version 3"
run "$TB" --api "$API_C" --token "$TOKEN_C" root install r3.json --commit
is "$rc" 0 "root install --commit of version 3 at the city"
wait_for 15 root_v K 3
ok $? "  it reaches the county from the city"
run "$TB" --api "$API_P" --token "$TOKEN_P" root install r3.json --commit
is "$rc" 0 "the same version 3 committed at the province"
p_backlog0() {
  api P GET /v1/region
  [ "$(jq_get '[r["backlog"] for r in d["outboxes"] if r["region"] == "370100"][0]')" = 0 ]
}
wait_for 15 p_backlog0
ok $? "  its delivery to the city is accepted and acknowledged (backlog 0)"
api C GET /v1/region
is "$(jq_get 'd["inbound"]["refused"]')" None "  nothing refused at the city"

for n in P C K; do
  ! grep -qE 'ERROR: AddressSanitizer|runtime error' "$n.log"
  ok $? "no sanitizer report in $n's log"
done
_done=1
done_testing
