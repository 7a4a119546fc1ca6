# TAP helpers for shell tests (sourced). Every test gets a temporary
# directory that is removed on exit, and a bounded run time.
set -u
: "${TB_BUILD:?TB_BUILD must name the build directory (ops/test sets it)}"
TB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/tongban-test.XXXXXX")
_tap_n=0
_tap_fail=0
# TB_KEEP=DIR keeps a copy of the temporary directory of a failed test.
_keep() {
  [ -n "${TB_KEEP:-}" ] && [ "$_tap_fail" -gt 0 ] && cp -r "$T" "$TB_KEEP" &&
    echo "# kept $T in $TB_KEEP"
  return 0
}
_cleanup() { _keep; rm -rf "$T"; }
trap _cleanup EXIT

# run CMD...: runs it with a 60 s bound, capturing out, err and rc.
run() {
  set +e
  timeout 60 "$@" >"$T/.out" 2>"$T/.err"
  rc=$?
  set -e
  out=$(cat "$T/.out")
  err=$(cat "$T/.err")
  set +e
}
ok() {
  _tap_n=$((_tap_n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"; else
    echo "not ok $_tap_n - $2"; _tap_fail=$((_tap_fail + 1)); fi
}
is() {
  if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"
    echo "#   got: '$1'"; echo "#   expected: '$2'"; fi
}
like() {
  case "$1" in *"$2"*) ok 0 "$3" ;; *) ok 1 "$3"
    echo "#   got: '$1'" | head -20; echo "#   expected to contain: '$2'" ;; esac
}
unlike() {
  case "$1" in *"$2"*) ok 1 "$3"; echo "#   got: '$1'" | head -20 ;;
    *) ok 0 "$3" ;; esac
}
done_testing() {
  echo "1..$_tap_n"
  [ "$_tap_fail" -eq 0 ]
  exit $?
}
