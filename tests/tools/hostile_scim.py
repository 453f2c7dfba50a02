"""A hostile SCIM server for the tests of the operator's limits: what a tenant's own (or a
broken) server could answer. The first path segment picks the behaviour; every request is
logged to LOG as "METHOD PATH" before it is answered, so a test can tell what reached it.

    python3 hostile_scim.py PORT LOG [HOST]

    /huge/...      200 with a body that never ends (no Content-Length), 256 MiB then close
    /declared/...  200 declaring a 10 GiB Content-Length, then the same stream
    /endless/...   list pages that always say there is one more page (totalResults grows)
    /absurd/...    a list claiming 2**62 resources
    /fat/...       list pages five times larger than asked for
    /silent/...    reads the request, then never answers
    /drip/...      answers one byte a second, forever
    /redirect/...  302 to /target/... of this server (a client must not follow it)
    /error/...     500 with a long HTML page a client must not show
    anything else  404, logged (a server that must not be contacted at all)
"""

import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = b" " * (64 << 10)
STREAM = 256 << 20
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def record(self):
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path}\n")

    def send(self, status, body, content_type="application/scim+json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def stream(self, declared=None):
        self.send_response(200)
        self.send_header("Content-Type", "application/scim+json")
        if declared is not None:
            self.send_header("Content-Length", str(declared))
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        try:
            while sent < STREAM:
                self.wfile.write(CHUNK)
                sent += len(CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def page(self, total_of, factor=1):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        start = int(query.get("startIndex", ["1"])[0])
        count = int(query.get("count", ["100"])[0]) * factor
        groups = "/Groups" in self.path
        resources = [
            {"schemas": [GROUP], "id": f"g{i}", "displayName": f"group {i}", "members": []}
            if groups
            else {"schemas": [USER], "id": f"u{i}", "userName": f"user{i}@hostile.example", "active": True}
            for i in range(start, start + count)
        ]
        body = {
            "schemas": [LIST],
            "totalResults": total_of(start, count),
            "startIndex": start,
            "itemsPerPage": count,
            "Resources": resources,
        }
        self.send(200, json.dumps(body).encode())

    def handle_any(self):
        self.record()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        mode = self.path.lstrip("/").split("/", 1)[0]
        if mode == "huge":
            self.stream()
        elif mode == "declared":
            self.stream(declared=10 << 30)
        elif mode == "endless":
            self.page(lambda start, count: start + 2 * count)
        elif mode == "absurd":
            self.page(lambda start, count: 2**62)
        elif mode == "fat":
            self.page(lambda start, count: 1000, factor=5)
        elif mode == "silent":
            time.sleep(3600)
        elif mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/scim+json")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif mode == "redirect":
            target = "/target/" + self.path.split("/", 2)[-1]
            self.send(302, b"", headers=[("Location", target)])
        elif mode == "error":
            page = "<html><body>" + "CALL-ME-AT-EVIL.EXAMPLE " * 2000 + "</body></html>"
            self.send(500, page.encode(), content_type="text/html")
        else:
            self.send(404, b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404"}')

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


if __name__ == "__main__":
    port, LOG = int(sys.argv[1]), sys.argv[2]
    host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"hostile_scim: listening on {host}:{port}", flush=True)
    server.serve_forever()
