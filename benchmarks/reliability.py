"""One run of every fault playbooks/chaos.yml injects, on the lab, each under a bounded load on the LB's loopback port.

For each fault: how it was injected (the method chaos.yml reports), what detected it, the recovery time (from the
fault's removal, or the restart/reload itself, to the moment the check saw the numbers back), requests sent and
failed through the LB while chaos.yml ran, and clips lost / duplicated where the fault interrupts a generation job
(service_sigkill; for the others the column says no job was interrupted rather than print 0). For service_sigkill the
recovery runs from the kill to the restarted job's last clip checked whole.
Needs the lab with a fleet that has a stable version (make demo). Usage:
    .venv/bin/python benchmarks/reliability.py [--rate 10] [--out benchmarks/results/reliability.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / ".collections")]
from test_rollout import BoundedLoad  # noqa: E402 - the integration tests' load, on the lab's loopback port

REPORTS = ROOT / "reports" / "chaos"
FAULTS = ["network_loss", "network_latency", "dockerd_restart", "lb_reload", "service_sigkill"]


def run_fault(fault, rate, max_seconds):
    started = time.time()
    load = BoundedLoad(rate=rate, max_seconds=max_seconds)
    load.start()
    try:
        playbook = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "playbooks/chaos.yml", "-e", f"fault={fault}"]
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        done = subprocess.run(playbook, cwd=ROOT, env=env, capture_output=True, text=True, timeout=max_seconds, check=False)
    finally:
        load.stop.set()
        load.join(timeout=30)
    reports = [p for p in REPORTS.glob(f"{fault}-*.json") if p.stat().st_mtime >= started]
    report = json.loads(max(reports, key=lambda p: p.stat().st_mtime).read_text()) if reports else {}
    timeline = report.get("timeline") or {}
    return {
        "fault": fault,
        "rc": done.returncode,
        "target": report.get("target"),
        "injected_by": report.get("method"),
        "detected_by": report.get("detected_by"),
        "detected": report.get("detected"),
        "recovery_s": round(timeline["recovered_at"] - timeline["removed_at"], 2) if timeline else None,
        "chaos_yml_s": round(time.time() - started, 1),
        "requests_sent": load.sent,
        "requests_failed": load.failed,
        "clips_lost": report.get("clips_lost"),
        "clips_duplicated": report.get("clips_duplicated"),
        "report": report,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--max-seconds", type=int, default=240)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reliability.json"))
    args = parser.parse_args()
    rows = [run_fault(fault, args.rate, args.max_seconds) for fault in FAULTS]
    Path(args.out).write_text(
        json.dumps({"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rate": args.rate, "faults": rows}, indent=2) + "\n"
    )
    print("| fault | injected by | detected by | recovery (s) | requests sent / failed | clips lost / duplicated |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        clips = "no job interrupted" if row["clips_lost"] is None else f"{row['clips_lost']} / {row['clips_duplicated']}"
        print(
            f"| {row['fault']} (rc {row['rc']}) | {row['injected_by']} | {row['detected_by']} | {row['recovery_s']} | "
            f"{row['requests_sent']} / {row['requests_failed']} | {clips} |"
        )
    return 0 if all(row["rc"] == 0 and row["requests_failed"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
