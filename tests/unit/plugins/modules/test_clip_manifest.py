from __future__ import annotations

import errno
import hashlib
import json
import os

import pytest

from ansible_collections.liveavatar.rollout.plugins.modules import clip_manifest

from helpers import run_module


def make_job(root, job_id, version, n=3, clip_versions=None, status="complete"):
    job = root / job_id
    (job / "clips").mkdir(parents=True)
    clips = []
    for i in range(n):
        path = f"clips/clip_{i:04d}.mp4"
        data = f"{job_id}-{i}".encode()
        (job / path).write_bytes(data)
        clips.append(
            {"id": f"clip_{i:04d}", "path": path, "sha256": hashlib.sha256(data).hexdigest(), "frames": 48, "version": (clip_versions or [version] * n)[i]}
        )
    manifest = {"version": version, "job_id": job_id, "clips": clips, "status": status}
    (job / "manifest.json").write_text(json.dumps(manifest))
    return job


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_validated_lists_jobs(capsys, tmp_path):
    make_job(tmp_path, "job-a", "v1.0")
    result, code = run_module(clip_manifest.main, {"root": str(tmp_path)}, capsys)
    assert code == 0 and result["jobs"][0]["intact"] == 3 and result["changed"] is False


def test_resume_point_after_a_torn_clip(capsys, tmp_path):
    job = make_job(tmp_path, "job-b", "v1.1", status="running")
    (job / "clips/clip_0002.mp4").write_bytes(b"half")
    result, code = run_module(clip_manifest.main, {"path": str(job / "manifest.json"), "state": "resume", "running_version": "v1.1"}, capsys)
    assert code == 0 and result["next_clip"] == 2 and result["first_broken"]["id"] == "clip_0002"
    result, code = run_module(clip_manifest.main, {"path": str(job / "manifest.json"), "state": "resume", "running_version": "v1.2"}, capsys)
    assert code == 1 and "written by v1.1, not v1.2" in result["msg"]


def test_quarantine_moves_clips_aside_marks_jobs_and_is_idempotent(capsys, tmp_path):
    make_job(tmp_path, "job-good", "v1.1")
    make_job(tmp_path, "job-bad", "v1.2", status="running")
    make_job(tmp_path, "job-mixed", "v1.1", n=2, clip_versions=["v1.1", "v1.2"])
    before = tree(tmp_path)
    args = {"root": str(tmp_path), "state": "quarantined", "bad_version": "v1.2"}
    planned, code = run_module(clip_manifest.main, args, capsys, check_mode=True)
    assert code == 0 and planned["changed"] and tree(tmp_path) == before
    result, code = run_module(clip_manifest.main, args, capsys)
    assert code == 0 and result["changed"]
    assert sorted(j["job_id"] for j in result["quarantined"]) == ["job-bad", "job-mixed"]
    bad = json.loads((tmp_path / "job-bad/manifest.json").read_text())
    assert bad["status"] == "quarantined" and bad["quarantine"]["previous_status"] == "running"
    for clip in bad["clips"]:
        data = (tmp_path / "job-bad" / clip["path"]).read_bytes()
        assert clip["path"].startswith("quarantine/v1.2/") and hashlib.sha256(data).hexdigest() == clip["sha256"]
    assert len(tree(tmp_path)) == len(before), "nothing is deleted"
    assert json.loads((tmp_path / "job-good/manifest.json").read_text())["status"] == "complete"
    again, code = run_module(clip_manifest.main, args, capsys)
    assert code == 0 and again["changed"] is False and sorted(again["already_quarantined"]) == ["job-bad", "job-mixed"]


def test_corrupt_manifest_stops_before_anything_moves(capsys, tmp_path):
    make_job(tmp_path, "job-bad", "v1.2")
    corrupt = make_job(tmp_path, "job-zz", "v1.2")
    (corrupt / "manifest.json").write_text('{"version": "v1.2", "job_id": ')
    before = tree(tmp_path)
    result, code = run_module(clip_manifest.main, {"root": str(tmp_path), "state": "quarantined", "bad_version": "v1.2"}, capsys)
    assert code == 1 and result["msg"].startswith("clip_manifest: corrupt manifest") and "job-zz" in result["msg"]
    assert tree(tmp_path) == before


