#!/usr/bin/env bash
# Links between real nodes on loopback: a province node (370000) and a city
# node (370100) enrolled with real certificates link up both ways and
# exchange PINGs; the operator's view and metrics; IK on a known peer;
# nodes with an unknown, self-signed, expired, revoked or wrong-region
# certificate are refused at the handshake; a hostile peer (a proxy that
# replays, reorders, drops, tampers, truncates or replaces frames, or sends
# an oversized length prefix, and a raw client) cannot crash the node and
# gets its connection closed;
# revoking the city while its links are up closes them; a loopback capture
# of a link that carries an applicant's name and ID number shows neither.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
py=/usr/bin/python3
cd "$T"

# Everything this test starts besides the nodes, and a bound on the whole.
_extra=()
trap _links_cleanup EXIT
bash -c 'sleep 300 & s=$!; trap "kill $s; exit" TERM; wait $s
  echo "# node_links.t: over 300 s, giving up" >&2; kill -TERM '"$$" \
  >/dev/null 2>&1 &
_watchdog=$!
_links_cleanup() {
  local p f
  kill -TERM "$_watchdog" 2>/dev/null
  if [ "$_tap_fail" -gt 0 ]; then
    for f in "$T"/P.log "$T"/C.log "$T"/X.log; do
      [ -f "$f" ] || continue
      echo "# the end of $(basename "$f"):"
      tail -n 40 "$f" | cut -c1-400 | sed 's/^/#   /'
    done
  fi
  for p in "${_extra[@]}"; do kill -9 "$p" 2>/dev/null; done
  _node_cleanup
}

# A tiny hostile peer on plain sockets, speaking the links' framing.
cc -std=gnu11 -O1 -o "$T/link_proxy" "$TB_SRC/tests/link_proxy.c" -lpthread
is "$?" 0 "the raw test peer compiles"

# init_node NAME REGION [ROOT]: like node_init, with the link on port 0.
init_node() {
  local name=$1 region=$2 root=${3:-} out
  out=$("$TB" init --dir "$T/$name" --region "$region" --api 127.0.0.1:0 \
    --link 127.0.0.1:0 ${root:+--root "$root"} --json) || return 1
  printf -v "TOKEN_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
  printf -v "ID_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')"
}
# link_url NAME: the link URL the running node printed.
link_url() { sed -n 's/.*"link":"\([^"]*\)".*/\1/p' "$T/$1.out"; }
# issue NAME KEY ISSUER_CERT OUT [ARGS]: a certificate for node NAME.
issue() {
  local name=$1 key=$2 icert=$3 out=$4
  shift 4
  "$TB" cert request --dir "$T/$name" --out "$T/$name.req" >/dev/null &&
    "$TB" cert issue --key "$key" --issuer-cert "$icert" \
      --request "$T/$name.req" --days 30 --out "$out" "$@" >/dev/null
}
# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds or
# SECONDS of wall-clock time have passed (then it fails). The test waits on
# what it can observe (GET /v1/links, the logs, /metrics), never on a
# sleep, and its deadlines are generous: on a loaded machine a handshake or
# a node's poll of links.json can take seconds, while a pass costs only
# the time the awaited state takes to appear.
WAIT=${TB_LINKS_WAIT:-60}
wait_for() {
  local end=$((SECONDS + $1))
  shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}
