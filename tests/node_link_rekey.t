#!/usr/bin/env bash
# Rekeying on a live link between two real nodes (docs/LINKS.md,
# "Rekeying"): the province replaces each sending key every 4 frames
# (link_rekey_frames), the city every second (link_rekey_seconds). PINGs with
# chunked bodies carry traffic across many rekeys on one connection; GET
# /v1/links and `tongban links` count them on both ends, and the link never
# makes a new handshake. Out-of-range values stop a node at start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/link_lib.sh"
py=/usr/bin/python3
cd "$T"
WAIT=${TB_LINKS_WAIT:-30}

# link_field NAME DIR PEER FIELD...: the FIELDs of NAME's up link to PEER
# in DIR, from one view.
link_field() {
  api "$1" GET /v1/links
  printf '%s' "$body" | $py -c '
import json, sys
d = json.load(sys.stdin)
s = [l for l in d["links"] if l["direction"] == sys.argv[1]
     and l["peer_node_id"] == sys.argv[2] and l["state"] == "up"]
print(" ".join(str(s[0][f]) for f in sys.argv[3:]) if s else "none")' \
    "$2" "$3" "${@:4}"
}
up() { [ "$(link_field "$1" "$2" "$3" state)" = up ]; }
# set_cfg NAME KEY VALUE: sets a number in NAME's tongban.json.
set_cfg() {
  $py -c 'import json,sys
p = sys.argv[1] + "/tongban.json"
c = json.load(open(p)); c[sys.argv[2]] = int(sys.argv[3])
json.dump(c, open(p, "w"))' "$T/$1" "$2" "$3"
}

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
is "$?" 0 "a province and a city are enrolled"

# ---- out-of-range settings are refused at start ----
set_cfg C link_rekey_frames 1
run timeout 10 "$TB" run --dir C
is "$rc" 1 "a node with link_rekey_frames 1 does not start"
like "$err" "link_rekey_frames 1" "and says which setting ($err)"
set_cfg C link_rekey_frames 1048576
set_cfg C link_rekey_seconds 0
run timeout 10 "$TB" run --dir C
is "$rc" 1 "nor one with link_rekey_seconds 0"

# ---- P: by count (every 4 frames); C: by time (every second) ----
set_cfg P link_rekey_frames 4
set_cfg C link_rekey_seconds 1
node_start P && node_start C
is "$?" 0 "both nodes start"
"$TB" link add --dir P --region 370100 --url "$(link_url C)" --node-id "$ID_C" >/dev/null
wait_for "$WAIT" up P out "$ID_C" && wait_for "$WAIT" up C in "$ID_P"
is "$?" 0 "the province's link to the city is up"
hs0=$(link_field P out "$ID_C" handshakes)

good=0
t0=$(date +%s%N)
for i in $(seq 1 12); do
  api P POST /v1/links/ping -d '{"peer":"370100","size":200000}'
  [ "$code" = 200 ] && [ "$(jq_get 'd["echo_ok"]')" = True ] && good=$((good + 1))
  sleep 0.3
done
secs=$((($(date +%s%N) - t0) / 1000000000 + 1))
is "$good" 12 "12 PINGs of 200 KB (chunked) come back whole, in about $secs s"
read -r ptx pftx <<<"$(link_field P out "$ID_C" rekeys_tx frames_tx)"
crx=$(link_field C in "$ID_P" rekeys_rx)
ok "$([ "$ptx" -ge 12 ] && [ "$ptx" -eq $((pftx / 4)) ]; echo $?)" \
  "the province replaced its sending key $ptx times: every 4th of its $pftx frames"
# (A PING probe may be on its way between the two reads.)
ok "$([ "$crx" -ge $((ptx - 1)) ] && [ "$crx" -le $((ptx + 1)) ]; echo $?)" \
  "the city switched as often, receiving ($crx)"
ctx=$(link_field C in "$ID_P" rekeys_tx)
prx=$(link_field P out "$ID_C" rekeys_rx)
ok "$([ "$ctx" -ge 2 ] && [ "$ctx" -le $((secs + 2)) ]; echo $?)" \
  "the city replaced its sending key $ctx times in about $secs s (every second)"
ok "$([ "$prx" -ge $((ctx - 1)) ] && [ "$prx" -le $((ctx + 1)) ]; echo $?)" \
  "the province followed ($prx of $ctx; one may be in flight or come between the reads)"
is "$(link_field P out "$ID_C" handshakes)" "$hs0" \
  "all on the first connection: no new handshake"
run "$TB" --api "$API_P" --token "$TOKEN_P" links
like "$out" "REKEYS" "tongban links shows a REKEYS column"
# (A PING probe may add a rekey between the two reads.)
col=$(printf '%s\n' "$out" | awk -v id="$ID_C" '$1 == id && $3 == "out" {print $9}')
ok "$([ "${col%/*}" -ge "$ptx" ] && [ "${col%/*}" -le $((ptx + 2)) ]; echo $?)" \
  "with the province's count ($col, $ptx a moment before)"
curl -s "$API_P/metrics" -H "Authorization: Bearer $TOKEN_P" >metrics.txt
like "$(grep 'tongban_link_rekeys_total{dir="tx"}' metrics.txt)" \
  "tongban_link_rekeys_total" "and /metrics counts them"
! grep -q '"id":"TB-LINK-FRAME-REFUSED"' P.log C.log
is "$?" 0 "no frame was refused on either side"

kill -TERM "$PID_P" "$PID_C"
wait "$PID_P"
is "$?" 0 "the province stops cleanly"
wait "$PID_C"
is "$?" 0 "the city stops cleanly"
! grep -l "Sanitizer\|runtime error" "$T"/*.log
is "$?" 0 "no sanitizer reports in any node's log"
done_testing
