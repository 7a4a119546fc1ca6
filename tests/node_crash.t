#!/usr/bin/env bash
# kill -9 while clients submit cases (issue #3). Each round: 8 client loops
# send food-licence cases with unique Idempotency-Keys; the node is killed
# with SIGKILL at a random moment; it restarts; then every acknowledged
# (201) case must be there whole, every listed case readable and complete,
# the count must not go back, and retrying an unacknowledged key must give
# exactly one case. Every few rounds the node is killed a second time while
# it restarts (replaying its log), before it is ready.
# 10 rounds (100 with TB_LONG=1); TB_SEED=N replays a run's kill moments.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/powercut/workload.sh"

rounds=10
[ "${TB_LONG:-0}" = 1 ] && rounds=100
clients=8
wl_seed

wl_setup a 64
ok $? "a node with the standard layer and three materials"

for r in $(seq 1 "$rounds"); do
  wl_clients a "$r" "$clients"
  delay=$(wl_ms 200 2000)
  wl_sleep_ms "$delay"
  acks=$(cat "$WL"/ack."$r".* 2>/dev/null | wc -l)
  node_kill a KILL
  wl_stop_clients
  echo "# round $r: killed after ${delay} ms, $acks acknowledged by then"
  if [ $((r % 3)) = 0 ]; then
    # A second kill while the node replays its log after the first.
    # Truncated here, not by the background job: a wait for "api" must
    # never read the previous run's line (an old port).
    : >"$T/a.out"
    "$TB" run --dir "$T/a" >"$T/a.out" 2>>"$T/a.log" &
    pid=$!
    _node_pids+=("$pid")
    delay=$(wl_ms 0 400)
    wl_sleep_ms "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "# round $r: killed again ${delay} ms into the restart"
  fi
  node_start a
  rc=$?
  ok "$rc" "round $r: the node restarts and becomes ready"
  [ "$rc" = 0 ] || break
  wl_verify a "$r"
done
node_kill a TERM
done_testing
