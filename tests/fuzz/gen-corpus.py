#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Write the seed corpus of tests/fuzz/virtiofs-fuse-fuzz.c: small inputs,
# each a sequence of valid FUSE requests (plus a few broken ones) against
# the share the harness populates.  Node ids and file handles are fixed:
# the root is 1, each new inode the next id from 2, each OPEN/OPENDIR/
# CREATE the next fh from 1.  The "two-" seeds run their requests in two
# streams from two threads at once (Seq(two=True), .on(1)); their order
# across the streams is not fixed, so the ids used in both are those that
# do not depend on it.
#
# Usage: tests/fuzz/gen-corpus.py [DIR]   (default tests/fuzz/corpus/virtiofs)

import os
import struct
import sys

ROOT = 1
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC = 0, 1, 2, 0o100, 0o200, 0o1000
S_IFREG, S_IFDIR, S_IFIFO, S_IFCHR = 0o100000, 0o40000, 0o10000, 0o20000
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
SEEK_DATA, SEEK_HOLE = 3, 4

OP = dict(LOOKUP=1, FORGET=2, GETATTR=3, SETATTR=4, READLINK=5, SYMLINK=6,
          MKNOD=8, MKDIR=9, UNLINK=10, RMDIR=11, RENAME=12, LINK=13, OPEN=14,
          READ=15, WRITE=16, STATFS=17, RELEASE=18, FSYNC=20, SETXATTR=21,
          GETXATTR=22, LISTXATTR=23, REMOVEXATTR=24, FLUSH=25, INIT=26,
          OPENDIR=27, READDIR=28, RELEASEDIR=29, FSYNCDIR=30, GETLK=31,
          SETLK=32, SETLKW=33, ACCESS=34, CREATE=35, INTERRUPT=36, BMAP=37,
          DESTROY=38, IOCTL=39, BATCH_FORGET=42, FALLOCATE=43,
          READDIRPLUS=44, RENAME2=45, LSEEK=46, COPY_FILE_RANGE=47,
          SETUPMAPPING=48, REMOVEMAPPING=49, SYNCFS=50)
MAP_READ, MAP_WRITE = 1, 2
MIB = 1 << 20

OUT_HDR = 16
ENTRY_OUT = 128


def cstr(s):
    return s.encode() + b"\0"


class Seq:
    """One fuzz input: a config, then records."""

    def __init__(self, config=0, fdlimit=60, two=False):
        self.data = bytearray([config, fdlimit | (0x80 if two else 0)])
        self.stream_flags = 0

    def on(self, stream, yield_first=False):
        """Following requests go to @stream (0 or 1) of a two-thread input"""
        self.stream_flags = (4 if stream else 0) | (8 if yield_first else 0)
        return self

    def req(self, opcode, nodeid=0, arg=b"", room=4096, out_segs=1,
            in_segs=1, flags=0, uid=1000, gid=1000, raw=None):
        if raw is None:
            body = arg
            raw = struct.pack("<IIQQIIIHH", 40 + len(body), OP[opcode]
                              if isinstance(opcode, str) else opcode,
                              0, nodeid, uid, gid, 4242, 0, 0) + body
        split = ((in_segs - 1) << 4) | (out_segs - 1)
        flags |= self.stream_flags
        self.data += struct.pack("<BBIH", split, flags, room, len(raw))
        self.data += raw
        return self

    def lookup(self, parent, name, **kw):
        return self.req("LOOKUP", parent, cstr(name), room=OUT_HDR + ENTRY_OUT,
                        **kw)

    def open(self, node, flags=O_RDONLY, op="OPEN"):
        return self.req(op, node, struct.pack("<II", flags, 0))

    def read(self, node, fh, off, size, room=None, op="READ", **kw):
        return self.req(op, node, struct.pack("<QQIIQII", fh, off, size, 0,
                                              0, 0, 0),
                        room=OUT_HDR + size if room is None else room, **kw)

    def write(self, node, fh, off, payload, **kw):
        return self.req("WRITE", node, struct.pack("<QQIIQII", fh, off,
                                                   len(payload), 0, 0, 0, 0)
                        + payload, **kw)

    def release(self, node, fh, op="RELEASE"):
        return self.req(op, node, struct.pack("<QIIQ", fh, 0, 0, 0))

    def create(self, parent, name, flags=O_RDWR | O_CREAT, mode=0o644):
        return self.req("CREATE", parent, struct.pack("<IIII", flags, mode,
                                                      0o22, 0) + cstr(name),
                        room=OUT_HDR + ENTRY_OUT + 16)

    def setattr(self, node, valid, fh=0, size=0, atime=0, mtime=0, mode=0,
                uid=0, gid=0):
        return self.req("SETATTR", node, struct.pack(
            "<IIQQQQQQIIIIIIII", valid, 0, fh, size, 0, atime, mtime, 0,
            0, 0, 0, mode, 0, uid, gid, 0), room=OUT_HDR + 104)

    def lk(self, op, node, fh, start, end, typ):
        return self.req(op, node, struct.pack("<QQQQIIII", fh, 77, start, end,
                                              typ, 0, 0, 0))

    def bytes(self):
        return bytes(self.data)


FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE = 1, 2, 4, 8
FATTR_ATIME, FATTR_MTIME, FATTR_FH = 16, 32, 64
FATTR_ATIME_NOW, FATTR_MTIME_NOW = 128, 256


def seeds():
    s = {}

    s["lookup-getattr-forget"] = (
        Seq().lookup(ROOT, "file").req("GETATTR", 2, struct.pack("<IIQ", 0, 0, 0),
                                       room=OUT_HDR + 104)
        .lookup(ROOT, "file").req("FORGET", 2, struct.pack("<Q", 1), room=0)
        .lookup(ROOT, "dir").lookup(3, "sub")
        .req("BATCH_FORGET", 0, struct.pack("<II", 2, 0) +
             struct.pack("<QQ", 3, 1) + struct.pack("<QQ", 4, 1), room=0)
        .lookup(ROOT, "missing").lookup(ROOT, "..").lookup(2, "x"))

    s["open-read-split"] = (
        Seq().lookup(ROOT, "file").open(2)
        .read(2, 1, 0, 4096, in_segs=3)
        .read(2, 1, 7, 5, room=OUT_HDR + 3)
        .req("FLUSH", 2, struct.pack("<QIIQ", 1, 0, 0, 0))
        .release(2, 1))

    s["create-write-read"] = (
        Seq().create(ROOT, "new")
        .write(2, 1, 0, b"0123456789abcdef" * 8, out_segs=5)
        .read(2, 1, 0, 200, in_segs=4)
        .req("LSEEK", 2, struct.pack("<QQII", 1, 0, SEEK_DATA, 0))
        .req("FALLOCATE", 2, struct.pack("<QQQII", 1, 4096, 8192, 0, 0))
        .req("LSEEK", 2, struct.pack("<QQII", 1, 0, SEEK_HOLE, 0))
        .setattr(2, FATTR_SIZE | FATTR_FH, fh=1, size=10)
        .req("FSYNC", 2, struct.pack("<QII", 1, 1, 0))
        .release(2, 1).req("UNLINK", ROOT, cstr("new")))

    # the harness gives the server a 4 MiB DAX window (two 2 MiB granules)
    s["dax-map-remove"] = (
        Seq().create(ROOT, "dax")
        .write(2, 1, 0, b"dax data " * 512)
        .req("SETUPMAPPING", 2, struct.pack("<QQQQQ", 1, 0, 2 * MIB,
                                            MAP_READ | MAP_WRITE, 0))
        .req("SETUPMAPPING", 2, struct.pack("<QQQQQ", 2**64 - 1, 0, 2 * MIB,
                                            MAP_READ, 2 * MIB))
        .req("SETUPMAPPING", 2, struct.pack("<QQQQQ", 1, 2 * MIB, 2 * MIB,
                                            MAP_READ, 4 * MIB))
        .req("REMOVEMAPPING", 2, struct.pack("<I", 2) +
             struct.pack("<QQ", 0, 2 * MIB) + struct.pack("<QQ", 2 * MIB, 2 * MIB))
        .req("SETUPMAPPING", 2, struct.pack("<QQQQQ", 1, 0, 2 * MIB,
                                            MAP_READ, 0))
        .setattr(2, FATTR_SIZE | FATTR_FH, fh=1, size=10)
        .release(2, 1))

    s["readdir-plus"] = (
        Seq().open(ROOT, op="OPENDIR")
        .read(ROOT, 1, 0, 4096, op="READDIR")
        .read(ROOT, 1, 0, 4096, op="READDIRPLUS", in_segs=2)
        .read(ROOT, 1, 0, 200, op="READDIRPLUS")
        .req("FSYNCDIR", ROOT, struct.pack("<QII", 1, 0, 0))
        .release(ROOT, 1, op="RELEASEDIR"))

    s["mkdir-rename-rmdir"] = (
        Seq().req("MKDIR", ROOT, struct.pack("<II", 0o755, 0o22) + cstr("d"),
                  room=OUT_HDR + ENTRY_OUT)
        .req("RENAME", ROOT, struct.pack("<Q", ROOT) + cstr("d") + cstr("e"))
        .req("RENAME2", ROOT, struct.pack("<QII", ROOT, 1, 0) + cstr("file") +
             cstr("e"))
        .req("RENAME2", ROOT, struct.pack("<QII", ROOT, 2, 0) + cstr("file") +
             cstr("e"))
        .req("RMDIR", ROOT, cstr("file")).req("RMDIR", ROOT, cstr("dir")))

    s["symlink-readlink"] = (
        Seq().req("SYMLINK", ROOT, cstr("sl") + cstr("../../etc/shadow"),
                  room=OUT_HDR + ENTRY_OUT)
        .req("READLINK", 2, room=OUT_HDR + 4096)
        .lookup(ROOT, "escape").req("READLINK", 3, room=OUT_HDR + 4)
        .open(3).open(3, O_WRONLY | O_TRUNC).open(3, op="OPENDIR")
        .lookup(ROOT, "escdir").lookup(4, "secret"))

    s["xattr"] = (
        Seq().lookup(ROOT, "file")
        .req("SETXATTR", 2, struct.pack("<II", 5, 0) + cstr("user.a") + b"value")
        .req("GETXATTR", 2, struct.pack("<II", 0, 0) + cstr("user.a"),
             room=OUT_HDR + 16)
        .req("GETXATTR", 2, struct.pack("<II", 64, 0) + cstr("user.a"))
        .req("LISTXATTR", 2, struct.pack("<II", 0, 0), room=OUT_HDR + 16)
        .req("LISTXATTR", 2, struct.pack("<II", 256, 0))
        .req("GETXATTR", 2, struct.pack("<II", 64, 0) + cstr("user.virtfs.uid"))
        .req("SETXATTR", 2, struct.pack("<II", 4, 0) + cstr("user.virtfs.mode")
             + b"\xff\xa1\x00\x00")
        .req("REMOVEXATTR", 2, cstr("user.a")))

    # no attributes at all: an empty list, for the size query and a buffer
    s["listxattr-empty"] = (
        Seq(config=1).lookup(ROOT, "empty")
        .req("LISTXATTR", 2, struct.pack("<II", 0, 0), room=OUT_HDR + 16)
        .req("LISTXATTR", 2, struct.pack("<II", 256, 0))
        .req("GETXATTR", 2, struct.pack("<II", 16, 0) + cstr("user.none")))

    # ACLs are host permissions and not offered
    s["xattr-acl"] = (
        Seq().lookup(ROOT, "file")
        .req("SETXATTR", 2, struct.pack("<II", 28, 0) +
             cstr("system.posix_acl_access") + struct.pack("<I", 2) +
             struct.pack("<HHI", 1, 6, 2 ** 32 - 1) +
             struct.pack("<HHI", 4, 0, 2 ** 32 - 1) +
             struct.pack("<HHI", 0x20, 7, 2 ** 32 - 1))
        .req("REMOVEXATTR", 2, cstr("system.posix_acl_access")))

    s["locks"] = (
        Seq().lookup(ROOT, "file").open(2, O_RDWR)
        .lk("GETLK", 2, 1, 0, 99, F_WRLCK)
        .lk("SETLK", 2, 1, 0, 99, F_WRLCK)
        .lk("SETLKW", 2, 1, 10, 2 ** 63 - 1, F_RDLCK)
        .lk("SETLK", 2, 1, 0, 2 ** 64 - 1, F_UNLCK)
        .release(2, 1))

    s["link-unlink"] = (
        Seq().lookup(ROOT, "file")
        .req("LINK", ROOT, struct.pack("<Q", 2) + cstr("hard"),
             room=OUT_HDR + ENTRY_OUT)
        .lookup(ROOT, "dir")
        .req("LINK", ROOT, struct.pack("<Q", 3) + cstr("dirlink"),
             room=OUT_HDR + ENTRY_OUT)
        .req("UNLINK", ROOT, cstr("hard")))

    s["mknod-statfs-access"] = (
        Seq().req("MKNOD", ROOT, struct.pack("<IIII", S_IFIFO | 0o640, 0,
                                             0o22, 0) + cstr("p"),
                  room=OUT_HDR + ENTRY_OUT)
        .req("MKNOD", ROOT, struct.pack("<IIII", S_IFCHR | 0o600, 0x103, 0, 0)
             + cstr("c"), room=OUT_HDR + ENTRY_OUT)
        .open(2)
        .req("STATFS", ROOT, room=OUT_HDR + 80)
        .req("ACCESS", ROOT, struct.pack("<II", 7, 0))
        .req("ACCESS", 2, struct.pack("<II", 2, 0), uid=0)
        .lookup(ROOT, "fifo").open(4).open(4, O_WRONLY))

    s["copy-file-range"] = (
        Seq().lookup(ROOT, "file").open(2)
        .create(ROOT, "copy")
        .req("COPY_FILE_RANGE", 2, struct.pack("<QQQQQQQ", 1, 0, 3, 2, 0,
                                               1 << 20, 0), room=OUT_HDR + 8)
        .read(3, 2, 0, 64))

    s["setattr"] = (
        Seq().lookup(ROOT, "file")
        .setattr(2, FATTR_MODE, mode=0o600)
        .setattr(2, FATTR_UID | FATTR_GID, uid=1234, gid=5678)
        .setattr(2, FATTR_ATIME | FATTR_MTIME, atime=1, mtime=2)
        .setattr(2, FATTR_ATIME_NOW | FATTR_MTIME_NOW | FATTR_ATIME |
                 FATTR_MTIME)
        .setattr(2, FATTR_SIZE, size=3)
        .lookup(ROOT, "link").setattr(3, FATTR_MODE, mode=0o777))

    # config: none model, cache=never, small fd limit
    s["none-cache-never-fdlimit"] = (
        Seq(config=1 | (0 << 5), fdlimit=0)
        .lookup(ROOT, "file").lookup(ROOT, "empty").lookup(ROOT, "dir")
        .lookup(ROOT, "link").open(2).open(3)
        .create(ROOT, "n2", mode=0o4755))

    s["readonly"] = (
        Seq(config=4 | (3 << 5))
        .lookup(ROOT, "file").open(2, O_RDWR).open(2)
        .write(2, 1, 0, b"x").create(ROOT, "ro")
        .req("UNLINK", ROOT, cstr("file")))

    hdr = struct.pack("<IIQQIIIHH", 40, OP["GETATTR"], 9, ROOT, 0, 0, 0, 0, 0)
    s["malformed"] = (
        Seq()
        .req(0, raw=hdr[:20])                           # truncated header
        .req(0, raw=struct.pack("<I", 1000) + hdr[4:], flags=1)  # len > chain
        .req(0, raw=struct.pack("<I", 8) + hdr[4:], flags=1)     # len < header
        .req(9999, ROOT)                                 # unknown opcode
        .req("IOCTL", ROOT, b"\0" * 32)                  # not implemented
        .req("GETATTR", ROOT, b"\0" * 4)                 # short arguments
        .req("GETATTR", ROOT, b"\0" * 16, room=8)        # no room for a reply
        .req("LOOKUP", ROOT, b"file")                    # no NUL
        .req("INTERRUPT", 0, struct.pack("<Q", 3), room=0)
        .req("INIT", 0, struct.pack("<IIII", 7, 31, 0, 0), room=OUT_HDR + 64)
        .req("SYNCFS", ROOT, struct.pack("<Q", 0))
        .req("DESTROY", 0)
        .lookup(ROOT, "file"))

    # the guest's own INIT, with a newer major first
    s["init-handshake"] = (
        Seq(config=128)
        .lookup(ROOT, "file")
        .req("INIT", 0, struct.pack("<IIII", 8, 0, 0, 0) + b"\0" * 48,
             room=OUT_HDR + 64)
        .req("INIT", 0, struct.pack("<IIIII", 7, 38, 65536, 0x40000000 |
                                    0x1000 | 0x400000, 1) + b"\0" * 44,
             room=OUT_HDR + 64)
        .lookup(ROOT, "file").open(2).read(2, 1, 0, 65536, in_segs=16))

    # Two threads.  "file" is node 2 whichever stream looks it up first.
    def setupmapping(seq, fh, moffset, flags=MAP_READ | MAP_WRITE):
        return seq.req("SETUPMAPPING", 2, struct.pack(
            "<QQQQQ", fh, 0, 2 * MIB, flags, moffset))

    # SETUPMAPPING against a truncation on the other queue: no page of
    # the window may map the file past its end
    t = (Seq(two=True).lookup(ROOT, "file").open(2, O_RDWR)
         .write(2, 1, 0, b"grown " * 2048))
    for i in range(4):
        setupmapping(t, 1, (i & 1) * 2 * MIB)
        setupmapping(t, 2**64 - 1, ((i + 1) & 1) * 2 * MIB, MAP_READ)
    t.on(1).lookup(ROOT, "file")
    for i in range(4):
        t.on(1, yield_first=bool(i & 1)).setattr(2, FATTR_SIZE, size=0)
        t.setattr(2, FATTR_SIZE, size=3 * 4096)
    s["two-dax-truncate"] = t

    # SETUPMAPPING through a handle that the other queue releases
    t = Seq(two=True).lookup(ROOT, "file").open(2, O_RDWR)
    for i in range(6):
        setupmapping(t, 1, (i & 1) * 2 * MIB)
    t.on(1).lookup(ROOT, "file").req("GETATTR", 2,
                                     struct.pack("<IIQ", 0, 0, 0),
                                     room=OUT_HDR + 104)
    t.on(1, yield_first=True).release(2, 1).release(2, 1)
    s["two-dax-release"] = t

    # DESTROY and INIT on one queue while the other maps and writes
    t = (Seq(two=True).create(ROOT, "new").write(2, 1, 0, b"x" * 8192))
    setupmapping(t, 1, 0).write(2, 1, 8192, b"y" * 4096)
    setupmapping(t, 1, 2 * MIB).read(2, 1, 0, 4096)
    t.on(1, yield_first=True).req("DESTROY", 0)
    t.req("INIT", 0, struct.pack("<IIII", 7, 36, 65536, 0x40000000) +
          b"\0" * 48, room=OUT_HDR + 64)
    t.lookup(ROOT, "new")
    s["two-destroy-init"] = t

    # directory operations on both queues: names come and go under READDIR
    t = (Seq(two=True).req("MKDIR", ROOT, struct.pack("<II", 0o755, 0o22) +
                           cstr("d"), room=OUT_HDR + ENTRY_OUT)
         .req("RENAME", ROOT, struct.pack("<Q", ROOT) + cstr("d") + cstr("e"))
         .req("SYMLINK", ROOT, cstr("s") + cstr("file"),
              room=OUT_HDR + ENTRY_OUT)
         .req("RENAME", ROOT, struct.pack("<Q", ROOT) + cstr("e") +
              cstr("d"))
         .req("UNLINK", ROOT, cstr("s")))
    t.on(1).open(ROOT, op="OPENDIR").read(ROOT, 1, 0, 4096, op="READDIRPLUS")
    t.on(1, yield_first=True).lookup(ROOT, "d").lookup(ROOT, "e")
    t.read(ROOT, 1, 0, 4096, op="READDIR").req("RMDIR", ROOT, cstr("d"))
    t.release(ROOT, 1, op="RELEASEDIR")
    s["two-namespace"] = t

    # Live migration (flags bit 4: the server moves to a new one first):
    # an open file with a write lock and two DAX mappings, a directory
    # handle and a looked-up name, then I/O on the new server, and back
    t = (Seq().lookup(ROOT, "file").open(2, O_RDWR)
         .write(2, 1, 0, b"moved " * 1024)
         .lk("SETLK", 2, 1, 0, 99, F_WRLCK)
         .open(ROOT, op="OPENDIR"))
    setupmapping(t, 1, 0)
    setupmapping(t, 2**64 - 1, 2 * MIB, MAP_READ)
    t.read(2, 1, 0, 4096, flags=16).write(2, 1, 4096, b"after " * 100)
    t.read(ROOT, 2, 0, 4096, op="READDIRPLUS")
    t.lk("GETLK", 2, 1, 0, 99, F_WRLCK)
    t.req("RELEASE", 2, struct.pack("<QIIQ", 1, 0, 0, 0), flags=16)
    t.lookup(ROOT, "file").release(ROOT, 2, op="RELEASEDIR")
    s["migrate"] = t
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "virtiofs")
    os.makedirs(out, exist_ok=True)
    for name, seq in sorted(seeds().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(seq.bytes())


if __name__ == "__main__":
    main()
