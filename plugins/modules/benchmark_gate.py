#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: benchmark_gate
short_description: Compare a candidate's benchmark metrics with a recorded baseline
version_added: 0.1.0
description:
  - Compares each metric with the baseline version's record under a relative tolerance and a
    direction. Defaults are the release policy's - single-clip time at most +10%, VRAM peak at
    most +3%, NCCL latency at most +50%, PSNR at least -2%.
  - A metric missing on either side fails the gate unless its tolerance marks it C(optional).
options:
  baseline:
    description:
      - The baseline record, C({version, metrics, recorded_at, source}). Mutually exclusive with O(baseline_file).
    type: dict
  baseline_file:
    description: Path on the controller of a YAML or JSON baseline record.
    type: path
  candidate:
    description: Candidate metrics, name to number.
    type: dict
    required: true
  tolerances:
    description:
      - "Per-metric overrides merged over the defaults, C({metric: {direction, tolerance_pct, optional}})."
      - Each direction is C(lower_is_better) or C(higher_is_better).
    type: dict
    default: {}
extends_documentation_fragment:
  - liveavatar.rollout.gate
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Gate the candidate on the baseline's benchmark
  liveavatar.rollout.benchmark_gate:
    baseline_file: "{{ ledger_dir }}/baselines/v1.0.json"
    candidate:
      clip_time_s: "{{ stage2_clip_time_s }}"
      vram_peak_gb: "{{ stage2_vram_peak_gb }}"
      nccl_latency_us: "{{ stage2_nccl_latency_us }}"
      psnr_db: "{{ stage2_psnr_db }}"
  delegate_to: localhost
  register: benchmark

- name: Stop the release when the benchmark regressed
  ansible.builtin.fail:
    msg: "{{ benchmark.reason }}"
  when: not benchmark.passed
"""

RETURN = r"""
passed:
  description: Whether every non-optional metric is within its tolerance.
  returned: always
  type: bool
  sample: false
reason:
  description: One line naming the metrics that failed, with values and limits.
  returned: always
  type: str
  sample: "benchmark gate failed: clip_time_s 5.2 vs baseline 4.1 (+26.83%, limit +10% = 4.51)"
checks:
  description: One row per metric - metric, direction, tolerance_pct, baseline, candidate, limit, delta_pct, verdict, reason.
  returned: always
  type: list
  elements: dict
  sample: [{"metric": "clip_time_s", "baseline": 4.1, "candidate": 5.2, "limit": 4.51, "delta_pct": 26.83, "verdict": "fail"}]
table:
  description: The rows as a Markdown table for reports.
  returned: always
  type: str
  sample: "| metric | baseline | candidate | limit | delta % | verdict |"
baseline_version:
  description: Version the baseline was recorded for.
  returned: always
  type: str
  sample: v1.0
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.benchmark import (
    BenchmarkError,
    compare,
    normalize_tolerances,
    table,
    validate_baseline,
)


def _load_baseline(module):
    if module.params["baseline"] is not None:
        return module.params["baseline"]
    path = module.params["baseline_file"]
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        module.fail_json(msg=f"benchmark_gate: cannot read baseline file: {exc.strerror} ({path})")
    try:
        import yaml

        return yaml.safe_load(text)
    except ImportError:
        return json.loads(text)
    except Exception as exc:  # yaml.YAMLError and friends
        module.fail_json(msg=f"benchmark_gate: baseline file is not valid YAML/JSON: {exc} ({path})")


def main():
    module = AnsibleModule(
        argument_spec={
            "baseline": {"type": "dict"},
            "baseline_file": {"type": "path"},
            "candidate": {"type": "dict", "required": True},
            "tolerances": {"type": "dict", "default": {}},
        },
        mutually_exclusive=[("baseline", "baseline_file")],
        required_one_of=[("baseline", "baseline_file")],
        supports_check_mode=True,
    )
    record = _load_baseline(module)
    try:
        baseline = validate_baseline(record)
        tolerances = normalize_tolerances(module.params["tolerances"])
    except BenchmarkError as exc:
        module.fail_json(msg=f"benchmark_gate: {exc}")
    result = compare(baseline, module.params["candidate"], tolerances)
    module.exit_json(changed=False, table=table(result["checks"]), baseline_version=record["version"], **result)


if __name__ == "__main__":
    main()
