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
  - Reading the ledger and planning a rollback are in the read-only M(liveavatar.rollout.release_ledger_info).
extends_documentation_fragment:
  - liveavatar.rollout.ledger_files
options:
  action:
    description: What to do.
    type: str
    choices: [lock, unlock, start, record, close, set_stable, set_baseline, rollback]
    required: true
  run_id:
    description: Identifier of this run (lock holder, release key).
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
      - Event (record) or metrics (set_baseline).
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
    run_id: "{{ rollout_run_id }}"
  delegate_to: "{{ groups['registry'] | first }}"

- name: Close the release as promoted
  liveavatar.rollout.release_ledger:
    action: close
    run_id: "{{ rollout_run_id }}"
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
"""

import copy
import datetime
import json
import os

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


def _lock(module, lock_path, run_id):
    holder = _read_json(module, lock_path, None)
    if holder is not None:
        if holder.get("run_id") == run_id:
            return holder, False
        module.fail_json(
            msg=f"release_ledger: a rollout is already in progress (run {holder.get('run_id')} since {holder.get('since')}); if it is dead, remove {lock_path}",
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
            "action": {"type": "str", "required": True, "choices": ["lock", "unlock", "start", "record", "close", "set_stable", "set_baseline", "rollback"]},
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
            ("action", "start", ("run_id", "version", "digest")),
            ("action", "record", ("run_id", "data")),
            ("action", "close", ("run_id", "status")),
            ("action", "set_stable", ("version", "digest")),
            ("action", "set_baseline", ("version", "data")),
            ("action", "rollback", ("version", "digest")),
        ],
        supports_check_mode=True,
    )
    p = module.params
    action = p["action"]
    current = _read_json(module, p["path"], lg.empty())
    try:
        lg.validate(current)
    except lg.LedgerError as exc:
        module.fail_json(msg=f"release_ledger: {p['path']}: {exc}")
    holder = _read_json(module, p["lock_path"], None)
    before = copy.deepcopy({"ledger": current, "lock": holder})
    changed = False
    if action == "lock":
        holder, changed = _lock(module, p["lock_path"], p["run_id"])
    elif action == "unlock":
        if holder is not None and holder.get("run_id") == p["run_id"]:
            changed = True
            if not module.check_mode:
                os.unlink(p["lock_path"])
            holder = None
    else:
        try:
            if action == "start":
                new = lg.start(current, p["run_id"], p["version"], p["digest"], _now(), p["baseline"])
            elif action == "record":
                new = lg.record(current, p["run_id"], p["data"], _now())
            elif action == "close":
                new = lg.close(current, p["run_id"], p["status"], _now(), p["reason"])
            elif action == "rollback":
                bad = (p["data"] or {}).get("bad_versions") or []
                new = lg.rollback(current, p["version"], p["digest"], bad, _now(), p["reason"])
            elif action == "set_stable":
                new = lg.set_stable(current, p["version"], p["digest"])
            else:
                new = lg.set_baseline(current, p["version"], p["data"])
        except lg.LedgerError as exc:
            module.fail_json(msg=f"release_ledger: {exc}")
        changed = new != current
        if changed and not module.check_mode:
            write_json_atomically(p["path"], new)
        current = new
        if action == "rollback" and holder is not None:
            # Every open release is closed now: a lock left by a dead or aborted rollout is stale.
            changed = True
            if not module.check_mode:
                os.unlink(p["lock_path"])
            holder = None
    result = {"changed": changed, "ledger": current, "lock": holder}
    if module._diff:
        result["diff"] = {"before": before, "after": {"ledger": current, "lock": holder}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
