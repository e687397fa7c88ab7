#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_driver_state
short_description: NVIDIA GPUs on the PCI bus, the installed and the loaded driver, and whether a reboot is due
version_added: 0.2.0
description:
  - Counts NVIDIA GPUs from C(/sys/bus/pci/devices) (no driver needed), reads the installed driver package's
    version with C(dpkg-query), the loaded module's version from C(/sys/module/nvidia/version) and whether
    C(nouveau) is loaded.
  - Returns C(reboot_reason) when the installed driver is not the one running; null when it is, or when no
    driver package is installed yet.
options:
  package:
    description: Driver package whose installed version counts, for example C(nvidia-driver) or C(cuda-drivers).
    type: str
    required: true
  sys_dir:
    description: Where sysfs is mounted (tests point it elsewhere).
    type: path
    default: /sys
extends_documentation_fragment:
  - liveavatar.rollout.read_only
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Read the driver state
  liveavatar.rollout.nvidia_driver_state:
    package: nvidia-driver
  register: driver_state

- name: Say why a reboot is due
  ansible.builtin.debug:
    msg: "{{ driver_state.reboot_reason }}"
  when: driver_state.reboot_reason
"""

RETURN = r"""
pci_gpus:
  description: NVIDIA GPUs (VGA or 3D controllers, vendor 0x10de) on the PCI bus.
  returned: success
  type: int
  sample: 4
installed_version:
  description: Installed version of O(package), or null.
  returned: success
  type: str
  sample: 535.261.03-1
loaded_version:
  description: Version of the loaded nvidia kernel module, or null.
  returned: success
  type: str
  sample: 535.261.03
nouveau_loaded:
  description: Whether the nouveau module is loaded.
  returned: success
  type: bool
reboot_reason:
  description: Why the installed driver is not running, or null.
  returned: success
  type: str
  sample: the nouveau module is loaded, so the nvidia module cannot load beside it
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.driver_state import count_pci_gpus, reboot_reason


def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


def main():
    module = AnsibleModule(
        argument_spec={"package": {"type": "str", "required": True}, "sys_dir": {"type": "path", "default": "/sys"}},
        supports_check_mode=True,
    )
    sys_dir = module.params["sys_dir"]
    devices = [
        (read_text(os.path.join(device, "vendor")) or "", read_text(os.path.join(device, "class")) or "")
        for device in glob.glob(os.path.join(sys_dir, "bus/pci/devices/*"))
    ]
    installed = None
    dpkg_query = module.get_bin_path("dpkg-query")
    if dpkg_query:
        rc, out, _err = module.run_command([dpkg_query, "-W", "-f", "${db:Status-Abbrev}${Version}", module.params["package"]])
        if rc == 0 and out.startswith("ii"):
            installed = out[3:].strip() or None
    loaded = read_text(os.path.join(sys_dir, "module/nvidia/version"))
    nouveau = os.path.isdir(os.path.join(sys_dir, "module/nouveau"))
    module.exit_json(
        changed=False,
        pci_gpus=count_pci_gpus(devices),
        installed_version=installed,
        loaded_version=loaded,
        nouveau_loaded=nouveau,
        reboot_reason=reboot_reason(installed, loaded, nouveau),
    )


if __name__ == "__main__":
    main()
