# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: lb_serving_weights
short_description: The weights of the nodes' servers that take traffic now (healthy, weight above 0)
version_added: 0.3.0
description:
  - From the O(_input) state that liveavatar.rollout.haproxy_runtime returns, the servers of O(nodes) that a drain takes
    out of rotation and its restore puts back. A server that is down or already at weight 0 is left out.
positional: _input, nodes
options:
  _input:
    description: The RV(liveavatar.rollout.haproxy_runtime#module:state) of the backend.
    type: dict
    required: true
  nodes:
    description: Node names whose stable and canary servers are looked at.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Drain the node's serving servers
  liveavatar.rollout.haproxy_runtime:
    drain: "{{ __lb.state | liveavatar.rollout.lb_serving_weights([inventory_hostname]) | list }}"
  delegate_to: "{{ groups['lb'] | first }}"
"""

RETURN = r"""
_value:
  description: Weight per server.
  type: dict
"""

from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import serving_weights


class FilterModule:
    """The servers a drain takes out."""

    def filters(self):
        return {"lb_serving_weights": serving_weights}
