#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: docker_daemon_config
short_description: Merge keys into Docker's daemon.json, keeping the keys other roles own
version_added: 0.2.0
description:
  - Reads the daemon configuration, merges O(settings) over it (objects key by key, other values replaced), removes
    the keys of O(remove_matching) that hold exactly the given value, and writes the file only when the merged object
    differs from what is there (C(changed) compares the JSON, not the text).
  - The candidate file is checked with C(dockerd --validate) first where the engine has it (Docker 23 and later); an
    engine without it is named in RV(validation), never reported as validated.
  - A file that is not one JSON object fails the task with its path, and nothing is written.
options:
  path:
    description: The daemon configuration file.
    type: path
    default: /etc/docker/daemon.json
  settings:
    description: The keys this caller owns, merged over the file's.
    type: dict
    required: true
  remove_matching:
    description:
      - Keys removed when the file holds exactly this value and O(settings) does not set them, e.g.
        C(default-runtime) mapped to C(nvidia) when the nvidia runtime should no longer be the default.
    type: dict
    default: {}
  validate:
    description: Check the candidate with C(dockerd --validate --config-file) before writing, where dockerd has it.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Computes, validates and reports the merged file; nothing is written.
  diff_mode:
    support: full
    description: The file's text before and after.
  idempotent:
    support: full
    description: A file that already holds the merged object is left alone.
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Live-restore and log rotation, keeping the nvidia runtime another role added
  liveavatar.rollout.docker_daemon_config:
    settings:
      live-restore: true
      log-driver: json-file
      log-opts: {max-size: 50m, max-file: "5"}
  notify: docker_engine config changed

- name: The nvidia runtime, no longer the default
  liveavatar.rollout.docker_daemon_config:
    settings:
      runtimes: {nvidia: {path: nvidia-container-runtime, runtimeArgs: []}}
    remove_matching: {default-runtime: nvidia}
"""

RETURN = r"""
config:
  description: The merged configuration (what the file holds after the task, or would in check mode).
  returned: success
  type: dict
  sample: {"live-restore": true, "log-driver": "json-file"}
validation:
  description: C(passed) when dockerd validated the candidate, C(not run) with the reason otherwise.
  returned: success
  type: str
  sample: "not run: dockerd has no --validate (Docker before 23)"
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.daemon_config import DaemonConfigError, merge, parse, render, validate_supported


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _stage(path, text):
    """The candidate written beside the file (same filesystem, so it can be moved into place atomically)."""
    fd, staged = tempfile.mkstemp(prefix=".daemon.json.", dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return staged


def _validate(module, path, staged):
    """'passed', or 'not run: <why>'; fails the task when dockerd rejects the staged candidate."""
    dockerd = module.get_bin_path("dockerd")
    if not dockerd:
        return "not run: no dockerd on this host"
    _rc, help_text, help_err = module.run_command([dockerd, "--help"])
    if not validate_supported(help_text + help_err):
        return "not run: dockerd has no --validate (Docker before 23)"
    rc, out, err = module.run_command([dockerd, "--validate", "--config-file", staged])
    if rc != 0:
        os.unlink(staged)
        module.fail_json(msg=f"docker_daemon_config: dockerd rejects the merged {path}: {(err or out).strip()}; nothing was changed")
    return "passed"


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/etc/docker/daemon.json"},
            "settings": {"type": "dict", "required": True},
            "remove_matching": {"type": "dict", "default": {}},
            "validate": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    before_text = _read(path)
    try:
        current = parse(before_text, path)
    except DaemonConfigError as exc:
        module.fail_json(msg=f"docker_daemon_config: {exc}; fix or remove it, nothing was changed")
    merged = merge(current, module.params["settings"], module.params["remove_matching"])
    after_text = render(merged)
    changed = merged != current
    if not os.path.isdir(os.path.dirname(path) or "."):
        module.fail_json(msg=f"docker_daemon_config: {os.path.dirname(path)} does not exist (is the engine installed?); nothing was changed")
    result = {"changed": changed, "config": merged, "validation": "not run: nothing to change"}
    if module._diff:
        result["diff"] = {"before": before_text or "", "after": after_text if changed else before_text or "", "before_header": path, "after_header": path}
    if changed:
        # One staged file: what dockerd validates is what is moved into place.
        staged = _stage(path, after_text)
        if module.params["validate"]:
            result["validation"] = _validate(module, path, staged)
        else:
            result["validation"] = "not run: validate is false"
        if module.check_mode:
            os.unlink(staged)
        else:
            module.atomic_move(staged, path)
            module.set_mode_if_different(path, "0644", False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
