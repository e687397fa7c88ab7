# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: clip_time_floor
short_description: Clip time of repeated runs of one job, robust to a busy host
version_added: 0.1.0
description:
  - For each clip index takes the fastest of the repeated runs, then averages over clips.
  - Load from other tenants of a host only adds time, so this is the estimate it moves least.
positional: _input
options:
  _input:
    description: Run summaries of the stand-in or real job, each with C(clip_times_s), all with the same clip count.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Clip time of the candidate's three runs
  ansible.builtin.set_fact:
    candidate_clip_time_s: "{{ [run_a, run_b, run_c] | liveavatar.rollout.clip_time_floor }}"
"""

RETURN = r"""
_value:
  description: Seconds per clip.
  type: float
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.liveavatar.rollout.plugins.module_utils.benchmark import BenchmarkError, clip_time_floor


def _clip_time_floor(runs):
    try:
        return clip_time_floor(runs)
    except BenchmarkError as exc:
        raise AnsibleFilterError(f"clip_time_floor: {exc}") from exc


class FilterModule:
    """Filters for benchmark measurements."""

    def filters(self):
        return {"clip_time_floor": _clip_time_floor}
