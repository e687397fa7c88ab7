"""gpu_isolation with an MPS cap: container settings, and the MPS unit as systemd reads it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from role_checks import assert_refused, run_role  # noqa: E402

WATCHED = ["/etc/liveavatar-alt", "/etc/systemd/system"]


def test_container_settings_carry_pinning_limits_and_the_mps_cap(host):
    settings = json.loads(host.file("/etc/liveavatar-alt/isolation.json").content_string)
    assert settings["device_ids"] == ["2", "3"]
    assert (settings["cpuset_cpus"], settings["cpus"], settings["memory"], settings["pids_limit"]) == ("0", 1.0, "1g", 512)
    # The container sees its two GPUs as 0 and 1.
    assert settings["env"] == {"CUDA_MPS_PIPE_DIRECTORY": "/run/liveavatar-mps", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=20G,1=20G"}
    assert settings["ipc_mode"] == "host" and settings["volumes"] == ["/run/liveavatar-mps:/run/liveavatar-mps"]


def test_mps_unit_is_enabled_with_the_pinned_gpus_and_limits(host):
    assert host.service("nvidia-mps").is_enabled
    environment = host.check_output("systemctl show nvidia-mps -p Environment --value")
    assert "CUDA_VISIBLE_DEVICES=2,3" in environment and "CUDA_MPS_PIPE_DIRECTORY=/run/liveavatar-mps" in environment
    posts = host.check_output("systemctl show nvidia-mps -p ExecStartPost --value")
    assert posts.count("set_default_device_pinned_mem_limit") == 2
    assert "set_default_device_pinned_mem_limit 0 20G" in posts and "set_default_device_pinned_mem_limit 1 20G" in posts
    assert "nvidia-cuda-mps-control -d" in host.check_output("systemctl show nvidia-mps -p ExecStart --value")


def test_a_cap_above_the_gpus_memory_is_refused(host):
    message = "GPU-memory cap 30 GB is more than the 24 GB a GPU of this host has"
    assert_refused(host, "gpu_isolation", {"gpu_isolation_gpu_memory_cap_gb": 30}, message, WATCHED)


def test_dropping_the_cap_removes_the_unit(host):
    rc, output = run_role("gpu_isolation", {"gpu_isolation_gpu_memory_cap_gb": 0})
    assert rc == 0, output[-2000:]
    assert not host.file("/etc/systemd/system/nvidia-mps.service").exists
    assert json.loads(host.file("/etc/liveavatar-alt/isolation.json").content_string)["mps"] == {"enabled": False}
