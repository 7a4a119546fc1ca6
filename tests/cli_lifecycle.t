#!/usr/bin/env bash
# The 'lifecycle' verb: text, JSON and Markdown views of the case table,
# and docs/LIFECYCLE.md kept identical to the generated Markdown.
. "$(dirname "$0")/lib.sh"
tb=$TB_BUILD/tongban
py=/usr/bin/python3

run "$tb" lifecycle
is "$rc" 0 "plain lifecycle exits 0"
like "$out" "send_back" "text lists send_back"
like "$out" "decision -> approved" "text shows decision -> approved"
like "$out" "region_admin" "text shows roles"

run "$tb" lifecycle --json
is "$rc" 0 "--json exits 0"
printf '%s' "$out" >"$T/lc.json"
$py -c 'import json,sys; json.load(sys.stdin)' <"$T/lc.json"
ok $? "--json parses"
# Spot checks on the structure other tools rely on.
$py - "$T/lc.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
st = {s["name"]: s for s in d["states"]}
ac = {a["name"]: a for a in d["actions"]}
assert len(st) == 14 and len(ac) == 15, (len(st), len(ac))
assert st["suspended"]["clock_stopped"] and not st["handling"]["clock_stopped"]
assert st["not_accepted"]["final"] and st["not_accepted"]["actions"] == []
assert st["approved"]["completion_code"] == 0
assert st["received"]["completion_code"] is None
assert ac["accept"]["step_code"] == 4 and ac["send_back"]["step_code"] == 7
assert ac["void"]["roles"] == ["region_admin"]
assert ac["send_back"]["destination"] == "target"
assert ac["resume"]["destination"] == "pre_suspension"
sb = {t["from"]: t["to"] for t in ac["send_back"]["transitions"]}
assert sb == {"handling": ["accepted"], "review": ["handling", "accepted"],
              "decision": ["review", "handling", "accepted"]}, sb
assert "suspended" not in ac["suspend"]["from"]
assert set(ac["withdraw"]["from"]) == {n for n, s in st.items() if not s["final"]}
PY
ok $? "--json carries states, codes, roles and send_back targets"

run "$tb" lifecycle --markdown
is "$rc" 0 "--markdown exits 0"
md=$out
like "$md" '| `resume` |' "markdown has a resume row"
doc="$TB_SRC/docs/LIFECYCLE.md"
block=$(sed -n '/^<!-- lifecycle:begin -->$/,/^<!-- lifecycle:end -->$/p' "$doc" |
  sed '1d;$d')
[ -n "$block" ]
ok $? "docs/LIFECYCLE.md has the lifecycle block"
if [ "$block" = "$md" ]; then ok 0 "docs/LIFECYCLE.md matches --markdown"
else
  ok 1 "docs/LIFECYCLE.md matches --markdown (regenerate the block)"
  diff <(printf '%s\n' "$block") <(printf '%s\n' "$md") | sed 's/^/#   /' | head -20
fi

run "$tb" lifecycle --bogus
is "$rc" 2 "unknown option exits 2"
like "$err" "unknown option '--bogus'" "and names it"
is "$out" "" "nothing on stdout"
run "$tb" lifecycle --json --markdown
is "$rc" 2 "two formats is a usage error"
run "$tb" lifecycle --help
is "$rc" 0 "--help exits 0"
like "$out" "usage: tongban lifecycle" "and prints usage"
done_testing
