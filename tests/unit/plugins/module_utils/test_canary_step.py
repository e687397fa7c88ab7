"""One traffic step judged request by request (issue 16): line framing, which requests count, and the step's verdicts."""

from __future__ import annotations

import datetime
import random

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import canary_step as cs
from ansible_collections.liveavatar.rollout.plugins.module_utils.haproxy_socket import LineBuffer
from ansible_collections.liveavatar.rollout.plugins.module_utils.sequential import SequentialJudge

T0 = 1796318400.0  # 03/Dec/2026:16:00:00 UTC


def line(at, server, ms, status=200, backend="liveavatar", term="----"):
    stamp = datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%d/%b/%Y:%H:%M:%S.%f")[:-3]
    request = f'0/0/0/{ms}/{ms} {status} 200 - - {term} 1/1/0/0/0 0/0 "GET /api/ping HTTP/1.1"'
    return f"<134>1 - lb haproxy 311 - - 127.0.0.1:40000 [{stamp}] liveavatar {backend}/{server} {request}"


def watch(**extra):
    settings = dict(
        backend="liveavatar",
        candidate_servers=["n3-canary"],
        stable_servers=["n3-stable"],
        started_at=T0,
        pi=0.5,
        min_bake_s=10,
        max_bake_s=60,
        warmup_s=2,
        joined=["n3-canary"],
        judge=SequentialJudge(alpha=0.01, warmup=20, min_requests=100),
    )
    settings.update(extra)
    return cs.StepWatch(**settings)


def feed(step, n, canary_ms, stable_ms=20, start=T0 + 3, seed=7, canary_status=200):
    rng = random.Random(seed)
    at = start
    for _i in range(n):
        at += 0.01
        canary = rng.random() < step.pi
        ms = (canary_ms if canary else stable_ms) * rng.lognormvariate(0, 0.3)
        status = canary_status if canary else 200
        step.add_line(line(at, "n3-canary" if canary else "n3-stable", max(1, int(ms)), status=status))
    return at


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"a\nb\n"], ["a", "b"]),
        ([b"a\nb", b"c\n"], ["a", "bc"]),
        ([b"partial"], []),
        ([b"\n\n", b"x\n"], ["x"]),
    ],
)
def test_a_line_cut_by_a_read_waits_for_its_end(chunks, lines):
    buffer = LineBuffer()
    assert [got for chunk in chunks for got in buffer.feed(chunk)] == lines


def test_the_candidates_share_is_its_part_of_the_pools_weight():
    assert cs.canary_share({"a-canary": 5, "a-stable": 95}, {"a-canary"}) == pytest.approx(0.05)
    with pytest.raises(cs.StepError, match="no server in rotation"):
        cs.canary_share({"a-canary": 0, "a-stable": 0}, {"a-canary"})


def test_the_step_plan_names_control_servers_and_the_ones_joining_cold():
    state = {
        "n3-canary": {"weight": 0, "healthy": True},
        "n3-stable": {"weight": 100, "healthy": True},
        "n4-stable": {"weight": 100, "healthy": False},
    }
    stable, joined, after = cs.step_plan(state, {"n3-canary": 5, "n3-stable": 95}, ["n3-canary"])
    assert (stable, joined, after["n3-canary"]) == (["n3-stable"], ["n3-canary"], 5)
    with pytest.raises(cs.StepError, match="candidate servers n9-canary are not in the backend"):
        cs.step_plan(state, {}, ["n9-canary"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"stable_servers": ["n3-canary"]}, "named both candidate and stable"),
        ({"stable_servers": []}, "at least one stable server"),
        ({"pi": 1.0}, "so 0 % and 100 % are not steps"),
        ({"min_bake_s": 90}, "min_bake_s"),
    ],
)
def test_a_step_that_cannot_be_judged_is_refused(extra, message):
    with pytest.raises(cs.StepError, match=message):
        watch(**extra)


