#!/usr/bin/env bash
# ops/bench --region: the catalog flowing down the tree (issue 6), on
# loopback with one-voter groups of real regions: province 370000, cities
# 370100 and 370200, counties 370102, 370103, 370202, 370203.
#
#   full   a first full release of 3,000 matters (the example catalog's 42
#          matters cloned under new codes, 7.7 MB of JSON) published at the
#          province: ms until all four counties have applied it
#   delta  a release that changes 50 matters: ms until all four counties
#          have applied it (REPS times, on the same tree)
#
# "Applied" is polled at each county (GET /v1/catalog every 5 ms), so a
# figure is at most ~5 ms late. Usage: ops/bench.d/region.sh TONGBAN_BIN
# [REPS]; prints one TSV line per measure and a summary. TB_FULL_MATTERS
# (3000): the first release's size; TB_DELTAS_ONLY=1: stop after the
# deltas.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
TB=$1
reps=${2:-5}
T=$(mktemp -d "${TMPDIR:-/tmp}/tongban-region-bench.XXXXXX")
TB_SRC=$here
py=/usr/bin/python3
_node_pids=()
cleanup() {
  local p
  for p in "${_node_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
# What tests/node_lib.sh and tests/group_lib.sh give the region helpers.
node_start() {
  local name=$1 i port
  "$TB" run --dir "$T/$name" >"$T/$name.out" 2>>"$T/$name.log" &
  _node_pids+=("$!")
  for i in $(seq 1 400); do
    # The background shell may not have made $name.out yet: no port.
    port=$(sed -n 's/.*"api":"http:\/\/[^:]*:\([0-9]*\)".*/\1/p' \
      "$T/$name.out" 2>/dev/null || true)
    if [ -n "$port" ] &&
      curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      printf -v "PORT_$name" '%s' "$port"
      printf -v "API_$name" '%s' "http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.05
  done
  echo "node $name did not start" >&2
  return 1
}
free_port() {
  $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
api() {
  local name=$1 method=$2 path=$3 portvar="PORT_$1" tokvar="TOKEN_$1"
  shift 3
  body=$(curl -s -m 60 -o - -w '\n%{http_code}' -X "$method" \
    -H "Authorization: Bearer ${!tokvar}" \
    "http://127.0.0.1:${!portvar}$path" "$@")
  code=${body##*$'\n'}
  body=${body%$'\n'*}
}
jq_get() {
  printf '%s' "$body" | $py -c \
    "import json,sys; d=json.load(sys.stdin); print($1)"
}
# shellcheck source=../../tests/region_lib.sh
. "$here/tests/region_lib.sh"

for spec in "P 370000" "C1 370100 P" "C2 370200 P" "K1 370102 C1" \
  "K2 370103 C1" "K3 370202 C2" "K4 370203 C2"; do
  # shellcheck disable=SC2086
  region_node $spec || { echo "region.sh: cannot make node $spec" >&2; exit 1; }
done
for n in P C1 C2 K1 K2 K3 K4; do node_start "$n"; done
api P POST /v1/group/features -d '{"level":2}'
[ "$code" = 201 ] || { echo "feature level: $code $body" >&2; exit 1; }
# Wait until every parent has a stream to each child.
streams() {
  api "$1" GET /v1/region
  [ "$(jq_get 'len([r for r in d["outboxes"] if r["stream"]])')" = "$2" ]
}
for pc in "P 2" "C1 2" "C2 2"; do
  for i in $(seq 1 600); do
    streams $pc && break
    sleep 0.05
  done
done
# Feature level 3 (outbox.deliver_run: runs of entries in one command) at
# every region, when the build has it; a build without it stays at 2. A
# build with level 5 runs at 5 (a release's outbox entries refer to the
# stored release instead of copying it, from this branch on).
api P GET /v1/status
lvl=$(jq_get 'd["features"]["supported"]')
[ "$lvl" -gt 5 ] && lvl=5
if [ "$lvl" -ge 3 ]; then
  for n in P C1 C2 K1 K2 K3 K4; do
    for i in $(seq 1 200); do
      api "$n" GET /v1/status
      [ "$(jq_get 'd["features"]["level"]')" -ge 2 ] && break
      sleep 0.05
    done
    api "$n" POST /v1/group/features -d "{\"level\":$lvl}"
    [ "$code" = 201 ] || { echo "feature level $lvl at $n: $code $body" >&2; exit 1; }
  done
fi
api P GET /v1/status
printf 'region\tfeature_level\t%s\tlevel\n' "$(jq_get 'd["features"]["level"]')"

# all_at V: ms from now until every county's standard version is V.
counties=(K1 K2 K3 K4)
ports=()
for n in "${counties[@]}"; do p="PORT_$n" t="TOKEN_$n"; ports+=("${!p}:${!t}"); done
wait_all() {
  $py - "$1" "$2" "${ports[@]}" <<'PY'
import json, sys, time, urllib.request
v, t0 = int(sys.argv[1]), int(sys.argv[2]) / 1000.0
left = dict(a.split(":", 1) for a in sys.argv[3:])
end = time.time() + 120
while left and time.time() < end:
    for port, tok in list(left.items()):
        r = urllib.request.Request("http://127.0.0.1:%s/v1/catalog" % port,
                                   headers={"Authorization": "Bearer " + tok})
        if json.load(urllib.request.urlopen(r))["standard"]["version"] >= v:
            del left[port]
    time.sleep(0.005)
print(-1 if left else int((time.time() - t0) * 1000))
PY
}
$py - "$here/ops/examples/catalog-370000.json" "$T/full.json" "${TB_FULL_MATTERS:-3000}" <<'PY'
import json, sys, copy
d = json.load(open(sys.argv[1]))
base, ms, i = d["matters"], list(d["matters"]), 0
while len(ms) < int(sys.argv[3]):
    m = copy.deepcopy(base[i % len(base)])
    m["catalog_code"] = m["catalog_code"][:4] + "9%04d" % i + "000"
    m["task_name"] += " #%d" % i
    ms.append(m)
    i += 1
d["matters"] = ms
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
# cpu_ms: the CPU time (user + system) the seven nodes used so far, in ms;
# on a shared machine a steadier measure of the work than the wall clock.
tck=$(getconf CLK_TCK)
cpu_ms() {
  local p t=0
  for p in "${_node_pids[@]}"; do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo $((t * 1000 / tck))
}
# wchar_mib: the bytes the seven nodes wrote so far (write syscalls: the
# store, the Raft log and the links' sockets), in MiB.
wchar_mib() {
  local p t=0
  for p in "${_node_pids[@]}"; do
    t=$((t + $(awk '/^wchar:/ { print $2 }' "/proc/$p/io")))
  done
  echo $((t / 1048576))
}
c0=$(cpu_ms)
w0=$(wchar_mib)
t0=$(date +%s%3N)
# Expect: none. curl asks for "100 Continue" before sending a body over
# 1 MiB and, as the node's HTTP server (nng 1.5's) never sends one, waits
# its 1 s timeout first; tongban's own client sends no Expect.
api P POST /v1/catalog/releases -H 'Expect:' --data-binary @"$T/full.json"
[ "$code" = 201 ] || { echo "publish: $code ${body:0:300}" >&2; exit 1; }
t1=$(date +%s%3N)
full=$(wait_all 1 "$t0")
sleep 2 # what the hops do after the counties applied (ACKs)
printf 'region\tfull_3000\t%s\tms\tpublish_http_ms=%s\tcpu_ms=%s\twchar_mib=%s\n' \
  "$full" $((t1 - t0)) $(($(cpu_ms) - c0)) $(($(wchar_mib) - w0))

cd0=$(cpu_ms)
for v in $(seq 2 $((reps + 1))); do
  api P GET /v1/catalog
  $py - "$T/full.json" "$T/d$v.json" "$(jq_get 'd["standard"]["hash"]')" "$v" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = int(sys.argv[4])
ms = d["matters"][100:150]
for m in ms:
    m["task_name"] = m["task_name"].split(" v")[0] + " v%d" % v
d.update(version=v, snapshot=False, prev_hash=sys.argv[3], matters=ms,
         removed=[], bundles=[], removed_bundles=[])
d.pop("calendar", None)
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
  t0=$(date +%s%3N)
  api P POST /v1/catalog/releases --data-binary @"$T/d$v.json"
  [ "$code" = 201 ] || { echo "delta $v: $code ${body:0:300}" >&2; exit 1; }
  t1=$(date +%s%3N)
  d=$(wait_all "$v" "$t0")
  printf 'region\tdelta_50\t%s\tms\tpublish_http_ms=%s\n' "$d" $((t1 - t0))
done

# The CPU the seven nodes used for all the deltas (and the polling), ms.
sleep 1
printf 'region\tdeltas_cpu\t%s\tms\treps=%s\n' $(($(cpu_ms) - cd0)) "$reps"

# TB_DELTAS_ONLY=1: stop here (with TB_FULL_MATTERS=150, a quick
# comparison of the deltas alone).
[ "${TB_DELTAS_ONLY:-0}" = 1 ] && exit 0

# ---- remote case queries (issue 6): wrk, one connection, GET by id ----
# A case received at 370102 is asked at 370102 itself (no hop), at its city
# 370100 (one hop down), at 370103 with 370102 as a sideways peer (one hop
# sideways) and at 370203 (four hops: 370203 -> 370200 -> 370000 -> 370100
# -> 370102).
qdur=${TB_QUERY_SECONDS:-5}
hs=()
for m in M01 M03 M04; do
  printf 'material %s, %s\n' "$m" "$(date +%s%N)" >"$T/$m.txt"
  api K1 PUT /v1/blobs --data-binary @"$T/$m.txt"
  hs+=("$(jq_get 'd["hash"]')")
done
$py - "${hs[@]}" >"$T/case.json" <<'PY'
import json, sys
h1, h3, h4 = sys.argv[1:4]
print(json.dumps({"matter": "000117001000#01",
  "applicant": {"name": "张三", "id_type": "resident_id",
                "id_number": "370102199001011231", "phone": "13912345678"},
  "form": {"applicant_name": "张三", "id_number": "370102199001011231",
           "phone": "13912345678", "operator_name": "历下区张三餐馆",
           "operating_address": "济南市历下区泉城路1号",
           "main_format": "餐饮服务经营者", "business_items": "热食类食品制售",
           "food_safety_manager": "李四"},
  "materials": [{"code": "M01", "hash": h1, "size": 1}, {"code": "M03", "hash": h3, "size": 1},
                {"code": "M04", "hash": h4, "size": 1}],
  "channel": "2"}, ensure_ascii=False))
PY
api K1 POST /v1/cases --data-binary @"$T/case.json"
[ "$code" = 201 ] || { echo "case at 370102: $code ${body:0:300}" >&2; exit 1; }
cid=$(printf '%s' "$body" | sed -n 's/.*"id":"\(370102-[0-9]*-[0-9]*\)".*/\1/p' | head -1)
"$TB" --api "$API_K2" --token "$TOKEN_K2" region add-peer \
  "370102@tcp://127.0.0.1:$LINK_K1" >/dev/null
for i in $(seq 1 600); do
  api K2 GET /v1/links
  [ "$(jq_get 'any(l["peer_region"] == "370102" and l["state"] == "up" for l in d["links"])')" = True ] && break
  sleep 0.05
done
# ms VALUE: wrk's latency ("812.00us", "1.23ms", "1.01s") in ms.
ms() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  if (u == "us") n /= 1000; else if (u == "s") n *= 1000; printf "%.3f", n }'; }
for spec in "K1 local 0" "C1 down 1" "K2 sideways 1" "K4 tree 4"; do
  read -r n what hops <<<"$spec"
  p="PORT_$n" t="TOKEN_$n"
  api "$n" GET "/v1/cases/$cid"
  [ "$code" = 200 ] || { echo "query at $n: $code ${body:0:200}" >&2; continue; }
  out=$(wrk -t1 -c1 -d"${qdur}s" --latency -H "Authorization: Bearer ${!t}" \
    "http://127.0.0.1:${!p}/v1/cases/$cid" 2>&1)
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec/ { print int($2) }')
  p50=$(ms "$(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }')")
  p99=$(ms "$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')")
  non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx/ { print $NF }')
  printf 'region\tquery_%s_%s\t%s\treq/s\tp50_ms=%s\tp99_ms=%s\thops=%s\tnon2xx=%s\n' \
    "$what" "$hops" "$rps" "$p50" "$p99" "$hops" "${non2xx:-0}"
done

# ---- catching up case events (issue 6) ----
# 370100 is stopped (SIGSTOP) while 370102 receives cases (wrk, 16
# connections) until at least TB_CATCHUP_EVENTS (10,000) case summaries wait
# in 370102's stream up; then 370100 resumes, and the time until 370102's
# backlog towards it is 0 gives the rate at which the city catches up.
want=${TB_CATCHUP_EVENTS:-10000}
backlog_k1() {
  curl -s "http://127.0.0.1:$PORT_K1/metrics" |
    awk -F' ' '/^tongban_outbox_backlog\{dest="370100"\}/ { print $2 }'
}
cat >"$T/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("$T/case.json"):read("*a")
LUA
c1pid=${_node_pids[1]}
kill -STOP "$c1pid"
for i in $(seq 1 30); do
  wrk -t2 -c16 -d2s -s "$T/post.lua" -H "Authorization: Bearer $TOKEN_K1" \
    "http://127.0.0.1:$PORT_K1/v1/cases" >/dev/null 2>&1
  b=$(backlog_k1)
  [ "${b:-0}" -ge "$want" ] && break
done
queued=$(backlog_k1)
t0=$(date +%s%3N)
kill -CONT "$c1pid"
for i in $(seq 1 6000); do
  [ "$(backlog_k1)" = 0 ] && break
  sleep 0.02
done
t1=$(date +%s%3N)
left=$(backlog_k1)
ms=$((t1 - t0))
api C1 GET /v1/region
runs=$(jq_get 'd["counters"].get("runs_proposed", "-")')
printf 'region\tcatchup_cases\t%s\tevents/s\tqueued=%s\tms=%s\tleft=%s\truns_proposed_at_370100=%s\n' \
  "$(( ${queued:-0} * 1000 / (ms > 0 ? ms : 1) ))" "${queued:-0}" "$ms" "${left:-?}" "$runs"
