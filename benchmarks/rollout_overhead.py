"""Orchestration overhead of a rollout: each stage's wall time minus the waits it was configured to make.

Reads a report written by playbooks/rollout.yml (default: the newest promoted one under reports/).
Stage 3's configured wait is bake_time x steps; stages 1-2 have none besides the service's model load
(MODEL_LOAD_SECONDS, 3 s in the lab, once in stage 1). Usage:
    .venv/bin/python benchmarks/rollout_overhead.py [reports/<version>-<run>/report.json] [--bake-time 20]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report", nargs="?")
    parser.add_argument("--bake-time", type=float, default=20.0)
    parser.add_argument("--model-load", type=float, default=3.0)
    args = parser.parse_args()
    if args.report:
        path = Path(args.report)
    else:
        promoted = [p for p in (ROOT / "reports").glob("*/report.json") if json.loads(p.read_text())["outcome"] == "promoted"]
        path = max(promoted, key=lambda p: p.stat().st_mtime)
    report = json.loads(path.read_text())
    waits = {"stage1_s": args.model_load, "stage2_s": 0.0, "stage3_s": args.bake_time * len(report["traffic_steps"])}
    print(f"report {path} ({report['version']}, {report['outcome']})")
    print("| stage | wall (s) | configured waits (s) | overhead (s) |")
    print("|---|---|---|---|")
    for stage, wall in sorted(report["timings"].items()):
        print(f"| {stage.removesuffix('_s')} | {wall:.1f} | {waits.get(stage, 0):.1f} | {wall - waits.get(stage, 0):.1f} |")


if __name__ == "__main__":
    main()
