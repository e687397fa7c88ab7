#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: incident_evidence
short_description: Read one host's evidence for an aborted release's incident bundle, with secrets redacted
version_added: 0.4.0
description:
  - Reads C(nvidia-smi -q) (and C(-q -x)), this boot's kernel lines about the GPUs (Xid, NVRM), the last lines of the named containers'
    logs and the files that match O(paths) (for example stage 2's NCCL output), and returns them as text files.
  - Every text goes through the same redaction before it leaves the host. Values of environment keys that name a
    secret (password, secret, token, key, credential) in the containers' configuration, URL credentials, authorization
    headers and private keys become C(<redacted>).
  - What cannot be read is returned in RV(missing) with the reason and never fails the task, because evidence must not
    stand in the way of an abort. For example, a host without C(nvidia-smi) has no GPU state to read.
extends_documentation_fragment:
  - liveavatar.rollout.read_only
options:
  containers:
    description: Containers whose logs go in the bundle (absent ones are listed in RV(missing)).
    type: list
    elements: str
    default: []
  texts:
    description: Output the release's own tasks kept from this host (a removed container's log, a run's output), name
      to text; redacted and cut like the rest.
    type: dict
    default: {}
  paths:
    description: Glob patterns of files on the host to include (each cut to O(max_bytes)).
    type: list
    elements: str
    default: []
  kernel_log_path:
    description: A file that holds this boot's kernel log, read instead of C(journalctl -k -b) and C(dmesg).
    type: path
  log_lines:
    description: Last lines of each container's log.
    type: int
    default: 2000
  max_bytes:
    description: The most bytes of any one file in the bundle; the rest is cut from its start.
    type: int
    default: 1048576
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Gather this host's evidence
  liveavatar.rollout.incident_evidence:
    containers: [liveavatar-canary, liveavatar-stage]
    texts: {stage1-service.log: "{{ stage1_log.stdout }}"}
    paths: ["/srv/liveavatar/output/v1.2/*.nccl.txt"]
  register: evidence
"""

RETURN = r"""
files:
  description: File name in the bundle to its text, redacted.
  returned: always
  type: dict
  sample: {"nvidia-smi-q.txt": "==============NVSMI LOG==============...", "nvidia-smi-q.xml": "<?xml ...",
           "kernel-gpu.log": "NVRM: Xid (PCI:0000:01:00): 79, ...", "container-liveavatar-canary.log": "..."}
missing:
  description: What could not be read, and why.
  returned: always
  type: list
  elements: str
"""

import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.gpu_admission import KERNEL_LOG_COMMANDS
from ansible_collections.liveavatar.rollout.plugins.module_utils.incident import file_name, kernel_gpu_lines, names_a_secret, redact, tail

_C_LOCALE = {"LANGUAGE": "C", "LC_ALL": "C"}


def _run(module, argv):
    binary = module.get_bin_path(argv[0])
    if binary is None:
        return None, f"{argv[0]} is not installed on this host"
    rc, stdout, stderr = module.run_command([binary] + argv[1:], environ_update=_C_LOCALE)
    if rc != 0:
        return None, f"{' '.join(argv)} exited {rc}: {((stderr or stdout).strip().splitlines() or ['no output'])[0]}"
    return stdout + (stderr or ""), None


def _kernel_log(module, path):
    if path:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read(), None
        except OSError as exc:
            return None, f"kernel log {path}: {exc.strerror}"
    reasons = []
    for argv in KERNEL_LOG_COMMANDS:
        text, why = _run(module, argv)
        if text is not None:
            return text, None
        reasons.append(why)
    return None, "; ".join(reasons)


def _container_secrets(module, name):
    """Values of the container's environment whose key names a secret, so that its log never shows them."""
    text, _why = _run(module, ["docker", "inspect", "--format", "{{json .Config.Env}}", name])
    if text is None:
        return []
    try:
        env = json.loads(text.strip().splitlines()[0])
    except (ValueError, IndexError):
        return []
    pairs = [item.split("=", 1) for item in env or [] if "=" in item]
    return [value for key, value in pairs if names_a_secret(key)]


def main():
    module = AnsibleModule(
        argument_spec={
            "containers": {"type": "list", "elements": "str", "default": []},
            "texts": {"type": "dict", "default": {}},
            "paths": {"type": "list", "elements": "str", "default": []},
            "kernel_log_path": {"type": "path"},
            "log_lines": {"type": "int", "default": 2000},
            "max_bytes": {"type": "int", "default": 1048576},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["log_lines"] < 1 or p["max_bytes"] < 1024:
        module.fail_json(msg=f"incident_evidence: log_lines ({p['log_lines']}) must be 1 or more and max_bytes ({p['max_bytes']}) 1024 or more")
    files, missing, secrets = {}, [], []

    for argv, name in ((["nvidia-smi", "-q"], "nvidia-smi-q.txt"), (["nvidia-smi", "-q", "-x"], "nvidia-smi-q.xml")):
        smi, why = _run(module, argv)
        if smi is None:
            missing.append(f"{' '.join(argv)}: {why}")
        else:
            files[name] = smi

    kernel, why = _kernel_log(module, p["kernel_log_path"])
    if kernel is None:
        missing.append(f"kernel log: {why}")
    else:
        lines = kernel_gpu_lines(kernel)
        files["kernel-gpu.log"] = "\n".join(lines) + "\n" if lines else "# no Xid, NVRM or nvidia line in this boot's kernel log\n"

    for name in p["containers"]:
        log, why = _run(module, ["docker", "logs", "--timestamps", "--tail", str(p["log_lines"]), name])
        if log is None:
            missing.append(f"container {name}: {why}")
            continue
        secrets += _container_secrets(module, name)
        files[file_name("container", name) + ".log"] = log

    for pattern in p["paths"]:
        matched = sorted(glob.glob(pattern))
        if not matched:
            missing.append(f"{pattern}: no such file")
        for path in matched:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    files[file_name("file", path.lstrip(os.sep))] = handle.read()
            except OSError as exc:
                missing.append(f"{path}: {exc.strerror}")

    for name, text in p["texts"].items():
        files[file_name(name)] = str(text)

    files = {name: tail(redact(text, secrets), p["max_bytes"]) for name, text in files.items()}
    module.exit_json(changed=False, files=files, missing=missing)


if __name__ == "__main__":
    main()
