#!/usr/bin/env bash
# The 'deadline' verb: due dates on the 2026 calendar, its JSON output, a
# broken calendar file (exit 1) and usage errors (exit 2).
. "$(dirname "$0")/lib.sh"
tb=$TB_BUILD/tongban
cal=$TB_SRC/ops/examples/calendar-2026.json

# Feb 13 + 20 working days: 14 Sat worked(1), 15-23 春节, 24-28(6),
# Mar 2-6(11), 9-13(16), 16-19(20).
run "$tb" deadline --calendar "$cal" --from 2026-02-13 --days 20 --unit G
is "$rc" 0 "G across the Spring Festival exits 0"
is "$out" "2026-03-19" "and prints the due date"
is "$err" "" "and nothing on stderr"

# Feb 10 + 5 calendar days ends Sunday Feb 15, inside 春节: moves to Feb 24.
run "$tb" deadline --calendar "$cal" --from 2026-02-10 --days 5 --unit Z
is "$out" "2026-02-24" "Z ending on a holiday moves to the next working day"

# Oct 8 + 3 G with Oct 9-10 paused: 11 Sun, 12(1) 13(2) 14(3).
run "$tb" deadline --calendar "$cal" --from 2026-10-08 --days 3 --unit G \
  --pause 2026-10-09:2026-10-10
is "$out" "2026-10-14" "a pause stops the clock on both of its ends"

run "$tb" deadline --calendar "$cal" --from 2026-03-02 --days 5 --unit G \
  --pause 2026-03-03:2026-03-05 --pause 2026-03-04:2026-03-06 --json
is "$rc" 0 "--json exits 0"
is "$out" '{"due":"2026-03-13","from":"2026-03-02","days":5,"unit":"G","paused_days":4}' \
  "--json prints one object; overlapping pauses count each day once"

run "$tb" deadline --json --unit Z --days 10 --from 2026-09-30 --calendar "$cal"
is "$out" '{"due":"2026-10-10","from":"2026-09-30","days":10,"unit":"Z","paused_days":0}' \
  "options in any order; Z ending on a make-up Saturday stays"

# Beyond the calendar: Dec 28 + 4 G needs 2027-01-01.
run "$tb" deadline --calendar "$cal" --from 2026-12-28 --days 4 --unit G
is "$rc" 1 "beyond the calendar exits 1"
is "$out" "" "and prints no date"
is "$err" "$cal: \$.years: 2027-01-01 is beyond the calendar (covers 2026)" \
  "and says which day is missing"
run "$tb" deadline --calendar "$cal" --from 2025-12-31 --days 1 --unit Z --json
is "$rc" 1 "a start before the calendar exits 1"
is "$out" "{\"valid\":false,\"errors\":[{\"file\":\"$cal\",\"path\":\"\$.years\",\"code\":\"beyond_calendar\",\"reason\":\"2025-12-31 is beyond the calendar (covers 2026)\"}]}" \
  "--json error document"

# A broken calendar: a Monday listed as a make-up day, a range backwards.
cat >"$T/bad.json" <<'JSON'
{
  "format": "tongban.calendar/1",
  "years": [2026],
  "days_off": [{"from": "2026-01-03", "to": "2026-01-01", "name": "元旦"}],
  "workdays": [{"date": "2026-01-05", "name": "typo"}]
}
JSON
run "$tb" deadline --calendar "$T/bad.json" --from 2026-03-02 --days 5 --unit G
is "$rc" 1 "a broken calendar exits 1"
is "$out" "" "and prints no date"
is "$err" "$T/bad.json: \$.days_off[0].to: to 2026-01-01 is before from 2026-01-03
$T/bad.json: \$.workdays[0].date: 2026-01-05 is a Monday; make-up workdays fall on weekends" \
  "one line per problem: file, path, reason"
run "$tb" deadline --calendar "$T/bad.json" --from 2026-03-02 --days 5 --unit G --json
is "$rc" 1 "--json on a broken calendar exits 1"
like "$out" '{"valid":false,"errors":[{"file":"' "--json error document"
like "$out" '"path":"$.workdays[0].date","code":"invalid","reason":"2026-01-05 is a Monday; make-up workdays fall on weekends"}' \
  "--json names path, code and reason"
like "$out" '"path":"$.days_off[0].to","code":"invalid"' "--json lists every problem"

