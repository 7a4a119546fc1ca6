#!/usr/bin/env bash
# Chain tokens (tbc1.) against two real nodes: a province node 370000 and a
# county node 370102 under it, both enrolled with the offline cert flow.
# Client certificates are issued by region keys; `tongban token sign` makes
# tokens; curl presents them. A provincial admin's token works at the
# county for an administrative act (audited with its id and subject), a
# county clerk's only at the county; each refusal is a 401 with a named
# code and field, and changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/node_api_lib.sh"
watchdog 150
cd "$T"

# init_node NAME REGION [ROOT]: a node directory with the API on port 0.
init_node() {
  local out
  out=$("$TB" init --dir "$T/$1" --region "$2" --api 127.0.0.1:0 --link 127.0.0.1:0 \
    ${3:+--root "$3"} --json) || return 1
  printf -v "TOKEN_$1" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
}
init_node P 370000
ok $? "init a province node 370000 (it makes the root)"
init_node C 370102 "$T/P/root.json"
ok $? "init a county node 370102 under the province's root"

# The region keys: 370000 by the root's officer, 370100 by 370000,
# 370102 by 370100.
for r in 370000 370100 370102; do "$TB" keygen --out "r$r.key" >/dev/null; done
"$TB" cert request --region-key r370000.key --region 370000 --out q0.json >/dev/null
"$TB" cert issue --key P/keys/officer.json --root P/root.json --request q0.json \
  --days 365 --out c0.json >/dev/null
"$TB" cert request --region-key r370100.key --region 370100 --out q1.json >/dev/null
"$TB" cert issue --key r370000.key --issuer-cert c0.json --request q1.json \
  --days 365 --out c1.json >/dev/null
"$TB" cert request --region-key r370102.key --region 370102 --out q2.json >/dev/null
run "$TB" cert issue --key r370100.key --issuer-cert c1.json --request q2.json \
  --days 365 --out c2.json
is "$rc" 0 "region certificates 370000 -> 370100 -> 370102"

# Both nodes enrolled the usual way.
"$TB" cert request --dir P --out pq.json >/dev/null
"$TB" cert issue --key r370000.key --issuer-cert c0.json --request pq.json \
  --days 30 --out pn.json >/dev/null
run "$TB" cert install --dir P pn.json c0.json
is "$rc" 0 "the province node installs its certificate"
"$TB" cert request --dir C --out cq.json >/dev/null
"$TB" cert issue --key r370102.key --issuer-cert c2.json --request cq.json \
  --days 30 --out cn.json >/dev/null
run "$TB" cert install --dir C cn.json c2.json c1.json c0.json
is "$rc" 0 "the county node installs its certificate and chain"

