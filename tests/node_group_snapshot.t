#!/usr/bin/env bash
# Snapshots over the links (issue 5): with a snapshot every 8 entries, a
# member added after the leader compacted its log, and a member that was
# down for more writes than that, get the leader's store streamed in chunks
# (group_snap.c), swap it in, and catch up: the members' replicated
# databases then have identical content hashes, and later writes reach
# them as usual.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"

# A snapshot every 8 entries (2 kept behind it), streamed in chunks of
# about 4 KiB, on every member.
three_nodes snapshot_threshold=8 snapshot_chunk=4096
node_start A
ok $? "A starts"
writes() { # writes NAME N: N token creations at NAME; echoes how many were 201
  local i n=0
  for ((i = 0; i < $2; i++)); do
    api "$1" POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
    [ "$code" = 201 ] && n=$((n + 1))
  done
  echo "$n"
}
is "$(writes A 30)" 30 "30 writes at A (its log is compacted behind a snapshot)"
digest() { api "$1" GET '/v1/status?digest=1'; jq_get 'd["state_digest"]["hash"] + "@" + str(d["state_digest"]["applied"])' 2>/dev/null; }
same_digest() { # same_digest X Y: the replicated databases are identical
  local a b
  a=$(digest "$1") b=$(digest "$2")
  [ -n "$a" ] && [ "$a" = "$b" ]
}

# ---- a new member gets the leader's store ----
start_joiner B
ok $? "B runs, waiting to be added"
add_voter "$API_A" "$ID_B" "127.0.0.1:$LB"
is "$rc" 0 "group add B succeeds: B caught up through a snapshot"
chunks=$(sed -n 's/.*TB-SNAPSHOT-INSTALLED.* bytes in \([0-9]*\) chunks.*/\1/p' B.log | head -1)
ok "$([ "${chunks:-0}" -ge 2 ]; echo $?)" "B logs TB-SNAPSHOT-INSTALLED, streamed in ${chunks:-no} chunks"
grep -q '"id":"TB-SNAPSHOT-SERVE"' A.log
is "$?" 0 "A logs TB-SNAPSHOT-SERVE"
wait_for 20 ready B
is "$?" 0 "B becomes ready"
TOKEN_B=$TOKEN_A
wait_for 20 same_digest A B
is "$?" 0 "A and B hold identical replicated databases"
api B GET /metrics
n_inst=$(printf '%s\n' "$body" | sed -n 's/^tongban_group_snapshots_total{result="installed"} //p')
ok "$([ "${n_inst:-0}" -ge 1 ]; echo $?)" "B's metrics count installed snapshots (${n_inst:-none})"
api A POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
is "$code" 201 "a write at A after the add"
wait_for 20 same_digest A B
is "$?" 0 "reaches B by the log"

# ---- a member down for more than the snapshot threshold ----
start_joiner C
ok $? "C runs, waiting to be added"
add_voter "$API_A" "$ID_C" "127.0.0.1:$LC"
is "$rc" 0 "group add C"
wait_for 20 ready C
is "$?" 0 "C becomes ready"
TOKEN_C=$TOKEN_A
stop_node C
ok $? "C stops"
is "$(writes A 40)" 40 "40 writes while C is down (A and B are a quorum)"
node_start C
ok $? "C starts again"
wait_for 30 same_digest A C
is "$?" 0 "C catches up: its replicated databases equal A's"
n_inst=$(grep -c '"id":"TB-SNAPSHOT-INSTALLED"' C.log)
ok "$([ "$n_inst" -ge 1 ]; echo $?)" "through a snapshot ($n_inst installed at C)"
api C GET /v1/status
is "$code" 200 "C answers with its own copy of the tokens"

stop_node C && stop_node B && stop_node A
ok $? "all stop on SIGTERM within 30 s"
! grep -q 'Sanitizer\|runtime error' A.log B.log C.log
ok $? "no sanitizer report from any member"
done_testing
