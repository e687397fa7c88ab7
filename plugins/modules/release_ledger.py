#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: release_ledger
short_description: The release ledger and the rollout lock, kept on a fleet host
version_added: 0.1.0
description:
  - Keeps the ledger (stable and previous stable version with digests, every release with its
    outcome and events, recorded baselines) as JSON on a host of the fleet, so that it survives the
    controller (AWX runs in throw-away containers). Writes are atomic (temp file, fsync, rename).
  - O(action=lock) takes the rollout lock with an exclusive create; a second concurrent run fails
    with the holder's run id and start time.
  - O(action=rollback) records a rollback, closes every open release as rolled_back and removes the rollout lock.
  - O(action=revoke) is a rollback's first step. It removes the rollout lock, whoever holds it, and marks every open
    release revoked, so that a live rollout stops at its next O(action=hold) check.
  - O(action=hold) changes nothing. It fails, with C(fenced=true), unless O(run_id) still holds the lock and its release is
    open and not revoked; a rollout runs it before each traffic step and each promotion.
  - A corrupt or empty lock never blocks a rollback (O(action=revoke) and O(action=rollback) remove it). O(action=lock)
    refuses it with the command that clears it.
  - Every read-modify-write of the ledger and the lock holds an exclusive C(flock) on C(.<ledger>.flock) beside the ledger.
    Two runs on the same host therefore never lose each other's update.
  - Reading the ledger and planning a rollback are in the read-only M(liveavatar.rollout.release_ledger_info).
extends_documentation_fragment:
  - liveavatar.rollout.ledger_files
