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
  food_case_json A "${1:-0}"
  api A POST /v1/cases --data-binary @case.json
  printf '%s' "$body" | sed -n 's/.*"id":"\(370102-[0-9]*-[0-9]*\)".*/\1/p' | head -1
}

hstate() {
  api "$1" GET "/v1/handoffs/$2"
  [ "$code" = 200 ] && [ "$(jq_get "$3")" = True ]
}