# Client certificates, through the same request/issue flow.
client() { # NAME REGION ISSUER_KEY ISSUER_CERT ROLE
  "$TB" keygen --out "$1.key" >/dev/null &&
    "$TB" cert request --client-key "$1.key" --region "$2" --out "$1.req" >/dev/null &&
    "$TB" cert issue --key "$3" --issuer-cert "$4" --request "$1.req" \
      --days 30 --role "$5" --out "$1.cert"
}
out=$(client prov 370000 r370000.key c0.json provincial_admin)
is "$?" 0 "370000's key issues a provincial_admin client certificate"
like "$out" "for the client key of 370000, role provincial_admin" "  summary"
client clerk 370102 r370102.key c2.json clerk >/dev/null
ok $? "370102's key issues a clerk client certificate"
client radm 370102 r370102.key c2.json region_admin >/dev/null
ok $? "370102's key issues a region_admin client certificate"
py=/usr/bin/python3
serial() { $py -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' "$1"; }
PROV_SERIAL=$(serial prov.cert)
CLERK_SERIAL=$(serial clerk.cert)

node_start P && node_start C
ok $? "both nodes run"

echo "# -- signing"
run "$TB" token sign --key prov.key --chain prov.cert --chain c0.json \
  --role provincial_admin --scope 370000 --ttl 8h --id prov-1
is "$rc" 0 "token sign: a provincial admin's token"
PTOK=$out
is "${PTOK:0:5}" "tbc1." "  printed with the tbc1. prefix"
like "$err" "token prov-1: role provincial_admin, scope 370000" "  summary on stderr"
echo '[' >county-chain.json
cat c2.json >>county-chain.json; echo ',' >>county-chain.json
cat c1.json >>county-chain.json; echo ',' >>county-chain.json
cat c0.json >>county-chain.json; echo ']' >>county-chain.json
run "$TB" token sign --key clerk.key --chain clerk.cert --chain county-chain.json \
  --role clerk --scope 370102 --ttl 1h --id clerk-1
is "$rc" 0 "token sign: a county clerk's token (the chain as one array file)"
CTOK=$out
echo "# token sizes: provincial (2 certificates) ${#PTOK} bytes, county clerk (4) ${#CTOK} bytes"
run "$TB" token sign --key clerk.key --chain clerk.cert --chain county-chain.json \
  --role region_admin --scope 370102
is "$rc" 1 "token sign refuses a role above the certificate's"
like "$err" "a client certificate with role clerk cannot grant role region_admin" "  named"
run "$TB" token sign --key clerk.key --chain clerk.cert --chain county-chain.json \
  --role clerk --scope 370000
is "$rc" 1 "token sign refuses a scope above the certificate's region"
like "$err" "scope 370000 is outside the client certificate's region 370102" "  named"
run "$TB" token sign --key prov.key --chain clerk.cert --chain county-chain.json \
  --role clerk --scope 370102
is "$rc" 1 "token sign refuses a key that is not the certificate's"
run "$TB" token sign --key prov.key --chain prov.cert --chain c0.json \
  --role clerk --scope 370000 --ttl 40d
is "$rc" 2 "token sign refuses a ttl over 31 days"

run "$TB" token verify --dir C "$PTOK"
is "$rc" 0 "token verify: the provincial token is valid for the county node"
like "$out" "valid at a node of 370102: token prov-1, role provincial_admin, scope 370000" "  summary"
printf '%s\n' "$CTOK" >ctok.txt
run "$TB" token verify --dir P @ctok.txt
is "$rc:$out" "1:refused: scope_outside_node at \$.scope: a token scoped to 370102 is not valid at this node of 370000" \
  "token verify: the county clerk's token is refused for the province node, named"
run "$TB" token verify --root P/root.json --region 370102 @ctok.txt
is "$rc" 0 "  and valid for any 370102 node with the province's root"

echo "# -- a provincial admin's token at the county node"
api_as "$PTOK" C GET /v1/status
is "$code:$(jq_get 'd["region"]')" "200:370102" "accepted at the 370102 node"
api_as "$PTOK" C POST /v1/tokens -d '{"role":"clerk","region":"370102","name":"by chain"}'
is "$code" 201 "an administrative act at the county: a node-local token created"
LOCAL_ID=$(jq_get 'd["id"]')
api_as "$PTOK" C GET "/v1/audit?limit=1000"
is "$code" 200 "  it reads the county's audit log"
AUDIT_LINE=$(printf '%s' "$body" | $py -c '
import json, sys
for e in json.load(sys.stdin)["audit"]:
    if e.get("act") == "token.create" and e.get("object") == sys.argv[1]:
        print(json.dumps({"token": e.get("token"), "subject": e.get("subject")}, sort_keys=True))' "$LOCAL_ID")
is "$AUDIT_LINE" "{\"subject\": {\"region\": \"370000\", \"serial\": \"$PROV_SERIAL\"}, \"token\": \"prov-1\"}" \
  "  the audit log names the token id and its subject (the client certificate)"
api_as "$PTOK" P GET /v1/status
is "$code:$(jq_get 'd["region"]')" "200:370000" "accepted at the province node"

echo "# -- a county clerk's token"
api_as "$CTOK" C GET /v1/status
is "$code" 200 "accepted at the county node"
api_as "$CTOK" C POST /v1/tokens -d '{"role":"clerk"}'
is "$code:$(err_of)" "403:forbidden -" "  a clerk may not make tokens there (role, 403)"
export TOKEN_OVERRIDE=$CTOK
refused "the county clerk's token at the province" 401 scope_outside_node '$.scope' -- \
  P GET /v1/status
unset TOKEN_OVERRIDE

# Every refusal below is at the county node, with a write that would
# change its state if it were let through.
try() { # DESC CODE FIELD TOKEN
  TOKEN_OVERRIDE=$4 refused "$1" 401 "$2" "$3" -- C POST /v1/tokens \
    -d '{"role":"clerk","region":"370102"}'
}

echo "# -- refusals, each named"
# forge TOKEN KEYFILE PY: decode the payload, apply PY (to d), encode it
# canonically and sign with KEYFILE's seed (an attacker holding a key).
forge() {
  $py - "$1" "$2" "$3" <<'PY'
import base64, json, sys, msgpack
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
tok, keyfile, stmt = sys.argv[1:4]
b64d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
b64e = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
d = msgpack.unpackb(b64d(tok.split(".")[1]), raw=False)
exec(stmt)
def canon(v):
    if isinstance(v, dict):
        return {k: canon(v[k]) for k in sorted(v, key=lambda k: k.encode())}
    if isinstance(v, list):
        return [canon(x) for x in v]
    return v
body = msgpack.packb(canon(d), use_bin_type=True)
k = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(json.load(open(keyfile))["seed"]))
print("tbc1." + b64e(body) + "." + b64e(k.sign(body)))
PY
}
try "no prefix, garbage" malformed Authorization "tbc1.%%%.%%%"
try "garbage base64 payload" malformed Authorization "tbc1.!!!!.AAAA"
BIG="tbc1.$(head -c 7000 /dev/zero | tr '\0' A).x"
try "an oversized header" too_big Authorization "$BIG"
HUGE="tbc1.$(head -c 20000 /dev/zero | tr '\0' A).x"
api_as "$HUGE" C GET /v1/status
is "$code" 000 "a 20 KB header: nng's HTTP server drops the request without a reply"
api C GET /healthz
is "$code" 200 "  and the node serves on"
TRUNC=${CTOK:0:$((${#CTOK} - 10))}
try "a truncated token" malformed Authorization "$TRUNC"
SIG=${CTOK##*.}
FLIP=${SIG:0:1}
[ "$FLIP" = A ] && FLIP=B || FLIP=A
try "a changed signature" bad_signature Authorization "${CTOK%.*}.$FLIP${SIG:1}"
T2=$(forge "$CTOK" clerk.key 'd["role"] = "region_admin"')
try "a clerk's key signing a region_admin token" role_exceeds_certificate '$.role' "$T2"
T2=$(forge "$CTOK" clerk.key 'd["scope"] = "370000"')
try "a county key scoping a token to the province" scope_outside_certificate '$.scope' "$T2"
T2=$(forge "$CTOK" radm.key 'd["role"] = "provincial_admin"; d["chain"][0] = json.load(open("radm.cert"))')
try "a county certificate claiming provincial_admin" role_exceeds_certificate '$.role' "$T2"
T2=$(forge "$CTOK" prov.key 'd["role"] = "provincial_admin"')
try "signed by another key than the certificate's" bad_signature Authorization "$T2"
T2=$(forge "$CTOK" clerk.key 'd["chain"][1]["not_after"] = "2099-01-01T00:00:00Z"')
try "a changed region certificate in the chain" bad_signature '$.chain[1].signatures' "$T2"
T2=$(forge "$CTOK" clerk.key 'del d["chain"][2]')
try "a chain with a gap" unknown_issuer '$.chain[1].issuer' "$T2"
T2=$(forge "$CTOK" clerk.key 'd["admin"] = True')
try "an unknown field in the payload" malformed '$.admin' "$T2"
run "$TB" token sign --key clerk.key --chain clerk.cert --chain county-chain.json \
  --role clerk --scope 370102 --not-before "$(date -u -d '-2 days' +%FT%TZ)" --ttl 1h
try "an expired token" expired '$.exp' "$out"
run "$TB" token sign --key clerk.key --chain clerk.cert --chain county-chain.json \
  --role clerk --scope 370102 --not-before "$(date -u -d '+1 day' +%FT%TZ)" --ttl 1h
try "a token not valid yet" not_yet_valid '$.nbf' "$out"

echo "# -- revocation through the signed lists"
run "$TB" token sign --key prov.key --chain prov.cert --chain c0.json \
  --role provincial_admin --scope 370000 --ttl 1h --id prov-2
PTOK2=$out
api_as "$PTOK2" C GET /v1/status
is "$code" 200 "prov-2 is accepted before it is revoked"
run "$TB" cert revoke --key r370000.key --region 370000 --token prov-2 \
  --reason "laptop lost" --out crl0.json
is "$rc" 0 "cert revoke --token: 370000's key lists token prov-2"
like "$out" "version 1: 0 revoked, 1 tokens revoked" "  summary"
run "$TB" cert show crl0.json
like "$out" "token prov-2 revoked at" "  cert show lists it"
run "$TB" cert install --dir C --crl crl0.json
is "$rc" 0 "the county node installs the list"
sleep 1.2 # the node looks at certs/ at most once a second
try "a revoked token id" revoked '$.id' "$PTOK2"
like "$body" "token prov-2 is revoked by 370000's list version 1" "  named with the list"
run "$TB" token verify --root P/root.json --crl crl0.json --region 370000 "$PTOK2"
is "$rc:$out" "1:refused: revoked at \$.id: token prov-2 is revoked by 370000's list version 1" \
  "token verify with the list: revoked"
api_as "$PTOK" C GET /v1/status
is "$code" 200 "  another token of the same certificate stays valid"
run "$TB" cert revoke --key r370102.key --region 370102 --serial "$CLERK_SERIAL" \
  --out crl2.json
run "$TB" cert install --dir C --crl crl2.json
is "$rc" 0 "370102's key revokes the clerk's client certificate; installed"
sleep 1.2
try "a token of a revoked client certificate" revoked '$.chain[0].serial' "$CTOK"

echo "# -- node-local tokens are unchanged"
api C GET /v1/status
is "$code" 200 "the county's bootstrap token (tb_) still works"
api_as "tb_0000" C GET /v1/status
is "$code:$(err_of)" "401:unauthorized -" "an unknown node-local token: 401 unauthorized"

api C GET /metrics
like "$body" 'tongban_chain_tokens_total{result="ok"}' "/metrics counts chain tokens"
like "$body" 'tongban_chain_tokens_total{result="revoked"} 2' "  and refusals by reason"
like "$(cat "$T/C.log")" "TB-API-TOKEN-REFUSED" "refusals are logged with a stable id"

node_stop C
is "$stop_rc" 0 "the county node stops cleanly"
node_stop P
is "$stop_rc" 0 "the province node stops cleanly"
done_testing
