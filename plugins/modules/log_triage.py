#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: log_triage
short_description: Count OOM, NCCL and decode errors in service logs
version_added: 0.1.0
description:
  - Counts the log lines matching each error pattern (OOM, NCCL, decode, and any pattern given),
    quotes the first occurrence of each, and fails the gate when a count exceeds its limit
    (0 by default).
options:
  paths:
    description: Log files on the target host. Mutually exclusive with O(content).
    type: list
    elements: path
  content:
    description: Log text to triage (for example C(docker logs) output registered earlier).
    type: str
  patterns:
    description: Extra patterns, name to Python regular expression; a name that exists replaces the default.
    type: dict
    default: {}
  max_counts:
    description: Highest acceptable count per pattern name; unnamed patterns allow 0.
    type: dict
    default: {}
extends_documentation_fragment:
  - liveavatar.rollout.gate
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Read the candidate's log
  ansible.builtin.command: docker logs liveavatar-candidate
  register: candidate_log
  changed_when: false

- name: Triage the candidate's log
  liveavatar.rollout.log_triage:
    content: "{{ candidate_log.stdout }}\n{{ candidate_log.stderr }}"
    patterns:
      watchdog: "Watchdog caught collective operation timeout"
  register: triage
"""

RETURN = r"""
passed:
  description: True when no count exceeds its limit.
  returned: always
  type: bool
  sample: false
reason:
  description: One line per pattern over its limit, with the first occurrence quoted.
  returned: always
  type: str
  sample: "oom: 1 (max 0), first at line 12: [ERROR] 2025-12-25 10:31:10 inference_loop.py:88 - CUDA out of memory"
counts:
  description: Matching lines per pattern.
  returned: always
  type: dict
  sample: {"oom": 1, "nccl": 0, "decode": 0}
first:
  description: First matching line (number and text) per pattern, or null.
  returned: always
  type: dict
  sample: {"oom": {"line": 12, "text": "..."}, "nccl": null, "decode": null}
limits:
  description: The limit applied per pattern.
  returned: always
  type: dict
  sample: {"oom": 0, "nccl": 0, "decode": 0}
lines:
  description: Lines read.
  returned: always
  type: int
  sample: 420
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils.logs import LogTriageError, triage


def _lines(module):
    if module.params["content"] is not None:
        yield from module.params["content"].splitlines()
        return
    for path in module.params["paths"]:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                yield from handle
        except OSError as exc:
            module.fail_json(msg=f"log_triage: cannot read {path}: {exc.strerror}")


def main():
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path"},
            "content": {"type": "str"},
            "patterns": {"type": "dict", "default": {}},
            "max_counts": {"type": "dict", "default": {}},
        },
        mutually_exclusive=[("paths", "content")],
        required_one_of=[("paths", "content")],
        supports_check_mode=True,
    )
    try:
        result = triage(_lines(module), module.params["patterns"], module.params["max_counts"])
    except LogTriageError as exc:
        module.fail_json(msg=f"log_triage: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
