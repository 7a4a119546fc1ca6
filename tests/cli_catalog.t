#!/usr/bin/env bash
# tongban catalog check / overlay check / keygen / root init / sign, as a
# provincial admin runs them on the example files.
. "$(dirname "$0")/lib.sh"
tb=$TB_BUILD/tongban
ex=$TB_SRC/ops/examples
py=/usr/bin/python3

run "$tb" catalog check "$ex/catalog-370000.json"
is "$rc" 0 "the example release is valid"
like "$out" "valid release 1 of 370000: 42 matters, 2 bundles" "summary line"

run "$tb" catalog check --json "$ex/catalog-370000.json"
is "$rc" 0 "--json exits 0"
v=$(printf '%s' "$out" | $py -c 'import json,sys; d=json.load(sys.stdin); print(d["valid"], d["files"][0]["version"], len(d["errors"]))')
is "$v" "True 1 0" "--json reports valid, version 1, no errors"

run "$tb" overlay check --catalog "$ex/catalog-370000.json" \
  --overlay "$ex/overlay-370100.json" --overlay "$ex/overlay-370102.json"
is "$rc" 0 "city and county overlays are valid"
like "$out" "overlay-370102.json: valid overlay 1 of 370102" "county summary"

# A broken release: one line per error, naming file, path and reason.
$py - "$ex/catalog-370000.json" "$T/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["matters"][0]["catalog_code"] = "00011700100"
d["matters"][1]["task_type"] = "99"
d["matters"][2]["dept_name"] = "某局"
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
run "$tb" catalog check "$T/bad.json"
is "$rc" 1 "a broken release exits 1"
like "$out" "$T/bad.json: \$.matters[0].catalog_code: basic code \"00011700100\" must be 12 characters, not 11" "short basic code named"
like "$out" "$T/bad.json: \$.matters[1].task_type: \"99\" is not a matter type" "bad type named"
like "$out" "$T/bad.json: \$.matters[2].dept_name: field dept_name (实施主体) is local" "local field named"
is "$(printf '%s\n' "$out" | wc -l)" 3 "one line per error"
run "$tb" catalog check --json "$T/bad.json"
is "$rc" 1 "--json on a broken release exits 1"
v=$(printf '%s' "$out" | $py -c 'import json,sys; d=json.load(sys.stdin); print(d["valid"], len(d["errors"]), d["errors"][0]["code"], d["errors"][0]["path"])')
is "$v" "False 3 bad_code \$.matters[0].catalog_code" "--json errors carry code and path"

printf '{"format": "tongban.release/1", "region": ' >"$T/trunc.json"
run "$tb" catalog check "$T/trunc.json"
is "$rc" 1 "truncated JSON exits 1"
like "$out" "trunc.json: line 1 column" "with line and column"
printf '{"format": "a", "format": "b"}' >"$T/dup.json"
run "$tb" catalog check "$T/dup.json"
is "$rc" 1 "duplicate keys exit 1"
like "$out" "duplicate object key" "and are named"
printf '[1, 2]' >"$T/arr.json"
run "$tb" catalog check "$T/arr.json"
is "$rc" 1 "a JSON array is no release"
like "$out" "arr.json: \$: must be an object" "named"
run "$tb" catalog check "$T/missing.json"
is "$rc" 1 "a missing file exits 1"
like "$out$err" "missing.json" "and names the file"

run "$tb" catalog
is "$rc" 2 "catalog without subcommand is usage"
run "$tb" catalog check
is "$rc" 2 "catalog check without a file is usage"
like "$err" "no release file given" "says so"
run "$tb" catalog check --frob x.json
is "$rc" 2 "unknown option is usage"
run "$tb" overlay check --overlay "$ex/overlay-370100.json"
is "$rc" 2 "overlay check without --catalog is usage"
like "$err" "--catalog is required" "says so"

# A county overlay that breaks the city's cap.
$py - "$ex/overlay-370102.json" "$T/county.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["entries"][0]["promise_day"] = 30
d["entries"][0]["task_name"] = "改名"
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
run "$tb" overlay check --catalog "$ex/catalog-370000.json" \
  --overlay "$ex/overlay-370100.json" --overlay "$T/county.json"
is "$rc" 1 "a county overlay owning standard fields exits 1"
like "$out" "county.json: \$.entries[0].task_name: field task_name (事项名称) of 000117001000#01 is owned by 370000 (四级四同) and cannot be changed by 370102" "ownership named"

# Signed releases: keys, a 2-of-2 root, a signature, tampering.
run "$tb" keygen --out "$T/a.key" --name "officer A"
is "$rc" 0 "keygen"
is "$(stat -c %a "$T/a.key")" 600 "key files are readable by the owner only"
run "$tb" keygen --out "$T/a.key"
is "$rc" 1 "keygen refuses to overwrite a key"
"$tb" keygen --out "$T/b.key" >/dev/null
"$tb" keygen --out "$T/rel.key" >/dev/null
run "$tb" root init --region 370000 --expires 2030-01-01T00:00:00+08:00 \
  --threshold 2 --officer "$T/a.key" --officer "$T/b.key" \
  --release-key "$T/rel.key" --out "$T/root.json"
is "$rc" 0 "root init with two officers"
cp "$ex/catalog-370000.json" "$T/rel.json"
run "$tb" catalog check --root "$T/root.json" "$T/rel.json"
is "$rc" 1 "an unsigned release fails against the root"
like "$out" "\$.signatures: unsigned: a release key of the 370000 root must sign it" "named"
run "$tb" sign --key "$T/a.key" "$T/rel.json"
run "$tb" catalog check --root "$T/root.json" "$T/rel.json"
is "$rc" 1 "an officer's signature is not a release key's"
run "$tb" sign --key "$T/rel.key" "$T/rel.json"
is "$rc" 0 "sign with the release key"
like "$out" "rel.json: signed by key $($py -c "import json,sys; print(json.load(open(sys.argv[1]))['public'][:16])" "$T/rel.key").. (2 signatures)" \
  "  and sign says so, with the key (it used to print nothing)"
run "$tb" catalog check --root "$T/root.json" "$T/rel.json"
is "$rc" 0 "the signed release verifies"
$py - "$T/rel.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["matters"][0]["anticipate_day"] = 19
json.dump(d, open(sys.argv[1], "w"), ensure_ascii=False)
PY
run "$tb" catalog check --root "$T/root.json" "$T/rel.json"
is "$rc" 1 "a release changed after signing fails"
like "$out" "no valid signature by a release key of the 370000 root" "named"
$py - "$T/root.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["signatures"] = d["signatures"][:1]
json.dump(d, open(sys.argv[1], "w"))
PY
run "$tb" catalog check --root "$T/root.json" "$ex/catalog-370000.json"
is "$rc" 1 "a root with 1 of 2 signatures fails"
like "$out" "signed by 1 of its officers, 2 required" "named"
done_testing
