# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a host must reboot to run the installed NVIDIA driver, and whether it has NVIDIA GPUs at all."""

from __future__ import annotations

from ansible_collections.liveavatar.rollout.plugins.module_utils.apt_index import upstream_of

NVIDIA_PCI_VENDOR = "0x10de"
# PCI classes of GPUs: VGA controller (0x0300xx) and 3D controller (0x0302xx, data-centre GPUs).
GPU_PCI_CLASSES = ("0x0300", "0x0302")


def count_pci_gpus(devices):
    """Count NVIDIA GPUs among (vendor, class) pairs read from /sys/bus/pci/devices/*/{vendor,class}."""
    return sum(1 for vendor, pci_class in devices if vendor.strip().lower() == NVIDIA_PCI_VENDOR and pci_class.strip().lower().startswith(GPU_PCI_CLASSES))


def reboot_reason(installed_version, loaded_version, nouveau_loaded):
    """Why the installed driver is not the one running (a reboot fixes it), or None when it is."""
    if not installed_version:
        return None
    installed = upstream_of(installed_version)
    if nouveau_loaded:
        return "the nouveau module is loaded, so the nvidia module cannot load beside it"
    if not loaded_version:
        return f"no nvidia kernel module is loaded (installed driver {installed})"
    if loaded_version.strip() != installed:
        return f"the loaded nvidia module is {loaded_version.strip()}, the installed driver is {installed}"
    return None
