# Sourced by ops/demo before its end: a cross-region handoff (跨域通办,
# docs/HANDOFF.md). 历下区 (370102) and 市南区 (370202), one-voter groups
# enrolled under the 370000 node's root (their cities enrolled, not run),
# linked as sideways peers, each with the example standard. A food-licence
# case received at 370102 is handed to 370202 (异地代收代办), accepted there
# by a clerk, and the result comes back to 370102. Needs tb, ex, node (the
# 370000 node's directory: its root, officer and release keys), work, step,
# show. The two nodes are stopped at the end.
h="$work/handoff"
mkdir -p "$h"
hpids=()
hstop() { local p; for p in "${hpids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${hpids[@]}"; do wait "$p" 2>/dev/null || true; done; hpids=(); }
hport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# hpy EXPR: prints EXPR (python, d = the JSON on stdin).
hpy() { /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null || echo "  (no answer)"; }

step "跨域通办: 历下区 (370102) and 市南区 (370202), two one-voter regions enrolled under 山东省's root"
# Region certificates down the tree: 370000 (by the root's officer), the two
# cities, the two counties; then each county node's certificate and chain.
hcert() { # hcert CODE ISSUER_CODE: the region certificate of CODE
  "$tb" keygen --out "$h/r$1.key" >/dev/null
  "$tb" cert request --region-key "$h/r$1.key" --region "$1" --out "$h/q$1.json" >/dev/null
  if [ -z "$2" ]; then
    "$tb" cert issue --key "$node/keys/officer.json" --root "$node/root.json" \
      --request "$h/q$1.json" --days 365 --out "$h/c$1.json" >/dev/null
  else
    "$tb" cert issue --key "$h/r$2.key" --issuer-cert "$h/c$2.json" \
      --request "$h/q$1.json" --days 365 --out "$h/c$1.json" >/dev/null
  fi
}
hcert 370000 "" && hcert 370100 370000 && hcert 370200 370000 &&
  hcert 370102 370100 && hcert 370202 370200
for code in 370102 370202; do
  port=$(hport); eval "HL$code=$port"
  out=$("$tb" init --dir "$h/$code" --region "$code" --api 127.0.0.1:0 \
    --link "127.0.0.1:$port" --root "$node/root.json" --json)
  eval "HT$code=$(printf '%s' "$out" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
  "$tb" cert request --dir "$h/$code" --out "$h/$code.req" >/dev/null
  "$tb" cert issue --key "$h/r$code.key" --issuer-cert "$h/c$code.json" \
    --request "$h/$code.req" --days 30 --out "$h/$code.cert" >/dev/null
  city=${code:0:4}00
  "$tb" cert install --dir "$h/$code" "$h/$code.cert" "$h/c$code.json" "$h/c$city.json" \
    "$h/c370000.json" >/dev/null
  "$tb" run --dir "$h/$code" >"$h/$code.out" 2>"$h/$code.log" & hpids+=($!)
  for _ in $(seq 1 200); do
    u=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$h/$code.out")
    [ -n "$u" ] && curl -sf "$u/readyz" >/dev/null && break
    sleep 0.05
  done
  eval "HA$code=$u"
  echo "$code: node at $u, link 127.0.0.1:$port, certificate chain $code <- $city <- 370000 <- root"
done
ht() { local a="HA$1" t="HT$1"; TONGBAN_API=${!a} TONGBAN_TOKEN=${!t} "$tb" "${@:2}"; }
hcurl() { local a="HA$1" t="HT$1"; curl -s -H "Authorization: Bearer ${!t}" "${@:3}" "${!a}$2"; }
lvl=3
cp "$ex/catalog-370000.json" "$h/rel1.json"
"$tb" sign --key "$node/keys/node.json" "$h/rel1.json" >/dev/null
for code in 370102 370202; do
  printf '$ tongban group features --set %s  (at %s: handoffs need level 3)\n' "$lvl" "$code"
  ht "$code" --json group features --set "$lvl" | hpy '"  feature_level %s" % d["feature_level"]' || true
