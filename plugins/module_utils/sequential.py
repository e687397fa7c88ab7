# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An anytime-valid canary judge on request-level evidence (issue 16, the statistical core).

Every request after the warm-up is one observation: its server's track (canary or stable), its latency and
whether it failed. Under H0 (the canary behaves like stable) which track served a request is independent of how
the request went, and the track is canary with a known probability pi (the canary's share at that moment). So for
any label-blind score z of a request (a normal score of its latency, "slower than the warm-up's p95", "failed"),

    M_lambda = prod_i exp(lambda z_i (x_i - pi_i)) / E_H0[exp(lambda z_i (x_i - pi_i))],   x_i = 1 for canary,

is a martingale of mean 1 (the denominator is exact: pi e^{lambda z (1 - pi)} + (1 - pi) e^{-lambda z pi}), and so is a
mixture of M_lambda over a grid of lambda > 0 (one-sided: the canary worse). By Ville's inequality the probability
that the mixture ever reaches k/alpha is at most alpha/k, however often it is looked at: a judge that evaluates every
2 s keeps its false-alarm rate for the whole step. k tests (location, p95, p99, errors) at alpha/k each (Bonferroni)
keep alpha overall. This is the conditional (label-permutation) form of the mixture sequential tests of
Lindon, Sanden & Shirikian (KDD 2022) and, for error counts, of Lindon & Malek (NeurIPS 2022).

A tolerance allows the canary to be up to tolerance_pct slower: canary latencies are divided by (1 + tol) before they
are scored, which makes each M_lambda a supermartingale whenever the canary is at most that much slower.

Each update costs O(grid) per request; the state is a few floats per test, so an evaluation is O(new requests).
"""

from __future__ import annotations

import bisect
import math
from statistics import NormalDist

_NORMAL = NormalDist()
# Tilts tried by the mixture: small ones catch small shifts over many requests, large ones gross shifts quickly.
LOCATION_GRID = (0.03, 0.06, 0.12, 0.25, 0.5, 1.0)
INDICATOR_GRID = (0.2, 0.4, 0.7, 1.0, 1.5, 2.2, 3.0)
TESTS = ("latency", "p95", "p99", "errors")


class SequentialError(ValueError):
    """Evidence that cannot be judged (no warm-up, a share outside (0, 1)); the message says why."""


class _MixtureMartingale:
    """log M_lambda for each lambda of the grid, updated one observation at a time."""

    def __init__(self, grid):
        self.grid = grid
        self.log_m = [0.0] * len(grid)
        self.events = 0

    def update(self, score, is_canary, pi):
        if score == 0.0:
            return
        self.events += 1
        x = 1.0 if is_canary else 0.0
        for j, lam in enumerate(self.grid):
            a = lam * score
            # log E_H0[exp(a (x - pi))] = log(pi e^{a(1-pi)} + (1-pi) e^{-a pi}), computed without overflow.
            hi, lo = a * (1 - pi), -a * pi
            top = max(hi, lo)
            log_norm = top + math.log(pi * math.exp(hi - top) + (1 - pi) * math.exp(lo - top))
            self.log_m[j] += a * (x - pi) - log_norm

    def log_e_value(self):
        top = max(self.log_m)
        return top + math.log(sum(math.exp(v - top) for v in self.log_m) / len(self.log_m))


class SequentialJudge:
    """Feed requests as they arrive (warm-up first); evaluate at any time; the verdict holds at every look."""

    def __init__(self, alpha=0.01, warmup=40, min_requests=200, tolerance_pct=0.0, tests=TESTS, clip=3.0):
        if not 0 < alpha < 1:
            raise SequentialError(f"alpha {alpha!r} must be in (0, 1)")
        if warmup < 10:
            raise SequentialError(f"warmup {warmup!r} must be at least 10 requests (it sets the scores' scale)")
        unknown = set(tests) - set(TESTS)
        if unknown or not tests:
            raise SequentialError(f"tests {sorted(unknown) or tests!r} must be among {', '.join(TESTS)}")
        self.alpha, self.warmup, self.min_requests, self.clip = alpha, warmup, min_requests, clip
        self.tolerance = 1.0 + tolerance_pct / 100.0
        self.tests = tuple(tests)
        self.threshold = math.log(len(self.tests) / alpha)
        self._warm = []
        self._sorted = None
        self._q95 = self._q99 = None
        self.martingales = {t: _MixtureMartingale(LOCATION_GRID if t == "latency" else INDICATOR_GRID) for t in self.tests}
        self.counts = {"canary": 0, "stable": 0, "dropped": 0, "canary_errors": 0, "stable_errors": 0}
        self.decided_at = None

    def _score(self, latency):
        rank = bisect.bisect_left(self._sorted, latency) + 0.5 * (bisect.bisect_right(self._sorted, latency) - bisect.bisect_left(self._sorted, latency))
        u = min(max(rank / len(self._sorted), 0.5 / len(self._sorted)), 1 - 0.5 / len(self._sorted))
        return max(-self.clip, min(self.clip, _NORMAL.inv_cdf(u)))

    def add(self, is_canary, latency_s, error=False, pi=0.5):
        """One request: its track, latency (NaN or None is dropped, unless it failed) and the canary's share pi."""
        if not 0 < pi < 1:
            raise SequentialError(f"canary share pi {pi!r} must be in (0, 1): at 0 % or 100 % one track gets every request")
        valid = latency_s is not None and not (isinstance(latency_s, float) and math.isnan(latency_s)) and latency_s >= 0
        if not valid and not error:
            self.counts["dropped"] += 1
            return
        if self._sorted is None:
            # The warm-up sets the scores from both tracks together (label-blind), and is not tested.
            if valid and not error:
                self._warm.append(float(latency_s))
            if len(self._warm) >= self.warmup:
                self._sorted = sorted(self._warm)
                self._q95 = self._sorted[min(len(self._sorted) - 1, int(0.95 * len(self._sorted)))]
                self._q99 = self._sorted[min(len(self._sorted) - 1, int(0.99 * len(self._sorted)))]
            return
        track = "canary" if is_canary else "stable"
        self.counts[track] += 1
        if error:
            self.counts[track + "_errors"] += 1
        if "errors" in self.tests:
            self.martingales["errors"].update(1.0 if error else 0.0, is_canary, pi)
        if error or not valid:
            return
        latency = latency_s / self.tolerance if is_canary else latency_s
        if "latency" in self.tests:
            self.martingales["latency"].update(self._score(latency), is_canary, pi)
        if "p95" in self.tests:
            self.martingales["p95"].update(1.0 if latency > self._q95 else 0.0, is_canary, pi)
        if "p99" in self.tests:
            self.martingales["p99"].update(1.0 if latency > self._q99 else 0.0, is_canary, pi)

    def evaluate(self, deadline_reached=False):
        """pass, fail or inconclusive (or continue), with each test's e-value; a fail is final."""
        e_values = {t: round(m.log_e_value() / math.log(10), 3) for t, m in self.martingales.items()}
        failed = [t for t, m in self.martingales.items() if m.log_e_value() >= self.threshold]
        n = min(self.counts["canary"], self.counts["stable"])
        evidence = {"log10_e_values": e_values, "log10_threshold": round(self.threshold / math.log(10), 3), "counts": dict(self.counts)}
        if failed or self.decided_at is not None:
            if self.decided_at is None:
                self.decided_at = dict(self.counts)
            which = failed or ["(decided earlier)"]
            return dict(
                evidence,
                verdict="fail",
                reason=f"canary worse than stable on {', '.join(which)} (e-value above {len(self.tests)}/alpha)",
                decided_at=self.decided_at,
            )
        if self._sorted is None:
            verdict = "inconclusive" if deadline_reached else "continue"
            return dict(evidence, verdict=verdict, reason=f"warm-up: {len(self._warm)} of {self.warmup} requests")
        if n >= self.min_requests:
            return dict(evidence, verdict="pass", reason=f"no regression after {n} requests per side (alpha {self.alpha})")
        verdict = "inconclusive" if deadline_reached else "continue"
        return dict(evidence, verdict=verdict, reason=f"{n} of {self.min_requests} requests per side so far")
