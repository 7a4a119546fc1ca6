#!/usr/bin/env bash
# The periodic new handshake (docs/LINKS.md, "A new handshake every
# link_rehandshake_seconds"): a province and a city linked both ways with
# link_rehandshake_seconds 3. Each link, once up for 3 s, is closed and made
# again with a full handshake (counted in GET /v1/links and /metrics, logged
# TB-LINK-REHANDSHAKE), and carries traffic after it. A certificate renewed
# for the same keys, which starts no handshake of its own, reaches the peer
# at the next periodic one. A value of 1 is refused at start.
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
key_of() { $py -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
serial_of() { key_of "$1" serial; }
set_conf() { $py -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d[sys.argv[2]]=json.loads(sys.argv[3]); json.dump(d, open(p,"w"))' "$@"; }

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
"$TB" cert install --dir P p.json c0.json >/dev/null &&
  "$TB" cert install --dir C c.json c1.json c0.json >/dev/null
is "$?" 0 "both nodes install their certificates"
set_conf P/tongban.json link_rehandshake_seconds 1
run "$TB" run --dir P
is "$rc" 1 "link_rehandshake_seconds 1 is refused at start"
like "$err" "link_rehandshake_seconds 1: it is 0 (never) or 2..2592000" "  naming the setting and its range"
set_conf P/tongban.json link_rehandshake_seconds 3
set_conf C/tongban.json link_rehandshake_seconds 3
serialP1=$(serial_of p.json)

node_start P && node_start C
is "$?" 0 "both nodes start with link_rehandshake_seconds 3"
"$TB" link add --dir P --region 370100 --url "$(link_url C)" --node-id "$ID_C" >/dev/null
"$TB" link add --dir C --region 370000 --url "$(link_url P)" --node-id "$ID_P" >/dev/null
wait_for "$WAIT" up_with C out "$ID_P" "$serialP1"
is "$?" 0 "the city's link to the province is up, with certificate $serialP1"
hs0=$(link_field C out "$ID_P" handshakes)

# ---- the periodic handshake ----
rehandshaked() { [ "$(link_field C out "$ID_P" rehandshakes)" -ge 1 ] 2>/dev/null; }
wait_for 15 rehandshaked
is "$?" 0 "within 15 s the city's link to the province made a new handshake for its age"
wait_for "$WAIT" up_with C out "$ID_P" "$serialP1"
is "$?" 0 "  and is up again"
ok "$([ "$(link_field C out "$ID_P" handshakes)" -gt "$hs0" ]; echo $?)" \
  "  its handshake count grew (from $hs0)"
api C GET /v1/links
ok "$([ "$(jq_get 'd["rehandshakes"]')" -ge 1 ]; echo $?)" "GET /v1/links counts it in rehandshakes"
curl -s -H "Authorization: Bearer $TOKEN_C" "$API_C/metrics" >metrics.txt
grep -q '^tongban_link_rehandshakes_total [1-9]' metrics.txt
is "$?" 0 "/metrics: tongban_link_rehandshakes_total"
logged C TB-LINK-REHANDSHAKE "link_rehandshake_seconds 3"
is "$?" 0 "TB-LINK-REHANDSHAKE is logged"
run "$TB" --api "$API_C" --token "$TOKEN_C" links
like "$out" "trust root: version 1 from root.json; " "tongban links: the anchor (root.json: no group here)"
unlike "$out" "; 0 periodic new handshakes" "  and a count of periodic new handshakes above 0"
api C POST /v1/links/ping -d "{\"peer\":\"$ID_P\",\"payload\":\"after\"}"
is "$(jq_get 'd["echo_ok"], d["node_id"]')" "True $ID_P" "a PING crosses the new link"

# ---- a renewed certificate reaches the peer at the next handshake ----
"$TB" cert issue --key r370000.key --issuer-cert c0.json --request p.req \
  --days 30 --out p2.json >/dev/null
serialP2=$(serial_of p2.json)
run "$TB" cert install --dir P p2.json c0.json
is "$rc" 0 "the province installs a renewed certificate for the same keys"
wait_for 20 up_with C out "$ID_P" "$serialP2"
is "$?" 0 "the city sees $serialP2 after a periodic handshake, without a restart"

kill -TERM "$PID_P" "$PID_C"
wait "$PID_P"
is "$?" 0 "the province stops cleanly"
wait "$PID_C"
is "$?" 0 "the city stops cleanly"
! grep -l "Sanitizer\|runtime error" "$T"/*.log
is "$?" 0 "no sanitizer reports in any node's log"
done_testing
