#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: canary_judge
short_description: Automated canary analysis of canary vs baseline time series (Mann-Whitney U)
version_added: 0.1.0
description:
  - For each metric, compares canary and baseline samples with a two-sided Mann-Whitney U test and
    a Hodges-Lehmann estimate of the shift with its confidence interval. A metric fails when the
    shift is significant, lies wholly in the bad direction, and exceeds its allowed size.
  - The score is the weighted share of passing metrics. A failing critical metric, or any firing
    alert of severity critical, fails the analysis whatever the score.
  - NaN strategy - NaN, None and infinite points are removed; a metric left with fewer than
    O(min_samples) points on a side is NODATA, scores nothing, and fails the analysis if critical.
  - Samples are given inline or fetched by the module from Prometheus (C(/api/v1/query_range)).
options:
  metrics:
    description: Metrics to judge.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Metric name used in the reason.
        type: str
        required: true
      canary:
        description: Canary samples (omit to fetch O(metrics[].canary_query)).
        type: list
        elements: raw
      baseline:
        description: Baseline samples (omit to fetch O(metrics[].baseline_query)).
        type: list
        elements: raw
      canary_query:
        description: PromQL for the canary series.
        type: str
      baseline_query:
        description: PromQL for the baseline series.
        type: str
      direction:
        description: Which change is bad.
        type: str
        choices: [increase, decrease, both]
        default: increase
      critical:
        description: A failure of this metric fails the analysis.
        type: bool
        default: false
      weight:
        description: Weight in the score.
        type: float
        default: 1.0
      tolerance_pct:
        description: Allowed shift in percent of the baseline median.
        type: float
        default: 5.0
      tolerance_abs:
        description: Allowed absolute shift (for metrics whose baseline is near 0, such as error rates).
        type: float
        default: 0.0
      confidence:
        description: Confidence level of the test and the interval.
        type: float
        default: 0.95
  prometheus_url:
    description: Base URL of Prometheus for the queries.
    type: str
  start:
    description: Start of the window (RFC 3339 or Unix seconds).
    type: str
  end:
    description: End of the window (RFC 3339 or Unix seconds).
    type: str
  step:
    description: Query resolution step.
    type: str
    default: 5s
  firing_alerts:
    description: Alerts firing during the window (Prometheus C(/api/v1/alerts) items); a critical one fails the analysis.
    type: list
    elements: dict
    default: []
  pass_threshold:
    description: Minimum score for C(pass).
    type: float
    default: 95.0
  marginal_threshold:
    description: Minimum score for C(marginal); lower scores fail.
    type: float
    default: 75.0
  min_samples:
    description: Points needed on each side after NaN removal.
    type: int
    default: 3
  timeout:
    description: HTTP timeout in seconds for each Prometheus query.
    type: int
    default: 10
extends_documentation_fragment:
  - liveavatar.rollout.gate
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Judge the canary at this traffic step
  liveavatar.rollout.canary_judge:
    prometheus_url: http://127.0.0.1:19090
    start: "{{ step_started }}"
    end: "{{ step_ended }}"
    metrics:
      - name: p95 latency
        canary_query: histogram_quantile(0.95, sum by (le) (rate(inference_duration_seconds_bucket{track="canary"}[30s])))
        baseline_query: histogram_quantile(0.95, sum by (le) (rate(inference_duration_seconds_bucket{track="stable"}[30s])))
        critical: true
      - name: error rate
        canary_query: sum(rate(inference_errors_total{track="canary"}[30s]))
        baseline_query: sum(rate(inference_errors_total{track="stable"}[30s]))
        tolerance_abs: 0.01
  delegate_to: localhost
  register: judgement
"""

RETURN = r"""
verdict:
  description: pass, marginal or fail.
  returned: always
  type: str
  sample: fail
passed:
  description: True only for the pass verdict.
  returned: always
  type: bool
  sample: false
score:
  description: Weighted percentage of passing metrics.
  returned: always
  type: float
  sample: 50.0
