"""nvidia_driver with Debian's real packages on a host without a GPU (GPU checks off, named in molecule.yml)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from role_checks import assert_refused  # noqa: E402

WATCHED = ["/etc/apt/sources.list.d", "/etc/apt/preferences.d", "/etc/modprobe.d"]
FAKE_FEDORA = {
    "ansible_facts": {
        "distribution": "Fedora",
        "distribution_version": "40",
        "distribution_major_version": "40",
        "distribution_release": "",
        "architecture": "x86_64",
        "kernel": "6.8.0",
    }
}


@pytest.mark.parametrize("package", ["nvidia-driver", "nvidia-smi", "nvidia-cuda-mps", "firmware-nvidia-gsp"])
def test_driver_packages_of_the_pinned_branch_are_installed(host, package):
    pkg = host.package(package)
    assert pkg.is_installed
    assert pkg.version.startswith("535."), pkg.version


def test_nonfree_components_are_configured_from_the_mirror(host):
    sources = host.file("/etc/apt/sources.list.d/debian-nvidia-nonfree.sources")
    assert sources.contains("^Components: contrib non-free non-free-firmware$")
    assert sources.contains("^URIs: http://deb.debian.org/debian$")


def test_apt_holds_the_branch(host):
    pref = host.file("/etc/apt/preferences.d/nvidia-driver-pin.pref")
    assert pref.mode == 0o644 and pref.user == "root"
    assert pref.contains("^Pin: version 535\\.\\*$")
    policy = host.check_output("apt-cache policy nvidia-driver")
    assert " *** 535." in policy and " 1001" in policy, policy


def test_nouveau_is_blacklisted(host):
    blacklist = host.file("/etc/modprobe.d/blacklist-nouveau-liveavatar.conf")
    assert blacklist.contains("^blacklist nouveau$")
    assert blacklist.contains("^options nouveau modeset=0$")
    # modprobe reads the file as configuration: the blacklist is in effect for the next load.
    assert "blacklist nouveau" in host.check_output("modprobe --showconfig | grep nouveau")


def test_persistence_daemon_is_enabled_and_not_started_without_a_gpu(host):
    unit = host.service("nvidia-persistenced")
    assert unit.is_enabled
    assert not unit.is_running


def test_host_without_gpu_is_refused_unless_checks_are_off(host):
    assert_refused(host, "nvidia_driver", {"nvidia_driver_gpu_checks": True}, "has no NVIDIA GPU on its PCI bus", WATCHED)


def test_branch_the_mirror_lacks_is_refused_naming_what_it_offers(host):
    assert_refused(
        host,
        "nvidia_driver",
        {"nvidia_driver_gpu_checks": False, "nvidia_driver_branch": "999"},
        "driver branch 999 (nvidia-driver) is not offered by http://deb.debian.org/debian/dists/bookworm/non-free/binary-amd64 (offered: 535)",
        WATCHED,
    )


def test_unsupported_distribution_is_refused(host):
    assert_refused(host, "nvidia_driver", dict(FAKE_FEDORA, nvidia_driver_gpu_checks=False), "Fedora 40 (x86_64) is not supported", WATCHED, gather_facts=False)
