#!/usr/bin/env bash
# Rotating a node's keys on live links (docs/TRUST.md, "Rotation"): a city
# node linked both ways with its province makes new keys (cert request
# --rotate, countersigned by the current key), its region key certifies
# them for the same node id (cert issue --prev-cert), and cert install
# moves them into keys/node.json. The running city takes the new X25519
# key, every link makes a new handshake, and the province sees the new
# certificate on both links, same node id, without a restart; the old
# certificate can no longer be installed, and revoking it leaves the links
# up. After a restart the city links up with the new keys; the province
# keeps the city's new key (DIR/peer_keys.json) across its own restart, so
# its first handshake after it is IK.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/link_lib.sh"
py=/usr/bin/python3
cd "$T"
WAIT=${TB_LINKS_WAIT:-60}

# link_field NAME DIR PEER FIELD: FIELD of NAME's up link to PEER in DIR.
link_field() {
  api "$1" GET /v1/links
  printf '%s' "$body" | $py -c '
import json, sys
d = json.load(sys.stdin)
s = [l for l in d["links"] if l["direction"] == sys.argv[1]
     and l["peer_node_id"] == sys.argv[2] and l["state"] == "up"]
print(s[0][sys.argv[3]] if s else "none")' "$2" "$3" "$4"
}
# up_with NAME DIR PEER SERIAL: that link is up with that certificate.
up_with() { [ "$(link_field "$1" "$2" "$3" cert_serial)" = "$4" ]; }
logged() { grep "\"id\":\"$2\"" "$T/$1.log" | grep -qF -- "$3"; }
key_of() { $py -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
serial_of() { key_of "$1" serial; }

# ---- a province and a city, linked both ways ----
init_node P 370000
init_node C 370100 "$T/P/root.json"
for r in 370000 370100; do "$TB" keygen --out "r$r.key" >/dev/null; done
"$TB" cert request --region-key r370000.key --region 370000 --out q0.json >/dev/null
"$TB" cert issue --key P/keys/officer.json --root P/root.json --request q0.json \
  --days 365 --out c0.json >/dev/null
"$TB" cert request --region-key r370100.key --region 370100 --out q1.json >/dev/null
"$TB" cert issue --key r370000.key --issuer-cert c0.json --request q1.json \
  --days 365 --out c1.json >/dev/null
"$TB" cert request --dir P --out p.req >/dev/null
"$TB" cert issue --key r370000.key --issuer-cert c0.json --request p.req \
  --days 30 --out p.json >/dev/null
"$TB" cert request --dir C --out c.req >/dev/null
"$TB" cert issue --key r370100.key --issuer-cert c1.json --request c.req \
  --days 30 --out c.json >/dev/null
run "$TB" cert install --dir P p.json c0.json
is "$rc" 0 "the province installs its certificate"
run "$TB" cert install --dir C c.json c1.json c0.json
is "$rc" 0 "the city installs its certificate"
serial1=$(serial_of c.json)
kx1=$(key_of C/keys/node.json kx_public)
idx1=$(key_of C/keys/node.json index_key)

node_start P && node_start C
is "$?" 0 "both nodes start"
"$TB" link add --dir P --region 370100 --url "$(link_url C)" --node-id "$ID_C" >/dev/null
"$TB" link add --dir C --region 370000 --url "$(link_url P)" >/dev/null
wait_for "$WAIT" up_with P out "$ID_C" "$serial1"
is "$?" 0 "the province's link to the city is up, with certificate $serial1"
wait_for "$WAIT" up_with P in "$ID_C" "$serial1"
is "$?" 0 "and the city's link to the province"
hs0=$(link_field P out "$ID_C" handshakes)

# ---- rotate the city's keys while its links are up ----
run "$TB" cert request --dir C --rotate --prev-key r370100.key --out rot.req
is "$rc" 2 "cert request --rotate refuses --prev-key (the current key countersigns)"
run "$TB" cert request --dir C --rotate --out rot.req
is "$rc" 0 "cert request --rotate: a request for new keys"
ok "$([ -f C/keys/node.next.json ]; echo $?)" "the next keys wait in keys/node.next.json"
is "$(key_of rot.req node_id)" "$ID_C" "the request keeps the node id"
is "$($py -c 'import json; print(len(json.load(open("rot.req"))["signatures"]))')" 2 \
  "signed by the new key and countersigned by the current one"
run "$TB" cert request --dir C --rotate --out rot2.req
is "$(key_of rot2.req kx_key)" "$(key_of rot.req kx_key)" \
  "asking again reuses the pending keys"
run "$TB" cert issue --key r370100.key --issuer-cert c1.json --request rot.req \
  --prev-cert c.json --days 30 --out c2.json
is "$rc" 0 "the region key certifies them for the same node (--prev-cert)"
serial2=$(serial_of c2.json)
run "$TB" cert install --dir C c2.json c1.json c0.json
is "$rc" 0 "cert install of the new certificate"
like "$out" "keys rotated" "says that the node's keys rotated"
ok "$([ ! -e C/keys/node.next.json ]; echo $?)" "no keys pending any more"
kx2=$(key_of C/keys/node.json kx_public)
ok "$([ "$kx2" != "$kx1" ] && [ "$kx2" = "$(key_of c2.json kx_key)" ]; echo $?)" \
  "keys/node.json holds the new key the certificate names"
is "$(key_of C/keys/node.json index_key) $(key_of C/tongban.json node_id)" "$idx1 $ID_C" \
  "the index key and the node id stay"

wait_for "$WAIT" logged C TB-LINK-KEYS-ROTATED "$serial2"
is "$?" 0 "the running city logs TB-LINK-KEYS-ROTATED"
wait_for "$WAIT" up_with P out "$ID_C" "$serial2"
is "$?" 0 "the province's link to the city is up again with the new certificate"
wait_for "$WAIT" up_with P in "$ID_C" "$serial2"
is "$?" 0 "and so is the city's link to the province, same node id"
ok "$([ "$(link_field P out "$ID_C" handshakes)" -gt "$hs0" ]; echo $?)" \
  "after a new handshake"
api P POST /v1/links/ping -d '{"peer":"370100","payload":"after"}'
is "$(jq_get 'd["echo_ok"], d["node_id"]')" "True $ID_C" "a PING reaches the city"
api C POST /v1/links/ping -d "{\"peer\":\"$ID_P\"}"
is "$code" 200 "and the city reaches the province"

run "$TB" cert install --dir C c.json c1.json c0.json
is "$rc" 1 "the old certificate can no longer be installed"
like "$err" "certifies other keys than this node's" "(its keys are gone)"

# ---- the old certificate is revoked; the links stay up ----
"$TB" cert revoke --key r370100.key --region 370100 --serial "$serial1" \
  --reason superseded --out crl1.json >/dev/null
n=$(grep -c '"id":"TB-LINK-CERTS"' P.log)
run "$TB" cert install --dir P --crl crl1.json
is "$rc" 0 "the province installs a list revoking the old certificate"
reloaded() { [ "$(grep -c '"id":"TB-LINK-CERTS"' P.log)" -gt "$n" ]; }
wait_for "$WAIT" reloaded
is "$?" 0 "the province reloads it"
is "$(link_field P out "$ID_C" cert_serial) $(link_field P in "$ID_C" cert_serial)" \
  "$serial2 $serial2" "both links with the city stay up on the new certificate"

# ---- restarted, the city links up with its new keys ----
node_kill C
node_start C
is "$?" 0 "the city restarts"
"$TB" link add --dir P --region 370100 --url "$(link_url C)" --node-id "$ID_C" \
  >/dev/null 2>&1 || true
wait_for "$WAIT" up_with P in "$ID_C" "$serial2"
is "$?" 0 "its link to the province comes up with the new certificate"
wait_for "$WAIT" up_with P out "$ID_C" "$serial2"
is "$?" 0 "and the province's link to it"

# ---- the province keeps the city's new key across its own restart ----
# The rotation made the province's IK attempt with the old key fail once,
# then XX taught it the new key, which it wrote to DIR/peer_keys.json.
known_kx() { $py -c 'import json,sys
for k in json.load(open(sys.argv[1]))["keys"]:
    if k["node_id"] == sys.argv[2]: print(k["kx_key"])' "$@"; }
is "$(known_kx P/peer_keys.json "$ID_C")" "$kx2" \
  "P/peer_keys.json (node-local) holds the city's new key, not the old one"
node_kill P
node_start P
is "$?" 0 "the province restarts"
wait_for "$WAIT" up_with P out "$ID_C" "$serial2"
is "$?" 0 "its link to the city comes up"
is "$(link_field P out "$ID_C" pattern)" IK \
  "the first handshake after the restart is IK (the key was kept)"
is "$(link_field P out "$ID_C" handshakes)" 1 "  (the link's only handshake)"

kill -TERM "$PID_P" "$PID_C"
wait "$PID_P"
is "$?" 0 "the province stops cleanly"
wait "$PID_C"
is "$?" 0 "the city stops cleanly"
! grep -l "Sanitizer\|runtime error" "$T"/*.log
is "$?" 0 "no sanitizer reports in any node's log"
done_testing
