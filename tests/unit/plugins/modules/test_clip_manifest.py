from __future__ import annotations

import hashlib
import json

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
    assert planned["diff"]["after"][manifest] == {"status": "quarantined", "clips": ["quarantine/v1.2/clip_0000.mp4"]}
    done, _code = run_module(clip_manifest.main, args, capsys)
    assert done["diff"] == planned["diff"]
    again, _code = run_module(clip_manifest.main, args, capsys)
    assert again["diff"] == {"before": {}, "after": {}}
