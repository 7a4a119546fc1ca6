#!/usr/bin/env bash
# The 'region' verb: lookups in the built-in table, JSON, children, errors.
. "$(dirname "$0")/lib.sh"
tb=$TB_BUILD/tongban
arrow=$(printf '\xe2\x86\x90')

run "$tb" region 370102
is "$rc" 0 "a known county exits 0"
is "$out" "370102 历下区 county $arrow 370100 济南市 city $arrow 370000 山东省 province" \
  "prints the region and its ancestors"

run "$tb" region 419001
is "$out" "419001 济源市 county $arrow 419000 河南省-省直辖县级行政区划 group $arrow 410000 河南省 province" \
  "a directly administered county sits under its group, not a city"

run "$tb" region 110101
is "$out" "110101 东城区 county $arrow 110000 北京市 province" \
  "a Beijing district's parent is the province (from the table)"

run "$tb" region 370102000000
is "$rc" 0 "a 12-digit platform code is accepted"
like "$out" "370102 历下区 county" "and normalised"

run "$tb" region 370000
is "$out" "370000 山东省 province" "a province has no ancestors"

run "$tb" region 370102 --json
is "$rc" 0 "--json exits 0"
is "$out" '{"code":"370102","name":"历下区","level":"county","tier":4,"parent":"370100","ancestors":[{"code":"370100","name":"济南市","level":"city","tier":3},{"code":"370000","name":"山东省","level":"province","tier":2}],"children":0}' \
  "--json prints the object with ancestors nearest first"

run "$tb" region --json 370000
like "$out" '"parent":null' "options may come first; a province's parent is null"
like "$out" '"children":16' "and it counts 16 children"
like "$out" '"ancestors":[]' "and has no ancestors"

run "$tb" region 419000 --json
like "$out" '"level":"group","tier":3' "a group is tier 3"

run "$tb" region 370100 --children
is "$rc" 0 "--children exits 0"
is "$(printf '%s\n' "$out" | wc -l)" 12 "370100 has 12 children"
is "$(printf '%s\n' "$out" | head -1)" "370102 历下区 county" "in code order"

run "$tb" region 370102 --children
is "$rc" 0 "a county's empty child list exits 0"
is "$out" "" "and prints nothing"

run "$tb" region 110000 --children --json
is "$rc" 0 "--children --json exits 0"
like "$out" '[{"code":"110101","name":"东城区","level":"county","tier":4},' \
  "--children --json prints an array"
if command -v jq >/dev/null; then
  is "$(printf '%s' "$out" | jq length)" 16 "Beijing has 16 children"
fi

run "$tb" region 999999
is "$rc" 1 "an unknown code exits 1"
is "$err" "tongban region: 999999: no such region in GB/T 2260 table" \
  "and says so"
is "$out" "" "nothing on stdout"

for bad in 12345 3701020 37a102 000000 370102001001; do
  run "$tb" region "$bad"
  is "$rc" 1 "malformed code $bad exits 1"
  like "$err" "tongban region: $bad: " "and names it"
done
run "$tb" region 12345
like "$err" "must be 6 digits" "with the reason"

run "$tb" region stauts
is "$rc $err" "2 tongban region: stauts: a code has only the digits 0-9 (and not a verb: set-parent, add-peer, remove-peer, status)" \
  "a mistyped verb is a usage error that lists the verbs"

run "$tb" region
is "$rc" 2 "no code is a usage error"
like "$err" "usage: tongban region CODE" "and prints usage"
run "$tb" region 370102 370100
is "$rc" 2 "two codes are a usage error"
like "$err" "unexpected argument '370100'" "naming the extra one"
run "$tb" region 370102 --frob
is "$rc" 2 "an unknown option is a usage error"
like "$err" "unknown option '--frob'" "naming it"
run "$tb" region --help
is "$rc" 0 "--help exits 0"
like "$out" "usage: tongban region" "and prints usage on stdout"
done_testing
