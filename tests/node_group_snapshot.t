#!/usr/bin/env bash
# A known limit, checked so that it stays loud until snapshot streaming
# lands: a member added after the leader compacted its log gets only the
# marker snapshot, refuses it (TB-SNAPSHOT-HOLE) and does not catch up; the
# add answers 503 saying so, and the leader keeps serving.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"

group_pki
ok $? "a province root and region keys down to 370102"
LA=$(free_port); LB=$(free_port)
group_node A "$LA" member && group_node B "$LB" member --join "127.0.0.1:$LA"
ok $? "node A, and node B made to join it"
# A snapshot every 8 entries (2 kept behind it).
$py -c 'import json; p="A/tongban.json"; d=json.load(open(p)); d["snapshot_threshold"]=8; json.dump(d, open(p,"w"))'
node_start A
ok $? "A starts"
n=0
for i in $(seq 1 30); do
  api A POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
  [ "$code" = 201 ] && n=$((n + 1))
done
is "$n" 30 "30 writes at A (its log is compacted behind a snapshot)"
start_joiner B
ok $? "B runs, waiting to be added"
run timeout 40 "$TB" --api "$API_A" --token "$TOKEN_A" group add "$ID_B" \
  "127.0.0.1:$LB"
is "$rc" 1 "group add B fails"
like "$err" "did not catch up" "  saying that B did not catch up"
grep -q '"id":"TB-SNAPSHOT-HOLE"' B.log
is "$?" 0 "B refuses the marker snapshot loudly (TB-SNAPSHOT-HOLE)"
is "$(curl -s -o /dev/null -w '%{http_code}' "$API_B/readyz")" 503 "B is not ready"
api A POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
is "$code" 201 "A still serves writes"
is "$(field A '[m["role"] for m in d["group"]["members"] if m["node_id"] == "'"$ID_B"'"]')" \
  "['spare']" "B stays in the configuration as a spare"
run "$TB" --api "$API_A" --token "$TOKEN_A" group remove "$ID_B"
is "$rc" 0 "and group remove takes it out"
stop_node B && stop_node A
ok $? "both stop on SIGTERM within 30 s"
# A's log is clean. B's, after refusing the snapshot, ends with one leak
# that LeakSanitizer finds allocated inside libraft (16 bytes, on libraft's
# path after a failed snapshot restore); any other report fails.
! grep -q 'Sanitizer\|runtime error' A.log
ok $? "no sanitizer report from A"
other=$(grep 'SUMMARY:\|runtime error' B.log |
  grep -v 'SUMMARY: AddressSanitizer: 16 byte(s) leaked in 1 allocation(s).')
is "$other" "" "B: no sanitizer report but the known 16 bytes leaked in libraft"
done_testing
