# Helpers for replica-group tests (sourced after lib.sh and node_lib.sh).
# group_pki                   a province root (node P, never run) and region
#                             keys 370000 -> 370100 -> 370102 in $T
# group_node NAME PORT ROLE [init args]
#                             a node of 370102 linking on 127.0.0.1:PORT with
#                             a ROLE (member|peer) certificate; sets ID_NAME
#                             and TOKEN_NAME ("" for a --join node)
# start_joiner NAME           runs a node that is not ready until it is added
#                             (waits up to 30 s for its listening line)
# free_port, wait_for SECONDS CMD..., now_ms, ready NAME, field NAME EXPR
py=/usr/bin/python3

free_port() {
  $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() {
  local n=$(($1 * 20)) i
  shift
  for ((i = 0; i < n; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}
now_ms() { date +%s%3N; }
# api as in node_lib.sh, bounded: a member that does not answer within 20 s
# fails the check that asked (code 000) instead of stalling the test.
api() {
  local name=$1 method=$2 path=$3 portvar="PORT_$1" tokvar="TOKEN_$1"
  shift 3
  body=$(curl -s -m 20 -o - -w '\n%{http_code}' -X "$method" \
    -H "Authorization: Bearer ${TOKEN_OVERRIDE:-${!tokvar}}" \
    "http://127.0.0.1:${!portvar}$path" "$@")
  code=${body##*$'\n'}
  body=${body%$'\n'*}
}
ready() { local p="PORT_$1"; curl -sf "http://127.0.0.1:${!p}/readyz"; }
# field NAME EXPR: evaluates EXPR over NAME's GET /v1/status as d.
field() { api "$1" GET /v1/status; jq_get "$2"; }

# add_voter API ID ADDR: tongban group add at API; if libraft could not
# catch the new member up in time (a loaded machine: the add answers 503
# "did not catch up" and leaves it a spare), promote it, twice at most.
# Sets rc, out, err like run.
add_voter() {
  local api=$1 id=$2 addr=$3 i
  run "$TB" --api "$api" --token "$TOKEN_A" group add "$id" "$addr"
  for i in 1 2; do
    [ "$rc" = 0 ] && return 0
    case "$err" in
    *"did not catch up"*) ;;
    *) echo "# group add $id failed: $err"; return 1 ;;
    esac
    echo "# $id did not catch up; promoting it again"
    run "$TB" --api "$api" --token "$TOKEN_A" group promote "$id"
  done
  [ "$rc" = 0 ]
}

# stop_node NAME: SIGTERM, then up to 30 s for the process to exit; returns
# 1 (after kill -9) if it did not.
stop_node() {
  local pidvar="PID_$1" i
  kill -TERM "${!pidvar}" 2>/dev/null
  for ((i = 0; i < 600; i++)); do
    kill -0 "${!pidvar}" 2>/dev/null || { wait "${!pidvar}" 2>/dev/null; return 0; }
    sleep 0.05
  done
  echo "# $1 did not stop within 30 s of SIGTERM; its threads and log:"
  gdb -p "${!pidvar}" -batch -ex 'thread apply all bt 8' 2>/dev/null |
    grep -E '^(Thread|#)' | cut -c1-160 | head -60 | sed 's/^/#   /'
  tail -n 15 "$T/$1.log" | cut -c1-200 | sed 's/^/#   /'
  kill -9 "${!pidvar}" 2>/dev/null
  wait "${!pidvar}" 2>/dev/null
  return 1
}

group_pki() {
  local r
  "$TB" init --dir "$T/P" --region 370000 --api 127.0.0.1:0 >/dev/null || return 1
  for r in 370000 370100 370102; do
    "$TB" keygen --out "$T/r$r.key" >/dev/null || return 1
  done
  "$TB" cert request --region-key "$T/r370000.key" --region 370000 \
    --out "$T/q0.json" >/dev/null &&
    "$TB" cert issue --key "$T/P/keys/officer.json" --root "$T/P/root.json" \
      --request "$T/q0.json" --days 365 --out "$T/c0.json" >/dev/null &&
    "$TB" cert request --region-key "$T/r370100.key" --region 370100 \
      --out "$T/q1.json" >/dev/null &&
    "$TB" cert issue --key "$T/r370000.key" --issuer-cert "$T/c0.json" \
      --request "$T/q1.json" --days 365 --out "$T/c1.json" >/dev/null &&
    "$TB" cert request --region-key "$T/r370102.key" --region 370102 \
      --out "$T/q2.json" >/dev/null &&
    "$TB" cert issue --key "$T/r370100.key" --issuer-cert "$T/c1.json" \
      --request "$T/q2.json" --days 365 --out "$T/c2.json" >/dev/null
}

group_node() {
  local name=$1 port=$2 role=$3 out
  shift 3
  out=$("$TB" init --dir "$T/$name" --region 370102 --api 127.0.0.1:0 \
    --link "127.0.0.1:$port" --root "$T/P/root.json" --json "$@") || return 1
  printf -v "ID_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')"
  printf -v "TOKEN_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
  "$TB" cert request --dir "$T/$name" --out "$T/$name.req" >/dev/null &&
    "$TB" cert issue --key "$T/r370102.key" --issuer-cert "$T/c2.json" \
      --request "$T/$name.req" --days 30 --role "$role" \
      --out "$T/$name.cert" >/dev/null &&
    "$TB" cert install --dir "$T/$name" "$T/$name.cert" "$T/c2.json" \
      "$T/c1.json" "$T/c0.json" >/dev/null
}

start_joiner() {
  local name=$1 i port
  # Truncated here, not by the background job: a wait for "api" must
  # never read the previous run's line (an old port).
  : >"$T/$name.out"
  "$TB" run --dir "$T/$name" >"$T/$name.out" 2>>"$T/$name.log" &
  printf -v "PID_$name" '%s' "$!"
  _node_pids+=("$!")
  for i in $(seq 1 600); do
    port=$(sed -n 's/.*"api":"http:\/\/[^:]*:\([0-9]*\)".*/\1/p' \
      "$T/$name.out" 2>/dev/null)
    if [ -n "$port" ]; then
      printf -v "PORT_$name" '%s' "$port"
      printf -v "API_$name" '%s' "http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# group_bound SECONDS NAME...: a bound on the whole test (SIGTERM to it
# after SECONDS), and on exit, when a check failed or the test did not
# reach `_done=1`, the end of each named node's log; then the nodes go.
group_bound() {
  local secs=$1 me=$$ name
  shift
  _bound_logs=("$@")
  name=$(basename "$0")
  bash -c 'sleep '"$secs"' & s=$!; trap "kill $s; exit" TERM; wait $s
    echo "# '"$name"': over '"$secs"' s, giving up" >&2; kill -TERM '"$me" \
    >/dev/null 2>&1 &
  _watchdog=$!
  trap _group_bound_exit EXIT
}
_group_bound_exit() {
  local n
  kill -TERM "$_watchdog" 2>/dev/null
  if [ "$_tap_fail" -gt 0 ] || [ -z "${_done:-}" ]; then
    for n in "${_bound_logs[@]}"; do
      [ -f "$T/$n.log" ] || continue
      echo "# the end of $n.log:"
      tail -n 30 "$T/$n.log" | cut -c1-300 | sed 's/^/#   /'
    done
  fi
  _node_cleanup
}

# three_nodes KEY=VALUE...: the PKI, node A and nodes B and C made to join
# it (not started), each tongban.json given the settings KEY=VALUE (JSON
# values); sets LA, LB, LC (TAP points).
three_nodes() {
  local m kv
  group_pki
  ok $? "a province root and region keys down to 370102"
  LA=$(free_port); LB=$(free_port); LC=$(free_port)
  group_node A "$LA" member && group_node B "$LB" member --join "127.0.0.1:$LA" &&
    group_node C "$LC" member --join "127.0.0.1:$LA"
  ok $? "node A, and nodes B and C made to join it"
  for m in A B C; do
    for kv in "$@"; do
      $py -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); k,v=sys.argv[2].split("=",1); d[k]=json.loads(v); json.dump(d, open(p,"w"))' \
        "$T/$m/tongban.json" "$kv" || return 1
    done
  done
}

# grow_to_three: with A running as a one-voter group and B and C started as
# joiners, checks that B is not yet a member, adds B at the leader and C
# through follower B, and waits for both to be ready (TAP points).
grow_to_three() {
  api B GET /v1/status
  is "$code" 401 "B knows no token before it is added (tokens are replicated)"
  is "$(curl -s -o /dev/null -w '%{http_code}' "$API_B/readyz")" 503 \
    "B is not ready before it is added"
  add_voter "$API_A" "$ID_B" "127.0.0.1:$LB"
  is "$rc" 0 "group add B (as a voter) at the leader"
  like "$out" '"role": "voter"' "  answers once B is a voter"
  wait_for 10 ready B
  is "$?" 0 "B becomes ready as a follower"
  add_voter "$API_B" "$ID_C" "127.0.0.1:$LC"
  is "$rc" 0 "group add C, sent to follower B (forwarded to the leader)"
  wait_for 10 ready C
  is "$?" 0 "C becomes ready"
}
