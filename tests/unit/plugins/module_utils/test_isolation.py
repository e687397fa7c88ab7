"""isolation: GPU pinning, cgroup limits and the GPU-memory cap of one service container."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.isolation import IsolationError, container_settings, parse_cpuset, parse_memory

HOST = {"gpu_count": 4, "host_cpus": 32, "host_memory_mb": 256000}


def test_mps_cap_numbers_limits_by_the_containers_own_gpu_ordinals():
    settings = container_settings([2, 3], cpuset_cpus="16-31", cpus=16, memory="100g", pids_limit=4096, gpu_memory_cap_gb=20, gpu_memory_gb=80, **HOST)
    assert settings["device_ids"] == ["2", "3"]
    assert settings["env"] == {"CUDA_MPS_PIPE_DIRECTORY": "/run/nvidia-mps", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=20G,1=20G"}
    assert settings["ipc_mode"] == "host"
    assert settings["volumes"] == ["/run/nvidia-mps:/run/nvidia-mps"]
    assert settings["mps"] == {"enabled": True, "visible_devices": "2,3", "default_limits": ["0 20G", "1 20G"]}
    assert (settings["cpuset_cpus"], settings["cpus"], settings["memory"], settings["pids_limit"]) == ("16-31", 16.0, "100g", 4096)


def test_framework_cap_is_an_environment_variable_and_no_mps():
    settings = container_settings([0], gpu_memory_cap_gb=20, cap_method="framework", **HOST)
    assert settings["env"] == {"LIVEAVATAR_GPU_MEMORY_CAP_GB": "20"}
    assert settings["ipc_mode"] is None
    assert settings["mps"] == {"enabled": False}


def test_no_cap_and_no_limits_leaves_only_the_pinning():
    settings = container_settings([0, 1, 2, 3], **HOST)
    assert settings["device_ids"] == ["0", "1", "2", "3"]
    assert [settings[k] for k in ("cpuset_cpus", "cpus", "memory", "pids_limit", "ipc_mode")] == [None] * 5
    assert settings["env"] == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gpu_devices": [0, 4]}, "GPU index 4 is beyond this host's 4 GPUs (valid: 0-3)"),
        ({"gpu_devices": [0], "gpu_count": 0}, "GPU index 0 is beyond this host's 0 GPUs (valid: none)"),
        ({"gpu_devices": []}, "no GPU is pinned"),
        ({"gpu_devices": [1, 1]}, "repeat an index"),
        ({"cpuset_cpus": "0-31,32"}, "names CPU 32, beyond this host's 32 CPUs"),
        ({"cpuset_cpus": "8-2"}, "runs backwards"),
        ({"cpus": 64}, "cpus 64 is outside 0-32"),
        ({"memory": "300g"}, "more than this host's 256000 MB"),
        ({"memory": "lots"}, "is not a size"),
        ({"gpu_memory_cap_gb": 90, "gpu_memory_gb": 80}, "90 GB is more than the 80 GB"),
        ({"gpu_memory_cap_gb": -1}, "negative"),
        ({"cap_method": "cgroup"}, "'cgroup' is not one of mps, framework"),
    ],
)
def test_bad_settings_name_the_value_and_the_limit(kwargs, message):
    args = {"gpu_devices": [0, 1, 2, 3], **HOST, **kwargs}
    with pytest.raises(IsolationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        container_settings(**args)


def test_parsers():
    assert parse_cpuset("0-3, 8") == {0, 1, 2, 3, 8}
    assert parse_memory("512m") == 512 * 1024**2
    assert parse_memory("1073741824") == 1024**3
