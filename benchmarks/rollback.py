"""Rollback side by side on the lab, in one run, under a bounded load on the LB's loopback port.

Two scenarios, each set up the same way before each method (bad version: v1.2, target: the ledger's stable):
- canary: the bad version runs as the canary track on every serving node with 50% of the traffic (caught mid-way);
- promoted: the bad version is what every node serves (its stable container), as after a bad promotion.
Methods:
- naive: on each node, `docker stop` the container serving the bad version, then `docker run` the target image in
  its place (what an operator does by hand today);
- rollback.yml: `ansible-playbook playbooks/rollback.yml`.
Measured from the command's start: time until no request reaches the bad version (last response with its version
header), time until full capacity (every serving node has an UP server with weight that answers with the target
version, after the last bad response), failed requests; plus rollback.yml's own traffic-off time from its report.
Needs the lab with a fleet (make demo). Usage:
    .venv/bin/python benchmarks/rollback.py [--rate 20] [--max-seconds 240]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration")]
from lab_lb import SOCKET, registry_digest, stat_rows  # noqa: E402

LAB = "liveavatar-lab"
NODES = ["gpu-node-3", "gpu-node-4"]
LB_URL = "http://127.0.0.1:18080/api/ping"
BAD = "v1.2"


def lab(host, *argv, check=True):
    return subprocess.run(["docker", "exec", f"{LAB}-{host}", *argv], capture_output=True, text=True, check=check, timeout=120)


def lb_api(command):
    return lab("lb", "sh", "-c", f"echo '{command}' | socat stdio unix-connect:{SOCKET}").stdout


def servers():
    """name -> (status, weight, version answering on it) of the backend's servers, in one exec on the LB."""
    probes = " ".join(f"{n}:{port}" for n in NODES for port in (8000, 8001))
    script = (
        f"echo 'show stat' | socat stdio unix-connect:{SOCKET}; echo ---; "
        f"for s in {probes}; do printf '%s ' $s; curl -s -m 1 http://$s/health || echo; echo; done"
    )
    stat, _sep, health = lab("lb", "sh", "-c", script).stdout.partition("---\n")
    answering = {}
    for line in health.splitlines():
        if " " in line:
            address, body = line.split(" ", 1)
            try:
                answering[address] = json.loads(body).get("version")
            except ValueError:
                answering[address] = None
    rows = {}
    for row in stat_rows(stat):
        node, track = row["svname"].rsplit("-", 1)
        rows[row["svname"]] = (row["status"], int(row["weight"] or 0), answering.get(f"{node}:{8000 if track == 'stable' else 8001}"))
    return rows


def stable_version():
    return json.loads(lab("registry", "cat", "/var/lib/liveavatar-rollout/ledger.json").stdout)["stable"]


def run_container(node, track, port, version, digest):
    env = lab(node, "cat", "/srv/liveavatar/env/stable.env").stdout
    env_args = []
    for line in env.splitlines():
        if line and not line.startswith("#") and not line.startswith(("LIVEAVATAR_VERSION=", "LIVEAVATAR_TRACK=")):
            env_args += ["-e", line]
    argv = ["docker", "run", "-d", "--name", f"liveavatar-{track}", "-p", f"{port}:7860", *env_args, "-e", f"LIVEAVATAR_TRACK={track}"]
    argv += ["--label", "io.liveavatar.track=" + track, "--label", "io.liveavatar.version=" + version, "--label", "io.liveavatar.digest=" + digest]
    argv += ["-v", f"/srv/liveavatar/output/{version}:/outputs", "-v", f"/var/lib/liveavatar-sim/{track}:/var/lib/liveavatar-sim"]
    lab(node, "mkdir", "-p", f"/srv/liveavatar/output/{version}", f"/var/lib/liveavatar-sim/{track}")
    lab(node, *argv, f"registry:5000/liveavatar/live-avatar@{digest}")


