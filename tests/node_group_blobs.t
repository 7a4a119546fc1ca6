#!/usr/bin/env bash
# Materials in a replica group (group_blob.c): a material uploaded at any
# member is acknowledged once a majority of the voters hold it, and is on
# every member that is up; a member that was down when it was uploaded (or
# lost its copy) fetches it from the others on a GET and keeps a copy; an
# upload that cannot reach a majority is 503, and the same upload once a
# majority is back is acknowledged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
. "$(dirname "$0")/group_lib.sh"
cd "$T"

three_nodes blob_timeout_ms=1500
TOKEN_B=$TOKEN_A TOKEN_C=$TOKEN_A
node_start A
ok $? "A starts"
start_joiner B && start_joiner C
ok $? "B and C run, waiting to be added"
grow_to_three

# put NAME FILE: PUT /v1/blobs at NAME; sets code and body.
put() { api "$1" PUT /v1/blobs --data-binary @"$2"; }
has() { [ -f "$T/$1/blobs/${2:0:2}/$2" ]; }
get_same() { # get_same NAME HASH FILE: GET at NAME returns FILE's bytes
  local p="PORT_$1"
  curl -s -m 20 -o "$T/got" -H "Authorization: Bearer $TOKEN_A" \
    "http://127.0.0.1:${!p}/v1/blobs/$2" && cmp -s "$T/got" "$3"
}

links_up() { # links_up X Y: X has an up link to Y
  local id="ID_$2"
  api "$1" GET /v1/links
  [ "$(jq_get 'any(l["peer_node_id"] == "'"${!id}"'" and l["state"] == "up" for l in d["links"])')" = True ]
}
wait_for 10 links_up B C && wait_for 10 links_up B A
ok $? "B's links to A and C are up (the group keeps links.json in step)"
head -c 300000 /dev/urandom >m1.bin
put B m1.bin
is "$code" 201 "a material uploaded at follower B is acknowledged"
H1=$(jq_get 'd["hash"]')
ok "$([ "$(jq_get 'd["copies"]')" -ge 2 ]; echo $?)" \
  "  once a majority holds it ($(jq_get 'd["copies"]') copies)"
wait_for 10 has A "$H1" && wait_for 10 has C "$H1"
ok $? "A and C hold it on disk"
get_same C "$H1" m1.bin
ok $? "GET at C returns the same bytes"
put B m1.bin
is "$code" 200 "the same upload again is 200"
is "$(jq_get 'd["existed"]')" True "  saying it existed"

stop_node C
ok $? "C stops"
head -c 200000 /dev/urandom >m2.bin
put A m2.bin
is "$code" 201 "with C down, an upload at A is acknowledged (A and B are a majority)"
H2=$(jq_get 'd["hash"]')
# C may still get the copy queued for it when its link comes back; a
# member whose copy is lost (a replaced disk) is made here by removing it.
rm -f "C/blobs/${H2:0:2}/$H2"
node_start C
ok $? "C starts again, without the material uploaded while it was down"
get_same C "$H2" m2.bin
ok $? "GET at C fetches it from another member: the same bytes"
has C "$H2"
ok $? "  and C keeps a copy"

stop_node B && stop_node C
ok $? "B and C stop"
head -c 1000 /dev/urandom >m3.bin
put A m3.bin
is "$code" 503 "with B and C down, an upload at A is 503"
like "$body" "of the voters must hold it" "  saying that a majority must hold it"
has A "$($py -c 'import hashlib,sys; print(hashlib.blake2b(open(sys.argv[1],"rb").read(), digest_size=32).hexdigest())' m3.bin)"
ok $? "  A keeps its own copy"
node_start B
ok $? "B starts again"
put A m3.bin
is "$code" 200 "the same upload at A with B back is acknowledged (it existed at A)"
ok "$([ "$(jq_get 'd["copies"]')" -ge 2 ]; echo $?)" "  and is held by a majority now"
api A GET "/v1/blobs/$(printf '%064d' 7)"
is "$code" 404 "a material no member holds is 404"
api A GET "/v1/blobs/XYZ"
is "$code" 400 "a malformed hash is 400"

stop_node A && stop_node B
ok $? "A and B stop"
! grep -q 'Sanitizer\|runtime error' A.log B.log C.log
ok $? "no sanitizer report from any member"
done_testing
