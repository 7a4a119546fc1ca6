#!/usr/bin/python3
"""Write tests/golden/canon_vectors.json: golden vectors for canonical msgpack.

Run with Debian's /usr/bin/python3 and its python3-msgpack, an encoder
independent of msgpack-c:  /usr/bin/python3 tests/golden/make_vectors.py [OUT]

Each vector is {"name", "json", "hex"}: the value as JSON text and
msgpack.packb(value, use_bin_type=True) of it with every dict built in
sorted-key order (by UTF-8 bytes), which is tongban's canonical form. The
output is deterministic so tests/canon_golden.t can diff a fresh run against
the checked-in file.
"""
import json
import os
import sys

import msgpack


def canon(v):
    """Rebuild v with every dict's keys inserted in UTF-8 byte order."""
    if isinstance(v, dict):
        return {k: canon(v[k])
                for k in sorted(v, key=lambda s: s.encode("utf-8"))}
    if isinstance(v, list):
        return [canon(x) for x in v]
    return v


def vec(name, value):
    value = canon(value)
    return {
        "name": name,
        "json": json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        "hex": msgpack.packb(value, use_bin_type=True).hex(),
    }


def matter():
    """A realistic standard-layer matter (docs/FORMATS.md)."""
    return {
        "catalog_code": "000175004000",
        "task_handle_item": "",
        "task_name": "出生医学证明核发",
        "task_type": "07",
        "competent_dept": "卫生健康委员会",
        "by_law": "《中华人民共和国母婴保健法》第二十三条",
        "use_level": ["3", "4"],
        "anticipate_day": 20,
        "anticipate_type": "G",
        "anticipate_explain": "自受理之日起计算",
        "promise_day": 5,
        "promise_type": "G",
        "project_type": "2",
        "handle_scope": "cross_province",
        "handle_type": ["1", "2", "3"],
        "key_list": True,
        "accept_condition": "新生儿在本省助产机构出生",
        "process": [
            {"step": 1, "name": "受理", "role": "窗口", "time_limit": 1},
            {"step": 2, "name": "审核", "role": "科室", "time_limit": 3},
            {"step": 3, "name": "办结"},
        ],
        "materials": [
            {"code": "M01", "name": "父母双方居民身份证",
             "issuing_body": "公安机关", "original_count": 1,
             "copy_count": 0, "required": True, "format": "either",
             "source": "shared"},
            {"code": "M02", "name": "结婚证", "required": False,
             "format": "paper", "source": "applicant"},
        ],
        "form": [
            {"name": "child_name", "label": "新生儿姓名", "type": "string",
             "required": True, "max_len": 50},
            {"name": "mother_id", "label": "母亲身份证号",
             "type": "id_number", "required": True},
            {"name": "gender", "label": "性别", "type": "enum",
             "required": True, "options": ["男", "女"]},
        ],
        "charge": {"is_charge": False},
    }


def vectors():
    out = []
    ints = [
        ("fixint_0", 0), ("fixint_1", 1), ("fixint_127", 127),
        ("uint8_128", 128), ("uint8_255", 255),
        ("uint16_256", 256), ("uint16_65535", 65535),
        ("uint32_65536", 65536), ("uint32_max", 2**32 - 1),
        ("uint64_2p32", 2**32), ("uint64_int64_max", 2**63 - 1),
        ("negfixint_-1", -1), ("negfixint_-32", -32),
        ("int8_-33", -33), ("int8_-128", -128),
        ("int16_-129", -129), ("int16_-32768", -32768),
        ("int32_-32769", -32769), ("int32_min", -2**31),
        ("int64_-2p31-1", -2**31 - 1), ("int64_min", -2**63),
    ]
    for name, i in ints:
        out.append(vec("int_" + name, i))
    out.append(vec("nil", None))
    out.append(vec("true", True))
    out.append(vec("false", False))
    for n in (0, 1, 31, 32, 255, 256, 65535, 65536):
        out.append(vec("str_%d" % n, "".join(
            chr(ord("a") + i % 26) for i in range(n))))
    out.append(vec("str_chinese", "一网通办，跨省通办"))
    # 11 characters of 3 bytes: fewer than 32 characters, 33 bytes (str8).
    out.append(vec("str_chinese_33_bytes", "新生儿出生一件事开办餐"))
    out.append(vec("str_4byte_and_escapes",
                   "😀 tab\t nl\n quote\" backslash\\ ctl\x01 del\x7f é"))
    out.append(vec("str_u+ffff", "\uffff\ue000"))
    for n in (0, 1, 15, 16, 17, 255, 256):
        out.append(vec("array_%d" % n, [i % 200 - 100 for i in range(n)]))
    out.append(vec("array_mixed",
                   [None, True, False, 0, -1, 128, -129, "", "x", [], {}]))
    for n in (0, 1, 15, 16, 17):
        out.append(vec("map_%d" % n,
                       {"k%02d" % i: i for i in range(n)}))
    out.append(vec("map_bytes_not_length",
                   {"b": 1, "aa": 2, "ab": 3, "a": 4, "ba": 5, "B": 6}))
    out.append(vec("map_prefix_keys",
                   {"a": 1, "ab": 2, "abc": 3, "": 0, "abd": 4}))
    out.append(vec("map_chinese_keys",
                   {"事项": 1, "办件": 2, "zz": 3, "Z": 4, "é": 5,
                    "一件事": 6}))
    # By UTF-16 code units U+1F600 (d83d...) sorts before U+E000; by UTF-8
    # bytes (f0... vs ee...) it sorts after.
    out.append(vec("map_utf8_not_utf16",
                   {"😀": 1, "\ue000": 2, "\uffff": 3, "~": 4}))
    out.append(vec("nested", {
        "a": [1, [2, [3, [4, {"b": [5, {"c": None}]}]]]],
        "d": {"e": {"f": {"g": []}}},
        "list": [{"x": 1}, {"x": 2, "y": [True, False]}],
    }))
    deep = []
    for _ in range(23):
        deep = [deep]
    out.append(vec("nested_24_arrays", deep))
    deepm = 7
    for i in range(23):
        deepm = {"k": deepm}
    out.append(vec("nested_23_maps_and_int", deepm))
    out.append(vec("matter", matter()))
    out.append(vec("release", {
        "format": "tongban.release/1",
        "region": "370000",
        "version": 1,
        "prev_hash": None,
        "effective_at": "2026-01-01T00:00:00+08:00",
        "snapshot": True,
        "matters": [matter()],
        "removed": [],
        "bundles": [],
        "removed_bundles": [],
    }))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "canon_vectors.json")
    vs = vectors()
    names = [v["name"] for v in vs]
    assert len(names) == len(set(names)), "vector names must be unique"
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(v, ensure_ascii=False) for v in vs))
        f.write("\n]\n")


if __name__ == "__main__":
    main()
