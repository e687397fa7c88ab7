#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_inputs
short_description: Check and normalise a rollout's extra vars before anything changes
version_added: 0.2.0
description:
  - Takes the extra vars of C(playbooks/rollout.yml) as given (strings, numbers or lists) and returns them normalised,
    or fails with one line naming the input and ending C(nothing was changed).
  - O(version) is vMAJOR.MINOR[.PATCH] matched in full on ASCII digits, without leading zeros, at most 32 characters
    (a final newline or a non-ASCII digit is refused).
  - O(steps) are ASCII integers in 1-100, strictly increasing, and the last is 100 (it promotes).
  - O(tolerances) may only set C(tolerance_pct) of a known benchmark metric, within O(ceiling_pct) for the metric's
    direction; a direction, C(optional) or an unknown metric is refused.
extends_documentation_fragment:
  - liveavatar.rollout.read_only
options:
  version:
    description: The version to release.
    type: raw
  stages:
    description: Stages to run, a list or a comma-separated string; default all three.
    type: raw
  steps:
    description: Traffic steps in percent, a list or a comma-separated string; default 5, 25, 50, 100.
    type: raw
  bake_time:
    description: Seconds each traffic step bakes, 0-3600; default 20.
    type: raw
  manual_promotion:
    description: Wait for an operator (or an AWX approval node) before promotion; default false.
    type: raw
  tolerances:
    description: Benchmark tolerances per metric, a mapping of metric name to a mapping with C(tolerance_pct) only.
    type: raw
  ceiling_pct:
    description:
      - The inventory's highest C(tolerance_pct) per direction (C(lower_is_better), C(higher_is_better)).
      - Defaults 100 and 20; a higher-is-better ceiling is at most 99.
    type: dict
    default: {}
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Check the extra vars
  liveavatar.rollout.rollout_inputs:
    version: "{{ version | default(omit) }}"
    steps: "{{ steps | default(omit) }}"
    tolerances: "{{ tolerances | default(omit) }}"
    ceiling_pct: "{{ rollout_tolerance_ceiling_pct | default({}) }}"
  register: rollout_inputs_checked
"""

RETURN = r"""
inputs:
  description: The normalised inputs.
  returned: success
  type: dict
  sample: {"version": "v1.1", "stages": [1, 2, 3], "steps": [5, 25, 50, 100], "bake_time": 20, "manual_promotion": false,
           "tolerances": {"clip_time_s": {"tolerance_pct": 15.0}}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.rollout_inputs import InputError, normalize

RAW_INPUTS = ("version", "stages", "steps", "bake_time", "manual_promotion", "tolerances")


def main():
    module = AnsibleModule(
        argument_spec=dict({name: {"type": "raw"} for name in RAW_INPUTS}, ceiling_pct={"type": "dict", "default": {}}),
        supports_check_mode=True,
    )
    try:
        inputs = normalize({name: module.params[name] for name in RAW_INPUTS}, module.params["ceiling_pct"])
    except InputError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, inputs=inputs)


if __name__ == "__main__":
    main()
