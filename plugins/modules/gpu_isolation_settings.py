#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_isolation_settings
short_description: Check and compute a Live Avatar container's GPU pinning, cgroup limits and GPU-memory cap
version_added: 0.2.0
description:
  - Checks the requested isolation against the host (GPU indexes against its GPU count, cpuset and CPU
    quota against its CPUs, memory against its RAM, the GPU-memory cap against a GPU's memory) and returns
    the container settings, or fails with one line naming the first value that does not fit.
  - cgroups cannot limit GPU memory. With O(cap_method=mps) the cap is an NVIDIA MPS pinned-memory limit
    (C(CUDA_MPS_PINNED_DEVICE_MEM_LIMIT) per client, and the MPS server's default limit); with
    O(cap_method=framework) the service reads C(LIVEAVATAR_GPU_MEMORY_CAP_GB) and limits its own process.
options:
  gpu_devices:
    description: GPU indexes the container may use.
    type: list
    elements: int
    required: true
  gpu_count:
    description: GPUs the host has.
    type: int
    required: true
  host_cpus:
    description: CPUs the host has.
    type: int
    required: true
  host_memory_mb:
    description: RAM the host has, in MB.
    type: int
    required: true
  cpuset_cpus:
    description: CPUs the container is pinned to (C(0-15,32)); empty for none.
    type: str
    default: ""
  cpus:
    description: CPU quota in CPUs; 0 for none.
    type: float
    default: 0
  memory:
    description: RAM limit (C(200g)); empty for none.
    type: str
    default: ""
  pids_limit:
    description: Process limit; 0 for none.
    type: int
    default: 0
  gpu_memory_cap_gb:
    description: GPU-memory cap per GPU in GB; 0 for none.
    type: float
    default: 0
  gpu_memory_gb:
    description: Memory of one of the host's GPUs in GB, to check the cap against; 0 when unknown.
    type: float
    default: 0
  cap_method:
    description: How the GPU-memory cap is enforced.
    type: str
    choices: [mps, framework]
    default: mps
  mps_pipe_dir:
    description: MPS pipe directory shared by the MPS control daemon and the container.
    type: path
    default: /run/nvidia-mps
extends_documentation_fragment:
  - liveavatar.rollout.read_only
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Four GPUs, 20 GB each through MPS, 32 CPUs and 200 GB of RAM
  liveavatar.rollout.gpu_isolation_settings:
    gpu_devices: [0, 1, 2, 3]
    gpu_count: "{{ liveavatar_gpus.count }}"
    host_cpus: "{{ ansible_facts['processor_nproc'] }}"
    host_memory_mb: "{{ ansible_facts['memtotal_mb'] }}"
    cpuset_cpus: 0-31
    memory: 200g
    pids_limit: 4096
    gpu_memory_cap_gb: 20
  register: isolation
"""

RETURN = r"""
settings:
  description: Container settings (device_ids, cpuset_cpus, cpus, memory, pids_limit, env, ipc_mode, volumes) and the MPS daemon's.
  returned: success
  type: dict
  sample:
    device_ids: ["0", "1", "2", "3"]
    env: {CUDA_MPS_PINNED_DEVICE_MEM_LIMIT: "0=20G,1=20G,2=20G,3=20G", CUDA_MPS_PIPE_DIRECTORY: /run/nvidia-mps}
    ipc_mode: host
    mps: {enabled: true, visible_devices: "0,1,2,3", default_limits: ["0 20G", "1 20G", "2 20G", "3 20G"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.isolation import CAP_METHODS, IsolationError, container_settings


def main():
    module = AnsibleModule(
        argument_spec={
            "gpu_devices": {"type": "list", "elements": "int", "required": True},
            "gpu_count": {"type": "int", "required": True},
            "host_cpus": {"type": "int", "required": True},
            "host_memory_mb": {"type": "int", "required": True},
            "cpuset_cpus": {"type": "str", "default": ""},
            "cpus": {"type": "float", "default": 0},
            "memory": {"type": "str", "default": ""},
            "pids_limit": {"type": "int", "default": 0},
            "gpu_memory_cap_gb": {"type": "float", "default": 0},
            "gpu_memory_gb": {"type": "float", "default": 0},
            "cap_method": {"type": "str", "choices": list(CAP_METHODS), "default": "mps"},
            "mps_pipe_dir": {"type": "path", "default": "/run/nvidia-mps"},
        },
        supports_check_mode=True,
    )
    try:
        settings = container_settings(**module.params)
    except IsolationError as exc:
        module.fail_json(msg=f"gpu_isolation: {exc}; nothing was changed")
    module.exit_json(changed=False, settings=settings)


if __name__ == "__main__":
    main()
