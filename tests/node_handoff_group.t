#!/usr/bin/env bash
# A handoff into a target region of three members: 历下区 (370102, one
# voter) hands a case to 市南区 (370202: B, B2, B3), whose leadership is
# moved off B, the member 370102's link reaches: the frames arrive at a
# follower, which proposes them through the leader; the materials it
# fetches are copied to the other members before the prepare.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
py=/usr/bin/python3
# TB_HANDOFF_LEVEL (schema/command.h): the feature level of handoffs.
HL=$(sed -n 's/^#define TB_HANDOFF_LEVEL \([0-9]*\)$/\1/p' "$TB_SRC/schema/command.h")
group_bound 120 A B B2 B3

region_node P 370000 && region_node C 370100 P && region_node C2 370200 P &&
  region_node A 370102 C noparent && region_node B 370202 C2 noparent
is "$?" 0 "enrol 370102 and 370202's first member"
# B2 and B3: members of 370202 made to join B.
for m in B2 B3; do
  port=$(free_port)
  printf -v "LINK_$m" '%s' "$port"
  out=$("$TB" init --dir "$T/$m" --region 370202 --api 127.0.0.1:0 \
    --link "127.0.0.1:$port" --root "$T/P/root.json" --join "127.0.0.1:$LINK_B" --json) &&
    printf -v "ID_$m" '%s' "$(printf '%s' "$out" | sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')" &&
    "$TB" cert request --dir "$T/$m" --out "$T/$m.req" >/dev/null &&
    "$TB" cert issue --key "$T/r370202.key" --issuer-cert "$T/c370202.json" \
      --request "$T/$m.req" --days 30 --role member --out "$T/$m.cert" >/dev/null &&
    # shellcheck disable=SC2086
    "$TB" cert install --dir "$T/$m" "$T/$m.cert" ${_region_chain[370202]} >/dev/null
  is "$?" 0 "$m made to join 370202's group"
done
node_start A && node_start B
is "$?" 0 "370102 and 370202's first member start"
for n in A B; do
  a="API_$n" t="TOKEN_$n"
  run "$TB" --api "${!a}" --token "${!t}" group features --set "$HL"
  is "$rc" 0 "feature level $HL at $n"
done
run "$TB" --api "$API_A" --token "$TOKEN_A" region add-peer "370202@tcp://127.0.0.1:$LINK_B"
is "$rc" 0 "370102 names 370202 (B's link) as a sideways peer"
run "$TB" --api "$API_B" --token "$TOKEN_B" region add-peer "370102@tcp://127.0.0.1:$LINK_A"
is "$rc" 0 "and 370202 names 370102"
cp "$TB_SRC/ops/examples/catalog-370000.json" rel.json && "$TB" sign --key P/keys/node.json rel.json
for n in A B; do
  api "$n" POST /v1/catalog/releases --data-binary @rel.json
  is "$code" 201 "the standard at $n"
done
TOKEN_A_SAVED=$TOKEN_A
TOKEN_A=$TOKEN_B # add_voter uses TOKEN_A
for m in B2 B3; do
  start_joiner "$m"
  l="LINK_$m" i="ID_$m"
  add_voter "$API_B" "${!i}" "127.0.0.1:${!l}"
  is "$rc" 0 "$m added as a voter"
  printf -v "TOKEN_$m" '%s' "$TOKEN_B"
  wait_for 20 ready "$m"
  is "$?" 0 "$m ready"
done
TOKEN_A=$TOKEN_A_SAVED
run "$TB" --api "$API_B" --token "$TOKEN_B" group transfer "$ID_B2"
is "$rc" 0 "leadership moves from B to B2"
follower() { api B GET /v1/status; [ "$(jq_get 'd["raft"]["state"]')" != leader ]; }
wait_for 10 follower
is "$?" 0 "B is a follower"

# A case with a 600 KiB material, received at 370102 and offered.
hs=()
for m in M01 M03 M04; do
  { printf 'material %s, %s\n' "$m" "$(date +%s%N)"; [ "$m" = M01 ] && head -c 614400 /dev/urandom; } >"$m.bin"
  api A PUT /v1/blobs --data-binary @"$m.bin"
  hs+=("$(jq_get 'd["hash"]')")
done
$py - "${hs[@]}" >case.json <<'PYEOF'
import json, sys
h1, h3, h4 = sys.argv[1:4]
print(json.dumps({"matter": "000117001000#01",
  "applicant": {"name": "张三", "id_type": "resident_id", "id_number": "370102199001011231", "phone": "13912345678"},
  "form": {"applicant_name": "张三", "id_number": "370102199001011231", "phone": "13912345678",
           "operator_name": "历下区张三餐馆", "operating_address": "济南市历下区泉城路1号",
           "main_format": "餐饮服务经营者", "business_items": "热食类食品制售", "food_safety_manager": "李四"},
  "materials": [{"code": "M01", "hash": h1, "size": 1}, {"code": "M03", "hash": h3, "size": 1},
                {"code": "M04", "hash": h4, "size": 1}], "channel": "2"}, ensure_ascii=False))
PYEOF
api A POST /v1/cases --data-binary @case.json
CID=$(jq_get 'd["case"]["id"]')
run "$TB" --api "$API_A" --token "$TOKEN_A" case handoff "$CID" --to 370202 --wait 20
is "$rc" 0 "370102 hands $CID to the three-member 370202 (tongban case handoff --wait)"
owned() { api "$1" GET "/v1/handoffs/$CID"; [ "$(jq_get 'd["handoffs"][0]["state"]')" = owned ]; }
for m in B B2 B3; do
  wait_for 10 owned "$m"
  is "$?" 0 "$m's record: owned"
done
api B3 GET "/v1/cases/$CID"
is "$(jq_get 'd["owner"], d["epoch"], d.get("frozen", False)')" "370202 2 False" \
  "the case at B3: owned by 370202 at epoch 2"
held=0
for m in B B2 B3; do
  for h in "${hs[@]}"; do
    cmp -s "$T/$m/blobs/${h:0:2}/$h" "$(for f in M01 M03 M04; do [ "$(b2sum -l 256 "$f.bin" | cut -c1-64)" = "$h" ] && echo "$f.bin"; done)" && held=$((held + 1))
  done
done
ok "$([ "$held" -ge 6 ]; echo $?)" "the materials are on at least two of the three members ($held of 9 copies)"
_done=1
done_testing
