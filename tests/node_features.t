#!/usr/bin/env bash
# The group's feature level (rolling upgrades): shown in the status, raised
# only through a replicated command, never beyond what this build applies,
# never lowered; bad bodies and roles refused with the field named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/node_lib.sh"
node_init a 370102
node_start a
is "$?" 0 "a one-voter group of 370102 runs"
api a GET /v1/status
is "$(jq_get 'd["features"]')" "{'level': 1, 'supported': 5}" \
  "the status shows the group's level (1) and what this build applies (3)"
api a GET /v1/status
applied=$(jq_get 'd["raft"]["applied"]')

api a POST /v1/group/features -d '{"level":6}'
is "$code" 422 "raising to level 6, beyond this build, is refused"
like "$body" '"field":"level"' "  naming the field"
like "$body" 'upgrade every member' "  and saying what to do"
api a POST /v1/group/features -d '{"level":1}'
is "$code" 409 "raising to the current level is refused by the apply"
like "$body" 'only rise' "  (levels only rise)"
like "$body" '"field":"$.body.level"' "  naming the field"
api a POST /v1/group/features -d '{"level":"2"}'
is "$code" 422 "a level that is not an integer is refused"
api a POST /v1/group/features -d '{"level":1,"force":true}'
is "$code" 422 "an unknown field is refused"
api a POST /v1/group/features -d '{"level":0}'
is "$code" 422 "level 0 is refused"
api a POST /v1/tokens -d '{"role":"clerk","region":"370102"}'
CLERK=$(jq_get 'd["token"]')
TOKEN_OVERRIDE=$CLERK api a POST /v1/group/features -d '{"level":1}'
is "$code" 403 "a clerk may not change the feature level"

run "$TB" --api "$API_a" --token "$TOKEN_a" group features --set 6
ok "$([ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; echo $?)" "tongban group features --set 6 fails (exit $rc)"
like "$out$err" 'upgrade every member' "  with the node's reason"
run "$TB" --api "$API_a" --token "$TOKEN_a" group features --set x
is "$rc" 2 "--set x is a usage error"
run "$TB" --api "$API_a" --token "$TOKEN_a" --json group features
like "$out" '"level":1' "tongban group features prints the level (not the whole status)"

api a GET /v1/status
is "$(jq_get 'd["features"]["level"]')" 1 "the level is still 1"
# One entry for the refused level-1 command and one for the token: the
# refusals before the apply proposed nothing.
is "$(jq_get 'd["raft"]["applied"]')" "$((applied + 2))" \
  "only the apply-refused command and the token went through Raft"
node_kill a TERM
node_start a
api a GET /v1/status
is "$(jq_get 'd["features"]["level"]')" 1 "after a restart, still 1"

# Level 2 brings the region commands (docs/REPLICATION.md).
api a POST /v1/region/peers -d '{"code":"370103","url":"tcp://127.0.0.1:1"}'
is "$code $(jq_get 'd["error"]["code"]')" "409 feature_level" \
  "a region command at level 1 is refused: feature_level"
api a POST /v1/group/features -d '{"level":2}'
is "$code" 201 "raising to level 2 is applied"
api a POST /v1/region/peers -d '{"code":"370103","url":"tcp://127.0.0.1:1"}'
is "$code $(jq_get 'd["topology"]["peers"][0]["code"]')" "201 370103" \
  "then the region command applies"
# Level 2 also keeps the case summary index (docs/STORE.md): raised once,
# kept across a restart.
api a POST /v1/group/features -d '{"level":2}'
is "$code" 409 "raising to 2 again is refused by the apply"
node_kill a TERM
node_start a
api a GET /v1/status
is "$(jq_get 'd["features"]')" "{'level': 2, 'supported': 5}" \
  "after a restart the group runs at level 2"
api a GET '/v1/cases?status=received'
is "$code:$(jq_get 'd')" "200:{'cases': [], 'next': None}" "an empty list at level 2"
# Level 3 brings outbox.deliver_run (runs of outbox entries,
# docs/REPLICATION.md), crl.put and the handoff of cases (docs/HANDOFF.md):
# raised from 2, kept across a restart.
api a POST /v1/handoffs/370102-20260101-000001/abort
is "$code $(jq_get 'd["error"]["code"]')" "409 feature_level" \
  "a handoff command at level 2 is refused: feature_level"
api a POST /v1/group/features -d '{"level":3}'
is "$code $(jq_get 'd["feature_level"]')" "201 3" "raising to level 3, this build's, is applied"
api a POST /v1/handoffs/370102-20260101-000001/abort
is "$code $(jq_get 'd["error"]["code"]')" "404 not_found" \
  "then the handoff command applies (no such case)"
node_kill a TERM
node_start a
api a GET /v1/status
is "$(jq_get 'd["features"]')" "{'level': 3, 'supported': 5}" \
  "after a restart the group runs at level 3"
done_testing
