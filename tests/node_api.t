#!/usr/bin/env bash
# The HTTP API's refusals, endpoint by endpoint, against a real node: each
# bad request gets its status and error code (and field), and changes
# nothing (the status figures and the case are compared before and after;
# a refused command still advances the applied index, so that is left
# out). Then materials, health, readiness and metrics.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/node_api_lib.sh"
watchdog 150

setup_node a 370000
ok $? "a 370000 node with the standard layer and four materials"
api a POST /v1/cases --data-binary @"$T/food.json"
is "$code" 201 "a food licence case is received"
CASE=$(jq_get 'd["case"]["id"]')
A=$API_a

echo "# -- no, bad and malformed tokens (401)"
for h in "" "Authorization: Bearer tb_0000" "Authorization: Basic YTpi" \
  "Authorization: Bearer" "Authorization: bearer $TOKEN_a"; do
  b=$(curl -s -w '\n%{http_code}' ${h:+-H "$h"} "$A/v1/status")
  is "${b##*$'\n'}" 401 "GET /v1/status with '${h:0:30}': 401"
  like "$b" '"code":"unauthorized"' "  as unauthorized"
done
before=$(fp a "$CASE")
b=$(curl -s -w '\n%{http_code}' -X POST --data-binary @"$T/food.json" "$A/v1/cases")
is "${b##*$'\n'}" 401 "POST /v1/cases without a token: 401"
b=$(curl -s -w '\n%{http_code}' -X POST -H 'Authorization: Bearer tb_x' \
  -d '{"action":"accept"}' "$A/v1/cases/$CASE/actions")
is "${b##*$'\n'}" 401 "an action with an unknown token: 401"
is "$(fp a "$CASE")" "$before" "the refused writes changed nothing"

echo "# -- unknown endpoints (404) and wrong methods (405)"
refused "GET /v1/nothing" 404 not_found - -- a GET /v1/nothing
refused "POST /v1/nothing" 404 not_found - -- a POST /v1/nothing -d '{}'
refused "POST /v1/nothing without a body" 404 not_found - -- a POST /v1/nothing
refused "GET /v2/status" 404 not_found - -- a GET /v2/status
refused "GET /" 404 not_found - -- a GET /
refused "GET /v1/cases/ID/extra" 404 not_found - -- a GET "/v1/cases/$CASE/extra"
refused "DELETE /v1/tokens/ (no id)" 404 not_found - -- a DELETE /v1/tokens/
refused "POST /v1/status" 405 method_not_allowed - -- a POST /v1/status -d '{}'
refused "DELETE /v1/tokens" 405 method_not_allowed - -- a DELETE /v1/tokens
refused "PUT /v1/tokens" 405 method_not_allowed - -- a PUT /v1/tokens -d '{}'
refused "POST /v1/tokens/ID" 405 method_not_allowed - -- a POST /v1/tokens/admin -d '{}'
refused "PUT /v1/cases" 405 method_not_allowed - -- a PUT /v1/cases --data-binary @"$T/food.json"
refused "PATCH /v1/cases" 405 method_not_allowed - -- a PATCH /v1/cases -d '{}'
refused "DELETE /v1/cases/ID" 405 method_not_allowed - "$CASE" -- a DELETE "/v1/cases/$CASE"
refused "GET /v1/cases/ID/actions" 405 method_not_allowed - -- a GET "/v1/cases/$CASE/actions"
refused "PUT /v1/cases/ID/actions" 405 method_not_allowed - "$CASE" -- \
  a PUT "/v1/cases/$CASE/actions" -d '{"action":"accept"}'
refused "POST /v1/blobs" 405 method_not_allowed - -- a POST /v1/blobs -d x
refused "GET /v1/blobs" 405 method_not_allowed - -- a GET /v1/blobs
refused "GET /v1/catalog/releases" 405 method_not_allowed - -- a GET /v1/catalog/releases
refused "POST /v1/catalog/matters" 405 method_not_allowed - -- a POST /v1/catalog/matters -d '{}'
refused "POST /v1/events" 405 method_not_allowed - -- a POST /v1/events -d '{}'
b=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $TOKEN_a" \
  -d '{}' "$A/v1/status" | tr -d '\r')
like "$b" "Allow: GET, HEAD" "a 405 names the allowed methods (Allow)"
b=$(curl -s -I -H "Authorization: Bearer $TOKEN_a" "$A/v1/status" | head -1)
like "$b" " 200" "HEAD /v1/status: 200"

