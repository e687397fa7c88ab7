"""docker_daemon_config's real main() on a daemon.json in a temporary directory; dockerd is absent or a stand-in."""

from __future__ import annotations

import json

import pytest

from ansible_collections.liveavatar.rollout.plugins.modules import docker_daemon_config

from helpers import run_module


def use_dockerd(monkeypatch, path):
    """The dockerd the module finds (get_bin_path also looks in /usr/sbin, where this machine may have one)."""
    monkeypatch.setattr(docker_daemon_config.AnsibleModule, "get_bin_path", lambda self, name, *a, **kw: path if name == "dockerd" else None)


@pytest.fixture
def daemon_json(tmp_path, monkeypatch):
    # No dockerd: the module must say validation did not run, not that it passed.
    use_dockerd(monkeypatch, None)
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}, "live-restore": False}, indent=2))
    return path


def test_merges_keeps_other_keys_and_is_idempotent(daemon_json, capsys):
    args = {"path": str(daemon_json), "settings": {"live-restore": True, "log-driver": "json-file"}, "_ansible_diff": True}
    result, code = run_module(docker_daemon_config.main, args, capsys)
    assert code == 0 and result["changed"] is True
    written = json.loads(daemon_json.read_text())
    assert written == {"runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}, "live-restore": True, "log-driver": "json-file"}
    assert oct(daemon_json.stat().st_mode & 0o777) == "0o644"
    assert result["validation"] == "not run: no dockerd on this host"
    assert '"live-restore": false' in result["diff"]["before"] and '"live-restore": true' in result["diff"]["after"]
    again, _code = run_module(docker_daemon_config.main, args, capsys)
    assert again["changed"] is False and again["validation"] == "not run: nothing to change"


def test_a_file_in_another_format_but_the_same_object_is_not_changed(daemon_json, capsys):
    daemon_json.write_text('{"live-restore":true}')
    result, _code = run_module(docker_daemon_config.main, {"path": str(daemon_json), "settings": {"live-restore": True}}, capsys)
    assert result["changed"] is False and daemon_json.read_text() == '{"live-restore":true}'


def test_check_mode_reports_and_writes_nothing(daemon_json, capsys):
    before = daemon_json.read_text()
    result, _code = run_module(docker_daemon_config.main, {"path": str(daemon_json), "settings": {"live-restore": True}}, capsys, check_mode=True)
    assert result["changed"] is True and result["config"]["live-restore"] is True
    assert daemon_json.read_text() == before


def test_remove_matching_drops_only_the_value_given(daemon_json, capsys):
    daemon_json.write_text(json.dumps({"default-runtime": "nvidia", "live-restore": True}))
    args = {"path": str(daemon_json), "settings": {}, "remove_matching": {"default-runtime": "nvidia"}}
    result, _code = run_module(docker_daemon_config.main, args, capsys)
    assert result["changed"] is True and json.loads(daemon_json.read_text()) == {"live-restore": True}


def test_a_file_that_is_not_an_object_fails_in_one_line_and_is_kept(daemon_json, capsys):
    daemon_json.write_text("[1, 2]")
    result, code = run_module(docker_daemon_config.main, {"path": str(daemon_json), "settings": {"live-restore": True}}, capsys)
    assert code == 1 and result["failed"] is True
    assert result["msg"] == f"docker_daemon_config: {daemon_json} holds a JSON list, not an object; fix or remove it, nothing was changed"
    assert daemon_json.read_text() == "[1, 2]"


def test_a_missing_file_is_created_and_a_missing_directory_is_named(tmp_path, monkeypatch, capsys):
    use_dockerd(monkeypatch, None)
    path = tmp_path / "daemon.json"
    result, _code = run_module(docker_daemon_config.main, {"path": str(path), "settings": {"live-restore": True}}, capsys)
    assert result["changed"] is True and json.loads(path.read_text()) == {"live-restore": True}
    absent = tmp_path / "no-engine" / "daemon.json"
    result, code = run_module(docker_daemon_config.main, {"path": str(absent), "settings": {"live-restore": True}}, capsys)
    assert code == 1 and "does not exist (is the engine installed?)" in result["msg"]


def test_a_dockerd_that_rejects_the_candidate_stops_the_write(daemon_json, tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dockerd"
    # Stands in for Docker 23+: --help offers --validate, and --validate refuses the file.
    script = [
        "#!/bin/sh",
        'case "$1" in',
        '  --help) echo "  --validate  Validate daemon configuration and exit";;',
        '  --validate) echo "unknown key bogus" >&2; exit 1;;',
        "esac",
    ]
    fake.write_text("\n".join(script) + "\n")
    fake.chmod(0o755)
    use_dockerd(monkeypatch, str(fake))
    before = daemon_json.read_text()
    result, code = run_module(docker_daemon_config.main, {"path": str(daemon_json), "settings": {"bogus": 1}}, capsys)
    assert code == 1 and result["msg"].endswith("dockerd rejects the merged " + str(daemon_json) + ": unknown key bogus; nothing was changed")
    assert daemon_json.read_text() == before


def test_a_dockerd_without_validate_is_named_not_passed(daemon_json, tmp_path, monkeypatch, capsys):
    fake = tmp_path / "dockerd"
    fake.write_text('#!/bin/sh\necho "Usage: dockerd [OPTIONS]"\n')
    fake.chmod(0o755)
    use_dockerd(monkeypatch, str(fake))
    result, _code = run_module(docker_daemon_config.main, {"path": str(daemon_json), "settings": {"live-restore": True}}, capsys)
    assert result["changed"] is True and result["validation"] == "not run: dockerd has no --validate (Docker before 23)"
