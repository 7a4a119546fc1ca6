#!/usr/bin/env bash
# Revocation lists in the replicated state (docs/TRUST.md, "Replicated
# revocation lists"): a three-member group of 370102 and a peer node D of
# 370102 linked to every member. `tongban cert revoke --commit` at one
# member commits the signed list through the group (crl.put, feature level
# 3); every member stores it, closes D's open link and refuses D's next
# handshakes as revoked. A list that is not newer, tampered, from a role
# that may not, or before level 3, is refused naming why, and the stored
# list stays. The next revoke builds on the stored version.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"
group_bound 240 A B C D

three_nodes
TOKEN_B=$TOKEN_A TOKEN_C=$TOKEN_A
node_start A
ok $? "A starts"
start_joiner B && start_joiner C
ok $? "B and C run, waiting to be added"
grow_to_three

LD=$(free_port)
group_node D "$LD" peer
ok $? "D, a peer node of 370102 with its own certificate"
SERIAL_D=$($py -c 'import json; print(json.load(open("D.cert"))["serial"])')
for m in A B C; do
  lv="L$m" idv="ID_$m"
  "$TB" link add --dir D --region 370102 --url "tcp://127.0.0.1:${!lv}" \
    --node-id "${!idv}" >/dev/null || break
done
node_start D
ok $? "D starts and dials A, B and C"
# up_from X: X has an up link from D
up_from() {
  api "$1" GET /v1/links
  [ "$(jq_get 'any(l["peer_node_id"] == "'"$ID_D"'" and l["state"] == "up" for l in d["links"])')" = True ]
}
wait_for 20 up_from A && wait_for 20 up_from B && wait_for 20 up_from C
ok $? "every member has an up link with D"

# ---- before level 3 the command is not proposed ----
run "$TB" --api "$API_A" --token "$TOKEN_A" cert revoke --key r370102.key \
  --region 370102 --serial "$SERIAL_D" --reason "key compromise" --commit
is "$rc" 1 "cert revoke --commit at level 1 fails"
like "$err" "409 feature_level" "  (409 feature_level: crl.put needs level 3)"
api A POST /v1/group/features -d '{"level":3}'
is "$code" 201 "the group is raised to level 3"

# ---- bad lists are refused, naming why ----
"$TB" cert revoke --key r370102.key --region 370102 --serial 0123456789abcdef \
  --out good.json >/dev/null
$py -c 'import json; d=json.load(open("good.json")); d["revoked"][0]["serial"]="fedcba9876543210"; json.dump(d, open("bad.json","w"))'
api A POST /v1/crls --data-binary @bad.json
is "$code $(jq_get 'd["error"]["field"]')" "422 \$.signatures" \
  "a list changed after signing is refused at its signatures"
like "$(jq_get 'd["error"]["message"]')" "not signed by its issuer key" "  (not signed by its issuer key)"
"$TB" keygen --out other.key >/dev/null
"$TB" cert revoke --key other.key --region 370102 --serial 0123456789abcdef \
  --out other.json >/dev/null
api A POST /v1/crls --data-binary @other.json
is "$code $(jq_get 'd["error"]["field"]')" "409 \$.chain" \
  "a list of a key no certificate names is refused: its chain"
api A POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
CLERK=$(jq_get 'd["token"]')
TOKEN_OVERRIDE=$CLERK api A POST /v1/crls --data-binary @good.json
is "$code" 403 "a clerk may not commit a list"
api A POST /v1/crls -d '{"crl":{"format":"tongban.crl/1"},"extra":1}'
is "$code $(jq_get 'd["error"]["field"]')" "422 extra" "an unknown field is refused"
api B GET /v1/crls
is "$(jq_get 'd["crls"]')" "[]" "nothing was stored"

# ---- revoke D at A ----
run "$TB" --api "$API_A" --token "$TOKEN_A" cert revoke --key r370102.key \
  --region 370102 --serial "$SERIAL_D" --reason "key compromise" --commit
is "$rc" 0 "cert revoke --commit at A"
like "$out" "committed: revocation list of 370102 version 1" "  commits version 1"
stored_v() { api "$1" GET /v1/crls; [ "$(jq_get 'd["crls"][0]["version"]')" = "$2" ]; }
for m in A B C; do
  wait_for 10 stored_v "$m" 1
  ok $? "$m stores the list (version 1)"
done
api C GET /v1/crls
is "$(jq_get 'd["crls"][0]["revoked"][0]["serial"]')" "$SERIAL_D" "  naming D's serial"
gone_from() { ! up_from "$1"; }
revoked_hs() {
  local p="PORT_$1"
  curl -s -m 5 -H "Authorization: Bearer $TOKEN_A" "http://127.0.0.1:${!p}/metrics" |
    grep -q 'tongban_link_handshakes_total{result="revoked"} [1-9]'
}
for m in A B C; do
  wait_for 10 gone_from "$m"
  ok $? "$m closed its link with D"
  wait_for 20 revoked_hs "$m"
  ok $? "$m refuses D's next handshake as revoked"
  grep '"id":"TB-LINK-REVOKED"' "$m.log" | grep -q 'handshake' ||
    grep '"id":"TB-LINK-REVOKED"' "$m.log" | grep -q "$SERIAL_D"
  ok $? "  and logs TB-LINK-REVOKED"
done

# ---- the same version again, and the next version ----
api B POST /v1/crls -d "$($py -c 'import json,sys
print(json.dumps(json.load(sys.stdin)["crls"][0]))' <<<"$(curl -s -H "Authorization: Bearer $TOKEN_A" "$API_A/v1/crls")")"
is "$code $(jq_get 'd["error"]["code"], d["error"]["field"]')" \
  "409 conflict \$.version" "the stored version again is refused (at follower B): not newer"
like "$(jq_get 'd["error"]["message"]')" "not newer than the stored version 1" "  saying so"
run "$TB" --api "$API_B" --token "$TOKEN_A" cert revoke --key r370102.key \
  --region 370102 --serial 00000000000000aa --commit --out v2.json
is "$rc" 0 "the next revoke (at B) builds on the stored list"
like "$out" "version 2" "  version 2"
is "$($py -c 'import json; print(len(json.load(open("v2.json"))["revoked"]))')" 2 \
  "  keeping D's entry"
wait_for 10 stored_v C 2
ok $? "C stores version 2"
run "$TB" --api "$API_C" --token "$TOKEN_A" cert show --stored
like "$out" "revocation list of 370102 (key " "cert show --stored lists the stored list"
like "$out" "version 2" "  at version 2"
like "$out" "$SERIAL_D revoked at" "  with D's serial"
api A GET '/v1/status?digest=1'
dA=$(jq_get 'd["state_digest"]["hash"]')
same_digest() { api "$1" GET '/v1/status?digest=1'; [ "$(jq_get 'd["state_digest"]["hash"]')" = "$dA" ]; }
wait_for 10 same_digest B && wait_for 10 same_digest C
ok $? "the three members' state digests agree"

# ---- a restarted member refuses D from its first handshake ----
stop_node D && stop_node C
ok $? "D and C stop"
node_start C && node_start D
ok $? "C restarts (the list is in its store), then D"
wait_for 20 revoked_hs C
ok $? "the restarted C refuses D's handshake as revoked"
! up_from C
ok $? "  and has no up link with D"

stop_node D && stop_node C && stop_node B && stop_node A
ok $? "every node stops"
! grep -l "Sanitizer\|runtime error" "$T"/*.log
is "$?" 0 "no sanitizer reports in any node's log"
_done=1
done_testing
