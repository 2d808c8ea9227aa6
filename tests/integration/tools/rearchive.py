#!/usr/bin/env python3
"""Rewrites an image archive (docker-archive or oci-archive) with hostile edits, for the
tests of kapsel load's handling of untrusted metadata.

usage: rearchive.py IN.tar OUT.tar [edits...]
  --set NAME TEXT           the entry NAME holds TEXT (replaced, or added at the end)
  --merge-docker JSON       merged into the first image of a docker archive's manifest.json
  --merge-config JSON       merged into the image config (a docker archive's config file;
                            in an OCI archive a new blob, with manifest and index.json
                            pointing to it)
  --merge-manifest JSON     OCI: merged into the manifest (a new blob; index.json updated)
  --merge-index-entry JSON  OCI: merged into index.json's manifests[0]
  --merge-index JSON        OCI: merged into index.json
  --junk COUNT SIZE NAME    COUNT entries of SIZE bytes at the end, named NAME % i
Merges are JSON merge patches (RFC 7386: objects merge, null deletes, anything else
replaces). Prints the digests of the rewritten OCI documents, one "what digest" a line.
"""
import argparse
import hashlib
import io
import json
import sys
import tarfile


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def merge(target, patch):
    if not isinstance(patch, dict):
        return patch
    target = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge(target.get(k), v)
    return target


def dumps(doc):
    return json.dumps(doc, separators=(",", ":")).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--set", nargs=2, action="append", default=[], metavar=("NAME", "TEXT"))
    for m in ("docker", "config", "manifest", "index-entry", "index"):
        ap.add_argument("--merge-" + m, type=json.loads)
    ap.add_argument("--junk", nargs=3, action="append", default=[], metavar=("COUNT", "SIZE", "NAME"))
    a = ap.parse_args()

    with tarfile.open(a.inp) as t:
        members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
    order = [m.name for m, _ in members]
    info = {m.name: m for m, _ in members}
    data = {m.name: d for m, d in members}

    def put(name, content):
        if name not in info:
            info[name] = tarfile.TarInfo(name)
            order.append(name)
        data[name] = content

    def blob(digest):
        return "blobs/sha256/" + digest[7:]

    if "manifest.json" in data:
        images = json.loads(data["manifest.json"])
        if a.merge_config is not None:
            name = images[0]["Config"]
            put(name, dumps(merge(json.loads(data[name]), a.merge_config)))
        if a.merge_docker is not None:
            images[0] = merge(images[0], a.merge_docker)
            put("manifest.json", dumps(images))
    elif "index.json" in data:
        index = json.loads(data["index.json"])
        entry = index["manifests"][0]
        manifest = json.loads(data[blob(entry["digest"])])
        if a.merge_config is not None:
            config = dumps(merge(json.loads(data[blob(manifest["config"]["digest"])]), a.merge_config))
            put(blob(sha(config)), config)
            manifest["config"] = dict(manifest["config"], digest=sha(config), size=len(config))
            print("config", sha(config))
        if a.merge_config is not None or a.merge_manifest is not None:
            text = dumps(merge(manifest, a.merge_manifest or {}))
            put(blob(sha(text)), text)
            entry = dict(entry, digest=sha(text), size=len(text))
            print("manifest", sha(text))
        index["manifests"][0] = merge(entry, a.merge_index_entry or {})
        put("index.json", dumps(merge(index, a.merge_index or {})))

    for name, text in a.set:
        put(name, text.encode())
    for count, size, fmt in a.junk:
        for i in range(int(count)):
            put(fmt % i, b"j" * int(size))

    with tarfile.open(a.out, "w", format=tarfile.PAX_FORMAT) as t:
        for name in order:
            m = info[name]
            if data[name] is None:
                t.addfile(m)
            else:
                m.size = len(data[name])
                t.addfile(m, io.BytesIO(data[name]))


if __name__ == "__main__":
    sys.exit(main())
