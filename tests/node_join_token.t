#!/usr/bin/env bash
# Enrolment with a one-time join token over the first link (docs/TRUST.md,
# "Enrolment with a join token"), real processes on loopback: a province
# node that holds its region key online issues a child token; a city node
# made with `init --join-token` gets its region certificate over the link,
# signs its own node certificate with the new region key and links up with
# the province. The same token again, an expired one, a wrong secret, a
# tampered string, a forged issuer key and a token for another region or
# role are refused with their reasons, and a refusal changes nothing (the
# token still works afterwards). Then the city issues a member token and a
# second and a third city node join its group with `init --join ADDR
# --join-token T` (the third at a follower: both commands forwarded).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
py=/usr/bin/python3
cd "$T"

trap _join_cleanup EXIT
_join_cleanup() {
  local f
  if [ "$_tap_fail" -gt 0 ]; then
    for f in "$T"/P.log "$T"/C.log "$T"/M.log "$T"/N.log; do
      [ -f "$f" ] || continue
      echo "# the end of $(basename "$f"):"
      tail -n 30 "$f" | cut -c1-400 | sed 's/^/#   /'
    done
  fi
  _node_cleanup
}

init_node() {
  local name=$1 region=$2 out
  shift 2
  out=$("$TB" init --dir "$T/$name" --region "$region" --api 127.0.0.1:0 \
    --json "$@") || return 1
  printf -v "TOKEN_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
  printf -v "ID_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')"
}
link_of() { sed -n 's/.*"link":"tcp:\/\/\([^"]*\)".*/\1/p' "$T/$1.out"; }
# peer_state NAME NODE_ID: "up" if NAME has an up link with NODE_ID.
peer_state() {
  api "$1" GET /v1/links
  printf '%s' "$body" | $py -c '
import json, sys
d = json.load(sys.stdin)
s = [l for l in d["links"] if l["peer_node_id"] == sys.argv[1]]
print("up" if any(l["state"] == "up" for l in s) else "none")' "$2"
}
is_up() { [ "$(peer_state "$1" "$2")" = up ]; }
logged() { grep "\"id\":\"$2\"" "$T/$1.log" | grep -qF -- "$3"; }
# stored DIR I: the I-th certificate (0: the node's) of DIR's chain as
# `tongban cert show --json` reads it from DIR/local (LMDB), as JSON.
stored() {
  "$TB" cert show --dir "$1" --json |
    $py -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["chain"][int(sys.argv[1])]["document"]))' "$2"
}
# forge TOKEN WHAT: rewrites a field of a tbj1 string and its check
# (what a forger can do: the check is not a signature).
forge() {
  $py - "$1" "$2" <<'PY'
import base64, hashlib, sys
tok, what = sys.argv[1], sys.argv[2]
b = bytearray(base64.urlsafe_b64decode(tok[5:] + "=" * (-len(tok[5:]) % 4)))
if what == "secret": b[16] ^= 1
if what == "kx": b[56] ^= 1
if what == "region": b[2:8] = b"370200"
if what == "role": b[1] = 1
body = bytes(b[:-4])
b = body + hashlib.blake2b(body, digest_size=32).digest()[:4]
print("tbj1." + base64.urlsafe_b64encode(b).decode().rstrip("="))
PY
}

# ---- the province: root, region key, a node that holds the key online ----
init_node P 370000 --link 127.0.0.1:0
"$TB" keygen --out r0.key >/dev/null
"$TB" cert request --region-key r0.key --region 370000 --out q0.json >/dev/null
"$TB" cert issue --key P/keys/officer.json --root P/root.json --request q0.json \
  --days 365 --out c0.json >/dev/null
"$TB" cert request --dir P --out p.req >/dev/null
"$TB" cert issue --key r0.key --issuer-cert c0.json --request p.req --days 30 \
  --out p.json >/dev/null
