#!/usr/bin/env bash
# A county's IT admin, as README.md and docs/GROUPS.md walk them: a single
# node made without --root takes cases, is then enrolled (cert install
# --root while it runs: it says to restart it), issues a member join token
# and grows to a group of two with `init --join` in the order init prints
# (run first, then add); `tongban status` shows a line per member; a
# removed member's /readyz turns 503; a link address changed in
# tongban.json after the group recorded it is warned about. Real processes
# on loopback, about 15 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"
group_bound 120 A B C D

run "$TB" init --dir "$T/X" --region 370102
like "$out" "link address 127.0.0.1:7401 (the default): to grow this node into a group later, init it with --link HOST:PORT" \
  "init without --link says the default link address is recorded"
run "$TB" init --dir "$T/Y" --region 370102 --link 127.0.0.1:7402
unlike "$out" "(the default)" "  not with --link"

LA=$(free_port)
# ---- a single county node, as README's first lines make it (no --root) ----
out=$("$TB" init --dir "$T/A" --region 370102 --api 127.0.0.1:0 \
  --link "127.0.0.1:$LA" --json)
TOKEN_A=$(printf '%s' "$out" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')
ID_A=$(printf '%s' "$out" | sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')
node_start A
ok $? "a county node made without --root runs"
run "$TB" --api "$API_A" --token "$TOKEN_A" token create --role clerk
is "$rc" 0 "it takes writes (a clerk's token)"
run "$TB" --api "$API_A" --token "$TOKEN_A" token revoke admin
is "$rc" 1 "the admin token cannot revoke itself (the node would have no admin)"
like "$err" "409 conflict: token admin is the one making this request: make another admin token first" \
  "  and says what to do instead"
run "$TB" --api "$API_A" --token "$TOKEN_A" --json token create --role provincial_admin
T2=$(printf '%s' "$out" | $py -c 'import json,sys; print(json.load(sys.stdin)["token"])')
run "$TB" --api "$API_A" --token "$T2" token revoke admin
is "$rc" 0 "  another admin token revokes it"
run "$TB" --api "$API_A" --token "$TOKEN_A" status
like "$rc $err" "1 tongban: 401 unauthorized" "  and it no longer works"
TOKEN_A=$T2
run "$TB" --api "$API_A" --token "$TOKEN_A" token list
is "$rc" 0 "token list: the node's tokens"
like "$err" "admin            provincial_admin  370102  revoked  bootstrap admin (tongban init)" \
  "  the init token, revoked"
is "$(printf '%s' "$out" | $py -c 'import json,sys; d=json.load(sys.stdin); print(len(d["tokens"]), sum("hash" in t for t in d["tokens"]), sorted(t["role"] for t in d["tokens"]))')" \
  "3 0 ['clerk', 'provincial_admin', 'provincial_admin']" \
  "  --json: three tokens (a clerk, two admins), no hashes"
is "$(printf '%s' "$out" | $py -c 'import json,sys; print(json.load(sys.stdin)["truncated"])')" "False" \
  "  and the list is whole (truncated: false)"
CLERK=$("$TB" --api "$API_A" --token "$TOKEN_A" --json token create --role clerk |
  $py -c 'import json,sys; print(json.load(sys.stdin)["token"])')
run "$TB" --api "$API_A" --token "$CLERK" token list
like "$rc $err" "1 tongban: 403 forbidden" "  a clerk may not list tokens"

# ---- enrol it while it runs: the province's root comes with the install ----
group_pki
ok $? "a province root and region keys down to 370102"
"$TB" cert request --dir "$T/A" --out A.req >/dev/null &&
  "$TB" cert issue --key r370102.key --issuer-cert c2.json --request A.req \
    --days 30 --role member --out A.cert >/dev/null
ok $? "a member certificate for A"
run "$TB" cert install --dir "$T/A" A.cert c2.json c1.json c0.json
is "$rc" 1 "cert install without --root into A is refused"
like "$err" "has no root metadata ($T/A/root.json): give the province's root with --root ROOT.json" \
  "  and says to give the root (not to init the node again)"
run "$TB" cert install --dir "$T/A" --root P/root.json A.cert c2.json c1.json c0.json
is "$rc" 0 "cert install --root P/root.json into the running node"
like "$out" "installed the root metadata of 370000 version 1" "  keeps the root"
like "$out" "runs without links (it started without a certificate): restart it to start them" \
  "  and says the running node must be restarted for its links"
"$TB" cert install --dir "$T/A" --region-key r370102.key >/dev/null
ok $? "A holds the region key online"
run "$TB" --api "$API_A" --token "$TOKEN_A" cert join-token --region 370102 --role member
is "$rc" 1 "a join token before the restart is refused"
like "$err" "409 conflict: links are off on this node (it started without a certificate; restart it after tongban cert install)" \
  "  and the refusal says to restart it"
stop_node A
node_start A
ok $? "A restarted and ready (its init's admin token was revoked above: the start no longer waits for it forever)"
run "$TB" --api "$API_A" --token "$TOKEN_A" token create --role clerk
is "$rc" 0 "A still takes writes (its data stayed)"
run "$TB" --api "$API_A" --token "$TOKEN_A" cert join-token --region 370102 --role member
is "$rc" 1 "a join token at feature level 1 is refused"
like "$err" "409 feature_level: join.create needs feature level 2; the group runs at 1 (tongban group features --set 2," \
  "  and the refusal names the CLI verb that raises it"
run "$TB" --api "$API_A" --token "$TOKEN_A" group features --set 2
is "$rc" 0 "the group at feature level 2"
run "$TB" --api "$API_A" --token "$TOKEN_A" cert join-token --region 370102 --role member
is "$rc" 0 "a member join token after the restart and the raise"
JT=$out

# ---- a second node, in the order init prints ----
LB=$(free_port)
run "$TB" init --dir "$T/B" --region 370102 --api 127.0.0.1:0 \
  --link "127.0.0.1:$LB" --join "127.0.0.1:$LA" --join-token "$JT"
is "$rc" 0 "init --join --join-token makes B"
ID_B=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["node_id"])' "$T/B/tongban.json")
like "$out" "start it first: tongban run --dir $T/B" "  init says to run B first"
like "$out" "then on a member: tongban group add $ID_B 127.0.0.1:$LB" \
  "  then to add it"
start_joiner B
ok $? "B runs (waiting to be added)"
b=$(curl -s -w ' %{http_code}' "$API_B/readyz")
like "$b" "waiting to be added to the group: on a member, tongban group add $ID_B 127.0.0.1:$LB" \
  "  its /readyz says it waits to be added, and how"
like "$b" " 503" "  503"
add_voter "$API_A" "$ID_B" "127.0.0.1:$LB"
is "$rc" 0 "group add B as a voter, as init said"
wait_for 10 ready B
is "$?" 0 "B becomes ready"

# ---- tongban status: a line per member (role, leader, lag, clock skew) ----
run "$TB" --api "$API_A" --token "$TOKEN_A" status
like "$err" "2 member(s)" "status at A: two members"
like "$err" "  member $ID_A 127.0.0.1:$LA voter leader (this node), lag 0" \
  "  A's line: voter, leader, this node, its lag"
like "$err" "  member $ID_B 127.0.0.1:$LB voter, lag " "  B's line: voter, its lag"
like "$err" "  log: last index " "  the log's last index (what a recovery compares)"
skewed() {
  "$TB" --api "$API_A" --token "$TOKEN_A" status 2>&1 >/dev/null |
    grep -q "member $ID_B .*clock skew [-+][0-9]* ms (rtt [0-9]* ms)"
}
wait_for 15 skewed
is "$?" 0 "  B's line shows the clock skew A measured (every 5 s)"
run "$TB" --api "$API_B" --token "$TOKEN_A" status
like "$err" "  member $ID_A 127.0.0.1:$LA voter leader" "status at B names A the leader"
unlike "$err" "not in the group's configuration" "  and B is in the configuration"
run "$TB" --api "$API_A" --token "$TOKEN_A" status --json
unlike "$err" "member" "--json: no summary"

# ---- a change naming a node that is no member ----
run "$TB" --api "$API_B" --token "$TOKEN_A" group promote 0123456789abcdef
is "$rc" 1 "group promote of a non-member (at follower B) fails"
like "$err" "404 not_found at \$.node_id: 0123456789abcdef is not a member of the group" \
  "  naming the id as given, not libraft's decimal"
run "$TB" --api "$API_A" --token "$TOKEN_A" group transfer 0123456789abcdef
like "$rc $err" "1 tongban: 404 not_found at \$.node_id: 0123456789abcdef is not a member" \
  "group transfer to a non-member: the same"

run "$TB" --api "$API_B" --token "$TOKEN_A" group transfer "$ID_A"
like "$rc $err" "1 tongban: 422 invalid at \$.node_id: $ID_A is the leader already" \
  "group transfer to the leader (asked at B): 422 saying it leads already"
run "$TB" --api "$API_A" --token "$TOKEN_A" group demote "$ID_B"
is "$rc" 0 "B demoted to standby"
run "$TB" --api "$API_A" --token "$TOKEN_A" group transfer "$ID_B"
like "$rc $err" "1 tongban: 422 invalid at \$.node_id: $ID_B is not a voter: only a voter can lead" \
  "group transfer to a standby: 422 saying to promote it first"

run "$TB" --api "$API_A" --token "$TOKEN_A" group promote "$ID_B"
is "$rc" 0 "B a voter again"

# ---- /readyz is not latched: a removed member knows no leader ----
run "$TB" --api "$API_A" --token "$TOKEN_A" group remove "$ID_B"
is "$rc" 0 "group remove B"
not_ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$API_B/readyz")" = 503 ]; }
wait_for 10 not_ready
is "$?" 0 "B's /readyz turns 503 (it was ready before, and follows no leader now)"
like "$(curl -s "$API_B/readyz")" "knows no leader now" "  saying why"
is "$(curl -s -o /dev/null -w '%{http_code}' "$API_A/readyz")" 200 "A's /readyz stays 200"
run "$TB" --api "$API_B" --token "$TOKEN_A" token create --role clerk
is "$rc" 1 "a write at B fails"
like "$err" "503 not_leader: this member of 370102 knows no leader to forward to yet (an election: retry; if it lasts, a majority of the voters may be down" \
  "  and says what a lasting refusal means"

