# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: lb_traffic_share
short_description: Requests per server between two liveavatar.rollout.haproxy_runtime states, and the canary's share
version_added: 0.2.0
description:
  - Subtracts each server's C(stot) in the state before from the state after.
positional: _input
options:
  _input:
    description: The RV(liveavatar.rollout.haproxy_runtime#module:state) read before.
    type: dict
    required: true
  after:
    description: The state read after.
    type: dict
    required: true
  suffix:
    description: Name suffix of the servers whose share is returned.
    type: str
    default: -canary
"""

EXAMPLES = r"""
- name: Count the step's requests
  ansible.builtin.debug:
    msg: "{{ (before.state | liveavatar.rollout.lb_traffic_share(after.state)).share_pct }}"
"""

RETURN = r"""
_value:
  description: C(requests) (total), C(per_server) and C(share_pct) (null without requests).
  type: dict
"""

from ansible_collections.liveavatar.rollout.plugins.module_utils.haproxy_runtime import traffic_share


class FilterModule:
    """Traffic share between two states."""

    def filters(self):
        return {"lb_traffic_share": traffic_share}
