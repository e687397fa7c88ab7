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