options:
  action:
    description: What to do.
    type: str
    choices: [lock, unlock, hold, revoke, start, record, close, set_stable, set_baseline, rollback]
    required: true
  run_id:
    description: Identifier of this run (lock holder, release key; for O(action=revoke), the rollback's run).
    type: str
  version:
    description: Version (start, set_stable, set_baseline, rollback).
    type: str
  digest:
    description: Image digest (start, set_stable).
    type: str
  baseline:
    description: Baseline version of the release (start).
    type: str
  status:
    description: Outcome (close).
    type: str
    choices: [promoted, validated, aborted, rolled_back, failed]
  reason:
    description: One-line reason (close).
    type: str
    default: ""
  data:
    description:
      - Event (record), the release's first event, its plan (start), or metrics (set_baseline).
      - For O(action=rollback), C(bad_versions) (list).
    type: dict
attributes:
  check_mode:
    support: full
    description: Computes the new ledger and reports C(changed) without writing.
  diff_mode:
    support: full
    description: The ledger and the lock before and after the action.
  idempotent:
    support: full
    description: Repeating a transition with the same arguments changes nothing (except record, which appends).
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Take the rollout lock
  liveavatar.rollout.release_ledger:
    action: lock
    run_id: "{{ release.run_id }}"
  delegate_to: "{{ groups['registry'] | first }}"

- name: Close the release as promoted
  liveavatar.rollout.release_ledger:
    action: close
    run_id: "{{ release.run_id }}"
    status: promoted
"""

RETURN = r"""
ledger:
  description: The ledger after the action.
  returned: always
  type: dict
  sample: {"stable": {"version": "v1.1", "digest": "sha256:..."}, "previous_stable": null, "releases": [], "baselines": {}}
lock:
  description: The lock's holder (run_id, since), or null.
  returned: always
  type: dict
  sample: {"run_id": "20261126T001500-4242", "since": "2026-11-26T00:15:00Z"}
fenced:
  description: For O(action=hold), whether the run lost the lock or its release (the task then fails).
  returned: when O(action=hold)
  type: bool
  sample: false
"""

import contextlib
import copy
import datetime
import errno
import fcntl
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils import ledger as lg
from ansible_collections.liveavatar.rollout.plugins.module_utils.files import write_json_atomically


def _now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_json(module, path, default):
    try:
        return lg.read_json(path, default)
    except lg.LedgerError as exc:
        module.fail_json(msg=f"release_ledger: {exc}")


@contextlib.contextmanager
def _serialized(module, ledger_path, timeout=30):
    """An exclusive flock on .<ledger>.flock for one read-modify-write; none in check mode where the folder is absent."""
    directory = os.path.dirname(os.path.abspath(ledger_path))
    if module.check_mode and not os.path.isdir(directory):
        yield
        return
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd = os.open(os.path.join(directory, f".{os.path.basename(ledger_path)}.flock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    module.fail_json(msg=f"release_ledger: {ledger_path} stayed locked by another run for {timeout} s; retry, nothing was changed")
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def _unlink(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _lock(module, lock_path, run_id, problem):
    if problem:
        module.fail_json(
            msg=(
                f"release_ledger: the rollout lock is corrupt or empty ({problem}), so no run can tell whether a rollout is live; "
                "run playbooks/rollback.yml (it clears the lock) or remove the file, then retry; nothing was changed"
            )
        )
    holder = _read_json(module, lock_path, None)
    if holder is not None:
        if holder.get("run_id") == run_id:
            return holder, False
        module.fail_json(
            msg=f"release_ledger: a rollout is already in progress (run {holder.get('run_id')} since {holder.get('since')}); {lg.dead_holder_action(holder)}",
            lock=holder,
        )
    holder = {"run_id": run_id, "since": _now()}
    if module.check_mode:
        return holder, True
    os.makedirs(os.path.dirname(lock_path), mode=0o755, exist_ok=True)
    try:
        fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        module.fail_json(msg=f"release_ledger: a rollout took the lock {lock_path} at the same moment; retry later")
    with os.fdopen(fd, "w") as handle:
        json.dump(holder, handle)
    return holder, True


def main():
    module = AnsibleModule(
        argument_spec={
            **lg.FILES_ARGUMENT_SPEC,
            "action": {"type": "str", "required": True, "choices": list(ACTIONS)},
            "run_id": {"type": "str"},
            "version": {"type": "str"},
            "digest": {"type": "str"},
            "baseline": {"type": "str"},
            "status": {"type": "str", "choices": list(lg.CLOSED)},
            "reason": {"type": "str", "default": ""},
            "data": {"type": "dict"},
        },
        required_if=[
            ("action", "lock", ("run_id",)),
            ("action", "unlock", ("run_id",)),
            ("action", "hold", ("run_id",)),
            ("action", "revoke", ("run_id",)),
            ("action", "start", ("run_id", "version", "digest")),
            ("action", "record", ("run_id", "data")),
            ("action", "close", ("run_id", "status")),
            ("action", "set_stable", ("version", "digest")),
            ("action", "set_baseline", ("version", "data")),
            ("action", "rollback", ("version", "digest")),
        ],
        supports_check_mode=True,
    )
    with _serialized(module, module.params["path"]):
        result = _apply(module)
    module.exit_json(**result)


ACTIONS = ("lock", "unlock", "hold", "revoke", "start", "record", "close", "set_stable", "set_baseline", "rollback")


def _transition(module, current):
    p = module.params
    action = p["action"]
    try:
        if action == "start":
            return lg.start(current, p["run_id"], p["version"], p["digest"], _now(), p["baseline"], p["data"])
        if action == "record":
            return lg.record(current, p["run_id"], p["data"], _now())
        if action == "close":
            return lg.close(current, p["run_id"], p["status"], _now(), p["reason"])
        if action == "rollback":
            data = p["data"] or {}
            return lg.rollback(current, p["version"], p["digest"], data.get("bad_versions") or [], _now(), p["reason"], data.get("unsent_alerts"))
        if action == "revoke":
            return lg.revoke(current, p["run_id"], _now())
        if action == "set_stable":
            return lg.set_stable(current, p["version"], p["digest"])
        return lg.set_baseline(current, p["version"], p["data"])
    except lg.LedgerError as exc:
        module.fail_json(msg=f"release_ledger: {exc}")


def _apply(module):
    """One action under the flock; returns the result (the ledger and the lock after it)."""
    p = module.params
    action = p["action"]
    current = _read_json(module, p["path"], lg.empty())
    try:
        lg.validate(current)
    except lg.LedgerError as exc:
        module.fail_json(msg=f"release_ledger: {p['path']}: {exc}")
    holder, problem = lg.read_lock(p["lock_path"])
    before = copy.deepcopy({"ledger": current, "lock": holder})
    changed = False
    if action == "hold":
        reason = lg.fenced_reason(current, holder, p["run_id"]) if not problem else f"the rollout lock is corrupt or empty ({problem})"
        if reason:
            module.fail_json(msg=f"release_ledger: run {p['run_id']} is fenced: {reason}; this rollout stops without touching the fleet", fenced=True)
        return {"changed": False, "ledger": current, "lock": holder, "fenced": False}
    if action == "lock":
        holder, changed = _lock(module, p["lock_path"], p["run_id"], problem)
    elif action == "unlock":
        if holder is not None and holder.get("run_id") == p["run_id"]:
            changed = True
            if not module.check_mode:
                _unlink(p["lock_path"])
            holder = None
    else:
        new = _transition(module, current)
        changed = new != current
        if changed and not module.check_mode:
            write_json_atomically(p["path"], new)
        current = new
        # A rollback owns the fleet: any lock (a live rollout's, a dead one's, a corrupt one) goes.
        if action in ("rollback", "revoke") and (holder is not None or problem):
            changed = True
            if not module.check_mode:
                _unlink(p["lock_path"])
            holder = None
    result = {"changed": changed, "ledger": current, "lock": holder}
    if module._diff:
        result["diff"] = {"before": before, "after": {"ledger": current, "lock": holder}}
    return result


if __name__ == "__main__":
    main()
