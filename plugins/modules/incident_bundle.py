#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: incident_bundle
short_description: Write an aborted release's incident bundle, one folder per affected host, secrets redacted
version_added: 0.4.0
description:
  - Writes what M(liveavatar.rollout.incident_evidence) read on each affected host into O(dest)/<host>/, with a
    C(missing.json) that says what could not be read and why, and the controller's own files into O(dest).
  - Every text is redacted again before it is written, so a secret in the ledger entry or the judge's evidence never
    lands in the bundle either.
  - Runs on the controller, once per aborted release.
attributes:
  check_mode:
    support: full
    description: Reports the files it would write and writes none.
  diff_mode:
    support: none
    description: A bundle is new evidence, written once per run.
  idempotent:
    support: full
    description: A file whose content is already the same is not written again.
options:
  dest:
    description: The bundle's folder, C(reports/<version>-<run>/incident).
    type: path
    required: true
  hosts:
    description: Per affected host, M(liveavatar.rollout.incident_evidence)'s result (C(files), C(missing)) with the host's
      name under O(host_field); an unreachable or failed result's C(msg) goes into the host's C(missing.json).
    type: list
    elements: dict
    default: []
  host_field:
    description: The key of each O(hosts) entry that names its host (a loop variable, when the results come from a loop).
    type: str
    default: host
  files:
    description: The controller's files, name to content (a mapping or list is written as JSON).
    type: dict
    default: {}
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Write the incident bundle
  liveavatar.rollout.incident_bundle:
    dest: reports/v1.2-20261208T013425-56956/incident
    hosts:
      - host: gpu-node-2
        files: {nvidia-smi-q.txt: "...", kernel-gpu.log: "..."}
        missing: ["container liveavatar-stage: no such container"]
    files:
      ledger-entry.json: {run_id: 20261208T013425-56956}
"""

RETURN = r"""
written:
  description: Files written (or that would be, in check mode), relative to O(dest).
  returned: always
  type: list
  elements: str
  sample: ["gpu-node-2/nvidia-smi-q.txt", "gpu-node-2/missing.json", "ledger-entry.json"]
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.files import write_text_atomically
from ansible_collections.liveavatar.rollout.plugins.module_utils.incident import bundle_files


def _same(path, text):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read() == text
    except OSError:
        return False


def main():
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "hosts": {"type": "list", "elements": "dict", "default": []},
            "host_field": {"type": "str", "default": "host"},
            "files": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    p = module.params
    controller = {name: v if isinstance(v, str) else json.dumps(v, indent=2, sort_keys=True) + "\n" for name, v in p["files"].items()}
    planned = bundle_files(p["hosts"], controller, p["host_field"])
    written = [name for name, text in planned.items() if not _same(os.path.join(p["dest"], name), text)]
    if not module.check_mode:
        for name in written:
            write_text_atomically(os.path.join(p["dest"], name), planned[name], mode=0o640, dir_mode=0o750)
    module.exit_json(changed=bool(written), written=written)


if __name__ == "__main__":
    main()
