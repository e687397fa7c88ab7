# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: lb_switch_weights
short_description: A rollback's switch, each node's canary server (the target) to full weight and its stable server to 0
version_added: 0.2.0
description:
  - One batch for liveavatar.rollout.haproxy_runtime that moves the nodes' traffic from their stable server to their canary server.
positional: _input
options:
  _input:
    description: Node names to switch.
    type: list
    elements: str
    required: true
  serving_weight:
    description: Weight of a server that takes a full share.
    type: int
    default: 100
"""

EXAMPLES = r"""
- name: Move the bad version's traffic to the targets
  liveavatar.rollout.haproxy_runtime:
    weights: "{{ ['gpu-node-3'] | liveavatar.rollout.lb_switch_weights }}"
  delegate_to: "{{ groups['lb'] | first }}"
"""

RETURN = r"""
_value:
  description: Weight per server.
  type: dict
"""

from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import switch_weights


class FilterModule:
    """The rollback switch."""

    def filters(self):
        return {"lb_switch_weights": switch_weights}
