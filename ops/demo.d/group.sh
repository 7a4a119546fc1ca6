# Sourced by ops/demo after the single node's walk-through: 历下区 (370102)
# served by a group of three nodes. Needs tb, node (the 370000 node's
# directory: its 1-of-1 root and officer key), work, step, show.
# Enrolment down the tree, growing to three voters, a write and a material at
# a follower, kill -9 of the leader, and the old leader catching up by a
# snapshot of the store after missing more writes than the snapshot
# threshold. The three nodes are stopped at the end.
g="$work/group"
mkdir -p "$g"
gpids=()
gstop() { local p; for p in "${gpids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${gpids[@]}"; do wait "$p" 2>/dev/null || true; done; gpids=(); }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gapi() { # gapi NAME: the API URL of node NAME once it prints it
  local i u
  for i in $(seq 1 200); do
    u=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$g/$1.out" 2>/dev/null)
    [ -n "$u" ] && { echo "$u"; return 0; }
    sleep 0.05
  done
  return 1
}
grun() { "$tb" run --dir "$g/$1" >"$g/$1.out" 2>>"$g/$1.log" & gpids+=($!); eval "pid_$1=$!"; }

step "Certificates down the tree: 山东省 (the root) -> 济南市 -> 历下区, then three member nodes of 历下区"
for r in 370000 370100 370102; do "$tb" keygen --out "$g/r$r.key" >/dev/null; done
"$tb" cert request --region-key "$g/r370000.key" --region 370000 --out "$g/q0.json" >/dev/null
show "$tb" cert issue --key "$node/keys/officer.json" --root "$node/root.json" \
  --request "$g/q0.json" --days 365 --out "$g/c0.json"
"$tb" cert request --region-key "$g/r370100.key" --region 370100 --out "$g/q1.json" >/dev/null
show "$tb" cert issue --key "$g/r370000.key" --issuer-cert "$g/c0.json" \
  --request "$g/q1.json" --days 365 --out "$g/c1.json"
"$tb" cert request --region-key "$g/r370102.key" --region 370102 --out "$g/q2.json" >/dev/null
show "$tb" cert issue --key "$g/r370100.key" --issuer-cert "$g/c1.json" \
  --request "$g/q2.json" --days 365 --out "$g/c2.json"
for n in A B C; do
  extra=()
  if [ "$n" != A ]; then
    extra=(--join "127.0.0.1:$LA" --index-key-from "$g/akey.json")
  fi
  port=$(free_port); eval "L$n=$port"
  out=$("$tb" init --dir "$g/$n" --region 370102 --name "历下区 node $n" --api 127.0.0.1:0 \
    --link "127.0.0.1:$port" --root "$node/root.json" --json "${extra[@]}")
  eval "ID_$n=$(printf '%s' "$out" | sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')"
  [ "$n" = A ] && gtoken=$(printf '%s' "$out" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')
  [ "$n" = A ] && "$tb" index-key export --dir "$g/A" --out "$g/akey.json" >/dev/null
  "$tb" cert request --dir "$g/$n" --out "$g/$n.req" >/dev/null
  "$tb" cert issue --key "$g/r370102.key" --issuer-cert "$g/c2.json" --request "$g/$n.req" \
    --days 30 --role member --out "$g/$n.cert" >/dev/null
  "$tb" cert install --dir "$g/$n" "$g/$n.cert" "$g/c2.json" "$g/c1.json" "$g/c0.json" >/dev/null
  # A snapshot every 64 entries, so that the catch-up below shows one.
  /usr/bin/python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["snapshot_threshold"]=64; json.dump(d, open(p,"w"))' "$g/$n/tongban.json"
  echo "node $n: $(eval echo "\$ID_$n"), link 127.0.0.1:$port, member certificate of 370102"
done

step "Grow 历下区 from one voter to three (tongban group add)"
grun A; apiA=$(gapi A)
for _ in $(seq 1 100); do curl -sf "$apiA/readyz" >/dev/null && break; sleep 0.1; done
grun B; grun C; apiB=$(gapi B); apiC=$(gapi C)
gt() { TONGBAN_API=$1 TONGBAN_TOKEN=$gtoken "$tb" "${@:2}"; }
# gstatus URL: the group as GET /v1/status shows it, one line a member.
gstatus() {
  printf '$ tongban status  (at %s; the group part)\n' "$1"
  gt "$1" --json status | /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin); g=d["group"]
print("  term %d, commit %d, applied %d, leader %s" % (g["term"], g["commit"], g["applied"], g.get("leader")))
for m in g["members"]:
    print("  %s %-7s %s lag %s%s" % (m["node_id"], m["role"], m["address"], m.get("lag", "?"), " (this node)" if m["self"] else ""))' || true
}
show gt "$apiA" group add "$ID_B" "127.0.0.1:$LB"
show gt "$apiA" group add "$ID_C" "127.0.0.1:$LC"
for _ in $(seq 1 100); do curl -sf "$apiC/readyz" >/dev/null && break; sleep 0.1; done
gstatus "$apiA"

