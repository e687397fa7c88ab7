"""nvidia_container_toolkit from a mirror, with the real Docker engine: pin, repository key, daemon.json merge."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from role_checks import assert_refused  # noqa: E402

PACKAGES = ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools", "libnvidia-container1"]
WATCHED = ["/etc/apt/sources.list.d", "/etc/apt/preferences.d", "/etc/docker"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_held_at_the_pinned_version(host, package):
    assert host.package(package).version == "1.17.8-1"
    assert "1.18.0-1 500" in host.check_output(f"apt-cache policy {package}")


def test_repository_uses_its_own_key(host):
    sources = host.file("/etc/apt/sources.list.d/nvidia-container-toolkit.sources")
    assert sources.contains("^Signed-By: /etc/apt/keyrings/nvidia-container-toolkit.asc$")
    assert host.file("/etc/apt/keyrings/nvidia-container-toolkit.asc").contains("BEGIN PGP PUBLIC KEY BLOCK")


def test_daemon_json_has_the_runtime_and_keeps_docker_engines_keys(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["runtimes"]["nvidia"] == {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []}
    assert daemon["live-restore"] is True and daemon["insecure-registries"] == ["registry:5000"]
    assert "default-runtime" not in daemon


def test_the_running_engine_offers_the_runtime(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert "nvidia" in info["Runtimes"] and info["DefaultRuntime"] == "runc"
    assert host.service("docker").is_running


def test_version_the_mirror_lacks_is_refused_naming_what_it_offers(host):
    assert_refused(
        host,
        "nvidia_container_toolkit",
        {"nvidia_container_toolkit_version": "1.99.0-1"},
        "version 1.99.0-1 of nvidia-container-toolkit is not offered by http://127.0.0.1:8089/libnvidia-container (offered: 1.17.8-1, 1.18.0-1)",
        WATCHED,
    )


def test_gpu_checks_without_the_driver_are_refused(host):
    assert_refused(host, "nvidia_container_toolkit", {"nvidia_container_toolkit_gpu_checks": True}, "lacks nvidia-smi (apply nvidia_driver first", WATCHED)
