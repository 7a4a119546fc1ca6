# Helpers for tests of the tree of regions (sourced after lib.sh,
# node_lib.sh and group_lib.sh): one-voter nodes of real regions from
# data/regions.csv, enrolled with a real certificate chain, each child made
# with `tongban init --parent` pointing at its parent's link.
# region_node NAME CODE [PARENT_NAME [noparent]]
#     inits $T/NAME for region CODE, linking on a free port (LINK_NAME),
#     with --parent PARENT's code and link (none for the province, which
#     also makes the root; "noparent": enrolled under PARENT but made
#     without --parent), issues its region key's certificate (from the
#     parent's region key, or the root's officer for the province) and the
#     node's, and installs the chain; sets TOKEN_NAME, ID_NAME, CODE_NAME.
# region_wait SECONDS NAME EXPR
#     waits until EXPR (python, d = NAME's GET /v1/catalog) is true.
# food_case_json NAME [EXTRA]
#     uploads a food-licence case's three materials at NAME and writes its
#     body to case.json.
region_node() {
  local name=$1 code=$2 parent=${3:-} flag=${4:-} port out chain pargs=()
  port=$(free_port)
  printf -v "LINK_$name" '%s' "$port"
  printf -v "CODE_$name" '%s' "$code"
  if [ -n "$parent" ]; then
    local pl="LINK_$parent" pc="CODE_$parent"
    pargs=(--root "$T/$_region_root/root.json")
    [ "$flag" = noparent ] ||
      pargs+=(--parent "${!pc}@tcp://127.0.0.1:${!pl}")
  else
    _region_root=$name
  fi
  out=$("$TB" init --dir "$T/$name" --region "$code" --api 127.0.0.1:0 \
    --link "127.0.0.1:$port" "${pargs[@]}" --json) || return 1
  printf -v "TOKEN_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
  printf -v "ID_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')"
  "$TB" keygen --out "$T/r$code.key" >/dev/null || return 1
  "$TB" cert request --region-key "$T/r$code.key" --region "$code" \
    --out "$T/q$code.json" >/dev/null || return 1
  if [ -n "$parent" ]; then
    local pc="CODE_$parent"
    "$TB" cert issue --key "$T/r${!pc}.key" \
      --issuer-cert "$T/c${!pc}.json" --request "$T/q$code.json" \
      --days 365 --out "$T/c$code.json" >/dev/null || return 1
    chain="$T/c$code.json ${_region_chain[${!pc}]}"
  else
    "$TB" cert issue --key "$T/$name/keys/officer.json" \
      --root "$T/$name/root.json" --request "$T/q$code.json" --days 365 \
      --out "$T/c$code.json" >/dev/null || return 1
    chain="$T/c$code.json"
  fi
  _region_chain[$code]=$chain
  "$TB" cert request --dir "$T/$name" --out "$T/$name.req" >/dev/null &&
    "$TB" cert issue --key "$T/r$code.key" --issuer-cert "$T/c$code.json" \
      --request "$T/$name.req" --days 30 --out "$T/$name.cert" \
      >/dev/null || return 1
  # shellcheck disable=SC2086
  "$TB" cert install --dir "$T/$name" "$T/$name.cert" $chain >/dev/null
}
declare -A _region_chain
_region_root=""

# region_member NAME CODE FIRST: a node NAME made to join the group of
# region CODE through its member FIRST (init --join, a member certificate
# issued with CODE's region key); sets LINK_NAME and ID_NAME. The caller
# starts it and adds it to the group.
region_member() {
  local name=$1 code=$2 first=$3 port out link
  port=$(free_port)
  printf -v "LINK_$name" '%s' "$port"
  link="LINK_$first"
  # shellcheck disable=SC2086 # the chain: one file name per word
  out=$("$TB" init --dir "$T/$name" --region "$code" --api 127.0.0.1:0 \
    --link "127.0.0.1:$port" --root "$T/P/root.json" --join "127.0.0.1:${!link}" --json) &&
    printf -v "ID_$name" '%s' "$(printf '%s' "$out" | sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')" &&
    "$TB" cert request --dir "$T/$name" --out "$T/$name.req" >/dev/null &&
    "$TB" cert issue --key "$T/r$code.key" --issuer-cert "$T/c$code.json" \
      --request "$T/$name.req" --days 30 --role member --out "$T/$name.cert" >/dev/null &&
    "$TB" cert install --dir "$T/$name" "$T/$name.cert" ${_region_chain[$code]} >/dev/null
}

region_wait() {
  local secs=$1 name=$2 expr=$3
  _region_check() {
    api "$1" GET /v1/catalog
    [ "$code" = 200 ] && [ "$(jq_get "$2")" = True ]
  }
  wait_for "$secs" _region_check "$name" "$expr"
}

# food_case_json NAME [EXTRA]: uploads the three materials of a food-licence
# case (000117001000#01) at NAME (M01 padded with EXTRA random bytes) and
# writes its body, with their hashes, to case.json.
food_case_json() {
  local name=$1 extra=${2:-0} hs=() m
  for m in M01 M03 M04; do
    printf 'material %s, %s\n' "$m" "$(date +%s%N)" >"$m.txt"
    [ "$m" = M01 ] && [ "$extra" -gt 0 ] && head -c "$extra" /dev/urandom >>"$m.txt"
    api "$name" PUT /v1/blobs --data-binary @"$m.txt"
    hs+=("$(jq_get 'd["hash"]')")
  done
  /usr/bin/python3 - "${hs[@]}" >case.json <<'PYEOF'
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
PYEOF
}
