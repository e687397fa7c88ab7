"""nvidia_driver from a CUDA-repository mirror: signed repository, key, and the pin to an older branch."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from role_checks import assert_refused  # noqa: E402

WATCHED = ["/etc/apt/sources.list.d", "/etc/apt/preferences.d", "/etc/modprobe.d"]


def test_repository_is_signed_by_the_mirrors_key(host):
    sources = host.file("/etc/apt/sources.list.d/nvidia-cuda.sources")
    assert sources.contains("^URIs: http://127.0.0.1:8089/cuda/$")
    assert sources.contains("^Suites: /$")
    signed_by = [line.split(":", 1)[1].strip() for line in sources.content_string.splitlines() if line.startswith("Signed-By:")]
    assert signed_by and host.file(signed_by[0]).contains("BEGIN PGP PUBLIC KEY BLOCK"), signed_by
    # apt must verify the mirror's InRelease with that key alone.
    update = host.run("apt-get update -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts=/etc/apt/sources.list.d 2>&1")
    assert update.rc == 0 and "NO_PUBKEY" not in update.stdout and "not signed" not in update.stdout, update.stdout


def test_the_pinned_branch_is_installed_although_a_newer_one_is_offered(host):
    assert host.package("cuda-drivers").version == "550.127.05-1"
    assert host.package("nvidia-persistenced").version == "550.127.05-1"
    policy = host.check_output("apt-cache policy cuda-drivers")
    assert "560.35.03-1 500" in policy and "*** 550.127.05-1 1001" in policy, policy


def test_an_upgrade_keeps_the_branch(host):
    simulated = host.check_output("apt-get -s -o Debug::NoLocking=1 upgrade")
    assert "cuda-drivers" not in simulated and "560.35" not in simulated, simulated


def test_nouveau_blacklist_is_absent_when_not_wanted(host):
    assert not host.file("/etc/modprobe.d/blacklist-nouveau-liveavatar.conf").exists


def test_branch_the_mirror_lacks_is_refused_naming_what_it_offers(host):
    assert_refused(
        host,
        "nvidia_driver",
        {"nvidia_driver_branch": "999"},
        "driver branch 999 (cuda-drivers) is not offered by http://127.0.0.1:8089/cuda (offered: 550, 560)",
        WATCHED,
    )


def test_an_unreachable_mirror_is_refused(host):
    assert_refused(host, "nvidia_driver", {"nvidia_driver_cuda_repo_url": "http://127.0.0.1:9/cuda"}, "no package index could be read", WATCHED)
