# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kayenta-style canary analysis: per-metric Mann-Whitney U with a Hodges-Lehmann shift and its
confidence interval, a weighted score, and pass / marginal / fail.

NaN / empty-series strategy (stated, not implied): NaN, None and infinite samples are removed
first. A metric left with fewer than `min_samples` points on either side is NODATA: it adds
nothing to the score (its weight still counts in the denominator), and a critical metric with
NODATA fails the whole analysis. No data is never read as "no regression".
"""

from __future__ import annotations

import math

try:
    from scipy.stats import mannwhitneyu, norm

    HAS_SCIPY = True
    SCIPY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised where scipy is absent
    HAS_SCIPY = False
    SCIPY_IMPORT_ERROR = exc

INCREASE = "increase"
DECREASE = "decrease"
BOTH = "both"
DIRECTIONS = (INCREASE, DECREASE, BOTH)


class CanaryError(ValueError):
    """A metric definition or threshold the judge cannot use."""


def clean_series(values):
    """Drop None, NaN, inf and non-numbers; return (floats, dropped_count)."""
    kept, dropped = [], 0
    for value in values or []:
        try:
            number = float(value)
        except (TypeError, ValueError):
            dropped += 1
            continue
        if math.isfinite(number):
            kept.append(number)
        else:
            dropped += 1
    return kept, dropped


def _median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def hodges_lehmann(canary, baseline, confidence=0.95):
    """Shift estimate (median of pairwise canary-baseline differences) and its distribution-free CI."""
    diffs = sorted(c - b for c in canary for b in baseline)
    n, m = len(canary), len(baseline)
    estimate = _median(diffs)
    z = norm.ppf(1 - (1 - confidence) / 2)
    k = int(math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12)))
    k = max(0, min(k, len(diffs) - 1))
    return estimate, (diffs[k], diffs[len(diffs) - 1 - k])


def judge_metric(spec, canary, baseline, min_samples=3):
    """Classify one metric: pass, fail (a significant shift in the bad direction), or nodata."""
    if not HAS_SCIPY:
        raise CanaryError(f"scipy is required for canary analysis: {SCIPY_IMPORT_ERROR}")
    name = spec["name"]
    canary_clean, canary_dropped = clean_series(canary)
    baseline_clean, baseline_dropped = clean_series(baseline)
    result = {
        "name": name,
        "direction": spec["direction"],
        "critical": spec["critical"],
        "weight": spec["weight"],
        "samples": {"canary": len(canary_clean), "baseline": len(baseline_clean)},
        "dropped": {"canary": canary_dropped, "baseline": baseline_dropped},
        "p_value": None,
        "shift": None,
        "shift_ci": None,
        "canary_values": canary_clean,
        "baseline_values": baseline_clean,
        "canary_median": _median(canary_clean) if canary_clean else None,
        "baseline_median": _median(baseline_clean) if baseline_clean else None,
    }
    if len(canary_clean) < min_samples or len(baseline_clean) < min_samples:
        result["classification"] = "nodata"
        result["reason"] = (
            f"{name}: not enough data after removing NaN/empty points (canary {len(canary_clean)}, baseline {len(baseline_clean)}, need {min_samples})"
        )
        return result
    # Identical constant series: scipy warns and returns NaN; there is no difference to find.
    constant = len(set(canary_clean) | set(baseline_clean)) == 1
    p_value = 1.0 if constant else float(mannwhitneyu(canary_clean, baseline_clean, alternative="two-sided").pvalue)
    shift, (low, high) = hodges_lehmann(canary_clean, baseline_clean, spec["confidence"])
    threshold = max(spec["tolerance_abs"], abs(result["baseline_median"]) * spec["tolerance_pct"] / 100)
    result.update({"p_value": p_value, "shift": shift, "shift_ci": [low, high], "threshold": threshold})
    significant = p_value < 1 - spec["confidence"]
    worse_up = significant and low >= 0 and shift > threshold
    worse_down = significant and high <= 0 and -shift > threshold
    bad = (spec["direction"] in (INCREASE, BOTH) and worse_up) or (spec["direction"] in (DECREASE, BOTH) and worse_down)
    result["classification"] = "fail" if bad else "pass"
    verb = "regressed" if bad else "no significant regression"
    result["reason"] = (
        f"{name}: {verb} (canary median {result['canary_median']:.4g} vs baseline "
        f"{result['baseline_median']:.4g}, shift {shift:.4g} CI [{low:.4g}, {high:.4g}], "
        f"p={p_value:.3g}, allowed {threshold:.4g})"
    )
    return result


def normalize_metric(spec):
    if not isinstance(spec, dict) or not spec.get("name"):
        raise CanaryError("each metric needs a name")
    name = spec["name"]
    direction = spec.get("direction", INCREASE)
    if direction not in DIRECTIONS:
        raise CanaryError(f"metric {name}: direction must be one of {DIRECTIONS}")
    weight = float(spec.get("weight", 1.0))
    confidence = float(spec.get("confidence", 0.95))
    if weight <= 0 or not math.isfinite(weight):
        raise CanaryError(f"metric {name}: weight must be > 0")
    if not 0.5 <= confidence < 1:
        raise CanaryError(f"metric {name}: confidence must be in [0.5, 1)")
    return {
        "name": name,
        "direction": direction,
        "critical": bool(spec.get("critical", False)),
        "weight": weight,
        "confidence": confidence,
        "tolerance_pct": float(spec.get("tolerance_pct", 5.0)),
        "tolerance_abs": float(spec.get("tolerance_abs", 0.0)),
    }


def judge(metrics, pass_threshold=95.0, marginal_threshold=75.0, min_samples=3):
    """metrics: [{name, canary: [...], baseline: [...], direction, critical, weight, ...}] ->
    {verdict, score, passed, reason, checks}."""
    if not metrics:
        raise CanaryError("no metrics to judge: an analysis without metrics is not a pass")
    if not 0 <= marginal_threshold <= pass_threshold <= 100:
        raise CanaryError("thresholds must satisfy 0 <= marginal_threshold <= pass_threshold <= 100")
    checks = []
    for raw in metrics:
        spec = normalize_metric(raw)
        checks.append(judge_metric(spec, raw.get("canary"), raw.get("baseline"), min_samples))
    total = sum(c["weight"] for c in checks)
    score = round(100 * sum(c["weight"] for c in checks if c["classification"] == "pass") / total, 2)
    critical_bad = [c for c in checks if c["critical"] and c["classification"] != "pass"]
    if critical_bad:
        verdict = "fail"
        reason = "critical metric " + critical_bad[0]["reason"]
    elif score >= pass_threshold:
        verdict = "pass"
        reason = f"score {score} >= {pass_threshold}"
    elif score >= marginal_threshold:
        verdict = "marginal"
        reason = f"score {score} between {marginal_threshold} and {pass_threshold}: " + "; ".join(c["reason"] for c in checks if c["classification"] != "pass")
    else:
        verdict = "fail"
        reason = f"score {score} < {marginal_threshold}: " + "; ".join(c["reason"] for c in checks if c["classification"] != "pass")
    return {"verdict": verdict, "passed": verdict == "pass", "score": score, "reason": reason, "checks": checks}


def series_from_query_range(payload):
    """Values of a Prometheus /api/v1/query_range answer, all series concatenated in time order."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error") if isinstance(payload, dict) else payload
        raise CanaryError(f"Prometheus query failed: {error}")
    data = payload.get("data") or {}
    if data.get("resultType") not in ("matrix", "vector"):
        raise CanaryError(f"unexpected Prometheus result type {data.get('resultType')!r}")
    points = []
    for series in data.get("result") or []:
        if "values" in series:
            points.extend(series["values"])
        elif "value" in series:
            points.append(series["value"])
    points.sort(key=lambda point: float(point[0]))
    values = []
    for _timestamp, value in points:
        try:
            values.append(float(value))  # Prometheus sends "NaN" as a string; float() keeps it NaN
        except (TypeError, ValueError):
            values.append(float("nan"))
    return values
