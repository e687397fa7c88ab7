from __future__ import annotations

import random

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import canary


def series(mean, spread, n=30, seed=1):
    rng = random.Random(seed)
    return [rng.gauss(mean, spread) for _sample in range(n)]


def metric(name="latency", canary_values=None, baseline_values=None, **kw):
    return {"name": name, "canary": canary_values, "baseline": baseline_values, **kw}


def test_same_distribution_passes():
    result = canary.judge([metric(canary_values=series(1.0, 0.05, seed=1), baseline_values=series(1.0, 0.05, seed=2))])
    assert result["verdict"] == "pass" and result["score"] == 100


def test_clear_latency_regression_fails_with_ci_in_the_bad_direction():
    result = canary.judge([metric(canary_values=series(1.5, 0.05, seed=3), baseline_values=series(1.0, 0.05, seed=4), critical=True)])
    check = result["checks"][0]
    assert result["verdict"] == "fail" and check["classification"] == "fail"
    assert check["shift_ci"][0] > 0 and check["shift"] == pytest.approx(0.5, abs=0.05)
    assert check["p_value"] < 1e-6 and "regressed" in result["reason"]


def test_improvement_is_not_a_regression_for_increase_bad_metric():
    result = canary.judge([metric(canary_values=series(0.5, 0.05, seed=5), baseline_values=series(1.0, 0.05, seed=6))])
    assert result["verdict"] == "pass"


def test_decrease_direction_and_both():
    drop = metric("throughput", series(50, 1, seed=7), series(100, 1, seed=8), direction="decrease")
    assert canary.judge([drop])["verdict"] == "fail"
    rise = metric("gpu mem", series(120, 1, seed=9), series(100, 1, seed=10), direction="both")
    assert canary.judge([rise])["verdict"] == "fail"


def test_small_shift_under_tolerance_passes():
    result = canary.judge([metric(canary_values=series(1.02, 0.01, seed=11), baseline_values=series(1.0, 0.01, seed=12), tolerance_pct=5)])
    assert result["verdict"] == "pass" and result["checks"][0]["p_value"] < 0.05


def test_weighted_score_gives_marginal_and_fail():
    good = [metric(f"ok{i}", series(1, 0.05, seed=i), series(1, 0.05, seed=100 + i)) for i in range(4)]
    bad = metric("bad", series(2, 0.05, seed=50), series(1, 0.05, seed=51))
    marginal = canary.judge([*good, bad], pass_threshold=95, marginal_threshold=75)
    assert marginal["verdict"] == "marginal" and marginal["score"] == 80.0 and not marginal["passed"]
    assert canary.judge([*good[:1], bad], marginal_threshold=75)["verdict"] == "fail"


def test_nan_points_are_removed_and_counted():
    values = series(1.0, 0.05, seed=13)
    noisy = values + [float("nan"), None, "NaN", float("inf")]
    result = canary.judge([metric(canary_values=noisy, baseline_values=series(1.0, 0.05, seed=14))])
    assert result["checks"][0]["dropped"]["canary"] == 4 and result["verdict"] == "pass"


@pytest.mark.parametrize("canary_values", [[], None, [float("nan")] * 10, [1.0, 2.0]])
def test_empty_or_nan_series_is_nodata_never_pass(canary_values):
    critical = canary.judge([metric(canary_values=canary_values, baseline_values=series(1, 0.1), critical=True)])
    assert critical["verdict"] == "fail" and critical["checks"][0]["classification"] == "nodata"
    plain = canary.judge([metric(canary_values=canary_values, baseline_values=series(1, 0.1))])
    assert plain["verdict"] == "fail" and plain["score"] == 0


def test_constant_identical_series_pass_without_nan_p_value():
    result = canary.judge([metric(canary_values=[0.0] * 10, baseline_values=[0.0] * 10, tolerance_abs=0.01)])
    assert result["verdict"] == "pass" and result["checks"][0]["p_value"] == 1.0


def test_error_rate_from_zero_uses_absolute_tolerance():
    errors = metric("errors", [0.0] * 10 + [0.5] * 10, [0.0] * 20, tolerance_abs=0.01, critical=True)
    assert canary.judge([errors])["verdict"] == "fail"


def test_hodges_lehmann_matches_a_hand_computed_case():
    estimate, (low, high) = canary.hodges_lehmann([3, 4, 5], [1, 2, 3], confidence=0.8)
    assert estimate == 2 and low <= estimate <= high


@pytest.mark.parametrize(
    ("metrics", "kwargs", "message"),
    [
        ([], {}, "no metrics"),
        ([{"canary": [1], "baseline": [1]}], {}, "needs a name"),
        ([metric(canary_values=[1], baseline_values=[1], direction="up")], {}, "direction"),
        ([metric(canary_values=[1], baseline_values=[1], weight=0)], {}, "weight"),
        ([metric(canary_values=[1], baseline_values=[1])], {"pass_threshold": 50, "marginal_threshold": 60}, "thresholds"),
    ],
)
def test_bad_definitions_are_errors(metrics, kwargs, message):
    with pytest.raises(canary.CanaryError, match=message):
        canary.judge(metrics, **kwargs)


def test_prometheus_query_range_values_in_time_order_with_nan():
    payload = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {"track": "canary"}, "values": [[2, "0.2"], [1, "NaN"], [3, "0.3"]]}]},
    }
    values = canary.series_from_query_range(payload)
    assert values[0] != values[0] and values[1:] == [0.2, 0.3]


@pytest.mark.parametrize("payload", [{"status": "error", "error": "parse error"}, {"status": "success", "data": {"resultType": "string"}}, "junk"])
def test_prometheus_errors_are_clear(payload):
    with pytest.raises(canary.CanaryError):
        canary.series_from_query_range(payload)
