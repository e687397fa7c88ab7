"""gpu_isolation with its defaults: four GPUs pinned, a pids limit, no GPU-memory cap and so no MPS unit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from role_checks import assert_refused  # noqa: E402

WATCHED = ["/etc/liveavatar", "/etc/systemd/system"]


def test_settings_pin_four_gpus_without_a_cap(host):
    settings_file = host.file("/etc/liveavatar/gpu-isolation.json")
    assert settings_file.mode == 0o644 and settings_file.user == "root"
    settings = json.loads(settings_file.content_string)
    assert settings["device_ids"] == ["0", "1", "2", "3"]
    assert settings["pids_limit"] == 4096
    assert settings["env"] == {} and settings["ipc_mode"] is None and settings["mps"] == {"enabled": False}


def test_no_mps_unit_without_a_cap(host):
    assert not host.file("/etc/systemd/system/nvidia-mps.service").exists


def test_gpu_index_beyond_the_hosts_count_is_refused(host):
    message = "GPU index 4 is beyond this host's 4 GPUs (valid: 0-3); nothing was changed"
    assert_refused(host, "gpu_isolation", {"gpu_isolation_gpu_devices": [0, 4]}, message, WATCHED)


def test_more_memory_than_the_host_has_is_refused(host):
    assert_refused(host, "gpu_isolation", {"gpu_isolation_memory": "100000g"}, "memory '100000g' is more than this host's", WATCHED)


def test_no_gpu_count_without_gpu_checks_is_refused(host):
    assert_refused(host, "gpu_isolation", {"gpu_isolation_assumed_gpu_count": 0}, "set gpu_isolation_assumed_gpu_count", WATCHED)
