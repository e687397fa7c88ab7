"""HAProxy's httplog lines as request-level evidence (issue 16 item 1), including malformed and failed requests."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import haproxy_log as hl

# The shape of HAProxy's documented httplog example, with this lab's frontend, backend and servers.
OK = (
    "Dec  3 17:20:01 lb haproxy[311]: 127.0.0.1:33317 [03/Dec/2026:17:20:01.655] fe_liveavatar liveavatar/gpu-node-3-canary "
    '10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /api/ping HTTP/1.1"'
)


def test_a_served_request_has_its_server_latency_and_time():
    entry = hl.parse_line(OK)
    assert entry["server"] == "gpu-node-3-canary" and entry["backend"] == "liveavatar" and entry["status"] == 200
    assert entry["latency_s"] == pytest.approx(0.109) and entry["response_s"] == pytest.approx(0.069) and not entry["failed"]
    assert entry["at"] == pytest.approx(1796318401.655)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("10/0/30/69/109 200", "10/0/30/69/109 503"), "a 5xx"),
        (("10/0/30/69/109 200", "10/0/30/-1/30000 504"), "no response within the timeout"),
        (("- ---- 1/1", "- sH-- 1/1"), "a server-side timeout in the termination state"),
        (("10/0/30/69/109 200", "10/0/-1/-1/3 -1"), "a connection that never reached the server"),
    ],
)
def test_failed_requests_count_as_failures_without_a_latency(change, why):
    entry = hl.parse_line(OK.replace(*change))
    assert entry["failed"] and entry["latency_s"] is None, why


@pytest.mark.parametrize(
    "line",
    ["", "Proxy liveavatar started.", "Server liveavatar/gpu-node-3-canary is DOWN, reason: Layer4 connection problem", OK[:90]],
)
def test_lines_that_are_not_request_logs_are_skipped(line):
    assert hl.parse_line(line) is None


def test_requests_keeps_one_backend_from_a_time_on():
    other = OK.replace("liveavatar/gpu-node-3-canary", "stats/<STATS>")
    early = OK.replace("17:20:01.655]", "17:19:59.000]")
    text = "\n".join([early, OK, other, "garbage", OK.replace("canary", "stable")])
    got = hl.requests(text, backend="liveavatar", since=1796318400.0)
    assert [e["server"] for e in got] == ["gpu-node-3-canary", "gpu-node-3-stable"]


def _line(at, method="GET", path="/api/ping?size=128"):
    return (
        f"127.0.0.1:40000 [07/Dec/2026:18:00:{at:06.3f}] fe_liveavatar liveavatar/gpu-node-3-stable "
        f'0/0/0/20/20 200 2750 - - ---- 1/1/0/0/0 0/0 "{method} {path} HTTP/1.1"'
    )


def test_a_recorded_log_becomes_a_paced_bounded_replay_of_its_get_requests():
    text = "\n".join([_line(1.0), _line(1.5, path="/gradio_api/info"), _line(2.0, "POST", "/gradio_api/upload"), _line(4.0), "not a log line"])
    plan = hl.replay_plan(text)
    assert plan == {"requests": [[0.0, "/api/ping?size=128"], [0.5, "/gradio_api/info"], [3.0, "/api/ping?size=128"]], "span_s": 3.0, "skipped": 1}
    assert hl.replay_plan(text, speed=2)["requests"][-1] == [1.5, "/api/ping?size=128"]
    assert len(hl.replay_plan(text, max_requests=2)["requests"]) == 2
    assert hl.replay_plan(text, max_seconds=1)["requests"] == [[0.0, "/api/ping?size=128"], [0.5, "/gradio_api/info"]]


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, r"no GET request to replay \(0 request line"),
        (_line(1.0, "POST", "/upload"), {}, r"no GET request to replay \(1 request line"),
        (_line(1.0), {"speed": 0}, "must be positive"),
        (_line(1.0), {"max_requests": 0}, "must be positive"),
    ],
)
def test_a_log_with_nothing_to_replay_or_a_bad_bound_is_refused(text, kwargs, message):
    with pytest.raises(ValueError, match=message):
        hl.replay_plan(text, **kwargs)