printf '{"format": "tongban.calendar/1",\n "years": [2026,]}' >"$T/syntax.json"
run "$tb" deadline --calendar "$T/syntax.json" --from 2026-03-02 --days 5 --unit G
is "$rc" 1 "a JSON syntax error exits 1"
like "$err" "$T/syntax.json: line 2 column " "and names file, line and column"
run "$tb" deadline --calendar "$T/syntax.json" --from 2026-03-02 --days 5 --unit G --json
like "$out" '"path":"$","code":"malformed","reason":"line 2 column' "--json syntax error"

printf '{"format": "tongban.calendar/1", "format": "x"}' >"$T/dup.json"
run "$tb" deadline --calendar "$T/dup.json" --from 2026-03-02 --days 5 --unit G
is "$rc" 1 "duplicate keys exit 1"
like "$err" "duplicate object key" "and say so"

run "$tb" deadline --calendar "$T/missing.json" --from 2026-03-02 --days 5 --unit G
is "$rc" 1 "a missing file exits 1"
like "$err" "$T/missing.json: No such file" "and says so"

# A calendar published as a feed (docs/CALENDAR.md) carries the province's
# "region" and its "version": the same file counts the same days.
cal27=$TB_SRC/ops/examples/calendar-2027.json
run "$tb" deadline --calendar "$cal27" --from 2027-01-04 --days 30 --unit G
is "$rc" 0 "a published calendar (region, version) is accepted"
is "$out" "2027-02-22" "and counts its days (the example: 春节 02-05..13 off, Sunday 02-14 worked)"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("region"); d.pop("version"); json.dump(d,open(sys.argv[2],"w"))' "$cal27" "$T/plain27.json"
run "$tb" deadline --calendar "$T/plain27.json" --from 2027-01-04 --days 30 --unit G
is "$out" "2027-02-22" "the same days without region and version"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["region"]="37"; d["version"]=0; json.dump(d,open(sys.argv[2],"w"))' "$cal27" "$T/badfeed.json"
run "$tb" deadline --calendar "$T/badfeed.json" --from 2027-01-04 --days 30 --unit G
is "$rc" 1 "a bad region or version exits 1"
is "$err" "$T/badfeed.json: \$.region: region must be a six-digit region code
$T/badfeed.json: \$.version: version must be an integer >= 1" "and names both fields"

# Usage errors: exit 2, what is wrong, and the usage line.
usage() {
  run "$tb" deadline "$@"
  is "$rc" 2 "usage error: $*"
  like "$err" "tongban deadline: $want" "  says: $want"
  like "$err" "usage: tongban deadline --calendar FILE" "  shows the usage"
}
want="--calendar is required"; usage --from 2026-03-02 --days 5 --unit G
want="--from is required"; usage --calendar "$cal" --days 5 --unit G
want="--days is required"; usage --calendar "$cal" --from 2026-03-02 --unit G
want="--unit is required"; usage --calendar "$cal" --from 2026-03-02 --days 5
want="unknown option '--frob'"; usage --calendar "$cal" --frob
want="unexpected argument 'extra'"; usage extra
want="--days needs a value"; usage --calendar "$cal" --days
want="--days 'five' is not a whole number"; usage --calendar "$cal" --days five
want="--days '5x' is not a whole number"; usage --calendar "$cal" --days 5x
want="--days must be ≥ 1, not 0"; usage --calendar "$cal" --days 0
want="--days must be ≥ 1, not -3"; usage --calendar "$cal" --days -3
want="--days must be ≤ 3660, not 3661"; usage --calendar "$cal" --days 3661
want="--days must be ≤ 3660, not 99999999999999999999"
usage --calendar "$cal" --days 99999999999999999999
want="--days given twice"; usage --days 1 --days 2
want="--unit must be G (working days) or Z (calendar days), not 'g'"
usage --unit g
want="--from '2026-02-30' is not a real date"; usage --from 2026-02-30
want="--from '2026-3-2' is not in YYYY-MM-DD form"; usage --from 2026-3-2
want="--pause '2026-03-02' is not FROM:TO"; usage --pause 2026-03-02
want="--pause '2026-03-02:2026-03-04:2026-03-05' is not FROM:TO"
usage --pause 2026-03-02:2026-03-04:2026-03-05
want="--pause '2026-03-02:2026-02-30': '2026-02-30' is not a real date"
usage --pause 2026-03-02:2026-02-30
want="--pause '2026-03-05:2026-03-01' ends before it starts"
usage --pause 2026-03-05:2026-03-01

run "$tb" deadline --help
is "$rc" 0 "--help exits 0"
like "$out" "usage: tongban deadline" "and prints the usage on stdout"
done_testing
