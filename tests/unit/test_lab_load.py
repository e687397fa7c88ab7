"""The lab's bounded load (roles/canary_release/files/lab_load.py): its replay of recorded requests (issue 16 item 5)."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "canary_release" / "files" / "lab_load.py"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("X-Served-Version", "v1.1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def run_load(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=30, check=False)


def test_a_replay_sends_the_recorded_paths_at_their_pace_again_and_again_until_its_time_is_up(loopback_server, tmp_path):
    plan = tmp_path / "replay.json"
    plan.write_text(json.dumps({"requests": [[0.0, "/api/ping?size=32"], [0.2, "/gradio_api/info"], [0.4, "/api/ping?size=64"]], "span_s": 0.4}))
    url = f"http://127.0.0.1:{loopback_server.server_port}/api/ping"
    run = run_load("--url", url, "--seconds", "1.1", "--replay", str(plan))
    assert run.returncode == 0, run.stderr
    counts = json.loads(run.stdout)
    # A lap is the span plus one mean gap (0.6 s): 0, 0.2, 0.4, then 0.6, 0.8, 1.0 of the second lap.
    assert counts == {"sent": 6, "failed": 0, "by_version": {"v1.1": 6}, "replayed": True}
    assert _Recorder.seen == ["/api/ping?size=32", "/gradio_api/info", "/api/ping?size=64"] * 2


def test_a_replay_stops_at_its_request_bound(loopback_server, tmp_path):
    plan = tmp_path / "replay.json"
    plan.write_text(json.dumps({"requests": [[0.0, "/a"], [0.01, "/b"]], "span_s": 0.01}))
    run = run_load("--url", f"http://127.0.0.1:{loopback_server.server_port}/", "--seconds", "5", "--max-requests", "3", "--replay", str(plan))
    assert json.loads(run.stdout)["sent"] == 3 and _Recorder.seen == ["/a", "/b", "/a"]


@pytest.mark.parametrize(
    ("plan", "url", "message"),
    [
        ({"requests": [], "span_s": 0}, "http://127.0.0.1:9/", "holds no requests to replay"),
        ({"requests": [[0, "http://elsewhere/x"]], "span_s": 0}, "http://127.0.0.1:9/", "a path that is not one"),
        ({"requests": [[0, "/x"]], "span_s": 0}, "http://192.0.2.1/", "only loopback URLs"),
    ],
)
def test_a_bad_replay_or_a_url_off_loopback_is_refused_in_one_line_and_sends_nothing(tmp_path, plan, url, message):
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(plan))
    run = run_load("--url", url, "--seconds", "1", "--replay", str(path))
    lines = run.stderr.strip().splitlines()
    assert run.returncode != 0 and len(lines) == 1 and lines[0].startswith("lab_load: ") and message in lines[0], run.stderr
    assert run.stdout == ""