# ---- a removed standby keeps naming the leader, which sends it nothing ----
run "$TB" --api "$API_A" --token "$TOKEN_A" cert join-token --region 370102 --role member
LC=$(free_port)
"$TB" init --dir "$T/C" --region 370102 --api 127.0.0.1:0 \
  --link "127.0.0.1:$LC" --join "127.0.0.1:$LA" --join-token "$out" >/dev/null 2>&1 &&
  start_joiner C
ok $? "C made with a join token and running"
ID_C=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["node_id"])' "$T/C/tongban.json")
run "$TB" --api "$API_A" --token "$TOKEN_A" group add "$ID_C" "127.0.0.1:$LC" --role standby
is "$rc" 0 "C added as a standby"
wait_for 10 ready C
is "$?" 0 "  C becomes ready"
run "$TB" --api "$API_A" --token "$TOKEN_A" group remove "$ID_C"
is "$rc" 0 "C removed"
not_ready_c() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$API_C/readyz")" = 503 ]; }
wait_for 15 not_ready_c
is "$?" 0 "C's /readyz turns 503 though it still names a leader"
like "$(curl -s "$API_C/readyz")" "no message from the leader $ID_A for" "  saying so"
like "$(curl -s "$API_C/readyz")" "(removed from the group, a spare now, or cut off from it)" "  and why that may be"
run "$TB" --api "$API_C" --token "$TOKEN_A" token create --role clerk
like "$rc $err" "1 tongban: 503 not_leader: no message from the leader $ID_A for" \
  "  a write at C is 503 at once (it was a 504 after 10 s)"

