#!/usr/bin/env bash
# Tokens against a real 370000 node: what each role may do, region scope
# (a county token does not cover the province), revocation at once, tokens
# across a restart, and expiry (the node's clock moved two days on by an
# LD_PRELOAD shim).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/node_api_lib.sh"
watchdog 120

setup_node t 370000
ok $? "a 370000 node with the standard layer"

# mk VAR ROLE REGION [EXTRA JSON]: a token made by the bootstrap admin;
# sets VAR (the secret) and VAR_ID.
mk() {
  api t POST /v1/tokens -d "{\"role\":\"$2\",\"region\":\"$3\",\"name\":\"$1\"${4:+,$4}}"
  is "$code" 201 "create a $2 token for $3"
  printf -v "$1" '%s' "$(jq_get 'd["token"]')"
  printf -v "$1_ID" '%s' "$(jq_get 'd["id"]')"
  is "$(jq_get 'd["role"]+" "+d["region"]+" "+d["token"][:3]+" "+d["id"][:1]')" \
    "$2 $3 tb_ t" "  the reply has the secret once, the id, role and region"
}
mk CLERK clerk 370000
mk CLERK2 clerk 370000
mk RADMIN region_admin 370000
mk AUD auditor 370000
mk CLERK_C clerk 370102
mk RADMIN_C region_admin 370102
mk CLERK_EXP clerk 370000 '"expires_in_days":1'
api t GET "/v1/audit?limit=1000"
like "$body" "\"object\":\"$AUD_ID\"" "the audit log names the new token ids"
unlike "$body" "$AUD" "  never a secret"

echo "# -- a clerk handles cases and materials, nothing else"
api_as "$CLERK" t POST /v1/cases --data-binary @"$T/food.json"
is "$code" 201 "a clerk submits a case"
CASE=$(jq_get 'd["case"]["id"]')
api t GET "/v1/cases/$CASE"
is "$(jq_get 'd["receiver"]')" "$CLERK_ID" "  received by the clerk's token"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["receiver"]="someone-else"; json.dump(d,open(sys.argv[2],"w"))' \
  "$T/food.json" "$T/food-rcv.json"
api_as "$CLERK" t POST /v1/cases --data-binary @"$T/food-rcv.json"
is "$code" 422 "a body naming another receiver is refused"
like "$body" '"field":"receiver"' "  naming the field"
api t GET "/v1/cases?limit=1000"
is "$(jq_get 'len(d["cases"])')" 1 "  and no case was made"
api_as "$CLERK" t PUT /v1/blobs --data-binary @"$T/m01.txt"
is "$code" 200 "a clerk uploads a material"
export TOKEN_OVERRIDE=$CLERK
refused "clerk publishes a release" 403 forbidden - -- t POST /v1/catalog/releases \
  --data-binary @"$TB_SRC/ops/examples/catalog-370000.json"
refused "clerk publishes an overlay" 403 forbidden - -- t POST /v1/catalog/overlays \
  --data-binary @"$TB_SRC/ops/examples/overlay-370100.json"
refused "clerk creates a token" 403 forbidden - -- t POST /v1/tokens -d '{"role":"clerk"}'
refused "clerk revokes a token" 403 forbidden - -- t DELETE "/v1/tokens/$CLERK2_ID"
refused "clerk reads the audit log" 403 forbidden - -- t GET /v1/audit
refused "clerk voids a case (a region admin's act)" 403 forbidden '$.action' "$CASE" -- \
  t POST "/v1/cases/$CASE/actions" -d '{"action":"void"}'
unset TOKEN_OVERRIDE

echo "# -- a region admin manages its region's tokens, not provincial admins"
export TOKEN_OVERRIDE=$RADMIN
refused "region admin creates a provincial admin" 403 forbidden '$.role' -- \
  t POST /v1/tokens -d '{"role":"provincial_admin"}'
refused "region admin creates a token for another province" 403 forbidden '$.region' -- \
  t POST /v1/tokens -d '{"role":"clerk","region":"440000"}'
refused "region admin publishes the standard layer" 403 forbidden - -- \
  t POST /v1/catalog/releases --data-binary @"$TB_SRC/ops/examples/catalog-370000.json"
refused "region admin revokes the provincial admin" 403 forbidden - -- t DELETE /v1/tokens/admin
refused "region admin reads the audit log" 403 forbidden - -- t GET /v1/audit
unset TOKEN_OVERRIDE
api t GET /v1/status
is "$code" 200 "  the provincial admin's token still works"
api_as "$RADMIN" t POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
is "$code:$(jq_get 'd["region"]')" "201:370102" "region admin creates a clerk for a county below"
api_as "$RADMIN" t POST /v1/tokens -d '{"role":"region_admin"}'
is "$code:$(jq_get 'd["region"]')" "201:370000" "  and a region admin of its own region (the default)"
api_as "$RADMIN" t POST "/v1/cases/$CASE/actions" -H 'If-Match: "1"' -d '{"action":"void","opinion":"录入错误"}'
is "$code:$(jq_get 'd["case"]["state"]')" "201:voided" "region admin voids a case"
api_as "$RADMIN" t DELETE "/v1/tokens/$CLERK_C_ID"
is "$code" 200 "region admin revokes a county clerk's token"

