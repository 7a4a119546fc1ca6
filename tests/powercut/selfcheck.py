#!/usr/bin/python3
"""Checks the powercut shim and replay.py on plain files.

usage: selfcheck.py prepare ROOT   (without the shim: the durable start)
       selfcheck.py act ROOT       (under the shim: changes, some synced)
       selfcheck.py verify ROOT    (after replay.py: PASS/FAIL lines)
       selfcheck.py verify-kept ROOT COPY  (after replay.py --writeback
                                   S:1.0: the data files equal COPY's)

Python's os functions call libc's open64/pwrite64/writev/ftruncate64/
fsync/rename/unlink/mkdir, which the shim interposes as it does for the
node (open/pwrite/writev/fdatasync)."""
import os
import sys

mode, root = sys.argv[1], sys.argv[2]
P = lambda *a: os.path.join(root, *a)


def put(name, data):
    with open(P(name), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def get(name):
    try:
        with open(P(name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


if mode == "prepare":
    for name, data in [("a.dat", b"A" * 8192), ("b.dat", b"B" * 100),
                       ("t.dat", b"T" * 5000), ("target", b"OLDTARGET"),
                       ("u.dat", b"UNLINKME"), ("d.dat", b"D" * 8192),
                       ("ot.dat", b"O" * 300)]:
        put(name, data)
    fsync_dir(root)
    sys.exit(0)

if mode == "act":
    # 1. synced overwrite kept, later unsynced one undone
    fd = os.open(P("a.dat"), os.O_RDWR)
    os.pwrite(fd, b"x" * 10, 0)
    os.fsync(fd)
    os.pwrite(fd, b"y" * 10, 100)
    os.close(fd)
    # 2. unsynced append
    fd = os.open(P("b.dat"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"b" * 50)
    os.close(fd)
    # 3. unsynced truncation
    os.truncate(P("t.dat"), 1000)
    # 5. new file synced, directory synced
    put("n2", b"new two")
    fsync_dir(root)
    # 7. the same with the directory synced
    put("tmp2", b"RENAMED")
    os.rename(P("tmp2"), P("r2"))
    fsync_dir(root)
    # (the root is not synced again after this point)
    # 4. new file synced, its directory not
    put("n1", b"new one")
    # 6. write-fsync-rename over a file, directory not synced
    put("tmp1", b"NEWTARGET")
    os.rename(P("tmp1"), P("target"))
    # 8. unlink, directory not synced
    os.unlink(P("u.dat"))
    # 9. mkdir whose parent is never synced: its synced content goes too
    os.mkdir(P("sub"))
    put("sub/f", b"in sub")
    fsync_dir(P("sub"))
    # 10, 11. O_DSYNC writes are durable, plain ones next to them not
    fd = os.open(P("d.dat"), os.O_RDWR)
    sfd = os.open(P("d.dat"), os.O_WRONLY | os.O_DSYNC)
    os.pwrite(fd, b"e" * 10, 0)
    os.pwrite(sfd, b"f" * 10, 4096)
    os.pwrite(fd, b"g" * 20, 6000)
    os.pwrite(sfd, b"h" * 10, 6005)
    # 12. writev at the current offset
    os.lseek(fd, 2000, os.SEEK_SET)
    os.writev(fd, [b"v" * 5, b"w" * 5])
    os.close(fd)
    os.close(sfd)
    # 13. O_TRUNC of an existing file, not synced
    fd = os.open(P("ot.dat"), os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"p" * 10)
    os.close(fd)
    sys.exit(0)

if mode == "verify-kept":
    # replay.py --writeback SEED:1.0: every unsynced write reached the
    # disk; names are still undone (a.dat... keep their names).
    before = sys.argv[3]
    for name in ("a.dat", "b.dat", "t.dat", "d.dat", "ot.dat"):
        with open(os.path.join(before, name), "rb") as f:
            want = f.read()
        print("%s shim: writeback with P=1 keeps %s as written" %
              ("PASS" if get(name) == want else "FAIL", name))
    sys.exit(0)


def ok(cond, what):
    print("%s shim: %s" % ("PASS" if cond else "FAIL", what))


a = get("a.dat")
ok(a[:10] == b"x" * 10 and a[10:] == b"A" * 8182,
   "a synced overwrite is kept, a later unsynced one undone")
ok(get("b.dat") == b"B" * 100, "an unsynced append is undone")
ok(get("t.dat") == b"T" * 5000, "an unsynced truncation is undone")
ok(get("n1") is None, "a synced new file in an unsynced directory is gone")
ok(get("n2") == b"new two", "a synced new file in a synced directory stays")
ok(get("target") == b"OLDTARGET" and get("tmp1") is None,
   "an unsynced rename over a file is undone")
ok(get("r2") == b"RENAMED" and get("tmp2") is None,
   "a rename followed by a directory fsync stays")
ok(get("u.dat") == b"UNLINKME", "an unsynced unlink is undone")
ok(not os.path.exists(P("sub")),
   "a directory whose parent was never synced is gone")
d = get("d.dat")
ok(d[:10] == b"D" * 10 and d[4096:4106] == b"f" * 10,
   "an O_DSYNC write stays, an unsynced one before it goes")
ok(d[6000:6005] == b"D" * 5 and d[6005:6015] == b"h" * 10 and
   d[6015:6020] == b"D" * 5,
   "an unsynced write under a later O_DSYNC one is undone around it")
ok(d[2000:2010] == b"D" * 10 and len(d) == 8192,
   "an unsynced writev at the file offset is undone")
ok(get("ot.dat") == b"O" * 300, "an unsynced O_TRUNC is undone")
