#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: release_ledger_info
short_description: Read the release ledger and the rollout lock, and plan a rollback, without changing either
version_added: 0.2.0
description:
  - Reads the ledger that M(liveavatar.rollout.release_ledger) keeps on a fleet host (stable and previous stable
    version with digests, every release with its outcome and events) and the rollout lock's holder.
  - With O(plan_rollback=true), also picks a rollback's target. A release in progress (or candidate containers running)
    goes back to stable, otherwise to the previous stable version, or to O(to_version) when given. The versions rolled
    back and the open runs come with it.
  - A corrupt ledger fails the task with one line naming the file; a corrupt or empty lock is reported in
    RV(lock_problem) and reads as no lock. Nothing is written, ever.
extends_documentation_fragment:
  - liveavatar.rollout.read_only
  - liveavatar.rollout.ledger_files
options:
  plan_rollback:
    description: Also plan a rollback (RV(plan)).
    type: bool
    default: false
  to_version:
    description: The operator's rollback target; empty picks the default target.
    type: str
  candidate_versions:
    description: Versions found in canary and stage containers (they count as a release in progress).
    type: list
    elements: str
    default: []
  running_versions:
    description:
      - The version label of every service container; each version other than the target is rolled back.
      - A label that is not vMAJOR.MINOR[.PATCH] (missing, C(..)) never becomes a version (versions build paths) and is
        listed in the plan's C(unrecognised_labels).
    type: list
    elements: str
    default: []
  require_validated:
    description:
      - Fail unless the ledger has a release of this C(version) and C(digest) closed as validated by stages 1 and 2.
      - C(carried_digest), what the validating run handed on (AWX C(set_stats)), must equal C(digest) when given.
      - Stage 3 run alone uses it, so that it never releases an image that stages 1-2 did not validate.
    type: dict
  require_baseline_for:
    description:
      - Fail with one line unless the ledger has a stable version other than this one (the rollout's baseline).
    type: str
  run_id:
    description: Also return this run's release (RV(release)) and the report built from it alone (RV(report)).
    type: str
  candidate_running:
    description: Whether a candidate container runs whose version is not known.
    type: bool
    default: false
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Read the ledger
  liveavatar.rollout.release_ledger_info:
  register: ledger_state
  delegate_to: "{{ groups['registry'] | first }}"

- name: Plan the rollback
  liveavatar.rollout.release_ledger_info:
    plan_rollback: true
    to_version: "{{ to_version | default(omit) }}"
    candidate_versions: [v1.2]
  register: rollback_plan
  delegate_to: "{{ groups['registry'] | first }}"
"""

RETURN = r"""
ledger:
  description: The ledger.
  returned: always
  type: dict
  sample: {"stable": {"version": "v1.1", "digest": "sha256:..."}, "previous_stable": null, "releases": [], "baselines": {}}
lock:
  description: The lock's holder (run_id, since), or null.
  returned: always
  type: dict
  sample: {"run_id": "20261126T001500-4242", "since": "2026-11-26T00:15:00Z"}
lock_problem:
  description: Why the lock file is not a holder (empty, corrupt), or null; the lock then reads as null.
  returned: always
  type: str
  sample: null
release:
  description: The release of O(run_id) as the ledger holds it (plan, gates, traffic steps, timings, events, outcome).
  returned: when O(run_id) is given
  type: dict
  sample: {"run_id": "20261202T101500-4242", "version": "v1.1", "status": "promoted", "events": []}
report:
  description: The report of O(run_id), built from its release alone (gates, traffic steps, timings, benchmark, outcome).
  returned: when O(run_id) is given
  type: dict
  sample: {"version": "v1.1", "outcome": "promoted", "gates": [], "traffic_steps": [], "timings": {"stage1_s": 60.2}}
validated_by:
  description: The run that validated the image in stages 1 and 2 (with O(require_validated)).
  returned: when O(require_validated) is given
  type: str
  sample: 20261202T101500-4242
plan:
  description: Target version and digest, the versions rolled back, the open runs and the container labels that are not versions.
  returned: when plan_rollback is true
  type: dict
  sample: {"target": {"version": "v1.0", "digest": "sha256:..."}, "bad_versions": ["v1.1"], "open_runs": [], "unrecognised_labels": ["''"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils import ledger as lg
from ansible_collections.liveavatar.rollout.plugins.module_utils import release_report


def main():
    module = AnsibleModule(
        argument_spec={
            **lg.FILES_ARGUMENT_SPEC,
            "plan_rollback": {"type": "bool", "default": False},
            "to_version": {"type": "str"},
            "candidate_versions": {"type": "list", "elements": "str", "default": []},
            "running_versions": {"type": "list", "elements": "str", "default": []},
            "candidate_running": {"type": "bool", "default": False},
            "require_validated": {"type": "dict"},
            "require_baseline_for": {"type": "str"},
            "run_id": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        current = lg.validate(lg.read_json(p["path"], lg.empty()))
    except lg.LedgerError as exc:
        module.fail_json(msg=f"release_ledger_info: {exc}")
    # A corrupt or empty lock is reported, never fatal here: it must not block a rollback.
    holder, problem = lg.read_lock(p["lock_path"])
    result = {"changed": False, "ledger": current, "lock": holder, "lock_problem": problem}
    if p["require_baseline_for"]:
        try:
            lg.require_baseline(current, p["require_baseline_for"])
        except lg.LedgerError as exc:
            module.fail_json(msg=f"rollout: {exc}; nothing was changed")
    if p["run_id"]:
        try:
            result["release"] = lg.find(current, p["run_id"])
        except lg.LedgerError as exc:
            module.fail_json(msg=f"release_ledger_info: {exc}")
        result["report"] = release_report.build(result["release"])
    check = p["require_validated"]
    if check:
        try:
            result["validated_by"] = lg.require_validated(current, check.get("version"), check.get("digest"), check.get("carried_digest"))["run_id"]
        except lg.LedgerError as exc:
            module.fail_json(msg=f"rollout: {exc}; nothing was changed")
    if p["plan_rollback"]:
        try:
            result["plan"] = lg.plan_rollback(current, p["to_version"] or None, p["candidate_running"], p["candidate_versions"], p["running_versions"])
        except lg.LedgerError as exc:
            module.fail_json(msg=f"rollback: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
