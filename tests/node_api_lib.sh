# Helpers for the HTTP API tests (tests/node_api*.t, node_tokens.t,
# node_cases.t), sourced after lib.sh and node_lib.sh.
#
# watchdog SECS          bail out (and kill the nodes) if the test runs longer
# node_stop NAME         SIGTERM, wait (bounded); stop_rc is the exit code
# api_as TOKEN NAME ...  `api` with another bearer token
# fp NAME [CASE]         what a refused request must not change
# refused DESC STATUS CODE FIELD [CASE] -- NAME METHOD PATH [curl args]
#                        the request gets STATUS and error CODE at FIELD ("-":
#                        no field) and nothing changes (3 test points)
# err_of                 "CODE FIELD" of the error in $body
# b2 FILE                BLAKE2b-256 of a file (hex), computed by Python
# mkbodies DIR H1 H3 H4 HSS   writes DIR/food.json and DIR/birth.json
# variant IN 'PY' OUT    a copy of JSON file IN with Python statement PY
#                        applied to it (as d)
# clock_shim             builds $T/skew.so, an LD_PRELOAD library that adds
#                        $TB_TEST_CLOCK_SKEW seconds to CLOCK_REALTIME
# skew_to TIME           the skew (seconds) that makes now TIME (date -d)
PY=/usr/bin/python3

# Every curl is bounded: node_lib's `api` runs plain curl, which reads
# $CURL_HOME/.curlrc.
export CURL_HOME=$T
printf 'max-time = 60\nconnect-timeout = 5\n' >"$T/.curlrc"

_watchdog_pid=
watchdog() {
  local me=$$
  trap 'echo "Bail out! the test ran over its time limit"; exit 1' USR1
  (sleep "$1" && kill -USR1 "$me") >/dev/null 2>&1 &
  _watchdog_pid=$!
}
_api_cleanup() {
  [ -n "$_watchdog_pid" ] && kill "$_watchdog_pid" 2>/dev/null
  _node_cleanup
}
trap _api_cleanup EXIT

node_stop() {
  local pidvar="PID_$1" guard
  kill -TERM "${!pidvar}" 2>/dev/null
  (sleep 20 && kill -9 "${!pidvar}") >/dev/null 2>&1 &
  guard=$!
  wait "${!pidvar}" 2>/dev/null
  stop_rc=$?
  kill "$guard" 2>/dev/null
  wait "$guard" 2>/dev/null
  if [ "$stop_rc" -ne 0 ]; then
    echo "# node $1 exited with $stop_rc; the end of its log:"
    tail -30 "$T/$1.log" | sed 's/^/#   /'
  fi
  return 0
}

api_as() {
  local tok=$1
  shift
  TOKEN_OVERRIDE=$tok api "$@"
}

# fp prints the fingerprint; with FP_ERR=1 a second line, err_of's.
fp() {
  local name=$1 portvar="PORT_$1" tokvar="TOKEN_$1" s c=null
  s=$(curl -s -H "Authorization: Bearer ${!tokvar}" \
    "http://127.0.0.1:${!portvar}/v1/status")
  if [ -n "${2:-}" ]; then
    c=$(curl -s -H "Authorization: Bearer ${!tokvar}" \
      "http://127.0.0.1:${!portvar}/v1/cases/$2")
  fi
  printf '%s\n%s\n' "$s" "$c" | FP_BODY=${body:-} $PY -c '
import json, os, sys
s, c = [json.loads(l) for l in sys.stdin.read().split("\n")[:2]]
keep = {k: s.get(k) for k in ("cases", "events", "catalog", "last_at")}
if isinstance(c, dict):
    for k in ("today", "clock", "warn", "overdue"):
        c.pop(k, None)
print(json.dumps([keep, c], sort_keys=True, ensure_ascii=False))
if os.environ.get("FP_ERR"):
    try:
        e = json.loads(os.environ["FP_BODY"])["error"]
        print(e["code"], e.get("field") or "-")
    except Exception:
        print("(not a JSON error)")'
}

err_of() {
  printf '%s' "$body" | $PY -c '
import json, sys
try:
    e = json.load(sys.stdin)["error"]
    print(e["code"], e.get("field") or "-")
except Exception:
    print("(not a JSON error)")'
}

# `api` forgets the fingerprint refused keeps between calls: any request
# but a refused one may change the state.
eval "_api_plain() $(declare -f api | tail -n +2)"
_fp_key=
_fp_last=
api() {
  _fp_key=
  _api_plain "$@"
}

