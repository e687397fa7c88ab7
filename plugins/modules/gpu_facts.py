#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_facts
short_description: GPU facts from nvidia-smi --query-gpu CSV
version_added: 0.1.0
description:
  - Runs C(nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]) on the host, or parses
    given output, and returns one dict per GPU. C([N/A]), C([Not Supported]) and similar cells become
    null and are listed under C(_unavailable), so a missing value is never read as 0.
  - A host without a working nvidia-smi fails with nvidia-smi's own reason.
options:
  fields:
    description: Query fields, in order.
    type: list
    elements: str
    default: [index, name, uuid, memory.total, memory.used, memory.free, utilization.gpu, temperature.gpu]
  output:
    description: Output to parse instead of running nvidia-smi.
    type: str
  noheader:
    description: Ask for (or parse) output without the header line.
    type: bool
    default: false
  nounits:
    description: Ask for output without units.
    type: bool
    default: true
  nvidia_smi:
    description: Name or path of the nvidia-smi binary.
    type: str
    default: nvidia-smi
attributes:
  facts:
    support: full
    description: Sets C(liveavatar_gpus).
extends_documentation_fragment:
  - liveavatar.rollout.read_only
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Read the GPUs of a node
  liveavatar.rollout.gpu_facts:

- name: Require four GPUs with at least 24 GB each
  ansible.builtin.assert:
    that:
      - liveavatar_gpus.count == 4
      - liveavatar_gpus.gpus | map(attribute='memory_total_mib') | min >= 24000
    fail_msg: "{{ inventory_hostname }} has {{ liveavatar_gpus.count }} GPUs, the 4-GPU stage needs 4 x 24 GB"
"""

RETURN = r"""
ansible_facts:
  description: C(liveavatar_gpus) with count and per-GPU index, name, uuid, memory (MiB) and utilization.
  returned: success
  type: dict
  sample: {"liveavatar_gpus": {"count": 1, "gpus": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_total_mib": 81559}]}}
gpus:
  description: Every queried field per GPU, with C(_units) and C(_unavailable).
  returned: success
  type: list
  elements: dict
  sample: [{"index": 0, "memory.total": 81559, "fan.speed": null, "_unavailable": {"fan.speed": "not_available"}}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.gpu_smi import GpuSmiError, parse_query_csv, summarize


def main():
    module = AnsibleModule(
        argument_spec={
            "fields": {
                "type": "list",
                "elements": "str",
                "default": [
                    "index",
                    "name",
                    "uuid",
                    "memory.total",
                    "memory.used",
                    "memory.free",
                    "utilization.gpu",
                    "temperature.gpu",
                ],
            },
            "output": {"type": "str"},
            "noheader": {"type": "bool", "default": False},
            "nounits": {"type": "bool", "default": True},
            "nvidia_smi": {"type": "str", "default": "nvidia-smi"},
        },
        supports_check_mode=True,
    )
    fields = module.params["fields"]
    text = module.params["output"]
    if text is None:
        binary = module.get_bin_path(module.params["nvidia_smi"])
        if binary is None:
            module.fail_json(
                msg=f"gpu_facts: {module.params['nvidia_smi']} is not installed on this host: "
                "install the NVIDIA driver (role nvidia_driver) or skip GPU checks explicitly"
            )
        fmt = ",".join(["csv"] + (["noheader"] if module.params["noheader"] else []) + (["nounits"] if module.params["nounits"] else []))
        rc, stdout, stderr = module.run_command(
            [binary, "--query-gpu=" + ",".join(fields), "--format=" + fmt],
            environ_update={"LANGUAGE": "C", "LC_ALL": "C"},
        )
        if rc != 0:
            line = ((stdout + "\n" + stderr).strip().splitlines() or ["no output"])[0]
            module.fail_json(msg=f"gpu_facts: nvidia-smi exited {rc}: {line}", rc=rc, stdout=stdout, stderr=stderr)
        text = stdout
    try:
        gpus = parse_query_csv(text, fields=fields if module.params["noheader"] else None)
    except GpuSmiError as exc:
        module.fail_json(msg=f"gpu_facts: {exc}")
    module.exit_json(changed=False, gpus=gpus, ansible_facts={"liveavatar_gpus": summarize(gpus)})


if __name__ == "__main__":
    main()
