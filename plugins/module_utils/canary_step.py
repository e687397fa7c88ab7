# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One traffic step watched request by request (issue 16): what the canary_step module decides, without a socket.

HAProxy writes one `httplog` line per request into a ring (`log ring@<ring>` in the LB's configuration); the module
streams the ring through the runtime API (`show events <ring> -w -n`: only what is logged from then on), feeds each
complete line here, and asks for a verdict every few seconds. Each request is classified by the server that answered
it (candidate or stable). When a server joins the pool at this step, no request accepted in the step's first `warmup_s` is
judged, on either track: a cold instance is not the version's steady state, and both tracks are compared over the same
window. The rest go to the anytime-valid sequential judge. A fail is final
and may come at any look; a pass needs the minimum bake and the judge's minimum evidence; too few requests when the
step's deadline passes is inconclusive, never a pass.
"""

from __future__ import annotations

import math

from ansible_collections.liveavatar.rollout.plugins.module_utils import haproxy_log
from ansible_collections.liveavatar.rollout.plugins.module_utils.sequential import SequentialJudge

INCONCLUSIVE_POLICIES = ("abort", "pause", "extend")


class StepError(ValueError):
    """A step that cannot be watched as asked; the message names the setting."""


def check_bake(min_bake_s, max_bake_s, warmup_s=0.0, interval_s=1.0):
    """Raise unless 0 <= min_bake_s <= max_bake_s, warmup_s >= 0 and interval_s > 0."""
    if min_bake_s < 0 or max_bake_s < min_bake_s:
        raise StepError(f"the bake must satisfy 0 <= min_bake_s ({min_bake_s}) <= max_bake_s ({max_bake_s})")
    if warmup_s < 0 or interval_s <= 0:
        raise StepError(f"warmup_s ({warmup_s}) must be 0 or more and interval_s ({interval_s}) above 0")


def canary_share(weights, candidate_servers):
    """The candidate's share (0-1) of the pool's total weight: the chance a new session lands on a candidate."""
    total = sum(weights.values())
    if total <= 0:
        raise StepError("the step's weights put no server in rotation")
    return sum(weight for server, weight in weights.items() if server in candidate_servers) / total


def check_share(pi):
    """Raise unless the candidate's share is strictly between 0 and 1: at 0 % or 100 % there is nothing to compare."""
    if not 0 < pi < 1:
        raise StepError(f"the step gives the candidate {pi:.0%} of the pool: a step compares candidate and stable, so 0 % and 100 % are not steps")


def _quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


class StepWatch:
    """The evidence of one step and its verdict at any moment (wall-clock seconds, the LB host's clock)."""

    def __init__(self, backend, candidate_servers, stable_servers, started_at, pi, min_bake_s, max_bake_s, warmup_s=0.0, joined=(), judge=None):
        overlap = set(candidate_servers) & set(stable_servers)
        if overlap:
            raise StepError(f"servers {', '.join(sorted(overlap))} are named both candidate and stable")
        if not candidate_servers or not stable_servers:
            raise StepError("a step compares at least one candidate server with at least one stable server")
        check_share(pi)
        check_bake(min_bake_s, max_bake_s, warmup_s)
        self.backend, self.started_at, self.pi = backend, started_at, pi
        self.candidate, self.stable = set(candidate_servers), set(stable_servers)
        self.min_bake_s, self.max_bake_s, self.warmup_s = min_bake_s, max_bake_s, warmup_s
        # Servers that join the pool at this step serve cold for their first warmup_s.
        self.joined = set(joined)
        self.judge = judge or SequentialJudge()
        self.counts = {"lines": 0, "before_step": 0, "other_servers": 0, "cold": 0, "warmup_window": 0}
        self.per_server = {}
        self.latencies = {"candidate": [], "stable": []}
        self.first_candidate_at = None
        self.verdict = None
        self._looked = {"candidate": 0, "stable": 0}

    def add_line(self, line):
        """One log line; lines that are not this backend's requests after the step's start are counted and left out."""
        self.counts["lines"] += 1
        entry = haproxy_log.parse_line(line)
        if entry is None or entry["backend"] != self.backend:
            self.counts["other_servers"] += 1
            return
        if entry["at"] < self.started_at:
            self.counts["before_step"] += 1
            return
        server = entry["server"]
        if server in self.candidate:
            track = "candidate"
        elif server in self.stable:
            track = "stable"
        else:
            self.counts["other_servers"] += 1
            return
        if track == "candidate" and self.first_candidate_at is None:
            self.first_candidate_at = entry["at"]
        # Both tracks are compared over one window: while a joining server is cold, nobody's requests are judged
        # (judging stable alone would break the test's premise that each request is the canary's with chance pi).
        if self.joined and entry["at"] < self.started_at + self.warmup_s:
            self.counts["cold" if server in self.joined else "warmup_window"] += 1
            return
        tally = self.per_server.setdefault(server, {"requests": 0, "failed": 0})
        tally["requests"] += 1
        tally["failed"] += int(entry["failed"])
        if entry["latency_s"] is not None:
            self.latencies[track].append(entry["latency_s"])
        if self.verdict is None or self.verdict["verdict"] != "fail":
            self.judge.add(track == "candidate", entry["latency_s"], error=entry["failed"], pi=self.pi)

    def decide(self, now):
        """continue, fail, pass or inconclusive at wall time now; a fail holds from then on."""
        if self.verdict is not None and self.verdict["verdict"] == "fail":
            return self.verdict
        elapsed = now - self.started_at
        judged = self.judge.evaluate(deadline_reached=elapsed >= self.max_bake_s)
        verdict = judged["verdict"]
        if verdict == "pass" and elapsed < self.min_bake_s:
            verdict, reason = "continue", f"enough evidence, baking until {self.min_bake_s} s"
        else:
            reason = judged["reason"]
        if verdict == "continue" and elapsed >= self.max_bake_s:
            verdict = "inconclusive"
        self.verdict = dict(judged, verdict=verdict, reason=reason, elapsed_s=round(elapsed, 3))
        return self.verdict

    def look_medians(self):
        """Each track's median latency over the requests judged since the previous call (None where there was none)."""
        medians = {}
        for track, values in self.latencies.items():
            fresh = values[self._looked[track] :]
            self._looked[track] = len(values)
            medians[track] = _quantile(fresh, 0.5) if fresh else None
        return medians

    def extend(self, max_bake_s):
        """Move the deadline later (policy 'extend'); the evidence so far is kept, the judge's validity with it."""
        if max_bake_s <= self.max_bake_s:
            raise StepError(f"an extension must end after the current deadline ({max_bake_s} <= {self.max_bake_s} s)")
        self.max_bake_s = max_bake_s
        self.verdict = None

    def evidence(self):
        """What the report keeps: counts, per-server tallies, each track's latency quantiles, the judge's e-values."""
        summary = {}
        for track, values in self.latencies.items():
            summary[track] = {
                "requests": len(values),
                "p50_s": _quantile(values, 0.5),
                "p95_s": _quantile(values, 0.95),
                "p99_s": _quantile(values, 0.99),
                "mean_s": (math.fsum(values) / len(values)) if values else None,
            }
        return {
            "pi": round(self.pi, 4),
            "lines": dict(self.counts),
            "per_server": self.per_server,
            "latency": summary,
            "first_candidate_at": self.first_candidate_at,
        }


def step_plan(state, weights, candidate_servers):
    """The servers a step compares, read from the backend's state and the step's weights.

    Returns (stable, joined, after): the healthy servers in rotation after the step that are not candidates, the servers
    at weight 0 before the step that get traffic in it (they start cold), and every server's weight after the step.
    """
    unknown = sorted(set(candidate_servers) - set(state))
    if unknown:
        raise StepError(f"candidate servers {', '.join(unknown)} are not in the backend (servers: {', '.join(sorted(state)) or 'none'})")
    after = {server: weights.get(server, entry["weight"]) for server, entry in state.items()}
    stable = sorted(server for server, weight in after.items() if weight > 0 and server not in candidate_servers and state[server]["healthy"])
    joined = sorted(server for server, weight in after.items() if weight > 0 and state[server]["weight"] == 0)
    return stable, joined, after


def check_policy(policy):
    if policy not in INCONCLUSIVE_POLICIES:
        raise StepError(f"on_inconclusive {policy!r} must be one of {', '.join(INCONCLUSIVE_POLICIES)}")
    return policy