reason:
  description: One line naming the deciding metric or alert.
  returned: always
  type: str
  sample: "critical metric p95 latency: regressed (canary median 2.1 vs baseline 1.2, ...)"
checks:
  description: Per metric - classification (pass/fail/nodata), p_value, shift, shift_ci, medians, the cleaned samples, reason.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "p95 latency", "classification": "fail", "p_value": 0.0001, "shift": 0.9}]
"""

import json
from urllib.parse import urlencode

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.urls import open_url

from ansible_collections.liveavatar.rollout.plugins.module_utils import canary
from ansible_collections.liveavatar.rollout.plugins.module_utils.stage_gates import firing_critical


def _fetch(module, query):
    params = {
        "query": query,
        "start": module.params["start"],
        "end": module.params["end"],
        "step": module.params["step"],
    }
    url = module.params["prometheus_url"].rstrip("/") + "/api/v1/query_range?" + urlencode(params)
    try:
        response = open_url(url, timeout=module.params["timeout"])
        payload = json.loads(response.read())
    except Exception as exc:  # urllib and JSON errors alike: one line for the operator
        module.fail_json(msg=f"canary_judge: Prometheus query failed: {exc} ({query})")
    try:
        return canary.series_from_query_range(payload)
    except canary.CanaryError as exc:
        module.fail_json(msg=f"canary_judge: {exc} ({query})")


def main():
    metric_spec = {
        "name": {"type": "str", "required": True},
        "canary": {"type": "list", "elements": "raw"},
        "baseline": {"type": "list", "elements": "raw"},
        "canary_query": {"type": "str"},
        "baseline_query": {"type": "str"},
        "direction": {"type": "str", "choices": ["increase", "decrease", "both"], "default": "increase"},
        "critical": {"type": "bool", "default": False},
        "weight": {"type": "float", "default": 1.0},
        "tolerance_pct": {"type": "float", "default": 5.0},
        "tolerance_abs": {"type": "float", "default": 0.0},
        "confidence": {"type": "float", "default": 0.95},
    }
    module = AnsibleModule(
        argument_spec={
            "metrics": {"type": "list", "elements": "dict", "required": True, "options": metric_spec},
            "prometheus_url": {"type": "str"},
            "start": {"type": "str"},
            "end": {"type": "str"},
            "step": {"type": "str", "default": "5s"},
            "firing_alerts": {"type": "list", "elements": "dict", "default": []},
            "pass_threshold": {"type": "float", "default": 95.0, "no_log": False},
            "marginal_threshold": {"type": "float", "default": 75.0},
            "min_samples": {"type": "int", "default": 3},
            "timeout": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    if not canary.HAS_SCIPY:
        module.fail_json(msg=missing_required_lib("scipy"), exception=str(canary.SCIPY_IMPORT_ERROR))
    metrics = []
    for spec in module.params["metrics"]:
        spec = dict(spec)
        for side in ("canary", "baseline"):
            if spec[side] is None:
                query = spec[side + "_query"]
                if not query:
                    module.fail_json(msg=f"canary_judge: metric {spec['name']} has neither {side} samples nor {side}_query")
                if not (module.params["prometheus_url"] and module.params["start"] and module.params["end"]):
                    module.fail_json(msg=f"canary_judge: metric {spec['name']} needs prometheus_url, start and end to run {side}_query")
                spec[side] = _fetch(module, query)
        metrics.append(spec)
    try:
        result = canary.judge(metrics, module.params["pass_threshold"], module.params["marginal_threshold"], module.params["min_samples"])
    except canary.CanaryError as exc:
        module.fail_json(msg=f"canary_judge: {exc}")
    critical_alerts = firing_critical(module.params["firing_alerts"])
    if critical_alerts:
        names = ", ".join(sorted({a.get("alertname", "?") for a in critical_alerts}))
        result.update(verdict="fail", passed=False, reason=f"critical alert firing: {names}; " + result["reason"])
    result["firing_alerts"] = module.params["firing_alerts"]
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