echo "# -- POST /v1/cases: bodies that are not a JSON object (400)"
refused "malformed JSON" 400 malformed - -- a POST /v1/cases -d '{"matter":'
refused "a JSON array" 400 malformed '$' -- a POST /v1/cases -d '[{"matter":"x"}]'
refused "a JSON string" 400 malformed - -- a POST /v1/cases -d '"case"'
refused "an empty body" 400 malformed - -- a POST /v1/cases
refused "duplicate keys" 400 malformed - -- a POST /v1/cases \
  -d '{"channel":"1","channel":"2"}'
refused "a NUL in a string" 400 malformed - -- a POST /v1/cases -d '{"channel":"\u0000"}'
head -c $((16 << 20)) /dev/zero | tr '\0' ' ' >"$T/big.json"
printf '{}' >>"$T/big.json"
refused "a body over 16 MiB" 413 too_big - -- a POST /v1/cases --data-binary @"$T/big.json"

echo "# -- POST /v1/cases: valid JSON, invalid content (422, 404)"
v() { variant "$T/food.json" "$1" "$T/v.json"; }
v 'd["applicant"] = "张三"'
refused "applicant not an object" 422 wrong_type '$.applicant' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["channel"] = 2'
refused "channel a number" 422 wrong_type '$.channel' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["materials"] = {}'
refused "materials an object" 422 wrong_type '$.materials' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["materials"][0]["size"] = 1.5'
refused "a float size" 422 wrong_type '$.materials[0].size' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["colour"] = "red"'
refused "an unknown field" 422 unknown_field '$.colour' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["form"]["colour"] = "red"'
refused "an unknown form field" 422 unknown_field '$.form.colour' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'del d["form"]["operator_name"]'
refused "a required form field missing" 422 missing '$.form.operator_name' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'del d["channel"]'
refused "no channel" 422 missing '$.channel' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'del d["matter"]'
refused "neither matter nor bundle" 422 missing '$.matter' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["matter"] = "000000000000"'
refused "an unknown matter code" 404 not_found '$.matter' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["bundle"] = "370000YJS999"; del d["matter"]'
refused "an unknown bundle code" 404 not_found '$.bundle' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["form"]["id_number"] = "370102199001011232"'
refused "an id number with a bad check digit" 422 bad_code '$.form.id_number' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["form"]["main_format"] = "夜市"'
refused "an enum value not an option" 422 out_of_range '$.form.main_format' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["channel"] = "4"'
refused "a channel the matter lacks" 422 out_of_range '$.channel' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["materials"].pop(1)'
refused "a required material missing" 422 missing '$.materials' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["materials"][1]["hash"] = "ab" * 32'
refused "a material not uploaded" 422 not_found '$.materials[1].hash' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["materials"][0]["hash"] = "AB" * 32'
refused "a material hash not lowercase hex" 422 bad_code '$.materials[0].hash' -- a POST /v1/cases --data-binary @"$T/v.json"
variant "$T/birth.json" 'd["form"]["insured_region"] = "379999"' "$T/v.json"
refused "a bundle form with an unknown region code" 422 bad_code '$.form.insured_region' -- a POST /v1/cases --data-binary @"$T/v.json"
variant "$T/birth.json" 'del d["form"]["hukou_holder_name"]' "$T/v.json"
refused "a bundle without a required shared field" 422 missing '$.form.hukou_holder_name' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["matter"] = "00011700100#01"'
refused "a matter code of 11 digits" 404 not_found '$.matter' -- a POST /v1/cases --data-binary @"$T/v.json"
v 'd["applicant"]["id_number"] = "37010219900101123"'
refused "an applicant id number of 17 characters" 422 bad_code '$.applicant.id_number' -- a POST /v1/cases --data-binary @"$T/v.json"
refused "an Idempotency-Key over 128 characters" 400 invalid Idempotency-Key -- a POST /v1/cases \
  -H "Idempotency-Key: $(printf 'k%.0s' $(seq 129))" --data-binary @"$T/food.json"

api a POST /v1/cases --data-binary @"$T/food.json"
is "$code:$(jq_get 'd["case"]["id"]')" "201:${CASE%000001}000002" \
  "after all these refusals the next case takes the next serial"

