#!/usr/bin/env bash
# Offline enrolment with real files: a province node and a county node,
# region keys for 370000 -> 370100 -> 370102, issue, install, show, revoke;
# then m-of-n root signing and rotation.
. "$(dirname "$0")/lib.sh"
tb=$TB_BUILD/tongban
py=/usr/bin/python3
cd "$T"
field() { $py -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }

run "$tb" init --dir P --region 370000
is "$rc" 0 "init a province node (it makes a 1-of-1 root)"
run "$tb" init --dir C --region 370102 --root P/root.json
is "$rc" 0 "init a county node with the province's root"
for r in 370000 370100 370102; do
  "$tb" keygen --out "r$r.key" --name "region key $r" >/dev/null
done

# The province's region key, certified by the root's officer.
run "$tb" cert request --region-key r370000.key --region 370000 --out q0.json
is "$rc" 0 "request for the province's region key"
run "$tb" cert issue --key P/keys/officer.json --root P/root.json \
  --request q0.json --days 365 --out c0.json
is "$rc" 0 "the root's officer issues it"
like "$out" "for the region key of 370000" "summary names the region"
is "$(field c0.json kind)" "region" "kind region"

# The city's key by the province's key, the county's by the city's.
"$tb" cert request --region-key r370100.key --region 370100 --out q1.json >/dev/null
run "$tb" cert issue --key r370000.key --issuer-cert c0.json --request q1.json \
  --days 365 --out c1.json
is "$rc" 0 "the province certifies its city"
"$tb" cert request --region-key r370102.key --region 370102 --out q2.json >/dev/null
run "$tb" cert issue --key r370000.key --issuer-cert c0.json --request q2.json \
  --days 365 --out bad.json
is "$rc" 1 "the province may not certify a county directly"
like "$err" "370000 may not certify 370102: it is not its parent" "named"
run "$tb" cert issue --key r370102.key --issuer-cert c1.json --request q2.json \
  --days 365 --out bad.json
is "$rc" 1 "a key other than the issuer certificate's is refused"
like "$err" "is not the key the issuer certificate names" "named"
run "$tb" cert issue --key r370100.key --issuer-cert c1.json --request q2.json \
  --days 365 --out c2.json
is "$rc" 0 "the city certifies its county"

# The county node: request from its directory, issue, install.
run "$tb" cert request --dir C --out nq.json
is "$rc" 0 "a node's request from its directory"
node_id=$($py -c 'import json; print(json.load(open("C/tongban.json"))["node_id"])')
is "$(field nq.json node_id)" "$node_id" "names the node's id"
$py - nq.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["region"] = "370103"
json.dump(d, open("nq-bad.json", "w"))
PY
run "$tb" cert issue --key r370102.key --issuer-cert c2.json --request nq-bad.json \
  --days 30 --out bad.json
is "$rc" 1 "a request changed after signing is refused"
like "$err" "not signed by its own sign_key" "named"
run "$tb" cert issue --key r370102.key --issuer-cert c2.json --request nq.json \
  --days 30 --role voter --out bad.json
is "$rc" 1 "a node's role is member or peer"
run "$tb" cert issue --key r370102.key --issuer-cert c2.json --request nq.json \
  --days 30 --out n.json
is "$rc" 0 "the county's key issues the node's certificate"
like "$out" "node $node_id, role member" "a member by default"
serial=$(field n.json serial)

run "$tb" cert install --dir C n.json c1.json c0.json
is "$rc" 1 "install refuses a chain with a gap"
like "$err" "unknown issuer 370102" "and names the missing issuer"
run "$tb" cert install --dir P n.json c2.json c1.json c0.json
is "$rc" 1 "install refuses another node's certificate"
like "$err" "cert for 370102 where 370000 was expected" "named"
run "$tb" cert install --dir C n.json c2.json c1.json c0.json
is "$rc" 0 "install the chain into the county node"
like "$out" "installed cert $serial of node $node_id" "summary"
ok "$([ -f C/local/data.mdb ] && [ ! -e C/certs/node.json ] && [ ! -e C/certs/chain.json ]; echo $?)" \
  "stored in C/local (LMDB), no C/certs/node.json or chain.json"

