#!/usr/bin/env bash
# A new release changes a matter's form and materials: the next case is
# checked against the new ones. The store's writer keeps a matter's form and
# material list compiled (node/fsm_checks.c); this is the check that a
# release (a new effective matter) is never checked against the old tables.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/node_api_lib.sh"
watchdog 60

setup_node c 370000
ok $? "a 370000 node with the standard layer and materials"
C=$TB_SRC/ops/examples/catalog-370000.json

api c POST /v1/cases --data-binary @"$T/food.json"
is "$code" 201 "release 1: the food licence case is received"

# release VERSION FILE PY: a delta of the food licence matter after the node's
# current standard layer, changed by the Python statement PY (on m), signed.
release() {
  api c GET /v1/catalog
  $PY - "$C" "$2" "$(jq_get 'd["standard"]["hash"]')" "$1" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = [x for x in d["matters"] if "000117001000" in json.dumps(x)][0]
exec(sys.argv[5])
d.update(version=int(sys.argv[4]), snapshot=False, prev_hash=sys.argv[3],
         matters=[m], removed=[], removed_bundles=[])
d.pop("bundles", None)
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
  "$TB" sign --key "$T/c/keys/node.json" "$2" >/dev/null &&
    api c POST /v1/catalog/releases --data-binary @"$2"
}

release 2 "$T/r2.json" '
for f in m["form"]:
    if f["name"] == "business_items": f["max_len"] = 3
for x in m["materials"]:
    if x["code"] == "M03": x["required"] = False'
is "$code" 201 "release 2: business_items at most 3 characters, M03 optional"
refused "release 2: the same case, business_items now too long" 422 out_of_range \
  '$.form.business_items' -- c POST /v1/cases --data-binary @"$T/food.json"

variant "$T/food.json" 'd["form"]["seat_count"] = "400"' "$T/food3.json"
refused "release 2: a form field the matter does not have" 422 unknown_field \
  '$.form.seat_count' -- c POST /v1/cases --data-binary @"$T/food3.json"

release 3 "$T/r3.json" '
for f in m["form"]:
    if f["name"] == "business_items": f["max_len"] = 100
m["form"].append({"name": "seat_count", "label": "座位数", "type": "string",
                  "required": False, "max_len": 2})'
is "$code" 201 "release 3: business_items back to 100, a new field of at most 2 characters"
refused "release 3: the new field too long" 422 out_of_range \
  '$.form.seat_count' -- c POST /v1/cases --data-binary @"$T/food3.json"
variant "$T/food.json" 'd["form"]["seat_count"] = "40"' "$T/food3.json"
api c POST /v1/cases --data-binary @"$T/food3.json"
is "$code" 201 "release 3: with the new field in bounds the case is received"
is "$(jq_get 'd["case"]["release"]')" 3 "  and pins release 3"
api c POST /v1/cases --data-binary @"$T/food.json"
is "$code" 201 "release 3: the first case's body is received again"

done_testing