echo "# -- POST /v1/cases/ID/actions"
P=/v1/cases/$CASE/actions
refused "action: malformed JSON" 400 malformed - "$CASE" -- a POST "$P" -d '{"action"'
refused "action: a JSON array" 400 malformed '$' "$CASE" -- a POST "$P" -d '["accept"]'
refused "action: an empty body" 400 malformed - "$CASE" -- a POST "$P"
refused "action: duplicate keys" 400 malformed - "$CASE" -- a POST "$P" -d '{"action":"accept","action":"void"}'
refused "action: a number" 422 wrong_type '$.action' "$CASE" -- a POST "$P" -d '{"action":4}'
refused "action: missing" 422 missing '$.action' "$CASE" -- a POST "$P" -d '{"opinion":"ok"}'
refused "action: not an action" 422 bad_code '$.action' "$CASE" -- a POST "$P" -d '{"action":"teleport"}'
refused "action: an unknown field" 422 unknown_field '$.colour' "$CASE" -- a POST "$P" -d '{"action":"accept","colour":1}'
refused "action: an opinion that is a number" 422 wrong_type '$.opinion' "$CASE" -- a POST "$P" -d '{"action":"accept","opinion":7}'
refused "action: a version in the body" 422 unknown_field '$.version' "$CASE" -- a POST "$P" -d '{"action":"accept","version":1}'
refused "action: an actor in the body" 422 unknown_field '$.actor' "$CASE" -- a POST "$P" -d '{"action":"accept","actor":"mallory"}'
refused "action: approve when received" 409 illegal_transition '$.action' "$CASE" -- a POST "$P" -d '{"action":"approve"}'
refused "action: a target for accept" 422 invalid '$.target' "$CASE" -- a POST "$P" -d '{"action":"accept","target":"handling"}'
refused "action: pause_until with accept" 422 invalid '$.pause_until' "$CASE" -- a POST "$P" -d '{"action":"accept","pause_until":"2026-12-01"}'
refused "action: a malformed pause_until" 400 malformed '$.pause_until' "$CASE" -- a POST "$P" -d '{"action":"suspend","pause_until":"2026-13-45"}'
refused "action: If-Match newer than the case" 409 stale_version If-Match "$CASE" -- a POST "$P" -H 'If-Match: "7"' -d '{"action":"accept"}'
for im in 'abc' '""' 'W/"1"' '"1' '-1' '"1" "2"'; do
  refused "action: If-Match $im" 400 malformed If-Match "$CASE" -- a POST "$P" -H "If-Match: $im" -d '{"action":"accept"}'
done
refused "action: an unknown case" 404 not_found - -- a POST /v1/cases/370000-20260101-999999/actions -d '{"action":"accept"}'
refused "action: an unknown case with If-Match" 404 not_found - -- a POST /v1/cases/nope/actions -H 'If-Match: "1"' -d '{"action":"accept"}'
api a POST "$P" -H 'If-Match: "1"' -d '{"action":"accept","opinion":"材料齐全"}'
is "$code" 201 "accept with If-Match \"1\""
refused "action: a stale If-Match" 409 stale_version If-Match "$CASE" -- a POST "$P" -H 'If-Match: "1"' -d '{"action":"start_handling"}'
like "$body" "case version is 2, not 1" "  the message names both versions"
refused "action: send_back from accepted" 409 illegal_transition '$.action' "$CASE" -- a POST "$P" -d '{"action":"send_back","target":"received"}'
api a POST "$P" -H 'If-Match: "2"' -d '{"action":"start_handling"}'
is "$code" 201 "start_handling"
refused "action: send_back without a target" 422 missing '$.target' "$CASE" -- a POST "$P" -d '{"action":"send_back"}'
refused "action: send_back to a non-state" 422 bad_code '$.target' "$CASE" -- a POST "$P" -d '{"action":"send_back","target":"limbo"}'
refused "action: send_back before acceptance" 409 illegal_transition '$.action' "$CASE" -- a POST "$P" -d '{"action":"send_back","target":"received"}'