run "$TB" cert install --dir P p.json c0.json
is "$rc" 0 "the province node installs its certificate"
run "$TB" cert install --dir P --region-key q0.json
is "$rc" 1 "a file that is not a key is refused as the region key"
"$TB" keygen --out other.key >/dev/null
run "$TB" cert install --dir P --region-key other.key
is "$rc" 1 "another key than the region certificate's is refused"
like "$err" "not the key of the node's region certificate" "  with the reason"
run "$TB" cert install --dir P --region-key r0.key
is "$rc" 0 "the province node takes its region key online"
is "$(stat -c %a P/keys/region.json)" 600 "  kept owner-only"
node_start P
is "$?" 0 "the province node runs"
LP=$(link_of P)

run "$TB" --api "$API_P" --token "$TOKEN_P" cert join-token --region 370100 --role child
is "$rc" 1 "before the group's feature level 2 no join token is made"
like "$err" "feature_level" "  (409 feature_level)"
run "$TB" --api "$API_P" --token "$TOKEN_P" group features --set 2
is "$rc" 0 "the group's feature level is raised to 2"

# ---- issuing: what a token may grant --------------------------------------
run "$TB" --api "$API_P" --token "$TOKEN_P" cert join-token --region 370100 --role admin
like "$err" "role is member, peer or child" "a role other than member, peer or child is refused"
run "$TB" --api "$API_P" --token "$TOKEN_P" cert join-token --region 370100 --role member
like "$err" "403 forbidden" "the province key cannot make a member of the city"
run "$TB" --api "$API_P" --token "$TOKEN_P" cert join-token --region 370102 --role child
like "$err" "certifies only the region keys of its children" "nor a county's key (a grandchild)"
api P POST /v1/join-tokens -d '{"region":"370100","role":"child","ttl_s":999999}'
is "$code" 422 "a ttl over 7 days is refused"
like "$body" '"field":"$.ttl_s"' "  naming the field"
api P POST /v1/join-tokens -d '{"region":"370100","role":"child","address":"nohost"}'
is "$code" 422 "an address without a port is refused"
like "$body" '"field":"$.address"' "  naming the field"
like "$body" 'HOST:PORT' "  saying what it should be"
run "$TB" --api "$API_P" --token "$TOKEN_P" cert join-token --region 370100 --role child --address 10.9.9.9:7401
is "$($py -c '
import base64, sys
t = sys.argv[1][5:]; b = base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
print(b[97:97 + b[96]].decode())' "$out")" 10.9.9.9:7401 \
  "--address names where the new node dials (a node behind NAT or on 0.0.0.0)"
api P POST /v1/tokens -d '{"role":"clerk","region":"370000"}'
CLERK=$(jq_get 'd["token"]')
TOKEN_OVERRIDE=$CLERK api P POST /v1/join-tokens -d '{"region":"370100","role":"child"}'
is "$code" 403 "a clerk may not make join tokens"

