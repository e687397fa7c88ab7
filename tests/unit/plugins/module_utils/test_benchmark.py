from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import benchmark as bm

BASELINE = {"version": "v1.0", "metrics": {"clip_time_s": 10.0, "vram_peak_gb": 70.0, "nccl_latency_us": 800.0, "psnr_db": 35.0}}


def run(candidate, tolerances=None, baseline=None):
    return bm.compare(bm.validate_baseline(baseline or BASELINE), candidate, bm.normalize_tolerances(tolerances))


def rows(result):
    return {r["metric"]: r for r in result["checks"]}


def test_candidate_within_every_default_tolerance_passes():
    result = run({"clip_time_s": 10.99, "vram_peak_gb": 72.0, "nccl_latency_us": 1199.0, "psnr_db": 34.31})
    assert result["passed"], result["reason"]
    assert {r["verdict"] for r in result["checks"]} == {"pass"}


@pytest.mark.parametrize(
    ("metric", "value", "limit"),
    [("clip_time_s", 11.01, 11.0), ("vram_peak_gb", 72.2, 72.1), ("nccl_latency_us", 1201.0, 1200.0), ("psnr_db", 34.29, 34.3)],
)
def test_each_default_tolerance_is_enforced_at_its_edge(metric, value, limit):
    candidate = {"clip_time_s": 10.0, "vram_peak_gb": 70.0, "nccl_latency_us": 800.0, "psnr_db": 35.0, metric: value}
    result = run(candidate)
    assert not result["passed"]
    row = rows(result)[metric]
    assert row["verdict"] == "fail" and row["limit"] == pytest.approx(limit)
    assert metric in result["reason"]


def test_missing_metric_fails_unless_optional():
    candidate = {"clip_time_s": 10.0, "vram_peak_gb": 70.0, "psnr_db": 35.0}
    result = run(candidate)
    assert not result["passed"] and "nccl_latency_us: candidate value missing" in result["reason"]
    optional = run(candidate, {"nccl_latency_us": {"optional": True}})
    assert optional["passed"] and rows(optional)["nccl_latency_us"]["verdict"] == "skipped"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "fast", None, True])
def test_non_numbers_never_pass(bad):
    result = run({"clip_time_s": bad, "vram_peak_gb": 70.0, "nccl_latency_us": 800.0, "psnr_db": 35.0})
    assert not result["passed"] and rows(result)["clip_time_s"]["verdict"] == "fail"


def test_zero_baseline_is_refused_not_divided():
    baseline = {"version": "v1.0", "metrics": dict(BASELINE["metrics"], nccl_latency_us=0)}
    result = run({"clip_time_s": 10.0, "vram_peak_gb": 70.0, "nccl_latency_us": 0.0, "psnr_db": 35.0}, baseline=baseline)
    assert not result["passed"] and "baseline is 0" in result["reason"]


def test_custom_metric_and_direction():
    result = run(
        dict(BASELINE["metrics"], ssim=0.90),
        {"ssim": {"direction": "higher_is_better", "tolerance_pct": 1}},
        baseline={"version": "v1.0", "metrics": dict(BASELINE["metrics"], ssim=0.95)},
    )
    assert not result["passed"] and rows(result)["ssim"]["delta_pct"] == pytest.approx(-5.263, abs=1e-3)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([], "mapping"),
        ({"version": "1.0", "metrics": {"a": 1}}, "not vMAJOR"),
        ({"version": "v1.0"}, "no metrics"),
        ({"version": "v1.0", "metrics": {"clip_time_s": "NaN"}}, "not a finite number"),
    ],
)
def test_malformed_baseline_is_an_error(record, message):
    with pytest.raises(bm.BenchmarkError, match=message):
        bm.validate_baseline(record)


@pytest.mark.parametrize(("spec", "message"), [({"x": {"direction": "up", "tolerance_pct": 1}}, "direction"), ({"psnr_db": {"tolerance_pct": -1}}, ">= 0")])
def test_bad_tolerances_are_errors(spec, message):
    with pytest.raises(bm.BenchmarkError, match=message):
        bm.normalize_tolerances(spec)


def test_table_lists_every_metric():
    result = run(dict(BASELINE["metrics"]))
    assert bm.table(result["checks"]).count("\n") == 2 + len(bm.DEFAULT_TOLERANCES) - 1


def test_clip_time_floor_takes_the_fastest_run_per_clip_then_averages():
    runs = [{"clip_times_s": [1.0, 2.0, 3.0]}, {"clip_times_s": [1.5, 1.0, 9.0]}, {"clip_times_s": [0.5, 4.0, 3.5]}]
    assert bm.clip_time_floor(runs) == round((0.5 + 1.0 + 3.0) / 3, 4)


def test_clip_time_floor_ignores_a_burst_that_slows_one_run():
    quiet = {"clip_times_s": [0.6, 0.6, 0.6]}
    burst = {"clip_times_s": [0.6, 1.4, 1.2]}
    assert bm.clip_time_floor([burst, quiet]) == 0.6


@pytest.mark.parametrize(
    "runs, message",
    [
        ([], "non-empty"),
        ([{"clip_times_s": []}], "no usable"),
        ([{"clip_times_s": [1.0, "x"]}], "no usable"),
        ([{"clip_times_s": [1.0, -1]}], "no usable"),
        (["not a dict"], "no usable"),
        ([{"clip_times_s": [1.0]}, {"clip_times_s": [1.0, 2.0]}], "different clip counts"),
    ],
)
def test_clip_time_floor_refuses_runs_that_are_not_repeats(runs, message):
    with pytest.raises(bm.BenchmarkError, match=message):
        bm.clip_time_floor(runs)