def test_unreadable_jobs_are_set_aside_whole_when_asked(capsys, tmp_path):
    """A rollback must not stop on a manifest the bad version wrote: the folder moves aside whole, with a note."""
    make_job(tmp_path / "v1.2", "job-bad", "v1.2")
    make_job(tmp_path / "v1.0", "job-good", "v1.0")
    corrupt = make_job(tmp_path / "v1.2", "job-zz", "v1.2")
    (corrupt / "manifest.json").write_text('{"version": "v1.2", "job_id": ')
    empty = tmp_path / "v1.2" / "job-empty"
    empty.mkdir()
    (empty / "manifest.json").write_text("")
    # An earlier rollback set a job of that name aside already: it is never merged into.
    (tmp_path / ".unreadable-jobs" / "v1.2" / "job-zz").mkdir(parents=True)
    args = {"root": str(tmp_path), "state": "quarantined", "bad_version": "v1.2", "unreadable": "quarantine"}
    before = tree(tmp_path)
    planned, code = run_module(clip_manifest.main, args, capsys, check_mode=True)
    assert code == 0 and planned["changed"] and tree(tmp_path) == before
    assert [(j["from"], j["to"]) for j in planned["unreadable_jobs"]] == [
        ("v1.2/job-empty", ".unreadable-jobs/v1.2/job-empty"),
        ("v1.2/job-zz", ".unreadable-jobs/v1.2/job-zz.1"),
    ]
    result, code = run_module(clip_manifest.main, args, capsys)
    assert code == 0 and result["unreadable_jobs"] == planned["unreadable_jobs"]
    assert [j["job_id"] for j in result["quarantined"]] == ["job-bad"]
    assert not corrupt.exists() and not empty.exists()
    moved = tmp_path / ".unreadable-jobs" / "v1.2" / "job-zz.1"
    assert sorted(p.name for p in (moved / "clips").iterdir()) == ["clip_0000.mp4", "clip_0001.mp4", "clip_0002.mp4"]
    assert (moved / "manifest.json").read_text() == '{"version": "v1.2", "job_id": '
    note = json.loads((tmp_path / ".unreadable-jobs" / "v1.2" / "job-zz.1.json").read_text())
    assert note["from"] == "v1.2/job-zz" and note["reason"].startswith("corrupt manifest") and note["at"]
    assert (tmp_path / "v1.0" / "job-good" / "manifest.json").exists()
    again, code = run_module(clip_manifest.main, args, capsys)
    assert code == 0 and not again["changed"] and again["unreadable_jobs"] == []