run "$TB" --api "$API_P" --token "$TOKEN_P" cert join-token --region 370100 --role child --ttl 10m
is "$rc" 0 "a child token for the city 370100"
TOK=$out
like "$TOK" "tbj1." "  printed alone on stdout"
like "$err" "only its hash is stored" "  the summary on stderr"
TOKID=$(printf '%s' "$err" | sed -n 's/^join token \([0-9a-f]*\):.*/\1/p')
ok "$(grep -rqF -- "${TOK#tbj1.}" P/state P/raft 2>/dev/null; echo $((1 - $?)))" \
  "the token string is nowhere in the province's store or log"

# ---- refusals that change nothing ------------------------------------------
# One character changed (never to itself: a token with an "x" there would
# pass untampered, once in 64 runs, and the join would use it up).
c40=x; [ "${TOK:40:1}" = x ] && c40=y
run "$TB" init --dir "$T/X1" --region 370100 --join-token "${TOK:0:40}$c40${TOK:41}"
is "$rc" 1 "a tampered token string is refused"
like "$err" "tampered with or mistyped" "  by its check, before anything is dialed"
ok "$([ ! -e X1 ]; echo $?)" "  and no directory is made"
run "$TB" init --dir "$T/X2" --region 370200 --join-token "$TOK"
is "$rc" 1 "  (exit 1)"
like "$err" "the token is for region 370100, not 370200" "a token for another region is refused locally"
WRONG=$(forge "$TOK" secret)
run "$TB" init --dir "$T/X3" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$WRONG"
is "$rc" 1 "a wrong secret (check recomputed) is refused by the issuer"
like "$err" "a wrong token: its secret does not match (bad_signature at \$.secret)" "  with the reason and field"
ok "$(logged P TB-JOIN-REFUSED "its secret does not match"; echo $?)" "  logged TB-JOIN-REFUSED at the issuer"
ok "$([ ! -e X3 ]; echo $?)" "  and the new node's directory is not made (the exchange comes first)"
FORGED=$(forge "$TOK" region)
run "$TB" init --dir "$T/X4" --region 370200 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$FORGED"
is "$rc" 1 "  (exit 1)"
like "$err" "the token is for region 370100, the node asks for 370200" "a token rewritten for another region is refused by the issuer"
FORGED=$(forge "$TOK" role)
run "$TB" init --dir "$T/X5" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$FORGED"
is "$rc" 1 "  (exit 1)"
like "$err" "grants role child, the node asks for member" "a token rewritten for another role is refused"
nref=$(grep -c TB-JOIN-REFUSED P.log)
FORGED=$(forge "$TOK" kx)
run "$TB" init --dir "$T/X6" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$FORGED"
is "$rc" 1 "  (exit 1)"
like "$err" "is not the token's issuer" "an issuer whose key is not the pinned one is refused by the new node"
like "$err" "nothing was sent" "  before the request (and secret) is sent"
is "$(grep -c TB-JOIN-REFUSED P.log)" "$nref" "  the issuer never saw a request"

# ---- the enrolment -----------------------------------------------------------
t0=$(now_ms)
run "$TB" init --dir "$T/C" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --json --join-token "$TOK"
is "$rc" 0 "the city node enrols with the child token (after the refusals)"
echo "# init --join-token took $(($(now_ms) - t0)) ms"
is "$(printf '%s' "$out" | $py -c 'import json,sys; print(sorted(json.load(sys.stdin)))')" \
  "['admin_token', 'dir', 'node_id', 'region']" "  --json prints one JSON object (the city's own group)"
like "$err" "enrolled over the link to" "  and says on stderr what it installed"
TOKEN_C=$(printf '%s' "$out" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')
ID_C=$(printf '%s' "$out" | sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')
ok "$(logged P TB-JOIN-ENROLLED "node $ID_C enrolled as child of 370100"; echo $?)" \
  "  logged TB-JOIN-ENROLLED at the province"
run "$TB" cert verify --dir C
is "$rc" 0 "  its chain verifies against the province's root it received"
kind2=$(stored C 1 | $py -c 'import json,sys; c=json.load(sys.stdin); print(c["kind"], c["region"], c["issuer"]["region"])')
kind2="$kind2 $("$TB" cert show --dir C --json | $py -c 'import json,sys; print(len(json.load(sys.stdin)["chain"]) - 1)')"
is "$kind2" "region 370100 370000 2" "  its chain: the new 370100 region certificate (by the province), then the province's"
is "$(stored C 0 | $py -c 'import json,sys; c=json.load(sys.stdin); print(c["role"], c["region"], c["issuer"]["region"])')" \
  "member 370100 370100" "  its node certificate is signed by its own new region key"
is "$(stat -c %a C/keys/region.json)" 600 "  which it keeps online, owner-only"
ok "$(grep -qF "$LP" C/links.json; echo $?)" "  links.json names the province's link"

node_start C
is "$?" 0 "the city node runs"
wait_for 30 is_up P "$ID_C"
is "$?" 0 "the province sees the city's link up with its new certificate"
api P GET /v1/links
is "$($py -c '
import json, sys
d = json.loads(sys.argv[1]); s = json.loads(sys.argv[3])["serial"]
print(any(l["peer_node_id"] == sys.argv[2] and l["state"] == "up" and l["peer_region"] == "370100" and l["cert_serial"] == s for l in d["links"]))' "$body" "$ID_C" "$(stored C 0)")" True \
  "  naming region 370100 and the serial of the certificate it enrolled with"
run "$TB" --api "$API_P" --token "$TOKEN_P" links ping "$ID_C"
is "$rc" 0 "  and a PING crosses the link"

run "$TB" init --dir "$T/X7" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$TOK"
is "$rc" 1 "the same token a second time is refused"
like "$err" "the token was used already (by node $ID_C) (conflict at \$.id)" "  naming the node that used it"
ok "$([ ! -e X7 ]; echo $?)" "  and makes nothing"

run "$TB" --api "$API_P" --token "$TOKEN_P" cert join-token --region 370100 --role child --ttl 1s
SHORT=$out
sleep 2
run "$TB" init --dir "$T/X8" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$SHORT"
is "$rc" 1 "an expired token is refused"
like "$err" "the token expired" "  with the reason"
like "$err" "out_of_range at \$.id" "  its code and field"
ok "$([ ! -e X8 ]; echo $?)" "  and makes nothing"

is "$(curl -s "$API_P/metrics" | grep '^tongban_joins_total' | tr '\n' ' ')" \
  "tongban_joins_total{result=\"enrolled\"} 1 tongban_joins_total{result=\"refused\"} $(grep -c TB-JOIN-REFUSED P.log) " \
  "/metrics counts the enrolment and the refusals the issuer logged"
api P GET /v1/audit
like "$body" '"join_token.create"' "making a token is in the audit log"

# ---- the city grows its group with a member token ---------------------------
run "$TB" --api "$API_C" --token "$TOKEN_C" group features --set 2
is "$rc" 0 "the city's group runs at level 2"
run "$TB" --api "$API_C" --token "$TOKEN_C" cert join-token --region 370100 --role peer
is "$rc" 0 "the city makes a peer token"
run "$TB" init --dir "$T/R" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$out"
is "$rc" 0 "a node enrols with it"
is "$(stored R 0 | $py -c 'import json,sys; print(json.load(sys.stdin)["role"])')" peer "  as a peer (links only, never votes)"
run "$TB" --api "$API_C" --token "$TOKEN_C" cert join-token --region 370100 --role member
is "$rc" 0 "the city (its region key online) makes a member token"
MTOK=$out
LM=$(free_port)
run "$TB" init --dir "$T/M" --region 370100 --api 127.0.0.1:0 --link "127.0.0.1:$LM" \
  --join "$(link_of C)" --join-token "$MTOK"
is "$rc" 0 "a second city node enrols with it and --join"
ID_M=$(stored M 0 | $py -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')
is "$($py -c 'import json; print(json.load(open("M/keys/node.json"))["index_key"] == json.load(open("C/keys/node.json"))["index_key"])')" \
  True "  it took the group's applicant index key over the link"
is "$(stored M 0 | $py -c 'import json,sys; print(json.load(sys.stdin)["role"])')" member "  its certificate has the member role"
start_joiner M
is "$?" 0 "it runs, waiting to be added"
ok "$(wait_for 30 is_up C "$ID_M"; echo $?)" "  its link to the city is up"
TOKEN_A=$TOKEN_C
add_voter "$API_C" "$ID_M" "127.0.0.1:$LM"
is "$rc" 0 "tongban group add at the city makes it a voter"
wait_for 20 ready M
is "$?" 0 "the new member becomes ready"
api C GET /v1/status
is "$(jq_get 'len(d["group"]["members"])')" 2 "the city's group has two members"

# --root pins the province's root as well: another root is refused.
run "$TB" --api "$API_C" --token "$TOKEN_C" cert join-token --region 370100 --role peer
"$TB" init --dir Q2 --region 370000 --api 127.0.0.1:0 >/dev/null
run "$TB" init --dir "$T/Y0" --region 370100 --api 127.0.0.1:0 --root Q2/root.json --join-token "$out"
is "$rc" 1 "with --root of another province's root the issuer's root is refused"
like "$err" "the root the issuer sent is not Q2/root.json" "  saying so"
ok "$([ ! -e Y0 ]; echo $?)" "  and nothing is made"
run "$TB" --api "$API_C" --token "$TOKEN_C" cert join-token --region 370100 --role peer
run "$TB" init --dir "$T/Y3" --region 370100 --api 127.0.0.1:0 --root P/root.json --join-token "$out"
is "$rc" 0 "with --root of the right root it enrols"

# The same token presented twice at once: exactly one enrols (whether the
# second is refused by the issuer's check or by the apply of join.use).
run "$TB" --api "$API_C" --token "$TOKEN_C" cert join-token --region 370100 --role peer
RACE=$out
"$TB" init --dir "$T/Y1" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$RACE" >Y1.out 2>Y1.err &
y1=$!
"$TB" init --dir "$T/Y2" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join-token "$RACE" >Y2.out 2>Y2.err &
y2=$!
wait $y1; r1=$?
wait $y2; r2=$?
is "$(printf '%s\n' $r1 $r2 | sort | tr '\n' ' ')" "0 1 " "one token presented twice at once: one enrols, the other exits 1"
like "$(cat Y1.err Y2.err)" "was used already" "  the other told the token was used (by the check or by the apply)"
is "$(ls -d Y1/certs Y2/certs 2>/dev/null | wc -l)" 1 "  and only one node directory holds a certificate"

# A follower that holds the key too: its token (join.create) and the use
# (join.use) both go through the leader.
run "$TB" --api "$API_M" --token "$TOKEN_C" cert join-token --region 370100 --role member
like "$err" "409 conflict: this node holds no region key" "a node without a region key makes no token"
run "$TB" cert install --dir M --region-key C/keys/region.json
is "$rc" 0 "the follower takes the city's region key online too"
run "$TB" --api "$API_M" --token "$TOKEN_C" cert join-token --region 370100 --role member
is "$rc" 0 "the follower makes a member token (forwarded to the leader)"
NTOK=$out
LN=$(free_port)
run "$TB" init --dir "$T/N" --region 370100 --api 127.0.0.1:0 --link "127.0.0.1:$LN" \
  --join "$(link_of M)" --join-token "$NTOK"
is "$rc" 0 "a third node enrols at the follower (join.use forwarded to the leader)"
ok "$(logged M TB-JOIN-ENROLLED "enrolled as member of 370100"; echo $?)" "  logged at the follower"
ID_N=$(stored N 0 | $py -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')
start_joiner N
is "$?" 0 "it runs, waiting to be added"
add_voter "$API_M" "$ID_N" "127.0.0.1:$LN"
is "$rc" 0 "tongban group add at the follower makes it a voter"
wait_for 20 ready N
is "$?" 0 "the third member becomes ready"
api C GET /v1/status
is "$(jq_get 'sorted(m["role"] for m in d["group"]["members"])')" "['voter', 'voter', 'voter']" \
  "the city's group has three voters, grown with join tokens alone"
run "$TB" init --dir "$T/N" --region 370100 --api 127.0.0.1:0 --join-token "$NTOK"
like "$err" "already holds a node" "init --join-token into a node's directory is refused before dialing"
run "$TB" init --dir "$T/X9" --region 370100 --api 127.0.0.1:0 --link 127.0.0.1:0 --join "$(link_of M)" --join-token "$NTOK"
like "$err" "the token was used already (by node $ID_N)" "its token is refused a second time"

for n in N M C P; do stop_node "$n"; done
ok "$(cat P.log C.log M.log N.log | grep -qE 'AddressSanitizer|LeakSanitizer|runtime error'; echo $((1 - $?)))" \
  "the three nodes stop with no sanitizer report"
done_testing
