#!/usr/bin/env bash
# Chain tokens of another province (docs/TRUST.md "Cross-region services")
# against a real 370102 node: 110000's root, region key and client
# certificates are made with the CLI; our root (370000) cross-certifies
# 110000 granting scope 370000 and role service. A 110000 service's token
# reads a case at the 370102 node with curl and is refused (403) for an
# administrative act; a role outside the grant, a cross-certificate
# without grants and a revoked cross-certificate each get a 401 with its
# code and field, and change nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/node_api_lib.sh"
watchdog 150
cd "$T"

# Two roots that are never run: 370000's (P) and 110000's (B).
"$TB" init --dir P --region 370000 --api 127.0.0.1:0 >/dev/null &&
  "$TB" init --dir B --region 110000 --api 127.0.0.1:0 >/dev/null
ok $? "the roots of 370000 and 110000 (each with a 1-of-1 officer)"
out=$("$TB" init --dir C --region 370102 --root P/root.json --api 127.0.0.1:0 \
  --link 127.0.0.1:0 --json)
ok $? "a county node 370102 under 370000's root"
TOKEN_C=$(printf '%s' "$out" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')

# 110000's region key, certified by 110000's officer; its clients.
"$TB" keygen --out rb.key >/dev/null
"$TB" cert request --region-key rb.key --region 110000 --out qb.json >/dev/null
run "$TB" cert issue --key B/keys/officer.json --root B/root.json --request qb.json \
  --days 365 --out cb0.json
is "$rc" 0 "110000's officer certifies 110000's region key"
client() { # NAME ROLE
  "$TB" keygen --out "$1.key" >/dev/null &&
    "$TB" cert request --client-key "$1.key" --region 110000 --out "$1.req" >/dev/null &&
    "$TB" cert issue --key rb.key --issuer-cert cb0.json --request "$1.req" \
      --days 30 --role "$2" --out "$1.cert"
}
out=$(client svc service)
is "$?" 0 "110000's key issues a client certificate with role service"
like "$out" "for the client key of 110000, role service" "  summary"
client aud auditor >/dev/null
ok $? "and one with role auditor"

echo "# -- the cross-certificate with grants"
run "$TB" cert cross --root P/root.json --subject-root B/root.json \
  --key P/keys/officer.json --days 30 --grant-scope 110000 --grant-role service \
  --out bad.json
is "$rc" 1 "cert cross refuses a grant scope outside our province"
like "$err" '$.grants.scope: 110000 is not a region of the issuing root' "  named"
run "$TB" cert cross --root P/root.json --subject-root B/root.json \
  --key P/keys/officer.json --days 30 --grant-scope 370000 \
  --grant-role provincial_admin --out bad.json
is "$rc" 1 "cert cross refuses an administrative role"
like "$err" '$.grants.roles[0]' "  named"
run "$TB" cert cross --root P/root.json --subject-root B/root.json \
  --key P/keys/officer.json --days 30 --grant-scope 370000 --grant-role service \
  --out xcert-110000.json
is "$rc" 0 "our root's officer cross-certifies 110000, granting 370000 and service"
like "$out" "grants    API tokens of 110000 scoped within 370000, roles: service" \
  "  the grants are printed"
run "$TB" cert show xcert-110000.json
like "$out" "roles: service" "cert show prints the grants"
XSERIAL=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' \
  xcert-110000.json)
"$TB" cert cross --root P/root.json --subject-root B/root.json \
  --key P/keys/officer.json --days 30 --out xcert-nogrants.json >/dev/null
variant xcert-110000.json 'd["grants"]["roles"].append("auditor")' wide.json
run "$TB" cert install --dir C --xcert wide.json
is "$rc" 1 "cert install --xcert refuses grants widened after signing"
like "$err" "signed by 0 of the 370000 root's officers" "  named"
run "$TB" cert install --dir C --xcert xcert-110000.json
is "$rc" 0 "cert install --xcert: the node stores the cross-certificate"
like "$out" "installed cross-certificate $XSERIAL for the 110000 root" "  summary"
ok "$([ -f C/local/data.mdb ] && [ ! -e C/certs/xcert-110000.json ]; echo $?)" \
  "  in C/local (node-local LMDB), not as a file in C/certs"

echo "# -- a case at the county node"
node_start C
ok $? "the 370102 node runs"
cp "$TB_SRC/ops/examples/catalog-370000.json" release.json &&
  "$TB" sign --key P/keys/node.json release.json >/dev/null
api C POST /v1/catalog/releases --data-binary @release.json
is "$code" 201 "the standard layer, signed by 370000's release key, is published"
for f in m01 m03 m04 mss; do
  printf 'material %s of a tongban test, %s\n' "$f" "$(date +%s%N)" >"$f.txt"
  api C PUT /v1/blobs --data-binary @"$f.txt"
done
mkbodies "$T" "$(b2 m01.txt)" "$(b2 m03.txt)" "$(b2 m04.txt)" "$(b2 mss.txt)"
api C POST /v1/cases --data-binary @food.json
is "$code" 201 "a food licence case is received at 370102"
CASE=$(jq_get 'd["case"]["id"]')

echo "# -- the 110000 service's token"
run "$TB" token sign --key svc.key --chain svc.cert --chain cb0.json \
  --role service --scope 370000 --ttl 1h --id bj-svc-1
is "$rc" 0 "token sign: a 110000 service's token scoped to 370000"
STOK=$out
run "$TB" token verify --dir C "$STOK"
is "$rc" 0 "token verify: valid at the 370102 node"
like "$out" "valid at a node of 370102: token bj-svc-1, role service, scope 370000" "  summary"
run "$TB" token verify --root P/root.json --xcert xcert-110000.json --region 370102 "$STOK"
is "$rc" 0 "token verify --root --xcert: valid for any 370102 node"
run "$TB" token verify --root P/root.json --region 370102 "$STOK"
is "$rc" 1 "  and without the cross-certificate refused"
like "$out" "refused: unknown_issuer" "  as unknown_issuer"
api_as "$STOK" C GET "/v1/cases/$CASE"
is "$code:$(jq_get 'd["id"]')" "200:$CASE" "it reads the case at the 370102 node (200)"
api_as "$STOK" C GET /v1/cases
is "$code:$(jq_get 'len(d["cases"])')" "200:1" "  and the case list"
api_as "$STOK" C GET /v1/events
is "$code" 200 "  and the events"
api_as "$STOK" C POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
is "$code:$(err_of)" "403:forbidden -" "an administrative act (create a token): 403"
like "$body" "role service may not create tokens" "  named"
api_as "$STOK" C POST "/v1/cases/$CASE/actions" -d '{"action":"accept"}'
is "$code" 403 "acting on the case: 403"
api_as "$STOK" C GET "/v1/audit?limit=10"
is "$code" 403 "reading the audit log: 403"
api_as "$STOK" C GET /v1/catalog
is "$code" 403 "reading the catalog: 403 (a service reads cases only)"
api C GET "/v1/audit?limit=1000"
SUBJ=$(printf '%s' "$body" | /usr/bin/python3 -c '
import json, sys
for e in json.load(sys.stdin)["audit"]:
    if e.get("act") == "case.read" and e.get("token") == "bj-svc-1":
        print(e["subject"]["region"]); break')
is "$SUBJ" 110000 "the audit log names the token and its subject of 110000"

echo "# -- refusals, each a 401 with its code and field"
run "$TB" token sign --key aud.key --chain aud.cert --chain cb0.json \
  --role auditor --scope 370000 --ttl 1h --id bj-aud-1
is "$rc" 0 "token sign: a 110000 auditor's token scoped to 370000"
ATOK=$out
TOKEN_OVERRIDE=$ATOK refused "a role outside the grant" 401 role_outside_grant '$.role' \
  "$CASE" -- C GET "/v1/cases/$CASE"
like "$body" "role auditor is not among the roles cross-certificate $XSERIAL grants" "  named"
run "$TB" token sign --key svc.key --chain svc.cert --chain cb0.json \
  --role provincial_admin --scope 370000
is "$rc" 1 "token sign refuses an administrative role for another province"
like "$err" "never granted to another province's tokens" "  named"

"$TB" cert install --dir C --xcert xcert-nogrants.json >/dev/null
sleep 1.2 # the node looks at certs/ at most once a second
TOKEN_OVERRIDE=$STOK refused "a cross-certificate without grants" 401 scope_outside_grant \
  '$.scope' "$CASE" -- C GET "/v1/cases/$CASE"
like "$body" "no grants.scope" "  named"

run "$TB" cert install --dir C --xcert xcert-110000.json
like "$out" ", replacing " \
  "  installed again, replacing the stored one (read back from C/local)"
sleep 1.2
api_as "$STOK" C GET "/v1/cases/$CASE"
is "$code" 200 "the cross-certificate with grants again: 200"
run "$TB" cert revoke --key P/keys/officer.json --root P/root.json --serial "$XSERIAL" \
  --reason "trust withdrawn" --out crl-root.json
is "$rc" 0 "our root's officer revokes the cross-certificate"
run "$TB" cert install --dir C --crl crl-root.json
is "$rc" 0 "  the list is installed at the node"
sleep 1.2
TOKEN_OVERRIDE=$STOK refused "a revoked cross-certificate" 401 revoked '$.chain[2].serial' \
  "$CASE" -- C GET "/v1/cases/$CASE"
like "$body" "cross-certificate $XSERIAL: revoked by 370000's list version 1" "  named"

api C GET /metrics
like "$body" 'tongban_chain_tokens_total{result="role_outside_grant"} 1' \
  "/metrics counts role_outside_grant"
like "$body" 'tongban_chain_tokens_total{result="scope_outside_grant"} 1' \
  "  and scope_outside_grant"

node_stop C
is "$stop_rc" 0 "the county node stops cleanly"
done_testing
