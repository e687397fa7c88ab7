# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy's per-request HTTP log (`option httplog`) as request-level evidence for the canary judge (issue 16).

One line per request: client, accept date, frontend, backend/server, the timers Tq/Tw/Tc/Tr/Ta (ms, -1 where the
request never got that far), status, bytes, cookies, termination state, connection counts, queues, headers, request.
The syslog prefix (or a ring's prefix from `show events`) before the client is ignored.
"""

from __future__ import annotations

import datetime
import math
import re

_LINE_RE = re.compile(
    r"(?P<client>\S+):(?P<port>\d+) \[(?P<date>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3})\] (?P<frontend>\S+) "
    r"(?P<backend>[^\s/]+)/(?P<server>\S+) (?P<tq>-?\d+)/(?P<tw>-?\d+)/(?P<tc>-?\d+)/(?P<tr>-?\d+)/(?P<ta>\+?-?\d+) "
    r"(?P<status>-?\d+) (?P<bytes>\+?\d+) \S+ \S+ (?P<term>\S{4}) "
)


_REQUEST_RE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>/\S*) HTTP/[\d.]+"\s*$')


def _epoch(date):
    parsed = datetime.datetime.strptime(date, "%d/%b/%Y:%H:%M:%S.%f")
    return parsed.replace(tzinfo=datetime.UTC).timestamp()


def parse_line(line):
    """One request as a dict, or None for a line that is not an HTTP log line (startup notices, health checks' alerts)."""
    match = _LINE_RE.search(line)
    if not match:
        return None
    timers = {k: int(match.group(k)) for k in ("tq", "tw", "tc", "tr")}
    total = int(match.group("ta").lstrip("+"))
    status = int(match.group("status"))
    term = match.group("term")
    # Failed: a 5xx, no response from the server (Tr -1), or a session that ended on an error or a timeout.
    failed = status >= 500 or status < 0 or timers["tr"] < 0 or term[0] not in "-"
    return {
        "at": _epoch(match.group("date")),
        "frontend": match.group("frontend"),
        "backend": match.group("backend"),
        "server": match.group("server"),
        "status": status,
        "latency_s": total / 1000.0 if total >= 0 and not failed else None,
        "response_s": timers["tr"] / 1000.0 if timers["tr"] >= 0 else None,
        "failed": failed,
        "termination": term,
    }


def _request(line):
    match = _REQUEST_RE.search(line)
    return {"method": match.group("method"), "path": match.group("path")} if match else None


def requests(text, backend=None, since=None, with_request=False):
    """Every request of `backend` (all when None) accepted at or after `since` (epoch seconds), in log order.

    with_request adds each line's method and path (the replay needs them; the judge's hot path does not).
    """
    found = []
    for line in (text or "").splitlines():
        entry = parse_line(line)
        if entry is None or (backend and entry["backend"] != backend) or (since is not None and entry["at"] < since):
            continue
        if with_request:
            entry["request"] = _request(line)
        found.append(entry)
    return found


def replay_plan(text, backend=None, max_requests=1000, max_seconds=600.0, speed=1.0):
    """A recorded log as a bounded replay for the lab's load: [offset_s, path] per GET request, paced as recorded.

    Only GET requests are replayed (a replay must not repeat a write); the first `max_requests` within `max_seconds` of
    the first one (offsets divided by `speed`) are kept. Refuses a log with nothing to replay.
    """
    if any(not math.isfinite(float(v)) or float(v) <= 0 for v in (speed, max_seconds)) or int(max_requests) < 1:
        raise ValueError(f"speed {speed!r}, max_requests {max_requests!r} and max_seconds {max_seconds!r} must be positive")
    entries = requests(text, backend, with_request=True)
    gets = sorted((e for e in entries if e["request"] and e["request"]["method"] == "GET"), key=lambda e: e["at"])
    if not gets:
        raise ValueError(f"the log has no GET request to replay ({len(entries)} request line(s) read)")
    first = gets[0]["at"]
    plan = []
    for entry in gets:
        offset = round((entry["at"] - first) / float(speed), 3)
        if offset > float(max_seconds) or len(plan) >= int(max_requests):
            break
        plan.append([offset, entry["request"]["path"]])
    return {"requests": plan, "span_s": plan[-1][0], "skipped": len(entries) - len(gets)}