def test_an_unreadable_job_is_not_set_aside_through_a_planted_link(capsys, tmp_path, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    corrupt = make_job(tmp_path / "v1.2", "job-zz", "v1.2")
    (corrupt / "manifest.json").write_text("{")
    (tmp_path / ".unreadable-jobs").symlink_to(elsewhere)
    before = tree(tmp_path)
    args = {"root": str(tmp_path), "state": "quarantined", "bad_version": "v1.2", "unreadable": "quarantine"}
    result, code = run_module(clip_manifest.main, args, capsys)
    assert code == 1 and "is a link or not a folder" in result["msg"] and "nothing was moved" in result["msg"]
    assert tree(tmp_path) == before and list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("args", [{"state": "quarantined", "root": "/nonexistent-root", "bad_version": "v1.2"}])
def test_missing_root_is_one_line(capsys, args):
    result, code = run_module(clip_manifest.main, args, capsys)
    assert code == 1 and "is not a directory" in result["msg"]


def test_quarantine_diff_shows_each_manifests_status_and_clip_paths(capsys, tmp_path):
    make_job(tmp_path, "job-bad", "v1.2", n=1, status="running")
    make_job(tmp_path, "job-good", "v1.1", n=1)
    args = {"root": str(tmp_path), "state": "quarantined", "bad_version": "v1.2", "_ansible_diff": True}
    planned, code = run_module(clip_manifest.main, args, capsys, check_mode=True)
    manifest = str(tmp_path / "job-bad" / "manifest.json")
    assert code == 0 and list(planned["diff"]["before"]) == [manifest]
    assert planned["diff"]["before"][manifest] == {"status": "running", "clips": ["clips/clip_0000.mp4"]}
    assert planned["diff"]["after"][manifest] == {"status": "quarantined", "clips": ["quarantine/v1.2/clips/clip_0000.mp4"]}
    done, _code = run_module(clip_manifest.main, args, capsys)
    assert done["diff"] == planned["diff"]
    again, _code = run_module(clip_manifest.main, args, capsys)
    assert again["diff"] == {"before": {}, "after": {}}


# Issue 13, item 1: the bad version wrote the job folder, so nothing in it is trusted (links, names, existing files).
QUARANTINE_V12 = {"state": "quarantined", "bad_version": "v1.2"}


def test_quarantine_refuses_a_planted_link_to_a_host_folder(capsys, tmp_path):
    root, host = tmp_path / "out", tmp_path / "etc-cron.d"
    host.mkdir()
    job = make_job(root, "job-bad", "v1.2")
    (job / "quarantine").mkdir()
    (job / "quarantine" / "v1.2").symlink_to(host)
    before = tree(root)
    result, code = run_module(clip_manifest.main, dict(QUARANTINE_V12, root=str(root)), capsys)
    assert code == 1 and "job-bad" in result["msg"] and "link" in result["msg"]
    assert list(host.iterdir()) == [] and tree(root) == before


def test_quarantine_never_moves_a_host_file_through_a_linked_clip_folder(capsys, tmp_path):
    root, host = tmp_path / "out", tmp_path / "host-etc"
    host.mkdir()
    (host / "passwd").write_bytes(b"root:x:0:0")
    job = root / "job-bad"
    job.mkdir(parents=True)
    (job / "clips").symlink_to(host)
    digest = hashlib.sha256(b"root:x:0:0").hexdigest()
    clip = {"id": "c0", "path": "clips/passwd", "sha256": digest, "frames": 48, "version": "v1.2"}
    (job / "manifest.json").write_text(json.dumps({"version": "v1.2", "job_id": "job-bad", "clips": [clip], "status": "running"}))
    result, code = run_module(clip_manifest.main, dict(QUARANTINE_V12, root=str(root)), capsys)
    assert code == 1 and "clips/passwd" in result["msg"]
    assert (host / "passwd").read_bytes() == b"root:x:0:0" and not (job / "quarantine").exists()


def test_quarantine_keeps_relative_paths_so_same_named_clips_both_survive(capsys, tmp_path):
    job = tmp_path / "job-bad"
    clips = []
    for folder in ("a", "b"):
        (job / folder).mkdir(parents=True)
        data = f"clip from {folder}".encode()
        (job / folder / "clip.mp4").write_bytes(data)
        clips.append({"id": folder, "path": f"{folder}/clip.mp4", "sha256": hashlib.sha256(data).hexdigest(), "frames": 48, "version": "v1.2"})
    (job / "manifest.json").write_text(json.dumps({"version": "v1.2", "job_id": "job-bad", "clips": clips, "status": "complete"}))
    result, code = run_module(clip_manifest.main, dict(QUARANTINE_V12, root=str(tmp_path)), capsys)
    assert code == 0, result
    manifest = json.loads((job / "manifest.json").read_text())
    assert [c["path"] for c in manifest["clips"]] == ["quarantine/v1.2/a/clip.mp4", "quarantine/v1.2/b/clip.mp4"]
    for clip in manifest["clips"]:
        assert hashlib.sha256((job / clip["path"]).read_bytes()).hexdigest() == clip["sha256"]


def test_quarantine_never_overwrites_a_file_already_there(capsys, tmp_path):
    job = make_job(tmp_path, "job-bad", "v1.2")
    squatter = job / "quarantine" / "v1.2" / "clips" / "clip_0001.mp4"
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"planted")
    before = tree(tmp_path)
    result, code = run_module(clip_manifest.main, dict(QUARANTINE_V12, root=str(tmp_path)), capsys)
    assert code == 1 and "clip_0001.mp4" in result["msg"] and "overwrite" in result["msg"]
    assert squatter.read_bytes() == b"planted" and tree(tmp_path) == before


