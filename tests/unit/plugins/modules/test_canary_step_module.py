"""canary_step's real main() against a UNIX socket that answers like HAProxy: show stat, set weight, and a ring's
request log streamed by `show events <ring> -w -n`, written by a bounded synthetic load that follows the weights."""

from __future__ import annotations

import datetime
import random
import threading
import time

import pytest

from ansible_collections.liveavatar.rollout.plugins.modules import canary_step

from helpers import FakeHAProxy, run_module

RING = "liveavatar_requests"


class StreamingHAProxy(FakeHAProxy):
    """The runtime API of one backend plus a ring: each request the load sends is logged to every open event stream."""

    def __init__(self, path, weights, latency_ms, rate_per_s=400, max_requests=20000, ring=RING):
        self.latency_ms, self.ring, self.streams = latency_ms, ring, []
        self.lock = threading.Lock()
        self.rng = random.Random(11)
        self.stop = threading.Event()
        super().__init__(path, {name: {"weight": weight, "scur": 0, "stot": 0, "status": "UP"} for name, weight in weights.items()})
        if rate_per_s:
            threading.Thread(target=self._load, args=(rate_per_s, max_requests), daemon=True).start()

    def weights(self):
        return {name: server["weight"] for name, server in self.servers.items()}

    def _answer(self, command):
        with self.lock:
            return super()._answer(command)

    def _stream(self, conn, line):
        if not line.startswith("show events "):
            return False
        if line.split()[2] != self.ring:
            conn.sendall(b"No such event sink\n")
            conn.close()
        else:
            with self.lock:
                self.streams.append(conn)
        return True

    def _load(self, rate_per_s, max_requests):
        """Bounded: at most max_requests, at most 60 s; each request goes to a server drawn by weight."""
        deadline = time.monotonic() + 60
        for number in range(max_requests):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            time.sleep(1.0 / rate_per_s)
            with self.lock:
                pool = [(name, server["weight"]) for name, server in self.servers.items() if server["weight"] > 0]
                if not pool:
                    continue
                server = self.rng.choices([n for n, _w in pool], weights=[w for _n, w in pool])[0]
                ms = max(1, int(self.latency_ms[server] * self.rng.lognormvariate(0, 0.3)))
                stamp = datetime.datetime.now(datetime.UTC).strftime("%d/%b/%Y:%H:%M:%S.%f")[:-3]
                timers = f"0/0/0/{ms}/{ms} 200 120 - - ---- 1/1/0/0/0 0/0"
                text = f'127.0.0.1:{40000 + number % 20000} [{stamp}] liveavatar liveavatar/{server} {timers} "GET / HTTP/1.1"\n'
                for conn in list(self.streams):
                    try:
                        conn.sendall(text.encode())
                    except OSError:
                        self.streams.remove(conn)

    def close(self):
        self.stop.set()
        super().close()
        for conn in self.streams:
            conn.close()


@pytest.fixture
def lb(tmp_path):
    made = []

    def make(latency_ms, **extra):
        fake = StreamingHAProxy(tmp_path / "admin.sock", {"n3-stable": 100, "n3-canary": 0}, latency_ms, **extra)
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.close()


def args(tmp_path, **extra):
    return dict(
        {
            "socket": str(tmp_path / "admin.sock"),
            "weights": {"n3-canary": 50, "n3-stable": 50},
            "candidate_servers": ["n3-canary"],
            "abort_weights": {"n3-canary": 0},
            "abort_weights_if_healthy": {"n3-stable": 100},
            "min_bake_s": 2,
            "max_bake_s": 8,
            "interval_s": 0.5,
            "warmup_s": 0.2,
            "judge_warmup": 20,
            "min_requests": 150,
        },
        **extra,
    )


