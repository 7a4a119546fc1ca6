#!/usr/bin/env bash
# The handoff protocol's Promela model (tests/model/handoff.pml), verified by
# spin: never two owners, never a lost case, and once quiet exactly one owner
# that the receiving region knows. The naive variant (the target owns as soon
# as it accepts) must fail, so the checker is known to bite. CI: up to 2
# losses and 1 duplicate; TB_LONG=1 adds larger budgets.
. "$(dirname "$0")/lib.sh"
command -v spin >/dev/null || { echo "not ok 1 - spin is not installed (ops/setup installs it)"; echo 1..1; exit 1; }
cc=$(command -v cc || command -v clang)
cp "$(dirname "$0")/model/handoff.pml" "$T/"
cd "$T" || exit 1

# verify [SPIN -D options...]: generates, compiles and runs the verifier.
verify() {
  rm -f pan pan.* handoff.pml.trail
  run spin "$@" -a handoff.pml
  [ "$rc" -eq 0 ] || { echo "# spin -a: $err"; return; }
  run "$cc" -O2 -DSAFETY -DMEMLIM=2048 -o pan pan.c
  [ "$rc" -eq 0 ] || { echo "# cc: $err"; return; }
  run ./pan -m2000000
}

budgets=("-DLOSS=2 -DDUPS=1")
[ "${TB_LONG:-0}" = 1 ] && budgets+=("-DLOSS=3 -DDUPS=2" "-DLOSS=4 -DDUPS=2" "-DLOSS=5 -DDUPS=3")
for b in "${budgets[@]}"; do
  # shellcheck disable=SC2086
  verify $b
  like "$out" "errors: 0" "$b: no assertion fails in any reachable state"
  unlike "$out" "max search depth too small" "$b: the search was complete"
  states=$(printf '%s\n' "$out" | sed -n 's/^ *\([0-9]*\) states, stored/\1/p')
  echo "# $b: $states states"
done

verify -DNAIVE
like "$out" "assertion violated" "the naive protocol (owner on accept, admin abort) is refuted"
like "$out" "errors: 1" "  with one counterexample"
run spin -DNAIVE -t -p -g handoff.pml
like "$out" "b = 2" "  whose trail makes the target an owner"
like "$out" "a = 3" "  while the source aborts and owns again"
done_testing
