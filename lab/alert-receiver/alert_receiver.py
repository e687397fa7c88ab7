"""Lab only: stands in for the WeCom robot bridge and the mail relay. Records every Alertmanager webhook call
(path, time, payload) as one JSON line; GET /received returns them. Listens on loopback of the monitor host."""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = os.environ.get("ALERT_RECEIVER_LOG", "/var/lib/alert-receiver/received.jsonl")
MAX_BODY = 1 << 20


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413, "payload too large")
            return
        try:
            payload = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            self.send_error(400, "not JSON")
            return
        with open(LOG, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"path": self.path, "received_at": time.time(), "payload": payload}) + "\n")
        self.send_response(200)
        self.end_headers()

    def do_GET(self):
        if self.path not in ("/received", "/health"):
            self.send_error(404)
            return
        body = b"ok\n"
        if self.path == "/received":
            body = b""
            if os.path.exists(LOG):
                with open(LOG, "rb") as handle:
                    body = handle.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson" if self.path == "/received" else "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("alert-receiver: " + fmt % args + "\n")


def main():
    host, port = os.environ.get("ALERT_RECEIVER_LISTEN", "127.0.0.1:9095").rsplit(":", 1)
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
