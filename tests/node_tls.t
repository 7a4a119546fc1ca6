#!/usr/bin/env bash
# HTTPS: a node initialised with a certificate serves its API over TLS
# (nng's TLS); curl and the tongban client verify it against the CA file.
. "$(dirname "$0")/lib.sh"
TB=$TB_BUILD/tongban
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
command -v openssl >/dev/null || { echo "Bail out! openssl is missing (ops/setup installs it)"; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" \
  -out "$T/cert.pem" -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:node-370102.tongban.test" \
  >/dev/null 2>&1
is "$?" 0 "a self-signed certificate for 127.0.0.1"
run "$TB" init --dir "$T/n" --region 370102 --api 127.0.0.1:0 \
  --tls-cert "$T/cert.pem" --json
is "$rc" 2 "--tls-cert without --tls-key is a usage error"
like "$err" "go together" "says why"
run "$TB" init --dir "$T/n" --region 370102 --api 127.0.0.1:0 \
  --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --json
is "$rc" 0 "init with a certificate and key"
token=$(printf '%s' "$out" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')
"$TB" run --dir "$T/n" >"$T/out" 2>"$T/log" &
pid=$!
api=
for _ in $(seq 1 100); do
  api=$(sed -n 's/.*"api":"\(https:[^"]*\)".*/\1/p' "$T/out")
  [ -n "$api" ] && curl -sf --cacert "$T/cert.pem" "$api/readyz" >/dev/null && break
  sleep 0.1
done
like "$api" "https://127.0.0.1:" "the node announces an https:// API"
run curl -sf --cacert "$T/cert.pem" "$api/healthz"
is "$rc" 0 "curl verifies the node's certificate"
run curl -sf "$api/healthz"
ok "$([ "$rc" -ne 0 ]; echo $?)" "without the CA file curl refuses the self-signed certificate"
run curl -sf --max-time 5 "${api/https/http}/healthz"
ok "$([ "$rc" -ne 0 ]; echo $?)" "plain HTTP is not served on the TLS port"
TONGBAN_TLS_SERVER_NAME=node-370102.tongban.test TONGBAN_CACERT="$T/cert.pem" run "$TB" --api "$api" --token "$token" status
is "$rc" 0 "the tongban client verifies it with TONGBAN_CACERT"
[ "$rc" = 0 ] || { echo "# the client said (rc $rc): $err"; tail -n 20 "$T/log"; } >&2
like "$out" '"region": "370102"' "and reads the status"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k2.pem" \
  -out "$T/other.pem" -days 2 -subj "/CN=127.0.0.1" >/dev/null 2>&1
TONGBAN_TLS_SERVER_NAME=node-370102.tongban.test TONGBAN_CACERT="$T/other.pem" run "$TB" --api "$api" --token "$token" status
ok "$([ "$rc" -ne 0 ]; echo $?)" "a client trusting another CA refuses the node"
kill -TERM $pid; wait $pid; is "$?" 0 "the node stops cleanly"
pid=
done_testing
