# Helpers for tests that run real tongban nodes (sourced after lib.sh).
# node_init NAME REGION       creates $T/NAME, sets NAME's token in TOKEN_<NAME>
# node_start NAME             runs it in the background (port 0), waits for
#                             /readyz, sets PORT_<NAME>, PID_<NAME>, API_<NAME>
# node_kill NAME [SIGNAL]     signals it (default TERM) and waits for it
# Every node started is killed when the test exits.
TB=${TB:-$TB_BUILD/tongban}
_node_pids=()
_node_cleanup() {
  local p
  for p in "${_node_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  _keep
  rm -rf "$T"
} 2>/dev/null
trap _node_cleanup EXIT

node_init() {
  local name=$1 region=$2 out
  out=$("$TB" init --dir "$T/$name" --region "$region" --api 127.0.0.1:0 \
    --json) || { echo "# node_init $name failed" >&2; return 1; }
  printf -v "TOKEN_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
}

node_start() {
  local name=$1 i port
  : >"$T/$name.out"
  "$TB" run --dir "$T/$name" >"$T/$name.out" 2>>"$T/$name.log" &
  printf -v "PID_$name" '%s' "$!"
  _node_pids+=("$!")
  for i in $(seq 1 200); do
    port=$(sed -n 's/.*"api":"http:\/\/[^:]*:\([0-9]*\)".*/\1/p' \
      "$T/$name.out" 2>/dev/null)
    if [ -n "$port" ] &&
      curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      printf -v "PORT_$name" '%s' "$port"
      printf -v "API_$name" '%s' "http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.05
  done
  echo "# node $name did not become ready; its log:" >&2
  sed 's/^/#   /' "$T/$name.log" >&2
  return 1
}

node_kill() {
  local name=$1 sig=${2:-TERM} pidvar="PID_$1"
  kill -"$sig" "${!pidvar}" 2>/dev/null
  wait "${!pidvar}" 2>/dev/null
  return 0
}

# api NAME METHOD PATH [curl args...]: sets code and body.
api() {
  local name=$1 method=$2 path=$3 portvar="PORT_$1" tokvar="TOKEN_$1"
  shift 3
  body=$(curl -s -o - -w '\n%{http_code}' -X "$method" \
    -H "Authorization: Bearer ${TOKEN_OVERRIDE:-${!tokvar}}" \
    "http://127.0.0.1:${!portvar}$path" "$@")
  code=${body##*$'\n'}
  body=${body%$'\n'*}
}

# jq_get EXPR: evaluates a python expression over the JSON in $body (as d).
jq_get() {
  printf '%s' "$body" | /usr/bin/python3 -c \
    "import json,sys; d=json.load(sys.stdin); print($1)"
}
