#!/usr/bin/python3
"""Write the seed corpora in fuzz/corpus/<target>/ (run from anywhere with
Debian's /usr/bin/python3 and python3-msgpack).

Seeds are small: the golden vectors' bytes, the example documents and a few
variants of each that reach the refusal paths. libFuzzer grows its own
corpus from these in a temporary copy (fuzz/run.sh); what it found that
adds coverage is merged back by hand (`fuzz_X -merge=1 NEW fuzz/corpus/X
GROWN`, files under 2 KiB) under SHA-1 names, and inputs that crashed a
target are kept apart in fuzz/regress/<target>/.
"""
import copy
import hashlib
import json
import os

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def canon(v):
    if isinstance(v, dict):
        return {k: canon(v[k])
                for k in sorted(v, key=lambda s: s.encode("utf-8"))}
    if isinstance(v, list):
        return [canon(x) for x in v]
    return v


def example(name):
    with open(os.path.join(SRC, "ops", "examples", name), encoding="utf-8") as f:
        return json.load(f)


def text(v):
    return json.dumps(v, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def doc_hash(v):
    """BLAKE2b-256 of a document's canonical bytes less its signatures."""
    v = {k: x for k, x in v.items() if k != "signatures"}
    return hashlib.blake2b(msgpack.packb(canon(v), use_bin_type=True),
                           digest_size=32).hexdigest()


class Corpus:
    def __init__(self, target):
        # Only the named seeds are rewritten: the files named by their
        # SHA-1 are inputs libFuzzer found and merged in, kept as they are.
        self.dir = os.path.join(HERE, "corpus", target)
        os.makedirs(self.dir, exist_ok=True)

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)


def seeds_canon():
    c = Corpus("fuzz_canon")
    with open(os.path.join(SRC, "tests", "golden", "canon_vectors.json"),
              encoding="utf-8") as f:
        for v in json.load(f):
            if len(v["hex"]) <= 2 * 4096:
                c.add("golden_" + v["name"], bytes.fromhex(v["hex"]))
    for name in ("calendar-2026.json", "overlay-370100.json",
                 "overlay-370102.json"):
        c.add("example_" + name.replace(".json", ""),
              msgpack.packb(canon(example(name)), use_bin_type=True))
    for name in ("case-food-license.json", "case-newborn-bundle.json"):
        # A case.create command: cmd_decode_shallow against cmd_decode.
        cmd = {"at": 1770688800000, "body": example(name),
               "type": "case.create", "v": 1}
        c.add("command_" + name.replace(".json", ""),
              msgpack.packb(canon(cmd), use_bin_type=True))
    for name, h in [
        ("long_int", "cc05"), ("signed_pos", "d005"), ("long_str", "d90161"),
        ("unsorted", "82a16201a16102"), ("dup_key", "82a16101a16102"),
        ("int_key", "810101"), ("float", "cb3ff0000000000000"),
        ("bin", "c40100"), ("ext", "d40100"), ("c1", "c1"),
        ("huge_count", "ddffffffff"), ("huge_str", "dbffffffff"),
        ("bad_utf8", "a3eda080"), ("nul", "a100"),
        ("big_uint", "cf8000000000000000"), ("trailing", "c0c0"),
        ("deep", "91" * 30 + "90"),
    ]:
        c.add("bad_" + name, bytes.fromhex(h))


def seeds_release():
    c = Corpus("fuzz_json_release")
    rel = example("catalog-370000.json")
    c.add("catalog-370000.json", text(rel))
    small = copy.deepcopy(rel)
    small["matters"] = small["matters"][:3]
    small["bundles"] = []
    del small["calendar"]
    c.add("small_release.json", text(small))
    # A delta that continues the example layer: fuzz_json_release folds
    # release 1 first for inputs with version 2.
    delta = {
        "format": "tongban.release/1", "region": "370000", "version": 2,
        "prev_hash": doc_hash(rel),
        "effective_at": "2026-03-01T00:00:00+08:00", "snapshot": False,
        "matters": [dict(rel["matters"][0], task_name="改名的事项")],
        "removed": [rel["matters"][1]["catalog_code"] + "#" +
                    rel["matters"][1].get("task_handle_item", "")],
        "bundles": [], "removed_bundles": [rel["bundles"][1]["code"]],
    }
    c.add("delta_v2.json", text(delta))
    bad = copy.deepcopy(small)
    bad["matters"][0]["dept_name"] = "local field"
    bad["version"] = 0
    bad["region"] = "370100"
    c.add("bad_fields.json", text(bad))
    c.add("dup_key.json", '{"format":"tongban.release/1","format":"x"}')
    c.add("float.json", '{"format":"tongban.release/1","version":1.5}')
    c.add("empty.json", "{}")


