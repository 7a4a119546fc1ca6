#!/usr/bin/env bash
# libFuzzer targets: replay fuzz/regress and fuzz/corpus, then fuzz every
# target briefly (5 s each; 60 s with TB_LONG=1, as `ops/test --long` sets).
set -u
: "${TB_BUILD:?TB_BUILD must name the build directory (ops/test sets it)}"
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${TB_FUZZ_SECONDS:-5}
if [ "${TB_LONG:-0}" = 1 ]; then
  secs=${TB_FUZZ_SECONDS:-60}
fi
exec "$here/fuzz/run.sh" "$TB_BUILD" "$secs"
