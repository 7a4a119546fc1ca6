#!/usr/bin/python3
"""Checks a restarted node against what its clients saw (node_crash.t,
node_powercut.t). Prints "PASS what" / "FAIL what" lines, with "#" detail
lines, for the test to turn into TAP.

usage: verify.py API TOKEN WORKDIR ROUND

WORKDIR holds what tests/powercut/workload.sh recorded:
  body.json                the case body, "@@KEY@@" where the key goes
  materials                "code hash file" lines of uploaded materials
  attempt.R.C, ack.R.C     per round R and client C: every key sent, and
                           "key id" for every 201 (an acknowledged case)
and what this script keeps between rounds:
  seen.json                {case id: key} of every case verified so far
  count                    the case count after the previous round

Checks: every acknowledged case exists with its whole body; every listed
case is readable and complete (no half-written case); the count never goes
back and no case seen before disappears; retrying an unacknowledged key
gives exactly one case (and an acknowledged key its first id); no key made
two cases; every material reads back byte for byte."""
import glob
import json
import os
import random
import sys
import urllib.error
import urllib.request

api, token, work, rnd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# Past this many cases a round reads the new ones, the ones acknowledged in
# it and a sample of the rest (the long suite's later rounds).
FULL_READ = int(os.environ.get("VERIFY_FULL_READ", "3000"))
SAMPLE_OLD = 300

failures = []


def check(cond, what, detail=None):
    print("%s %s" % ("PASS" if cond else "FAIL", what))
    if not cond:
        failures.append(what)
        for line in (detail or [])[:10]:
            print("#   %s" % line)
    sys.stdout.flush()
    return cond


def call(method, path, body=None, key=None, raw=False):
    req = urllib.request.Request(api + path, method=method, data=body)
    req.add_header("Authorization", "Bearer " + token)
    if key is not None:
        req.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r.status, data if raw else json.loads(data)
    except urllib.error.HTTPError as e:
        data = e.read()
        try:
            return e.code, json.loads(data)
        except ValueError:
            return e.code, data
    except (OSError, ValueError) as e:  # the node is gone, or not HTTP
        return 0, str(e)


with open(os.path.join(work, "body.json"), encoding="utf-8") as f:
    template = f.read()


def body_of(key):
    return template.replace("@@KEY@@", key)


def marker_of(case):
    """The key a case was made with (its operator_name carries it)."""
    name = (case.get("form") or {}).get("operator_name", "")
    return name.rsplit(" ", 1)[-1] if " " in name else None


def complete(case, key):
    """The differences between a case read back and the body it was sent
    with (empty if it is whole)."""
    want = json.loads(body_of(key))
    bad = []
    for field in ("matter", "applicant", "form", "materials", "channel"):
        if case.get(field) != want[field]:
            bad.append("%s: %r != %r" % (field, case.get(field),
                                         want[field]))
    if case.get("state") != "received" or case.get("version") != 1:
        bad.append("state %r version %r" % (case.get("state"),
                                             case.get("version")))
    ev = case.get("events") or []
    if len(ev) != 1 or ev[0].get("body", {}).get("case") != case.get("id"):
        bad.append("events %r" % ev)
    return bad


def lines(pattern):
    out = []
    for path in sorted(glob.glob(os.path.join(work, pattern))):
        with open(path, encoding="utf-8") as f:
            out += [l.split() for l in f if l.strip()]
    return out


# ---- what the clients saw ----
acked = {}  # key -> id, every round so far
for parts in lines("ack.*"):
    if len(parts) == 2:
        acked[parts[0]] = parts[1]
attempted = set(p[0] for p in lines("attempt.%d.*" % rnd))
ids = list(acked.values())
check(len(set(ids)) == len(ids),
      "round %d: no two acknowledged submissions share a case id" % rnd,
      [i for i in set(ids) if ids.count(i) > 1])
acked_now = {k: v for k, v in acked.items() if k.startswith("r%d-" % rnd)}
unacked = sorted(attempted - set(acked))
print("# round %d: %d acknowledged, %d unacknowledged, %d acknowledged in "
      "all rounds" % (rnd, len(acked_now), len(unacked), len(acked)))

# ---- materials (first: the retries below need them) ----
bad = []
for parts in lines("materials"):
    code, h, path = parts
    st, data = call("GET", "/v1/blobs/" + h, raw=True)
    with open(path, "rb") as f:
        content = f.read()
    if st != 200 or data != content:
        bad.append("%s %s: %s" % (code, h, st))
check(not bad, "round %d: every uploaded material reads back" % rnd, bad)

def list_ids():
    """Every case id, page by page; None if a page fails."""
    ids, after = [], None
    for _ in range(100000):
        path = "/v1/cases?limit=1000" + ("&after=" + after if after else "")
        st, res = call("GET", path)
        if st != 200 or not isinstance(res, dict):
            print("#   list: %s %r" % (st, res))
            return None
        ids += [c["id"] for c in res["cases"]]
        after = res.get("next")
        if not after:
            break
    return ids


