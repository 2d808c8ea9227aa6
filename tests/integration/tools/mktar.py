#!/usr/bin/env python3
"""Writes a tar from a JSON list of entries, hostile ones included, for the tests.

usage: mktar.py OUT.tar '[{"name": "etc/x", "type": "file", "data": "...", "mode": 420,
                           "uid": 0, "gid": 0, "mtime": 0, "link": "...", "xattrs": {"user.k": "v"}}]'
types: file, dir, symlink, hardlink, char, block, fifo
"""
import io
import json
import sys
import tarfile

TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
         "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}


def main():
    out, entries = sys.argv[1], json.loads(sys.argv[2])
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.type = TYPES[e.get("type", "file")]
            info.mode = e.get("mode", 0o755 if info.type == tarfile.DIRTYPE else 0o644)
            info.uid, info.gid = e.get("uid", 0), e.get("gid", 0)
            info.mtime = e.get("mtime", 0)
            info.linkname = e.get("link", "")
            info.devmajor, info.devminor = e.get("major", 0), e.get("minor", 0)
            if e.get("xattrs"):
                info.pax_headers = {"SCHILY.xattr." + k: v for k, v in e["xattrs"].items()}
            data = e.get("data", "").encode()
            if info.type == tarfile.REGTYPE:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)


if __name__ == "__main__":
    main()
