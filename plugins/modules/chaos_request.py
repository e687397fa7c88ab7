#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_request
short_description: Check a fault request of playbooks/chaos.yml before anything is injected
version_added: 0.3.0
description:
  - Refuses in one line ending C(nothing was injected) an unknown fault, a target that is not a host of the inventory,
    a host outside the lab without O(confirm) naming it, and any fault while the rollout lock has a holder.
  - Returns the host to inject on (O(target), or the first host of the fault's group) and what the fault does.
extends_documentation_fragment:
  - liveavatar.rollout.read_only
options:
  fault:
    description: The fault's name.
    type: str
    required: true
  target:
    description: The host to inject it on; omitted for the first host of the fault's group in O(groups).
    type: str
  stable:
    description: The ledger's stable version and digest (M(liveavatar.rollout.release_ledger_info)'s C(ledger.stable)); network faults need it.
    type: dict
  groups:
    description: The inventory's groups (C(groups)), for the default target.
    type: dict
    default: {}
  inventory_hosts:
    description: Every host of the inventory.
    type: list
    elements: str
    required: true
  lab_hosts:
    description: The lab's hosts (the C(lab) group); any other host needs O(confirm).
    type: list
    elements: str
    default: []
  confirm:
    description: The target's name again, the operator's consent to a fault on a host outside the lab.
    type: str
  lock_holder:
    description: The rollout lock's holder as M(liveavatar.rollout.release_ledger_info) returns it, or null.
    type: dict
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Check the fault request
  liveavatar.rollout.chaos_request:
    fault: "{{ fault }}"
    target: "{{ target | default(omit) }}"
    inventory_hosts: "{{ groups['all'] }}"
    lab_hosts: "{{ groups['lab'] | default([]) }}"
    confirm: "{{ chaos_confirm | default(omit) }}"
    lock_holder: "{{ ledger_info.lock }}"
    groups: "{{ groups }}"
"""

RETURN = r"""
fault:
  description: The fault.
  returned: success
  type: str
  sample: lb_reload
target:
  description: The host the fault goes to.
  returned: success
  type: str
  sample: lb
group:
  description: The inventory group whose first host takes the fault when no target is named.
  returned: success
  type: str
  sample: lb
what:
  description: What the fault does, in words.
  returned: success
  type: str
stable:
  description: The ledger's stable version and digest, as given.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.chaos import ChaosError, check_request


def main():
    module = AnsibleModule(
        argument_spec={
            "fault": {"type": "str", "required": True},
            "target": {"type": "str"},
            "inventory_hosts": {"type": "list", "elements": "str", "required": True},
            "lab_hosts": {"type": "list", "elements": "str", "default": []},
            "confirm": {"type": "str"},
            "lock_holder": {"type": "dict"},
            "groups": {"type": "dict", "default": {}},
            "stable": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        plan = check_request(p["fault"], p["target"], p["inventory_hosts"], p["lab_hosts"], p["confirm"], p["lock_holder"], p["groups"], p["stable"])
    except ChaosError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **plan)


if __name__ == "__main__":
    main()
