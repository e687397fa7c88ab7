"""model_weights against a loopback model store: fetch, verify, idempotence, check mode, and a corrupt store."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.model_store import ModelStoreError, parse_manifest, plan
from ansible_collections.liveavatar.rollout.plugins.modules import model_weights

from helpers import run_module

FILES = {"Wan2.2-S2V-14B/dit.safetensors": b"dit weights v1.1" * 100, "Wan2.2-S2V-14B/config.json": b'{"dim": 5120}'}


def manifest(version="v1.1", files=None):
    files = FILES if files is None else files
    return json.dumps({"version": version, "files": [{"path": k, "sha256": hashlib.sha256(v).hexdigest(), "size": len(v)} for k, v in files.items()]}).encode()


@pytest.fixture(name="store")
def fixture_store():
    """A loopback store; `served` is what it sends for each path under /models/v1.1/ (change it to corrupt a file)."""
    served = {"manifest.json": manifest(), **FILES}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            name = self.path.removeprefix("/models/v1.1/")
            if name not in served:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(served[name])))
            self.end_headers()
            self.wfile.write(served[name])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/models", served
    server.shutdown()


def test_weights_are_fetched_once_verified_and_a_changed_file_is_fetched_again(store, tmp_path, capsys):
    url, _served = store
    args = {"store_url": url, "version": "v1.1", "dest": str(tmp_path / "v1.1")}
    result, code = run_module(model_weights.main, dict(args, state="verified"), capsys)
    assert code == 1 and "do not match their manifest: Wan2.2-S2V-14B/dit.safetensors (absent)" in result["msg"]
    result, code = run_module(model_weights.main, args, capsys, check_mode=True)
    assert code == 0 and result["changed"] is True and not (tmp_path / "v1.1").exists(), "check mode writes nothing"
    result, code = run_module(model_weights.main, args, capsys)
    assert code == 0 and result["changed"] is True and result["bytes_fetched"] == sum(len(v) for v in FILES.values())
    assert result["manifest_sha256"] == hashlib.sha256(manifest()).hexdigest()
    assert (tmp_path / "v1.1" / "Wan2.2-S2V-14B" / "dit.safetensors").read_bytes() == FILES["Wan2.2-S2V-14B/dit.safetensors"]
    result, code = run_module(model_weights.main, args, capsys)
    assert code == 0 and result["changed"] is False and result["fetched"] == []
    result, code = run_module(model_weights.main, dict(args, state="verified"), capsys)
    assert code == 0 and result["changed"] is False
    (tmp_path / "v1.1" / "Wan2.2-S2V-14B" / "config.json").write_bytes(b'{"dim": 4096}')
    result, code = run_module(model_weights.main, dict(args, state="verified"), capsys)
    assert code == 1 and "Wan2.2-S2V-14B/config.json (checksum)" in result["msg"]
    result, code = run_module(model_weights.main, args, capsys)
    assert code == 0 and result["fetched"] == [{"path": "Wan2.2-S2V-14B/config.json", "reason": "checksum", "size": 13}]


def test_a_corrupt_store_or_an_unreachable_one_fails_in_one_line_and_moves_nothing(store, tmp_path, capsys):
    url, served = store
    served["Wan2.2-S2V-14B/config.json"] = b'{"dim": 9999}'
    args = {"store_url": url, "version": "v1.1", "dest": str(tmp_path / "v1.1")}
    result, code = run_module(model_weights.main, args, capsys)
    assert code == 1 and "the store sent v1.1 Wan2.2-S2V-14B/config.json with sha256" in result["msg"]
    assert not (tmp_path / "v1.1" / "Wan2.2-S2V-14B" / "config.json").exists()
    assert not (tmp_path / "v1.1" / "Wan2.2-S2V-14B" / "config.json.part").exists()
    result, code = run_module(model_weights.main, dict(args, version="v9.9"), capsys)
    assert code == 1 and result["msg"] == f"model_weights: the model store answered HTTP 404 to {url}/v9.9/manifest.json; nothing was changed"
    result, code = run_module(model_weights.main, dict(args, store_url="http://127.0.0.1:1/models"), capsys)
    assert code == 1 and result["msg"].startswith("model_weights: the model store is unreachable at http://127.0.0.1:1/models/v1.1/manifest.json")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "the v1.1 weights manifest is not JSON"),
        (manifest(version="v1.0"), "the weights manifest is for version 'v1.0', not v1.1"),
        (manifest(files={}), "lists no file"),
        (manifest(files={"../etc/passwd": b"x"}), "names '../etc/passwd': paths must be relative"),
        (manifest(files={"/abs": b"x"}), "names '/abs'"),
        (manifest(files={"a/./b": b"x"}), "names 'a/./b'"),
        (json.dumps({"version": "v1.1", "files": [{"path": "a", "sha256": "x", "size": 1}]}).encode(), "gives a no sha256"),
    ],
)
def test_a_manifest_that_cannot_be_trusted_is_refused(body, message):
    with pytest.raises(ModelStoreError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_manifest(body, "v1.1")


def test_plan_names_why_each_file_is_fetched():
    parsed = parse_manifest(manifest(), "v1.1")
    dit = "Wan2.2-S2V-14B/dit.safetensors"
    local = {dit: (len(FILES[dit]), hashlib.sha256(FILES[dit]).hexdigest()), "Wan2.2-S2V-14B/config.json": (3, None)}
    assert plan(parsed, local) == {
        "ok": [dit],
        "fetch": [
            {"path": "Wan2.2-S2V-14B/config.json", "reason": "size", "size": 13, "sha256": hashlib.sha256(FILES["Wan2.2-S2V-14B/config.json"]).hexdigest()}
        ],
    }
