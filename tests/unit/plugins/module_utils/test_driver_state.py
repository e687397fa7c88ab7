"""driver_state: NVIDIA GPUs on the PCI bus and why a reboot is due."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.driver_state import count_pci_gpus, reboot_reason


def test_count_pci_gpus_counts_nvidia_vga_and_3d_controllers_only():
    devices = [
        ("0x10de\n", "0x030200\n"),  # H100: 3D controller
        ("0x10de", "0x030000"),  # VGA
        ("0x10de", "0x040300"),  # the GPU's HDMI audio function
        ("0x10de", "0x068000"),  # NVSwitch bridge
        ("0x8086", "0x030000"),  # Intel graphics
    ]
    assert count_pci_gpus(devices) == 2
    assert count_pci_gpus([]) == 0


@pytest.mark.parametrize(
    ("installed", "loaded", "nouveau", "reason"),
    [
        (None, None, False, None),
        ("535.261.03-1", "535.261.03", False, None),
        ("1:550.127.05-1", "550.127.05\n", False, None),
        ("535.261.03-1", None, True, "the nouveau module is loaded, so the nvidia module cannot load beside it"),
        ("535.261.03-1", None, False, "no nvidia kernel module is loaded (installed driver 535.261.03)"),
        ("550.127.05-1", "535.261.03", False, "the loaded nvidia module is 535.261.03, the installed driver is 550.127.05"),
    ],
)
def test_reboot_reason(installed, loaded, nouveau, reason):
    assert reboot_reason(installed, loaded, nouveau) == reason