def wait_ready(node, port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab(node, "curl", "-sf", f"http://127.0.0.1:{port}/health", check=False).returncode == 0:
            return
        time.sleep(0.3)
    raise SystemExit(f"benchmark: {node}:{port} not ready within {timeout} s")


def wait_lb(check, what):
    deadline = time.monotonic() + 60
    while not check(servers()):
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark: {what} not reached in HAProxy within 60 s")
        time.sleep(0.5)


def set_up_canary(stable, bad_digest):
    """The bad version on every serving node as the canary track, with half of each node's traffic."""
    for node in NODES:
        lab(node, "docker", "rm", "-f", "liveavatar-canary", check=False)
        run_container(node, "canary", 8001, BAD, bad_digest)
    for node in NODES:
        wait_ready(node, 8001)
        lb_api(f"set weight liveavatar/{node}-canary 50;set weight liveavatar/{node}-stable 50")
    wait_lb(lambda st: all(st[f"{n}-canary"][0] == "UP" and st[f"{n}-stable"][2] == stable["version"] for n in NODES), "canary UP")


def set_up_promoted(stable, bad_digest):
    """The bad version as every node's stable container, serving all traffic."""
    for node in NODES:
        lab(node, "docker", "rm", "-f", "liveavatar-canary", "liveavatar-stable", check=False)
        run_container(node, "stable", 8000, BAD, bad_digest)
    for node in NODES:
        wait_ready(node, 8000)
        lb_api(f"set weight liveavatar/{node}-canary 0;set weight liveavatar/{node}-stable 100")
    wait_lb(lambda st: all(st[f"{n}-stable"][0] == "UP" and st[f"{n}-stable"][2] == BAD for n in NODES), "bad version UP")


SCENARIOS = {"canary": (set_up_canary, "canary", 8001), "promoted": (set_up_promoted, "stable", 8000)}


class Load(threading.Thread):
    """Bounded load through the LB: (time, version or None) per request; stops at max_seconds or max_requests."""

    def __init__(self, rate, max_seconds, max_requests=20000):
        super().__init__(daemon=True)
        self.rate, self.max_seconds, self.max_requests = rate, max_seconds, max_requests
        self.stop, self.samples = threading.Event(), []

    def run(self):
        deadline = time.monotonic() + self.max_seconds
        while not self.stop.is_set() and time.monotonic() < deadline and len(self.samples) < self.max_requests:
            try:
                with urllib.request.urlopen(LB_URL, timeout=10) as response:
                    self.samples.append((time.monotonic(), response.headers["X-Served-Version"]))
            except OSError:
                self.samples.append((time.monotonic(), None))
            time.sleep(1 / self.rate)


def full_capacity(state, target):
    """Every serving node has an UP server with weight that answers with the target version."""
    return all(
        any(status.startswith("UP") and weight > 0 and version == target for name, (status, weight, version) in state.items() if name.startswith(node + "-"))
        for node in NODES
    )


def measure(name, action, target, rate, max_seconds):
    load = Load(rate, max_seconds)
    load.start()
    time.sleep(3)
    started = time.monotonic()
    worker = threading.Thread(target=action, daemon=True)
    worker.start()
    timeline = []
    while time.monotonic() - started < max_seconds and (worker.is_alive() or not timeline or not timeline[-1][1]):
        timeline.append((time.monotonic(), full_capacity(servers(), target)))
        time.sleep(0.2)
    worker.join(timeout=max_seconds)
    time.sleep(2)
    load.stop.set()
    load.join(timeout=15)
    after = [(t, v) for t, v in load.samples if t >= started]
    last_bad = max((t for t, v in after if v == BAD), default=started)
    # Full capacity: the first moment after the last bad response from which every later poll was at full capacity.
    capacity_at = None
    for moment, full in timeline:
        if not full:
            capacity_at = None
        elif capacity_at is None:
            capacity_at = moment
    capacity_at = max(capacity_at or timeline[-1][0], last_bad)
    done_at = getattr(worker, "done_at", None)
    return {
        "method": name,
        "no_request_to_bad_version_s": round(last_bad - started, 2),
        "full_capacity_s": round(capacity_at - started, 2),
        "failed_requests": sum(1 for _t, v in after if v is None),
        "requests": len(after),
        "wall_s": round(done_at - started, 1) if done_at else None,
    }


def naive(stable, track, port):
    def action():
        for node in NODES:
            lab(node, "docker", "stop", f"liveavatar-{track}")
            lab(node, "docker", "rm", f"liveavatar-{track}")
            run_container(node, track, port, stable["version"], stable["digest"])
        threading.current_thread().done_at = time.monotonic()

    return action


def ours():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    playbook = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "playbooks/rollback.yml"]

    def action():
        subprocess.run(playbook, cwd=ROOT, env=env, capture_output=True, check=True, timeout=600)
        threading.current_thread().done_at = time.monotonic()

    return action


def latest_rollback_report():
    reports = sorted((ROOT / "reports").glob("rollback-*/report.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=240.0)
    args = parser.parse_args()
    stable, bad_digest = stable_version(), registry_digest(BAD)
    rows = []
    for scenario, (set_up, track, port) in SCENARIOS.items():
        for name, action in (("naive docker stop + run", naive(stable, track, port)), ("rollback.yml", ours())):
            set_up(stable, bad_digest)
            row = measure(name, action, stable["version"], args.rate, args.max_seconds)
            if name == "rollback.yml":
                timings = latest_rollback_report()["timings"]
                row["report_canary_off_s"], row["report_bad_version_off_s"] = timings["traffic_off_s"], timings.get("bad_version_off_s")
            rows.append({"scenario": scenario} | row)
    # rollback.yml ran last: the fleet is back on the stable version with its configuration, the canary servers at 0.
    out = ROOT / "benchmarks" / "results" / "rollback.json"
    out.write_text(json.dumps({"args": vars(args), "stable": stable, "bad_version": BAD, "rows": rows}, indent=2) + "\n")
    print("| scenario | method | no request to the bad version (s) | full capacity (s) | failed requests | requests | wall (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['method']} | {r['no_request_to_bad_version_s']} | {r['full_capacity_s']} | {r['failed_requests']} "
            f"| {r['requests']} | {r['wall_s']} |"
        )
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
