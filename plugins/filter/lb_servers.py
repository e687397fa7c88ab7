# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: lb_servers
short_description: HAProxy server entries (stable and canary) for a list of serving nodes
version_added: 0.1.0
description:
  - Turns a list of node names into C(haproxy_lb_servers) items, one stable and one canary server per node.
positional: _input
options:
  _input:
    description: Node names (inventory hostnames resolvable from the load balancer).
    type: list
    elements: str
    required: true
  stable_port:
    description: Port of the stable container.
    type: int
    default: 8000
  canary_port:
    description: Port of the candidate container.
    type: int
    default: 8001
  stable_weight:
    description: Initial weight of each stable server; canary servers start at 0.
    type: int
    default: 100
"""

EXAMPLES = r"""
- name: Build the backend servers of the serving fleet
  ansible.builtin.set_fact:
    haproxy_lb_servers: "{{ groups['gpu_serving'] | liveavatar.rollout.lb_servers }}"
"""

RETURN = r"""
_value:
  description: One dict per server with name, address, port and weight.
  type: list
  elements: dict
"""

from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import server_entries


class FilterModule:
    """Filters for the load balancer's configuration."""

    def filters(self):
        return {"lb_servers": server_entries}