def test_quarantine_across_filesystems_copies_verifies_then_removes(capsys, tmp_path, monkeypatch):
    job = make_job(tmp_path, "job-bad", "v1.2")
    real_link = os.link

    def cross_device(*args, **kwargs):
        if kwargs.get("src_dir_fd") != kwargs.get("dst_dir_fd"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(*args, **kwargs)

    monkeypatch.setattr(os, "link", cross_device)
    result, code = run_module(clip_manifest.main, dict(QUARANTINE_V12, root=str(tmp_path)), capsys)
    assert code == 0, result
    assert [m["how"] for m in result["quarantined"][0]["moves"]] == ["copied"] * 3
    assert not list((job / "clips").iterdir())
    for clip in json.loads((job / "manifest.json").read_text())["clips"]:
        assert hashlib.sha256((job / clip["path"]).read_bytes()).hexdigest() == clip["sha256"]
    assert not list((job / "quarantine" / "v1.2" / "clips").glob(".*")), "no partial copy is left behind"


def test_quarantine_interrupted_after_a_copy_finishes_on_the_next_run(capsys, tmp_path):
    job = make_job(tmp_path, "job-bad", "v1.2")
    # A crash after the copy, before the source was removed: both files exist and are identical.
    copied = job / "quarantine" / "v1.2" / "clips" / "clip_0000.mp4"
    copied.parent.mkdir(parents=True)
    copied.write_bytes((job / "clips" / "clip_0000.mp4").read_bytes())
    result, code = run_module(clip_manifest.main, dict(QUARANTINE_V12, root=str(tmp_path)), capsys)
    assert code == 0, result
    assert [m["how"] for m in result["quarantined"][0]["moves"]] == ["already there", "renamed", "renamed"]
    assert not list((job / "clips").iterdir()) and len(list(copied.parent.iterdir())) == 3


def test_a_linked_job_folder_is_skipped_and_named(capsys, tmp_path):
    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    make_job(elsewhere, "job-x", "v1.2")
    root.mkdir()
    (root / "job-x").symlink_to(elsewhere / "job-x")
    result, code = run_module(clip_manifest.main, dict(QUARANTINE_V12, root=str(root)), capsys)
    assert (
        code == 0 and result["changed"] is False and result["skipped_links"] == [{"path": str(root / "job-x" / "manifest.json"), "reason": "job-x is a link"}]
    )
    assert json.loads((elsewhere / "job-x" / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"bad_version": "../../etc"}, "bad_version '../../etc' is not vMAJOR.MINOR[.PATCH]"),
        ({"bad_version": "v1.2\n"}, "is not vMAJOR.MINOR[.PATCH]"),
        ({"quarantine_dir": "../outside"}, "quarantine_dir '../outside' must be a relative path inside the job"),
        ({"quarantine_dir": "/tmp"}, "quarantine_dir '/tmp' must be a relative path inside the job"),
    ],
)
def test_path_building_inputs_are_refused_in_one_line(capsys, tmp_path, args, message):
    make_job(tmp_path, "job-bad", "v1.2")
    before = tree(tmp_path)
    result, code = run_module(clip_manifest.main, dict(QUARANTINE_V12, root=str(tmp_path), **args), capsys)
    assert code == 1 and message in result["msg"] and tree(tmp_path) == before


def test_validation_does_not_read_through_a_linked_clip(capsys, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"s3cret")
    job = tmp_path / "out" / "job-a"
    (job / "clips").mkdir(parents=True)
    (job / "clips" / "c.mp4").symlink_to(secret)
    clip = {"id": "c", "path": "clips/c.mp4", "sha256": hashlib.sha256(b"s3cret").hexdigest(), "frames": 48, "version": "v1.1"}
    (job / "manifest.json").write_text(json.dumps({"version": "v1.1", "job_id": "job-a", "clips": [clip], "status": "complete"}))
    result, code = run_module(clip_manifest.main, {"root": str(tmp_path / "out")}, capsys)
    assert code == 1 and "not a regular file" in result["msg"]


def test_two_unreadable_jobs_never_get_one_folder(capsys, tmp_path):
    for name in ("job-a", "job-a.1"):
        (tmp_path / "v1.2" / name).mkdir(parents=True)
        (tmp_path / "v1.2" / name / "manifest.json").write_text("{")
    (tmp_path / ".unreadable-jobs" / "v1.2" / "job-a").mkdir(parents=True)
    args = {"root": str(tmp_path), "state": "quarantined", "bad_version": "v1.2", "unreadable": "quarantine"}
    result, code = run_module(clip_manifest.main, args, capsys)
    assert code == 0
    assert [(j["from"], j["to"]) for j in result["unreadable_jobs"]] == [
        # Manifests are read in sorted path order: "job-a.1/" sorts before "job-a/".
        ("v1.2/job-a.1", ".unreadable-jobs/v1.2/job-a.1"),
        ("v1.2/job-a", ".unreadable-jobs/v1.2/job-a.2"),
    ]