# A county node made without --root (a single node that ran for a while
# before it was enrolled): cert install --root gives it the province's root.
"$tb" init --dir N --region 370102 >/dev/null
"$tb" cert request --dir N --out nrq.json >/dev/null
"$tb" cert issue --key r370102.key --issuer-cert c2.json --request nrq.json \
  --days 30 --out nn.json >/dev/null
run "$tb" cert install --dir N nn.json c2.json c1.json c0.json
is "$rc" 1 "install into a node without root metadata is refused"
like "$err" "N has no root metadata (N/root.json): give the province's root with --root ROOT.json" \
  "  and says how to give the root (not: init the node again)"
unlike "$err" "line -1" "  without jansson's line -1 column -1"
run "$tb" cert install --dir N --root c0.json nn.json c2.json c1.json c0.json
is "$rc" 1 "--root that is no root metadata is refused"
like "$err" "c0.json: \$.threshold: required field 'threshold' is missing" "  named"
run "$tb" cert install --dir N --root P/root.json nn.json c1.json c0.json
is "$rc" 1 "--root with a chain that does not verify is refused"
ok "$([ ! -e N/root.json ] && [ ! -e N/local ]; echo $?)" \
  "  and leaves no root.json and no certificate"
run "$tb" cert install --dir N --root P/root.json nn.json c2.json c1.json c0.json
is "$rc" 0 "install --root P/root.json with the whole chain"
like "$out" "N: installed the root metadata of 370000 version 1 (P/root.json)" "  says so"
is "$(cmp -s <($py -c 'import json; print(json.load(open("N/root.json")))') \
  <($py -c 'import json; print(json.load(open("P/root.json")))'); echo $?)" 0 \
  "  N/root.json is the province's root"
run "$tb" cert verify --dir N
is "$rc" 0 "  cert verify accepts N's chain"
"$tb" init --dir Q --region 110000 >/dev/null
run "$tb" cert install --dir N --root Q/root.json nn.json c2.json c1.json c0.json
is "$rc" 1 "--root naming another root than N's is refused"
like "$err" "N/root.json holds other root metadata (370000 version 1)" "  named"

run "$tb" cert show --dir C
is "$rc" 0 "show the installed chain"
like "$out" "cert $serial: node key of 370102 历下区, node $node_id, role member" \
  "the leaf is described"
like "$out" "the 370000 root's officers" "the province cert's issuer"
like "$out" "C: chain valid" "the chain is valid"
like "$out" "certificates stored in C/local, node-local LMDB" "show says where they are"
run "$tb" cert verify --dir C
is "$rc" 0 "verify accepts it"
run "$tb" cert show --dir C --json
v=$(printf '%s' "$out" | $py -c 'import json,sys; d=json.load(sys.stdin); print(d["valid"], d["node_id"], len(d["chain"]), d["chain"][0]["status"])')
is "$v" "True $node_id 4 valid" "--json: valid, node id, 4 certificates"
v=$(printf '%s' "$out" | $py -c 'import json,sys; d=json.load(sys.stdin); print(d["stored_in"], d["chain"][0]["document"]["serial"])')
is "$v" "C/local $serial" "--json: stored_in C/local, the installed serial"
run "$tb" cert export --dir C --out exported.json
is "$rc" 0 "cert export writes the stored node certificate to a file"
is "$(field exported.json serial)" "$serial" "  the installed one"
is "$($py -c 'import json,sys; print(json.load(open("exported.json")) == json.load(open("n.json")))')" \
  True "  equal to the installed file (JSON -> canonical msgpack -> JSON)"
run "$tb" cert export --dir C --kind chain
is "$($py -c 'import json,sys; c=json.loads(sys.argv[1]); print(len(c), c[0]["region"])' "$out")" \
  "3 370102" "cert export --kind chain: the three issuers, the county's first"
