#!/usr/bin/env bash
# The province's root metadata in the replicated state (docs/TRUST.md, "The
# replicated root"): a three-member group of 370102. `tongban root install
# --commit` commits the root (root.put, feature level 3); every member
# stores it and its links take it as the trust anchor instead of
# DIR/root.json. A rotation signed by the stored root's officers replaces
# it; a forged root, one with fewer signatures than its threshold, another
# province's, one not following the stored version and one the stored
# root's officers did not sign are refused naming the field, and the
# stored root stays. crl.put verifies against the stored root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"
group_bound 200 A B C

three_nodes
TOKEN_B=$TOKEN_A TOKEN_C=$TOKEN_A
node_start A
ok $? "A starts"
start_joiner B && start_joiner C
ok $? "B and C run, waiting to be added"
grow_to_three

OFF=P/keys/officer.json
EXP=2030-01-01T00:00:00+08:00
"$TB" keygen --out o2.key >/dev/null && "$TB" keygen --out o3.key >/dev/null
ok $? "two more officer keys"

# ---- before level 3 the command is not proposed ----
run "$TB" --api "$API_A" --token "$TOKEN_A" root install P/root.json --commit
is "$rc" 1 "root install --commit at level 1 fails"
like "$err" "409 feature_level" "  (409 feature_level: root.put needs level 3)"
api A POST /v1/group/features -d '{"level":3}'
is "$code" 201 "the group is raised to level 3"
api A GET /v1/root
is "$code $(jq_get 'd["error"]["code"]')" "404 no_root" "no root is stored yet"
api A GET /v1/links
is "$(jq_get 'd["trust_root"]["source"], d["trust_root"]["version"]')" \
  "root.json 1" "the links are anchored at root.json"

# ---- bad roots are refused, naming why ----
$py -c 'import json; d=json.load(open("P/root.json")); d["expires"]="2099-01-01T00:00:00+08:00"; json.dump(d, open("forged.json","w"))'
api A POST /v1/root --data-binary @forged.json
is "$code $(jq_get 'd["error"]["field"]')" "422 \$.signatures" \
  "a root changed after signing is refused at its signatures"
like "$(jq_get 'd["error"]["message"]')" "signed by 0 of its officers, 1 required" "  (signed by 0 of its officers)"
"$TB" root init --region 370000 --expires $EXP --threshold 2 --officer o2.key \
  --officer o3.key --release-key o2.key --out two.json >/dev/null
$py -c 'import json; d=json.load(open("two.json")); d["signatures"]=d["signatures"][:1]; json.dump(d, open("one-of-two.json","w"))'
api B POST /v1/root --data-binary @one-of-two.json
is "$code $(jq_get 'd["error"]["field"]')" "422 \$.signatures" \
  "a 2-of-2 root with one signature is refused (at follower B)"
like "$(jq_get 'd["error"]["message"]')" "signed by 1 of its officers, 2 required" "  (1 of 2 required)"
"$TB" root init --region 320000 --expires $EXP --officer o2.key \
  --release-key o2.key --out other.json >/dev/null
api A POST /v1/root -d "{\"root\": $(cat other.json)}"
is "$code $(jq_get 'd["error"]["field"]')" "422 \$.root.region" \
  "another province's root is refused at its region"
like "$(jq_get 'd["error"]["message"]')" "whose province is 370000" "  (naming this province)"
api A POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
CLERK=$(jq_get 'd["token"]')
TOKEN_OVERRIDE=$CLERK api A POST /v1/root --data-binary @P/root.json
is "$code" 403 "a clerk may not install a root"
api A POST /v1/root -d '{"root":{"format":"tongban.root/1"},"extra":1}'
is "$code $(jq_get 'd["error"]["field"]')" "422 extra" "an unknown field is refused"
api C GET /v1/root
is "$code" 404 "nothing was stored"

# ---- install version 1 (at follower B) ----
run "$TB" --api "$API_B" --token "$TOKEN_A" root install P/root.json --commit
is "$rc" 0 "root install --commit at B"
like "$out" "committed: root metadata of 370000 version 1" "  commits version 1"
stored_v() { api "$1" GET /v1/root; [ "$(jq_get 'd["root"]["version"]')" = "$2" ]; }
anchor_v() { api "$1" GET /v1/links; [ "$(jq_get 'd["trust_root"]["source"], d["trust_root"]["version"]')" = "stored $2" ]; }
for m in A B C; do
  wait_for 10 stored_v "$m" 1 && wait_for 10 anchor_v "$m" 1
  ok $? "$m stores version 1 and its links are anchored at it"
done

# ---- crl.put verifies against the stored root ----
# A root list signed by o2, an officer of version 2 only: version 1 (stored)
# refuses it whatever root the proposing node sends.
"$TB" root rotate --root P/root.json --officer $OFF --officer o2.key \
  --threshold 1 --out r2.json >/dev/null &&
  "$TB" root sign --key $OFF --prev P/root.json r2.json >/dev/null
ok $? "version 2 (officers: the first and o2, 1 of 2), signed by the first"
"$TB" cert revoke --key o2.key --root r2.json --serial 0123456789abcdef \
  --out rl.json >/dev/null
ok $? "a root revocation list signed by o2"
api A POST /v1/crls --data-binary @rl.json
is "$code $(jq_get 'd["error"]["field"]')" "422 \$.signatures" \
  "crl.put refuses it against stored version 1"

