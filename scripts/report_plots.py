"""PNG plots of canary vs stable latency at each traffic step of a rollout report (report.json beside them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot(report_dir):
    report = json.loads((Path(report_dir) / "report.json").read_text())
    written = []
    for step in report.get("traffic_steps", []):
        series = step.get("latency") or {}
        if not series.get("canary") and not series.get("stable"):
            continue
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        for track, style in (("stable", "-o"), ("canary", "-s")):
            values = [v * 1000 for v in series.get(track) or []]
            ax.plot(range(len(values)), values, style, markersize=3, label=f"{track} ({len(values)} points)")
        ax.set_title(f"{report['version']} vs {report['baseline']['version']}: step {step['weight']}% - {step['verdict']}")
        if step.get("judge") == "requests":
            ax.set_xlabel("look (every 2 s)")
            ax.set_ylabel("median latency at the LB since the last look (ms)")
        else:
            ax.set_xlabel("Prometheus sample (2 s apart)")
            ax.set_ylabel("mean request latency (ms)")
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        path = Path(report_dir) / f"latency_step_{step['weight']:03d}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path.name)
    print(json.dumps({"plots": written}))


if __name__ == "__main__":
    plot(sys.argv[1])
