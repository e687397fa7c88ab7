#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: stage_gate
short_description: Judge a stage's run of the service (CLI clips, boundary VRAM, web flow, multi-GPU script, per-GPU peak)
version_added: 0.2.0
description:
  - Decides the run gates of stages 1 and 2 from what the runs returned (exit code, the JSON summary on the last
    stdout line, the first C([ERROR]) line of stderr) and returns the verdict in the shape of every other gate.
  - O(gate=cli_clips) passes when the CLI run exited 0 and O(expected) clips are intact in its manifest
    (the result of M(liveavatar.rollout.clip_manifest) with C(state=validated)).
  - O(gate=boundary_vram) passes when the boundary run exited 0 and its C(gpu_peak_gb) is at most O(limit_gb).
  - O(gate=web_flow) passes when the web check exited 0 and printed C(passed=true).
  - O(gate=multi_gpu_script) passes when every run in O(runs) exited 0.
  - O(gate=gpu_memory_peak) passes when every GPU's peak in O(candidate_mib) is at most O(limit_mib).
  - O(gate=critical_alerts) passes when no alert in O(alerts) is firing with severity C(critical).
options:
  gate:
    description: The gate to decide.
    type: str
    required: true
    choices: [cli_clips, boundary_vram, web_flow, multi_gpu_script, gpu_memory_peak, critical_alerts]
  run:
    description: A registered command result with C(rc), C(stdout) and C(stderr) (cli_clips, boundary_vram, web_flow).
    type: dict
  manifest:
    description: The registered result of M(liveavatar.rollout.clip_manifest) for the CLI run's job (cli_clips).
    type: dict
  expected:
    description: Clips the CLI run must have written (cli_clips).
    type: int
    default: 10
  limit_gb:
    description: Highest acceptable GPU-memory peak of the boundary run in GB (boundary_vram).
    type: float
  runs:
    description: The multi-GPU script's runs, each C(role), C(version), C(rc) and C(stderr) (multi_gpu_script).
    type: list
    elements: dict
  candidate_mib:
    description: The candidate's peak memory per GPU in MiB (gpu_memory_peak).
    type: list
    elements: float
  baseline_mib:
    description: The baseline's peak memory per GPU in MiB, for the report (gpu_memory_peak).
    type: list
    elements: float
  limit_mib:
    description: Memory of one GPU in MiB (gpu_memory_peak).
    type: float
  alerts:
    description: Prometheus C(/api/v1/alerts) items, or their label dicts alone, taken as firing (critical_alerts).
    type: list
    elements: dict
extends_documentation_fragment:
  - liveavatar.rollout.gate
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Boundary run 704x384, 30 s of video
  ansible.builtin.command:
    argv: [docker, run, --rm, "{{ image }}", python3, -m, liveavatar_sim, --size, "704*384", --num_clip, "10"]
  register: boundary
  changed_when: true
  failed_when: false

- name: Judge the boundary run's GPU-memory peak
  liveavatar.rollout.stage_gate:
    gate: boundary_vram
    run: "{{ boundary }}"
    limit_gb: 72
  register: boundary_gate
"""

RETURN = r"""
passed:
  description: The verdict.
  returned: always
  type: bool
  sample: false
reason:
  description: One line an operator can act on.
  returned: always
  type: str
  sample: "boundary run exited 1: [ERROR] CUDA out of memory. Tried to allocate 2.00 GiB"
value:
  description: The measured value (clips intact, peak GB, seconds of the web flow, exit codes, per-GPU peaks).
  returned: always
  type: raw
  sample: 68.4
limit:
  description: The limit the value was judged against, or null.
  returned: always
  type: raw
  sample: 72.0
baseline:
  description: The baseline's value where the gate has one, or null.
  returned: always
  type: raw
  sample: null
checks:
  description: Each check the verdict is made of.
  returned: always
  type: list
  elements: dict
  sample: [{"check": "exit code", "passed": true, "detail": "rc 0"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.stage_gates import GATES, StageGateError, judge


def main():
    module = AnsibleModule(
        argument_spec={
            "gate": {"type": "str", "required": True, "choices": list(GATES)},
            "run": {"type": "dict"},
            "manifest": {"type": "dict"},
            "expected": {"type": "int", "default": 10},
            "limit_gb": {"type": "float"},
            "runs": {"type": "list", "elements": "dict"},
            "candidate_mib": {"type": "list", "elements": "float"},
            "baseline_mib": {"type": "list", "elements": "float"},
            "limit_mib": {"type": "float"},
            "alerts": {"type": "list", "elements": "dict"},
        },
        required_if=[
            ("gate", "cli_clips", ("run", "manifest")),
            ("gate", "boundary_vram", ("run", "limit_gb")),
            ("gate", "web_flow", ("run",)),
            ("gate", "multi_gpu_script", ("runs",)),
            ("gate", "gpu_memory_peak", ("candidate_mib", "limit_mib")),
            ("gate", "critical_alerts", ("alerts",)),
        ],
        supports_check_mode=True,
    )
    inputs = {k: v for k, v in module.params.items() if k != "gate"}
    try:
        result = judge(module.params["gate"], **inputs)
    except StageGateError as exc:
        module.fail_json(msg=f"stage_gate {module.params['gate']}: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
