#!/usr/bin/env bash
# Under write load, kill -9 the leader of a 3-member group at whatever
# moment the writes are in (5 rounds; 50 with TB_LONG=1): writes go on
# after each election,
# and once the killed members are back every acknowledged write is on every
# member and their state digests are equal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"
rounds=5 bound=240
[ "${TB_LONG:-0}" = 1 ] && rounds=50 bound=2400
bash -c 'sleep '"$bound"' & s=$!; trap "kill $s; exit" TERM; wait $s
  echo "# node_group_rounds.t: over '"$bound"' s, giving up" >&2; kill -TERM '"$$" \
  >/dev/null 2>&1 &
_watchdog=$!
_writer=""
trap 'kill -TERM "$_watchdog" 2>/dev/null; [ -n "$_writer" ] && kill "$_writer" 2>/dev/null; _node_cleanup' EXIT

group_pki
ok $? "a province root and region keys down to 370102"
names=(A B C)
for n in "${names[@]}"; do printf -v "L$n" '%s' "$(free_port)"; done
group_node A "$LA" member && "$TB" index-key export --dir A --out akey.json >/dev/null &&
  group_node B "$LB" member --join "127.0.0.1:$LA" --index-key-from akey.json &&
  group_node C "$LC" member --join "127.0.0.1:$LA" --index-key-from akey.json
ok $? "nodes A, B and C"
node_start A && start_joiner B && start_joiner C
ok $? "they run"
TOKEN_B=$TOKEN_A TOKEN_C=$TOKEN_A
add_voter "$API_A" "$ID_B" "127.0.0.1:$LB" &&
  add_voter "$API_A" "$ID_C" "127.0.0.1:$LC"
ok $? "a group of three voters"

# The writer: one write at a time, round robin over the members, with the
# secret of every acknowledged token appended to acked.txt. It reads the
# members' ports from ports.txt, which restarts rewrite.
# Written aside and renamed, so the writer never reads a half-written file.
ports() { for n in "${names[@]}"; do p="PORT_$n"; echo "${!p}"; done >ports.tmp &&
  mv ports.tmp ports.txt; }
ports
: >acked.txt
(
  i=0
  while :; do
    mapfile -t P <ports.txt
    port=${P[$((i % 3))]:-}
    [ -n "$port" ] || { sleep 0.05; continue; }
    out=$(curl -s -m 15 -w '\n%{http_code}' -X POST \
      -H "Authorization: Bearer $TOKEN_A" \
      "http://127.0.0.1:$port/v1/tokens" \
      -d "{\"role\":\"clerk\",\"region\":\"370102\",\"name\":\"w$i\"}")
    if [ "${out##*$'\n'}" = 201 ]; then
      printf '%s\n' "${out%$'\n'*}" | $py -c 'import json,sys; print(json.load(sys.stdin)["token"])' >>acked.txt
    fi
    i=$((i + 1))
  done
) &
_writer=$!

acked() { wc -l <acked.txt; }
grew_past() { [ "$(acked)" -gt "$1" ]; }
wait_for 10 grew_past 5
ok $? "writes are acknowledged under load"

for round in $(seq 1 "$rounds"); do
  leader=$(field B 'd["group"]["leader"]')
  victim=""
  for n in "${names[@]}"; do
    id="ID_$n"
    [ "${!id}" = "$leader" ] && victim=$n
  done
  if [ -z "$victim" ]; then
    ok 1 "round $round: a leader is known"
    break
  fi
  before=$(acked)
  node_kill "$victim" KILL
  t0=$(now_ms)
  wait_for 20 grew_past "$((before + 3))"
  ok $? "round $round: leader $victim killed; writes go on ($(( $(now_ms) - t0 )) ms to three more)"
  # Truncated here, not by the background job: a wait for "api" must
  # never read the previous run's line (an old port).
  : >"$T/$victim.out"
  "$TB" run --dir "$T/$victim" >"$T/$victim.out" 2>>"$T/$victim.log" &
  printf -v "PID_$victim" '%s' "$!"
  _node_pids+=("$!")
  wait_for 20 grep -q '"api"' "$victim.out"
  printf -v "PORT_$victim" '%s' \
    "$(sed -n 's/.*"api":"http:\/\/[^:]*:\([0-9]*\)".*/\1/p' "$victim.out")"
  ports
  is_ready() { ready "$victim"; }
  wait_for 30 is_ready
  r=$?
  ok $r "round $round: $victim is back and ready"
  if [ "$r" != 0 ]; then
    p="PORT_$victim"
    echo "# $victim's port ${!p}: /readyz says $(curl -s -m 5 "http://127.0.0.1:${!p}/readyz")"
    echo "# $victim.out: $(head -c 300 "$T/$victim.out")"
    tail -n 25 "$T/$victim.log" | cut -c1-300 | sed 's/^/#   /'
  fi
done
kill "$_writer" 2>/dev/null
wait "$_writer" 2>/dev/null
_writer=""
n_acked=$(acked)
echo "# $n_acked writes acknowledged over $rounds rounds of kill -9 of the leader"

# The highest commit index any member knows (a member just restarted may
# not know the latest yet).
commit=0
for n in "${names[@]}"; do
  c=$(field "$n" 'd["group"]["commit"]')
  [ "${c:-0}" -gt "$commit" ] && commit=$c
done
caught_up() {
  local n
  for n in "${names[@]}"; do
    [ "$(field "$n" 'd["raft"]["applied"]')" -ge "$commit" ] || return 1
  done
}
wait_for 30 caught_up
ok $? "every member applied up to the commit index ($commit)"
missing=0
for n in "${names[@]}"; do
  p="PORT_$n"
  while read -r t; do
    c=$(curl -s -m 10 -o /dev/null -w '%{http_code}' \
      -H "Authorization: Bearer $t" "http://127.0.0.1:${!p}/v1/status")
    [ "$c" = 200 ] || missing=$((missing + 1))
  done <acked.txt
done
is "$missing" 0 "all $n_acked acknowledged writes are on A, B and C"
digests() {
  local n
  for n in "${names[@]}"; do
    api "$n" GET '/v1/status?digest=1'
    jq_get 'd["state_digest"]["applied"], d["state_digest"]["hash"]'
  done | sort -u | wc -l
}
same3() { [ "$(digests)" = 1 ]; }
wait_for 10 same3
ok $? "their state digests are equal at the same applied index"
stopped=0
for n in "${names[@]}"; do stop_node "$n" && stopped=$((stopped + 1)); done
is "$stopped" 3 "the members stop on SIGTERM"
bad=0
for n in "${names[@]}"; do
  grep -q 'Sanitizer\|runtime error' "$n.log" && bad=$((bad + 1))
done
is "$bad" 0 "no sanitizer report from any member"
done_testing
