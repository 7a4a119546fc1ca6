# Helpers for tests of links between real nodes (sourced after lib.sh and
# node_lib.sh):
# init_node NAME REGION [ROOT]  inits $T/NAME with a link on a free port
#                               (optionally under ROOT's province); sets
#                               TOKEN_NAME and ID_NAME
# link_url NAME                 NAME's link URL, from its start line
# wait_for SECONDS CMD...       runs CMD every 0.1 s until it succeeds
init_node() {
  local name=$1 region=$2 root=${3:-} out
  out=$("$TB" init --dir "$T/$name" --region "$region" --api 127.0.0.1:0 \
    --link 127.0.0.1:0 ${root:+--root "$root"} --json) || return 1
  printf -v "TOKEN_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
  printf -v "ID_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')"
}
link_url() { sed -n 's/.*"link":"\([^"]*\)".*/\1/p' "$T/$1.out"; }
wait_for() {
  local end=$((SECONDS + $1))
  shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}
