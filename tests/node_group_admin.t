#!/usr/bin/env bash
# Membership of a replica group, its refusals and edge cases, with real
# processes: a malformed --join-token is refused, --index-key-from checks
# its file, duplicate and malformed adds are refused with their field, a
# node with only a `peer` certificate is refused Raft messages, a node that
# bootstrapped its own group refuses another leader's entries, demote,
# promote and transfer (asked at followers), a clerk may not change the
# group. node_group.t is the core: growth, writes at followers, failover.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"

group_bound 60 A B C X Y

# ---- enrolment: a province root, region keys down to 370102, members ----
group_pki
ok $? "a province root and region keys down to 370102"
LA=$(free_port); LB=$(free_port); LC=$(free_port); LX=$(free_port)
group_node A "$LA" member
ok $? "node A of 370102 with a member certificate"
run "$TB" index-key export --dir A --out akey.json
is "$rc" 0 "tongban index-key export: A's applicant index key"
is "$(stat -c %a akey.json)" 600 "  written owner-only"
group_node B "$LB" member --join "127.0.0.1:$LA" --index-key-from akey.json
ok $? "node B made with --join A's link address and A's index key"
group_node C "$LC" member --join "127.0.0.1:$LA" --index-key-from akey.json
ok $? "node C likewise"
same_key=$($py -c 'import json; print(len({json.load(open(n + "/keys/node.json"))["index_key"] for n in "ABC"}))')
is "$same_key" 1 "A, B and C share the applicant index key"
run "$TB" init --dir K --region 370102 --join "127.0.0.1:$LA" --index-key-from A/tongban.json
is "$rc" 1 "--index-key-from a file without an index key is refused"
like "$err" "no index_key" "  saying so"
group_node X "$LX" peer --join "127.0.0.1:$LA"
ok $? "node X with only a peer certificate"
is "$TOKEN_B" "" "a joining node has no admin token of its own"
is "$($py -c 'import json; print(json.load(open("B/links.json"))["peers"][0]["url"])')" \
  "tcp://127.0.0.1:$LA" "--join writes a link to the member it names"

run "$TB" init --dir J --region 370102 --join "127.0.0.1:$LA" --join-token tok
is "$rc" 1 "--join-token with a string that is no token fails (node_join_token.t has the flow)"
like "$err" 'a join token starts with "tbj1."' "  and says what a token looks like"
ok "$([ ! -e J ]; echo $?)" "  before anything is made"

# Everyone uses the group's admin token: it is replicated state.
TOKEN_B=$TOKEN_A TOKEN_C=$TOKEN_A TOKEN_X=$TOKEN_A

node_start A
ok $? "A starts as a one-voter group and becomes ready"
start_joiner B && start_joiner C && start_joiner X
ok $? "B, C and X run, waiting to be added"
# ---- grow from one voter to three ----
grow_to_three
run "$TB" --api "$API_A" --token "$TOKEN_A" group add "$ID_C" "127.0.0.1:$LC"
is "$rc" 1 "adding C twice is refused"
like "$err" "409 duplicate at \$.node_id: $ID_C is a member already, as a voter at 127.0.0.1:$LC (tongban group promote|demote changes its role)" \
  "  as a duplicate (409), naming its role and the verb that changes it"
run "$TB" --api "$API_A" --token "$TOKEN_A" group add 0123456789abcdef "127.0.0.1:$LC"
like "$err" "409 duplicate at \$.address: 127.0.0.1:$LC is the address of member $ID_C" \
  "a new id at a member's address: 409 at \$.address naming the member"
run "$TB" --api "$API_A" --token "$TOKEN_A" group add "$ID_C" "127.0.0.1:0/x"
like "$err" "\$.address" "a malformed address is refused naming \$.address"
api A POST /v1/group/members -d '{"node_id":"XYZ","address":"127.0.0.1:9"}'
is "$code $(jq_get 'd["error"]["field"]')" '422 $.node_id' "a malformed node id: 422 at \$.node_id"
api A POST /v1/group/members -d "{\"node_id\":\"$ID_C\",\"address\":\"127.0.0.1:9\",\"role\":\"boss\"}"
is "$code $(jq_get 'd["error"]["field"]')" '422 $.role' "an unknown role: 422 at \$.role"
api B DELETE /v1/group/members/0123456789abcdef
is "$code" 404 "removing a node that is not a member: 404 (forwarded from B)"

api A GET /v1/status
is "$(jq_get 'sorted((m["node_id"], m["role"]) for m in d["group"]["members"]) == sorted([("'"$ID_A"'","voter"),("'"$ID_B"'","voter"),("'"$ID_C"'","voter")])')" \
  True "GET /v1/status at A: three voters"
is "$(jq_get 'd["group"]["leader"] == "'"$ID_A"'" and d["raft"]["role"] == "leader"')" \
  True "  A is the leader"
