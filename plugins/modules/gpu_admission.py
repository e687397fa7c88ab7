#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_admission
short_description: Decide whether a GPU slot may take a Live Avatar instance, before anything changes on the host
version_added: 0.3.0
description:
  - A slot is the GPU set one instance uses (one 80 GB GPU, or a 4-GPU set). The slot is refused when the driver branch
    is under the image's minimum, a GPU of the slot has less free memory than the instance needs, the kernel reported an
    Xid for one of its GPUs since boot, a GPU has uncorrected ECC errors since the driver loaded, pages or rows wait to be
    retired or remapped, or the disk has too little room for the image and the weights.
  - Reads C(nvidia-smi -q -x) and the kernel log of this boot (C(journalctl -k -b), else C(dmesg)) on the host, or
    parses the given O(smi_xml) and O(kernel_log). The reason names the host, the slot and the number.
options:
  host:
    description: The host's name for the reason (the task's C(inventory_hostname)).
    type: str
    required: true
  slot:
    description: The slot, C(name) and C(gpus) (each a minor number, UUID or PCI bus id).
    type: dict
    required: true
  needs_mib:
    description: GPU memory one instance needs on each GPU of the slot, in MiB.
    type: int
    required: true
  min_driver_branch:
    description: The lowest driver branch the image supports (its label); omitted, the driver is not judged.
    type: int
  smi_xml:
    description: Output of C(nvidia-smi -q -x) to parse instead of running it.
    type: str
  kernel_log:
    description: Kernel log of this boot to search for Xid lines instead of reading it.
    type: str
  kernel_log_path:
    description:
      - A file on the host that holds this boot's kernel log (where syslog writes it, rotated at boot), read instead of
        C(journalctl -k -b) and C(dmesg); for hosts whose journal does not keep kernel messages.
    type: path
  disk_path:
    description: Directory whose file system holds the images and the weights.
    type: path
  disk_needed_gb:
    description: Room the image and the weights need on O(disk_path), in GB.
    type: float
extends_documentation_fragment:
  - liveavatar.rollout.gate
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Admit the slot before the candidate is started on it
  liveavatar.rollout.gpu_admission:
    host: "{{ inventory_hostname }}"
    slot: {name: a, gpus: [0]}
    needs_mib: 78000
    min_driver_branch: 535
    disk_path: /var/lib/docker
    disk_needed_gb: 120
  register: slot_admission
"""

RETURN = r"""
passed:
  description: Whether the slot may take the instance.
  returned: always
  type: bool
  sample: false
reason:
  description: One line naming the host, the slot and the number.
  returned: always
  type: str
  sample: "gpu-node-3 slot a: GPU 0 has 20480 MiB free, the instance needs 78000 MiB"
checks:
  description: Each check, passed or not, with its detail.
  returned: always
  type: list
  elements: dict
  sample: [{"check": "GPU 0 free memory", "passed": false, "detail": "GPU 0 has 20480 MiB free, the instance needs 78000 MiB"}]
refusals:
  description: Every refusal, the first of which is RV(reason).
  returned: always
  type: list
  elements: str
  sample: ["gpu-node-3 slot a: GPU 0 has 20480 MiB free, the instance needs 78000 MiB"]
"""

import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.gpu_admission import KERNEL_LOG_COMMANDS, AdmissionError, admit, parse_query_xml, parse_xid


def _read_smi(module):
    binary = module.get_bin_path("nvidia-smi")
    if binary is None:
        module.fail_json(msg="gpu_admission: nvidia-smi is not installed on this host: install the NVIDIA driver (role nvidia_driver)")
    rc, stdout, stderr = module.run_command([binary, "-q", "-x"], environ_update={"LANGUAGE": "C", "LC_ALL": "C"})
    if rc != 0:
        line = ((stdout + "\n" + stderr).strip().splitlines() or ["no output"])[0]
        module.fail_json(msg=f"gpu_admission: nvidia-smi -q -x exited {rc}: {line}")
    return stdout


def _read_kernel_log(module):
    for argv in KERNEL_LOG_COMMANDS:
        binary = module.get_bin_path(argv[0])
        if binary:
            rc, stdout, _stderr = module.run_command([binary] + argv[1:])
            if rc == 0:
                return stdout
    module.fail_json(msg="gpu_admission: cannot read this boot's kernel log (journalctl -k -b and dmesg both failed): Xid errors cannot be ruled out")
    return ""


def main():
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            "slot": {"type": "dict", "required": True},
            "needs_mib": {"type": "int", "required": True},
            "min_driver_branch": {"type": "int"},
            "smi_xml": {"type": "str"},
            "kernel_log": {"type": "str"},
            "kernel_log_path": {"type": "path"},
            "disk_path": {"type": "path"},
            "disk_needed_gb": {"type": "float"},
        },
        required_together=[("disk_path", "disk_needed_gb")],
        mutually_exclusive=[("kernel_log", "kernel_log_path")],
        supports_check_mode=True,
    )
    p = module.params
    slot = p["slot"]
    if not isinstance(slot.get("name"), str) or not isinstance(slot.get("gpus"), list) or not slot["gpus"]:
        module.fail_json(msg=f"gpu_admission: {p['host']}: slot {slot!r} needs a name and a non-empty list of gpus (the inventory's gpu_slots)")
    text = p["smi_xml"] if p["smi_xml"] is not None else _read_smi(module)
    if p["kernel_log_path"]:
        try:
            with open(p["kernel_log_path"], encoding="utf-8", errors="replace") as handle:
                kernel_log = handle.read()
        except OSError as exc:
            where = f"{p['host']}: cannot read the kernel log {p['kernel_log_path']}"
            module.fail_json(msg=f"gpu_admission: {where} ({exc.strerror}): Xid errors cannot be ruled out")
    else:
        kernel_log = p["kernel_log"] if p["kernel_log"] is not None else _read_kernel_log(module)
    disk_free_gb = None
    if p["disk_path"]:
        try:
            disk_free_gb = round(shutil.disk_usage(p["disk_path"]).free / 1e9, 1)
        except OSError as exc:
            module.fail_json(msg=f"gpu_admission: {p['host']}: cannot read the free space of {p['disk_path']} ({exc.strerror})")
    try:
        result = admit(p["host"], slot, parse_query_xml(text), p["needs_mib"], p["min_driver_branch"], parse_xid(kernel_log), disk_free_gb, p["disk_needed_gb"])
    except AdmissionError as exc:
        module.fail_json(msg=f"gpu_admission: {p['host']} slot {slot['name']}: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