echo "# -- a county token does not cover the province's node"
export TOKEN_OVERRIDE=$RADMIN_C
refused "county admin reads status at the province" 403 forbidden - -- t GET /v1/status
refused "county admin creates a token at the province" 403 forbidden - -- \
  t POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
refused "county admin submits a case at the province" 403 forbidden - -- \
  t POST /v1/cases --data-binary @"$T/food.json"
unset TOKEN_OVERRIDE
api t POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
CLERK_C2=$(jq_get 'd["token"]')
TOKEN_OVERRIDE=$CLERK_C2 refused "county clerk reads a case at the province" 403 forbidden - -- \
  t GET "/v1/cases/$CASE"
like "$body" "region 370102 may not read at 370000" "  the message says why"

echo "# -- an auditor reads, including the audit log, and writes nothing"
api_as "$CLERK2" t GET "/v1/cases/$CASE"
is "$code" 200 "a clerk reads a case (personal data: audited)"
api_as "$AUD" t GET "/v1/audit?limit=5000"
is "$code" 200 "the auditor reads the audit log"
printf '%s' "$body" | $PY -c '
import json, sys
a = json.load(sys.stdin)["audit"]
want = (sys.argv[1], sys.argv[2])
print(any((e["act"], e.get("token"), e["object"]) == ("case.read",) + want for e in a))' \
  "$CLERK2_ID" "$CASE" >"$T/x"
is "$(cat "$T/x")" True "  it shows the clerk's case read, with the token id"
api_as "$AUD" t GET "/v1/cases/$CASE"
is "$code" 200 "the auditor reads a case"
api_as "$AUD" t GET /v1/events
is "$code" 200 "  and the change feed"
export TOKEN_OVERRIDE=$AUD
refused "auditor submits a case" 403 forbidden - -- t POST /v1/cases --data-binary @"$T/food.json"
refused "auditor uploads a material" 403 forbidden - -- t PUT /v1/blobs --data-binary @"$T/m03.txt"
refused "auditor acts on a case" 403 forbidden - "$CASE" -- t POST "/v1/cases/$CASE/actions" -d '{"action":"withdraw"}'
refused "auditor creates a token" 403 forbidden - -- t POST /v1/tokens -d '{"role":"auditor"}'
unset TOKEN_OVERRIDE

echo "# -- revocation takes effect at once"
api_as "$CLERK" t GET /v1/status
is "$code" 200 "the clerk's token works"
api t DELETE "/v1/tokens/$CLERK_ID"
is "$code:$(jq_get '"revoked_at" in d["token"]')" "200:True" "the admin revokes it"
api_as "$CLERK" t GET /v1/status
is "$code:$(jq_get 'd["error"]["code"]')" "401:unauthorized" "  the next request is 401"
TOKEN_OVERRIDE=$CLERK refused "a revoked token submits a case" 401 unauthorized - -- \
  t POST /v1/cases --data-binary @"$T/food.json"
refused "revoking it again" 404 not_found - -- t DELETE "/v1/tokens/$CLERK_ID"
api_as "$CLERK_C" t GET /v1/status
is "$code" 401 "the county clerk revoked by the region admin is 401 too"

echo "# -- a restart keeps tokens and revocations"
node_stop t
is "$stop_rc" 0 "the node stops cleanly"
node_start t
ok $? "and starts again"
for v in CLERK2 RADMIN AUD CLERK_EXP; do
  api_as "${!v}" t GET /v1/status
  is "$code" 200 "  $v still works"
done
api_as "$RADMIN_C" t GET /v1/status
is "$code" 403 "  the county admin is still out of scope"
api_as "$CLERK" t GET /v1/status
is "$code" 401 "  the revoked clerk is still refused"
api t GET /v1/status
is "$code" 200 "  the bootstrap admin still works"

echo "# -- expiry: the node's clock two days on"
node_stop t
if clock_shim; then
  LD_PRELOAD=$T/skew.so TB_TEST_CLOCK_SKEW=$((2 * 86400 + 3600)) node_start t
  ok $? "the node runs with its clock two days on"
  api t GET "/v1/cases/$CASE"
  want=$(date -u -d '+2 days 9 hours' +%F)
  if [ "$(jq_get 'd["today"]')" = "$want" ]; then
    echo "# the shim moved the node's clock (today is $want there)"
    api_as "$CLERK_EXP" t GET /v1/status
    is "$code:$(jq_get 'd["error"]["code"]')" "401:unauthorized" "a token made to expire in a day is refused"
    like "$body" "expired" "  as expired"
    api_as "$CLERK2" t GET /v1/status
    is "$code" 200 "a token without expiry still works"
  else
    echo "# SKIP expiry: the shim did not move the node's clock"
    ok 0 "# SKIP the clock shim did not take effect"
  fi
  node_stop t
  is "$stop_rc" 0 "the node stops cleanly"
else
  echo "# SKIP expiry: cannot build the clock shim: $(head -3 "$T/cc.err")"
  ok 0 "# SKIP no C compiler for the clock shim"
fi
done_testing
