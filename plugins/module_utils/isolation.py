# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container isolation for one Live Avatar instance: GPU pinning, cgroup limits and a GPU-memory cap.

cgroups cannot limit GPU memory, so the cap is NVIDIA MPS (a per-client pinned-memory limit enforced
by the MPS server) or, where MPS is not run, the framework's own per-process limit read from the
environment.
"""

from __future__ import annotations

import re

_MEMORY_RE = re.compile(r"^(\d+)([bkmg]?)$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
CAP_METHODS = ("mps", "framework")


class IsolationError(ValueError):
    """Settings that cannot be applied on this host; the message names the setting and the limit."""


def parse_cpuset(cpuset):
    """CPU numbers of a cpuset string such as '0-3,8'."""
    cpus = set()
    for part in filter(None, (p.strip() for p in cpuset.split(","))):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            raise IsolationError(f"cpuset '{cpuset}' is not a list of CPU numbers and ranges such as 0-15,32")
        low, high = int(bounds[0]), int(bounds[-1])
        if high < low:
            raise IsolationError(f"cpuset '{cpuset}' has a range that runs backwards ({part})")
        cpus.update(range(low, high + 1))
    return cpus


def parse_memory(memory):
    """Bytes of a Docker memory string such as '200g'."""
    match = _MEMORY_RE.match(str(memory).strip())
    if not match:
        raise IsolationError(f"memory '{memory}' is not a size such as 200g, 512m or 1073741824")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def container_settings(
    gpu_devices,
    gpu_count,
    host_cpus,
    host_memory_mb,
    cpuset_cpus="",
    cpus=0.0,
    memory="",
    pids_limit=0,
    gpu_memory_cap_gb=0,
    gpu_memory_gb=0,
    cap_method="mps",
    mps_pipe_dir="/run/nvidia-mps",
):
    """Docker settings for the service container, or IsolationError naming the first bad value."""
    devices = list(gpu_devices)
    if not devices:
        raise IsolationError("no GPU is pinned: give the GPU indexes the service may use, e.g. [0, 1, 2, 3]")
    if len(set(devices)) != len(devices):
        raise IsolationError(f"GPU indexes {devices} repeat an index")
    for index in devices:
        if index < 0 or index >= gpu_count:
            valid = f"0-{gpu_count - 1}" if gpu_count else "none"
            raise IsolationError(f"GPU index {index} is beyond this host's {gpu_count} GPUs (valid: {valid})")
    settings = {"device_ids": [str(i) for i in devices], "cpuset_cpus": None, "cpus": None, "memory": None, "pids_limit": None}
    if cpuset_cpus:
        outside = sorted(c for c in parse_cpuset(cpuset_cpus) if c >= host_cpus)
        if outside:
            raise IsolationError(f"cpuset '{cpuset_cpus}' names CPU {outside[0]}, beyond this host's {host_cpus} CPUs")
        settings["cpuset_cpus"] = cpuset_cpus
    if cpus:
        if cpus < 0 or cpus > host_cpus:
            raise IsolationError(f"cpus {cpus:g} is outside 0-{host_cpus}, this host's CPU count")
        settings["cpus"] = float(cpus)
    if memory:
        if parse_memory(memory) > host_memory_mb * 1024**2:
            raise IsolationError(f"memory '{memory}' is more than this host's {host_memory_mb} MB")
        settings["memory"] = str(memory)
    if pids_limit:
        if pids_limit < 0:
            raise IsolationError(f"pids_limit {pids_limit} is negative; 0 leaves it unlimited")
        settings["pids_limit"] = int(pids_limit)
    if cap_method not in CAP_METHODS:
        raise IsolationError(f"GPU-memory cap method '{cap_method}' is not one of {', '.join(CAP_METHODS)}")
    if gpu_memory_cap_gb < 0:
        raise IsolationError(f"GPU-memory cap {gpu_memory_cap_gb:g} GB is negative; 0 means no cap")
    if gpu_memory_cap_gb and gpu_memory_gb and gpu_memory_cap_gb > gpu_memory_gb:
        raise IsolationError(f"GPU-memory cap {gpu_memory_cap_gb:g} GB is more than the {gpu_memory_gb:g} GB a GPU of this host has")
    settings.update(env={}, ipc_mode=None, volumes=[], mps={"enabled": False})
    if gpu_memory_cap_gb and cap_method == "mps":
        # Inside the container the pinned GPUs are numbered from 0, and MPS limits are per client ordinal.
        limits = [f"{ordinal}={gpu_memory_cap_gb:g}G" for ordinal in range(len(devices))]
        settings["env"] = {"CUDA_MPS_PIPE_DIRECTORY": mps_pipe_dir, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": ",".join(limits)}
        settings["ipc_mode"] = "host"
        settings["volumes"] = [f"{mps_pipe_dir}:{mps_pipe_dir}"]
        settings["mps"] = {
            "enabled": True,
            "visible_devices": ",".join(settings["device_ids"]),
            "default_limits": [f"{ordinal} {gpu_memory_cap_gb:g}G" for ordinal in range(len(devices))],
        }
    elif gpu_memory_cap_gb:
        settings["env"] = {"LIVEAVATAR_GPU_MEMORY_CAP_GB": f"{gpu_memory_cap_gb:g}"}
    return settings
