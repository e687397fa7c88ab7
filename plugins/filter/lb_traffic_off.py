# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: lb_traffic_off
short_description: The batch that takes traffic off a candidate without emptying the load balancer's pool
version_added: 0.2.0
description:
  - Every canary server, and the stable server of each node whose stable container already runs the candidate, to 0 (C(weights)).
  - Every other stable server back to O(serving_weight) if healthy (C(weights_if_healthy)), in the same liveavatar.rollout.haproxy_runtime call.
positional: _input
options:
  _input:
    description: Serving node names.
    type: list
    elements: str
    required: true
  candidate_stable_nodes:
    description: Nodes whose stable container already runs the candidate (a promotion half-way).
    type: list
    elements: str
    default: []
  serving_weight:
    description: Weight of a server that takes a full share.
    type: int
    default: 100
"""

EXAMPLES = r"""
- name: Take traffic off the candidate
  liveavatar.rollout.haproxy_runtime: "{{ groups['gpu_serving'] | liveavatar.rollout.lb_traffic_off }}"
  delegate_to: "{{ groups['lb'] | first }}"
"""

RETURN = r"""
_value:
  description: C(weights) and C(weights_if_healthy), the options of the same names of liveavatar.rollout.haproxy_runtime.
  type: dict
"""

from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import traffic_off_weights


class FilterModule:
    """The traffic-off batch."""

    def filters(self):
        return {"lb_traffic_off": traffic_off_weights}
