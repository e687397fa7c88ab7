"""Lab only: stands in for the WeCom robot bridge and for WeCom's application API (the part that Alertmanager's own
wechat_configs receiver calls: GET /cgi-bin/gettoken, POST /cgi-bin/message/send, with the API's error codes).
Records every webhook call and every message sent (path, time, payload) as one JSON line; GET /received returns them.
Listens on loopback of the monitor host."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOG = os.environ.get("ALERT_RECEIVER_LOG", "/var/lib/alert-receiver/received.jsonl")
MAX_BODY = 1 << 20
# The corp and application secret the lab's Alertmanager is configured with; a wrong pair gets WeCom's 40001.
WECOM_CORP_ID = os.environ.get("WECOM_CORP_ID", "lab-corp")
WECOM_SECRET = os.environ.get("WECOM_SECRET", "lab-secret")
TOKENS = set()


def record(path, payload):
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"path": path, "received_at": time.time(), "payload": payload}) + "\n")


def wecom_send(query, message):
    """WeCom's message/send: a valid token, an agent, a recipient and text or markdown content, else its error code."""
    if (query.get("access_token") or [""])[0] not in TOKENS:
        return {"errcode": 40014, "errmsg": "invalid access_token"}
    if not isinstance(message, dict) or not message.get("agentid"):
        return {"errcode": 40056, "errmsg": "invalid agentid"}
    kind = message.get("msgtype")
    if kind not in ("text", "markdown") or not (message.get(kind) or {}).get("content"):
        return {"errcode": 41009, "errmsg": "missing content"}
    if not (message.get("touser") or message.get("toparty") or message.get("totag")):
        return {"errcode": 40031, "errmsg": "invalid user list"}
    record("/cgi-bin/message/send", message)
    return {"errcode": 0, "errmsg": "ok", "invaliduser": ""}


class Handler(BaseHTTPRequestHandler):
    def send_json(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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
        url = urlsplit(self.path)
        if url.path == "/cgi-bin/message/send":
            self.send_json(wecom_send(parse_qs(url.query), payload))
            return
        record(self.path, payload)
        self.send_response(200)
        self.end_headers()

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/cgi-bin/gettoken":
            query = parse_qs(url.query)
            if query.get("corpid") != [WECOM_CORP_ID] or query.get("corpsecret") != [WECOM_SECRET]:
                self.send_json({"errcode": 40001, "errmsg": "invalid credential"})
                return
            token = secrets.token_hex(16)
            TOKENS.add(token)
            self.send_json({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})
            return
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
