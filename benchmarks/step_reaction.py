"""How fast canary_step decides and acts, against a real HAProxy (issue 16 items 2 and 6).

A local HAProxy (the haproxy_lb role's ring and httplog settings) in front of two Python backends on loopback, a
bounded load of 4 client threads, and one 25 % step per case run through canary_step's own run() (the module's
code without Ansible around it). Per case: the verdict, seconds from the weights being set to the verdict, requests
judged per side, and verdict -> weights back. The current path of rollout.yml waits its whole bake (bake_time, 20 s in
the lab) before its judge task runs, whatever the evidence; that figure is configured, not measured here.
    .venv/bin/python benchmarks/step_reaction.py     (needs an haproxy binary: apt-get install haproxy)
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.liveavatar.rollout.plugins.module_utils.haproxy_socket import send  # noqa: E402
from ansible_collections.liveavatar.rollout.plugins.modules.canary_step import run  # noqa: E402

CASES = {
    "A/A (10 ms / 10 ms)": {"canary_ms": 10},
    "x3 latency (30 ms)": {"canary_ms": 30},
    "+50 % latency (15 ms)": {"canary_ms": 15},
    "5 % errors (503)": {"canary_ms": 10, "error_every": 20},
}
CONFIG = """global
    maxconn 512
    stats socket {dir}/admin.sock mode 600 level admin
ring requests
    format raw
    maxlen 2048
    size 1048576
defaults
    mode http
    option httplog
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend liveavatar
    bind 127.0.0.1:{port}
    log ring@requests local0 info
    default_backend liveavatar
backend liveavatar
    balance roundrobin
    server stable 127.0.0.1:{stable} weight 100
    server canary 127.0.0.1:{canary} weight 0
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Backend:
    """A threaded HTTP server whose delay and error rate the benchmark sets per case."""

    def __init__(self):
        self.delay_s, self.error_every, self.count = 0.01, 0, 0
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(backend.delay_s)
                backend.count += 1
                failed = backend.error_every and backend.count % backend.error_every == 0
                self.send_response(503 if failed else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.port = free_port()
        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def load(url, seconds, stop):
    """4 client threads, bounded by seconds and by 20,000 requests in all."""
    sent, failed = [0], [0]

    def worker():
        end = time.monotonic() + seconds
        while time.monotonic() < end and sent[0] < 20000 and not stop.is_set():
            try:
                urllib.request.urlopen(url, timeout=5).read()  # noqa: S310 - loopback only
            except urllib.error.HTTPError:
                pass  # a 503 is the errors case's evidence; the LB logged it
            except (urllib.error.URLError, OSError):
                failed[0] += 1
            sent[0] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _thread in range(4)]
    for thread in threads:
        thread.start()
    return threads, sent, failed


def main():
    binary = shutil.which("haproxy")
    if not binary:
        sys.exit("step_reaction: needs an haproxy binary on PATH (apt-get install haproxy); nothing was run")
    stable, canary = Backend(), Backend()
    work = Path(tempfile.mkdtemp(prefix="step-reaction-"))
    port = free_port()
    (work / "haproxy.cfg").write_text(CONFIG.format(dir=work, port=port, stable=stable.port, canary=canary.port))
    proxy = subprocess.Popen([binary, "-db", "-f", str(work / "haproxy.cfg")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        for _wait in range(50):
            if (work / "admin.sock").exists():
                break
            time.sleep(0.1)
        for name, case in CASES.items():
            canary.delay_s, canary.error_every = case["canary_ms"] / 1000.0, case.get("error_every", 0)
            stop = threading.Event()
            threads, sent, failed = load(f"http://127.0.0.1:{port}/", 40, stop)
            params = {
                "socket": str(work / "admin.sock"),
                "backend": "liveavatar",
                "ring": "requests",
                "weights": {"canary": 25, "stable": 75},
                "candidate_servers": ["canary"],
                "abort_weights": {"canary": 0},
                "abort_weights_if_healthy": {"stable": 100},
                "min_bake_s": 10,
                "max_bake_s": 30,
                "extend_to_s": None,
                "on_inconclusive": "abort",
                "interval_s": 1,
                "warmup_s": 3,
                "alpha": 0.01,
                "judge_warmup": 40,
                "min_requests": 200,
                "tolerance_pct": 0,
                "timeout": 5,
            }
            result = run(params, check_mode=False)
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            judged = result["evidence"]["judge"]["counts"]
            rows.append(
                {
                    "case": name,
                    "verdict": result["verdict"],
                    "weights_to_verdict_s": round(result["timings"]["decided_at"] - result["timings"]["started_at"], 2),
                    "judged_canary": judged["canary"],
                    "judged_stable": judged["stable"],
                    "verdict_to_weights_s": result["timings"]["verdict_to_weights_s"],
                    "first_candidate_request_to_weights_s": result["timings"]["first_candidate_request_to_weights_s"],
                    "reason": result["reason"],
                    "load_sent": sent[0],
                    "load_connection_errors": failed[0],
                }
            )
            # Back to stable alone before the next case.
            send(params["socket"], "set weight liveavatar/canary 0;set weight liveavatar/stable 100", 5)
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "benchmarks" / "results" / "step_reaction.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print("| case | verdict | weights set -> verdict (s) | judged canary / stable | verdict -> weights back (s) | first canary request -> weights back (s) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['case']} | {row['verdict']} | {row['weights_to_verdict_s']} | {row['judged_canary']} / {row['judged_stable']} | "
            f"{row['verdict_to_weights_s']} | {row['first_candidate_request_to_weights_s']} |"
        )
    print(f"written: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
