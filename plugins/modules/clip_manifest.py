#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: clip_manifest
short_description: Validate Live Avatar job manifests, find the resume point, quarantine by version
version_added: 0.1.0
description:
  - A job manifest is C({version, job_id, clips [{id, path, sha256, frames, version}], status}) in
    C(<job dir>/manifest.json); clip paths are relative to the job directory.
  - O(state=validated) checks the schema, that one version wrote the job, and every clip's sha256.
  - O(state=resume) gives the index of the next clip to generate after the last intact clip, and
    refuses a job written by another version than O(running_version).
  - O(state=quarantined) finds, under O(root), every job written (wholly or partly) by
    O(bad_version), moves its clips to C(<job dir>/<quarantine_dir>/<bad_version>/<clip path>) with their
    checksums kept, and marks the manifest C(quarantined) (generation paused). Nothing is
    deleted; a second run changes nothing.
  - The version that wrote a job folder is not trusted. Paths are walked one component at a time
    without following links; a clip, a clip folder or a quarantine folder that is a link, or a
    destination that already holds other bytes, stops the run before anything moves, naming the job.
    A job folder that is a link is skipped and listed in RV(skipped_links).
  - A move never overwrites. Across filesystems it copies, checks both checksums, then removes the
    source; an interrupted run is finished by the next one.