def test_only_this_backends_requests_after_the_step_and_past_the_warm_up_are_judged():
    step = watch()
    step.add_line(line(T0 - 1, "n3-stable", 20))  # before the step
    step.add_line(line(T0 + 1, "n3-canary", 900))  # the canary's cold first seconds
    step.add_line(line(T0 + 1, "n3-stable", 20))  # stable in the canary's cold window: the tracks share one window
    step.add_line(line(T0 + 3, "n9-stable", 20))  # a server of neither track
    step.add_line(line(T0 + 3, "n3-stable", 20, backend="other"))
    step.add_line("Server liveavatar/n3-canary is UP")
    step.add_line(line(T0 + 3, "n3-canary", 25))
    assert step.counts == {"lines": 7, "before_step": 1, "other_servers": 3, "cold": 1, "warmup_window": 1}
    assert step.per_server == {"n3-canary": {"requests": 1, "failed": 0}}
    # The reaction time counts from the candidate's first request, cold or not.
    assert step.first_candidate_at == pytest.approx(T0 + 1)


def test_a_step_whose_candidate_is_still_cold_judges_nothing_however_stable_drifts():
    """Found on a real HAProxy: stable alone, judged while the canary was cold, drifted faster and 'failed' the canary."""
    step = watch(warmup_s=30, max_bake_s=60)
    at = T0
    for i in range(2000):
        at += 0.01
        step.add_line(line(at, "n3-stable", 40 if i < 100 else 10))
    assert step.decide(at)["verdict"] == "continue"
    assert step.judge.counts["stable"] == 0 and step.counts["warmup_window"] == 2000


def test_a_gross_regression_fails_early_and_the_fail_is_final():
    step = watch()
    verdicts = []
    at = T0 + 3
    for _look in range(20):
        at = feed(step, 40, canary_ms=60, start=at, seed=_look)
        verdicts.append(step.decide(at)["verdict"])
        if verdicts[-1] == "fail":
            break
    assert verdicts[-1] == "fail" and at - T0 < 10, verdicts
    assert "canary worse than stable" in step.verdict["reason"]
    feed(step, 400, canary_ms=20, start=at)
    assert step.decide(at + 50)["verdict"] == "fail"


def test_errors_alone_fail_the_step():
    step = watch()
    at = feed(step, 1500, canary_ms=20, canary_status=503)
    assert step.decide(at)["verdict"] == "fail"
    assert step.per_server["n3-canary"]["failed"] == step.per_server["n3-canary"]["requests"] > 0


def test_a_good_candidate_passes_only_after_the_minimum_bake():
    step = watch(min_bake_s=30)
    at = feed(step, 600, canary_ms=20)
    early = step.decide(at)
    assert early["verdict"] == "continue" and "baking until 30" in early["reason"]
    assert step.decide(T0 + 30)["verdict"] == "pass"
    evidence = step.evidence()
    assert evidence["latency"]["candidate"]["requests"] > 200 and evidence["latency"]["stable"]["p50_s"] == pytest.approx(0.02, rel=0.2)


def test_too_few_requests_by_the_deadline_is_inconclusive_and_an_extension_keeps_the_evidence():
    step = watch()
    feed(step, 30, canary_ms=20)
    assert step.decide(T0 + 59)["verdict"] == "continue"
    assert step.decide(T0 + 60)["verdict"] == "inconclusive"
    step.extend(120)
    assert step.decide(T0 + 61)["verdict"] == "continue"
    with pytest.raises(cs.StepError, match="after the current deadline"):
        step.extend(100)


def test_an_unknown_inconclusive_policy_is_refused():
    assert cs.check_policy("extend") == "extend"
    with pytest.raises(cs.StepError, match="must be one of abort, pause, extend"):
        cs.check_policy("promote")


def test_each_look_reports_each_tracks_median_since_the_previous_look():
    step = watch()
    assert step.look_medians() == {"candidate": None, "stable": None}
    for i, (server, ms) in enumerate((("n3-canary", 30), ("n3-stable", 10), ("n3-canary", 50), ("n3-stable", 12), ("n3-stable", 14))):
        step.add_line(line(T0 + 3 + i, server, ms))
    assert step.look_medians() == {"candidate": 0.05, "stable": 0.012}
    step.add_line(line(T0 + 9, "n3-stable", 40))
    assert step.look_medians() == {"candidate": None, "stable": 0.04}, "only the requests since the previous look"
