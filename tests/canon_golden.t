#!/usr/bin/env bash
# The golden vectors stay reproducible: python3-msgpack (Debian's, an
# encoder independent of msgpack-c) regenerates the checked-in file exactly.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
gold=$TB_SRC/tests/golden/canon_vectors.json

run "$py" -c 'import msgpack; print(".".join(map(str, msgpack.version)))'
is "$rc" 0 "Debian's python3-msgpack is installed ($out)"

run "$py" "$TB_SRC/tests/golden/make_vectors.py" "$T/vectors.json"
is "$rc" 0 "make_vectors.py runs${err:+: $err}"

run cmp "$gold" "$T/vectors.json"
is "$rc" 0 "the regenerated vectors equal tests/golden/canon_vectors.json"
[ "$rc" -eq 0 ] || diff "$gold" "$T/vectors.json" | cut -c1-200 | head -10 |
  sed 's/^/# /'

run "$py" -c '
import json, sys
v = json.load(open(sys.argv[1], encoding="utf-8"))
names = [x["name"] for x in v]
assert len(names) == len(set(names)), "duplicate names"
assert all(set(x) == {"name", "json", "hex"} for x in v), "fields"
print(len(v))' "$gold"
is "$rc" 0 "every vector has a unique name and exactly name, json, hex"
ok "$([ "${out:-0}" -ge 50 ] && echo 0 || echo 1)" "at least 50 vectors ($out)"

done_testing