# ---- retries with the same Idempotency-Key ----
before_retry = set(list_ids() or [])
retried, bad = {}, []
for key in unacked:
    st, res = call("POST", "/v1/cases", body_of(key).encode(), key)
    if st == 201 and isinstance(res, dict) and "case" in res:
        retried[key] = res["case"]["id"]
    else:
        bad.append("%s: %s %r" % (key, st, res))
check(not bad, "round %d: every unacknowledged key retried gets a case"
      % rnd, bad)
bad = []
rng = random.Random(rnd)
for key in rng.sample(sorted(acked_now), min(20, len(acked_now))):
    st, res = call("POST", "/v1/cases", body_of(key).encode(), key)
    got = res.get("case", {}).get("id") if isinstance(res, dict) else None
    if st != 201 or got != acked[key]:
        bad.append("%s: %s %r, acknowledged as %s" % (key, st, res,
                                                       acked[key]))
check(not bad, "round %d: an acknowledged key retried returns its first case"
      % rnd, bad)

# ---- the list ----
listed = list_ids()
if listed is None:
    check(False, "round %d: list the cases" % rnd)
    listed = []
print("# round %d: %d of %d unacknowledged submissions had been committed "
      "before the kill" % (rnd, len([k for k in retried
                                     if retried[k] in before_retry]),
                           len(unacked)))
st, status = call("GET", "/v1/status")
total = (status.get("cases", {}).get("total")
         if st == 200 and isinstance(status, dict) else None)
check(len(set(listed)) == len(listed) and total == len(listed),
      "round %d: the list holds each case once, as many as /v1/status "
      "counts" % rnd, ["listed %d (%d distinct), status total %r"
                       % (len(listed), len(set(listed)), total)])
try:
    with open(os.path.join(work, "count")) as f:
        before = int(f.read())
except FileNotFoundError:
    before = 0
check(len(listed) >= before, "round %d: the count never goes back (%d -> %d)"
      % (rnd, before, len(listed)))
with open(os.path.join(work, "count"), "w") as f:
    f.write(str(len(listed)))
try:
    with open(os.path.join(work, "seen.json")) as f:
        seen = json.load(f)
except FileNotFoundError:
    seen = {}
present = set(listed)
gone = [i for i in seen if i not in present]
check(not gone, "round %d: no case seen in an earlier round disappeared"
      % rnd, gone)
lost = ["%s (%s)" % (i, k) for k, i in acked.items() if i not in present]
check(not lost, "round %d: every acknowledged case is listed" % rnd, lost)

# ---- read the cases back ----
new = [i for i in listed if i not in seen]
want = set(new) | set(acked_now.values()) | set(retried.values())
old = sorted(present - want)
if len(listed) <= FULL_READ:
    want |= set(old)
else:
    want |= set(rng.sample(old, min(SAMPLE_OLD, len(old))))
by_key, unreadable, half, phantom = {}, [], [], []
keys_sent = set(p[0] for p in lines("attempt.*"))
for cid in sorted(want):
    st, case = call("GET", "/v1/cases/" + cid)
    if st != 200 or not isinstance(case, dict):
        unreadable.append("%s: %s %r" % (cid, st, case))
        continue
    key = marker_of(case)
    if key not in keys_sent:
        phantom.append("%s: operator_name %r" % (cid, case.get("form")))
        continue
    diff = complete(case, key)
    if diff:
        half.append("%s (%s): %s" % (cid, key, "; ".join(diff)))
    if cid in seen and seen[cid] != key:
        half.append("%s was %s, now %s" % (cid, seen[cid], key))
    by_key.setdefault(key, []).append(cid)
    seen[cid] = key
check(not unreadable, "round %d: every listed case reads back (%d read)"
      % (rnd, len(want)), unreadable)
check(not half, "round %d: every case read is whole (form, applicant, "
      "materials, first event)" % rnd, half)
check(not phantom, "round %d: every case comes from a submission" % rnd,
      phantom)
# Every case seen so far, by the key that made it: one case per key.
per_key = {}
for cid, key in seen.items():
    per_key.setdefault(key, []).append(cid)
dups = ["%s: %s" % (k, v) for k, v in per_key.items() if len(v) > 1]
check(not dups, "round %d: no key made two cases" % rnd, dups)
mism = ["%s: acknowledged %s, found %s" % (k, acked[k], per_key.get(k))
        for k in acked_now if per_key.get(k) != [acked[k]]]
mism += ["%s: retry gave %s, found %s" % (k, retried[k], per_key.get(k))
         for k in retried if per_key.get(k) != [retried[k]]]
check(not mism, "round %d: each acknowledged or retried key names its one "
      "case" % rnd, mism)
with open(os.path.join(work, "seen.json"), "w") as f:
    json.dump(seen, f)

print("# round %d: %d cases listed, %d read, %d retried" %
      (rnd, len(listed), len(want), len(retried)))
sys.exit(1 if failures else 0)
