"""Clip time, GPU-memory peak and quality of each stand-in version, measured side by side in one run.

Runs every version's image on the local engine with the same inputs and seed, then compares each
version's clips with v1.0's (PSNR/SSIM through the collection's own video_quality logic).
Usage: .venv/bin/python benchmarks/workload_versions.py [--clips 3 --frames 16 --steps 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / ".collections"), str(ROOT / "tests" / "integration")]

import imageio.v3 as iio  # noqa: E402
from workload_inputs import cli_in_container, make_inputs  # noqa: E402

from ansible_collections.liveavatar.rollout.plugins.module_utils import video  # noqa: E402

VERSIONS = ("v1.0", "v1.1", "v1.2")


def run_version(version, work, args):
    out = work / version
    out.mkdir()
    cli = [
        "--image",
        "/inputs/ref.png",
        "--audio",
        "/inputs/voice.wav",
        "--size",
        args.size,
        "--num_clip",
        str(args.clips),
        "--infer_frames",
        str(args.frames),
        "--sample_steps",
        str(args.steps),
        "--job_id",
        "bench",
        "--base_seed",
        "420",
    ]
    cmd = cli_in_container(f"liveavatar/live-avatar:{version}", out, cli, inputs_dir=work / "inputs")
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=1800)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    clips = sorted((out / "bench" / "clips").glob("clip_*.mp4"))
    return summary, [iio.imread(path, index=None) for path in clips]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", default="704*384")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-workload-") as tmp:
        work = Path(tmp)
        make_inputs(work / "inputs")
        results = {v: run_version(v, work, args) for v in VERSIONS}
    reference_frames = results["v1.0"][1]
    rows = []
    for version in VERSIONS:
        summary, frames = results[version]
        psnrs = [video.psnr(r, c) for r, c in zip(reference_frames, frames, strict=True)]
        ssims = [video.ssim(r, c) for r, c in zip(reference_frames, frames, strict=True)]
        rows.append(
            {
                "version": version,
                "clip_time_s": summary["clip_time_s"],
                "clip_time_ratio": summary["clip_time_s"] / results["v1.0"][0]["clip_time_s"],
                "gpu_peak_gb": summary["gpu_peak_gb"],
                "psnr_vs_v1_0_db": min(psnrs),
                "ssim_vs_v1_0": min(ssims),
            }
        )
    print(
        f"| version | clip time (s) | vs v1.0 | GPU peak (GB, simulated) | PSNR vs v1.0 (dB) | SSIM vs v1.0 |  ({args.clips} clips, "
        f"{args.size}, {args.frames} frames, {args.steps} steps)"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['version']} | {r['clip_time_s']:.3f} | {r['clip_time_ratio']:.2f}x | {r['gpu_peak_gb']:.1f} | "
            f"{r['psnr_vs_v1_0_db']:.1f} | {r['ssim_vs_v1_0']:.4f} |"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "workload_versions.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
