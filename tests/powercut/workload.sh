# The workload of node_crash.t and node_powercut.t (sourced after lib.sh and
# node_lib.sh): one node, clients submitting food-licence cases, a kill at a
# random moment, a restart, and tests/powercut/verify.py's checks.
#
# wl_setup NAME THRESHOLD   wl_init, node_start, wl_prepare:
# wl_init NAME THRESHOLD    init NAME (370000) with that snapshot threshold
#                           (small, so that snapshots and log compaction
#                           happen between kills)
# wl_prepare NAME           publish the standard layer, upload three
#                           materials, write the case body
# wl_clients NAME ROUND N   start N client loops in the background; each
#                           sends cases with keys rROUND-cC-K until the node
#                           dies or $WL/stop exists, recording every key in
#                           attempt.ROUND.C before it is sent and "key id"
#                           in ack.ROUND.C after each 201
# wl_stop_clients           wait (bounded) for the clients to end
# wl_verify NAME ROUND      run verify.py against the node, as TAP lines
# wl_seed                   pick and print the seed of $RANDOM
WL=$T/wl
mkdir -p "$WL"
_wl_clients=()

wl_seed() {
  WL_SEED=${TB_SEED:-$(($(date +%s%N) % 1000000))}
  RANDOM=$WL_SEED
  echo "# seed $WL_SEED (rerun with TB_SEED=$WL_SEED)"
}

# wl_ms LO HI: a random whole number of milliseconds in [LO, HI).
wl_ms() { echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1))); }

# wl_sleep_ms MS
wl_sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

wl_setup() {
  wl_init "$1" "$2" && node_start "$1" && wl_prepare "$1"
}

# wl_init NAME THRESHOLD: the init half of wl_setup.
wl_init() {
  local name=$1 threshold=$2
  node_init "$name" 370000 || return 1
  /usr/bin/python3 - "$T/$name/tongban.json" "$threshold" <<'PY' || return 1
import json, sys
path = sys.argv[1]
with open(path) as f:
    cfg = json.load(f)
cfg["snapshot_threshold"] = int(sys.argv[2])
with open(path, "w") as f:
    json.dump(cfg, f, indent=2, sort_keys=True)
PY
}

# wl_prepare NAME: the catalog and materials half of wl_setup.
wl_prepare() {
  local name=$1 i h
  api "$name" POST /v1/catalog/releases \
    --data-binary @"$TB_SRC/ops/examples/catalog-370000.json"
  [ "$code" = 201 ] || { echo "# publish: $code $body"; return 1; }
  mkdir -p "$WL/m"
  : >"$WL/materials"
  for i in M01 M03 M04; do
    # Materials of a few KiB, different in every test run.
    /usr/bin/python3 -c "import os,sys; sys.stdout.buffer.write(
b'material $i of a crash test\n' + os.urandom(3000 + int('${i#M}') * 1000))" \
      >"$WL/m/$i"
    api "$name" PUT /v1/blobs --data-binary @"$WL/m/$i"
    [ "$code" = 201 ] || { echo "# upload $i: $code $body"; return 1; }
    h=$(printf '%s' "$body" | sed -n 's/.*"hash":"\([0-9a-f]*\)".*/\1/p')
    echo "$i $h $WL/m/$i" >>"$WL/materials"
  done
  /usr/bin/python3 - "$WL" <<'PY' || return 1
import json, os, sys
wl = sys.argv[1]
mats = []
for line in open(os.path.join(wl, "materials")):
    code, h, path = line.split()
    mats.append({"code": code, "hash": h, "size": os.path.getsize(path)})
idn = "370102199001011231"
body = {"matter": "000117001000#01",
        "applicant": {"name": "张三", "id_type": "resident_id",
                      "id_number": idn, "phone": "13912345678"},
        "form": {"applicant_name": "张三", "id_number": idn,
                 "phone": "13912345678",
                 "operator_name": "历下区张三餐馆 @@KEY@@",
                 "operating_address": "济南市历下区泉城路1号",
                 "main_format": "餐饮服务经营者",
                 "business_items": "热食类食品制售",
                 "food_safety_manager": "李四"},
        "materials": mats, "channel": "2"}
with open(os.path.join(wl, "body.json"), "w", encoding="utf-8") as f:
    json.dump(body, f, ensure_ascii=False)
PY
}

_wl_client() {
  local r=$1 c=$2 url=$3 tok=$4 k=0 key out code id tpl
  tpl=$(cat "$WL/body.json")
  while [ ! -e "$WL/stop" ]; do
    k=$((k + 1))
    key="r$r-c$c-$k"
    echo "$key" >>"$WL/attempt.$r.$c"
    out=$(curl -s --max-time 10 -o - -w '\n%{http_code}' -X POST \
      -H "Authorization: Bearer $tok" -H "Idempotency-Key: $key" \
      -H 'Content-Type: application/json' \
      --data-binary "${tpl//@@KEY@@/$key}" "$url/v1/cases" 2>/dev/null)
    code=${out##*$'\n'}
    case $code in
      201)
        id=$(printf '%s' "$out" | sed -n 's/^{"case":{"id":"\([^"]*\)".*/\1/p')
        echo "$key ${id:-?}" >>"$WL/ack.$r.$c" ;;
      000) break ;; # the node is gone
      503) ;;       # not committed: verify.py retries the key
      *) echo "$key $code ${out%$'\n'*}" >>"$WL/unexpected.$r.$c" ;;
    esac
  done
}

wl_clients() {
  local name=$1 r=$2 n=$3 c portvar="PORT_$1" tokvar="TOKEN_$1"
  rm -f "$WL/stop"
  _wl_clients=()
  for c in $(seq 1 "$n"); do
    _wl_client "$r" "$c" "http://127.0.0.1:${!portvar}" "${!tokvar}" &
    _wl_clients+=("$!")
  done
}

wl_stop_clients() {
  local i p alive
  touch "$WL/stop"
  for i in $(seq 1 300); do
    alive=0
    for p in "${_wl_clients[@]}"; do
      kill -0 "$p" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.05
  done
  for p in "${_wl_clients[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${_wl_clients[@]}"; do wait "$p" 2>/dev/null; done
  _wl_clients=()
}

# wl_verify NAME ROUND: verify.py's checks as TAP lines.
wl_verify() {
  local name=$1 r=$2 portvar="PORT_$1" tokvar="TOKEN_$1"
  local line rc unexpected
  timeout 300 /usr/bin/python3 "$TB_SRC/tests/powercut/verify.py" \
    "http://127.0.0.1:${!portvar}" "${!tokvar}" "$WL" "$r" \
    >"$WL/verify.out" 2>&1
  rc=$?
  while IFS= read -r line; do
    case $line in
      "PASS "*) ok 0 "${line#PASS }" ;;
      "FAIL "*) ok 1 "${line#FAIL }" ;;
      "#"*) echo "$line" ;;
      *) echo "# $line" ;;
    esac
  done <"$WL/verify.out"
  grep -q '^\(PASS\|FAIL\) ' "$WL/verify.out" && [ "$rc" -ne 124 ] &&
    ! grep -q '^Traceback' "$WL/verify.out"
  ok $? "round $r: verify.py ran to the end"
  unexpected=$(cat "$WL"/unexpected."$r".* 2>/dev/null | head -5)
  is "$unexpected" "" "round $r: clients saw only 201, 503 or a dropped connection"
}