is "$(jq_get 'all("lag" in m for m in d["group"]["members"]), d["group"]["term"] >= 1, d["group"]["commit"] >= 3')" \
  "True True True" "  with each member's lag, the term and the commit index"
is "$(field C 'd["group"]["leader"], d["raft"]["role"]')" "$ID_A follower" \
  "C follows A"

# A clerk's token, for the refusal below.
api A POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
CLERK=$(jq_get 'd["token"]')

# ---- a peer-role node is refused Raft messages ----
run "$TB" --api "$API_A" --token "$TOKEN_A" group add "$ID_X" "127.0.0.1:$LX" \
  --role standby
is "$rc" 0 "group add X as a standby"
refused_x() { grep -q '"id":"TB-GROUP-REFUSED".*'"$ID_X"'.*role peer' A.log; }
wait_for 5 refused_x
is "$?" 0 "the leader refuses X's Raft replies: its certificate is only a peer (TB-GROUP-REFUSED)"
is "$(field A '[m.get("match_index", 0) for m in d["group"]["members"] if m["node_id"] == "'"$ID_X"'"]')" \
  "[0]" "  X's progress never counts"
metric() {
  local a="API_$1"
  curl -s "${!a}/metrics" | grep -F -- "$2 " | grep -v '^#' | awk '{print $2}'
}
ok "$([ "$(metric A tongban_group_refused_total)" -gt 0 ]; echo $?)" \
  "  counted in /metrics (tongban_group_refused_total)"
has_x_link() { grep -q "$ID_X" A/links.json; }
wait_for 10 has_x_link
is "$?" 0 "A's links.json dials X while X is a member"
run "$TB" --api "$API_A" --token "$TOKEN_A" group remove "$ID_X"
is "$rc" 0 "group remove X"
x_link_gone() { ! has_x_link; }
wait_for 10 x_link_gone
is "$?" 0 "  and X's entry leaves A's links.json (no longer dialed)"
like "$(cat A.log)" "left the group; no longer dialed" "  which A logs (TB-GROUP-LINK)"
node_kill X KILL

# ---- a node that bootstrapped its own group cannot be taken over ----
LY=$(free_port)
group_node Y "$LY" member && node_start Y
ok $? "node Y, a one-voter group of its own, runs"
run "$TB" --api "$API_A" --token "$TOKEN_A" group add "$ID_Y" "127.0.0.1:$LY" \
  --role standby
foreign_y() { grep -q '"id":"TB-GROUP-FOREIGN".*'"$ID_A" Y.log; }
wait_for 5 foreign_y
is "$?" 0 "Y refuses A's entries: it bootstrapped its own group (TB-GROUP-FOREIGN)"
api Y GET /v1/status
is "$code $(jq_get 'd["raft"]["role"]')" "200 leader" \
  "  Y still leads its own group, its own token still works"
run "$TB" --api "$API_A" --token "$TOKEN_A" group remove "$ID_Y"
is "$rc" 0 "group remove Y"
stop_node Y
ok $? "Y stops on SIGTERM"

# ---- demote and promote ----
run "$TB" --api "$API_A" --token "$TOKEN_A" group demote "$ID_C"
is "$rc" 0 "group demote C (to standby)"
is "$(field A '[m["role"] for m in d["group"]["members"] if m["node_id"] == "'"$ID_C"'"]')" \
  "['standby']" "  C is a standby"
run "$TB" --api "$API_A" --token "$TOKEN_A" group promote "$ID_C"
is "$rc" 0 "group promote C (back to voter)"
TOKEN_OVERRIDE=$CLERK api B POST /v1/group/members \
  -d "{\"node_id\":\"$ID_C\",\"address\":\"127.0.0.1:$LC\"}"
is "$code" 403 "a clerk may not change the group"

# ---- transfer leadership there and back ----
run "$TB" --api "$API_C" --token "$TOKEN_A" group transfer "$ID_B"
is "$rc" 0 "group transfer to B, asked at C (forwarded to A)"
leads() { [ "$(field "$1" 'd["group"]["leader"], d["raft"]["role"]')" = "$2" ]; }
wait_for 10 leads B "$ID_B leader" && wait_for 10 leads C "$ID_B follower"
is "$?" 0 "  B leads (C follows it within 10 s)"
run "$TB" --api "$API_A" --token "$TOKEN_A" group transfer "$ID_A"
is "$rc" 0 "group transfer back to A, asked at A (now a follower)"
wait_for 10 leads A "$ID_A leader"
is "$?" 0 "  A leads again"

stopped=0
for n in A B C; do stop_node "$n" && stopped=$((stopped + 1)); done
is "$stopped" 3 "the members stop on SIGTERM within 30 s"
for n in A B C X Y; do
  if grep -q 'Sanitizer\|runtime error' "$n.log"; then
    ok 1 "no sanitizer report from $n"
  fi
done
_done=1
done_testing