run "$tb" cert export --dir C --kind ../node
is "$rc" 1 "cert export refuses a record name that is not one"
like "$err" "../node: not a certificate record name" "  named"
run "$tb" cert export --dir C --kind xcert-110000
is "$rc" 1 "cert export of an absent record fails"
like "$err" "C/local holds no xcert-110000" "  named"
run "$tb" cert show n.json
is "$rc" 0 "show a certificate file"
like "$out" "status    valid to" "its status"
run "$tb" cert verify --root P/root.json --region 370102 --role member \
  n.json c2.json c1.json c0.json
is "$rc" 0 "verify files against a root and expectations"
run "$tb" cert verify --root P/root.json --region 370103 n.json c2.json c1.json c0.json
is "$rc" 1 "a wrong region expected is refused"
like "$out" "cert for 370102 where 370103 was expected" "named"

# The province node enrols too, with the province's key.
"$tb" cert request --dir P --out pq.json >/dev/null
run "$tb" cert issue --key r370000.key --issuer-cert c0.json --request pq.json \
  --days 30 --role member --out p.json
is "$rc" 0 "the province's key certifies its own node"
run "$tb" cert install --dir P p.json c0.json
is "$rc" 0 "and it installs"

# Key rotation keeps the node id: a copy of the county node gets a new
# signing key (what a future key rotation verb does), requests with the old
# key's countersignature, and the issuer carries the node id over.
cp -r C R
cp C/keys/node.json old-node.json
"$tb" keygen --out new.key >/dev/null
$py - <<'PY'
import json
k = json.load(open("R/keys/node.json")); n = json.load(open("new.key"))
k["seed"], k["public"] = n["seed"], n["public"]
json.dump(k, open("R/keys/node.json", "w"))
PY
run "$tb" cert request --dir R --prev-key old-node.json --out rq.json
is "$rc" 0 "a rotated key's request, countersigned by the old key"
is "$(field rq.json node_id)" "$node_id" "keeps the node id"
run "$tb" cert issue --key r370102.key --issuer-cert c2.json --request rq.json \
  --days 30 --out rn.json
is "$rc" 1 "without the previous certificate the issuer refuses it"
like "$err" "is not the id of sign_key" "named"
run "$tb" cert issue --key r370102.key --issuer-cert c2.json --request rq.json \
  --prev-cert n.json --days 30 --out rn.json
is "$rc" 0 "with --prev-cert the issuer certifies the new key"
run "$tb" cert install --dir R rn.json c2.json c1.json c0.json
is "$rc" 0 "the rotated certificate installs"
like "$out" "of node $node_id" "under the same node id"

# Revoke the county node.
run "$tb" cert revoke --key r370102.key --region 370102 --serial "$serial" \
  --reason retired --out crl.json
is "$rc" 0 "revoke the node's certificate"
like "$out" "revocation list of 370102 version 1: 1 revoked" "version 1"
run "$tb" cert revoke --key r370100.key --crl crl.json --serial 0123456789abcdef \
  --out crl2.json
is "$rc" 1 "only the list's issuer key extends it"
like "$err" "not the list's issuer key" "named"
run "$tb" cert show n.json --crl crl.json
like "$out" "NOT VALID: revoked by 370102's list version 1" "show marks it revoked"
like "$out" "retired" "with the reason"
run "$tb" cert verify --root P/root.json --crl crl.json n.json c2.json c1.json c0.json
is "$rc" 1 "verify refuses the revoked certificate"
like "$out" "revoked by 370102's list version 1" "named"
run "$tb" cert install --dir C --crl crl.json
is "$rc" 0 "install the list into the node"
run "$tb" cert install --dir C --crl crl.json
is "$rc" 1 "the same version is not installed twice"
run "$tb" cert verify --dir C
is "$rc" 1 "the node's own chain is now refused"
like "$out" "cert $serial: revoked by 370102's list version 1" "named"
run "$tb" cert show --dir C
is "$rc" 0 "show still shows it"
like "$out" "NOT VALID: revoked by 370102's list version 1" "marked revoked"
run "$tb" cert revoke --key r370102.key --crl crl.json --serial 0123456789abcdef \
  --out crl2.json
