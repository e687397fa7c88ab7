#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: nccl_check
short_description: Gate on nccl-tests all_reduce_perf latency and bus bandwidth
version_added: 0.1.0
description:
  - Parses C(all_reduce_perf) output (any size range, in-place and out-of-place columns, C(#wrong),
    the average bus bandwidth line, multi-node rank headers) and gates on latency at a chosen
    message size and on average bus bandwidth.
  - A run with NCCL or CUDA failures, or with wrong results, fails with the first error quoted.
  - A single-rank run has a bus bandwidth of 0 by definition; its bandwidth check is inconclusive,
    which is not a pass.
  - Runs the binary on the target host (O(command)) or parses given text (O(output)).
options:
  output:
    description: all_reduce_perf output to parse. Mutually exclusive with O(command).
    type: str
  command:
    description: Command line to run on the host, for example C(all_reduce_perf -b 8 -e 128M -f 2 -g 4).
    type: list
    elements: str
  size_bytes:
    description: Message size whose latency is gated.
    type: int
    default: 134217728
  max_latency_us:
    description: Maximum latency in microseconds at O(size_bytes); omit to skip the check.
    type: float
  min_busbw:
    description: Minimum average bus bandwidth in GB/s; omit to skip the check.
    type: float
  placement:
    description: Which columns the latency is read from.
    type: str
    choices: [out_of_place, in_place]
    default: out_of_place
extends_documentation_fragment:
  - liveavatar.rollout.gate
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Run all_reduce_perf on the 4-GPU node and gate it
  liveavatar.rollout.nccl_check:
    command: [all_reduce_perf, -b, "8", -e, 128M, -f, "2", -g, "4"]
    size_bytes: 134217728
    max_latency_us: 1200
    min_busbw: 20
  register: nccl

- name: Gate text captured earlier
  liveavatar.rollout.nccl_check:
    output: "{{ lookup('ansible.builtin.file', 'nccl.txt') }}"
    max_latency_us: 1200
  delegate_to: localhost
"""

RETURN = r"""
passed:
  description: True when every requested check passed.
  returned: always
  type: bool
  sample: true
inconclusive:
  description: True when a check could not be decided (single-rank bandwidth); never a pass.
  returned: always
  type: bool
  sample: false
reason:
  description: One line; quotes the first NCCL error when the run failed.
  returned: always
  type: str
  sample: "NCCL run failed: NCCL failure common.cu:921 'unhandled system error'"
checks:
  description: Each check with name, passed, inconclusive, value, limit, reason.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "latency", "passed": true, "value": 613.3, "limit": 1200}]
latency_us:
  description: Latency at O(size_bytes) in the chosen placement, when present.
  returned: always
  type: float
  sample: 613.3
avg_busbw:
  description: The run's average bus bandwidth (GB/s), when printed.
  returned: always
  type: float
  sample: 439.369
nranks:
  description: Ranks listed in the header.
  returned: always
  type: int
  sample: 8
rows:
  description: Parsed result rows.
  returned: always
  type: list
  elements: dict
  sample: [{"size": 134217728, "out_of_place": {"time_us": 613.3, "busbw": 382.99, "wrong": 0}}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils import nccl


def _has_nccl_errors(text):
    """A non-zero exit with NCCL errors in the output is judged (the error is quoted), not just failed."""
    try:
        return bool(nccl.parse_all_reduce(text)["errors"])
    except nccl.NcclParseError:
        return False


def main():
    module = AnsibleModule(
        argument_spec={
            "output": {"type": "str"},
            "command": {"type": "list", "elements": "str"},
            "size_bytes": {"type": "int", "default": 134217728},
            "max_latency_us": {"type": "float"},
            "min_busbw": {"type": "float"},
            "placement": {"type": "str", "choices": list(nccl.PLACEMENTS), "default": "out_of_place"},
        },
        mutually_exclusive=[("output", "command")],
        required_one_of=[("output", "command")],
        supports_check_mode=True,
    )
    text = module.params["output"]
    if text is None:
        argv = list(module.params["command"])
        argv[0] = module.get_bin_path(argv[0], required=True)
        rc, stdout, stderr = module.run_command(argv, environ_update={"LANGUAGE": "C", "LC_ALL": "C"})
        text = stdout + "\n" + stderr
        if rc != 0 and not _has_nccl_errors(text):
            last = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
            module.fail_json(msg=f"nccl_check: {argv[0]} exited {rc}: {last[0]}", rc=rc, stdout=stdout, stderr=stderr)
    try:
        parsed = nccl.parse_all_reduce(text)
        result = nccl.evaluate(
            parsed,
            module.params["size_bytes"],
            module.params["max_latency_us"],
            module.params["min_busbw"],
            module.params["placement"],
        )
    except (nccl.NcclParseError, ValueError) as exc:
        module.fail_json(msg=f"nccl_check: {exc}")
    module.exit_json(
        changed=False,
        latency_us=nccl.latency_at(parsed, module.params["size_bytes"], module.params["placement"]),
        avg_busbw=parsed["avg_busbw"],
        nranks=parsed["nranks"],
        rows=parsed["rows"],
        errors=parsed["errors"],
        **result,
    )


if __name__ == "__main__":
    main()
