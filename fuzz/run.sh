#!/usr/bin/env bash
# Run every libFuzzer target of a build, printing TAP (one point per target).
# Usage: fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]
#
# For each BUILD_DIR/fuzz/fuzz_NAME it first replays fuzz/regress/fuzz_NAME/*
# (inputs that once crashed it) and fuzz/corpus/fuzz_NAME/* as plain inputs,
# then fuzzes for SECONDS over a temporary copy of the corpus, so the
# checked-in seeds never change behind anyone's back. A target passes if
# both runs exit 0. New crashers are copied to BUILD_DIR/fuzz/artifacts/
# and named in the output: move the ones that matter to fuzz/regress/.
set -u
build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]}
secs=${2:-5}
src=$(cd "$(dirname "$0")/.." && pwd)
export TB_SRC=$src
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
opts=(-rss_limit_mb=2048 -timeout=10)

shopt -s nullglob
bins=()
for b in "$build"/fuzz/fuzz_*; do
  [ -f "$b" ] && [ -x "$b" ] && bins+=("$b")
done
if [ "${#bins[@]}" -eq 0 ]; then
  echo "1..0 # SKIP no fuzz targets in $build/fuzz (build with -DTB_FUZZ=ON)"
  exit 0
fi

# Every target in fuzz/ must have been built: one missing is a failure,
# not a silent skip.
missing=0
for c in "$src"/fuzz/fuzz_*.c; do
  name=$(basename "$c" .c)
  if [ ! -x "$build/fuzz/$name" ]; then
    echo "not ok - $name: fuzz/$name.c has no binary in $build/fuzz"
    missing=$((missing + 1))
  fi
done
[ "$missing" -eq 0 ] || { echo "1..0 # $missing target(s) not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tongban-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
for bin in "${bins[@]}"; do
  name=$(basename "$bin")
  n=$((n + 1))
  work=$tmp/$name
  mkdir -p "$work/corpus" "$work/artifacts"
  inputs=("$src/fuzz/regress/$name"/* "$src/fuzz/corpus/$name"/*)
  for f in "$src/fuzz/corpus/$name"/*; do cp "$f" "$work/corpus/"; done
  rc=0
  if [ "${#inputs[@]}" -gt 0 ]; then
    "$bin" "${opts[@]}" "${inputs[@]}" >"$work/replay.log" 2>&1 || rc=$?
  fi
  if [ "$rc" -eq 0 ] && [ "$secs" -gt 0 ]; then
    "$bin" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "$work/corpus" \
      >"$work/fuzz.log" 2>&1 || rc=$?
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" 2>/dev/null)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/fuzz.log" 2>/dev/null)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$work/fuzz.log" 2>/dev/null | tail -1)
  cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$done_line" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
  summary="replayed ${#inputs[@]} inputs, fuzzed ${secs}s: ${execs:-0} execs, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, rss ${rss:-?} MB"
  if [ "$rc" -eq 0 ]; then
    echo "ok $n - $name: $summary"
  else
    fail=$((fail + 1))
    echo "not ok $n - $name (exit $rc): $summary"
    for log in "$work/replay.log" "$work/fuzz.log"; do
      [ -f "$log" ] && grep -vE '^#[0-9]+ ' "$log" | tail -40 | sed 's/^/# /'
    done
    keep=$build/fuzz/artifacts/$name
    for a in "$work"/artifacts/*; do
      mkdir -p "$keep"
      cp "$a" "$keep/"
      echo "# crasher kept: $keep/$(basename "$a")"
    done
  fi
done
echo "1..$n"
[ "$fail" -eq 0 ]
