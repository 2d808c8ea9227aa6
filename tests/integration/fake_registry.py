#!/usr/bin/env python3
"""A small registry for kapsel's registry tests: serves the one image of an OCI image
layout (scripts/make-image-fixtures) as REPO:latest over the distribution API, with
the failures a real registry does not produce on demand. Loopback only, pull only,
standard library only.

usage: fake_registry.py LAYOUT PORTFILE LOGFILE [options]
  --repo NAME        the repository (default busybox)
  --bearer USER:PASS /v2/ wants a Bearer token from /token, which wants Basic USER:PASS
  --redirect         blob GETs redirect to http://localhost:PORT/storage/DIGEST (another
                     host name, so clients must not send their token along)
  --drop-after N     the next blob responses (GET /control?drops=K, default 1) are cut
                     after N bytes
  --corrupt          layer blobs are served with one byte changed
  --multiarch        the tag is an index: linux/<other> (the image with another config)
                     before linux/<the fixture's architecture>
  --patch-config JSON    the tag's config with this JSON merge patch (RFC 7386)
  --patch-manifest JSON  the tag's manifest with this JSON merge patch
  --layer-size N     the tag's manifest declares its layer N bytes long
  --manifest-text T  the tag's manifest is the text T
  --token-body JSON  /token answers 200 with this body (with --bearer)
  --realm TEXT       the Bearer challenge names this realm (with --bearer)
  --error-body JSON  every 404 has this body
  --trickle N        layer blobs are sent N bytes a second (0: nothing after the head)
Writes its port to PORTFILE once it listens, and a line per request to LOGFILE:
  METHOD PATH range=<Range header or -> auth=<bearer|basic|none>
"""
import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def merge(target, patch):
    """RFC 7386: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    target = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge(target.get(k), v)
    return target


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.drops = 1 if args.drop_after else 0
        self.tokens = set()
        self.blobs = {}  # digest -> bytes: manifests, configs, layers
        blob_dir = os.path.join(args.layout, "blobs", "sha256")
        for name in os.listdir(blob_dir):
            with open(os.path.join(blob_dir, name), "rb") as f:
                self.blobs["sha256:" + name] = f.read()
        with open(os.path.join(args.layout, "index.json")) as f:
            top = json.load(f)["manifests"][0]
        self.tag = {"digest": top["digest"], "type": top.get("mediaType", MT_MANIFEST)}
        manifest = json.loads(self.blobs[top["digest"]])
        self.layers = {l["digest"] for l in manifest["layers"]}
        if args.patch_config or args.patch_manifest or args.layer_size is not None:
            edited = dict(manifest)
            if args.patch_config:
                config = json.loads(self.blobs[manifest["config"]["digest"]])
                text = json.dumps(merge(config, json.loads(args.patch_config))).encode()
                self.blobs[digest(text)] = text
                edited["config"] = dict(manifest["config"], digest=digest(text), size=len(text))
            if args.layer_size is not None:
                edited["layers"] = [dict(manifest["layers"][0], size=args.layer_size)] + manifest["layers"][1:]
            if args.patch_manifest:
                edited = merge(edited, json.loads(args.patch_manifest))
            text = json.dumps(edited).encode()
            self.blobs[digest(text)] = text
            self.tag = {"digest": digest(text), "type": MT_MANIFEST}
        if args.manifest_text is not None:
            text = args.manifest_text.encode()
            self.blobs[digest(text)] = text
            self.tag = {"digest": digest(text), "type": MT_MANIFEST}
        if args.multiarch:
            config = json.loads(self.blobs[manifest["config"]["digest"]])
            arch = config["architecture"]
            other = "arm64" if arch != "arm64" else "amd64"
            config["architecture"] = other
            other_config = json.dumps(config).encode()
            self.blobs[digest(other_config)] = other_config
            other_manifest = dict(manifest, config=dict(manifest["config"], digest=digest(other_config),
                                                        size=len(other_config)))
            other_text = json.dumps(other_manifest).encode()
            self.blobs[digest(other_text)] = other_text
            index = json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [
                {"mediaType": MT_MANIFEST, "digest": digest(other_text), "size": len(other_text),
                 "platform": {"os": "linux", "architecture": other}},
                {"mediaType": MT_MANIFEST, "digest": top["digest"], "size": top["size"],
                 "platform": {"os": "linux", "architecture": arch}},
            ]}).encode()
            self.blobs[digest(index)] = index
            self.tag = {"digest": digest(index), "type": MT_INDEX}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-registry"

    def log_message(self, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def record(self):
        auth = self.headers.get("Authorization", "")
        scheme = auth.split(" ")[0].lower() if auth else "none"
        with self.state.lock, open(self.state.args.logfile, "a") as f:
            f.write(f"{self.command} {self.path} range={self.headers.get('Range', '-')} auth={scheme}\n")

    def reply(self, status, body=b"", headers=None, content_length=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, headers=None):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        if status == 404 and self.state.args.error_body is not None:
            body = self.state.args.error_body.encode()
        self.reply(status, body, dict({"Content-Type": "application/json"}, **(headers or {})))

    def authorized(self):
        if not self.state.args.bearer:
            return True
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in self.state.tokens:
            return True
        port = self.server.server_address[1]
        scope = f"repository:{self.state.args.repo}:pull"
        realm = self.state.args.realm or f"http://127.0.0.1:{port}/token"
        challenge = f'Bearer realm="{realm}",service="fake-registry",scope="{scope}"'
        self.error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        return False

    def token(self):
        if self.state.args.token_body is not None:
            return self.reply(200, self.state.args.token_body.encode(), {"Content-Type": "application/json"})
        want = "Basic " + base64.b64encode(self.state.args.bearer.encode()).decode()
        if self.headers.get("Authorization") != want:
            body = json.dumps({"details": "incorrect username or password"}).encode()
            return self.reply(401, body, {"Content-Type": "application/json"})
        tok = secrets.token_hex(16)
        with self.state.lock:
            self.state.tokens.add(tok)
        # "access_token", the OAuth2 spelling some token servers use instead of "token".
        self.reply(200, json.dumps({"access_token": tok, "expires_in": 300}).encode(),
                   {"Content-Type": "application/json"})

    def blob(self, d):
        data = self.state.blobs.get(d)
        if data is None:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if self.state.args.corrupt and d in self.state.layers:
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            data = bytes(data)
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if m:
            start = int(m.group(1))
            if start >= len(data):
                return self.reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
        status = 206 if m else 200
        headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": d}
        if m:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        rate = self.state.args.trickle
        if rate is not None and d in self.state.layers and self.command == "GET":
            # A connection that is alive but useless, until the client hangs up.
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            self.connection.settimeout(1)
            sent = 0
            try:
                for _ in range(300):
                    if rate:
                        self.wfile.write(body[sent:sent + rate])
                        self.wfile.flush()
                        sent += rate
                    try:
                        if self.connection.recv(1) == b"":
                            break
                    except socket.timeout:
                        pass
            except OSError:
                pass
            self.close_connection = True
            return
        cut = None
        with self.state.lock:
            n = self.state.args.drop_after
            if n and self.state.drops > 0 and len(body) > n:
                self.state.drops -= 1
                cut = n
        if cut is None:
            return self.reply(status, body, headers)
        # Promise the whole body, send part of it, and hang up: a dropped connection.
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:cut])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        path = self.path.split("?")[0]
        repo = self.state.args.repo
        if path == "/control":
            m = re.search(r"drops=(\d+)", self.path)
            with self.state.lock:
                self.state.drops = int(m.group(1)) if m else 0
            return self.reply(200, b"ok\n")
        if path == "/token":
            return self.token()
        if path.startswith("/storage/"):
            return self.blob(path[len("/storage/"):])
        if not self.authorized():
            return
        if path == "/v2/":
            return self.reply(200, b"{}", {"Content-Type": "application/json"})
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
        if not m or m.group(1) != repo:
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        kind, ref = m.group(2), m.group(3)
        if kind == "blobs":
            if self.state.args.redirect:
                port = self.server.server_address[1]
                return self.reply(307, b"", {"Location": f"http://localhost:{port}/storage/{ref}"})
            return self.blob(ref)
        if ref == "latest":
            ref, mt = self.state.tag["digest"], self.state.tag["type"]
        elif ref in self.state.blobs:
            mt = json.loads(self.state.blobs[ref]).get("mediaType", MT_MANIFEST)
        else:
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        self.reply(200, self.state.blobs[ref], {"Content-Type": mt, "Docker-Content-Digest": ref})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("layout")
    p.add_argument("portfile")
    p.add_argument("logfile")
    p.add_argument("--repo", default="busybox")
    p.add_argument("--bearer", default="")
    p.add_argument("--redirect", action="store_true")
    p.add_argument("--drop-after", type=int, default=0)
    p.add_argument("--corrupt", action="store_true")
    p.add_argument("--multiarch", action="store_true")
    p.add_argument("--patch-config", default="")
    p.add_argument("--patch-manifest", default="")
    p.add_argument("--layer-size", type=int)
    p.add_argument("--manifest-text")
    p.add_argument("--token-body")
    p.add_argument("--realm", default="")
    p.add_argument("--error-body")
    p.add_argument("--trickle", type=int)
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args)
    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.portfile)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
