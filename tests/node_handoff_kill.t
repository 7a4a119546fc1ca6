#!/usr/bin/env bash
# Handoffs under kill -9 (issue 7), with real processes: 历下区 (370102)
# and 市南区 (370202), one-voter groups linked as sideways peers. Each round
# receives a case with three materials at 370102 and hands it to 370202 while
# one side dies:
#   - at a step: the victim runs with TB_FAULT_HANDOFF_EXIT=STEP and exits
#     (status 9, like a kill -9: nothing after the commit runs) right after
#     the apply of that step is durable, before any frame is sent: the
#     source after offer or transfer, the target after prepare or own;
#   - at a random instant: kill -9 of a random side 0-60 ms after the offer.
# The victim is restarted; then, checked every round: exactly one owner
# (370202 owns at epoch 2, 370102 keeps a tombstone naming it, neither
# frozen), the case identical at both ends (state, version, events with
# their (epoch, seq), no event duplicated or missing), the materials at the
# owner byte for byte, and the receiving region's query answered by the
# owner. 20 rounds (200 with TB_LONG=1); the round's seed is printed so a
# failing round can be replayed (TB_SEED).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
. "$(dirname "$0")/region_lib.sh"
cd "$T"
rounds=20 bound=300
[ "${TB_LONG:-0}" = 1 ] && rounds=200 bound=2400
seed=${TB_SEED:-$(date +%s)}
RANDOM=$seed
echo "# seed $seed (TB_SEED=$seed replays the choices)"
# Bounded (a hang is a failure, not a stuck CI); on failure or a hang the
# nodes' log tails are printed.
group_bound "$bound" A B
py=/usr/bin/python3

region_node P 370000 && region_node C 370100 P && region_node C2 370200 P &&
  region_node A 370102 C noparent && region_node B 370202 C2 noparent
is "$?" 0 "enrol 370102 and 370202"
node_start A && node_start B
is "$?" 0 "both nodes start"
for n in A B; do
  api "$n" POST /v1/group/features -d '{"level":3}'
  is "$code" 201 "feature level 3 at $n"
done
api A POST /v1/region/peers -d "{\"code\":\"370202\",\"url\":\"tcp://127.0.0.1:$LINK_B\"}"
is "$code" 201 "370102 adds 370202 as a peer"
api B POST /v1/region/peers -d "{\"code\":\"370102\",\"url\":\"tcp://127.0.0.1:$LINK_A\"}"
is "$code" 201 "370202 adds 370102 as a peer"
cp "$TB_SRC/ops/examples/catalog-370000.json" rel1.json &&
  "$TB" sign --key "$T/P/keys/node.json" rel1.json
for n in A B; do
  api "$n" POST /v1/catalog/releases --data-binary @rel1.json
  is "$code" 201 "the example standard published at $n"
done

# new_case ROUND: a food-licence case with two materials received at A;
# prints its id; the materials' hashes go to mats.ROUND.
new_case() {
  local r=$1 hs=() m
  for m in M01 M03 M04; do
    head -c $((1000 + RANDOM)) /dev/urandom >"m$r.$m"
    api A PUT /v1/blobs --data-binary @"m$r.$m"
    hs+=("$(jq_get 'd["hash"]')")
  done
  printf '%s %s %s\n' "${hs[@]}" >"mats.$r"
  $py - "${hs[@]}" >"case.$r.json" <<'PY'
import json, sys
h1, h3, h4 = sys.argv[1:4]
print(json.dumps({"matter": "000117001000#01",
  "applicant": {"name": "王五", "id_type": "resident_id",
                "id_number": "370102198805054320", "phone": "13800000000"},
  "form": {"applicant_name": "王五", "id_number": "370102198805054320",
           "phone": "13800000000", "operator_name": "王五小吃",
           "operating_address": "青岛市市南区香港中路10号",
           "main_format": "餐饮服务经营者", "business_items": "热食类食品制售",
           "food_safety_manager": "王五"},
  "materials": [{"code": "M01", "hash": h1, "size": 1},
                {"code": "M03", "hash": h3, "size": 1},
                {"code": "M04", "hash": h4, "size": 1}],
  "channel": "2"}, ensure_ascii=False))
PY
  api A POST /v1/cases --data-binary @"case.$r.json"
  [ "$code" = 201 ] || { echo "# case.create: $code ${body:0:300}" >&2; return 1; }
  jq_get 'd["case"]["id"] if "case" in d else d["id"]'
}