done
for pair in 370102:370202 370202:370102; do
  at=${pair%%:*} peer=${pair##*:} l="HL${pair##*:}"
  printf '$ tongban region add-peer %s@tcp://127.0.0.1:%s  (at %s)\n' "$peer" "${!l}" "$at"
  ht "$at" --json region add-peer "$peer@tcp://127.0.0.1:${!l}" |
    hpy '"  peers: " + ", ".join(p["code"] for p in d["topology"]["peers"])' || true
done
for code in 370102 370202; do
  printf '$ tongban catalog publish rel1.json  (at %s: the example standard, signed by 山东省)\n' "$code"
  ht "$code" --json catalog publish "$h/rel1.json" >/dev/null && echo "  published" || true
done

step "A food-licence case received at 历下区 (its materials uploaded there), handed to 市南区 (异地代收代办)"
printf '$ tongban case submit ops/examples/case-food-license.json  (at 370102)\n'
hcase=$(ht 370102 --json case submit "$ex/case-food-license.json" --key demo-handoff-1 || true)
hid=$(printf '%s' "$hcase" | sed -n 's/.*"id":"\(370102-[^"]*\)".*/\1/p' | head -1)
echo "  -> $hid"
printf '$ tongban case handoff %s --to 370202 --mode 异地代收代办 --reason 经营地在市南区 --wait 10\n' "$hid"
ht 370102 --json case handoff "$hid" --to 370202 --mode 异地代收代办 --reason 经营地在市南区 --wait 10 |
  hpy '"  -> %s (the offer made at epoch %s), to %s" % (d.get("handoff", d)["state"], d.get("handoff", d)["epoch"], d.get("handoff", d).get("peer"))' || true
for code in 370102 370202; do
  printf '$ tongban handoff list  (at %s)\n' "$code"
  ht "$code" --json handoff list |
    hpy '"\n".join("  %s %s %s, peer %s, %s" % (x["case"], x["side"], x["state"], x["peer"], x.get("mode")) for x in d["handoffs"])' || true
done
printf '$ tongban case show %s  (at 370202)\n' "$hid"
ht 370202 --json case show "$hid" |
  hpy '"  owner %s, epoch %s, state %s, %d materials" % (d["owner"], d["epoch"], d["state"], len(d["materials"]))' || true

step "市南区 accepts the case (a clerk's action); the result comes back to 历下区"
clerk=$(hcurl 370202 /v1/tokens -X POST -d '{"role":"clerk","region":"370202","name":"市南区 window 1"}' |
  sed -n 's/.*"token":"\([^"]*\)".*/\1/p' || true)
printf '$ tongban case act %s accept --opinion 材料齐全，予以受理  (at 370202, a clerk token)\n' "$hid"
TONGBAN_API=$HA370202 TONGBAN_TOKEN=$clerk "$tb" --json case act "$hid" accept --opinion "材料齐全，予以受理" |
  hpy '"  -> %s, event %s at epoch %s" % (d["case"]["state"], d["event"]["body"]["seq"], d["event"]["body"]["epoch"])' || true
for _ in $(seq 1 100); do
  [ "$(hcurl 370102 "/v1/cases/$hid?local=1" | hpy 'd["state"]')" = accepted ] && break
  sleep 0.1
done
printf '$ curl %s/v1/cases/%s?local=1  (370102'"'"'s own copy)\n' "$HA370102" "$hid"
hcurl 370102 "/v1/cases/$hid?local=1" |
  hpy '"  owner %s, epoch %s, state %s, %d events (delivered back by the owner)" % (d["owner"], d["epoch"], d["state"], len(d["events"]))' || true
printf '$ curl %s/v1/cases/%s  (the applicant asks at 370102)\n' "$HA370102" "$hid"
hcurl 370102 "/v1/cases/$hid" |
  hpy '"  state %s, served_by %s" % (d["state"], d["served_by"]["region"])' || true
hstop
echo "(the two nodes are stopped; their directories are under $h)"
