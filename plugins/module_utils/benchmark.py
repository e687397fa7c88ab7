# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a candidate's benchmark metrics with a recorded baseline, per-metric tolerance and direction.

Baseline record (YAML or JSON), one per version:
    version: v1.0
    recorded_at: "2026-11-25T10:00:00Z"
    source: "stage2 on gpu-node-2"        # free text
    metrics: {clip_time_s: 4.1, vram_peak_gb: 71.8, nccl_latency_us: 820.0, psnr_db: 34.2}
"""

from __future__ import annotations

import math

from ansible_collections.liveavatar.rollout.plugins.module_utils.release_version import is_release_version

LOWER_IS_BETTER = "lower_is_better"
HIGHER_IS_BETTER = "higher_is_better"
DIRECTIONS = (LOWER_IS_BETTER, HIGHER_IS_BETTER)

# The release policy's defaults: relative tolerance in percent of the baseline.
DEFAULT_TOLERANCES = {
    "clip_time_s": {"direction": LOWER_IS_BETTER, "tolerance_pct": 10.0},
    "vram_peak_gb": {"direction": LOWER_IS_BETTER, "tolerance_pct": 3.0},
    "nccl_latency_us": {"direction": LOWER_IS_BETTER, "tolerance_pct": 50.0},
    "psnr_db": {"direction": HIGHER_IS_BETTER, "tolerance_pct": 2.0},
}


class BenchmarkError(ValueError):
    """A baseline or tolerance that cannot be used; the message names the input."""


def _number(value):
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def validate_baseline(record):
    """Return the baseline's metrics as floats, or raise BenchmarkError naming what is wrong."""
    if not isinstance(record, dict):
        raise BenchmarkError("baseline must be a mapping with version and metrics")
    version = record.get("version")
    if not is_release_version(version):
        raise BenchmarkError(f"baseline version {version!r} is not vMAJOR.MINOR[.PATCH]")
    metrics = record.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise BenchmarkError(f"baseline {version} has no metrics mapping")
    clean = {}
    for name, value in metrics.items():
        number = _number(value)
        if number is None:
            raise BenchmarkError(f"baseline {version} metric {name} is not a finite number ({value!r})")
        clean[name] = number
    return clean


def normalize_tolerances(tolerances=None):
    """Merge given tolerances over the defaults and check them."""
    merged = {name: dict(spec) for name, spec in DEFAULT_TOLERANCES.items()}
    for name, spec in (tolerances or {}).items():
        if not isinstance(spec, dict):
            raise BenchmarkError(f"tolerance for {name} must be a mapping")
        merged.setdefault(name, {}).update(spec)
    for name, spec in merged.items():
        if spec.get("direction") not in DIRECTIONS:
            raise BenchmarkError(f"tolerance for {name}: direction must be one of {DIRECTIONS}")
        pct = _number(spec.get("tolerance_pct"))
        if pct is None or pct < 0:
            raise BenchmarkError(f"tolerance for {name}: tolerance_pct must be a number >= 0")
        spec["tolerance_pct"] = pct
        spec["optional"] = bool(spec.get("optional", False))
    return merged


def compare(baseline_metrics, candidate_metrics, tolerances):
    """Return {passed, reason, checks}: one row per metric with baseline, candidate, limit, delta and verdict."""
    rows = []
    for name in sorted(tolerances):
        spec = tolerances[name]
        base = _number(baseline_metrics.get(name))
        cand_raw = candidate_metrics.get(name)
        cand = _number(cand_raw)
        row = {
            "metric": name,
            "direction": spec["direction"],
            "tolerance_pct": spec["tolerance_pct"],
            "baseline": base,
            "candidate": cand,
            "limit": None,
            "delta_pct": None,
        }
        if base is None or cand is None:
            missing = "baseline" if base is None else "candidate"
            shown = baseline_metrics.get(name) if base is None else cand_raw
            row["verdict"] = "skipped" if spec["optional"] else "fail"
            row["reason"] = f"{name}: {missing} value missing or not a number ({shown!r})"
            rows.append(row)
            continue
        factor = 1 + spec["tolerance_pct"] / 100 if spec["direction"] == LOWER_IS_BETTER else 1 - spec["tolerance_pct"] / 100
        limit = base * factor
        row["limit"] = round(limit, 6)
        if base == 0:
            row["verdict"] = "fail"
            row["reason"] = f"{name}: baseline is 0, a relative tolerance is undefined; record a real baseline"
            rows.append(row)
            continue
        row["delta_pct"] = round((cand - base) / abs(base) * 100, 3)
        ok = cand <= limit if spec["direction"] == LOWER_IS_BETTER else cand >= limit
        sign = "+" if spec["direction"] == LOWER_IS_BETTER else "-"
        row["verdict"] = "pass" if ok else "fail"
        row["reason"] = f"{name} {cand:g} vs baseline {base:g} ({row['delta_pct']:+.2f}%, limit {sign}{spec['tolerance_pct']:g}% = {limit:g})"
        rows.append(row)
    failed = [r for r in rows if r["verdict"] == "fail"]
    if failed:
        reason = "benchmark gate failed: " + "; ".join(r["reason"] for r in failed)
    else:
        reason = "benchmark gate passed: " + "; ".join(r["reason"] for r in rows if r["verdict"] == "pass")
    return {"passed": not failed, "reason": reason, "checks": rows}


def clip_time_floor(runs):
    """Clip time of repeated runs of one version: per clip index the fastest run, averaged over clips.

    Interference on a shared host only ever adds time, so the minimum over repeats is the estimate
    least moved by it; every run must report the same number of clips.
    """
    if not isinstance(runs, (list, tuple)) or not runs:
        raise BenchmarkError("clip_time_floor needs a non-empty list of run summaries")
    series = []
    for index, run in enumerate(runs):
        times = run.get("clip_times_s") if isinstance(run, dict) else None
        numbers = [_number(t) for t in times] if isinstance(times, (list, tuple)) else []
        if not numbers or any(n is None or n < 0 for n in numbers):
            raise BenchmarkError(f"run {index} has no usable clip_times_s ({times!r})")
        series.append(numbers)
    if len({len(s) for s in series}) != 1:
        raise BenchmarkError(f"runs report different clip counts {[len(s) for s in series]}; they are not repeats of one job")
    per_clip = [min(run[index] for run in series) for index in range(len(series[0]))]
    return round(sum(per_clip) / len(per_clip), 4)


def table(rows):
    """Markdown table of the comparison, for reports."""
    lines = ["| metric | baseline | candidate | limit | delta % | verdict |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['metric']} | {r['baseline']} | {r['candidate']} | {r['limit']} | {r['delta_pct']} | {r['verdict']} |")
    return "\n".join(lines)
