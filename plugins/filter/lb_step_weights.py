# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: lb_step_weights
short_description: Weights of one traffic step for liveavatar.rollout.haproxy_runtime
version_added: 0.2.0
description:
  - Every canary server of the nodes at weight O(canary_weight), every stable server at O(serving_weight) minus it.
positional: _input
options:
  _input:
    description: Serving node names.
    type: list
    elements: str
    required: true
  canary_weight:
    description: The canary's weight (its share in percent when O(serving_weight=100)).
    type: int
    required: true
  serving_weight:
    description: Weight of a server that takes a full share.
    type: int
    default: 100
"""

EXAMPLES = r"""
- name: Set the 25 % step
  liveavatar.rollout.haproxy_runtime:
    weights: "{{ groups['gpu_serving'] | liveavatar.rollout.lb_step_weights(25) }}"
  delegate_to: "{{ groups['lb'] | first }}"
"""

RETURN = r"""
_value:
  description: Weight per server.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import step_weights


def _step_weights(nodes, canary_weight, serving_weight=100):
    try:
        return step_weights(nodes, canary_weight, serving_weight)
    except ValueError as exc:
        raise AnsibleFilterError(f"lb_step_weights: {exc}") from exc


class FilterModule:
    """Weights of a traffic step."""

    def filters(self):
        return {"lb_step_weights": _step_weights}
