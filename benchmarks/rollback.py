"""Rollback side by side on the lab, in one run, under a bounded load on the LB's loopback port.

Scenario, set up the same way before each method: the fleet serves its stable version, and a bad candidate (v1.2)
runs as the canary track on every serving node with 50% of the traffic (a release caught mid-way).
- naive: on each node serving the candidate, `docker stop` it, then `docker run` the stable image in its place
  (what an operator does by hand today);
- rollback.yml: `ansible-playbook playbooks/rollback.yml` (traffic off through the runtime API first).
Measured from the command's start: time until no request reaches the candidate (last response with its version
header), time until full capacity (HAProxy: the weights of UP servers add up to the fleet's nominal weight again,
and no server that still runs the candidate has weight), failed requests. Needs the lab (make demo or a bootstrap).
    .venv/bin/python benchmarks/rollback.py [--rate 20] [--max-seconds 180]
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
LAB = "liveavatar-lab"
NODES = ["gpu-node-3", "gpu-node-4"]
LB_URL = "http://127.0.0.1:18080/api/ping"
SOCKET = "/run/haproxy/admin.sock"
NOMINAL_WEIGHT = 100 * len(NODES)
BAD = "v1.2"


def lab(host, *argv, check=True):
    return subprocess.run(["docker", "exec", f"{LAB}-{host}", *argv], capture_output=True, text=True, check=check, timeout=120)


def lb_api(command):
    return lab("lb", "sh", "-c", f"echo '{command}' | socat stdio unix-connect:{SOCKET}").stdout


def servers():
    """name -> (status, weight) of the backend's servers."""
    rows, header = {}, []
    for line in lb_api("show stat").splitlines():
        fields = line.split(",")
        if line.startswith("#"):
            header = [f.strip("# ") for f in fields]
            continue
        row = dict(zip(header, fields, strict=False))
        if row.get("pxname") == "liveavatar" and row.get("svname") not in ("FRONTEND", "BACKEND"):
            rows[row["svname"]] = (row["status"], int(row["weight"] or 0))
    return rows


def registry_digest(version):
    out = subprocess.run(
        [
            "curl",
            "-sI",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            f"http://127.0.0.1:15000/v2/liveavatar/live-avatar/manifests/{version}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.lower().startswith("docker-content-digest"))


def stable_version():
    return json.loads(lab("registry", "cat", "/var/lib/liveavatar-rollout/ledger.json").stdout)["stable"]


def run_container(node, track, port, version, digest):
    env = lab(node, "cat", f"/srv/liveavatar/env/{'stable' if track == 'canary' else track}.env").stdout
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


def set_up_bad_canary(bad_digest):
    """The candidate on every serving node as the canary track, with half of each node's traffic."""
    for node in NODES:
        lab(node, "docker", "rm", "-f", "liveavatar-canary", check=False)
        run_container(node, "canary", 8001, BAD, bad_digest)
    for node in NODES:
        wait_ready(node, 8001)
    for node in NODES:
        lb_api(f"set weight liveavatar/{node}-canary 50;set weight liveavatar/{node}-stable 50")
    deadline = time.monotonic() + 30
    while any(servers()[f"{n}-canary"][0] != "UP" for n in NODES):
        if time.monotonic() > deadline:
            raise SystemExit("benchmark: canary servers never came UP in HAProxy")
        time.sleep(0.5)


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


def full_capacity(state):
    up = sum(weight for status, weight in state.values() if status.startswith("UP"))
    return up >= NOMINAL_WEIGHT


def measure(name, action, rate, max_seconds):
    load = Load(rate, max_seconds)
    load.start()
    time.sleep(3)
    started = time.monotonic()
    worker = threading.Thread(target=action, daemon=True)
    worker.start()
    capacity_at, lost_capacity = None, False
    while time.monotonic() - started < max_seconds and (worker.is_alive() or capacity_at is None):
        state = servers()
        if not full_capacity(state):
            lost_capacity, capacity_at = True, None
        elif capacity_at is None:
            capacity_at = time.monotonic()
        time.sleep(0.1)
    worker.join(timeout=max_seconds)
    time.sleep(2)
    load.stop.set()
    load.join(timeout=15)
    after = [(t, v) for t, v in load.samples if t >= started]
    last_bad = max((t for t, v in after if v == BAD), default=started)
    done_at = getattr(worker, "done_at", None)
    return {
        "method": name,
        "no_request_to_candidate_s": round(last_bad - started, 2),
        "full_capacity_s": round((capacity_at - started) if (capacity_at and lost_capacity) else 0.0, 2),
        "failed_requests": sum(1 for _t, v in after if v is None),
        "requests": len(after),
        "wall_s": round(done_at - started, 1) if done_at else None,
    }


def naive(stable):
    def action():
        for node in NODES:
            lab(node, "docker", "stop", "liveavatar-canary")
            lab(node, "docker", "rm", "liveavatar-canary")
            run_container(node, "canary", 8001, stable["version"], stable["digest"])
        threading.current_thread().done_at = time.monotonic()

    return action


def ours():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    playbook = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "playbooks/rollback.yml"]

    def action():
        subprocess.run(playbook, cwd=ROOT, env=env, capture_output=True, check=True, timeout=600)
        threading.current_thread().done_at = time.monotonic()

    return action


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=180.0)
    args = parser.parse_args()
    stable, bad_digest = stable_version(), registry_digest(BAD)
    rows = []
    for name, action in (("naive docker stop + run", naive(stable)), ("rollback.yml", ours())):
        set_up_bad_canary(bad_digest)
        rows.append(measure(name, action, args.rate, args.max_seconds))
    # Leave the fleet as rollback.yml left it: stable serving, no canary.
    out = ROOT / "benchmarks" / "results" / "rollback.json"
    out.write_text(json.dumps({"args": vars(args), "stable": stable, "candidate": BAD, "rows": rows}, indent=2) + "\n")
    print("| method | no request to the candidate (s) | full capacity (s) | failed requests | requests | wall (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['no_request_to_candidate_s']} | {r['full_capacity_s']} | {r['failed_requests']} | {r['requests']} | {r['wall_s']} |")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
