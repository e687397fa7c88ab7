"""registry_image's real main() against a Distribution API served on loopback, and against a closed port."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading

import pytest

from ansible_collections.liveavatar.rollout.plugins.modules import registry_image

from helpers import run_module

V2 = "application/vnd.docker.distribution.manifest.v2+json"
BODY = b'{"schemaVersion": 2}'
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def registry():
    state = {"tags": {"v1.1": DIGEST}, "blobs": {DIGEST: BODY}}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reference(self):
            return self.path.rsplit("/manifests/", 1)[1]

        def _answer(self, with_body):
            digest = state["tags"].get(self._reference(), self._reference() if self._reference() in state["blobs"] else None)
            if digest is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Docker-Content-Digest", digest)
            self.send_header("Content-Type", V2)
            self.send_header("Content-Length", str(len(state["blobs"][digest])))
            self.end_headers()
            if with_body:
                self.wfile.write(state["blobs"][digest])

        def do_HEAD(self):  # noqa: N802 (http.server's naming)
            self._answer(False)

        def do_GET(self):  # noqa: N802
            self._answer(True)

        def do_PUT(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            state["blobs"][digest], state["tags"][self._reference()] = body, digest
            self.send_response(201)
            self.send_header("Docker-Content-Digest", digest)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def args(api, **extra):
    return {"api": api, "name": "liveavatar/live-avatar", **extra}


def test_resolve_and_retag_through_the_api(capsys, registry):
    api, state = registry
    result, code = run_module(registry_image.main, args(api, reference="v1.1"), capsys)
    assert code == 0 and result == {**result, "changed": False, "exists": True, "digest": DIGEST}
    result, code = run_module(registry_image.main, args(api, reference="v9.9"), capsys)
    assert code == 0 and result["exists"] is False and result["digest"] is None
    planned, code = run_module(registry_image.main, args(api, reference="v1.1", tag="stable", _ansible_diff=True), capsys, check_mode=True)
    assert code == 0 and planned["changed"] and "stable" not in state["tags"]
    assert planned["diff"] == {"before": {"stable": None}, "after": {"stable": DIGEST}}
    done, code = run_module(registry_image.main, args(api, reference="v1.1", tag="stable"), capsys)
    assert code == 0 and done["changed"] and state["tags"]["stable"] == DIGEST
    again, code = run_module(registry_image.main, args(api, reference=DIGEST, tag="stable"), capsys)
    assert code == 0 and again["changed"] is False and again["tag_before"] == DIGEST


def test_an_unreachable_registry_is_one_line(capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = f"http://127.0.0.1:{port}"
    result, code = run_module(registry_image.main, args(api, reference="v1.1", timeout=3), capsys)
    assert code == 1 and result["msg"].startswith(f"registry_image: registry {api} unreachable: ") and result["msg"].endswith("; nothing was changed")
    assert "\n" not in result["msg"] and "Status code was -1" not in result["msg"]
    assert result["registry_unreachable"] is True


def test_a_refusal_is_not_unreachable(capsys, registry):
    api, state = registry
    result, code = run_module(registry_image.main, args(api, reference="v9.9", tag="stable"), capsys)
    assert code == 1 and result["registry_unreachable"] is False
