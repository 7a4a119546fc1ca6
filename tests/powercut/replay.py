#!/usr/bin/python3
"""Power cut: undo what the powercut shim (shim.c) saw written but never
made durable, newest first, so that the watched directory holds what a disk
would hold after losing its whole page cache.

usage: replay.py [--writeback SEED:P] JOURNAL ROOT STASH
       (run only after the process is dead)

A write or truncation is durable if a later fsync/fdatasync of the same file
(dev, ino) succeeded, or if it went through an O_SYNC/O_DSYNC descriptor
(that range only). A create, mkdir, rename or unlink is durable if the
directory holding the name (both, for a rename) was fsynced after it.
Everything else is undone: old bytes and sizes restored, new names removed,
renamed and unlinked files put back from the stash. A torn last record is
ignored: the shim writes a record before the change it describes.

--writeback SEED:P models a cut in the middle of the kernel's writeback
instead: each 4 KiB page of an unsynced write (and each unsynced
truncation) reached the disk with probability P, in no particular order;
names still follow the strict rule (a journalling filesystem commits them
in order, and they are only ever lost here, never reordered).

Prints one summary line (JSON) on stdout."""
import json
import os
import random
import shutil
import struct
import sys
from collections import defaultdict

HDR = struct.Struct("<2I10Q4I")
MAGIC = 0x50435554
WRITE, TRUNCATE, SYNC, CREATE, MKDIR, RENAME, UNLINK = range(1, 8)
NAMES = {WRITE: "write", TRUNCATE: "truncate", CREATE: "create",
         MKDIR: "mkdir", RENAME: "rename", UNLINK: "unlink"}


class Rec:
    __slots__ = ("type", "dev", "ino", "pdev", "pino", "p2dev", "p2ino",
                 "off", "len", "old_size", "flags", "path", "path2",
                 "stash", "data")


def parse(blob):
    recs, at = [], 0
    while at + HDR.size <= len(blob):
        (magic, typ, dev, ino, pdev, pino, p2dev, p2ino, off, ln, old_size,
         data_len, flags, pl, p2l, sl) = HDR.unpack_from(blob, at)
        if magic != MAGIC:
            raise SystemExit("replay: bad record at byte %d" % at)
        end = at + HDR.size + pl + p2l + sl + data_len
        if end > len(blob):
            break  # torn: the change it describes never started
        r = Rec()
        r.type, r.dev, r.ino, r.pdev, r.pino = typ, dev, ino, pdev, pino
        r.p2dev, r.p2ino, r.off, r.len = p2dev, p2ino, off, ln
        r.old_size, r.flags = old_size, flags
        s = at + HDR.size
        r.path = blob[s:s + pl].decode()
        s += pl
        r.path2 = blob[s:s + p2l].decode()
        s += p2l
        r.stash = blob[s:s + sl].decode()
        s += sl
        r.data = blob[s:s + data_len]
        recs.append(r)
        at = end
    return recs, len(blob) - at


class Intervals:
    """Byte ranges of a file settled by a later durable write."""

    def __init__(self):
        self.iv = []

    def add(self, a, b):
        self.iv.append((a, b))

    def free(self, a, b):
        """The parts of [a, b) not settled."""
        parts = [(a, b)]
        for (x, y) in self.iv:
            nxt = []
            for (p, q) in parts:
                if y <= p or x >= q:
                    nxt.append((p, q))
                    continue
                if p < x:
                    nxt.append((p, x))
                if y < q:
                    nxt.append((y, q))
            parts = nxt
            if not parts:
                break
        return parts


def find(key, hint, roots):
    """The current path of inode key: hint if it still names it, else a
    walk of the roots; None if the inode has no name any more."""
    try:
        st = os.lstat(hint)
        if (st.st_dev, st.st_ino) == key:
            return hint
    except OSError:
        pass
    for root in roots:
        for d, _dirs, files in os.walk(root):
            for f in files:
                p = os.path.join(d, f)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) == key:
                    return p
    return None