# ---- a node made to join, run before its certificate is installed ----
"$TB" init --dir "$T/D" --region 370102 --api 127.0.0.1:0 --link "127.0.0.1:$(free_port)" \
  --root P/root.json --join "127.0.0.1:$LA" >/dev/null && start_joiner D
ok $? "D made with --join (offline enrolment) and run without a certificate"
b=$(curl -s -w ' %{http_code}' "$API_D/readyz")
like "$b" "this node joins a group but its links are off (no certificate): install its member certificate (tongban cert install), then restart it" \
  "  its /readyz says what it lacks (not: waiting to be added)"
like "$b" " 503" "  503"

# ---- a link address changed in tongban.json after the group recorded it ----
stop_node A
LA2=$(free_port)
$py -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["link"]=sys.argv[2]; json.dump(d, open(p,"w"))' \
  "$T/A/tongban.json" "127.0.0.1:$LA2"
node_start A
ok $? "A restarted with another link address in tongban.json"
wait_for 5 grep -q TB-GROUP-ADDRESS "$T/A.log"
is "$?" 0 "A logs TB-GROUP-ADDRESS"
like "$(grep TB-GROUP-ADDRESS "$T/A.log")" \
  "records this node at 127.0.0.1:$LA, tongban.json's link is 127.0.0.1:$LA2" \
  "  naming both addresses"
like "$(curl -s "$API_A/healthz")" "TB-GROUP-ADDRESS: the group's configuration records this node at 127.0.0.1:$LA" \
  "  /healthz warns"
run "$TB" --api "$API_A" --token "$TOKEN_A" status
like "$err" "WARNING: the configuration records this node at 127.0.0.1:$LA, tongban.json's link is 127.0.0.1:$LA2" \
  "  tongban status warns"

_done=1
done_testing
