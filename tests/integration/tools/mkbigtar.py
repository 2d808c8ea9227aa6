#!/usr/bin/env python3
"""Writes a layer tar of incompressible files, for the store's crash and concurrency tests.

usage: mkbigtar.py OUT.tar MEGABYTES FILES [SEED]

FILES regular files of equal size under big/, MEGABYTES in all, random content
from SEED (the same arguments give the same tar).
"""
import io
import random
import sys
import tarfile


def main():
    out, mb, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(sys.argv[4] if len(sys.argv) > 4 else "kapsel")
    size = mb * 1000 * 1000 // files
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        d = tarfile.TarInfo("big")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        t.addfile(d)
        for i in range(files):
            info = tarfile.TarInfo("big/f%05d" % i)
            info.size, info.mode = size, 0o644
            t.addfile(info, io.BytesIO(rng.randbytes(size)))


if __name__ == "__main__":
    main()
