#!/usr/bin/env python3
"""Builds an OCI image layout from layer tars, for the image store tests.

usage: mkimage.py OUTDIR NAME:TAG [--compress none|gzip|zstd] [--config JSON]
                  [--corrupt-layer N] [--wrong-diffid N] LAYER.tar...

Each LAYER.tar is uncompressed; it is compressed as asked. --corrupt-layer N
stores layer N with a digest that does not match its content; --wrong-diffid N
writes a wrong diff id for layer N into the config.
"""
import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("ref")
    ap.add_argument("layers", nargs="*")
    ap.add_argument("--compress", default="none")
    ap.add_argument("--config", default="{}")
    ap.add_argument("--corrupt-layer", type=int, default=-1)
    ap.add_argument("--wrong-diffid", type=int, default=-1)
    a = ap.parse_intermixed_args()
    blobs = os.path.join(a.out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = sha(data)
        with open(os.path.join(blobs, d[7:]), "wb") as f:
            f.write(data)
        return d

    diff_ids, descs = [], []
    for i, path in enumerate(a.layers):
        raw = open(path, "rb").read()
        diff_ids.append(sha(raw) if i != a.wrong_diffid else sha(b"not this layer"))
        if a.compress == "gzip":
            data, mt = gzip.compress(raw, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
        elif a.compress == "zstd":
            data = subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
            mt = "application/vnd.oci.image.layer.v1.tar+zstd"
        else:
            data, mt = raw, "application/vnd.oci.image.layer.v1.tar"
        d = sha(data)
        if i == a.corrupt_layer:
            data = data[:-1] + bytes([data[-1] ^ 1])  # content no longer matches the digest
        with open(os.path.join(blobs, d[7:]), "wb") as f:
            f.write(data)
        descs.append({"mediaType": mt, "digest": d, "size": len(data)})

    config = {"architecture": "amd64", "os": "linux", "created": "2020-01-01T00:00:00Z",
              "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config["config"].update(json.loads(a.config))
    cfg = json.dumps(config).encode()
    cfg_d = put(cfg)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_d, "size": len(cfg)},
                           "layers": descs}).encode()
    m_d = put(manifest)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_d,
                                                "size": len(manifest),
                                                "annotations": {"org.opencontainers.image.ref.name": a.ref}}]}
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    sys.exit(main())