# done_at CASE: the source's record is transferred and the target's owned.
done_at() {
  api A GET "/v1/handoffs/$1"
  [ "$code" = 200 ] &&
    [ "$(jq_get 'd["handoffs"][-1]["state"]')" = transferred ] || return 1
  api B GET "/v1/handoffs/$1"
  [ "$code" = 200 ] && [ "$(jq_get 'd["handoffs"][-1]["state"]')" = owned ]
}

# check ROUND CASE WHAT: the invariants after a round (one "ok" each).
check() {
  local r=$1 id=$2 what=$3 a b h1 h3 h4 bad=""
  api A GET "/v1/cases/$id?local=1"
  a=$body
  api B GET "/v1/cases/$id?local=1"
  b=$body
  # One owner: 370202 at epoch 2, a tombstone at 370102, nothing frozen.
  bad+=$($py - "$a" "$b" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = []
if a.get("owner") != "370202" or a.get("frozen"):
    out.append("source: owner %r frozen %r" % (a.get("owner"), a.get("frozen")))
if b.get("owner") != "370202" or b.get("frozen") or b.get("epoch") != 2:
    out.append("target: owner %r frozen %r epoch %r" % (b.get("owner"), b.get("frozen"), b.get("epoch")))
for k in ("state", "version", "matter", "applicant", "form", "materials", "last_event"):
    if a.get(k) != b.get(k):
        out.append("%s differs: %r vs %r" % (k, a.get(k), b.get(k)))
ev = lambda d: [(e["body"]["epoch"], e["body"]["seq"], e["at"], json.dumps(e["body"], sort_keys=True)) for e in d.get("events", [])]
if ev(a) != ev(b):
    out.append("events differ: %d vs %d" % (len(ev(a)), len(ev(b))))
keys = [(e[0], e[1]) for e in ev(b)]
if keys != sorted(set(keys)) or [k[1] for k in keys] != list(range(1, len(keys) + 1)):
    out.append("events not one each in order: %r" % keys)
print(" ".join(out), end="")
PY
)
  read -r h1 h3 h4 <"mats.$r"
  for h in "$h1:M01" "$h3:M03" "$h4:M04"; do
    curl -s -o "got.$r" -H "Authorization: Bearer $TOKEN_B" \
      "$API_B/v1/blobs/${h%%:*}"
    cmp -s "got.$r" "m$r.${h##*:}" || bad+=" material ${h##*:} missing or different at the owner"
  done
  # The applicant asks at the receiving region: answered by the owner.
  api A GET "/v1/cases/$id"
  [ "$code $(jq_get 'd.get("served_by", {}).get("region")')" = "200 370202" ] ||
    bad+=" the query at 370102: $code ${body:0:200}"
  is "$bad" "" "round $r ($what): one owner, same case and events, materials, query at 370102"
}

steps=("A offer" "B prepare" "A transfer" "B own")
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then
    s=${steps[$(((r / 2) % 4))]}
    victim=${s% *} step=${s#* }
    what="$victim exits at $step"
    node_kill "$victim" TERM
    TB_FAULT_HANDOFF_EXIT=$step node_start "$victim" || break
  else
    victim=$([ $((RANDOM % 2)) = 0 ] && echo A || echo B)
    delay=$((RANDOM % 60))
    what="kill -9 $victim ${delay}ms after the offer"
  fi
  id=$(new_case "$r") || { ok 1 "round $r: a case received"; break; }
  api A POST "/v1/cases/$id/handoff" -d '{"to":"370202","mode":"异地代收代办","reason":"经营地在市南区"}'
  # A source that exits at the offer's commit answers nothing (000): the
  # offer is durable all the same, and goes on after the restart.
  [ "$code" = 202 ] || [ "$code:$what" = "000:A exits at offer" ] ||
    { is "$code ${body:0:200}" 202 "round $r: offer"; break; }
  pv="PID_$victim"
  if [ -n "${delay:-}" ] && [[ $what == kill* ]]; then
    sleep "0.0$(printf '%02d' "$delay")"
    kill -9 "${!pv}" 2>/dev/null
    { wait "${!pv}"; } 2>/dev/null # reaped here: no "Killed" line
  fi
  # The victim dies (by itself at the step, or by the kill): wait for it.
  for i in $(seq 1 200); do kill -0 "${!pv}" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "${!pv}" 2>/dev/null; then
    is "alive" "dead" "round $r: $what: the victim never reached the step"
    break
  fi
  { wait "${!pv}"; } 2>/dev/null
  : >"$T/$victim.out"
  node_start "$victim" || { ok 1 "round $r: $victim restarts"; break; }
  wait_for 30 done_at "$id" ||
    { is "$(jq_get 'd')" "transferred/owned" "round $r ($what): the handoff completes"; break; }
  check "$r" "$id" "$what"
  unset delay
done
_done=1
done_testing