echo "# -- reads: unknown objects and bad query parameters"
refused "an unknown case" 404 not_found - -- a GET /v1/cases/370000-20260101-999999
refused "an unknown matter" 404 not_found - -- a GET /v1/catalog/matters/000000000000
refused "cases?limit=0" 400 out_of_range limit -- a GET '/v1/cases?limit=0'
refused "cases?limit=1001" 400 out_of_range limit -- a GET '/v1/cases?limit=1001'
refused "cases?limit=ten" 400 out_of_range limit -- a GET '/v1/cases?limit=ten'
refused "cases?after=abc" 400 invalid after -- a GET '/v1/cases?after=abc'
refused "cases?status=dancing" 400 invalid status -- a GET '/v1/cases?status=dancing'
refused "cases?overdue=maybe" 400 invalid overdue -- a GET '/v1/cases?overdue=maybe'
refused "cases?status=%zz" 400 invalid status -- a GET '/v1/cases?status=%zz'
refused "cases?matter= too long" 400 invalid matter -- a GET "/v1/cases?matter=$(printf '0%.0s' $(seq 200))"
refused "a query of 1100 bytes" 414 too_big - -- a GET "/v1/cases?status=$(printf 'a%.0s' $(seq 1093))"
refused "events?after=abc" 400 invalid after -- a GET '/v1/events?after=abc'
refused "events?after=-1" 400 invalid after -- a GET '/v1/events?after=-1'
refused "events?limit=0" 400 out_of_range limit -- a GET '/v1/events?limit=0'
refused "audit?limit=0" 400 out_of_range limit -- a GET '/v1/audit?limit=0'
refused "audit?limit=5x" 400 out_of_range limit -- a GET '/v1/audit?limit=5x'
refused "a blob by a short hash" 400 bad_code hash -- a GET /v1/blobs/abc
refused "a blob by an upper-case hash" 400 bad_code hash -- a GET "/v1/blobs/${H1^^}"
refused "a blob by a path (../../keys)" 404 not_found - -- a GET "/v1/blobs/..%2F..%2Fkeys"
refused "a blob never uploaded" 404 not_found - -- a GET "/v1/blobs/$(printf 'cd%.0s' $(seq 32))"
api a GET '/v1/cases?status=handling&limit=1'
is "$code:$(jq_get 'len(d["cases"])')" "200:1" "a good query still works"

echo "# -- catalog writes"
C=$TB_SRC/ops/examples/catalog-370000.json
refused "release: version 1 again" 409 bad_chain '$.version' -- a POST /v1/catalog/releases --data-binary @"$C"
variant "$C" 'd["region"] = "440000"' "$T/v.json"
refused "release: another province" 422 bad_code '$.region' -- a POST /v1/catalog/releases --data-binary @"$T/v.json"
api a GET /v1/catalog
variant "$C" "d['version'] = 3; d['snapshot'] = False; d['prev_hash'] = '$(jq_get 'd["standard"]["hash"]')'" "$T/v.json"
refused "release: a gap" 409 bad_chain '$.version' -- a POST /v1/catalog/releases --data-binary @"$T/v.json"
refused "release: a JSON array" 400 malformed '$' -- a POST /v1/catalog/releases -d '[]'
refused "release: an empty object" 422 missing '$.format' -- a POST /v1/catalog/releases -d '{}'
refused "overlay: a region not above the node" 422 bad_code '$.region' -- \
  a POST /v1/catalog/overlays --data-binary @"$TB_SRC/ops/examples/overlay-370100.json"
refused "overlay: malformed JSON" 400 malformed - -- a POST /v1/catalog/overlays -d '{'

echo "# -- tokens"
refused "token: an unknown role" 422 bad_code '$.role' -- a POST /v1/tokens -d '{"role":"god"}'
refused "token: a role that is a number" 422 wrong_type '$.role' -- a POST /v1/tokens -d '{"role":1}'
refused "token: no role" 422 missing '$.role' -- a POST /v1/tokens -d '{"name":"x"}'
refused "token: an unknown region" 422 bad_code '$.region' -- a POST /v1/tokens -d '{"role":"clerk","region":"379999"}'
refused "token: a region out of scope" 403 forbidden '$.region' -- a POST /v1/tokens -d '{"role":"clerk","region":"440000"}'
refused "token: a negative lifetime" 422 out_of_range '$.expires_in_days' -- a POST /v1/tokens -d '{"role":"clerk","expires_in_days":-1}'
refused "token: an unknown field" 422 unknown_field '$.scope' -- a POST /v1/tokens -d '{"role":"clerk","scope":"all"}'
refused "token: a JSON array" 400 malformed '$' -- a POST /v1/tokens -d '["clerk"]'
refused "revoke: an unknown token" 404 not_found - -- a DELETE /v1/tokens/t000000000000

