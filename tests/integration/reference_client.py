"""A reference client that plays the 12345 platform against Wuyi's integration API: it sends signed
tickets, runs the callback HTTP server that receives the outbound events, checks each callback's
signature and timestamp, deduplicates by event id, and checks the order of each case's events.

Used by tests/integration/test_exchange_server.py against a real server and dispatcher; also runnable
by hand:

    python tests/integration/reference_client.py --base http://127.0.0.1:5000 --secret SECRET \
        --listen 8765 scripts/sample_ticket.json
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

WINDOW_SECONDS = 300


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


class Platform:
    """The sending side."""

    def __init__(self, base: str, platform: str, secret: str):
        self.base, self.platform, self.secret = base.rstrip("/"), platform, secret
        self.http = requests.Session()

    def signed_headers(self, body: bytes, timestamp: int | None = None, secret: str | None = None) -> dict:
        ts = int(time.time()) if timestamp is None else timestamp
        return {"Content-Type": "application/json", "X-Wuyi-Timestamp": str(ts),
                "X-Wuyi-Signature": "sha256=" + sign(secret or self.secret, ts, body)}

    def post(self, path: str, body: bytes, headers: dict) -> requests.Response:
        return self.http.post(f"{self.base}/api/v1/integration/{self.platform}{path}", data=body, headers=headers,
                              timeout=60)

    def send_ticket(self, ticket: dict, timestamp: int | None = None) -> requests.Response:
        body = json.dumps(ticket, ensure_ascii=False).encode()
        return self.post("/tickets", body, self.signed_headers(body, timestamp))


class Receiver:
    """The callback server. `up = False` answers 503 to everything (the platform is down); stop()
    closes the socket altogether. `events` holds each event id once, in first-arrival order."""

    def __init__(self, secret: str, port: int = 0):
        self.secret = secret
        self.up = True
        self.events: list[dict] = []
        self.seen: set[str] = set()
        self.deliveries = 0        # every POST that carried a good signature, duplicates included
        self.duplicates = 0
        self.refused: list[str] = []   # bad signatures / stale timestamps / order violations
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):   # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.handle(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wuyi/events"

    def handle(self, headers, body: bytes) -> int:
        if not self.up:
            return 503
        ts, given = headers.get("X-Wuyi-Timestamp"), headers.get("X-Wuyi-Signature") or ""
        if not ts or not hmac.compare_digest("sha256=" + sign(self.secret, ts, body), given):
            self.refused.append("bad signature")
            return 401
        if abs(time.time() - int(ts)) > WINDOW_SECONDS:
            self.refused.append("stale timestamp")
            return 401
        event = json.loads(body)
        if headers.get("X-Wuyi-Event-Id") != event["event_id"]:
            self.refused.append("event id header differs from the body")
            return 400
        with self.lock:
            self.deliveries += 1
            if event["event_id"] in self.seen:
                self.duplicates += 1
                return 200   # already have it: acknowledge again, process nothing
            previous = [e["seq"] for e in self.events if e["case_number"] == event["case_number"]]
            if event["seq"] != (max(previous) if previous else 0) + 1:
                self.refused.append(f"out of order: {event['case_number']} seq {event['seq']} after {previous}")
                return 409   # not processed; the sender will deliver it again, after the missing one
            self.seen.add(event["event_id"])
            self.events.append(event)
        return 200

    def of_case(self, case_number: str) -> list[str]:
        return [e["type"] for e in self.events if e["case_number"] == case_number]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--platform", default="hotline_12345")
    parser.add_argument("--listen", type=int, default=0, help="callback port (0: do not listen)")
    parser.add_argument("ticket", nargs="?")
    args = parser.parse_args(argv)
    receiver = Receiver(args.secret, args.listen) if args.listen else None
    if args.ticket:
        with open(args.ticket, encoding="utf-8") as f:
            resp = Platform(args.base, args.platform, args.secret).send_ticket(json.load(f))
        print(resp.status_code, resp.text)
    if receiver is not None:
        print(f"listening on {receiver.url}; Ctrl+C to stop", file=sys.stderr)
        printed = 0
        try:
            while True:
                time.sleep(1)
                for event in receiver.events[printed:]:
                    print(json.dumps(event, ensure_ascii=False))
                printed = len(receiver.events)
        except KeyboardInterrupt:
            receiver.stop()


if __name__ == "__main__":
    main()