is "$rc" 0 "a second revocation"
like "$out" "version 2: 2 revoked" "bumps the version and keeps the first"
run "$tb" cert show crl2.json
like "$out" "$serial revoked at" "the list shows the first serial"
run "$tb" cert install --dir C --crl crl2.json
is "$rc" 0 "a newer version installs"

# Root metadata: 2-of-2 officers, rotation to 2-of-3.
for k in a b c d; do "$tb" keygen --out "o$k.key" --name "officer $k" >/dev/null; done
"$tb" keygen --out rel.key >/dev/null
run "$tb" root init --region 370000 --expires 2030-01-01T00:00:00+08:00 \
  --threshold 2 --officer oa.key --officer ob.key --release-key rel.key \
  --out root1.json
is "$rc" 0 "a 2-of-2 root"
run "$tb" root rotate --root root1.json --officer ob.key --officer oc.key \
  --officer od.key --threshold 2 --out root2.json
is "$rc" 0 "rotate to officers b, c, d"
is "$(field root2.json version)" 2 "version 2"
run "$tb" root check root2.json --prev root1.json
is "$rc" 1 "unsigned, the rotation is not valid"
like "$out" "signed by 0 of the previous root's officers, 2 required" "named"
run "$tb" root sign --key oa.key root2.json
is "$rc" 1 "an old officer needs --prev to sign"
like "$err" "is not an officer of root2.json" "named"
run "$tb" root sign --key oa.key --prev root1.json root2.json
is "$rc" 0 "old officer a signs"
run "$tb" root sign --key oc.key root2.json
is "$rc" 0 "new officer c signs"
run "$tb" root check root2.json --prev root1.json
is "$rc" 1 "1 of the old officers is not enough"
like "$out" "signed by 1 of the previous root's officers, 2 required" "named"
run "$tb" root sign --key ob.key --prev root1.json root2.json
is "$rc" 0 "officer b (old and new) signs"
like "$out" "signed by 2 of 3 officers (2 required) and 2 of the 2 previous officers" \
  "both thresholds met"
run "$tb" root check root2.json --prev root1.json
is "$rc" 0 "the rotated root is valid with the old one as prev"
cp "$TB_SRC/ops/examples/catalog-370000.json" rel.json
"$tb" sign --key rel.key rel.json >/dev/null
run "$tb" catalog check --root root2.json rel.json
is "$rc" 0 "catalog check accepts the rotated root"
$py - root2.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["threshold"] = 1
json.dump(d, open("root2-bad.json", "w"))
PY
run "$tb" root check root2-bad.json --prev root1.json
is "$rc" 1 "a rotated root changed after signing is refused"

# A province certificate under a rotated root: the officers that signed
# it must still be officers (here a and b signed under root1; b remains).
run "$tb" cert request --region-key r370000.key --region 370000 --out qq.json
run "$tb" cert issue --key oa.key --key ob.key --root root1.json --request qq.json \
  --days 365 --out cc0.json
is "$rc" 0 "officers a and b certify the province key under root1"
run "$tb" cert verify --root root1.json cc0.json
is "$rc" 0 "valid under root1"
run "$tb" cert verify --root root2.json cc0.json
is "$rc" 1 "under root2 only b counts"
like "$out" "signed by 1 of the 370000 root's officers, 2 required" "named"
"$tb" sign --key oc.key cc0.json >/dev/null
run "$tb" cert verify --root root2.json cc0.json
is "$rc" 0 "a new officer's signature renews it"

run "$tb" cert
is "$rc" 2 "cert without a subcommand is usage"
run "$tb" cert issue --key x.key
is "$rc" 2 "cert issue without its options is usage"
done_testing
