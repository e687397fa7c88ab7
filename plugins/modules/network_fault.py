#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: network_fault
short_description: Put a network fault (packet loss, delay or a throttled link) on a host, or take every one off
version_added: 0.3.0
description:
  - O(state=present) uses netem where the kernel has it (probed with a 1 ms netem qdisc, removed at once); otherwise
    loss is an iptables C(statistic) DROP per peer and latency a C(tc tbf) rate limit. RV(method) says which.
  - A failed command takes back what was already added before the module fails.
  - O(state=absent) reads the host (iptables-save, the interface's root qdisc) and removes every rule that carries the
    chaos comment and a tbf/netem root qdisc, so a removal after a crash of the controller is complete too.
  - Used by the C(fault_injection) role (C(playbooks/chaos.yml)); the plans are in C(module_utils/chaos.py).
attributes:
  check_mode:
    support: full
    description: Reads the host and reports the commands that would run, without the netem probe (it adds a qdisc).
  diff_mode:
    support: full
    description: The fault's commands as the text after (inject) or before (remove).
  idempotent:
    support: partial
    description: O(state=absent) is; O(state=present) refuses while a fault is on the host rather than add a second one.
options:
  state:
    description: C(present) to inject, C(absent) to remove.
    type: str
    choices: [present, absent]
    default: present
  kind:
    description: C(loss) or C(latency); required with O(state=present).
    type: str
    choices: [loss, latency]
  interface:
    description: The interface (C(lo) for workers of one node talking over loopback).
    type: str
    default: lo
  peers:
    description: Addresses whose packets are dropped (iptables loss only).
    type: list
    elements: str
    default: []
  loss_pct:
    description: Share of packets dropped, in percent.
    type: float
    default: 2.0
  delay_ms:
    description: Delay added by netem.
    type: int
    default: 100
  rate_kbit:
    description: The rate tbf limits the link to when netem is missing.
    type: int
    default: 100000
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Drop 2 % of the packets between the multi-GPU workers
  liveavatar.rollout.network_fault:
    kind: loss
    interface: lo
    peers: [127.0.0.1]
    loss_pct: 2

- name: Take every chaos fault off the host
  liveavatar.rollout.network_fault:
    state: absent
    interface: lo
"""

RETURN = r"""
method:
  description: How the fault was (or would be) put in place, or what was removed.
  returned: always
  type: str
  sample: iptables statistic
commands:
  description: The commands run (or that would run, in check mode).
  returned: always
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.chaos import (
    ChaosError,
    check_interface,
    netem_available,
    network_plan,
    qdisc_del,
    removal_commands,
)


def _netem_loads(module, interface):
    probe = ["tc", "qdisc", "add", "dev", interface, "root", "netem", "delay", "1ms"]
    rc, _out, _err = module.run_command(probe)
    if rc == 0:
        module.run_command(qdisc_del(interface), check_rc=True)
    return netem_available(0, rc)


def _mtu(interface):
    try:
        with open(f"/sys/class/net/{interface}/mtu", encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 1500


def _removal(module, interface):
    _rc, saved, _err = module.run_command(["iptables-save"])
    _rc, root, _err = module.run_command(["tc", "qdisc", "show", "dev", interface, "root"])
    return removal_commands(saved, root, interface)


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "kind": {"type": "str", "choices": ["loss", "latency"]},
            "interface": {"type": "str", "default": "lo"},
            "peers": {"type": "list", "elements": "str", "default": []},
            "loss_pct": {"type": "float", "default": 2.0},
            "delay_ms": {"type": "int", "default": 100},
            "rate_kbit": {"type": "int", "default": 100000},
        },
        required_if=[("state", "present", ["kind"])],
        supports_check_mode=True,
    )
    p = module.params
    try:
        check_interface(p["interface"])
    except ChaosError as exc:
        module.fail_json(msg=f"{exc}; nothing was injected")
    leftover = _removal(module, p["interface"])
    if p["state"] == "absent":
        if leftover and not module.check_mode:
            for argv in leftover:
                module.run_command(argv, check_rc=True)
        diff = {"before": "\n".join(" ".join(a) for a in leftover), "after": ""}
        module.exit_json(changed=bool(leftover), method="removed" if leftover else "nothing to remove", commands=leftover, diff=diff)
    if leftover:
        module.fail_json(
            msg=f"chaos: {len(leftover)} fault(s) of an earlier run are still on this host; run chaos.yml's removal "
            f"(network_fault state=absent) first; nothing was injected",
            commands=leftover,
        )
    # The probe adds and removes a qdisc, so check mode plans without netem.
    netem = False if module.check_mode else _netem_loads(module, p["interface"])
    try:
        plan = network_plan(p["kind"], p["interface"], p["peers"], p["loss_pct"], p["delay_ms"], p["rate_kbit"], netem=netem, mtu=_mtu(p["interface"]))
    except ChaosError as exc:
        module.fail_json(msg=f"{exc}; nothing was injected")
    if not module.check_mode:
        for done, argv in enumerate(plan["inject"]):
            rc, _out, err = module.run_command(argv)
            if rc != 0:
                for undo in plan["remove"][:done]:
                    module.run_command(undo)
                module.fail_json(msg=f"chaos: {' '.join(argv)} failed: {err.strip()[:200]}; what was added is removed", commands=plan["inject"])
    diff = {"before": "", "after": "\n".join(" ".join(a) for a in plan["inject"])}
    module.exit_json(changed=True, method=plan["method"], commands=plan["inject"], diff=diff)


if __name__ == "__main__":
    main()
