#!/usr/bin/env python3
"""Read-only smart-HTTP git server for tests (STACK.md 3.3).

Usage: git_http_server.py ROOT LOG. Serves the bare repositories under ROOT at
http://127.0.0.1:PORT/<name>.git, prints PORT on the first line of stdout, and appends one
line per upload-pack request to LOG ("info/refs", or the protocol v2 command such as
"command=ls-refs" / "command=fetch"), so tests can tell which requests a client made.
"""

import gzip
import http.server
import os
import re
import subprocess
import sys

ROOT = os.path.realpath(sys.argv[1])
LOG = sys.argv[2]


def pkt_line(text):
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


class Handler(http.server.BaseHTTPRequestHandler):
    def repository(self, suffix):
        path = self.path.split("?")[0]
        if not path.endswith(suffix):
            return None
        full = os.path.realpath(os.path.join(ROOT, path[: -len(suffix)].strip("/")))
        inside = full.startswith(ROOT + os.sep) and os.path.isdir(full)
        return full if inside else None

    def upload_pack(self, repository, extra_args, body=b""):
        env = dict(os.environ)
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        command = ["git", "upload-pack", "--stateless-rpc", *extra_args, repository]
        return subprocess.run(command, input=body, env=env, capture_output=True, check=True).stdout

    def do_GET(self):
        repository = self.repository("/info/refs")
        if repository is None or "service=git-upload-pack" not in self.path:
            return self.send_error(404)
        self.log_request_kind("info/refs")
        out = self.upload_pack(repository, ["--http-backend-info-refs"])
        if "version=2" not in self.headers.get("Git-Protocol", ""):
            out = pkt_line("# service=git-upload-pack\n") + b"0000" + out
        self.reply("application/x-git-upload-pack-advertisement", out)

    def do_POST(self):
        repository = self.repository("/git-upload-pack")
        if repository is None:
            return self.send_error(404)
        body = self.read_body()
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        command = re.search(rb"command=[a-z-]+", body)
        self.log_request_kind(command.group().decode() if command else "upload-pack")
        self.reply("application/x-git-upload-pack-result", self.upload_pack(repository, [], body))

    def read_body(self):
        if "chunked" not in self.headers.get("Transfer-Encoding", ""):
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                self.rfile.readline()
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def reply(self, content_type, body):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def log_request_kind(self, kind):
        with open(LOG, "a") as log:
            log.write(kind + "\n")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