# file_has FILE TEXT: FILE contains TEXT.
file_has() { grep -qF -- "$2" "$1" 2>/dev/null; }
# file_over FILE BYTES: FILE is larger than BYTES.
file_over() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt "$2" ]; }
# state NAME DIR PEER: the state of NAME's link to PEER (node id) in
# direction DIR (out or in), "none" if there is no such link.
state() {
  api "$1" GET /v1/links
  printf '%s' "$body" | $py -c '
import json, sys
d = json.load(sys.stdin)
s = [l["state"] for l in d["links"]
     if l["direction"] == sys.argv[1] and l["peer_node_id"] == sys.argv[2]]
print("up" if "up" in s else (s[0] if s else "none"))' "$2" "$3"
}
is_up() { [ "$(state "$1" "$2" "$3")" = up ]; }
# logged NAME ID TEXT: NAME's log has a line with ID that contains TEXT.
logged() { grep "\"id\":\"$2\"" "$T/$1.log" | grep -qF -- "$3"; }
# logged_since NAME ID N TEXT: ... among its lines of ID after the first N.
logged_since() {
  grep "\"id\":\"$2\"" "$T/$1.log" | tail -n +$(($3 + 1)) | grep -qF -- "$4"
}
# has_out NAME URL: NAME has an outbound link to URL.
has_out() {
  api "$1" GET /v1/links
  printf '%s' "$body" | $py -c '
import json, sys
sys.exit(0 if any(l["url"] == sys.argv[1] for l in json.load(sys.stdin)["links"]) else 1)' "$2"
}
not_has_out() { ! has_out "$@"; }
metric_ge() { [ "$(metric "$1" "$2")" -ge "$3" ] 2>/dev/null; }
# count NAME ID: how many lines of ID NAME logged.
count() { grep -c "\"id\":\"$2\"" "$T/$1.log"; }
# metric NAME SERIES: the value of one series of NAME's /metrics.
metric() {
  local a="API_$1"
  curl -s "${!a}/metrics" | grep -F -- "$2 " | grep -v '^#' | awk '{print $2}'
}
free_port() {
  $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- enrolment: the province's root, region keys, node certificates ----
init_node P 370000
init_node C 370100 "$T/P/root.json"
for r in 370000 370100; do "$TB" keygen --out "r$r.key" >/dev/null; done
"$TB" cert request --region-key r370000.key --region 370000 --out q0.json >/dev/null
"$TB" cert issue --key P/keys/officer.json --root P/root.json --request q0.json \
  --days 365 --out c0.json >/dev/null
"$TB" cert request --region-key r370100.key --region 370100 --out q1.json >/dev/null
"$TB" cert issue --key r370000.key --issuer-cert c0.json --request q1.json \
  --days 365 --out c1.json >/dev/null
issue P r370000.key c0.json p.json
issue C r370100.key c1.json c.json
run "$TB" cert install --dir P p.json c0.json
is "$rc" 0 "the province node installs its certificate"
run "$TB" cert install --dir C c.json c1.json c0.json
is "$rc" 0 "the city node installs its certificate"
serial_C=$($py -c 'import json; print(json.load(open("c.json"))["serial"])')

node_start P && node_start C
is "$?" 0 "both nodes start"
PL=$(link_url P)
CL=$(link_url C)
like "$PL" "tcp://127.0.0.1:" "the province reports its bound link port"
like "$CL" "tcp://127.0.0.1:" "the city reports its bound link port"

run "$TB" link add --dir P --region 370100 --url "$CL" --node-id "$ID_C"
is "$rc" 0 "link add: the province dials the city (node id pinned)"
run "$TB" link add --dir C --region 370000 --url "$PL"
is "$rc" 0 "link add: the city dials the province"
run "$TB" link add --dir C --region 999999 --url "$PL"
is "$rc" 1 "link add refuses an unknown region"
run "$TB" link add --dir C --region 370000 --url "http://x"
is "$rc" 1 "link add refuses a URL that is not tcp://HOST:PORT"

wait_for "$WAIT" is_up P out "$ID_C"
is "$?" 0 "the province's link to the city comes up"
wait_for "$WAIT" is_up P in "$ID_C"
is "$?" 0 "the city's link to the province comes up (inbound at P)"
wait_for "$WAIT" is_up C out "$ID_P"
is "$?" 0 "the city sees its link up"
wait_for "$WAIT" is_up C in "$ID_P"
is "$?" 0 "and the province's, inbound"
logged P TB-LINK-UP "$ID_C"
is "$?" 0 "TB-LINK-UP is logged with the peer's node id"

# ---- PINGs, the view, the CLI, the metrics ----
api P POST /v1/links/ping -d '{"peer":"370100","payload":"hello"}'
is "$code" 200 "PING the city by region"
is "$(jq_get 'd["echo_ok"], d["node_id"]')" "True $ID_C" "the PONG echoes, from the city node"
api C POST /v1/links/ping -d "{\"peer\":\"$ID_P\"}"
is "$code" 200 "PING the province by node id"
api P POST /v1/links/ping -d '{"peer":"370100","size":3000000}'
is "$(jq_get 'd["echo_ok"], d["bytes"]')" "True 3000000" \
  "a 3 MB PING travels in chunks and comes back whole"
api P POST /v1/links/ping -d '{"peer":"370200"}'
is "$code" 404 "PING of a region without a link is 404"
api P POST /v1/links/ping -d '{}'
is "$code" 422 "PING without a peer is 422"

has_rtt() { api P GET /v1/links; [[ $body == *'"rtt_ms":'[0-9]* ]]; }
wait_for "$WAIT" has_rtt
api P GET /v1/links
is "$code" 200 "GET /v1/links"
v=$(jq_get '[(l["direction"], l["state"], l["peer_region"], l["frames_tx"] > 0, l["frames_rx"] > 0, l["bytes_tx"] > 0, l["cert_serial"] == "'"$serial_C"'", l["cert_not_after"] is not None) for l in sorted(d["links"], key=lambda l: l["direction"])]')
is "$v" "[('in', 'up', '370100', True, True, True, True, True), ('out', 'up', '370100', True, True, True, True, True)]" \
  "both directions up, with frame and byte counts and the city's certificate"
is "$(jq_get 'any(l["rtt_ms"] is not None for l in d["links"])')" "True" "an RTT is measured"
run "$TB" --api "$API_P" --token "$TOKEN_P" links
is "$rc" 0 "tongban links"
like "$out" "$ID_C 370100 out up" "the table shows the outbound link up"
like "$out" "$ID_C 370100 in  up" "and the inbound one"
run "$TB" --api "$API_C" --token "$TOKEN_C" links ping 370000 --payload x
like "$out" '"echo_ok": true' "tongban links ping"
is "$(metric P "tongban_link_up{peer=\"$ID_C\"}")" 1 "metrics: tongban_link_up 1"
ok "$([ "$(metric P "tongban_link_frames_total{peer=\"$ID_C\",dir=\"rx\"}")" -gt 0 ]; echo $?)" \
  "metrics: frames received from the city"
ok "$([ "$(metric P 'tongban_link_handshakes_total{result="ok"}')" -ge 2 ]; echo $?)" \
  "metrics: handshakes ok"

# ---- IK: the province now holds the city's key ----
"$TB" link remove --dir P --url "$CL" >/dev/null
wait_for "$WAIT" not_has_out P "$CL"
is "$?" 0 "link remove: the running province drops the link"
run "$TB" link add --dir P --region 370100 --url "$CL" --node-id "$ID_C"
wait_for "$WAIT" is_up P out "$ID_C"
is "$?" 0 "re-added, the link comes up again"
api P GET /v1/links
is "$(jq_get '[l["pattern"] for l in d["links"] if l["direction"] == "out"]')" "['IK']" \
  "with Noise IK, since the province knows the city's key"

# ---- a loopback capture shows no applicant data in clear ----
if command -v tcpdump >/dev/null && [ "$(id -u)" = 0 ]; then
  pl=${PL##*:}
  cl=${CL##*:}
  tcpdump -i lo -U -s 0 -w "$T/link.pcap" "tcp port $pl or tcp port $cl" \
    >/dev/null 2>"$T/tcpdump-link.err" &
  tcpd=$!
  _extra+=("$tcpd")
  tcpdump -i lo -U -s 0 -w "$T/api.pcap" "tcp port $PORT_P" \
    >/dev/null 2>"$T/tcpdump-api.err" &
  tcpa=$!
  _extra+=("$tcpa")
  # tcpdump says "listening on lo" once its capture is open.
  wait_for "$WAIT" file_has "$T/tcpdump-link.err" "listening on"
  is "$?" 0 "tcpdump captures the links"
  wait_for "$WAIT" file_has "$T/tcpdump-api.err" "listening on"
  secret='申请人 张三 身份证号 370102199001011231'
  api P POST /v1/links/ping -d "{\"peer\":\"370100\",\"payload\":\"$secret\"}"
  is "$code" 200 "a PING carrying 张三 and 370102199001011231"
  api C POST /v1/links/ping -d "{\"peer\":\"370000\",\"payload\":\"$secret\",\"size\":200000}"
  is "$(jq_get 'd["echo_ok"]')" "True" "and a 200 kB one in chunks, the other way"
  # tcpdump -U writes each packet as it reads it: wait until both files
  # hold the traffic rather than for a fixed time.
  wait_for "$WAIT" file_over "$T/link.pcap" 400000
  wait_for "$WAIT" file_has "$T/api.pcap" 370102199001011231
  kill -INT "$tcpd" "$tcpa"
  wait "$tcpd" "$tcpa" 2>/dev/null
  v=$($py - "$T/link.pcap" "$T/api.pcap" <<'PY'
import sys
link, api = (open(p, "rb").read() for p in sys.argv[1:3])
for name, data in (("link", link), ("api", api)):
    print(name, len(data), "张三".encode() in data,
          b"370102199001011231" in data, "张三".encode("utf-16-le") in data)
PY
)
  like "$v" "api" "the captures were read"
  like "$(printf '%s' "$v" | sed -n 's/^api [0-9]* //p')" "True True" \
    "control: the capture of the (plain HTTP) API shows name and ID in clear"
  is "$(printf '%s' "$v" | awk '/^link/ {print ($2 > 200000)}')" 1 \
    "the capture of the links holds their traffic (over 200 kB)"
  is "$(printf '%s' "$v" | sed -n 's/^link [0-9]* //p')" "False False False" \
    "and neither the name (UTF-8, UTF-16) nor the ID number"
else
  for i in 1 2 3 4 5 6 7; do echo "ok $((_tap_n += 1)) # skip tcpdump or root missing"; done
fi

# ---- a hostile peer in the middle: each change closes the pipe ----
# mode, what the province must log
attack() {
  local mode=$1 id=$2 text=$3 port before pid try
  shift 3
  before=$(count P "$id")
  # The proxy must listen before the city dials it (a port free_port found
  # may be taken again before the proxy binds it: then another one).
  for try in 1 2 3; do
    port=$(free_port)
    "$T/link_proxy" proxy "tcp://127.0.0.1:$port" "$PL" "$mode" \
      >"$T/proxy-$mode.out" 2>&1 &
    pid=$!
    _extra+=("$pid")
    wait_for "$WAIT" file_has "$T/proxy-$mode.out" listening && break
    kill "$pid" 2>/dev/null
  done
  "$TB" link add --dir C --region 370000 --url "tcp://127.0.0.1:$port" "$@" \
    >/dev/null
  wait_for "$WAIT" logged_since P "$id" "$before" "$text"
  is "$?" 0 "$mode: the province logs $id '$text'"
  like "$(cat "$T/proxy-$mode.out")" "mutated" "$mode: (the proxy did it)"
  "$TB" link remove --dir C --url "tcp://127.0.0.1:$port" >/dev/null
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
attack replay TB-LINK-FRAME-REFUSED "(auth): frame"
attack reorder TB-LINK-FRAME-REFUSED "(auth): frame"
attack drop TB-LINK-FRAME-REFUSED "(auth): frame"
attack tamper TB-LINK-FRAME-REFUSED "authentication failed (tampered, replayed or reordered)"
attack truncate TB-LINK-FRAME-REFUSED "(truncated)"
attack garbage TB-LINK-FRAME-REFUSED "frame refused"
attack oversize TB-LINK-FRAME-REFUSED "(oversized): frame of 70000 bytes exceeds 65536"
attack huge TB-LINK-FRAME-REFUSED "(oversized): the frame's length prefix says 1048576 bytes, over the limit of 131072"
attack biglen TB-LINK-FRAME-REFUSED "(oversized): the frame's length prefix says 4294967295 bytes"
attack hsgarbage TB-LINK-HANDSHAKE-REFUSED "is not a tongban link/1 handshake"
# The city knows the province's key: IK, whose first message a replay
# cannot turn into an up link (no frame can follow it).
attack hsreplay TB-LINK-HANDSHAKE-REFUSED "did not finish within 5000 ms" \
  --node-id "$ID_P"

# A raw client, no handshake at all. client MODE ID TEXT [TEXT2]:
# the province logs ID with TEXT (and then TEXT2) before the client goes.
client() {
  local mode=$1 id=$2 text=$3 text2=${4:-} before pid
  before=$(count P "$id")
  "$T/link_proxy" client "$PL" "$mode" >"$T/client-$mode.out" 2>&1 &
  pid=$!
  _extra+=("$pid")
  wait_for "$WAIT" logged_since P "$id" "$before" "$text"
  is "$?" 0 "raw client, $mode: the province logs $id '$text'"
  if [ -n "$text2" ]; then
    wait_for "$WAIT" logged_since P "$id" "$before" "$text2"
    is "$?" 0 "raw client, $mode: ... and '$text2'"
  fi
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
client garbage TB-LINK-HANDSHAKE-REFUSED "is not a tongban link/1 handshake"
client oversize TB-LINK-HANDSHAKE-REFUSED "a handshake message of 70000 bytes"
client huge TB-LINK-FRAME-REFUSED "(oversized): the handshake message's length prefix says 1048576 bytes"
client biglen TB-LINK-FRAME-REFUSED "(oversized): the handshake message's length prefix says 4294967295"
client stall TB-LINK-HANDSHAKE-REFUSED "handshakes already (limits" \
  "did not finish within 5000 ms"

api P GET /v1/links
is "$code" 200 "the province still serves"
is "$(jq_get 'sum(1 for l in d["links"] if l["direction"] == "in" and l["state"] != "up") <= 16')" \
  "True" "and keeps at most 16 closed inbound entries"
is "$(state P out "$ID_C") $(state P in "$ID_C")" "up up" \
  "its links with the city stayed up through all of it"
ok "$([ "$(metric P 'tongban_link_refused_frames_total{reason="auth"}')" -ge 4 ]; echo $?)" \
  "metrics: refused frames by reason (auth)"
ok "$([ "$(metric P 'tongban_link_refused_frames_total{reason="oversized"}')" -ge 1 ]; echo $?)" \
  "metrics: refused frames by reason (oversized)"

# ---- certificates the province refuses at the handshake ----
# X is a third node of 370100 that trusts the province's root; its
# certificates are written straight into X/certs (install would refuse
# them), and it dials the province.
init_node X 370100 "$T/P/root.json"
"$TB" link add --dir X --region 370000 --url "$PL" >/dev/null
# x_try WHAT ID TEXT: start X with what is in X/certs, expect the province
# to log ID with TEXT, then stop X.
x_try() {
  local what=$1 id=$2 text=$3 before
  before=$(count P "$id")
  node_start X
  wait_for "$WAIT" logged_since P "$id" "$before" "$text"
  is "$?" 0 "$what: the province logs $id '$text'"
  is "$(count X TB-LINK-UP)" 0 "$what: X's link never came up"
  node_kill X
}
# Unknown: a chain under another province's root (Q made its own).
init_node Q 370000
"$TB" keygen --out rq0.key >/dev/null
"$TB" keygen --out rq1.key >/dev/null
"$TB" cert request --region-key rq0.key --region 370000 --out qq0.json >/dev/null
"$TB" cert issue --key Q/keys/officer.json --root Q/root.json --request qq0.json \
  --days 365 --out cq0.json >/dev/null
"$TB" cert request --region-key rq1.key --region 370100 --out qq1.json >/dev/null
"$TB" cert issue --key rq0.key --issuer-cert cq0.json --request qq1.json \
  --days 365 --out cq1.json >/dev/null
issue X rq1.key cq1.json xq.json
mkdir -p X/certs
cp xq.json X/certs/node.json
$py -c 'import json; json.dump([json.load(open("cq1.json")), json.load(open("cq0.json"))], open("X/certs/chain.json", "w"))'
x_try unknown TB-LINK-HANDSHAKE-REFUSED "signed by 0 of the 370000 root's officers"

# Self-signed: X's own key signs its certificate. (X's valid certificate
# is short: it expires in 3 days.)
issue X r370100.key c1.json xgood.json --days 3
$py - X/keys/node.json <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))
c = json.load(open("xgood.json"))
c["issuer"] = {"region": "370100", "key": k["public"]}
del c["signatures"]
json.dump(c, open("X/certs/node.json", "w"))
json.dump([json.load(open("c1.json")), json.load(open("c0.json"))], open("X/certs/chain.json", "w"))
PY
"$TB" sign --key X/keys/node.json X/certs/node.json >/dev/null
x_try self-signed TB-LINK-HANDSHAKE-REFUSED "self-signed certificate refused"

# Expired: signed by the right key, but its time is over.
$py - <<'PY'
import json
c = json.load(open("xgood.json"))
c["not_before"], c["not_after"] = "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"
del c["signatures"]
json.dump(c, open("X/certs/node.json", "w"))
PY
"$TB" sign --key r370100.key X/certs/node.json >/dev/null
x_try expired TB-LINK-HANDSHAKE-REFUSED "expired at 2021-01-01T00:00:00Z"

# Wrong region: a valid 370100 node where the province expects 370200.
cp xgood.json X/certs/node.json
"$TB" link remove --dir X --url "$PL" >/dev/null
node_start X
"$TB" link add --dir P --region 370200 --url "$(link_url X)" >/dev/null
wait_for "$WAIT" logged P TB-LINK-HANDSHAKE-REFUSED "cert for 370100 where 370200 was expected"
is "$?" 0 "wrong region: the province refuses a 370100 node where it expects 370200"
"$TB" link remove --dir P --region 370200 >/dev/null

# ---- X's certificates: files imported once into X/local (LMDB) ----
# X started from X/certs/node.json and chain.json written above, as an
# older build (or a hand) leaves them: the node imported them at start.
ok "$(logged X TB-CERTSTORE-IMPORTED "certs/node.json: imported into"; echo $?)" \
  "X logged TB-CERTSTORE-IMPORTED for certs/node.json"
ok "$([ -f X/local/data.mdb ] && [ -f X/certs/node.json.imported ] &&
  [ ! -e X/certs/node.json ] && [ ! -e X/certs/chain.json ]; echo $?)" \
  "  the files are now *.imported, the certificates in X/local"
# The certificates are node-local: a new one leaves the replicated state's
# digest as it was (same applied index, same hash).
digest_X() { api X GET '/v1/status?digest=1'; jq_get 'd["state_digest"]["applied"], d["state_digest"]["hash"]'; }
d0=$(digest_X)
ok "$([[ $d0 =~ ^[0-9]+\ [0-9a-f]{64}$ ]]; echo $?)" "X reports its state digest ($d0)"
reloads=$(count X TB-LINK-CERTS)
issue X r370100.key c1.json xnew.json --days 3
run "$TB" cert install --dir X xnew.json c1.json c0.json
is "$rc" 0 "a new certificate for the running X, by cert install into X/local"
wait_for "$WAIT" logged_since X TB-LINK-CERTS "$reloads" "reloaded certs/ and local/"
is "$?" 0 "  X's links reload it (TB-LINK-CERTS)"
is "$(digest_X)" "$d0" "  X's state digest and applied index are unchanged by it"
run "$TB" cert show --dir X --json
is "$($py -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["stored_in"], d["chain"][0]["document"]["serial"] == json.load(open("xnew.json"))["serial"])' "$out")" \
  "X/local True" "  cert show --dir X shows the new one, stored in X/local"
node_kill X
rm -f X/certs/*.imported
run "$TB" cert install --dir X xgood.json c1.json c0.json
is "$rc" 0 "X (stopped) takes its previous certificate back, into X/local"
node_start X
is "$?" 0 "X restarts with no certificate file left in X/certs"
is "$(ls X/certs 2>/dev/null | grep -c '^node\|^chain')" 0 "  (none: $(ls X/certs 2>/dev/null | tr '\n' ' '))"

# Revoked: X links up, then its certificate is revoked.
"$TB" link add --dir X --region 370000 --url "$PL" >/dev/null
wait_for "$WAIT" is_up P in "$ID_X"
is "$?" 0 "revoked: with a valid certificate X links up first (read from X/local alone)"
serial_X=$($py -c 'import json; print(json.load(open("xgood.json"))["serial"])')
logged P TB-LINK-CERT-EXPIRING "$serial_X"
is "$?" 0 "TB-LINK-CERT-EXPIRING: X's certificate expires within 7 days"
"$TB" cert revoke --key r370100.key --region 370100 --serial "$serial_X" \
  --reason "key compromise" --out crl1.json >/dev/null
run "$TB" cert install --dir P --crl crl1.json
is "$rc" 0 "revoked: the province installs the city's revocation list"
wait_for "$WAIT" logged P TB-LINK-REVOKED "$serial_X"
is "$?" 0 "revoked: the province logs TB-LINK-REVOKED and closes X's link"
wait_for "$WAIT" logged P TB-LINK-REVOKED "handshake refused (XX): node $ID_X"
is "$?" 0 "revoked: X's next handshakes are refused as revoked"
is "$(state P in "$ID_X")" "refused" "revoked: X is not up at the province"
node_kill X

# A node whose link port is taken does not start.
init_node Y 370100 "$T/P/root.json"
issue Y r370100.key c1.json y.json
"$TB" cert install --dir Y y.json c1.json c0.json >/dev/null
$py - "$T/Y/tongban.json" "${PL#tcp://}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["link"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
PY
run "$TB" run --dir Y
is "$rc" 1 "a node whose link port is taken exits 1"
like "$err" "TB-LINK-LISTEN" "logging TB-LINK-LISTEN"

# ---- revoking the city while its links are up closes them ----
is "$(state P out "$ID_C") $(state P in "$ID_C")" "up up" "the city's links are up"
"$TB" cert revoke --key r370100.key --crl crl1.json --serial "$serial_C" \
  --reason retired --out crl2.json >/dev/null
run "$TB" cert install --dir P --crl crl2.json
is "$rc" 0 "the province installs version 2, revoking the city's node"
wait_for "$WAIT" logged P TB-LINK-REVOKED "$ID_C"
is "$?" 0 "TB-LINK-REVOKED names the city"
link_down() { [ "$(metric P "tongban_link_up{peer=\"$ID_C\"}")" = 0 ]; }
wait_for "$WAIT" link_down
is "$?" 0 "metrics: tongban_link_up of the city is 0"
v="$(state P out "$ID_C") $(state P in "$ID_C")"
unlike "$v" "up" "neither link with the city is up ($v)"
ok "$([ "$(metric P 'tongban_link_cert_closes_total')" -ge 2 ]; echo $?)" \
  "metrics: links closed for their certificate"
ok "$([ "$(metric P 'tongban_link_handshakes_total{result="revoked"}')" -ge 1 ]; echo $?)" \
  "metrics: handshakes refused as revoked"

# ---- a peer that refuses the connection: the dial error is shown ----
run "$TB" link add --dir P --region 370200 --url tcp://127.0.0.1:1
is "$rc" 0 "link add: the province dials a port where nothing listens"
dial_err() {
  api P GET /v1/links
  [ "$(jq_get 'any(l["url"] == "tcp://127.0.0.1:1" and "dial tcp://127.0.0.1:1: Connection refused" in (l["last_error"] or "") for l in d["links"])')" = True ]
}
wait_for "$WAIT" dial_err
is "$?" 0 "its link's last_error is the dial error (it stayed empty)"
run "$TB" --api "$API_P" --token "$TOKEN_P" links
like "$out" "dial tcp://127.0.0.1:1: Connection refused" "  and the LAST ERROR column of tongban links shows it"

# ---- clean stop ----
kill -TERM "$PID_P" "$PID_C"
wait "$PID_P"
is "$?" 0 "the province stops cleanly"
wait "$PID_C"
is "$?" 0 "the city stops cleanly"
! grep -l "Sanitizer\|runtime error" "$T"/*.log
is "$?" 0 "no sanitizer reports in any node's log"
done_testing
