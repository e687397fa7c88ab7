"""Lab only: a bounded load through the LB (count and time), counting answers by X-Served-Version.

--replay PLAN.json replays recorded requests (liveavatar.rollout.haproxy_replay_plan) at their recorded pace against the
--url's host, over and over until the time, count or stop file ends it.
"""

import argparse
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request


def schedule(plan, url, rate):
    """(offset_s, url) forever: the replay plan repeated after its span plus one mean gap, or `url` at `rate` per second."""
    if plan is None:
        step, n = 1.0 / rate, 0
        while True:
            yield n * step, url
            n += 1
    requests = plan["requests"]
    base = urllib.parse.urlsplit(url)
    gap = plan["span_s"] / max(1, len(requests) - 1) if len(requests) > 1 else 1.0
    cycle, lap = plan["span_s"] + gap, 0
    while True:
        for offset, path in requests:
            yield lap * cycle + offset, f"{base.scheme}://{base.netloc}{path}"
        lap += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--rate", type=float, default=20)
    p.add_argument("--max-requests", type=int, default=20000)
    # A step that decides before its deadline ends the load by creating this file.
    p.add_argument("--stop-file")
    # A JSON replay plan: recorded requests where live traffic is thin.
    p.add_argument("--replay")
    args = p.parse_args()
    if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("lab_load: only loopback URLs")
    plan = None
    if args.replay:
        with open(args.replay) as handle:
            plan = json.load(handle)
        if not plan.get("requests") or not all(str(path).startswith("/") for _offset, path in plan["requests"]):
            raise SystemExit(f"lab_load: {args.replay} holds no requests to replay, or a path that is not one")
    started_at = time.monotonic()
    deadline = started_at + args.seconds
    versions, failed, sent = {}, 0, 0
    origin = started_at
    for offset, url in schedule(plan, args.url, args.rate):
        if sent >= args.max_requests or (args.stop_file and os.path.exists(args.stop_file)):
            break
        # Late (a slow answer): the schedule moves back instead of bursting to catch up.
        origin += max(0.0, time.monotonic() - (origin + offset))
        if origin + offset >= deadline:
            break
        time.sleep(max(0.0, origin + offset - time.monotonic()))
        sent += 1
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only, checked above
                version = response.headers.get("X-Served-Version", "unknown")
                versions[version] = versions.get(version, 0) + 1
        except (urllib.error.URLError, OSError):
            failed += 1
    print(json.dumps({"sent": sent, "failed": failed, "by_version": versions, "replayed": bool(plan)}))


if __name__ == "__main__":
    main()
