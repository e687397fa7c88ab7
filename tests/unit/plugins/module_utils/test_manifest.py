from __future__ import annotations

import hashlib

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import manifest as mf


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def job(version="v1.1", n=3, status="running", clip_versions=None):
    clips = [
        {"id": f"clip_{i:04d}", "path": f"clips/clip_{i:04d}.mp4", "sha256": sha(f"c{i}"), "frames": 48, "version": (clip_versions or [version] * n)[i]}
        for i in range(n)
    ]
    return {"version": version, "job_id": "job-1", "clips": clips, "status": status}


def files(*broken):
    contents = {f"clips/clip_{i:04d}.mp4": sha(f"c{i}") for i in range(10)}
    for path, value in broken:
        contents[path] = value
    return contents.get


def test_valid_manifest_and_intact_clips():
    data = mf.validate(job())
    assert all(c["intact"] for c in mf.verify_clips(data, files()))


def test_resume_after_last_intact_clip():
    point = mf.resume_point(job(n=3), files(("clips/clip_0001.mp4", sha("torn write"))), running_version="v1.1")
    assert point["next_clip"] == 1 and point["first_broken"]["id"] == "clip_0001"
    assert mf.resume_point(job(n=3), files(), "v1.1")["next_clip"] == 3


def test_missing_file_stops_the_intact_prefix():
    point = mf.resume_point(job(n=3), files(("clips/clip_0002.mp4", None)), "v1.1")
    assert point["next_clip"] == 2 and point["first_broken"]["reason"] == "file missing"


def test_another_version_is_refused():
    with pytest.raises(mf.ManifestError, match="written by v1.1, not v1.2"):
        mf.resume_point(job(), files(), running_version="v1.2")


def test_mixed_versions_are_refused():
    with pytest.raises(mf.ManifestError, match="mixes versions v1.1, v1.2"):
        mf.resume_point(job(n=2, clip_versions=["v1.1", "v1.2"]), files())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.pop("status"), "no 'status'"),
        (lambda m: m.update(version="1.1"), "not vMAJOR"),
        (lambda m: m.update(status="done"), "status 'done'"),
        (lambda m: m["clips"][0].update(sha256="XYZ"), "64 lower-case hex"),
        (lambda m: m["clips"][0].update(path="../../etc/passwd"), "must be relative"),
        (lambda m: m["clips"][0].update(frames=0), "positive integer"),
        (lambda m: m["clips"][1].update(id="clip_0000"), "appears twice"),
        (lambda m: m["clips"][0].pop("version"), "lacks version"),
        (lambda m: m.update(job_id="a/b"), "without '/'"),
        (lambda m: m.update(version="v1.1\n"), "not vMAJOR"),
        (lambda m: m["clips"][0].update(path="clips//clip_0000.mp4"), "must be relative"),
        (lambda m: m["clips"][0].update(path="./clips/clip_0000.mp4"), "must be relative"),
        (lambda m: m["clips"][0].update(path="/srv/clip_0000.mp4"), "must be relative"),
        (lambda m: m["clips"][1].update(path=m["clips"][0]["path"]), "already another clip's"),
    ],
)
def test_corrupt_manifests_are_refused(mutate, message):
    data = job()
    mutate(data)
    with pytest.raises(mf.ManifestError, match=message):
        mf.validate(data)


def test_quarantine_plan_moves_every_clip_and_keeps_checksums():
    plan = mf.plan_quarantine(job(version="v1.2"), "v1.2", "quarantine", "2026-11-25T00:00:00Z")
    assert [m["to"] for m in plan["moves"]] == [f"quarantine/v1.2/clips/clip_{i:04d}.mp4" for i in range(3)]
    updated = plan["manifest"]
    assert updated["status"] == "quarantined" and updated["quarantine"]["previous_status"] == "running"
    assert [c["sha256"] for c in updated["clips"]] == [c["sha256"] for c in job()["clips"]]
    mf.validate(updated)


def test_quarantine_touches_partly_written_jobs_and_is_idempotent():
    partly = job(version="v1.1", n=2, clip_versions=["v1.1", "v1.2"])
    assert mf.plan_quarantine(partly, "v1.2", "quarantine", "t") is not None
    assert mf.plan_quarantine(job(version="v1.1"), "v1.2", "quarantine", "t") is None
    done = mf.plan_quarantine(job(version="v1.2"), "v1.2", "quarantine", "t")["manifest"]
    assert mf.plan_quarantine(done, "v1.2", "quarantine", "t") is None


def test_quarantined_job_does_not_resume():
    with pytest.raises(mf.ManifestError, match="quarantined"):
        mf.resume_point(job(status="quarantined"), files(), "v1.1")