# ---- rotate to version 2 (at C) ----
run "$TB" --api "$API_C" --token "$TOKEN_A" root install r2.json --commit
is "$rc" 0 "root install --commit of version 2 at C"
like "$out" "version 2 through the node's group (1 of 2 officers" "  (1 of 2 officers)"
for m in A B C; do
  wait_for 10 stored_v "$m" 2 && wait_for 10 anchor_v "$m" 2
  ok $? "$m stores version 2 and its links are anchored at it"
done
api A POST /v1/crls --data-binary @rl.json
is "$code" 201 "the list signed by o2 is accepted against stored version 2"
run "$TB" --api "$API_B" --token "$TOKEN_A" links
like "$out" "trust root: version 2 from the group's stored root" "tongban links names the anchor"

# ---- refused replacements ----
api A POST /v1/root --data-binary @P/root.json
is "$code $(jq_get 'd["error"]["field"]')" "409 \$.version" \
  "version 1 again is refused: not the next version"
like "$(jq_get 'd["error"]["message"]')" "version 1 does not follow 2" "  saying so"
"$TB" root rotate --root r2.json --officer o3.key --threshold 1 \
  --out r3-usurper.json >/dev/null &&
  "$TB" root sign --key o3.key r3-usurper.json >/dev/null
api B POST /v1/root --data-binary @r3-usurper.json
is "$code $(jq_get 'd["error"]["field"]')" "422 \$.signatures" \
  "version 3 signed only by its new officer is refused"
like "$(jq_get 'd["error"]["message"]')" "signed by 0 of the previous root's officers, 1 required" \
  "  (not signed by the stored root's officers)"
"$TB" root rotate --root r2.json --officer $OFF --officer o2.key --threshold 2 \
  --out r3-short.json >/dev/null &&
  "$TB" root sign --key $OFF --prev r2.json r3-short.json >/dev/null
api C POST /v1/root --data-binary @r3-short.json
is "$code $(jq_get 'd["error"]["field"]')" "422 \$.signatures" \
  "version 3 with 2-of-2 officers and one signature is refused"
like "$(jq_get 'd["error"]["message"]')" "signed by 1 of its officers, 2 required" "  (1 of 2)"
api A GET /v1/root
is "$(jq_get 'd["root"]["version"]')" 2 "version 2 stays"
run "$TB" --api "$API_A" --token "$TOKEN_A" cert show --stored
like "$out" "root metadata of 370000 山东省 version 2: 1 of 2 officers" \
  "cert show --stored lists the stored root"
like "$out" "revocation list of 370000" "  and the stored list"

api A GET '/v1/status?digest=1'
dA=$(jq_get 'd["state_digest"]["hash"]')
same_digest() { api "$1" GET '/v1/status?digest=1'; [ "$(jq_get 'd["state_digest"]["hash"]')" = "$dA" ]; }
wait_for 10 same_digest B && wait_for 10 same_digest C
ok $? "the three members' state digests agree"

# ---- a restarted member is anchored at the stored root, not root.json ----
stop_node C
ok $? "C stops"
cp other.json C/root.json
"$TB" cert install --dir C --region-key r370102.key >/dev/null
ok $? "C takes 370102's region key online (to issue a join token below)"
node_start C
ok $? "C restarts with another province's root.json"
wait_for 20 anchor_v C 2
ok $? "  its links are anchored at the stored version 2"
up_with() {
  api "$1" GET /v1/links
  [ "$(jq_get 'sum(1 for l in d["links"] if l["state"] == "up")')" -ge 2 ]
}
wait_for 20 up_with C
ok $? "  and its links with A and B come up"
# A chain token of 370102 verifies at C against the stored root too.
"$TB" keygen --out cl.key >/dev/null &&
  "$TB" cert request --client-key cl.key --region 370102 --out cl.req >/dev/null &&
  "$TB" cert issue --key r370102.key --issuer-cert c2.json --request cl.req \
    --days 30 --role region_admin --out cl.cert >/dev/null &&
  CTOK=$("$TB" token sign --key cl.key --chain cl.cert --chain c2.json \
    --chain c1.json --chain c0.json --role region_admin --scope 370102 \
    --ttl 1h 2>/dev/null)
ok $? "a region_admin chain token of 370102"
TOKEN_OVERRIDE=$CTOK api C GET /v1/root
is "$code $(jq_get 'd["root"]["version"]')" "200 2" \
  "  is accepted at C (its chain checked against the stored root, not root.json)"
api C GET /v1/links
is "$(jq_get 'sorted(l["pattern"] for l in d["links"] if l["direction"] == "out" and l["state"] == "up")')" \
  "['IK', 'IK']" "  its first handshakes are IK (the peers' keys kept in C/peer_keys.json)"

# A node enrolled by C with a join token receives the stored root, not C's
# root.json.
run "$TB" --api "$API_C" --token "$TOKEN_A" cert join-token --region 370102 --role peer
is "$rc" 0 "C makes a peer join token"
run "$TB" init --dir "$T/R" --region 370102 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$out"
is "$rc" 0 "a node enrols with it"
is "$($py -c 'import json; d=json.load(open("R/root.json")); print(d["region"], d["version"])')" \
  "370000 2" "  and its root.json is the stored root version 2"

stop_node C && stop_node B && stop_node A
ok $? "every node stops"
! grep -l "Sanitizer\|runtime error" "$T"/*.log
is "$?" 0 "no sanitizer reports in any node's log"
_done=1
done_testing