step "Write at a follower: B forwards to the leader and answers once it applied the entry itself"
printf '$ curl -X POST %s/v1/tokens  (at follower B)\n' "$apiB"
curl -s -X POST -H "Authorization: Bearer $gtoken" "$apiB/v1/tokens" \
  -d '{"role":"clerk","region":"370102","name":"历下区 window 1"}' | head -c 300; echo
head -c 200000 /dev/urandom >"$g/scan.pdf"
printf '$ curl -X PUT %s/v1/blobs --data-binary @scan.pdf  (a material at B: answered once a majority holds it)\n' "$apiB"
put=$(curl -s -X PUT -H "Authorization: Bearer $gtoken" --data-binary @"$g/scan.pdf" "$apiB/v1/blobs")
echo "$put"
hash=$(printf '%s' "$put" | sed -n 's/.*"hash":"\([^"]*\)".*/\1/p')
printf '$ curl %s/v1/blobs/%s  (read at C)\n' "$apiC" "$hash"
curl -s -H "Authorization: Bearer $gtoken" "$apiC/v1/blobs/$hash" | cmp -s - "$g/scan.pdf" &&
  echo "  the same 200,000 bytes"

step "kill -9 the leader (A): B and C elect a new one and go on"
kill -9 "$pid_A"; wait "$pid_A" 2>/dev/null || true
t0=$(date +%s%3N)
for _ in $(seq 1 300); do
  c=$(curl -s -o /dev/null -w '%{http_code}' -m 2 -X POST -H "Authorization: Bearer $gtoken" \
    "$apiB/v1/tokens" -d '{"role":"clerk","region":"370102"}')
  [ "$c" = 201 ] && break
  sleep 0.05
done
echo "first write acknowledged at B $(( $(date +%s%3N) - t0 )) ms after kill -9 of the leader"
echo "then 150 more writes while A is down (more than the snapshot threshold of 64)"
for i in $(seq 1 150); do
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $gtoken" "$apiC/v1/tokens" \
    -d '{"role":"clerk","region":"370102"}'
done

step "Restart A: it is behind the leader's snapshot, pulls the leader's store in chunks and swaps it in"
: >"$g/A.out"; grun A; apiA=$(gapi A)
digest() { curl -s -H "Authorization: Bearer $gtoken" "$1/v1/status?digest=1" |
  /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["state_digest"]; print(d["applied"], d["hash"][:16])' 2>/dev/null; }
for _ in $(seq 1 100); do
  [ -n "$(digest "$apiA")" ] && [ "$(digest "$apiA")" = "$(digest "$apiB")" ] && break
  sleep 0.2
done
{ grep -h 'TB-SNAPSHOT-INSTALLED' "$g/A.log" || echo "(no snapshot was needed)"; } | tail -1 | sed 's/^/  A: /'
for n in A B C; do u="api$n"; echo "  $n: applied index and state digest $(digest "${!u}")"; done
gstatus "$apiB"
gstop
echo "(the three 历下区 nodes are stopped; their directories are under $g)"
