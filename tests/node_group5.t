#!/usr/bin/env bash
# A 5-member group survives two failures: five nodes of 370102, kill -9 of
# the leader and one follower, writes go on at the survivors; both come back
# and hold every acknowledged write.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"
bash -c 'sleep 120 & s=$!; trap "kill $s; exit" TERM; wait $s
  echo "# node_group5.t: over 120 s, giving up" >&2; kill -TERM '"$$" \
  >/dev/null 2>&1 &
_watchdog=$!
trap 'kill -TERM "$_watchdog" 2>/dev/null; _node_cleanup' EXIT

group_pki
ok $? "a province root and region keys down to 370102"
names=(A B C D E)
for n in "${names[@]}"; do printf -v "L$n" '%s' "$(free_port)"; done
group_node A "$LA" member && "$TB" index-key export --dir A --out akey.json >/dev/null
ok $? "node A, and its index key"
for n in B C D E; do
  p="L$n"
  group_node "$n" "${!p}" member --join "127.0.0.1:$LA" \
    --index-key-from akey.json || break
done
ok $? "nodes B to E, made with --join"
node_start A
ok $? "A starts"
for n in B C D E; do
  printf -v "TOKEN_$n" '%s' "$TOKEN_A"
  start_joiner "$n" || break
done
ok $? "B to E run"
added=0
for n in B C D E; do
  id="ID_$n" p="L$n"
  add_voter "$API_A" "${!id}" "127.0.0.1:${!p}" && added=$((added + 1))
done
is "$added" 4 "four members added as voters"
is "$(field A 'sum(m["role"] == "voter" for m in d["group"]["members"])')" 5 \
  "five voters"

acked=()
write() {
  api "$1" POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
  [ "$code" = 201 ] && acked+=("$(jq_get 'd["token"]')")
  [ "$code" = 201 ]
}
write C
ok $? "a write at follower C"

# Kill the leader and one follower.
leader=$(field C 'd["group"]["leader"]')
is "$leader" "$ID_A" "A leads"
node_kill A KILL
node_kill B KILL
t0=$(now_ms)
wrote=""
for i in $(seq 1 300); do
  for n in C D E; do
    if write "$n"; then wrote=$n; break 2; fi
  done
  sleep 0.05
done
ok "$([ -n "$wrote" ]; echo $?)" "with two of five down, a write is acknowledged (at $wrote)"
echo "# failover with two of five down: $(( $(now_ms) - t0 )) ms to the first acknowledged write"
for n in C D E; do write "$n"; done
is "${#acked[@]}" 5 "writes at C, D and E are acknowledged"

# Both come back and catch up.
for n in A B; do
  # Truncated here, not by the background job: a wait for "api" must
  # never read the previous run's line (an old port).
  : >"$T/$n.out"
  "$TB" run --dir "$T/$n" >"$T/$n.out" 2>>"$T/$n.log" &
  printf -v "PID_$n" '%s' "$!"
  _node_pids+=("$!")
done
for n in A B; do
  wait_for 20 grep -q '"api"' "$n.out"
  printf -v "PORT_$n" '%s' "$(sed -n 's/.*"api":"http:\/\/[^:]*:\([0-9]*\)".*/\1/p' "$n.out")"
done
commit=$(field C 'd["group"]["commit"]')
caught_up() { [ "$(field "$1" 'd["raft"]["applied"]')" -ge "$commit" ]; }
t0=$(now_ms)
wait_for 30 caught_up A && wait_for 30 caught_up B
rc=$?
echo "# A and B caught up $(( $(now_ms) - t0 )) ms after their API answered"
[ "$rc" = 0 ] || echo "# applied: A $(field A 'd["raft"]["applied"]'), B $(field B 'd["raft"]["applied"]'), commit $commit"
is "$rc" 0 "A and B rejoin and apply up to the commit index ($commit)"
missing=0
for n in "${names[@]}"; do
  p="PORT_$n"
  for t in "${acked[@]}"; do
    c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" \
      "http://127.0.0.1:${!p}/v1/status")
    [ "$c" = 200 ] || missing=$((missing + 1))
  done
done
is "$missing" 0 "every acknowledged write is on all five members"
digests() {
  local n
  for n in "${names[@]}"; do
    api "$n" GET '/v1/status?digest=1'
    jq_get 'd["state_digest"]["applied"], d["state_digest"]["hash"]'
  done | sort -u | wc -l
}
same5() { [ "$(digests)" = 1 ]; }
wait_for 10 same5
is "$?" 0 "the five state digests are equal at the same applied index"
stopped=0
for n in "${names[@]}"; do stop_node "$n" && stopped=$((stopped + 1)); done
is "$stopped" 5 "the members stop on SIGTERM within 30 s"
bad=0
for n in "${names[@]}"; do
  grep -q 'Sanitizer\|runtime error' "$n.log" && bad=$((bad + 1))
done
is "$bad" 0 "no sanitizer report from any member"
done_testing
