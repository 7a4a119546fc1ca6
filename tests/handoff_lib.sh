# Helpers for the handoff tests (sourced after lib.sh, node_lib.sh,
# group_lib.sh and region_lib.sh; nodes A, B, ... made by region_node):
# handoff_case EXTRA   a food-licence case received at A with its three
#                      materials (M01 padded with EXTRA random bytes, e.g. a
#                      600 KiB scan that travels in chunks); prints its id
# hstate NAME CASE EXPR  NAME's records of CASE satisfy EXPR (python over
#                      d = GET /v1/handoffs/CASE)
# On a failure the nodes' log tails are printed (and TB_KEEP honoured).
_handoff_exit() {
  local f
  if [ "$_tap_fail" -gt 0 ]; then
    for f in "$T"/*.log; do
      echo "# the end of $(basename "$f"):"
      tail -n 15 "$f" | cut -c1-300 | sed 's/^/#   /'
    done
    [ -n "${TB_KEEP:-}" ] && cp -r "$T" "$TB_KEEP"
  fi
  _node_cleanup
}
trap _handoff_exit EXIT

handoff_case() {
  local extra=${1:-0} hs=() m
  for m in M01 M03 M04; do
    printf 'material %s of a handoff, %s\n' "$m" "$(date +%s%N)" >"$m.txt"
    [ "$m" = M01 ] && [ "$extra" -gt 0 ] && head -c "$extra" /dev/urandom >>"$m.txt"
    api A PUT /v1/blobs --data-binary @"$m.txt"
    hs+=("$(jq_get 'd["hash"]')")
  done
  $py - "${hs[@]}" >case.json <<'PYEOF'
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
  api A POST /v1/cases --data-binary @case.json
  printf '%s' "$body" | sed -n 's/.*"id":"\(370102-[0-9]*-[0-9]*\)".*/\1/p' | head -1
}

hstate() {
  api "$1" GET "/v1/handoffs/$2"
  [ "$code" = 200 ] && [ "$(jq_get "$3")" = True ]
}
