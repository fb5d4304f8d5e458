"""A local HTTP server for the connector tests: answers by path, counts calls, can be made to fail."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Backend:
    def __init__(self):
        self.calls: list[dict] = []
        self.fail_next = 0          # answer 503 this many times first
        self.status = 200

    def answer(self, handler: "_Handler", body: bytes):
        call = {"method": handler.command, "path": handler.path, "headers": dict(handler.headers),
                "body": json.loads(body) if body else None}
        self.calls.append(call)
        path = handler.path.split("?")[0]
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, "application/json", {"error": "busy"}
        if path == "/slow":
            time.sleep(2)
        if path == "/text":
            return 200, "text/plain", "你好"
        if path == "/missing":
            return 404, "application/json", {"error": "not found"}
        if path == "/redirect":
            return 302, "text/plain", ""
        if path == "/big":
            return 200, "text/plain", "x" * (1024 * 1024 + 10)
        if path == "/credit":
            return self.status, "application/json", {"level": "A", "echo": call["body"]}
        return 200, "application/json", {"ok": True, "path": path, "echo": call["body"]}


class _Handler(BaseHTTPRequestHandler):
    backend: Backend

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        status, mimetype, payload = self.backend.answer(self, self.rfile.read(length) if length else b"")
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", mimetype + "; charset=utf-8")
        if status == 302:
            self.send_header("Location", "http://example.invalid/")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, *args):   # quiet
        pass


class LocalServer:
    def __init__(self):
        self.backend = Backend()
        handler = type("Handler", (_Handler,), {"backend": self.backend})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
