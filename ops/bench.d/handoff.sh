#!/usr/bin/env bash
# Handoff rate (issue 7), run by `ops/bench --handoff`:
# two one-voter regions (370102 -> 370202, sideways peers), N cases
# received at 370102 (wrk), all offered to 370202 over HTTP (wrk, 16
# connections); the rate and the offer-to-transfer latency come from the
# source's records (offered_at and updated_at are the leader's stamps);
# then the time to move one case with a 20 MiB material.
# Usage, from the worktree, with a build without sanitizers:
#   TB_SANITIZER=none ops/build build-rel
#   TB_BUILD=$PWD/build-rel N=2000 bash ops/bench.d/handoff.sh
. tests/lib.sh; . tests/node_lib.sh; . tests/group_lib.sh; . tests/region_lib.sh
cd "$T"; trap _node_cleanup EXIT
N=${N:-1000}
region_node P 370000 && region_node C 370100 P && region_node C2 370200 P &&
  region_node A 370102 C noparent && region_node B 370202 C2 noparent || exit 1
node_start A && node_start B || exit 1
for n in A B; do a="API_$n" t="TOKEN_$n"; "$TB" --api "${!a}" --token "${!t}" group features --set 3 >/dev/null; done
"$TB" --api "$API_A" --token "$TOKEN_A" region add-peer "370202@tcp://127.0.0.1:$LINK_B" >/dev/null
"$TB" --api "$API_B" --token "$TOKEN_B" region add-peer "370102@tcp://127.0.0.1:$LINK_A" >/dev/null
cp "$TB_SRC/ops/examples/catalog-370000.json" rel.json && "$TB" sign --key P/keys/node.json rel.json
for n in A B; do api $n POST /v1/catalog/releases --data-binary @rel.json; done
mk() { food_case_json A "$1"; } # three materials, M01 padded by $1 bytes; case.json
mk 1000
c0=$(now_ms)
cat >create.lua <<LUA
wrk.method = "POST"
wrk.body = io.open("$T/case.json"):read("*a")
wrk.headers["Authorization"] = "Bearer $TOKEN_A"
local n = 0
request = function()
  n = n + 1
  if n > $N then return wrk.format("GET", "/healthz") end
  return wrk.format(nil, "/v1/cases")
end
LUA
wrk -t1 -c16 -d"$((N / 100 + 5))s" -s create.lua "$API_A" >/dev/null
echo "cases created in $(($(now_ms) - c0)) ms"
ids="" after=""
while :; do
  api A GET "/v1/cases?limit=1000$after"
  ids="$ids$(jq_get '"".join(c["id"] + "\n" for c in d["cases"])')"
  nx=$(jq_get 'd.get("next") or ""'); [ -z "$nx" ] && break; after="&after=$nx"
done
ids=$(printf '%s' "$ids" | sed '/^$/d')
n=$(printf '%s\n' "$ids" | wc -l)
count() { curl -s "$API_A/metrics" | sed -n 's/^tongban_handoffs{side="source",state="transferred"} //p'; }
t0=$(now_ms)
printf '%s\n' "$ids" >ids.txt
cat >offer.lua <<LUA
local ids = {}
for l in io.lines("$T/ids.txt") do ids[#ids + 1] = l end
wrk.headers["Authorization"] = "Bearer $TOKEN_A"
local i = 0
request = function()
  i = i + 1
  if i > #ids then return wrk.format("GET", "/healthz") end
  return wrk.format("POST", "/v1/cases/" .. ids[i] .. "/handoff", nil, '{"to":"370202"}')
end
LUA
wrk -t1 -c16 -d"$((N / 200 + 5))s" -s offer.lua "$API_A" >/dev/null &
wp=$!
wait $wp
# Until the count stops moving (wrk calls request() once when a thread
# starts and drops that request, so an id or two is never offered).
last=-1
until [ "$(count)" = "$last" ]; do last=$(count); sleep 1; done
curl -s "$API_A/metrics" | grep '^tongban_handoff' | grep -v ' 0$'
curl -s "$API_B/metrics" | grep '^tongban_handoff' | grep -v ' 0$'
: >recs.json; after=""
while :; do
  api A GET "/v1/handoffs?state=transferred&limit=1000$after"; printf '%s\n' "$body" >>recs.json
  nx=$(jq_get 'd.get("next") or ""'); [ -z "$nx" ] && break; after="&after=$nx"
done
/usr/bin/python3 - recs.json <<'PY'
import json, sys
r = [h for l in open(sys.argv[1]) if l.strip() for h in json.loads(l)["handoffs"]]
lat = sorted(h["updated_at"] - h["offered_at"] for h in r)
span = max(h["updated_at"] for h in r) - min(h["offered_at"] for h in r)
ospan = max(h["offered_at"] for h in r) - min(h["offered_at"] for h in r)
print(f"{len(r)} transferred in {span} ms from the first offer's commit to the last transfer's: "
      f"{len(r) * 1000 // max(span, 1)} handoffs/s; offer-to-transfer latency at the source "
      f"p50 {lat[len(lat) // 2]} ms, p99 {lat[len(lat) * 99 // 100]} ms, max {lat[-1]} ms; "
      f"the offers themselves committed over {ospan} ms")
print(f"handoff\trate\t{len(r) * 1000 // max(span, 1)}\thandoffs/s\t{len(r)} transferred")
print(f"handoff\tp50_ms\t{lat[len(lat) // 2]}\tms")
print(f"handoff\tp99_ms\t{lat[len(lat) * 99 // 100]}\tms")
PY
mk $((20 << 20))
api A POST /v1/cases --data-binary @case.json
id=$(jq_get 'd["case"]["id"]')
t0=$(now_ms)
api A POST "/v1/cases/$id/handoff" -d '{"to":"370202"}'
until api A GET "/v1/handoffs/$id" && [ "$(jq_get 'd["handoffs"][0]["state"]')" = transferred ]; do sleep 0.02; [ $(($(now_ms) - t0)) -gt 60000 ] && break; done
ms=$(($(now_ms) - t0)) st=$(jq_get 'd["handoffs"][0]["state"]')
echo "a case with a 20 MiB material: transferred after $ms ms (state $st)"
[ "$st" = transferred ] && printf 'handoff\tmib20_ms\t%s\tms\n' "$ms"
