"""Power and false alarms of the canary judges on request-level latencies (issue 16).

Log-normal latencies (sigma 0.5, median 0.5 s); each request goes to the canary with probability 0.5; the step
is watched every --look requests (2 s at 10 requests/s). Columns per case and budget (requests per side):
  sequential  - plugins/module_utils/sequential.py, looked at every 2 s, fail as soon as it can (alpha 0.01 overall)
  mann_whitney- the current fixed-horizon judge (canary.judge_metric: Mann-Whitney + Hodges-Lehmann, tolerance 0),
                once at the end of the step on the per-request latencies (kinder to it than the window means it reads)
  mean_gate   - the seed's gate: fail when the canary's mean latency (or error rate) is above stable's by 10 %
  optimal     - a fixed-sample test suited to the case at alpha 0.01, once at the end: the one-sided t-test on log
                latency for shifts of the whole distribution (the most powerful test there: the logs are normal), a
                one-sided two-proportion test for errors and for the share above stable's p95 (strong, not proven best)
    .venv/bin/python benchmarks/gate_power.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))

from scipy import stats  # noqa: E402

from ansible_collections.liveavatar.rollout.plugins.module_utils import canary  # noqa: E402
from ansible_collections.liveavatar.rollout.plugins.module_utils.sequential import SequentialJudge  # noqa: E402

SIGMA, MEDIAN, ALPHA, PI = 0.5, 0.5, 0.01, 0.5
STABLE_P90 = MEDIAN * math.exp(SIGMA * 1.2816)
STABLE_P95 = MEDIAN * math.exp(SIGMA * 1.6449)
CASES = {
    "A/A": {},
    "+10 % median": {"shift": 1.10},
    "p95-only +15 %": {"tail": 1.15},
    "errors 1 % -> 2 %": {"errors": (0.01, 0.02)},
    "gross x1.5": {"shift": 1.5},
}


def request(rng, case, is_canary):
    latency = MEDIAN * math.exp(rng.gauss(0, SIGMA))
    error_rates = case.get("errors", (0.0, 0.0))
    if is_canary:
        latency *= case.get("shift", 1.0)
        if latency > STABLE_P90:
            latency *= case.get("tail", 1.0)
    return latency, rng.random() < error_rates[1 if is_canary else 0]


def one_step(seed, case, budget, look):
    """Returns (sequential failed?, requests per side when it failed, mann_whitney, mean_gate, optimal)."""
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not a secret
    judge = SequentialJudge(alpha=ALPHA, warmup=40, min_requests=10**9)
    sides = {True: [], False: []}
    errors = {True: 0, False: 0}
    failed_at, seen = None, 0
    while min(len(sides[True]), len(sides[False])) < budget:
        is_canary = rng.random() < PI
        latency, error = request(rng, case, is_canary)
        judge.add(is_canary, latency, error, PI)
        seen += 1
        if judge._sorted is not None:  # noqa: SLF001 - the warm-up requests are not compared by any judge
            (errors.__setitem__(is_canary, errors[is_canary] + 1) if error else sides[is_canary].append(latency))
        if failed_at is None and seen % look == 0 and judge.evaluate()["verdict"] == "fail":
            failed_at = min(judge.counts["canary"], judge.counts["stable"])
    c, s = sides[True], sides[False]
    n_c, n_s = len(c) + errors[True], len(s) + errors[False]
    spec = canary.normalize_metric({"name": "latency", "tolerance_pct": 0, "confidence": 1 - ALPHA})
    mw = canary.judge_metric(spec, c, s)["classification"] == "fail"
    mean_gate = statistics.fmean(c) > 1.1 * statistics.fmean(s) or errors[True] / n_c > 1.1 * max(errors[False] / n_s, 1e-9) + 0.0
    if "tail" in case:
        # Only requests above stable's p90 slow down, so the share above stable's p95 is what moves.
        optimal = _two_proportion([x > STABLE_P95 for x in c], [x > STABLE_P95 for x in s])
    elif "errors" in case:
        optimal = _two_proportion([1] * errors[True] + [0] * len(c), [1] * errors[False] + [0] * len(s))
    else:
        optimal = stats.ttest_ind([math.log(x) for x in c], [math.log(x) for x in s], alternative="greater").pvalue < ALPHA
    return failed_at is not None, failed_at, mw, mean_gate, optimal


def _two_proportion(a, b):
    pa, pb = sum(a) / len(a), sum(b) / len(b)
    pooled = (sum(a) + sum(b)) / (len(a) + len(b))
    if pooled in (0, 1):
        return False
    z = (pa - pb) / math.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
    return z > stats.norm.ppf(1 - ALPHA)


def evaluation_cost(per_side=100_000):
    rng = random.Random(7)  # noqa: S311 - a seeded simulation, not a secret
    judge = SequentialJudge(alpha=ALPHA, warmup=40, min_requests=10)
    start = time.perf_counter()
    for _request in range(2 * per_side):
        is_canary = rng.random() < PI
        latency, error = request(rng, {}, is_canary)
        judge.add(is_canary, latency, error, PI)
    added = time.perf_counter() - start
    start = time.perf_counter()
    for _evaluation in range(100):
        judge.evaluate()
    return added, (time.perf_counter() - start) / 100


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="40 runs per cell and budgets up to 300 (under 60 s)")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--look", type=int, default=20, help="requests between looks (2 s at 10 requests/s)")
    parser.add_argument("--case", choices=list(CASES), help="only this case")
    args = parser.parse_args()
    runs = args.runs or (40 if args.quick else 400)
    budgets = (30, 100, 300) if args.quick else (30, 100, 300, 1000, 1736)
    print(f"{runs} runs per cell, a look every {args.look} requests, alpha {ALPHA} over the whole step")
    print("| case | requests per side | sequential | its median requests to fail | mann_whitney | mean_gate | optimal |")
    print("|---|---|---|---|---|---|---|")
    for name, case in CASES.items():
        if args.case and name != args.case:
            continue
        for budget in budgets:
            if name in ("errors 1 % -> 2 %",) and budget < 300 and not args.quick:
                continue
            rows = [one_step(seed, case, budget, args.look) for seed in range(runs)]
            rate = [sum(r[i] for r in rows) / runs for i in (0, 2, 3, 4)]
            when = sorted(r[1] for r in rows if r[1] is not None)
            median = when[len(when) // 2] if when else "-"
            print(f"| {name} | {budget} | {rate[0]:.3f} | {median} | {rate[1]:.3f} | {rate[2]:.3f} | {rate[3]:.3f} |", flush=True)
    added, evaluate = evaluation_cost(10_000 if args.quick else 100_000)
    per_side = 10_000 if args.quick else 100_000
    print(f"cost: {per_side} requests per side added in {added:.2f} s ({added / (2 * per_side) * 1e6:.1f} us each); one evaluation {evaluate * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