echo "# -- materials"
head -c 300000 /dev/urandom >"$T/scan.bin"
printf '\0\0\377binary\0' >>"$T/scan.bin"
H=$(b2 "$T/scan.bin")
api a PUT /v1/blobs --data-binary @"$T/scan.bin"
is "$code" 201 "PUT /v1/blobs: 201"
is "$(jq_get 'd["hash"]')" "$H" "the hash is BLAKE2b-256 (as Python's hashlib computes it)"
is "$(jq_get 'd["size"]')" 300010 "and the size"
api a PUT /v1/blobs --data-binary @"$T/scan.bin"
is "$code:$(jq_get 'd["hash"]')" "200:$H" "uploading it again: 200, the same hash"
curl -s -H "Authorization: Bearer $TOKEN_a" -o "$T/back.bin" "$A/v1/blobs/$H"
ok "$(cmp -s "$T/scan.bin" "$T/back.bin"; echo $?)" "GET returns the same bytes"
# The node remembers materials it found (node/blob.c); an upload still
# looks at the disk, so it writes a file removed by hand again.
rm "$T/a/blobs/${H:0:2}/$H"
api a PUT /v1/blobs --data-binary @"$T/scan.bin"
is "$code:$(jq_get 'd.get("existed")')" "201:None" "a material whose file was removed by hand is written again (201)"
ok "$(cmp -s "$T/scan.bin" "$T/a/blobs/${H:0:2}/$H"; echo $?)" "  with its bytes"
refused "an empty material" 400 malformed - -- a PUT /v1/blobs
head -c $(((32 << 20) + 1)) /dev/zero >"$T/big.bin"
refused "a material over blob_max (32 MiB)" 413 too_big - -- a PUT /v1/blobs --data-binary @"$T/big.bin"
api a GET "/v1/blobs/$(b2 "$T/big.bin")"
is "$code" 404 "  and it was not stored"
head -c $((65 << 20)) /dev/zero >"$T/huge.bin"
before=$(fp a)
api a PUT /v1/blobs --data-binary @"$T/huge.bin"
# nng refuses bodies over its collection limit (64 MiB) itself, with 400.
case $code in 4??) ok 0 "a body over 64 MiB is refused ($code, by nng)" ;;
  *) ok 1 "a body over 64 MiB is refused (got $code)" ;; esac
is "$(fp a)" "$before" "  nothing changed"
rm -f "$T/big.bin" "$T/huge.bin" "$T/big.json"

echo "# -- health, readiness, metrics"
b=$(curl -s -w '%{http_code}' "$A/healthz")
is "$b" '{"status":"ok"}'$'\n''200' "/healthz: 200 without a token"
b=$(curl -s -w '%{http_code}' "$A/readyz")
is "$b" '{"status":"ok"}'$'\n''200' "/readyz: 200 once the node leads"
b=$(curl -s -w ' %{http_code}' -X POST "$A/healthz")
like "$b" " 404" "POST /healthz is not an endpoint"
api a GET /v1/status
applied=$(jq_get 'd["applied_index"]')
handling=$(jq_get 'd["cases"]["by_state"]["handling"]')
m=$(curl -s "$A/metrics")
like "$m" 'tongban_http_requests_total{route="case_write",code="4xx"}' "metrics: requests by route and class"
like "$m" 'tongban_http_requests_total{route="read",code="2xx"}' "  reads too"
like "$m" 'tongban_http_request_seconds_bucket{route="blob",le="+Inf"}' "  latency histograms"
like "$m" "tongban_raft_applied_index $applied" "  the applied index, as /v1/status says"
like "$m" 'tongban_raft_leader 1' "  the node leads"
like "$m" "tongban_cases{state=\"handling\"} $handling" "  cases by state"
refusals=$(printf '%s\n' "$m" | sed -n 's/^tongban_refusals_total //p')
ok "$([ "${refusals:-0}" -gt 20 ]; echo $?)" "  refusals counted ($refusals)"
redos=$(printf '%s\n' "$m" | sed -n 's/^tongban_apply_redos_total //p')
ok "$([ "${redos:-0}" -ge 1 ] && [ "$redos" -le "$refusals" ]; echo $?)" \
  "  batches applied again after a refusal in direct mode ($redos, at most one per refusal)"

node_stop a
is "$stop_rc" 0 "the node stops cleanly on SIGTERM (no sanitizer report)"
done_testing
