"""Lab only: a bounded load through the LB (count and time), counting answers by X-Served-Version."""

import argparse
import json
import os
import time
import urllib.error
import urllib.request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--rate", type=float, default=20)
    p.add_argument("--max-requests", type=int, default=20000)
    # A step that decides before its deadline ends the load by creating this file.
    p.add_argument("--stop-file")
    args = p.parse_args()
    if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("lab_load: only loopback URLs")
    deadline = time.monotonic() + args.seconds
    versions, failed, sent = {}, 0, 0
    interval = 1.0 / args.rate
    while time.monotonic() < deadline and sent < args.max_requests and not (args.stop_file and os.path.exists(args.stop_file)):
        started = time.monotonic()
        sent += 1
        try:
            with urllib.request.urlopen(args.url, timeout=5) as response:  # noqa: S310 - loopback only, checked above
                version = response.headers.get("X-Served-Version", "unknown")
                versions[version] = versions.get(version, 0) + 1
        except (urllib.error.URLError, OSError):
            failed += 1
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    print(json.dumps({"sent": sent, "failed": failed, "by_version": versions}))


if __name__ == "__main__":
    main()
