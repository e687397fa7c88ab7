"""The anytime-valid judge (issue 16 core): validity under many looks, early stop, inconclusive, bad input."""

from __future__ import annotations

import math
import random

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.sequential import SequentialError, SequentialJudge


def watch(seed, shift=1.0, per_side=600, alpha=0.05, look=1, pi=0.5, errors=(0.0, 0.0), naive=False):
    """One monitored step, looked at every `look` requests; returns the requests per side when it failed, or None."""
    rng = random.Random(seed)
    judge = SequentialJudge(alpha=alpha, warmup=40, min_requests=10**9)
    c, s, seen = [], [], 0
    while min(judge.counts["canary"], judge.counts["stable"]) < per_side:
        is_canary = rng.random() < pi
        latency = 0.5 * math.exp(rng.gauss(0, 0.5)) * (shift if is_canary else 1.0)
        error = rng.random() < errors[1 if is_canary else 0]
        judge.add(is_canary, latency, error, pi)
        if judge._sorted is not None:
            (c if is_canary else s).append(math.log(latency))
        seen += 1
        if seen % look:
            continue
        if naive and len(c) > 5 and len(s) > 5:
            # What repeated looks do to a fixed-sample z-test: the reason an anytime-valid test is needed.
            z = (sum(c) / len(c) - sum(s) / len(s)) / math.sqrt(0.25 / len(c) + 0.25 / len(s))
            if z > 1.645:
                return min(len(c), len(s))
        elif not naive and judge.evaluate()["verdict"] == "fail":
            return min(judge.counts["canary"], judge.counts["stable"])
    return None


def test_a_a_false_alarms_stay_under_alpha_however_often_it_looks():
    runs = 150
    alarms = sum(watch(seed, look=1) is not None for seed in range(runs))
    naive = sum(watch(seed, look=1, naive=True) is not None for seed in range(runs))
    # alpha 0.05 at every one of ~1,200 looks: an anytime-valid judge stays under 0.05 + 3 sd; a repeated z-test does not.
    assert alarms / runs <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs), alarms
    assert naive / runs > 0.15, naive


def test_a_gross_regression_stops_the_step_early():
    stops = [watch(seed, shift=1.5, per_side=400, alpha=0.01, look=20) for seed in range(20)]
    assert all(stop is not None for stop in stops)
    assert sorted(stops)[len(stops) // 2] <= 80, stops


def test_an_error_rate_regression_fails_on_the_counts():
    stops = [watch(seed, per_side=3000, alpha=0.01, look=50, errors=(0.01, 0.05)) for seed in range(10)]
    assert sum(stop is not None for stop in stops) >= 9, stops


def test_a_tolerance_lets_a_slightly_slower_canary_pass():
    rng = random.Random(3)
    judge = SequentialJudge(alpha=0.01, warmup=40, min_requests=300, tolerance_pct=20)
    for _request in range(1000):
        is_canary = rng.random() < 0.5
        judge.add(is_canary, 0.5 * math.exp(rng.gauss(0, 0.5)) * (1.1 if is_canary else 1.0))
    assert judge.evaluate()["verdict"] == "pass"


def test_too_little_traffic_by_the_deadline_is_inconclusive_never_a_pass():
    judge = SequentialJudge(alpha=0.01, warmup=40, min_requests=200)
    for i in range(30):
        judge.add(i % 2 == 0, 0.5)
    assert judge.evaluate()["verdict"] == "continue"
    assert judge.evaluate(deadline_reached=True)["verdict"] == "inconclusive"
    for i in range(100):
        judge.add(i % 2 == 0, 0.5 + i / 1000)
    got = judge.evaluate(deadline_reached=True)
    assert got["verdict"] == "inconclusive" and "of 200 requests per side" in got["reason"]


def test_nan_and_missing_latencies_are_dropped_and_failed_requests_still_count():
    judge = SequentialJudge(alpha=0.01, warmup=10)
    for value in (float("nan"), None, -1.0):
        judge.add(True, value)
    assert judge.counts["dropped"] == 3
    for i in range(10):
        judge.add(i % 2 == 0, 0.5 + i / 100)
    judge.add(True, None, error=True)
    assert judge.counts["canary_errors"] == 1 and judge.martingales["errors"].events == 1


def test_an_empty_step_is_inconclusive_at_its_deadline():
    assert SequentialJudge().evaluate(deadline_reached=True)["verdict"] == "inconclusive"


def test_a_fail_is_final():
    judge = SequentialJudge(alpha=0.01, warmup=40, min_requests=10)
    rng = random.Random(5)
    for _request in range(2000):
        is_canary = rng.random() < 0.5
        judge.add(is_canary, 0.5 * math.exp(rng.gauss(0, 0.5)) * (2.0 if is_canary else 1.0))
    first = judge.evaluate()
    assert first["verdict"] == "fail" and first["decided_at"]
    for _request in range(200):
        judge.add(False, 5.0)
    assert judge.evaluate()["verdict"] == "fail"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"alpha": 0}, "alpha 0 must be in"), ({"warmup": 5}, "at least 10"), ({"tests": ("latency", "p50")}, "must be among")],
)
def test_settings_that_mean_nothing_are_refused(kwargs, message):
    with pytest.raises(SequentialError, match=message):
        SequentialJudge(**kwargs)


def test_a_share_of_0_or_100_percent_cannot_be_judged():
    with pytest.raises(SequentialError, match="must be in \\(0, 1\\)"):
        SequentialJudge().add(True, 0.5, pi=1.0)