options:
  path:
    description: One manifest file (states validated and resume).
    type: path
  root:
    description: Directory searched for C(*/manifest.json) and C(*/*/manifest.json) (state quarantined and validated).
    type: path
  state:
    description: What to do.
    type: str
    choices: [validated, resume, quarantined]
    default: validated
  running_version:
    description: Version that would resume the job (state resume).
    type: str
  bad_version:
    description: Version whose jobs are quarantined (state quarantined).
    type: str
  quarantine_dir:
    description: Directory, relative to each job's directory, that receives quarantined clips.
    type: str
    default: quarantine
  unreadable:
    description:
      - What O(state=quarantined) does with a job whose manifest cannot be read or is not a valid manifest.
      - V(fail) stops the run before anything moves, naming the manifest.
      - V(quarantine) moves the whole job folder to C(<root>/.unreadable-jobs/<its path under root>) (a free name with a
        C(.N) suffix if that one is taken), with a C(.json) note beside it saying where it came from and why; no file in it
        is read, changed or deleted. A rollback uses this, so a manifest written by the bad version cannot stop it.
    type: str
    choices: [fail, quarantine]
    default: fail
attributes:
  check_mode:
    support: full
    description: In check mode the quarantine plan is returned and nothing moves.
  diff_mode:
    support: full
    description: For O(state=quarantined), each changed manifest's status and clip paths before and after.
  idempotent:
    support: full
    description: Quarantined jobs are left as they are.
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Quarantine the clips the rolled-back version wrote
  liveavatar.rollout.clip_manifest:
    root: /srv/liveavatar/output
    state: quarantined
    bad_version: v1.2
  register: quarantine

- name: Where should job 42 resume
  liveavatar.rollout.clip_manifest:
    path: /srv/liveavatar/output/v1.1/job-42/manifest.json
    state: resume
    running_version: v1.1
"""

RETURN = r"""
jobs:
  description: Per manifest - path, job_id, version, status, intact and broken clip counts (validated).
  returned: state is validated
  type: list
  elements: dict
  sample: [{"path": "/srv/out/job-1/manifest.json", "job_id": "job-1", "version": "v1.1", "intact": 10, "broken": 0}]
next_clip:
  description: Index of the next clip to generate (state resume).
  returned: state is resume
  type: int
  sample: 7
first_broken:
  description: The first clip that is missing or whose checksum differs, or null.
  returned: state is resume
  type: dict
  sample: {"id": "clip_0007", "reason": "file missing"}
quarantined:
  description:
    - Jobs quarantined by this run, each with job_id, manifest path and moves.
    - Each move says how it went (renamed, copied, already there, missing); check mode has no how.
  returned: state is quarantined
  type: list
  elements: dict
  sample: [{"job_id": "job-9", "manifest": "/srv/out/job-9/manifest.json",
            "moves": [{"from": "clips/c0.mp4", "to": "quarantine/v1.2/clips/c0.mp4", "how": "renamed"}]}]
skipped_links:
  description: Manifests not read because their job folder (or the file) is a link, each with path and reason.
  returned: when O(root) is given
  type: list
  elements: dict
  sample: [{"path": "/srv/out/job-x/manifest.json", "reason": "job-x is a link"}]
unreadable_jobs:
  description:
    - Job folders moved whole because their manifest could not be read (O(unreadable=quarantine)), each with the job
      folder (from), where it went (to, under O(root)) and the reason. Check mode lists what would move.
  returned: state is quarantined
  type: list
  elements: dict
  sample: [{"from": "v1.2/job-7", "to": ".unreadable-jobs/v1.2/job-7", "reason": "Expecting value: line 1 column 1 (char 0)"}]
already_quarantined:
  description: Jobs of O(bad_version) found already quarantined.
  returned: state is quarantined
  type: list
  elements: str
  sample: ["job-8"]
"""

import datetime
import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils import job_files
from ansible_collections.liveavatar.rollout.plugins.module_utils import manifest as mf
from ansible_collections.liveavatar.rollout.plugins.module_utils.files import write_json_atomically
from ansible_collections.liveavatar.rollout.plugins.module_utils.release_version import is_release_version


def _digest_of(job_dir):
    """sha256 of a clip, read without following a link (job_files.UnsafePath, a ValueError, for one)."""

    def digest(relative):
        job_fd = job_files.open_job(job_dir)
        try:
            return job_files.digest_inside(job_fd, relative)
        finally:
            os.close(job_fd)

    return digest


def _read(path):
    """(manifest, None), or (None, the operator's line) when the file cannot be read or is not a valid manifest."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return mf.validate(data), None
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror}"
    except (ValueError, mf.ManifestError) as exc:
        return None, f"corrupt manifest {path}: {exc}"


def _load(module, path):
    data, problem = _read(path)
    if problem:
        module.fail_json(msg=f"clip_manifest: {problem}", manifest=path)
    return data


UNREADABLE_DIR = ".unreadable-jobs"


def _plan_unreadable(root, found):
    """Where each unreadable job folder, (manifest path, problem), goes under root/.unreadable-jobs; two never get one name."""
    root_fd = job_files.open_job(root)
    try:
        planned = []
        for path, problem in found:
            source = os.path.relpath(os.path.dirname(path), root).split(os.sep)
            target = "/".join(job_files.free_folder_name(root_fd, [UNREADABLE_DIR, *source], {job["to"] for job in planned}))
            planned.append({"from": "/".join(source), "to": target, "reason": problem})
        return planned
    finally:
        os.close(root_fd)


def _move_unreadable(root, planned, now):
    root_fd = job_files.open_job(root)
    try:
        for job in planned:
            job_files.move_folder(root_fd, job["from"], job["to"])
            note = dict(job, at=now, action="inspect the folder, then move it back with a repaired manifest or delete it")
            job_files.write_new_file(root_fd, job["to"] + ".json", (json.dumps(note, indent=2) + "\n").encode())
    finally:
        os.close(root_fd)


def _manifests(root):
    """Manifests under root (depth 1 or 2), and those skipped because a folder on the way, or the file, is a link."""
    found = glob.glob(os.path.join(root, "*", "manifest.json")) + glob.glob(os.path.join(root, "*", "*", "manifest.json"))
    paths, skipped = [], []
    for path in sorted(set(found)):
        parts = os.path.relpath(path, root).split(os.sep)
        link = next(("/".join(parts[: depth + 1]) for depth in range(len(parts)) if os.path.islink(os.path.join(root, *parts[: depth + 1]))), None)
        if link is not None:
            skipped.append({"path": path, "reason": f"{link} is a link"})
        else:
            paths.append(path)
    return paths, skipped


def _validated(module):
    paths, skipped = ([module.params["path"]], []) if module.params["path"] else _manifests(module.params["root"])
    jobs, problems = [], []
    for path in paths:
        data = _load(module, path)
        try:
            mf.check_single_version(data)
        except mf.ManifestError as exc:
            problems.append(f"{path}: {exc}")
        checks = mf.verify_clips(data, _digest_of(os.path.dirname(path)))
        broken = [c for c in checks if not c["intact"]]
        if broken and data["status"] != "quarantined":
            problems.append(f"{path}: clip {broken[0]['id']} {broken[0]['reason']}")
        jobs.append(
            {
                "path": path,
                "job_id": data["job_id"],
                "version": data["version"],
                "status": data["status"],
                "intact": len(checks) - len(broken),
                "broken": len(broken),
            }
        )
    if problems:
        module.fail_json(
            msg=f"clip_manifest: {len(problems)} manifest problem(s), first: {problems[0]}",
            problems=problems,
            jobs=jobs,
            skipped_links=skipped,
        )
    module.exit_json(changed=False, jobs=jobs, skipped_links=skipped)


def _resume(module):
    path = module.params["path"]
    data = _load(module, path)
    try:
        point = mf.resume_point(data, _digest_of(os.path.dirname(path)), module.params["running_version"])
    except mf.ManifestError as exc:
        module.fail_json(msg=f"clip_manifest: {exc}", manifest=path)
    module.exit_json(changed=False, next_clip=point["next_clip"], first_broken=point["first_broken"], clips=point["clips"])


def _quarantine(module):
    bad = module.params["bad_version"]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plans, already, unreadable_found = [], [], []
    root = module.params["root"]
    paths, skipped = _manifests(root)
    # Every manifest is read and every move checked before anything moves: a corrupt job (unless it is to be set aside)
    # or a planted link stops the run unchanged.
    for path in paths:
        data, problem = _read(path)
        if problem:
            if module.params["unreadable"] == "fail":
                module.fail_json(msg=f"clip_manifest: {problem}; nothing was moved", manifest=path)
            unreadable_found.append((path, problem))
            continue
        plan = mf.plan_quarantine(data, bad, module.params["quarantine_dir"], now)
        if plan is None:
            if data["status"] == "quarantined" and bad in mf.versions(data):
                already.append(data["job_id"])
            continue
        plan["manifest_path"] = path
        plan["before"] = _summary(data)
        _each_move(module, plan, job_files.check_move)
        plans.append(plan)
    try:
        unreadable = _plan_unreadable(root, unreadable_found)
    except (job_files.UnsafePath, OSError) as exc:
        module.fail_json(msg=f"clip_manifest: cannot set aside the unreadable jobs under {root}: {exc}; nothing was moved")
    done = []
    for plan in plans:
        if not module.check_mode:
            hows = _each_move(module, plan, job_files.move)
            plan["moves"] = [dict(move, how=hows[index]) for index, move in enumerate(plan["moves"])]
            write_json_atomically(plan["manifest_path"], plan["manifest"])
        done.append({"job_id": plan["job_id"], "manifest": plan["manifest_path"], "moves": plan["moves"]})
    if unreadable and not module.check_mode:
        try:
            _move_unreadable(root, unreadable, now)
        except (job_files.UnsafePath, OSError) as exc:
            module.fail_json(
                msg=f"clip_manifest: setting aside the unreadable jobs under {root} stopped: {exc}; the jobs before it were moved",
                quarantined=done,
            )
    result = {
        "changed": bool(done or unreadable),
        "quarantined": done,
        "unreadable_jobs": unreadable,
        "already_quarantined": already,
        "skipped_links": skipped,
    }
    if module._diff:
        result["diff"] = {
            "before": {plan["manifest_path"]: plan["before"] for plan in plans} | {job["from"]: "unreadable job" for job in unreadable},
            "after": {plan["manifest_path"]: _summary(plan["manifest"]) for plan in plans} | {job["to"]: "unreadable job" for job in unreadable},
        }
    module.exit_json(**result)


def _each_move(module, plan, operation):
    """Apply job_files.check_move or job_files.move to each planned move of one job; one line naming the job on refusal."""
    job_dir = os.path.dirname(plan["manifest_path"])
    results = []
    try:
        job_fd = job_files.open_job(job_dir)
        try:
            for move in plan["moves"]:
                results.append(operation(job_fd, move["from"], move["to"]))
        finally:
            os.close(job_fd)
    except (job_files.UnsafePath, OSError) as exc:
        moved = "nothing was moved" if operation is job_files.check_move else f"{len(results)} clip(s) of this job were moved, the rest stay"
        module.fail_json(msg=f"clip_manifest: job {plan['job_id']} ({plan['manifest_path']}): {exc}; {moved}", manifest=plan["manifest_path"])
    return results


def _summary(manifest):
    """What a quarantine changes in a manifest, for diff mode: its status and where its clips are."""
    return {"status": manifest["status"], "clips": [clip["path"] for clip in manifest["clips"]]}


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path"},
            "root": {"type": "path"},
            "state": {"type": "str", "choices": ["validated", "resume", "quarantined"], "default": "validated"},
            "running_version": {"type": "str"},
            "bad_version": {"type": "str"},
            "quarantine_dir": {"type": "str", "default": "quarantine"},
            "unreadable": {"type": "str", "choices": ["fail", "quarantine"], "default": "fail"},
        },
        required_one_of=[("path", "root")],
        mutually_exclusive=[("path", "root")],
        required_if=[("state", "resume", ("path",)), ("state", "quarantined", ("root", "bad_version"))],
        supports_check_mode=True,
    )
    if module.params["bad_version"] is not None and not is_release_version(module.params["bad_version"]):
        module.fail_json(msg=f"clip_manifest: bad_version {module.params['bad_version']!r} is not vMAJOR.MINOR[.PATCH]; nothing was moved")
    try:
        job_files.split_relative(module.params["quarantine_dir"])
    except job_files.UnsafePath:
        module.fail_json(msg=f"clip_manifest: quarantine_dir {module.params['quarantine_dir']!r} must be a relative path inside the job; nothing was moved")
    if module.params["root"] and not os.path.isdir(module.params["root"]):
        module.fail_json(msg=f"clip_manifest: root {module.params['root']} is not a directory")
    {"validated": _validated, "resume": _resume, "quarantined": _quarantine}[module.params["state"]](module)


if __name__ == "__main__":
    main()