refused() {
  local desc=$1 want=$2 ecode=$3 field=$4 cid= before after got
  shift 4
  if [ "$1" != "--" ]; then
    cid=$1
    shift
  fi
  shift
  if [ "$_fp_key" = "$1 $cid" ]; then before=$_fp_last; else
    before=$(fp "$1" "$cid"); fi
  _api_plain "$@"
  after=$(FP_ERR=1 fp "$1" "$cid")
  got=${after#*$'\n'}
  after=${after%%$'\n'*}
  _fp_key="$1 $cid" _fp_last=$after
  is "$code" "$want" "$desc: $want"
  is "$got" "$ecode $field" "$desc: $ecode at $field"
  if [ "$after" = "$before" ] && [ "${after:0:13}" = '[{"cases": {"' ]; then
    ok 0 "$desc: nothing changed"
  else
    ok 1 "$desc: nothing changed"
    diff <(echo "$before" | tr "," "\n") <(echo "$after" | tr "," "\n") | sed "s|^|#   |"
  fi
}

b2() {
  $PY -c 'import hashlib, sys
print(hashlib.blake2b(open(sys.argv[1], "rb").read(), digest_size=32).hexdigest())' "$1"
}

# The bodies of tests/test_store.c's food() and birth() as POST /v1/cases
# bodies (no receiver: the node sets it to the token's id).
mkbodies() {
  $PY - "$@" <<'EOF'
import json, sys
d, h1, h3, h4, hss = sys.argv[1:6]
def applicant(idn):
    return {"name": "张三", "id_type": "resident_id", "id_number": idn,
            "phone": "13912345678"}
food = {"matter": "000117001000#01", "applicant": applicant("370102199001011231"),
        "form": {"applicant_name": "张三", "id_number": "370102199001011231",
                 "phone": "13912345678", "operator_name": "历下区张三餐馆",
                 "operating_address": "济南市历下区泉城路1号",
                 "main_format": "餐饮服务经营者",
                 "business_items": "热食类食品制售",
                 "food_safety_manager": "李四"},
        "materials": [{"code": "M01", "hash": h1, "size": 1024},
                      {"code": "M03", "hash": h3, "size": 2048},
                      {"code": "M04", "hash": h4, "size": 512}],
        "channel": "2"}
birth = {"bundle": "370000YJS001", "applicant": applicant("370102199001011231"),
         "form": {"guardian_name": "张三", "guardian_id_number": "370102199001011231",
                  "guardian_phone": "13912345678", "guardian_relation": "父亲",
                  "child_name": "张小宝", "child_gender": "男",
                  "birth_date": "2026-01-28", "birth_hospital": "山东省立医院",
                  "mother_name": "王芳", "mother_id_number": "370102199203154329",
                  "home_address": "济南市历下区文化东路8号",
                  "hukou_address": "济南市历下区文化东路8号",
                  "hukou_holder_name": "张三", "insured_region": "370102",
                  "insured_type": "新生儿", "card_delivery": "窗口领取"},
         "materials": [{"member": "ss_card", "code": "M02", "hash": hss, "size": 4096}],
         "channel": "1"}
for name, v in (("food", food), ("birth", birth)):
    with open(f"{d}/{name}.json", "w") as f:
        json.dump(v, f, ensure_ascii=False)
EOF
}

variant() {
  $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(d, open(sys.argv[3], "w"), ensure_ascii=False)' "$1" "$2" "$3"
}

# setup_node NAME REGION: init, start, publish the example standard layer,
# upload the food and birth materials (H1 H3 H4 HSS) and write the bodies
# to $T/food.json and $T/birth.json.
setup_node() {
  local name=$1 f
  node_init "$name" "$2" && node_start "$name" || return 1
  api "$name" POST /v1/catalog/releases \
    --data-binary @"$TB_SRC/ops/examples/catalog-370000.json"
  [ "$code" = 201 ] || { echo "# publish: $code $body"; return 1; }
  for f in m01 m03 m04 mss; do
    printf 'material %s of a tongban test, %s\n' "$f" "$(date +%s%N)" \
      >"$T/$f.txt"
    api "$name" PUT /v1/blobs --data-binary @"$T/$f.txt"
    [ "$code" = 201 ] || { echo "# blob: $code $body"; return 1; }
  done
  H1=$(b2 "$T/m01.txt") H3=$(b2 "$T/m03.txt") H4=$(b2 "$T/m04.txt")
  HSS=$(b2 "$T/mss.txt")
  mkbodies "$T" "$H1" "$H3" "$H4" "$HSS"
}

clock_shim() {
  cat >"$T/skew.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
int
clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	const char *s = getenv("TB_TEST_CLOCK_SKEW");
	int rv;

	if (real == NULL) {
		real = (int (*)(clockid_t, struct timespec *))dlsym(
		    RTLD_NEXT, "clock_gettime");
	}
	rv = real(id, ts);
	if (rv == 0 && id == CLOCK_REALTIME && s != NULL) {
		ts->tv_sec += atoll(s);
	}
	return rv;
}
EOF
  ${CC:-cc} -shared -fPIC -o "$T/skew.so" "$T/skew.c" -ldl 2>"$T/cc.err"
}

skew_to() {
  echo $(($(date -d "$1" +%s) - $(date +%s)))
}