def test_a_slow_candidate_is_failed_and_taken_out_inside_the_same_call(tmp_path, lb, capsys):
    fake = lb({"n3-stable": 20, "n3-canary": 60})
    result, code = run_module(canary_step.main, args(tmp_path), capsys)
    assert code == 0, result
    assert (result["verdict"], result["passed"]) == ("fail", False)
    assert result["abort_changes"] == {"n3-canary": {"before": 50, "after": 0}, "n3-stable": {"before": 50, "after": 100}}
    assert fake.weights() == {"n3-stable": 100, "n3-canary": 0}
    assert result["timings"]["verdict_to_weights_s"] < 1.0
    assert result["looks"][-1]["verdict"] == "fail" and result["looks"][-1]["at_s"] < 8
    assert result["evidence"]["latency"]["candidate"]["p50_s"] > 2 * result["evidence"]["latency"]["stable"]["p50_s"]
    assert fake.lines.count(f"show events {RING} -w -n") == 1


def test_a_candidate_like_stable_passes_after_the_minimum_bake_and_keeps_its_weights(tmp_path, lb, capsys):
    fake = lb({"n3-stable": 20, "n3-canary": 20})
    result, code = run_module(canary_step.main, args(tmp_path, _ansible_diff=True), capsys)
    assert code == 0, result
    assert (result["verdict"], result["passed"], result["abort_changes"]) == ("pass", True, {})
    assert result["looks"][-1]["at_s"] >= 2
    assert fake.weights() == {"n3-stable": 50, "n3-canary": 50}
    assert result["diff"] == {"before": {"n3-canary": 0, "n3-stable": 100}, "after": {"n3-canary": 50, "n3-stable": 50}}


@pytest.mark.parametrize(("policy", "weights_after"), [("pause", {"n3-stable": 50, "n3-canary": 50}), ("abort", {"n3-stable": 100, "n3-canary": 0})])
def test_a_step_without_traffic_ends_inconclusive_and_never_passes(tmp_path, lb, capsys, policy, weights_after):
    fake = lb({"n3-stable": 20, "n3-canary": 20}, rate_per_s=0)
    result, code = run_module(canary_step.main, args(tmp_path, min_bake_s=1, max_bake_s=1.5, on_inconclusive=policy), capsys)
    assert code == 0, result
    assert (result["verdict"], result["passed"]) == ("inconclusive", False)
    assert fake.weights() == weights_after


def test_check_mode_reads_and_plans_without_a_stream_or_a_weight(tmp_path, lb, capsys):
    fake = lb({"n3-stable": 20, "n3-canary": 20}, rate_per_s=0)
    result, code = run_module(canary_step.main, args(tmp_path), capsys, check_mode=True)
    assert (code, result["changed"], result["pi"]) == (0, True, 0.5)
    assert fake.lines == ["show stat"] and fake.weights() == {"n3-stable": 100, "n3-canary": 0}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ring": "no_such_ring"}, "HAProxy closed the event stream of ring no_such_ring (it said: No such event sink)"),
        ({"candidate_servers": ["n9-canary"]}, "candidate servers n9-canary are not in the backend"),
        ({"abort_weights": {"n9-canary": 0}}, "server n9-canary does not exist"),
        ({"on_inconclusive": "extend"}, "needs extend_to_s after max_bake_s"),
        ({"min_bake_s": 9}, "the bake must satisfy 0 <= min_bake_s (9.0) <= max_bake_s (8.0)"),
        ({"interval_s": 0}, "interval_s (0.0) above 0"),
        ({"weights": {"n3-canary": 0, "n3-stable": 0}}, "no healthy server in rotation"),
        ({"weights": {"n3-canary": 0}}, "the step gives the candidate 0% of the pool"),
        ({"weights": {"n3-canary": 100, "n3-stable": 0}}, "the step gives the candidate 100% of the pool"),
    ],
)
def test_a_step_that_cannot_run_fails_in_one_line(tmp_path, lb, capsys, extra, message):
    fake = lb({"n3-stable": 20, "n3-canary": 20}, rate_per_s=0)
    result, code = run_module(canary_step.main, args(tmp_path, **extra), capsys)
    assert code == 1, result
    assert result["msg"].startswith(f"canary_step: {tmp_path / 'admin.sock'} backend liveavatar: ") and message in result["msg"]
    assert "\n" not in result["msg"]
    if "ring" not in extra:
        assert fake.weights() == {"n3-stable": 100, "n3-canary": 0}