def seeds_calendar():
    c = Corpus("fuzz_calendar")
    cal = example("calendar-2026.json")
    c.add("calendar-2026.json", text(cal))
    two = copy.deepcopy(cal)
    two["years"] = [2026, 2027]
    two["days_off"].append({"from": "2027-01-01", "to": "2027-01-01",
                            "name": "元旦"})
    c.add("two_years.json", text(two))
    bad = copy.deepcopy(cal)
    bad["days_off"][0]["to"] = "2026-02-30"
    bad["workdays"][0]["date"] = "2026-01-03"
    c.add("bad_dates.json", text(bad))
    gap = copy.deepcopy(cal)
    gap["years"] = [2026, 2028]
    c.add("gap_years.json", text(gap))
    c.add("date", "2026-02-28")
    c.add("date_bad", "2026-02-29")


def seeds_regions():
    c = Corpus("fuzz_regions")
    with open(os.path.join(SRC, "data", "regions.csv"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    header = [l for l in lines if l.startswith("code,")][0]
    rows = [l for l in lines if l[:2] in ("37", "41", "11") and "," in l]
    c.add("shandong_henan_beijing.csv", "\n".join([header] + rows) + "\n")
    c.add("tiny.csv", "# comment\r\ncode,name,level,parent\r\n"
          "370000,山东省,province,\r\n370100,济南市,city,370000\r\n"
          "370102,历下区,county,370100\r\n\r\n")
    c.add("dup.csv", "code,name,level,parent\n370000,山东省,province,\n"
          "370000,山东省,province,\n")
    c.add("orphan.csv", "code,name,level,parent\n370102,历下区,county,370100\n")
    c.add("quoted.csv", 'code,name,level,parent\n370000,"山东省",province,\n')
    c.add("code", "370102000000")


def seeds_overlay():
    c = Corpus("fuzz_overlay")
    city = example("overlay-370100.json")
    county = example("overlay-370102.json")
    c.add("overlay-370100.json", text(city))
    c.add("overlay-370102.json", text(county))
    one = copy.deepcopy(county)
    one["entries"] = one["entries"][:1]
    c.add("county_one_entry.json", text(one))
    bad = copy.deepcopy(one)
    bad["entries"][0]["task_name"] = "owned by the province"
    bad["entries"][0]["promise_day"] = 999
    c.add("owned_field.json", text(bad))
    wrong = copy.deepcopy(one)
    wrong["entries"][0]["task_code"] = wrong["entries"][0]["task_code"][:-1] + "9"
    wrong["region"] = "370000"
    c.add("wrong_code.json", text(wrong))


def seeds_outbox():
    """Outbox frames (replication/outbox_wire.h): [type, origin, dest, inc,
    seq, payload]; the harness's streams hold seqs 4..10 unacknowledged
    towards 370102 and have delivered 5 from it, in incarnation 2."""
    c = Corpus("fuzz_outbox")

    def frame(*v):
        return msgpack.packb(list(v), use_bin_type=True)

    c.add("data_next", frame(1, 370102, 370100, 2, 6, b"case.event"))
    c.add("data_dup", frame(1, 370102, 370100, 2, 5, b"case.event"))
    c.add("data_gap", frame(1, 370102, 370100, 2, 9, b""))
    c.add("data_new_inc", frame(1, 370102, 370100, 3, 1, b"x"))
    c.add("ack_progress", frame(2, 370100, 370102, 2, 7, None))
    c.add("ack_beyond", frame(2, 370100, 370102, 2, 11, None))
    c.add("ack_stale", frame(2, 370100, 370102, 1, 99, None))
    c.add("ack_below_acked", frame(2, 370100, 370102, 2, 2, None))
    c.add("skip_ahead", frame(4, 370102, 370100, 2, 9, None))
    c.add("skip_late", frame(4, 370102, 370100, 2, 3, None))


def seeds_link_payload():
    """fuzz_link_payload: mode byte 0 (one payload), 1 (a stream of u16
    length-prefixed payloads) or 2 (build a message and chunk it)."""
    import struct

    c = Corpus("fuzz_link_payload")

    def hdr(kind, flags, typ, ident):
        return struct.pack(">BBBBIQ", kind, flags, 0, 0, typ, ident)

    def chunk(mid, total, size, index, data):
        return bytes([4, 0, 0, 0]) + struct.pack(">QQII", mid, total, size,
                                                 index) + data

    def framed(payloads):
        return b"".join(struct.pack(">H", len(x)) + x for x in payloads)

    msg = hdr(1, 0, 100, 0) + "张三 370102199001011231".encode("utf-8")
    big = hdr(2, 0, 101, 7) + bytes(range(256)) * 2
    one = {
        "msg": msg,
        "req_ping": hdr(2, 0, 1, 42) + b"rtt",
        "resp": hdr(3, 0, 2, 42) + b"rtt",
        "resp_error": hdr(3, 1, 20, 9) + b"not today",
        "credit": bytes([5, 0, 0, 0]) + struct.pack(">Q", 17),
        "hello": bytes([6, 0, 0, 0]),
        "chunk": chunk(1, 3, 64, 0, b"abc"),
        "bad_kind": bytes([9, 0, 0, 0]),
        "bad_flags": hdr(1, 1, 100, 0),
        "reserved": bytes([1, 0, 1, 0]) + hdr(1, 0, 0, 0)[4:],
        "short_msg": hdr(1, 0, 100, 0)[:10],
        "long_credit": bytes([5, 0, 0, 0]) + bytes(9),
    }
    for name, b in one.items():
        c.add("one_" + name, bytes([0]) + b)
    # a message in three chunks of 200 bytes, then one out of order
    parts = [chunk(5, len(big), 200, i, big[i * 200:(i + 1) * 200])
             for i in range((len(big) + 199) // 200)]
    c.add("stream_chunks",
          bytes([1]) + framed([bytes([6, 0, 0, 0]), msg] + parts))
    c.add("stream_gap",
          bytes([1]) + framed([parts[0], parts[2]]))
    c.add("stream_over_cap",
          bytes([1]) + framed([chunk(6, (1 << 20) + 1, 64, 0, b"x")]))
    c.add("build_req",
          bytes([2, 1, 0]) + struct.pack(">IQ", 101, 7) +
          struct.pack(">H", 40) + bytes(range(200)))
    c.add("build_resp_error",
          bytes([2, 2, 1]) + struct.pack(">IQ", 20, 9) +
          struct.pack(">H", 0) + b"not today")


def seeds_raftmsg():
    """One message of each libraft type (consensus/raftmsg.h's layout)."""
    c = Corpus("fuzz_raftmsg")
    pk = msgpack.packb
    head = [1, 0, 0x4A68FF3AFB317469, "127.0.0.1:7401"]

    def msg(t, *fields):
        return pk(head[:1] + [t] + head[2:] + list(fields), use_bin_type=True)

    c.add("append_entries", msg(1, 7, 99, 6, 98, [[6, 1, b"cmd"], [7, 2, b""], [7, 3, b"conf"]]))
    c.add("heartbeat", msg(1, 7, 99, 6, 98, []))
    c.add("append_entries_result", msg(2, 7, 0, 99))
    c.add("request_vote", msg(3, 8, 3, 100, 7, False, True))
    c.add("request_vote_result", msg(4, 8, True, 1))
    c.add("install_snapshot", msg(5, 9, 42, 8, 40, [[1, "a:1", 1], [2, "b:2", 0], [3, "c:3", 2]], b"tongban-marker applied=42"))
    c.add("timeout_now", msg(6, 10, 200, 9))
    c.add("wide_ints", b"\x97\xcf" + (1).to_bytes(8, "big") + b"\x06\x01\xa3a:1\x01\x02\x03")


def main():
    seeds_outbox()
    seeds_raftmsg()
    seeds_canon()
    seeds_release()
    seeds_calendar()
    seeds_regions()
    seeds_overlay()
    seeds_link_payload()


if __name__ == "__main__":
    main()