def restore(path, r, settled, floor):
    """Undo a write or truncation of r's file at path."""
    old_end = r.old_size
    if r.type == WRITE:
        a, b = r.off, r.off + r.len
    else:  # TRUNCATE: the bytes cut, [new size, old size)
        a, b = r.off, r.off + r.len
    target = max(r.old_size, floor)
    fd = os.open(path, os.O_RDWR)
    try:
        for (p, q) in settled.free(a, min(b, old_end)):
            os.pwrite(fd, r.data[p - a:q - a], p)
        for (p, q) in settled.free(max(a, old_end), min(b, target)):
            os.pwrite(fd, b"\0" * (q - p), p)
        if os.fstat(fd).st_size != target:
            os.ftruncate(fd, target)
    finally:
        os.close(fd)


PAGE = 4096


def main():
    args = sys.argv[1:]
    keep = None
    if args and args[0] == "--writeback":
        seed, p = args[1].split(":")
        keep = (random.Random(int(seed)), float(p))
        args = args[2:]
    journal, root, stash = args[:3]
    try:
        with open(journal, "rb") as f:
            recs, torn = parse(f.read())
    except FileNotFoundError:
        # Killed before the shim journalled anything (a cut a few ms into
        # a start): nothing under the node's directory changed, so there
        # is nothing to undo.
        recs, torn = [], 0
    last_sync = {}
    for i, r in enumerate(recs):
        if r.type == SYNC:
            last_sync[(r.dev, r.ino)] = i

    def synced(i, key):
        return last_sync.get(key, -1) > i

    settled = defaultdict(Intervals)
    floor = defaultdict(int)
    undone = defaultdict(int)
    kept = defaultdict(int)
    bytes_undone = 0
    files = set()
    undone_in = set()  # files whose data had writes undone
    roots = [root, stash]
    seen = set(os.path.relpath(r.path, root) for r in recs
               if r.type in (WRITE, TRUNCATE))
    for i in range(len(recs) - 1, -1, -1):
        r = recs[i]
        key = (r.dev, r.ino)
        if r.type == SYNC:
            continue
        if r.type in (WRITE, TRUNCATE):
            if r.type == WRITE and (r.flags & 1):
                settled[key].add(r.off, r.off + r.len)
                floor[key] = max(floor[key], r.off + r.len)
                kept[NAMES[r.type]] += 1
                continue
            if synced(i, key):
                kept[NAMES[r.type]] += 1
                continue
            if keep is not None:
                rng, p = keep
                if r.type == TRUNCATE:
                    if rng.random() < p:
                        kept["truncate (written back)"] += 1
                        continue
                else:
                    a = r.off
                    while a < r.off + r.len:
                        b = min((a // PAGE + 1) * PAGE, r.off + r.len)
                        if rng.random() < p:
                            settled[key].add(a, b)
                            floor[key] = max(floor[key], b)
                            kept["page (written back)"] += 1
                        a = b
            path = find(key, r.path, roots)
            undone[NAMES[r.type]] += 1
            if path is None:
                continue  # the file itself did not survive
            restore(path, r, settled[key], floor[key])
            bytes_undone += r.len
            files.add(os.path.relpath(r.path, root))
            undone_in.add(os.path.relpath(r.path, root))
            continue
        if r.type == RENAME:
            durable = (synced(i, (r.pdev, r.pino)) and
                       synced(i, (r.p2dev, r.p2ino)))
        else:
            durable = synced(i, (r.pdev, r.pino))
        if durable:
            kept[NAMES[r.type]] += 1
            continue
        undone[NAMES[r.type]] += 1
        files.add(os.path.relpath(r.path, root))
        if r.type == CREATE:
            if os.path.lexists(r.path) and not os.path.isdir(r.path):
                os.unlink(r.path)
        elif r.type == MKDIR:
            if os.path.isdir(r.path):
                shutil.rmtree(r.path)
        elif r.type == RENAME:
            if os.path.lexists(r.path2):
                os.rename(r.path2, r.path)
            if r.stash:
                os.rename(r.stash, r.path2)
        elif r.type == UNLINK:
            os.rename(r.stash, r.path)
    print(json.dumps({"records": len(recs), "torn_bytes": torn,
                      "undone": dict(undone), "kept": dict(kept),
                      "bytes_undone": bytes_undone,
                      "files": sorted(files),
                      "data_undone_in": sorted(undone_in),
                      "written": sorted(seen)},
                     sort_keys=True))


if __name__ == "__main__":
    main()
