# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Job manifests of generated clips: schema, checksums, resume point, quarantine by version.

A manifest is {version, job_id, clips: [{id, path, sha256, frames, version}], status}. Clip
paths are relative to the manifest's directory. Functions here take plain data and a
`digest_of(path) -> hex | None` callable, so the file system stays in the module.
"""

from __future__ import annotations

import posixpath
import re

STATUSES = ("running", "complete", "failed", "paused", "quarantined")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# release_version.py's rule, written out: the stand-in service imports this file alone (no collection around it).
_VERSION_RE = re.compile(r"v(?:0|[1-9][0-9]{0,8})\.(?:0|[1-9][0-9]{0,8})(?:\.(?:0|[1-9][0-9]{0,8}))?")
_CLIP_KEYS = ("id", "path", "sha256", "frames", "version")


class ManifestError(ValueError):
    """The manifest is malformed or mixes versions; the message names the field."""


def validate(manifest):
    """Raise ManifestError on the first schema problem; return the manifest unchanged."""
    if not isinstance(manifest, dict):
        raise ManifestError("manifest is not a JSON object")
    for key in ("version", "job_id", "clips", "status"):
        if key not in manifest:
            raise ManifestError(f"manifest has no {key!r}")
    if not isinstance(manifest["version"], str) or len(manifest["version"]) > 32 or not _VERSION_RE.fullmatch(manifest["version"]):
        raise ManifestError(f"manifest version {manifest['version']!r} is not vMAJOR.MINOR[.PATCH]")
    if not isinstance(manifest["job_id"], str) or not manifest["job_id"] or "/" in manifest["job_id"]:
        raise ManifestError(f"job_id {manifest['job_id']!r} must be a non-empty name without '/'")
    if manifest["status"] not in STATUSES:
        raise ManifestError(f"status {manifest['status']!r} is not one of {STATUSES}")
    if not isinstance(manifest["clips"], list):
        raise ManifestError("clips is not a list")
    seen, paths = set(), set()
    for position, clip in enumerate(manifest["clips"]):
        if not isinstance(clip, dict):
            raise ManifestError(f"clip {position} is not an object")
        missing = [k for k in _CLIP_KEYS if k not in clip]
        if missing:
            raise ManifestError(f"clip {position} lacks {', '.join(missing)}")
        if clip["id"] in seen:
            raise ManifestError(f"clip id {clip['id']!r} appears twice")
        seen.add(clip["id"])
        if not isinstance(clip["sha256"], str) or not _SHA256_RE.match(clip["sha256"]):
            raise ManifestError(f"clip {clip['id']!r} sha256 is not 64 lower-case hex digits")
        if not isinstance(clip["frames"], int) or isinstance(clip["frames"], bool) or clip["frames"] <= 0:
            raise ManifestError(f"clip {clip['id']!r} frames must be a positive integer")
        path = clip["path"]
        if not isinstance(path, str) or any(part in ("", ".", "..") for part in path.split("/")) or "\0" in path:
            raise ManifestError(f"clip {clip['id']!r} path {path!r} must be relative, inside the job")
        if path in paths:
            raise ManifestError(f"clip {clip['id']!r} path {path!r} is already another clip's")
        paths.add(path)
    return manifest


def versions(manifest):
    """Every version that wrote into the job (the manifest's and each clip's)."""
    return sorted({manifest["version"], *(clip["version"] for clip in manifest["clips"])})


def check_single_version(manifest):
    mixed = versions(manifest)
    if len(mixed) > 1:
        raise ManifestError(f"job {manifest['job_id']} mixes versions {', '.join(mixed)}: clips of two versions are never joined")


def verify_clips(manifest, digest_of):
    """Per clip: intact when its file exists and its sha256 matches the manifest (digest_of may raise ValueError: a link)."""
    results = []
    for clip in manifest["clips"]:
        try:
            actual = digest_of(clip["path"])
        except ValueError as exc:
            results.append({"id": clip["id"], "path": clip["path"], "intact": False, "reason": str(exc)})
            continue
        if actual is None:
            results.append({"id": clip["id"], "path": clip["path"], "intact": False, "reason": "file missing"})
        elif actual != clip["sha256"]:
            results.append(
                {
                    "id": clip["id"],
                    "path": clip["path"],
                    "intact": False,
                    "reason": f"sha256 {actual[:12]}... differs from manifest {clip['sha256'][:12]}...",
                }
            )
        else:
            results.append({"id": clip["id"], "path": clip["path"], "intact": True, "reason": "ok"})
    return results


def resume_point(manifest, digest_of, running_version=None):
    """Index of the next clip to generate: after the last clip of an unbroken intact prefix.

    A job written by another version than `running_version` is refused: resuming would join
    clips of two versions.
    """
    validate(manifest)
    check_single_version(manifest)
    if running_version is not None and manifest["version"] != running_version:
        raise ManifestError(f"job {manifest['job_id']} was written by {manifest['version']}, not {running_version}: refusing to resume")
    if manifest["status"] == "quarantined":
        raise ManifestError(f"job {manifest['job_id']} is quarantined: a person must release it before it resumes")
    checks = verify_clips(manifest, digest_of)
    intact = 0
    for check in checks:
        if not check["intact"]:
            break
        intact += 1
    broken = next((c for c in checks if not c["intact"]), None)
    return {"next_clip": intact, "intact_clips": intact, "first_broken": broken, "clips": checks}


def plan_quarantine(manifest, bad_version, quarantine_root, now):
    """Moves and the rewritten manifest for a job the bad version touched; None when untouched or done.

    `quarantine_root` is relative to the job's directory: clips go to <root>/<bad_version>/<their path>,
    aside from the live clips (relative paths kept, so a/clip.mp4 and b/clip.mp4 stay two files);
    checksums stay in the manifest so the moved files can still be verified.
    """
    validate(manifest)
    if bad_version not in versions(manifest):
        return None
    if manifest["status"] == "quarantined":
        return None
    target = posixpath.join(quarantine_root, bad_version)
    moves, clips = [], []
    for clip in manifest["clips"]:
        destination = posixpath.join(target, clip["path"])
        moves.append({"id": clip["id"], "from": clip["path"], "to": destination, "sha256": clip["sha256"]})
        clips.append(dict(clip, path=destination, original_path=clip["path"]))
    updated = dict(manifest, clips=clips, status="quarantined")
    updated["quarantine"] = {
        "version": bad_version,
        "previous_status": manifest["status"],
        "reason": f"written (wholly or partly) by {bad_version}, which was rolled back",
        "at": now,
        "directory": target,
    }
    return {"job_id": manifest["job_id"], "moves": moves, "manifest": updated}
